"""Reductions, as in PyTorch: sum, mean, prod, var, std, norm, amax/amin, max/min (with the
indices when given a dim), argmax/argmin, all/any, logsumexp, and the normalisations softmax
and log_softmax.

Every reduction takes PyTorch's ``dim`` (an int, a tuple, or None for all dims) and
``keepdim``; numpy's names ``axis`` and ``keepdims`` are accepted as aliases.
"""
from __future__ import annotations

import collections
import warnings

import numpy as np

from ..engine import Function, Tensor, tensor_method
from .arithmetic import maximum, minimum
from .dims import alias, check_nonempty, dim_index, dim_tuple, is_int

# This module defines Tensor methods named sum, max, min, all and any: the builtins are not used here.

#: What ``max(dim)`` and ``min(dim)`` return, as ``torch.return_types.max``: ``values, indices = t.max(1)``.
max_result = collections.namedtuple("max", ["values", "indices"])
min_result = collections.namedtuple("min", ["values", "indices"])


def _expand_reduced(grad, axis, keepdims):
    """Reshape a reduced gradient so it broadcasts back against the input."""
    if axis is not None and not keepdims:
        grad = np.expand_dims(grad, axis)
    return grad


def _reduce_args(op: str, tensor: Tensor, dim, keepdim, axis, keepdims) -> tuple:
    """``(dims as a sorted tuple or None, keepdim)`` from PyTorch's or numpy's argument names."""
    dim = alias(op, dim, axis)
    keepdim = alias(op, None if keepdim is False else keepdim, keepdims, "keepdim", "keepdims", default=False)
    return dim_tuple(dim, tensor.shape, op), bool(keepdim)


def _drop_dims(kept: np.ndarray, axis, keepdims: bool) -> np.ndarray:
    """A reduction computed with ``keepdims=True`` in the shape of the op's output."""
    if keepdims:
        return kept
    return np.squeeze(kept, axis) if axis is not None else kept.reshape(())


def _keep_dims(out: Tensor, shape: tuple, axis, keepdims: bool) -> Tensor:
    """A reduction's output (a Tensor) with the reduced dims as size 1, to broadcast against the input."""
    if keepdims:
        return out
    return out.reshape(tuple(1 if axis is None or i in axis else n for i, n in enumerate(shape)))


def _cast(tensor: Tensor, dtype) -> Tensor:
    """`tensor` converted to `dtype` before reducing (PyTorch's ``dtype=`` argument)."""
    return tensor if dtype is None else tensor.astype(dtype)


def _count(shape: tuple, axis) -> int:
    return int(np.prod(shape if axis is None else [shape[i] for i in axis]))


def _broadcast_back(grad_output, shape, axis, keepdims):
    """A reduced gradient (a Tensor) broadcast back to the input `shape`, with ops."""
    from .shape import Reshape
    kept = tuple(1 if axis is None or i in axis else n for i, n in enumerate(shape))
    return Reshape.apply(grad_output, shape=kept) + np.zeros(shape, grad_output.dtype)


# --------------------------------------------------------------------------- sum, mean, prod

class Sum(Function):
    linear = True  # forward mode: the tangent is the op applied to the tangents

    def forward(ctx, a, axis=None, keepdims=False):
        ctx.shape, ctx.axis, ctx.keepdims = a.shape, axis, keepdims
        return np.sum(a, axis=axis, keepdims=keepdims)

    def backward(ctx, grad_output):
        grad = _expand_reduced(grad_output, ctx.axis, ctx.keepdims)
        return np.broadcast_to(grad, ctx.shape)

    def vjp(ctx, grad_output):
        return _broadcast_back(grad_output, ctx.shape, ctx.axis, ctx.keepdims)

@tensor_method
def sum(self, dim=None, keepdim: bool = False, *, dtype=None, axis=None, keepdims=None):
    """Sum over `dim` (an int, a tuple, or None for all dims; negative counts from the end),
    keeping the reduced dims as size 1 with `keepdim` (``torch.sum``). An empty sum is 0;
    booleans and integers sum to int64. `axis`/`keepdims` are numpy's names."""
    dims, keep = _reduce_args("sum", self, dim, keepdim, axis, keepdims)
    return Sum.apply(_cast(self, dtype), axis=dims, keepdims=keep)


