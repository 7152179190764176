"""Plots for the demo and the tasks: learning curves and gradient flow through time, and the
pictures of a `tl.viz.diagnose_bptt` diagnosis (gradient norms and Jacobian decay, per-step
contributions, gate heatmaps).

Each returns its `matplotlib.figure.Figure`, shown inline in a notebook, or, given a path,
writes a PNG there and returns its path. The figures are made without pyplot, so they need no
display and leave the user's matplotlib backend alone.
"""
from __future__ import annotations

import functools
import io
import pathlib

import numpy as np

__all__ = ["plot_learning_curves", "plot_gradient_flow", "plot_bptt_gradients", "plot_contributions",
           "plot_gate_heatmaps"]

_COLORS = ("#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e")


@functools.cache
def _inline_figure_class():
    """`InlineFigure`, defined on first use: importing matplotlib takes a while."""
    from matplotlib.figure import Figure

    class InlineFigure(Figure):
        """A matplotlib Figure that a notebook shows inline (``_repr_png_``) without pyplot."""

        def _repr_png_(self) -> bytes:
            buffer = io.BytesIO()
            self.savefig(buffer, format="png")
            return buffer.getvalue()

    return InlineFigure


def _figure(width: float, height: float):
    """A figure made without pyplot (no backend, no display, nothing left in pyplot's registry)
    that a notebook shows inline."""
    return _inline_figure_class()(figsize=(width, height), dpi=110)


