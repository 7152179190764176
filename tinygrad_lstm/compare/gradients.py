"""`compare_gradients`: autograd's gradients of a model against the manual, numerical and torch references.

Works on a copy of the model (``Module.to(dtype)``, eval mode); each reference is a column of
the `GradientReport`: ``manual`` from `builtin_reference` or the caller, ``numerical`` by
central differences (`tinygrad_lstm.checks.central_differences`), ``torch`` from the PyTorch
twin (`tinygrad_lstm.compare.torch_twin`). A manual gradient that disagrees is localised as
the course checker does (`tinygrad_lstm.manual.localize`): which gate, from which length.
"""
from __future__ import annotations

import copy
import inspect
import re
import warnings
from dataclasses import dataclass

import numpy as np

from ..checks import central_differences
from ..engine import Tensor, no_grad
from ..manual import localize
from ..nn import Module, Recurrent, RNNBase
from ..nn.kinds import kind_of
from ..progress import progress_bar
from .reference import builtin_reference
from .report import Check, GradientReport, GradientRow
from .structure import as_tuple, call, flatten, rebuild, state_names
from .torch_twin import build_torch_module, import_torch, torch_grads

__all__ = ["compare_gradients", "TOLERANCES"]

REFERENCES = ("manual", "numerical", "torch")

# (rtol, atol) per dtype and reference: a tensor passes when every element has
# |autograd - reference| <= atol + rtol * |reference| (PyTorch's gradcheck rule). Float32 rounds
# by ~1e-7 per operation and ~1e-4 after a BPTT: its tolerances are the course checker's.
TOLERANCES = {
    "float64": {"manual": (1e-9, 1e-12), "numerical": (1e-5, 1e-6), "torch": (1e-9, 1e-12)},
    "float32": {reference: localize.TOLERANCES["float32"] for reference in ("manual", "numerical", "torch")},
}
EPS = 1e-6  # step of the central differences (always in float64)


# --------------------------------------------------------------------------- the comparison
def compare_gradients(model: Module, x, state=None, loss_fn=None, manual=None, torch_module="auto",
                      numerical_elements: int | None = 512, dtype=np.float64, seed: int = 0,
                      tolerances: dict | None = None, progress: bool = False, lengths=None) -> GradientReport:
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
        With `lengths`, a function with a ``lengths`` keyword gets them; any other is
        called once per sequence, cut to its length.
        A manual gradient that disagrees with autograd is localised in its row
        (`GradientRow.where`): the wrong gate slices of PyTorch-named weights of a kind
        with gates (``weight_hh_l0 gate g``) and, for a sequence module, the shortest
        prefix of the sequence at which it is wrong (1: the single-step math; more: the
        gradient carried from step t to t-1), for ``x`` the first wrong step.
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
        always run in float64 on the same (rounded) values. Float32 cannot tell a 1e-4
        bug from rounding: it warns (`localize.FLOAT32_WARNING`, also the report's first
        line) and uses tolerances scaled to it.
    seed : int
        Seeds the random state, the default loss and the subset of checked elements.
    tolerances : dict, optional
        ``{reference: (rtol, atol)}`` overriding `TOLERANCES` for `dtype`.
    progress : bool
        Show progress on stderr (`tinygrad_lstm.progress`), column by column: importing
        PyTorch and the central differences take the time.
    lengths : sequence of int, optional
        ``(B,)`` valid steps per sequence of a sequence module (`nn.RNN/LSTM/GRU`,
        `nn.Recurrent`), passed as its ``lengths=``. The built-in manual reference and
        PyTorch run each sequence alone, cut to its length (as a packed sequence).

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

    work = _working_copy(model, dtype)
    x = np.array(x.data if isinstance(x, Tensor) else x, dtype=dtype)
    layout = _SequenceLayout.of(work, x)
    lengths = _check_lengths(lengths, layout, x, type(model).__name__)
    state = _initial_state(work, x, state, dtype, rng)
    names = [name for name, _ in work.named_parameters()]
    input_names = ["x", *state_names(state)]
    caveats = []
    if dtype == np.float32:
        warnings.warn(localize.FLOAT32_WARNING, UserWarning, stacklevel=2)
        caveats.append(localize.FLOAT32_WARNING)

    with no_grad():
        template, _ = _call(work, x, state, lengths=lengths)
    loss_description = "custom loss_fn"
    if loss_fn is None:
        loss_fn = _RandomLinearLoss([rng.standard_normal(t.shape) for t in flatten(template)])
        loss_description = f"random linear function of every output, sum_k sum(output_k * R_k), R_k ~ N(0, 1) (seed {seed})"
    grad_outputs = _output_grads(loss_fn, template)
    manual_function, manual_description = _manual_function(work, manual, lengths, layout)
    # one unit of progress per column, and per tensor of the numerical one
    with progress_bar(total=3 + len(names) + len(input_names), desc="compare: autograd", enabled=progress,
                      unit="step") as bar:
        autograd = _autograd_grads(work, x, state, loss_fn, names, lengths)
        bar.update(1)
        bar.set_description("compare: manual")
        columns = {"manual": (manual_description, None if manual_function is None else _checked(
            manual_function(_params(work), x, state, grad_outputs, lengths), names, state, "manual"))}
        bar.update(1)
        bar.set_description("compare: numerical")
        columns["numerical"] = _numerical_column(work, x, state, loss_fn, numerical_elements, rng, lengths, bar)
        if columns["numerical"][1] is None:
            bar.update(len(names) + len(input_names))
        bar.set_description("compare: torch")
        columns["torch"] = _torch_column(work, x, state, grad_outputs, torch_module, lengths, layout)
        bar.update(1)
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
            reference = results[ref][name]
            if not isinstance(reference, tuple) and np.shape(reference) != grad.shape:
                raise ValueError(f"compare_gradients: the {ref} reference's gradient of {name!r} has shape "
                                 f"{np.shape(reference)}, autograd's {grad.shape}")
            row.checks[ref] = Check.between(grad, reference, limits[ref])
        rows.append(row)
    if "manual" in references:
        _localize([row for row in rows if not row.checks["manual"].passed], work, x, state, grad_outputs, autograd,
                  results["manual"], manual_function, limits["manual"], lengths, layout)
    return GradientReport(_describe(model), dtype.name, loss_description, rows, references,
                          {ref: limits[ref] for ref in references}, skipped, caveats)


