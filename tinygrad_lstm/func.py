"""Function transforms with ``torch.func``'s names and meanings: `grad`, `grad_and_value` and
`vjp` turn a function into one that returns its derivatives (reverse mode), `jvp` pushes
tangents forward, and `functional_call` runs a module with other tensors in place of its
parameters, so that derivatives with respect to them can be taken (e.g. a Hessian-vector
product of a model's loss with respect to all its weights). Arguments differentiated may be
Tensors or (nested) tuples, lists and dicts of them; ``grad(grad(f))`` differentiates twice.
Results stay in the graph (differentiable by `backward`) inside another transform or when an
argument requires grad; otherwise they are constants (tensors the function only captures from
outside are not differentiated through then: pass them as arguments).
"""
from __future__ import annotations

import numpy as np

from .autograd.forward import jvp
from .engine import Tensor, enable_grad
from .engine import grad as _autograd_grad

__all__ = ["functional_call", "grad", "grad_and_value", "jvp", "vjp"]


_depth = 0  # how many transforms are running: inside one, results stay in the graph for the outer one


class _nested:
    def __enter__(self):
        global _depth
        _depth += 1

    def __exit__(self, *exc) -> bool:
        global _depth
        _depth -= 1
        return False


def _flatten(tree, fn: str) -> tuple[list, object]:
    """The Tensors of a tuple/list/dict tree, in order, and a function rebuilding the tree from new leaves."""
    if isinstance(tree, Tensor):
        return [tree], lambda leaves: leaves[0]
    if isinstance(tree, (tuple, list, dict)):
        keys = list(tree.keys()) if isinstance(tree, dict) else range(len(tree))
        parts = [_flatten(tree[k], fn) for k in keys]
        sizes = [len(leaves) for leaves, _ in parts]

        def rebuild(leaves, tree=tree, keys=keys, parts=parts, sizes=sizes):
            values, start = [], 0
            for (_, build), n in zip(parts, sizes):
                values.append(build(leaves[start:start + n]))
                start += n
            return dict(zip(keys, values)) if isinstance(tree, dict) else type(tree)(values)
        return [leaf for leaves, _ in parts for leaf in leaves], rebuild
    raise TypeError(f"{fn}: expected Tensors or tuples, lists and dicts of them, got {type(tree).__name__}")


def _differentiable(t: Tensor, fn: str) -> Tensor:
    """A tensor to differentiate with respect to: in the graph of `t` when `t` requires grad
    (so an outer transform can differentiate the result again), else a fresh leaf."""
    if t.dtype.kind != "f":
        raise TypeError(f"{fn}: only floating-point inputs can be differentiated, got dtype {t.dtype}")
    return t.reshape(t.shape) if t.requires_grad else Tensor._wrap(t._data, None, 0).requires_grad_()


def _constant(t):
    return Tensor._wrap(t._data, None, 0) if isinstance(t, Tensor) else t


def vjp(func, *primals, has_aux: bool = False):
    """``(func(*primals), vjp_fn)`` (``torch.func.vjp``): ``vjp_fn(cotangents)`` returns the
    vector-Jacobian products, one per primal in its structure; it can be called several times.

    Examples
    --------
    >>> import tinygrad_lstm as tl
    >>> out, vjp_fn = tl.func.vjp(lambda x: x * x, tl.Tensor([1.0, 3.0]))
    >>> vjp_fn(tl.Tensor([1.0, 1.0]))[0].data
    array([2., 6.])
    """
    flat, rebuild = _flatten(primals, "vjp")
    outer = _depth > 0 or any(t.requires_grad for t in flat)
    leaves = [_differentiable(t, "vjp") for t in flat]
    with enable_grad(), _nested():
        result = func(*rebuild(leaves))
    if has_aux:
        if not (isinstance(result, tuple) and len(result) == 2):
            raise RuntimeError("vjp: with has_aux=True the function must return a tuple (output, aux)")
        result, aux = result
    outputs, _ = _flatten(result, "vjp")

    def vjp_fn(cotangents):
        given, _ = _flatten(cotangents, "vjp")
        if len(given) != len(outputs):
            raise ValueError(f"vjp_fn: got {len(given)} cotangents for {len(outputs)} outputs")
        for i, (c, o) in enumerate(zip(given, outputs)):
            if c.shape != o.shape:
                raise ValueError(f"vjp_fn: cotangent {i} has shape {c.shape}, its output {o.shape}")
        pairs = [(o, c) for o, c in zip(outputs, given) if o.requires_grad]
        grads = (_autograd_grad([o for o, _ in pairs], leaves, [c for _, c in pairs], retain_graph=True,
                                create_graph=outer, allow_unused=True) if pairs else [None] * len(leaves))
        grads = [Tensor(np.zeros(t.shape, t.dtype)) if g is None else g if outer else _constant(g)
                 for g, t in zip(grads, leaves)]
        return rebuild(grads)

    value = result if outer else _map(result, _constant)
    return (value, vjp_fn, aux) if has_aux else (value, vjp_fn)


