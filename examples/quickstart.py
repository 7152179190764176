"""An LSTM cell built from tinygrad_lstm ops, unrolled over a few steps and gradchecked.

Prints, for every parameter and the input, the largest difference between the
autograd gradient (backpropagation through time from the graph) and central
differences. Run: ``python examples/quickstart.py``.
"""
import numpy as np

import tinygrad_lstm as tl


def lstm_step(x, h, c, weight_ih, weight_hh, bias):
    """One LSTM step in PyTorch's gate order (i, f, g, o); x (B, D), h and c (B, H)."""
    gates = x @ weight_ih.T + h @ weight_hh.T + bias
    i, f, g, o = gates.chunk(4, dim=1)
    c = f.sigmoid() * c + i.sigmoid() * g.tanh()
    h = o.sigmoid() * c.tanh()
    return h, c


def loss_fn(x, weight_ih, weight_hh, bias):
    """Sum of squares of every hidden state of an unrolled LSTM; x (T, B, D)."""
    batch = x.shape[1]
    h = c = tl.zeros(batch, weight_hh.shape[1])
    loss = 0.0
    for x_t in x.unbind(0):
        h, c = lstm_step(x_t, h, c, weight_ih, weight_hh, bias)
        loss = loss + (h * h).sum()
    return loss


def main():
    rng = np.random.default_rng(0)
    steps, batch, input_size, hidden_size = 5, 2, 3, 4
    tensors = {
        "x": tl.Tensor(rng.standard_normal((steps, batch, input_size)), requires_grad=True),
        "weight_ih": tl.Tensor(rng.uniform(-0.5, 0.5, (4 * hidden_size, input_size)), requires_grad=True),
        "weight_hh": tl.Tensor(rng.uniform(-0.5, 0.5, (4 * hidden_size, hidden_size)), requires_grad=True),
        "bias": tl.Tensor(rng.uniform(-0.5, 0.5, 4 * hidden_size), requires_grad=True),
    }
    inputs = list(tensors.values())
    loss = loss_fn(*inputs)
    loss.backward()
    numerical = tl.numerical_jacobian(loss_fn, inputs)[0]
    print(f"LSTM unrolled over {steps} steps, loss = {loss.item():.6f}")
    print(f"{'tensor':<10} {'shape':<10} {'max |autograd - numerical|':>28}")
    worst = 0.0
    for (name, t), num in zip(tensors.items(), numerical):
        err = np.abs(t.grad.reshape(-1) - num[0]).max()
        worst = max(worst, err)
        print(f"{name:<10} {str(t.shape):<10} {err:>28.2e}")
    ok = tl.gradcheck(loss_fn, inputs)
    print("gradcheck:", "passed" if ok else "FAILED", f"(worst error {worst:.1e})")


if __name__ == "__main__":
    main()
