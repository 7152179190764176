"""The primitive ops. Each is a `Function` with its forward and backward side by side.

Forward receives numpy arrays (or plain numbers) and returns arrays; backward receives
the gradient of each output and returns one gradient per argument. The engine sums
gradients over broadcast dimensions and casts them to the input dtype, so a
backward here may return a gradient of the broadcast shape.
"""
from __future__ import annotations

import numpy as np

from .engine import DeferredMatmulGrad, Function, ShapeError, Tensor

# --------------------------------------------------------------------------- arithmetic


class Add(Function):
    def forward(ctx, a, b):
        return a + b

    def backward(ctx, grad_output):
        return grad_output, grad_output


class Sub(Function):
    def forward(ctx, a, b):
        return a - b

    def backward(ctx, grad_output):
        return grad_output, (-grad_output if ctx.needs_input_grad[1] else None)


class Mul(Function):
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    def backward(ctx, grad_output):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return (grad_output * b if need_a else None,
                grad_output * a if need_b else None)


class Div(Function):
    def forward(ctx, a, b):
        out = a / b
        ctx.save_for_backward(b, out)
        return out

    def backward(ctx, grad_output):
        b, out = ctx.saved_tensors
        grad_a = grad_output / b
        return grad_a, (-grad_a * out if ctx.needs_input_grad[1] else None)


class Neg(Function):
    def forward(ctx, a):
        return -a

    def backward(ctx, grad_output):
        return -grad_output


class Pow(Function):
    """``a ** b``; either may be a tensor. d/da = b a^(b-1), d/db = a^b log(a)."""

    def forward(ctx, a, b):
        out = a ** b
        ctx.save_for_backward(a, b, out)
        return out

    def backward(ctx, grad_output):
        a, b, out = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        grad_a = None
        if need_a:
            with np.errstate(divide="ignore", invalid="ignore"):  # 0 ** (b - 1) = inf for b < 1: the true slope
                grad_a = grad_output * b * a ** (b - 1)
            if np.any(b == 0):  # d/da a^0 = 0 everywhere, also at a = 0 where the formula gives 0 * inf
                grad_a = np.where(b == 0, 0, grad_a)
        grad_b = None
        if need_b:
            with np.errstate(divide="ignore", invalid="ignore"):
                # where a == 0 the term a^b log(a) is 0 for b > 0 (the limit), as in PyTorch
                grad_b = grad_output * np.where(a == 0, 0, out * np.log(np.where(a == 0, 1, a)))
        return grad_a, grad_b


class MatMul(Function):
    """``a @ b`` with numpy's semantics: 1-D operands are vectors, N-D operands are batches."""

    def forward(ctx, a, b):
        a_shape, b_shape = np.shape(a), np.shape(b)
        if not a_shape or not b_shape:
            raise ShapeError(f"matmul: {a_shape} @ {b_shape}: both operands need at least one dimension")
        if a_shape[-1] != b_shape[0 if len(b_shape) == 1 else -2]:
            inner_b = b_shape[0 if len(b_shape) == 1 else -2]
            raise ShapeError(f"matmul: {a_shape} @ {b_shape}: inner dimensions {a_shape[-1]} and {inner_b} differ")
        ctx.save_for_backward(a, b)
        try:
            return np.matmul(a, b)
        except ValueError:
            raise ShapeError(f"matmul: {a_shape} @ {b_shape}: batch dimensions "
                             f"{a_shape[:-2]} and {b_shape[:-2]} do not broadcast") from None

    def backward(ctx, grad_output):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        g = grad_output
        if a.ndim == 1 and b.ndim == 1:
            return (g * b if need_a else None), (g * a if need_b else None)
        if a.ndim == 1:  # (n) @ (..., n, m) -> (..., m)
            grad_a = np.matmul(b, g[..., None])[..., 0] if need_a else None
            grad_b = a[:, None] * g[..., None, :] if need_b else None
            return grad_a, grad_b
        if b.ndim == 1:  # (..., k, n) @ (n) -> (..., k)
            grad_a = g[..., None] * b if need_a else None
            grad_b = np.matmul(np.swapaxes(a, -1, -2), g[..., None])[..., 0] if need_b else None
            return grad_a, grad_b
        grad_a = np.matmul(g, np.swapaxes(b, -1, -2)) if need_a else None
        grad_b = None
        if need_b:
            if b.ndim == 2:
                grad_b = _matrix_grad(a, g, b)
            else:
                grad_b = np.matmul(np.swapaxes(a, -1, -2), g)
        return grad_a, grad_b


