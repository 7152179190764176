"""A small recurrent network run over a random sequence, to draw its unrolled graph."""
from __future__ import annotations

import numpy as np

from ..engine import Tensor
from ..nn import GRU, LSTM, RNN

__all__ = ["unrolled_graph"]

_MODULES = {"rnn": RNN, "lstm": LSTM, "gru": GRU}


def unrolled_graph(cell: str = "lstm", steps: int = 3, hidden: int = 4, layers: int = 1,
                   bidirectional: bool = False, input_size: int = 3, batch: int = 1, seed: int = 0):
    """Run a fresh ``tl.nn.RNN``/``LSTM``/``GRU`` over a random sequence, ready for `draw_graph`.

    Parameters
    ----------
    cell : {"rnn", "lstm", "gru"}
    steps, hidden, layers, input_size, batch : int
        Sequence length, hidden size, number of layers, input features, batch size.
    bidirectional : bool
    seed : int
        Seeds the input sequence ``(steps, batch, input_size)`` (the global generator,
        used for the weights, is left alone).

    Returns
    -------
    roots : list of Tensor
        ``[output, h_n]`` (``[output, h_n, c_n]`` for the LSTM).
    module : tl.nn.Module
        Pass it as ``params`` to name the parameters.

    Examples
    --------
    >>> import tinygrad_lstm as tl
    >>> roots, module = tl.viz.unrolled_graph("gru", steps=2, hidden=3)
    >>> dot = tl.viz.draw_graph(roots, params=module)
    >>> "weight_hh_l0" in dot.source
    True
    """
    if cell not in _MODULES:
        raise ValueError(f"unrolled_graph: cell must be one of {sorted(_MODULES)}, got {cell!r}")
    module = _MODULES[cell](input_size, hidden, num_layers=layers, bidirectional=bidirectional)
    x = np.random.default_rng(seed).standard_normal((steps, batch, input_size)).astype(np.float32)
    output, state = module(Tensor(x))
    return [output, *(state if isinstance(state, tuple) else (state,))], module
