"""Recurrent cells and sequence modules with PyTorch's semantics, built from the engine's ops.

Backpropagation through time comes from the graph: nothing here defines a backward.

The equations live once, in `rnn_step`, `lstm_step` and `gru_step`, shared by the cells
(`RNNCell`, `LSTMCell`, `GRUCell`) and the sequence modules (`RNN`, `LSTM`, `GRU`). A step
receives the input's share of the gate pre-activations already computed: a sequence module
computes it for all time steps with one matmul per layer, a cell for its one step.

Graph layout of a sequence module, per layer and direction (scope ``lstm/l0``,
``lstm/l0_reverse``, ...): one input projection for all steps, unbound into per-step
tensors by one node, and ``weight_hh.T`` taken once; then per step (scope ``lstm/l0/t=3``,
``t`` counting in input order in both directions) one ``addmm`` (``input share + h @ W_hh^T``)
for all gates and one split. While a `tl.nn.recurrent.StepWatcher` is installed
(`tl.viz.diagnose_bptt`), each step projects its own input instead and reads every weight
through the watcher, so that each step's share of each weight's gradient is its own; the
step functions declare their gate activations with `watch_gates`.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from ..engine import Tensor, name_scope
from ..ops import addmm, concat, stack
from . import functional
from .layers import check_probability, uniform_parameter
from .module import Module, as_input, check_float_dtype, check_size
from .recurrent import NO_SEQUENCE, Recurrent, forward_packed, length_masks, masked_step, watch_gates, watching
from .utils.rnn import PackedSequence
# (Recurrent: its old home still imports it from here)

__all__ = ["rnn_step", "lstm_step", "gru_step", "RNNCell", "LSTMCell", "GRUCell", "RNN", "LSTM", "GRU",
           "RNNBase", "Recurrent", "detach_state"]


# --------------------------------------------------------------------------- the equations
def rnn_step(input_gates: Tensor, h: Tensor, weight_hh_t: Tensor, nonlinearity: str = "tanh") -> Tensor:
    """One Elman step: ``h' = act(input_gates + h @ W_hh^T)``.

    ``input_gates = x @ W_ih^T + b_ih + b_hh`` ``(B, H)``; ``h`` ``(B, H)``; ``weight_hh_t``
    is ``W_hh^T`` ``(H, H)``; ``act`` is tanh or relu. Unbatched ``(H,)`` works the same.
    """
    pre_activation = addmm(input_gates, h, weight_hh_t)
    h = pre_activation.tanh() if nonlinearity == "tanh" else pre_activation.relu()
    watch_gates(h=h)
    return h


def lstm_step(input_gates: Tensor, state: tuple, weight_hh_t: Tensor, weight_hr_t: Tensor | None = None) -> tuple:
    """One LSTM step, PyTorch's gate order::

        gates      = x W_ih^T + b_ih + b_hh  +  h W_hh^T     (input_gates is the first part)
        i, f, g, o = chunk(gates, 4)
        c'         = σ(f) * c + σ(i) * tanh(g)
        h'         = σ(o) * tanh(c')              (times W_hr^T with a projection)

    ``input_gates`` ``(B, 4H)``, ``state = (h, c)`` with ``c`` ``(B, H)`` and ``h`` ``(B, P)``,
    ``weight_hh_t`` ``(P, 4H)``, where ``P`` is ``H``, or the projection size when
    ``weight_hr_t`` ``(H, P)`` is given (PyTorch's ``proj_size``). Returns ``(h', c')``.
    """
    h, c = state
    i, f, g, o = addmm(input_gates, h, weight_hh_t).chunk(4, axis=-1)
    i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
    watch_gates(i=i, f=f, g=g, o=o)
    c = f * c + i * g
    h = o * c.tanh()
    if weight_hr_t is not None:
        h = h @ weight_hr_t
    return h, c


def gru_step(input_rz: Tensor, input_n: Tensor, h: Tensor, weight_hh_t: Tensor, bias_hh: Tensor | None) -> Tensor:
    """One GRU step, PyTorch's gate order and reset-gate placement::

        hidden_rz, hidden_n = split(h W_hh^T + b_hh, [2H, H])
        r, z = σ(x W_i{r,z}^T + b_i{r,z}  +  hidden_rz)     (input_rz is the first part)
        n    = tanh(x W_in^T + b_in  +  r * hidden_n)       (input_n is the first part)
        h'   = (1 - z) * n + z * h  =  n + z * (h - n)

    ``input_rz`` ``(B, 2H)``, ``input_n`` and ``h`` ``(B, H)``, ``weight_hh_t`` ``(H, 3H)``,
    ``bias_hh`` ``(3H,)`` or None. Returns ``h'``.
    """
    hidden_size = h.shape[-1]
    hidden = h @ weight_hh_t if bias_hh is None else addmm(bias_hh, h, weight_hh_t)
    hidden_rz, hidden_n = hidden.split([2 * hidden_size, hidden_size], axis=-1)
    r, z = (input_rz + hidden_rz).sigmoid().chunk(2, axis=-1)
    n = (input_n + r * hidden_n).tanh()
    watch_gates(r=r, z=z, n=n)
    return n + z * (h - n)


# --------------------------------------------------------------------------- cells
class RNNCellBase(Module):
    """Parameters shared by the cells: ``weight_ih (G*H, D)``, ``weight_hh (G*H, H)`` and the
    biases named in `bias_names` (``bias_ih``, ``bias_hh``), each ``(G*H,)``, all
    U(-1/sqrt(H), 1/sqrt(H)); G is `num_gates`.

    A cell follows the `Recurrent` protocol: ``forward(x, state=None) -> new state`` and
    ``init_state(batch_size) -> zero state``.
    """

    num_gates = 1
    bias_names = ("bias_ih", "bias_hh")

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, dtype=np.float32):
        super().__init__()
        name = type(self).__name__
        self.input_size = check_size(input_size, "input_size", name)
        self.hidden_size = check_size(hidden_size, "hidden_size", name)
        self.bias = bool(bias)
        self.dtype = check_float_dtype(dtype, name)
        rows, bound = self.num_gates * self.hidden_size, 1 / math.sqrt(self.hidden_size)
        self.weight_ih = uniform_parameter((rows, self.input_size), bound, self.dtype)
        self.weight_hh = uniform_parameter((rows, self.hidden_size), bound, self.dtype)
        for name in self.bias_names:
            setattr(self, name, uniform_parameter((rows,), bound, self.dtype) if bias else None)

    def init_state(self, batch_size: int | None = None):
        """Zeros ``(batch_size, H)``, or ``(H,)`` for None (unbatched); a pair for the LSTM."""
        shape = (self.hidden_size,) if batch_size is None else (batch_size, self.hidden_size)
        return Tensor._wrap(np.zeros(shape, self.dtype), None, 0)

    def _check(self, x, state, state_size: int):
        """Convert and validate ``x`` ``(B, D)`` or ``(D,)`` and the state tensors."""
        name = type(self).__name__
        x = as_input(x, self.dtype, name)
        if x.ndim not in (1, 2):
            raise ValueError(f"{name}: expected input of shape (B, {self.input_size}) or ({self.input_size},), "
                             f"got shape {x.shape}")
        if x.shape[-1] != self.input_size:
            raise ValueError(f"{name}: input size {x.shape[-1]} does not match input_size={self.input_size} "
                             f"(input shape {x.shape})")
        if state is None:
            state = self.init_state(None if x.ndim == 1 else x.shape[0])
            return x, state
        parts = (state,) if state_size == 1 else state
        if state_size > 1 and (not isinstance(state, (tuple, list)) or len(state) != state_size):
            raise TypeError(f"{name}: state must be a tuple (h, c), got {type(state).__name__}")
        expected = x.shape[:-1] + (self.hidden_size,)
        checked = []
        for label, part in zip(("h", "c"), parts):
            part = as_input(part, self.dtype, name, label)
            if part.shape != expected:
                raise ValueError(f"{name}: expected {label} of shape {expected} for input of shape {x.shape}, "
                                 f"got {part.shape}")
            checked.append(part)
        return x, (checked[0] if state_size == 1 else tuple(checked))

    def _input_gates(self, x: Tensor, bias: Tensor | None) -> Tensor:
        gates = x @ self.weight_ih.T
        return gates if bias is None else gates + bias

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            text += ", bias=False"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            text += f", nonlinearity={self.nonlinearity!r}"
        if self.dtype != np.float32:
            text += f", dtype={self.dtype}"
        return text


class RNNCell(RNNCellBase):
    """Elman cell: ``h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh)``, act tanh or relu.

    Parameters
    ----------
    input_size, hidden_size : int
    bias : bool
    nonlinearity : "tanh" or "relu"
    dtype : numpy floating dtype, default float32

    Call ``cell(x, h=None)`` with ``x`` ``(B, D)`` or ``(D,)``; returns ``h'`` ``(B, H)`` or ``(H,)``.
    """

    num_gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 dtype=np.float32):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, x, state=None) -> Tensor:
        """One step: ``x`` ``(B, D)`` or ``(D,)``, ``h`` of shape ``(B, H)`` or ``(H,)`` (zeros when None) -> ``h'``."""
        x, h = self._check(x, state, 1)
        bias = self.bias_ih + self.bias_hh if self.bias else None
        return rnn_step(self._input_gates(x, bias), h, self.weight_hh.T, self.nonlinearity)


