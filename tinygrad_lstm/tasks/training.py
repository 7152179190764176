"""The training loop the tasks share: optimizer steps with gradient clipping, a progress bar,
the loss of every step and evaluations along the way (the learning curves)."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..cli import non_negative_float, positive_float
from ..nn.utils import clip_grad_norm_
from ..ops import concat
from ..progress import progress_bar

__all__ = ["Curves", "fit", "check_counts", "add_optimizer_arguments", "upgrade_state_dict", "last_hidden"]


@dataclass
class Curves:
    """What `fit` recorded.

    Attributes
    ----------
    losses : ndarray (steps,)
        The training loss of every step (the `losses` given to `fit`, filled in).
    eval_steps, evals : ndarray (k,)
        The evaluations and the steps they followed (the first is the start); empty without
        an `evaluate`.
    seconds : float
        Wall-clock time of the steps.
    """

    losses: np.ndarray
    eval_steps: np.ndarray
    evals: np.ndarray
    seconds: float


def fit(parameters: list, optimizer, loss_at, steps: int, clip: float | None = None, evaluate=None,
        eval_every: int = 1, start: int = 0, losses: np.ndarray | None = None, after_step=None,
        progress: bool = True, description: str = "", metric: str = "test_mse") -> Curves:
    """Train from step `start` up to `steps`.

    Step ``k`` computes ``loss = loss_at(k)`` (a one-element Tensor), backpropagates it,
    scales the gradients of `parameters` to a total norm of at most `clip` (None: no
    clipping), takes an `optimizer` step, records ``losses[k]`` and calls ``after_step(k)``
    (to carry a state, write a checkpoint). ``evaluate() -> float`` runs before the first
    step, every `eval_every` steps and after the last one.

    The progress bar (`tinygrad_lstm.progress.progress_bar`: on stderr, when `progress`) shows `description` and the last
    evaluation as `metric`, or the last loss without an `evaluate`.
    """
    losses = np.empty(steps) if losses is None else losses
    eval_steps, evals = [], []
    if evaluate is not None:
        eval_steps.append(start)
        evals.append(evaluate())
    bar = progress_bar(range(start, steps), total=steps, initial=start, desc=description, enabled=progress)
    began = time.perf_counter()
    for step in bar:
        loss = loss_at(step)
        optimizer.zero_grad()
        loss.backward()
        if clip is not None:
            clip_grad_norm_(parameters, clip)
        optimizer.step()
        losses[step] = loss.item()
        if after_step is not None:
            after_step(step)
        if evaluate is None:
            bar.set_postfix(loss=f"{losses[step]:.3f}", refresh=False)
        elif (step + 1) % eval_every == 0 or step + 1 == steps:
            eval_steps.append(step + 1)
            evals.append(evaluate())
            bar.set_postfix({metric: f"{evals[-1]:.4f}"}, refresh=False)
    return Curves(losses, np.array(eval_steps), np.array(evals), time.perf_counter() - began)


def check_counts(counts: dict, minimum: int = 1) -> None:
    """Raise a ValueError naming the first of `counts` (name -> value) that is not an int >= `minimum`."""
    for name, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
            raise ValueError(f"train: {name} must be an integer >= {minimum}, got {value!r}")


def add_optimizer_arguments(parser) -> None:
    """``--lr`` (Adam's learning rate, default 0.01) and ``--clip`` (default 1, 0 for none)."""
    parser.add_argument("--lr", type=positive_float, metavar="X", default=1e-2,
                        help="Adam learning rate (default: 0.01)")
    parser.add_argument("--clip", type=non_negative_float, metavar="X", default=1.0,
                        help="gradient-norm clipping, 0 for none (default: 1)")


def upgrade_state_dict(state_dict) -> dict:
    """A task model's state dict from before the models took any cell, when their recurrent
    module was the LSTM ``lstm``: its keys ``lstm.*`` renamed to today's ``rnn.*``."""
    return {("rnn." + key[len("lstm."):] if key.startswith("lstm.") else key): value
            for key, value in state_dict.items()}


def last_hidden(final_state, bidirectional: bool):
    """The last layer's final hidden state ``(B, num_directions * H)`` from a sequence module's
    final state: a Tensor or a tuple whose first element is ``h_n``, ``(layers * num_directions,
    B, H)`` (or one cell's ``(B, H)``); with both directions, forward and backward concatenated."""
    h_n = final_state[0] if isinstance(final_state, tuple) else final_state
    if h_n.ndim == 2:
        return h_n
    return concat([h_n[-2], h_n[-1]], axis=1) if bidirectional else h_n[-1]
