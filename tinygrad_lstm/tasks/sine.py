"""Forecasting noisy sine waves with an LSTM (or any cell), sequence-to-one or sequence-to-sequence.

Every sequence is a sine wave of random amplitude (0.5 to 1.5), angular frequency (0.1
to 0.4 radians per step, periods of 16 to 63 steps) and phase, observed for ``T`` steps
with Gaussian noise. The model is an LSTM (or any other cell, ``cell=``) with a linear
readout, trained with Adam on the mean squared error against the clean wave:

- ``seq2one``: from the ``T`` noisy observations, the readout of the last hidden state
  predicts the next ``horizon`` clean values, ``(B, horizon)``;
- ``seq2seq``: at every step ``t`` the readout predicts the clean value of step
  ``t + 1``, ``(T, B, 1)``: denoising and one-step forecasting along the sequence.

Predicting zero everywhere scores the variance of the clean wave, about 0.54
(`zero_mse` reports it on the test set); `plot_forecast` draws prediction against truth.

>>> import numpy as np
>>> x, clean = make_batch(3, T=20, horizon=5, rng=np.random.default_rng(0))
>>> x.shape, clean.shape, targets(clean, "seq2one", 20, 5).shape, targets(clean, "seq2seq", 20, 5).shape
((20, 3, 1), (25, 3), (3, 5), (20, 3, 1))
"""
from __future__ import annotations

import pathlib
from dataclasses import dataclass, field

import numpy as np

from ..cli import add_cell_argument, non_negative_float, positive_int
from ..engine import no_grad
from ..compiler import jit as compile_step
from ..nn import Linear, Module
from ..nn.functional import mse_loss
from ..nn.kinds import build_module, module_kind
from ..optim import Adam
from ..random import manual_seed
from .training import add_optimizer_arguments, check_counts, fit, last_hidden, upgrade_state_dict

__all__ = ["MODES", "make_batch", "targets", "SineForecaster", "SineResult", "train", "evaluate",
           "plot_forecast", "add_arguments", "run"]

MODES = ("seq2one", "seq2seq")
DEFAULT_HIDDEN = 32


def make_batch(batch: int, T: int = 40, horizon: int = 10, noise: float = 0.1,
               rng: np.random.Generator | None = None, dtype=np.float32) -> tuple:
    """Noisy observations of random sine waves and the clean waves they come from.

    Parameters
    ----------
    batch, T, horizon : int
        Sequences, observed steps, and clean steps kept after the observations.
    noise : float
        Standard deviation of the Gaussian observation noise.
    rng : numpy Generator, optional
    dtype : numpy floating dtype

    Returns
    -------
    x : ndarray (T, batch, 1)
        The observations: ``clean[:T]`` plus noise.
    clean : ndarray (T + horizon, batch)
        ``A sin(w t + phi)`` for ``t = 0 .. T + horizon - 1``.
    """
    if T < 1 or horizon < 1:
        raise ValueError(f"make_batch: T and horizon must be at least 1, got T={T}, horizon={horizon}")
    rng = np.random.default_rng() if rng is None else rng
    amplitude = rng.uniform(0.5, 1.5, batch)
    frequency = rng.uniform(0.1, 0.4, batch)
    phase = rng.uniform(0, 2 * np.pi, batch)
    steps = np.arange(T + horizon)[:, None]
    clean = amplitude * np.sin(frequency * steps + phase)
    x = clean[:T] + noise * rng.standard_normal((T, batch))
    return x[:, :, None].astype(dtype), clean.astype(dtype)


def targets(clean: np.ndarray, mode: str, T: int, horizon: int) -> np.ndarray:
    """What the model must predict from ``clean (T + horizon, B)``.

    ``seq2one``: the ``horizon`` values after the observations, ``(B, horizon)``;
    ``seq2seq``: the value after each observed step, ``(T, B, 1)``.
    """
    if mode == "seq2one":
        return np.ascontiguousarray(clean[T:T + horizon].T)
    return clean[1:T + 1, :, None]


