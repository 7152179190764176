"""Shape ops, as in PyTorch: reshape/view, flatten, squeeze/unsqueeze, permute/transpose/t,
contiguous, expand, repeat, flip, roll, cat/stack, and split/chunk/tensor_split/unbind."""
from __future__ import annotations

import operator

import numpy as np

from ..engine import Function, ShapeError, Tensor, tensor_method, tensor_property
from .dims import alias, dim_index, is_int, needs_dims


def _sizes(op: str, sizes: tuple, given=None, keyword: str = "") -> tuple:
    """``f(2, 3)``, ``f((2, 3))`` or, with PyTorch's keyword, ``f(keyword=(2, 3))`` (`given`) as a
    tuple of ints."""
    if given is not None:
        if sizes:
            raise TypeError(f"{op}: got the sizes both as arguments {sizes!r} and as {keyword}={given!r}")
        sizes = given if isinstance(given, (tuple, list)) else (given,)
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    if not all(is_int(s) for s in sizes):
        raise TypeError(f"{op}: sizes must be ints, got {sizes!r}")
    return tuple(int(s) for s in sizes)


# --------------------------------------------------------------------------- reshape, view


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
def reshape(self, *sizes, shape=None):
    """The same data in a new shape (one entry may be -1), e.g. ``t.reshape(T * B, D)``; a view
    of the data when numpy can make one, a copy otherwise (``torch.reshape``; also ``reshape(shape=...)``)."""
    return Reshape.apply(self, shape=_sizes("reshape", sizes, shape, "shape"))


class View(Reshape):
    """`Reshape` that never copies: a shape the memory layout cannot express is an error."""

    linear = False  # a tangent may be laid out differently: it is reshaped (copied if need be) instead

    def forward(ctx, a, shape=()):
        ctx.shape = a.shape
        if not _fits(a.size, shape):
            raise ShapeError(f"view: cannot view shape {a.shape} ({a.size} elements) as {shape}")
        try:
            return np.reshape(a, shape, copy=False)
        except ValueError:
            raise RuntimeError(f"view: the tensor of shape {a.shape} (strides {a.strides}) cannot be viewed as "
                               f"{shape} without a copy (e.g. after a transpose); use .reshape(...) instead") from None

    def jvp(ctx, tangent):
        return np.reshape(tangent, ctx.meta[0][0])


def _fits(size: int, shape: tuple) -> bool:
    """Whether `size` elements fill `shape` (where one entry may be -1)."""
    known = int(np.prod([n for n in shape if n != -1]))
    if -1 not in shape:
        return known == size
    return shape.count(-1) == 1 and known > 0 and size % known == 0


@tensor_method
def view(self, *sizes, size=None):
    """The same memory in a new shape (``torch.Tensor.view``): `RuntimeError` when that needs a copy
    (e.g. after a transpose), as in PyTorch; `reshape` copies instead."""
    return View.apply(self, shape=_sizes("view", sizes, size, "size"))


@tensor_method
def view_as(self, other):
    """``self.view(other.shape)``."""
    return self.view(other.shape)


@tensor_method
def reshape_as(self, other):
    """``self.reshape(other.shape)``."""
    return self.reshape(other.shape)


@tensor_method
def flatten(self, start_dim: int = 0, end_dim: int = -1):
    """Dims `start_dim` to `end_dim` (inclusive) merged into one (``torch.flatten``): ``(2, 3, 4)``
    gives ``(24,)``, with ``start_dim=1`` ``(2, 12)``. A 0-d tensor becomes ``(1,)``."""
    if self.ndim == 0:
        dim_index(start_dim, (), "flatten")
        dim_index(end_dim, (), "flatten")
        return self.reshape(1)
    start, end = dim_index(start_dim, self.shape, "flatten"), dim_index(end_dim, self.shape, "flatten")
    if start > end:
        raise ShapeError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} (shape {self.shape})")
    if start == end:
        return self
    shape = self.shape
    return self.reshape(shape[:start] + (int(np.prod(shape[start:end + 1])),) + shape[end + 1:])


