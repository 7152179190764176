"""Function transforms with ``torch.func``'s names: `functional_call` runs a module with other
tensors in place of its parameters, so that derivatives with respect to them can be taken
with `grad`, `jvp` or `tl.autograd.functional` (e.g. a Hessian-vector product of a model's loss
with respect to all its weights)."""
from __future__ import annotations

from .autograd.forward import jvp
from .engine import Tensor, grad

__all__ = ["functional_call", "grad", "jvp"]


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *, tie_weights: bool = True,
                    strict: bool = False):
    """``module(*args, **kwargs)`` with the named tensors in place of its parameters and buffers
    (``torch.func.functional_call``); the module is left as it was, also when the call raises.

    Parameters
    ----------
    module : tl.nn.Module
    parameter_and_buffer_dicts : dict or sequence of dicts
        ``{name: Tensor}`` with `state_dict` names (``"rnn.weight_hh_l0"``); names missing keep
        the module's own tensors.
    args, kwargs
        The call's arguments (a single non-tuple `args` is one argument).
    tie_weights : bool
        As PyTorch: a tensor replacing a parameter that the module uses under several names
        replaces it under all of them.
    strict : bool
        Every parameter and buffer must be given, and nothing else.

    Examples
    --------
    >>> import numpy as np, tinygrad_lstm as tl
    >>> layer = tl.nn.Linear(2, 1, dtype=np.float64)
    >>> w = tl.Tensor([[1.0, 2.0]], requires_grad=True)
    >>> out = tl.func.functional_call(layer, {"weight": w, "bias": tl.zeros(1)}, (tl.Tensor([[3.0, 4.0]]),))
    >>> out.data, tl.grad(out.sum(), w)[0].data
    (array([[11.]]), array([[3., 4.]]))
    """
    dicts = [parameter_and_buffer_dicts] if isinstance(parameter_and_buffer_dicts, dict) \
        else list(parameter_and_buffer_dicts)
    replacements = {}
    for d in dicts:
        for name, value in d.items():
            if name in replacements:
                raise ValueError(f"functional_call: {name!r} is given more than once")
            if not isinstance(value, Tensor):
                raise TypeError(f"functional_call: the value of {name!r} must be a Tensor, got {type(value).__name__}")
            replacements[name] = value
    owners = _owners(module)
    unknown = sorted(set(replacements) - set(owners))
    missing = sorted(set(owners) - set(replacements))
    if unknown or (strict and missing):
        raise KeyError(f"functional_call: unexpected keys {unknown}" + (f", missing keys {missing}" if strict else "")
                       + f" for {type(module).__name__}")
    if tie_weights:  # a tensor given under one name of a shared parameter replaces it everywhere
        by_identity = {id(owners[name][2]): value for name, value in replacements.items()}
        replacements = {name: by_identity.get(id(owners[name][2]), replacements.get(name))
                        for name in owners if id(owners[name][2]) in by_identity or name in replacements}
    saved = []
    try:
        for name, value in replacements.items():
            owner, attribute, original = owners[name]
            saved.append((owner, attribute, original))
            object.__setattr__(owner, attribute, value)
        args = () if args is None else (args if isinstance(args, tuple) else (args,))
        return module(*args, **(kwargs or {}))
    finally:
        for owner, attribute, original in reversed(saved):
            object.__setattr__(owner, attribute, original)


def _owners(module) -> dict:
    """``{state_dict name: (submodule, attribute, current tensor)}`` for every parameter and buffer,
    shared ones under each of their names."""
    found = {}
    for prefix, sub in module.named_modules(remove_duplicate=False):
        members = [*sub._parameters.items(), *getattr(sub, "_buffers", {}).items()]
        for attribute, value in members:
            if value is not None:
                found[f"{prefix}.{attribute}" if prefix else attribute] = (sub, attribute, value)
    return found