class SineForecaster(Module):
    """A recurrent module (an LSTM by default) read out by a `Linear` layer, from its last
    hidden state or from every one.

    Parameters
    ----------
    mode : {"seq2one", "seq2seq"}
    hidden : int, optional
        Hidden size; default 32 for a kind, the cell's own for a given cell or factory.
    horizon : int
        Values predicted per sequence in ``seq2one`` (``seq2seq`` predicts one per step).
    cell : str, RecurrentKind, class, Module or callable
        Anything `tl.nn.kinds.build_module` takes: a kind (``"lstm"``, ``"gru"``, a
        registered kind, ``"module:Class"``, a cell class), a cell of yours with
        ``input_size=1`` (used as is), a sequence module, or a factory ``input_size -> cell``.

    Call ``model(x)`` with ``x (T, B, 1)``; returns ``(B, horizon)`` or ``(T, B, 1)``.
    """

    def __init__(self, mode: str = "seq2one", hidden: int | None = None, horizon: int = 10, cell="lstm"):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"SineForecaster: mode must be one of {MODES}, got {mode!r}")
        self.mode = mode
        self.rnn = build_module(cell, 1, hidden, default_hidden_size=DEFAULT_HIDDEN, owner="SineForecaster: cell")
        self.kind = module_kind(self.rnn)
        directions = 2 if self.rnn.bidirectional else 1
        self.readout = Linear(directions * self.rnn.hidden_size, horizon if mode == "seq2one" else 1)

    def forward(self, x):
        output, final = self.rnn(x)
        if self.mode == "seq2one":
            return self.readout(last_hidden(final, self.rnn.bidirectional))
        steps, batch, features = output.shape
        return self.readout(output.reshape(steps * batch, features)).reshape(steps, batch, 1)

    def load_state_dict(self, state_dict, strict: bool = True):
        """`Module.load_state_dict`, also of the LSTM-only model's keys (``lstm.*``, now ``rnn.*``)."""
        return super().load_state_dict(upgrade_state_dict(state_dict), strict)


def evaluate(model: SineForecaster, x: np.ndarray, target: np.ndarray) -> float:
    """The model's MSE on ``x (T, B, 1)`` against `target`, without recording a graph."""
    with no_grad():
        return float(mse_loss(model(x), target).item())


@dataclass
class SineResult:
    """What `train` returns.

    Attributes
    ----------
    model : SineForecaster
    losses : ndarray (steps,)
        Training MSE of every step.
    eval_steps, test_mse : ndarray (k,)
        Test-set MSE after those steps (step 0 is before training).
    zero_mse : float
        Test MSE of predicting zero: the variance of the clean waves.
    seconds : float
        Wall-clock training time.
    plot : pathlib.Path or None
        The PNG written by `plot_forecast`, if asked.
    config : dict
        The arguments of `train`.
    """

    model: SineForecaster
    losses: np.ndarray
    eval_steps: np.ndarray
    test_mse: np.ndarray
    zero_mse: float
    seconds: float
    plot: pathlib.Path | None = None
    config: dict = field(default_factory=dict)

    @property
    def final_test_mse(self) -> float:
        """The test MSE at the last evaluation."""
        return float(self.test_mse[-1])


