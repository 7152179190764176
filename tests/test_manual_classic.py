"""tinygrad_lstm.manual.classic: the column-major BPTT most courses teach, against its equations and
float64 central differences, and the gradient check catching the formulas that circulate wrongly.

Each loss is linear in the network's outputs with random weights (``sum(weights * output)``),
so the upstream gradient given to the manual backward is exactly those weights.
"""
import warnings

import numpy as np
import pytest

from tinygrad_lstm import manual

TOLERANCE = 1e-7
N_X, N_A, N_Y, M, T_X = 3, 4, 2, 2, 4


def numerical_gradient(loss, array, eps=1e-6):
    """Central differences of ``loss()`` with respect to ``array``, perturbed in place."""
    grad = np.zeros_like(array)
    flat, flat_grad = array.reshape(-1), grad.reshape(-1)
    assert np.shares_memory(flat, array), "array must be contiguous to be perturbed in place"
    for k in range(flat.size):
        original = flat[k]
        flat[k] = original + eps
        plus = loss()
        flat[k] = original - eps
        minus = loss()
        flat[k] = original
        flat_grad[k] = (plus - minus) / (2 * eps)
    return grad


def relative_error(analytic, numeric):
    assert analytic.shape == numeric.shape, f"shape {analytic.shape} != {numeric.shape}"
    scale = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    return np.linalg.norm(analytic - numeric) / scale if scale > 0 else 0.0


def assert_gradients(analytic, inputs, loss):
    """Check ``analytic[name]`` against central differences of ``loss`` in ``inputs[name]``."""
    assert set(analytic) == set(inputs)
    for name, array in inputs.items():
        error = relative_error(analytic[name], numerical_gradient(loss, array))
        assert error < TOLERANCE, f"gradient {name}: relative error {error:.2e}"


def classic_rnn_parameters(rng):
    return {
        "Wax": rng.standard_normal((N_A, N_X)),
        "Waa": rng.standard_normal((N_A, N_A)) * 0.5,
        "Wya": rng.standard_normal((N_Y, N_A)),
        "ba": rng.standard_normal((N_A, 1)),
        "by": rng.standard_normal((N_Y, 1)),
    }


def classic_lstm_parameters(rng):
    params = {}
    for gate in "fico":
        params["W" + gate] = rng.standard_normal((N_A, N_A + N_X)) * 0.7
        params["b" + gate] = rng.standard_normal((N_A, 1))
    params["Wy"] = rng.standard_normal((N_Y, N_A))
    params["by"] = rng.standard_normal((N_Y, 1))
    return params


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def test_rnn_cell_forward_matches_its_equations(rng):
    params = classic_rnn_parameters(rng)
    xt, a_prev = rng.standard_normal((N_X, M)), rng.standard_normal((N_A, M))
    a_next, yt_pred, cache = manual.rnn_cell_forward(xt, a_prev, params)
    expected_a = np.tanh(params["Wax"] @ xt + params["Waa"] @ a_prev + params["ba"])
    logits = params["Wya"] @ expected_a + params["by"]
    np.testing.assert_allclose(a_next, expected_a, rtol=1e-12)
    np.testing.assert_allclose(yt_pred, np.exp(logits) / np.exp(logits).sum(axis=0), rtol=1e-12)
    assert cache[0] is a_next and cache[1] is a_prev and cache[2] is xt and cache[3] is params


def test_lstm_cell_forward_matches_its_equations(rng):
    params = classic_lstm_parameters(rng)
    xt = rng.standard_normal((N_X, M))
    a_prev, c_prev = rng.standard_normal((N_A, M)), rng.standard_normal((N_A, M))
    a_next, c_next, yt_pred, cache = manual.lstm_cell_forward(xt, a_prev, c_prev, params)
    concat = np.vstack([a_prev, xt])
    gate = {g: params["W" + g] @ concat + params["b" + g] for g in "fico"}
    logistic = {g: 1 / (1 + np.exp(-gate[g])) for g in "fio"}
    expected_c = logistic["f"] * c_prev + logistic["i"] * np.tanh(gate["c"])
    np.testing.assert_allclose(c_next, expected_c, rtol=1e-12)
    np.testing.assert_allclose(a_next, logistic["o"] * np.tanh(expected_c), rtol=1e-12)
    np.testing.assert_allclose(yt_pred.sum(axis=0), 1.0)
    assert len(cache) == 10 and cache[-1] is params and cache[-2] is xt


