"""tinygrad_lstm.compare.reference: the hand-written reference of a model comes from its kind's record."""
import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm.compare import builtin_reference
from tinygrad_lstm.compare.structure import flatten, rebuild
from tinygrad_lstm.nn import kinds


class TanhRNN(tl.nn.RNN):
    """A sequence class of its own: a new kind, with the RNN's hand-written reference."""


@pytest.fixture
def tanh_rnn_kind():
    rnn = kinds.get_kind("rnn")
    kind = kinds.register_kind("tanh_rnn", tl.nn.RNNCell, sequence=TanhRNN, gates=rnn.gates, states=rnn.states,
                               manual=rnn.manual, options=rnn.options)
    yield kind
    kinds.unregister_kind("tanh_rnn")


def test_a_registered_kind_with_a_manual_reference_gets_the_manual_column(tanh_rnn_kind):
    tl.manual_seed(0)
    model = tanh_rnn_kind.build(3, 4, num_layers=2, bidirectional=True)
    assert type(model) is TanhRNN and builtin_reference(model) is not None
    report = tl.compare_gradients(model, np.random.default_rng(0).standard_normal((4, 2, 3)),
                                  numerical_elements=3)
    assert report.ok, str(report)
    assert set(report.references) == {"manual", "numerical"}  # the kind has no PyTorch twin
    assert "no built-in PyTorch equivalent of TanhRNN" in report.skipped["torch"]


def test_no_reference_without_a_kind_a_manual_or_with_a_projection():
    class MyGRU(tl.nn.GRU):
        pass

    assert builtin_reference(MyGRU(2, 3)) is None  # a subclass is of no kind
    assert builtin_reference(tl.nn.LSTM(2, 4, proj_size=2)) is None
    toy = kinds.register_kind("toy_no_manual", tl.nn.GRUCell, sequence=MyGRU)
    try:
        assert kinds.kind_of(MyGRU(2, 3)) is toy and builtin_reference(MyGRU(2, 3)) is None
    finally:
        kinds.unregister_kind("toy_no_manual")


@pytest.mark.parametrize("model, shape, batch", [
    (tl.nn.GRU(3, 4, num_layers=2, batch_first=True), (2, 5, 3), 2),
    (tl.nn.RNN(3, 4, nonlinearity="relu"), (5, 3), None),  # unbatched
    (tl.nn.LSTMCell(3, 4), (2, 3), 2),
    (tl.nn.Recurrent(tl.nn.RNNCell(3, 4, nonlinearity="relu")), (5, 2, 3), 2),
])
def test_reference_gradients_equal_autograd(model, shape, batch):
    """The reference's own numbers against autograd's, for random output gradients and a zero start."""
    model = model.to(np.float64)
    x = np.random.default_rng(1).standard_normal(shape)
    inputs = tl.Tensor(x, requires_grad=True)
    outputs = model(inputs)
    leaves = flatten(outputs)
    grads = [np.random.default_rng(k).standard_normal(t.shape) for k, t in enumerate(leaves)]
    tl.backward(leaves, grads)
    state = (model.cell if type(model) is tl.nn.Recurrent else model).init_state(batch)
    state = tuple(s.data for s in state) if isinstance(state, tuple) else state.data
    params = {name: p.data for name, p in model.named_parameters()}
    manual = builtin_reference(model)(params, x, state, rebuild(outputs, iter(grads)))
    for name, p in model.named_parameters():
        np.testing.assert_allclose(manual[name], p.grad, rtol=1e-10, atol=1e-12, err_msg=name)
    np.testing.assert_allclose(manual["x"], inputs.grad, rtol=1e-10, atol=1e-12)


def test_a_stacked_recurrent_of_builtin_cells_is_checked_like_the_sequence_module():
    tl.manual_seed(3)
    model = tl.nn.Recurrent(tl.nn.GRUCell(3, 4), num_layers=2, bidirectional=True, batch_first=True)
    assert builtin_reference(model) is not None
    report = tl.compare_gradients(model, np.random.default_rng(2).standard_normal((2, 5, 3)), numerical_elements=2)
    assert report.ok, str(report)
    assert {"manual", "numerical"} <= set(report.references)
    assert [row.name for row in report.rows][:2] == ["weight_ih_l0", "weight_hh_l0"]
    zoned = tl.nn.Recurrent(tl.nn.GRUCell(3, 4), num_layers=2, zoneout=0.3)
    assert builtin_reference(zoned) is None  # zoneout changes the equations at evaluation too
