"""tinygrad_lstm.tasks.adding with any recurrent kind: the model, training and the gradient flow."""
import copy
import re

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


def _flow_by_hand(model, x, y):
    """||dL/dh_t|| of every layer and direction, unrolled by hand on a float64 copy: each step's h is
    replaced by h + delta_t for a zero leaf delta_t, whose gradient is the one reaching h_t."""
    work = copy.deepcopy(model).to(np.float64)
    cells = work.rnn.cells
    x = x.astype(np.float64)
    steps = x.shape[0]
    layer_input, finals, leaves = x, [], {}
    for layer, directions in enumerate(cells):
        outputs = []
        for direction, cell in enumerate(directions):
            state = cell.init_state(x.shape[1])
            hs = [None] * steps
            for t in (reversed(range(steps)) if direction else range(steps)):
                state = cell(layer_input[t], state)
                h = state[0] if isinstance(state, tuple) else state
                delta = tl.Tensor(np.zeros(h.shape), requires_grad=True)
                leaves[layer, direction, t] = delta
                h = h + delta
                state = (h, *state[1:]) if isinstance(state, tuple) else h
                hs[t] = h
            outputs.append(tl.stack(hs, axis=0))
            finals.append(hs[0] if direction else hs[-1])
        layer_input = outputs[0] if len(outputs) == 1 else tl.concat(outputs, axis=2)
    last = finals[-2:] if model.rnn.bidirectional else finals[-1:]
    prediction = work.readout(last[0] if len(last) == 1 else tl.concat(last, axis=1))
    tl.nn.functional.mse_loss(prediction, y.astype(np.float64)).backward()
    return {key: np.linalg.norm(delta.grad) for key, delta in leaves.items()}


@pytest.mark.parametrize("layers, bidirectional", [(1, False), (2, False), (1, True), (2, True)])
def test_gradient_flow_of_stacked_and_bidirectional_custom_cells(elman, layers, bidirectional, recwarn):
    tl.manual_seed(3)
    model = adding.AddingModel(ElmanCell(2, 4), layers=layers, bidirectional=bidirectional)
    x, y = adding.make_batch(3, 5, np.random.default_rng(4))
    flow = adding.gradient_flow(model, x, y)
    assert not recwarn.list  # vanishing gradients are what the flow shows, not a warning
    expected = _flow_by_hand(model, x, y)
    assert all(p.grad is None and p.dtype == np.float32 for p in model.parameters())  # not touched
    if layers == 1 and not bidirectional:
        np.testing.assert_allclose(flow, [expected[0, 0, t] for t in range(5)], rtol=1e-10)
        return
    names = [f"l{k}{suffix}" for k in range(layers) for suffix in ("", "_reverse")[:1 + bidirectional]]
    assert list(flow) == names  # the suffixes of the cells' parameters
    assert {re.search(r"_(l\d(_reverse)?)$", name)[1] for name, _ in model.rnn.named_parameters()} == set(names)
    for name, norms in flow.items():
        layer, direction = int(name[1]), name.endswith("_reverse")
        np.testing.assert_allclose(norms, [expected[layer, direction, t] for t in range(5)], rtol=1e-10)


def test_a_cell_instance_is_the_one_trained_and_brings_its_size():
    cell = ElmanCell(2, 5)
    before = cell.weight_hh.data.copy()
    result = adding.train(cell, steps=4, batch=4, T=5, test_size=10, eval_every=2, progress=False)
    assert result.model.rnn.cell is cell and not np.array_equal(cell.weight_hh.data, before)
    assert result.config["hidden"] == 5 and result.cell == f"{__name__}:ElmanCell"
    assert result.model.kind.title == "Elman"
    with pytest.raises(ValueError, match="AddingModel: cell: the ElmanCell given has hidden_size=5, expected 3"):
        adding.AddingModel(cell, 3)
    with pytest.raises(ValueError, match="AddingModel: cell: the ElmanCell given has input_size=3, expected 2"):
        adding.AddingModel(ElmanCell(3, 4))


@pytest.mark.parametrize("spec", [ElmanCell, lambda size: ElmanCell(size, 4), "gru"])
def test_a_class_a_factory_or_a_kind_stacks_bidirectional_layers(spec):
    result = adding.train(spec, steps=3, batch=4, hidden=None if callable(spec) and not isinstance(spec, type) else 4,
                          T=5, test_size=10, eval_every=3, progress=False, layers=2, bidirectional=True)
    rnn = result.model.rnn
    assert (rnn.num_layers, rnn.bidirectional, rnn.hidden_size) == (2, True, 4)
    assert result.model.readout.weight.shape == (1, 8) and np.isfinite(result.losses).all()


def test_a_bidirectional_readout_reads_both_directions_of_the_last_layer():
    model = adding.AddingModel("gru", 3, layers=2, bidirectional=True)
    x = adding.make_batch(2, 4, np.random.default_rng(0))[0]
    output, _ = model.rnn(x)
    # The forward direction ends at the last step, the reverse one at the first (PyTorch's h_n).
    last = np.concatenate([output.data[-1, :, :3], output.data[0, :, 3:]], axis=1)
    np.testing.assert_allclose(model(x).data, last @ model.readout.weight.data.T + model.readout.bias.data,
                               rtol=1e-6)


def test_cli_layers_and_direction(capsys):
    argv = ["train", "--task", "adding", "--cell", "gru", "--layers", "2", "--bidirectional", "--steps", "2",
            "--batch", "4", "--hidden", "3", "--length", "5", "--no-progress"]
    assert tl.cli.main(argv) == 0
    assert "adding problem, T=5: 2-layer bidirectional GRU test MSE" in capsys.readouterr().out


def test_gradient_flow_of_a_built_in_stacked_module_is_that_of_its_cells():
    tl.manual_seed(5)
    model = adding.AddingModel("gru", 3, layers=2, bidirectional=True)
    as_cells = adding.AddingModel(tl.nn.GRUCell(2, 3), layers=2, bidirectional=True)
    as_cells.load_state_dict(model.state_dict())  # a stacked Recurrent has nn.GRU's parameter names
    x, y = adding.make_batch(3, 5, np.random.default_rng(6))
    flow, expected = adding.gradient_flow(model, x, y), _flow_by_hand(as_cells, x, y)
    assert list(flow) == ["l0", "l0_reverse", "l1", "l1_reverse"]
    for name, norms in flow.items():
        layer, direction = int(name[1]), name.endswith("_reverse")
        np.testing.assert_allclose(norms, [expected[layer, direction, t] for t in range(5)], rtol=1e-10)


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