class Mean(Function):
    linear = True  # forward mode: the tangent is the op applied to the tangents

    def forward(ctx, a, axis=None, keepdims=False):
        ctx.shape, ctx.axis, ctx.keepdims = a.shape, axis, keepdims
        ctx.count = _count(a.shape, axis)
        with np.errstate(invalid="ignore"):  # the mean of nothing is nan, as in PyTorch, without a warning
            return np.add.reduce(a, axis=axis, keepdims=keepdims) / a.dtype.type(ctx.count)

    def backward(ctx, grad_output):
        grad = _expand_reduced(grad_output, ctx.axis, ctx.keepdims) / grad_output.dtype.type(ctx.count or 1)
        return np.broadcast_to(grad, ctx.shape)

    def vjp(ctx, grad_output):
        return _broadcast_back(grad_output, ctx.shape, ctx.axis, ctx.keepdims) / ctx.count

def _float_input(op: str, tensor: Tensor, dtype) -> Tensor:
    tensor = _cast(tensor, dtype)
    if tensor.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating-point tensor, got dtype {tensor.dtype}; "
                        f"pass dtype=np.float64 or convert it first (as torch.{op})")
    return tensor


@tensor_method
def mean(self, dim=None, keepdim: bool = False, *, dtype=None, axis=None, keepdims=None):
    """Mean over `dim` (an int, a tuple, or None for all dims), as ``torch.mean``: the mean of an
    empty dim is nan (without a warning); integer tensors need ``dtype=`` (PyTorch refuses
    them too). `axis`/`keepdims` are numpy's names."""
    dims, keep = _reduce_args("mean", self, dim, keepdim, axis, keepdims)
    return Mean.apply(_float_input("mean", self, dtype), axis=dims, keepdims=keep)


class Prod(Function):
    """Product over `axis` (one dim or None); the gradient is the product of the other elements,
    exact when some are zero."""

    @np.errstate(over="ignore", invalid="ignore", under="ignore")
    def forward(ctx, a, axis=None, keepdims=False):
        out = np.prod(a, axis=axis, keepdims=keepdims)
        ctx.save_for_backward(a, out)
        ctx.axis, ctx.keepdims = axis, keepdims
        return out

    @np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore")
    def backward(ctx, grad_output):
        a, out = ctx.saved_tensors
        grad = _expand_reduced(grad_output, ctx.axis, ctx.keepdims)
        if not (a == 0).any():
            return grad * (_expand_reduced(out, ctx.axis, ctx.keepdims) / a)
        axis = -1 if ctx.axis is None else ctx.axis[0]
        flat = a.reshape(-1) if ctx.axis is None else np.moveaxis(a, axis, -1)
        ones = np.ones(flat.shape[:-1] + (1,), dtype=a.dtype)
        before = np.concatenate([ones, np.cumprod(flat[..., :-1], axis=-1)], axis=-1)
        after = np.concatenate([np.cumprod(flat[..., :0:-1], axis=-1)[..., ::-1], ones], axis=-1)
        others = before * after  # the product of every element but this one
        others = others.reshape(a.shape) if ctx.axis is None else np.moveaxis(others, -1, axis)
        return grad * others

    def vjp(ctx, grad_output):
        a, out = ctx.saved_tensors
        a_t = ctx.saved_input(0, a)
        if (a == 0).any():
            return _broadcast_back(grad_output, a.shape, ctx.axis, ctx.keepdims) * _prod_of_others(a_t, ctx.axis)
        out_t = _keep_dims(ctx.saved_output(0, out), a.shape, ctx.axis, ctx.keepdims)
        return _broadcast_back(grad_output, a.shape, ctx.axis, ctx.keepdims) * out_t / a_t


