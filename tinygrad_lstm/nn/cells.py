"""Reference LSTM variants from the literature, composed from ops: `PeepholeLSTMCell` and
`LayerNormLSTMCell`.

They follow the cell protocol of `Recurrent` (``forward(x_t, state) -> state``,
``init_state(batch_size)``, ``input_size``, ``hidden_size``) and the conventions of
`LSTMCell`: state ``(h, c)``, gate order i, f, g, o in the rows of the weights, weights drawn
from U(-1/sqrt(H), 1/sqrt(H)), a ``dtype`` keyword. Backpropagation through time comes from
the graph.
"""
from __future__ import annotations

import numpy as np

from ..ops import addmm
from .layers import uniform_parameter
from .normalization import LayerNorm
from .recurrent import watch_gates
from .rnn import RNNCellBase

__all__ = ["PeepholeLSTMCell", "LayerNormLSTMCell"]


class _LSTMStateCell(RNNCellBase):
    """A four-gate cell whose state is ``(h, c)``, both ``(B, H)``."""

    num_gates = 4

    def init_state(self, batch_size: int | None = None) -> tuple:
        """``(h, c)`` of zeros, each ``(batch_size, H)`` or ``(H,)``."""
        return super().init_state(batch_size), super().init_state(batch_size)


class PeepholeLSTMCell(_LSTMStateCell):
    """LSTM whose gates also see the cell state (Gers & Schmidhuber 2000; Graves 2013, eq. 7-11)::

        i  = σ(x W_ii^T + b_ii + h W_hi^T + b_hi + w_ci ⊙ c)
        f  = σ(x W_if^T + b_if + h W_hf^T + b_hf + w_cf ⊙ c)
        g  = tanh(x W_ig^T + b_ig + h W_hg^T + b_hg)
        c' = f ⊙ c + i ⊙ g
        o  = σ(x W_io^T + b_io + h W_ho^T + b_ho + w_co ⊙ c')
        h' = o ⊙ tanh(c')

    The input and forget gates look at the previous cell state, the output gate at the new one.

    Parameters
    ----------
    input_size, hidden_size : int
    bias : bool
    dtype : numpy floating dtype, default float32

    Parameters ``weight_ih (4H, D)``, ``weight_hh (4H, H)``, ``bias_ih``, ``bias_hh (4H,)``
    (rows in gate order i, f, g, o, as `LSTMCell`) and the peephole weights ``weight_ci``,
    ``weight_cf``, ``weight_co (H,)``; all U(-1/sqrt(H), 1/sqrt(H)).

    Call ``cell(x, (h, c)=None)`` with ``x`` ``(B, D)`` or ``(D,)``; returns ``(h', c')``.

    Examples
    --------
    >>> import tinygrad_lstm as tl
    >>> cell = tl.nn.PeepholeLSTMCell(3, 4)
    >>> h, c = cell(tl.randn(2, 3, dtype="float32"))
    >>> h.shape, c.shape, cell.weight_ci.shape
    ((2, 4), (2, 4), (4,))
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, dtype=np.float32):
        super().__init__(input_size, hidden_size, bias, dtype)
        bound = 1 / np.sqrt(self.hidden_size)
        self.weight_ci = uniform_parameter((self.hidden_size,), bound, self.dtype)
        self.weight_cf = uniform_parameter((self.hidden_size,), bound, self.dtype)
        self.weight_co = uniform_parameter((self.hidden_size,), bound, self.dtype)

    def forward(self, x, state=None) -> tuple:
        """One step: ``x`` ``(B, D)`` or ``(D,)``, ``state = (h, c)`` each ``(B, H)`` or ``(H,)`` -> ``(h', c')``."""
        x, (h, c) = self._check(x, state, 2)
        bias = self.bias_ih + self.bias_hh if self.bias else None
        i, f, g, o = addmm(self._input_gates(x, bias), h, self.weight_hh.T).chunk(4, axis=-1)
        i = (i + self.weight_ci * c).sigmoid()
        f = (f + self.weight_cf * c).sigmoid()
        g = g.tanh()
        c = f * c + i * g
        o = (o + self.weight_co * c).sigmoid()
        watch_gates(i=i, f=f, g=g, o=o)
        return o * c.tanh(), c


class LayerNormLSTMCell(_LSTMStateCell):
    """LSTM with layer normalisation (Ba, Kiros & Hinton 2016, section 3.1)::

        gates      = LN_ih(x W_ih^T) + LN_hh(h W_hh^T) + b     (each LN over the 4H pre-activations)
        i, f, g, o = chunk(gates, 4)
        c'         = σ(f) ⊙ c + σ(i) ⊙ tanh(g)
        h'         = σ(o) ⊙ tanh(LN_c(c'))

    The state carries the unnormalised ``c'``; ``LN_c`` only shapes the output.

    Parameters
    ----------
    input_size, hidden_size : int
    bias : bool
        Whether there is the bias ``b``.
    eps : float
        The `LayerNorm` epsilon of all three normalisations.
    dtype : numpy floating dtype, default float32

    Parameters ``weight_ih (4H, D)``, ``weight_hh (4H, H)``, ``bias (4H,)`` (rows in gate order
    i, f, g, o; U(-1/sqrt(H), 1/sqrt(H))) and the `LayerNorm` submodules ``ln_ih``, ``ln_hh``
    (over 4H) and ``ln_c`` (over H), whose ``weight`` starts at ones and ``bias`` at zeros.

    Call ``cell(x, (h, c)=None)`` with ``x`` ``(B, D)`` or ``(D,)``; returns ``(h', c')``.

    Examples
    --------
    >>> import tinygrad_lstm as tl
    >>> cell = tl.nn.LayerNormLSTMCell(3, 4)
    >>> [name for name, _ in cell.named_parameters()]
    ['weight_ih', 'weight_hh', 'bias', 'ln_ih.weight', 'ln_ih.bias', 'ln_hh.weight', 'ln_hh.bias', 'ln_c.weight', 'ln_c.bias']
    """

    bias_names = ("bias",)

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, eps: float = 1e-5, dtype=np.float32):
        super().__init__(input_size, hidden_size, bias, dtype)
        self.eps = float(eps)
        self.ln_ih = LayerNorm(4 * self.hidden_size, eps=self.eps, dtype=self.dtype)
        self.ln_hh = LayerNorm(4 * self.hidden_size, eps=self.eps, dtype=self.dtype)
        self.ln_c = LayerNorm(self.hidden_size, eps=self.eps, dtype=self.dtype)

    def forward(self, x, state=None) -> tuple:
        """One step: ``x`` ``(B, D)`` or ``(D,)``, ``state = (h, c)`` each ``(B, H)`` or ``(H,)`` -> ``(h', c')``."""
        x, (h, c) = self._check(x, state, 2)
        gates = self.ln_ih(x @ self.weight_ih.T) + self.ln_hh(h @ self.weight_hh.T)
        if self.bias is not None:
            gates = gates + self.bias
        i, f, g, o = gates.chunk(4, axis=-1)
        i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
        watch_gates(i=i, f=f, g=g, o=o)
        c = f * c + i * g
        return o * self.ln_c(c).tanh(), c

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.bias is None:
            text += ", bias=False"
        if self.eps != 1e-5:
            text += f", eps={self.eps}"
        if self.dtype != np.float32:
            text += f", dtype={self.dtype}"
        return text
