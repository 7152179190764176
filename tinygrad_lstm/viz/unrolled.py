"""A small recurrent network run over a random sequence, to draw its unrolled graph."""
from __future__ import annotations

import numpy as np

from ..engine import Tensor
from ..nn import Module
from ..nn.kinds import build_module

__all__ = ["unrolled_graph"]


def unrolled_graph(cell="lstm", steps: int = 3, hidden: int | None = None, layers: int = 1,
                   bidirectional: bool = False, input_size: int | None = None, batch: int = 1, seed: int = 0,
                   lengths=None):
    """Run a recurrent module of any cell over a random sequence, ready for `draw_graph`.

    Parameters
    ----------
    cell : str, RecurrentKind, class, Module or callable
        Anything `tl.nn.kinds.build_module` takes: a kind (``"rnn"``, ``"lstm"``, ``"gru"``, a
        registered kind, ``"module:Class"``, a cell class) for a fresh module, a cell of
        yours (used as is, stacked in `layers` and directions), a sequence module, or a
        factory ``input_size -> cell``.
    steps, layers, batch : int
        Sequence length, number of layers, batch size.
    hidden, input_size : int, optional
        Hidden size and input features: by default 4 and 3 for a kind, the cell's own for a
        given cell or module.
    bidirectional : bool
    lengths : sequence of int, optional
        ``(batch,)`` valid steps per sequence, as the module's ``lengths=``.
    seed : int
        Seeds the input sequence ``(steps, batch, input_size)``, in the module's dtype (the
        global generator, used for the weights, is left alone).

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
    if input_size is None:
        input_size = getattr(cell, "input_size", None) if isinstance(cell, Module) else 3
    module = build_module(cell, input_size, hidden, num_layers=layers, bidirectional=bidirectional, dtype=None,
                          default_hidden_size=4, owner="unrolled_graph: cell")
    dtype = getattr(module, "dtype", None) or np.float32
    x = np.random.default_rng(seed).standard_normal((steps, batch, module.input_size)).astype(dtype)
    output, state = module(Tensor(x), lengths=lengths)
    return [output, *(state if isinstance(state, tuple) else (state,))], module
