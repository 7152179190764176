"""compare_gradients: the report's numbers, flagging a wrong backward, custom cells, built-in coverage."""
import json
import sys
import warnings

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm.compare import TOLERANCES, builtin_reference
from tinygrad_lstm.manual import localize


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


def test_a_manual_gradient_of_the_wrong_shape_is_a_value_error_naming_the_tensor():
    cell = TanhCell()
    x = _rng(4).standard_normal((2, 3))

    def wrong_shape(params, x, h, grad_output):
        grads = tanh_cell_backward(params, x, h, grad_output)
        return {**grads, "u": grads["u"].T[:1]}

    with pytest.raises(ValueError, match=r"manual reference's gradient of 'u' has shape \(1, \d+\), autograd's"):
        tl.compare_gradients(cell, x, manual=wrong_shape)


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


def test_float32_warns_loudly_and_uses_float32_tolerances():
    tl.manual_seed(7)
    with pytest.warns(UserWarning, match="checking in float32: its rounding .* cannot tell a 1e-4 bug from rounding"):
        report = tl.compare_gradients(tl.nn.LSTM(3, 4), _rng(10).standard_normal((3, 2, 3)), dtype=np.float32,
                                      torch_module=None)
    assert report.ok, str(report)
    assert report.dtype == "float32" and report.tolerances["manual"] == TOLERANCES["float32"]["manual"]
    assert TOLERANCES["float32"]["manual"] == localize.TOLERANCES["float32"]
    assert report.warnings == [localize.FLOAT32_WARNING] == report.to_dict()["warnings"]
    assert str(report).startswith(localize.FLOAT32_WARNING + "\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # float64 says nothing
        assert tl.compare_gradients(tl.nn.LSTM(3, 4), _rng(10).standard_normal((3, 2, 3)),
                                    torch_module=None).warnings == []


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


# --------------------------------------------------------------------------- a researcher's fused backward, localised
def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def lstm_fused_backward(params, x, state, grad_outputs, bug=None):
    """BPTT of a one-layer tl.nn.LSTM in PyTorch's layout, written independently of the package.

    x (T, B, D), state = (h0, c0) each (1, B, H), grad_outputs = (d output (T, B, H), (d h_n, d c_n)).
    `bug` plants a classic mistake: "g_not_accumulated" (the rows of gate g of weight_hh keep only
    the last step processed), "carried_c_without_f" (dc_prev = dc, the factor f missing),
    "tanh_from_preactivation" (gate g's derivative 1 - z**2 of the pre-activation z).
    """
    w_ih, w_hh = params["weight_ih_l0"], params["weight_hh_l0"]
    b = params["bias_ih_l0"] + params["bias_hh_l0"]
    (h0, c0), (grad_sequence, (grad_h_n, grad_c_n)) = state, grad_outputs
    hidden = w_hh.shape[1]
    hs, cs, cache = [h0[0]], [c0[0]], []
    for x_t in x:
        z = x_t @ w_ih.T + hs[-1] @ w_hh.T + b
        i, f, o = (_sigmoid(z[:, k * hidden:(k + 1) * hidden]) for k in (0, 1, 3))
        g = np.tanh(z[:, 2 * hidden:3 * hidden])
        cs.append(f * cs[-1] + i * g)
        hs.append(o * np.tanh(cs[-1]))
        cache.append((i, f, g, o, z))
    grads = {"weight_ih_l0": np.zeros_like(w_ih), "weight_hh_l0": np.zeros_like(w_hh), "x": np.zeros_like(x)}
    dh, dc = grad_h_n[0], grad_c_n[0]
    for t in reversed(range(len(x))):
        i, f, g, o, z = cache[t]
        dh = dh + grad_sequence[t]
        tanh_c = np.tanh(cs[t + 1])
        do = dh * tanh_c
        dc = dc + dh * o * (1 - tanh_c ** 2)
        di, df, dg = dc * g, dc * cs[t], dc * i
        g_slope = 1 - z[:, 2 * hidden:3 * hidden] ** 2 if bug == "tanh_from_preactivation" else 1 - g ** 2
        dz = np.concatenate([di * i * (1 - i), df * f * (1 - f), dg * g_slope, do * o * (1 - o)], axis=1)
        step_hh = dz.T @ hs[t]
        if bug == "g_not_accumulated":
            rows = slice(2 * hidden, 3 * hidden)
            grads["weight_hh_l0"][rows] = 0
        grads["weight_hh_l0"] += step_hh
        grads["weight_ih_l0"] += dz.T @ x[t]
        grads.setdefault("bias", np.zeros_like(b))
        grads["bias"] += dz.sum(axis=0)
        grads["x"][t] = dz @ w_ih
        dh = dz @ w_hh
        dc = dc if bug == "carried_c_without_f" else dc * f
    grads["bias_ih_l0"] = grads["bias_hh_l0"] = grads.pop("bias")
    grads["h0"], grads["c0"] = dh[None], dc[None]
    return grads


def _lstm_report(bug, **options):
    tl.manual_seed(20)
    lstm = tl.nn.LSTM(3, 4)
    return tl.compare_gradients(lstm, _rng(21).standard_normal((5, 2, 3)), torch_module=None, numerical_elements=0,
                                manual=lambda *args, **kwargs: lstm_fused_backward(*args, **kwargs, bug=bug),
                                **options)


def test_a_right_fused_backward_agrees():
    report = _lstm_report(None)
    assert report.ok, str(report)
    assert all(row.localization is None and row.where() is None for row in report.rows)


def test_a_gate_not_accumulated_over_time_is_named_with_its_length():
    report = _lstm_report("g_not_accumulated")
    assert report.failures() == [("weight_hh_l0", "manual")]
    row = report.rows[1]
    assert (row.localization.gate, row.localization.first_wrong_length) == ("g", 2)
    assert row.where() == "weight_hh_l0 gate g wrong from length 2 on"
    assert "  weight_hh_l0 gate g wrong from length 2 on" in str(report).splitlines()
    data = report.to_dict()["rows"][1]["localization"]
    assert data["gate"] == "g" and data["first_wrong_length"] == 2 and data["where"] == row.where()


def test_a_carried_cell_gradient_without_f_is_wrong_from_length_2_in_the_gates_the_cell_feeds():
    report = _lstm_report("carried_c_without_f")
    rows = {row.name: row for row in report.rows}
    assert {name for name, _ in report.failures()} == set(rows)
    for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
        found = rows[name].localization
        assert (found.gate, found.first_wrong_length) == ("i,f,g", 2), rows[name].where()
    assert rows["weight_hh_l0"].where() == "weight_hh_l0 gates i,f,g wrong from length 2 on"
    assert rows["c0"].localization.first_wrong_length == 1  # c0 receives the carried gradient at once
    assert rows["x"].localization.first_wrong_length == 2
    assert rows["x"].localization.first_wrong_step == 3  # T=5: the last step is right, the one before is not


def test_a_wrong_single_step_derivative_is_wrong_from_length_1():
    report = _lstm_report("tanh_from_preactivation")
    rows = {row.name: row for row in report.rows}
    assert rows["weight_ih_l0"].where() == "weight_ih_l0 gate g wrong from length 1 on"
    assert rows["bias_hh_l0"].localization.gate == "g"


def test_localisation_of_a_custom_cell_names_its_own_parameters():
    """An unregistered cell has no gates to split: rows say the length only."""
    def forgetful(params, x, h0, grad_outputs):  # the gradient carried to step t-1 is dropped
        grad_sequence, grad_h_n = grad_outputs
        hs = [h0]
        for x_t in x:
            hs.append(np.tanh(x_t @ params["cell.w"] + hs[-1] @ params["cell.u"]))
        grads = {"cell.w": 0, "cell.u": 0, "x": np.zeros_like(x)}
        dh = grad_h_n
        for t in reversed(range(len(x))):
            dz = (dh + grad_sequence[t]) * (1 - hs[t + 1] ** 2)
            grads["cell.w"] = grads["cell.w"] + x[t].T @ dz
            grads["cell.u"] = grads["cell.u"] + hs[t].T @ dz
            grads["x"][t] = dz @ params["cell.w"].T
            dh = np.zeros_like(dh)
        grads["h0"] = dz @ params["cell.u"].T
        return grads

    report = tl.compare_gradients(tl.nn.Recurrent(TanhCell()), _rng(22).standard_normal((4, 2, 3)),
                                  manual=forgetful, numerical_elements=0)
    assert [row.where() for row in report.rows] == [
        "cell.w wrong from length 2 on", "cell.u wrong from length 2 on",
        "x wrong from length 2 on, first at step 2 (walking back from the end)", "h0 wrong from length 2 on"]


class ContextCell(TanhCell):
    """TanhCell with a second state part carried unchanged: state (h, context)."""

    def init_state(self, batch_size=None):
        return super().init_state(batch_size), super().init_state(batch_size)

    def forward(self, x, state):
        h, context = state
        return super().forward(x, h), context


def test_an_all_zero_true_gradient_reports_the_absolute_error():
    """The second state part ("c0") of a loss that reads only the outputs: a row of zeros, compared
    without dividing by it."""
    model = tl.nn.Recurrent(ContextCell())
    x = _rng(24).standard_normal((3, 2, 3))

    def by_autograd(params, x, state, grad_outputs, c0_error=0.0):
        """The right gradients (from the graph of a copy), with `c0_error` added to c0's."""
        copy = tl.nn.Recurrent(ContextCell())
        copy.load_state_dict(params)
        x, h0, c0 = (tl.Tensor(a, requires_grad=True) for a in (x, *state))
        output, _ = copy(x, (h0, c0))
        (output * grad_outputs[0]).sum().backward()
        grads = {name: p.grad for name, p in copy.named_parameters()}
        return dict(grads, x=x.grad, h0=h0.grad, c0=np.zeros(c0.shape) + c0_error)

    def loss_fn(outputs):
        return (outputs[0] * np.linspace(-1, 1, outputs[0].size).reshape(outputs[0].shape)).sum()

    right = tl.compare_gradients(model, x, loss_fn=loss_fn, manual=by_autograd)
    c0 = right.rows[-1]
    assert right.ok and c0.name == "c0" and c0.grad_max == 0.0 and c0.checks["manual"].max_rel == 0.0
    wrong = tl.compare_gradients(model, x, loss_fn=loss_fn, manual=lambda *a: by_autograd(*a, c0_error=0.25))
    c0 = wrong.rows[-1].checks["manual"]
    assert wrong.failures() == [("c0", "manual")] and (c0.max_abs, c0.max_rel) == (0.25, 1.0)
    assert wrong.rows[-1].where() == "c0 wrong from length 1 on"
    # The other way round: a manual c0 of zeros where autograd's is not: the absolute error, not inf.
    # (the default loss reads the final context too, so its true gradient is not zero)
    report = tl.compare_gradients(model, x, manual=by_autograd, numerical_elements=0)
    c0 = report.rows[-1]
    assert c0.grad_max > 0 and c0.checks["manual"].max_rel == c0.checks["manual"].max_abs == c0.grad_max
    assert "inf" not in str(report)


# --------------------------------------------------------------------------- variable lengths
@pytest.mark.parametrize("kind, batch_first", [("LSTM", False), ("GRU", True)])
def test_lengths_every_reference_agrees_on_a_stacked_bidirectional_module(kind, batch_first):
    tl.manual_seed(30)
    model = getattr(tl.nn, kind)(3, 4, num_layers=2, bidirectional=True, batch_first=batch_first)
    x = _rng(31).standard_normal((3, 5, 3) if batch_first else (5, 3, 3))
    torch_module = "auto" if _torch_installed() else None
    report = tl.compare_gradients(model, x, lengths=[5, 2, 4], numerical_elements=12, torch_module=torch_module)
    assert report.ok, str(report)
    assert set(report.references) == {"manual", "numerical"} | ({"torch"} if torch_module else set())
    assert "one sequence at a time" in report.references["manual"]
    x_row = next(row for row in report.rows if row.name == "x")
    assert x_row.checks["manual"].max_abs < 1e-12


def _torch_installed() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def test_lengths_change_the_gradients():
    """The padded steps of a sequence get no gradient and its final state is taken at its own end."""
    tl.manual_seed(32)
    model = tl.nn.LSTM(3, 4)
    x = _rng(33).standard_normal((5, 2, 3))
    full = tl.compare_gradients(model, x, numerical_elements=0, torch_module=None)
    cut = tl.compare_gradients(model, x, lengths=[5, 3], numerical_elements=0, torch_module=None)
    assert full.ok and cut.ok and cut.rows[0].grad_max != full.rows[0].grad_max


def test_lengths_reach_a_manual_that_takes_them_or_split_the_batch_for_one_that_does_not():
    tl.manual_seed(34)
    cell = tl.nn.LSTMCell(3, 4)
    model = tl.nn.Recurrent(cell)
    x = _rng(35).standard_normal((4, 3, 3))
    reference = builtin_reference(model)
    seen = []

    def recording(params, x, state, grad_outputs):
        seen.append(x.shape)
        return reference(params, x, state, grad_outputs)

    report = tl.compare_gradients(model, x, lengths=[4, 1, 3], manual=recording, torch_module=None)
    assert report.ok, str(report)
    assert seen == [(4, 1, 3), (1, 1, 3), (3, 1, 3)]
    given = []

    def with_lengths(params, x, state, grad_outputs, lengths=None):
        given.append(None if lengths is None else lengths.tolist())
        return recording(params, x, state, grad_outputs)

    report = tl.compare_gradients(model, x, lengths=[4, 1, 3], manual=with_lengths, torch_module=None,
                                  numerical_elements=0)
    # It ran the full batch and ignored them: caught, and localised on prefixes with lengths cut to them.
    assert not report.ok and given[:3] == [[4, 1, 3], [1, 1, 1], [2, 1, 2]]


def test_lengths_localise_a_wrong_fused_backward_in_its_prefixes():
    report = _lstm_report("g_not_accumulated", lengths=[5, 3])
    assert report.rows[1].where() == "weight_hh_l0 gate g wrong from length 2 on", str(report)


def test_lengths_errors():
    x = _rng().standard_normal((3, 2, 3))
    with pytest.raises(ValueError, match=r"compare_gradients: lengths= needs a sequence module .* got LSTMCell"):
        tl.compare_gradients(tl.nn.LSTMCell(3, 4), x[0], lengths=[1, 1])
    with pytest.raises(ValueError, match=r"compare_gradients: lengths must be 2 integers .* got shape \(3,\)"):
        tl.compare_gradients(tl.nn.LSTM(3, 4), x, lengths=[1, 2, 3])
    with pytest.raises(ValueError, match=r"lengths must be in \[1, 3\]"):
        tl.compare_gradients(tl.nn.LSTM(3, 4), x, lengths=[4, 2], torch_module=None)


def test_a_manual_backward_that_cannot_run_on_prefixes_is_still_reported():
    def full_length_only(params, x, state, grad_outputs):
        if len(x) != 5:
            raise ValueError(f"expected 5 steps, got {len(x)}")
        return lstm_fused_backward(params, x, state, grad_outputs, bug="g_not_accumulated")

    tl.manual_seed(20)
    report = tl.compare_gradients(tl.nn.LSTM(3, 4), _rng(21).standard_normal((5, 2, 3)), torch_module=None,
                                  numerical_elements=0, manual=full_length_only)
    assert report.failures() == [("weight_hh_l0", "manual")]
    assert report.rows[1].where() == ("weight_hh_l0 gate g wrong; (not localised in time: the manual backward failed "
                                      "on a prefix of the sequence: ValueError: expected 5 steps, got 1)")
    nan = tl.compare_gradients(tl.nn.LSTM(3, 4), _rng(21).standard_normal((5, 2, 3)), torch_module=None,
                               numerical_elements=0,
                               manual=lambda *args: dict(lstm_fused_backward(*args), h0=np.full((1, 2, 4), np.nan)))
    assert nan.failures() == [("h0", "manual")] and nan.rows[-2].where() == "h0 contains NaN or inf"


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