def _matrix_grad(a: np.ndarray, grad_output: np.ndarray, b: np.ndarray):
    """Gradient of the 2-D right operand `b` of ``a @ b``, for `a` of any number of dimensions.

    Such a `b` is usually a weight shared by every row and often by every time step: when
    the dtypes agree, the engine defers the product ``rows.T @ grad_rows`` and sums all of
    them in one matmul once they have arrived (`DeferredMatmulGrad`).
    """
    rows, grad_rows = a, grad_output
    if a.ndim != 2:
        rows, grad_rows = a.reshape(-1, a.shape[-1]), grad_output.reshape(-1, b.shape[1])
    if rows.dtype == grad_rows.dtype == b.dtype:
        return DeferredMatmulGrad(rows, grad_rows)
    return rows.T @ grad_rows


class AddMM(Function):
    """``input + a @ b`` as one op (``torch.addmm``): ``a`` ``(n, k)`` or ``(k,)``, ``b`` ``(k, m)``,
    ``input`` broadcastable to the product's shape ``(n, m)`` or ``(m,)``.

    The sum is made in place into the product's buffer: one array and one pass fewer than
    ``input + a @ b``, the pre-activation of every recurrent step.
    """

    def forward(ctx, input, a, b):
        a_shape, b_shape = np.shape(a), np.shape(b)
        if len(a_shape) not in (1, 2) or len(b_shape) != 2:
            raise ShapeError(f"addmm: {a_shape} @ {b_shape}: needs a matrix or a vector times a matrix")
        if a_shape[-1] != b_shape[0]:
            raise ShapeError(f"addmm: {a_shape} @ {b_shape}: inner dimensions {a_shape[-1]} and {b_shape[0]} differ")
        ctx.save_for_backward(a, b)
        out = np.matmul(a, b)
        try:
            if getattr(input, "dtype", out.dtype) == out.dtype:
                np.add(out, input, out=out)
            else:  # numpy's promotion, e.g. a float64 input with a float32 product
                product_shape = out.shape
                out = np.add(out, input)
                if out.shape != product_shape:
                    raise ValueError
        except ValueError:
            raise ShapeError(f"addmm: input of shape {np.shape(input)} does not broadcast to the shape "
                             f"{a_shape[:-1] + b_shape[1:]} of {a_shape} @ {b_shape}") from None
        return out

    def backward(ctx, grad_output):
        a, b = ctx.saved_tensors
        need_input, need_a, need_b = ctx.needs_input_grad
        grad_a = grad_output @ b.T if need_a else None
        grad_b = _matrix_grad(a, grad_output, b) if need_b else None
        return (grad_output if need_input else None), grad_a, grad_b


# --------------------------------------------------------------------------- elementwise


class Exp(Function):
    def forward(ctx, a):
        out = np.exp(a)
        ctx.save_for_backward(out)
        return out

    def backward(ctx, grad_output):
        (out,) = ctx.saved_tensors
        return grad_output * out


class Log(Function):
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.log(a)

    def backward(ctx, grad_output):
        (a,) = ctx.saved_tensors
        return grad_output / a


class Tanh(Function):
    def forward(ctx, a):
        out = np.tanh(a)
        ctx.save_for_backward(out)
        return out

    def backward(ctx, grad_output):
        (out,) = ctx.saved_tensors
        grad = out * out
        np.subtract(1, grad, out=grad)
        grad *= grad_output
        return grad


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


class ReLU(Function):
    def forward(ctx, a):
        out = np.maximum(a, 0)
        ctx.save_for_backward(out)
        return out

    def backward(ctx, grad_output):
        (out,) = ctx.saved_tensors
        return grad_output * (out > 0)