# --------------------------------------------------------------------------- sequences
@dataclass(frozen=True)
class _SequenceLayout:
    """Where a sequence module's arrays keep time and batch: ``x`` and the output's time and batch
    axes, and the batch axis of each state part (None without a batch)."""

    time_axis: int
    batch_axis: int | None
    state_batch_axis: int | None

    @classmethod
    def of(cls, model: Module, x: np.ndarray) -> "_SequenceLayout | None":
        """The layout of `model` on `x`, or None for a module without a time axis (a cell, ...)."""
        if not isinstance(model, (RNNBase, Recurrent)) or x.ndim not in (2, 3):
            return None
        if x.ndim == 2:  # unbatched (T, D)
            return cls(0, None, None)
        stacked = isinstance(model, RNNBase) or model.num_layers > 1 or model.bidirectional
        time_axis = 1 if model.batch_first else 0
        return cls(time_axis, 1 - time_axis, 1 if stacked else 0)

    def cut(self, array: np.ndarray, steps: int) -> np.ndarray:
        """The first `steps` steps of an array with this time axis."""
        return np.take(array, np.arange(steps), axis=self.time_axis)

    def prefix(self, x, grad_outputs, lengths, steps: int) -> tuple:
        """``x``, the output gradients and the lengths of the first `steps` steps of the sequence."""
        grad_output, grad_final = grad_outputs
        return (self.cut(x, steps), (self.cut(grad_output, steps), grad_final),
                None if lengths is None else np.minimum(lengths, steps))


def _check_lengths(lengths, layout, x: np.ndarray, model_name: str):
    """`lengths` as an int array, for a sequence module only (the module checks their values)."""
    if lengths is None:
        return None
    if layout is None or layout.batch_axis is None:
        raise ValueError(f"compare_gradients: lengths= needs a sequence module (tl.nn.RNN, LSTM, GRU or Recurrent) "
                         f"and a batched input (T, B, D); got {model_name} and input shape {x.shape}")
    lengths = np.asarray(lengths.data if isinstance(lengths, Tensor) else lengths)
    if lengths.shape != (x.shape[layout.batch_axis],) or lengths.dtype.kind not in "iu":
        raise ValueError(f"compare_gradients: lengths must be {x.shape[layout.batch_axis]} integers (one per "
                         f"sequence), got shape {lengths.shape} and dtype {lengths.dtype}")
    return lengths