def _prod_of_others(a: Tensor, axis) -> Tensor:
    """For every element of `a`, the product of the other elements along `axis` (None: all),
    with ops, so exact where elements are zero and differentiable again: row k of an
    ``n x n`` copy has a 1 in place of element k."""
    flat = a.reshape(-1) if axis is None else a.movedim(axis[0], -1)
    n = flat.shape[-1]
    rows = flat.unsqueeze(-2).expand(*flat.shape[:-1], n, n)
    others = rows.where(Tensor(~np.eye(n, dtype=bool)), 1.0).prod(-1)
    return others.reshape(a.shape) if axis is None else others.movedim(-1, axis[0])


@tensor_method
def prod(self, dim=None, keepdim: bool = False, *, dtype=None, axis=None, keepdims=None):
    """Product over one `dim` (or all dims when None), as ``torch.prod``; the product of an empty
    dim is 1. The gradient is exact where elements are zero. `axis`/`keepdims` are numpy's names."""
    chosen = alias("prod", dim, axis)
    if chosen is not None and not is_int(chosen):
        raise TypeError(f"prod: dim must be an int or None, got {chosen!r}")
    dims, keep = _reduce_args("prod", self, dim, keepdim, axis, keepdims)
    return Prod.apply(_cast(self, dtype), axis=dims, keepdims=keep)


# --------------------------------------------------------------------------- var, std


class Var(Function):
    """Variance over `axis` with `correction` (1: the unbiased estimate, as PyTorch's default)."""

    @np.errstate(divide="ignore", invalid="ignore", over="ignore")
    def forward(ctx, a, axis=None, keepdims=False, correction=1):
        count = _count(a.shape, axis)
        ctx.dof = a.dtype.type(count - correction if count > correction else 0)  # PyTorch clamps it at 0
        centred = a - np.add.reduce(a, axis=axis, keepdims=True) / a.dtype.type(count)
        ctx.save_for_backward(centred, a)
        ctx.axis, ctx.keepdims, ctx.count = axis, keepdims, count
        return np.add.reduce(centred * centred, axis=axis, keepdims=keepdims) / ctx.dof

    @np.errstate(divide="ignore", invalid="ignore", over="ignore")
    def backward(ctx, grad_output):
        centred = ctx.saved_tensors[0]
        return (2 / ctx.dof) * _expand_reduced(grad_output, ctx.axis, ctx.keepdims) * centred

    def vjp(ctx, grad_output):
        a = ctx.saved_input(0, ctx.saved_tensors[1])
        centred = a - a.sum(dim=ctx.axis, keepdim=True) / ctx.count
        return _broadcast_back(grad_output, a.shape, ctx.axis, ctx.keepdims) * centred * (2 / ctx.dof)


class Std(Var):
    """Standard deviation: the square root of `Var`; the gradient is 0 where it is 0, as in PyTorch."""

    def forward(ctx, a, axis=None, keepdims=False, correction=1):
        out = np.sqrt(Var.forward(ctx, a, axis, keepdims, correction))
        ctx.out = out
        return out

    @np.errstate(divide="ignore", invalid="ignore", over="ignore")
    def backward(ctx, grad_output):
        grad_var = np.where(ctx.out == 0, 0, grad_output / (2 * ctx.out))
        return Var.backward(ctx, grad_var)

    def vjp(ctx, grad_output):
        from .indexing import Where
        out = ctx.saved_output(0, ctx.out)
        return Var.vjp(ctx, Where.apply(ctx.out == 0, 0.0, grad_output / (2 * out)))


def _variance(op: Function, name: str, tensor: Tensor, dim, unbiased, keepdim, correction, axis, keepdims):
    if isinstance(dim, bool):  # var(unbiased) in PyTorch's legacy signature
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise TypeError(f"{name}: pass unbiased or correction, not both")
    correction = (1 if unbiased is None or unbiased else 0) if correction is None else correction
    dims, keep = _reduce_args(name, tensor, dim, keepdim, axis, keepdims)
    tensor = _float_input(name, tensor, None)
    return op.apply(tensor, axis=dims, keepdims=keep, correction=correction)


