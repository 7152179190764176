"""Tensor factories (``zeros``, ``arange``, ``zeros_like``, ...) and the global random generator
(`manual_seed`). The default float dtype is float64, numpy's (PyTorch's is float32)."""
from __future__ import annotations

import numpy as np

from .engine import Tensor, tensor_method

__all__ = ["tensor", "zeros", "ones", "full", "arange", "eye", "randn", "rand", "zeros_like", "ones_like",
           "full_like", "randn_like", "rand_like", "manual_seed", "default_generator"]

_generator = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the generator used by `randn`, `rand`, parameter initialisation and dropout."""
    global _generator
    _generator = np.random.default_rng(seed)
    return _generator


def default_generator() -> np.random.Generator:
    """The global numpy `Generator` that `manual_seed` seeds."""
    return _generator


def _shape(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    if not all(isinstance(n, (int, np.integer)) and n >= 0 for n in shape):
        raise ValueError(f"shape must be non-negative integers, got {shape}")
    return tuple(int(n) for n in shape)


def _make(data: np.ndarray, requires_grad: bool) -> Tensor:
    return Tensor._wrap(data, None, 0).requires_grad_(requires_grad)


def zeros(*shape, dtype=np.float64, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros, e.g. ``zeros(2, 3)`` or ``zeros((2, 3))``. Default dtype float64, as numpy."""
    return _make(np.zeros(_shape(shape), dtype=dtype), requires_grad)


def ones(*shape, dtype=np.float64, requires_grad: bool = False) -> Tensor:
    """A tensor of ones."""
    return _make(np.ones(_shape(shape), dtype=dtype), requires_grad)


def full(shape, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    """A tensor of `shape` filled with `fill_value` (dtype inferred from it, as numpy)."""
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    return _make(_filled(_shape(shape), fill_value, dtype, "full"), requires_grad)


def _filled(shape, fill_value, dtype, factory: str) -> np.ndarray:
    """``np.full``, refusing a finite value that the dtype cannot hold, as PyTorch (RuntimeError)."""
    with np.errstate(over="ignore"):
        array = np.full(shape, fill_value, dtype=dtype)
    value = np.asarray(fill_value)
    if (array.dtype.kind == "f" and value.dtype.kind in "iuf" and np.isfinite(value).all()
            and not np.isfinite(array).all()):
        raise RuntimeError(f"{factory}: value {fill_value!r} cannot be converted to {array.dtype} without overflow")
    return array


def randn(*shape, dtype=np.float64, requires_grad: bool = False, generator: np.random.Generator | None = None) -> Tensor:
    """Standard normal samples from `generator` (default: the global one, see `manual_seed`)."""
    rng = generator if generator is not None else _generator
    return _make(rng.standard_normal(_shape(shape)).astype(_float_dtype(dtype, "randn"), copy=False), requires_grad)


def rand(*shape, dtype=np.float64, requires_grad: bool = False, generator: np.random.Generator | None = None) -> Tensor:
    """Uniform samples in [0, 1) from `generator` (default: the global one)."""
    rng = generator if generator is not None else _generator
    return _make(rng.random(_shape(shape)).astype(_float_dtype(dtype, "rand"), copy=False), requires_grad)


def _float_dtype(dtype, factory: str) -> np.dtype:
    # casting the float64 samples to an integer dtype would silently truncate them (to zeros, mostly)
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"{factory}: dtype must be a floating-point type, got {dtype}")
    return dtype


