"""Plan rules of the ops for `tl.jit`: the numpy calls a replay makes for each op, into
buffers allocated once.

Each rule repeats the arithmetic of its op's own ``forward``/``backward`` (in
`tinygrad_lstm.ops`) call for call, only writing into ``out=`` buffers and making views once,
so a replay's numbers equal eager ones bit for bit. Where the op's code takes another path
(0-d operands, integer inputs, fancy indexing, mixed dtypes) `accepts` declines and the plan
calls the op's own forward and backward instead. One record per op in `RULES`; the tests in
``tests/test_compiler_rules.py`` run every rule against its op on a table of operands.

A rule's ``forward(em, op)`` returns the output values; ``backward(em, op, grads)`` returns one
gradient per argument: a value, a `Lazy` (the deferred ``rows.T @ grad_rows`` of a matmul's
2-D right operand, as `tl.ops.DeferredMatmulGrad`) or None. `em` is the plan's emitter
(`tinygrad_lstm.compiler.plan._Emitter`): ``em.new(like=array)`` allocates a buffer laid out as
the traced array, ``em.view(base, "{}.T", shape, dtype)`` makes a view, ``em.call(fn, ...)``
writes a call; ``op`` (`tinygrad_lstm.compiler.plan._OpView`) holds the traced op instance
(``op.ctx``, with the attributes its forward set), the operands (``op.inputs``), their traced
values (``op.arrays``), the outputs and, in backward, the traced gradients.
"""
from __future__ import annotations

import numpy as np

from .. import ops

__all__ = ["RULES", "Rule", "Val", "Lazy"]


class Val:
    """An array of the generated code: its name there, the function computing it (`phase`,
    None for buffers, views and constants of the arena), shape and dtype. `fresh` marks a
    new array that nothing else holds (it can leave the plan without a copy)."""

    __slots__ = ("name", "phase", "shape", "dtype", "fresh")

    def __init__(self, name, phase, shape, dtype, fresh=False):
        self.name, self.phase, self.shape, self.dtype, self.fresh = name, phase, tuple(shape), dtype, fresh

    def __repr__(self) -> str:
        return f"Val({self.name}, {self.phase}, {self.shape}, {self.dtype})"


class Lazy:
    """A deferred matmul gradient: the sum over `pairs` ``(rows, grad_rows)`` of ``rows.T @ grad_rows``."""

    __slots__ = ("pairs",)

    def __init__(self, pairs):
        self.pairs = list(pairs)


def _arrays(op, *positions) -> bool:
    return all(isinstance(op.inputs[i], Val) for i in positions)


def _float(array) -> bool:
    return isinstance(array, np.ndarray) and array.dtype.kind == "f"


class Rule:
    """The plan of one op type; subclasses define `forward` and `backward`."""

    def accepts(self, op) -> bool:
        """Whether this rule reproduces the op's own arithmetic for these operands."""
        return True

    def forward(self, em, op) -> list:  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, em, op, grads) -> list:  # pragma: no cover - abstract
        raise NotImplementedError


class _Elementwise(Rule):
    """``fn(a, b, out)`` with numpy's broadcasting and type promotion, as the op's ``a <op> b``."""

    fn = ""

    def forward(self, em, op):
        out = em.output(op, 0)
        em.call(self.fn, *op.inputs, out)
        return [out]


class AddRule(_Elementwise):
    fn = "np_add"

    def backward(self, em, op, grads):
        return [grads[0], grads[0]]


class SubRule(_Elementwise):
    fn = "np_subtract"

    def backward(self, em, op, grads):
        grad_b = None
        if op.needs[1]:
            grad_b = em.result(op, 1)
            em.call("np_negative", grads[0], grad_b)
        return [grads[0], grad_b]


class MulRule(_Elementwise):
    fn = "np_multiply"

    def backward(self, em, op, grads):
        a, b = op.inputs
        result = [None, None]
        for i, other in ((0, b), (1, a)):
            if op.needs[i]:
                result[i] = em.result(op, i)
                em.call("np_multiply", grads[0], other, result[i])
        return result


