"""Indexing and selection, as in PyTorch: ``t[index]``, ``t[index] = value``, gather, where,
masked_fill (``tl.where`` is in `functions`)."""
from __future__ import annotations

import numpy as np

from ..engine import Function, ShapeError, Tensor, inplace, tensor_method
from .dims import dim_index


def _has_integer_array(index) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, np.ndarray) and p.dtype.kind in "iu" for p in parts)


def _index_data(index):
    if isinstance(index, tuple):
        return tuple(_index_part(part) for part in index)
    return _index_part(index)


def _index_part(part):
    if isinstance(part, Tensor):
        return part._data
    if isinstance(part, (list, tuple)):
        # numpy reads a sequence inside an index as an integer (or boolean) array; making it one
        # lets GetItem's backward see it and accumulate repeated indices
        array = np.asarray(part)
        return array if array.size else array.astype(np.intp)
    return part


class GetItem(Function):
    """Basic slicing, integer-array and boolean-mask indexing; repeated indices accumulate in backward."""

    linear = True  # forward mode: the tangent is the op applied to the tangents

    def forward(ctx, a, index=None):
        ctx.shape, ctx.dtype, ctx.index = a.shape, a.dtype, index
        try:
            return a[index]
        except IndexError as e:
            raise IndexError(f"getitem: index {index!r} for shape {a.shape}: {e}") from None

    def backward(ctx, grad_output):
        grad = np.zeros(ctx.shape, dtype=grad_output.dtype)
        if _has_integer_array(ctx.index):  # indices may repeat: add, don't assign
            np.add.at(grad, ctx.index, grad_output)
        else:
            grad[ctx.index] = grad_output
        return grad

    def vjp(ctx, grad_output):
        return PlaceAt.apply(grad_output, index=ctx.index, shape=ctx.shape)


class PlaceAt(Function):
    """Zeros of `shape` with `a` placed (added, for repeated indices) at `index`: the backward
    of `GetItem`, as an op so that it can be differentiated again."""

    linear = True  # forward mode: the tangent is the op applied to the tangents

    def forward(ctx, a, index=None, shape=()):
        ctx.index = index
        grad = np.zeros(shape, dtype=a.dtype)
        if _has_integer_array(index):
            np.add.at(grad, index, a)
        else:
            grad[index] = a
        return grad

    def backward(ctx, grad_output):
        return grad_output[ctx.index]

    def vjp(ctx, grad_output):
        return GetItem.apply(grad_output, index=ctx.index)


@tensor_method
def __getitem__(self, index):
    return GetItem.apply(self, index=_index_data(index))


class SetItem(Function):
    """`a` with ``a[index] = value`` (``torch.index_put``): `a`'s gradient is zero where it was
    overwritten, `value`'s is the gradient of the written elements."""

    linear = True  # forward mode: the tangent is the op applied to the tangents

    def forward(ctx, a, value, index=None):
        out = a.copy()
        try:
            out[index] = value
        except IndexError as e:
            raise IndexError(f"setitem: index {index!r} for shape {a.shape}: {e}") from None
        except ValueError:
            raise ShapeError(f"setitem: a value of shape {np.shape(value)} does not broadcast to the shape "
                             f"{a[index].shape} of the elements at {index!r} of a tensor of shape {a.shape}") from None
        ctx.index, ctx.value_ndim = index, np.ndim(value)
        return out

    def backward(ctx, grad_output):
        need_a, need_value = ctx.needs_input_grad
        grad_a = grad_value = None
        if need_a:
            grad_a = grad_output.copy()
            grad_a[ctx.index] = 0
        if need_value:
            grad_value = grad_output[ctx.index]
            if ctx.value_ndim > grad_value.ndim:  # numpy drops a value's leading dims of size 1
                grad_value = grad_value.reshape((1,) * (ctx.value_ndim - grad_value.ndim) + grad_value.shape)
        return grad_a, grad_value

    def vjp(ctx, grad_output):
        need_a, need_value = ctx.needs_input_grad
        grad_a = SetItem.apply(grad_output, 0.0, index=ctx.index) if need_a else None
        grad_value = None
        if need_value:
            grad_value = GetItem.apply(grad_output, index=ctx.index)
            if ctx.value_ndim > grad_value.ndim:
                grad_value = grad_value.reshape((1,) * (ctx.value_ndim - grad_value.ndim) + grad_value.shape)
        return grad_a, grad_value