@tensor_method
def var(self, dim=None, unbiased=None, keepdim: bool = False, *, correction=None, axis=None, keepdims=None):
    """Variance over `dim` (``torch.var``): ``sum((x - mean)^2) / (N - correction)``, by default
    the unbiased estimate (``correction=1``, or ``unbiased=True``); nan where ``N <= correction``,
    without a warning. `axis`/`keepdims` are numpy's names (numpy's default is ``ddof=0``)."""
    return _variance(Var, "var", self, dim, unbiased, keepdim, correction, axis, keepdims)


@tensor_method
def std(self, dim=None, unbiased=None, keepdim: bool = False, *, correction=None, axis=None, keepdims=None):
    """Standard deviation over `dim` (``torch.std``): the square root of `var` with the same
    arguments; the gradient is 0 where the deviation is 0, as in PyTorch."""
    return _variance(Std, "std", self, dim, unbiased, keepdim, correction, axis, keepdims)


# --------------------------------------------------------------------------- norm


class Norm(Function):
    """The vector p-norm over `axis` (``torch.linalg.vector_norm``), with PyTorch's gradients: 0 at
    a zero vector, shared between tied maxima for p = inf."""

    @np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore")
    def forward(ctx, a, p=2.0, axis=None, keepdims=False):
        magnitude = np.abs(a)
        if p == np.inf or p == -np.inf:
            out = (np.max if p > 0 else np.min)(magnitude, axis=axis, keepdims=True)
        elif p == 0:
            out = np.sum(magnitude != 0, axis=axis, keepdims=True).astype(a.dtype)
        elif p == 1:
            out = np.sum(magnitude, axis=axis, keepdims=True)
        elif p == 2:
            out = np.sqrt(np.sum(a * a, axis=axis, keepdims=True))
        else:
            out = np.sum(magnitude ** p, axis=axis, keepdims=True) ** (1 / p)
        ctx.save_for_backward(a, out)
        ctx.p, ctx.axis, ctx.keepdims = p, axis, keepdims
        return out if keepdims else (np.squeeze(out, axis) if axis is not None else out.reshape(()))

    @np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore")
    def backward(ctx, grad_output):
        a, norm = ctx.saved_tensors
        p = ctx.p
        grad = _expand_reduced(grad_output, ctx.axis, ctx.keepdims)
        if ctx.axis is None:
            grad = np.reshape(grad, (1,) * a.ndim)
        if p == 0:
            return np.zeros_like(a)
        if p == 1:
            return np.sign(a) * grad
        if p == 2:
            return grad * np.where(norm == 0, 0, a / norm)
        if p == np.inf or p == -np.inf:
            is_extreme = (np.abs(a) == norm) | (np.isnan(a) & np.isnan(norm))
            count = is_extreme.sum(axis=ctx.axis, keepdims=True)
            return np.sign(a) * is_extreme * (grad / count)
        if p < 1:
            scaled = np.where(a == 0, 0, np.sign(a) * np.abs(a) ** (p - 1))
            return scaled * grad * norm ** (1 - p)
        scaled = np.sign(a) * np.abs(a) ** (p - 1)
        return scaled * np.where(norm == 0, 0, grad / norm ** (p - 1))

    def vjp(ctx, grad_output):
        from .indexing import Where
        a, norm = ctx.saved_tensors
        p = ctx.p
        grad = _broadcast_back(grad_output, a.shape, ctx.axis, ctx.keepdims)
        if p == 0:
            return grad * 0.0
        if p == 1 or p == np.inf or p == -np.inf:  # piecewise linear: the slope is a constant
            return grad * Norm.backward(ctx, np.ones(_drop_dims(norm, ctx.axis, ctx.keepdims).shape, a.dtype))
        a_t = ctx.saved_input(0, a)
        norm_t = _keep_dims(ctx.saved_output(0, _drop_dims(norm, ctx.axis, ctx.keepdims)), a.shape, ctx.axis,
                            ctx.keepdims)
        zero_norm = norm == 0
        if p == 2:
            return Where.apply(zero_norm, 0.0, grad * a_t / norm_t)
        if p < 1:
            scaled = Where.apply(a == 0, 0.0, a_t.sign() * a_t.abs() ** (p - 1))
            return scaled * grad * norm_t ** (1 - p)
        return a_t.sign() * a_t.abs() ** (p - 1) * Where.apply(zero_norm, 0.0, grad / norm_t ** (p - 1))