def test_rnn_cell_backward(rng):
    params = classic_rnn_parameters(rng)
    xt, a_prev = rng.standard_normal((N_X, M)), rng.standard_normal((N_A, M))
    da_next = rng.standard_normal((N_A, M))
    _, _, cache = manual.rnn_cell_forward(xt, a_prev, params)
    grads = manual.rnn_cell_backward(da_next, cache)

    def loss():
        return np.sum(da_next * manual.rnn_cell_forward(xt, a_prev, params)[0])

    inputs = {"dxt": xt, "da_prev": a_prev, "dWax": params["Wax"], "dWaa": params["Waa"], "dba": params["ba"]}
    assert_gradients(grads, inputs, loss)


def test_lstm_cell_backward(rng):
    params = classic_lstm_parameters(rng)
    xt = rng.standard_normal((N_X, M))
    a_prev, c_prev = rng.standard_normal((N_A, M)), rng.standard_normal((N_A, M))
    da_next, dc_next = rng.standard_normal((N_A, M)), rng.standard_normal((N_A, M))
    cache = manual.lstm_cell_forward(xt, a_prev, c_prev, params)[3]
    grads = manual.lstm_cell_backward(da_next, dc_next, cache)

    def loss():
        a_next, c_next, _, _ = manual.lstm_cell_forward(xt, a_prev, c_prev, params)
        return np.sum(da_next * a_next) + np.sum(dc_next * c_next)

    inputs = {"dxt": xt, "da_prev": a_prev, "dc_prev": c_prev}
    inputs.update({"d" + name: params[name] for g in "fico" for name in ("W" + g, "b" + g)})
    assert_gradients(grads, inputs, loss)


@pytest.mark.parametrize("steps", [T_X, T_X - 2])
def test_rnn_backward(rng, steps):
    params = classic_rnn_parameters(rng)
    x, a0 = rng.standard_normal((N_X, M, T_X)), rng.standard_normal((N_A, M))
    da = rng.standard_normal((N_A, M, steps))
    grads = manual.rnn_backward(da, manual.rnn_forward(x, a0, params)[2])

    def loss():
        return np.sum(da * manual.rnn_forward(x, a0, params)[0][:, :, :steps])

    inputs = {"dx": x, "da0": a0, "dWax": params["Wax"], "dWaa": params["Waa"], "dba": params["ba"]}
    assert_gradients(grads, inputs, loss)


@pytest.mark.parametrize("steps", [T_X, T_X - 2])
def test_lstm_backward(rng, steps):
    params = classic_lstm_parameters(rng)
    x, a0 = rng.standard_normal((N_X, M, T_X)), rng.standard_normal((N_A, M))
    da = rng.standard_normal((N_A, M, steps))
    a, y, c, caches = manual.lstm_forward(x, a0, params)
    assert a.shape == c.shape == (N_A, M, T_X) and y.shape == (N_Y, M, T_X)
    grads = manual.lstm_backward(da, caches)

    def loss():
        return np.sum(da * manual.lstm_forward(x, a0, params)[0][:, :, :steps])

    inputs = {"dx": x, "da0": a0}
    inputs.update({"d" + name: params[name] for g in "fico" for name in ("W" + g, "b" + g)})
    assert_gradients(grads, inputs, loss)


def test_classic_keeps_float32(rng):
    params = {k: v.astype(np.float32) for k, v in classic_lstm_parameters(rng).items()}
    x = rng.standard_normal((N_X, M, T_X)).astype(np.float32)
    a0 = rng.standard_normal((N_A, M)).astype(np.float32)
    a, y, c, caches = manual.lstm_forward(x, a0, params)
    grads = manual.lstm_backward(np.ones_like(a), caches)
    assert {a.dtype, y.dtype, c.dtype} | {g.dtype for g in grads.values()} == {np.dtype(np.float32)}
    rnn_params = {k: v.astype(np.float32) for k, v in classic_rnn_parameters(rng).items()}
    a, y, caches = manual.rnn_forward(x, a0, rnn_params)
    grads = manual.rnn_backward(np.ones_like(a), caches)
    assert {a.dtype, y.dtype} | {g.dtype for g in grads.values()} == {np.dtype(np.float32)}


# The checker must catch the formulas that circulate wrongly (docs/math.md, "Common mistakes").

