"""The op table: one row per PyTorch-named op of the package, as PyTorch's OpInfo.

A row (`OpInfo`) says how to call the op, gives sample inputs (several shapes, 0-d and
zero-size where PyTorch allows them) and bad inputs with the error they must raise. Its
PyTorch twin is the same call on ``torch`` instead of ``tl``: the names mean the same, so
one call describes both. tests/test_ops.py loops over the table (forward value, dtype,
gradient against PyTorch and against central differences, errors), so a new op is one row
and is tested everywhere at once. A later capability (double backward, forward mode, jit)
is a new column with its default, read by a new generic test.
"""
from __future__ import annotations

import dataclasses
import zlib
from typing import Any, Callable

import numpy as np

INF = float("inf")


# --------------------------------------------------------------------------- sample arguments
@dataclasses.dataclass(frozen=True)
class T:
    """A floating-point tensor argument that requires grad: `shape` filled uniformly from
    ``[low, high)``, or the given `value`."""

    shape: tuple = ()
    low: float = -2.0
    high: float = 2.0
    value: Any = None

    def array(self, rng: np.random.Generator, dtype) -> np.ndarray:
        if self.value is not None:
            return np.asarray(self.value, dtype=dtype)
        return rng.uniform(self.low, self.high, self.shape).astype(dtype)


@dataclasses.dataclass(frozen=True)
class C:
    """A constant tensor argument (indices, masks): `value` as an array of its own dtype, no grad."""

    value: Any


@dataclasses.dataclass(frozen=True)
class Sample:
    """The arguments of one call; `T` and `C` anywhere in them become tensors of the library."""

    args: tuple
    kwargs: dict
    gradcheck: bool = True  # False at kinks and ties, where only PyTorch's choice of gradient is checked

    def __repr__(self) -> str:
        def show(v):
            if isinstance(v, T):
                return f"T{v.shape if v.value is None else np.shape(v.value)}"
            if isinstance(v, C):
                return f"C{np.shape(v.value)}"
            if isinstance(v, (list, tuple)):
                return "[" + ",".join(show(x) for x in v) + "]"
            return repr(v)
        parts = [show(a) for a in self.args] + [f"{k}={show(v)}" for k, v in self.kwargs.items()]
        return "(" + ",".join(parts) + ")"


def s(*args, gradcheck: bool = True, **kwargs) -> Sample:
    return Sample(args, kwargs, gradcheck)


@dataclasses.dataclass(frozen=True)
class Bad:
    """A bad call: `error` is the exception type we raise, `match` a regex of its message (which
    names the op). PyTorch must reject the same call too, unless `torch_raises` is False."""

    sample: Sample
    error: type
    match: str
    torch_raises: bool = True


# --------------------------------------------------------------------------- rows
@dataclasses.dataclass(frozen=True)
class OpInfo:
    """One op: how to call it in both libraries, its samples, dtypes and bad inputs.

    variants: ``"method"`` calls ``x.name(*rest)`` on the first argument, ``"function"`` calls
    ``lib.<function or name>(*args)``; `op`, when given, is ``op(lib, *args, **kwargs)`` instead.
    The ``supports_*`` columns say which generic tests apply (each is checked against PyTorch).
    """

    name: str
    samples: tuple
    variants: tuple = ("method", "function")
    function: str | None = None
    op: Callable | None = None
    differentiable: bool = True
    supports_double_backward: bool = True  # backward(create_graph=True), then backward again
    supports_forward_ad: bool = True       # tl.jvp, against torch.func.jvp
    dtypes: tuple = (np.float32, np.float64)
    errors: tuple = ()

    def calls(self):
        """``(label, call(lib, *args, **kwargs))`` for each way of calling the op."""
        if self.op is not None:
            return [("op", self.op)]
        result = []
        for variant in self.variants:
            if variant == "method":
                result.append(("method", lambda lib, x, *rest, **kw: getattr(x, self.name)(*rest, **kw)))
            else:
                path = (self.function or self.name).split(".")
                result.append((".".join(path), lambda lib, *args, **kw: _resolve(lib, path)(*args, **kw)))
        return result


def _resolve(lib, path):
    for part in path:
        lib = getattr(lib, part)
    return lib


