"""ops/arithmetic.py: + - * / ** @, addmm, maximum/minimum: broadcasting grids, numerics, PyTorch's
rules at ties and NaN. (Every op is also checked against PyTorch by the op table, tests/test_ops.py.)"""
import operator
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_lstm as tl

RNG = np.random.default_rng(1234)
SHAPES = [(), (2,), (3, 2), (1, 2), (2, 1, 2)]


def leaf(shape, low=-2.0, high=2.0):
    return tl.Tensor(RNG.uniform(low, high, shape), requires_grad=True)


def positive(shape):
    return leaf(shape, 0.5, 2.0)


def torch_pair(fn_tl, fn_torch, *arrays, grad_seed=0):
    """Forward values and input gradients of the same function in tinygrad_lstm and PyTorch."""
    torch = pytest.importorskip("torch")
    ours = [tl.Tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, y_t = fn_tl(*ours), fn_torch(*theirs)
    g = np.random.default_rng(grad_seed).uniform(-1, 1, y.shape)
    y.backward(g)
    y_t.backward(torch.tensor(g))
    return (y.data, y_t.detach().numpy(), [t.grad for t in ours],
            [None if t.grad is None else t.grad.numpy() for t in theirs])


def assert_matches_torch(fn_tl, fn_torch, *arrays):
    y, y_t, grads, grads_t = torch_pair(fn_tl, fn_torch, *arrays)
    np.testing.assert_allclose(y, y_t, rtol=1e-12, atol=1e-12)
    for g, g_t in zip(grads, grads_t):
        np.testing.assert_allclose(g, g_t, rtol=1e-12, atol=1e-12)


BINARY = {
    "add": (lambda a, b: a + b, leaf, leaf),
    "sub": (lambda a, b: a - b, leaf, leaf),
    "mul": (lambda a, b: a * b, leaf, leaf),
    "div": (lambda a, b: a / b, leaf, positive),
    "pow": (lambda a, b: a ** b, positive, leaf),
    "maximum": (lambda a, b: tl.maximum(a, b), leaf, leaf),
    "minimum": (lambda a, b: a.minimum(b), leaf, leaf),
}


@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize("shape_a", SHAPES)
@pytest.mark.parametrize("shape_b", SHAPES)
def test_binary_ops_broadcast(name, shape_a, shape_b):
    fn, make_a, make_b = BINARY[name]
    assert tl.gradcheck(fn, [make_a(shape_a), make_b(shape_b)])


@pytest.mark.parametrize("name", BINARY)
def test_binary_ops_with_numbers_and_arrays(name):
    fn, make_a, make_b = BINARY[name]
    a = make_a((3, 2))
    constant = make_b((3, 2)).data
    assert tl.gradcheck(lambda t: fn(t, 1.5), [a])
    assert tl.gradcheck(lambda t: fn(t, constant), [a])
    if name not in ("maximum", "minimum"):  # operators: a number or an array on the left too
        assert tl.gradcheck(lambda t: fn(constant, t) if name != "pow" else fn(np.abs(constant) + 0.5, t),
                            [make_b((3, 2))])
    np.testing.assert_allclose(fn(a, constant).data, fn(tl.Tensor(a.data), constant).data)


@settings(max_examples=40, deadline=None)
@given(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
       st.sampled_from(["add", "sub", "mul", "div", "maximum"]))
def test_broadcasting_property(shapes, name):
    fn, make_a, make_b = BINARY[name]
    a, b = make_a(shapes.input_shapes[0]), make_b(shapes.input_shapes[1])
    out = fn(a, b)
    assert out.shape == shapes.result_shape
    out.backward(np.ones(out.shape))
    assert a.grad.shape == a.shape and b.grad.shape == b.shape
    assert tl.gradcheck(fn, [make_a(a.shape), make_b(b.shape)])


OPERATORS = [operator.add, operator.sub, operator.mul, operator.truediv, operator.pow]


@pytest.mark.parametrize("op", OPERATORS, ids=lambda op: op.__name__)
def test_binary_ops_match_torch_with_broadcasting(op):
    a, b = RNG.uniform(0.5, 1.5, (2, 1, 3)), RNG.uniform(0.5, 1.5, (4, 1))
    assert_matches_torch(op, op, a, b)


# --------------------------------------------------------------------------- numerics

def test_division_by_zero_gives_torchs_inf_and_nan_forward_and_backward_without_warnings():
    torch = pytest.importorskip("torch")
    numerator, denominator = np.array([1.0, 0.0, -1.0, 2.0]), np.array([0.0, 0.0, 0.0, -0.0])
    a, b = tl.Tensor(numerator, requires_grad=True), tl.Tensor(denominator, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = a / b
        y.sum().backward()
    a_t, b_t = torch.tensor(numerator, requires_grad=True), torch.tensor(denominator, requires_grad=True)
    (a_t / b_t).sum().backward()
    np.testing.assert_array_equal(y.data, [np.inf, np.nan, -np.inf, -np.inf])
    np.testing.assert_array_equal(y.data, (a_t / b_t).detach().numpy())
    np.testing.assert_array_equal(a.grad, a_t.grad.numpy())
    np.testing.assert_array_equal(b.grad, b_t.grad.numpy())


def test_huge_numbers_overflow_to_inf_in_float32_without_warnings_like_torch():
    torch = pytest.importorskip("torch")
    x = tl.Tensor(np.array([1.0, -2.0], np.float32), requires_grad=True)
    x_t = torch.tensor([1.0, -2.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for ours, theirs in [(x + 1e300, x_t + 1e300), (x * -1e300, x_t * -1e300), (1e300 / x, 1e300 / x_t),
                             (tl.Tensor([1e300, 1.0], dtype=np.float32), torch.tensor([1e300, 1.0]))]:
            assert ours.dtype == np.float32 and theirs.dtype == torch.float32
            np.testing.assert_array_equal(ours.data, theirs.detach().numpy())
        (x * 1e300).backward(np.ones(2, np.float32))
        (x_t * 1e300).backward(torch.ones(2))
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, x_t.grad.numpy())


def test_maximum_and_minimum_share_ties_and_pass_nan_as_torch():
    torch = pytest.importorskip("torch")
    a = np.array([1.0, 2.0, 3.0, np.nan, 1.0])
    b = np.array([1.0, 3.0, 2.0, 0.0, np.nan])
    for name in ("maximum", "minimum"):
        x, y = tl.Tensor(a, requires_grad=True), tl.Tensor(b, requires_grad=True)
        x_t, y_t = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
        out, out_t = getattr(tl, name)(x, y), getattr(torch, name)(x_t, y_t)
        out.sum().backward()
        out_t.sum().backward()
        np.testing.assert_array_equal(out.data, out_t.detach().numpy())
        np.testing.assert_array_equal(x.grad, x_t.grad.numpy())
        np.testing.assert_array_equal(y.grad, y_t.grad.numpy())
    np.testing.assert_array_equal(x.grad[:3], [0.5, 1.0, 0.0])  # a tie splits the gradient in half


def test_pow_gradients_at_zero_base_match_torch_without_warnings():
    # d/da a^0 is 0 everywhere (also at a = 0, where b * a^(b-1) is 0 * inf)
    a = np.array([0.0, 0.0, 0.0, 2.0, 0.0])
    b = np.array([2.0, 0.0, 1.0, 0.0, 3.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_matches_torch(operator.pow, operator.pow, a, b)
        assert_matches_torch(lambda t: t ** 0.0, lambda t: t ** 0.0, a)


def test_pow_gradient_of_sqrt_at_zero_is_inf_like_torch():
    torch = pytest.importorskip("torch")
    x = tl.Tensor([0.0, 4.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (x ** 0.5).sum().backward()
    x_t = torch.tensor([0.0, 4.0], requires_grad=True)
    (x_t ** 0.5).sum().backward()
    np.testing.assert_array_equal(x.grad, x_t.grad.numpy())


def test_method_forms_of_the_operators():
    a, b = leaf((2, 3)), leaf((3,))
    for method, expected in [("add", a.data + b.data), ("sub", a.data - b.data), ("mul", a.data * b.data),
                             ("div", a.data / b.data)]:
        np.testing.assert_array_equal(getattr(a, method)(b).data, expected)
    np.testing.assert_allclose(a.add(b, alpha=2).data, a.data + 2 * b.data)
    np.testing.assert_allclose(a.sub(b, alpha=0.5).data, a.data - 0.5 * b.data)
    np.testing.assert_array_equal(a.neg().data, -a.data)
    np.testing.assert_array_equal(a.pow(2.0).data, a.data ** 2.0)
    base = tl.Tensor(np.abs(a.data) + 0.5)
    np.testing.assert_array_equal(tl.pow(base, b).data, base.data ** b.data)


# --------------------------------------------------------------------------- matmul, addmm

MATMUL_SHAPES = [
    ((3,), (3,)), ((3,), (3, 2)), ((2, 3), (3,)), ((2, 3), (3, 4)),
    ((5, 2, 3), (3, 4)), ((2, 3), (5, 3, 4)), ((5, 2, 3), (5, 3, 4)), ((5, 1, 2, 3), (4, 3, 2)),
    ((3,), (5, 3, 2)), ((5, 2, 3), (3,)),
]


@pytest.mark.parametrize("shape_a,shape_b", MATMUL_SHAPES)
def test_matmul(shape_a, shape_b):
    a, b = leaf(shape_a), leaf(shape_b)
    assert np.allclose((a @ b).data, a.data @ b.data)
    assert np.allclose(a.matmul(b).data, a.data @ b.data)
    assert tl.gradcheck(lambda x, y: x @ y, [a, b])


@pytest.mark.parametrize("shapes", [
    ((3,), (3,)), ((3,), (3, 4)), ((2, 3), (3,)), ((2, 1, 3, 4), (5, 4, 2)), ((4,), (2, 4, 3)),
    ((5, 2, 3, 4), (4,)), ((3, 4), (2, 4, 5)), ((2, 3, 4), (4, 5)), ((1, 3, 4), (2, 4, 5)),
], ids=str)
def test_matmul_shapes_match_torch(shapes):
    a, b = RNG.standard_normal(shapes[0]), RNG.standard_normal(shapes[1])
    assert_matches_torch(operator.matmul, operator.matmul, a, b)
    assert tl.gradcheck(operator.matmul, [tl.Tensor(a, requires_grad=True), tl.Tensor(b, requires_grad=True)])


def test_reflected_matmul_with_array():
    a = leaf((3, 4))
    m = RNG.standard_normal((2, 3))
    assert tl.gradcheck(lambda t: m @ t, [a])


def test_reflected_ops_with_numpy_arrays_on_the_left():
    x = leaf((3, 2), 0.5, 1.5)
    A = RNG.standard_normal((4, 3))
    for y, expected in [(A @ x, A @ x.data), (A[:, :2] - x[:1], A[:, :2] - x.data[:1]),
                        (2 ** x, 2 ** x.data), (A[:2].T / x, A[:2].T / x.data)]:
        assert isinstance(y, tl.Tensor)
        np.testing.assert_allclose(y.data, expected)
    assert tl.gradcheck(lambda t: A @ t, [x])
    assert tl.gradcheck(lambda t: 2.0 ** t - A[:3, :2] / t, [x])


ADDMM_SHAPES = [((), (2, 3), (3, 4)), ((4,), (2, 3), (3, 4)), ((2, 1), (2, 3), (3, 4)), ((2, 4), (2, 3), (3, 4)),
                ((4,), (3,), (3, 4)), ((), (3,), (3, 4))]


@pytest.mark.parametrize("shape_input,shape_a,shape_b", ADDMM_SHAPES)
def test_addmm_is_input_plus_matmul(shape_input, shape_a, shape_b):
    bias, a, b = leaf(shape_input), leaf(shape_a), leaf(shape_b)
    fused = tl.addmm(bias, a, b)
    assert fused.grad_fn.name == "addmm" and fused.shape == (a @ b).shape
    np.testing.assert_allclose(fused.data, bias.data + a.data @ b.data, rtol=1e-14)
    assert tl.gradcheck(tl.addmm, [bias, a, b])
    fused.sum().backward()
    grads = [t.grad.copy() for t in (bias, a, b)]
    for t in (bias, a, b):
        t.grad = None
    (bias + a @ b).sum().backward()
    for g, t in zip(grads, (bias, a, b)):
        np.testing.assert_allclose(g, t.grad, rtol=1e-14)


def test_addmm_matches_torch_and_promotes_like_numpy():
    torch = pytest.importorskip("torch")
    bias, a, b = RNG.standard_normal(4), RNG.standard_normal((2, 3)), RNG.standard_normal((3, 4))
    expected = torch.addmm(*(torch.from_numpy(v) for v in (bias, a, b))).numpy()
    np.testing.assert_allclose(tl.addmm(bias, tl.Tensor(a), b).data, expected, rtol=1e-14)
    scaled = torch.addmm(*(torch.from_numpy(v) for v in (bias, a, b)), beta=0.5, alpha=-2.0).numpy()
    np.testing.assert_allclose(tl.Tensor(bias).addmm(tl.Tensor(a), b, beta=0.5, alpha=-2.0).data, scaled, rtol=1e-14)
    a32, b32 = tl.Tensor(a, dtype=np.float32), tl.Tensor(b, dtype=np.float32)
    assert tl.addmm(1.0, a32, b32).dtype == np.float32
    assert tl.addmm(bias.astype(np.float32), a32, b32).dtype == np.float32
    assert tl.addmm(bias, a32, b32).dtype == np.float64  # a float64 array promotes, as in numpy


@pytest.mark.parametrize("shape_input,shape_a,shape_b,message", [
    ((3, 4), (2, 3), (3, 4), r"input of shape \(3, 4\) does not broadcast to the shape \(2, 4\)"),
    ((2, 2, 4), (2, 3), (3, 4), r"input of shape \(2, 2, 4\) does not broadcast"),
    ((4,), (2, 2), (3, 4), r"addmm: \(2, 2\) @ \(3, 4\): inner dimensions 2 and 3 differ"),
    ((4,), (2, 2, 3), (3, 4), r"addmm: \(2, 2, 3\) @ \(3, 4\): needs a matrix or a vector"),
])
def test_addmm_shape_errors_name_the_shapes(shape_input, shape_a, shape_b, message):
    with pytest.raises(ValueError, match=message):
        tl.addmm(np.ones(shape_input), leaf(shape_a), np.ones(shape_b))


def test_list_operands_are_arrays_as_in_numpy():
    a = leaf((2, 2))
    (a @ [[1.0, 2.0], [3.0, 4.0]]).sum().backward()
    np.testing.assert_array_equal(a.grad, [[3.0, 7.0], [3.0, 7.0]])
    assert tl.gradcheck(lambda t: tl.addmm([1.0, 2.0], t, [[1.0, 2.0], [3.0, 4.0]]), [a])
