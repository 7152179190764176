"""Forward mode (tl.jvp) against torch.func.jvp and against reverse mode."""
import numpy as np
import pytest

import tinygrad_lstm as tl


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_jvp_of_stacked_bidirectional_modules_matches_torch_func_jvp(kind):
    torch = pytest.importorskip("torch")
    tl.manual_seed(0)
    module = getattr(tl.nn, kind)(3, 4, num_layers=2, bidirectional=True, dtype=np.float64)
    twin = getattr(torch.nn, kind)(3, 4, num_layers=2, bidirectional=True, dtype=torch.float64)
    twin.load_state_dict({k: torch.tensor(v) for k, v in module.state_dict().items()})
    x, v = (np.random.default_rng(seed).standard_normal((5, 2, 3)) for seed in (0, 1))
    (output, final), (tangent, final_tangent) = tl.jvp(lambda inputs: module(inputs), (tl.Tensor(x),), (tl.Tensor(v),))
    (output_t, final_t), (tangent_t, final_tangent_t) = torch.func.jvp(lambda inputs: twin(inputs),
                                                                      (torch.tensor(x),), (torch.tensor(v),))
    np.testing.assert_allclose(output.data, output_t.detach().numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(tangent.data, tangent_t.detach().numpy(), rtol=1e-10, atol=1e-13)
    h_tangent = final_tangent[0] if kind == "LSTM" else final_tangent
    h_tangent_t = final_tangent_t[0] if kind == "LSTM" else final_tangent_t
    np.testing.assert_allclose(h_tangent.data, h_tangent_t.detach().numpy(), rtol=1e-10, atol=1e-13)


def test_jvp_with_respect_to_weights_agrees_with_reverse_mode():
    tl.manual_seed(1)
    cell = tl.nn.LSTMCell(2, 3, dtype=np.float64)
    x = tl.randn(4, 2)
    weight = cell.weight_hh.data.copy()
    direction = np.random.default_rng(2).standard_normal(weight.shape)
    cotangent = np.random.default_rng(3).standard_normal((4, 3))

    def h_of(w):
        object.__setattr__(cell, "weight_hh", w)  # the cell computes with the input in place of its weight
        return cell(x, (tl.randn(4, 3, generator=np.random.default_rng(4)), tl.zeros(4, 3)))[0]

    _, tangent = tl.jvp(h_of, (tl.Tensor(weight),), (tl.Tensor(direction),))
    w = tl.Tensor(weight, requires_grad=True)
    (gradient,) = tl.grad(h_of(w), w, grad_outputs=[cotangent])
    # <J v, u> = <v, J^T u>
    np.testing.assert_allclose((tangent.data * cotangent).sum(), (direction * gradient.data).sum(), rtol=1e-12)


def test_jvp_arguments_and_outputs():
    out, tangent = tl.jvp(lambda a, b: (a * b, a), (tl.Tensor([1.0, 2.0]), [3.0, 4.0]), ([1.0, 0.0], [0.0, 1.0]))
    np.testing.assert_array_equal(tangent[0].data, [3.0, 2.0])
    np.testing.assert_array_equal(tangent[1].data, [1.0, 0.0])
    _, unrelated = tl.jvp(lambda a: tl.ones(2), (tl.Tensor([1.0, 2.0]),), (tl.Tensor([1.0, 1.0]),))
    np.testing.assert_array_equal(unrelated.data, [0.0, 0.0])
    with pytest.raises(TypeError, match="tuples"):
        tl.jvp(lambda a: a, tl.Tensor([1.0]), (tl.Tensor([1.0]),))
    with pytest.raises(ValueError, match=r"tangent 0 has shape \(3,\), its primal \(2,\)"):
        tl.jvp(lambda a: a, (tl.Tensor([1.0, 2.0]),), (np.ones(3),))


def test_every_op_says_how_it_gets_its_tangent():
    rules = tl.autograd.forward.rules()
    assert {"MatMul", "Tanh", "Sigmoid", "Split"} <= set(rules)
    assert set(rules.values()) <= {"linear", "rule", "double-vjp"}
    assert rules["Tanh"] == "rule" and rules["Split"] == "linear"


def test_reverse_mode_inside_forward_mode_is_an_error_not_a_zero_tangent():
    def gradient(x):
        return tl.grad((x.requires_grad_() ** 3).sum(), x, create_graph=True)[0]

    def backward_inside(x):
        y = (x.requires_grad_() ** 3).sum()
        y.backward()
        return y

    for fn in (gradient, backward_inside):
        with pytest.raises(RuntimeError, match="jvp: backward\\(\\) or tl.grad inside a function given to tl.jvp"):
            tl.jvp(fn, (tl.Tensor([1.0, 2.0]),), (tl.Tensor([1.0, 0.5]),))
    out, tangent = tl.jvp(lambda x: x ** 3, (tl.Tensor([1.0, 2.0]),), (tl.Tensor([1.0, 0.5]),))  # still usable after
    np.testing.assert_allclose(tangent.data, [3.0, 6.0])


def test_jvp_has_aux_as_torch_func():
    torch = pytest.importorskip("torch")
    x, v = np.array([0.5, -1.0]), np.array([1.0, 2.0])
    out, tangent, aux = tl.jvp(lambda a: (a.tanh(), a * 3), (tl.Tensor(x),), (tl.Tensor(v),), has_aux=True)
    out_t, tangent_t, aux_t = torch.func.jvp(lambda a: (a.tanh(), a * 3), (torch.tensor(x),), (torch.tensor(v),),
                                             has_aux=True)
    np.testing.assert_allclose(tangent.data, tangent_t.numpy(), rtol=1e-14)
    np.testing.assert_array_equal(aux.data, aux_t.numpy())
    with pytest.raises(RuntimeError, match="jvp: with has_aux=True the function must return a tuple"):
        tl.jvp(lambda a: a.tanh(), (tl.Tensor(x),), (tl.Tensor(v),), has_aux=True)
