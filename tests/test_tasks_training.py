"""tinygrad_lstm.tasks.training: the loop the tasks share, count checks and the optimizer options."""
import argparse

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm.tasks.training import add_optimizer_arguments, check_counts, fit


def _regression(seed=0):
    """A weight w and the loss sum((x w - y)^2) on a fresh batch per step (least squares, w* = 2)."""
    w = tl.Tensor(np.zeros((1, 1)), requires_grad=True)
    rng = np.random.default_rng(seed)

    def loss_at(step):
        x = rng.standard_normal((8, 1))
        return ((tl.Tensor(x) @ w - 2 * x) ** 2).sum()
    return w, loss_at


def test_fit_records_every_loss_and_evaluates_on_schedule():
    w, loss_at = _regression()
    evaluations, after = [], []

    def evaluate():
        evaluations.append(float(w.data[0, 0]))
        return abs(2 - float(w.data[0, 0]))

    curves = fit([w], tl.optim.SGD([w], lr=0.02), loss_at, 10, evaluate=evaluate, eval_every=4,
                 after_step=after.append, progress=False)
    assert curves.eval_steps.tolist() == [0, 4, 8, 10] and len(evaluations) == 4
    assert evaluations[0] == 0.0 and curves.evals[-1] < curves.evals[0] / 5  # w moved towards 2
    assert after == list(range(10))
    assert curves.losses.shape == (10,) and curves.losses[-1] < curves.losses[0] and curves.seconds > 0


def test_fit_recorded_losses_are_the_losses_of_each_step():
    """The same seed replayed by hand, one SGD step at a time, gives the same losses."""
    w, loss_at = _regression(3)
    curves = fit([w], tl.optim.SGD([w], lr=0.01), loss_at, 5, progress=False)
    by_hand, replay = _regression(3)
    expected = []
    for step in range(5):
        loss = replay(step)
        by_hand.grad = None
        loss.backward()
        expected.append(loss.item())
        by_hand.data -= 0.01 * by_hand.grad
    np.testing.assert_allclose(curves.losses, expected, rtol=1e-12)
    np.testing.assert_allclose(w.data, by_hand.data, rtol=1e-12)


def test_fit_clips_the_gradient_norm():
    w, loss_at = _regression()
    fit([w], tl.optim.SGD([w], lr=1.0), loss_at, 1, clip=1e-3, progress=False)
    assert abs(w.data[0, 0]) == pytest.approx(1e-3, rel=1e-6)  # one step of lr * (gradient scaled to norm 1e-3)
    unclipped, loss_at = _regression()
    fit([unclipped], tl.optim.SGD([unclipped], lr=1.0), loss_at, 1, progress=False)
    assert abs(unclipped.data[0, 0]) > 1


def test_fit_resumes_into_given_losses():
    w, loss_at = _regression()
    losses = np.full(6, -1.0)
    curves = fit([w], tl.optim.SGD([w], lr=0.01), loss_at, 6, start=4, losses=losses, progress=False)
    assert curves.losses is losses and (losses[:4] == -1).all() and (losses[4:] > 0).all()
    assert curves.eval_steps.size == 0


@pytest.mark.parametrize("counts, minimum, match", [
    ({"steps": 0}, 1, "train: steps must be an integer >= 1, got 0"),
    ({"batch": 2, "hidden": 2.0}, 1, "hidden must be an integer >= 1, got 2.0"),
    ({"steps": True}, 0, "steps must be an integer >= 0, got True"),
    ({"steps": -1}, 0, "steps must be an integer >= 0"),
])
def test_check_counts(counts, minimum, match):
    with pytest.raises(ValueError, match=match):
        check_counts(counts, minimum)
    check_counts({"steps": np.int64(3), "batch": 1})


def test_optimizer_arguments():
    parser = argparse.ArgumentParser()
    add_optimizer_arguments(parser)
    assert vars(parser.parse_args([])) == {"lr": 0.01, "clip": 1.0}
    assert vars(parser.parse_args(["--lr", "0.5", "--clip", "0"])) == {"lr": 0.5, "clip": 0.0}
    for bad in (["--lr", "0"], ["--clip", "-1"], ["--lr", "nan"], ["--clip", "inf"]):
        with pytest.raises(SystemExit):
            parser.parse_args(bad)