def _map(tree, fn):
    leaves, rebuild = _flatten(tree, "vjp")
    return rebuild([fn(t) for t in leaves])


def grad_and_value(func, argnums=0, has_aux: bool = False):
    """``torch.func.grad_and_value``: a function returning ``(gradient, value)`` of `func`,
    whose output is a one-element Tensor (with `has_aux`: ``(gradient, (value, aux))``).
    `argnums` (an int or a tuple of ints) says which arguments; their gradient has their
    structure (a tuple for a tuple of argnums)."""
    def wrapper(*args, **kwargs):
        numbers = (argnums,) if isinstance(argnums, int) else tuple(argnums)
        if not numbers:
            raise RuntimeError("grad: argnums must be a non-empty int or tuple of ints")
        for n in numbers:
            if not isinstance(n, int) or not -len(args) <= n < len(args):
                raise RuntimeError(f"grad: argnums {argnums!r} is out of range for a function of {len(args)} "
                                   f"positional arguments")
        numbers = tuple(n % len(args) for n in numbers)
        flat, rebuild = _flatten(tuple(args[n] for n in numbers), "grad")
        outer = _depth > 0 or any(t.requires_grad for t in flat)
        leaves = [_differentiable(t, "grad") for t in flat]
        chosen = rebuild(leaves)
        call_args = list(args)
        for n, value in zip(numbers, chosen):
            call_args[n] = value
        with enable_grad(), _nested():
            result = func(*call_args, **kwargs)
        if has_aux:
            if not (isinstance(result, tuple) and len(result) == 2):
                raise RuntimeError("grad: with has_aux=True the function must return a tuple (output, aux)")
            output, aux = result
        else:
            output = result
        if not isinstance(output, Tensor) or output.size != 1:
            raise RuntimeError(f"grad: the function must return a one-element Tensor, got "
                               f"{output.shape if isinstance(output, Tensor) else type(output).__name__}")
        grads = (_autograd_grad(output, leaves, create_graph=outer, allow_unused=True) if output.requires_grad
                 else [None] * len(leaves))
        grads = [Tensor(np.zeros(t.shape, t.dtype)) if g is None else g if outer else _constant(g)
                 for g, t in zip(grads, leaves)]
        gradient = rebuild(grads)
        gradient = gradient[0] if isinstance(argnums, int) else gradient
        value = output if outer else _constant(output)
        if has_aux:
            return gradient, (value, aux if outer else _map(aux, _constant))
        return gradient, value
    return wrapper


def grad(func, argnums=0, has_aux: bool = False):
    """``torch.func.grad``: a function returning the gradient of `func` (a one-element Tensor
    output) with respect to argument(s) `argnums` (with `has_aux`: ``(gradient, aux)``).

    Examples
    --------
    >>> import tinygrad_lstm as tl
    >>> cube = lambda x: (x ** 3).sum()
    >>> tl.func.grad(cube)(tl.Tensor([1.0, 2.0])).data, tl.func.grad(lambda x: tl.func.grad(cube)(x).sum())(tl.Tensor([1.0, 2.0])).data
    (array([ 3., 12.]), array([ 6., 12.]))
    """
    with_value = grad_and_value(func, argnums, has_aux)

    def wrapper(*args, **kwargs):
        gradient, value = with_value(*args, **kwargs)
        return (gradient, value[1]) if has_aux else gradient
    return wrapper


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