def _finish(fig, path):
    """`fig` itself when `path` is None, else the PNG written to `path` (its path)."""
    if path is None:
        return fig
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def _smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Running mean over the last `window` values (fewer at the start)."""
    values = np.asarray(values, np.float64)
    cumulative = np.concatenate([[0.0], np.cumsum(values)])
    ends = np.arange(1, len(values) + 1)
    starts = np.maximum(ends - window, 0)
    return (cumulative[ends] - cumulative[starts]) / (ends - starts)


def plot_learning_curves(curves: dict, path=None, baseline: float | None = None, target: float | None = None,
                         title: str = "Learning curves", ylabel: str = "MSE", smooth: int = 20) -> pathlib.Path:
    """Training loss (running mean) and test loss against steps, one colour per model, log scale.

    Parameters
    ----------
    curves : dict of str to dict
        ``{label: {"train": losses (steps,), "test": (eval_steps (k,), values (k,))}}``;
        either entry may be missing.
    path : str or path-like, optional
        Write a PNG there (creating its directory) and return its path; otherwise return the figure.
    baseline : float, optional
        Drawn as a dashed line, e.g. the loss of predicting the mean.
    target : float, optional
        Drawn as a dotted line, e.g. the loss that counts as solved.
    title, ylabel : str
    smooth : int
        Window of the running mean of the training loss.

    Returns
    -------
    matplotlib.figure.Figure or pathlib.Path
    """
    fig = _figure(8, 4.8)
    ax = fig.add_subplot()
    for color, (label, curve) in zip(_COLORS * 4, curves.items()):
        if curve.get("train") is not None:
            losses = np.asarray(curve["train"])
            steps = np.arange(1, len(losses) + 1)
            ax.plot(steps, _smooth(losses, smooth), color=color, alpha=0.55, linewidth=1.2,
                    label=f"{label}: training batch (running mean of {smooth})")
        if curve.get("test") is not None:
            eval_steps, values = (np.asarray(a) for a in curve["test"])
            ax.plot(eval_steps, values, color=color, marker="o", markersize=4, linewidth=2,
                    label=f"{label}: test set")
    if baseline is not None:
        ax.axhline(baseline, color="black", linestyle="--", linewidth=1,
                   label=f"predicting the mean ({baseline:.3f})")
    if target is not None:
        ax.axhline(target, color="gray", linestyle=":", linewidth=1.2, label=f"solved ({target:g})")
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel(f"{ylabel} (log scale)")
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return _finish(fig, path)


def plot_gradient_flow(flows: dict, path=None, title: str = "Gradient flow through time") -> pathlib.Path:
    """``||d loss / d h_t||`` against the time step ``t``, log scale: vanishing gradients made visible.

    Two panels: the raw norms, and the norms divided by the norm at the step where the loss
    enters (the last step; the first for a reverse direction): how much of the gradient that
    arrives there survives back to step ``t``. The y axes stop at 1e-24 of their largest
    value; exact zeros are left as gaps.

    Parameters
    ----------
    flows : dict of str to dict of str to ndarray or dict
        ``{model: {stage: norms}}``, e.g. ``{"RNN": {"at initialisation": a, "after
        training": b}, "LSTM": {...}}``: one colour per model, one line style per stage.
        ``norms`` is ``(T,)``, or for a stacked or bidirectional model a dict of them per
        layer and direction as `tinygrad_lstm.tasks.adding.gradient_flow` returns
        (``{"l0": ..., "l0_reverse": ...}``): one colour per model and layer-direction.
    path : str or path-like, optional
        Write a PNG there (creating its directory) and return its path; otherwise return the figure.
    title : str

    Returns
    -------
    matplotlib.figure.Figure or pathlib.Path
    """
    lines = _flow_lines(flows)
    styles = ("--", "-", ":", "-.")
    fig = _figure(11, 4.6)
    axes = fig.subplots(1, 2)
    panels = ([], [])  # the values drawn in each panel, for the axis limits
    for color, (model, stages) in zip(_COLORS * 4, lines.items()):
        for style, (stage, norms) in zip(styles * 4, stages.items()):
            # Exact zeros (a saturated tanh) cannot be drawn on a log scale: leave gaps.
            norms = np.where(norms > 0, norms, np.nan)
            steps = np.arange(1, len(norms) + 1)
            entry = norms[0] if model.endswith("_reverse") else norms[-1]  # where the loss's gradient enters
            for ax, values, drawn in zip(axes, (norms, norms / entry), panels):
                ax.plot(steps, values, color=color, linestyle=style, linewidth=2, label=f"{model}, {stage}")
                drawn.append(values[np.isfinite(values)])
    for ax, drawn in zip(axes, panels):
        values = np.concatenate(drawn)
        if values.size:
            top = values.max()
            # Below 1e-24 of the largest value there is nothing to see but how far the RNN fell.
            ax.set_ylim(max(values.min(), top * 1e-24) / 3, top * 3)
    axes[0].set_ylabel(r"$\|\partial L / \partial h_t\|$ (log scale)")
    axes[0].set_title("gradient reaching each hidden state")
    axes[1].set_ylabel(r"$\|\partial L / \partial h_t\| \;/\; \|\partial L / \partial h_T\|$ (log scale)")
    axes[1].set_title("relative to the last step (the first for a reverse direction)")
    for ax in axes:
        ax.set_yscale("log")
        ax.set_xlabel("time step t (the loss is computed after the last step T)")
        ax.grid(True, which="major", alpha=0.3)
    axes[1].legend(fontsize=8, loc="lower right")
    fig.suptitle(title)
    fig.tight_layout()
    return _finish(fig, path)


def _flow_lines(flows: dict) -> dict:
    """``{line: {stage: norms (T,)}}``: a model's layers and directions (``"GRU l0_reverse"``) as lines of their own."""
    lines = {}
    for model, stages in flows.items():
        for stage, norms in stages.items():
            rows = norms.items() if isinstance(norms, dict) else [(None, norms)]
            for row, values in rows:
                values = np.asarray(values, np.float64)
                if values.ndim != 1 or values.size == 0:
                    raise ValueError(f"plot_gradient_flow: the norms of {model!r}, {stage!r}"
                                     f"{'' if row is None else f', {row!r}'} must be one value per step (T,), "
                                     f"got shape {values.shape}")
                lines.setdefault(model if row is None else f"{model} {row}", {})[stage] = values
    return lines


# --------------------------------------------------------------------------- diagnosis plots
def plot_bptt_gradients(diagnosis, path=None, title: str = "Gradients through time"):
    """Two panels on a log axis against the time step: ``‖∂L/∂h_t‖`` and the Jacobian decay
    ``‖∂h_T/∂h_t‖``, one line per layer and direction of a `tl.viz.diagnose_bptt` diagnosis.

    Parameters
    ----------
    diagnosis : tl.viz.BPTTDiagnosis
    path : str or path-like, optional
        Write a PNG there and return its path; otherwise return the figure.
    title : str

    Returns
    -------
    matplotlib.figure.Figure or pathlib.Path
    """
    from matplotlib.ticker import MaxNLocator

    fig = _figure(11, 4.4)
    axes = fig.subplots(1, 2)
    steps = np.arange(diagnosis.steps)
    panels = ((diagnosis.grad_h, r"$\|\partial L / \partial h_t\|$", "gradient of the loss reaching h_t"),
              (diagnosis.jacobian_norm, r"$\|\partial h_T / \partial h_t\|_2$",
               "Jacobian of the last hidden state (h_T) with respect to h_t"))
    for ax, (curves, ylabel, subtitle) in zip(axes, panels):
        for color, (sequence, values) in zip(_COLORS * 4, curves.items()):
            values = np.where(np.asarray(values) > 0, values, np.nan)  # zeros have no place on a log axis
            ax.plot(steps, values, color=color, marker="o", markersize=3, linewidth=1.8, label=sequence)
        ax.set_yscale("log")
        ax.set_xlabel("time step t")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(f"{ylabel} (log scale)")
        ax.set_title(subtitle, fontsize=10)
        ax.grid(True, which="major", alpha=0.3)
        if curves:
            ax.legend(fontsize=8)
        else:
            ax.text(0.5, 0.5, "not computed (jacobian=False)", ha="center", va="center", transform=ax.transAxes)
    fig.suptitle(title)
    fig.tight_layout()
    return _finish(fig, path)


def plot_contributions(diagnosis, path=None, title: str = "Where each weight's gradient comes from"):
    """A heatmap, weights × time steps, of each step's share of each weight's gradient: the norm
    of the step's term of the BPTT sum over the sum of those norms (log colour scale).

    Parameters
    ----------
    diagnosis : tl.viz.BPTTDiagnosis
    path : str or path-like, optional
        Write a PNG there and return its path; otherwise return the figure.
    title : str

    Returns
    -------
    matplotlib.figure.Figure or pathlib.Path
    """
    import matplotlib
    from matplotlib.colors import LogNorm

    names = list(diagnosis.contribution)
    norms = diagnosis.contribution_norms()
    shares = np.array([norms[n] / norms[n].sum() if norms[n].sum() > 0 else norms[n] for n in names]).reshape(
        len(names), diagnosis.steps)
    fig = _figure(max(6.0, 2.5 + 0.35 * diagnosis.steps), 1.4 + 0.32 * max(len(names), 1))
    ax = fig.subplots()
    positive = shares[shares > 0]
    top = positive.max() if positive.size else 1.0
    bottom = max(positive.min(), top * 1e-12) if positive.size else top / 10  # the colour scale spans what is there
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="#dddddd")  # exact zeros: nothing flows in at that step
    image = ax.imshow(np.where(shares > 0, shares, np.nan), aspect="auto", cmap=cmap, interpolation="nearest",
                      norm=LogNorm(vmin=min(bottom, top / 10), vmax=top))
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_xticks(range(diagnosis.steps))
    ax.tick_params(axis="x", labelsize=7)
    ax.set_xlabel("time step t (grey: exactly zero)")
    ax.set_title(title, fontsize=11)
    fig.colorbar(image, ax=ax, label="share of Σ_t ‖step t‖ (log scale)", fraction=0.04)
    fig.tight_layout()
    return _finish(fig, path)


def plot_gate_heatmaps(diagnosis, path=None, sequence: str | None = None, batch_index: int = 0,
                       title: str | None = None):
    """One heatmap per gate, units × time steps, of one sequence of the batch; saturated units
    (`tl.viz.bptt.SATURATION`) are marked with a dot, and each panel's title gives the share of
    saturated units over the whole batch.

    Parameters
    ----------
    diagnosis : tl.viz.BPTTDiagnosis
    path : str or path-like, optional
        Write a PNG there and return its path; otherwise return the figure.
    sequence : str, optional
        Which layer and direction (``"l0"``, ``"l1_reverse"`` ...); the first by default.
    batch_index : int
        Which sequence of the batch to draw.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure or pathlib.Path

    Raises
    ------
    KeyError
        An unknown `sequence`, or one whose cell declares no gates.
    IndexError
        `batch_index` is out of range.
    """
    from matplotlib.ticker import MaxNLocator

    from .viz.bptt import SATURATION, saturated

    sequence = diagnosis.sequences[0] if sequence is None else sequence
    if sequence not in diagnosis.gates or not diagnosis.gates[sequence]:
        raise KeyError(f"plot_gate_heatmaps: no gates for sequence {sequence!r}; sequences with gates: "
                       f"{[s for s in diagnosis.sequences if diagnosis.gates.get(s)]}")
    gates = diagnosis.gates[sequence]
    batch = next(iter(gates.values())).shape[1]
    if not -batch <= batch_index < batch:
        raise IndexError(f"plot_gate_heatmaps: batch_index {batch_index} is out of range for a batch of {batch}")
    columns = 2 if len(gates) == 4 else min(len(gates), 3)
    rows = -(-len(gates) // columns)
    units = next(iter(gates.values())).shape[2]
    fig = _figure(1.0 + columns * max(4.0, 0.12 * diagnosis.steps), 1.0 + rows * max(2.4, 0.1 * units))
    axes = np.atleast_1d(fig.subplots(rows, columns, squeeze=False)).ravel()
    for ax, (name, values) in zip(axes, gates.items()):
        function = diagnosis.gate_functions[sequence][name]
        picture = values[:, batch_index, :].T  # (H, T)
        low, high, cmap = ((-1, 1, "RdBu_r") if function == "tanh" else
                           (0, 1, "viridis") if function == "sigmoid" else
                           (np.nanmin(picture), np.nanmax(picture), "viridis"))
        image = ax.imshow(picture, aspect="auto", cmap=cmap, vmin=low, vmax=high, interpolation="nearest")
        mask = saturated(picture, function)
        if mask is not None and mask.any():
            units_at, steps_at = np.nonzero(mask)
            ax.scatter(steps_at, units_at, s=14, c="white", marker="o", edgecolors="black", linewidths=0.6)
        share = diagnosis.saturation[sequence][name]
        what = (f"{np.nanmean(share):.0%} saturated ({SATURATION[function]})" if function in SATURATION
                else "saturation undefined")
        ax.set_title(f"{name} = {function or 'other'}: {what}", fontsize=9)
        ax.set_xlabel("time step t")
        ax.set_ylabel("unit")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        fig.colorbar(image, ax=ax, fraction=0.05)
    for ax in axes[len(gates):]:
        ax.set_visible(False)
    fig.suptitle(title or f"Gate activations of {sequence}, sequence {batch_index} of the batch (dots: saturated)")
    fig.tight_layout()
    return _finish(fig, path)
