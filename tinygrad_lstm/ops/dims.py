"""Normalising ``dim`` arguments (and numpy's aliases ``axis``/``keepdims``), shared by the
reductions and the shape ops."""
from __future__ import annotations

import numpy as np

from ..engine import ShapeError


class DimError(ShapeError, IndexError):
    """A dimension out of range, or a reduction over an empty dimension.

    A `ValueError` (numpy's ``AxisError`` is one) and an `IndexError` (PyTorch raises one),
    so code written for either catches it.
    """


def is_int(value) -> bool:
    """A Python or numpy integer, not a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def alias(op: str, value, numpy_value, name: str = "dim", numpy_name: str = "axis", default=None):
    """PyTorch's argument (`value`, called `name`) or numpy's alias for it (`numpy_value`), not both.

    Both default to None; `default` is used when neither is given.
    """
    if numpy_value is None:
        return default if value is None else value
    if value is not None:
        raise TypeError(f"{op}: got both {name} and its numpy alias {numpy_name}; pass one")
    return numpy_value


def dim_index(dim, shape, op: str) -> int:
    """`dim` as an index in ``[0, ndim)`` (negative counts from the end), or an error naming `op`.

    `shape` is the tensor's shape (or just its number of dims, e.g. one more than the tensor's
    for `unsqueeze`). A 0-d tensor accepts 0 and -1, as in PyTorch (both mean 0).
    """
    if not is_int(dim):
        raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__}")
    ndim = shape if is_int(shape) else len(shape)
    size = ndim if ndim else 1
    if not -size <= dim < size:
        what = f"{ndim} dimensions" if is_int(shape) else f"shape {tuple(shape)}"
        raise DimError(f"{op}: dim {dim} is out of range for a tensor of {what} "
                       f"(expected to be in [{-size}, {size - 1}])")
    return int(dim) % size


def dim_tuple(dim, shape: tuple, op: str):
    """An int/tuple/None dim argument as a sorted tuple of non-negative dims (None stays None).

    An empty tuple means every dim, as in PyTorch (numpy would reduce none). A 0-d tensor
    accepts 0 or -1, as in PyTorch, and reduces over nothing (None).
    """
    if dim is None:
        return None
    if isinstance(dim, (tuple, list)) and not dim:
        return tuple(range(len(shape))) or None
    if is_int(dim):
        dim = (dim,)
    elif not isinstance(dim, (tuple, list)) or not all(is_int(d) for d in dim):
        raise TypeError(f"{op}: dim must be an int or a tuple of ints, got {dim!r}")
    dims = tuple(sorted(dim_index(d, shape, op) for d in dim))
    if len(set(dims)) != len(dims):
        raise ShapeError(f"{op}: a dim appears more than once in {tuple(dim)} (shape {shape})")
    return dims if shape else None


def check_nonempty(op: str, shape: tuple, dims) -> None:
    """Raise `DimError` when a reduction without an identity (max, argmax) would reduce a dim of size 0."""
    if dims is None:
        if 0 in shape:
            raise DimError(f"{op}: cannot reduce the tensor of shape {shape}, which has no elements; "
                           f"pass a dim of non-zero size")
        return
    for d in dims:
        if shape[d] == 0:
            raise DimError(f"{op}: cannot reduce dim {d} of size 0 (shape {shape}): the reduction has no identity")


def needs_dims(op: str, shape: tuple) -> None:
    """Raise for a 0-d tensor given to an op that works along a dimension (split, unbind, ...)."""
    if not shape:
        raise DimError(f"{op}: needs a tensor with at least one dimension, got a 0-d tensor")
