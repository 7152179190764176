"""Seeing backpropagation through time: per-step diagnostics of a recurrent model, from its graph.

`diagnose_bptt` runs a model once with a `tl.nn.recurrent.StepWatcher` installed. The watcher
sees every step of every recurrent layer (`tl.nn.RNN/LSTM/GRU` and `tl.nn.Recurrent` of any
cell) and keeps three things of it: the step's hidden state ``h_t`` (a tensor of the graph), the
gate activations the cell declares with `tl.nn.watch_gates`, and an *alias* of every parameter
the step reads, an identity op made inside the step. Then the graph answers:

- ``∂L/∂h_t`` is the gradient reaching the tensor ``h_t``;
- the share of a weight's gradient that flows in at step ``t`` is the gradient of the step's
  alias, so the shares sum to the weight's gradient (the weight is shared by the steps, its
  gradient is the sum over its uses: the BPTT sum, read off the graph, no formula);
- ``∂h_T/∂h_t`` comes from repeated vector-Jacobian products of ``h_T``.

Nothing is derived by hand; the model itself is not changed (a copy runs, in float64 by default).
"""
from __future__ import annotations

import copy
import html
import warnings
from dataclasses import dataclass, field

import numpy as np

from ..compare.gradients import _RandomLinearLoss
from ..compare.structure import flatten
from ..engine import Tensor, enable_grad, grad
from ..nn.module import Module
from ..nn.recurrent import StepWatcher, watch_steps

__all__ = ["diagnose_bptt", "gradient_flow", "BPTTDiagnosis", "BPTTWarning", "saturated", "SATURATION"]


class BPTTWarning(UserWarning):
    """Gradients that explode or vanish through time, found by `diagnose_bptt` (``tl.BPTTWarning``)."""


# What counts as saturated, per activation function: a sigmoid below 0.05 or above 0.95 and a tanh
# beyond ±0.95 pass back less than a tenth of the gradient; a relu at 0 passes none.
SATURATION = {
    "sigmoid": "σ < 0.05 or σ > 0.95",
    "tanh": "|tanh| > 0.95",
    "relu": "relu = 0",
}

# Ops that only move values around: the activation of a gate is looked for behind them.
_SHAPE_OPS = frozenset({"split", "unbind", "reshape", "getitem", "transpose"})

EXPLODING_GROWTH = 10.0   # more than this factor per 10 steps back in time
VANISHING_RATIO = 1e-6    # below this fraction of the last step's gradient norm


def saturated(values: np.ndarray, function: str | None) -> np.ndarray | None:
    """Which entries of gate `values` are saturated for the activation `function` (see
    `SATURATION`), as booleans of the same shape; None for another function."""
    values = np.asarray(values)
    if function == "sigmoid":
        return (values < 0.05) | (values > 0.95)
    if function == "tanh":
        return np.abs(values) > 0.95
    if function == "relu":
        return values <= 0
    return None


class PerSequence(dict):
    """A dict keyed by sequence (``"l0"``, ``"l0_reverse"``, ...) that, for a model with one
    sequence (one layer, one direction), also reads as that sequence's value: ``grad_h[t]``,
    ``gates["f"]``, ``np.asarray(grad_h)``."""

    def __missing__(self, key):
        if len(self) == 1:
            return next(iter(self.values()))[key]
        raise KeyError(f"diagnose_bptt: no sequence {key!r}; sequences: {', '.join(map(str, self))} "
                       f"(a key of the sequence itself works when there is only one)")

    def __array__(self, dtype=None, copy=None):
        if len(self) != 1:
            raise ValueError(f"diagnose_bptt: {len(self)} sequences ({', '.join(self)}); pick one by its key")
        return np.asarray(next(iter(self.values())), dtype=dtype)