class LSTMCell(RNNCellBase):
    """LSTM cell, gate order i, f, g, o (see `lstm_step` for the equations).

    Parameters
    ----------
    input_size, hidden_size : int
    bias : bool
    dtype : numpy floating dtype, default float32

    Call ``cell(x, (h, c)=None)`` with ``x`` ``(B, D)`` or ``(D,)``; returns ``(h', c')``.
    """

    num_gates = 4

    def init_state(self, batch_size: int | None = None) -> tuple:
        """``(h, c)`` of zeros, each ``(batch_size, H)`` or ``(H,)``."""
        return super().init_state(batch_size), super().init_state(batch_size)

    def forward(self, x, state=None) -> tuple:
        """One step: ``x`` ``(B, D)`` or ``(D,)``, ``state = (h, c)`` each ``(B, H)`` or ``(H,)`` -> ``(h', c')``."""
        x, state = self._check(x, state, 2)
        bias = self.bias_ih + self.bias_hh if self.bias else None
        return lstm_step(self._input_gates(x, bias), state, self.weight_hh.T)


class GRUCell(RNNCellBase):
    """GRU cell, gate order r, z, n, reset gate applied to ``W_hn h + b_hn`` (see `gru_step`).

    Parameters
    ----------
    input_size, hidden_size : int
    bias : bool
    dtype : numpy floating dtype, default float32

    Call ``cell(x, h=None)`` with ``x`` ``(B, D)`` or ``(D,)``; returns ``h'``.
    """

    num_gates = 3

    def forward(self, x, state=None) -> Tensor:
        """One step: ``x`` ``(B, D)`` or ``(D,)``, ``h`` of shape ``(B, H)`` or ``(H,)`` (zeros when None) -> ``h'``."""
        x, h = self._check(x, state, 1)
        input_gates = self._input_gates(x, self.bias_ih)
        input_rz, input_n = input_gates.split([2 * self.hidden_size, self.hidden_size], axis=-1)
        return gru_step(input_rz, input_n, h, self.weight_hh.T, self.bias_hh)


