"""Derivatives beyond ``loss.backward()``, with PyTorch's names: `grad` and `backward` (the
engine's), `functional`: vjp, jvp, hvp, vhp, jacobian and hessian of a function, and the
forward-mode `jvp`."""
from ..engine import backward, grad
from . import functional
from .forward import jvp

__all__ = ["backward", "grad", "functional", "jvp"]