@dataclass
class BPTTDiagnosis:
    """What `diagnose_bptt` found; every array is indexed by the time step ``t`` in input order.

    A *sequence* is one layer in one direction, keyed like PyTorch's parameter suffixes
    without the underscore: ``"l0"``, ``"l0_reverse"``, ``"l1"`` ... (prefixed by the module's
    name, ``"encoder/l0"``, when the model runs several recurrent modules).

    Attributes
    ----------
    steps : int
        T, the number of time steps.
    sequences : tuple of str
        The sequence keys, in the order they ran.
    loss : float
        The value of the loss that was backpropagated.
    grad_h : dict of str to ndarray (T,)
        ``‖∂L/∂h_t‖`` (Frobenius norm over the batch) per sequence: the whole gradient reaching
        the hidden state of step ``t``, from the output at ``t`` and from the later steps.
    jacobian_norm : dict of str to ndarray (T,)
        ``‖∂h_T/∂h_t‖₂`` per sequence, ``h_T`` its last hidden state (at ``t = 0`` for a reverse
        direction): the largest singular value of each sequence's Jacobian, largest over the
        batch. Exact: the Jacobian is assembled from one vector-Jacobian product of ``h_T`` per
        hidden unit (each gives that row of ``∂h_T/∂h_t`` for every ``t`` at once, the
        sequences of a batch being independent), then `numpy.linalg.norm` (ord 2). Empty when
        ``jacobian=False``.
    contribution : dict of str to ndarray (T, *shape)
        For each parameter read by the recurrent steps, by its name in the model
        (``weight_hh_l0``): the part of its gradient that flows in at step ``t``. Summed over
        ``t`` it is the parameter's gradient. Parameters used only outside the recurrence (a
        readout layer) are not listed.
    gates : dict of str to dict of str to ndarray (T, B, H)
        Per sequence, the activations of each gate its cell declares (`tl.nn.watch_gates`):
        ``i, f, g, o`` (LSTM), ``r, z, n`` (GRU), ``h`` (RNN), and any gate of a custom cell.
    gate_functions : dict of str to dict of str to str or None
        Per sequence and gate, the activation function that made it (``"sigmoid"``,
        ``"tanh"``, ``"relu"``), read from the graph; None for another op.
    saturation : dict of str to dict of str to ndarray (T,)
        Per sequence and gate, the share of units (over the batch) saturated at each step
        (`SATURATION`); NaN for a gate made by another function.
    warnings : tuple of str
        The exploding and vanishing gradients found (also raised once as a `BPTTWarning`).

    With one sequence (one layer, one direction) the sequence key can be left out:
    ``diag.grad_h[t]``, ``diag.jacobian_norm[t]``, ``diag.gates["f"]``,
    ``diag.saturation["f"]`` (each a `PerSequence`).
    """

    steps: int
    sequences: tuple
    loss: float
    grad_h: dict = field(default_factory=PerSequence)
    jacobian_norm: dict = field(default_factory=PerSequence)
    contribution: dict = field(default_factory=dict)
    gates: dict = field(default_factory=PerSequence)
    gate_functions: dict = field(default_factory=PerSequence)
    saturation: dict = field(default_factory=PerSequence)
    warnings: tuple = ()

    def contribution_norms(self) -> dict:
        """``{parameter name: (T,)}``, the Frobenius norm of each step's contribution."""
        return {name: np.sqrt((c.reshape(c.shape[0], -1) ** 2).sum(axis=1)) for name, c in self.contribution.items()}

    def to_dict(self) -> dict:
        """The numbers as JSON-ready lists: per sequence the gradient and Jacobian norms and
        the saturation of each gate, per parameter the norm of each step's contribution."""
        def listed(values):
            return [None if not np.isfinite(v) else float(v) for v in values]
        return {
            "steps": self.steps, "loss": self.loss, "warnings": list(self.warnings),
            "sequences": {sequence: {
                "grad_h": listed(self.grad_h[sequence]),
                "jacobian_norm": listed(self.jacobian_norm[sequence]) if sequence in self.jacobian_norm else None,
                "gates": {name: {"function": self.gate_functions[sequence][name], "saturation": listed(share)}
                          for name, share in self.saturation.get(sequence, {}).items()},
            } for sequence in self.sequences},
            "contribution_norms": {name: listed(norms) for name, norms in self.contribution_norms().items()},
        }

    def _steps_text(self) -> str:
        return f"{self.steps} step{'s' * (self.steps != 1)}"

    def __repr__(self) -> str:
        warned = f", {len(self.warnings)} warning{'s' * (len(self.warnings) != 1)}" if self.warnings else ""
        return (f"<BPTTDiagnosis: {self._steps_text()}, loss {self.loss:.6g}, sequences {', '.join(self.sequences)}, "
                f"{len(self.contribution)} parameters{warned}>")

    def _repr_html_(self) -> str:
        """The per-step table for a notebook, one per sequence; warnings on top, in bold."""
        warned = "".join(f"<p><b>warning: {html.escape(text)}</b></p>" for text in self.warnings)
        tables = []
        for sequence in self.sequences:
            gates = list(self.gates.get(sequence, {}))
            jacobian = self.jacobian_norm.get(sequence)
            head = ("<tr><th>t</th><th>‖∂L/∂h_t‖</th><th>‖∂h_T/∂h_t‖</th>"
                    + "".join(f"<th>sat {html.escape(g)}</th>" for g in gates) + "</tr>")
            rows = []
            for t in range(self.steps):
                cells = [str(t), f"{self.grad_h[sequence][t]:.4g}", "-" if jacobian is None else f"{jacobian[t]:.4g}"]
                cells += [f"{self.saturation[sequence][g][t]:.0%}" for g in gates]
                rows.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
            tables.append(f"<p><b>{html.escape(sequence)}</b></p><table><thead>{head}</thead>"
                          f"<tbody>{''.join(rows)}</tbody></table>")
        return (f"<div>{warned}<p>BPTT diagnosis: {self._steps_text()}, loss {self.loss:.6g}</p>"
                f"{''.join(tables)}</div>")

    def __str__(self) -> str:
        lines = [f"BPTT diagnosis: {self._steps_text()}, loss {self.loss:.6g}"]
        for sequence in self.sequences:
            gates = list(self.gates.get(sequence, {}))
            header = f"{'t':>4}  {'‖∂L/∂h_t‖':>11}  {'‖∂h_T/∂h_t‖':>12}" + "".join(f"  {'sat ' + g:>7}" for g in gates)
            lines += ["", f"{sequence}:", header]
            jacobian = self.jacobian_norm.get(sequence)
            for t in range(self.steps):
                row = f"{t:>4}  {self.grad_h[sequence][t]:>11.4g}  "
                row += f"{jacobian[t]:>12.4g}" if jacobian is not None else f"{'-':>12}"
                row += "".join(f"  {self.saturation[sequence][g][t]:>7.0%}" for g in gates)
                lines.append(row)
        if self.contribution:
            lines += ["", "contribution of each step to each gradient, ‖step t‖ / Σ_t ‖step t‖ (largest at):"]
            width = max(map(len, self.contribution))
            for name, norms in self.contribution_norms().items():
                total = norms.sum()
                share = norms / total if total > 0 else norms
                lines.append(f"  {name:<{width}}  first {share[0]:6.1%}  last {share[-1]:6.1%}  "
                             f"largest {share.max():6.1%} at t={int(share.argmax())}")
        if self.warnings:
            lines += ["", *(f"warning: {w}" for w in self.warnings)]
        return "\n".join(lines)