# --------------------------------------------------------------------------- sequence modules
class RNNBase(Module):
    """Multi-layer, optionally bidirectional recurrence with `num_gates` gates per step.

    Subclasses (`RNN`, `LSTM`, `GRU`) set `num_gates` and `state_size` (2 for the LSTM's
    ``(h, c)``) and define `_layer_inputs` (the per-step input share of the gates, once per
    layer) and `_step` (one step, calling the shared equations).
    """

    num_gates = 1
    state_size = 1

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 dtype=np.float32):
        super().__init__()
        name = type(self).__name__
        self.input_size = check_size(input_size, "input_size", name)
        self.hidden_size = check_size(hidden_size, "hidden_size", name)
        self.num_layers = check_size(num_layers, "num_layers", name)
        self.proj_size = check_size(proj_size, "proj_size", name, minimum=0)
        if self.proj_size and self.state_size != 2:
            raise ValueError(f"{name}: proj_size is only supported by LSTM, got proj_size={proj_size}")
        if self.proj_size >= self.hidden_size:
            raise ValueError(f"{name}: proj_size has to be smaller than hidden_size, got proj_size={proj_size} "
                             f"and hidden_size={hidden_size}")
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = check_probability(dropout, name)
        self.bidirectional = bool(bidirectional)
        self.dtype = check_float_dtype(dtype, name)
        if self.dropout > 0 and self.num_layers == 1:
            warnings.warn(f"{name}: dropout={self.dropout} acts between layers and has no effect with num_layers=1",
                          stacklevel=2)
        directions = ("", "_reverse") if self.bidirectional else ("",)
        rows, bound = self.num_gates * self.hidden_size, 1 / math.sqrt(self.hidden_size)
        output_size = self.proj_size or self.hidden_size
        # _weights[layer][direction] = names of (weight_ih, weight_hh, bias_ih, bias_hh, weight_hr), None if absent;
        # registered in PyTorch's order
        self._weights = []
        for layer in range(self.num_layers):
            layer_input = self.input_size if layer == 0 else output_size * len(directions)
            per_direction = []
            for suffix in directions:
                names = [f"weight_ih_l{layer}{suffix}", f"weight_hh_l{layer}{suffix}", None, None, None]
                setattr(self, names[0], uniform_parameter((rows, layer_input), bound, self.dtype))
                setattr(self, names[1], uniform_parameter((rows, output_size), bound, self.dtype))
                if self.bias:
                    names[2:4] = f"bias_ih_l{layer}{suffix}", f"bias_hh_l{layer}{suffix}"
                    for bias_name in names[2:4]:
                        setattr(self, bias_name, uniform_parameter((rows,), bound, self.dtype))
                if self.proj_size:
                    names[4] = f"weight_hr_l{layer}{suffix}"
                    setattr(self, names[4], uniform_parameter((self.proj_size, self.hidden_size), bound, self.dtype))
                per_direction.append(tuple(names))
            self._weights.append(per_direction)

    @property
    def num_directions(self) -> int:
        """2 for a bidirectional module, else 1."""
        return 2 if self.bidirectional else 1

    # -- the two hooks of a subclass ------------------------------------------------
    def _layer_inputs(self, x: Tensor, weights: tuple) -> tuple:
        """``(per-step inputs, constants)`` for one layer and direction; ``x`` ``(T, B, D)``."""
        raise NotImplementedError

    def _step(self, step_input, state: tuple, constants) -> tuple:
        """One step: the new state tuple (output first)."""
        raise NotImplementedError

    @staticmethod
    def _input_projection(x: Tensor, weight_ih: Tensor, bias: Tensor | None) -> Tensor:
        """``x @ weight_ih.T + bias`` for all steps in one matmul: ``(T, B, G*H)``."""
        steps, batch, features = x.shape
        projection = x.reshape(steps * batch, features) @ weight_ih.T
        if bias is not None:
            projection = projection + bias
        return projection.reshape(steps, batch, weight_ih.shape[0])

    # -- forward ------------------------------------------------------------------
    def forward(self, x, hx=None, lengths=None):
        """Run all layers over the sequence.

        Parameters
        ----------
        x : Tensor or array_like
            ``(T, B, input_size)``, ``(B, T, input_size)`` with ``batch_first``, or
            unbatched ``(T, input_size)``.
        hx : Tensor, or (h_0, c_0) for the LSTM, optional
            Each ``(num_layers * num_directions, B, H)`` (``(num_layers * num_directions, H)``
            unbatched); zeros when omitted.
        lengths : sequence of int, optional
            ``(B,)`` valid steps per sequence, each in ``[1, T]``. As PyTorch's packed
            sequences: outputs past a sequence's length are zero, ``h_n`` holds its last
            valid step, and the reverse direction starts at each sequence's last valid step.

        Returns
        -------
        output : Tensor
            ``(T, B, num_directions * H)`` (batch-first or unbatched like `x`).
        h_n : Tensor, or (h_n, c_n) for the LSTM
            ``(num_layers * num_directions, B, H)`` (``(num_layers * num_directions, H)`` unbatched).

        As PyTorch, `x` may be a `tl.nn.utils.rnn.PackedSequence` (then without `lengths`):
        `output` is then packed the same way, and `hx` and `h_n` are in the original batch order.
        """
        if isinstance(x, PackedSequence):
            return forward_packed(self, x, hx, lengths)
        name = type(self).__name__
        x = as_input(x, self.dtype, name)
        layout = "(B, T, D)" if self.batch_first else "(T, B, D)"
        if x.ndim not in (2, 3):
            raise ValueError(f"{name}: expected input with 3 dimensions {layout.replace('D', str(self.input_size))} "
                             f"or 2 (T, {self.input_size}), got shape {x.shape}")
        if x.shape[-1] != self.input_size:
            raise ValueError(f"{name}: input size {x.shape[-1]} does not match input_size={self.input_size} "
                             f"(input shape {x.shape})")
        batched = x.ndim == 3
        if not batched:
            x = x.reshape(x.shape[0], 1, self.input_size)
        elif self.batch_first:
            x = x.permute(1, 0, 2)
        steps, batch, _ = x.shape
        if steps == 0:
            raise ValueError(f"{name}: the input has no time steps (shape {x.shape})")
        initial = self._initial_states(hx, batch, batched)
        masks = self._masks(lengths, steps, batch, batched)

        layer_input, finals = x, []
        for layer in range(self.num_layers):
            outputs = []
            for direction, weight_names in enumerate(self._weights[layer]):
                index = layer * self.num_directions + direction
                with name_scope(f"l{layer}" + ("_reverse" if direction else "")):
                    weights = tuple(None if n is None else getattr(self, n) for n in weight_names)
                    output, final = self._run(layer_input, initial[index], weights, (layer, direction), masks)
                outputs.append(output)
                finals.append(final)
            layer_input = outputs[0] if len(outputs) == 1 else concat(outputs, axis=2)
            if self.training and self.dropout > 0 and layer < self.num_layers - 1:
                layer_input = functional.dropout(layer_input, self.dropout)

        output = layer_input
        h_n = [stack([final[k] for final in finals], axis=0) for k in range(self.state_size)]
        if not batched:
            output = output.reshape(steps, output.shape[-1])
            h_n = [h.reshape(h.shape[0], h.shape[-1]) for h in h_n]
        elif self.batch_first:
            output = output.permute(1, 0, 2)
        return output, (h_n[0] if self.state_size == 1 else tuple(h_n))

    def _run(self, x: Tensor, state: tuple, weights: tuple, where: tuple, masks) -> tuple:
        """One layer in one direction, ``where = (layer, direction)``: ``(outputs (T, B, H), final state tuple)``.

        Watched (`tl.nn.recurrent.watch_steps`), every step projects its own input and reads the
        weights through the watcher, so each step's share of every weight's gradient is its own.
        """
        watcher = watching()
        if watcher is None:
            step_inputs, constants = self._layer_inputs(x, weights)
        steps = x.shape[0]
        outputs = [None] * steps
        zeros = None
        for t in (reversed(range(steps)) if where[1] else range(steps)):
            mask = None if masks is None else masks[t]
            if mask is NO_SEQUENCE:
                # No sequence has step t: the state carries over, the output is zero.
                if zeros is None:
                    zeros = Tensor._wrap(np.zeros(state[0].shape, self.dtype), None, 0)
                outputs[t] = zeros
                continue
            with name_scope(f"t={t}"):
                if watcher is None:
                    state, outputs[t] = masked_step(state, self._step(step_inputs[t], state, constants), mask)
                    continue
                watcher.begin_step(self, *where, t)
                read = tuple(None if w is None else watcher.parameter(w) for w in weights)
                step_input, constants = self._layer_inputs(x[t:t + 1], read)
                new_state = self._step(step_input[0], state, constants)
                watcher.end_step(new_state)
                state, outputs[t] = masked_step(state, new_state, mask)
        return stack(outputs, axis=0), state

    @property
    def _state_sizes(self) -> tuple:
        """Features of each state part: ``h`` (``proj_size`` when projected), then ``c`` for the LSTM."""
        return (self.proj_size or self.hidden_size, self.hidden_size)[:self.state_size]

    def init_state(self, batch_size: int | None = None):
        """The zero initial state, as `forward` takes it in ``hx``.

        Each part is ``(num_layers * num_directions, batch_size, H)``, or
        ``(num_layers * num_directions, H)`` for None (unbatched); the LSTM's is a tuple
        ``(h_0, c_0)`` whose ``h_0`` has ``proj_size`` features when projected.
        """
        count = self.num_layers * self.num_directions
        leading = (count,) if batch_size is None else (count, batch_size)
        parts = tuple(Tensor._wrap(np.zeros(leading + (size,), self.dtype), None, 0) for size in self._state_sizes)
        return parts if self.state_size > 1 else parts[0]

    def _initial_states(self, hx, batch: int, batched: bool) -> list:
        """One state tuple per layer and direction, from `hx` or `init_state`."""
        name = type(self).__name__
        count = self.num_layers * self.num_directions
        if hx is None:
            zeros = self.init_state(batch)
            # One zero tensor per state part, shared by every layer and direction (one leaf of the graph).
            return [tuple(part[0] for part in (zeros if self.state_size > 1 else (zeros,)))] * count
        sizes = self._state_sizes
        if self.state_size > 1:
            if not isinstance(hx, (tuple, list)) or len(hx) != self.state_size:
                raise TypeError(f"{name}: hx must be a tuple (h_0, c_0), got {type(hx).__name__}")
            parts = hx
        else:
            parts = (hx,)
        per_layer = []
        for label, part, size in zip(("h_0", "c_0"), parts, sizes):
            part = as_input(part, self.dtype, name, label)
            expected = (count, batch, size) if batched else (count, size)
            if part.shape != expected:
                raise ValueError(f"{name}: expected {label} of shape {expected}, got {part.shape}")
            if not batched:
                part = part.reshape(count, 1, size)
            per_layer.append(part.unbind(0))
        return list(zip(*per_layer))

    def _masks(self, lengths, steps: int, batch: int, batched: bool):
        """Per step: None (all sequences valid), `NO_SEQUENCE`, or a ``(B, 1)`` 0/1 mask."""
        if lengths is not None and not batched:
            raise ValueError(f"{type(self).__name__}: lengths needs a batched input (3 dimensions)")
        return length_masks(lengths, steps, batch, self.dtype, type(self).__name__)

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            text += f", nonlinearity={self.nonlinearity!r}"
        if not self.bias:
            text += ", bias=False"
        if self.batch_first:
            text += ", batch_first=True"
        if self.dropout:
            text += f", dropout={self.dropout}"
        if self.bidirectional:
            text += ", bidirectional=True"
        if self.proj_size:
            text += f", proj_size={self.proj_size}"
        if self.dtype != np.float32:
            text += f", dtype={self.dtype}"
        return text


