"""Elementwise functions of one tensor: exp, log, sqrt, tanh, sigmoid, relu, abs, clamp.

Each works on 0-d tensors too (numpy turns 0-d results into scalars, so nothing here
writes into a result in place unless it is an array).
"""
from __future__ import annotations

import numpy as np

from ..engine import Function, inplace, tensor_method
from .indexing import Where


class Exp(Function):
    """e^a; overflow gives inf, as in PyTorch, without a numpy warning."""

    @np.errstate(over="ignore")
    def forward(ctx, a):
        out = np.exp(a)
        ctx.save_for_backward(out)
        return out

    @np.errstate(over="ignore", invalid="ignore")
    def backward(ctx, grad_output):
        (out,) = ctx.saved_tensors
        return grad_output * out

    def vjp(ctx, grad_output):
        return grad_output * ctx.saved_output(0, ctx.saved_tensors[0])

    def jvp(ctx, tangent):
        return ctx.saved_tensors[0] * tangent

@tensor_method
def exp(self):
    """Elementwise e^x, same shape."""
    return Exp.apply(self)


class Log(Function):
    """Natural logarithm: log(0) = -inf and log(-1) = nan, as in PyTorch, without numpy warnings."""

    @np.errstate(divide="ignore", invalid="ignore")
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.log(a)

    @np.errstate(divide="ignore", invalid="ignore")
    def backward(ctx, grad_output):
        (a,) = ctx.saved_tensors
        return grad_output / a

    def vjp(ctx, grad_output):
        return grad_output / ctx.saved_input(0, ctx.saved_tensors[0])

    @np.errstate(divide="ignore", invalid="ignore")
    def jvp(ctx, tangent):
        return tangent / ctx.saved_tensors[0]

@tensor_method
def log(self):
    """Elementwise natural logarithm, same shape."""
    return Log.apply(self)


class Log1p(Function):
    """log(1 + a), exact for small `a` (``torch.log1p``): log1p(-1) = -inf, below it nan, without warnings."""

    @np.errstate(divide="ignore", invalid="ignore")
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.log1p(a)

    @np.errstate(divide="ignore", invalid="ignore")
    def backward(ctx, grad_output):
        (a,) = ctx.saved_tensors
        return grad_output / (1 + a)

    def vjp(ctx, grad_output):
        return grad_output / (1 + ctx.saved_input(0, ctx.saved_tensors[0]))

    @np.errstate(divide="ignore", invalid="ignore")
    def jvp(ctx, tangent):
        return tangent / (1 + ctx.saved_tensors[0])


@tensor_method
def log1p(self):
    """Elementwise log(1 + x), same shape, accurate where x is tiny (``torch.log1p``)."""
    return Log1p.apply(self)


class Tanh(Function):
    def forward(ctx, a):
        out = np.tanh(a)
        ctx.save_for_backward(out)
        return out

    def backward(ctx, grad_output):
        (out,) = ctx.saved_tensors
        grad = out * out
        if type(grad) is not np.ndarray:  # a 0-d input
            return (1 - grad) * grad_output
        np.subtract(1, grad, out=grad)
        grad *= grad_output
        return grad

    def vjp(ctx, grad_output):
        out = ctx.saved_output(0, ctx.saved_tensors[0])
        return grad_output * (1 - out * out)

    def jvp(ctx, tangent):
        (out,) = ctx.saved_tensors
        return (1 - out * out) * tangent

@tensor_method
def tanh(self):
    """Elementwise tanh, same shape; exact for any input."""
    return Tanh.apply(self)


