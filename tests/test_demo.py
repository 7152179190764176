"""The demo end to end in --quick mode, the adding-problem task and the plots."""
import re
import shutil

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm.cli import main
from tinygrad_lstm.plots import plot_gradient_flow, plot_learning_curves
from tinygrad_lstm.tasks import adding

PNG = b"\x89PNG\r\n\x1a\n"


def _run_quick_demo(out, capsys, seed="0"):
    assert main(["demo", "--quick", "--out", str(out), "--seed", seed, "--no-progress"]) == 0
    return capsys.readouterr().out


def test_quick_demo_writes_every_file_and_all_checks_agree(tmp_path, capsys):
    out = tmp_path / "demo"
    text = _run_quick_demo(out, capsys)
    assert text.count("all agree: autograd = manual = numerical") == 3
    assert "DISAGREE" not in text and "FAIL" not in text
    for name in ("RNN(3, 4)", "LSTM(3, 4)", "GRU(3, 4)"):
        assert f"Gradient check of {name}" in text
    graph = out / "lstm_graph.svg" if shutil.which("dot") else out / "lstm_graph.dot"
    for path in (graph, out / "lstm_graph.dot", out / "learning_curves.png", out / "gradient_flow.png",
                 out / "lstm_gates.png"):
        assert path.exists() and path.stat().st_size > 0
        assert str(path) in text.split("Files written:")[1]
    assert re.search(r"LSTM gates after training, share of saturated units over 4 sequences: i \d+%, f \d+%", text)
    for png in ("learning_curves.png", "gradient_flow.png", "lstm_gates.png"):
        assert (out / png).read_bytes().startswith(PNG)


def _without_timings(text):
    return re.sub(r"\d+\.\d s", "<time>", text)


def test_quick_demo_is_deterministic_and_survives_a_missing_graphviz(tmp_path, capsys, monkeypatch):
    first = _run_quick_demo(tmp_path / "a", capsys, seed="3")
    monkeypatch.setenv("PATH", "")
    second = _run_quick_demo(tmp_path / "b", capsys, seed="3")
    assert "note: Graphviz's `dot` program is not installed" in second
    assert (tmp_path / "b" / "lstm_graph.dot").exists() and not (tmp_path / "b" / "lstm_graph.svg").exists()

    def comparable(text, directory):
        text = _without_timings(text).replace(str(directory), "<out>")
        return text.split("2. The unrolled graph")[0] + text.split("3. The adding problem")[1].split("Files written")[0]
    assert comparable(first, tmp_path / "a") == comparable(second, tmp_path / "b")


def test_make_batch():
    x, y = adding.make_batch(500, T=8, rng=np.random.default_rng(0))
    assert x.shape == (8, 500, 2) and y.shape == (500, 1) and x.dtype == np.float32
    markers = x[:, :, 1]
    assert set(np.unique(markers)) == {0.0, 1.0}
    assert (markers[:4].sum(axis=0) == 1).all() and (markers[4:].sum(axis=0) == 1).all()
    np.testing.assert_allclose(y[:, 0], (x[:, :, 0] * markers).sum(axis=0), rtol=1e-6)
    assert ((x[:, :, 0] >= 0) & (x[:, :, 0] < 1)).all()
    with pytest.raises(ValueError, match="at least 2"):
        adding.make_batch(2, T=1)


def test_baseline_is_the_mse_of_predicting_the_mean():
    _, y = adding.make_batch(200_000, T=4, rng=np.random.default_rng(1), dtype=np.float64)
    assert np.mean((y - 1.0) ** 2) == pytest.approx(adding.BASELINE_MSE, rel=0.02)


def test_train_returns_curves_and_leaves_initial_weights():
    result = adding.train("lstm", steps=12, batch=8, hidden=4, T=6, seed=1, test_size=20, eval_every=5,
                          progress=False)
    assert result.losses.shape == (12,) and np.isfinite(result.losses).all()
    assert result.eval_steps.tolist() == [0, 5, 10, 12]
    assert result.test_mse.shape == (4,)
    initial = adding.AddingModel("lstm", 4)
    initial.load_state_dict(result.initial_state)
    x, y = adding.make_batch(20, 6, np.random.default_rng([1, 1]))
    assert adding.evaluate(initial, x, y) == pytest.approx(result.test_mse[0], rel=1e-6)
    assert adding.evaluate(result.model, x, y) == pytest.approx(result.final_test_mse, rel=1e-6)
    again = adding.train("lstm", steps=12, batch=8, hidden=4, T=6, seed=1, test_size=20, eval_every=5,
                         progress=False)
    np.testing.assert_array_equal(again.losses, result.losses)


def test_gradient_flow_matches_the_gradient_of_each_hidden_state():
    """The hooked norms equal ||dL/dh_t|| computed from the gradient of h_t's replacement leaf."""
    tl.manual_seed(0)
    model = adding.AddingModel("rnn", 5)
    x, y = adding.make_batch(3, 6, np.random.default_rng(2))
    norms = adding.gradient_flow(model, x, y)
    assert norms.shape == (6,) and (norms > 0).all()
    assert all(p.grad is None for p in model.parameters())
    # Independent: for a tanh RNN, dL/dh_{t-1} = (dL/dh_t * (1 - h_t^2)) @ W_hh, in float64 by hand.
    w_ih, w_hh = (getattr(model.rnn, n).data.astype(np.float64) for n in ("weight_ih_l0", "weight_hh_l0"))
    bias = (model.rnn.bias_ih_l0.data + model.rnn.bias_hh_l0.data).astype(np.float64)
    hs = [np.zeros((3, 5))]
    for x_t in x.astype(np.float64):
        hs.append(np.tanh(x_t @ w_ih.T + hs[-1] @ w_hh.T + bias))
    weight = model.readout.weight.data.astype(np.float64)
    prediction = hs[-1] @ weight.T + model.readout.bias.data
    grad = 2 * (prediction - y) / y.size @ weight
    expected = []
    for t in range(6, 0, -1):
        expected.append(np.linalg.norm(grad))
        grad = (grad * (1 - hs[t] ** 2)) @ w_hh
    np.testing.assert_allclose(norms, expected[::-1], rtol=1e-6)


def test_plots_write_pngs_or_return_figures(tmp_path):
    from matplotlib.figure import Figure
    steps = np.arange(0, 101, 50)
    curves = {"RNN": {"train": np.linspace(1, 0.2, 100), "test": (steps, [1.0, 0.3, 0.2])},
              "LSTM": {"test": (steps, [1.0, 0.1, 0.001])}}
    path = plot_learning_curves(curves, tmp_path / "sub" / "curves.png", baseline=1 / 6, target=0.01)
    assert path == tmp_path / "sub" / "curves.png" and path.read_bytes().startswith(PNG)
    figure = plot_learning_curves(curves, baseline=1 / 6)
    assert isinstance(figure, Figure)
    assert [line.get_label() for line in figure.axes[0].lines][:2] == ["RNN: training batch (running mean of 20)",
                                                                     "RNN: test set"]
    flows = {"RNN": {"init": np.geomspace(1e-30, 1, 10), "trained": np.r_[np.zeros(3), np.geomspace(1e-3, 1, 7)]}}
    assert plot_gradient_flow(flows, tmp_path / "flow.png").read_bytes().startswith(PNG)
    figure = plot_gradient_flow(flows)  # no path: nothing written, the figure shows inline in a notebook
    assert len(figure.axes) == 2 and figure._repr_png_().startswith(PNG)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["flow.png", "sub"]
