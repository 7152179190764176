"""One call that checks every gradient of a recurrent model three ways: `compare_gradients`.

For every parameter, the input and the initial state(s), the gradient that autograd
computes by backpropagating through the unrolled graph is compared with

- ``manual``: the hand-written BPTT of `tinygrad_lstm.manual` (built in for `nn.RNN`,
  `nn.LSTM`, `nn.GRU`, the three cells and `nn.Recurrent` around one of them), or a
  function you supply for your own cell;
- ``numerical``: central differences of the loss, in float64;
- ``torch``: PyTorch's autograd on the same weights, when torch is installed.

The result is a `GradientReport`: one row per tensor, an aligned table as ``str(report)``,
``report.ok`` and ``report.to_dict()``.
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field

import numpy as np

from .engine import Tensor, no_grad
from .manual import (gru_backward_fused, gru_forward_fused, lstm_backward_fused, lstm_forward_fused,
                     rnn_backward_fused, rnn_forward_fused)
from .nn import GRU, LSTM, RNN, GRUCell, LSTMCell, Module, Recurrent, RNNBase, RNNCell

__all__ = ["compare_gradients", "GradientReport", "GradientRow", "Check", "TOLERANCES", "builtin_reference"]

REFERENCES = ("manual", "numerical", "torch")

# (rtol, atol) per dtype and reference: a tensor passes when
# max|autograd - reference| <= atol + rtol * max|reference|.
TOLERANCES = {
    "float64": {"manual": (1e-9, 1e-12), "numerical": (1e-5, 1e-6), "torch": (1e-9, 1e-12)},
    "float32": {"manual": (1e-4, 1e-6), "numerical": (1e-3, 1e-5), "torch": (1e-4, 1e-6)},
}
EPS = 1e-6  # step of the central differences (always in float64)


# --------------------------------------------------------------------------- the report
@dataclass
class Check:
    """Autograd against one reference, for one tensor.

    ``max_abs = max|autograd - reference|`` and ``max_rel = max_abs / max|reference|`` over
    the `checked` elements compared (of `size`); `passed` applies the report's tolerance.
    """

    max_abs: float
    max_rel: float
    passed: bool
    checked: int
    size: int


@dataclass
class GradientRow:
    """One tensor: its name, shape, largest autograd gradient entry and one `Check` per reference."""

    name: str
    shape: tuple
    grad_max: float
    checks: dict = field(default_factory=dict)


@dataclass
class GradientReport:
    """What `compare_gradients` found: one `GradientRow` per parameter, input and initial state.

    Attributes
    ----------
    model : str
        What was checked (the model's repr, first line).
    dtype : str
        The dtype autograd, the manual reference and torch ran in.
    loss : str
        How the scalar loss was made from the model's outputs.
    rows : list of GradientRow
    references : dict of str to str
        The references compared against (``manual``, ``numerical``, ``torch``) and what each is.
    tolerances : dict of str to (rtol, atol)
    skipped : dict of str to str
        References not compared, and why.
    """

    model: str
    dtype: str
    loss: str
    rows: list
    references: dict
    tolerances: dict
    skipped: dict

    @property
    def ok(self) -> bool:
        """True when every comparison of every tensor passed."""
        return not self.failures()

    def failures(self) -> list:
        """``(tensor name, reference)`` for every comparison that failed."""
        return [(row.name, ref) for row in self.rows for ref, check in row.checks.items() if not check.passed]

    def to_dict(self) -> dict:
        """The report as plain Python data (JSON-serialisable)."""
        return {
            "model": self.model, "dtype": self.dtype, "loss": self.loss, "ok": self.ok,
            "references": {ref: {"description": text, "rtol": self.tolerances[ref][0],
                                 "atol": self.tolerances[ref][1]} for ref, text in self.references.items()},
            "skipped": dict(self.skipped),
            "rows": [{"name": row.name, "shape": list(row.shape), "grad_max": row.grad_max,
                      "checks": {ref: {"max_abs": c.max_abs, "max_rel": c.max_rel, "passed": c.passed,
                                       "checked": c.checked, "size": c.size} for ref, c in row.checks.items()}}
                     for row in self.rows],
        }

    def summary(self) -> str:
        """One line: ``all agree: ...`` or ``DISAGREE: ...`` naming the failed comparisons."""
        refs = " = ".join(["autograd", *self.references])
        failures = self.failures()
        if not failures:
            return f"all agree: {refs} for all {len(self.rows)} tensors"
        total = sum(len(row.checks) for row in self.rows)
        listed = ", ".join(f"{name} ({ref})" for name, ref in failures)
        return f"DISAGREE: {len(failures)} of {total} comparisons failed: {listed}"

    def __str__(self) -> str:
        lines = [f"Gradient check of {self.model}, {self.dtype}: autograd (backpropagation through the graph) against"]
        width = max(len(ref) for ref in (*self.references, *self.skipped))
        lines += [f"  {ref:<{width}}  {text}" for ref, text in self.references.items()]
        lines += [f"  {ref:<{width}}  (not compared: {reason})" for ref, reason in self.skipped.items()]
        lines.append(f"loss: {self.loss}")
        lines.append("abs = max|autograd - reference|, rel = abs / max|reference|; "
                     "ok when abs <= atol + rtol * max|reference| with")
        lines.append("  " + "; ".join(f"{ref}: rtol {rtol:.0e}, atol {atol:.0e}"
                                      for ref, (rtol, atol) in self.tolerances.items()))
        lines.append("")
        lines.extend(self._table())
        if any(c.checked < c.size for row in self.rows for c in row.checks.values()):
            lines.append("* central differences on a random subset of the elements (see checked/size in to_dict())")
        lines.append(self.summary())
        return "\n".join(lines)

    def _table(self) -> list:
        head = ["tensor", "shape", "max|grad|"]
        sub = ["", "", ""]
        for ref in self.references:
            head += [ref, "", ""]
            sub += ["abs", "rel", ""]
        body = []
        for row in self.rows:
            cells = [row.name, str(row.shape), f"{row.grad_max:.2e}"]
            for ref in self.references:
                check = row.checks.get(ref)
                if check is None:
                    cells += ["-", "-", ""]
                    continue
                mark = "ok" if check.passed else "FAIL"
                if check.checked < check.size:
                    mark += "*"
                cells += [f"{check.max_abs:.1e}", f"{check.max_rel:.1e}", mark]
            body.append(cells)
        columns = list(zip(head, sub, *body))
        widths = [max(len(c) for c in column) for column in columns]
        # A reference's title spans its three columns.
        for k in range(3, len(head), 3):
            span = widths[k] + widths[k + 1] + widths[k + 2] + 4
            if len(head[k]) > span:
                widths[k + 2] += len(head[k]) - span

        def render(cells, titles=False):
            parts, k = [], 0
            while k < len(cells):
                if titles and k >= 3:
                    span = widths[k] + widths[k + 1] + widths[k + 2] + 4
                    parts.append(f"{cells[k]:<{span}}")
                    k += 3
                    continue
                align = "<" if k < 2 or (k >= 3 and (k - 3) % 3 == 2) else ">"
                parts.append(f"{cells[k]:{align}{widths[k]}}")
                k += 1
            return "  ".join(parts).rstrip()

        return [render(head, titles=True), render(sub), *(render(cells) for cells in body)]


# --------------------------------------------------------------------------- the comparison
def compare_gradients(model: Module, x, state=None, loss_fn=None, manual=None, torch_module="auto",
                      numerical_elements: int | None = 512, dtype=np.float64, seed: int = 0,
                      tolerances: dict | None = None) -> GradientReport:
    """Compare autograd's gradients of `model` with a hand-written BPTT, central differences and PyTorch.

    Works on a copy of `model` cast to `dtype` and put in eval mode (dropout off); the
    model itself is not changed.

    Parameters
    ----------
    model : Module
        Called as ``model(x)`` or ``model(x, state)``; returns a Tensor or a (nested)
        tuple of Tensors, e.g. ``(output, h_n)`` or ``(output, (h_n, c_n))``.
    x : array_like or Tensor
        The input, e.g. ``(T, B, D)`` for `nn.LSTM`, ``(B, D)`` for a cell.
    state : array_like, Tensor or tuple of them, optional
        The initial state. When omitted, a random one is drawn for models that take one
        (`nn.RNN/LSTM/GRU`: ``(num_layers * num_directions, B, H)``; cells, `nn.Recurrent`
        and any module with ``init_state(batch_size)``: its shapes), so its gradient is
        checked too. Rows ``h0`` (and ``c0`` for a pair, ``state<k>`` for longer tuples).
    loss_fn : callable, optional
        ``loss_fn(outputs) -> one-element Tensor``. Default: a random linear function of
        every output, ``sum_k sum(outputs_k * R_k)`` with fixed ``R_k ~ N(0, 1)``, so every
        gradient is nontrivial.
    manual : callable or False, optional
        ``manual(params, x, state, grad_outputs) -> dict``: a hand-written backward.
        ``params`` maps parameter names to arrays, ``x`` and ``state`` are arrays as given
        to the model, ``grad_outputs`` is d loss / d outputs (arrays in the structure of
        the outputs); it returns the gradient of every parameter name, ``"x"`` and each
        state row name. Default: the built-in reference for the built-in modules (see
        `builtin_reference`), none for other modules. False: no manual column.
    torch_module : "auto", torch.nn.Module or None
        ``"auto"``: the matching PyTorch module for the built-in modules, when torch is
        installed. A module: loaded with this model's state dict (same parameter names)
        and called like it. None: no torch column.
    numerical_elements : int or None
        Check at most this many elements of each tensor by central differences (a
        random subset of larger tensors); None checks every element, 0 skips the
        numerical column. Each checked element costs two forward passes (O(#elements)).
    dtype : float64 or float32
        The dtype autograd, the manual reference and torch run in. Central differences
        always run in float64 on the same (rounded) values.
    seed : int
        Seeds the random state, the default loss and the subset of checked elements.
    tolerances : dict, optional
        ``{reference: (rtol, atol)}`` overriding `TOLERANCES` for `dtype`.

    Returns
    -------
    GradientReport

    Examples
    --------
    >>> import numpy as np, tinygrad_lstm as tl
    >>> lstm = tl.nn.LSTM(3, 4)
    >>> report = tl.compare_gradients(lstm, np.random.default_rng(0).standard_normal((5, 2, 3)),
    ...                               torch_module=None)
    >>> report.ok, [row.name for row in report.rows][:2]
    (True, ['weight_ih_l0', 'weight_hh_l0'])
    """
    if not isinstance(model, Module):
        raise TypeError(f"compare_gradients: model must be a tl.nn.Module, got {type(model).__name__}")
    dtype = np.dtype(dtype)
    if dtype.name not in TOLERANCES:
        raise TypeError(f"compare_gradients: dtype must be float64 or float32, got {dtype}")
    if numerical_elements is not None and (isinstance(numerical_elements, bool) or numerical_elements < 0):
        raise ValueError(f"compare_gradients: numerical_elements must be None or >= 0, got {numerical_elements!r}")
    if isinstance(torch_module, str) and torch_module != "auto":
        raise ValueError(f"compare_gradients: torch_module must be 'auto', a torch.nn.Module or None, "
                         f"got {torch_module!r}")
    limits = dict(TOLERANCES[dtype.name])
    for ref, pair in (tolerances or {}).items():
        if ref not in REFERENCES:
            raise KeyError(f"compare_gradients: unknown reference {ref!r} in tolerances; expected one of {REFERENCES}")
        limits[ref] = tuple(float(v) for v in pair)
    rng = np.random.default_rng(seed)

    work = _cast_copy(model, dtype)
    x = np.array(x.data if isinstance(x, Tensor) else x, dtype=dtype)
    state = _initial_state(work, x, state, dtype, rng)
    names = [name for name, _ in work.named_parameters()]
    input_names = ["x", *_state_names(state)]

    with no_grad():
        template, _ = _call(work, x, state)
    loss_description = "custom loss_fn"
    if loss_fn is None:
        loss_fn = _RandomLinearLoss([rng.standard_normal(t.shape) for t in _flatten(template)])
        loss_description = f"random linear function of every output, sum_k sum(output_k * R_k), R_k ~ N(0, 1) (seed {seed})"
    grad_outputs = _output_grads(loss_fn, template)
    autograd = _autograd_grads(work, x, state, loss_fn, names)

    columns = {
        "manual": _manual_column(work, x, state, grad_outputs, manual),
        "numerical": _numerical_column(work, x, state, loss_fn, numerical_elements, rng),
        "torch": _torch_column(work, x, state, grad_outputs, torch_module),
    }
    references, skipped, results = {}, {}, {}
    for ref, (description, result) in columns.items():
        if result is not None:
            references[ref], results[ref] = description, result
        elif description is not None:
            skipped[ref] = description
    if not references:
        raise ValueError("compare_gradients: nothing to compare: manual, numerical and torch are all switched off")

    rows = []
    for name in [*names, *input_names]:
        grad = autograd[name]
        row = GradientRow(name, grad.shape, float(np.abs(grad).max(initial=0.0)))
        for ref in references:
            row.checks[ref] = _check(grad, results[ref][name], limits[ref])
        rows.append(row)
    return GradientReport(_describe(model), dtype.name, loss_description, rows, references,
                          {ref: limits[ref] for ref in references}, skipped)


def _manual_column(model, x, state, grad_outputs, manual) -> tuple:
    """``(description, gradients)``, or ``(why not compared, None)``, or ``(None, None)`` when switched off."""
    if manual is False:
        return None, None
    if manual is None:
        manual = builtin_reference(model)
        if manual is None:
            return (f"no built-in hand-written reference for {type(model).__name__}; pass manual= to add one",
                    None)
        description = f"hand-written BPTT: {getattr(manual, 'description', manual.__name__)}"
    elif not callable(manual):
        raise TypeError(f"compare_gradients: manual must be callable or False, got {type(manual).__name__}")
    else:
        description = f"hand-written backward {getattr(manual, '__name__', type(manual).__name__)}()"
    params = {name: p.data.copy() for name, p in model.named_parameters()}
    state_copy = tuple(s.copy() for s in state) if isinstance(state, tuple) else (
        None if state is None else state.copy())
    grads = manual(params, x.copy(), state_copy, grad_outputs)
    return description, _check_names(grads, [*params, "x", *_state_names(state)], "manual")


def _numerical_column(model, x, state, loss_fn, numerical_elements, rng) -> tuple:
    if numerical_elements == 0:
        return "numerical_elements=0", None
    description = f"central differences in float64, eps {EPS:.0e} (2 forward passes per element)"
    return description, _numerical_grads(model, x, state, loss_fn, numerical_elements, rng)


def _torch_column(model, x, state, grad_outputs, torch_module) -> tuple:
    if torch_module is None:
        return None, None
    torch, reason = _import_torch()
    if torch is None:
        return reason, None
    if isinstance(torch_module, str):
        torch_module = _build_torch_module(torch, model)
        if torch_module is None:
            return f"no built-in PyTorch equivalent of {type(model).__name__}; pass torch_module=", None
    description = f"PyTorch {torch.__version__} autograd ({type(torch_module).__name__}, same weights)"
    return description, _torch_grads(torch, torch_module, model, x, state, grad_outputs)


def _describe(model: Module) -> str:
    """The model's repr on one line: ``Recurrent((cell): MyCell())``."""
    text = re.sub(r"\s+", " ", repr(model))
    return text.replace("( ", "(").replace(" )", ")")


def _check(grad: np.ndarray, reference, tolerance: tuple) -> Check:
    """Compare on all elements, or on ``(flat_indices, values)`` for a subset."""
    size = grad.size
    if isinstance(reference, tuple):
        indices, values = reference
        grad = grad.reshape(-1)[indices]
    else:
        values = reference
    grad = np.asarray(grad, np.float64)
    values = np.asarray(values, np.float64)
    if values.shape != grad.shape:
        raise ValueError(f"compare_gradients: a reference gradient has shape {values.shape}, autograd's {grad.shape}")
    rtol, atol = tolerance
    error = float(np.abs(grad - values).max(initial=0.0))
    scale = float(np.abs(values).max(initial=0.0))
    relative = error / scale if scale > 0 else (0.0 if error == 0 else float("inf"))
    passed = bool(error <= atol + rtol * scale)  # False for NaN
    return Check(error, relative, passed, int(grad.size), int(size))


# --------------------------------------------------------------------------- model plumbing
def _cast_copy(model: Module, dtype: np.dtype) -> Module:
    """A deep copy of `model` with every parameter (and every module's ``dtype``) cast, in eval mode."""
    work = copy.deepcopy(model)
    for module in work.modules():
        if isinstance(getattr(module, "dtype", None), np.dtype):
            object.__setattr__(module, "dtype", dtype)
        for parameter in module.parameters(recurse=False):
            parameter.data = parameter.data.astype(dtype)
            parameter.grad = None
    return work.eval()


def _initial_state(model: Module, x: np.ndarray, state, dtype: np.dtype, rng: np.random.Generator):
    """`state` as an array or tuple of arrays of `dtype`; random when omitted and the model takes one."""
    if state is not None:
        if isinstance(state, (tuple, list)):
            return tuple(np.array(s.data if isinstance(s, Tensor) else s, dtype=dtype) for s in state)
        return np.array(state.data if isinstance(state, Tensor) else state, dtype=dtype)
    if isinstance(model, RNNBase):
        count = model.num_layers * model.num_directions
        batched = x.ndim == 3
        batch = x.shape[0 if model.batch_first else 1] if batched else None
        sizes = (model.proj_size or model.hidden_size, model.hidden_size)[:model.state_size]  # h, c
        template = tuple(np.zeros((count, batch, size) if batched else (count, size)) for size in sizes)
        template = template if model.state_size > 1 else template[0]
    elif isinstance(model, Recurrent):
        template = model.cell.init_state(x.shape[0 if model.batch_first else 1] if x.ndim == 3 else None)
    elif callable(getattr(model, "init_state", None)):
        template = model.init_state(x.shape[0] if x.ndim > 1 else None)
    else:
        return None

    def draw(t):
        return (0.5 * rng.standard_normal(np.shape(t.data if isinstance(t, Tensor) else t))).astype(dtype)
    return tuple(draw(t) for t in template) if isinstance(template, (tuple, list)) else draw(template)


def _as_tuple(state) -> tuple:
    if state is None:
        return ()
    return state if isinstance(state, tuple) else (state,)


def _state_names(state) -> list:
    parts = _as_tuple(state)
    if len(parts) == 1:
        return ["h0"]
    if len(parts) == 2:
        return ["h0", "c0"]
    return [f"state{k}" for k in range(len(parts))]


def _call(model: Module, x, state, requires_grad: bool = False) -> tuple:
    """Run the model on Tensors made from the arrays: ``(outputs, [x tensor, state tensors...])``."""
    inputs = [Tensor(a, requires_grad=requires_grad) for a in (x, *_as_tuple(state))]
    if state is None:
        outputs = model(inputs[0])
    elif isinstance(state, tuple):
        outputs = model(inputs[0], tuple(inputs[1:]))
    else:
        outputs = model(inputs[0], inputs[1])
    for t in _flatten(outputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"compare_gradients: the model must return Tensors (or tuples of them), "
                            f"got {type(t).__name__}")
    return outputs, inputs


def _flatten(obj) -> list:
    if isinstance(obj, (tuple, list)):
        return [leaf for item in obj for leaf in _flatten(item)]
    return [obj]


def _rebuild(template, leaves):
    """`template`'s (nested) tuple structure filled with the next items of the iterator `leaves`."""
    if isinstance(template, (tuple, list)):
        return tuple(_rebuild(item, leaves) for item in template)
    return next(leaves)


class _RandomLinearLoss:
    """``sum_k sum(outputs_k * R_k)`` for fixed arrays ``R_k`` (cast to each output's dtype)."""

    def __init__(self, weights: list):
        self.weights = weights

    def __call__(self, outputs) -> Tensor:
        total = None
        for output, weight in zip(_flatten(outputs), self.weights):
            term = (output * weight.astype(output.dtype)).sum()
            total = term if total is None else total + term
        return total


def _loss_tensor(loss) -> Tensor:
    if not isinstance(loss, Tensor) or loss.size != 1:
        raise ValueError(f"compare_gradients: loss_fn must return a one-element Tensor, got "
                         f"{type(loss).__name__} of shape {np.shape(loss)}")
    return loss


def _output_grads(loss_fn, outputs) -> tuple:
    """d loss / d outputs, as arrays in the structure of `outputs`."""
    leaves = [Tensor(t.data.copy(), requires_grad=True) for t in _flatten(outputs)]
    loss = _loss_tensor(loss_fn(_rebuild(outputs, iter(leaves))))
    if not loss.requires_grad:
        raise ValueError("compare_gradients: loss_fn's result does not depend on the model's outputs")
    loss.backward()
    grads = [leaf.grad if leaf.grad is not None else np.zeros_like(leaf.data) for leaf in leaves]
    return _rebuild(outputs, iter(grads))


def _autograd_grads(model: Module, x, state, loss_fn, names: list) -> dict:
    outputs, inputs = _call(model, x, state, requires_grad=True)
    _loss_tensor(loss_fn(outputs)).backward()
    params = dict(model.named_parameters())
    grads = {name: _grad_or_zeros(params[name]) for name in names}
    grads.update(zip(["x", *_state_names(state)], (_grad_or_zeros(t) for t in inputs)))
    model.zero_grad()
    return grads


def _grad_or_zeros(t: Tensor) -> np.ndarray:
    return t.grad if t.grad is not None else np.zeros_like(t.data)


def _check_names(grads: dict, expected: list, reference: str) -> dict:
    if not isinstance(grads, dict):
        raise TypeError(f"compare_gradients: the {reference} reference must return a dict of gradients, "
                        f"got {type(grads).__name__}")
    missing = [name for name in expected if name not in grads]
    unexpected = [name for name in grads if name not in expected]
    if missing or unexpected:
        raise KeyError(f"compare_gradients: the {reference} reference returned wrong names: missing {missing}, "
                       f"unexpected {unexpected}")
    return grads


# --------------------------------------------------------------------------- central differences
def _numerical_grads(model: Module, x, state, loss_fn, max_elements, rng) -> dict:
    """``{name: (flat indices, d loss / d element)}`` by central differences in float64."""
    exact = _cast_copy(model, np.dtype(np.float64))
    x = x.astype(np.float64)
    state = tuple(s.astype(np.float64) for s in state) if isinstance(state, tuple) else (
        None if state is None else state.astype(np.float64))
    targets = {name: p.data for name, p in exact.named_parameters()}
    targets.update(zip(["x", *_state_names(state)], (x, *_as_tuple(state))))

    def loss() -> float:
        with no_grad():
            return float(_loss_tensor(loss_fn(_call(exact, x, state)[0])).data.reshape(()))

    results = {}
    for name, array in targets.items():
        flat = array.reshape(-1)  # a view: perturb in place
        if max_elements is None or flat.size <= max_elements:
            indices = np.arange(flat.size)
        else:
            indices = np.sort(rng.choice(flat.size, size=max_elements, replace=False))
        values = np.empty(indices.size)
        for k, i in enumerate(indices):
            original = flat[i]
            flat[i] = original + EPS
            plus = loss()
            flat[i] = original - EPS
            minus = loss()
            flat[i] = original
            values[k] = (plus - minus) / (2 * EPS)
        results[name] = (indices, values)
    return results


# --------------------------------------------------------------------------- the hand-written reference
def builtin_reference(model: Module):
    """The hand-written BPTT reference for a built-in module, or None.

    Covers `nn.RNN`, `nn.LSTM` (without ``proj_size``), `nn.GRU` (any number of layers,
    bidirectional, ``batch_first``, unbatched), `nn.RNNCell`, `nn.LSTMCell`, `nn.GRUCell` and
    `nn.Recurrent` around one of these cells (exact classes, not subclasses, which may change
    the math).
    The fused functions of `tinygrad_lstm.manual` run layer by layer and direction by
    direction; their gradients are combined by hand (no autograd). The returned function
    has the signature of `compare_gradients`' ``manual`` and a one-line ``description``.
    """
    kinds = {RNN: "rnn", LSTM: "lstm", GRU: "gru", RNNCell: "rnn", LSTMCell: "lstm", GRUCell: "gru"}
    if type(model) is LSTM and model.proj_size:
        return None  # the fused reference has no projection
    if type(model) in (RNN, LSTM, GRU):
        reference = _sequence_reference(model, kinds[type(model)])
    elif type(model) in (RNNCell, LSTMCell, GRUCell):
        reference = _cell_reference(model, kinds[type(model)])
    elif type(model) is Recurrent and type(model.cell) in (RNNCell, LSTMCell, GRUCell):
        reference = _recurrent_reference(model, kinds[type(model.cell)])
    else:
        return None
    reference.description = reference.__doc__
    return reference


_WEIGHTS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def _sequence_reference(model: RNNBase, kind: str):
    directions = ("", "_reverse")[:model.num_directions]
    names = [[tuple(f"{w}_l{layer}{suffix}" for w in _WEIGHTS) for suffix in directions]
             for layer in range(model.num_layers)]
    nonlinearity = getattr(model, "nonlinearity", "tanh")
    batch_first = model.batch_first

    def reference(params, x, state, grad_outputs):
        """tinygrad_lstm.manual fused layers, composed by hand over layers and directions"""
        batched = x.ndim == 3
        grad_output, grad_final = grad_outputs
        x_tbd, grad_output = (_to_tbd(a, batched, batch_first) for a in (x, grad_output))
        states = [s if batched else s[:, None] for s in _as_tuple(state)]
        finals = [g if batched else g[:, None] for g in _as_tuple(grad_final)]
        grads, grad_x, grad_states = _stack_backward(kind, nonlinearity, names, params, x_tbd, states,
                                                     grad_output, finals)
        grads["x"] = _from_tbd(grad_x, batched, batch_first)
        for name, g in zip(_state_names(state), grad_states):
            grads[name] = g if batched else g[:, 0]
        return grads
    return reference


def _cell_reference(model, kind: str):
    names = [[_WEIGHTS]]
    nonlinearity = getattr(model, "nonlinearity", "tanh")

    def reference(params, x, state, grad_outputs):
        """tinygrad_lstm.manual fused layer, one time step"""
        batch_shape = x.shape[:-1]
        x_tbd = x.reshape(1, -1, x.shape[-1])
        states = [s.reshape(1, -1, s.shape[-1]) for s in _as_tuple(state)]
        finals = [g.reshape(1, -1, g.shape[-1]) for g in _flatten(grad_outputs)]
        grad_output = np.zeros(finals[0].shape, x.dtype)
        grads, grad_x, grad_states = _stack_backward(kind, nonlinearity, names, params, x_tbd, states,
                                                     grad_output, finals)
        grads["x"] = grad_x.reshape(x.shape)
        for name, g in zip(_state_names(state), grad_states):
            grads[name] = g.reshape(batch_shape + g.shape[-1:])
        return grads
    return reference


def _recurrent_reference(model: Recurrent, kind: str):
    names = [[tuple(f"cell.{w}" for w in _WEIGHTS)]]
    nonlinearity = getattr(model.cell, "nonlinearity", "tanh")
    batch_first = model.batch_first

    def reference(params, x, state, grad_outputs):
        """tinygrad_lstm.manual fused layer over the whole sequence"""
        grad_output, grad_final = grad_outputs
        x_tbd, grad_output = (_to_tbd(a, True, batch_first) for a in (x, grad_output))
        states = [s[None] for s in _as_tuple(state)]
        finals = [g[None] for g in _as_tuple(grad_final)]
        grads, grad_x, grad_states = _stack_backward(kind, nonlinearity, names, params, x_tbd, states,
                                                     grad_output, finals)
        grads["x"] = _from_tbd(grad_x, True, batch_first)
        grads.update(zip(_state_names(state), (g[0] for g in grad_states)))
        return grads
    return reference


def _to_tbd(a: np.ndarray, batched: bool, batch_first: bool) -> np.ndarray:
    if not batched:
        return a[:, None]
    return a.transpose(1, 0, 2) if batch_first else a


def _from_tbd(a: np.ndarray, batched: bool, batch_first: bool) -> np.ndarray:
    if not batched:
        return a[:, 0]
    return a.transpose(1, 0, 2) if batch_first else a


def _layer_forward(kind: str, x, state: tuple, weights: tuple, nonlinearity: str):
    """One fused layer: ``(output (T, B, H), cache)``."""
    if kind == "lstm":
        output, _, cache = lstm_forward_fused(x, state[0], state[1], *weights)
    elif kind == "gru":
        output, _, cache = gru_forward_fused(x, state[0], *weights)
    else:
        output, _, cache = rnn_forward_fused(x, state[0], *weights, nonlinearity=nonlinearity)
    return output, cache


def _layer_backward(kind: str, grad_output, grad_final: tuple, cache) -> tuple:
    """One fused layer's backward: ``(grads dict with "x" and the weights, state grads tuple)``."""
    if kind == "lstm":
        grads = lstm_backward_fused(grad_output, grad_final[0], grad_final[1], cache)
        return grads, (grads.pop("h0"), grads.pop("c0"))
    backward = gru_backward_fused if kind == "gru" else rnn_backward_fused
    grads = backward(grad_output, grad_final[0], cache)
    return grads, (grads.pop("h0"),)


def _stack_backward(kind, nonlinearity, names, params, x, states, grad_output, grad_finals) -> tuple:
    """Forward and backward of layers x directions of fused layers, composed by hand.

    ``names[layer][direction]`` are the parameter names of ``weight_ih, weight_hh, bias_ih,
    bias_hh``; ``x (T, B, D)``; ``states`` and ``grad_finals``: one ``(L * dirs, B, H)``
    array per state part; ``grad_output (T, B, dirs * H)``. The reverse direction runs on
    the time-reversed sequence and its output is reversed back; a layer's output is the
    concatenation of its directions, and the next layer's input.
    Returns ``(weight grads by name, grad of x, grads of the states)``.
    """
    layers, directions = len(names), len(names[0])
    caches, layer_input = [], x
    for layer in range(layers):
        outputs = []
        for direction in range(directions):
            index = layer * directions + direction
            weights = tuple(params.get(name) for name in names[layer][direction])
            sequence = layer_input[::-1] if direction else layer_input
            output, cache = _layer_forward(kind, sequence, tuple(s[index] for s in states), weights, nonlinearity)
            caches.append(cache)
            outputs.append(output[::-1] if direction else output)
        layer_input = np.concatenate(outputs, axis=2)

    grads = {}
    grad_states = [np.zeros_like(s) for s in states]
    grad_layer = grad_output
    hidden = states[0].shape[-1]
    for layer in reversed(range(layers)):
        grad_input = 0
        for direction in range(directions):
            index = layer * directions + direction
            grad = grad_layer[:, :, direction * hidden:(direction + 1) * hidden]
            grad = np.ascontiguousarray(grad[::-1] if direction else grad)
            layer_grads, state_grads = _layer_backward(kind, grad, tuple(g[index] for g in grad_finals),
                                                       caches[index])
            grad_x = layer_grads.pop("x")
            grad_input = grad_input + (grad_x[::-1] if direction else grad_x)
            for part, g in enumerate(state_grads):
                grad_states[part][index] = g
            for weight, name in zip(_WEIGHTS, names[layer][direction]):
                if weight in layer_grads:
                    grads[name] = layer_grads[weight]
        grad_layer = grad_input
    return grads, grad_layer, grad_states


# --------------------------------------------------------------------------- PyTorch
def _import_torch():
    """``(torch, None)`` or ``(None, why not)``."""
    try:
        import torch
    except ImportError:
        return None, "PyTorch is not installed"
    except Exception as e:  # a broken install raises OSError, RuntimeError, ...
        return None, f"PyTorch failed to import ({type(e).__name__}: {e})"
    return torch, None


def _build_torch_module(torch, model: Module):
    """The PyTorch module computing the same function as a built-in `model`, or None."""
    nn = torch.nn
    if type(model) in (RNN, LSTM, GRU):
        kwargs = dict(num_layers=model.num_layers, bias=model.bias, batch_first=model.batch_first,
                      bidirectional=model.bidirectional)
        if type(model) is RNN:
            kwargs["nonlinearity"] = model.nonlinearity
        if model.proj_size:
            kwargs["proj_size"] = model.proj_size
        return getattr(nn, type(model).__name__)(model.input_size, model.hidden_size, **kwargs)
    if type(model) in (RNNCell, LSTMCell, GRUCell):
        kwargs = {"nonlinearity": model.nonlinearity} if type(model) is RNNCell else {}
        return getattr(nn, type(model).__name__)(model.input_size, model.hidden_size, bias=model.bias, **kwargs)
    if type(model) is Recurrent and type(model.cell) in (RNNCell, LSTMCell, GRUCell):
        cell = _build_torch_module(torch, model.cell)
        return _torch_recurrent(torch)(cell, model.batch_first)
    return None


def _torch_recurrent(torch):
    """A PyTorch twin of `nn.Recurrent`: unrolls a cell, parameters named ``cell.*``."""

    class TorchRecurrent(torch.nn.Module):
        def __init__(self, cell, batch_first):
            super().__init__()
            self.cell = cell
            self.batch_first = batch_first

        def forward(self, x, state):
            time_axis = 1 if self.batch_first else 0
            outputs = []
            for x_t in x.unbind(time_axis):
                state = self.cell(x_t, state)
                outputs.append(state[0] if isinstance(state, tuple) else state)
            return torch.stack(outputs, time_axis), state

    return TorchRecurrent


def _torch_grads(torch, module, model: Module, x, state, grad_outputs) -> dict:
    torch_dtype = {"float64": torch.float64, "float32": torch.float32}[x.dtype.name]
    module = copy.deepcopy(module).to(torch_dtype).eval()
    module.load_state_dict({name: torch.from_numpy(p.data.copy()) for name, p in model.named_parameters()})
    inputs = [torch.tensor(a, requires_grad=True) for a in (x, *_as_tuple(state))]
    if state is None:
        outputs = module(inputs[0])
    elif isinstance(state, tuple):
        outputs = module(inputs[0], tuple(inputs[1:]))
    else:
        outputs = module(inputs[0], inputs[1])
    torch.autograd.backward(_flatten(outputs), [torch.from_numpy(np.ascontiguousarray(g))
                                                for g in _flatten(grad_outputs)])
    grads = {name: _torch_grad(p) for name, p in module.named_parameters()}
    grads.update(zip(["x", *_state_names(state)], (_torch_grad(t) for t in inputs)))
    return grads


def _torch_grad(t) -> np.ndarray:
    return t.grad.detach().numpy().copy() if t.grad is not None else np.zeros(tuple(t.shape))
