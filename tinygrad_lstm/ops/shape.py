"""Shape ops: reshape, transpose, indexing, concat/stack, split/chunk/unbind."""
from __future__ import annotations

import numpy as np

from ..engine import Function, ShapeError, Tensor, tensor_method, tensor_property
from .dims import axis_index


class Reshape(Function):
    linear = True  # forward mode: the tangent is the op applied to the tangents

    def forward(ctx, a, shape=()):
        ctx.shape = a.shape
        try:
            return a.reshape(shape)
        except ValueError:
            raise ShapeError(f"reshape: cannot reshape shape {a.shape} ({a.size} elements) into {shape}") from None

    def backward(ctx, grad_output):
        return grad_output.reshape(ctx.shape)

    def vjp(ctx, grad_output):
        return Reshape.apply(grad_output, shape=ctx.shape)

@tensor_method
def reshape(self, *shape):
    """The same data in a new shape (one entry may be -1), e.g. ``t.reshape(T * B, D)``."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return Reshape.apply(self, shape=shape)


@tensor_method
def flatten(self):
    """The data as one dimension, ``(size,)``."""
    return self.reshape(-1)


class Transpose(Function):
    linear = True  # forward mode: the tangent is the op applied to the tangents

    def forward(ctx, a, axes=()):
        ctx.axes = axes
        return np.transpose(a, axes)

    def backward(ctx, grad_output):
        return np.transpose(grad_output, np.argsort(ctx.axes))

    def vjp(ctx, grad_output):
        return Transpose.apply(grad_output, axes=tuple(np.argsort(ctx.axes)))

@tensor_method
def transpose(self, *axes):
    """Permute axes like ``numpy.transpose`` (reverse them when none are given)."""
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = tuple(axes[0])
    if not axes:
        axes = tuple(range(self.ndim - 1, -1, -1))
    if sorted(a % self.ndim if self.ndim else a for a in axes) != list(range(self.ndim)):
        raise ShapeError(f"transpose: axes {axes} are not a permutation of the {self.ndim} axes of shape {self.shape}")
    return Transpose.apply(self, axes=tuple(a % self.ndim for a in axes))


@tensor_property
def T(self):
    """The axes reversed, ``(a, b) -> (b, a)``; a view in the graph like ``transpose()``."""
    return self.transpose()


def _has_integer_array(index) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, np.ndarray) and p.dtype.kind in "iu" for p in parts)


class GetItem(Function):
    """Basic slicing and integer-array indexing; repeated indices accumulate in backward."""

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


@tensor_method
def __getitem__(self, index):
    return GetItem.apply(self, index=_index_data(index))


class Concat(Function):
    linear = True  # forward mode: the tangent is the op applied to the tangents

    def forward(ctx, *arrays, axis=0):
        _check_same_shapes("concat", arrays, axis)
        ctx.axis = axis
        ctx.bounds = np.cumsum([a.shape[axis] for a in arrays])[:-1]
        return np.concatenate(arrays, axis=axis)

    def backward(ctx, grad_output):
        return tuple(np.split(grad_output, ctx.bounds, axis=ctx.axis))

    def vjp(ctx, grad_output):
        sizes = np.diff(np.concatenate([[0], ctx.bounds, [grad_output.shape[ctx.axis]]])).tolist()
        return Split.apply(grad_output, sizes=tuple(sizes), axis=ctx.axis)

class Stack(Function):
    linear = True  # forward mode: the tangent is the op applied to the tangents

    def forward(ctx, *arrays, axis=0):
        _check_same_shapes("stack", arrays, None)
        ctx.axis = axis
        return np.stack(arrays, axis=axis)

    def backward(ctx, grad_output):
        return tuple(np.moveaxis(grad_output, ctx.axis, 0))

    def vjp(ctx, grad_output):
        return Unbind.apply(grad_output, axis=ctx.axis)

def _check_same_shapes(op, arrays, axis):
    if not arrays:
        raise ShapeError(f"{op}: needs at least one tensor")
    first = np.shape(arrays[0])
    for i, a in enumerate(arrays[1:], start=1):
        shape = np.shape(a)
        same = shape == first if axis is None else (
            len(shape) == len(first) and all(s == f for d, (s, f) in enumerate(zip(shape, first)) if d != axis))
        if not same:
            rule = "all shapes must be equal" if axis is None else f"shapes must match except on axis {axis}"
            raise ShapeError(f"{op}: tensor 0 has shape {first} but tensor {i} has shape {shape}; {rule}")


class Split(Function):
    """One node with one output per piece; backward assembles the input gradient once."""

    linear = True  # forward mode: the tangent is the op applied to the tangents

    def forward(ctx, a, sizes=(), axis=0):
        ctx.shape, ctx.axis, ctx.sizes = a.shape, axis, sizes
        lead = (slice(None),) * axis
        pieces, start = [], 0
        for size in sizes:
            pieces.append(a[lead + (slice(start, start + size),)])
            start += size
        return tuple(pieces)

    def backward(ctx, *grad_outputs):
        pieces = [g if g is not None else np.zeros(_piece_shape(ctx.shape, ctx.axis, n), dtype=_dtype(grad_outputs))
                  for g, n in zip(grad_outputs, ctx.sizes)]
        return np.concatenate(pieces, axis=ctx.axis)

    def vjp(ctx, *grad_outputs):
        dtype = next(g.dtype for g in grad_outputs if g is not None)
        pieces = [g if g is not None else np.zeros(_piece_shape(ctx.shape, ctx.axis, n), dtype)
                  for g, n in zip(grad_outputs, ctx.sizes)]
        return Concat.apply(*pieces, axis=ctx.axis)

@tensor_method
def split(self, sizes_or_sections, axis: int = 0):
    """Split along `axis`: an int gives that many equal sections, a list gives the sizes.

    One node with several outputs; its backward assembles the input gradient once.
    """
    axis = axis_index(axis, self.ndim, "split")
    length = self.shape[axis]
    if isinstance(sizes_or_sections, (int, np.integer)):
        n = int(sizes_or_sections)
        if n <= 0 or length % n:
            raise ShapeError(f"split: axis {axis} of size {length} does not split into {n} equal sections "
                             f"(shape {self.shape})")
        sizes = (length // n,) * n
    else:
        try:
            sizes = tuple(int(s) for s in sizes_or_sections)
        except TypeError:
            raise TypeError(f"split: expected an int or a list of ints, got {sizes_or_sections!r}") from None
        if sum(sizes) != length or any(s < 0 for s in sizes):
            raise ShapeError(f"split: sizes {list(sizes)} do not add up to {length}, the size of axis {axis} "
                             f"of shape {self.shape}")
    return Split.apply(self, sizes=sizes, axis=axis)


@tensor_method
def chunk(self, chunks: int, axis: int = 0):
    """Split into `chunks` pieces along `axis`, as ``torch.chunk``: each of ``ceil(n / chunks)``
    elements and the last one smaller, so there may be fewer than `chunks` pieces
    (``arange(10).chunk(4)`` has sizes 3, 3, 3, 1; ``arange(6).chunk(4)`` 2, 2, 2).
    """
    if isinstance(chunks, bool) or not isinstance(chunks, (int, np.integer)):
        raise TypeError(f"chunk: chunks must be an int, got {chunks!r}")
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    axis = axis_index(axis, self.ndim, "chunk")
    length = self.shape[axis]
    size = -(-length // chunks)
    if size == 0:  # an empty axis: `chunks` empty pieces, as torch
        sizes = (0,) * chunks
    else:
        sizes = (size,) * (length // size) + ((length % size,) if length % size else ())
    return Split.apply(self, sizes=sizes, axis=axis)


class Unbind(Function):
    """The slices along `axis` as separate outputs of one node."""

    linear = True  # forward mode: the tangent is the op applied to the tangents

    def forward(ctx, a, axis=0):
        ctx.shape, ctx.axis = a.shape, axis
        moved = np.moveaxis(a, axis, 0)
        return tuple(moved)

    def backward(ctx, *grad_outputs):
        moved_shape = (ctx.shape[ctx.axis],) + ctx.shape[:ctx.axis] + ctx.shape[ctx.axis + 1:]
        grad = np.empty(moved_shape, dtype=_dtype(grad_outputs))
        for i, g in enumerate(grad_outputs):
            if g is None:
                grad[i] = 0
            else:
                grad[i] = g
        return np.moveaxis(grad, 0, ctx.axis)

    def vjp(ctx, *grad_outputs):
        dtype = next(g.dtype for g in grad_outputs if g is not None)
        moved = ctx.shape[:ctx.axis] + ctx.shape[ctx.axis + 1:]
        return Stack.apply(*[g if g is not None else np.zeros(moved, dtype) for g in grad_outputs], axis=ctx.axis)

@tensor_method
def unbind(self, axis: int = 0):
    """The slices along `axis` as a tuple of tensors (one multi-output node)."""
    return Unbind.apply(self, axis=axis_index(axis, self.ndim, "unbind"))


def _piece_shape(shape, axis, size):
    return shape[:axis] + (size,) + shape[axis + 1:]


def _dtype(grads):
    return next(g.dtype for g in grads if g is not None)


def concat(tensors, axis: int = 0) -> Tensor:
    """Join tensors along an existing axis (like ``numpy.concatenate``)."""
    tensors = list(tensors)
    if not tensors:
        raise ShapeError("concat: needs at least one tensor")
    ndim = np.ndim(tensors[0]._data if isinstance(tensors[0], Tensor) else tensors[0])
    if not -ndim <= axis < ndim:
        raise ShapeError(f"concat: axis {axis} is out of range for tensors with {ndim} dimensions")
    return Concat.apply(*tensors, axis=axis % ndim)


def stack(tensors, axis: int = 0) -> Tensor:
    """Join same-shaped tensors along a new axis (like ``numpy.stack``)."""
    tensors = list(tensors)
    if not tensors:
        raise ShapeError("stack: needs at least one tensor")
    ndim = np.ndim(tensors[0]._data if isinstance(tensors[0], Tensor) else tensors[0]) + 1
    if not -ndim <= axis < ndim:
        raise ShapeError(f"stack: axis {axis} is out of range for a result with {ndim} dimensions")
    return Stack.apply(*tensors, axis=axis % ndim)