@np.errstate(over="ignore")  # as a decorator it costs less than a `with` block on every call
def stable_sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)) to a few ulps, for any input, as ``torch.sigmoid``.

    The plain formula is accurate in both tails: exp(-x) has a relative error of an ulp,
    and 1 + e and 1 / d add half an ulp each (0.5 + 0.5 tanh(x / 2), by contrast, rounds
    sigmoid(-20) in float32 to 0). exp(-x) overflows to inf only where sigmoid(x) is below
    the smallest normal number (x < -88.7 in float32, x < -709.8 in float64); the result
    there is 0, as in PyTorch, and the overflow is not reported. A float dtype is kept;
    integers and booleans give numpy's float dtype for them (as ``np.exp``).
    """
    if x.dtype.kind != "f":
        x = x.astype(np.exp(np.zeros(0, x.dtype)).dtype)
    if x.ndim == 0:
        return np.asarray(1 / (1 + np.exp(-x)))
    out = np.negative(x)
    np.exp(out, out=out)
    out += 1
    np.reciprocal(out, out=out)
    return out


class Sigmoid(Function):
    def forward(ctx, a):
        out = stable_sigmoid(a)
        ctx.save_for_backward(out)
        return out

    def backward(ctx, grad_output):
        (out,) = ctx.saved_tensors
        grad = 1 - out
        grad *= out
        grad *= grad_output
        return grad

    def vjp(ctx, grad_output):
        out = ctx.saved_output(0, ctx.saved_tensors[0])
        return grad_output * out * (1 - out)

    def jvp(ctx, tangent):
        (out,) = ctx.saved_tensors
        return out * (1 - out) * tangent

@tensor_method
def sigmoid(self):
    """Elementwise 1 / (1 + e^-x), same shape; exact and overflow-free for any input."""
    return Sigmoid.apply(self)


class Softplus(Function):
    """``log(1 + exp(beta a)) / beta``, and `a` itself where ``beta a > threshold``, as
    ``torch.nn.functional.softplus``; overflow-free. Its slope is ``sigmoid(beta a)`` (1 above the threshold)."""

    def forward(ctx, a, beta=1.0, threshold=20.0):
        z = a * beta
        ctx.save_for_backward(a)
        ctx.beta, ctx.threshold = beta, threshold
        smooth = (np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))) / beta
        return np.where(z > threshold, a, smooth).astype(np.result_type(a), copy=False)

    def _slope(ctx, a):
        return np.where(a * ctx.beta > ctx.threshold, 1, stable_sigmoid(a * ctx.beta)).astype(a.dtype, copy=False)

    def backward(ctx, grad_output):
        return grad_output * ctx._slope(ctx.saved_tensors[0])

    def vjp(ctx, grad_output):
        a = ctx.saved_input(0, ctx.saved_tensors[0])
        above = ctx.saved_tensors[0] * ctx.beta > ctx.threshold
        return grad_output * Where.apply(above, 1.0, Sigmoid.apply(a * ctx.beta))

    def jvp(ctx, tangent):
        return tangent * ctx._slope(ctx.saved_tensors[0])


class ReLU(Function):
    def forward(ctx, a):
        out = np.maximum(a, 0)
        ctx.save_for_backward(out)
        return out

    def backward(ctx, grad_output):
        (out,) = ctx.saved_tensors
        return grad_output * (out > 0)

    def vjp(ctx, grad_output):
        # the slope as sign(output), an op of the output whose own gradient is 0: as in PyTorch the
        # gradient stays in the graph of the input, so it can be differentiated again (giving 0)
        return grad_output * Sign.apply(ctx.saved_output(0, ctx.saved_tensors[0]))

    def jvp(ctx, tangent):
        return tangent * (ctx.saved_tensors[0] > 0)

@tensor_method
def relu(self):
    """Elementwise max(x, 0), same shape; the gradient is 0 at 0."""
    return ReLU.apply(self)


class Abs(Function):
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.abs(a)

    def backward(ctx, grad_output):
        (a,) = ctx.saved_tensors
        return grad_output * _sign(a)

    def vjp(ctx, grad_output):
        return grad_output * Sign.apply(ctx.saved_input(0, ctx.saved_tensors[0]))  # in the graph, as ReLU's

    def jvp(ctx, tangent):
        return tangent * _sign(ctx.saved_tensors[0])

@tensor_method
def abs(self):
    """Elementwise |x|, same shape; the gradient is sign(x) (0 at 0)."""
    return Abs.apply(self)


@tensor_method
def __abs__(self):
    """``abs(x)``, Python's builtin: `abs`."""
    return Abs.apply(self)


