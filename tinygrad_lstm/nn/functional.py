"""Activations, softmax, dropout and losses as functions of tensors (like ``torch.nn.functional``).

Everything is built from the engine's ops, so gradients come from the graph; softmax and
log-softmax use the stable primitives `tl.ops.Softmax` / `tl.ops.LogSoftmax` (finite for
float32 logits of +-1e4). Results keep the input's dtype and match PyTorch's numbers.

Reductions (``"mean"``, ``"sum"``, ``"none"``) and ``ignore_index`` (default -100) follow
PyTorch. Softmax functions take PyTorch's ``dim`` (numpy's ``axis`` is accepted as an alias).
"""
from __future__ import annotations

from numbers import Real

import numpy as np

from ..engine import ShapeError, Tensor
from ..ops import DropoutMask, LogSoftmax, Softmax, Softplus, addmm
from ..ops.reduction import softmax_dim

__all__ = ["linear", "sigmoid", "tanh", "relu", "softplus", "softmax", "log_softmax", "dropout", "layer_norm", "cross_entropy",
           "nll_loss", "mse_loss"]

_REDUCTIONS = ("mean", "sum", "none")


def _float_tensor(x, fn: str) -> Tensor:
    if not isinstance(x, Tensor):
        x = Tensor(x)
    if x.dtype.kind != "f":
        raise TypeError(f"{fn}: expected a floating-point tensor, got dtype {x.dtype}")
    return x


