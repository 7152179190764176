"""ops/reduction.py: sum, mean, prod, var, std, norm, amax/amin, max/min, argmax/argmin, softmax and
log_softmax with PyTorch's arguments and meaning, over every dim choice, at ties, NaN, zero-size
dims and float32 extremes. (Every op is also checked against PyTorch by the op table, tests/test_ops.py.)"""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_lstm as tl
from tinygrad_lstm.nn import functional as F

RNG = np.random.default_rng(1234)


def leaf(shape, low=-2.0, high=2.0):
    return tl.Tensor(RNG.uniform(low, high, shape), requires_grad=True)


@pytest.mark.parametrize("dim", [None, 0, 1, -1, (0, 2), (-1, 0)])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("reduction", ["sum", "mean", "amax", "amin", "prod", "var", "std", "norm"])
def test_reductions_over_every_dim_choice(dim, keepdim, reduction):
    torch = pytest.importorskip("torch")
    x = leaf((3, 4, 2))
    if reduction == "prod" and isinstance(dim, tuple):
        dim = dim[0]  # PyTorch's prod takes one dim
    kwargs = {"dim": dim, "keepdim": keepdim} if dim is not None or reduction in ("norm",) else {}
    ours = getattr(x, reduction)(**kwargs)
    theirs = getattr(torch.tensor(x.data), reduction)(**kwargs)
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-12)
    assert tl.gradcheck(lambda t: getattr(t, reduction)(**kwargs), [x])


@pytest.mark.parametrize("reduction, numpy_name", [("sum", "sum"), ("mean", "mean"), ("amax", "max"), ("amin", "min")])
def test_numpy_argument_names_are_aliases(reduction, numpy_name):
    x = leaf((3, 4))
    ours = getattr(x, reduction)(axis=1, keepdims=True)
    np.testing.assert_array_equal(ours.data, getattr(np, numpy_name)(x.data, axis=1, keepdims=True))
    with pytest.raises(TypeError, match=f"{reduction}: got both dim and its numpy alias axis"):
        getattr(x, reduction)(dim=0, axis=1)


def test_an_empty_dim_tuple_means_every_dim_as_in_torch():
    x = leaf((2, 3))
    assert x.sum(dim=()).item() == pytest.approx(x.data.sum())
    assert x.mean(dim=(), keepdim=True).shape == (1, 1)


@settings(max_examples=30, deadline=None)
@given(hnp.array_shapes(min_dims=1, max_dims=4, max_side=4), st.data())
def test_reduction_property(shape, data):
    dim = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    x = leaf(shape)
    out = x.sum(dim) if dim is not None else x.sum()
    assert np.allclose(out.data, x.data.sum(axis=dim))
    assert tl.gradcheck(lambda t: t.mean(dim=dim), [x])


# --------------------------------------------------------------------------- max, min, argmax

def test_max_with_a_dim_returns_values_and_indices_as_torch():
    x = tl.Tensor([[1.0, 5.0, 2.0], [3.0, 3.0, 0.0]], requires_grad=True)
    result = x.max(dim=1)
    values, indices = result
    assert result.values is values and result.indices is indices and type(result).__name__ == "max"
    np.testing.assert_array_equal(values.data, [5.0, 3.0])
    np.testing.assert_array_equal(indices.data, [1, 0])
    assert indices.dtype == np.int64 and not indices.requires_grad
    values.sum().backward()
    np.testing.assert_array_equal(x.grad, [[0, 1, 0], [1, 0, 0]])  # the first of tied maxima, as torch
    low = tl.min(x, 0, keepdim=True)
    assert type(low).__name__ == "min" and low.values.shape == (1, 3)
    np.testing.assert_array_equal(low.indices.data, [[0, 1, 1]])


def test_max_without_a_dim_shares_the_gradient_between_ties_as_torch():
    x = tl.Tensor([[1.0, 3.0, 3.0], [2.0, 3.0, 0.0]], requires_grad=True)
    m = x.max()
    assert m.shape == () and m.item() == 3.0
    m.backward()
    np.testing.assert_allclose(x.grad, [[0, 1 / 3, 1 / 3], [0, 1 / 3, 0]])