def tensor(data, dtype=None, requires_grad: bool = False) -> Tensor:
    """A new leaf tensor holding a copy of `data` (``torch.tensor``; the same as ``Tensor(data)``)."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def arange(start, end=None, step=1, *, dtype=None, requires_grad: bool = False) -> Tensor:
    """``start, start + step, ...`` up to `end` (excluded), as ``torch.arange``; ``arange(n)`` is
    ``0 .. n-1``. Integer arguments give int64, a float one float64 (numpy's inference)."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be non-zero")
    return _make(np.arange(start, end, step, dtype=dtype), requires_grad)


def eye(n: int, m: int | None = None, *, dtype=np.float64, requires_grad: bool = False) -> Tensor:
    """The ``(n, m)`` identity matrix (``m`` defaults to ``n``), as ``torch.eye``."""
    _shape((n,) if m is None else (n, m))
    return _make(np.eye(n, m, dtype=dtype), requires_grad)


def _like(input, dtype):
    if not isinstance(input, Tensor):
        input = Tensor(input)
    return input.shape, input.dtype if dtype is None else np.dtype(dtype)


def zeros_like(input, *, dtype=None, requires_grad: bool = False) -> Tensor:
    """Zeros of `input`'s shape and dtype (or `dtype`), as ``torch.zeros_like``."""
    shape, dtype = _like(input, dtype)
    return _make(np.zeros(shape, dtype=dtype), requires_grad)


def ones_like(input, *, dtype=None, requires_grad: bool = False) -> Tensor:
    """Ones of `input`'s shape and dtype (or `dtype`), as ``torch.ones_like``."""
    shape, dtype = _like(input, dtype)
    return _make(np.ones(shape, dtype=dtype), requires_grad)


def full_like(input, fill_value, *, dtype=None, requires_grad: bool = False) -> Tensor:
    """`fill_value` in `input`'s shape and dtype (or `dtype`), as ``torch.full_like``."""
    shape, dtype = _like(input, dtype)
    return _make(_filled(shape, fill_value, dtype, "full_like"), requires_grad)


def randn_like(input, *, dtype=None, requires_grad: bool = False,
               generator: np.random.Generator | None = None) -> Tensor:
    """Standard normal samples in `input`'s shape and float dtype (``torch.randn_like``)."""
    shape, dtype = _like(input, dtype)
    return randn(shape, dtype=_float_dtype(dtype, "randn_like"), requires_grad=requires_grad, generator=generator)


def rand_like(input, *, dtype=None, requires_grad: bool = False,
              generator: np.random.Generator | None = None) -> Tensor:
    """Uniform samples in [0, 1) in `input`'s shape and float dtype (``torch.rand_like``)."""
    shape, dtype = _like(input, dtype)
    return rand(shape, dtype=_float_dtype(dtype, "rand_like"), requires_grad=requires_grad, generator=generator)


@tensor_method
def new_zeros(self, *size, dtype=None, requires_grad: bool = False) -> Tensor:
    """Zeros of `size` with this tensor's dtype (or `dtype`): a new leaf (``torch.Tensor.new_zeros``),
    e.g. an initial state ``x.new_zeros(batch, hidden)``."""
    return _make(np.zeros(_shape(size), dtype=self.dtype if dtype is None else dtype), requires_grad)


@tensor_method
def new_ones(self, *size, dtype=None, requires_grad: bool = False) -> Tensor:
    """Ones of `size` with this tensor's dtype (or `dtype`) (``torch.Tensor.new_ones``)."""
    return _make(np.ones(_shape(size), dtype=self.dtype if dtype is None else dtype), requires_grad)


@tensor_method
def new_full(self, size, fill_value, *, dtype=None, requires_grad: bool = False) -> Tensor:
    """`fill_value` in `size` with this tensor's dtype (or `dtype`) (``torch.Tensor.new_full``)."""
    return _make(np.full(_shape((size,)), fill_value, dtype=self.dtype if dtype is None else dtype), requires_grad)


@tensor_method
def new_tensor(self, data, *, dtype=None, requires_grad: bool = False) -> Tensor:
    """A copy of `data` with this tensor's dtype (or `dtype`) (``torch.Tensor.new_tensor``)."""
    return Tensor(data, requires_grad=requires_grad, dtype=self.dtype if dtype is None else dtype)
