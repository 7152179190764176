"""tinygrad_lstm.checks: central_differences (the one finite-difference loop of gradcheck and compare_gradients), gradcheck and gradgradcheck."""
import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm.checks import central_differences


def test_derivatives_of_a_vector_function_and_the_array_is_restored():
    a = np.array([[0.3, -1.2], [2.0, 0.5]])
    original = a.copy()
    jacobian = central_differences(lambda: np.array([np.sin(a).sum(), (a ** 2)[0, 1]]), a)
    expected = np.zeros((4, 2))
    expected[:, 0] = np.cos(original).reshape(-1)
    expected[1, 1] = 2 * original[0, 1]
    np.testing.assert_allclose(jacobian, expected, rtol=1e-8, atol=1e-9)
    np.testing.assert_array_equal(a, original)


def test_a_subset_of_indices_and_a_scalar_function():
    a = np.linspace(-1, 1, 5)
    values = central_differences(lambda: float(np.exp(a).sum()), a, indices=[4, 0], eps=1e-5)
    assert values.shape == (2,) and values.dtype == np.float64
    np.testing.assert_allclose(values, np.exp([1.0, -1.0]), rtol=1e-9)


def test_a_view_that_cannot_be_perturbed_in_place_is_refused():
    a = np.zeros((3, 4))[:, ::2]
    with pytest.raises(ValueError, match=r"central_differences: the array must be contiguous .*shape \(3, 2\)"):
        central_differences(lambda: a.sum(), a)


def test_numerical_jacobian_is_built_on_it():
    x = tl.Tensor(np.array([0.5, -0.25, 2.0]), requires_grad=True)
    w = tl.Tensor(np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), requires_grad=True)
    (j_x, j_w), (k_x, k_w) = tl.numerical_jacobian(lambda x, w: ((x @ w).tanh(), x * 2.0), [x, w])
    assert j_x.shape == (2, 3) and j_w.shape == (2, 6) and k_x.shape == (3, 3) and k_w.shape == (3, 6)
    np.testing.assert_allclose(k_x, 2 * np.eye(3), atol=1e-9)
    assert not k_w.any()
    analytical = tl.analytical_jacobian(lambda x, w: ((x @ w).tanh(), x * 2.0), [x, w])
    np.testing.assert_allclose(j_w, analytical[0][1], rtol=1e-6, atol=1e-9)


# --------------------------------------------------------------------------- gradcheck
def test_gradcheck_tuples_constants_and_failure():
    rng = np.random.default_rng(1234)
    x, c = tl.Tensor(rng.uniform(0.5, 1.5, 3), requires_grad=True), tl.Tensor(rng.standard_normal(3))
    assert tl.gradcheck(lambda a, b: (a.sum(), a * b, a.split(3)), [x, c])

    class Wrong(tl.Function):
        def forward(ctx, a):
            return a * a

        def backward(ctx, grad_output):
            return grad_output

    assert not tl.gradcheck(Wrong.apply, [x], raise_exception=False)
    with pytest.raises(tl.GradcheckError, match="output 0 with respect to input 0"):
        tl.gradcheck(Wrong.apply, [x])
    with pytest.raises(TypeError):
        tl.gradcheck(lambda a: a * 2, [tl.Tensor(rng.uniform(0.5, 1.5, 3).astype(np.float32), requires_grad=True)])
    assert x.grad is None  # gradcheck works on copies


def test_gradcheck_rejects_float32_and_keeps_user_grads():
    with pytest.raises(TypeError, match="float64"):
        tl.gradcheck(lambda t: t * 2, [tl.Tensor(np.ones(2, dtype=np.float32), requires_grad=True)])
    with pytest.raises(TypeError, match="gradgradcheck: input 0 is float32"):
        tl.gradgradcheck(lambda t: t * t, [tl.Tensor(np.ones(2, dtype=np.float32), requires_grad=True)])
    x = tl.Tensor([1.0], requires_grad=True)
    x.grad = np.array([7.0])
    tl.gradcheck(lambda t: t * 2, [x])
    assert x.grad[0] == 7.0