def diagnose_bptt(model: Module, x, loss_fn=None, state=None, *, dtype=np.float64, jacobian: bool = True,
                  seed: int = 0) -> BPTTDiagnosis:
    """Per-step view of backpropagation through time in `model`: gradient norms, Jacobian decay,
    each step's share of every weight's gradient, and gate activations with their saturation.

    Runs a copy of `model` (cast to `dtype`, in eval mode: dropout off; the model itself is not
    changed) once on `x`, with every recurrent layer watched (`tl.nn.recurrent.watch_steps`),
    and reads everything off the graph (see `BPTTDiagnosis` for what each result means). Warns
    once with a `BPTTWarning` when the gradient norm explodes (grows more than 10× per 10
    steps back in time) or vanishes (falls below 1e-6 of its value at the last step the loss reaches).

    Parameters
    ----------
    model : Module
        A recurrent module (`tl.nn.RNN`, `LSTM`, `GRU`, `Recurrent` of any cell, any number of
        layers and directions) or a module that runs some: its recurrence must go through them.
        Called as ``model(x)`` or ``model(x, state)``.
    x : array_like or Tensor
        The input, e.g. ``(T, B, D)``.
    loss_fn : callable, optional
        ``loss_fn(outputs) -> one-element Tensor``. Default, as in `tl.compare_gradients`: a
        random linear function of every output, ``sum_k sum(outputs_k * R_k)``, ``R_k ~ N(0, 1)``
        drawn from `seed`.
    state : array_like, Tensor or tuple of them, optional
        The initial state passed to the model (its own zeros when omitted).
    dtype : numpy floating dtype or None
        The dtype of the copy; float64 (the default) keeps gradients that vanish to 1e-30
        from rounding to zero. None keeps the model's.
    jacobian : bool
        Compute `BPTTDiagnosis.jacobian_norm` (one extra backward pass per hidden unit).
    seed : int
        Seeds the default loss.

    Returns
    -------
    BPTTDiagnosis

    Raises
    ------
    TypeError
        `model` is not a `tl.nn.Module`, or it returns something that is not Tensors.
    ValueError
        The model ran no recurrent layer or ran one twice, or the loss is not a one-element
        Tensor that depends on the outputs.

    Examples
    --------
    >>> import numpy as np, tinygrad_lstm as tl
    >>> _ = tl.manual_seed(0)
    >>> lstm = tl.nn.LSTM(3, 4)
    >>> diag = tl.viz.diagnose_bptt(lstm, np.random.default_rng(0).standard_normal((6, 2, 3)))
    >>> diag.sequences, diag.grad_h["l0"].shape, diag.gates["l0"]["f"].shape
    (('l0',), (6,), (6, 2, 4))
    >>> total = diag.contribution["weight_hh_l0"].sum(axis=0)   # the BPTT sum over the 6 steps
    >>> total.shape
    (16, 4)
    """
    if not isinstance(model, Module):
        raise TypeError(f"diagnose_bptt: model must be a tl.nn.Module, got {type(model).__name__}")
    work = copy.deepcopy(model)
    if dtype is not None:
        work.to(dtype)
    work.eval()
    dtype = np.dtype(dtype) if dtype is not None else _model_dtype(work)
    x = Tensor(_as_array(x, dtype, "x"))
    state = _as_state(state, dtype)

    watcher = _Watcher()
    with enable_grad(), watch_steps(watcher):
        outputs = work(x) if state is None else work(x, state)
    if not watcher.hidden:
        raise ValueError(f"diagnose_bptt: {type(model).__name__} ran no recurrent layer (tl.nn.RNN, LSTM, GRU or "
                         f"tl.nn.Recurrent), so there is no step to diagnose")
    for t in flatten(outputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"diagnose_bptt: the model must return Tensors (or tuples of them), got {type(t).__name__}")
    if loss_fn is None:
        rng = np.random.default_rng(seed)
        loss_fn = _RandomLinearLoss([rng.standard_normal(t.shape) for t in flatten(outputs)])
    loss = loss_fn(outputs)
    if not isinstance(loss, Tensor) or loss.size != 1:
        raise ValueError(f"diagnose_bptt: loss_fn must return a one-element Tensor, got {type(loss).__name__} "
                         f"of shape {np.shape(loss)}")
    if not loss.requires_grad:
        raise ValueError("diagnose_bptt: the loss does not depend on the model's parameters")

    keys = watcher.sequence_keys(work)
    steps = 1 + max(t for order in watcher.order.values() for t in order)
    diagnosis = BPTTDiagnosis(steps, tuple(keys.values()), float(loss.data.reshape(())))
    if jacobian:
        for sequence, key in keys.items():
            diagnosis.jacobian_norm[key] = _jacobian_norms(watcher.hidden[sequence], watcher.order[sequence], steps)
    _backpropagate(loss, watcher, keys, work, steps, diagnosis)
    for sequence, key in keys.items():
        values = watcher.gate_values.get(sequence, {})
        diagnosis.gates[key] = {name: _by_step(per_step, steps) for name, per_step in values.items()}
        diagnosis.gate_functions[key] = dict(watcher.gate_functions.get(sequence, {}))
        diagnosis.saturation[key] = {name: _saturation(diagnosis.gates[key][name], diagnosis.gate_functions[key][name])
                                     for name in diagnosis.gates[key]}
    diagnosis.warnings = tuple(_gradient_warnings(diagnosis.grad_h, {keys[s]: o for s, o in watcher.order.items()}))
    if diagnosis.warnings:
        warnings.warn("diagnose_bptt: " + "; ".join(diagnosis.warnings), BPTTWarning, stacklevel=2)
    return diagnosis


