"""Weights from PyTorch's `nn.LSTM` into `tl.nn.LSTM` and back, with identical results.

`tl.nn.LSTM` keeps PyTorch's parameter names (``weight_ih_l0``, ``bias_hh_l1_reverse``,
...), shapes, gate order (i, f, g, o) and equations, so a state dict moves unchanged:

    tl_lstm.load_state_dict({name: t.detach().numpy() for name, t in torch_lstm.state_dict().items()})
    torch_lstm.load_state_dict({name: torch.from_numpy(a) for name, a in tl_lstm.state_dict().items()})

The script builds a 2-layer bidirectional LSTM in PyTorch, copies it into tinygrad_lstm,
runs both on the same input and initial state, and compares the output, ``h_n``, ``c_n``
and the gradients of a loss with respect to the input, the initial state and every
weight. Then it goes back: a fresh tinygrad_lstm LSTM is copied into a fresh PyTorch one
and compared the same way. It prints the largest absolute difference of each and exits
with 1 if one exceeds the tolerance. Without PyTorch it says so and exits with 0.

    python examples/torch_interop.py
    python examples/torch_interop.py --dtype float64
"""
import sys

import numpy as np

import tinygrad_lstm as tl
from tinygrad_lstm.cli import ArgumentParser, non_negative_int, positive_int, run_command

TOLERANCE = {"float32": 1e-4, "float64": 1e-10}  # largest absolute difference allowed


def run_tl(lstm, x, h0, c0, weights):
    """Output, h_n, c_n and the gradients (input, h0, c0, parameters by name) of ``sum(output * weights)``."""
    x, h0, c0 = (tl.Tensor(a, requires_grad=True) for a in (x, h0, c0))
    lstm.zero_grad()
    output, (h_n, c_n) = lstm(x, (h0, c0))
    ((output * weights).sum() + h_n.sum() + c_n.sum()).backward()
    results = {"output": output.data, "h_n": h_n.data, "c_n": c_n.data,
               "grad input": x.grad, "grad h_0": h0.grad, "grad c_0": c0.grad}
    results.update((f"grad {name}", p.grad) for name, p in lstm.named_parameters())
    return results


def run_torch(torch, lstm, x, h0, c0, weights):
    """The same as `run_tl`, computed by PyTorch."""
    x, h0, c0 = (torch.tensor(a, requires_grad=True) for a in (x, h0, c0))
    lstm.zero_grad()
    output, (h_n, c_n) = lstm(x, (h0, c0))
    ((output * torch.from_numpy(weights)).sum() + h_n.sum() + c_n.sum()).backward()
    results = {"output": output, "h_n": h_n, "c_n": c_n, "grad input": x.grad, "grad h_0": h0.grad,
               "grad c_0": c0.grad}
    results.update((f"grad {name}", p.grad) for name, p in lstm.named_parameters())
    return {name: value.detach().numpy() for name, value in results.items()}


def compare(title: str, ours: dict, theirs: dict, tolerance: float) -> bool:
    """Print the largest absolute difference of every entry; True when all are within `tolerance`."""
    print(title)
    worst = 0.0
    for name, value in ours.items():
        difference = float(np.abs(value - theirs[name]).max())
        worst = max(worst, difference)
        print(f"  {name:<28} {str(value.shape):<14} max |tl - torch| = {difference:.2e}")
    print(f"  largest difference {worst:.2e}: {'identical up to rounding' if worst <= tolerance else 'MISMATCH'}")
    return worst <= tolerance


QUICK = dict(length=4, batch=2)


def main(argv=None) -> int:
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="smaller inputs: " + ", ".join(f"--{k} {v}" for k, v in QUICK.items()))
    parser.add_argument("--dtype", choices=sorted(TOLERANCE), default="float32", help="(default: float32)")
    parser.add_argument("--length", type=positive_int, default=10, metavar="T", help="sequence length (default: 10)")
    parser.add_argument("--batch", type=positive_int, default=4, help="batch size (default: 4)")
    parser.add_argument("--input", type=positive_int, default=5, help="input size (default: 5)")
    parser.add_argument("--hidden", type=positive_int, default=8, help="hidden size (default: 8)")
    parser.add_argument("--layers", type=positive_int, default=2, help="layers (default: 2)")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="seed of the weights and inputs (default: 0)")
    parser.add_argument("--debug", action="store_true", help="on an error, show its traceback")
    if parser.parse_known_args(argv)[0].quick:
        parser.set_defaults(**QUICK)
    return run_command(parser.prog, run, parser.parse_args(argv))


def run(args) -> int:
    """Both copies (PyTorch -> tinygrad_lstm, then back), compared; 1 on a mismatch."""
    try:
        import torch
    except ImportError:
        print("torch_interop: PyTorch is not installed, nothing to compare "
              "(pip install torch, then run this again)")
        return 0

    torch.manual_seed(args.seed)
    tl.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    dtype, torch_dtype = np.dtype(args.dtype), getattr(torch, args.dtype)
    sizes = dict(num_layers=args.layers, bidirectional=True)
    states = (2 * args.layers, args.batch, args.hidden)
    x = rng.standard_normal((args.length, args.batch, args.input)).astype(dtype)
    h0, c0 = (rng.standard_normal(states).astype(dtype) for _ in range(2))
    weights = rng.standard_normal((args.length, args.batch, 2 * args.hidden)).astype(dtype)
    tolerance = TOLERANCE[args.dtype]

    torch_lstm = torch.nn.LSTM(args.input, args.hidden, **sizes).to(torch_dtype)
    ours = tl.nn.LSTM(args.input, args.hidden, dtype=dtype, **sizes)
    ours.load_state_dict({name: t.detach().numpy() for name, t in torch_lstm.state_dict().items()})
    same = compare("PyTorch -> tinygrad_lstm", run_tl(ours, x, h0, c0, weights),
                   run_torch(torch, torch_lstm, x, h0, c0, weights), tolerance)

    ours = tl.nn.LSTM(args.input, args.hidden, dtype=dtype, **sizes)
    torch_lstm = torch.nn.LSTM(args.input, args.hidden, **sizes).to(torch_dtype)
    torch_lstm.load_state_dict({name: torch.from_numpy(a) for name, a in ours.state_dict().items()})
    same &= compare("tinygrad_lstm -> PyTorch", run_tl(ours, x, h0, c0, weights),
                    run_torch(torch, torch_lstm, x, h0, c0, weights), tolerance)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