@tensor_method
def unflatten(self, dim: int, sizes):
    """Dim `dim` split into several of `sizes` (one may be -1), the inverse of `flatten`
    (``torch.Tensor.unflatten``): ``(6, 4).unflatten(0, (2, 3))`` is ``(2, 3, 4)``."""
    needs_dims("unflatten", self.shape)
    d = dim_index(dim, self.shape, "unflatten")
    sizes = _sizes("unflatten", (sizes,))
    if not _fits(self.shape[d], sizes):
        raise ShapeError(f"unflatten: sizes {sizes} do not multiply to {self.shape[d]}, the size of dim {d} "
                         f"of shape {self.shape}")
    return self.reshape(self.shape[:d] + sizes + self.shape[d + 1:])


@tensor_method
def squeeze(self, dim=None):
    """Dims of size 1 removed: all of them, or those of `dim` (an int or a tuple), as in PyTorch
    a dim of another size is left alone (numpy would raise)."""
    if dim is None:
        dims = range(self.ndim)
    elif is_int(dim):
        dims = (dim_index(dim, self.shape, "squeeze"),)
    else:
        dims = {dim_index(d, self.shape, "squeeze") for d in dim}
    shape = self.shape
    kept = tuple(n for i, n in enumerate(shape) if not (i in dims and n == 1))
    return self if kept == shape else self.reshape(kept)


@tensor_method
def unsqueeze(self, dim: int):
    """A dim of size 1 inserted at `dim` (in ``[-ndim - 1, ndim]``): ``(2, 3).unsqueeze(1)`` is ``(2, 1, 3)``."""
    d = dim_index(dim, self.ndim + 1, "unsqueeze")
    return self.reshape(self.shape[:d] + (1,) + self.shape[d:])


# --------------------------------------------------------------------------- permute, transpose


class Transpose(Function):
    """The dims permuted: output dim ``i`` is input dim ``axes[i]`` (``numpy.transpose``)."""

    linear = True  # forward mode: the tangent is the op applied to the tangents

    def forward(ctx, a, axes=()):
        ctx.axes = axes
        return np.transpose(a, axes)

    def backward(ctx, grad_output):
        return np.transpose(grad_output, np.argsort(ctx.axes))

    def vjp(ctx, grad_output):
        return Transpose.apply(grad_output, axes=tuple(np.argsort(ctx.axes)))

@tensor_method
def permute(self, *order, dims=None):
    """The dims in a new order (``torch.permute``; numpy's ``transpose(axes)``):
    ``(2, 3, 4).permute(2, 0, 1)`` (or ``permute(dims=(2, 0, 1))``) is ``(4, 2, 3)``. A view."""
    dims = _sizes("permute", order, dims, "dims")
    if len(dims) != self.ndim:
        raise ShapeError(f"permute: {len(dims)} dims {dims} for a tensor with {self.ndim} dimensions "
                         f"(shape {self.shape})")
    axes = tuple(dim_index(d, self.shape, "permute") for d in dims)
    if len(set(axes)) != len(axes):
        raise ShapeError(f"permute: repeated dim in {dims}")
    return Transpose.apply(self, axes=axes)


@tensor_method
def transpose(self, dim0: int, dim1: int):
    """Dims `dim0` and `dim1` swapped (``torch.transpose``): ``(2, 3, 4).transpose(0, 2)`` is
    ``(4, 3, 2)``. For a full reordering use `permute`. A view."""
    d0, d1 = dim_index(dim0, self.shape, "transpose"), dim_index(dim1, self.shape, "transpose")
    axes = list(range(self.ndim))
    if axes:
        axes[d0], axes[d1] = d1, d0
    return Transpose.apply(self, axes=tuple(axes))


@tensor_method
def swapaxes(self, axis0: int, axis1: int):
    """`transpose` under numpy's name (also ``torch.swapaxes``)."""
    return self.transpose(axis0, axis1)