@tensor_method
def norm(self, p="fro", dim=None, keepdim: bool = False, *, dtype=None):
    """The p-norm over `dim` (``torch.norm``): ``sum(|x|^p)^(1/p)`` over all elements by default,
    ``"fro"`` (the default) and 2 the Euclidean norm, ``inf``/``-inf`` the largest/smallest
    magnitude, 0 the number of non-zeros. Gradients as PyTorch's (0 at a zero vector)."""
    if isinstance(p, str):
        if p != "fro":
            raise ValueError(f"norm: p={p!r} is not supported; use 'fro' or a number")
        p = 2.0
    elif isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)):
        raise TypeError(f"norm: p must be a number or 'fro', got {p!r}")
    tensor = _float_input("norm", self, dtype)
    dims = dim_tuple(dim, self.shape, "norm")
    if p in (np.inf, -np.inf):
        check_nonempty("norm", self.shape, dims)
    return Norm.apply(tensor, p=float(p), axis=dims, keepdims=bool(keepdim))


# --------------------------------------------------------------------------- amax, amin, max, min


class Max(Function):
    """The largest element, or the maximum over axes; tied maxima share the gradient equally, and
    a NaN (the maximum when there is one) takes it, as ``torch.max()``."""

    reduce = staticmethod(np.max)
    nan_takes_gradient = True

    def forward(ctx, a, axis=None, keepdims=False):
        out = ctx.reduce(a, axis=axis, keepdims=True)
        ctx.save_for_backward(a, out)
        ctx.axis, ctx.keepdims = axis, keepdims
        return out if keepdims else (np.squeeze(out, axis=axis) if axis is not None else out.reshape(()))

    def share(ctx) -> np.ndarray:
        """Each element's share of the gradient: 1 / (number of maxima) at the maxima, else 0."""
        a, out = ctx.saved_tensors
        is_max = a == out
        if ctx.nan_takes_gradient and np.isnan(out).any():  # NaN == NaN is False
            is_max |= np.isnan(a) & np.isnan(out)
        with np.errstate(divide="ignore", invalid="ignore"):  # 0/0 where a NaN gets no share (Amax)
            return is_max / is_max.sum(axis=ctx.axis, keepdims=True)

    def backward(ctx, grad_output):
        grad = _expand_reduced(grad_output, ctx.axis, ctx.keepdims)
        if ctx.axis is None:
            grad = np.reshape(grad, (1,) * ctx.saved_tensors[0].ndim)
        return grad * ctx.share()

    def vjp(ctx, grad_output):
        return _broadcast_back(grad_output, ctx.saved_tensors[0].shape, ctx.axis, ctx.keepdims) * ctx.share()

    def jvp(ctx, tangent):
        summed = (tangent * ctx.share()).sum(axis=ctx.axis, keepdims=True)
        return summed if ctx.keepdims else summed.reshape(ctx.meta[0][0])

class Min(Max):
    """The smallest element, or the minimum over axes (see `Max`)."""

    reduce = staticmethod(np.min)


class Amax(Max):
    """The maximum over axes (``torch.amax``): as `Max`, except that a slice holding a NaN gets a
    NaN gradient, as PyTorch's amax."""

    nan_takes_gradient = False


class Amin(Min):
    """The minimum over axes (``torch.amin``; see `Amax`)."""

    nan_takes_gradient = False