def build(value, make_leaf, make_const):
    """`value` with every `T` replaced by ``make_leaf(T)`` and every `C` by ``make_const(C)``."""
    if isinstance(value, T):
        return make_leaf(value)
    if isinstance(value, C):
        return make_const(value)
    if isinstance(value, list):
        return [build(v, make_leaf, make_const) for v in value]
    if isinstance(value, tuple):
        return tuple(build(v, make_leaf, make_const) for v in value)
    if isinstance(value, dict):
        return {k: build(v, make_leaf, make_const) for k, v in value.items()}
    return value


def sample_arrays(row: OpInfo, index: int, sample: Sample, dtype) -> list[np.ndarray]:
    """The data of every `T` of a sample, in order, the same for every library and call."""
    rng = np.random.default_rng(zlib.crc32(f"{row.name}/{index}".encode()))
    arrays = []
    build((sample.args, sample.kwargs), lambda t: arrays.append(t.array(rng, dtype)), lambda c: None)
    return arrays


def _setitem(index):
    def op(lib, x, value):
        y = x.clone()
        y[index] = value
        return y
    return op


def _setitem_with_array(lib, x, rows, value):
    y = x.clone()
    y[rows] = value
    return y


# Shapes every elementwise op is tried on: a 0-d tensor, vectors, a batch and a zero-size one.
UNARY_SAMPLES = (s(T(())), s(T((3,))), s(T((2, 3))), s(T((0, 3))))
POSITIVE_SAMPLES = (s(T((), 0.5, 2.0)), s(T((3,), 0.5, 2.0)), s(T((2, 3), 0.5, 2.0)), s(T((0, 3))))
BINARY_SAMPLES = (s(T((2, 3)), T((2, 3))), s(T((2, 3)), T((3,))), s(T(()), T((2,))), s(T((2, 1)), T((1, 3))),
                  s(T((0, 3)), T((3,))), s(T((2, 3)), 1.5))
REDUCE_SAMPLES = (s(T((2, 3, 4))), s(T((2, 3, 4)), 1), s(T((2, 3, 4)), dim=-1, keepdim=True),
                  s(T((2, 3, 4)), dim=(0, 2)), s(T((2, 3, 4)), dim=()), s(T((2, 3, 4)), dim=(2, 0), keepdim=True),
                  s(T(())), s(T(()), 0), s(T((0, 3)), 1), s(T((3,)), dim=0, keepdim=True))
