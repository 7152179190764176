"""Derivatives beyond ``loss.backward()``, with PyTorch's names: `grad` and `backward` (the
engine's), and `functional`: vjp, jvp, hvp, vhp, jacobian and hessian of a function."""
from ..engine import backward, grad
from . import functional

__all__ = ["backward", "grad", "functional"]