class DivRule(_Elementwise):
    fn = "np_divide"

    def backward(self, em, op, grads):
        b, out = op.inputs[1], op.outputs[0]
        grad_a = em.result(op, 0)
        em.call("np_divide", grads[0], b, grad_a)
        grad_b = None
        if op.needs[1]:
            negated = em.new(like=op.returned[0])
            em.call("np_negative", grad_a, negated)
            grad_b = em.result(op, 1)
            em.call("np_multiply", negated, out, grad_b)
        return [grad_a, grad_b]


class _Unary(Rule):
    fn = ""

    def accepts(self, op):
        return _arrays(op, 0) and _float(op.arrays[0]) and op.arrays[0].ndim > 0

    def forward(self, em, op):
        out = em.output(op, 0)
        em.call(self.fn, op.inputs[0], out)
        return [out]


class NegRule(_Unary):
    fn = "np_negative"

    def backward(self, em, op, grads):
        out = em.result(op, 0)
        em.call("np_negative", grads[0], out)
        return [out]


class ExpRule(_Unary):
    fn = "np_exp"

    def backward(self, em, op, grads):
        out = em.result(op, 0)
        em.call("np_multiply", grads[0], op.outputs[0], out)
        return [out]


class LogRule(_Unary):
    fn = "np_log"

    def backward(self, em, op, grads):
        out = em.result(op, 0)
        em.call("np_divide", grads[0], op.inputs[0], out)
        return [out]


class TanhRule(_Unary):
    fn = "np_tanh"

    def backward(self, em, op, grads):
        out = op.outputs[0]
        grad = em.result(op, 0)
        em.call("np_multiply", out, out, grad)
        em.call("np_subtract", 1, grad, grad)
        em.call("np_multiply", grad, grads[0], grad)
        return [grad]


class SigmoidRule(_Unary):
    """`tl.ops.stable_sigmoid` step by step: negate, exp, add 1, reciprocal."""

    def forward(self, em, op):
        x = op.inputs[0]
        out = em.output(op, 0)
        em.call("np_negative", x, out)
        em.call("np_exp", out, out)
        em.call("np_add", out, 1, out)
        em.call("np_reciprocal", out, out)
        return [out]

    def backward(self, em, op, grads):
        out = op.outputs[0]
        grad = em.result(op, 0)
        em.call("np_subtract", 1, out, grad)
        em.call("np_multiply", grad, out, grad)
        em.call("np_multiply", grad, grads[0], grad)
        return [grad]


class ReLURule(_Unary):
    def forward(self, em, op):
        out = em.output(op, 0)
        em.call("np_maximum", op.inputs[0], 0, out=out)
        return [out]

    def backward(self, em, op, grads):
        positive = em.new(like=op.out_arrays[0], dtype=bool)
        em.call("np_greater", op.outputs[0], 0, positive)
        grad = em.result(op, 0)
        em.call("np_multiply", grads[0], positive, grad)
        return [grad]


def _expanded(em, grad, ctx, grad_array):
    """``_expand_reduced``: the reduced gradient with the reduced axes back (a view)."""
    if ctx.axis is None or ctx.keepdims:
        return grad, grad_array
    expanded = np.expand_dims(grad_array, ctx.axis)
    return em.view(grad, f"np_expand_dims({{}}, {ctx.axis!r})", expanded.shape, expanded.dtype), expanded


class SumRule(Rule):
    def accepts(self, op):
        return _arrays(op, 0) and isinstance(op.arrays[0], np.ndarray)

    def forward(self, em, op):
        ctx = op.ctx
        out = em.output(op, 0)
        em.call("np_sum", op.inputs[0], axis=ctx.axis, keepdims=ctx.keepdims, out=out)
        return [out]

    def backward(self, em, op, grads):
        ctx = op.ctx
        grad, _ = _expanded(em, grads[0], ctx, op.grad_arrays[0])
        return [em.view(grad, f"np_broadcast_to({{}}, {ctx.shape!r})", ctx.shape, grad.dtype)]


class MeanRule(Rule):
    """``add.reduce(a) / count`` in the input's float dtype."""

    def accepts(self, op):
        return _arrays(op, 0) and _float(op.arrays[0])

    def forward(self, em, op):
        ctx, a = op.ctx, op.arrays[0]
        out = em.output(op, 0)
        em.call("np_add_reduce", op.inputs[0], ctx.axis, None, out, ctx.keepdims)
        em.call("np_divide", out, a.dtype.type(ctx.count), out)
        return [out]

    def backward(self, em, op, grads):
        ctx = op.ctx
        grad, array = _expanded(em, grads[0], ctx, op.grad_arrays[0])
        count = array.dtype.type(ctx.count or 1)
        scaled = em.new(like=np.asarray(array / count))
        em.call("np_divide", grad, count, scaled)
        return [em.view(scaled, f"np_broadcast_to({{}}, {ctx.shape!r})", ctx.shape, scaled.dtype)]


