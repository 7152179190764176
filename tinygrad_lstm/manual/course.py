"""Check a learner's own course-layout RNN/LSTM code against the graph, and say where it is wrong.

`check_course_code` imports a Python file (or takes a module), finds every function with a known
course name and signature, and checks it. Two layouts (`LAYOUTS`):

- ``coursera``, the Deep Learning Specialization's "Building your Recurrent Neural Network - Step
  by Step": time last, ``x (n_x, m, T_x)``, a ``parameters`` dict (``Wf (n_a, n_a + n_x)`` acting
  on ``[a_prev; xt]``, ...); ``rnn_cell_forward``, ``rnn_forward``, ``rnn_cell_backward``,
  ``rnn_backward`` and the same four for ``lstm``; the course's cache layouts;
- ``cs231n``, Stanford CS231n assignment 3's ``rnn_layers.py``: batch first, ``x (N, T, D)``,
  ``Wx``, ``Wh``, one bias ``b``, LSTM gates stacked as columns i, f, o, g; ``rnn_step_forward``,
  ``rnn_step_backward``, ``rnn_forward``, ``rnn_backward`` and the same four for ``lstm``.

The reference is the graph: the same cell composed from `tl.Tensor` ops in float64, with the
learner's layout and weights. Forwards are compared value by value (and, for coursera, cache
entry by cache entry). A backward runs on the caches of the learner's own forward when that
forward is right, and otherwise on the package's forward of the same layout (`classic` for
coursera, `cs231n`). A wrong sequence backward is run again on every prefix of the sequence to
find the shortest length at which each gradient goes wrong (`localize`).
"""
from __future__ import annotations

import contextlib
import copy
import html
import importlib.util
import inspect
import io
import os
import sys
import traceback
import types
from dataclasses import dataclass
from functools import partial
from itertools import permutations
from pathlib import Path

import numpy as np

from ..engine import Tensor
from ..nn.functional import softmax
from ..ops import concat, stack
from . import classic, cs231n
from .localize import (LAST_STEP_WRONG, TOLERANCES, GradientCheck, Wording, check_gradient, diagnose,
                       first_wrong_lengths, first_wrong_step, rounding_only)

__all__ = ["check_course_code", "CourseCheck", "FunctionCheck", "CourseCodeError", "LAYOUTS", "CourseFunction"]

RTOL, ATOL = TOLERANCES["float64"]
CELLS = ("rnn", "lstm")
SCOPES = ("step", "sequence")


# --------------------------------------------------------------------------- the report
_HEAD = ("function", "value", "result", "max abs", "max rel", "gate", "part", "from length", "first wrong t")
_WRONG_STYLE = ' style="background-color:#fdd"'


@dataclass
class FunctionCheck:
    """One learner function against the graph.

    Attributes
    ----------
    name : str
    correct : bool
    forward_used : str
        ``"yours"`` when a backward ran on your forward's caches (always, for a forward),
        ``"reference"`` when it ran on the package's forward because yours is wrong or missing.
    gradients : list of GradientCheck
        One row per returned value: the gradients of a backward, the outputs (and the coursera
        cache) of a forward.
    diagnosis : str
        One line saying what the numbers show.
    traceback : str
        Your code's traceback, trimmed to your file, when it raised.
    caches : str
        Where a backward's caches came from, when not from your forward.
    """

    name: str
    correct: bool
    forward_used: str
    gradients: list
    diagnosis: str
    traceback: str = ""
    caches: str = ""

    def __getitem__(self, name: str) -> GradientCheck:
        for row in self.gradients:
            if row.name == name:
                return row
        raise KeyError(f"{self.name} has no value {name!r}; it has {[row.name for row in self.gradients]}")

    def to_dict(self) -> dict:
        """The JSON fields: name, correct, forward_used, gradients, diagnosis."""
        return {"name": self.name, "correct": self.correct, "forward_used": self.forward_used,
                "gradients": [row.to_dict() for row in self.gradients], "diagnosis": self.diagnosis}

    def _table(self) -> tuple:
        """``(rows of cells, rows' GradientCheck or None, note lines)`` for the text and HTML tables."""
        def number(value):
            return "-" if value is None else f"{value:.1e}"

        def optional(value):
            return "" if value is None else str(value)
        rows = [[row.name, "ok" if row.correct else "WRONG", number(row.max_abs_error), number(row.max_rel_error),
                 optional(row.gate), optional(row.part), optional(row.first_wrong_length),
                 optional(row.first_wrong_step)] for row in self.gradients]
        rows = rows or [["", "ok" if self.correct else "WRONG", *[""] * 6]]
        rows = [[self.name if k == 0 else "", *cells] for k, cells in enumerate(rows)]
        notes = [line for line in (self.caches, "" if self.correct else self.diagnosis) if line]
        notes = [f"-> {line}" for line in notes] + [f"   {line}" for line in self.traceback.splitlines()]
        return rows, self.gradients or [None], notes

    def __str__(self) -> str:
        return "\n".join(_render_text([self]))


def _render_text(functions: list) -> list:
    tables = [function._table() for function in functions]
    widths = [max(len(cells[k]) for cells in [_HEAD, *(r for rows, _, _ in tables for r in rows)])
              for k in range(len(_HEAD))]

    def render(cells):
        return "  ".join(f"{cell:<{width}}" for cell, width in zip(cells, widths)).rstrip()
    lines = [render(_HEAD)]
    for rows, _, notes in tables:
        lines += [render(cells) for cells in rows] + [f"  {note}" for note in notes]
    return lines


