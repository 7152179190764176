"""Say where a hand-written gradient is wrong: which gradient, which gate, which part, which step.

The building blocks work on plain arrays, so any layout can use them:

- `check_gradient` compares one gradient with its reference (PyTorch's gradcheck rule,
  ``|a - b| <= atol + rtol * |b|`` elementwise) and localises a failure to gate slices (the
  stacked gates of PyTorch's ``weight_ih``/``weight_hh``/``bias_*`` rows, or CS231n's
  ``Wx``/``Wh``/``b`` columns) and to parts (the columns of a course ``W`` acting on
  ``a_prev`` and on ``x_t``);
- `first_wrong_lengths` runs a sequence backward and its reference on prefixes of the sequence
  and returns, per gradient, the shortest length at which they disagree: ``1`` means the
  single-step math is wrong, more than ``1`` that the gradient carried from step ``t`` to
  ``t - 1`` is;
- `first_wrong_step` finds the first wrong time index of a per-step array such as ``dx``;
- `diagnose` turns those facts into one line; `check_torch_gradient` is `check_gradient` for
  PyTorch's parameter names.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import permutations

import numpy as np

__all__ = ["GradientCheck", "check_gradient", "check_torch_gradient", "first_wrong_lengths",
           "first_wrong_step", "diagnose", "Wording", "rounding_only", "tolerance", "TOLERANCES", "FLOAT32_WARNING"]

# (rtol, atol) of ``|a - b| <= atol + rtol * |b|`` per dtype. Two float64 BPTTs of O(1) values
# agree to ~1e-15, so float64 catches any bug above 1e-9 and even a value stored in float32
# (rounded by ~6e-8); float32 rounding is ~1e-7 per operation and ~1e-4 after a BPTT.
TOLERANCES = {"float64": (1e-9, 1e-12), "float32": (1e-3, 1e-5)}

FLOAT32_WARNING = ("WARNING: checking in float32: its rounding (~1e-7 per operation, ~1e-4 after a BPTT) "
                   "cannot tell a 1e-4 bug from rounding, so the tolerances are scaled to float32 and a "
                   "small mistake can pass. Check in float64 to be sure.")

# The note on a dx wrong at the last step of its shortest wrong length: that step receives no
# carried gradient, so its single-step math is wrong; it only showed after the first step because
# the first step starts from a zero cell state, where the forget gate gets no gradient.
LAST_STEP_WRONG = "is wrong at the last step, which receives no carried gradient"


def _torch_gates(mode: str) -> tuple | None:
    """The gates stacked as row blocks of the weights and biases of a PyTorch layer of `mode` (a
    recurrent kind of `tl.nn.kinds`, or PyTorch's ``rnn_tanh``/``rnn_relu``), or None for one gate."""
    from ..nn.kinds import get_kind, kind_names  # the registry of recurrent kinds knows the gates
    modes = {name: get_kind(name).gates for name in kind_names()}
    modes.update(rnn_tanh=modes["rnn"], rnn_relu=modes["rnn"])
    if mode not in modes:
        raise ValueError(f"check_torch_gradient: mode must be one of {sorted(modes)}, got {mode!r}")
    return modes[mode] if len(modes[mode]) > 1 else None


def __getattr__(name: str):
    """``TORCH_GATES``, the gate table that is now the registry's (`tl.nn.kinds`), deprecated."""
    if name == "TORCH_GATES":
        import warnings
        from ..nn.kinds import kind_names
        warnings.warn("tinygrad_lstm.manual.localize.TORCH_GATES is deprecated: the gates of each recurrent kind "
                      "are in its record, tl.nn.kinds.get_kind(name).gates", DeprecationWarning, stacklevel=2)
        return {mode: _torch_gates(mode) for mode in (*kind_names(), "rnn_tanh", "rnn_relu")}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def tolerance(dtype) -> tuple:
    """``(rtol, atol)`` for gradients of `dtype` (float64 unless it is float32 or narrower)."""
    return TOLERANCES["float32" if np.dtype(dtype).itemsize <= 4 else "float64"]


@dataclass
class GradientCheck:
    """One gradient (or forward output) against its reference, and where it is wrong.

    Attributes
    ----------
    name : str
    correct : bool
    max_abs_error : float or None
        ``max|value - reference|``; None when the value cannot be compared (see `problem`).
    max_rel_error : float or None
        ``max_abs_error / max|reference|``; the absolute error when the reference is all zero.
    gate : str or None
        The gate whose slice is wrong; several are joined by commas (``"i,f,g"``). None when the
        gradient does not belong to gates, or when every gate is wrong.
    part : str or None
        ``"recurrent"`` or ``"input"`` when only the columns acting on ``a_prev`` (or only those
        acting on ``x_t``) are wrong; None otherwise.
    first_wrong_length : int or None
        For a sequence backward: the shortest prefix length at which this gradient is wrong.
    first_wrong_step : int or None
        For values with a time axis: the first wrong time index in the order the pass computes
        them (a forward from ``t = 0`` up, a backward from ``t = T - 1`` down).
    problem : str or None
        Why the value could not be compared (None, wrong shape, not finite).
    notes : list of str
        Facts found on the way, such as ``"holds the gradient of gate g in the columns of gate o"``.
    """

    name: str
    correct: bool
    max_abs_error: float | None = None
    max_rel_error: float | None = None
    gate: str | None = None
    part: str | None = None
    first_wrong_length: int | None = None
    first_wrong_step: int | None = None
    problem: str | None = None
    notes: list = field(default_factory=list)
    wrong_gates: tuple = ()

    def to_dict(self) -> dict:
        """The JSON fields: name, correct, errors, gate, part, first wrong length and step."""
        return {"name": self.name, "correct": self.correct, "max_abs_error": self.max_abs_error,
                "max_rel_error": self.max_rel_error, "gate": self.gate, "part": self.part,
                "first_wrong_length": self.first_wrong_length, "first_wrong_step": self.first_wrong_step}

    def where(self) -> str:
        """``dWf input part, gate f`` or ``weight_hh_l0 gate g``: the name and its localisation."""
        text = self.name
        if self.part:
            text += f" {self.part} part"
        if self.gate:
            text += f"{',' if self.part else ''} gate{'s' if ',' in self.gate else ''} {self.gate}"
        return text


def _close(value, reference, rtol, atol) -> np.ndarray:
    """Elementwise ``|a - b| <= atol + rtol * |b|`` (False where either is NaN)."""
    return np.abs(value - reference) <= atol + rtol * np.abs(reference)


def _as_float_array(value):
    """`value` as a float64 array, or a reason why it cannot be one."""
    if value is None:
        return None, "is None (not implemented yet?)"
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None, f"is a {type(value).__name__}, not an array of numbers"
    return array, None


def check_gradient(name: str, value, reference, *, rtol: float = TOLERANCES["float64"][0],
                   atol: float = TOLERANCES["float64"][1], gates=None, gate_axis: int = 0,
                   gate: str | None = None, parts: dict | None = None, part_axis: int = -1) -> GradientCheck:
    """Compare `value` with `reference` and localise a failure.

    Parameters
    ----------
    name : str
    value : array_like
        The gradient under test (anything; None, a wrong shape or NaN become a `problem`).
    reference : ndarray
        The true gradient.
    rtol, atol : float
        Elementwise tolerance ``|value - reference| <= atol + rtol * |reference|``.
    gates : sequence of str, optional
        Gate names of equal blocks stacked along `gate_axis` (``("i", "f", "g", "o")`` for
        PyTorch's LSTM rows, ``("i", "f", "o", "g")`` for CS231n's columns).
    gate : str, optional
        The gate the whole gradient belongs to (a course's ``dWf`` is gate ``f``).
    parts : dict of str to slice, optional
        Named column blocks along `part_axis`, e.g. ``{"recurrent": slice(0, n_a),
        "input": slice(n_a, None)}`` for a course ``W`` acting on ``[a_prev; x_t]``.

    Returns
    -------
    GradientCheck
    """
    reference = np.asarray(reference, dtype=np.float64)
    array, problem = _as_float_array(value)
    if problem is None and array.shape != reference.shape:
        problem = f"has shape {array.shape}, expected {reference.shape}"
    if problem is None and not np.all(np.isfinite(array)):
        problem = "contains NaN or inf"
    if problem is not None:
        return GradientCheck(name, False, gate=gate, problem=problem, wrong_gates=(gate,) if gate else ())
    max_abs = float(np.abs(array - reference).max(initial=0.0))
    scale = float(np.abs(reference).max(initial=0.0))
    check = GradientCheck(name, bool(np.all(_close(array, reference, rtol, atol))), max_abs,
                          max_abs / scale if scale > 0 else max_abs)
    if check.correct:
        return check
    check.gate = gate
    if scale > 0 and not np.any(array):
        check.notes.append("is all zero")
    if gates:
        check.wrong_gates, swaps = _gate_facts(array, reference, tuple(gates), gate_axis, rtol, atol)
        check.gate = ",".join(check.wrong_gates) if len(check.wrong_gates) < len(gates) else None
        if swaps:
            check.notes.append(_swap_note(swaps, tuple(gates)))
    elif gate:
        check.wrong_gates = (gate,)
    if parts:
        wrong = [part for part, index in parts.items()
                 if not np.all(_close(_take(array, index, part_axis), _take(reference, index, part_axis), rtol, atol))]
        check.part = wrong[0] if len(wrong) == 1 else None
    return check


def _take(array, index, axis):
    return array[(slice(None),) * (axis % array.ndim) + (index,)]


def _swap_note(swaps, gates) -> str:
    """``has the slices of gates o and g swapped``, or the order the slices are in."""
    if len(swaps) == 2:
        return f"has the slices of gates {swaps[0][0]} and {swaps[0][1]} swapped"
    placed = dict(swaps)
    return f"has its gate slices in the order {', '.join(placed.get(g, g) for g in gates)}"


def _gate_facts(array, reference, gates, axis, rtol, atol):
    """The wrong gates, and ``(placed, actual)`` pairs when the value's blocks are a permutation of the reference's."""
    size = array.shape[axis]
    if size % len(gates):
        raise ValueError(f"check_gradient: axis {axis} of size {size} does not split into gates {gates}")
    width = size // len(gates)
    value_blocks = [_take(array, slice(k * width, (k + 1) * width), axis) for k in range(len(gates))]
    true_blocks = [_take(reference, slice(k * width, (k + 1) * width), axis) for k in range(len(gates))]
    wrong = tuple(g for g, v, r in zip(gates, value_blocks, true_blocks) if not np.all(_close(v, r, rtol, atol)))
    swaps = []
    for order in permutations(range(len(gates))):
        if order != tuple(range(len(gates))) and all(
                np.all(_close(v, true_blocks[j], rtol, atol)) for v, j in zip(value_blocks, order)):
            swaps = [(gates[k], gates[j]) for k, j in enumerate(order) if k != j]
            break
    return wrong, swaps


def check_torch_gradient(name: str, value, reference, mode: str, *, rtol: float = TOLERANCES["float64"][0],
                         atol: float = TOLERANCES["float64"][1]) -> GradientCheck:
    """`check_gradient` for a gradient named as in PyTorch's recurrent layers.

    ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh`` (a cell's) and ``weight_ih_l{k}`` etc.
    (a layer's, with or without ``_reverse``), also inside a module (``cell.weight_hh``), of a kind with several gates (`mode` ``"lstm"``,
    ``"gru"`` or another kind of `tl.nn.kinds`) are split into their gate rows; other names
    (``x``, ``h0``, ``weight_hr_l0``, an RNN's weights: modes ``"rnn"``, ``"rnn_tanh"``,
    ``"rnn_relu"``) are compared whole.
    """
    gates = _torch_gates(mode)
    if not re.match(r"(.*\.)?(weight|bias)_(ih|hh)(_l\d+)?(_reverse)?$", name):
        gates = None
    return check_gradient(name, value, reference, rtol=rtol, atol=atol, gates=gates, gate_axis=0)


def first_wrong_lengths(gradients_at, reference_at, lengths, *, rtol: float = TOLERANCES["float64"][0],
                        atol: float = TOLERANCES["float64"][1], check=None) -> dict:
    """The shortest prefix length at which each gradient is wrong, and its check at that length.

    Parameters
    ----------
    gradients_at : callable
        ``gradients_at(T)`` returns the gradients under test (dict name -> array) of the sequence
        cut to its first ``T`` steps.
    reference_at : callable
        ``reference_at(T)`` returns the true gradients of the same prefix.
    lengths : iterable of int
        The prefix lengths to try, shortest first (such as ``range(1, T + 1)``).
    check : callable, optional
        ``check(name, value, reference, rtol=, atol=)`` -> `GradientCheck`; `check_gradient` by
        default, or one that knows the gates of each name (such as `check_torch_gradient`).

    Returns
    -------
    dict of name -> (length, GradientCheck at that length), for the names wrong at some length
    """
    check = check or check_gradient
    found = {}
    for length in lengths:
        values, references = gradients_at(length), reference_at(length)
        for name, reference in references.items():
            if name in found:
                continue
            result = check(name, values.get(name), reference, rtol=rtol, atol=atol)
            if not result.correct:
                result.first_wrong_length = length
                found[name] = (length, result)
    return found


def first_wrong_step(value, reference, time_axis: int, backward: bool, *,
                     rtol: float = TOLERANCES["float64"][0], atol: float = TOLERANCES["float64"][1]):
    """The first time index whose slice of `value` is wrong, walking as the pass does.

    A forward computes ``t = 0, 1, ...``, a backward (``backward=True``) ``t = T - 1, T - 2, ...``;
    the first wrong slice met is where the pass went wrong. None when every slice is right or
    the shapes differ.
    """
    value, reference = np.asarray(value, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    if value.shape != reference.shape:
        return None
    steps = range(reference.shape[time_axis])
    for t in (reversed(steps) if backward else steps):
        if not np.all(_close(_take(value, t, time_axis), _take(reference, t, time_axis), rtol, atol)):
            return t
    return None


# --------------------------------------------------------------------------- the one-line diagnosis
@dataclass(frozen=True)
class Wording:
    """How a layout names things in a diagnosis: its variables and the formulas a diagnosis quotes.

    ``roles`` maps each gradient name to ``input``, ``hidden``, ``cell``, ``weight`` or ``bias``;
    ``gates`` lists the LSTM gates in the layout's order (empty for an RNN), ``gate_values`` the
    variable holding each gate's activation, ``candidate`` the tanh gate, ``output`` the output gate.
    """

    roles: dict
    gates: tuple = ()
    gate_values: dict = field(default_factory=dict)
    candidate: str = ""
    output: str = "o"
    forget: str = "f"
    hidden_state: str = "h"      # the previous hidden state, as the layout calls it
    cell_state: str = "c"        # the previous cell state
    hidden_carry: str = ""       # how each step receives the hidden-state gradient
    cell_carry: str = ""         # the carried cell-state gradient
    cell_upstream: str = ""      # the cell-state gradient a step receives
    cell_gradient: str = ""      # the formula of the gradient reaching the new cell state
    tanh_rnn: str = ""           # the formula of the RNN's pre-activation gradient
    bias_sum: str = ""           # how a bias gradient sums over the batch
    state_lines: str = ""        # the formulas of the input and hidden-state gradients
    weight_lines: str = ""       # the formulas of the weight gradients


def diagnose(checks: list, wording: Wording, sequence: bool, right_without_cell_gradient: bool = False) -> str:
    """One line from the facts in `checks` (the gradients of one backward function).

    Only what the numbers show: which gradients are wrong, from which prefix length (for a
    `sequence` backward), which gates and parts, and the formula those facts point at.
    `right_without_cell_gradient` says that a step backward is right when the cell-state
    gradient it receives is zero.
    """
    wrong = [c for c in checks if not c.correct]
    if not wrong:
        return "agrees with the graph"
    broken = [c for c in wrong if c.problem]
    if broken:
        return "; ".join(f"{c.name} {c.problem}" for c in broken)
    if rounding_only(wrong):
        return rounding_only(wrong)
    if not sequence:
        if right_without_cell_gradient:
            return f"{_subject(wrong)}: {_cell_upstream_misused(wrong, wording)}"
        return f"{_subject(wrong)}: {_single_step(wrong, wording)}"
    length = min(c.first_wrong_length or 1 for c in wrong)
    first = [c for c in wrong if (c.first_wrong_length or 1) == length]
    if length == 1:
        return (f"{_subject(first)}: wrong from length 1 on: the single-step math is wrong: "
                f"{_single_step(first, wording)}")
    if any(LAST_STEP_WRONG in c.notes for c in first):
        return (f"{_subject(first)}: wrong from length {length} on, but the single-step math is wrong: dx "
                f"{LAST_STEP_WRONG} (a mistake the first step cannot show: it starts from a zero cell state, "
                f"where gate f gets no gradient)")
    return f"{_subject(first)}: wrong from length {length} on: {_carried(first, wrong, wording)}"


def rounding_only(wrong: list) -> str | None:
    """The diagnosis of values off by rounding only (under 1e-3) because some are not float64, else None."""
    narrow = [c for c in wrong if any(note.startswith("is float") for note in c.notes)]
    if not narrow or any(c.problem or c.max_rel_error >= 1e-3 for c in wrong):
        return None
    return (f"{', '.join(c.name for c in wrong)}: off by rounding only, and {', '.join(c.name for c in narrow)} "
            f"{'is' if len(narrow) == 1 else 'are'} not float64: compute in float64")


def _subject(wrong: list) -> str:
    """The wrong gradients, consecutive ones with the same localisation sharing it: ``dx, dWx/db gates i,g``."""
    groups = []
    for c in wrong:
        label = c.where()[len(c.name):]
        if c.part is None and len(c.wrong_gates) == 1 and c.gate and "," not in c.gate and c.wrong_gates == (c.gate,) \
                and c.name.endswith(c.gate):
            label = ""  # a course's dWf is gate f's own: saying so adds nothing
        if groups and groups[-1][1] == label:
            groups[-1][0].append(c.name)
        else:
            groups.append(([c.name], label))
    return ", ".join(("/".join(names) if label else ", ".join(names)) + label for names, label in groups)


def _plural(note: str, count: int) -> str:
    """A row's note (``has ...``) said of `count` gradients."""
    return note.replace("has its", "have their").replace("has ", "have ", 1) if count > 1 else note


def _roles(checks, wording) -> set:
    return {wording.roles.get(c.name) for c in checks}


def _wrong_gates(checks, wording) -> set:
    return {g for c in checks if wording.roles.get(c.name) in ("weight", "bias") for g in c.wrong_gates}


def _listed(gates, wording) -> str:
    return ", ".join(g for g in wording.gates if g in gates)


def _single_step(wrong: list, wording: Wording) -> str:
    names = ", ".join(c.name for c in wrong)
    if all("is all zero" in c.notes for c in wrong):
        return (f"{names} {'is' if len(wrong) == 1 else 'are'} all zero: the upstream gradient does not reach "
                f"the step (check that {wording.hidden_carry})")
    swaps = {}
    for c in wrong:
        for note in c.notes:
            if "swapped" in note or note.startswith(("holds", "has its gate slices")):
                swaps.setdefault(note, []).append(c.name)
    if swaps:
        order = f" (the gate order is {', '.join(wording.gates)})" if wording.gates else ""
        return "; ".join(f"{', '.join(names)} {_plural(note, len(names))}" for note, names in swaps.items()) + order
    roles = _roles(wrong, wording)
    if roles == {"bias"}:
        averaged = [f"{c.name} {note}" for c in wrong for note in c.notes if note.startswith("is the mean")]
        return (f"the weight gradients are right, so is the gradient of every gate; only the bias gradient is wrong"
                f"{': ' + '; '.join(averaged) if averaged else ''} (check that {wording.bias_sum})")
    if roles == {"cell"}:
        f_value = wording.gate_values.get("f", "f")
        return (f"every gate gradient is right, so is the gradient reaching the cell; only {names} is wrong: "
                f"check the factor {f_value} in {wording.cell_carry}")
    if roles <= {"input", "hidden"}:
        return (f"the weight gradients are right, so is the gradient of every gate; the error is in {names}: "
                f"check {wording.state_lines}")
    if roles == {"weight"}:
        parts = {c.part for c in wrong}
        only = f" (only the {parts.pop()} part)" if len(parts) == 1 and None not in parts else ""
        return (f"the bias gradients are right, so is the gradient of every gate; the error is in {names}{only}: "
                f"check {wording.weight_lines}")
    if not wording.gates:
        return f"the gradient through tanh is wrong: check {wording.tanh_rnn}"
    return _gate_pattern(_wrong_gates(wrong, wording), "cell" in roles, wording)


def _gate_pattern(gates: set, cell_wrong: bool, wording: Wording) -> str:
    sigmoid_gates = [g for g in wording.gates if g != wording.candidate]
    fed_by_cell = {g for g in wording.gates if g != wording.output}
    value = wording.gate_values
    if gates == {wording.candidate}:
        return (f"only the candidate {wording.candidate} is wrong: check its tanh derivative "
                f"1 - {value[wording.candidate]}**2, taken from the gate's output, not its pre-activation")
    if gates == set(sigmoid_gates):
        return (f"every sigmoid gate ({', '.join(sigmoid_gates)}) is wrong and the candidate is right: "
                f"check the sigmoid derivative s * (1 - s)")
    if gates == fed_by_cell:
        also = f" and so is {wording.cell_carry}" if cell_wrong else ""
        return (f"every gate fed by the cell state ({_listed(gates, wording)}) is wrong{also}, while {wording.output} "
                f"is right: the gradient reaching the cell state is wrong: check {wording.cell_gradient}")
    if len(gates) == 1:
        gate = next(iter(gates))
        return f"only gate {gate} is wrong: check its derivative {value[gate]} * (1 - {value[gate]}) and its slice"
    if gates:
        return f"gates {_listed(gates, wording)} are wrong: check their derivatives and slices"
    return "check the single-step derivatives"


def _cell_upstream_misused(wrong: list, wording: Wording) -> str:
    if _roles(wrong, wording) == {"cell"}:
        f_value = wording.gate_values.get("f", "f")
        return (f"only {wording.cell_carry} is wrong, and only when {wording.cell_upstream} is not 0: check the "
                f"{wording.cell_upstream} term of {wording.cell_carry} (its factor {f_value})")
    gates = _wrong_gates(wrong, wording)
    which = f" into the gradient of gate{'s' if len(gates) > 1 else ''} {_listed(gates, wording)}" if gates else ""
    return (f"right when {wording.cell_upstream} = 0, wrong otherwise: check how {wording.cell_upstream} "
            f"enters dc and flows{which}")


def _carried(first: list, wrong: list, wording: Wording) -> str:
    if not any(wording.roles.get(c.name) in ("input", "hidden", "cell") for c in wrong) and (
            _roles(first, wording) <= {"weight", "bias"}):
        names = ", ".join(c.name for c in first)
        return (f"{names} {'is' if len(first) == 1 else 'are'} not summed over the time steps (every other "
                f"gradient is right): add each step's contribution with +=")
    gates = _wrong_gates(first, wording)
    # A wrong carried dc reaches every gate but o; f only where the cell state before is not 0.
    fed_by_cell = {g for g in wording.gates if g not in (wording.output, wording.forget)}
    if wording.gates and fed_by_cell <= gates and wording.output not in gates:
        return (f"the gradient carried through {wording.cell_state} is wrong (check the factor "
                f"{wording.gate_values.get('f', 'f')} in {wording.cell_carry}, and that {wording.cell_carry} "
                f"reaches the step before)")
    if wording.gates and gates and wording.output not in gates:
        several = len(gates) > 1
        return (f"gate{'s' if several else ''} {_listed(gates, wording)} {'misuse' if several else 'misuses'} the "
                f"cell-state gradient carried from the step after (check how {wording.cell_upstream} enters dc and "
                f"flows into {'them' if several else 'it'})")
    if not wording.gates or wording.output in gates:
        return f"the gradient carried through {wording.hidden_state} is wrong (check that {wording.hidden_carry})"
    return "the gradient carried from step t to t-1 is wrong"