def _check_reduction(reduction, fn: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{fn}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def linear(input, weight, bias=None) -> Tensor:
    """``input @ weight.T + bias`` (``torch.nn.functional.linear``).

    Parameters
    ----------
    input : Tensor ``(*, in_features)``
    weight : Tensor ``(out_features, in_features)``
    bias : Tensor ``(out_features,)``, optional

    Returns
    -------
    Tensor ``(*, out_features)``; one `addmm` node for a 1-d or 2-d input with a bias.
    """
    x = _float_tensor(input, "linear")
    weight_t = weight.T
    if bias is not None and x.ndim in (1, 2):
        return addmm(bias, x, weight_t)
    y = x @ weight_t
    return y if bias is None else y + bias


def sigmoid(x) -> Tensor:
    """``1 / (1 + exp(-x))`` elementwise, without overflow. Any shape."""
    return _float_tensor(x, "sigmoid").sigmoid()


def tanh(x) -> Tensor:
    """Hyperbolic tangent elementwise. Any shape."""
    return _float_tensor(x, "tanh").tanh()


def relu(x) -> Tensor:
    """``max(x, 0)`` elementwise. Any shape."""
    return _float_tensor(x, "relu").relu()


def softplus(input, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + exp(beta x)) / beta`` elementwise, and `x` itself where ``beta x > threshold``
    (``torch.nn.functional.softplus``); overflow-free. Any shape."""
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or beta == 0:
        raise ValueError(f"softplus: beta must be a nonzero number, got {beta!r}")
    return Softplus.apply(_float_tensor(input, "softplus"), beta=float(beta), threshold=float(threshold))


def softmax(input, dim: int | None = None, dtype=None, *, axis: int | None = None) -> Tensor:
    """``exp(x) / sum(exp(x))`` along `dim`, computed stably (``torch.nn.functional.softmax``).

    Parameters
    ----------
    input : Tensor of any shape (a 0-d tensor gives 1; a zero-length dim an empty result)
    dim : int
        The dim to normalise. Without it PyTorch's deprecated implicit choice is made, with its
        warning: dim 0 for 0-, 1- and 3-d inputs, 1 otherwise. `axis` is numpy's name for it.
    dtype : numpy dtype, optional
        Convert the input to it first.

    Returns
    -------
    Tensor of the shape of `input`, non-negative, summing to 1 along `dim`.

    Examples
    --------
    >>> import tinygrad_lstm as tl
    >>> softmax(tl.Tensor([0.0, 0.0]), dim=-1).data
    array([0.5, 0.5])
    """
    x = _float_tensor(input if dtype is None else Tensor(input).astype(dtype), "softmax")
    return Softmax.apply(x, axis=softmax_dim("softmax", x, dim, axis, implicit=True))


def log_softmax(input, dim: int | None = None, dtype=None, *, axis: int | None = None) -> Tensor:
    """``x - log(sum(exp(x)))`` along `dim`, computed stably (``torch.nn.functional.log_softmax``).

    Parameters
    ----------
    input : Tensor of any shape (a 0-d tensor gives 0)
    dim : int
        As in `softmax`.
    dtype : numpy dtype, optional

    Returns
    -------
    Tensor of the shape of `input`.

    Examples
    --------
    >>> import numpy as np, tinygrad_lstm as tl
    >>> log_softmax(tl.Tensor(np.array([1e4, 0.0], dtype=np.float32)), dim=0).data
    array([     0., -10000.], dtype=float32)
    """
    x = _float_tensor(input if dtype is None else Tensor(input).astype(dtype), "log_softmax")
    return LogSoftmax.apply(x, axis=softmax_dim("log_softmax", x, dim, axis, implicit=True))


def dropout(x, p: float = 0.5, training: bool = True, *, generator: np.random.Generator | None = None) -> Tensor:
    """Zero each element with probability `p` and scale the others by ``1 / (1 - p)`` (inverted dropout).

    The mask is a constant, so the gradient is the same mask. The identity when not
    `training` or when ``p == 0``; all zeros when ``p == 1``.

    Parameters
    ----------
    x : Tensor of any shape
    p : float in [0, 1]
    training : bool
    generator : numpy Generator, optional
        Source of the mask; default the global one (`tl.manual_seed`). The draws are the
        same for every dtype, so float32 and float64 runs with one seed drop the same elements.

    Returns
    -------
    Tensor of the shape and dtype of `x`.
    """
    if isinstance(p, bool) or not isinstance(p, Real) or not 0 <= p <= 1:
        raise ValueError(f"dropout: probability has to be between 0 and 1, but got {p!r}")
    x = _float_tensor(x, "dropout")
    if not training or p == 0:
        return x
    if p == 1:
        return x * np.zeros(x.shape, dtype=x.dtype)
    return x * DropoutMask.apply(shape=x.shape, p=p, dtype=x.dtype, generator=generator)


def normalized_shape_tuple(normalized_shape, owner: str) -> tuple:
    """`normalized_shape` (an int or a sequence of them) as a non-empty tuple of positive ints."""
    shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) else normalized_shape
    try:
        shape = tuple(shape)
    except TypeError:
        raise TypeError(f"{owner}: normalized_shape must be an int or a sequence of ints, "
                        f"got {type(normalized_shape).__name__}") from None
    if any(isinstance(n, bool) or not isinstance(n, (int, np.integer)) for n in shape):
        raise TypeError(f"{owner}: normalized_shape must hold ints, got {normalized_shape!r}")
    if not shape or any(n < 1 for n in shape):
        raise ValueError(f"{owner}: normalized_shape must have at least one dimension, all positive, "
                         f"got {normalized_shape!r}")
    return tuple(int(n) for n in shape)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps: float = 1e-5) -> Tensor:
    """Normalise over the trailing `normalized_shape` dimensions, then scale and shift (Ba et al. 2016)::

        y = (x - mean(x)) / sqrt(var(x) + eps) * weight + bias

    with the mean and the biased variance (divided by n, as PyTorch) over the last
    ``len(normalized_shape)`` dimensions. Composed from ops, so the gradient comes from the graph.

    Parameters
    ----------
    input : Tensor of shape ``(*, *normalized_shape)``
    normalized_shape : int or sequence of int
    weight, bias : Tensor of shape `normalized_shape`, optional
    eps : float
        Added to the variance, for stability.

    Returns
    -------
    Tensor of the shape and dtype of `input`.

    Examples
    --------
    >>> import numpy as np, tinygrad_lstm as tl
    >>> y = layer_norm(tl.Tensor([[1.0, 2.0, 3.0]]), 3)
    >>> np.round(y.data, 4)
    array([[-1.2247,  0.    ,  1.2247]])
    """
    shape = normalized_shape_tuple(normalized_shape, "layer_norm")
    x = _float_tensor(input, "layer_norm")
    if x.ndim < len(shape) or x.shape[x.ndim - len(shape):] != shape:
        raise ShapeError(f"layer_norm: given normalized_shape={list(shape)}, expected input with shape "
                         f"(*, {', '.join(map(str, shape))}), got {x.shape}")
    for name, parameter in (("weight", weight), ("bias", bias)):
        if parameter is not None and tuple(np.shape(parameter)) != shape:
            raise ShapeError(f"layer_norm: {name} of shape {tuple(np.shape(parameter))} does not match "
                             f"normalized_shape {shape}")
    axes = tuple(range(x.ndim - len(shape), x.ndim))
    centred = x - x.mean(axis=axes, keepdims=True)
    variance = (centred * centred).mean(axis=axes, keepdims=True)
    y = centred * (variance + eps) ** -0.5
    if weight is not None:
        y = y * weight
    return y if bias is None else y + bias


def mse_loss(input, target, reduction: str = "mean") -> Tensor:
    """Squared error ``(input - target) ** 2``, averaged (default), summed or kept per element.

    Parameters
    ----------
    input : Tensor of any shape
    target : Tensor or array_like of the same shape (it may require grad too)
        Unlike PyTorch, which warns and broadcasts, another shape is a ShapeError. A target
        that does not require grad is cast to the input's dtype.
    reduction : {"mean", "sum", "none"}

    Returns
    -------
    Tensor: a scalar, or of the input's shape for ``reduction="none"``.
    """
    _check_reduction(reduction, "mse_loss")
    input = _float_tensor(input, "mse_loss")
    if not isinstance(target, Tensor):
        target = Tensor(np.asarray(target, dtype=input.dtype))
    elif target.dtype != input.dtype and not target.requires_grad:
        target = Tensor(target.data.astype(input.dtype))  # a constant target keeps the loss in the input's dtype
    if target.shape != input.shape:
        raise ShapeError(f"mse_loss: input of shape {input.shape} and target of shape {target.shape} "
                         f"differ; they must have the same shape")
    diff = input - target
    squared = diff * diff
    if reduction == "none":
        return squared
    return squared.sum() if reduction == "sum" else squared.mean()


def cross_entropy(input, target, weight=None, *, ignore_index: int | None = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Cross entropy between class logits and targets: ``nll_loss(log_softmax(input))`` for
    integer class targets, ``-(target * log_softmax(input)).sum(class axis)`` for class
    probabilities (PyTorch's two kinds).

    With label smoothing ``e`` over ``C`` classes the target distribution is
    ``(1 - e) * target + e / C`` (``target`` one-hot for class indices), as in PyTorch.

    Parameters
    ----------
    input : Tensor
        Logits ``(N, C)``, ``(N, C, d1, ...)`` (classes on axis 1, as in PyTorch) or unbatched ``(C,)``.
    target : Tensor or array_like
        Class indices (integers) of shape ``(N,)``, ``(N, d1, ...)`` or ``()``, in ``[0, C)``
        or `ignore_index`; or class probabilities (floating point) of the input's shape, which
        may require grad.
    weight : Tensor or array_like, optional
        ``(C,)`` weight of each class (a constant).
    ignore_index : int or None
        Class-index targets equal to it (default -100, PyTorch's padding value) contribute
        nothing, and are not counted by ``"mean"``; None ignores nothing.
    reduction : {"mean", "sum", "none"}
        ``"mean"`` divides by the total weight of the counted targets (their number without
        `weight`); for probability targets by the number of targets (``N * d1 * ...``).
    label_smoothing : float in [0, 1]

    Returns
    -------
    Tensor: a scalar, or of the input's shape without the class axis for ``reduction="none"``.

    Examples
    --------
    >>> import numpy as np, tinygrad_lstm as tl
    >>> logits = tl.Tensor([[0.0, 0.0], [0.0, 0.0]], requires_grad=True)
    >>> loss = cross_entropy(logits, np.array([0, 1]))
    >>> round(loss.item(), 6)
    0.693147
    """
    input = _float_tensor(input, "cross_entropy")
    if not isinstance(label_smoothing, Real) or not 0 <= label_smoothing <= 1:
        raise ValueError(f"cross_entropy: label_smoothing must be between 0.0 and 1.0, got {label_smoothing!r}")
    if np.asarray(target.data if isinstance(target, Tensor) else target).dtype.kind == "f":
        return _soft_cross_entropy(input, target, weight, reduction, label_smoothing)
    picked = _TargetPicker("cross_entropy", input, target, weight, ignore_index, reduction)
    return picked.loss(LogSoftmax.apply(input, axis=picked.class_axis), label_smoothing)


def _soft_cross_entropy(input: Tensor, target, weight, reduction: str, label_smoothing: float) -> Tensor:
    """`cross_entropy` with class-probability targets of the input's shape."""
    _check_reduction(reduction, "cross_entropy")
    if not input.shape:
        raise ShapeError("cross_entropy: input must have a class dimension, got shape ()")
    if not isinstance(target, Tensor):
        target = Tensor(np.asarray(target, dtype=input.dtype))
    elif target.dtype != input.dtype and not target.requires_grad:
        target = Tensor(target.data.astype(input.dtype))
    class_axis = 0 if input.ndim == 1 else 1
    if target.shape == input.shape[:class_axis] + input.shape[class_axis + 1:]:
        raise TypeError(f"cross_entropy: targets must be integer class indices, got dtype {target.dtype} "
                        f"(class probabilities need the input's shape {input.shape})")
    if target.shape != input.shape:
        raise ShapeError(f"cross_entropy: probability targets of shape {target.shape} do not match input of "
                         f"shape {input.shape}; class probabilities need the input's shape")
    n_classes = input.shape[class_axis]
    if label_smoothing:
        target = target * (1 - label_smoothing) + label_smoothing / n_classes
    terms = LogSoftmax.apply(input, axis=class_axis) * target
    if weight is not None:
        class_weight = np.asarray(weight.data if isinstance(weight, Tensor) else weight, dtype=input.dtype)
        if class_weight.shape != (n_classes,):
            raise ShapeError(f"cross_entropy: weight of shape {class_weight.shape} does not match {n_classes} "
                             f"classes of input of shape {input.shape}")
        shape = [1] * input.ndim
        shape[class_axis] = n_classes
        terms = terms * class_weight.reshape(shape)
    per_target = -terms.sum(axis=class_axis)
    if reduction == "none":
        return per_target
    return per_target.sum() if reduction == "sum" else per_target.mean()


def nll_loss(input, target, weight=None, *, ignore_index: int | None = -100,
             reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of integer class targets under log-probabilities (e.g. from `log_softmax`).

    Parameters
    ----------
    input : Tensor
        Log-probabilities ``(N, C)``, ``(N, C, d1, ...)`` or ``(C,)``.
    target : Tensor or array_like of int
        Class indices, as in `cross_entropy`.
    weight, ignore_index, reduction
        As in `cross_entropy`.

    Returns
    -------
    Tensor: a scalar, or of the targets' shape for ``reduction="none"``.
    """
    input = _float_tensor(input, "nll_loss")
    picked = _TargetPicker("nll_loss", input, target, weight, ignore_index, reduction)
    return picked.loss(input, 0.0)


class _TargetPicker:
    """The validated targets of a classification loss and the constants that select them.

    ``index`` picks each target's log-probability by integer-array indexing (ignored
    targets pick class 0 and get weight 0); ``weights`` holds each counted target's
    class weight (1 without `weight`), ``total`` their sum (the divisor of ``"mean"``).
    """

    def __init__(self, fn, scores: Tensor, targets, weight, ignore_index, reduction):
        _check_reduction(reduction, fn)
        self.fn, self.reduction = fn, reduction
        shape, dtype = scores.shape, scores.dtype
        if not shape:
            raise ShapeError(f"{fn}: input must have a class dimension, got shape ()")
        self.class_axis = 0 if len(shape) == 1 else 1
        self.n_classes = shape[self.class_axis]
        targets = np.asarray(targets.data if isinstance(targets, Tensor) else targets)
        if targets.dtype.kind not in "iu":
            raise TypeError(f"{fn}: targets must be integer class indices, got dtype {targets.dtype}")
        expected = shape[:self.class_axis] + shape[self.class_axis + 1:]
        if targets.shape != expected:
            raise ShapeError(f"{fn}: targets of shape {targets.shape} do not match input of shape {shape}; "
                             f"expected targets of shape {expected}")
        counted = np.ones(targets.shape, dtype=bool) if ignore_index is None else targets != ignore_index
        out_of_range = counted & ((targets < 0) | (targets >= self.n_classes))
        if out_of_range.any():
            bad = targets[out_of_range].flat[0]
            raise IndexError(f"{fn}: target {bad} is out of bounds for {self.n_classes} classes")
        # without ignored targets the index is the targets array itself, which tl.jit sees as an input
        classes = targets if ignore_index is None else np.where(counted, targets, 0)

        if weight is None:
            self.class_weight = None
            weights = counted.astype(dtype)
        else:
            self.class_weight = np.asarray(weight.data if isinstance(weight, Tensor) else weight, dtype=dtype)
            if self.class_weight.shape != (self.n_classes,):
                raise ShapeError(f"{fn}: weight of shape {self.class_weight.shape} does not match "
                                 f"{self.n_classes} classes of input of shape {shape}")
            weights = np.where(counted, self.class_weight[classes], 0).astype(dtype)
        self.counted = counted
        self.weights = weights
        self.total = float(weights.sum())
        grids = np.indices(targets.shape, sparse=True)
        self.index = tuple(grids[:self.class_axis]) + (classes,) + tuple(grids[self.class_axis:])

    def loss(self, log_probs: Tensor, label_smoothing: float) -> Tensor:
        per_target = log_probs[self.index] * -self.weights
        if label_smoothing:
            # PyTorch's smoothing term: the (class-weighted) sum of all log-probabilities
            smoothing = log_probs if self.class_weight is None else log_probs * self._broadcast(self.class_weight)
            spread = (-label_smoothing / self.n_classes) * self.counted.astype(log_probs.dtype)
            per_target = per_target * (1 - label_smoothing) + smoothing.sum(axis=self.class_axis) * spread
        if self.reduction == "none":
            return per_target
        total = per_target.sum()
        if self.reduction == "sum":
            return total
        if self.total == 0:  # nothing counted: a NaN loss (0/0) with zero gradients, as PyTorch, and no warning
            return total * 0.0 + np.nan
        return total / self.total

    def _broadcast(self, per_class: np.ndarray) -> np.ndarray:
        """A ``(C,)`` array reshaped to broadcast along the class axis of the input."""
        shape = [1] * (self.counted.ndim + 1)
        shape[self.class_axis] = self.n_classes
        return per_class.reshape(shape)
