"""Autograd through `tl.nn.RNN/LSTM/GRU` against the hand-written fused BPTT of `tl.manual`, float64.

Two independent derivations of the same gradients: the graph of the modules' ops, and the
manual backward. They must agree to 1e-10 relative for every gradient.
"""
import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm import manual

T, B, D, H = 6, 3, 5, 4
TOLERANCE = 1e-10


def relative_error(expected, actual):
    assert expected.shape == actual.shape, f"shape {expected.shape} != {actual.shape}"
    scale = np.linalg.norm(expected) + np.linalg.norm(actual)
    return np.linalg.norm(expected - actual) / scale if scale > 0 else 0.0


CASES = [("RNN", "tanh", True), ("RNN", "relu", True), ("RNN", "tanh", False),
         ("LSTM", None, True), ("LSTM", None, False), ("GRU", None, True), ("GRU", None, False)]


@pytest.mark.parametrize("kind, nonlinearity, bias", CASES, ids=[f"{k}-{n}-bias={b}" for k, n, b in CASES])
def test_module_gradients_equal_the_manual_fused_backward(kind, nonlinearity, bias):
    tl.manual_seed(0)
    kwargs = {"nonlinearity": nonlinearity} if nonlinearity else {}
    module = getattr(tl.nn, kind)(D, H, bias=bias, dtype=np.float64, **kwargs)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((T, B, D))
    n_states = 2 if kind == "LSTM" else 1
    initial = [rng.standard_normal((B, H)) for _ in range(n_states)]
    grad_output = rng.standard_normal((T, B, H))
    grad_finals = [rng.standard_normal((B, H)) for _ in range(n_states)]

    weights = {name[:-3]: array for name, array in module.state_dict().items()}  # "weight_ih_l0" -> "weight_ih"
    forward = getattr(manual, f"{kind.lower()}_forward_fused")
    backward = getattr(manual, f"{kind.lower()}_backward_fused")
    expected_output, expected_final, cache = forward(x, *initial, **weights, **kwargs)
    expected = backward(grad_output, *grad_finals, cache)

    leaves = {"x": tl.Tensor(x, requires_grad=True)}
    leaves.update({name: tl.Tensor(s[None], requires_grad=True) for name, s in zip(("h0", "c0"), initial)})
    hx = (leaves["h0"], leaves["c0"]) if kind == "LSTM" else leaves["h0"]
    output, final = module(leaves["x"], hx)
    finals = final if kind == "LSTM" else (final,)
    loss = (output * grad_output).sum() + sum((f * g[None]).sum() for f, g in zip(finals, grad_finals))
    loss.backward()

    assert relative_error(np.asarray(expected_output), output.data) < TOLERANCE
    for mine, theirs in zip(finals, expected_final if kind == "LSTM" else (expected_final,)):
        assert relative_error(theirs, mine.data[0]) < TOLERANCE
    actual = {"x": leaves["x"].grad}
    actual.update({name: leaves[name].grad[0] for name in ("h0", "c0") if name in leaves})
    actual.update({name[:-3]: p.grad for name, p in module.named_parameters()})
    assert set(actual) == set(expected)
    for name in expected:
        error = relative_error(expected[name], actual[name])
        assert error < TOLERANCE, f"{kind} gradient {name}: relative error {error:.2e}"
