"""tinygrad_lstm.manual.fused: one layer in PyTorch's layout, against float64 central differences,
PyTorch's equations, PyTorch itself (if installed) and the classic layout on the same weights."""
import warnings

import numpy as np
import pytest

from test_manual_classic import (M, N_A, N_X, T_X, assert_gradients,  # tests/ is on sys.path
                                 classic_lstm_parameters, classic_rnn_parameters)
from tinygrad_lstm import manual

T, B, D, H = 4, 3, 3, 4
KINDS = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


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


# The classic and the fused layouts agreeing on the same weights (the adapters are tested in test_manual_adapters.py).

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
