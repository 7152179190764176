"""Pictures of computation graphs: `draw_graph` (a `graphviz.Digraph`) and `render_graph` (a file),
clustered by name scope and time step, with long unrolls collapsed or rolled up, forwards or
backwards; and `diagnose_bptt`, backpropagation through time step by step (gradient norms,
Jacobian decay, per-step contributions to each weight's gradient, gate saturation).

>>> import tinygrad_lstm as tl
>>> roots, lstm = tl.viz.unrolled_graph("lstm", steps=200, hidden=4)
>>> dot = tl.viz.draw_graph(roots, params=lstm, max_steps=4)
>>> "196 steps" in dot.source
True
"""
from .bptt import BPTTDiagnosis, BPTTWarning, diagnose_bptt, gradient_flow
from .grads import record_grad_norms
from .graph import GraphvizNotFoundError, draw_graph, render_graph
from .unrolled import unrolled_graph
from .values import record_values

__all__ = ["draw_graph", "render_graph", "record_grad_norms", "record_values", "unrolled_graph", "GraphvizNotFoundError",
           "diagnose_bptt", "gradient_flow", "BPTTDiagnosis", "BPTTWarning"]
