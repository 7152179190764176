"""ops/unary.py: exp, log, sqrt, tanh, sigmoid, relu, abs, clamp: gradients over shapes, PyTorch's
numerics at the edges (inf, -inf, nan, no numpy warnings), clamp's tensor bounds and in-place form.
(Every op is also checked against PyTorch by the op table, tests/test_ops.py.)"""
import warnings

import numpy as np
import pytest

import tinygrad_lstm as tl
from test_ops_arithmetic import assert_matches_torch  # tests/ is on sys.path

RNG = np.random.default_rng(1234)


def leaf(shape, low=-2.0, high=2.0):
    return tl.Tensor(RNG.uniform(low, high, shape), requires_grad=True)


def positive(shape):
    return leaf(shape, 0.5, 2.0)


UNARY = {
    "neg": (lambda a: -a, leaf),
    "exp": (lambda a: a.exp(), leaf),
    "log": (lambda a: a.log(), positive),
    "sqrt": (lambda a: a.sqrt(), positive),
    "tanh": (lambda a: a.tanh(), leaf),
    "sigmoid": (lambda a: a.sigmoid(), leaf),
    "relu": (lambda a: a.relu(), leaf),
    "abs": (lambda a: a.abs(), leaf),
    "clamp": (lambda a: a.clamp(-1.0, 0.5), leaf),
    "clip_min": (lambda a: a.clip(min=0.1), leaf),
}


@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("shape", [(), (2,), (3, 2), (2, 1, 3)])
def test_unary_ops(name, shape):
    fn, make = UNARY[name]
    x = make(shape)
    if name in ("relu", "abs", "clamp", "clip_min"):  # keep away from the kinks
        for kink in (0.0, 0.5, -1.0, 0.1):
            x.data[np.abs(x.data - kink) < 1e-3] = 0.3
    assert tl.gradcheck(fn, [x])


def test_unary_values_match_numpy():
    x = RNG.uniform(-3, 3, (4, 5))
    t = tl.Tensor(x)
    assert np.allclose(t.exp().data, np.exp(x))
    assert np.allclose(t.tanh().data, np.tanh(x))
    assert np.allclose(t.sigmoid().data, 1 / (1 + np.exp(-x)), rtol=1e-15, atol=0)
    assert np.allclose(t.relu().data, np.maximum(x, 0))
    assert np.allclose(t.abs().data, np.abs(x))
    assert np.allclose(t.abs().sqrt().data, np.sqrt(np.abs(x)))
    assert np.allclose(t.clamp(-1, 1).data, np.clip(x, -1, 1))


@pytest.mark.parametrize("dtype", [np.int64, np.int8, np.bool_])
def test_sigmoid_of_integers_and_booleans_is_float_like_numpy_ufuncs(dtype):
    values = np.array([0, 1, 1], dtype=dtype)
    s = tl.Tensor(values).sigmoid()
    assert s.dtype == np.tanh(values).dtype
    np.testing.assert_allclose(s.data, 1 / (1 + np.exp(-values.astype(np.float64))), rtol=1e-3)


# --------------------------------------------------------------------------- numerics

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, values", [
    ("exp", [1000.0, -1000.0, 0.0, np.inf, -np.inf, np.nan]),
    ("log", [0.0, -0.0, -1.0, 1.0, np.inf, np.nan]),
    ("sqrt", [0.0, -1.0, 4.0, np.inf, np.nan]),
    ("sigmoid", [-1e4, 1e4, -np.inf, np.inf, np.nan]),
    ("tanh", [-1e4, 1e4, -np.inf, np.inf, np.nan]),
])
def test_edges_give_torchs_inf_and_nan_forward_and_backward_without_warnings(name, values, dtype):
    """exp overflow is inf, log(0) is -inf, log(-1) and sqrt(-1) are nan, with PyTorch's gradients."""
    torch = pytest.importorskip("torch")
    x = tl.Tensor(np.array(values, dtype=dtype), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = getattr(x, name)()
        y.backward(np.ones(y.shape, dtype))
    x_t = torch.tensor(np.array(values, dtype=dtype), requires_grad=True)
    y_t = getattr(x_t, name)()
    y_t.backward(torch.ones_like(y_t))
    assert y.dtype == x.grad.dtype == dtype
    np.testing.assert_allclose(y.data, y_t.detach().numpy(), rtol=4 * np.finfo(dtype).eps, equal_nan=True)
    np.testing.assert_allclose(x.grad, x_t.grad.numpy(), rtol=4 * np.finfo(dtype).eps, equal_nan=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_tanh_extreme_inputs_no_warnings(dtype):
    x = tl.Tensor(np.array([-1e4, -100.0, -20.0, 0.0, 20.0, 100.0, 1e4], dtype=dtype), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = x.sigmoid()
        t = x.tanh()
        (s + t).sum().backward()
    assert s.dtype == dtype and np.all(np.isfinite(s.data)) and np.all(np.isfinite(x.grad))
    assert s.data[0] == 0 and s.data[-1] == 1 and s.data[3] == 0.5
    exact = 1 / (1 + np.exp(-np.float64(-20.0)))
    assert abs(s.data[2] - exact) <= 4 * np.finfo(dtype).eps * exact  # relative accuracy in the tail
    assert np.array_equal(t.data, np.tanh(x.data))


def test_exp_overflow_and_log_of_zero():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tl.Tensor(1000.0).exp().item() == np.inf
        assert tl.Tensor(0.0).log().item() == -np.inf
        assert np.isnan(tl.Tensor(-1.0).log().item())


@pytest.mark.parametrize("fn_tl, fn_torch", [
    (lambda t: t.clip(1.0, 2.0), lambda t: t.clamp(1.0, 2.0)),
    (lambda t: t.clip(min=2.0), lambda t: t.clamp(min=2.0)),
    (lambda t: t.clip(max=2.0), lambda t: t.clamp(max=2.0)),
    (lambda t: t.clip(3.0, 1.0), lambda t: t.clamp(3.0, 1.0)),
    (lambda t: (t - 2).relu(), lambda t: (t - 2).relu()),
    (lambda t: (t - 2).abs(), lambda t: (t - 2).abs()),
], ids=["clip", "clip_min", "clip_max", "clip_min_gt_max", "relu_at_0", "abs_at_0"])
def test_kinks_and_boundaries_match_torch(fn_tl, fn_torch):
    assert_matches_torch(fn_tl, fn_torch, np.array([[1.0, 3.0, 2.0], [2.0, 0.0, 1.5]]))


# --------------------------------------------------------------------------- clamp

def test_clamp_with_tensor_bounds_sends_gradients_to_the_bounds_as_torch():
    torch = pytest.importorskip("torch")
    x = np.array([0.0, 1.0, 2.0, 3.0, 5.0, 2.0])
    low = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 4.0])   # the last one is above its high bound
    high = np.array([3.0, 3.0, 3.0, 3.0, 3.0, 3.0])
    ours = [tl.Tensor(v, requires_grad=True) for v in (x, low, high)]
    theirs = [torch.tensor(v, requires_grad=True) for v in (x, low, high)]
    y, y_t = ours[0].clamp(ours[1], ours[2]), theirs[0].clamp(theirs[1], theirs[2])
    y.sum().backward()
    y_t.sum().backward()
    np.testing.assert_array_equal(y.data, y_t.detach().numpy())
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a.grad, b.grad.numpy())
    np.testing.assert_array_equal(ours[1].grad, [1, 0, 0, 0, 0, 0])  # x < low
    np.testing.assert_array_equal(ours[2].grad, [0, 0, 0, 0, 1, 1])  # x > high, or high < low


