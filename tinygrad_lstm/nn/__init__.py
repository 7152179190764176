"""`tl.nn`: modules, recurrent cells and multi-layer RNN/LSTM/GRU with PyTorch's semantics.

Parameter names, shapes, gate orders and initialisation are PyTorch's, so state dicts move
between the two unchanged. Backpropagation through time comes from the graph.
"""
from . import functional, init, utils
from .cells import LayerNormLSTMCell, PeepholeLSTMCell
from .layers import Dropout, Embedding, Linear
from .module import IncompatibleKeys, Module, ModuleList, Parameter, Sequential, StateDictError
from .normalization import LayerNorm
from .recurrent import Recurrent, watch_gates
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase, detach_state
from . import kinds  # after the modules it registers

__all__ = [
    "Module", "Parameter", "Sequential", "ModuleList", "IncompatibleKeys", "StateDictError",
    "Linear", "Embedding", "Dropout", "LayerNorm",
    "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell", "RNNBase", "RNN", "LSTM", "GRU",
    "PeepholeLSTMCell", "LayerNormLSTMCell",
    "Recurrent", "detach_state", "watch_gates",
]
