"""tinygrad_lstm: a small, exact and fast autograd on numpy for seeing and trusting how
recurrent networks learn.

>>> import tinygrad_lstm as tl
>>> x = tl.Tensor([1.0, 2.0], requires_grad=True)
>>> (x * x).sum().backward()
>>> x.grad
array([2., 4.])
"""
from .engine import (Function, Graph, ShapeError, Tensor, backward, detect_anomaly, enable_grad, grad,
                     is_grad_enabled, name_scope, no_grad, walk_graph)
from .checks import GradcheckError, analytical_jacobian, gradcheck, gradgradcheck, numerical_jacobian
from .ops import addmm, concat, stack
from .random import default_generator, full, manual_seed, ones, rand, randn, zeros
from . import nn
from .serialization import load, save
from . import viz
from .viz import BPTTWarning
from . import optim
from . import runtime
from . import autograd
from .autograd import jvp
from .compare import GradientReport, compare_gradients

__version__ = "0.1.0"

__all__ = [
    "Tensor", "Function", "ShapeError", "Graph", "backward", "grad", "walk_graph", "no_grad", "enable_grad",
    "is_grad_enabled", "name_scope", "detect_anomaly", "gradcheck", "gradgradcheck", "GradcheckError", "numerical_jacobian", "analytical_jacobian", "addmm", "concat", "stack",
    "zeros", "ones", "full", "randn", "rand", "manual_seed", "default_generator",
    "nn", "save", "load", "viz", "runtime", "autograd", "jvp", "GradientReport", "compare_gradients",
    "BPTTWarning",
]
