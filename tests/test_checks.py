"""tinygrad_lstm.checks.central_differences: the one finite-difference loop of gradcheck and compare_gradients."""
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