def test_max_of_another_tensor_is_the_elementwise_maximum():
    a, b = leaf((2, 3)), leaf((3,))
    np.testing.assert_array_equal(a.max(b).data, np.maximum(a.data, b.data))
    np.testing.assert_array_equal(tl.min(a, b).data, np.minimum(a.data, b.data))
    # under PyTorch's keyword too (torch.max(input, other=...)), and never with a dim as well
    np.testing.assert_array_equal(tl.max(a, other=b).data, np.maximum(a.data, b.data))
    np.testing.assert_array_equal(a.min(other=b).data, np.minimum(a.data, b.data))
    with pytest.raises(TypeError, match="max: give a dim or other, not both"):
        a.max(0, other=b)


def test_max_of_nan_sends_the_gradient_to_the_nan_like_torch():
    torch = pytest.importorskip("torch")
    values = np.array([[1.0, np.nan, 3.0], [4.0, 5.0, 6.0]])
    x = tl.Tensor(values, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x.max().backward()
        x.max(dim=1).values.sum().backward()
        x.amax(1).sum().backward()
    t = torch.tensor(values, requires_grad=True)
    t.max().backward()
    t.max(dim=1).values.sum().backward()
    t.amax(1).sum().backward()
    np.testing.assert_array_equal(x.grad, t.grad.numpy())
    np.testing.assert_array_equal(x.argmax(1).data, t.argmax(1).numpy())


def test_argmax_is_int64_outside_the_graph_and_picks_the_first_tie():
    x = tl.Tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]], requires_grad=True)
    flat = x.argmax()
    assert flat.dtype == np.int64 and flat.shape == () and flat.item() == 1 and not flat.requires_grad
    np.testing.assert_array_equal(x.argmax(1).data, [1, 0])
    np.testing.assert_array_equal(x.argmin(dim=1, keepdim=True).data, [[0], [2]])
    assert x.argmax(keepdim=True).shape == (1, 1)


# --------------------------------------------------------------------------- zero-size and 0-d

@pytest.mark.parametrize("op", ["max", "min", "amax", "amin", "argmax", "argmin"])
def test_reductions_without_identity_over_an_empty_dim_raise_naming_op_and_shape(op):
    x = tl.zeros(0, 3)
    with pytest.raises(ValueError, match=rf"{op}: cannot reduce dim 0 of size 0 \(shape \(0, 3\)\)"):
        getattr(x, op)(0)
    with pytest.raises(IndexError):  # PyTorch raises an IndexError: ours is both
        getattr(x, op)(0)
    assert getattr(x, op)(1)[0].shape == (0,) if op in ("max", "min") else getattr(x, op)(1).shape == (0,)


