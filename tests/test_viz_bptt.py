"""`tl.viz.diagnose_bptt`: per-step contributions that sum to the gradients, ``∂L/∂h_t`` against
PyTorch's retained gradients, gate activations against PyTorch's weights, the Jacobian norm of a
linear RNN against ``‖W^k‖``, the exploding/vanishing warning, and the error paths."""
import copy
import warnings

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm.nn.kinds import get_kind, kind_names
from tinygrad_lstm.viz.bptt import saturated

T, B, D, H = 6, 3, 4, 5


def sequence(steps=T, batch=B, features=D, seed=0):
    return np.random.default_rng(seed).standard_normal((steps, batch, features))


class LinearCell(tl.nn.Module):
    """``h' = x W_ih^T + h W_hh^T``: a linear RNN, whose ``∂h_T/∂h_t`` is ``(W_hh^T)^(T-t)``."""

    def __init__(self, input_size, hidden_size, dtype=np.float64):
        super().__init__()
        self.input_size, self.hidden_size, self.dtype = input_size, hidden_size, np.dtype(dtype)
        rng = np.random.default_rng(1)
        self.weight_ih = tl.nn.Parameter(rng.standard_normal((hidden_size, input_size)) / 2, dtype=dtype)
        self.weight_hh = tl.nn.Parameter(rng.standard_normal((hidden_size, hidden_size)) / 2, dtype=dtype)

    def init_state(self, batch_size):
        return tl.Tensor(np.zeros((batch_size, self.hidden_size), self.dtype))

    def forward(self, x, h):
        return x @ self.weight_ih.T + h @ self.weight_hh.T


class MinimalGatedCell(tl.nn.Module):
    """A minimal gated unit (Zhou et al. 2016) declaring its gates, one of them a hard sigmoid."""

    def __init__(self, input_size, hidden_size, dtype=np.float64):
        super().__init__()
        self.input_size, self.hidden_size, self.dtype = input_size, hidden_size, np.dtype(dtype)
        rng = np.random.default_rng(2)
        self.weight_f = tl.nn.Parameter(rng.standard_normal((hidden_size, input_size + hidden_size)) / 2, dtype=dtype)
        self.weight_n = tl.nn.Parameter(rng.standard_normal((hidden_size, input_size + hidden_size)) / 2, dtype=dtype)
        self.bias_f = tl.nn.Parameter(np.zeros(hidden_size), dtype=dtype)

    def init_state(self, batch_size):
        return tl.Tensor(np.zeros((batch_size, self.hidden_size), self.dtype))

    def forward(self, x, h):
        f = (tl.concat([x, h], axis=1) @ self.weight_f.T + self.bias_f).sigmoid()
        n = (tl.concat([x, f * h], axis=1) @ self.weight_n.T).tanh()
        hard = (n * 0.5 + 0.5).clip(0, 1)
        tl.nn.watch_gates(f=f, n=n, hard=hard)
        return (1 - f) * h + f * n


def gradients(model, x, loss_fn):
    """The parameters' gradients from an ordinary backward pass of a float64 copy in eval mode."""
    model = copy.deepcopy(model).to(np.float64).eval()
    loss_fn(model(tl.Tensor(x))).backward()
    return {name: p.grad for name, p in model.named_parameters()}


def linear_loss(outputs, seed=3):
    """sum(output * R) + sum(final h * R'): every step gets gradient, and the final state."""
    output, final = outputs
    h_n = final[0] if isinstance(final, tuple) else final
    rng = np.random.default_rng(seed)
    return (output * rng.standard_normal(output.shape)).sum() + (h_n * rng.standard_normal(h_n.shape)).sum()


# --------------------------------------------------------------------------- contributions
MODELS = {
    **{f"kind {name}": (lambda name=name: get_kind(name).build(D, H, dtype=np.float64)) for name in kind_names()},
    "relu RNN": lambda: tl.nn.RNN(D, H, nonlinearity="relu", dtype=np.float64),
    "LSTM with projection": lambda: tl.nn.LSTM(D, H, proj_size=3, dtype=np.float64),
    "GRU without bias": lambda: tl.nn.GRU(D, H, bias=False, dtype=np.float64),
    "custom cell": lambda: tl.nn.Recurrent(MinimalGatedCell(D, H)),
    "custom cell, 2 layers, bidirectional": lambda: tl.nn.Recurrent(MinimalGatedCell(D, H), num_layers=2,
                                                                    bidirectional=True),
    "LSTM, 2 layers": lambda: tl.nn.LSTM(D, H, num_layers=2, dtype=np.float64),
    "GRU, bidirectional": lambda: tl.nn.GRU(D, H, bidirectional=True, dtype=np.float64),
    "RNN, 2 layers, bidirectional": lambda: tl.nn.RNN(D, H, num_layers=2, bidirectional=True, dtype=np.float64),
    "peephole LSTM, 2 layers, bidirectional": lambda: tl.nn.Recurrent(tl.nn.PeepholeLSTMCell(D, H), num_layers=2,
                                                                      bidirectional=True),
}