def gradient_flow(model: Module, x, y=None, loss_fn=None, state=None):
    """``‖∂L/∂h_t‖`` for every step ``t``: how much of the loss's gradient reaches each hidden state.

    The `BPTTDiagnosis.grad_h` of `diagnose_bptt` alone (a float64 copy of the model, where
    float32 would round the smallest norms to zero, in eval mode; the model itself is not
    touched), without its Jacobian passes and without a `BPTTWarning`: vanishing norms are what
    one looks at here. Any recurrent model or custom cell, stacked or bidirectional.

    Parameters
    ----------
    model : Module
        As for `diagnose_bptt`.
    x : array_like or Tensor
        The input, e.g. ``(T, B, D)``.
    y : array_like, optional
        A target of the model's output's shape: the loss is then the MSE against it.
    loss_fn : callable, optional
        ``loss_fn(outputs) -> one-element Tensor``, instead of `y`; with neither, the default
        loss of `diagnose_bptt`.
    state : optional
        The initial state passed to the model.

    Returns
    -------
    ndarray (T,)
        For a model of one layer in one direction.
    dict of str to ndarray (T,)
        Otherwise one entry per layer and direction, named by the suffix of its parameters
        (``"l0"``, ``"l0_reverse"``, ``"l1"``, ...). `tl.plots.plot_gradient_flow` draws either.

    Examples
    --------
    >>> import numpy as np, tinygrad_lstm as tl
    >>> _ = tl.manual_seed(0)
    >>> rnn = tl.nn.RNN(2, 4)
    >>> x, y = np.random.default_rng(0).standard_normal((2, 5, 3, 2))
    >>> tl.viz.gradient_flow(rnn, x, y=np.zeros((5, 3, 4))).shape
    (5,)
    """
    if y is not None and loss_fn is not None:
        raise TypeError("gradient_flow: give a target y or a loss_fn, not both")
    if y is not None:
        from ..nn.functional import mse_loss

        target = np.asarray(y, np.float64)
        loss_fn = lambda outputs: mse_loss(outputs[0] if isinstance(outputs, tuple) else outputs, target)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BPTTWarning)
        flow = diagnose_bptt(model, x, loss_fn=loss_fn, state=state, jacobian=False).grad_h
    return flow["l0"] if list(flow) == ["l0"] else dict(flow)


