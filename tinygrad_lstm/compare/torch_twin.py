"""The PyTorch twin of a model: the same function in ``torch.nn``, loaded with the same weights.

The twin of a module comes from its kind's record (`tl.nn.kinds`, ``torch_name``):
``torch.nn.LSTM`` for `tl.nn.LSTM`, ``torch.nn.LSTMCell`` for `tl.nn.LSTMCell`, and a small
unrolling module around the cell's twin for `tl.nn.Recurrent`. Parameter names are the same
on both sides, so the state dict moves unchanged.
"""
from __future__ import annotations

import copy

import numpy as np

from ..nn import Module, Recurrent, RNNBase
from ..nn.kinds import kind_of
from .structure import as_tuple, call, flatten, state_names


def import_torch():
    """``(torch, None)`` or ``(None, why not)``."""
    try:
        import torch
    except ImportError:
        return None, "PyTorch is not installed"
    except Exception as e:  # a broken install raises OSError, RuntimeError, ...
        return None, f"PyTorch failed to import ({type(e).__name__}: {e})"
    return torch, None


def build_torch_module(torch, model: Module):
    """The PyTorch module computing the same function as `model`, or None when its kind has no twin."""
    kind = kind_of(model)
    if kind is None or kind.torch_name is None or getattr(model, "zoneout", 0):
        return None
    recurrent = type(model) is Recurrent
    cell = model.cells[0][0] if recurrent else model
    options = {option: getattr(cell, option) for option in kind.options}
    if recurrent and not (model.num_layers > 1 or model.bidirectional):
        return _torch_recurrent(torch)(build_torch_module(torch, model.cell), model.batch_first)
    if isinstance(model, RNNBase) or recurrent:  # a stacked Recurrent has the parameter names of nn.LSTM
        if getattr(model, "proj_size", 0):
            options["proj_size"] = model.proj_size
        return getattr(torch.nn, kind.torch_name)(model.input_size, model.hidden_size, num_layers=model.num_layers,
                                                   bias=cell.bias, batch_first=model.batch_first,
                                                   bidirectional=model.bidirectional, **options)
    return getattr(torch.nn, kind.torch_name + "Cell")(model.input_size, model.hidden_size, bias=model.bias,
                                                         **options)


def _torch_recurrent(torch):
    """A PyTorch twin of `nn.Recurrent`: unrolls a cell, parameters named ``cell.*``."""

    class TorchRecurrent(torch.nn.Module):
        def __init__(self, cell, batch_first):
            super().__init__()
            self.cell = cell
            self.batch_first = batch_first

        def forward(self, x, state):
            time_axis = 1 if self.batch_first else 0
            outputs = []
            for x_t in x.unbind(time_axis):
                state = self.cell(x_t, state)
                outputs.append(state[0] if isinstance(state, tuple) else state)
            return torch.stack(outputs, time_axis), state

    return TorchRecurrent


def torch_grads(torch, module, model: Module, x: np.ndarray, state, grad_outputs) -> dict:
    """Gradients of ``module`` (a copy loaded with `model`'s weights, in `x`'s dtype) by name,
    ``"x"`` and the state rows, for the output gradients `grad_outputs`."""
    torch_dtype = {"float64": torch.float64, "float32": torch.float32}[x.dtype.name]
    module = copy.deepcopy(module).to(torch_dtype).eval()
    module.load_state_dict({name: torch.from_numpy(p.data.copy()) for name, p in model.named_parameters()})
    inputs = [torch.tensor(a, requires_grad=True) for a in (x, *as_tuple(state))]
    outputs = call(module, inputs, state)
    torch.autograd.backward(flatten(outputs), [torch.from_numpy(np.ascontiguousarray(g))
                                               for g in flatten(grad_outputs)])
    grads = {name: _grad(p) for name, p in module.named_parameters()}
    grads.update(zip(["x", *state_names(state)], (_grad(t) for t in inputs)))
    return grads


def _grad(t) -> np.ndarray:
    return t.grad.detach().numpy().copy() if t.grad is not None else np.zeros(tuple(t.shape))
