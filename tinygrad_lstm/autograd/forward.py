"""Forward mode: `jvp` pushes tangents through a function op by op, next to its forward pass
(``torch.func.jvp``), instead of pulling gradients back.

Each op's rule is its `Function.jvp` (the tangent of its output from the tangents of its
inputs), next to its forward and backward in `tinygrad_lstm.ops`; a linear op (class
attribute ``linear = True``: add, reshape, sum, split, ...) needs none, its forward applied to
the tangents is its tangent. An op with neither gets its tangent by the double-vjp trick: its
differentiable `vjp` is linear in the output cotangent ``u``, ``u -> J^T u``, and the gradient
of ``<J^T u, t>`` with respect to ``u`` is ``J t``. `rules()` says which op uses which.
"""
from __future__ import annotations

import weakref

import numpy as np

from .. import engine
from ..engine import Function, Observer, Tensor, enable_grad

__all__ = ["jvp", "rules"]


# the gradients would carry no tangents (the backward pass is not seen by forward mode): a silent zero
_REVERSE_INSIDE = ("jvp: backward() or tl.grad inside a function given to tl.jvp is not supported (forward over "
                   "reverse); for Hessian-vector products use tl.autograd.functional.hvp")


class _ForwardAD(Observer):
    """The observer `jvp` installs on the engine: gives every op's outputs their tangents."""

    def __init__(self):
        # id(tensor) -> tangent array; a tangent goes when its tensor does (a weak reference's
        # callback), so memory stays that of the forward pass without a graph, however long
        self.tangents: dict = {}
        self._references: dict = {}

    def tangent(self, t) -> np.ndarray | None:
        return self.tangents.get(id(t)) if isinstance(t, Tensor) else None

    def set(self, t: Tensor, tangent: np.ndarray) -> None:
        key = id(t)
        if key not in self._references:
            self._references[key] = weakref.ref(t, lambda _, key=key: self._forget(key))
        self.tangents[key] = np.broadcast_to(np.asarray(tangent, dtype=t.dtype), t.shape)

    def _forget(self, key: int) -> None:
        self.tangents.pop(key, None)
        self._references.pop(key, None)

    def on_apply(self, ctx: Function, args, kwargs, result) -> None:
        tangents = [self.tangent(a) for a in args]
        if all(t is None for t in tangents):
            return
        outputs = result if isinstance(result, tuple) else (result,)
        out = _op_jvp(ctx, args, kwargs, tangents, outputs)
        for t, tangent in zip(outputs, out if isinstance(out, tuple) else (out,)):  # a split into one piece too
            if tangent is not None:
                self.set(t, tangent)

    def on_backward(self, tensors, grad_tensors, retain_graph, create_graph, inputs):
        raise RuntimeError(_REVERSE_INSIDE)

    def on_grad(self, outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused):
        raise RuntimeError(_REVERSE_INSIDE)

    def on_inplace(self, tensor: Tensor, result: Tensor) -> None:
        tangent = self.tangent(result)
        if tangent is None:
            self._forget(id(tensor))
        else:
            self.set(tensor, tangent)


class _observer:
    """Set the engine's observer (`engine._tracer`) for the duration of a with block."""

    def __init__(self, observer):
        self.observer = observer

    def __enter__(self):
        self.previous, engine._tracer = engine._tracer, self.observer
        return self.observer

    def __exit__(self, *exc) -> bool:
        engine._tracer = self.previous
        return False


def _op_jvp(ctx: Function, args, kwargs, tangents: list, outputs: tuple):
    """The tangent(s) of `ctx`'s outputs: for a linear op its forward applied to the tangents,
    else its own rule, else the double-vjp trick."""
    if getattr(ctx, "linear", False):
        fresh = object.__new__(type(ctx))
        fresh.saved_tensors = ()
        return fresh.forward(*[np.zeros(np.shape(_data(a)), np.result_type(_data(a), float)) if t is None else t
                               for a, t in zip(args, tangents)], **kwargs)
    if type(ctx).jvp is not Function.jvp:
        return ctx.jvp(*tangents)
    return _double_vjp(ctx, args, tangents, outputs)


def _data(a):
    return a._data if isinstance(a, Tensor) else a


