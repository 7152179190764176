"""tinygrad_lstm.compare.torch_twin: the PyTorch module of a model's kind, with the same weights."""
import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm.compare.torch_twin import build_torch_module, import_torch, torch_grads

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("model, twin", [
    (tl.nn.RNN(3, 4, num_layers=2, nonlinearity="relu", bias=False, batch_first=True), "RNN"),
    (tl.nn.LSTM(3, 4, bidirectional=True, proj_size=2), "LSTM"),
    (tl.nn.GRU(3, 4), "GRU"),
    (tl.nn.RNNCell(3, 4, nonlinearity="relu"), "RNNCell"),
    (tl.nn.LSTMCell(3, 4, bias=False), "LSTMCell"),
    (tl.nn.GRUCell(3, 4), "GRUCell"),
])
def test_the_twin_has_the_same_class_options_and_parameter_names(model, twin):
    module = build_torch_module(torch, model)
    assert type(module).__name__ == twin
    assert list(module.state_dict()) == list(model.state_dict())
    for option in ("nonlinearity", "bias", "batch_first", "bidirectional", "num_layers", "proj_size"):
        if hasattr(model, option) and hasattr(module, option):
            assert getattr(module, option) == getattr(model, option), option


def test_the_twin_of_recurrent_unrolls_the_cells_twin():
    model = tl.nn.Recurrent(tl.nn.GRUCell(3, 4), batch_first=True).to(np.float64)
    module = build_torch_module(torch, model)
    assert list(module.state_dict()) == ["cell.weight_ih", "cell.weight_hh", "cell.bias_ih", "cell.bias_hh"]
    x = np.random.default_rng(0).standard_normal((2, 5, 3))
    h0 = np.random.default_rng(1).standard_normal((2, 4))
    outputs, h = model(tl.Tensor(x), tl.Tensor(h0))
    (outputs.sum() + h.sum()).backward()
    grads = torch_grads(torch, module, model, x, h0, (np.ones(outputs.shape), np.ones(h.shape)))
    for name, p in model.named_parameters():
        np.testing.assert_allclose(grads[name], p.grad, rtol=1e-10, atol=1e-12, err_msg=name)
    assert grads["x"].shape == x.shape and grads["h0"].shape == h0.shape


def test_no_twin_for_a_kind_without_one_or_a_module_of_no_kind():
    class Mine(tl.nn.LSTMCell):
        pass

    assert build_torch_module(torch, Mine(2, 3)) is None
    assert build_torch_module(torch, tl.nn.Linear(2, 3)) is None
    kind = tl.nn.kinds.register_kind("mine", Mine)
    try:
        assert build_torch_module(torch, Mine(2, 3)) is None and kind.torch_name is None
    finally:
        tl.nn.kinds.unregister_kind("mine")


def test_import_torch():
    assert import_torch() == (torch, None)


def test_the_twin_of_a_stacked_recurrent_is_the_sequence_module():
    model = tl.nn.Recurrent(tl.nn.RNNCell(3, 4, nonlinearity="relu"), num_layers=2, bidirectional=True)
    module = build_torch_module(torch, model)
    assert type(module) is torch.nn.RNN and module.nonlinearity == "relu" and module.bidirectional
    assert list(module.state_dict()) == list(model.state_dict())
    assert build_torch_module(torch, tl.nn.Recurrent(tl.nn.RNNCell(3, 4), zoneout=0.1)) is None