@tensor_method
def swapdims(self, dim0: int, dim1: int):
    """`transpose` (``torch.swapdims``)."""
    return self.transpose(dim0, dim1)


@tensor_method
def movedim(self, source, destination):
    """Dim(s) `source` moved to position(s) `destination`, the others keeping their order
    (``torch.movedim``, numpy's ``moveaxis``)."""
    source = (source,) if is_int(source) else tuple(source)
    destination = (destination,) if is_int(destination) else tuple(destination)
    if len(source) != len(destination):
        raise ShapeError(f"movedim: {len(source)} source dims {source} but {len(destination)} destinations "
                         f"{destination}")
    source = [dim_index(d, self.shape, "movedim") for d in source]
    destination = [dim_index(d, self.shape, "movedim") for d in destination]
    if len(set(source)) != len(source) or len(set(destination)) != len(destination):
        raise ShapeError(f"movedim: repeated dim in source {tuple(source)} or destination {tuple(destination)}")
    rest = iter(d for d in range(self.ndim) if d not in source)
    placed = dict(zip(destination, source))
    return Transpose.apply(self, axes=tuple(placed[i] if i in placed else next(rest) for i in range(self.ndim)))


@tensor_method
def moveaxis(self, source, destination):
    """`movedim` under numpy's name (also ``torch.moveaxis``)."""
    return self.movedim(source, destination)


@tensor_property
def T(self):
    """All dims reversed, ``(a, b) -> (b, a)`` (``torch.Tensor.T``, numpy's ``.T``); a view."""
    return Transpose.apply(self, axes=tuple(range(self.ndim - 1, -1, -1)))


@tensor_method
def t(self):
    """The transpose of a matrix (``torch.t``): ``(n, m) -> (m, n)``; 0-d and 1-d tensors stay as they are."""
    if self.ndim > 2:
        raise ShapeError(f"t: expects a tensor with at most 2 dimensions, got shape {self.shape}; "
                         f"use transpose(dim0, dim1) or mT")
    return self.T


@tensor_property
def mT(self):
    """The last two dims swapped, a batch of matrices transposed (``torch.Tensor.mT``):
    ``(B, n, m) -> (B, m, n)``."""
    if self.ndim < 2:
        raise ShapeError(f"mT: needs a matrix or a batch of matrices, got shape {self.shape}")
    return self.transpose(-2, -1)


class Contiguous(Function):
    """The elements copied in row-major order (``numpy.ascontiguousarray``)."""

    linear = True  # forward mode: the tangent is the op applied to the tangents

    def forward(ctx, a):
        return np.ascontiguousarray(a)

    def backward(ctx, grad_output):
        return grad_output

    def vjp(ctx, grad_output):
        return grad_output


@tensor_method
def contiguous(self):
    """This tensor with its elements in row-major order (``torch.Tensor.contiguous``): itself when
    they already are, otherwise a copy in the graph, so that `view` works after a transpose."""
    return self if self._data.flags.c_contiguous else Contiguous.apply(self)


@tensor_method
def is_contiguous(self) -> bool:
    """Whether the elements are in row-major order in memory (``torch.Tensor.is_contiguous``)."""
    return bool(self._data.flags.c_contiguous)


# --------------------------------------------------------------------------- expand, repeat


class Expand(Function):
    """`a` broadcast to `shape` without copying (read-only, as PyTorch's expanded tensors may not be
    written in place); the engine sums the gradient back over the expanded dims."""

    linear = True  # forward mode: the tangent is the op applied to the tangents

    def forward(ctx, a, shape=()):
        return np.broadcast_to(a, shape)

    def backward(ctx, grad_output):
        return grad_output

    def vjp(ctx, grad_output):
        return grad_output