@pytest.mark.parametrize("build", MODELS.values(), ids=MODELS.keys())
def test_contributions_sum_to_the_gradient(build):
    tl.manual_seed(0)
    model = build()
    x = sequence()
    diag = tl.viz.diagnose_bptt(model, x, loss_fn=linear_loss)
    expected = gradients(model, x, linear_loss)
    assert list(diag.contribution) == list(expected)  # every parameter is read by the steps
    for name, grad in expected.items():
        shares = diag.contribution[name]
        assert shares.shape == (T, *grad.shape) and shares.dtype == np.float64
        np.testing.assert_allclose(shares.sum(axis=0), grad, rtol=0, atol=1e-12, err_msg=name)
    # the split is not trivial: every step contributes to the input weights
    assert all((norms > 0).all() for name, norms in diag.contribution_norms().items() if "weight_ih" in name)


def test_recurrent_weight_gets_nothing_at_the_first_step_from_a_zero_state():
    diag = tl.viz.diagnose_bptt(tl.nn.LSTM(D, H, bidirectional=True), sequence())
    assert not diag.contribution["weight_hh_l0"][0].any()             # h_{-1} = 0 in the forward direction
    assert not diag.contribution["weight_hh_l0_reverse"][T - 1].any()  # the reverse direction starts at T-1
    assert diag.contribution["weight_hh_l0"][1:].any(axis=(1, 2)).all()


