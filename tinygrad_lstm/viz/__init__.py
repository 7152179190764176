"""Pictures of computation graphs: `draw_graph` (a `graphviz.Digraph`) and `render_graph` (a file),
clustered by name scope and time step, with long unrolls collapsed.
"""
from .grads import record_grad_norms
from .graph import GraphvizNotFoundError, draw_graph, render_graph

__all__ = ["draw_graph", "render_graph", "record_grad_norms", "GraphvizNotFoundError"]
