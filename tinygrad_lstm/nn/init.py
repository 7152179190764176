"""`tl.nn.init`: fill a tensor in place from an initialisation scheme, as ``torch.nn.init``.

Every function takes a floating-point `Tensor` (typically a `Parameter`), overwrites its
values in place under `no_grad` (bumping its version counter, so a graph that saved the old
values refuses to backpropagate, as in PyTorch), and returns it. The fan of a weight ``(out, in, *kernel)`` is
PyTorch's: ``fan_in = in * prod(kernel)``, ``fan_out = out * prod(kernel)``. Random draws come
from `generator` or the global one (`tl.manual_seed`), in float64 and then cast, so float32
and float64 tensors get the same draws.

Examples
--------
>>> import numpy as np, tinygrad_lstm as tl
>>> lstm = tl.nn.LSTM(4, 8)
>>> _ = tl.nn.init.orthogonal_(lstm.weight_hh_l0)    # (32, 8): orthonormal columns
>>> _ = tl.nn.init.zeros_(lstm.bias_hh_l0)
>>> q = lstm.weight_hh_l0.data
>>> bool(np.abs(q.T @ q - np.eye(8)).max() < 1e-5), bool(lstm.bias_hh_l0.data.any())
(True, False)
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from ..engine import Tensor, no_grad
from ..random import default_generator

__all__ = ["calculate_gain", "uniform_", "normal_", "constant_", "ones_", "zeros_", "xavier_uniform_",
           "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_"]

_LINEAR = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (PyTorch's table).

    ``linear``, ``conv*``, ``sigmoid``: 1; ``tanh``: 5/3; ``relu``: sqrt(2);
    ``leaky_relu``: sqrt(2 / (1 + negative_slope^2)), with `param` the negative slope
    (default 0.01); ``selu``: 3/4.

    Examples
    --------
    >>> calculate_gain("tanh")
    1.6666666666666667
    """
    if nonlinearity in _LINEAR or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, (int, float)):
            negative_slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _check(tensor, fn: str, floating: bool = True) -> Tensor:
    """`tensor` if it is a Tensor (of a floating dtype, for the random fills), else a TypeError."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{fn}: expected a tl.Tensor, got {type(tensor).__name__}")
    if floating and tensor.dtype.kind != "f":
        raise TypeError(f"{fn}: can only fill a floating-point tensor, got dtype {tensor.dtype}")
    return tensor


def _fill(tensor: Tensor, values) -> Tensor:
    """Write `values` into `tensor`, outside the graph; its version counter goes up."""
    with no_grad():
        return tensor.copy_(values)


def _fans(tensor: Tensor, fn: str) -> tuple:
    """PyTorch's ``(fan_in, fan_out)`` of a ``(out, in, *kernel)`` weight."""
    if tensor.ndim < 2:
        raise ValueError(f"{fn}: fan in and fan out cannot be computed for a tensor with fewer than 2 "
                         f"dimensions, got shape {tensor.shape}")
    receptive_field = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field


def _fan(tensor: Tensor, mode: str, fn: str) -> int:
    if not isinstance(mode, str) or mode.lower() not in ("fan_in", "fan_out"):
        raise ValueError(f"{fn}: mode {mode!r} is not supported, use 'fan_in' or 'fan_out'")
    fan_in, fan_out = _fans(tensor, fn)
    return fan_in if mode.lower() == "fan_in" else fan_out


