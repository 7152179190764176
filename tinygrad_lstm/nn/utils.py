"""Gradient clipping, in place on ``.grad`` (like ``torch.nn.utils``)."""
from __future__ import annotations

import math

import numpy as np

from ..engine import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _grads(parameters, fn: str) -> list:
    """The ``.grad`` arrays of `parameters` (a Tensor or an iterable of them) that are not None.

    A gradient assigned by hand as a list or a numpy scalar becomes an array, so it can be changed in place.
    """
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    grads = []
    for p in parameters:
        if not isinstance(p, Tensor):
            raise TypeError(f"{fn}: parameters must be Tensors, got {type(p).__name__}")
        if p.grad is not None:
            if type(p.grad) is not np.ndarray:
                p.grad = np.array(p.grad, dtype=p.dtype)
            grads.append(p.grad)
    return grads


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> np.float64:
    """Scale all gradients together so that their total norm is at most `max_norm`.

    The total norm is that of all gradients concatenated into one vector. When it exceeds
    `max_norm`, every gradient is multiplied by ``max_norm / (total_norm + 1e-6)``, as in
    PyTorch; otherwise they are left untouched. Parameters without a gradient are skipped.

    Parameters
    ----------
    parameters : Tensor or iterable of Tensor
        E.g. ``model.parameters()``.
    max_norm : float
    norm_type : float
        The p of the p-norm; ``float("inf")`` for the largest absolute value.
    error_if_nonfinite : bool
        Raise RuntimeError when the total norm is NaN or infinite instead of scaling.

    Returns
    -------
    numpy.float64
        The total norm before clipping (a float; ``.item()`` works as on a PyTorch tensor).
        Computed in float64, so float32 gradients do not overflow.

    Examples
    --------
    >>> import numpy as np, tinygrad_lstm as tl
    >>> w = tl.Tensor([0.0, 0.0], requires_grad=True)
    >>> w.grad = np.array([3.0, 4.0])
    >>> float(clip_grad_norm_([w], max_norm=1.0))
    5.0
    >>> np.round(w.grad, 6)
    array([0.6, 0.8])
    """
    grads = _grads(parameters, "clip_grad_norm_")
    max_norm, norm_type = float(max_norm), float(norm_type)
    if not grads:
        return np.float64(0.0)
    norms = [np.linalg.norm(np.asarray(g, dtype=np.float64).reshape(-1), ord=norm_type) for g in grads]
    total = np.float64(np.linalg.norm(np.array(norms), ord=norm_type))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is {total}, "
                           f"so they cannot be clipped; pass error_if_nonfinite=False to clip anyway")
    coefficient = float(max_norm / (total + 1e-6))
    if coefficient < 1:
        with np.errstate(invalid="ignore"):  # an infinite gradient times 0 is NaN, as in PyTorch
            for g in grads:
                g *= coefficient
    return total


def clip_grad_value_(parameters, clip_value: float) -> None:
    """Clamp every gradient elementwise to ``[-clip_value, clip_value]``, in place.

    Parameters
    ----------
    parameters : Tensor or iterable of Tensor
    clip_value : float, non-negative

    Examples
    --------
    >>> import numpy as np, tinygrad_lstm as tl
    >>> w = tl.Tensor([0.0, 0.0], requires_grad=True)
    >>> w.grad = np.array([-3.0, 0.5])
    >>> clip_grad_value_(w, 1.0)
    >>> w.grad
    array([-1. ,  0.5])
    """
    clip_value = float(clip_value)
    if not clip_value >= 0:
        raise ValueError(f"clip_grad_value_: clip_value must be non-negative, got {clip_value}")
    for g in _grads(parameters, "clip_grad_value_"):
        np.clip(g, -clip_value, clip_value, out=g)