def _combined_bias(bias_ih: Tensor | None, bias_hh: Tensor | None) -> Tensor | None:
    """``b_ih + b_hh``, added once to the input projection instead of once per step."""
    return None if bias_ih is None else bias_ih + bias_hh


class RNN(RNNBase):
    """Elman RNN: ``h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`` per layer, act tanh or relu.

    Parameters
    ----------
    input_size, hidden_size : int
    num_layers : int
    nonlinearity : "tanh" or "relu"
    bias, batch_first, bidirectional : bool
    dropout : float
        Dropout on the outputs of every layer but the last, in training mode.
    dtype : numpy floating dtype, default float32

    Call ``rnn(x, h_0=None, lengths=None) -> (output, h_n)``; see `RNNBase.forward`.
    Parameters ``weight_ih_l{k}`` ``(H, D_k)``, ``weight_hh_l{k}`` ``(H, H)``, ``bias_ih_l{k}``,
    ``bias_hh_l{k}`` ``(H,)``, with suffix ``_reverse`` for the backward direction.

    Examples
    --------
    >>> import tinygrad_lstm as tl
    >>> rnn = tl.nn.RNN(4, 8, num_layers=2)
    >>> output, h_n = rnn(tl.randn(5, 3, 4, dtype="float32"))
    >>> output.shape, h_n.shape
    ((5, 3, 8), (2, 3, 8))
    """

    num_gates = 1

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 dtype=np.float32):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, dtype=dtype)
        self.nonlinearity = nonlinearity

    def _layer_inputs(self, x, weights):
        weight_ih, weight_hh, bias_ih, bias_hh, _ = weights
        projection = self._input_projection(x, weight_ih, _combined_bias(bias_ih, bias_hh))
        return projection.unbind(0), weight_hh.T

    def _step(self, step_input, state, weight_hh_t):
        return (rnn_step(step_input, state[0], weight_hh_t, self.nonlinearity),)


