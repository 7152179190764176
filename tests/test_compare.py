"""compare_gradients: the report's numbers, flagging a wrong backward, custom cells, built-in coverage."""
import json
import sys

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm.compare import TOLERANCES, builtin_reference


def _rng(seed=0):
    return np.random.default_rng(seed)


class TanhCell(tl.nn.Module):
    """h' = tanh(x @ w + h @ u): a custom cell for the Recurrent protocol."""

    def __init__(self, input_size=3, hidden_size=4, seed=0):
        super().__init__()
        rng = _rng(seed)
        self.w = tl.nn.Parameter(rng.standard_normal((input_size, hidden_size)) * 0.5)
        self.u = tl.nn.Parameter(rng.standard_normal((hidden_size, hidden_size)) * 0.5)
        self.input_size, self.hidden_size = input_size, hidden_size

    def init_state(self, batch_size=None):
        shape = (self.hidden_size,) if batch_size is None else (batch_size, self.hidden_size)
        return tl.zeros(*shape)

    def forward(self, x, h):
        return (x @ self.w + h @ self.u).tanh()


def tanh_cell_backward(params, x, h, grad_output, forget_tanh_derivative=False):
    """Hand-written backward of one TanhCell step."""
    h_new = np.tanh(x @ params["w"] + h @ params["u"])
    dz = grad_output if forget_tanh_derivative else grad_output * (1 - h_new ** 2)
    return {"w": x.T @ dz, "u": h.T @ dz, "x": dz @ params["w"].T, "h0": dz @ params["u"].T}