@tensor_method
def expand(self, *sizes, size=None):
    """A view with dims of size 1 stretched to `sizes` (-1 keeps a dim), and new leading dims
    (``torch.Tensor.expand``): ``(3, 1).expand(2, 3, 4)`` is ``(2, 3, 4)``."""
    sizes = _sizes("expand", sizes, size, "size")
    lead = len(sizes) - self.ndim
    if lead < 0:
        raise ShapeError(f"expand: {len(sizes)} sizes {sizes} for a tensor with {self.ndim} dimensions "
                         f"(shape {self.shape}); give at least one size per dim")
    shape = []
    for i, size in enumerate(sizes):
        old = self.shape[i - lead] if i >= lead else None
        if size == -1 and old is not None:
            size = old
        if size < 0 or (old is not None and old != 1 and old != size):
            raise ShapeError(f"expand: cannot expand shape {self.shape} to {sizes}: dim {i} of size "
                             f"{'(new)' if old is None else old} cannot become {size}")
        shape.append(size)
    shape = tuple(shape)
    return self if shape == self.shape else Expand.apply(self, shape=shape)


@tensor_method
def expand_as(self, other):
    """``self.expand(other.shape)``."""
    return self.expand(other.shape)


@tensor_method
def broadcast_to(self, *sizes, size=None):
    """`expand` under numpy's name (``torch.broadcast_to``)."""
    return self.expand(*sizes, size=size)


class Repeat(Function):
    """`a` tiled `repeats` times along each dim (``numpy.tile``)."""

    linear = True  # forward mode: the tangent is the op applied to the tangents

    def forward(ctx, a, repeats=()):
        ctx.shape = (1,) * (len(repeats) - a.ndim) + a.shape
        ctx.repeats = repeats
        return np.tile(a, repeats)

    def backward(ctx, grad_output):
        # (r0 * n0, r1 * n1, ...) -> (r0, n0, r1, n1, ...), summed over the copies r_i
        split = [n for pair in zip(ctx.repeats, ctx.shape) for n in pair]
        return grad_output.reshape(split).sum(axis=tuple(range(0, len(split), 2)))

    def vjp(ctx, grad_output):
        split = tuple(n for pair in zip(ctx.repeats, ctx.shape) for n in pair)
        return Reshape.apply(grad_output, shape=split).sum(dim=tuple(range(0, len(split), 2)))


@tensor_method
def repeat(self, *counts, repeats=None):
    """The tensor tiled `repeats` times along each dim (``torch.Tensor.repeat``, numpy's ``tile``;
    extra leading counts add dims): ``(2, 3).repeat(2, 1, 2)`` is ``(2, 2, 6)``.
    numpy's element-wise ``repeat`` is ``repeat_interleave``."""
    repeats = _sizes("repeat", counts, repeats, "repeats")
    if len(repeats) < self.ndim:
        raise ShapeError(f"repeat: {len(repeats)} repeat counts {repeats} for a tensor with {self.ndim} dimensions "
                         f"(shape {self.shape}); give at least one per dim")
    if any(r < 0 for r in repeats):
        raise ShapeError(f"repeat: repeat counts must be non-negative, got {repeats}")
    return Repeat.apply(self, repeats=repeats)


@tensor_method
def repeat_interleave(self, repeats: int, dim=None):
    """Each element repeated `repeats` times along `dim` (the flattened tensor when None), as
    ``torch.repeat_interleave`` with an int count (numpy's ``repeat``)."""
    if not is_int(repeats) or repeats < 0:
        raise TypeError(f"repeat_interleave: repeats must be a non-negative int, got {repeats!r}")
    x = self.reshape(-1) if dim is None else self
    d = 0 if dim is None else dim_index(dim, self.shape, "repeat_interleave")
    if x.ndim == 0:
        x = x.reshape(1)
    # (..., n, ...) -> (..., n, 1, ...) -> expand to (..., n, repeats, ...) -> (..., n * repeats, ...)
    shape = x.shape
    expanded = x.unsqueeze(d + 1).expand(shape[:d + 1] + (repeats,) + shape[d + 1:])
    return expanded.reshape(shape[:d] + (shape[d] * repeats,) + shape[d + 1:])


# --------------------------------------------------------------------------- flip, roll


