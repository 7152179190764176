"""PNG plots for the demo and the tasks: learning curves and gradient flow through time.

Drawn with matplotlib's non-interactive Agg backend, so they work without a display.
"""
from __future__ import annotations

import pathlib

import numpy as np

__all__ = ["plot_learning_curves", "plot_gradient_flow"]

_COLORS = ("#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e")


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Running mean over the last `window` values (fewer at the start)."""
    values = np.asarray(values, np.float64)
    cumulative = np.concatenate([[0.0], np.cumsum(values)])
    ends = np.arange(1, len(values) + 1)
    starts = np.maximum(ends - window, 0)
    return (cumulative[ends] - cumulative[starts]) / (ends - starts)


def plot_learning_curves(curves: dict, path, baseline: float | None = None, target: float | None = None,
                         title: str = "Learning curves", ylabel: str = "MSE", smooth: int = 20) -> pathlib.Path:
    """Training loss (running mean) and test loss against steps, one colour per model, log scale.

    Parameters
    ----------
    curves : dict of str to dict
        ``{label: {"train": losses (steps,), "test": (eval_steps (k,), values (k,))}}``;
        either entry may be missing.
    path : str or path-like
        The PNG file to write (parent directories are created).
    baseline : float, optional
        Drawn as a dashed line, e.g. the loss of predicting the mean.
    target : float, optional
        Drawn as a dotted line, e.g. the loss that counts as solved.
    title, ylabel : str
    smooth : int
        Window of the running mean of the training loss.

    Returns
    -------
    pathlib.Path
    """
    plt = _pyplot()
    path = pathlib.Path(path)
    fig, ax = plt.subplots(figsize=(8, 4.8), dpi=110)
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
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_gradient_flow(flows: dict, path, title: str = "Gradient flow through time") -> pathlib.Path:
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
    path : str or path-like
        The PNG file to write.
    title : str

    Returns
    -------
    pathlib.Path
    """
    lines = _flow_lines(flows)
    plt = _pyplot()
    path = pathlib.Path(path)
    styles = ("--", "-", ":", "-.")
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6), dpi=110)
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
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


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