@tensor_method
def __setitem__(self, index, value):
    """``t[index] = value`` in place, as in PyTorch: differentiable with respect to `value`."""
    inplace(self, SetItem.apply(self, value, index=_index_data(index)), "setitem")


class Gather(Function):
    """``out[i][j] = a[index[i][j]][j]`` along `axis` 0 (and likewise for other axes), as ``torch.gather``."""

    def forward(ctx, a, index, axis=0):
        region = tuple(slice(None) if d == axis else slice(0, n) for d, n in enumerate(index.shape))
        ctx.shape, ctx.index, ctx.axis = a.shape, index, axis
        return np.take_along_axis(a[region], index, axis)

    def backward(ctx, grad_output):
        grad = np.zeros(ctx.shape, dtype=grad_output.dtype)
        positions = list(np.indices(ctx.index.shape, sparse=True))
        positions[ctx.axis] = ctx.index
        np.add.at(grad, tuple(positions), grad_output)  # an index may repeat
        return grad, None

    def vjp(ctx, grad_output):
        positions = list(np.indices(ctx.index.shape, sparse=True))
        positions[ctx.axis] = ctx.index
        return PlaceAt.apply(grad_output, index=tuple(positions), shape=ctx.shape), None

    def jvp(ctx, tangent, _):
        region = tuple(slice(None) if d == ctx.axis else slice(0, n) for d, n in enumerate(ctx.index.shape))
        return np.take_along_axis(tangent[region], ctx.index, ctx.axis)


@tensor_method
def gather(self, dim: int, index):
    """The elements picked along `dim` by `index`, an int tensor with as many dims as `self`
    and no larger in the others (``torch.gather``): for ``dim=1``, ``out[i][j] = self[i][index[i][j]]``.
    The result has `index`'s shape; repeated indices accumulate in backward."""
    indices = np.asarray(index._data if isinstance(index, Tensor) else index)
    if indices.dtype.kind not in "iu":
        raise TypeError(f"gather: index must be an integer tensor, got dtype {indices.dtype}")
    d = dim_index(dim, self.shape, "gather")
    if self.ndim == 0:  # PyTorch treats a 0-d input (and index) as one element
        if indices.ndim > 1:
            raise ShapeError(f"gather: index of shape {indices.shape} for a 0-d input")
        return self.reshape(1).gather(0, indices.reshape(-1)).reshape(indices.shape)
    if indices.ndim != self.ndim or any(n > s for i, (n, s) in enumerate(zip(indices.shape, self.shape)) if i != d):
        raise ShapeError(f"gather: index of shape {indices.shape} does not fit the input of shape {self.shape} "
                         f"along dim {d}: it needs {self.ndim} dims, none larger than the input's except dim {d}")
    if indices.size and (indices.min() < 0 or indices.max() >= self.shape[d]):
        bad = indices.min() if indices.min() < 0 else indices.max()
        raise IndexError(f"gather: index {bad} is out of bounds for dim {d} of size {self.shape[d]} "
                         f"(shape {self.shape})")
    return Gather.apply(self, indices, axis=d)