@dataclass
class CourseCheck:
    """What `check_course_code` found: one `FunctionCheck` per course function in the file.

    ``str(report)`` is a text table, ``report._repr_html_()`` the same table for a notebook
    (wrong rows highlighted), ``report.to_dict()`` the JSON of ``tinygrad-lstm check --json``,
    ``report["lstm_backward"]`` one function.
    """

    layout: str
    functions: list
    source: str
    seed: int
    tolerance: tuple = (RTOL, ATOL)

    @property
    def correct(self) -> bool:
        """True when every checked function agrees with the graph."""
        return all(f.correct for f in self.functions)

    def __getitem__(self, name: str) -> FunctionCheck:
        for function in self.functions:
            if function.name == name:
                return function
        raise KeyError(f"no function {name!r} was checked; checked: {[f.name for f in self.functions]}")

    def to_dict(self) -> dict:
        """``{"layout", "correct", "functions": [FunctionCheck.to_dict(), ...]}`` (JSON-serialisable)."""
        return {"layout": self.layout, "correct": self.correct, "functions": [f.to_dict() for f in self.functions]}

    def summary(self) -> str:
        """One line: ``all 8 functions agree with the graph`` or ``2 of 8 functions wrong: ...``."""
        wrong = [f.name for f in self.functions if not f.correct]
        if not wrong:
            return f"all {len(self.functions)} function{'s' if len(self.functions) > 1 else ''} agree with the graph"
        return f"{len(wrong)} of {len(self.functions)} functions wrong: {', '.join(wrong)}"

    def __repr__(self) -> str:
        wrong = [f.name for f in self.functions if not f.correct]
        return (f"CourseCheck(layout={self.layout!r}, correct={self.correct}, functions={len(self.functions)}, "
                f"wrong={wrong})")

    def _header(self) -> list:
        rtol, atol = self.tolerance
        return [f"Course code check of {self.source}: {self.layout} layout, float64, seed {self.seed}",
                "Each value against the graph (the same cell composed from tl.Tensor ops); "
                f"wrong when |yours - graph| > {atol:.0e} + {rtol:.0e} * |graph|"]

    def __str__(self) -> str:
        return "\n".join([*self._header(), "", *_render_text(self.functions), "", self.summary()])

    def _repr_html_(self) -> str:
        body = []
        for function in self.functions:
            rows, checks, notes = function._table()
            for cells, row in zip(rows, checks):
                right = function.correct if row is None else row.correct
                body.append(f"<tr{'' if right else _WRONG_STYLE}>"
                            + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
            for note in notes:
                body.append(f'<tr{"" if function.correct else _WRONG_STYLE}><td></td><td colspan="{len(_HEAD) - 1}">'
                            f'<pre style="margin:0">{html.escape(note)}</pre></td></tr>')
        head = "".join(f"<th>{html.escape(h)}</th>" for h in _HEAD)
        header = "<br>".join(html.escape(line) for line in self._header())
        return (f"<div><p>{header}</p><table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
                f"<p><b>{html.escape(self.summary())}</b></p></div>")


class CourseCodeError(ImportError):
    """The learner's file could not be imported; `traceback` is its traceback trimmed to that file."""

    def __init__(self, message: str, traceback_text: str = ""):
        super().__init__(message)
        self.traceback = traceback_text


# --------------------------------------------------------------------------- the layouts
@dataclass(frozen=True)
class CourseFunction:
    """A function of a course: its name, cell, scope, parameters and returned values.

    ``outputs`` are the returned values before the cache for a forward, the gradients for a
    backward; a backward's ``forward`` names the function whose cache it reads (its last
    parameter).
    """

    name: str
    cell: str
    scope: str
    params: tuple
    outputs: tuple
    forward: str | None = None

    @property
    def signature(self) -> str:
        return f"{self.name}({', '.join(self.params)})"


class CourseLayout:
    """A course's layout: its functions, data, graph, cache and words. One instance per course in `LAYOUTS`."""

    name: str
    functions: tuple
    reference: types.ModuleType    # the package's own implementation of the course functions
    time_axis: int                 # of a sequence (x, dx, hidden states)
    backward_returns_dict: bool
    batch_axis: int                # of an input x
    cache_is_fixed: bool           # does the course fix the cache layout (so the package's cache fits)?

    def function(self, name: str) -> CourseFunction:
        """The course function called `name`."""
        return next(fn for fn in self.functions if fn.name == name)

    def step_of(self, fn: CourseFunction) -> CourseFunction:
        """The step function of the same cell and direction as `fn` (``lstm_backward`` -> ``lstm_cell_backward``)."""
        return next(s for s in self.functions if s.cell == fn.cell and s.scope == "step"
                    and (s.forward is None) == (fn.forward is None))

    def forward_of(self, cell: str, scope: str) -> CourseFunction:
        """The forward function of `cell` (rnn, lstm) and `scope` (step, sequence)."""
        return next(fn for fn in self.functions if fn.cell == cell and fn.scope == scope and fn.forward is None)

    def problem(self, cell: str, scope: str, seed: int) -> dict:
        """Random float64 inputs named as the course's parameters, plus the upstream gradients ``d<output>``."""
        raise NotImplementedError

    def graph(self, cell: str, scope: str, inputs: dict, c0=None) -> tuple:
        """``(outputs, steps)``: the forward's outputs as Tensors, and each step's cache values (arrays).

        A sequence starts from the cell state `c0` (an array), zero by default as in the course.
        """
        raise NotImplementedError

    def assemble_cache(self, step_forward, problem: dict, c0, files: set):
        """The cache of the sequence forward, built from `step_forward`'s caches, starting from cell state `c0`."""
        raise NotImplementedError

    def gradient_options(self, cell: str, name: str) -> dict:
        """Keyword arguments of `check_gradient` that localise gradient `name` (gates, parts)."""
        return {}

    def wording(self, cell: str) -> Wording:
        """How the diagnoses of `cell`'s backwards name things in this layout."""
        raise NotImplementedError

    def check_cache(self, fn: CourseFunction, cache, steps: list, problem: dict) -> GradientCheck | None:
        """A row for the forward's cache when the course fixes its layout, else None."""
        return None

    def forward_facts(self, fn: CourseFunction, problem: dict, outputs: dict) -> list:
        """Facts about a wrong forward found by trying known mistakes on the reference."""
        return []

    def backward_notes(self, fn: CourseFunction, rows: list, values: dict, references: dict) -> None:
        """Add layout-specific facts to the rows of a wrong backward."""

    def read_forward(self, fn: CourseFunction, result) -> tuple:
        """``(outputs dict, cache)`` from what a forward returned."""
        count = len(fn.outputs) + 1
        if not isinstance(result, (tuple, list)) or len(result) != count:
            raise _Unreadable(f"returned {_describe(result)}; the course's {fn.name} returns {count} values: "
                              f"{', '.join(fn.outputs)}, cache")
        return dict(zip(fn.outputs, result[:-1])), result[-1]

    def read_backward(self, fn: CourseFunction, result) -> dict:
        """The gradients (dict name -> value, `_MISSING` when absent) from what a backward returned."""
        if self.backward_returns_dict:
            if not isinstance(result, dict):
                raise _Unreadable(f"returned {_describe(result)}; the course's {fn.name} returns a dict with "
                                  f"keys {', '.join(fn.outputs)}")
            return {name: result.get(name, _MISSING) for name in fn.outputs}
        if not isinstance(result, (tuple, list)) or len(result) != len(fn.outputs):
            raise _Unreadable(f"returned {_describe(result)}; the course's {fn.name} returns {len(fn.outputs)} "
                              f"values: {', '.join(fn.outputs)}")
        return dict(zip(fn.outputs, result))


def _describe(value) -> str:
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)} values"
    return f"a {type(value).__name__}"