def _shares(a, b) -> bool:
    return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.size > 0 and np.may_share_memory(a, b)


class ReshapeRule(Rule):
    def accepts(self, op):
        return _arrays(op, 0) and isinstance(op.arrays[0], np.ndarray)

    def forward(self, em, op):
        out = op.out_arrays[0]
        expression = f"{{}}.reshape({out.shape!r})"
        return [em.view(op.inputs[0], expression, out.shape, out.dtype, _shares(out, op.arrays[0]))]

    def backward(self, em, op, grads):
        grad_array = op.grad_arrays[0]
        shape = op.ctx.shape
        is_view = _shares(grad_array.reshape(shape), grad_array)
        return [em.view(grads[0], f"{{}}.reshape({shape!r})", shape, grads[0].dtype, is_view)]


class TransposeRule(Rule):
    def accepts(self, op):
        return _arrays(op, 0) and isinstance(op.arrays[0], np.ndarray)

    def forward(self, em, op):
        out = op.out_arrays[0]
        return [em.view(op.inputs[0], f"np_transpose({{}}, {op.ctx.axes!r})", out.shape, out.dtype)]

    def backward(self, em, op, grads):
        inverse = tuple(int(a) for a in np.argsort(op.ctx.axes))
        shape = op.arrays[0].shape
        return [em.view(grads[0], f"np_transpose({{}}, {inverse!r})", shape, grads[0].dtype)]


def _basic_index(index) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or type(p) in (int, slice, bool) or isinstance(p, np.integer)
               for p in parts)


class GetItemRule(Rule):
    """Basic indexing (slices, ints, None, ...): a view, and a zero buffer written at the index
    in backward (its other elements stay zero: nothing else writes into it)."""

    def accepts(self, op):
        return (_arrays(op, 0) and isinstance(op.arrays[0], np.ndarray) and _basic_index(op.ctx.index)
                and _shares(op.out_arrays[0], op.arrays[0]))

    def forward(self, em, op):
        out = op.out_arrays[0]
        index = em.program.const(op.ctx.index)
        return [em.view(op.inputs[0], f"{{}}[{index}]", out.shape, out.dtype)]

    def backward(self, em, op, grads):
        ctx = op.ctx
        grad = em.new(shape=ctx.shape, dtype=grads[0].dtype, fill=0)
        target = em.view(grad, f"{{}}[{em.program.const(ctx.index)}]", op.out_arrays[0].shape, grads[0].dtype)
        em.call("np_copyto", target, grads[0])
        return [grad]


def _axis_slice(axis, start, stop) -> str:
    return "[" + ":, " * axis + f"{start}:{stop}]"


def _axis_index(axis, i) -> str:
    """``[:, :, i]``: element `i` along `axis` (what ``moveaxis(a, axis, 0)[i]`` is, without its cost)."""
    return "[" + ":, " * axis + f"{i}]"


class ConcatRule(Rule):
    def accepts(self, op):  # the op leaves out empty (0,) pieces: not this rule
        return all(isinstance(v, Val) and v.shape != (0,) for v in op.inputs)

    def forward(self, em, op):
        out = em.output(op, 0)
        parts = ", ".join(em.ref(v) for v in op.inputs)
        em.line(f"np_concatenate(({parts},), {op.ctx.axis}, {em.ref(out)})")
        return [out]

    def backward(self, em, op, grads):
        axis, grad = op.ctx.axis, grads[0]
        bounds = [0, *(int(b) for b in op.ctx.bounds), op.out_arrays[0].shape[axis]]
        pieces = []
        for start, stop, array in zip(bounds, bounds[1:], op.arrays):
            pieces.append(em.view(grad, "{}" + _axis_slice(axis, start, stop), array.shape, grad.dtype))
        return pieces


