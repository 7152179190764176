"""`tl.nn`: modules, recurrent cells and multi-layer RNN/LSTM/GRU with PyTorch's semantics.

Parameter names, shapes, gate orders and initialisation are PyTorch's, so state dicts move
between the two unchanged. Backpropagation through time comes from the graph.
"""
from . import functional, utils
from .layers import Dropout, Embedding, Linear
from .module import IncompatibleKeys, Module, ModuleList, Parameter, Sequential, StateDictError
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, Recurrent, RNNBase, RNNCell, RNNCellBase, detach_state
from . import kinds  # after the modules it registers

__all__ = [
    "Module", "Parameter", "Sequential", "ModuleList", "IncompatibleKeys", "StateDictError",
    "Linear", "Embedding", "Dropout",
    "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell", "RNNBase", "RNN", "LSTM", "GRU",
    "Recurrent", "detach_state",
]