def _normal(rng, shape, scale=1.0):
    return scale * rng.standard_normal(shape)


class _Coursera(CourseLayout):
    name = "coursera"
    reference = classic
    time_axis = 2
    batch_axis = 1
    backward_returns_dict = True
    cache_is_fixed = True
    sizes = {"n_x": 3, "n_a": 5, "n_y": 7, "m": 2, "T_x": 4}
    gates = ("f", "i", "c", "o")
    cache_fields = {"rnn": ("a_next", "a_prev", "xt", "parameters"),
                    "lstm": ("a_next", "c_next", "a_prev", "c_prev", "ft", "it", "cct", "ot", "xt", "parameters")}
    _lstm_grads = tuple(f"d{kind}{g}" for g in "fico" for kind in "Wb")
    functions = (
        CourseFunction("rnn_cell_forward", "rnn", "step", ("xt", "a_prev", "parameters"), ("a_next", "yt_pred")),
        CourseFunction("rnn_forward", "rnn", "sequence", ("x", "a0", "parameters"), ("a", "y_pred")),
        CourseFunction("rnn_cell_backward", "rnn", "step", ("da_next", "cache"),
                       ("dxt", "da_prev", "dWax", "dWaa", "dba"), forward="rnn_cell_forward"),
        CourseFunction("rnn_backward", "rnn", "sequence", ("da", "caches"),
                       ("dx", "da0", "dWax", "dWaa", "dba"), forward="rnn_forward"),
        CourseFunction("lstm_cell_forward", "lstm", "step", ("xt", "a_prev", "c_prev", "parameters"),
                       ("a_next", "c_next", "yt_pred")),
        CourseFunction("lstm_forward", "lstm", "sequence", ("x", "a0", "parameters"), ("a", "y", "c")),
        CourseFunction("lstm_cell_backward", "lstm", "step", ("da_next", "dc_next", "cache"),
                       ("dxt", "da_prev", "dc_prev", *_lstm_grads), forward="lstm_cell_forward"),
        CourseFunction("lstm_backward", "lstm", "sequence", ("da", "caches"), ("dx", "da0", *_lstm_grads),
                       forward="lstm_forward"),
    )

    def problem(self, cell, scope, seed):
        rng = np.random.default_rng([seed, CELLS.index(cell), SCOPES.index(scope), 0])
        n_x, n_a, n_y, m, T = (self.sizes[k] for k in ("n_x", "n_a", "n_y", "m", "T_x"))
        if cell == "rnn":
            parameters = {"Waa": _normal(rng, (n_a, n_a), 0.5), "Wax": _normal(rng, (n_a, n_x), 0.5),
                          "Wya": _normal(rng, (n_y, n_a)), "ba": _normal(rng, (n_a, 1), 0.5),
                          "by": _normal(rng, (n_y, 1), 0.5)}
        else:
            parameters = {}
            for gate in "fico":
                parameters["W" + gate] = _normal(rng, (n_a, n_a + n_x), 0.5)
                parameters["b" + gate] = _normal(rng, (n_a, 1), 0.5)
            parameters.update(Wy=_normal(rng, (n_y, n_a)), by=_normal(rng, (n_y, 1), 0.5))
        if scope == "step":
            problem = {"xt": _normal(rng, (n_x, m)), "a_prev": _normal(rng, (n_a, m)), "parameters": parameters,
                       "da_next": _normal(rng, (n_a, m))}
            if cell == "lstm":
                problem.update(c_prev=_normal(rng, (n_a, m)), dc_next=_normal(rng, (n_a, m)))
            return problem
        problem = {"x": _normal(rng, (n_x, m, T)), "a0": _normal(rng, (n_a, m)), "parameters": parameters,
                   "da": _normal(rng, (n_a, m, T))}
        if cell == "lstm":
            problem["c0"] = _normal(rng, (n_a, m))  # the start of the localisation runs (see _check_backward)
        return problem

    def graph(self, cell, scope, inputs, c0=None):
        p = inputs["parameters"]
        step = self._rnn_step if cell == "rnn" else self._lstm_step
        if scope == "step":
            state = (inputs["a_prev"],) if cell == "rnn" else (inputs["a_prev"], inputs["c_prev"])
            outputs, cached = step(inputs["xt"], *state, p)
            return outputs, [cached]
        x, a0 = inputs["x"], inputs["a0"]
        state = (a0,) if cell == "rnn" else (a0, Tensor(np.zeros(a0.shape) if c0 is None else c0))
        names = {"a_next": "a", "yt_pred": "y_pred" if cell == "rnn" else "y", "c_next": "c"}
        collected, steps = {}, []
        for t in range(x.shape[2]):
            outputs, cached = step(x[:, :, t], *state, p)
            state = (outputs["a_next"],) if cell == "rnn" else (outputs["a_next"], outputs["c_next"])
            steps.append(cached)
            for name, value in outputs.items():
                collected.setdefault(names[name], []).append(value)
        return {name: stack(values, axis=2) for name, values in collected.items()}, steps

    def assemble_cache(self, step_forward, problem, c0, files):
        x, a, c, caches = problem["x"], problem["a0"], c0, []
        for t in range(x.shape[2]):
            a, c, _, cache = _call(step_forward, [x[:, :, t], a, c, problem["parameters"]], files)
            caches.append(cache)
        return caches, x

    @staticmethod
    def _rnn_step(xt, a_prev, p):
        a_next = (p["Wax"] @ xt + p["Waa"] @ a_prev + p["ba"]).tanh()
        outputs = {"a_next": a_next, "yt_pred": softmax(p["Wya"] @ a_next + p["by"], axis=0)}
        return outputs, {"a_next": a_next.data, "a_prev": a_prev.data, "xt": xt.data}

    @staticmethod
    def _lstm_step(xt, a_prev, c_prev, p):
        joined = concat([a_prev, xt], axis=0)
        ft = (p["Wf"] @ joined + p["bf"]).sigmoid()
        it = (p["Wi"] @ joined + p["bi"]).sigmoid()
        cct = (p["Wc"] @ joined + p["bc"]).tanh()
        ot = (p["Wo"] @ joined + p["bo"]).sigmoid()
        c_next = ft * c_prev + it * cct
        a_next = ot * c_next.tanh()
        outputs = {"a_next": a_next, "c_next": c_next, "yt_pred": softmax(p["Wy"] @ a_next + p["by"], axis=0)}
        cached = {"a_next": a_next, "c_next": c_next, "a_prev": a_prev, "c_prev": c_prev, "ft": ft, "it": it,
                  "cct": cct, "ot": ot, "xt": xt}
        return outputs, {name: value.data for name, value in cached.items()}

    def gradient_options(self, cell, name):
        if cell != "lstm" or name[:2] not in ("dW", "db"):
            return {}
        options = {"gate": name[2:]}
        if name.startswith("dW"):
            n_a = self.sizes["n_a"]
            options.update(parts={"recurrent": slice(0, n_a), "input": slice(n_a, None)}, part_axis=1)
        return options

    def wording(self, cell):
        if cell == "rnn":
            roles = {"dxt": "input", "dx": "input", "da_prev": "hidden", "da0": "hidden",
                     "dWax": "weight", "dWaa": "weight", "dba": "bias"}
            return Wording(roles, hidden_state="a_prev",
                           hidden_carry="each step receives da[:, :, t] + da_prev",
                           tanh_rnn="dz = da_next * (1 - a_next**2), the tanh derivative from its output a_next",
                           bias_sum="dba = dz.sum(axis=1, keepdims=True) sums over the batch",
                           state_lines="dxt = Wax.T @ dz and da_prev = Waa.T @ dz",
                           weight_lines="dWax = dz @ xt.T and dWaa = dz @ a_prev.T")
        roles = {"dxt": "input", "dx": "input", "da_prev": "hidden", "da0": "hidden", "dc_prev": "cell"}
        roles.update({name: "weight" if name.startswith("dW") else "bias" for name in self._lstm_grads})
        return Wording(roles, gates=self.gates, gate_values={"f": "ft", "i": "it", "c": "cct", "o": "ot"},
                       candidate="c", output="o", hidden_state="a_prev", cell_state="c_prev",
                       hidden_carry="each step receives da[:, :, t] + da_prev",
                       cell_carry="dc_prev", cell_upstream="dc_next",
                       cell_gradient="dc = dc_next + da_next * ot * (1 - np.tanh(c_next)**2)",
                       bias_sum="db = d_gate.sum(axis=1, keepdims=True) sums over the batch",
                       state_lines="da_prev = sum of W[:, :n_a].T @ d_gate and dxt = sum of W[:, n_a:].T @ d_gate "
                                   "(column slices of each W)",
                       weight_lines="dW = d_gate @ concat.T with concat = [a_prev; xt]")

    def check_cache(self, fn, cache, steps, problem):
        fields = self.cache_fields[fn.cell]
        name = "cache" if fn.scope == "step" else "caches"
        layout = f"({', '.join(fields)})"
        if fn.scope == "step":
            step_caches = [cache]
        else:
            if not (isinstance(cache, (tuple, list)) and len(cache) == 2 and isinstance(cache[0], (tuple, list))
                    and len(cache[0]) == len(steps)):
                return GradientCheck(name, False, problem=f"is not the course's (list of {len(steps)} cell caches, x)")
            step_caches = cache[0]
        wrong, largest, first_step = [], [0.0, 0.0], None
        for t, (step_cache, expected) in enumerate(zip(step_caches, steps)):
            if not isinstance(step_cache, (tuple, list)) or len(step_cache) != len(fields):
                return GradientCheck(name, False, problem=f"at step {t} is {_describe(step_cache)}, not the course's "
                                                          f"{len(fields)} entries {layout}")
            for field_name, value in zip(fields, step_cache):
                for label, got, want in self._cache_entries(field_name, value, expected, problem):
                    row = check_gradient(label, got, want)
                    if row.problem is None:
                        largest = [max(largest[0], row.max_abs_error), max(largest[1], row.max_rel_error)]
                    if not row.correct and field_name not in wrong:
                        wrong.append(field_name)
                        first_step = t if first_step is None else first_step
        if fn.scope == "sequence":
            row = check_gradient("x", cache[1], problem["x"])
            if not row.correct:
                wrong.append("x")
        check = GradientCheck(name, not wrong, *largest,
                              first_wrong_step=first_step if fn.scope == "sequence" else None)
        if wrong:
            check.notes.append(f"entries {', '.join(wrong)} differ from the course's cache {layout}")
        return check

    @staticmethod
    def _cache_entries(field_name, value, expected, problem):
        """``(label, value, reference)`` pairs of one cache entry (the parameters dict gives one per weight)."""
        if field_name != "parameters":
            return [(field_name, value, expected[field_name])]
        if not isinstance(value, dict):
            return [("parameters", None, np.zeros(0))]
        return [(key, value.get(key), reference) for key, reference in problem["parameters"].items()]

    def backward_notes(self, fn, rows, values, references):
        if fn.cell != "lstm":
            return
        for row in rows:
            if row.correct or row.problem or row.name[:2] not in ("dW", "db"):
                continue
            for gate in self.gates:
                other = row.name[:2] + gate
                if other != row.name and check_gradient(other, values[row.name], references[other]).correct:
                    row.notes.append(f"holds the gradient of gate {gate}")


