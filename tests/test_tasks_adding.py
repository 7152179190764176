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