class Sqrt(Function):
    """Square root: sqrt(-1) is nan and the slope at 0 is inf, as in PyTorch, without numpy warnings."""

    @np.errstate(invalid="ignore")
    def forward(ctx, a):
        out = np.sqrt(a)
        ctx.save_for_backward(out)
        return out

    @np.errstate(divide="ignore", invalid="ignore")
    def backward(ctx, grad_output):
        (out,) = ctx.saved_tensors
        return grad_output / (2 * out)

    def vjp(ctx, grad_output):
        return grad_output / (2 * ctx.saved_output(0, ctx.saved_tensors[0]))

    @np.errstate(divide="ignore", invalid="ignore")
    def jvp(ctx, tangent):
        return tangent / (2 * ctx.saved_tensors[0])


@tensor_method
def sqrt(self):
    """Elementwise square root, same shape (``torch.sqrt``)."""
    return Sqrt.apply(self)


def _sign(a):
    """numpy's sign with 0 for nan, as ``torch.sign`` (and the slope of ``torch.abs`` there)."""
    s = np.sign(a)
    return np.where(s != s, s.dtype.type(0), s) if s.dtype.kind == "f" else s


class Sign(Function):
    """-1, 0 or 1 by the sign of `a` (0 for nan); its gradient is 0, as in PyTorch."""

    def forward(ctx, a):
        ctx.shape = np.shape(a)
        return _sign(a)

    def backward(ctx, grad_output):
        return np.zeros(ctx.shape, dtype=grad_output.dtype)

    def vjp(ctx, grad_output):
        return grad_output * 0.0

    def jvp(ctx, tangent):
        return np.zeros(ctx.shape, dtype=np.result_type(tangent, np.float16))


@tensor_method
def sign(self):
    """Elementwise -1, 0 or 1 by the sign (``torch.sign``); the gradient is 0."""
    return Sign.apply(self)


class Clamp(Function):
    """`a` limited to ``[low, high]`` (either may be None; numbers, arrays or tensors that broadcast),
    as ``torch.clamp``: ``minimum(maximum(a, low), high)``, so `high` wins when ``low > high``.

    Gradients as PyTorch's: `a` gets it where ``low <= a <= high``, `low` where ``a < low < high``,
    `high` where ``a > high`` or ``high < low``.
    """

    def forward(ctx, a, low, high):
        ctx.save_for_backward(a, low, high)
        return np.clip(a, low, high)

    def masks(ctx, needs=None) -> tuple:
        """Where each argument that `needs` it (default: that needs a gradient) gets the gradient,
        None for the others."""
        a, low, high = ctx.saved_tensors
        need_a, need_low, need_high = ctx.needs_input_grad if needs is None else needs
        inside = below = above = None
        if need_a:
            inside = (a >= low) if low is not None else np.ones(a.shape, dtype=bool)
            if high is not None:
                inside = inside & (a <= high)
        if need_low:
            below = a < low if high is None else (a < low) & (low < high)
        if need_high:
            above = a > high if low is None else (a > high) | (high < low)
        return inside, below, above

    def backward(ctx, grad_output):
        zero = np.zeros((), dtype=grad_output.dtype)
        return tuple(None if mask is None else np.where(mask, grad_output, zero) for mask in ctx.masks())

    def vjp(ctx, grad_output):
        return tuple(None if mask is None else Where.apply(mask, grad_output, 0.0) for mask in ctx.masks())

    def jvp(ctx, *tangents):
        masks = ctx.masks([t is not None for t in tangents])
        return sum(np.where(mask, t, 0.0) for mask, t in zip(masks, tangents) if mask is not None)


@tensor_method
def clamp(self, min=None, max=None):
    """Each element limited to ``[min, max]`` (``torch.clamp``): the bounds may be numbers or
    tensors that broadcast (tensors get gradients too); `max` wins where ``min > max``. The
    gradient flows where ``min <= x <= max``."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    return Clamp.apply(self, min, max)

@tensor_method
def clip(self, min=None, max=None):
    """`clamp` under numpy's name (also ``torch.clip``)."""
    return self.clamp(min, max)


@tensor_method
def clamp_(self, min=None, max=None):
    """`clamp` in place; returns self."""
    return inplace(self, self.clamp(min, max), "clamp_")


@tensor_method
def clip_(self, min=None, max=None):
    """`clip` in place; returns self."""
    return inplace(self, self.clamp(min, max), "clip_")