def train(mode: str = "seq2one", steps: int = 1000, batch: int = 32, T: int = 40, horizon: int = 10,
          hidden: int | None = None, lr: float = 1e-2, noise: float = 0.1, clip: float | None = 1.0, seed: int = 0,
          test_size: int = 256, eval_every: int = 50, out=None, progress: bool = True, cell="lstm",
          jit: bool = False) -> SineResult:
    """Train `SineForecaster` with Adam on fresh random waves; plot the test forecasts to `out`.

    Parameters
    ----------
    mode : {"seq2one", "seq2seq"}
    steps, batch, T, horizon : int
        Adam steps, sequences per step, observed steps, values forecast after them
        (seq2one).
    hidden : int, optional
        Hidden size; default 32 for a kind, the cell's own for a given cell or factory.
    lr : float
        Adam's learning rate.
    noise : float
        Observation noise (standard deviation).
    clip : float or None
        Scale gradients to a total norm of at most this (None: no clipping).
    seed : int
        Seeds the weights (`tl.manual_seed`), the training waves and the test set.
    test_size, eval_every : int
        Waves in the fixed test set; steps between test evaluations.
    out : str or path-like, optional
        Write `plot_forecast` of the first test waves there (PNG).
    progress : bool
        Show a tqdm progress bar on stderr.
    cell : str, RecurrentKind, class, Module or callable
        The recurrent part (see `SineForecaster`): a kind, a cell of yours (the one trained),
        a sequence module or a factory ``input_size -> cell``.
    jit : bool
        Compile the loss function with `tl.jit` (traced once, replayed; the same numbers, faster).

    Returns
    -------
    SineResult
    """
    config = dict(mode=mode, steps=steps, batch=batch, T=T, horizon=horizon, hidden=hidden, lr=lr, noise=noise,
                  clip=clip, seed=seed, test_size=test_size, eval_every=eval_every, cell=cell)
    if mode not in MODES:
        raise ValueError(f"train: mode must be one of {MODES}, got {mode!r}")
    check_counts({name: config[name] for name in ("steps", "batch", "T", "horizon", "test_size", "eval_every")} |
                 ({} if hidden is None else {"hidden": hidden}))
    manual_seed(seed)
    model = SineForecaster(mode, hidden, horizon, cell)
    config.update(cell=model.kind.name, hidden=model.rnn.hidden_size)
    rng = np.random.default_rng([seed, 0])
    test_x, test_clean = make_batch(test_size, T, horizon, noise, np.random.default_rng([seed, 1]))
    test_target = targets(test_clean, mode, T, horizon)
    zero_mse = float(np.mean(np.square(test_target, dtype=np.float64)))
    parameters = list(model.parameters())

    def loss_of(x, target):
        return mse_loss(model(x), target)
    if jit:
        loss_of = compile_step(loss_of)

    def loss_at(step):
        x, clean = make_batch(batch, T, horizon, noise, rng)
        return loss_of(x, targets(clean, mode, T, horizon))

    curves = fit(parameters, Adam(parameters, lr=lr), loss_at, steps, clip=clip,
                 evaluate=lambda: evaluate(model, test_x, test_target), eval_every=eval_every, progress=progress,
                 description=f"{model.kind.title} sine {mode}")
    test_mse = curves.evals
    plot = None
    if out is not None:
        plot = plot_forecast(model, test_x[:, :3], test_clean[:, :3], out,
                             title=f"{mode}, test MSE {test_mse[-1]:.4f} (predicting zero: {zero_mse:.3f})")
    return SineResult(model, curves.losses, curves.eval_steps, test_mse, zero_mse, curves.seconds, plot, config)


