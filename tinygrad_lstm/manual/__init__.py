"""Hand-written BPTT reference for RNN, LSTM and GRU: pure numpy, every gradient derived by hand.

- ``classic``: the column-major API most courses teach (``rnn_forward``, ``lstm_backward``, ...).
- ``fused``: one layer in PyTorch's layout, vectorised; the speed reference for autograd.
- ``stacked``: layers and directions of ``fused`` layers composed by hand (``stacked_bptt``).
- ``adapters``: move weights, gradients and data between the classic layout and PyTorch's.
- ``cs231n``: the same functions in the batch-first layout of Stanford CS231n (gates i, f, o, g).
- ``course``: `check_course_code` checks a learner's own course-layout code against the graph
  and says which gradient, gate and step is wrong (``localize`` finds where).

The derivations are in ``docs/math.md``.
"""
from .adapters import (
    lstm_grads_from_torch,
    lstm_grads_to_torch,
    lstm_params_from_torch,
    lstm_params_to_torch,
    rnn_grads_from_torch,
    rnn_grads_to_torch,
    rnn_params_from_torch,
    rnn_params_to_torch,
    sequence_from_torch,
    sequence_to_torch,
    state_from_torch,
    state_to_torch,
)
from . import cs231n, localize
from .course import CourseCheck, CourseCodeError, FunctionCheck, check_course_code
from .classic import (
    lstm_backward,
    lstm_cell_backward,
    lstm_cell_forward,
    lstm_forward,
    rnn_backward,
    rnn_cell_backward,
    rnn_cell_forward,
    rnn_forward,
    sigmoid,
    softmax,
)
from .fused import (
    gru_backward_fused,
    gru_forward_fused,
    lstm_backward_fused,
    lstm_forward_fused,
    rnn_backward_fused,
    rnn_forward_fused,
)
from .stacked import stacked_bptt

__all__ = [
    "rnn_cell_forward", "rnn_forward", "rnn_cell_backward", "rnn_backward",
    "lstm_cell_forward", "lstm_forward", "lstm_cell_backward", "lstm_backward",
    "sigmoid", "softmax",
    "rnn_forward_fused", "rnn_backward_fused",
    "lstm_forward_fused", "lstm_backward_fused",
    "gru_forward_fused", "gru_backward_fused",
    "stacked_bptt",
    "lstm_params_to_torch", "lstm_params_from_torch",
    "rnn_params_to_torch", "rnn_params_from_torch",
    "lstm_grads_to_torch", "lstm_grads_from_torch", "rnn_grads_to_torch", "rnn_grads_from_torch",
    "sequence_to_torch", "sequence_from_torch", "state_to_torch", "state_from_torch",
    "check_course_code", "CourseCheck", "FunctionCheck", "CourseCodeError",
]
