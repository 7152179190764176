"""Derivatives beyond ``loss.backward()``, with PyTorch's names (``torch.autograd``): `grad` and
`backward` (the engine's), `Function` (a custom op), `gradcheck` and `gradgradcheck`,
`functional`: vjp, jvp, hvp, vhp, jacobian and hessian of a function, and the forward-mode `jvp`."""
from ..checks import gradcheck, gradgradcheck
from ..engine import Function, backward, grad
from . import functional
from .forward import jvp

__all__ = ["Function", "backward", "grad", "gradcheck", "gradgradcheck", "functional", "jvp"]
