"""tinygrad_lstm.tasks.sine with any cell."""
import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm.cli import main as cli_main
from tinygrad_lstm.tasks import sine

SMALL = dict(steps=3, batch=4, T=6, horizon=2, test_size=8, eval_every=3, progress=False)


class MinimalGatedUnit(tl.nn.Module):
    """f = σ(x W_f^T + h U_f^T + b_f); h~ = tanh(x W^T + (f h) U^T + b); h' = (1 - f) h + f h~."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.forget = tl.nn.Linear(input_size + hidden_size, hidden_size)
        self.candidate = tl.nn.Linear(input_size + hidden_size, hidden_size)

    def init_state(self, batch_size):
        return tl.zeros(batch_size, self.hidden_size, dtype=np.float32)

    def forward(self, x, h):
        f = self.forget(tl.concat([x, h], axis=1)).sigmoid()
        return h + f * (self.candidate(tl.concat([x, f * h], axis=1)).tanh() - h)


@pytest.mark.parametrize("mode", sine.MODES)
@pytest.mark.parametrize("cell", ["gru", "peephole_lstm", MinimalGatedUnit])
def test_any_kind_forecasts(mode, cell):
    result = sine.train(mode, cell=cell, hidden=5, **SMALL)
    assert result.config["hidden"] == 5 and np.isfinite(result.losses).all()
    x, clean = sine.make_batch(3, 6, 2, rng=np.random.default_rng(0))
    assert result.model(x).shape == sine.targets(clean, mode, 6, 2).shape
    assert result.model.kind.title == {"gru": "GRU", "peephole_lstm": "PeepholeLSTM"}.get(cell, "MinimalGatedUnit")


def test_the_readout_reads_the_last_hidden_state():
    for cell in ("lstm", tl.nn.GRUCell(1, 3)):
        model = sine.SineForecaster("seq2one", horizon=2, cell=cell, hidden=3)
        x = sine.make_batch(2, 5, 2, rng=np.random.default_rng(1))[0]
        output, _ = model.rnn(x)
        expected = output.data[-1] @ model.readout.weight.data.T + model.readout.bias.data
        np.testing.assert_allclose(model(x).data, expected, rtol=1e-6)


def test_a_cell_instance_is_the_one_trained_and_its_size_is_taken():
    tl.manual_seed(2)
    cell = MinimalGatedUnit(1, 7)
    before = cell.candidate.weight.data.copy()
    result = sine.train(cell=cell, **SMALL)
    assert result.model.rnn.cell is cell and result.config["hidden"] == 7
    assert not np.array_equal(cell.candidate.weight.data, before)
    with pytest.raises(ValueError, match="SineForecaster: cell: the MinimalGatedUnit given has hidden_size=7, "
                                         "expected 4"):
        sine.SineForecaster(cell=cell, hidden=4)


def test_the_lstm_only_state_dict_keys_load():
    tl.manual_seed(3)
    model = sine.SineForecaster(hidden=4, horizon=2)
    fresh = sine.SineForecaster(hidden=4, horizon=2)
    fresh.load_state_dict({key.replace("rnn.", "lstm.", 1): value for key, value in model.state_dict().items()})
    x = sine.make_batch(2, 5, 2, rng=np.random.default_rng(1))[0]
    np.testing.assert_array_equal(fresh(x).data, model(x).data)


def test_cli_cell_option(tmp_path, capsys):
    out = tmp_path / "sine.png"
    argv = ["train", "--task", "sine", "--cell", "gru", "--steps", "3", "--length", "6", "--no-progress",
            "--out", str(out)]
    assert cli_main(argv) == 0
    assert "after 3 steps of the GRU" in capsys.readouterr().out and out.exists()


# --------------------------------------------------------------------------- --out checked before training
def test_sine_checks_the_plot_format_before_training(capsys, tmp_path, monkeypatch):
    from tinygrad_lstm.cli import main
    sine = tl.tasks.load_task("sine")

    def no_training(*args, **kwargs):
        raise AssertionError("trained before checking --out")

    monkeypatch.setattr(sine, "train", no_training)
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--task", "sine", "--out", "forecast.txt", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "tinygrad-lstm train: error: --out 'forecast.txt'" in err and ".png" in err
