"""tinygrad_lstm.manual.stacked: layers and directions of fused layers, composed by hand."""
import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm.manual import (gru_backward_fused, gru_forward_fused, lstm_backward_fused, lstm_forward_fused,
                                  rnn_backward_fused, rnn_forward_fused, stacked_bptt)

LAYERS = {
    "LSTM": (lstm_forward_fused, lstm_backward_fused, ("h0", "c0"), {}),
    "GRU": (gru_forward_fused, gru_backward_fused, ("h0",), {}),
    "RNN": (rnn_forward_fused, rnn_backward_fused, ("h0",), {"nonlinearity": "relu"}),
}


@pytest.mark.parametrize("name", LAYERS)
def test_two_bidirectional_layers_equal_autograd(name):
    forward, backward, state_keys, options = LAYERS[name]
    tl.manual_seed(0)
    module = getattr(tl.nn, name)(3, 4, num_layers=2, bidirectional=True, dtype=np.float64, **options)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 2, 3))
    states = [rng.standard_normal((4, 2, 4)) for _ in state_keys]
    grad_output = rng.standard_normal((5, 2, 8))
    grad_finals = [rng.standard_normal((4, 2, 4)) for _ in state_keys]

    inputs = [tl.Tensor(a, requires_grad=True) for a in (x, *states)]
    output, final = module(inputs[0], tuple(inputs[1:]) if len(states) > 1 else inputs[1])
    tl.backward([output, *(final if isinstance(final, tuple) else (final,))], [grad_output, *grad_finals])

    weights = [[tuple(getattr(module, f"{w}_l{layer}{suffix}").data
                      for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")) for suffix in ("", "_reverse")]
               for layer in range(2)]
    weight_grads, grad_x, grad_states = stacked_bptt(forward, backward, x, states, weights, grad_output,
                                                     grad_finals, state_keys, **options)
    np.testing.assert_allclose(grad_x, inputs[0].grad, rtol=1e-10, atol=1e-12)
    for grad, tensor in zip(grad_states, inputs[1:]):
        np.testing.assert_allclose(grad, tensor.grad, rtol=1e-10, atol=1e-12)
    for layer in range(2):
        for direction, suffix in enumerate(("", "_reverse")):
            assert sorted(weight_grads[layer][direction]) == ["bias_hh", "bias_ih", "weight_hh", "weight_ih"]
            for w, grad in weight_grads[layer][direction].items():
                np.testing.assert_allclose(grad, getattr(module, f"{w}_l{layer}{suffix}").grad, rtol=1e-10,
                                           atol=1e-12, err_msg=f"{w}_l{layer}{suffix}")


def test_absent_biases_have_no_gradient():
    rng = np.random.default_rng(1)
    x, h0 = rng.standard_normal((3, 2, 2)), rng.standard_normal((1, 2, 3))
    weights = [[(rng.standard_normal((3, 2)), rng.standard_normal((3, 3)), None, None)]]
    weight_grads, grad_x, (grad_h0,) = stacked_bptt(rnn_forward_fused, rnn_backward_fused, x, [h0], weights,
                                                    np.ones((3, 2, 3)), [np.zeros((1, 2, 3))])
    assert sorted(weight_grads[0][0]) == ["weight_hh", "weight_ih"]
    assert grad_x.shape == x.shape and grad_h0.shape == h0.shape