class LSTM(RNNBase):
    """Multi-layer LSTM, gate order i, f, g, o (equations in `lstm_step`).

    Parameters
    ----------
    input_size, hidden_size : int
    num_layers : int
    bias, batch_first, bidirectional : bool
    dropout : float
        Dropout on the outputs of every layer but the last, in training mode.
    proj_size : int
        As PyTorch: when positive (and below `hidden_size`), ``h_t`` is projected to this
        size by ``weight_hr_l{k}``; ``output``, ``h_0`` and ``h_n`` then have ``proj_size``
        features and ``c`` keeps ``hidden_size``.
    dtype : numpy floating dtype, default float32

    Call ``lstm(x, (h_0, c_0)=None, lengths=None) -> (output, (h_n, c_n))``; see
    `RNNBase.forward`. Parameters ``weight_ih_l{k}`` ``(4H, D_k)``, ``weight_hh_l{k}``
    ``(4H, P)``, ``bias_ih_l{k}``, ``bias_hh_l{k}`` ``(4H,)`` and, with a projection,
    ``weight_hr_l{k}`` ``(P, H)``, suffix ``_reverse``; ``P`` is ``proj_size`` or ``H``.

    Examples
    --------
    >>> import tinygrad_lstm as tl
    >>> lstm = tl.nn.LSTM(4, 8, bidirectional=True, batch_first=True)
    >>> output, (h_n, c_n) = lstm(tl.randn(3, 5, 4, dtype="float32"))
    >>> output.shape, h_n.shape, c_n.shape
    ((3, 5, 16), (2, 3, 8), (2, 3, 8))
    """

    num_gates = 4
    state_size = 2

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 dtype=np.float32):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, proj_size,
                         dtype)

    def _layer_inputs(self, x, weights):
        weight_ih, weight_hh, bias_ih, bias_hh, weight_hr = weights
        projection = self._input_projection(x, weight_ih, _combined_bias(bias_ih, bias_hh))
        return projection.unbind(0), (weight_hh.T, None if weight_hr is None else weight_hr.T)

    def _step(self, step_input, state, constants):
        return lstm_step(step_input, state, *constants)