class StackRule(Rule):
    """``np.stack`` as one concatenation of the inputs with the new axis (views made once)."""

    def accepts(self, op):
        return all(isinstance(v, Val) for v in op.inputs)

    def forward(self, em, op):
        axis = op.ctx.axis
        out = em.output(op, 0)
        parts = []
        for value in op.inputs:
            shape = value.shape[:axis] + (1,) + value.shape[axis:]
            parts.append(em.view(value, f"np_expand_dims({{}}, {axis})", shape, value.dtype))
        em.line(f"np_concatenate(({''.join(em.ref(p) + ', ' for p in parts)}), {axis}, {em.ref(out)})")
        return [out]

    def backward(self, em, op, grads):
        axis, grad = op.ctx.axis, grads[0]
        return [em.view(grad, "{}" + _axis_index(axis, i), array.shape, grad.dtype)
                for i, array in enumerate(op.arrays)]


class SplitRule(Rule):
    def accepts(self, op):
        return _arrays(op, 0) and isinstance(op.arrays[0], np.ndarray)

    def forward(self, em, op):
        ctx = op.ctx
        outputs, start = [], 0
        for size, array in zip(ctx.sizes, op.out_arrays):
            outputs.append(em.view(op.inputs[0], "{}" + _axis_slice(ctx.axis, start, start + size),
                                   array.shape, array.dtype))
            start += size
        return outputs

    def backward(self, em, op, grads):
        ctx = op.ctx
        homes = op.grad_homes or [None] * len(grads)
        out = em.result(op, 0)
        if homes[0] is not None and any(g is h for g, h in zip(grads, homes)):
            # the pieces' homes are slices of `out`: the gradients written there are in place already
            for g, home in zip(grads, homes):
                if g is None:
                    em.call("np_copyto", home, 0)
                elif g is not home:
                    em.call("np_copyto", home, g)
            return [out]
        dtype = next(g.dtype for g in grads if g is not None)
        pieces = [g if g is not None else em.new(shape=array.shape, dtype=dtype, fill=0)
                  for g, array in zip(grads, op.out_arrays)]
        em.line(f"np_concatenate(({', '.join(em.ref(p) for p in pieces)},), {ctx.axis}, {em.ref(out)})")
        return [out]


class UnbindRule(Rule):
    def accepts(self, op):
        return _arrays(op, 0) and isinstance(op.arrays[0], np.ndarray)

    def forward(self, em, op):
        axis = op.ctx.axis
        return [em.view(op.inputs[0], "{}" + _axis_index(axis, i), array.shape, array.dtype)
                for i, array in enumerate(op.out_arrays)]

    def backward(self, em, op, grads):
        ctx = op.ctx
        moved = (ctx.shape[ctx.axis],) + ctx.shape[:ctx.axis] + ctx.shape[ctx.axis + 1:]
        dtype = next(g.dtype for g in grads if g is not None)
        homes = op.grad_homes
        if homes is not None and homes[0] is not None:
            grad = op.home_base  # the buffer whose slices are the outputs' gradient homes
        else:
            grad = em.new(shape=moved, dtype=dtype, fill=0)  # slices of outputs without a gradient stay 0
            homes = [em.view(grad, f"{{}}[{i}]", moved[1:], dtype) for i in range(len(grads))]
        for g, home in zip(grads, homes):
            if g is None:
                if op.grad_homes is not None:
                    em.call("np_copyto", home, 0)
            elif g is not home:
                em.call("np_copyto", home, g)
        return [em.view(grad, f"np_moveaxis({{}}, 0, {ctx.axis})", ctx.shape, dtype)]


class CopyRule(Rule):
    def accepts(self, op):
        return _arrays(op, 0)

    def forward(self, em, op):
        out = em.output(op, 0)
        em.call("np_copyto", out, op.inputs[1], casting="unsafe")
        return [out]

    def backward(self, em, op, grads):
        return [None, grads[0]]


class CloneRule(Rule):
    def accepts(self, op):
        return _arrays(op, 0)

    def forward(self, em, op):
        out = em.output(op, 0)
        em.call("np_copyto", out, op.inputs[0])
        return [out]

    def backward(self, em, op, grads):
        return [grads[0]]


class CastRule(CloneRule):
    def forward(self, em, op):
        out = em.output(op, 0)
        em.call("np_copyto", out, op.inputs[0], casting="unsafe")
        return [out]


