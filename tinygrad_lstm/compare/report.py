"""What `compare_gradients` returns: a `GradientReport` of `GradientRow`s of `Check`s.

The report renders as an aligned table (``str(report)``) and, in a notebook, as an HTML table
with the failed comparisons highlighted; it says whether everything agreed (``report.ok``,
the command line's exit status) and converts to plain data (``to_dict``).
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Check", "GradientRow", "GradientReport"]


@dataclass
class Check:
    """Autograd against one reference, for one tensor.

    ``max_abs = max|autograd - reference|`` and ``max_rel = max_abs / max|reference|`` (the
    absolute error when the reference is all zero, never a division by zero) over the
    `checked` elements compared (of `size`); `passed` applies the report's tolerance.
    """

    max_abs: float
    max_rel: float
    passed: bool
    checked: int
    size: int

    @classmethod
    def between(cls, autograd: np.ndarray, reference, tolerance: tuple) -> "Check":
        """Compare on all elements, or on ``reference = (flat_indices, values)`` for a subset.

        Passes when ``|autograd - reference| <= atol + rtol * |reference|`` for every element,
        as PyTorch's gradcheck, for ``tolerance = (rtol, atol)`` (never with a NaN).
        """
        size = autograd.size
        if isinstance(reference, tuple):
            indices, values = reference
            autograd = autograd.reshape(-1)[indices]
        else:
            values = reference
        autograd = np.asarray(autograd, np.float64)
        values = np.asarray(values, np.float64)
        if values.shape != autograd.shape:
            raise ValueError(f"compare_gradients: a reference gradient has shape {values.shape}, "
                             f"autograd's {autograd.shape}")
        rtol, atol = tolerance
        error = float(np.abs(autograd - values).max(initial=0.0))
        scale = float(np.abs(values).max(initial=0.0))
        relative = error / scale if scale > 0 else error
        passed = bool(np.all(np.abs(autograd - values) <= atol + rtol * np.abs(values)))  # False for NaN
        return cls(error, relative, passed, int(autograd.size), int(size))


@dataclass
class GradientRow:
    """One tensor: its name, shape, largest autograd gradient entry and one `Check` per reference.

    `localization` says where a manual gradient that failed is wrong: a
    `tinygrad_lstm.manual.localize.GradientCheck` with the wrong gate slices (``gate``) and,
    for a sequence, the shortest prefix length at which it is wrong (``first_wrong_length``)
    and, for ``x``, the first wrong time step (``first_wrong_step``); None otherwise.
    """

    name: str
    shape: tuple
    grad_max: float
    checks: dict = field(default_factory=dict)
    localization: object = None

    def where(self) -> str | None:
        """``weight_hh_l0 gate g wrong from length 2 on``: the localisation in words, or None."""
        found = self.localization
        if found is None:
            return None
        if found.problem:  # not comparable at all (NaN, ...)
            return f"{found.name} {found.problem}"
        text = f"{found.where()} wrong"
        if found.first_wrong_length is not None:
            text += f" from length {found.first_wrong_length} on"
        if found.first_wrong_step is not None:
            text += f", first at step {found.first_wrong_step} (walking back from the end)"
        return "; ".join([text, *found.notes])


_FAILED_STYLE = ' style="background-color:#fdd"'  # a row with a failed comparison, in a notebook


@dataclass(repr=False)
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
    warnings : list of str
        Caveats of the check, printed first (such as `localize.FLOAT32_WARNING`).
    """

    model: str
    dtype: str
    loss: str
    rows: list
    references: dict
    tolerances: dict
    skipped: dict
    warnings: list = field(default_factory=list)

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
            "warnings": list(self.warnings),
            "references": {ref: {"description": text, "rtol": self.tolerances[ref][0],
                                 "atol": self.tolerances[ref][1]} for ref, text in self.references.items()},
            "skipped": dict(self.skipped),
            "rows": [{"name": row.name, "shape": list(row.shape), "grad_max": row.grad_max,
                      "checks": {ref: {"max_abs": c.max_abs, "max_rel": c.max_rel, "passed": c.passed,
                                       "checked": c.checked, "size": c.size} for ref, c in row.checks.items()},
                      "localization": None if row.localization is None else {
                          **row.localization.to_dict(), "where": row.where()}}
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

    def __repr__(self) -> str:
        return f"<GradientReport of {self.model}, {self.dtype}: {self.summary()}>"

    def _repr_html_(self) -> str:
        """The table for a notebook: a row per tensor, a column group per reference, failed rows highlighted."""
        refs = list(self.references)
        head = ("<tr><th rowspan=2>tensor</th><th rowspan=2>shape</th><th rowspan=2>max|grad|</th>"
                + "".join(f'<th colspan=3 title="{html.escape(self.references[ref])}">{html.escape(ref)}</th>'
                          for ref in refs) + "</tr><tr>" + "<th>abs</th><th>rel</th><th></th>" * len(refs) + "</tr>")
        body = []
        for row in self.rows:
            cells = [row.name, str(row.shape), f"{row.grad_max:.2e}"]
            for ref in refs:
                check = row.checks.get(ref)
                cells += (["-", "-", ""] if check is None else
                          [f"{check.max_abs:.1e}", f"{check.max_rel:.1e}", "ok" if check.passed else "FAIL"])
            failed = any(not check.passed for check in row.checks.values())
            body.append(f"<tr{_FAILED_STYLE if failed else ''}>"
                        + "".join(f"<td>{html.escape(cell)}</td>" for cell in cells) + "</tr>")
        tolerances = "; ".join(f"{ref}: rtol {rtol:.0e}, atol {atol:.0e}" for ref, (rtol, atol) in self.tolerances.items())
        skipped = "".join(f"<br>{html.escape(ref)} not compared: {html.escape(reason)}"
                          for ref, reason in self.skipped.items())
        warnings = "".join(f"<p><b>{html.escape(text)}</b></p>" for text in self.warnings)
        located = [row.where() for row in self.rows if row.localization is not None]
        where = ("<p>where the manual gradients are wrong:<br>" + "<br>".join(map(html.escape, located)) + "</p>"
                 if located else "")
        return (f"<div>{warnings}<p>Gradient check of <code>{html.escape(self.model)}</code>, {self.dtype}: autograd "
                f"against {html.escape(', '.join(refs))}; ok when |autograd - reference| &le; atol + rtol "
                f"&middot; |reference| elementwise ({html.escape(tolerances)}){skipped}</p>"
                f"<table><thead>{head}</thead><tbody>{''.join(body)}</tbody></table>{where}"
                f"<p><b>{html.escape(self.summary())}</b></p></div>")

    def __str__(self) -> str:
        lines = [*self.warnings, f"Gradient check of {self.model}, {self.dtype}: autograd (backpropagation through "
                                 f"the graph) against"]
        width = max(len(ref) for ref in (*self.references, *self.skipped))
        lines += [f"  {ref:<{width}}  {text}" for ref, text in self.references.items()]
        lines += [f"  {ref:<{width}}  (not compared: {reason})" for ref, reason in self.skipped.items()]
        lines.append(f"loss: {self.loss}")
        lines.append("abs = max|autograd - reference|, rel = abs / max|reference| (abs where the reference is 0); "
                     "ok when |autograd - reference| <= atol + rtol * |reference| elementwise with")
        lines.append("  " + "; ".join(f"{ref}: rtol {rtol:.0e}, atol {atol:.0e}"
                                      for ref, (rtol, atol) in self.tolerances.items()))
        lines.append("")
        lines.extend(self._table())
        if any(c.checked < c.size for row in self.rows for c in row.checks.values()):
            lines.append("* central differences on a random subset of the elements (see checked/size in to_dict())")
        located = [row.where() for row in self.rows if row.localization is not None]
        if located:
            lines.append("where the manual gradients are wrong (length: the shortest prefix of the sequence "
                         "showing it; 1 is the single-step math, more the gradient carried from step t to t-1):")
            lines.extend(f"  {text}" for text in located)
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
