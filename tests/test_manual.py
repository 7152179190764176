"""Tests of the hand-written BPTT reference against float64 central differences.

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


# Section 1: the classic column-major API.

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


# Section 2: the fused reference in PyTorch's layout.

T, B, D, H = 4, 3, 3, 4
KINDS = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}


def fused_case(rng, kind, biases=("bias_ih", "bias_hh"), dtype=np.float64, scale=1.0):
    gates = KINDS[kind]
    inputs = {
        "x": rng.standard_normal((T, B, D)) * scale,
        "h0": rng.standard_normal((B, H)),
        "weight_ih": rng.standard_normal((gates * H, D)) * 0.6,
        "weight_hh": rng.standard_normal((gates * H, H)) * 0.6,
    }
    if kind == "lstm":
        inputs["c0"] = rng.standard_normal((B, H))
    for name in biases:
        inputs[name] = rng.standard_normal(gates * H)
    return {name: value.astype(dtype) for name, value in inputs.items()}


def fused_forward(kind, inputs):
    """``(output, final_states, cache)`` with ``final_states`` always a tuple."""
    weights = {k: inputs[k] for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh") if k in inputs}
    if kind == "lstm":
        return manual.lstm_forward_fused(inputs["x"], inputs["h0"], inputs["c0"], **weights)
    if kind == "gru":
        output, h_n, cache = manual.gru_forward_fused(inputs["x"], inputs["h0"], **weights)
    else:
        output, h_n, cache = manual.rnn_forward_fused(inputs["x"], inputs["h0"], **weights,
                                                      nonlinearity=kind[4:])
    return output, (h_n,), cache


def fused_backward(kind, grad_output, grad_finals, cache):
    if kind == "lstm":
        return manual.lstm_backward_fused(grad_output, *grad_finals, cache)
    if kind == "gru":
        return manual.gru_backward_fused(grad_output, *grad_finals, cache)
    return manual.rnn_backward_fused(grad_output, *grad_finals, cache)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("biases", [("bias_ih", "bias_hh"), ("bias_ih",), ("bias_hh",), ()])
@pytest.mark.parametrize("final_state_grads", [True, False])
def test_fused_backward(rng, kind, biases, final_state_grads):
    inputs = fused_case(rng, kind, biases)
    output, finals, cache = fused_forward(kind, inputs)
    grad_output = rng.standard_normal(output.shape)
    grad_finals = [rng.standard_normal(f.shape) if final_state_grads else None for f in finals]
    grads = fused_backward(kind, grad_output, grad_finals, cache)

    def loss():
        output, finals, _ = fused_forward(kind, inputs)
        total = np.sum(grad_output * output)
        return total + sum(np.sum(g * f) for g, f in zip(grad_finals, finals) if g is not None)

    assert_gradients(grads, inputs, loss)


def reference_forward(kind, inputs):
    """The PyTorch equations written plainly, one step at a time, for the fused forwards."""
    w_ih, w_hh = inputs["weight_ih"], inputs["weight_hh"]
    b_ih, b_hh = inputs.get("bias_ih", 0.0), inputs.get("bias_hh", 0.0)
    h, c = inputs["h0"], inputs.get("c0")
    logistic = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    outputs = []
    for x in inputs["x"]:
        gi, gh = x @ w_ih.T + b_ih, h @ w_hh.T + b_hh
        if kind == "lstm":
            i, f, g, o = np.split(gi + gh, 4, axis=1)
            c = logistic(f) * c + logistic(i) * np.tanh(g)
            h = logistic(o) * np.tanh(c)
        elif kind == "gru":
            (i_r, i_z, i_n), (h_r, h_z, h_n) = np.split(gi, 3, axis=1), np.split(gh, 3, axis=1)
            r, z = logistic(i_r + h_r), logistic(i_z + h_z)
            n = np.tanh(i_n + r * h_n)
            h = (1 - z) * n + z * h
        else:
            h = np.tanh(gi + gh) if kind == "rnn_tanh" else np.maximum(gi + gh, 0)
        outputs.append(h)
    return np.stack(outputs), ((h, c) if kind == "lstm" else (h,))


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("biases", [("bias_ih", "bias_hh"), ("bias_hh",), ()])
def test_fused_forward_matches_pytorch_equations(rng, kind, biases):
    inputs = fused_case(rng, kind, biases)
    output, finals, _ = fused_forward(kind, inputs)
    expected_output, expected_finals = reference_forward(kind, inputs)
    np.testing.assert_allclose(output, expected_output, rtol=1e-12, atol=1e-14)
    for final, expected in zip(finals, expected_finals):
        np.testing.assert_allclose(final, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("bias", [True, False])
def test_fused_matches_pytorch(rng, kind, bias):
    """Outputs and every gradient equal torch.nn.RNN/LSTM/GRU's with the same weights (if installed)."""
    torch = pytest.importorskip("torch")
    inputs = fused_case(rng, kind, ("bias_ih", "bias_hh") if bias else ())
    module = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}.get(kind, torch.nn.RNN)
    options = {"nonlinearity": kind[4:]} if kind.startswith("rnn") else {}
    layer = module(D, H, bias=bias, **options).double()
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            if name in inputs:
                getattr(layer, name + "_l0").copy_(torch.from_numpy(inputs[name]))
    x = torch.tensor(inputs["x"], requires_grad=True)
    states = [torch.tensor(inputs[name][None], requires_grad=True) for name in ("h0", "c0") if name in inputs]
    output, finals = layer(x, tuple(states) if kind == "lstm" else states[0])
    finals = finals if kind == "lstm" else (finals,)

    manual_output, manual_finals, cache = fused_forward(kind, inputs)
    grad_output = rng.standard_normal(manual_output.shape)
    grad_finals = [rng.standard_normal(f.shape) for f in manual_finals]
    grads = fused_backward(kind, grad_output, grad_finals, cache)
    loss = (output * torch.from_numpy(grad_output)).sum()
    loss = loss + sum((f[0] * torch.from_numpy(g)).sum() for f, g in zip(finals, grad_finals))
    loss.backward()

    np.testing.assert_allclose(manual_output, output.detach().numpy(), rtol=1e-12, atol=1e-14)
    expected = {"x": x.grad, **{name: s.grad[0] for name, s in zip(("h0", "c0"), states)}}
    expected.update({name: getattr(layer, name + "_l0").grad for name in grads if name.startswith(("weight", "bias"))})
    assert set(expected) == set(grads)
    for name, value in grads.items():
        np.testing.assert_allclose(value, expected[name].numpy(), rtol=1e-10, atol=1e-13, err_msg=name)


