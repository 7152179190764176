"""One call that checks every gradient of a recurrent model three ways: `compare_gradients`.

For every parameter, the input and the initial state(s), the gradient that autograd
computes by backpropagating through the unrolled graph is compared with

- ``manual``: the hand-written BPTT of `tinygrad_lstm.manual` (built in for the kinds of
  `tl.nn.kinds` that have one: `nn.RNN`, `nn.LSTM`, `nn.GRU`, their cells and `nn.Recurrent`
  around one of them), or a function you supply for your own cell;
- ``numerical``: central differences of the loss, in float64;
- ``torch``: PyTorch's autograd on the same weights, when torch is installed.

The result is a `GradientReport`: one row per tensor, an aligned table as ``str(report)``,
``report.ok`` and ``report.to_dict()``. A manual gradient that disagrees is localised in its
row (``row.where()``: ``weight_hh_l0 gate g wrong from length 2 on``), as the course checker
does.

The package: ``gradients`` runs the comparison, ``report`` holds the result, ``reference``
bridges a model to `tinygrad_lstm.manual`, ``torch_twin`` builds the PyTorch twin.
"""
from .gradients import TOLERANCES, compare_gradients
from .reference import builtin_reference
from .report import Check, GradientReport, GradientRow

__all__ = ["compare_gradients", "GradientReport", "GradientRow", "Check", "TOLERANCES", "builtin_reference"]