def _one_sequence_at_a_time(function, layout: _SequenceLayout):
    """`function(params, x, state, grad_outputs) -> gradients`, which knows no lengths, made to take
    ``lengths``: it runs each sequence alone, cut to its length, and the gradients are assembled
    (parameters summed, ``x`` and the state placed at each sequence's index, padding zero)."""

    def per_sequence(params, x, state, grad_outputs, lengths):
        grad_output, grad_final = grad_outputs
        total = None
        for b, steps in enumerate(lengths):
            def one(array, axis=layout.batch_axis):
                return np.take(array, [b], axis=axis)
            states = [one(part, layout.state_batch_axis) for part in as_tuple(state)]
            finals = [one(part, layout.state_batch_axis) for part in flatten(grad_final)]
            grads = function(params, layout.cut(one(x), steps), _like(state, states),
                             (layout.cut(one(grad_output), steps), rebuild(grad_final, iter(finals))))
            if total is None:
                total = {name: np.zeros_like(value) for name, value in params.items()}
                total["x"] = np.zeros_like(x)
                total.update((name, np.zeros_like(part)) for name, part in zip(state_names(state), as_tuple(state)))
            for name, value in grads.items():
                if name in params:
                    total[name] += value
                elif name == "x":
                    index = [slice(None)] * x.ndim
                    index[layout.batch_axis], index[layout.time_axis] = slice(b, b + 1), slice(0, steps)
                    total[name][tuple(index)] = value
                elif name in total:
                    index = [slice(None)] * total[name].ndim
                    index[layout.state_batch_axis] = slice(b, b + 1)
                    total[name][tuple(index)] = value
                else:
                    total[name] = value  # an unexpected name: reported by _checked
        return total

    return per_sequence


def _like(state, parts: list):
    """`parts` in the structure of `state`: None, one array or a tuple."""
    if state is None:
        return None
    return tuple(parts) if isinstance(state, tuple) else parts[0]


# --------------------------------------------------------------------------- the manual column
def _manual_function(model, manual, lengths, layout) -> tuple:
    """``(function(params, x, state, grad_outputs, lengths) -> gradients, description)``, or
    ``(None, why not compared)``, or ``(None, None)`` when switched off."""
    if manual is False:
        return None, None
    if manual is None:
        manual = builtin_reference(model)
        if manual is None:
            return None, f"no built-in hand-written reference for {type(model).__name__}; pass manual= to add one"
        description = f"hand-written BPTT: {getattr(manual, 'description', manual.__name__)}"
    elif not callable(manual):
        raise TypeError(f"compare_gradients: manual must be callable or False, got {type(manual).__name__}")
    else:
        description = f"hand-written backward {getattr(manual, '__name__', type(manual).__name__)}()"
    if _takes_lengths(manual):
        function = manual
    else:
        by_sequence = _one_sequence_at_a_time(manual, layout) if layout is not None else None

        def function(params, x, state, grad_outputs, lengths=None):
            if lengths is None:
                return manual(params, x, state, grad_outputs)
            return by_sequence(params, x, state, grad_outputs, lengths)
        if lengths is not None:
            description += ", one sequence at a time (cut to its length)"

    def run(params, x, state, grad_outputs, lengths):
        """The manual gradients, on copies of the arrays (a hand-written backward may write into them)."""
        state_copy = tuple(s.copy() for s in state) if isinstance(state, tuple) else (
            None if state is None else state.copy())
        return function(params, x.copy(), state_copy, grad_outputs, lengths=lengths)

    return run, description


def _takes_lengths(function) -> bool:
    try:
        return "lengths" in inspect.signature(function).parameters
    except (TypeError, ValueError):  # a builtin or an object without a signature
        return False


def _params(model: Module) -> dict:
    return {name: p.data.copy() for name, p in model.named_parameters()}


def _checked(grads: dict, names: list, state, reference: str) -> dict:
    return _check_names(grads, [*names, "x", *state_names(state)], reference)


