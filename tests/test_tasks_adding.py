"""tinygrad_lstm.tasks.adding with any recurrent kind: the model, training and the gradient flow."""
import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm.nn import kinds
from tinygrad_lstm.tasks import adding


class ElmanCell(tl.nn.Module):
    """h' = tanh(x W^T + h U^T + b): a cell of the Recurrent protocol, no built-in reference."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        rng = np.random.default_rng(7)
        self.weight_ih = tl.nn.Parameter(rng.uniform(-0.5, 0.5, (hidden_size, input_size)).astype(np.float32))
        self.weight_hh = tl.nn.Parameter(rng.uniform(-0.5, 0.5, (hidden_size, hidden_size)).astype(np.float32))
        self.bias = tl.nn.Parameter(np.zeros(hidden_size, np.float32))

    def init_state(self, batch_size):
        return tl.Tensor(np.zeros((batch_size, self.hidden_size), self.weight_ih.dtype))

    def forward(self, x, h):
        return (x @ self.weight_ih.T + h @ self.weight_hh.T + self.bias).tanh()


@pytest.fixture
def elman():
    kind = kinds.register_kind("elman", ElmanCell, gates=("h",), states=("h",))
    yield kind
    kinds.unregister_kind("elman")


def test_a_registered_kind_trains_on_the_adding_problem(elman):
    result = adding.train("elman", steps=6, batch=4, hidden=3, T=5, test_size=10, eval_every=3, progress=False)
    assert result.cell == "elman" and result.config["cell"] == "elman"
    assert type(result.model.rnn) is tl.nn.Recurrent and type(result.model.rnn.cell) is ElmanCell
    assert np.isfinite(result.losses).all() and result.eval_steps.tolist() == [0, 3, 6]
    assert adding.train(elman, steps=6, batch=4, hidden=3, T=5, test_size=10, eval_every=3,
                        progress=False).losses.tolist() == result.losses.tolist()


def test_the_readout_reads_the_last_hidden_state_of_any_sequence_module(elman):
    x = adding.make_batch(2, 4, np.random.default_rng(0))[0]
    for kind in ("lstm", elman):
        model = adding.AddingModel(kind, 3)
        output, _ = model.rnn(x)
        expected = output.data[-1] @ model.readout.weight.data.T + model.readout.bias.data
        np.testing.assert_allclose(model(x).data, expected, rtol=1e-6)


def test_gradient_flow_of_a_custom_cell_matches_its_equations(elman):
    model = adding.AddingModel("elman", 4)
    x, y = adding.make_batch(3, 5, np.random.default_rng(1))
    norms = adding.gradient_flow(model, x, y)
    assert all(p.grad is None for p in model.parameters())
    cell = model.rnn.cell
    w_ih, w_hh, b = (p.data.astype(np.float64) for p in (cell.weight_ih, cell.weight_hh, cell.bias))
    hs = [np.zeros((3, 4))]
    for x_t in x.astype(np.float64):
        hs.append(np.tanh(x_t @ w_ih.T + hs[-1] @ w_hh.T + b))
    weight = model.readout.weight.data.astype(np.float64)
    grad = 2 * (hs[-1] @ weight.T + model.readout.bias.data - y) / y.size @ weight
    expected = []
    for t in range(5, 0, -1):
        expected.append(np.linalg.norm(grad))
        grad = (grad * (1 - hs[t] ** 2)) @ w_hh
    np.testing.assert_allclose(norms, expected[::-1], rtol=1e-6)


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_gradient_flow_cell_holds_the_first_layer_weights(kind):
    model = adding.AddingModel(kind, 3)
    cell = adding._float64_cell(model)
    assert type(cell) is kinds.get_kind(kind).cell and cell.weight_hh.dtype == np.float64
    for name, parameter in cell.named_parameters():
        np.testing.assert_array_equal(parameter.data, getattr(model.rnn, f"{name}_l0").data.astype(np.float64))


def test_unknown_kinds_are_value_errors():
    with pytest.raises(ValueError, match="AddingModel: cell: unknown recurrent kind 'nope'"):
        adding.AddingModel("nope")
    with pytest.raises(ValueError, match="AddingModel: cell: cannot import 'no_such_module'"):
        adding.train("no_such_module:Cell", steps=1, progress=False)


def test_the_old_list_of_cells_is_a_deprecated_alias_of_the_registry():
    with pytest.warns(DeprecationWarning, match="adding.CELLS is deprecated"):
        assert adding.CELLS == kinds.kind_names()
    with pytest.raises(AttributeError, match="has no attribute 'NOPE'"):
        adding.NOPE  # noqa: B018


# --------------------------------------------------------------------------- batches, baseline, training, gradient flow
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
