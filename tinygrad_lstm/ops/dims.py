"""Normalising ``dim``/``axis`` arguments, shared by the reductions and the shape ops."""
from __future__ import annotations

import numpy as np

from ..engine import ShapeError


def axis_index(axis, ndim: int, op: str) -> int:
    """`axis` as an index in ``[0, ndim)`` (negative counts from the end), or an error naming `op`."""
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{op}: dim must be an int, got {type(axis).__name__}")
    if not -ndim <= axis < ndim:
        raise ShapeError(f"{op}: axis {axis} is out of range for a tensor with {ndim} dimensions")
    return int(axis) % ndim


def axis_tuple(axis, ndim: int, op: str):
    """An int/tuple/None axis argument as a sorted tuple of non-negative axes (None stays None).

    A 0-d tensor accepts axis 0 or -1, as in PyTorch, and reduces over nothing (None).
    """
    if axis is None:
        return None
    if isinstance(axis, (int, np.integer)) and not isinstance(axis, bool):
        axis = (int(axis),)
    if ndim == 0:
        if any(a not in (0, -1) for a in axis):
            raise ShapeError(f"{op}: axis {axis} is out of range for a 0-d tensor (0 or -1 allowed)")
        return None
    axes = tuple(sorted(axis_index(a, ndim, op) for a in axis))
    if len(set(axes)) != len(axes):
        raise ShapeError(f"{op}: repeated axis in {axis}")
    return axes