class Abs(Function):
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.abs(a)

    def backward(ctx, grad_output):
        (a,) = ctx.saved_tensors
        return grad_output * np.sign(a)


class Clip(Function):
    def forward(ctx, a, low=None, high=None):
        ctx.save_for_backward(a)
        ctx.low, ctx.high = low, high
        return np.clip(a, low, high)

    def backward(ctx, grad_output):
        (a,) = ctx.saved_tensors
        inside = np.ones(a.shape, dtype=bool)
        if ctx.low is not None:
            inside &= a >= ctx.low
        if ctx.high is not None:
            inside &= a <= ctx.high
        return grad_output * inside


class LogSoftmax(Function):
    """log(softmax(a)) along `axis`, computed as (a - max) - log(sum(exp(a - max)))."""

    def forward(ctx, a, axis=-1):
        with np.errstate(over="ignore"):  # -3e38 - 3e38 in float32 is -inf: exp gives 0, as it should
            shifted = a - a.max(axis=axis, keepdims=True)
            out = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
        ctx.save_for_backward(out)
        ctx.axis = axis
        return out

    def backward(ctx, grad_output):
        (out,) = ctx.saved_tensors
        return grad_output - np.exp(out) * grad_output.sum(axis=ctx.axis, keepdims=True)


class Softmax(Function):
    """exp(a - max) / sum(exp(a - max)) along `axis`."""

    def forward(ctx, a, axis=-1):
        with np.errstate(over="ignore"):  # see LogSoftmax
            e = np.exp(a - a.max(axis=axis, keepdims=True))
        out = e / e.sum(axis=axis, keepdims=True)
        ctx.save_for_backward(out)
        ctx.axis = axis
        return out

    def backward(ctx, grad_output):
        (out,) = ctx.saved_tensors
        return out * (grad_output - (grad_output * out).sum(axis=ctx.axis, keepdims=True))


# --------------------------------------------------------------------------- reductions


def _expand_reduced(grad, shape, axis, keepdims):
    """Reshape a reduced gradient so it broadcasts back against the input `shape`."""
    if axis is not None and not keepdims:
        grad = np.expand_dims(grad, axis)
    return grad


class Sum(Function):
    def forward(ctx, a, axis=None, keepdims=False):
        ctx.shape, ctx.axis, ctx.keepdims = a.shape, axis, keepdims
        return np.sum(a, axis=axis, keepdims=keepdims)

    def backward(ctx, grad_output):
        grad = _expand_reduced(grad_output, ctx.shape, ctx.axis, ctx.keepdims)
        return np.broadcast_to(grad, ctx.shape)


class Mean(Function):
    def forward(ctx, a, axis=None, keepdims=False):
        ctx.shape, ctx.axis, ctx.keepdims = a.shape, axis, keepdims
        ctx.count = a.size if axis is None else int(np.prod([a.shape[i] for i in axis]))
        return np.mean(a, axis=axis, keepdims=keepdims)

    def backward(ctx, grad_output):
        grad = _expand_reduced(grad_output, ctx.shape, ctx.axis, ctx.keepdims) / ctx.count
        return np.broadcast_to(grad, ctx.shape)


class Max(Function):
    """Maximum over axes; the gradient is shared equally between tied maxima."""

    def forward(ctx, a, axis=None, keepdims=False):
        if a.size == 0:
            raise ShapeError(f"max: cannot reduce an empty tensor of shape {a.shape}")
        out = np.max(a, axis=axis, keepdims=True)
        ctx.save_for_backward(a, out)
        ctx.axis, ctx.keepdims = axis, keepdims
        return out if keepdims else (np.squeeze(out, axis=axis) if axis is not None else out.reshape(()))

    def backward(ctx, grad_output):
        a, out = ctx.saved_tensors
        is_max = a == out
        if np.isnan(out).any():  # NaN is the maximum (NaN == NaN is False): send its gradient there, as torch.max
            is_max |= np.isnan(a)
        grad = _expand_reduced(grad_output, a.shape, ctx.axis, ctx.keepdims)
        if ctx.axis is None:
            grad = np.reshape(grad, (1,) * a.ndim)
        return grad * is_max / is_max.sum(axis=ctx.axis, keepdims=True)