def test_sum_and_mean_of_nothing_as_torch_without_warnings():
    x = tl.zeros(0, 3, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(x.sum(0).data, [0.0, 0.0, 0.0])
        assert np.isnan(x.mean(0).data).all() and np.isnan(x.mean().item())
        assert x.prod(0).data.tolist() == [1.0, 1.0, 1.0]
        assert np.isnan(x.var(0).data).all()
        x.mean(0).sum().backward()
    assert x.grad.shape == (0, 3)


@pytest.mark.parametrize("fn", [lambda t: t.softmax(1), lambda t: t.log_softmax(-1), lambda t: F.softmax(t, dim=1),
                                lambda t: F.log_softmax(t, 1)])
def test_softmax_over_a_zero_length_dim_is_empty(fn):
    x = tl.zeros(3, 0, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = fn(x)
        y.sum().backward()
    assert y.shape == (3, 0) and x.grad.shape == (3, 0)


def test_reductions_of_a_0d_tensor_accept_dim_0_and_minus_1():
    x = tl.Tensor(2.5, requires_grad=True)
    for result in (x.sum(0), x.mean(-1), x.amax(0), x.max(0).values, x.softmax(0), x.norm(dim=0)):
        assert result.shape == ()
    assert x.max(0).indices.item() == 0 and x.softmax(0).item() == 1.0
    with pytest.raises(IndexError, match=r"sum: dim 1 is out of range for a tensor of shape \(\)"):
        x.sum(1)


# --------------------------------------------------------------------------- mean, var, std, norm

def test_mean_of_integers_needs_a_dtype_as_in_torch():
    ints = tl.Tensor([1, 2, 4])
    with pytest.raises(TypeError, match="mean: expected a floating-point tensor, got dtype int64"):
        ints.mean()
    assert ints.mean(dtype=np.float64).item() == pytest.approx(7 / 3)
    assert ints.sum().dtype == np.int64 and tl.Tensor([True, True]).sum().item() == 2


def test_var_and_std_default_to_the_unbiased_estimate_as_torch():
    x = leaf((3, 4))
    np.testing.assert_allclose(x.var().item(), x.data.var(ddof=1))
    np.testing.assert_allclose(x.std(1).data, x.data.std(axis=1, ddof=1))
    np.testing.assert_allclose(x.var(1, unbiased=False).data, x.data.var(axis=1))
    np.testing.assert_allclose(x.std(0, correction=0, keepdim=True).data, x.data.std(axis=0, keepdims=True))
    np.testing.assert_allclose(x.var(False).item(), x.data.var())  # var(unbiased), PyTorch's old signature
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        one = tl.Tensor([3.0], requires_grad=True)
        s = one.std()
        s.backward()
    assert np.isnan(s.item()) and np.isnan(one.grad).all()  # as torch, which warns instead


def test_std_of_a_constant_has_a_zero_gradient_as_torch():
    x = tl.Tensor([2.0, 2.0, 2.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x.std().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 0.0])


@pytest.mark.parametrize("p", [2, 1, 3, 0.5, float("inf"), float("-inf"), 0, "fro"])
def test_norm_gradient_at_zero_matches_torch_without_warnings(p):
    torch = pytest.importorskip("torch")
    values = np.array([[0.0, 0.0, 0.0], [0.0, -2.0, 2.0]])
    x, x_t = tl.Tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = x.norm(p, dim=1)
        y.sum().backward()
    y_t = x_t.norm(p, dim=1)
    y_t.sum().backward()
    np.testing.assert_allclose(y.data, y_t.detach().numpy(), rtol=1e-14)
    np.testing.assert_allclose(x.grad, np.zeros_like(values) if x_t.grad is None else x_t.grad.numpy(), rtol=1e-14)


def test_norm_rejects_unknown_p():
    with pytest.raises(ValueError, match="norm: p='nuc' is not supported"):
        leaf((2, 2)).norm("nuc")
    with pytest.raises(TypeError, match="norm: expected a floating-point tensor"):
        tl.Tensor([1, 2]).norm()


# --------------------------------------------------------------------------- softmax

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_and_log_softmax_are_stable_at_extremes(dtype):
    torch = pytest.importorskip("torch")
    values = np.array([[1e4, 0.0, -1e4], [-1e38, 1e38, 0.0], [88.0, 89.0, 90.0], [-1e30, -1e30, -1e30]], dtype=dtype)
    x = tl.Tensor(values, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p, log_p = x.softmax(-1), x.log_softmax(-1)
        (p.sum() + log_p[:, 0].sum()).backward()
    t = torch.tensor(values)
    np.testing.assert_allclose(p.data, t.softmax(-1).numpy(), rtol=1e-6)
    np.testing.assert_allclose(log_p.data, t.log_softmax(-1).numpy(), rtol=1e-6)
    assert p.dtype == log_p.dtype == x.grad.dtype == dtype
    assert np.isfinite(log_p.data).all() and np.isfinite(x.grad).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logsumexp_is_stable_and_matches_torch_at_extremes(dtype):
    torch = pytest.importorskip("torch")
    values = np.array([[1e4, 0.0, -1e4], [-np.inf, -np.inf, -np.inf], [np.inf, 0.0, 1.0], [88.0, 89.0, 90.0]],
                      dtype=dtype)
    x = tl.Tensor(values, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = x.logsumexp(1)
        y[[0, 3]].sum().backward()
    t = torch.tensor(values, requires_grad=True)
    y_t = t.logsumexp(1)
    y_t[[0, 3]].sum().backward()
    np.testing.assert_allclose(y.data, y_t.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=1e-6, atol=1e-30)
    assert y.dtype == x.grad.dtype == dtype


def test_softmax_needs_a_dim_and_the_functional_form_picks_torchs_implicit_one_with_its_warning():
    torch = pytest.importorskip("torch")
    x = leaf((2, 3, 4))
    with pytest.raises(TypeError):
        x.softmax()
    for shape in [(3,), (2, 3), (2, 3, 4), (2, 3, 4, 5)]:
        x = leaf(shape)
        with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
            ours = F.softmax(x)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = torch.nn.functional.softmax(torch.tensor(x.data))
        np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-12)
    np.testing.assert_array_equal(F.softmax(x, axis=0).data, x.softmax(0).data)
    with pytest.raises(TypeError, match="softmax: got both dim and its numpy alias axis"):
        F.softmax(x, dim=0, axis=1)