# --------------------------------------------------------------------------- the watcher
class _Watcher(StepWatcher):
    """Keeps, per sequence ``(module, layer, direction)``: each step's ``h_t``, gate values and
    parameter aliases."""

    def __init__(self):
        self.current = None        # (sequence, t) of the running step
        self.hidden = {}           # sequence -> {t: h_t Tensor}
        self.order = {}            # sequence -> [t, in the order the steps ran]
        self.aliases = []          # (parameter, t, alias Tensor)
        self.gate_values = {}      # sequence -> {gate: {t: array (B, H)}}
        self.gate_functions = {}   # sequence -> {gate: "sigmoid" | "tanh" | "relu" | None}
        self.modules = {}          # id(module) -> module, in the order they ran

    def begin_step(self, module, layer, direction, t):
        self.modules.setdefault(id(module), module)
        sequence = (id(module), layer, direction)
        if t in self.hidden.get(sequence, {}):  # its h_t would replace the first run's: the numbers would mix runs
            raise ValueError(f"diagnose_bptt: {type(module).__name__} ran step t={t} of layer {layer}"
                             f"{' (reverse)' if direction else ''} twice: the model calls it more than once; "
                             f"diagnose_bptt follows one run of each recurrent module")
        self.current = (sequence, t)

    def parameter(self, parameter):
        # An identity op (a view, no copy) made inside the step: its gradient is this step's share.
        alias = parameter.reshape(parameter.shape)
        self.aliases.append((parameter, self.current[1], alias))
        return alias

    def gates(self, activations):
        if self.current is None:  # a cell called outside a watched recurrence
            return
        sequence, t = self.current
        for name, value in activations.items():
            if not isinstance(value, Tensor):
                raise TypeError(f"watch_gates: gate {name!r} must be a Tensor, got {type(value).__name__}")
            self.gate_values.setdefault(sequence, {}).setdefault(name, {})[t] = np.array(value.data)
            self.gate_functions.setdefault(sequence, {})[name] = _activation_function(value)

    def end_step(self, state):
        sequence, t = self.current
        self.hidden.setdefault(sequence, {})[t] = state[0]
        self.order.setdefault(sequence, []).append(t)
        self.current = None

    def sequence_keys(self, model: Module) -> dict:
        """sequence -> its key: ``l0``, ``l0_reverse`` ..., prefixed by the module's name when several ran."""
        names = {id(m): name for name, m in model.named_modules()}
        several = len(self.modules) > 1
        keys = {}
        for sequence in self.hidden:
            module_id, layer, direction = sequence
            key = f"l{layer}" + ("_reverse" if direction else "")
            if several:
                key = f"{names.get(module_id) or type(self.modules[module_id]).__name__.lower()}/{key}"
            keys[sequence] = key
        return keys