def _lstm_cell_case(rng):
    params = classic_lstm_parameters(rng)
    xt = rng.standard_normal((N_X, M))
    a_prev, c_prev = rng.standard_normal((N_A, M)), rng.standard_normal((N_A, M))
    da_next, dc_next = rng.standard_normal((N_A, M)), rng.standard_normal((N_A, M))
    cache = manual.lstm_cell_forward(xt, a_prev, c_prev, params)[3]

    def loss():
        a_next, c_next, _, _ = manual.lstm_cell_forward(xt, a_prev, c_prev, params)
        return np.sum(da_next * a_next) + np.sum(dc_next * c_next)

    return params, cache, da_next, dc_next, loss


def _wrong_lstm_gradient(mistake, cache, da_next, dc_next):
    """One gradient computed with a known mistake, and the parameter it claims to be the gradient of."""
    a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, _ = cache
    concat = np.vstack([a_prev, xt])
    dc = dc_next + da_next * ot * (1 - np.tanh(c_next) ** 2)
    if mistake == "missing parentheses":
        dcct = dc_next * it + da_next * ot * (1 - np.tanh(c_next) ** 2) * it * (1 - cct**2)
        return dcct @ concat.T, "Wc"
    if mistake == "tanh of a tanh output":
        dcct = dc * it * (1 - np.tanh(cct) ** 2)
        return dcct @ concat.T, "Wc"
    if mistake == "bias gradient leaking between gates":
        dit = dc * cct * it * (1 - it)
        dft = dc * c_prev * ft * (1 - ft)
        return (dit + dft).sum(axis=1, keepdims=True), "bi"
    raise ValueError(mistake)


@pytest.mark.parametrize("mistake", ["missing parentheses", "tanh of a tanh output",
                                     "bias gradient leaking between gates"])
def test_gradient_check_catches_wrong_lstm_formula(rng, mistake):
    params, cache, da_next, dc_next, loss = _lstm_cell_case(rng)
    wrong, name = _wrong_lstm_gradient(mistake, cache, da_next, dc_next)
    numeric = numerical_gradient(loss, params[name])
    assert relative_error(wrong, numeric) > 1e-3
    right = manual.lstm_cell_backward(da_next, dc_next, cache)["d" + name]
    assert relative_error(right, numeric) < TOLERANCE


def test_gradient_check_catches_row_slice_instead_of_column_slice(rng):
    params = classic_lstm_parameters(rng)
    dft = rng.standard_normal((N_A, M))
    with pytest.raises(AssertionError, match="shape"):
        relative_error(params["Wf"][:N_A, :].T @ dft, params["Wf"][:, :N_A].T @ dft)


def test_gradient_check_catches_gradients_not_carried_through_time(rng):
    params = classic_rnn_parameters(rng)
    x, a0 = rng.standard_normal((N_X, M, T_X)), rng.standard_normal((N_A, M))
    da = rng.standard_normal((N_A, M, T_X))
    cell_caches = manual.rnn_forward(x, a0, params)[2][0]
    wrong = sum(manual.rnn_cell_backward(da[:, :, t], cell_caches[t])["dWaa"] for t in range(T_X))
    numeric = numerical_gradient(lambda: np.sum(da * manual.rnn_forward(x, a0, params)[0]), params["Waa"])
    assert relative_error(wrong, numeric) > 1e-3


def test_classic_extreme_inputs_raise_no_warnings(rng):
    x = (rng.standard_normal((N_X, M, T_X)) * 1e4).astype(np.float32)
    a0 = np.zeros((N_A, M), np.float32)
    lstm_params = {k: (v * 100).astype(np.float32) for k, v in classic_lstm_parameters(rng).items()}
    rnn_params = {k: (v * 100).astype(np.float32) for k, v in classic_rnn_parameters(rng).items()}
    # A softmax probability of exp(-100) rounds to 0, correctly: underflow is not an error here.
    with warnings.catch_warnings(), np.errstate(all="raise", under="ignore"):
        warnings.simplefilter("error")
        a, y, c, caches = manual.lstm_forward(x, a0, lstm_params)
        lstm_grads = manual.lstm_backward(np.ones_like(a), caches)
        a_rnn, y_rnn, rnn_caches = manual.rnn_forward(x, a0, rnn_params)
        rnn_grads = manual.rnn_backward(np.ones_like(a_rnn), rnn_caches)
    for array in (a, y, c, a_rnn, y_rnn, *lstm_grads.values(), *rnn_grads.values()):
        assert np.all(np.isfinite(array))