def test_clamp_bounds_broadcast_and_one_of_them_may_be_missing():
    x, low = leaf((2, 3)), tl.Tensor(RNG.uniform(-1, 0, (3,)), requires_grad=True)
    assert tl.gradcheck(lambda t, lo: t.clamp(min=lo), [x, low])
    assert tl.gradcheck(lambda t, hi: tl.clamp(t, max=hi), [x, low])
    with pytest.raises(ValueError, match="clamp: at least one of min and max"):
        x.clamp()


def test_clamp_in_place_changes_the_tensor_and_its_version():
    x = tl.Tensor([-2.0, 0.5, 2.0])
    y = x.clamp_(-1.0, 1.0)
    assert y is x and x._version == 1
    np.testing.assert_array_equal(x.data, [-1.0, 0.5, 1.0])
    x.clip_(max=0.0)
    np.testing.assert_array_equal(x.data, [-1.0, 0.0, 0.0])
    w = tl.Tensor([1.0, 2.0], requires_grad=True)
    h = w * 3
    h.clamp_(max=4.0)  # in the graph: the gradient flows where the value was kept
    h.sum().backward()
    np.testing.assert_array_equal(w.grad, [3.0, 0.0])
    with pytest.raises(RuntimeError, match="clamp_: a leaf tensor that requires grad"):
        w.clamp_(0.0, 1.0)


@pytest.mark.parametrize("name", ["relu", "abs"])
def test_the_gradient_of_a_kink_stays_in_the_graph_so_it_can_be_differentiated_again_as_torch(name):
    # d(relu(x))/dx = step(x) does not change with x, yet PyTorch's gradient with create_graph=True
    # depends on x (with derivative 0): differentiating it again gives zeros, not an error
    torch = pytest.importorskip("torch")
    data = np.array([[-1.5, 0.0, 2.0], [0.5, -0.25, 3.0]])
    x, x_torch = tl.Tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    (g,) = tl.grad(getattr(x, name)().sum(), x, create_graph=True)
    (g_torch,) = torch.autograd.grad(getattr(x_torch, name)().sum(), x_torch, create_graph=True)
    np.testing.assert_array_equal(g.data, g_torch.detach().numpy())
    assert g.requires_grad and g_torch.requires_grad
    (gg,) = tl.grad((g * g).sum(), x)
    (gg_torch,) = torch.autograd.grad((g_torch * g_torch).sum(), x_torch)
    np.testing.assert_array_equal(gg.data, (torch.zeros_like(x_torch) + gg_torch).detach().numpy())  # torch's zeros may be lazy


def test_python_abs_is_abs_like_torch():
    torch = pytest.importorskip("torch")
    x = tl.Tensor([-1.5, 0.0, 2.0], requires_grad=True)
    x_t = torch.tensor([-1.5, 0.0, 2.0], dtype=torch.float64, requires_grad=True)
    y, y_t = abs(x), abs(x_t)
    y.backward(np.array([1.0, 2.0, 3.0]))
    y_t.backward(torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))
    np.testing.assert_array_equal(y.data, y_t.detach().numpy())
    np.testing.assert_array_equal(x.grad, x_t.grad.numpy())
    assert y.grad_fn.name == "abs"


def test_sign_of_nan_and_the_slope_of_abs_there_are_zero_like_torch():
    torch = pytest.importorskip("torch")
    values = np.array([np.nan, -0.0, 0.0, -np.inf, 2.0], np.float32)
    for name in ("sign", "abs"):
        x, x_t = tl.Tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)
        y, y_t = getattr(x, name)(), getattr(x_t, name)()
        y.backward(np.ones(5, np.float32))
        y_t.backward(torch.ones(5))
        np.testing.assert_array_equal(y.data, y_t.detach().numpy())
        np.testing.assert_array_equal(x.grad, x_t.grad.numpy())
