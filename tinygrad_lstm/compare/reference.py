"""The bridge from a model to its hand-written reference: `builtin_reference`.

A module whose kind (`tl.nn.kinds`) has a fused manual reference gets a function with the
signature of `compare_gradients`' ``manual``: it moves the model's arrays into the layout of
`tinygrad_lstm.manual.stacked_bptt` (``(T, B, D)``, states ``(layers * directions, B, H)``),
runs it, and moves the gradients back under the model's parameter names.
"""
from __future__ import annotations

import numpy as np

from ..manual.stacked import WEIGHT_NAMES, stacked_bptt
from ..nn import Module, Recurrent, RNNBase
from ..nn.kinds import kind_of
from .structure import as_tuple, flatten, state_names


def builtin_reference(model: Module):
    """The hand-written BPTT reference for a module whose kind has one, or None.

    Covers the sequence modules and cells of the registered kinds with a fused reference
    (`nn.RNN`, `nn.LSTM` without ``proj_size``, `nn.GRU`, any number of layers,
    bidirectional, ``batch_first``, unbatched; `nn.RNNCell`, `nn.LSTMCell`, `nn.GRUCell`) and
    `nn.Recurrent` of those cells without zoneout (exact classes, not subclasses, which may
    change the math).
    The fused functions of `tinygrad_lstm.manual` run layer by layer and direction by
    direction; their gradients are combined by hand (no autograd). The returned function
    has the signature of `compare_gradients`' ``manual`` and a one-line ``description``.
    """
    kind = kind_of(model)
    if kind is None or kind.manual is None or getattr(model, "proj_size", 0) or getattr(model, "zoneout", 0):
        return None  # the fused reference has no projection and no zoneout
    cell = model.cells[0][0] if type(model) is Recurrent else model
    options = {option: getattr(cell, option) for option in kind.options}
    state_keys = tuple(f"{state}0" for state in kind.states)

    def run(params, names, x, states, grad_output, grad_finals):
        """``stacked_bptt`` on parameters named ``names[layer][direction]``: (grads by name, dx, dstates)."""
        weights = [[tuple(params.get(name) for name in layer_names) for layer_names in per_direction]
                   for per_direction in names]
        weight_grads, grad_x, grad_states = stacked_bptt(kind.manual.forward, kind.manual.backward, x, states,
                                                         weights, grad_output, grad_finals, state_keys, **options)
        grads = {}
        for per_direction, grads_per_direction in zip(names, weight_grads):
            for layer_names, layer_grads in zip(per_direction, grads_per_direction):
                grads.update((name, layer_grads[weight]) for weight, name in zip(WEIGHT_NAMES, layer_names)
                             if weight in layer_grads)
        return grads, grad_x, grad_states

    if isinstance(model, RNNBase) or (type(model) is Recurrent and _stacked(model)):
        reference = _sequence_reference(model, run)  # a stacked Recurrent has the parameter names of nn.LSTM
    elif type(model) is Recurrent:
        reference = _recurrent_reference(model, run)
    elif type(model) is kind.cell:
        reference = _cell_reference(run)
    else:
        return None
    reference.description = reference.__doc__
    return reference


def _stacked(model: Recurrent) -> bool:
    return model.num_layers > 1 or model.bidirectional


def _sequence_reference(model, run):
    directions = ("", "_reverse")[:model.num_directions]
    names = [[tuple(f"{w}_l{layer}{suffix}" for w in WEIGHT_NAMES) for suffix in directions]
             for layer in range(model.num_layers)]
    batch_first = model.batch_first

    def reference(params, x, state, grad_outputs):
        """tinygrad_lstm.manual fused layers, composed by hand over layers and directions"""
        batched = x.ndim == 3
        grad_output, grad_final = grad_outputs
        x_tbd, grad_output = (_to_tbd(a, batched, batch_first) for a in (x, grad_output))
        states = [s if batched else s[:, None] for s in as_tuple(state)]
        finals = [g if batched else g[:, None] for g in as_tuple(grad_final)]
        grads, grad_x, grad_states = run(params, names, x_tbd, states, grad_output, finals)
        grads["x"] = _from_tbd(grad_x, batched, batch_first)
        for name, g in zip(state_names(state), grad_states):
            grads[name] = g if batched else g[:, 0]
        return grads
    return reference


def _cell_reference(run):
    names = [[WEIGHT_NAMES]]

    def reference(params, x, state, grad_outputs):
        """tinygrad_lstm.manual fused layer, one time step"""
        batch_shape = x.shape[:-1]
        x_tbd = x.reshape(1, -1, x.shape[-1])
        states = [s.reshape(1, -1, s.shape[-1]) for s in as_tuple(state)]
        finals = [g.reshape(1, -1, g.shape[-1]) for g in flatten(grad_outputs)]
        grad_output = np.zeros(finals[0].shape, x.dtype)
        grads, grad_x, grad_states = run(params, names, x_tbd, states, grad_output, finals)
        grads["x"] = grad_x.reshape(x.shape)
        for name, g in zip(state_names(state), grad_states):
            grads[name] = g.reshape(batch_shape + g.shape[-1:])
        return grads
    return reference


def _recurrent_reference(model: Recurrent, run):
    names = [[tuple(f"cell.{w}" for w in WEIGHT_NAMES)]]
    batch_first = model.batch_first

    def reference(params, x, state, grad_outputs):
        """tinygrad_lstm.manual fused layer over the whole sequence"""
        grad_output, grad_final = grad_outputs
        x_tbd, grad_output = (_to_tbd(a, True, batch_first) for a in (x, grad_output))
        states = [s[None] for s in as_tuple(state)]
        finals = [g[None] for g in as_tuple(grad_final)]
        grads, grad_x, grad_states = run(params, names, x_tbd, states, grad_output, finals)
        grads["x"] = _from_tbd(grad_x, True, batch_first)
        grads.update(zip(state_names(state), (g[0] for g in grad_states)))
        return grads
    return reference


def _to_tbd(a: np.ndarray, batched: bool, batch_first: bool) -> np.ndarray:
    if not batched:
        return a[:, None]
    return a.transpose(1, 0, 2) if batch_first else a


def _from_tbd(a: np.ndarray, batched: bool, batch_first: bool) -> np.ndarray:
    if not batched:
        return a[:, 0]
    return a.transpose(1, 0, 2) if batch_first else a
