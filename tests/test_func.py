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


def test_grad_grad_and_value_and_vjp_are_torch_func_transforms():
    torch = pytest.importorskip("torch")
    x, w = np.array([1.0, 2.0, -0.5]), np.array([[0.5, -1.0, 2.0]])

    def f(a, b):
        return ((b @ a).tanh() ** 2).sum() + (a ** 3).sum()

    ours, theirs = (tl.Tensor(x), tl.Tensor(w)), (torch.tensor(x), torch.tensor(w))
    np.testing.assert_allclose(tl.func.grad(f)(*ours).data, torch.func.grad(f)(*theirs).numpy(), rtol=1e-12)
    for mine, other in zip(tl.func.grad(f, argnums=(0, 1))(*ours), torch.func.grad(f, argnums=(0, 1))(*theirs)):
        np.testing.assert_allclose(mine.data, other.numpy(), rtol=1e-12)
    second = tl.func.grad(lambda a, b: tl.func.grad(f)(a, b).sum(), argnums=1)(*ours)  # grad of grad
    second_t = torch.func.grad(lambda a, b: torch.func.grad(f)(a, b).sum(), argnums=1)(*theirs)
    np.testing.assert_allclose(second.data, second_t.numpy(), rtol=1e-12, atol=1e-15)

    def with_aux(p):
        return ((p["w"] @ p["x"]).tanh()).sum(), p["x"] * 2
    gradient, aux = tl.func.grad(with_aux, has_aux=True)({"w": tl.Tensor(w), "x": tl.Tensor(x)})
    gradient_t, aux_t = torch.func.grad(with_aux, has_aux=True)({"w": torch.tensor(w), "x": torch.tensor(x)})
    np.testing.assert_allclose(gradient["w"].data, gradient_t["w"].numpy(), rtol=1e-12)
    np.testing.assert_array_equal(aux.data, aux_t.numpy())
    gradient, value = tl.func.grad_and_value(f)(*ours)
    assert value.item() == pytest.approx(torch.func.grad_and_value(f)(*theirs)[1].item(), rel=1e-14)
    assert not gradient.requires_grad and not value.requires_grad

    out, vjp_fn = tl.func.vjp(lambda a: (a.tanh(), a * 2), tl.Tensor(x))
    out_t, vjp_fn_t = torch.func.vjp(lambda a: (a.tanh(), a * 2), torch.tensor(x))
    (product,), (product_t,) = vjp_fn((tl.Tensor(x), tl.Tensor(w[0]))), vjp_fn_t((torch.tensor(x), torch.tensor(w[0])))
    np.testing.assert_allclose(product.data, product_t.numpy(), rtol=1e-12)
    with pytest.raises(RuntimeError, match=r"grad: the function must return a one-element Tensor, got \(3,\)"):
        tl.func.grad(lambda a: a * 2)(tl.Tensor(x))
    with pytest.raises(RuntimeError, match="grad: argnums 3 is out of range for a function of 2"):
        tl.func.grad(f, argnums=3)(*ours)