class _CS231n(CourseLayout):
    name = "cs231n"
    reference = cs231n
    time_axis = 1
    batch_axis = 0
    backward_returns_dict = False
    cache_is_fixed = False
    sizes = {"N": 2, "T": 4, "D": 3, "H": 5}
    gates = ("i", "f", "o", "g")
    functions = (
        CourseFunction("rnn_step_forward", "rnn", "step", ("x", "prev_h", "Wx", "Wh", "b"), ("next_h",)),
        CourseFunction("rnn_step_backward", "rnn", "step", ("dnext_h", "cache"),
                       ("dx", "dprev_h", "dWx", "dWh", "db"), forward="rnn_step_forward"),
        CourseFunction("rnn_forward", "rnn", "sequence", ("x", "h0", "Wx", "Wh", "b"), ("h",)),
        CourseFunction("rnn_backward", "rnn", "sequence", ("dh", "cache"), ("dx", "dh0", "dWx", "dWh", "db"),
                       forward="rnn_forward"),
        CourseFunction("lstm_step_forward", "lstm", "step", ("x", "prev_h", "prev_c", "Wx", "Wh", "b"),
                       ("next_h", "next_c")),
        CourseFunction("lstm_step_backward", "lstm", "step", ("dnext_h", "dnext_c", "cache"),
                       ("dx", "dprev_h", "dprev_c", "dWx", "dWh", "db"), forward="lstm_step_forward"),
        CourseFunction("lstm_forward", "lstm", "sequence", ("x", "h0", "Wx", "Wh", "b"), ("h",)),
        CourseFunction("lstm_backward", "lstm", "sequence", ("dh", "cache"), ("dx", "dh0", "dWx", "dWh", "db"),
                       forward="lstm_forward"),
    )

    def problem(self, cell, scope, seed):
        rng = np.random.default_rng([seed, CELLS.index(cell), SCOPES.index(scope), 1])
        N, T, D, H = (self.sizes[k] for k in ("N", "T", "D", "H"))
        width = H if cell == "rnn" else 4 * H
        weights = {"Wx": _normal(rng, (D, width), 0.5), "Wh": _normal(rng, (H, width), 0.5),
                   "b": _normal(rng, (width,), 0.5)}
        if scope == "step":
            problem = {"x": _normal(rng, (N, D)), "prev_h": _normal(rng, (N, H)), **weights,
                       "dnext_h": _normal(rng, (N, H))}
            if cell == "lstm":
                problem.update(prev_c=_normal(rng, (N, H)), dnext_c=_normal(rng, (N, H)))
            return problem
        problem = {"x": _normal(rng, (N, T, D)), "h0": _normal(rng, (N, H)), **weights, "dh": _normal(rng, (N, T, H))}
        if cell == "lstm":
            problem["c0"] = _normal(rng, (N, H))  # the start of the localisation runs (see _check_backward)
        return problem

    def graph(self, cell, scope, inputs, c0=None):
        weights = (inputs["Wx"], inputs["Wh"], inputs["b"])
        if scope == "step":
            if cell == "rnn":
                return {"next_h": self._rnn_step(inputs["x"], inputs["prev_h"], *weights)}, [{}]
            next_h, next_c = self._lstm_step(inputs["x"], inputs["prev_h"], inputs["prev_c"], *weights)
            return {"next_h": next_h, "next_c": next_c}, [{}]
        x, h = inputs["x"], inputs["h0"]
        c = Tensor(np.zeros(h.shape) if c0 is None else c0)
        hidden = []
        for t in range(x.shape[1]):
            if cell == "rnn":
                h = self._rnn_step(x[:, t], h, *weights)
            else:
                h, c = self._lstm_step(x[:, t], h, c, *weights)
            hidden.append(h)
        return {"h": stack(hidden, axis=1)}, [{} for _ in hidden]

    def assemble_cache(self, step_forward, problem, c0, files):
        x, h, c, cache = problem["x"], problem["h0"], c0, []
        for t in range(x.shape[1]):
            h, c, step_cache = _call(step_forward, [x[:, t], h, c, problem["Wx"], problem["Wh"], problem["b"]], files)
            cache.append(step_cache)
        return cache

    @staticmethod
    def _rnn_step(x, prev_h, Wx, Wh, b):
        return (x @ Wx + prev_h @ Wh + b).tanh()

    @staticmethod
    def _lstm_step(x, prev_h, prev_c, Wx, Wh, b):
        H = prev_h.shape[1]
        a = x @ Wx + prev_h @ Wh + b
        i, f, o = a[:, :H].sigmoid(), a[:, H:2 * H].sigmoid(), a[:, 2 * H:3 * H].sigmoid()
        g = a[:, 3 * H:].tanh()
        next_c = f * prev_c + i * g
        return o * next_c.tanh(), next_c

    def gradient_options(self, cell, name):
        if cell != "lstm" or name not in ("dWx", "dWh", "db"):
            return {}
        return {"gates": self.gates, "gate_axis": -1}

    def wording(self, cell):
        roles = {"dx": "input", "dprev_h": "hidden", "dh0": "hidden", "dprev_c": "cell",
                 "dWx": "weight", "dWh": "weight", "db": "bias"}
        if cell == "rnn":
            return Wording(roles, hidden_state="prev_h", hidden_carry="each step receives dh[:, t] + dprev_h",
                           tanh_rnn="dz = dnext_h * (1 - next_h**2), the tanh derivative from its output next_h",
                           bias_sum="db = dz.sum(axis=0) sums over the batch",
                           state_lines="dx = dz @ Wx.T and dprev_h = dz @ Wh.T",
                           weight_lines="dWx = x.T @ dz and dWh = prev_h.T @ dz")
        return Wording(roles, gates=self.gates, gate_values={"i": "i", "f": "f", "o": "o", "g": "g"},
                       candidate="g", output="o", hidden_state="prev_h", cell_state="prev_c",
                       hidden_carry="each step receives dh[:, t] + dprev_h",
                       cell_carry="dprev_c", cell_upstream="dnext_c",
                       cell_gradient="dc = dnext_c + dnext_h * o * (1 - np.tanh(next_c)**2)",
                       bias_sum="db = da.sum(axis=0) sums the gate gradients over the batch",
                       state_lines="dx = da @ Wx.T and dprev_h = da @ Wh.T",
                       weight_lines="dWx = x.T @ da and dWh = prev_h.T @ da")

    def forward_facts(self, fn, problem, outputs):
        """Your gate order, when the output is the course's LSTM with the gate blocks permuted."""
        if fn.cell != "lstm":
            return []
        H = self.sizes["H"]
        reference = getattr(self.reference, fn.name)
        for order in permutations(self.gates):
            if order == self.gates:
                continue
            moved = {name: np.concatenate([problem[name][..., order.index(g) * H:(order.index(g) + 1) * H]
                                           for g in self.gates], axis=-1) for name in ("Wx", "Wh", "b")}
            args = [moved.get(p, problem[p]) for p in fn.params]
            expected = dict(zip(fn.outputs, reference(*args)))
            if all(check_gradient(n, outputs[n], expected[n]).correct for n in fn.outputs):
                return [f"your gate blocks are in the order {', '.join(order)}; "
                        f"the course's is {', '.join(self.gates)}"]
        return []