class Where(Function):
    """`a` where `condition` holds, `b` elsewhere (``torch.where``), all broadcast together."""

    def forward(ctx, condition, a, b):
        ctx.save_for_backward(condition)
        return np.where(condition, a, b)

    def backward(ctx, grad_output):
        (condition,) = ctx.saved_tensors
        _, need_a, need_b = ctx.needs_input_grad
        zero = np.zeros((), dtype=grad_output.dtype)
        return (None, np.where(condition, grad_output, zero) if need_a else None,
                np.where(condition, zero, grad_output) if need_b else None)

    def vjp(ctx, grad_output):
        (condition,) = ctx.saved_tensors
        _, need_a, need_b = ctx.needs_input_grad
        return (None, Where.apply(condition, grad_output, 0.0) if need_a else None,
                Where.apply(condition, 0.0, grad_output) if need_b else None)

    def jvp(ctx, _, tangent_a, tangent_b):
        (condition,) = ctx.saved_tensors
        return np.where(condition, 0.0 if tangent_a is None else tangent_a, 0.0 if tangent_b is None else tangent_b)


def bool_mask(op: str, mask):
    """`mask` as a boolean tensor (a Tensor stays itself) or a TypeError naming `op`, as PyTorch
    accepts no other dtype for a condition or a mask."""
    array = mask._data if isinstance(mask, Tensor) else np.asarray(mask)
    if array.dtype != np.bool_:
        raise TypeError(f"{op}: the condition must be a boolean tensor, got dtype {array.dtype}")
    return mask if isinstance(mask, Tensor) else array


@tensor_method
def where(self, condition, other):
    """``tl.where(condition, self, other)``: this tensor where the boolean `condition` holds, `other`
    elsewhere (``torch.Tensor.where``)."""
    return Where.apply(bool_mask("where", condition), self, other)


class MaskedFill(Function):
    """`a` with `value` where `mask` is True (``torch.masked_fill``); the result keeps `a`'s dtype and
    shape, and a tensor `value` gets the gradient of every filled element."""

    def forward(ctx, a, mask, value):
        out = np.array(a, copy=True)
        np.copyto(out, value, casting="unsafe", where=mask)
        ctx.save_for_backward(mask)
        return out

    def backward(ctx, grad_output):
        (mask,) = ctx.saved_tensors
        need_a, _, need_value = ctx.needs_input_grad
        zero = np.zeros((), dtype=grad_output.dtype)
        return (np.where(mask, zero, grad_output) if need_a else None, None,
                np.where(mask, grad_output, zero) if need_value else None)

    def vjp(ctx, grad_output):
        (mask,) = ctx.saved_tensors
        need_a, _, need_value = ctx.needs_input_grad
        return (Where.apply(mask, 0.0, grad_output) if need_a else None, None,
                Where.apply(mask, grad_output, 0.0) if need_value else None)

    def jvp(ctx, tangent_a, _, tangent_value):
        (mask,) = ctx.saved_tensors
        return np.where(mask, 0.0 if tangent_value is None else tangent_value, 0.0 if tangent_a is None else tangent_a)


@tensor_method
def masked_fill(self, mask, value):
    """A copy with `value` (a number or a 0-d tensor) where the boolean `mask` (broadcastable to
    this shape) is True (``torch.Tensor.masked_fill``); the gradient flows elsewhere, and to a
    tensor `value`."""
    mask = bool_mask("masked_fill", mask)
    if isinstance(value, Tensor) and value.ndim:
        raise ShapeError(f"masked_fill: value must be a number or a 0-d tensor, got shape {value.shape}")
    if not _broadcasts_to(np.shape(mask), self.shape):
        raise ShapeError(f"masked_fill: a mask of shape {np.shape(mask)} does not broadcast to the tensor's shape "
                         f"{self.shape}")
    return MaskedFill.apply(self, mask, value)


def _broadcasts_to(shape: tuple, target: tuple) -> bool:
    try:
        return np.broadcast_shapes(shape, target) == target
    except ValueError:
        return False


@tensor_method
def masked_fill_(self, mask, value):
    """`masked_fill` in place; returns self."""
    return inplace(self, self.masked_fill(mask, value), "masked_fill_")