class Flip(Function):
    linear = True  # forward mode: the tangent is the op applied to the tangents

    def forward(ctx, a, axes=()):
        ctx.axes = axes
        return np.flip(a, axes)

    def backward(ctx, grad_output):
        return np.flip(grad_output, ctx.axes)

    def vjp(ctx, grad_output):
        return Flip.apply(grad_output, axes=ctx.axes)


@tensor_method
def flip(self, *order, dims=None):
    """The order of the elements reversed along `dims` (``torch.flip``): ``flip(0)``, ``flip(0, 1)``,
    ``flip((0, 1))`` or ``flip(dims=(0, 1))``."""
    dims = _sizes("flip", order, dims, "dims")
    axes = tuple(dim_index(d, self.shape, "flip") for d in dims)
    if len(set(axes)) != len(axes):
        raise ShapeError(f"flip: repeated dim in {dims}")
    return Flip.apply(self, axes=axes if self.ndim else ())


class Roll(Function):
    linear = True  # forward mode: the tangent is the op applied to the tangents

    def forward(ctx, a, shifts=(), axes=None):
        ctx.shifts, ctx.axes = shifts, axes
        return np.roll(a, shifts, axis=axes)

    def backward(ctx, grad_output):
        return np.roll(grad_output, tuple(-s for s in ctx.shifts), axis=ctx.axes)

    def vjp(ctx, grad_output):
        return Roll.apply(grad_output, shifts=tuple(-s for s in ctx.shifts), axes=ctx.axes)


@tensor_method
def roll(self, shifts, dims=None):
    """Elements shifted along `dims` by `shifts`, wrapping around (``torch.roll``); without `dims`
    the flattened tensor is rolled and the shape restored."""
    shifts = (shifts,) if is_int(shifts) else _sizes("roll", (shifts,))
    if dims is None:
        if len(shifts) != 1:
            raise ShapeError(f"roll: {len(shifts)} shifts {shifts} need as many dims")
        return Roll.apply(self, shifts=shifts, axes=None)
    dims = (dims,) if is_int(dims) else _sizes("roll", (dims,))
    if len(shifts) != len(dims):
        raise ShapeError(f"roll: shifts {shifts} and dims {dims} must have the same length")
    axes = tuple(dim_index(d, self.shape, "roll") for d in dims)
    return Roll.apply(self, shifts=shifts, axes=axes if self.ndim else None)


# --------------------------------------------------------------------------- cat, stack


class Concat(Function):
    linear = True  # forward mode: the tangent is the op applied to the tangents

    def forward(ctx, *arrays, axis=0):
        # PyTorch's legacy rule: 1-D empty tensors (shape (0,)) are skipped when the others are not
        kept = [a for a in arrays if np.shape(a) != (0,)]
        ctx.skipped = None
        if 0 < len(kept) < len(arrays):
            ctx.skipped = [np.shape(a) == (0,) for a in arrays]
        else:
            kept = arrays
        _check_same_shapes("cat", kept, axis)
        ctx.axis = axis
        ctx.bounds = np.cumsum([a.shape[axis] for a in kept])[:-1]
        return np.concatenate(kept, axis=axis)

    def backward(ctx, grad_output):
        return ctx.with_skipped(np.split(grad_output, ctx.bounds, axis=ctx.axis), np.zeros(0, grad_output.dtype))

    def with_skipped(ctx, pieces, empty) -> tuple:
        """The gradient `pieces` of the concatenated tensors, with `empty` for each skipped one."""
        if ctx.skipped is None:
            return tuple(pieces)
        pieces = iter(pieces)
        return tuple(empty if skip else next(pieces) for skip in ctx.skipped)

    def vjp(ctx, grad_output):
        sizes = np.diff(np.concatenate([[0], ctx.bounds, [grad_output.shape[ctx.axis]]])).tolist()
        return ctx.with_skipped(Split.apply(grad_output, sizes=tuple(sizes), axis=ctx.axis), grad_output.new_zeros(0))

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
    first = np.shape(arrays[0])
    for i, a in enumerate(arrays[1:], start=1):
        shape = np.shape(a)
        same = shape == first if axis is None else (
            len(shape) == len(first) and all(s == f for d, (s, f) in enumerate(zip(shape, first)) if d != axis))
        if not same:
            rule = "all shapes must be equal" if axis is None else f"shapes must match except in dim {axis}"
            raise ShapeError(f"{op}: tensor 0 has shape {first} but tensor {i} has shape {shape}; {rule}")