LAYOUTS = {layout.name: layout for layout in (_Coursera(), _CS231n())}


# --------------------------------------------------------------------------- running the learner's code
class _Missing:
    def __repr__(self):
        return "<missing>"


_MISSING = _Missing()


class _Unreadable(Exception):
    """A learner function returned something that is not the course's return value."""


class _LearnerError(Exception):
    """The learner's code raised; `summary` is one line, `traceback` the trimmed traceback."""

    def __init__(self, summary: str, traceback_text: str):
        super().__init__(summary)
        self.summary, self.traceback = summary, traceback_text


def _learner_frames(error: BaseException, files: set) -> list:
    """The frames of `error`'s traceback in the learner's files (all but this package's, without files)."""
    frames = traceback.extract_tb(error.__traceback__)
    if files:
        return [f for f in frames if _resolved(f.filename) in files]
    package = str(Path(__file__).resolve().parent.parent)
    return [f for f in frames if not _resolved(f.filename).startswith(package)]


def _resolved(filename: str) -> str:
    try:
        return str(Path(filename).resolve())
    except OSError:
        return filename


def _trimmed_traceback(error: BaseException, files: set) -> tuple:
    """``(one line, traceback text)`` of `error`, its frames trimmed to the learner's files."""
    frames = _learner_frames(error, files)
    text = "".join(["Traceback (most recent call last):\n", *traceback.format_list(frames)] if frames else [])
    text += "".join(traceback.format_exception_only(type(error), error))
    message = f"{type(error).__name__}: {error}".strip()
    if frames:
        last = frames[-1]
        message += f" ({Path(last.filename).name}, line {last.lineno}, in {last.name})"
    elif isinstance(error, SyntaxError) and error.lineno:
        message = f"SyntaxError: {error.msg} ({Path(error.filename or '?').name}, line {error.lineno})"
    return message, text.rstrip()


