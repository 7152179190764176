"""random.py: the tensor factories (``tensor``, ``arange``, ``eye``, ``zeros_like``, ...) as PyTorch's,
with numpy's default float dtype (float64)."""
import warnings

import numpy as np
import pytest

import tinygrad_lstm as tl


def test_factories_match_torch_except_for_the_default_float_dtype():
    torch = pytest.importorskip("torch")
    cases = [
        (tl.arange(5), torch.arange(5)), (tl.arange(1, 7, 2), torch.arange(1, 7, 2)),
        (tl.arange(0.0, 1.0, 0.25), torch.arange(0.0, 1.0, 0.25, dtype=torch.float64)),
        (tl.arange(5, 0, -2), torch.arange(5, 0, -2)),
        (tl.eye(3), torch.eye(3, dtype=torch.float64)), (tl.eye(2, 3), torch.eye(2, 3, dtype=torch.float64)),
        (tl.tensor([[1, 2]]), torch.tensor([[1, 2]])), (tl.tensor([1.5], dtype=np.float32), torch.tensor([1.5])),
    ]
    for ours, theirs in cases:
        assert ours.dtype == theirs.numpy().dtype
        np.testing.assert_array_equal(ours.data, theirs.numpy())


def test_factories_shapes_dtypes_and_seeding():
    assert tl.zeros(2, 3).shape == tl.zeros((2, 3)).shape == tl.ones([2, 3]).shape == (2, 3)
    assert tl.zeros().shape == () and tl.full(2, 3.0).shape == (2,)
    assert tl.full((2,), 3).dtype == np.full(2, 3).dtype
    assert tl.ones(3, dtype=np.float32, requires_grad=True).requires_grad
    assert tl.randn(2, dtype=np.float32).dtype == tl.rand(2, dtype=np.float32).dtype == np.float32
    tl.manual_seed(7)
    a = tl.randn(4).data
    tl.manual_seed(7)
    np.testing.assert_array_equal(a, tl.randn(4).data)
    g1, g2 = np.random.default_rng(3), np.random.default_rng(3)
    np.testing.assert_array_equal(tl.rand(2, 2, generator=g1).data, tl.rand(2, 2, generator=g2).data)
    with pytest.raises(ValueError):
        tl.zeros(-1)


def test_factories_and_seeding():
    assert tl.zeros(2, 3).shape == (2, 3) and tl.ones((2,)).data.sum() == 2
    assert tl.full((2, 2), 3.0, dtype=np.float32).dtype == np.float32
    assert tl.zeros(2, requires_grad=True).requires_grad
    tl.manual_seed(7)
    a = tl.randn(3, 2, dtype=np.float32)
    tl.manual_seed(7)
    b = tl.randn(3, 2, dtype=np.float32)
    assert np.array_equal(a.data, b.data) and a.dtype == np.float32
    g = np.random.default_rng(3)
    assert np.array_equal(tl.rand(4, generator=g).data, np.random.default_rng(3).random(4))
    with pytest.raises(ValueError):
        tl.zeros(-1)


@pytest.mark.parametrize("like", ["zeros_like", "ones_like", "randn_like", "rand_like"])
def test_like_factories_keep_the_shape_and_dtype(like):
    x = tl.Tensor(np.ones((2, 3), np.float32))
    y = getattr(tl, like)(x)
    assert y.shape == (2, 3) and y.dtype == np.float32 and y.is_leaf and not y.requires_grad
    z = getattr(tl, like)(x, dtype=np.float64, requires_grad=True)
    assert z.dtype == np.float64 and z.requires_grad


def test_full_like_and_the_values_of_the_like_factories():
    x = tl.Tensor(np.zeros((2, 2), np.int64))
    np.testing.assert_array_equal(tl.full_like(x, 7).data, np.full((2, 2), 7))
    assert tl.zeros_like(x).dtype == np.int64 and tl.ones_like(x).data.sum() == 4
    tl.manual_seed(0)
    first = tl.randn_like(tl.zeros(3))
    tl.manual_seed(0)
    np.testing.assert_array_equal(first.data, tl.randn(3).data)
    with pytest.raises(TypeError, match="randn_like: dtype must be a floating-point type"):
        tl.randn_like(x)


def test_factory_errors():
    with pytest.raises(ValueError, match="arange: step must be non-zero"):
        tl.arange(0, 3, 0)
    with pytest.raises(ValueError, match="shape must be non-negative"):
        tl.eye(-1)


@pytest.mark.parametrize("factory", [tl.randn, tl.rand])
def test_random_factories_refuse_integer_dtypes(factory):
    with pytest.raises(TypeError):
        factory(3, dtype=np.int64)


def test_new_factories_take_the_dtype_of_the_tensor_as_torch():
    torch = pytest.importorskip("torch")
    x, x_t = tl.Tensor(np.ones(2, np.float32)), torch.ones(2)
    for ours, theirs in [(x.new_zeros(2, 3), x_t.new_zeros(2, 3)), (x.new_ones((3,)), x_t.new_ones((3,))),
                         (x.new_full((2,), 5.0), x_t.new_full((2,), 5.0)), (x.new_tensor([1, 2]), x_t.new_tensor([1, 2]))]:
        assert ours.dtype == theirs.numpy().dtype and ours.is_leaf
        np.testing.assert_array_equal(ours.data, theirs.numpy())
    assert x.new_zeros(2, dtype=np.float64, requires_grad=True).requires_grad


@pytest.mark.parametrize("factory", ["full", "full_like"])
def test_a_finite_fill_value_beyond_float32_is_refused_as_torch_and_inf_is_kept(factory):
    torch = pytest.importorskip("torch")

    def make(value):
        return (tl.full((2,), value, dtype=np.float32) if factory == "full"
                else tl.full_like(tl.zeros(2, dtype=np.float32), value))
    with pytest.raises(RuntimeError, match="without overflow"):
        torch.full((2,), -1e300, dtype=torch.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(RuntimeError, match=f"{factory}: value -1e\\+300 cannot be converted to float32 without overflow"):
            make(-1e300)
        made = make(-np.inf)
    assert made.dtype == np.float32
    np.testing.assert_array_equal(made.data, torch.full((2,), -np.inf, dtype=torch.float32).numpy())
