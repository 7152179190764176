"""Gradient clipping, in place on ``.grad``, as ``torch.nn.utils``; packed sequences in `rnn`."""
from __future__ import annotations

import math
import types
import warnings

import numpy as np

from ...engine import Tensor, traced_effect
from . import rnn

__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_"]


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


def _vector_norm(array: np.ndarray, norm_type: float, fn: str) -> np.float64:
    """The p-norm of `array` flattened, in float64, with ``torch.linalg.vector_norm``'s meaning of p.

    p = inf is the largest absolute value, -inf the smallest, 0 the number of non-zeros, any other
    p is ``sum(|x|**p) ** (1/p)``; NaN anywhere gives NaN (except for p = 0, where NaN counts as non-zero).
    """
    x = np.abs(np.asarray(array, dtype=np.float64).reshape(-1))
    if x.size == 0 and (norm_type < 0 or norm_type == math.inf):
        raise ValueError(f"{fn}: cannot compute the {norm_type} norm of an empty gradient (shape {array.shape}): "
                         f"the operation has no identity")
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):  # 0 ** -1 is inf, as in PyTorch
        if norm_type == math.inf:
            return np.max(x)
        if norm_type == -math.inf:
            return np.min(x)
        if norm_type == 0:
            return np.float64(np.count_nonzero(x))
        if norm_type == 1:
            return np.sum(x)
        if norm_type == 2:
            return np.sqrt(np.dot(x, x))
        return np.sum(x ** norm_type) ** (1 / norm_type)


def _total_norm(grads: list, norm_type, error_if_nonfinite: bool, fn: str):
    """The `norm_type`-norm of the norms of `grads`, in their common dtype (float64 with no grads).

    Computed in float64 and rounded once at the end, so float32 gradients of 1e30 give 2e30, not inf.
    """
    norm_type = float(norm_type)
    if not grads:
        return np.float64(0.0)
    norms = np.array([_vector_norm(g, norm_type, fn) for g in grads])
    dtype = np.result_type(*grads)
    with np.errstate(over="ignore"):  # a float64 norm beyond float32's range is inf in float32, as in PyTorch
        total = (dtype if dtype.kind == "f" else np.dtype(np.float64)).type(_vector_norm(norms, norm_type, fn))
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(f"{fn}: the total norm of order {norm_type} of the gradients is non-finite ({total}), "
                           f"so they cannot be clipped; pass error_if_nonfinite=False to scale them by it anyway")
    return total


def _scale(grads: list, max_norm, total_norm) -> None:
    """Multiply `grads` in place by ``min(max_norm / (total_norm + 1e-6), 1)`` (NaN if the norm is NaN)."""
    total_norm = np.asarray(total_norm.data if isinstance(total_norm, Tensor) else total_norm)[()]
    if not isinstance(total_norm, np.floating):
        total_norm = np.float64(total_norm)
    with np.errstate(over="ignore", invalid="ignore"):  # an infinite gradient times 0 is NaN, as in PyTorch
        coefficient = np.minimum(float(max_norm) / (total_norm + 1e-6), 1.0)
        if coefficient == 1:  # multiplying by 1 changes nothing
            return
        for g in grads:
            g *= coefficient


def get_total_norm(tensors, norm_type: float = 2.0, error_if_nonfinite: bool = False, foreach=None):
    """The norm of the norms of `tensors`, as if they were concatenated into one vector.

    Parameters
    ----------
    tensors : array_like, Tensor or iterable of them
        E.g. ``[p.grad for p in model.parameters() if p.grad is not None]``.
    norm_type : float
        The p of the p-norm: ``float("inf")`` for the largest absolute value, ``-inf`` for the
        smallest, 0 for the number of non-zeros.
    error_if_nonfinite : bool
        Raise RuntimeError when the total norm is NaN or infinite.
    foreach : bool or None
        Accepted for PyTorch compatibility; numpy has a single code path.

    Returns
    -------
    numpy scalar
        Of the tensors' common dtype (float64 if there are none), like PyTorch's 0-d tensor;
        ``.item()`` gives a Python float. Computed in float64, so large float32 values do not overflow.
    """
    if isinstance(tensors, (Tensor, np.ndarray)):
        tensors = [tensors]
    arrays = [np.asarray(t.data if isinstance(t, Tensor) else t) for t in tensors]
    return _total_norm(arrays, norm_type, error_if_nonfinite, "get_total_norm")


@traced_effect
def clip_grads_with_norm_(parameters, max_norm: float, total_norm, foreach=None) -> None:
    """Scale the gradients of `parameters` in place by ``min(max_norm / (total_norm + 1e-6), 1)``.

    `clip_grad_norm_` with a total norm computed beforehand (e.g. by `get_total_norm`).

    Parameters
    ----------
    parameters : Tensor or iterable of Tensor
    max_norm : float
    total_norm : float, numpy scalar or 0-d Tensor
    foreach : bool or None
        Accepted for PyTorch compatibility; numpy has a single code path.
    """
    _scale(_grads(parameters, "clip_grads_with_norm_"), max_norm, total_norm)


@traced_effect
def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach=None):
    """Scale all gradients together so that their total norm is at most `max_norm`, as PyTorch.

    The total norm is that of all gradients concatenated into one vector. Every gradient is
    multiplied by ``min(max_norm / (total_norm + 1e-6), 1)``, so gradients within the bound
    are left untouched. As in PyTorch, a NaN total norm makes every gradient NaN and an
    infinite one makes finite entries 0 and infinite entries NaN, unless `error_if_nonfinite`.
    Parameters without a gradient are skipped.

    Parameters
    ----------
    parameters : Tensor or iterable of Tensor
        E.g. ``model.parameters()``.
    max_norm : float
    norm_type : float
        The p of the p-norm (see `get_total_norm`); ``float("inf")`` for the largest absolute value.
    error_if_nonfinite : bool
        Raise RuntimeError, changing nothing, when the total norm is NaN or infinite.
    foreach : bool or None
        Accepted for PyTorch compatibility; numpy has a single code path.

    Returns
    -------
    numpy scalar
        The total norm before clipping, of the gradients' dtype (see `get_total_norm`).

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
    if isinstance(parameters, types.GeneratorType):
        parameters = list(parameters)
        if not parameters:  # usually model.parameters() already consumed by an earlier loop
            warnings.warn("clip_grad_norm_: `parameters` is an empty generator, no gradient clipping will occur",
                          stacklevel=2)
    grads = _grads(parameters, "clip_grad_norm_")
    total = _total_norm(grads, norm_type, error_if_nonfinite, "clip_grad_norm_")
    _scale(grads, max_norm, total)
    return total


@traced_effect
def clip_grad_value_(parameters, clip_value: float, foreach=None) -> None:
    """Clamp every gradient elementwise to ``[-clip_value, clip_value]``, in place.

    Parameters
    ----------
    parameters : Tensor or iterable of Tensor
    clip_value : float, non-negative
    foreach : bool or None
        Accepted for PyTorch compatibility; numpy has a single code path.

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
