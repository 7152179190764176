"""tinygrad_lstm: a small, exact and fast autograd on numpy for seeing and trusting how
recurrent networks learn.

>>> import tinygrad_lstm as tl
>>> x = tl.Tensor([1.0, 2.0], requires_grad=True)
>>> (x * x).sum().backward()
>>> x.grad
array([2., 4.])
"""
from .engine import (Function, Graph, ShapeError, Tensor, backward, detect_anomaly, enable_grad, grad,
                     is_grad_enabled, name_scope, no_grad, set_grad_enabled, walk_graph)
from .checks import GradcheckError, analytical_jacobian, gradcheck, gradgradcheck, numerical_jacobian
from .ops import (FUNCTIONS, abs, add, addmm, all, amax, amin, any, argmax, argmin, bmm, broadcast_to, cat, chunk,
                  clamp, clip, clone, concat, concatenate, div, exp, flatten, flip, gather, log, log1p, log_softmax,
                  logsumexp, masked_fill, matmul, max, maximum, mean, min, minimum, mm, moveaxis, movedim, mul, neg,
                  norm, permute, pow, prod, relu, repeat_interleave, reshape, roll, sigmoid, sign, softmax, split, sqrt,
                  squeeze, stack, std, sub, sum, swapaxes, swapdims, t, tanh, tensor_split, transpose, unbind,
                  unflatten, unsqueeze, var, where)
from .random import (arange, default_generator, eye, full, full_like, manual_seed, ones, ones_like, rand, rand_like,
                     randn, randn_like, tensor, zeros, zeros_like)
from . import nn
from .serialization import load, save
from . import viz
from .viz import BPTTWarning
from . import optim
from . import plots
from . import runtime
from . import autograd
from .autograd import jvp
from . import func
from .compare import GradientReport, compare_gradients
from .compiler import jit

__version__ = "0.1.0"

__all__ = [
    "Tensor", "Function", "ShapeError", "Graph", "backward", "grad", "walk_graph", "no_grad", "enable_grad",
    "is_grad_enabled", "set_grad_enabled", "name_scope", "detect_anomaly", "gradcheck", "gradgradcheck", "GradcheckError", "numerical_jacobian",
    "analytical_jacobian",
    "tensor", "zeros", "ones", "full", "arange", "eye", "randn", "rand", "zeros_like", "ones_like", "full_like",
    "randn_like", "rand_like", "manual_seed", "default_generator",
    *FUNCTIONS,
    "nn", "save", "load", "viz", "plots", "runtime", "autograd", "jvp", "func", "GradientReport", "compare_gradients", "jit",
    "BPTTWarning",
]
