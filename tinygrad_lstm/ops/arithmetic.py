"""Arithmetic: ``+ - * / ** @``, ``addmm``, comparisons, and the in-place forms of the four
basic operations."""
from __future__ import annotations

import numpy as np

from ..engine import Function, LazyGrad, ShapeError, Tensor, inplace, tensor_method


def _data(x):
    return x._data if isinstance(x, Tensor) else x


def _sum(a, b):
    """``a + b`` of two tangents, either of which may be None (no tangent)."""
    return b if a is None else (a if b is None else a + b)


# --------------------------------------------------------------------------- + - * / neg


class Add(Function):
    linear = True  # forward mode: the tangent is the op applied to the tangents

    def forward(ctx, a, b):
        return a + b

    def backward(ctx, grad_output):
        return grad_output, grad_output

    def vjp(ctx, grad_output):
        return grad_output, grad_output

@tensor_method
def __add__(self, other): return Add.apply(self, other)
@tensor_method
def __radd__(self, other): return Add.apply(other, self)


class Sub(Function):
    linear = True  # forward mode: the tangent is the op applied to the tangents

    def forward(ctx, a, b):
        return a - b

    def backward(ctx, grad_output):
        return grad_output, (-grad_output if ctx.needs_input_grad[1] else None)

    def vjp(ctx, grad_output):
        return grad_output, (-grad_output if ctx.needs_input_grad[1] else None)

@tensor_method
def __sub__(self, other): return Sub.apply(self, other)
@tensor_method
def __rsub__(self, other): return Sub.apply(other, self)


class Mul(Function):
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    def backward(ctx, grad_output):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return (grad_output * b if need_a else None,
                grad_output * a if need_b else None)

    def vjp(ctx, grad_output):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return (grad_output * ctx.saved_input(1, b) if need_a else None,
                grad_output * ctx.saved_input(0, a) if need_b else None)

    def jvp(ctx, tangent_a, tangent_b):
        a, b = ctx.saved_tensors
        return _sum(None if tangent_a is None else tangent_a * b, None if tangent_b is None else a * tangent_b)

@tensor_method
def __mul__(self, other): return Mul.apply(self, other)
@tensor_method
def __rmul__(self, other): return Mul.apply(other, self)


class Div(Function):
    """``a / b``: division by zero gives inf or nan, as in PyTorch, without numpy warnings."""

    @np.errstate(divide="ignore", invalid="ignore", over="ignore")
    def forward(ctx, a, b):
        out = a / b
        ctx.save_for_backward(b, out)
        return out

    @np.errstate(divide="ignore", invalid="ignore", over="ignore")
    def backward(ctx, grad_output):
        b, out = ctx.saved_tensors
        grad_a = grad_output / b
        return grad_a, (-grad_a * out if ctx.needs_input_grad[1] else None)

    def vjp(ctx, grad_output):
        b, out = ctx.saved_tensors
        grad_a = grad_output / ctx.saved_input(1, b)
        return grad_a, (-grad_a * ctx.saved_output(0, out) if ctx.needs_input_grad[1] else None)

    def jvp(ctx, tangent_a, tangent_b):
        b, out = ctx.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore"):
            return _sum(None if tangent_a is None else tangent_a / b,
                        None if tangent_b is None else -out * tangent_b / b)

@tensor_method
def __truediv__(self, other): return Div.apply(self, other)
@tensor_method
def __rtruediv__(self, other): return Div.apply(other, self)


class Neg(Function):
    linear = True  # forward mode: the tangent is the op applied to the tangents

    def forward(ctx, a):
        return -a

    def backward(ctx, grad_output):
        return -grad_output

    def vjp(ctx, grad_output):
        return -grad_output

@tensor_method
def __neg__(self): return Neg.apply(self)
@tensor_method
def __pos__(self): return self


@tensor_method
def neg(self):
    """``-self`` (``torch.neg``)."""
    return Neg.apply(self)


@tensor_method
def add(self, other, *, alpha=1):
    """``self + alpha * other`` (``torch.add``)."""
    return Add.apply(self, other if alpha == 1 else alpha * other)


@tensor_method
def sub(self, other, *, alpha=1):
    """``self - alpha * other`` (``torch.sub``)."""
    return Sub.apply(self, other if alpha == 1 else alpha * other)


@tensor_method
def mul(self, other):
    """``self * other`` (``torch.mul``)."""
    return Mul.apply(self, other)


@tensor_method
def div(self, other):
    """``self / other``, true division (``torch.div``)."""
    return Div.apply(self, other)