def _call(function, args: list, files: set):
    """``function(*args)`` on copies of `args`, its prints swallowed; its errors become `_LearnerError`."""
    try:
        with contextlib.redirect_stdout(io.StringIO()), np.errstate(all="ignore"):
            return function(*copy.deepcopy(args))
    except Exception as error:  # the learner's code may raise anything
        raise _LearnerError(*_trimmed_traceback(error, files)) from None


def _import_file(path: Path) -> types.ModuleType:
    """Import the learner's file as a fresh module, its directory on ``sys.path`` for its own imports."""
    name = f"_course_check_{abs(hash(str(path.resolve())))}_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ValueError(f"check_course_code: {str(path)!r} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)
    sys.modules[name] = module
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            spec.loader.exec_module(module)
    except (Exception, SystemExit) as error:  # the learner's file may raise anything, or call exit()
        message, text = _trimmed_traceback(error, {str(path.resolve())})
        raise CourseCodeError(f"cannot import {path}: {message}", text) from None
    finally:
        sys.modules.pop(name, None)
        if folder in sys.path:
            sys.path.remove(folder)
    return module


def _learner_module(module_or_path) -> tuple:
    """``(module, learner files, source name)``."""
    if isinstance(module_or_path, types.ModuleType):
        file = getattr(module_or_path, "__file__", None)
        return module_or_path, {str(Path(file).resolve())} if file else set(), module_or_path.__name__
    if not isinstance(module_or_path, (str, os.PathLike)):
        raise TypeError(f"check_course_code: expected a module or the path of a .py file, "
                        f"got {type(module_or_path).__name__}")
    path = Path(module_or_path)
    if not path.is_file():
        raise FileNotFoundError(f"check_course_code: no file {str(path)!r}")
    if path.suffix != ".py":
        raise ValueError(f"check_course_code: {str(path)!r} is not a Python file (.py)")
    return _import_file(path), {str(path.resolve())}, str(path)


def _binds(function, fn: CourseFunction) -> bool:
    """True when `function` is a Python function callable with the course function's positional arguments."""
    if not inspect.isfunction(function):
        return False
    try:
        inspect.signature(function).bind(*fn.params)
    except TypeError:
        return False
    return True


def _choose_layout(module, layout: str, cells: tuple, source: str) -> CourseLayout:
    if layout != "auto":
        return LAYOUTS[layout]
    scores = {}
    for candidate in LAYOUTS.values():
        matching = [fn for fn in candidate.functions if fn.cell in cells and _binds(getattr(module, fn.name, None), fn)]
        same_names = sum(tuple(inspect.signature(getattr(module, fn.name)).parameters)[:len(fn.params)] == fn.params
                         for fn in matching)
        scores[candidate.name] = (len(matching), same_names)
    best = max(scores.values())
    if best[0] == 0:
        known = "; ".join(f"{c.name}: {', '.join(fn.name for fn in c.functions if fn.cell in cells)}"
                          for c in LAYOUTS.values())
        raise ValueError(f"check_course_code: {source} defines no function with a course name and signature ({known})")
    winners = [name for name, score in scores.items() if score == best]
    if len(winners) > 1:
        raise ValueError(f"check_course_code: cannot tell whether {source} is written for "
                         f"{' or '.join(winners)}: pass layout=")
    return LAYOUTS[winners[0]]


def _cells(cells) -> tuple:
    if cells == "all":
        return CELLS
    chosen = (cells,) if isinstance(cells, str) else tuple(cells)
    unknown = [c for c in chosen if c not in CELLS]
    if unknown or not chosen:
        raise ValueError(f"check_course_code: cells must be 'all', 'rnn', 'lstm' or a list of them, got {cells!r}")
    return chosen


# --------------------------------------------------------------------------- checking one function
def _graph(layout: CourseLayout, cell: str, scope: str, problem: dict, c0=None) -> tuple:
    """``(outputs, gradients, steps)`` of the graph: values of the forward's outputs, the gradients
    ``d<input>`` of the loss ``sum(d<output> * output)``, and each step's cache values; a sequence
    starts from cell state `c0` (zero by default)."""
    forward = layout.forward_of(cell, scope)
    leaves = {}

    def leaf(name, value):
        leaves[name] = Tensor(np.array(value, dtype=np.float64), requires_grad=True)
        return leaves[name]
    inputs = {name: ({k: leaf(k, v) for k, v in problem[name].items()} if isinstance(problem[name], dict)
                     else leaf(name, problem[name])) for name in forward.params}
    outputs, steps = layout.graph(cell, scope, inputs, c0)
    terms = [(Tensor(problem["d" + name]) * value).sum() for name, value in outputs.items() if "d" + name in problem]
    loss = terms[0]
    for term in terms[1:]:
        loss = loss + term
    loss.backward()
    gradients = {"d" + name: (t.grad if t.grad is not None else np.zeros(t.shape)) for name, t in leaves.items()}
    return {name: value.data for name, value in outputs.items()}, gradients, steps


def _prefix(layout: CourseLayout, problem: dict, length: int) -> dict:
    """`problem` cut to its first `length` time steps (the sequence arrays: x and the upstream gradient)."""
    index = (slice(None),) * layout.time_axis + (slice(0, length),)
    return {name: value[index] if isinstance(value, np.ndarray) and value.ndim == 3 else value
            for name, value in problem.items()}


def _check_value(layout, cell, name, value, reference, rtol=RTOL, atol=ATOL) -> GradientCheck:
    if value is _MISSING:
        return GradientCheck(name, False, problem="is missing from the returned dict")
    row = check_gradient(name, value, reference, rtol=rtol, atol=atol, **layout.gradient_options(cell, name))
    dtype = getattr(value, "dtype", None)
    if dtype is not None and dtype.kind == "f" and dtype != np.float64:
        row.notes.append(f"is {dtype}, not float64")
    return row