# --------------------------------------------------------------------------- shape


class Reshape(Function):
    def forward(ctx, a, shape=()):
        ctx.shape = a.shape
        try:
            return a.reshape(shape)
        except ValueError:
            raise ShapeError(f"reshape: cannot reshape shape {a.shape} ({a.size} elements) into {shape}") from None

    def backward(ctx, grad_output):
        return grad_output.reshape(ctx.shape)


class Transpose(Function):
    def forward(ctx, a, axes=()):
        ctx.axes = axes
        return np.transpose(a, axes)

    def backward(ctx, grad_output):
        return np.transpose(grad_output, np.argsort(ctx.axes))


def _has_integer_array(index) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, np.ndarray) and p.dtype.kind in "iu" for p in parts)


class GetItem(Function):
    """Basic slicing and integer-array indexing; repeated indices accumulate in backward."""

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


class Concat(Function):
    def forward(ctx, *arrays, axis=0):
        _check_same_shapes("concat", arrays, axis)
        ctx.axis = axis
        ctx.bounds = np.cumsum([a.shape[axis] for a in arrays])[:-1]
        return np.concatenate(arrays, axis=axis)

    def backward(ctx, grad_output):
        return tuple(np.split(grad_output, ctx.bounds, axis=ctx.axis))


class Stack(Function):
    def forward(ctx, *arrays, axis=0):
        _check_same_shapes("stack", arrays, None)
        ctx.axis = axis
        return np.stack(arrays, axis=axis)

    def backward(ctx, grad_output):
        return tuple(np.moveaxis(grad_output, ctx.axis, 0))


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


class Unbind(Function):
    """The slices along `axis` as separate outputs of one node."""

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


def _piece_shape(shape, axis, size):
    return shape[:axis] + (size,) + shape[axis + 1:]


def _dtype(grads):
    return next(g.dtype for g in grads if g is not None)


# --------------------------------------------------------------------------- functions


def concat(tensors, axis: int = 0) -> Tensor:
    """Join tensors along an existing axis (like ``numpy.concatenate``)."""
    tensors = list(tensors)
    if not tensors:
        raise ShapeError("concat: needs at least one tensor")
    ndim = np.ndim(tensors[0].data if isinstance(tensors[0], Tensor) else tensors[0])
    if not -ndim <= axis < ndim:
        raise ShapeError(f"concat: axis {axis} is out of range for tensors with {ndim} dimensions")
    return Concat.apply(*tensors, axis=axis % ndim)


def addmm(input, mat1, mat2) -> Tensor:
    """``input + mat1 @ mat2`` in one op (``torch.addmm``; `mat1` may also be a vector).

    ``mat1`` ``(n, k)`` or ``(k,)``, ``mat2`` ``(k, m)``, ``input`` broadcastable to ``(n, m)``
    (or ``(m,)``). Same result and gradients as ``input + mat1 @ mat2``, with one node,
    one array and one pass fewer.

    Examples
    --------
    >>> import tinygrad_lstm as tl
    >>> tl.addmm(tl.Tensor([1.0, 2.0]), tl.ones(3, 2), tl.ones(2, 2)).data
    array([[3., 4.],
           [3., 4.],
           [3., 4.]])
    """
    return AddMM.apply(input, mat1, mat2)


def stack(tensors, axis: int = 0) -> Tensor:
    """Join same-shaped tensors along a new axis (like ``numpy.stack``)."""
    tensors = list(tensors)
    if not tensors:
        raise ShapeError("stack: needs at least one tensor")
    ndim = np.ndim(tensors[0].data if isinstance(tensors[0], Tensor) else tensors[0]) + 1
    if not -ndim <= axis < ndim:
        raise ShapeError(f"stack: axis {axis} is out of range for a result with {ndim} dimensions")
    return Stack.apply(*tensors, axis=axis % ndim)