@tensor_method
def add_(self, other, alpha=1):
    """``self += alpha * other`` in place (``torch.Tensor.add_``); returns self."""
    return inplace(self, self + (other if alpha == 1 else alpha * other), "add_")


@tensor_method
def sub_(self, other, alpha=1):
    """``self -= alpha * other`` in place; returns self."""
    return inplace(self, self - (other if alpha == 1 else alpha * other), "sub_")


@tensor_method
def mul_(self, other):
    """``self *= other`` in place; returns self."""
    return inplace(self, self * other, "mul_")


@tensor_method
def div_(self, other):
    """``self /= other`` in place; returns self."""
    return inplace(self, self / other, "div_")


@tensor_method
def __iadd__(self, other): return inplace(self, self + other, "+=")
@tensor_method
def __isub__(self, other): return inplace(self, self - other, "-=")
@tensor_method
def __imul__(self, other): return inplace(self, self * other, "*=")
@tensor_method
def __itruediv__(self, other): return inplace(self, self / other, "/=")


# --------------------------------------------------------------------------- comparisons
# Comparisons give bool tensors outside the graph (masks), like numpy and PyTorch.
@tensor_method
def __lt__(self, other): return Tensor._wrap(np.asarray(self._data < _data(other)), None, 0)
@tensor_method
def __le__(self, other): return Tensor._wrap(np.asarray(self._data <= _data(other)), None, 0)
@tensor_method
def __gt__(self, other): return Tensor._wrap(np.asarray(self._data > _data(other)), None, 0)
@tensor_method
def __ge__(self, other): return Tensor._wrap(np.asarray(self._data >= _data(other)), None, 0)
@tensor_method
def __eq__(self, other): return Tensor._wrap(np.asarray(self._data == _data(other)), None, 0)
@tensor_method
def __ne__(self, other): return Tensor._wrap(np.asarray(self._data != _data(other)), None, 0)


Tensor.__hash__ = object.__hash__  # defining __eq__ would otherwise make tensors unhashable


# --------------------------------------------------------------------------- power


class Pow(Function):
    """``a ** b``; either may be a tensor. d/da = b a^(b-1), d/db = a^b log(a)."""

    @np.errstate(divide="ignore", invalid="ignore", over="ignore")
    def forward(ctx, a, b):
        out = a ** b
        ctx.save_for_backward(a, b, out)
        return out

    @np.errstate(divide="ignore", invalid="ignore", over="ignore")
    def backward(ctx, grad_output):
        a, b, out = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        grad_a = None
        if need_a:
            grad_a = grad_output * b * a ** (b - 1)  # 0 ** (b - 1) = inf for b < 1: the true slope
            if np.any(b == 0):  # d/da a^0 = 0 everywhere, also at a = 0 where the formula gives 0 * inf
                grad_a = np.where(b == 0, 0, grad_a)
        grad_b = None
        if need_b:
            # where a == 0 the term a^b log(a) is 0 for b > 0 (the limit), as in PyTorch
            grad_b = grad_output * np.where(a == 0, 0, out * np.log(np.where(a == 0, 1, a)))
        return grad_a, grad_b

    def vjp(ctx, grad_output):
        a, b, _ = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        a_t, b_t = ctx.saved_input(0, a), ctx.saved_input(1, b)
        grad_a = grad_b = None
        if need_a:
            grad_a = grad_output * b_t * a_t ** (b_t - 1)
            if np.any(b == 0):
                grad_a = grad_a * (b != 0)
        if need_b:
            zero = a == 0  # a^b log(a) is 0 there (the limit for b > 0), as in PyTorch
            grad_b = grad_output * a_t ** b_t * (a_t + zero).log() * ~zero if np.any(zero) else \
                grad_output * a_t ** b_t * a_t.log()
        return grad_a, grad_b

    @np.errstate(divide="ignore", invalid="ignore", over="ignore")
    def jvp(ctx, tangent_a, tangent_b):
        a, b, out = ctx.saved_tensors
        from_a = from_b = None
        if tangent_a is not None:
            from_a = np.where(b == 0, 0, b * a ** (b - 1)) * tangent_a
        if tangent_b is not None:
            from_b = np.where(a == 0, 0, out * np.log(np.where(a == 0, 1, a))) * tangent_b
        return _sum(from_a, from_b)

@tensor_method
def __pow__(self, other): return Pow.apply(self, other)
@tensor_method
def __rpow__(self, other): return Pow.apply(other, self)


@tensor_method
def pow(self, exponent):
    """``self ** exponent`` elementwise (``torch.pow``); a tensor exponent gets a gradient too."""
    return Pow.apply(self, exponent)