def _numerical_column(model, x, state, loss_fn, numerical_elements, rng, lengths, bar) -> tuple:
    """``(description, gradients)``; `bar` advances by one per tensor."""
    if numerical_elements == 0:
        return "numerical_elements=0", None
    description = f"central differences in float64, eps {EPS:.0e} (2 forward passes per element)"
    return description, _numerical_grads(model, x, state, loss_fn, numerical_elements, rng, lengths, bar)


def _torch_column(model, x, state, grad_outputs, torch_module, lengths, layout) -> tuple:
    if torch_module is None:
        return None, None
    torch, reason = import_torch()
    if torch is None:
        return reason, None
    if isinstance(torch_module, str):
        torch_module = build_torch_module(torch, model)
        if torch_module is None:
            return f"no built-in PyTorch equivalent of {type(model).__name__}; pass torch_module=", None
    description = f"PyTorch {torch.__version__} autograd ({type(torch_module).__name__}, same weights)"
    if lengths is None:
        return description, torch_grads(torch, torch_module, model, x, state, grad_outputs)
    by_sequence = _one_sequence_at_a_time(
        lambda params, x, state, grad_outputs: torch_grads(torch, torch_module, model, x, state, grad_outputs), layout)
    return (description + ", one sequence at a time (cut to its length)",
            by_sequence(_params(model), x, state, grad_outputs, lengths))


# --------------------------------------------------------------------------- localisation
def _localize(failed: list, model, x, state, grad_outputs, autograd: dict, manual: dict, manual_function,
              tolerance: tuple, lengths, layout) -> None:
    """Set ``row.localization`` of each row whose manual gradient failed, as the course checker does:
    the shortest wrong prefix length (a sequence module), the wrong gate slices there (PyTorch-named
    weights of a registered kind with gates) and the first wrong step of ``x`` (one direction)."""
    if not failed:
        return
    rtol, atol = tolerance
    kind = kind_of(model)
    if kind is not None and kind.num_gates > 1:
        def check(name, value, reference, rtol, atol):
            return localize.check_torch_gradient(name, value, reference, kind.name, rtol=rtol, atol=atol)
    else:
        check = localize.check_gradient
    for row in failed:
        row.localization = check(row.name, manual[row.name], autograd[row.name], rtol=rtol, atol=atol)
    if layout is None:
        return
    steps = x.shape[layout.time_axis]
    names = [row.name for row in failed]
    params = _params(model)

    def manual_at(length):
        x_n, grad_outputs_n, lengths_n = layout.prefix(x, grad_outputs, lengths, length)
        return manual_function(params, x_n, state, grad_outputs_n, lengths_n)

    def autograd_at(length):
        x_n, grad_outputs_n, lengths_n = layout.prefix(x, grad_outputs, lengths, length)
        grads = _autograd_grads(model, x_n, state, _RandomLinearLoss(flatten(grad_outputs_n)), list(params),
                                lengths_n)  # backpropagates exactly grad_outputs_n
        return {name: grads[name] for name in names}

    try:
        found = localize.first_wrong_lengths(manual_at, autograd_at, range(1, steps + 1), rtol=rtol, atol=atol,
                                             check=check)
    except Exception as error:  # a backward that cannot run on shorter sequences: keep what is known
        for row in failed:
            row.localization.notes.append(f"(not localised in time: the manual backward failed on a prefix of the "
                                          f"sequence: {type(error).__name__}: {error})")
        return
    for row in failed:
        if row.name in found:  # localised where it first goes wrong, as the course checker does
            length, shortest = found[row.name]
            located = row.localization
            located.first_wrong_length = length
            located.gate, located.part, located.wrong_gates, located.notes = (
                shortest.gate, shortest.part, shortest.wrong_gates, shortest.notes)
        if row.name == "x" and not getattr(model, "bidirectional", False):
            row.localization.first_wrong_step = localize.first_wrong_step(
                manual["x"], autograd["x"], layout.time_axis, backward=True, rtol=rtol, atol=atol)


def _describe(model: Module) -> str:
    """The model's repr on one line: ``Recurrent((cell): MyCell())``."""
    text = re.sub(r"\s+", " ", repr(model))
    return text.replace("( ", "(").replace(" )", ")")


# --------------------------------------------------------------------------- model plumbing
def _working_copy(model: Module, dtype: np.dtype) -> Module:
    """A deep copy of `model` in `dtype`, without gradients, in eval mode (dropout off)."""
    work = copy.deepcopy(model).to(dtype)
    work.zero_grad()
    return work.eval()