def _matrix_grad(em, op, rows_position: int, grad, b_array) -> object:
    """`tl.ops.arithmetic._matrix_grad`: the deferred ``rows.T @ grad_rows`` when the dtypes agree."""
    a, a_array = op.inputs[rows_position], op.arrays[rows_position]
    rows, grad_rows = a, grad
    if a_array.ndim != 2:
        flat = a_array.reshape(-1, a_array.shape[-1])
        rows = em.view(a, f"{{}}.reshape(-1, {a_array.shape[-1]})", flat.shape, flat.dtype, _shares(flat, a_array))
        grad_array = op.grad_arrays[0]
        grad_flat = grad_array.reshape(-1, b_array.shape[1])
        grad_rows = em.view(grad, f"{{}}.reshape(-1, {b_array.shape[1]})", grad_flat.shape, grad.dtype,
                            _shares(grad_flat, grad_array))
    if rows.dtype == grad_rows.dtype == b_array.dtype:
        return Lazy([(rows, grad_rows)])
    rows_t = em.view(rows, "{}.T", rows.shape[::-1], rows.dtype)
    out = em.new(shape=(rows.shape[1], grad_rows.shape[1]), dtype=np.result_type(rows.dtype, grad_rows.dtype))
    em.call("np_matmul", rows_t, grad_rows, out)
    return out


class MatMulRule(Rule):
    """``a @ b`` for ``a`` of two or more dimensions and a 2-D ``b`` (a weight)."""

    def accepts(self, op):
        a, b = op.arrays
        return _arrays(op, 0, 1) and a.ndim >= 2 and b.ndim == 2

    def forward(self, em, op):
        out = em.output(op, 0)
        em.call("np_matmul", op.inputs[0], op.inputs[1], out)
        return [out]

    def backward(self, em, op, grads):
        a, b = op.inputs
        b_array = op.arrays[1]
        grad_a = grad_b = None
        if op.needs[0]:
            grad_a = em.result(op, 0)
            em.call("np_matmul", grads[0], em.view(b, "{}.T", b.shape[::-1], b.dtype), grad_a)
        if op.needs[1]:
            grad_b = _matrix_grad(em, op, 0, grads[0], b_array)
        return [grad_a, grad_b]


class AddMMRule(Rule):
    """``input + a @ b`` with a 2-D ``a`` and the sum made in the product's buffer (same dtype)."""

    def accepts(self, op):
        input_array, a, b = op.arrays
        out = op.out_arrays[0]
        return (_arrays(op, 1, 2) and a.ndim == 2 and b.ndim == 2
                and getattr(input_array, "dtype", out.dtype) == out.dtype)

    def forward(self, em, op):
        out = em.output(op, 0)
        em.call("np_matmul", op.inputs[1], op.inputs[2], out)
        em.call("np_add", out, op.inputs[0], out)
        return [out]

    def backward(self, em, op, grads):
        need_input, need_a, need_b = op.needs
        b = op.inputs[2]
        grad_a = grad_b = None
        if need_a:
            grad_a = em.result(op, 1)
            em.call("np_matmul", grads[0], em.view(b, "{}.T", b.shape[::-1], b.dtype), grad_a)
        if need_b:
            grad_b = _matrix_grad(em, op, 1, grads[0], op.arrays[2])
        return [grads[0] if need_input else None, grad_a, grad_b]


RULES = {
    ops.Add: AddRule(), ops.Sub: SubRule(), ops.Mul: MulRule(), ops.Div: DivRule(), ops.Neg: NegRule(),
    ops.Exp: ExpRule(), ops.Log: LogRule(), ops.Tanh: TanhRule(), ops.Sigmoid: SigmoidRule(), ops.ReLU: ReLURule(),
    ops.Sum: SumRule(), ops.Mean: MeanRule(), ops.Reshape: ReshapeRule(), ops.Transpose: TransposeRule(),
    ops.GetItem: GetItemRule(), ops.Concat: ConcatRule(), ops.Stack: StackRule(), ops.Split: SplitRule(),
    ops.Unbind: UnbindRule(), ops.Copy: CopyRule(), ops.Clone: CloneRule(), ops.Cast: CastRule(),
    ops.MatMul: MatMulRule(), ops.AddMM: AddMMRule(),
}
