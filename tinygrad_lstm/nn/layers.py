"""Feed-forward layers: `Linear`, `Embedding`, `Dropout` (PyTorch's names, shapes and init)."""
from __future__ import annotations

import math

import numpy as np

from ..engine import Tensor
from ..random import default_generator
from . import functional
from .module import Module, Parameter, as_input, check_float_dtype, check_size

__all__ = ["Linear", "Embedding", "Dropout"]


def uniform_parameter(shape: tuple, bound: float, dtype: np.dtype) -> Parameter:
    """A parameter drawn from U(-bound, bound) with the global generator (see `tl.manual_seed`)."""
    return Parameter(default_generator().uniform(-bound, bound, shape), dtype=dtype)


def check_probability(p, owner: str, what: str = "dropout probability") -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating, np.integer)) or not 0 <= p <= 1:
        raise ValueError(f"{owner}: {what} must be a number in [0, 1], got {p!r}")
    return float(p)


class Linear(Module):
    """``y = x @ weight.T + bias``.

    Parameters
    ----------
    in_features, out_features : int
    bias : bool
    dtype : numpy floating dtype, default float32

    Shapes: input ``(..., in_features)``, output ``(..., out_features)``; ``weight``
    ``(out_features, in_features)`` and ``bias`` ``(out_features,)`` drawn from
    U(-1/sqrt(in_features), 1/sqrt(in_features)), as PyTorch.

    Examples
    --------
    >>> import numpy as np, tinygrad_lstm as tl
    >>> tl.nn.Linear(4, 2)(np.ones((3, 4))).shape
    (3, 2)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype=np.float32):
        super().__init__()
        self.in_features = check_size(in_features, "in_features", "Linear")
        self.out_features = check_size(out_features, "out_features", "Linear")
        self.dtype = check_float_dtype(dtype, "Linear")
        bound = 1 / math.sqrt(self.in_features)
        self.weight = uniform_parameter((self.out_features, self.in_features), bound, self.dtype)
        self.bias = uniform_parameter((self.out_features,), bound, self.dtype) if bias else None

    def forward(self, x) -> Tensor:
        """``(..., in_features)`` -> ``(..., out_features)``."""
        x = as_input(x, self.dtype, "Linear")
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(f"Linear: expected input with last dimension in_features={self.in_features}, "
                             f"got shape {x.shape}")
        y = x @ self.weight.T
        return y if self.bias is None else y + self.bias

    def extra_repr(self) -> str:
        dtype = "" if self.dtype == np.float32 else f", dtype={self.dtype}"
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}{dtype}"


class Embedding(Module):
    """A lookup table: integer indices of any shape ``(...)`` -> vectors ``(..., embedding_dim)``.

    Parameters
    ----------
    num_embeddings, embedding_dim : int
    padding_idx : int, optional
        As PyTorch: this row starts as zeros and gets no gradient, so training leaves it
        unchanged (negative values count from the end).
    dtype : numpy floating dtype, default float32

    ``weight`` ``(num_embeddings, embedding_dim)`` is drawn from N(0, 1), as PyTorch.
    Repeated indices accumulate their gradients.

    Examples
    --------
    >>> import tinygrad_lstm as tl
    >>> tl.nn.Embedding(10, 3)([[1, 2], [3, 3]]).shape
    (2, 2, 3)
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None, dtype=np.float32):
        super().__init__()
        self.num_embeddings = check_size(num_embeddings, "num_embeddings", "Embedding")
        self.embedding_dim = check_size(embedding_dim, "embedding_dim", "Embedding")
        if padding_idx is not None:
            if isinstance(padding_idx, bool) or not isinstance(padding_idx, (int, np.integer)):
                raise TypeError(f"Embedding: padding_idx must be an int or None, got {padding_idx!r}")
            if not -self.num_embeddings <= padding_idx < self.num_embeddings:
                raise ValueError(f"Embedding: padding_idx {padding_idx} is out of range for "
                                 f"num_embeddings={self.num_embeddings}")
            padding_idx = int(padding_idx) % self.num_embeddings
        self.padding_idx = padding_idx
        self.dtype = check_float_dtype(dtype, "Embedding")
        weight = default_generator().standard_normal((self.num_embeddings, self.embedding_dim))
        if padding_idx is not None:
            weight[padding_idx] = 0
        self.weight = Parameter(weight, dtype=self.dtype)

    def forward(self, indices) -> Tensor:
        """Integer indices ``(...)`` -> their rows of `weight`, ``(..., embedding_dim)``."""
        indices = np.asarray(indices.data if isinstance(indices, Tensor) else indices)
        if indices.dtype.kind not in "iu":
            raise TypeError(f"Embedding: indices must be integers, got dtype {indices.dtype}")
        if indices.size and (indices.min() < 0 or indices.max() >= self.num_embeddings):
            bad = indices.min() if indices.min() < 0 else indices.max()
            raise IndexError(f"Embedding: index {bad} is out of range for num_embeddings={self.num_embeddings}")
        rows = self.weight[indices]
        if self.padding_idx is not None and rows.requires_grad:
            keep = (indices != self.padding_idx)[..., None]
            rows.register_hook(lambda grad: grad * keep)  # the padding row gets no gradient
        return rows

    def extra_repr(self) -> str:
        padding = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        dtype = "" if self.dtype == np.float32 else f", dtype={self.dtype}"
        return f"{self.num_embeddings}, {self.embedding_dim}{padding}{dtype}"


class Dropout(Module):
    """In training mode, zero each element with probability `p` and scale the rest by 1/(1-p).

    The identity in evaluation mode (after ``eval()``). Masks come from the global
    generator, so ``tl.manual_seed`` makes them reproducible.

    Parameters
    ----------
    p : float in [0, 1]
    """

    def __init__(self, p: float = 0.5):
        super().__init__()
        self.p = check_probability(p, "Dropout")

    def forward(self, x) -> Tensor:
        """`x` with dropout applied in training mode; same shape."""
        return functional.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
