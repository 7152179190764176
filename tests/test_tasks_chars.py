"""tinygrad_lstm.tasks.chars with any cell: the model, its carried state and its checkpoints."""
import pathlib
import shutil

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm.cli import main as cli_main
from tinygrad_lstm.tasks import chars

TINY_LM = dict(batch=8, seq_len=16, hidden=16, embedding=8, sample_length=20, progress=False)
# Written by the character LM of before the tasks took any cell (its LSTM was `lstm`, its state train.h/c,
# no config.cell): chars.train(steps=10, checkpoint=..., checkpoint_every=4, **TINY_LM).
OLD_CHECKPOINT = pathlib.Path(__file__).parent / "data" / "chars_lstm_checkpoint_before_any_cell.npz"


class TripleCell(tl.nn.Module):
    """A cell of three state parts: h' = tanh(x W^T + h U^T + m), m' = (m + h') / 2, n' = n + 1."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        bound = 1 / np.sqrt(hidden_size)
        draw = tl.default_generator().uniform
        self.weight_ih = tl.nn.Parameter(draw(-bound, bound, (hidden_size, input_size)).astype(np.float32))
        self.weight_hh = tl.nn.Parameter(draw(-bound, bound, (hidden_size, hidden_size)).astype(np.float32))

    def init_state(self, batch_size):
        zeros = np.zeros((batch_size, self.hidden_size), self.weight_ih.dtype)
        return tl.Tensor(zeros), tl.Tensor(zeros), tl.Tensor(zeros)

    def forward(self, x, state):
        h, memory, count = state
        h = (x @ self.weight_ih.T + h @ self.weight_hh.T + memory).tanh()
        return h, (memory + h) * 0.5, count + 1


def _assert_same_run(resumed, whole):
    np.testing.assert_array_equal(resumed.losses, whole.losses)
    for (name, ours), theirs in zip(resumed.model.state_dict().items(), whole.model.state_dict().values()):
        np.testing.assert_array_equal(ours, theirs, err_msg=name)
    assert resumed.sample == whole.sample


def test_an_old_lstm_checkpoint_resumes_exactly(tmp_path):
    checkpoint = tmp_path / "old.npz"
    shutil.copy(OLD_CHECKPOINT, checkpoint)  # resuming writes to it
    saved = chars.load_checkpoint(checkpoint)
    assert saved["cell"] == "lstm" and saved["step"] == 10 and "lstm.weight_hh_l0" in saved["model"]
    assert [part.shape for part in saved["state"]] == [(1, 8, 16), (1, 8, 16)]
    resumed = chars.train(steps=24, checkpoint=checkpoint, resume=True, **TINY_LM)
    assert resumed.start_step == 10 and type(resumed.model.rnn) is tl.nn.LSTM
    _assert_same_run(resumed, chars.train(steps=24, **TINY_LM))
    rewritten = chars.load_checkpoint(checkpoint)  # now in today's format
    assert rewritten["cell"] == "lstm" and "rnn.weight_hh_l0" in rewritten["model"] and rewritten["step"] == 24


def test_the_lstm_only_state_dict_keys_load():
    tl.manual_seed(0)
    model = chars.CharLM(5, embedding=3, hidden=4)
    old_keys = {key.replace("rnn.", "lstm.", 1): value for key, value in model.state_dict().items()}
    fresh = chars.CharLM(5, embedding=3, hidden=4)
    fresh.load_state_dict(old_keys)
    for (name, ours), theirs in zip(fresh.state_dict().items(), model.state_dict().values()):
        np.testing.assert_array_equal(ours, theirs, err_msg=name)
    with pytest.raises(tl.nn.StateDictError, match="Missing key.*rnn.weight_hh_l0"):
        fresh.load_state_dict({key: value for key, value in old_keys.items() if key != "lstm.weight_hh_l0"})


@pytest.mark.parametrize("cell, parts", [("gru", ("h",)), ("lstm", ("h", "c")),
                                         (TripleCell, ("state0", "state1", "state2"))])
def test_any_state_is_carried_checkpointed_and_resumed(cell, parts, tmp_path):
    checkpoint = tmp_path / "lm.npz"
    options = dict(TINY_LM, layers=2, cell=cell)
    whole = chars.train(steps=12, **options)
    chars.train(steps=5, checkpoint=checkpoint, checkpoint_every=2, **options)
    archive = tl.load(checkpoint)
    assert sorted(key for key in archive if key.startswith("train.")) == sorted(
        ["train.step", "train.losses", *(f"train.{name}" for name in parts)])
    resumed = chars.train(steps=12, checkpoint=checkpoint, resume=True, **options)
    assert resumed.start_step == 5
    _assert_same_run(resumed, whole)


def test_a_gru_carries_its_state_between_chunks():
    model = chars.CharLM(5, embedding=3, hidden=4, layers=2, cell="gru")
    ids = np.random.default_rng(0).integers(0, 5, (12, 2))
    whole, _ = model(ids)
    first, state = model(ids[:6])
    assert isinstance(state, tl.Tensor) and state.shape == (2, 2, 4)
    second, _ = model(ids[6:], tl.nn.detach_state(state))
    np.testing.assert_allclose(np.concatenate([first.data, second.data]), whole.data, rtol=1e-5, atol=1e-6)


def test_a_cell_instance_is_the_one_trained_and_a_factory_builds_cells():
    tl.manual_seed(1)
    cell = TripleCell(8, 6)
    before = cell.weight_hh.data.copy()
    result = chars.train(steps=3, cell=cell, **dict(TINY_LM, hidden=None))
    assert result.model.rnn.cell is cell and not np.array_equal(cell.weight_hh.data, before)
    assert result.config["hidden"] == 6 and result.config["cell"].endswith(":TripleCell")
    built = chars.CharLM(5, embedding=3, layers=2, cell=lambda size: tl.nn.GRUCell(size, 4))
    assert [type(c) for layer in built.rnn.cells for c in layer] == [tl.nn.GRUCell, tl.nn.GRUCell]
    assert built.kind.name == "gru" and built(np.zeros((2, 1), np.int64))[0].shape == (2, 1, 5)


def test_a_checkpoint_of_another_cell_or_a_wrong_cell_is_refused(tmp_path):
    checkpoint = tmp_path / "lm.npz"
    chars.train(steps=2, checkpoint=checkpoint, **TINY_LM)
    with pytest.raises(ValueError, match="is of the cell 'lstm', asked for 'gru'"):
        chars.train(steps=4, checkpoint=checkpoint, resume=True, **dict(TINY_LM, cell="gru"))
    with pytest.raises(ValueError, match="CharLM: cell: unknown recurrent kind 'nope'"):
        chars.CharLM(5, cell="nope")
    with pytest.raises(ValueError, match="CharLM: cell: the TripleCell given has input_size=3, expected 8"):
        chars.CharLM(5, embedding=8, cell=TripleCell(3, 4))


def test_cli_cell_option(capsys):
    argv = ["train", "--task", "chars", "--cell", "gru", "--steps", "3", "--batch", "4", "--hidden", "8",
            "--sample-length", "5", "--no-progress"]
    assert cli_main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("chars: the Zen of Python x20, ") and ", learned by a GRU;" in out and "after step 3" in out
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["train", "--task", "chars", "--cell", "nope"])
    assert exit_info.value.code == 2 and "invalid choice: 'nope'" in capsys.readouterr().err
