"""The sharpness of an LSTM's loss: the top Hessian eigenvalue by power iteration with
Hessian-vector products, and the same number from PyTorch.

The loss is the adding problem's MSE (`tinygrad_lstm/tasks/adding.py`) of a small LSTM read
out by a linear layer, on one batch, in float64. Power iteration needs only products ``H v``:
``tl.grad(loss, params, create_graph=True)`` gives the gradient as a graph, and the gradient
of ``<grad, v>`` is ``H v`` (PyTorch's ``torch.autograd.grad`` twice does the same). The
largest-magnitude eigenvalue of H is ``lambda = <v, H v>`` once ``v`` stops turning.

    python examples/hessian_eigenvalue.py                # 50 iterations, a few seconds
    python examples/hessian_eigenvalue.py --quick
"""
import sys

import numpy as np

import tinygrad_lstm as tl
from tinygrad_lstm.cli import ArgumentParser, non_negative_int, positive_int, run_command
from tinygrad_lstm.runtime import tune_process
from tinygrad_lstm.tasks import adding

QUICK = dict(iterations=15, length=8)


def top_eigenvalue(loss, params, iterations: int, rng: np.random.Generator) -> float:
    """The largest-magnitude eigenvalue of the Hessian of `loss` with respect to `params`."""
    grads = tl.grad(loss, params, create_graph=True)  # a graph: differentiate it again for each H v
    v = [rng.standard_normal(p.shape) for p in params]
    eigenvalue = 0.0
    for _ in range(iterations):
        norm = np.sqrt(sum((vi * vi).sum() for vi in v))
        v = [vi / norm for vi in v]
        hv = tl.grad(sum((g * vi).sum() for g, vi in zip(grads, v)), params, retain_graph=True)
        eigenvalue = float(sum((vi * h.data).sum() for vi, h in zip(v, hv)))
        v = [h.data for h in hv]
    return eigenvalue


def torch_top_eigenvalue(model, x, y, iterations: int, rng: np.random.Generator) -> float | None:
    """The same power iteration in PyTorch, on the same weights and data (None without torch)."""
    try:
        import torch
    except ImportError:
        return None
    lstm = torch.nn.LSTM(2, model.rnn.hidden_size, dtype=torch.float64)
    readout = torch.nn.Linear(model.rnn.hidden_size, 1, dtype=torch.float64)
    weights = model.state_dict()
    lstm.load_state_dict({k[len("rnn."):]: torch.tensor(v) for k, v in weights.items() if k.startswith("rnn.")})
    readout.load_state_dict({k[len("readout."):]: torch.tensor(v) for k, v in weights.items()
                             if k.startswith("readout.")})
    params = [*lstm.parameters(), *readout.parameters()]
    _, (h_n, _) = lstm(torch.tensor(x))
    loss = ((readout(h_n[-1]) - torch.tensor(y)) ** 2).mean()
    grads = torch.autograd.grad(loss, params, create_graph=True)
    v = [torch.tensor(rng.standard_normal(tuple(p.shape))) for p in params]
    eigenvalue = 0.0
    for _ in range(iterations):
        norm = torch.sqrt(sum((vi * vi).sum() for vi in v))
        v = [vi / norm for vi in v]
        hv = torch.autograd.grad(sum((g * vi).sum() for g, vi in zip(grads, v)), params, retain_graph=True)
        eigenvalue = float(sum((vi * h).sum() for vi, h in zip(v, hv)))
        v = [h.detach() for h in hv]
    return eigenvalue


def main(argv=None) -> int:
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="a few seconds' run: " + ", ".join(f"--{k} {v}" for k, v in QUICK.items()))
    parser.add_argument("--iterations", type=positive_int, default=50, help="power iterations (default: 50)")
    parser.add_argument("--hidden", type=positive_int, default=8, help="LSTM hidden size (default: 8)")
    parser.add_argument("--length", type=positive_int, default=20, metavar="T", help="sequence length (default: 20)")
    parser.add_argument("--batch", type=positive_int, default=32, help="sequences in the batch (default: 32)")
    parser.add_argument("--seed", type=non_negative_int, default=0,
                        help="seed of the weights, data and start vector (default: 0)")
    parser.add_argument("--debug", action="store_true", help="on an error, show its traceback")
    if parser.parse_known_args(argv)[0].quick:
        parser.set_defaults(**QUICK)
    return run_command(parser.prog, run, parser.parse_args(argv))


def run(args) -> int:
    """The top eigenvalue of the model of `args`, by tinygrad_lstm and (if installed) PyTorch."""
    tl.manual_seed(args.seed)
    model = adding.AddingModel("lstm", hidden=args.hidden, dtype=np.float64)
    x, y = adding.make_batch(args.batch, args.length, np.random.default_rng(args.seed), dtype=np.float64)
    loss = tl.nn.functional.mse_loss(model(x), y)
    params = list(model.parameters())
    mine = top_eigenvalue(loss, params, args.iterations, np.random.default_rng(args.seed + 1))
    theirs = torch_top_eigenvalue(model, x, y, args.iterations, np.random.default_rng(args.seed + 1))
    size = sum(p.size for p in params)
    print(f"adding problem, T={args.length}, LSTM hidden {args.hidden} ({size} parameters), loss {loss.item():.6f}")
    print(f"top Hessian eigenvalue after {args.iterations} power iterations:")
    print(f"  tinygrad_lstm {mine:.12g}")
    if theirs is not None:
        print(f"  PyTorch       {theirs:.12g} (relative difference {abs(mine - theirs) / abs(theirs):.1e})")
    return 0


if __name__ == "__main__":
    tune_process()
    sys.exit(main())
