"""Reductions: sum, mean, max, and the normalisations softmax and log_softmax."""
from __future__ import annotations

import numpy as np

from ..engine import Function, ShapeError, tensor_method
from .dims import axis_tuple


def _expand_reduced(grad, axis, keepdims):
    """Reshape a reduced gradient so it broadcasts back against the input."""
    if axis is not None and not keepdims:
        grad = np.expand_dims(grad, axis)
    return grad


def _broadcast_back(grad_output, shape, axis, keepdims):
    """A reduced gradient (a Tensor) broadcast back to the input `shape`, with ops."""
    from .shape import Reshape
    kept = tuple(1 if axis is None or i in axis else n for i, n in enumerate(shape))
    return Reshape.apply(grad_output, shape=kept) + np.zeros(shape, grad_output.dtype)


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
def sum(self, axis=None, keepdims: bool = False):
    """Sum over `axis` (None: all; an int or a tuple, negative allowed), like ``numpy.sum``."""
    return Sum.apply(self, axis=axis_tuple(axis, self.ndim, "sum"), keepdims=keepdims)


class Mean(Function):
    linear = True  # forward mode: the tangent is the op applied to the tangents

    def forward(ctx, a, axis=None, keepdims=False):
        ctx.shape, ctx.axis, ctx.keepdims = a.shape, axis, keepdims
        ctx.count = a.size if axis is None else int(np.prod([a.shape[i] for i in axis]))
        if a.dtype.kind != "f":
            return np.mean(a, axis=axis, keepdims=keepdims)
        with np.errstate(invalid="ignore"):  # the mean of nothing is nan, as in PyTorch, without a warning
            return np.add.reduce(a, axis=axis, keepdims=keepdims) / a.dtype.type(ctx.count)

    def backward(ctx, grad_output):
        grad = _expand_reduced(grad_output, ctx.axis, ctx.keepdims) / ctx.count
        return np.broadcast_to(grad, ctx.shape)

    def vjp(ctx, grad_output):
        return _broadcast_back(grad_output, ctx.shape, ctx.axis, ctx.keepdims) / ctx.count

@tensor_method
def mean(self, axis=None, keepdims: bool = False):
    """Mean over `axis` (None: all; an int or a tuple, negative allowed), like ``numpy.mean``."""
    return Mean.apply(self, axis=axis_tuple(axis, self.ndim, "mean"), keepdims=keepdims)


class Max(Function):
    """Maximum over axes; the gradient is shared equally between tied maxima."""

    def forward(ctx, a, axis=None, keepdims=False):
        if a.size == 0:
            raise ShapeError(f"max: cannot reduce an empty tensor of shape {a.shape}")
        out = np.max(a, axis=axis, keepdims=True)
        ctx.save_for_backward(a, out)
        ctx.axis, ctx.keepdims = axis, keepdims
        return out if keepdims else (np.squeeze(out, axis=axis) if axis is not None else out.reshape(()))

    def share(ctx) -> np.ndarray:
        """Each element's share of the gradient: 1 / (number of maxima) at the maxima, else 0."""
        a, out = ctx.saved_tensors
        is_max = a == out
        if np.isnan(out).any():  # NaN is the maximum (NaN == NaN is False): send its gradient there, as torch.max
            is_max |= np.isnan(a)
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

@tensor_method
def max(self, axis=None, keepdims: bool = False):
    """Maximum over `axis`; the gradient goes to the maximum (shared equally between ties)."""
    return Max.apply(self, axis=axis_tuple(axis, self.ndim, "max"), keepdims=keepdims)


class LogSoftmax(Function):
    """log(softmax(a)) along `axis`, computed as (a - max) - log(sum(exp(a - max))).

    `axis` None is for a 0-d tensor (the result is 0, as in PyTorch).
    """

    def forward(ctx, a, axis=-1):
        with np.errstate(over="ignore", invalid="ignore"):  # -3e38 - 3e38 in float32 is -inf: exp gives 0
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