def _sequence_of_tensors(op: str, tensors) -> list:
    if isinstance(tensors, (Tensor, np.ndarray)):
        raise TypeError(f"{op}: expected a sequence of tensors, got a single {type(tensors).__name__}")
    tensors = list(tensors)
    if not tensors:
        raise ShapeError(f"{op}: expected a non-empty sequence of tensors")
    return tensors


def cat(tensors, dim: int = 0, *, axis: int | None = None) -> Tensor:
    """Tensors joined along an existing dim (``torch.cat``; numpy's ``concatenate``). All shapes
    must match except in `dim`; dtypes promote as in numpy. `axis` is numpy's name for `dim`.

    Examples
    --------
    >>> import tinygrad_lstm as tl
    >>> tl.cat([tl.zeros(2, 3), tl.ones(1, 3)]).shape
    (3, 3)
    """
    tensors = _sequence_of_tensors("cat", tensors)
    dim = alias("cat", None if dim == 0 else dim, axis, default=0)
    ndim = max(np.ndim(t._data if isinstance(t, Tensor) else t) for t in tensors)
    if ndim == 0:
        raise ShapeError("cat: zero-dimensional tensors cannot be concatenated; use stack")
    return Concat.apply(*tensors, axis=dim_index(dim, ndim, "cat"))


concat = cat
concatenate = cat


def stack(tensors, dim: int = 0, *, axis: int | None = None) -> Tensor:
    """Same-shaped tensors joined along a new dim `dim` (``torch.stack``, ``numpy.stack``).

    Examples
    --------
    >>> import tinygrad_lstm as tl
    >>> tl.stack([tl.zeros(2, 3), tl.ones(2, 3)], dim=1).shape
    (2, 2, 3)
    """
    tensors = _sequence_of_tensors("stack", tensors)
    dim = alias("stack", None if dim == 0 else dim, axis, default=0)
    ndim = np.ndim(tensors[0]._data if isinstance(tensors[0], Tensor) else tensors[0]) + 1
    return Stack.apply(*tensors, axis=dim_index(dim, ndim, "stack"))


# --------------------------------------------------------------------------- split, chunk, unbind


class Split(Function):
    """Consecutive pieces of `sizes` along `axis`: one node with one output per piece, whose
    backward assembles the input gradient once."""

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

def _split_dim(op: str, tensor: Tensor, dim, axis) -> int:
    """`dim` (or its alias `axis`) as an index; split and chunk run at every recurrent step, so
    the usual case (an int in range) takes the short way."""
    if axis is not None:
        dim = alias(op, None if dim == 0 else dim, axis)
    ndim = tensor._data.ndim
    if type(dim) is int and -ndim <= dim < ndim:
        return dim % ndim
    needs_dims(op, tensor.shape)
    return dim_index(dim, tensor.shape, op)