def _double_vjp(ctx: Function, args, tangents: list, outputs: tuple):
    """``J t`` as the gradient, with respect to the cotangent ``u``, of ``<vjp(u), t>``.

    The vjp runs on a copy of the op that reads its saved values as constants, so this
    graph does not reach (or free) the graph of the function being differentiated.
    """
    local = object.__new__(type(ctx))
    local.__dict__.update(ctx.__dict__)
    local.saved_tensors, local.meta = ctx.saved_tensors, ctx.meta
    local.edges = tuple(None for _ in args)
    local.needs_input_grad = tuple(t is not None for t in tangents)
    with _observer(None), enable_grad():
        cotangents = [Tensor._wrap(np.zeros(o.shape, o.dtype), None, 0).requires_grad_() for o in outputs]
        grads = local.vjp(*cotangents)
        grads = grads if isinstance(grads, tuple) else (grads,)
        products = [(g * Tensor._wrap(np.asarray(t), None, 0)).sum()
                    for g, t in zip(grads, tangents) if g is not None and t is not None]
        total = sum(products[1:], products[0]) if products else None
        if total is None or not total.requires_grad:
            results = (None,) * len(outputs)
        else:
            results = engine.grad(total, cotangents, allow_unused=True)
    results = tuple(np.zeros(o.shape, o.dtype) if r is None else r._data for r, o in zip(results, outputs))
    return results if len(outputs) > 1 else results[0]


def jvp(fn, primals, tangents, *, has_aux: bool = False) -> tuple:
    """``(fn(*primals), J t)``: the outputs and their tangents, by forward mode (``torch.func.jvp``).

    Parameters
    ----------
    fn : callable
        Tensors in, a Tensor or (nested) tuples of Tensors out.
    primals : tuple of Tensor or array_like
        The point, one entry per argument of `fn`.
    tangents : tuple of Tensor or array_like
        One direction per primal, same shapes.

    has_aux : bool
        `fn` returns ``(outputs, aux)``; `aux` is returned as it is, without tangents.

    Returns
    -------
    (outputs, tangents_out) : the second in the structure of the first
    (``(outputs, tangents_out, aux)`` with `has_aux`).

    Examples
    --------
    >>> import tinygrad_lstm as tl
    >>> out, tangent = tl.jvp(lambda x: x.tanh() * x, (tl.Tensor([0.0, 1.0]),), (tl.Tensor([1.0, 1.0]),))
    >>> tangent.data.round(6)
    array([0.      , 1.181568])
    """
    if not isinstance(primals, tuple) or not isinstance(tangents, tuple):
        raise TypeError("jvp: primals and tangents must be tuples (one entry per argument of fn)")
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: got {len(primals)} primals and {len(tangents)} tangents")
    if engine._tracer is not None:
        raise RuntimeError("jvp: forward mode cannot run inside tl.jit or another jvp")
    inputs = [p if isinstance(p, Tensor) else Tensor(p) for p in primals]
    inputs = [Tensor._wrap(p._data, None, 0) for p in inputs]  # fresh leaves: the tangents belong to this call
    forward = _ForwardAD()
    for i, (p, t) in enumerate(zip(inputs, tangents)):
        t = np.asarray(t._data if isinstance(t, Tensor) else t)
        if t.shape != p.shape:
            raise ValueError(f"jvp: tangent {i} has shape {t.shape}, its primal {p.shape}")
        forward.set(p, t)
    with _observer(forward):
        result = fn(*inputs)
    if has_aux:
        if not (isinstance(result, tuple) and len(result) == 2):
            raise RuntimeError("jvp: with has_aux=True the function must return a tuple (output, aux)")
        result, aux = result
        return result, _tangents_like(result, forward), aux
    return result, _tangents_like(result, forward)


def _tangents_like(result, forward: _ForwardAD):
    """The tangent of every Tensor in `result` (a Tensor or nested tuples/lists of them), in its structure."""
    if isinstance(result, Tensor):
        tangent = forward.tangent(result)
        return Tensor._wrap(np.zeros(result.shape, result.dtype) if tangent is None else tangent, None, 0)
    if isinstance(result, (tuple, list)):
        return type(result)(_tangents_like(r, forward) for r in result)
    raise TypeError(f"jvp: fn must return Tensors (or tuples of them), got {type(result).__name__}")


def rules() -> dict:
    """For every op class in `tinygrad_lstm.ops`: ``"linear"`` (its forward applied to the
    tangents), ``"rule"`` (its own `jvp`) or ``"double-vjp"``."""
    from .. import ops
    found = {}
    for cls in _subclasses(Function):
        if cls.__module__.startswith(ops.__name__):
            found[cls.__name__] = ("linear" if getattr(cls, "linear", False) else
                                   "rule" if cls.jvp is not Function.jvp else "double-vjp")
    return dict(sorted(found.items()))


def _subclasses(cls) -> list:
    out = []
    for sub in cls.__subclasses__():
        out += [sub, *_subclasses(sub)]
    return out