EMPTY_DIM = s(T((0, 3)), 0)
DIM_OUT_OF_RANGE = Bad(s(T((2, 3)), 2), IndexError, r"dim 2 is out of range for a tensor of shape \(2, 3\)")
TIES = T(value=[[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])

OPS = [
    # ---------------------------------------------------------------- elementwise (ops/unary.py)
    OpInfo("abs", UNARY_SAMPLES + (s(T(value=[-1.0, 0.0, 2.0]), gradcheck=False),)),
    OpInfo("sign", UNARY_SAMPLES + (s(T(value=[-1.0, 0.0, 2.0]), gradcheck=False),)),
    OpInfo("exp", UNARY_SAMPLES),
    OpInfo("log", POSITIVE_SAMPLES),
    OpInfo("log1p", (s(T((), -0.5, 2.0)), s(T((3,), -0.5, 2.0)), s(T((2, 3), -0.5, 2.0)), s(T((0, 3))))),
    OpInfo("sqrt", POSITIVE_SAMPLES),
    OpInfo("tanh", UNARY_SAMPLES),
    OpInfo("sigmoid", UNARY_SAMPLES),
    OpInfo("relu", UNARY_SAMPLES + (s(T(value=[-1.0, 0.0, 2.0]), gradcheck=False),)),
    OpInfo("nn.functional.relu", UNARY_SAMPLES, variants=("function",)),
    OpInfo("nn.functional.sigmoid", UNARY_SAMPLES, variants=("function",)),
    OpInfo("nn.functional.tanh", UNARY_SAMPLES, variants=("function",)),
    OpInfo("nn.functional.softplus", UNARY_SAMPLES + (s(T((2, 3), -30.0, 30.0), 2.0, 5.0), s(T((4,)), beta=0.5),
                                                       s(T(value=[-50.0, 25.0, 30.0]))), variants=("function",)),
    OpInfo("neg", UNARY_SAMPLES),
    OpInfo("clamp", (s(T((2, 3)), -0.5, 0.5), s(T((2, 3)), min=0.1), s(T((2, 3)), max=0.1), s(T(()), -1.0, 1.0),
                     s(T((0, 3)), -1.0, 1.0), s(T((2, 3)), T((3,), -1.0, -0.5), T((2, 1), 0.5, 1.0)),
                     s(T((2, 3)), min=T((2, 3))), s(T((2, 3)), max=T((3,))),
                     s(T((4,)), 1.0, 0.0), s(T((4,)), T((4,), 1.0, 1.5), T((4,), -1.5, -1.0)),
                     s(T(value=[0.0, 1.0, 2.0, 3.0, 5.0]), 1.0, 3.0, gradcheck=False)),
           errors=(Bad(s(T((2, 3))), ValueError, "clamp: at least one of min and max"),)),
    OpInfo("clip", (s(T((2, 3)), -0.5, 0.5), s(T((2, 3)), T((3,), -1.0, -0.5), T((2, 1), 0.5, 1.0)))),
    # ---------------------------------------------------------------- arithmetic (ops/arithmetic.py)
    OpInfo("add", BINARY_SAMPLES + (s(T((2, 3)), T((3,)), alpha=2.0),)),
    OpInfo("sub", BINARY_SAMPLES + (s(T((2, 3)), T((3,)), alpha=-0.5),)),
    OpInfo("mul", BINARY_SAMPLES),
    OpInfo("div", BINARY_SAMPLES[:1] + (s(T((2, 3)), T((3,), 0.5, 2.0)), s(T(()), T((2,), 0.5, 2.0)))),
    OpInfo("pow", (s(T((2, 3), 0.5, 2.0), T((2, 3))), s(T((2, 3), 0.5, 2.0), 2.5), s(T((), 0.5, 2.0), T((3,))),
                   s(T((0, 3), 0.5, 2.0), 2.0))),
    OpInfo("maximum", BINARY_SAMPLES[:5] + (s(T(value=[1.0, 2.0, 3.0]), T(value=[1.0, 3.0, 2.0]), gradcheck=False),)),
    OpInfo("minimum", BINARY_SAMPLES[:5] + (s(T(value=[1.0, 2.0, 3.0]), T(value=[1.0, 3.0, 2.0]), gradcheck=False),)),
    OpInfo("matmul", (s(T((3,)), T((3,))), s(T((2, 3)), T((3, 4))), s(T((5, 2, 3)), T((3, 4))), s(T((3,)), T((3, 2))),
                      s(T((2, 3)), T((3,))), s(T((2, 1, 2, 3)), T((4, 3, 2))), s(T((0, 3)), T((3, 2)))),
           errors=(Bad(s(T((2, 3)), T((2, 3))), ValueError, r"matmul: \(2, 3\) @ \(2, 3\)"),)),
    OpInfo("mm", (s(T((2, 3)), T((3, 4))), s(T((0, 3)), T((3, 2)))),
           errors=(Bad(s(T((2, 3)), T((3,))), ValueError, r"mm: needs two matrices, got shapes \(2, 3\) and \(3,\)"),)),
    OpInfo("bmm", (s(T((2, 2, 3)), T((2, 3, 4))),),
           errors=(Bad(s(T((2, 2, 3)), T((3, 3, 4))), ValueError, "bmm: needs two batches of matrices of the same"),)),
    OpInfo("nn.functional.linear", (s(T((4, 3)), T((2, 3)), T((2,))), s(T((3,)), T((2, 3)), T((2,))),
                                    s(T((5, 4, 3)), T((2, 3))), s(T((5, 4, 3)), T((2, 3)), T((2,)))),
           variants=("function",)),
    OpInfo("addmm", (s(T((4,)), T((2, 3)), T((3, 4))), s(T((2, 4)), T((2, 3)), T((3, 4))), s(T(()), T((2, 3)), T((3, 4))),
                     s(T((4,)), T((2, 3)), T((3, 4)), beta=0.5, alpha=2.0))),
    OpInfo("where", (s(C([[True, False, True], [False, False, True]]), T((2, 3)), T((2, 3))),
                     s(C([True, False, True]), T((2, 3)), T(())), s(C([[True], [False]]), T((2, 3)), 0.5),
                     s(C(np.zeros((0, 3), bool)), T((0, 3)), T((3,)))),
           variants=("function",),
           errors=(Bad(s(C([1, 0, 1]), T((3,)), T((3,))), TypeError, "where: the condition must be a boolean"),)),
    OpInfo("Tensor.where", (s(T((2, 3)), C([True, False, True]), T((2, 3))), s(T(()), C(True), T((2,)))),
           op=lambda lib, x, condition, other: x.where(condition, other)),
    OpInfo("masked_fill", (s(T((2, 3)), C([True, False, True]), 1.5), s(T((2, 3)), C([[True], [False]]), T(())),
                           s(T(()), C(True), -1.0), s(T((0, 3)), C([True, False, True]), 2.0)),
           errors=(Bad(s(T((2, 3)), C([1, 0, 1]), 1.0), TypeError, "masked_fill: the condition must be a boolean"),
                   Bad(s(T((2, 3)), C([True, False]), 1.0), ValueError, r"masked_fill: a mask of shape \(2,\)"),
                   Bad(s(T((2, 3)), C([True, False, True]), T((3,))), ValueError, "masked_fill: value must be"))),
    # ---------------------------------------------------------------- reductions (ops/reduction.py)
    OpInfo("sum", REDUCE_SAMPLES + (EMPTY_DIM, s(T((0, 3)))), errors=(DIM_OUT_OF_RANGE,)),
    OpInfo("mean", REDUCE_SAMPLES + (EMPTY_DIM, s(T((0, 3))), s(T((2, 3)), axis=1, keepdims=True)),
           errors=(DIM_OUT_OF_RANGE,
                   Bad(s(C([1, 2, 3])), TypeError, "mean: expected a floating-point tensor, got dtype int64"))),
    OpInfo("prod", (s(T((2, 3, 4))), s(T((2, 3, 4)), 1), s(T((2, 3, 4)), -1, keepdim=True), s(T(())), EMPTY_DIM)),
    OpInfo("prod (zeros)", (s(T(value=[[0.0, 2.0, 3.0], [0.0, 0.0, 1.0]]), 1), s(T(value=[2.0, 0.0, 3.0])),
                            s(T(value=[[[0.5, 0.0], [2.0, 3.0]], [[1.5, -1.0], [0.0, 0.0]]]), 1)),
           op=lambda lib, x, *args: x.prod(*args)),
    OpInfo("var", REDUCE_SAMPLES[:4] + REDUCE_SAMPLES[5:6] + (s(T((2, 3)), 1, correction=0), s(T((2, 3)), unbiased=False),
                                        s(T((2, 3)), 0, keepdim=True), s(T((1, 3)), 0, gradcheck=False))),
    OpInfo("std", REDUCE_SAMPLES[:4] + REDUCE_SAMPLES[5:6] + (s(T((2, 3)), 1, correction=0), s(T((1, 3)), 0, gradcheck=False),
                                        s(T(value=[[1.0, 1.0], [2.0, 3.0]]), 1, gradcheck=False))),
    OpInfo("norm", (s(T((2, 3))), s(T((2, 3)), 1), s(T((2, 3)), 3.0, 1, keepdim=True), s(T((2, 3)), INF, 1),
                    s(T((2, 3)), -INF), s(T((2, 3)), 0.5), s(T((2, 3)), 1.5, (0, 1)), s(T((2, 3)), "fro", 0),
                    s(T((0, 3))), s(T((0, 3)), 2, 0), s(T(())),
                    s(T(value=[[0.0, 0.0], [0.0, 1.0]]), 2, 1, gradcheck=False),
                    s(T(value=[[0.0, 0.0], [0.0, 1.0]]), 3, 1, gradcheck=False),
                    s(T(value=[[-3.0, 2.0, 3.0]]), INF, 1, gradcheck=False),
                    s(T(value=[[-3.0, 0.0, 3.0]]), 0, 1, gradcheck=False))),
    OpInfo("amax", REDUCE_SAMPLES[:8] + (s(TIES, 1, gradcheck=False), s(TIES, gradcheck=False), s(T((0, 3)), 1)),
           errors=(Bad(EMPTY_DIM, ValueError, r"amax: cannot reduce dim 0 of size 0"), DIM_OUT_OF_RANGE)),
    OpInfo("amin", REDUCE_SAMPLES[:8] + (s(TIES, 1, gradcheck=False),),
           errors=(Bad(EMPTY_DIM, IndexError, r"amin: cannot reduce dim 0 of size 0"),)),
    OpInfo("max", (s(T((2, 3, 4))), s(T((2, 3, 4)), 1), s(T((2, 3, 4)), -1, True), s(T((2, 3, 4)), dim=0, keepdim=True),
                   s(T(())), s(T(()), 0), s(T((0, 3)), 1), s(TIES, 1, gradcheck=False), s(TIES, gradcheck=False),
                   s(T((2, 3)), T((2, 3))), s(T((2, 3)), T((3,)))),
           errors=(Bad(EMPTY_DIM, ValueError, r"max: cannot reduce dim 0 of size 0 \(shape \(0, 3\)\)"),
                   Bad(s(T((0, 3))), ValueError, r"max: cannot reduce the tensor of shape \(0, 3\)"),
                   DIM_OUT_OF_RANGE)),
    OpInfo("min", (s(T((2, 3, 4))), s(T((2, 3, 4)), 1), s(T((2, 3, 4)), -1, True), s(T(())), s(T((0, 3)), 1),
                   s(TIES, 1, gradcheck=False), s(TIES, gradcheck=False), s(T((2, 3)), T((3,)))),
           errors=(Bad(EMPTY_DIM, ValueError, r"min: cannot reduce dim 0 of size 0"),)),
    OpInfo("argmax", (s(T((2, 3, 4))), s(T((2, 3, 4)), 1), s(T((2, 3, 4)), -1, True), s(T(())), s(T(()), 0),
                      s(T((0, 3)), 1), s(TIES, 1), s(T((2, 3)), keepdim=True)),
           differentiable=False,
           errors=(Bad(EMPTY_DIM, ValueError, "argmax: cannot reduce dim 0 of size 0"),
                   Bad(s(T((0, 3))), ValueError, "argmax: cannot reduce the tensor"))),
    OpInfo("argmin", (s(T((2, 3, 4))), s(T((2, 3, 4)), 1), s(T((2, 3, 4)), -1, True), s(TIES, 1)),
           differentiable=False),
    OpInfo("logsumexp", (s(T((2, 3)), 1), s(T((2, 3, 4)), (0, 2), keepdim=True), s(T(()), 0), s(T((0, 3)), 0),
                         s(T((0, 3)), 1), s(T(value=[[-INF, 1.0], [INF, 1.0], [-INF, -INF]]), 1, gradcheck=False))),
    OpInfo("all", (s(C([[True, False], [True, True]])), s(C([[True, False], [True, True]]), 1),
                   s(C([[1.0, 0.0]]), dim=0, keepdim=True), s(C(np.zeros((0, 2), bool)), 0)), differentiable=False),
    OpInfo("any", (s(C([[True, False], [False, False]])), s(C([[True, False], [False, False]]), 1),
                   s(C(np.zeros((0, 2), bool)), 0)), differentiable=False),
    OpInfo("softmax", (s(T((2, 3)), -1), s(T((2, 3)), 0), s(T((2, 3, 4)), dim=1), s(T(()), 0), s(T((0, 3)), 1),
                       s(T((3, 0)), 1), s(T((2, 3)), 1, dtype=np.float64)),
           errors=(DIM_OUT_OF_RANGE,)),
    OpInfo("log_softmax", (s(T((2, 3)), -1), s(T((2, 3)), 0), s(T((2, 3, 4)), dim=1), s(T(()), 0), s(T((0, 3)), 1),
                           s(T((3, 0)), 1))),
    OpInfo("nn.functional.softmax", (s(T((2, 3)), -1), s(T((2, 3, 4)), dim=1), s(T(()), dim=0), s(T((3, 0)), 1)),
           variants=("function",)),
    OpInfo("nn.functional.log_softmax", (s(T((2, 3)), -1), s(T((2, 3, 4)), dim=0), s(T((3, 0)), 1)),
           variants=("function",)),
    # ---------------------------------------------------------------- shape (ops/shape.py)
    OpInfo("reshape", (s(T((2, 3)), (3, 2)), s(T((2, 3)), (-1,)), s(T((2, 3, 4)), (6, -1)), s(T(()), ()),
                       s(T(()), (1, 1)), s(T((0, 3)), (3, 0)), s(T((0, 3)), (-1,)))),
    OpInfo("Tensor.reshape(*shape)", (s(T((2, 3, 4)), 6, -1), s(T(()), 1, 1)), op=lambda lib, x, *shape: x.reshape(*shape)),
    OpInfo("view", (s(T((2, 3)), 3, 2), s(T((2, 3)), -1), s(T(()), 1), s(T((0, 3)), 0, 1, 3)), variants=("method",),
           errors=(Bad(s(T((2, 3)), 4, 2), ValueError, r"view: cannot view shape \(2, 3\)"),)),
    OpInfo("Tensor.T.view", (), op=lambda lib, x: x.T.view(-1),
           errors=(Bad(s(T((2, 3))), RuntimeError, "view: .* use .reshape"),)),
    OpInfo("flatten", (s(T((2, 3, 4))), s(T((2, 3, 4)), 1), s(T((2, 3, 4)), 0, 1), s(T((2, 3, 4)), -2, -1), s(T(())),
                       s(T((0, 3)))),
           errors=(Bad(s(T((2, 3, 4)), 2, 1), ValueError, "flatten: start_dim 2 comes after end_dim 1"),)),
    OpInfo("unflatten", (s(T((6, 4)), 0, (2, 3)), s(T((2, 6)), -1, (3, -1))),
           errors=(Bad(s(T((6, 4)), 0, (4, 2)), ValueError, r"unflatten: sizes \(4, 2\) do not multiply to 6"),)),
    OpInfo("squeeze", (s(T((2, 1, 3, 1))), s(T((2, 1, 3)), 1), s(T((2, 1, 3)), 0), s(T((2, 1, 1)), (1, 2)), s(T(())),
                       s(T((1,)), 0), s(T((0, 1))))),
    OpInfo("unsqueeze", (s(T((2, 3)), 0), s(T((2, 3)), 2), s(T((2, 3)), -1), s(T((2, 3)), -3), s(T(()), 0)),
           errors=(Bad(s(T((2, 3)), 3), IndexError, r"unsqueeze: dim 3 is out of range"),)),
    OpInfo("permute", (s(T((2, 3, 4)), (2, 0, 1)), s(T((2, 3)), (-1, 0)), s(T(()), ()), s(T((0, 3)), (1, 0))),
           errors=(Bad(s(T((2, 3)), (0, 0)), ValueError, r"permute: repeated dim"),
                   Bad(s(T((2, 3)), (0,)), ValueError, r"permute: 1 dims \(0,\) for a tensor with 2 dimensions"))),
    OpInfo("Tensor.permute(*dims)", (s(T((2, 3, 4)), 2, 0, 1), s(T((2, 3)), 1, 0)), op=lambda lib, x, *dims: x.permute(*dims),
           errors=(Bad(s(T((2, 3)), 0, 0), ValueError, r"permute: repeated dim"),
                   Bad(s(T((2, 3)), 0), ValueError, r"permute: 1 dims \(0,\) for a tensor with 2 dimensions"))),
    OpInfo("transpose", (s(T((2, 3)), 0, 1), s(T((2, 3, 4)), 0, 2), s(T((2, 3, 4)), -1, 1), s(T((2, 3)), 1, 1),
                         s(T(()), 0, -1), s(T((0, 3)), 0, 1)),
           errors=(Bad(s(T((2, 3)), 0, 2), IndexError, r"transpose: dim 2 is out of range for a tensor of shape"),)),
    OpInfo("swapaxes", (s(T((2, 3, 4)), 0, 2),)),
    OpInfo("swapdims", (s(T((2, 3, 4)), 0, 2),)),
    OpInfo("movedim", (s(T((2, 3, 4)), 0, 2), s(T((2, 3, 4)), (0, 1), (2, 0)), s(T((2, 3, 4)), -1, 0))),
    OpInfo("moveaxis", (s(T((2, 3, 4)), 0, -1),)),
    OpInfo("t", (s(T((2, 3))), s(T((3,))), s(T(()))),
           errors=(Bad(s(T((2, 3, 4))), ValueError, r"t: expects a tensor with at most 2 dimensions"),)),
    OpInfo("contiguous", (s(T((2, 3))),), variants=("method",)),
    OpInfo("Tensor.t().contiguous().view", (s(T((2, 3))),), op=lambda lib, x: x.t().contiguous().view(-1)),
    OpInfo("Tensor.T", (s(T((2, 3))), s(T((3,))), s(T(()))), op=lambda lib, x: x.T),
    OpInfo("Tensor.mT", (s(T((2, 3))), s(T((4, 2, 3))), s(T((0, 2, 3)))), op=lambda lib, x: x.mT,
           errors=(Bad(s(T((3,))), ValueError, r"mT: needs a matrix"),)),
    OpInfo("expand", (s(T((3, 1)), 3, 4), s(T((3, 1)), 2, 3, 4), s(T((3, 1)), -1, 5), s(T(()), 2, 3), s(T((1, 3)), (0, 3))),
           variants=("method",),
           errors=(Bad(s(T((2, 3)), 2, 4), ValueError, r"expand: cannot expand shape \(2, 3\) to \(2, 4\)"),
                   Bad(s(T((2, 3)), 3), ValueError, "expand: 1 sizes"))),
    OpInfo("expand_as", (s(T((3, 1)), C(np.zeros((2, 3, 4)))),), variants=("method",)),
    OpInfo("broadcast_to", (s(T((3, 1)), (2, 3, 4)),)),
    OpInfo("repeat", (s(T((2, 3)), 2, 1), s(T((2, 3)), 2, 1, 3), s(T(()), 3), s(T((3,)), 0), s(T((0, 2)), 2, 2)),
           variants=("method",),
           errors=(Bad(s(T((2, 3)), 2), ValueError, "repeat: 1 repeat counts"),)),
    OpInfo("repeat_interleave", (s(T((2, 3)), 2), s(T((2, 3)), 2, dim=1), s(T((2, 3)), 3, dim=0), s(T(()), 2))),
    OpInfo("flip", (s(T((2, 3)), (0,)), s(T((2, 3)), (0, 1)), s(T((2, 3, 4)), [-1]), s(T(()), ()))),
    OpInfo("Tensor.flip(*dims)", (s(T((2, 3, 4)), 0, 2),), op=lambda lib, x, *dims: x.flip(*dims)),
    OpInfo("roll", (s(T((2, 3)), 1), s(T((2, 3)), -1, 0), s(T((2, 3)), (1, 2), (0, 1)), s(T((2, 3)), 4, 1), s(T(()), 1)),
           errors=(Bad(s(T((2, 3)), (1,), (0, 1)), ValueError, "roll: shifts"),)),
    OpInfo("cat", (s([T((2, 3)), T((1, 3))]), s([T((2, 3)), T((2, 2))], 1), s([T((2, 3)), T((2, 3))], dim=-1),
                   s([T((2, 3))]), s([T((2, 3)), T((0, 3))]), s([T((2, 3)), T((0,))])),
           variants=("function",),
           errors=(Bad(s([T((2, 3)), T((2, 2))]), ValueError, r"cat: tensor 0 has shape \(2, 3\) but tensor 1"),
                   Bad(s([]), ValueError, "cat: expected a non-empty sequence"),
                   Bad(s([T((2, 3))], 2), IndexError, "cat: dim 2 is out of range"))),
    OpInfo("concat", (s([T((2, 3)), T((2, 2))], 1),), variants=("function",)),
    OpInfo("concatenate", (s([T((2, 3)), T((2, 2))], axis=1),), variants=("function",)),
    OpInfo("stack", (s([T((2, 3)), T((2, 3))]), s([T((2, 3)), T((2, 3))], 2), s([T((2, 3)), T((2, 3))], dim=-2),
                     s([T(()), T(())]), s([T((0, 3))])),
           variants=("function",),
           errors=(Bad(s([T((2, 3)), T((3, 2))]), ValueError, r"stack: tensor 0 has shape \(2, 3\) but tensor 1"),
                   Bad(s([T((2, 3))], 3), IndexError, "stack: dim 3 is out of range"))),
    OpInfo("split", (s(T((5, 2)), 2), s(T((5, 2)), [1, 4]), s(T((2, 6)), 3, 1), s(T((2, 6)), [2, 0, 4], dim=-1),
                     s(T((2, 6)), 6, 1), s(T((2, 6)), 7, 1), s(T((0, 2)), 2), s(T((0, 2)), 0)),
           errors=(Bad(s(T((5, 2)), [2, 2]), ValueError, r"split: sizes \[2, 2\] do not add up to 5"),
                   Bad(s(T((5, 2)), 0), ValueError, "split: split_size must be positive"),
                   Bad(s(T(()), 1), ValueError, "split: needs a tensor with at least one dimension"))),
    OpInfo("chunk", (s(T((10, 2)), 4), s(T((6, 2)), 4), s(T((2, 6)), 2, 1), s(T((2, 6)), 3, dim=-1), s(T((0, 2)), 3)),
           errors=(Bad(s(T((5, 2)), 0), ValueError, "chunk: chunks must be positive"),)),
    OpInfo("tensor_split", (s(T((5, 2)), 3), s(T((5, 2)), [1, 3]), s(T((2, 7)), 3, 1), s(T((5, 2)), [3, 1]),
                            s(T((5, 2)), [-2, 9]), s(T((2, 3)), 5, dim=1)),
           errors=(Bad(s(T((5, 2)), 0), ValueError, "tensor_split: the number of sections must be positive"),)),
    OpInfo("unbind", (s(T((3, 2))), s(T((3, 2, 4)), 1), s(T((3, 2)), dim=-1), s(T((0, 2)), 1))),
    OpInfo("gather", (s(T((3, 4)), 1, C([[0, 0], [1, 3], [2, 2]])), s(T((3, 4)), 0, C([[2, 0, 1, 1]])),
                      s(T((3, 4)), -1, C(np.zeros((3, 0), np.int64))), s(T((2, 3, 4)), 2, C(np.ones((2, 3, 1), np.int64))),
                      s(T(()), 0, C(0))),
           errors=(Bad(s(T((3, 4)), 1, C([[4]])), IndexError, "gather: index 4 is out of bounds for dim 1"),
                   Bad(s(T((3, 4)), 1, C([0])), ValueError, r"gather: index of shape \(1,\) does not fit"),
                   Bad(s(T((3, 4)), 1, C([[0.5]])), TypeError, "gather: index must be an integer tensor"))),
    OpInfo("clone", UNARY_SAMPLES),
    # ---------------------------------------------------------------- indexing (ops/indexing.py)
    OpInfo("getitem[1]", (s(T((3, 4))), s(T((3,)))), op=lambda lib, x: x[1]),
    OpInfo("getitem[:, 1:3]", (s(T((3, 4))),), op=lambda lib, x: x[:, 1:3]),
    OpInfo("getitem[..., None, 1:]", (s(T((3, 4))), s(T((2, 3, 4)))), op=lambda lib, x: x[..., None, 1:]),
    OpInfo("getitem[int tensor]", (s(T((3, 4)), C([0, 2, 2, 1])), s(T((3, 4)), C([[0, 1], [2, 2]])), s(T((3,)), C(np.array([], np.int64)))),
           op=lambda lib, x, index: x[index]),
    OpInfo("getitem[int, int]", (s(T((3, 4)), C([0, 2, 2]), C([1, 1, 3])),), op=lambda lib, x, rows, cols: x[rows, cols]),
    OpInfo("getitem[:, list]", (s(T((3, 4))),), op=lambda lib, x: x[:, [3, 0, 3]]),
    OpInfo("getitem[bool mask]", (s(T((2, 3)), C([[True, False, True], [False, False, True]])),
                                  s(T((2, 3)), C([True, False])), s(T((2, 3)), C(np.zeros((2, 3), bool)))),
           op=lambda lib, x, mask: x[mask],
           errors=(Bad(s(T((2, 3)), C([True, False, True])), IndexError, "getitem"),)),
    OpInfo("setitem[1]", (s(T((3, 4)), T((4,))), s(T((3, 4)), T(())), s(T((3, 4)), 2.0)), op=_setitem(1)),
    OpInfo("setitem[:, 1:3]", (s(T((3, 4)), T((3, 2))), s(T((3, 4)), T((1, 2)))), op=_setitem((slice(None), slice(1, 3)))),
    OpInfo("setitem[int tensor]", (s(T((3, 4)), C([0, 2]), T((2, 4))), s(T((3, 4)), C([2]), T((4,)))),
           op=_setitem_with_array),
    OpInfo("setitem[bool mask]", (s(T((2, 3)), C([[True, False, True], [False, False, True]]), T(())),
                                  s(T((2, 3)), C([True, False]), T((3,)))),
           op=_setitem_with_array),
]