def _activation_function(value: Tensor) -> str | None:
    """The op that made a gate's values, looking through reshapes and splits: sigmoid, tanh, relu or None."""
    node = value.grad_fn
    while node is not None and node.name in _SHAPE_OPS:
        edge = node.edges[0]
        node = None if edge is None or isinstance(edge[0], Tensor) else edge[0]
    return node.name if node is not None and node.name in SATURATION else None


# --------------------------------------------------------------------------- reading the graph
def _jacobian_norms(hidden: dict, order: list, steps: int) -> np.ndarray:
    """``‖∂h_T/∂h_t‖₂`` for every step, from one vector-Jacobian product of ``h_T`` per unit."""
    last = hidden[order[-1]]
    batch, units = _batch_units(last.shape)
    inputs = [hidden[t] for t in order]
    jacobians = np.zeros((len(order), batch, units, units))  # [step, sequence, unit of h_T, unit of h_t]
    for unit in range(units):
        seed = np.zeros((batch, units), last.dtype)
        seed[:, unit] = 1  # every sequence at once: the sequences of a batch do not interact
        grads = grad(last, inputs, grad_outputs=seed.reshape(last.shape), retain_graph=True, allow_unused=True)
        for k, g in enumerate(grads):
            if g is not None:
                jacobians[k, :, unit, :] = g.data.reshape(batch, units)
    norms = np.full(steps, np.nan)
    norms[order] = np.linalg.norm(jacobians, ord=2, axis=(-2, -1)).max(axis=1)
    return norms


def _backpropagate(loss: Tensor, watcher: _Watcher, keys: dict, model: Module, steps: int,
                   diagnosis: BPTTDiagnosis) -> None:
    """One backward pass of the loss to every ``h_t`` and every parameter alias."""
    hidden = [(sequence, t, h) for sequence, per_step in watcher.hidden.items() for t, h in per_step.items()]
    inputs = [h for _, _, h in hidden] + [alias for _, _, alias in watcher.aliases]
    grads = grad(loss, inputs, allow_unused=True)
    norms = {key: np.full(steps, np.nan) for key in keys.values()}
    for (sequence, t, _), g in zip(hidden, grads):
        norms[keys[sequence]][t] = 0.0 if g is None else float(np.linalg.norm(g.data))
    diagnosis.grad_h = PerSequence(norms)
    names = {id(p): name for name, p in model.named_parameters()}
    shares = {}
    for (parameter, t, _), g in zip(watcher.aliases, grads[len(hidden):]):
        total = shares.setdefault(id(parameter), np.zeros((steps, *parameter.shape), parameter.dtype))
        if g is not None:
            total[t] += g.data
    diagnosis.contribution = {name: shares[key] for key, name in names.items() if key in shares}