# --------------------------------------------------------------------------- maximum, minimum


class Maximum(Function):
    """Elementwise maximum (``torch.maximum``): NaN wins, and tied elements share the gradient equally."""

    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.maximum(a, b)

    def backward(ctx, grad_output):
        a, b = ctx.saved_tensors
        return _pairwise_grads(ctx, grad_output, a < b, a > b, a == b)

    def vjp(ctx, grad_output):
        a, b = ctx.saved_tensors
        return _pairwise_vjp(ctx, grad_output, a < b, a > b, a == b)


class Minimum(Function):
    """Elementwise minimum (``torch.minimum``): NaN wins, and tied elements share the gradient equally."""

    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.minimum(a, b)

    def backward(ctx, grad_output):
        a, b = ctx.saved_tensors
        return _pairwise_grads(ctx, grad_output, a > b, a < b, a == b)

    def vjp(ctx, grad_output):
        a, b = ctx.saved_tensors
        return _pairwise_vjp(ctx, grad_output, a > b, a < b, a == b)


def _pairwise_grads(ctx, grad_output, a_loses, b_loses, tied):
    """PyTorch's rule: each side gets the gradient unless it lost, half of it when tied."""
    need_a, need_b = ctx.needs_input_grad
    zero = np.zeros((), dtype=grad_output.dtype)
    shared = np.where(tied, grad_output / 2, grad_output)
    return (np.where(a_loses, zero, shared) if need_a else None,
            np.where(b_loses, zero, shared) if need_b else None)


def _pairwise_vjp(ctx, grad_output, a_loses, b_loses, tied):
    """`_pairwise_grads` with ops."""
    from .indexing import Where
    need_a, need_b = ctx.needs_input_grad
    shared = Where.apply(tied, grad_output * 0.5, grad_output)
    return (Where.apply(a_loses, 0.0, shared) if need_a else None,
            Where.apply(b_loses, 0.0, shared) if need_b else None)


@tensor_method
def maximum(self, other):
    """The larger of `self` and `other` elementwise, broadcasting (``torch.maximum``)."""
    return Maximum.apply(self, other)


@tensor_method
def minimum(self, other):
    """The smaller of `self` and `other` elementwise, broadcasting (``torch.minimum``)."""
    return Minimum.apply(self, other)


# --------------------------------------------------------------------------- matmul


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

    def vjp(ctx, grad_output):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        a_t, b_t = ctx.saved_input(0, a), ctx.saved_input(1, b)
        g = grad_output
        if a.ndim == 1 and b.ndim == 1:
            return (g * b_t if need_a else None), (g * a_t if need_b else None)
        if a.ndim == 1:  # (n) @ (..., n, m): treat a as a row
            grad_a = MatMul.apply(g.reshape(g.shape[:-1] + (1, g.shape[-1])), _last_two_swapped(b_t))
            grad_a = grad_a.reshape(grad_a.shape[:-2] + (a.shape[0],)) if need_a else None
            grad_b = MatMul.apply(a_t.reshape(a.shape[0], 1), g.reshape(g.shape[:-1] + (1, g.shape[-1]))) \
                if need_b else None
            return grad_a, grad_b
        if b.ndim == 1:  # (..., k, n) @ (n): treat b as a column
            g_column = g.reshape(g.shape + (1,))
            grad_a = MatMul.apply(g_column, b_t.reshape(1, b.shape[0])) if need_a else None
            grad_b = MatMul.apply(_last_two_swapped(a_t), g_column) if need_b else None
            return grad_a, (grad_b.reshape(grad_b.shape[:-1]) if grad_b is not None else None)
        return (MatMul.apply(g, _last_two_swapped(b_t)) if need_a else None,
                MatMul.apply(_last_two_swapped(a_t), g) if need_b else None)

    def jvp(ctx, tangent_a, tangent_b):
        a, b = ctx.saved_tensors
        return _sum(None if tangent_a is None else np.matmul(tangent_a, b),
                    None if tangent_b is None else np.matmul(a, tangent_b))

def _last_two_swapped(t: Tensor) -> Tensor:
    from .shape import Transpose
    axes = tuple(range(t.ndim - 2)) + (t.ndim - 1, t.ndim - 2)
    return Transpose.apply(t, axes=axes)


@tensor_method
def __matmul__(self, other): return MatMul.apply(self, other)
@tensor_method
def __rmatmul__(self, other): return MatMul.apply(other, self)


@tensor_method
def matmul(self, other):
    """``self @ other`` (``torch.matmul``)."""
    return MatMul.apply(self, other)


