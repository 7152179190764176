"""The primitive ops, by family. Each op is a `Function` with its forward and backward side by
side, and the Tensor methods that call it are declared right after it (`tensor_method`).
Methods and functions with PyTorch's names mean what they mean in PyTorch.

- `arithmetic`: ``+ - * / ** @``, ``addmm``, ``maximum``/``minimum``, comparisons, and the
  in-place forms.
- `unary`: elementwise functions (exp, log, sqrt, tanh, sigmoid, relu, abs, clamp).
- `reduction`: sum, mean, prod, var, std, norm, amax/amin, max/min, argmax/argmin, softmax,
  log_softmax.
- `shape`: reshape/view, squeeze/unsqueeze, permute/transpose, expand, repeat, flip, roll,
  cat/stack, split/chunk/tensor_split/unbind.
- `indexing`: ``t[index]``, ``t[index] = value``, gather, where, masked_fill.
- `assign`: copy_, fill_, zero_ and the random fills.
- `random`: dropout and zoneout masks, drawn inside an op so that `tl.jit` replays draw afresh.
- `functions`: the same ops as functions of a tensor (``tl.tanh(x)``, ``tl.sum(x, dim)``).

Forward receives numpy arrays (or plain numbers) and returns arrays; backward receives the
gradient of each output and returns one gradient per argument. The engine sums gradients
over broadcast dimensions and casts them to the input dtype, so a backward here may return
a gradient of the broadcast shape.
"""
from .arithmetic import (Add, AddMM, DeferredMatmulGrad, Div, MatMul, Maximum, Minimum, Mul, Neg, Pow, Sub,
                         addmm)
from .unary import Abs, Clamp, Exp, Log, Log1p, ReLU, Sigmoid, Sign, Softplus, Sqrt, Tanh, stable_sigmoid
from .reduction import (Amax, Amin, LogSoftmax, LogSumExp, Max, MaxDim, Mean, Min, MinDim, Norm, Prod, Softmax, Std, Sum, Var,
                        max_result, min_result)
from .shape import (Concat, Contiguous, Expand, Flip, Repeat, Reshape, Roll, Split, Stack, Transpose, Unbind, View, cat,
                    concat, concatenate, stack)
from .indexing import Gather, GetItem, MaskedFill, SetItem, Where
from .assign import Cast, Clone, Copy
from .random import DropoutMask, ZoneoutMask
from .functions import (abs, add, all, amax, amin, any, argmax, argmin, bmm, broadcast_to, chunk, clamp, clip, clone,
                        div, exp, flatten, flip, gather, log, log1p, log_softmax, logsumexp, masked_fill, matmul, max,
                        maximum, mean, min, minimum, mm, moveaxis, movedim, mul, neg, norm, permute, pow, prod, relu,
                        repeat_interleave, reshape, roll, sigmoid, sign, softmax, split, sqrt, squeeze, std, sub, sum,
                        swapaxes, swapdims, t, tanh, tensor_split, transpose, unbind, unflatten, unsqueeze, var,
                        where)

#: The functions `tl` exports from here, as PyTorch's ``torch.<name>``.
FUNCTIONS = [
    "abs", "sign", "exp", "log", "log1p", "sqrt", "tanh", "sigmoid", "relu", "neg", "add", "sub", "mul", "div", "pow", "matmul", "mm", "bmm",
    "addmm", "clamp", "clip", "maximum", "minimum", "where",
    "sum", "mean", "prod", "var", "std", "norm", "amax", "amin", "max", "min", "argmax", "argmin", "all", "any",
    "logsumexp",
    "softmax", "log_softmax",
    "reshape", "flatten", "unflatten", "squeeze", "unsqueeze", "permute", "transpose", "t", "swapaxes", "swapdims",
    "movedim", "moveaxis", "broadcast_to", "repeat_interleave", "flip", "roll", "cat", "concat", "concatenate",
    "stack", "split", "chunk", "tensor_split", "unbind", "gather", "masked_fill", "clone",
]
__all__ = list(FUNCTIONS)