def _by_step(per_step: dict, steps: int) -> np.ndarray:
    """``{t: array}`` as one array with the steps first (NaN for a step without a value)."""
    first = next(iter(per_step.values()))
    stacked = np.full((steps, *first.shape), np.nan, dtype=np.result_type(first.dtype, np.float32))
    for t, value in per_step.items():
        stacked[t] = value
    return stacked


def _saturation(values: np.ndarray, function: str | None) -> np.ndarray:
    """The share of saturated units at each step (NaN when `function` has no saturation)."""
    mask = saturated(values, function)
    if mask is None:
        return np.full(values.shape[0], np.nan)
    return mask.reshape(values.shape[0], -1).mean(axis=1)


def _gradient_warnings(grad_h: dict, order: dict) -> list:
    """Exploding and vanishing ``‖∂L/∂h_t‖`` per sequence, each as one sentence naming the steps."""
    found = []
    for key, norms in grad_h.items():
        back = norms[order[key][::-1]]           # from the last step run, back in time
        steps_back = np.asarray(order[key][::-1])
        span = min(10, len(back) - 1)
        if span >= 1:
            # Growth from a step the loss does not reach (a zero gradient) is no growth: skip those.
            start = back[:-span]
            growth = np.divide(back[span:], start, out=np.zeros_like(start), where=start > 0)
            exploding = steps_back[span:][growth > EXPLODING_GROWTH ** (span / 10)]
            if exploding.size:
                found.append(f"exploding gradients in {key}: ‖∂L/∂h_t‖ grows more than "
                             f"{EXPLODING_GROWTH:g}× per 10 steps back in time, reaching t={_ranges(exploding)}")
        reached = np.flatnonzero(back > 0)  # the loss may reach only the earlier steps (a loss on outputs[:k])
        if reached.size:
            first = reached[0]
            vanishing = steps_back[first:][back[first:] < VANISHING_RATIO * back[first]]
            if vanishing.size:
                reference = "the last step's" if first == 0 else f"the last step the loss reaches, t={steps_back[first]}'s"
                found.append(f"vanishing gradients in {key}: ‖∂L/∂h_t‖ is below {VANISHING_RATIO:g} of {reference} "
                             f"({back[first]:.3g}) at t={_ranges(vanishing)}")
    return found


def _ranges(steps) -> str:
    """``[0, 1, 2, 5]`` -> ``"0-2, 5"``."""
    steps = sorted(int(t) for t in steps)
    parts, start = [], steps[0]
    for previous, t in zip(steps, steps[1:] + [None]):
        if t != previous + 1:
            parts.append(f"{start}" if start == previous else f"{start}-{previous}")
            start = t
    return ", ".join(parts)


# --------------------------------------------------------------------------- plumbing
def _model_dtype(model: Module) -> np.dtype:
    for parameter in model.parameters():
        return parameter.dtype
    return np.dtype(np.float32)


def _as_array(value, dtype, what: str) -> np.ndarray:
    """`value` (a Tensor or array_like of numbers) as a new array of `dtype`; a clear error otherwise."""
    if isinstance(value, Tensor):
        return np.array(value.data, dtype=dtype)
    if value is None or isinstance(value, (str, bytes)):  # numpy would make NaN of None, or fail on the text
        raise TypeError(f"diagnose_bptt: {what} must be a Tensor or an array of numbers, got {type(value).__name__}")
    try:
        return np.array(value, dtype=dtype)
    except (TypeError, ValueError) as e:
        raise type(e)(f"diagnose_bptt: {what} must be a Tensor or an array of numbers: {e}") from None


def _as_state(state, dtype):
    if state is None:
        return None
    if isinstance(state, (tuple, list)):
        return tuple(Tensor(_as_array(s, dtype, f"state[{i}]")) for i, s in enumerate(state))
    return Tensor(_as_array(state, dtype, "state"))


def _batch_units(shape: tuple) -> tuple:
    """``(B, H)`` of a hidden state ``(B, H)`` or ``(H,)`` (one sequence)."""
    return (1, shape[0]) if len(shape) == 1 else (int(np.prod(shape[:-1])), shape[-1])