def _check_forward(layout, fn, learner, seed, files) -> FunctionCheck:
    problem = layout.problem(fn.cell, fn.scope, seed)
    values, _, steps = _graph(layout, fn.cell, fn.scope, problem)
    try:
        outputs, cache = layout.read_forward(fn, _call(learner, [problem[p] for p in fn.params], files))
    except _LearnerError as error:
        return FunctionCheck(fn.name, False, "yours", [], f"raised {error.summary}", error.traceback)
    except _Unreadable as error:
        return FunctionCheck(fn.name, False, "yours", [], str(error))
    rows = []
    for name in fn.outputs:
        row = _check_value(layout, fn.cell, name, outputs[name], values[name])
        if fn.scope == "sequence" and not row.correct and row.problem is None:
            row.first_wrong_step = first_wrong_step(outputs[name], values[name], layout.time_axis, backward=False)
        rows.append(row)
    cache_row = layout.check_cache(fn, cache, steps, problem)
    if cache_row is not None:
        rows.append(cache_row)
    correct = all(row.correct for row in rows)
    facts = [] if correct else layout.forward_facts(fn, problem, outputs)
    return FunctionCheck(fn.name, correct, "yours", rows, _diagnose_forward(layout, fn, rows, facts))


def _diagnose_forward(layout, fn, rows, facts) -> str:
    wrong = [row for row in rows if not row.correct]
    if not wrong:
        return "agrees with the graph"
    broken = [row for row in wrong if row.problem]
    if broken:
        return "; ".join(f"{row.name} {row.problem}" for row in broken)
    names = ", ".join(row.name for row in wrong)
    if rounding_only(wrong):
        return rounding_only(wrong)
    if facts:
        return f"{names}: " + "; ".join(facts)
    values = [row for row in wrong if row.name not in ("cache", "caches")]
    if not values:
        return f"the values are right but the cache is not: {wrong[0].notes[0]}"
    first = min((row.first_wrong_step for row in values if row.first_wrong_step is not None), default=None)
    if first:
        return (f"{names}: right at t=0, wrong from t={first} on: the state is not carried from step to step "
                f"(step t must start from the states of step t-1)")
    outputs_only = {row.name for row in values} <= {"yt_pred", "y_pred", "y"}
    if outputs_only:
        weight = "Wya" if fn.cell == "rnn" else "Wy"
        return f"{names}: the states are right, the output layer is not: check softmax({weight} @ a + by) over axis 0"
    return f"{names}: wrong from the first step: check the cell's equations"


def _check_backward(layout, fn, learner, module, results, seed, files) -> FunctionCheck:
    forward = layout.function(fn.forward)
    forward_check = results.get(fn.forward)
    yours = forward_check is not None and forward_check.correct
    make_cache = getattr(module, fn.forward) if yours else getattr(layout.reference, fn.forward)
    problem = layout.problem(fn.cell, fn.scope, seed)
    sequence = fn.scope == "sequence"

    def backward(prob, cache):
        return layout.read_backward(fn, _call(learner, [prob[p] for p in fn.params[:-1]] + [cache], files))

    def run(prob):
        return backward(prob, _call(make_cache, [prob[p] for p in forward.params], files)[-1])

    def references_at(prob, c0=None):
        gradients = _graph(layout, fn.cell, fn.scope, prob, c0)[1]
        return {name: gradients[name] for name in fn.outputs}

    check = partial(_check_value, layout, fn.cell)
    right_without_cell_gradient = False
    try:
        values, references = run(problem), references_at(problem)
        rows = [check(name, values[name], references[name]) for name in fn.outputs]
        if sequence and not all(row.correct for row in rows):
            found = _first_wrong_lengths(layout, fn, problem, yours, module, results, make_cache, files,
                                         backward, run, references_at, check)
            rows = [_merged(row, found.get(row.name)) for row in rows]
            dx = next(row for row in rows if row.name == "dx")
            if not dx.correct and dx.problem is None:
                dx.first_wrong_step = first_wrong_step(values["dx"], references["dx"], layout.time_axis, backward=True)
        elif not sequence and fn.cell == "lstm" and not all(row.correct for row in rows):
            cell_upstream = layout.wording("lstm").cell_upstream
            without = dict(problem, **{cell_upstream: np.zeros_like(problem[cell_upstream])})
            again, truth = run(without), references_at(without)
            right_without_cell_gradient = all(check(n, again[n], truth[n]).correct for n in fn.outputs)
    except _LearnerError as error:
        return FunctionCheck(fn.name, False, "yours" if yours else "reference", [],
                             _raised(layout, fn, error, yours, forward_check), error.traceback,
                             _caches_note(fn, yours, forward_check))
    except _Unreadable as error:
        return FunctionCheck(fn.name, False, "yours" if yours else "reference", [], str(error),
                             caches=_caches_note(fn, yours, forward_check))
    if not all(row.correct for row in rows):
        _bias_notes(layout, fn, problem, rows, values, references)
        layout.backward_notes(fn, rows, values, references)
    diagnosis = diagnose(rows, layout.wording(fn.cell), sequence, right_without_cell_gradient)
    correct = all(row.correct for row in rows)
    if not correct and not yours and not layout.cache_is_fixed:
        diagnosis += (f" (checked on the package's cache because your {fn.forward} is "
                      f"{'wrong' if forward_check else 'missing'}; the course leaves the cache layout to you)")
    return FunctionCheck(fn.name, correct, "yours" if yours else "reference", rows, diagnosis,
                         caches=_caches_note(fn, yours, forward_check))


def _caches_note(fn, yours, forward_check) -> str:
    if yours:
        return ""
    return f"caches from the package's {fn.forward} (yours is {'wrong' if forward_check else 'missing'})"