def test_a_readout_outside_the_recurrence_is_not_split():
    class Tagger(tl.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = tl.nn.GRU(D, H, dtype=np.float64)
            self.readout = tl.nn.Linear(H, 2, dtype=np.float64)

        def forward(self, x):
            return self.readout(self.rnn(x)[0])

    model = Tagger()
    x = sequence()
    loss = lambda y: (y * y).sum()  # noqa: E731
    diag = tl.viz.diagnose_bptt(model, x, loss_fn=loss)
    expected = gradients(model, x, loss)
    assert set(diag.contribution) == {name for name in expected if name.startswith("rnn.")}
    for name, shares in diag.contribution.items():
        np.testing.assert_allclose(shares.sum(axis=0), expected[name], rtol=0, atol=1e-12)
    assert diag.sequences == ("l0",)


def test_two_recurrent_modules_get_prefixed_sequence_keys():
    class EncoderDecoder(tl.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = tl.nn.LSTM(D, H)
            self.decoder = tl.nn.Recurrent(tl.nn.GRUCell(H, H))

        def forward(self, x):
            return self.decoder(self.encoder(x)[0])

    diag = tl.viz.diagnose_bptt(EncoderDecoder(), sequence())
    assert diag.sequences == ("encoder/l0", "decoder/l0")
    assert set(diag.gates["encoder/l0"]) == {"i", "f", "g", "o"} and set(diag.gates["decoder/l0"]) == {"r", "z", "n"}


def test_the_model_is_left_alone():
    tl.manual_seed(0)
    lstm = tl.nn.LSTM(D, H)
    before = {name: p.data.copy() for name, p in lstm.named_parameters()}
    diag = tl.viz.diagnose_bptt(lstm, sequence().astype(np.float32))
    assert all(p.grad is None and p.dtype == np.float32 for p in lstm.parameters())
    assert all(np.array_equal(before[name], p.data) for name, p in lstm.named_parameters())
    assert lstm.training and tl.nn.recurrent.watching() is None
    assert diag.contribution["weight_ih_l0"].dtype == np.float64  # float64 by default
    kept = tl.viz.diagnose_bptt(lstm, sequence(), dtype=None, jacobian=False)
    assert kept.contribution["weight_ih_l0"].dtype == np.float32 and kept.jacobian_norm == {}


def test_default_loss_is_compare_gradients_random_linear_loss():
    tl.manual_seed(0)
    gru = tl.nn.GRU(D, H, dtype=np.float64)
    x = sequence()
    output, h_n = copy.deepcopy(gru)(tl.Tensor(x))
    rng = np.random.default_rng(5)
    expected = (output.data * rng.standard_normal(output.shape)).sum() + (h_n.data * rng.standard_normal(h_n.shape)).sum()
    assert tl.viz.diagnose_bptt(gru, x, seed=5).loss == pytest.approx(expected, rel=1e-12)


def test_initial_state_is_used():
    lstm = tl.nn.LSTM(D, H, dtype=np.float64)
    state = tuple(np.random.default_rng(4).standard_normal((1, B, H)) for _ in range(2))
    diag = tl.viz.diagnose_bptt(lstm, sequence(), state=state)
    # from a non-zero state the recurrent weight does get a share at the first step
    assert diag.contribution["weight_hh_l0"][0].any()


# --------------------------------------------------------------------------- against PyTorch
def torch_unrolled(torch, model, x, kind, loss_coefficients):
    """Our stacked module unrolled step by step with PyTorch cells of the same weights; returns
    ``{sequence key: [h_t retained grads]}``, ``{sequence key: {gate: (T, B, H)}}``."""
    weights = {name: torch.tensor(value) for name, value in model.state_dict().items()}
    cell_class = getattr(torch.nn, kind + "Cell")
    layer_input = torch.tensor(x)
    retained, gates = {}, {}
    for layer in range(model.num_layers):
        outputs = []
        for direction in range(model.num_directions):
            suffix = f"_l{layer}" + ("_reverse" if direction else "")
            key = suffix[1:]
            cell = cell_class(layer_input.shape[-1], H).double()
            cell.load_state_dict({name: weights[name + suffix] for name in cell.state_dict()})
            state = (torch.zeros(B, H, dtype=torch.float64),) * (2 if kind == "LSTM" else 1)
            steps = range(T - 1, -1, -1) if direction else range(T)
            hs, gates[key] = [None] * T, {}
            for t in steps:
                gates_t = _torch_gates(torch, kind, cell, layer_input[t], state[0])
                for name, value in gates_t.items():
                    gates[key].setdefault(name, [None] * T)[t] = value.detach().numpy()
                new = cell(layer_input[t], state if kind == "LSTM" else state[0])
                state = new if kind == "LSTM" else (new,)
                state[0].retain_grad()
                hs[t] = state[0]
            retained[key] = hs
            outputs.append(torch.stack(hs))
        layer_input = torch.cat(outputs, dim=2)
    loss = (layer_input * torch.tensor(loss_coefficients)).sum()
    loss.backward()
    grads = {key: np.array([np.linalg.norm(h.grad.numpy()) for h in hs]) for key, hs in retained.items()}
    return grads, {key: {name: np.stack(v) for name, v in g.items()} for key, g in gates.items()}


def _torch_gates(torch, kind, cell, x_t, h):
    """The gate activations of one step, recomputed from the PyTorch cell's weights (PyTorch's equations)."""
    gi = x_t @ cell.weight_ih.T + cell.bias_ih
    gh = h @ cell.weight_hh.T + cell.bias_hh
    if kind == "RNN":
        return {"h": torch.tanh(gi + gh)}
    if kind == "LSTM":
        i, f, g, o = (gi + gh).chunk(4, dim=1)
        return {"i": torch.sigmoid(i), "f": torch.sigmoid(f), "g": torch.tanh(g), "o": torch.sigmoid(o)}
    (ir, iz, i_n), (hr, hz, hn) = gi.chunk(3, dim=1), gh.chunk(3, dim=1)
    r = torch.sigmoid(ir + hr)
    return {"r": r, "z": torch.sigmoid(iz + hz), "n": torch.tanh(i_n + r * hn)}


@pytest.mark.parametrize("kind, layers, bidirectional", [("LSTM", 1, False), ("GRU", 2, True), ("RNN", 2, False),
                                                         ("LSTM", 2, True)])
def test_grad_h_and_gates_match_pytorch(kind, layers, bidirectional):
    torch = pytest.importorskip("torch")
    tl.manual_seed(1)
    model = getattr(tl.nn, kind)(D, H, num_layers=layers, bidirectional=bidirectional, dtype=np.float64)
    x = sequence()
    coefficients = np.random.default_rng(9).standard_normal((T, B, H * model.num_directions))
    diag = tl.viz.diagnose_bptt(model, x, loss_fn=lambda outputs: (outputs[0] * coefficients).sum(), jacobian=False)
    grads, gates = torch_unrolled(torch, model, x, kind, coefficients)
    assert diag.sequences == tuple(grads)
    for key in grads:
        np.testing.assert_allclose(diag.grad_h[key], grads[key], rtol=1e-10, err_msg=key)
        assert set(diag.gates[key]) == set(gates[key])
        for name, values in gates[key].items():
            assert diag.gates[key][name].shape == (T, B, H)
            np.testing.assert_allclose(diag.gates[key][name], values, rtol=1e-10, atol=1e-13, err_msg=f"{key} {name}")


def test_saturation_fractions_follow_their_definitions():
    tl.manual_seed(0)
    lstm = tl.nn.LSTM(D, H, dtype=np.float64)
    for p in lstm.parameters():
        p.data = p.data * 6  # big weights: saturated gates
    diag = tl.viz.diagnose_bptt(lstm, sequence(), jacobian=False)
    assert diag.gate_functions["l0"] == {"i": "sigmoid", "f": "sigmoid", "g": "tanh", "o": "sigmoid"}
    f, g = diag.gates["l0"]["f"], diag.gates["l0"]["g"]
    np.testing.assert_array_equal(diag.saturation["l0"]["f"], ((f < 0.05) | (f > 0.95)).mean(axis=(1, 2)))
    np.testing.assert_array_equal(diag.saturation["l0"]["g"], (np.abs(g) > 0.95).mean(axis=(1, 2)))
    assert 0 < diag.saturation["l0"]["g"].mean() < 1
    relu = tl.viz.diagnose_bptt(tl.nn.RNN(D, H, nonlinearity="relu"), sequence(), jacobian=False)
    h = relu.gates["l0"]["h"]
    assert relu.gate_functions["l0"]["h"] == "relu"
    np.testing.assert_array_equal(relu.saturation["l0"]["h"], (h <= 0).mean(axis=(1, 2)))


def test_custom_cell_gates_and_an_unknown_activation():
    diag = tl.viz.diagnose_bptt(tl.nn.Recurrent(MinimalGatedCell(D, H), bidirectional=True), sequence(),
                                jacobian=False)
    assert diag.sequences == ("l0", "l0_reverse")
    functions = diag.gate_functions["l0_reverse"]
    assert functions == {"f": "sigmoid", "n": "tanh", "hard": None}
    assert np.isnan(diag.saturation["l0"]["hard"]).all()
    assert saturated(diag.gates["l0"]["hard"], None) is None
    assert np.all((diag.gates["l0"]["hard"] >= 0) & (diag.gates["l0"]["hard"] <= 1))


# --------------------------------------------------------------------------- Jacobian norms
@pytest.mark.filterwarnings("ignore::tinygrad_lstm.BPTTWarning")  # a random linear RNN may explode
@pytest.mark.parametrize("batch", [1, 3])
def test_jacobian_norm_of_a_linear_rnn_is_the_norm_of_the_matrix_power(batch):
    cell = LinearCell(D, H)
    diag = tl.viz.diagnose_bptt(tl.nn.Recurrent(cell), sequence(batch=batch))
    weight = cell.weight_hh.data
    expected = [np.linalg.norm(np.linalg.matrix_power(weight, T - 1 - t), 2) for t in range(T)]
    np.testing.assert_allclose(diag.jacobian_norm["l0"], expected, rtol=1e-10)
    assert diag.jacobian_norm["l0"][-1] == pytest.approx(1.0)


@pytest.mark.filterwarnings("ignore::tinygrad_lstm.BPTTWarning")
def test_jacobian_norm_of_the_reverse_direction_counts_from_t0():
    model = tl.nn.Recurrent(LinearCell(D, H), bidirectional=True)
    diag = tl.viz.diagnose_bptt(model, sequence())
    weight = model.weight_hh_l0_reverse.data
    expected = [np.linalg.norm(np.linalg.matrix_power(weight, t), 2) for t in range(T)]
    np.testing.assert_allclose(diag.jacobian_norm["l0_reverse"], expected, rtol=1e-10)


def test_jacobian_of_lstm_decays_from_one_at_the_last_step():
    diag = tl.viz.diagnose_bptt(tl.nn.LSTM(D, H), sequence(steps=12))
    norms = diag.jacobian_norm["l0"]
    assert norms[-1] == pytest.approx(1.0) and norms[0] < norms[-1]


# --------------------------------------------------------------------------- warnings
def scaled_linear_rnn(scale, steps):
    cell = LinearCell(1, 3)
    cell.weight_hh.data = np.eye(3) * scale
    return tl.nn.Recurrent(cell), sequence(steps=steps, batch=2, features=1)


def last_step_loss(outputs):
    return outputs[0][-1].sum()


def test_exploding_gradients_warn_once_naming_the_steps():
    model, x = scaled_linear_rnn(1.5, 25)  # x1.5 per step back: 57x per 10 steps
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        diag = tl.viz.diagnose_bptt(model, x, loss_fn=last_step_loss)
    found = [w for w in caught if issubclass(w.category, tl.BPTTWarning)]
    assert len(found) == 1
    message = str(found[0].message)
    assert "exploding gradients in l0" in message and "t=0-14" in message
    np.testing.assert_allclose(diag.grad_h["l0"], diag.grad_h["l0"][-1] * 1.5 ** np.arange(24, -1, -1))
    assert diag.warnings and "exploding" in diag.warnings[0]


def test_vanishing_gradients_warn_naming_the_steps():
    model, x = scaled_linear_rnn(0.1, 12)  # 0.1 per step back: below 1e-6 after 7 steps
    with pytest.warns(tl.BPTTWarning, match=r"vanishing gradients in l0: .* at t=0-4$"):
        tl.viz.diagnose_bptt(model, x, loss_fn=last_step_loss)


def test_steps_the_loss_does_not_reach_are_neither_exploding_nor_vanishing():
    model, x = scaled_linear_rnn(0.1, 12)
    with pytest.warns(tl.BPTTWarning) as caught:  # measured from t=8, the last step the loss reaches
        diag = tl.viz.diagnose_bptt(model, x, loss_fn=lambda outputs: outputs[0][8].sum())
    assert not diag.grad_h["l0"][9:].any()
    assert len(caught) == 1 and diag.warnings == (
        f"vanishing gradients in l0: ‖∂L/∂h_t‖ is below 1e-06 of the last step the loss reaches, t=8's "
        f"({diag.grad_h['l0'][8]:.3g}) at t=0-1",)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # zero gradients after t=2 are not a growth to the earlier steps
        diag = tl.viz.diagnose_bptt(tl.nn.LSTM(D, H), sequence(steps=15), loss_fn=lambda outputs: outputs[0][:3].sum())
    assert diag.warnings == ()


def test_a_healthy_lstm_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        diag = tl.viz.diagnose_bptt(tl.nn.LSTM(D, H), sequence())
    assert diag.warnings == ()
    assert "l0:" in str(diag) and "weight_hh_l0" in str(diag)


# --------------------------------------------------------------------------- errors
def test_errors():
    with pytest.raises(TypeError, match="diagnose_bptt: model must be a tl.nn.Module"):
        tl.viz.diagnose_bptt(lambda x: x, sequence())
    with pytest.raises(ValueError, match="Linear ran no recurrent layer"):
        tl.viz.diagnose_bptt(tl.nn.Linear(D, 2), sequence())
    with pytest.raises(ValueError, match="one-element Tensor"):
        tl.viz.diagnose_bptt(tl.nn.GRU(D, H), sequence(), loss_fn=lambda outputs: outputs[0])
    with pytest.raises(ValueError, match="does not depend"):
        tl.viz.diagnose_bptt(tl.nn.GRU(D, H), sequence(), loss_fn=lambda outputs: tl.Tensor(1.0))
    assert tl.nn.recurrent.watching() is None  # a failed diagnosis leaves no watcher behind


def test_a_module_run_twice_is_an_error_not_a_mix_of_both_runs():
    class Twice(tl.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = tl.nn.GRU(D, H)

        def forward(self, x):
            return self.rnn(x)[0].sum() + self.rnn(x[:3])[0].sum()

    with pytest.raises(ValueError, match="diagnose_bptt: GRU ran step t=0 of layer 0 twice"):
        tl.viz.diagnose_bptt(Twice(), sequence(), loss_fn=lambda loss: loss)
    assert tl.nn.recurrent.watching() is None


@pytest.mark.parametrize("x, error", [(None, TypeError), ("abc", TypeError), ([[1.0, 2.0], [3.0]], ValueError)])
def test_an_input_that_is_not_numbers_is_named(x, error):
    with pytest.raises(error, match="diagnose_bptt: x must be a Tensor or an array of numbers"):
        tl.viz.diagnose_bptt(tl.nn.GRU(D, H), x)
    with pytest.raises(TypeError, match=r"diagnose_bptt: state\[1\] must be"):
        tl.viz.diagnose_bptt(tl.nn.LSTM(D, H), sequence(), state=(np.zeros((1, B, H)), None))


def test_one_sequence_reads_without_its_key():
    tl.manual_seed(0)
    lstm = tl.nn.LSTM(2, 3, dtype=np.float64)
    diag = tl.viz.diagnose_bptt(lstm, tl.randn(5, 2, 2))
    assert diag.grad_h[4] == diag.grad_h["l0"][4] and np.asarray(diag.grad_h).shape == (5,)
    assert diag.gates["f"].shape == (5, 2, 3) and diag.saturation["f"].shape == (5,)
    assert np.asarray(diag.jacobian_norm).shape == (5,)
    deep = tl.viz.diagnose_bptt(tl.nn.GRU(2, 3, bidirectional=True, dtype=np.float64), tl.randn(4, 1, 2))
    with pytest.raises(KeyError, match="sequences: l0, l0_reverse"):
        deep.gates["r"]


def test_notebook_display_is_a_short_repr_and_a_table_per_sequence():
    tl.manual_seed(0)
    diag = tl.viz.diagnose_bptt(tl.nn.GRU(D, H, bidirectional=True, dtype=np.float64), sequence())
    assert repr(diag).startswith("<BPTTDiagnosis: 6 steps") and "l0, l0_reverse" in repr(diag)
    assert len(repr(diag)) < 200  # not the dataclass dump of every array
    page = diag._repr_html_()
    assert page.count("<table>") == 2 and page.count("<th>sat ") == 6
    assert page.count("<tr><td>") == 2 * T
    assert f"<td>{diag.grad_h['l0_reverse'][0]:.4g}</td>" in page
    one = tl.viz.diagnose_bptt(tl.nn.GRU(D, H), sequence(steps=1))
    assert str(one).startswith("BPTT diagnosis: 1 step, loss") and repr(one).startswith("<BPTTDiagnosis: 1 step,")


# --------------------------------------------------------------------------- gradient_flow
def test_gradient_flow_is_the_norm_of_pytorchs_retained_gradients_of_an_mse_loss():
    torch = pytest.importorskip("torch")
    tl.manual_seed(2)
    model = tl.nn.RNN(D, H, dtype=np.float64)
    x = sequence()
    target = np.random.default_rng(4).standard_normal((T, B, H))
    flow = tl.viz.gradient_flow(model, x, y=target)
    cell = torch.nn.RNNCell(D, H).double()
    cell.load_state_dict({name: torch.tensor(v) for name, v in
                          {k[:-3]: v for k, v in model.state_dict().items()}.items()})
    h, hs = torch.zeros(B, H, dtype=torch.float64), []
    for t in range(T):
        h = cell(torch.tensor(x[t]), h)
        h.retain_grad()
        hs.append(h)
    torch.nn.functional.mse_loss(torch.stack(hs), torch.tensor(target)).backward()
    np.testing.assert_allclose(flow, [np.linalg.norm(h.grad.numpy()) for h in hs], rtol=1e-10)
    assert model.weight_hh_l0.grad is None  # the model itself is not touched


def test_gradient_flow_of_a_stacked_bidirectional_model_and_a_loss_of_ones_own():
    tl.manual_seed(3)
    model = tl.nn.GRU(D, H, num_layers=2, bidirectional=True)
    coefficients = np.random.default_rng(5).standard_normal((T, B, 2 * H))
    flow = tl.viz.gradient_flow(model, sequence(), loss_fn=lambda outputs: (outputs[0] * coefficients).sum())
    diag = tl.viz.diagnose_bptt(model, sequence(), loss_fn=lambda outputs: (outputs[0] * coefficients).sum(),
                                jacobian=False)
    assert set(flow) == {"l0", "l0_reverse", "l1", "l1_reverse"}
    for key, values in flow.items():
        np.testing.assert_array_equal(values, diag.grad_h[key])
    with pytest.raises(TypeError, match="gradient_flow: give a target y or a loss_fn, not both"):
        tl.viz.gradient_flow(model, sequence(), y=np.zeros((T, B, 2 * H)), loss_fn=lambda outputs: outputs[0].sum())
