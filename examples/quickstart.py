"""An LSTM cell built from tinygrad_lstm ops, unrolled over a few steps and gradchecked.

Prints, for every parameter and the input, the largest difference between the
autograd gradient (backpropagation through time from the graph) and central
differences; exit code 0 when gradcheck passes, 1 when it fails.

    python examples/quickstart.py                       # 5 steps, batch 2, input 3, hidden 4: a second
    python examples/quickstart.py --steps 20 --hidden 8
    python examples/quickstart.py --quick
"""
import sys

import numpy as np

import tinygrad_lstm as tl
from tinygrad_lstm.cli import ArgumentParser, non_negative_int, positive_int, run_command


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


QUICK = dict(steps=2, hidden=2)


def main(argv=None) -> int:
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="the smallest run: " + ", ".join(f"--{k} {v}" for k, v in QUICK.items())
                        + " (options given explicitly win)")
    parser.add_argument("--steps", type=positive_int, default=5, help="time steps T (default: 5)")
    parser.add_argument("--batch", type=positive_int, default=2, help="batch size B (default: 2)")
    parser.add_argument("--input", type=positive_int, default=3, help="input size D (default: 3)")
    parser.add_argument("--hidden", type=positive_int, default=4, help="hidden size H (default: 4)")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="seed of the input and weights (default: 0)")
    parser.add_argument("--debug", action="store_true", help="on an error, show its traceback")
    if parser.parse_known_args(argv)[0].quick:
        parser.set_defaults(**QUICK)
    return run_command(parser.prog, run, parser.parse_args(argv))


def run(args) -> int:
    """Gradcheck the unrolled LSTM of `args`' sizes, printing the largest error per tensor."""
    rng = np.random.default_rng(args.seed)
    steps, batch, input_size, hidden_size = args.steps, args.batch, args.input, args.hidden
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
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