def _first_wrong_lengths(layout, fn, problem, yours, module, results, make_cache, files, backward, run,
                         references_at, check) -> dict:
    """`first_wrong_lengths` of a sequence backward over the prefixes of `problem`.

    The course's LSTM forwards start from a zero cell state, so the forget gate gets no gradient
    at the first step and a mistake in it would only show from length 2, as if it were carried.
    When the sequence cache can be assembled from step caches (always for coursera; for cs231n when
    yours is the list of your step caches, or the package's forward is used), the prefixes start
    from the nonzero cell state ``problem["c0"]`` instead.
    """
    steps = range(1, problem["x"].shape[layout.time_axis] + 1)
    assemble = _cache_assembler(layout, fn, problem, yours, module, results, make_cache, files)
    if assemble is not None:
        try:
            return first_wrong_lengths(
                lambda n: backward(_prefix(layout, problem, n), assemble(_prefix(layout, problem, n))),
                lambda n: references_at(_prefix(layout, problem, n), problem["c0"]), steps, check=check)
        except _LearnerError:
            pass  # the assembled caches do not suit this backward: use its forward's, from a zero cell state
    found = first_wrong_lengths(lambda n: run(_prefix(layout, problem, n)),
                                lambda n: references_at(_prefix(layout, problem, n)), steps, check=check)
    length, dx = found.get("dx", (1, None))
    if length > 1 and dx.problem is None:  # is the last step, which no carried gradient reaches, wrong?
        shorter = _prefix(layout, problem, length)
        last = first_wrong_step(run(shorter)["dx"], references_at(shorter)["dx"], layout.time_axis, backward=True)
        if last == length - 1:
            dx.notes.append(LAST_STEP_WRONG)
    return found


def _cache_assembler(layout, fn, problem, yours, module, results, make_cache, files):
    """``problem -> cache`` built from step caches from ``problem["c0"]``, or None when that is not possible."""
    if "c0" not in problem:
        return None
    step = layout.forward_of(fn.cell, "step")
    if yours:
        step_check = results.get(step.name)
        if step_check is None or not step_check.correct:
            return None
        step_forward = getattr(module, step.name)
        full = _call(make_cache, [problem[p] for p in layout.function(fn.forward).params], files)[-1]
        zero = np.zeros_like(problem["c0"])
        if not _same(full, layout.assemble_cache(step_forward, problem, zero, files)):
            return None
    else:
        step_forward = getattr(layout.reference, step.name)
    return lambda prob: layout.assemble_cache(step_forward, prob, prob["c0"], files)


def _same(a, b) -> bool:
    """Structural equality of two caches (tuples, lists, dicts, arrays, other values)."""
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.shape(a) == np.shape(b) and np.array_equal(a, b)
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def _merged(row: GradientCheck, found) -> GradientCheck:
    """The full-length `row`, localised (gate, part, notes) where the gradient first goes wrong."""
    if found is None:
        return row
    length, shortest = found
    if row.correct:
        return shortest
    row.first_wrong_length = length
    row.gate, row.part, row.wrong_gates, row.notes = shortest.gate, shortest.part, shortest.wrong_gates, shortest.notes
    return row


def _bias_notes(layout, fn, problem, rows, values, references) -> None:
    """Say when a wrong bias gradient is the mean over the batch instead of the sum."""
    roles = layout.wording(fn.cell).roles
    batch = problem[layout.function(fn.forward).params[0]].shape[layout.batch_axis]
    for row in rows:
        if roles.get(row.name) == "bias" and not row.correct and row.problem is None:
            if check_gradient(row.name, np.asarray(values[row.name]) * batch, references[row.name]).correct:
                row.notes.append("is the mean over the batch, not the sum")


def _raised(layout, fn, error, yours, forward_check) -> str:
    if yours:
        return f"raised {error.summary}"
    why = "is wrong" if forward_check is not None else "is missing"
    if not layout.cache_is_fixed:
        return (f"could not be checked: your {fn.forward} {why}, so {fn.name} was given the package's cache "
                f"and raised {error.summary}; the course leaves the cache layout to you: "
                f"{'fix' if forward_check is not None else 'write'} {fn.forward} first")
    return (f"raised {error.summary} (on the caches of the package's {fn.forward}, in the course's layout, "
            f"because yours {why})")


# --------------------------------------------------------------------------- the entry point
def check_course_code(module_or_path, layout: str = "auto", cells="all", seed: int = 0) -> CourseCheck:
    """Check every course function in a learner's file against the graph, and say where it is wrong.

    Parameters
    ----------
    module_or_path : module, str or path
        A module, or the path of a ``.py`` file to import (its folder is put on ``sys.path``
        while it imports, for its own helper modules; what it prints is swallowed).
    layout : {"auto", "coursera", "cs231n"}
        ``"auto"`` picks the layout whose names and signatures the file matches.
    cells : {"all", "rnn", "lstm"} or list of them
        Which functions to check.
    seed : int
        Seed of the random data: weights, inputs, states and upstream gradients.

    Returns
    -------
    CourseCheck
        ``.correct``, one `FunctionCheck` per function found (in the course's order), ``str()``
        a text table, ``_repr_html_()`` a notebook table, ``to_dict()`` JSON data.

    Raises
    ------
    FileNotFoundError
        No such file.
    CourseCodeError
        The file cannot be imported (an ImportError; ``.traceback`` is trimmed to the file).
    ValueError
        Unknown `layout` or `cells`, or no function with a course name and signature.

    Examples
    --------
    >>> from tinygrad_lstm.manual import check_course_code, classic
    >>> check_course_code(classic).summary()
    'all 8 functions agree with the graph'
    """
    if layout not in ("auto", *LAYOUTS):
        raise ValueError(f"check_course_code: layout must be 'auto', 'coursera' or 'cs231n', got {layout!r}")
    chosen_cells = _cells(cells)
    module, files, source = _learner_module(module_or_path)
    chosen = _choose_layout(module, layout, chosen_cells, source)
    found = [fn for fn in chosen.functions
             if fn.cell in chosen_cells and inspect.isfunction(getattr(module, fn.name, None))]
    if not found:
        raise ValueError(f"check_course_code: {source} defines none of the {chosen.name} functions "
                         f"{', '.join(fn.name for fn in chosen.functions if fn.cell in chosen_cells)}")
    results = {}
    for fn in sorted(found, key=lambda fn: fn.forward is not None):  # forwards first: backwards need them
        learner = getattr(module, fn.name)
        if not _binds(learner, fn):
            params = ", ".join(inspect.signature(learner).parameters)
            mismatch = f"signature {fn.name}({params}) does not match the course's {fn.signature}"
            results[fn.name] = FunctionCheck(fn.name, False, "yours", [], mismatch)
        elif fn.forward is None:
            results[fn.name] = _check_forward(chosen, fn, learner, seed, files)
        else:
            results[fn.name] = _check_backward(chosen, fn, learner, module, results, seed, files)
    for fn in found:  # a sequence function that raised: point at what its step function got wrong
        step = results.get(chosen.step_of(fn).name)
        if fn.scope == "sequence" and results[fn.name].traceback and step and not step.correct and not step.traceback:
            results[fn.name].diagnosis += f"; {step.name}: {step.diagnosis}"
    return CourseCheck(chosen.name, [results[fn.name] for fn in found], source, seed)
