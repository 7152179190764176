"""The hand-written BPTT against the autograd graph of the same network, in float64.

Each network is rebuilt here from ``tl.Tensor`` primitives (matmul, elementwise ops, split,
concat, stack), one time step at a time. The loss is linear in the outputs with random weights,
so the manual backward receives exactly those weights as its upstream gradient. Every gradient
must agree to 1e-10 relative.
"""
import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm import manual

TOLERANCE = 1e-10
N_X, N_A, M, T_X = 3, 4, 2, 5
T, B, D, H = 5, 3, 4, 5


def relative_error(manual_grad, autograd_grad):
    assert manual_grad.shape == autograd_grad.shape, f"shape {manual_grad.shape} != {autograd_grad.shape}"
    scale = np.linalg.norm(manual_grad) + np.linalg.norm(autograd_grad)
    return np.linalg.norm(manual_grad - autograd_grad) / scale if scale > 0 else 0.0


def assert_same_gradients(manual_grads, leaves):
    """``manual_grads[name]`` against ``leaves[name].grad`` for every name."""
    assert set(manual_grads) == set(leaves)
    for name, leaf in leaves.items():
        assert leaf.grad is not None, f"autograd gave no gradient for {name}"
        error = relative_error(manual_grads[name], leaf.grad)
        assert error < TOLERANCE, f"gradient {name}: relative error {error:.2e}"


def leaves_of(arrays):
    return {name: tl.Tensor(array, requires_grad=True) for name, array in arrays.items()}


@pytest.fixture
def rng():
    return np.random.default_rng(2024)


@pytest.mark.parametrize("steps", [T_X, T_X - 2])
def test_classic_rnn(rng, steps):
    params = {"Wax": rng.standard_normal((N_A, N_X)), "Waa": rng.standard_normal((N_A, N_A)) * 0.6,
              "ba": rng.standard_normal((N_A, 1)),
              "Wya": rng.standard_normal((2, N_A)), "by": rng.standard_normal((2, 1))}
    x, a0 = rng.standard_normal((N_X, M, T_X)), rng.standard_normal((N_A, M))
    da = rng.standard_normal((N_A, M, steps))
    grads = manual.rnn_backward(da, manual.rnn_forward(x, a0, params)[2])

    leaf = leaves_of({"dx": x, "da0": a0, "dWax": params["Wax"], "dWaa": params["Waa"], "dba": params["ba"]})
    a, loss = leaf["da0"], 0
    for t in range(T_X):
        a = (leaf["dWax"] @ leaf["dx"][:, :, t] + leaf["dWaa"] @ a + leaf["dba"]).tanh()
        if t < steps:
            loss = loss + (a * da[:, :, t]).sum()
    loss.backward()
    assert_same_gradients(grads, leaf)


@pytest.mark.parametrize("steps", [T_X, T_X - 2])
def test_classic_lstm(rng, steps):
    params = {}
    for gate in "fico":
        params["W" + gate] = rng.standard_normal((N_A, N_A + N_X)) * 0.7
        params["b" + gate] = rng.standard_normal((N_A, 1))
    params.update(Wy=rng.standard_normal((2, N_A)), by=rng.standard_normal((2, 1)))
    x, a0 = rng.standard_normal((N_X, M, T_X)), rng.standard_normal((N_A, M))
    da = rng.standard_normal((N_A, M, steps))
    grads = manual.lstm_backward(da, manual.lstm_forward(x, a0, params)[3])

    leaf = leaves_of({"dx": x, "da0": a0, **{"d" + k: v for k, v in params.items() if k[1] in "fico"}})
    a, c, loss = leaf["da0"], tl.Tensor(np.zeros((N_A, M))), 0
    for t in range(T_X):
        concat = tl.concat([a, leaf["dx"][:, :, t]], axis=0)
        ft = (leaf["dWf"] @ concat + leaf["dbf"]).sigmoid()
        it = (leaf["dWi"] @ concat + leaf["dbi"]).sigmoid()
        cct = (leaf["dWc"] @ concat + leaf["dbc"]).tanh()
        ot = (leaf["dWo"] @ concat + leaf["dbo"]).sigmoid()
        c = ft * c + it * cct
        a = ot * c.tanh()
        if t < steps:
            loss = loss + (a * da[:, :, t]).sum()
    loss.backward()
    assert_same_gradients(grads, leaf)