def _rng(generator) -> np.random.Generator:
    return default_generator() if generator is None else generator


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator: np.random.Generator | None = None) -> Tensor:
    """Fill `tensor` from U(a, b); returns it."""
    _check(tensor, "uniform_")
    if not a <= b:
        raise ValueError(f"uniform_: expects a <= b, got a={a} and b={b}")
    return _fill(tensor, _rng(generator).uniform(a, b, tensor.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator: np.random.Generator | None = None) -> Tensor:
    """Fill `tensor` from N(mean, std^2); returns it."""
    _check(tensor, "normal_")
    if not std >= 0:
        raise ValueError(f"normal_: expects std >= 0, got {std}")
    return _fill(tensor, _rng(generator).normal(mean, std, tensor.shape))


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill `tensor` with `val` (cast to its dtype, as PyTorch: any dtype); returns it."""
    return _fill(_check(tensor, "constant_", floating=False), val)


def ones_(tensor: Tensor) -> Tensor:
    """Fill `tensor` with ones; returns it."""
    return _fill(_check(tensor, "ones_", floating=False), 1)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill `tensor` with zeros; returns it."""
    return _fill(_check(tensor, "zeros_", floating=False), 0)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator: np.random.Generator | None = None) -> Tensor:
    """Glorot & Bengio (2010): U(-a, a) with ``a = gain * sqrt(6 / (fan_in + fan_out))``; returns `tensor`."""
    fan_in, fan_out = _fans(_check(tensor, "xavier_uniform_"), "xavier_uniform_")
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return _fill(tensor, _rng(generator).uniform(-bound, bound, tensor.shape))


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator: np.random.Generator | None = None) -> Tensor:
    """Glorot & Bengio (2010): N(0, std^2) with ``std = gain * sqrt(2 / (fan_in + fan_out))``; returns `tensor`."""
    fan_in, fan_out = _fans(_check(tensor, "xavier_normal_"), "xavier_normal_")
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return _fill(tensor, _rng(generator).normal(0.0, std, tensor.shape))


def _kaiming_std(tensor: Tensor, a: float, mode: str, nonlinearity: str, fn: str) -> float | None:
    """``gain / sqrt(fan)``, or None (with PyTorch's warning) for a tensor without elements."""
    _check(tensor, fn)
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return None
    return calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode, fn))


def kaiming_uniform_(tensor: Tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                     generator: np.random.Generator | None = None) -> Tensor:
    """He et al. (2015): U(-bound, bound) with ``bound = gain * sqrt(3 / fan)``; returns `tensor`.

    Parameters
    ----------
    tensor : Tensor with at least 2 dimensions, ``(out, in, *kernel)``
    a : float
        The negative slope of the rectifier after this layer (only for ``"leaky_relu"``).
    mode : "fan_in" (keeps the forward variance) or "fan_out" (the backward)
    nonlinearity : str
        A name for `calculate_gain`; ``"relu"`` or ``"leaky_relu"`` (the default) is advised.
    generator : numpy Generator, optional
    """
    std = _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_uniform_")
    if std is None:
        return tensor
    bound = math.sqrt(3.0) * std
    return _fill(tensor, _rng(generator).uniform(-bound, bound, tensor.shape))


def kaiming_normal_(tensor: Tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                    generator: np.random.Generator | None = None) -> Tensor:
    """He et al. (2015): N(0, std^2) with ``std = gain / sqrt(fan)``; returns `tensor`.

    Arguments as `kaiming_uniform_`.
    """
    std = _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_normal_")
    if std is None:
        return tensor
    return _fill(tensor, _rng(generator).normal(0.0, std, tensor.shape))


def orthogonal_(tensor: Tensor, gain: float = 1, generator: np.random.Generator | None = None) -> Tensor:
    """A (semi-)orthogonal matrix times `gain` (Saxe et al. 2013); returns `tensor`.

    `tensor` ``(rows, *rest)`` is filled as a ``(rows, prod(rest))`` matrix whose rows (or
    columns, whichever are fewer) are orthonormal: the Q of the QR decomposition of a
    Gaussian matrix, with signs fixed so that it is uniformly distributed (Mezzadri 2007).
    The usual initialisation of recurrent weights ``weight_hh``.
    """
    _check(tensor, "orthogonal_")
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_: only tensors with 2 or more dimensions are supported, "
                         f"got shape {tensor.shape}")
    if tensor.size == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.size // rows
    gaussian = _rng(generator).standard_normal((rows, cols))
    if rows < cols:
        gaussian = gaussian.T
    q, r = np.linalg.qr(gaussian)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(tensor, (gain * q).reshape(tensor.shape))