@pytest.mark.parametrize("kind", list(KINDS))
def test_fused_keeps_float32_and_matches_float64(rng, kind):
    inputs = fused_case(rng, kind)
    single = {name: value.astype(np.float32) for name, value in inputs.items()}
    grad_output = rng.standard_normal((T, B, H))
    results = {}
    for dtype, case in ((np.float64, inputs), (np.float32, single)):
        output, finals, cache = fused_forward(kind, case)
        grads = fused_backward(kind, grad_output.astype(dtype), [f * 0 + 1 for f in finals], cache)
        arrays = {"output": output, **{f"final{k}": f for k, f in enumerate(finals)}, **grads}
        assert {a.dtype for a in arrays.values()} == {np.dtype(dtype)}
        results[dtype] = arrays
    for name, value in results[np.float32].items():
        np.testing.assert_allclose(value, results[np.float64][name], rtol=1e-4, atol=1e-4, err_msg=name)


@pytest.mark.parametrize("kind", list(KINDS))
def test_fused_extreme_inputs_raise_no_warnings(rng, kind):
    inputs = fused_case(rng, kind, dtype=np.float32, scale=1e4)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        output, finals, cache = fused_forward(kind, inputs)
        grads = fused_backward(kind, np.ones_like(output), [np.ones_like(f) for f in finals], cache)
    for array in (output, *finals, *grads.values()):
        assert np.all(np.isfinite(array))


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


@pytest.mark.parametrize("kind", list(KINDS))
def test_fused_cache_survives_backward_and_output_is_read_only(rng, kind):
    inputs = fused_case(rng, kind)
    output, finals, cache = fused_forward(kind, inputs)
    assert not output.flags.writeable
    grad_output = rng.standard_normal(output.shape)
    first = fused_backward(kind, grad_output, [None] * len(finals), cache)
    second = fused_backward(kind, grad_output, [None] * len(finals), cache)
    for name in first:
        np.testing.assert_array_equal(first[name], second[name])


