"""The primitive ops, by family. Each op is a `Function` with its forward and backward side by
side, and the Tensor methods that call it are declared right after it (`tensor_method`).

- `arithmetic`: ``+ - * / ** @``, ``addmm``, comparisons, and their in-place forms.
- `unary`: elementwise functions (exp, log, tanh, sigmoid, relu, abs, clamp).
- `reduction`: sum, mean, max, softmax, log_softmax.
- `shape`: reshape, transpose, indexing, concat/stack, split/chunk/unbind.
- `assign`: copy_, fill_, zero_ and the random fills.

Forward receives numpy arrays (or plain numbers) and returns arrays; backward receives the
gradient of each output and returns one gradient per argument. The engine sums gradients
over broadcast dimensions and casts them to the input dtype, so a backward here may return
a gradient of the broadcast shape.
"""
from .arithmetic import (Add, AddMM, DeferredMatmulGrad, Div, MatMul, Mul, Neg, Pow, Sub, addmm)
from .unary import Abs, Clip, Exp, Log, ReLU, Sigmoid, Tanh, stable_sigmoid
from .reduction import LogSoftmax, Max, Mean, Softmax, Sum
from .shape import Concat, GetItem, Reshape, Split, Stack, Transpose, Unbind, concat, stack
from .assign import Cast, Clone, Copy

__all__ = ["addmm", "concat", "stack"]