@tensor_method
def amax(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
    """The largest value over `dim` (an int, a tuple, or None / ``()`` for all dims), as
    ``torch.amax``: tied maxima share the gradient equally. Raises `ValueError` over an
    empty dim. `axis`/`keepdims` are numpy's names (numpy's ``max``)."""
    dims, keep = _reduce_args("amax", self, dim, keepdim, axis, keepdims)
    check_nonempty("amax", self.shape, dims)
    return Amax.apply(self, axis=dims, keepdims=keep)


@tensor_method
def amin(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
    """The smallest value over `dim`, as ``torch.amin`` (see `amax`)."""
    dims, keep = _reduce_args("amin", self, dim, keepdim, axis, keepdims)
    check_nonempty("amin", self.shape, dims)
    return Amin.apply(self, axis=dims, keepdims=keep)


class MaxDim(Function):
    """The maximum along one axis and where it is (two outputs); the gradient goes to that index
    (the first maximum, or the first NaN), as ``torch.max(dim)``."""

    select = staticmethod(np.argmax)

    def forward(ctx, a, axis=0, keepdims=False):
        if a.ndim == 0:
            ctx.indices = None
            return a.copy(), np.zeros((), dtype=np.int64)
        indices = ctx.select(a, axis=axis, keepdims=True)
        values = np.take_along_axis(a, indices, axis)
        ctx.shape, ctx.indices, ctx.axis, ctx.keepdims = a.shape, indices, axis, keepdims
        indices = indices.astype(np.int64, copy=False)
        if keepdims:
            return values, indices
        return np.squeeze(values, axis), np.squeeze(indices, axis)

    def backward(ctx, grad_values, grad_indices):
        if ctx.indices is None:
            return grad_values
        grad = np.zeros(ctx.shape, dtype=grad_values.dtype)
        np.put_along_axis(grad, ctx.indices, grad_values.reshape(ctx.indices.shape), ctx.axis)
        return grad

    def vjp(ctx, grad_values, grad_indices):
        from .indexing import PlaceAt
        if ctx.indices is None:
            return grad_values
        positions = list(np.indices(ctx.indices.shape, sparse=True))
        positions[ctx.axis] = ctx.indices
        return PlaceAt.apply(grad_values.reshape(ctx.indices.shape), index=tuple(positions), shape=ctx.shape)

    def jvp(ctx, tangent):
        """The tangent at the selected positions (the indices have none)."""
        if ctx.indices is None:
            return tangent, None
        values = np.take_along_axis(tangent, ctx.indices, ctx.axis)
        return (values if ctx.keepdims else np.squeeze(values, ctx.axis)), None


class MinDim(MaxDim):
    """The minimum along one axis and where it is (see `MaxDim`)."""

    select = staticmethod(np.argmin)


def _extreme(op: str, tensor: Tensor, dim, keepdim, axis, keepdims, other, full, along, pairwise, result):
    dim = alias(op, dim, axis)
    if other is not None:
        if dim is not None:
            raise TypeError(f"{op}: give a dim or other, not both")
        dim = other
    if isinstance(dim, Tensor):  # torch.max(input, other): the elementwise maximum
        return pairwise(tensor, dim)
    keepdim = alias(op, None if keepdim is False else keepdim, keepdims, "keepdim", "keepdims", default=False)
    if dim is None:
        if keepdim:
            raise TypeError(f"{op}: keepdim needs a dim; use amax/amin to keep the dims of a full reduction")
        check_nonempty(op, tensor.shape, None)
        return full.apply(tensor)
    d = dim_index(dim, tensor.shape, op)
    check_nonempty(op, tensor.shape, (d,) if tensor.ndim else None)
    values, indices = along.apply(tensor, axis=d, keepdims=bool(keepdim))
    return result(values, indices.detach())


@tensor_method
def max(self, dim=None, keepdim: bool = False, *, other=None, axis=None, keepdims=None):
    """``t.max()``: the largest element (tied maxima share the gradient). ``t.max(dim)``: a named
    tuple ``(values, indices)`` of the maxima along `dim` and their positions (the gradient
    goes to those positions), as ``torch.max``. ``t.max(other)`` with a Tensor (or ``other=``) is `maximum`.
    Raises `ValueError` over an empty dim. For numpy's ``max(axis)`` use `amax`."""
    return _extreme("max", self, dim, keepdim, axis, keepdims, other, Max, MaxDim, maximum, max_result)


@tensor_method
def min(self, dim=None, keepdim: bool = False, *, other=None, axis=None, keepdims=None):
    """``t.min()``, ``t.min(dim)`` -> ``(values, indices)``, ``t.min(other)``: as `max`, for the
    smallest (``torch.min``). For numpy's ``min(axis)`` use `amin`."""
    return _extreme("min", self, dim, keepdim, axis, keepdims, other, Min, MinDim, minimum, min_result)


def _arg_extreme(op: str, select, tensor: Tensor, dim, keepdim: bool) -> Tensor:
    data = tensor._data
    if dim is None:
        check_nonempty(op, data.shape, None)
        index = np.asarray(select(data), dtype=np.int64)
        return Tensor(index.reshape((1,) * data.ndim) if keepdim else index)
    d = dim_index(dim, data.shape, op)
    if data.ndim == 0:
        return Tensor(np.zeros((), dtype=np.int64))
    check_nonempty(op, data.shape, (d,))
    return Tensor(select(data, axis=d, keepdims=bool(keepdim)).astype(np.int64, copy=False))


@tensor_method
def argmax(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
    """The index of the largest element along `dim`, or in the flattened tensor when None
    (``torch.argmax``): int64, the first one when tied, the first NaN when there is one.
    Outside the graph. Raises `ValueError` over an empty dim."""
    dim = alias("argmax", dim, axis)
    keepdim = alias("argmax", None if keepdim is False else keepdim, keepdims, "keepdim", "keepdims", default=False)
    return _arg_extreme("argmax", np.argmax, self, dim, keepdim)


@tensor_method
def argmin(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
    """The index of the smallest element along `dim` (``torch.argmin``; see `argmax`)."""
    dim = alias("argmin", dim, axis)
    keepdim = alias("argmin", None if keepdim is False else keepdim, keepdims, "keepdim", "keepdims", default=False)
    return _arg_extreme("argmin", np.argmin, self, dim, keepdim)


@tensor_method
def all(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
    """Whether every element (over `dim`) is non-zero (``torch.all``): a bool tensor, outside the graph."""
    dims, keep = _reduce_args("all", self, dim, keepdim, axis, keepdims)
    return Tensor(np.all(self._data, axis=dims, keepdims=keep))


@tensor_method
def any(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
    """Whether some element (over `dim`) is non-zero (``torch.any``): a bool tensor, outside the graph."""
    dims, keep = _reduce_args("any", self, dim, keepdim, axis, keepdims)
    return Tensor(np.any(self._data, axis=dims, keepdims=keep))


# --------------------------------------------------------------------------- logsumexp, softmax, log_softmax


class LogSumExp(Function):
    """log(sum(exp(a))) over `axis`, shifted by the maximum (0 where that is infinite, as PyTorch);
    the gradient is the softmax."""

    @np.errstate(over="ignore", invalid="ignore", divide="ignore")
    def forward(ctx, a, axis=None, keepdims=False):
        shift = np.max(a, axis=axis, keepdims=True, initial=-np.inf) if a.size else np.zeros((1,) * a.ndim, a.dtype)
        shift = np.where(np.isinf(shift), a.dtype.type(0), shift)
        out = np.log(np.sum(np.exp(a - shift), axis=axis, keepdims=True)) + shift
        ctx.save_for_backward(a, out)
        ctx.axis, ctx.keepdims = axis, keepdims
        return out if keepdims else (np.squeeze(out, axis) if axis is not None else out.reshape(()))

    @np.errstate(over="ignore", invalid="ignore")
    def backward(ctx, grad_output):
        a, out = ctx.saved_tensors
        grad = _expand_reduced(grad_output, ctx.axis, ctx.keepdims)
        if ctx.axis is None:
            grad = np.reshape(grad, (1,) * a.ndim)
        return grad * np.exp(a - out)

    def vjp(ctx, grad_output):
        a, out = ctx.saved_tensors
        out_t = _keep_dims(ctx.saved_output(0, _drop_dims(out, ctx.axis, ctx.keepdims)), a.shape, ctx.axis,
                           ctx.keepdims)
        return _broadcast_back(grad_output, a.shape, ctx.axis, ctx.keepdims) * (ctx.saved_input(0, a) - out_t).exp()


@tensor_method
def logsumexp(self, dim, keepdim: bool = False):
    """``log(sum(exp(x)))`` over `dim`, computed stably (``torch.logsumexp``); an empty sum gives -inf.
    The gradient is the softmax over `dim`."""
    dims, keep = _reduce_args("logsumexp", self, dim, keepdim, None, None)
    return LogSumExp.apply(_float_input("logsumexp", self, None), axis=dims, keepdims=keep)



class LogSoftmax(Function):
    """log(softmax(a)) along `axis`, computed as (a - max) - log(sum(exp(a - max))).

    `axis` None is for a 0-d tensor (the result is 0, as in PyTorch). An empty tensor gives
    an empty result.
    """

    def forward(ctx, a, axis=-1):
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # -3e38 - 3e38 in float32 is -inf
            shifted = a - (a.max(axis=axis, keepdims=True) if a.size else 0)
            out = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
        ctx.save_for_backward(out)
        ctx.axis = axis
        return out

    def backward(ctx, grad_output):
        (out,) = ctx.saved_tensors
        return grad_output - np.exp(out) * grad_output.sum(axis=ctx.axis, keepdims=True)

    def vjp(ctx, grad_output):
        out = ctx.saved_output(0, ctx.saved_tensors[0])
        return grad_output - out.exp() * grad_output.sum(axis=ctx.axis, keepdims=True)

    def jvp(ctx, tangent):
        (out,) = ctx.saved_tensors
        return tangent - (np.exp(out) * tangent).sum(axis=ctx.axis, keepdims=True)

class Softmax(Function):
    """exp(a - max) / sum(exp(a - max)) along `axis` (None for a 0-d tensor: the result is 1)."""

    def forward(ctx, a, axis=-1):
        with np.errstate(over="ignore", invalid="ignore"):  # see LogSoftmax
            e = np.exp(a - (a.max(axis=axis, keepdims=True) if a.size else 0))
            out = e / e.sum(axis=axis, keepdims=True)
        ctx.save_for_backward(out)
        ctx.axis = axis
        return out

    def backward(ctx, grad_output):
        (out,) = ctx.saved_tensors
        return out * (grad_output - (grad_output * out).sum(axis=ctx.axis, keepdims=True))

    def vjp(ctx, grad_output):
        out = ctx.saved_output(0, ctx.saved_tensors[0])
        return out * (grad_output - (grad_output * out).sum(axis=ctx.axis, keepdims=True))

    def jvp(ctx, tangent):
        (out,) = ctx.saved_tensors
        return out * (tangent - (out * tangent).sum(axis=ctx.axis, keepdims=True))


def softmax_dim(op: str, tensor: Tensor, dim, axis=None, *, implicit: bool = False):
    """The dim to normalise as an index (None for a 0-d tensor), from `dim` or its alias `axis`.

    With `implicit`, a missing dim is chosen as PyTorch's ``F.softmax`` does, with its warning:
    0 for 0-, 1- and 3-d inputs, 1 otherwise.
    """
    dim = alias(op, dim, axis)
    if dim is None:
        if not implicit:
            raise TypeError(f"{op}: missing the dim to normalise over (e.g. dim=-1)")
        dim = 0 if tensor.ndim in (0, 1, 3) else 1
        warnings.warn(f"Implicit dimension choice for {op} has been deprecated (as in PyTorch): dim={dim} "
                      f"was chosen for shape {tensor.shape}; pass dim explicitly", UserWarning, stacklevel=3)
    d = dim_index(dim, tensor.shape, op)
    return d if tensor.ndim else None


@tensor_method
def softmax(self, dim, dtype=None):
    """``exp(x) / sum(exp(x))`` along `dim`, computed stably (``torch.softmax``); a 0-d tensor gives 1,
    a zero-length dim an empty result."""
    return Softmax.apply(_float_input("softmax", self, dtype), axis=softmax_dim("softmax", self, dim))


@tensor_method
def log_softmax(self, dim, dtype=None):
    """``x - log(sum(exp(x)))`` along `dim`, computed stably (``torch.log_softmax``)."""
    return LogSoftmax.apply(_float_input("log_softmax", self, dtype), axis=softmax_dim("log_softmax", self, dim))
