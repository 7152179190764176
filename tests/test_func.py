"""tl.func.functional_call against torch.func.functional_call: derivatives with respect to a module's weights."""
import numpy as np
import pytest

import tinygrad_lstm as tl

F = tl.autograd.functional


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_hvp_of_a_recurrent_loss_with_respect_to_all_weights_matches_torch(kind):
    torch = pytest.importorskip("torch")
    tl.manual_seed(0)
    module = getattr(tl.nn, kind)(3, 4, num_layers=2, bidirectional=True, dtype=np.float64)
    twin = getattr(torch.nn, kind)(3, 4, num_layers=2, bidirectional=True, dtype=torch.float64)
    twin.load_state_dict({k: torch.tensor(v) for k, v in module.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((5, 2, 3))
    names = [name for name, _ in module.named_parameters()]
    weights = tuple(tl.Tensor(p.data.copy()) for p in module.parameters())
    vectors = tuple(tl.Tensor(np.random.default_rng(i).standard_normal(w.shape)) for i, w in enumerate(weights))

    def loss(*ws):
        output, _ = tl.func.functional_call(module, dict(zip(names, ws)), (tl.Tensor(x),))
        return (output * output).sum()

    def loss_t(*ws):
        output, _ = torch.func.functional_call(twin, dict(zip(names, ws)), (torch.tensor(x),))
        return (output * output).sum()

    _, mine = F.hvp(loss, weights, vectors)
    _, theirs = torch.autograd.functional.hvp(loss_t, tuple(torch.tensor(w.data) for w in weights),
                                              tuple(torch.tensor(v.data) for v in vectors))
    for a, b in zip(mine, theirs):
        np.testing.assert_allclose(a.data, b.numpy(), rtol=1e-10, atol=1e-12)
    assert all(p.grad is None for p in module.parameters())


def test_functional_call_restores_the_module_and_checks_names():
    layer = tl.nn.Linear(2, 1, dtype=np.float64)
    weight = layer.weight
    out = tl.func.functional_call(layer, {"weight": tl.ones(1, 2), "bias": tl.zeros(1)}, (tl.ones(1, 2),), {})
    assert out.item() == 2.0 and layer.weight is weight
    with pytest.raises(ValueError):  # the call itself fails (a wrong input size): the weight is restored
        tl.func.functional_call(layer, {"weight": tl.ones(1, 2)}, (tl.ones(1, 3),))
    assert layer.weight is weight
    with pytest.raises(KeyError, match=r"unexpected keys \['wieght'\]"):
        tl.func.functional_call(layer, {"wieght": tl.ones(1, 2)}, (tl.ones(1, 2),))
    with pytest.raises(KeyError, match=r"missing keys \['bias'\]"):
        tl.func.functional_call(layer, {"weight": tl.ones(1, 2)}, (tl.ones(1, 2),), strict=True)
    with pytest.raises(TypeError, match="must be a Tensor"):
        tl.func.functional_call(layer, {"weight": np.ones((1, 2))}, (tl.ones(1, 2),))


def test_tied_weights_are_replaced_under_every_name():
    class Tied(tl.nn.Module):
        def __init__(self):
            super().__init__()
            self.first = tl.nn.Linear(2, 2, bias=False, dtype=np.float64)
            self.second = tl.nn.Linear(2, 2, bias=False, dtype=np.float64)
            self.second.weight = self.first.weight

        def forward(self, x):
            return self.second(self.first(x))

    model = Tied()
    out = tl.func.functional_call(model, {"first.weight": tl.Tensor(np.eye(2) * 2)}, (tl.ones(1, 2),))
    np.testing.assert_array_equal(out.data, [[4.0, 4.0]])