# --------------------------------------------------------------------------- gradgradcheck
def test_gradgradcheck_passes_for_composed_ops_and_fails_for_a_wrong_vjp():
    x = tl.Tensor([0.5, -1.0], requires_grad=True)
    w = tl.Tensor(np.random.default_rng(0).standard_normal((2, 3)), requires_grad=True)
    assert tl.gradgradcheck(lambda a, b: (a @ b).sigmoid() * (a @ b).tanh(), [x, w])

    class Cube(tl.Function):
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a ** 3

        def backward(ctx, grad_output):
            (a,) = ctx.saved_tensors
            return 3 * a * a * grad_output

    class WrongValue(Cube):
        def vjp(ctx, grad_output):  # 3a instead of 3a^2
            return 3 * ctx.saved_input(0, ctx.saved_tensors[0]) * grad_output

    class NoSecondDerivative(Cube):
        def vjp(ctx, grad_output):  # the right value, but a constant: the graph loses a
            a = ctx.saved_tensors[0]
            return 3 * (a * a) * grad_output

    with pytest.raises(tl.GradcheckError, match="differs between backward and the differentiable vjp"):
        tl.gradgradcheck(WrongValue.apply, [x])
    with pytest.raises(tl.GradcheckError, match="Jacobian mismatch"):
        tl.gradgradcheck(NoSecondDerivative.apply, [x])
    assert not tl.gradgradcheck(NoSecondDerivative.apply, [x], raise_exception=False)


def _values(result):
    """The values of a max over a dim (PyTorch returns them with the indices)."""
    return getattr(result, "values", result)


SECOND_ORDER = {  # name: (function of tensors, shapes); the same code runs on tl and torch tensors
    "mul_div": (lambda a, b: a * b / (b * b + 1), [(3, 4), (4,)]),
    "pow": (lambda a, b: (a * a + 1) ** (b * b), [(3,), (3,)]),
    "matmul": (lambda a, b: (a @ b).tanh(), [(2, 3), (3, 4)]),
    "batched_matmul": (lambda a, b: (a @ b).sigmoid(), [(2, 2, 3), (3, 4)]),
    "vector_matmul": (lambda a, b: (a @ b).tanh(), [(3,), (3, 4)]),
    "exp_log": (lambda a: ((a * a).exp() + 1).log(), [(2, 3)]),
    "relu_abs": (lambda a: (a * a).relu() * a.abs(), [(2, 3)]),
    "reductions": (lambda a: a.sum(axis=1) * a.mean(axis=0).sum() + _values(a.max(axis=1)) ** 2, [(2, 3)]),
    "indexing": (lambda a: a[[0, 0, 1]] * a[1], [(2, 3)]),
    "split_concat": (lambda a: tl.concat([p * p for p in a.chunk(3, axis=1)], axis=0)
                     if isinstance(a, tl.Tensor) else __import__("torch").cat([p * p for p in a.chunk(3, 1)], 0),
                     [(2, 3)]),
    "unbind_stack": (lambda a: tl.stack([p * p for p in a.unbind(1)], axis=0)
                     if isinstance(a, tl.Tensor) else __import__("torch").stack([p * p for p in a.unbind(1)], 0),
                     [(2, 3)]),
}


@pytest.mark.parametrize("name", SECOND_ORDER)
def test_second_derivatives_of_ops_by_central_differences_and_against_torch(name):
    fn, shapes = SECOND_ORDER[name]
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal(shape) for shape in shapes]
    inputs = [tl.Tensor(a, requires_grad=True) for a in arrays]
    assert tl.gradgradcheck(fn, inputs)
    torch = pytest.importorskip("torch")
    inputs_t = [torch.tensor(a, requires_grad=True) for a in arrays]
    grads = tl.grad(fn(*inputs).sum(), inputs, create_graph=True)
    second = tl.grad(sum((g * g).sum() for g in grads), inputs)
    grads_t = torch.autograd.grad(fn(*inputs_t).sum(), inputs_t, create_graph=True)
    second_t = torch.autograd.grad(sum((g * g).sum() for g in grads_t), inputs_t)
    for mine, theirs in zip(second, second_t):
        np.testing.assert_allclose(mine.data, theirs.numpy(), rtol=1e-10, atol=1e-12)
