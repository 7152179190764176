"""Copies, casts and fills: ``clone``, ``astype``/``to``, and the in-place ``copy_``, ``fill_``,
``zero_``, ``uniform_`` and ``normal_`` (each bumps the tensor's version counter)."""
from __future__ import annotations

import numpy as np

from ..engine import Function, ShapeError, Tensor, inplace, tensor_method


class Copy(Function):
    """`src` broadcast to the shape and dtype of `dst` (the values `copy_` writes into `dst`).

    The old values of `dst` do not reach the result, so `dst` gets no gradient.
    """

    linear = True  # forward mode: the tangent is the op applied to the tangents

    def forward(ctx, dst, src):
        src = np.asarray(src)
        try:
            values = np.broadcast_to(src, dst.shape)
        except ValueError:
            raise ShapeError(f"copy_: the source of shape {src.shape} does not broadcast to the tensor's "
                             f"shape {dst.shape}") from None
        return values.astype(dst.dtype, copy=True)

    def backward(ctx, grad_output):
        return None, grad_output

    def vjp(ctx, grad_output):
        return None, grad_output

@tensor_method
def copy_(self, src):
    """Copy `src` (a tensor, array or number broadcastable to this shape) into this tensor, in
    place (``torch.Tensor.copy_``); the gradient flows to `src`. Returns self."""
    return inplace(self, Copy.apply(self, src), "copy_")


@tensor_method
def fill_(self, value):
    """Set every element to `value` (a number or a 0-d tensor), in place; returns self."""
    if isinstance(value, Tensor) and value.ndim:
        raise ShapeError(f"fill_: the value must be a number or a 0-d tensor, got shape {value.shape}")
    return inplace(self, Copy.apply(self, value), "fill_")


@tensor_method
def zero_(self):
    """Set every element to 0, in place; returns self."""
    return self.fill_(0)


@tensor_method
def uniform_(self, a: float = 0.0, b: float = 1.0, *, generator: np.random.Generator | None = None):
    """Fill with samples from U(a, b), in place (``torch.Tensor.uniform_``; default generator:
    the one `tl.manual_seed` seeds). Returns self."""
    from ..random import default_generator
    rng = generator if generator is not None else default_generator()
    return inplace(self, Copy.apply(self, rng.uniform(a, b, self.shape)), "uniform_")


@tensor_method
def normal_(self, mean: float = 0.0, std: float = 1.0, *, generator: np.random.Generator | None = None):
    """Fill with samples from N(mean, std²), in place (``torch.Tensor.normal_``). Returns self."""
    from ..random import default_generator
    if std < 0:
        raise ValueError(f"normal_: std must be non-negative, got {std}")
    rng = generator if generator is not None else default_generator()
    return inplace(self, Copy.apply(self, rng.normal(mean, std, self.shape)), "normal_")


class Clone(Function):
    linear = True  # forward mode: the tangent is the op applied to the tangents

    def forward(ctx, a):
        return np.array(a, copy=True)

    def backward(ctx, grad_output):
        return grad_output

    def vjp(ctx, grad_output):
        return grad_output

@tensor_method
def clone(self):
    """A copy of this tensor in new memory, in the graph (``torch.Tensor.clone``)."""
    return Clone.apply(self)


class Cast(Function):
    """The data converted to `dtype`; the gradient is converted back by the engine."""

    linear = True  # forward mode: the tangent is the op applied to the tangents

    def forward(ctx, a, dtype=None):
        return a.astype(dtype)

    def backward(ctx, grad_output):
        return grad_output

    def vjp(ctx, grad_output):
        return grad_output

@tensor_method
def astype(self, dtype):
    """This tensor converted to `dtype` (numpy's name; differentiable between float dtypes)."""
    dtype = np.dtype(dtype)
    if dtype == self.dtype:
        return self
    if self.requires_grad and dtype.kind != "f":
        return Tensor._wrap(self._data.astype(dtype), None, 0)  # integers carry no gradient, as in PyTorch
    return Cast.apply(self, dtype=dtype)


@tensor_method
def to(self, dtype):
    """This tensor converted to `dtype` (``torch.Tensor.to(dtype)``; self when it already is)."""
    return self.astype(dtype)


@tensor_method
def double(self):
    """This tensor as float64 (``torch.Tensor.double``)."""
    return self.astype(np.float64)


@tensor_method
def float(self):
    """This tensor as float32 (``torch.Tensor.float``)."""
    return self.astype(np.float32)