def _initial_state(model: Module, x: np.ndarray, state, dtype: np.dtype, rng: np.random.Generator):
    """`state` as an array or tuple of arrays of `dtype`; random when omitted and the model takes one."""
    if state is not None:
        if isinstance(state, (tuple, list)):
            return tuple(np.array(s.data if isinstance(s, Tensor) else s, dtype=dtype) for s in state)
        return np.array(state.data if isinstance(state, Tensor) else state, dtype=dtype)
    if isinstance(model, (RNNBase, Recurrent)):  # (T, B, D), (B, T, D) batch-first, or unbatched (T, D)
        template = model.init_state(x.shape[0 if model.batch_first else 1] if x.ndim == 3 else None)
    elif callable(getattr(model, "init_state", None)):  # a cell: (B, D) or (D,)
        template = model.init_state(x.shape[0] if x.ndim > 1 else None)
    else:
        return None

    def draw(t):
        return (0.5 * rng.standard_normal(np.shape(t.data if isinstance(t, Tensor) else t))).astype(dtype)
    return tuple(draw(t) for t in template) if isinstance(template, (tuple, list)) else draw(template)


def _call(model: Module, x, state, requires_grad: bool = False, lengths=None) -> tuple:
    """Run the model on Tensors made from the arrays: ``(outputs, [x tensor, state tensors...])``."""
    inputs = [Tensor(a, requires_grad=requires_grad) for a in (x, *as_tuple(state))]
    outputs = call(model, inputs, state, lengths)
    for t in flatten(outputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"compare_gradients: the model must return Tensors (or tuples of them), "
                            f"got {type(t).__name__}")
    return outputs, inputs


class _RandomLinearLoss:
    """``sum_k sum(outputs_k * R_k)`` for fixed arrays ``R_k`` (cast to each output's dtype)."""

    def __init__(self, weights: list):
        self.weights = weights

    def __call__(self, outputs) -> Tensor:
        total = None
        for output, weight in zip(flatten(outputs), self.weights):
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
    leaves = [Tensor(t.data.copy(), requires_grad=True) for t in flatten(outputs)]
    loss = _loss_tensor(loss_fn(rebuild(outputs, iter(leaves))))
    if not loss.requires_grad:
        raise ValueError("compare_gradients: loss_fn's result does not depend on the model's outputs")
    loss.backward()
    grads = [leaf.grad if leaf.grad is not None else np.zeros_like(leaf.data) for leaf in leaves]
    return rebuild(outputs, iter(grads))


def _autograd_grads(model: Module, x, state, loss_fn, names: list, lengths=None) -> dict:
    outputs, inputs = _call(model, x, state, requires_grad=True, lengths=lengths)
    _loss_tensor(loss_fn(outputs)).backward()
    params = dict(model.named_parameters())
    grads = {name: _grad_or_zeros(params[name]) for name in names}
    grads.update(zip(["x", *state_names(state)], (_grad_or_zeros(t) for t in inputs)))
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
def _numerical_grads(model: Module, x, state, loss_fn, max_elements, rng, lengths, bar) -> dict:
    """``{name: (flat indices, d loss / d element)}`` by central differences in float64; `bar`
    advances by one per tensor."""
    exact = copy.deepcopy(model).to(np.float64)
    x = x.astype(np.float64)
    state = tuple(s.astype(np.float64) for s in state) if isinstance(state, tuple) else (
        None if state is None else state.astype(np.float64))
    for parameter in exact.parameters():  # perturbed in place, element by element
        parameter.data = np.ascontiguousarray(parameter.data)
    targets = {name: p.data for name, p in exact.named_parameters()}
    targets.update(zip(["x", *state_names(state)], (x, *as_tuple(state))))

    def loss() -> float:
        with no_grad():
            return float(_loss_tensor(loss_fn(_call(exact, x, state, lengths=lengths)[0])).data.reshape(()))

    results = {}
    for name, array in targets.items():
        if max_elements is None or array.size <= max_elements:
            indices = np.arange(array.size)
        else:
            indices = np.sort(rng.choice(array.size, size=max_elements, replace=False))
        results[name] = (indices, central_differences(loss, array, indices, EPS))
        bar.update(1)
    return results
