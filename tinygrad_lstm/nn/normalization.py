"""`LayerNorm` (Ba et al. 2016) with PyTorch's semantics, parameters and initialisation."""
from __future__ import annotations

import numpy as np

from ..engine import Tensor
from . import functional
from .functional import normalized_shape_tuple
from .module import Module, Parameter, as_input, check_float_dtype

__all__ = ["LayerNorm"]


class LayerNorm(Module):
    """Normalise over the trailing `normalized_shape` dimensions, then scale and shift::

        y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias

    The mean and the biased variance (as PyTorch) are taken over the last
    ``len(normalized_shape)`` dimensions of each input; see `functional.layer_norm`.

    Parameters
    ----------
    normalized_shape : int or sequence of int
        The trailing shape to normalise, e.g. ``4 * hidden_size`` for LSTM gate pre-activations.
    eps : float
        Added to the variance.
    elementwise_affine : bool
        Learn ``weight`` (ones at first) and, with `bias`, ``bias`` (zeros at first), both of
        shape `normalized_shape`.
    bias : bool
        Whether there is a ``bias`` (only with `elementwise_affine`).
    dtype : numpy floating dtype, default float32

    Shapes: input ``(*, *normalized_shape)``, output the same.

    Examples
    --------
    >>> import numpy as np, tinygrad_lstm as tl
    >>> norm = tl.nn.LayerNorm(3)
    >>> y = norm(np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 6.0]]))
    >>> np.round(y.data, 4)
    array([[-1.2247,  0.    ,  1.2247],
           [-0.7071, -0.7071,  1.4142]], dtype=float32)
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True,
                 dtype=np.float32):
        super().__init__()
        self.normalized_shape = normalized_shape_tuple(normalized_shape, "LayerNorm")
        self.eps = float(eps)
        self.elementwise_affine = bool(elementwise_affine)
        self.dtype = check_float_dtype(dtype, "LayerNorm")
        affine = self.elementwise_affine
        self.weight = Parameter(np.ones(self.normalized_shape), dtype=self.dtype) if affine else None
        self.bias = Parameter(np.zeros(self.normalized_shape), dtype=self.dtype) if affine and bias else None

    def forward(self, x) -> Tensor:
        """``(*, *normalized_shape)`` -> the same shape, normalised."""
        x = as_input(x, self.dtype, "LayerNorm")
        return functional.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        text = f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
        if self.elementwise_affine and self.bias is None:
            text += ", bias=False"
        if self.dtype != np.float32:
            text += f", dtype={self.dtype}"
        return text