def test_builtin_lstm_all_references_agree_and_rows_cover_params_input_state():
    tl.manual_seed(0)
    lstm = tl.nn.LSTM(3, 4)
    report = tl.compare_gradients(lstm, _rng().standard_normal((4, 2, 3)), torch_module=None)
    assert report.ok, str(report)
    assert [row.name for row in report.rows] == [
        "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "x", "h0", "c0"]
    assert set(report.references) == {"manual", "numerical"}
    assert report.rows[4].shape == (4, 2, 3) and report.rows[5].shape == (1, 2, 4)
    for row in report.rows:
        assert row.grad_max > 0  # the random linear loss makes every gradient nontrivial
        assert row.checks["manual"].max_abs < 1e-12
        assert row.checks["numerical"].checked == row.checks["numerical"].size == int(np.prod(row.shape))
    assert "all agree" in str(report)


def test_lstm_with_projection_is_checked_against_numerical_and_torch():
    pytest.importorskip("torch")
    tl.manual_seed(2)
    lstm = tl.nn.LSTM(3, 4, num_layers=2, proj_size=2)
    assert builtin_reference(lstm) is None  # the hand-written reference has no projection
    report = tl.compare_gradients(lstm, _rng().standard_normal((4, 2, 3)))
    assert report.ok, str(report)
    assert set(report.references) == {"numerical", "torch"}
    rows = {row.name: row.shape for row in report.rows}
    assert rows["weight_hr_l1"] == (2, 4) and rows["h0"] == (2, 2, 2) and rows["c0"] == (2, 2, 4)


def test_report_numbers_match_an_independent_computation():
    """A reference off by a known delta in one element: the report shows exactly that error."""
    tl.manual_seed(1)
    gru = tl.nn.GRU(3, 4)
    x = _rng(1).standard_normal((3, 2, 3))
    correct = builtin_reference(gru)
    delta = 2.5e-3
    returned = []

    def off_by_delta(params, x, state, grad_outputs):
        grads = correct(params, x, state, grad_outputs)
        wrong = grads["weight_hh_l0"].copy()
        wrong[1, 2] += delta
        returned.append(wrong)
        return {**grads, "weight_hh_l0": wrong}

    report = tl.compare_gradients(gru, x, manual=off_by_delta, torch_module=None, numerical_elements=0)
    assert not report.ok
    assert report.failures() == [("weight_hh_l0", "manual")]
    check = {r.name: r for r in report.rows}["weight_hh_l0"].checks["manual"]
    assert check.max_abs == pytest.approx(delta, rel=1e-9)
    assert check.max_rel == pytest.approx(check.max_abs / np.abs(returned[0]).max(), rel=1e-12)
    assert not check.passed
    assert all(c.passed for r in report.rows if r.name != "weight_hh_l0" for c in r.checks.values())
    text = str(report)
    assert "DISAGREE" in text and "weight_hh_l0 (manual)" in text and "FAIL" in text


def test_custom_loss_gradient_is_autograds():
    """grad_max equals max|d loss / d w| computed directly with a float64 copy of the model."""
    tl.manual_seed(2)
    rnn = tl.nn.RNN(3, 5, dtype=np.float64)
    x = _rng(2).standard_normal((4, 2, 3))
    h0 = _rng(3).standard_normal((1, 2, 5))

    def loss_fn(outputs):
        output, h_n = outputs
        return (output * output).sum() + h_n.sum()

    report = tl.compare_gradients(rnn, x, state=h0, loss_fn=loss_fn, torch_module=None)
    assert report.ok and report.loss == "custom loss_fn"
    output, h_n = rnn(tl.Tensor(x), tl.Tensor(h0))
    loss_fn((output, h_n)).backward()
    for row in report.rows[:4]:
        assert row.grad_max == pytest.approx(np.abs(getattr(rnn, row.name).grad).max(), rel=1e-12)


def test_wrong_hand_written_backward_is_flagged_but_numerical_passes():
    cell = TanhCell()
    x = _rng(4).standard_normal((2, 3))

    def wrong(params, x, h, grad_output):
        return tanh_cell_backward(params, x, h, grad_output, forget_tanh_derivative=True)

    report = tl.compare_gradients(cell, x, manual=wrong)
    assert not report.ok
    failed = {name for name, ref in report.failures()}
    assert failed == {"w", "u", "x", "h0"}
    assert all(ref == "manual" for _, ref in report.failures())
    assert all(row.checks["numerical"].passed for row in report.rows)

    right = tl.compare_gradients(cell, x, manual=tanh_cell_backward)
    assert right.ok, str(right)
    assert max(row.checks["manual"].max_abs for row in right.rows) < 1e-12


def test_custom_cell_without_manual_gets_numerical_rows_only():
    model = tl.nn.Recurrent(TanhCell())
    report = tl.compare_gradients(model, _rng(5).standard_normal((4, 2, 3)))
    assert report.ok, str(report)
    assert list(report.references) == ["numerical"]
    assert set(report.skipped) == {"manual", "torch"}
    assert [row.name for row in report.rows] == ["cell.w", "cell.u", "x", "h0"]
    assert all(list(row.checks) == ["numerical"] for row in report.rows)
    assert "not compared" in str(report)


def test_numerical_subset_is_reported():
    tl.manual_seed(3)
    lstm = tl.nn.LSTM(3, 4)
    report = tl.compare_gradients(lstm, _rng(6).standard_normal((3, 2, 3)), torch_module=None,
                                  numerical_elements=5)
    assert report.ok
    weight = report.rows[0].checks["numerical"]
    assert (weight.checked, weight.size) == (5, 48)
    assert "ok*" in str(report) and "random subset" in str(report)


def test_model_is_not_modified():
    tl.manual_seed(4)
    lstm = tl.nn.LSTM(3, 4)
    before = {name: p.data.copy() for name, p in lstm.named_parameters()}
    tl.compare_gradients(lstm, _rng(7).standard_normal((3, 2, 3)), torch_module=None, numerical_elements=3)
    for name, p in lstm.named_parameters():
        assert p.dtype == np.float32 and p.grad is None
        np.testing.assert_array_equal(p.data, before[name])


@pytest.mark.parametrize("make_model, shape", [
    (lambda: tl.nn.RNN(3, 4, num_layers=2, nonlinearity="relu", batch_first=True, bidirectional=True), (2, 4, 3)),
    (lambda: tl.nn.LSTM(3, 4, num_layers=2, bidirectional=True), (4, 3)),
    (lambda: tl.nn.GRU(3, 4, num_layers=2, bias=False), (3, 2, 3)),
    (lambda: tl.nn.RNNCell(3, 4, nonlinearity="relu"), (2, 3)),
    (lambda: tl.nn.LSTMCell(3, 4), (3,)),
    (lambda: tl.nn.GRUCell(3, 4), (2, 3)),
    (lambda: tl.nn.Recurrent(tl.nn.LSTMCell(3, 4), batch_first=True), (2, 3, 3)),
])
def test_builtin_references_agree_with_autograd(make_model, shape):
    tl.manual_seed(5)
    report = tl.compare_gradients(make_model(), _rng(8).standard_normal(shape), torch_module=None,
                                  numerical_elements=4)
    assert report.ok, str(report)
    assert "manual" in report.references


def test_torch_column():
    pytest.importorskip("torch")
    tl.manual_seed(6)
    gru = tl.nn.GRU(3, 4, num_layers=2, bidirectional=True)
    report = tl.compare_gradients(gru, _rng(9).standard_normal((3, 2, 3)), numerical_elements=2)
    assert report.ok, str(report)
    assert "torch" in report.references
    assert all(row.checks["torch"].max_abs < 1e-12 for row in report.rows)
    cell = tl.compare_gradients(tl.nn.Recurrent(tl.nn.GRUCell(3, 4)), _rng(9).standard_normal((3, 2, 3)),
                                numerical_elements=0)
    assert cell.ok and "torch" in cell.references


def test_float32():
    tl.manual_seed(7)
    report = tl.compare_gradients(tl.nn.LSTM(3, 4), _rng(10).standard_normal((3, 2, 3)), dtype=np.float32,
                                  torch_module=None)
    assert report.ok, str(report)
    assert report.dtype == "float32" and report.tolerances["manual"] == TOLERANCES["float32"]["manual"]


def test_to_dict_is_json_and_str_is_an_aligned_table():
    tl.manual_seed(8)
    report = tl.compare_gradients(tl.nn.RNN(2, 3), _rng(11).standard_normal((3, 2, 2)), torch_module=None)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["ok"] is True and data["dtype"] == "float64"
    assert data["references"]["manual"]["rtol"] == TOLERANCES["float64"]["manual"][0]
    assert [row["name"] for row in data["rows"]] == [row.name for row in report.rows]
    assert data["rows"][0]["checks"]["numerical"]["passed"] is True
    lines = str(report).splitlines()
    body = [line for line in lines if line.split()[:1] and line.split()[0] in {r.name for r in report.rows}]
    assert len(body) == len(report.rows)
    # Every row puts its verdicts in the same columns.
    assert len({line.index(" ok") for line in body}) == 1
    assert len({len(line) for line in body}) == 1


def test_errors():
    lstm = tl.nn.LSTM(2, 3)
    x = _rng().standard_normal((2, 1, 2))
    with pytest.raises(TypeError, match="tl.nn.Module"):
        tl.compare_gradients(lambda x: x, x)
    with pytest.raises(ValueError, match="nothing to compare"):
        tl.compare_gradients(lstm, x, manual=False, numerical_elements=0, torch_module=None)
    with pytest.raises(KeyError, match="missing"):
        tl.compare_gradients(lstm, x, manual=lambda *args: {"x": np.zeros((2, 1, 2))}, torch_module=None)
    with pytest.raises(ValueError, match="one-element"):
        tl.compare_gradients(lstm, x, loss_fn=lambda outputs: outputs[0], torch_module=None)
    with pytest.raises(TypeError, match="float64 or float32"):
        tl.compare_gradients(lstm, x, dtype=np.int64)
    with pytest.raises(KeyError, match="unknown reference"):
        tl.compare_gradients(lstm, x, tolerances={"exact": (0, 0)})


def test_module_without_state_and_missing_torch(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` fail
    tl.manual_seed(9)
    report = tl.compare_gradients(tl.nn.Linear(3, 2), _rng(12).standard_normal((4, 3)))
    assert report.ok
    assert [row.name for row in report.rows] == ["weight", "bias", "x"]
    assert report.skipped["torch"] == "PyTorch is not installed"
    assert "no built-in hand-written reference for Linear" in report.skipped["manual"]


def test_numerical_column_perturbs_parameters_stored_in_fortran_order():
    tl.manual_seed(10)
    rnn = tl.nn.RNN(3, 4, dtype=np.float64)
    rnn.weight_hh_l0.data = np.asfortranarray(rnn.weight_hh_l0.data)
    report = tl.compare_gradients(rnn, _rng(13).standard_normal((3, 2, 3)), torch_module=None)
    assert report.ok, str(report)
    assert report.rows[1].name == "weight_hh_l0" and report.rows[1].checks["numerical"].checked == 16


# --------------------------------------------------------------------------- all three references; a custom cell
@pytest.mark.parametrize("make, x_shape", [
    (lambda: tl.nn.LSTMCell(3, 4), (2, 3)), (lambda: tl.nn.GRUCell(3, 4), (3,)),
    (lambda: tl.nn.Recurrent(tl.nn.RNNCell(3, 4)), (4, 2, 3)),
    (lambda: tl.nn.GRU(3, 4, num_layers=2, bidirectional=True, batch_first=True), (2, 4, 3)),
])
def test_compare_gradients_agrees_and_its_report_is_json(make, x_shape):
    pytest.importorskip("torch")
    report = tl.compare_gradients(make(), np.random.default_rng(0).standard_normal(x_shape))
    assert report.ok
    data = json.loads(json.dumps(report.to_dict()))
    assert data["ok"] is True and {"manual", "numerical", "torch"} <= set(data["references"])


def test_compare_gradients_on_a_custom_cell_leaves_the_model_untouched():
    class Cell(tl.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = tl.nn.Parameter(np.random.default_rng(0).standard_normal((3, 4)))
            self.u = tl.nn.Parameter(np.random.default_rng(1).standard_normal((4, 4)) * 0.3)
            self.input_size, self.hidden_size = 3, 4

        def init_state(self, batch_size):
            return tl.zeros(batch_size, 4)

        def forward(self, x, h):
            return (x @ self.w + h @ self.u).tanh()

    model = tl.nn.Recurrent(Cell())
    before = model.state_dict()
    report = tl.compare_gradients(model, np.random.default_rng(2).standard_normal((5, 2, 3)))
    assert report.ok and model.training
    assert all(np.array_equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())