class GRU(RNNBase):
    """Multi-layer GRU, gate order r, z, n (equations in `gru_step`).

    Parameters
    ----------
    input_size, hidden_size : int
    num_layers : int
    bias, batch_first, bidirectional : bool
    dropout : float
        Dropout on the outputs of every layer but the last, in training mode.
    dtype : numpy floating dtype, default float32

    Call ``gru(x, h_0=None, lengths=None) -> (output, h_n)``; see `RNNBase.forward`.
    Parameters ``weight_ih_l{k}`` ``(3H, D_k)``, ``weight_hh_l{k}`` ``(3H, H)``,
    ``bias_ih_l{k}``, ``bias_hh_l{k}`` ``(3H,)``, suffix ``_reverse``.

    Examples
    --------
    >>> import tinygrad_lstm as tl
    >>> gru = tl.nn.GRU(4, 8)
    >>> output, h_n = gru(tl.randn(5, 4, dtype="float32"))  # unbatched (T, D)
    >>> output.shape, h_n.shape
    ((5, 8), (1, 8))
    """

    num_gates = 3

    def _layer_inputs(self, x, weights):
        weight_ih, weight_hh, bias_ih, bias_hh, _ = weights
        projection = self._input_projection(x, weight_ih, bias_ih)
        input_rz, input_n = projection.split([2 * self.hidden_size, self.hidden_size], axis=2)
        return tuple(zip(input_rz.unbind(0), input_n.unbind(0))), (weight_hh.T, bias_hh)

    def _step(self, step_input, state, constants):
        input_rz, input_n = step_input
        weight_hh_t, bias_hh = constants
        return (gru_step(input_rz, input_n, state[0], weight_hh_t, bias_hh),)


def detach_state(state):
    """Cut a recurrent state out of the graph: a Tensor, or a (nested) tuple/list of them.

    Truncated backpropagation through time: run a long sequence in chunks, backpropagate
    each chunk, and carry the state over without its history.

    Examples
    --------
    >>> import tinygrad_lstm as tl
    >>> lstm = tl.nn.LSTM(2, 3)
    >>> state = None
    >>> for chunk in tl.randn(12, 1, 2, dtype="float32").chunk(3, dim=0):
    ...     output, state = lstm(chunk, state)
    ...     output.sum().backward()
    ...     state = tl.nn.detach_state(state)
    >>> state[0].requires_grad
    False
    """
    if state is None:
        return None
    if isinstance(state, Tensor):
        return state.detach()
    if isinstance(state, (tuple, list)):
        parts = [detach_state(s) for s in state]
        return type(state)(parts) if type(state) in (tuple, list) else type(state)(*parts)  # namedtuples
    raise TypeError(f"detach_state: expected a Tensor or a tuple of Tensors, got {type(state).__name__}")