def autograd_layer(kind, leaf):
    """The PyTorch-layout layer from tensor primitives: ``(output, final_states)``."""
    def linear(inputs, weight, bias):
        out = inputs @ weight.T
        return out if bias is None else out + bias

    b_ih, b_hh = leaf.get("bias_ih"), leaf.get("bias_hh")
    h, c = leaf["h0"], leaf.get("c0")
    outputs = []
    for x_t in leaf["x"].unbind(0):
        gi, gh = linear(x_t, leaf["weight_ih"], b_ih), linear(h, leaf["weight_hh"], b_hh)
        if kind == "lstm":
            i, f, g, o = (gi + gh).chunk(4, dim=1)
            c = f.sigmoid() * c + i.sigmoid() * g.tanh()
            h = o.sigmoid() * c.tanh()
        elif kind == "gru":
            (i_r, i_z, i_n), (h_r, h_z, h_n) = gi.chunk(3, dim=1), gh.chunk(3, dim=1)
            r, z = (i_r + h_r).sigmoid(), (i_z + h_z).sigmoid()
            n = (i_n + r * h_n).tanh()
            h = (1 - z) * n + z * h
        else:
            h = (gi + gh).tanh() if kind == "rnn_tanh" else (gi + gh).relu()
        outputs.append(h)
    return tl.stack(outputs, axis=0), ((h, c) if kind == "lstm" else (h,))


def manual_layer(kind, arrays):
    weights = {k: arrays[k] for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh") if k in arrays}
    if kind == "lstm":
        output, finals, cache = manual.lstm_forward_fused(arrays["x"], arrays["h0"], arrays["c0"], **weights)
        return output, finals, lambda go, gf: manual.lstm_backward_fused(go, *gf, cache)
    if kind == "gru":
        output, h_n, cache = manual.gru_forward_fused(arrays["x"], arrays["h0"], **weights)
        return output, (h_n,), lambda go, gf: manual.gru_backward_fused(go, *gf, cache)
    output, h_n, cache = manual.rnn_forward_fused(arrays["x"], arrays["h0"], **weights, nonlinearity=kind[4:])
    return output, (h_n,), lambda go, gf: manual.rnn_backward_fused(go, *gf, cache)


@pytest.mark.parametrize("kind,gates", [("rnn_tanh", 1), ("rnn_relu", 1), ("lstm", 4), ("gru", 3)])
@pytest.mark.parametrize("biases", [("bias_ih", "bias_hh"), ("bias_hh",), ()])
def test_fused_layer(rng, kind, gates, biases):
    arrays = {"x": rng.standard_normal((T, B, D)), "h0": rng.standard_normal((B, H)),
              "weight_ih": rng.standard_normal((gates * H, D)) * 0.6,
              "weight_hh": rng.standard_normal((gates * H, H)) * 0.6}
    if kind == "lstm":
        arrays["c0"] = rng.standard_normal((B, H))
    arrays.update({name: rng.standard_normal(gates * H) for name in biases})
    output, finals, backward = manual_layer(kind, arrays)
    grad_output = rng.standard_normal(output.shape)
    grad_finals = [rng.standard_normal(f.shape) for f in finals]
    grads = backward(grad_output, grad_finals)

    leaf = leaves_of(arrays)
    auto_output, auto_finals = autograd_layer(kind, leaf)
    np.testing.assert_allclose(output, auto_output.data, rtol=1e-12, atol=1e-14)
    loss = (auto_output * grad_output).sum()
    for final, grad in zip(auto_finals, grad_finals):
        loss = loss + (final * grad).sum()
    loss.backward()
    assert_same_gradients(grads, leaf)