def plot_forecast(model: SineForecaster, x: np.ndarray, clean: np.ndarray, path, title: str = "") -> pathlib.Path:
    """Draw the model's forecasts against the truth, one panel per wave, to a PNG at `path`.

    Parameters
    ----------
    model : SineForecaster
    x : ndarray (T, B, 1)
        Noisy observations (drawn as dots).
    clean : ndarray (T + horizon, B)
        The clean waves (dashed line).
    path : str or path-like
        Parent directories are created.
    title : str

    Uses matplotlib's Agg canvas through `matplotlib.figure.Figure` (no pyplot, no
    display, no change to the global backend). Returns the path written.
    """
    from matplotlib.figure import Figure

    steps, waves = x.shape[0], x.shape[1]
    with no_grad():
        prediction = model(x).data
    figure = Figure(figsize=(8, 2.2 * waves + 0.6), layout="constrained")
    axes = figure.subplots(waves, 1, sharex=True, squeeze=False)[:, 0]
    for b, ax in enumerate(axes):
        ax.plot(np.arange(steps), x[:, b, 0], ".", color="#999999", markersize=4, label="noisy input")
        shown = len(clean) if model.mode == "seq2one" else steps + 1  # seq2seq forecasts up to step T
        ax.plot(np.arange(shown), clean[:shown, b], "--", color="black", linewidth=1, label="truth (clean)")
        if model.mode == "seq2one":
            ax.plot(np.arange(steps, steps + prediction.shape[1]), prediction[b], "o-", color="#d62728",
                    markersize=3, label="forecast")
            ax.axvline(steps - 0.5, color="#cccccc", linewidth=1)
        else:
            ax.plot(np.arange(1, steps + 1), prediction[:, b, 0], "-", color="#d62728",
                    label="one-step forecast")
        ax.set_ylabel(f"wave {b}")
    axes[0].legend(loc="upper left", fontsize=8, ncols=3)
    axes[-1].set_xlabel("step")
    if title:
        figure.suptitle(title)
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    return path


# --------------------------------------------------------------------------- command line
def add_arguments(parser) -> None:
    """The options of ``tinygrad-lstm train --task sine``."""
    parser.add_argument("--mode", choices=MODES, default="seq2one",
                        help="seq2one: forecast the next --horizon values from the whole sequence; seq2seq: "
                             "forecast the next value at every step (default: seq2one)")
    parser.add_argument("--steps", type=positive_int, metavar="N", default=1000, help="Adam steps (default: 1000)")
    parser.add_argument("--batch", type=positive_int, metavar="N", default=32, help="waves per step (default: 32)")
    parser.add_argument("--length", type=positive_int, default=40, metavar="T", help="observed steps T (default: 40)")
    parser.add_argument("--horizon", type=positive_int, metavar="N", default=10,
                        help="values forecast after the sequence in seq2one (default: 10)")
    add_cell_argument(parser)
    parser.add_argument("--hidden", type=positive_int, metavar="N", default=DEFAULT_HIDDEN,
                        help=f"hidden size (default: {DEFAULT_HIDDEN})")
    parser.add_argument("--noise", type=non_negative_float, metavar="X", default=0.1,
                        help="observation noise std (default: 0.1)")
    add_optimizer_arguments(parser)
    parser.add_argument("--jit", action="store_true",
                        help="compile the forward and backward with tl.jit: traced once, replayed (same numbers)")
    parser.add_argument("--out", metavar="PNG", default="sine_forecast.png",
                        help="where to plot prediction against truth (default: sine_forecast.png)")


def run(args) -> int:
    """Train as `args` says, print the test MSE and write the plot; returns 0.

    A plot format matplotlib cannot write raises a ValueError (checked before training), a
    plot that cannot be written an OSError: `tinygrad_lstm.cli.run_command` makes each one
    line and exit code 2.
    """
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()
    if pathlib.Path(args.out).suffix.lower()[1:] not in formats:
        raise ValueError(f"--out {args.out!r} must end in a format matplotlib writes: "
                         f"{', '.join('.' + name for name in sorted(formats))}")
    result = train(args.mode, steps=args.steps, batch=args.batch, T=args.length, horizon=args.horizon,
                   hidden=args.hidden, lr=args.lr, noise=args.noise, clip=args.clip or None, seed=args.seed,
                   out=args.out, progress=args.progress, cell=args.cell, jit=args.jit)
    print(f"sine {args.mode}: test MSE {result.test_mse[0]:.4f} before training, {result.final_test_mse:.4f} after "
          f"{args.steps} steps of the {result.model.kind.title} ({result.seconds:.1f} s); predicting zero scores "
          f"{result.zero_mse:.4f}")
    print(f"plot: {result.plot}")
    return 0