@tensor_method
def split(self, split_size_or_sections, dim: int = 0, *, axis: int | None = None):
    """Pieces along `dim` (``torch.split``): an int gives pieces of that size (the last one smaller
    when the size does not divide), a list gives the size of each piece.

    ``arange(5).split(2)`` has sizes 2, 2, 1; ``split([1, 4])`` 1, 4. For a number of pieces use
    `chunk` or `tensor_split`. One node with several outputs. `axis` is numpy's name for `dim`.
    """
    d = _split_dim("split", self, dim, axis)
    length = self.shape[d]
    if is_int(split_size_or_sections):
        size = int(split_size_or_sections)
        if size < 0 or (size == 0 and length):
            raise ShapeError(f"split: split_size must be positive (0 only for an empty dim), got {size} for dim {d} "
                             f"of shape {self.shape}")
        if length == 0:  # one empty piece, as torch
            sizes = (0,)
        else:
            sizes = (size,) * (length // size) + ((length % size,) if length % size else ())
    else:
        try:
            sizes = tuple(map(operator.index, split_size_or_sections))  # ints only: 1.5 is refused
        except TypeError:
            raise TypeError(f"split: expected an int or a list of ints, got {split_size_or_sections!r}") from None
        if sum(sizes) != length or any(s < 0 for s in sizes):
            raise ShapeError(f"split: sizes {list(sizes)} do not add up to {length}, the size of dim {d} "
                             f"of shape {self.shape}")
    return Split.apply(self, sizes=sizes, axis=d)


@tensor_method
def chunk(self, chunks: int, dim: int = 0, *, axis: int | None = None):
    """Split into `chunks` pieces along `dim`, as ``torch.chunk``: each of ``ceil(n / chunks)``
    elements and the last one smaller, so there may be fewer than `chunks` pieces
    (``arange(10).chunk(4)`` has sizes 3, 3, 3, 1; ``arange(6).chunk(4)`` 2, 2, 2).
    `axis` is numpy's name for `dim`.
    """
    if not is_int(chunks):
        raise TypeError(f"chunk: chunks must be an int, got {chunks!r}")
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    d = _split_dim("chunk", self, dim, axis)
    length = self.shape[d]
    size = -(-length // chunks)
    if size == 0:  # an empty dim: `chunks` empty pieces, as torch
        sizes = (0,) * chunks
    else:
        sizes = (size,) * (length // size) + ((length % size,) if length % size else ())
    return Split.apply(self, sizes=sizes, axis=d)


@tensor_method
def tensor_split(self, indices_or_sections, dim: int = 0):
    """Pieces along `dim` as ``torch.tensor_split`` and ``numpy.array_split``: an int ``n`` gives
    ``n`` pieces whose sizes differ by at most one (the first ones larger), a list of indices
    splits before each index (``[1, 3]`` gives ``[:1]``, ``[1:3]``, ``[3:]``).
    """
    d = _split_dim("tensor_split", self, dim, None)
    length = self.shape[d]
    spec = indices_or_sections
    if isinstance(spec, Tensor):
        spec = spec.item() if spec.ndim == 0 else spec.tolist()
    if is_int(spec):
        if spec <= 0:
            raise ValueError(f"tensor_split: the number of sections must be positive, got {spec}")
        small, extra = divmod(length, int(spec))
        return Split.apply(self, sizes=(small + 1,) * extra + (small,) * (int(spec) - extra), axis=d)
    try:
        indices = [int(i) if is_int(i) else None for i in spec]
    except TypeError:
        indices = [None]
    if None in indices:
        raise TypeError(f"tensor_split: expected an int or a list of int indices, got {indices_or_sections!r}")
    # Python's slice rules: negative indices count from the end, out-of-range ones are clipped
    bounds = [min(max(i + length if i < 0 else i, 0), length) for i in indices]
    starts, stops = [0] + bounds, bounds + [length]
    if all(a <= b for a, b in zip(starts, stops)):
        return Split.apply(self, sizes=tuple(b - a for a, b in zip(starts, stops)), axis=d)
    lead = (slice(None),) * d  # decreasing indices: pieces overlap or are empty, one slice each
    return tuple(self[lead + (slice(a, b),)] for a, b in zip(starts, stops))


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
def unbind(self, dim: int = 0, *, axis: int | None = None):
    """The slices along `dim` as a tuple of tensors (``torch.unbind``; one multi-output node).
    `axis` is numpy's name for `dim`."""
    return Unbind.apply(self, axis=_split_dim("unbind", self, dim, axis))


def _piece_shape(shape, axis, size):
    return shape[:axis] + (size,) + shape[axis + 1:]


def _dtype(grads):
    return next(g.dtype for g in grads if g is not None)