def test_fused_rejects_bad_input():
    x, h0 = np.zeros((T, B, D)), np.zeros((B, H))
    with pytest.raises(ValueError, match="weight_ih"):
        manual.lstm_forward_fused(x, h0, h0, np.zeros((4 * H, D + 1)), np.zeros((4 * H, H)))
    with pytest.raises(ValueError, match="weight_hh"):
        manual.gru_forward_fused(x, h0, np.zeros((3 * H, D)), np.zeros((4 * H, H)))
    with pytest.raises(ValueError, match="h0"):
        manual.rnn_forward_fused(x, np.zeros((B + 1, H)), np.zeros((H, D)), np.zeros((H, H)))
    with pytest.raises(ValueError, match="bias_hh"):
        manual.rnn_forward_fused(x, h0, np.zeros((H, D)), np.zeros((H, H)), bias_hh=np.zeros(H + 1))
    with pytest.raises(ValueError, match="nonlinearity"):
        manual.rnn_forward_fused(x, h0, np.zeros((H, D)), np.zeros((H, H)), nonlinearity="sigmoid")


# Sections 1 and 2 agreeing on the same weights (the adapters are tested in test_manual_adapters.py).

@pytest.mark.parametrize("steps", [T_X, T_X - 1])
def test_classic_and_fused_rnn_agree(rng, steps):
    params = classic_rnn_parameters(rng)
    x, a0 = rng.standard_normal((N_X, M, T_X)), rng.standard_normal((N_A, M))
    da = rng.standard_normal((N_A, M, steps))
    a, _, caches = manual.rnn_forward(x, a0, params)
    classic = manual.rnn_backward(da, caches)

    torch_params = manual.rnn_params_to_torch(params)
    output, h_n, cache = manual.rnn_forward_fused(manual.sequence_to_torch(x), manual.state_to_torch(a0),
                                                  **torch_params)
    np.testing.assert_allclose(output, manual.sequence_to_torch(a), rtol=1e-12)
    np.testing.assert_allclose(h_n, a[:, :, -1].T, rtol=1e-12)
    grad_output = np.zeros(output.shape)
    grad_output[:steps] = manual.sequence_to_torch(da)
    fused = manual.rnn_backward_fused(grad_output, None, cache)

    np.testing.assert_allclose(fused["x"], manual.sequence_to_torch(classic["dx"]), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(fused["h0"], classic["da0"].T, rtol=1e-10)
    as_torch = manual.rnn_grads_to_torch(classic)
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        np.testing.assert_allclose(fused[name], as_torch[name], rtol=1e-10, err_msg=name)


@pytest.mark.parametrize("steps", [T_X, T_X - 1])
def test_classic_and_fused_lstm_agree(rng, steps):
    params = classic_lstm_parameters(rng)
    x, a0 = rng.standard_normal((N_X, M, T_X)), rng.standard_normal((N_A, M))
    da = rng.standard_normal((N_A, M, steps))
    a, _, c, caches = manual.lstm_forward(x, a0, params)
    classic = manual.lstm_backward(da, caches)

    torch_params = manual.lstm_params_to_torch(params)
    output, (h_n, c_n), cache = manual.lstm_forward_fused(
        manual.sequence_to_torch(x), manual.state_to_torch(a0), np.zeros((M, N_A)), **torch_params)
    np.testing.assert_allclose(output, manual.sequence_to_torch(a), rtol=1e-12)
    np.testing.assert_allclose(c_n, c[:, :, -1].T, rtol=1e-12)
    grad_output = np.zeros(output.shape)
    grad_output[:steps] = manual.sequence_to_torch(da)
    fused = manual.lstm_backward_fused(grad_output, None, None, cache)

    np.testing.assert_allclose(fused["x"], manual.sequence_to_torch(classic["dx"]), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(fused["h0"], classic["da0"].T, rtol=1e-10)
    as_torch = manual.lstm_grads_to_torch(classic)
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        np.testing.assert_allclose(fused[name], as_torch[name], rtol=1e-10, err_msg=name)
