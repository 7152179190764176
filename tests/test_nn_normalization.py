"""`tl.nn.LayerNorm` and `functional.layer_norm`: values and gradients against PyTorch and central
differences, parameters and init, dtypes, errors."""
import numpy as np
import pytest

import tinygrad_lstm as tl

CASES = [  # (normalized_shape, input shape)
    (4, (4,)),
    (4, (3, 4)),
    ((3, 4), (2, 3, 4)),
    ([2, 3, 4], (2, 3, 4)),
    (5, (2, 1, 3, 5)),
]


def _random_affine(norm, rng):
    """Non-trivial weight and bias, so their gradients and effect are checked."""
    for parameter in norm.parameters():
        parameter.data[...] = rng.standard_normal(parameter.shape)


@pytest.mark.parametrize("normalized_shape, shape", CASES)
@pytest.mark.parametrize("affine, bias", [(True, True), (True, False), (False, False)])
def test_values_and_gradients_match_torch(normalized_shape, shape, affine, bias):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    ours = tl.nn.LayerNorm(normalized_shape, eps=1e-3, elementwise_affine=affine, bias=bias, dtype=np.float64)
    _random_affine(ours, rng)
    theirs = torch.nn.LayerNorm(normalized_shape, eps=1e-3, elementwise_affine=affine, bias=bias,
                                dtype=torch.float64)
    assert list(theirs.state_dict()) == list(ours.state_dict())
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    x = rng.standard_normal(shape) * 3 + 1
    grad_output = rng.standard_normal(shape)
    x_ours = tl.Tensor(x, requires_grad=True)
    x_theirs = torch.tensor(x, requires_grad=True)
    y_ours, y_theirs = ours(x_ours), theirs(x_theirs)
    np.testing.assert_allclose(y_ours.data, y_theirs.detach().numpy(), rtol=0, atol=1e-10)
    y_ours.backward(grad_output)
    y_theirs.backward(torch.from_numpy(grad_output))
    np.testing.assert_allclose(x_ours.grad, x_theirs.grad.numpy(), rtol=0, atol=1e-10)
    for (name, parameter), (_, twin) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(parameter.grad, twin.grad.numpy(), rtol=0, atol=1e-10, err_msg=name)


def test_init_names_and_repr_as_torch():
    norm = tl.nn.LayerNorm((2, 3))
    assert [(name, p.shape, p.dtype) for name, p in norm.named_parameters()] == [
        ("weight", (2, 3), np.float32), ("bias", (2, 3), np.float32)]
    np.testing.assert_array_equal(norm.weight.data, 1)
    np.testing.assert_array_equal(norm.bias.data, 0)
    assert repr(norm) == "LayerNorm((2, 3), eps=1e-05, elementwise_affine=True)"
    assert repr(tl.nn.LayerNorm(3, bias=False)) == "LayerNorm((3,), eps=1e-05, elementwise_affine=True, bias=False)"
    plain = tl.nn.LayerNorm(3, elementwise_affine=False)
    assert list(plain.parameters()) == [] and plain.weight is None and plain.bias is None


def test_gradcheck_input_weight_and_bias():
    rng = np.random.default_rng(1)
    x = tl.Tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    weight = tl.Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    bias = tl.Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    assert tl.gradcheck(lambda x, w, b: tl.nn.functional.layer_norm(x, (3, 4), w, b), [x, weight, bias])


def test_normalises_to_zero_mean_unit_variance():
    x = np.random.default_rng(2).standard_normal((5, 7)) * 10 + 3
    y = tl.nn.LayerNorm(7, eps=0.0, dtype=np.float64)(x).data
    np.testing.assert_allclose(y.mean(axis=-1), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=-1), 1, atol=1e-12)  # biased variance, as PyTorch


def test_constant_input_gives_the_bias_and_finite_gradients():
    norm = tl.nn.LayerNorm(4, dtype=np.float64)
    norm.bias.data[...] = [1.0, 2.0, 3.0, 4.0]
    x = tl.Tensor(np.full((2, 4), 5.0), requires_grad=True)
    y = norm(x)
    np.testing.assert_allclose(y.data, [[1, 2, 3, 4]] * 2)
    y.sum().backward()
    assert np.isfinite(x.grad).all() and np.isfinite(norm.weight.grad).all()


def test_float32_kept_through_backward():
    norm = tl.nn.LayerNorm(6)
    x = tl.Tensor(np.random.default_rng(3).standard_normal((4, 6)), dtype=np.float32, requires_grad=True)
    y = norm(x)
    (y * y).sum().backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32
    assert norm.weight.grad.dtype == np.float32 and norm.bias.grad.dtype == np.float32
    assert tl.nn.LayerNorm(6).double()(np.ones((1, 6))).dtype == np.float64


@pytest.mark.parametrize("normalized_shape, shape", [(3, (2, 4)), ((2, 3), (3, 2)), ((2, 3), (3,)), (3, ())])
def test_wrong_input_shape_is_a_value_error_naming_both(normalized_shape, shape):
    norm = tl.nn.LayerNorm(normalized_shape)
    with pytest.raises(ValueError, match=rf"layer_norm: .*normalized_shape.*{shape}".replace("(", r"\(").replace(")", r"\)")):
        norm(np.zeros(shape))


@pytest.mark.parametrize("normalized_shape, error", [
    ((), ValueError), (0, ValueError), ((3, -1), ValueError), (3.0, TypeError), ((3, 2.0), TypeError),
    (True, TypeError), ("3", TypeError)])
def test_bad_normalized_shape(normalized_shape, error):
    with pytest.raises(error, match="LayerNorm: normalized_shape"):
        tl.nn.LayerNorm(normalized_shape)


def test_functional_checks_weight_shape():
    with pytest.raises(ValueError, match=r"layer_norm: weight of shape \(4,\) does not match normalized_shape \(3,\)"):
        tl.nn.functional.layer_norm(np.ones((2, 3)), 3, weight=np.ones(4))