@tensor_method
def mm(self, mat2):
    """``self @ mat2`` for two matrices, ``(n, k) @ (k, m)`` (``torch.mm``)."""
    if self.ndim != 2 or np.ndim(_data(mat2)) != 2:
        raise ShapeError(f"mm: needs two matrices, got shapes {self.shape} and {np.shape(_data(mat2))}")
    return MatMul.apply(self, mat2)


@tensor_method
def bmm(self, mat2):
    """``self @ mat2`` for two batches of matrices, ``(b, n, k) @ (b, k, m)`` (``torch.bmm``)."""
    shape, other = self.shape, np.shape(_data(mat2))
    if len(shape) != 3 or len(other) != 3 or shape[0] != other[0]:
        raise ShapeError(f"bmm: needs two batches of matrices of the same size, got shapes {shape} and {other}")
    return MatMul.apply(self, mat2)


class DeferredMatmulGrad(LazyGrad):
    """A pending weight gradient ``sum_k lefts[k].T @ rights[k] (+ dense)``, computed when used.

    A weight shared by T steps (``h_t @ W_hh.T``) gets one ``(B, K).T @ (B, N)`` product per
    step. Summing them as they arrive costs T small matmuls plus T additions of a full
    ``(K, N)`` buffer; stacking the factors and doing one ``(K, T*B) @ (T*B, N)`` matmul,
    as a hand-written BPTT does after its loop, is faster. `MatMul.backward` returns one of
    these for its 2-D right operand, and the engine turns it into an array just before the
    gradient is used.
    """

    __slots__ = ("lefts", "rights", "dense")

    def __init__(self, left: np.ndarray, right: np.ndarray):
        self.lefts, self.rights, self.dense = [left], [right], None

    @property
    def shape(self) -> tuple:
        return self.lefts[0].shape[1], self.rights[0].shape[1]

    def __add__(self, other):
        # Only the engine holds a deferred gradient, so adding into it in place is safe.
        if type(other) is DeferredMatmulGrad:
            self.lefts += other.lefts
            self.rights += other.rights
            if other.dense is not None:
                self.__add__(other.dense)
        elif self.dense is None:
            self.dense = other
        else:
            self.dense = self.dense + other
        return self

    __radd__ = __iadd__ = __add__

    def materialize(self) -> np.ndarray:
        if len(self.lefts) == 1:
            out = self.lefts[0].T @ self.rights[0]
        else:
            out = np.concatenate(self.lefts).T @ np.concatenate(self.rights)
        if self.dense is not None:
            out += self.dense
        return out


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

    def vjp(ctx, grad_output):
        a, b = ctx.saved_tensors
        need_input, need_a, need_b = ctx.needs_input_grad
        a_t, b_t = ctx.saved_input(1, a), ctx.saved_input(2, b)
        grad_a = MatMul.apply(grad_output, _last_two_swapped(b_t)) if need_a else None
        grad_b = None
        if need_b:
            rows = a_t if a.ndim == 2 else a_t.reshape(1, a.shape[0])
            grad_rows = grad_output if a.ndim == 2 else grad_output.reshape(1, grad_output.shape[0])
            grad_b = MatMul.apply(_last_two_swapped(rows), grad_rows)
        return (grad_output if need_input else None), grad_a, grad_b

    def jvp(ctx, tangent_input, tangent_a, tangent_b):
        a, b = ctx.saved_tensors
        return _sum(_sum(tangent_input, None if tangent_a is None else np.matmul(tangent_a, b)),
                    None if tangent_b is None else np.matmul(a, tangent_b))


@tensor_method
def addmm(input, mat1, mat2, *, beta=1, alpha=1) -> Tensor:
    """``beta * input + alpha * (mat1 @ mat2)`` in one op (``torch.addmm``; `mat1` may also be a vector).

    ``mat1`` ``(n, k)`` or ``(k,)``, ``mat2`` ``(k, m)``, ``input`` broadcastable to ``(n, m)``
    (or ``(m,)``). Same result and gradients as ``input + mat1 @ mat2``, with one node,
    one array and one pass fewer (`beta` and `alpha` other than 1 scale the operands first).

    Examples
    --------
    >>> import tinygrad_lstm as tl
    >>> tl.addmm(tl.Tensor([1.0, 2.0]), tl.ones(3, 2), tl.ones(2, 2)).data
    array([[3., 4.],
           [3., 4.],
           [3., 4.]])
    """
    if beta != 1:
        input = input * beta
    if alpha != 1:
        mat1 = mat1 * alpha
    return AddMM.apply(input, mat1, mat2)
