"""A small recurrent network run over a random sequence, to draw its unrolled graph."""
from __future__ import annotations

import numpy as np

from ..engine import Tensor
from ..nn.kinds import get_kind

__all__ = ["unrolled_graph"]


def unrolled_graph(cell="lstm", steps: int = 3, hidden: int = 4, layers: int = 1,
                   bidirectional: bool = False, input_size: int = 3, batch: int = 1, seed: int = 0):
    """Run a fresh module of a recurrent kind over a random sequence, ready for `draw_graph`.

    Parameters
    ----------
    cell : str or RecurrentKind
        The kind (`tl.nn.kinds.get_kind`): ``"rnn"``, ``"lstm"``, ``"gru"``, a registered
        kind or ``"module:Class"``.
    steps, hidden, layers, input_size, batch : int
        Sequence length, hidden size, number of layers, input features, batch size.
    bidirectional : bool
    seed : int
        Seeds the input sequence ``(steps, batch, input_size)`` (the global generator,
        used for the weights, is left alone).

    Returns
    -------
    roots : list of Tensor
        The output and every part of the final state: ``[output, h_n]`` (``[output, h_n, c_n]``
        for the LSTM).
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
    try:
        kind = get_kind(cell, owner="unrolled_graph: cell")
    except (KeyError, ImportError, TypeError) as e:
        raise ValueError(e.args[0]) from None
    module = kind.build(input_size, hidden, num_layers=layers, bidirectional=bidirectional)
    x = np.random.default_rng(seed).standard_normal((steps, batch, input_size)).astype(np.float32)
    output, state = module(Tensor(x))
    return [output, *(state if isinstance(state, tuple) else (state,))], module
