"""Learn the learning rate: backpropagate through five unrolled SGD steps of an RNN.

The inner loop trains a small Elman RNN on the adding problem for five plain SGD steps,
``params <- params - exp(log_lr) * grad``, with the gradients taken by
``tl.grad(..., create_graph=True)``, so that the parameters after the fifth step are a
differentiable function of ``log_lr``. The outer loop measures the loss of those parameters
on a fresh batch and follows its gradient with respect to ``log_lr`` (Adam): the
hypergradient of Maclaurin et al. (2015), second derivatives through backpropagation
through time. With PyTorch installed, the first hypergradient is checked against PyTorch's.

    python examples/meta_learning.py              # 30 outer steps, a few seconds
    python examples/meta_learning.py --quick
"""
import sys

import numpy as np

import tinygrad_lstm as tl
from tinygrad_lstm.cli import ArgumentParser, non_negative_int, positive_float, positive_int, run_command
from tinygrad_lstm.runtime import tune_process
from tinygrad_lstm.tasks import adding

QUICK = dict(outer_steps=5, length=6)
INNER_STEPS = 5


def init_params(hidden: int, rng: np.random.Generator) -> dict:
    """An Elman RNN read out by a linear layer: arrays, PyTorch's init ranges."""
    bound = 1 / np.sqrt(hidden)
    draw = lambda *shape: rng.uniform(-bound, bound, shape)  # noqa: E731
    return {"weight_ih": draw(hidden, 2), "weight_hh": draw(hidden, hidden), "bias": draw(hidden),
            "weight_out": draw(1, hidden), "bias_out": draw(1)}


def loss_of(params: dict, x, y):
    """The MSE of the RNN with `params` (tensors of `tl` or of torch alike) on ``x (T, B, 2)``."""
    h = 0 * x[0] @ params["weight_ih"].T  # zeros (B, H) of the right kind
    for x_t in x:
        h = (x_t @ params["weight_ih"].T + h @ params["weight_hh"].T + params["bias"]).tanh()
    prediction = h @ params["weight_out"].T + params["bias_out"]
    return ((prediction - y) ** 2).mean()


def unrolled_loss(start: dict, log_lr, batches: list, grad):
    """The validation loss after `INNER_STEPS` SGD steps from `start`; `grad` is tl.grad or torch's."""
    params = dict(start)
    for x, y in batches[:-1]:
        grads = grad(loss_of(params, x, y), list(params.values()), create_graph=True)
        params = {name: p - log_lr.exp() * g for (name, p), g in zip(params.items(), grads)}
    return loss_of(params, *batches[-1])


def torch_hypergradient(start: dict, log_lr: float, batches: list) -> float | None:
    try:
        import torch
    except ImportError:
        return None
    params = {name: torch.tensor(value, requires_grad=True) for name, value in start.items()}
    rate = torch.tensor(log_lr, dtype=torch.float64, requires_grad=True)
    torch_batches = [(torch.tensor(x), torch.tensor(y)) for x, y in batches]
    unrolled_loss(params, rate, torch_batches, torch.autograd.grad).backward()
    return rate.grad.item()


def main(argv=None) -> int:
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="a few seconds' run: " + ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in QUICK.items()))
    parser.add_argument("--outer-steps", type=positive_int, default=30,
                        help="updates of the learning rate (default: 30)")
    parser.add_argument("--hidden", type=positive_int, default=8, help="RNN hidden size (default: 8)")
    parser.add_argument("--length", type=positive_int, default=10, metavar="T", help="sequence length (default: 10)")
    parser.add_argument("--batch", type=positive_int, default=32, help="sequences per batch (default: 32)")
    parser.add_argument("--lr", type=positive_float, default=0.01,
                        help="the initial inner learning rate (default: 0.01)")
    parser.add_argument("--seed", type=non_negative_int, default=0,
                        help="seed of the weights and the data (default: 0)")
    parser.add_argument("--debug", action="store_true", help="on an error, show its traceback")
    if parser.parse_known_args(argv)[0].quick:
        parser.set_defaults(**QUICK)
    return run_command(parser.prog, run, parser.parse_args(argv))


def run(args) -> int:
    """The outer loop: Adam on ``log_lr``, printing the learned rate and the loss."""
    rng = np.random.default_rng(args.seed)
    start = init_params(args.hidden, rng)
    log_lr = tl.Tensor(np.log(args.lr), requires_grad=True)
    optimizer = tl.optim.Adam([log_lr], lr=0.1)
    print(f"meta-learning the learning rate of {INNER_STEPS} SGD steps (adding problem, T={args.length}, "
          f"Elman RNN hidden {args.hidden})")
    print(f"{'outer step':>10}  {'inner lr':>9}  {'loss after the inner steps':>26}")
    for step in range(args.outer_steps):
        batches = [adding.make_batch(args.batch, args.length, rng, dtype=np.float64) for _ in range(INNER_STEPS + 1)]
        params = {name: tl.Tensor(value, requires_grad=True) for name, value in start.items()}
        loss = unrolled_loss(params, log_lr, batches, tl.grad)
        optimizer.zero_grad()
        loss.backward()
        if step == 0:
            reference = torch_hypergradient(start, float(log_lr.item()), batches)
            mine = float(log_lr.grad)
            if reference is not None:
                print(f"d loss / d log_lr = {mine:.12g} (PyTorch: {reference:.12g}, relative difference "
                      f"{abs(mine - reference) / abs(reference):.1e})")
        optimizer.step()
        if step % max(1, args.outer_steps // 10) == 0 or step == args.outer_steps - 1:
            print(f"{step:>10}  {np.exp(log_lr.item()):>9.4f}  {loss.item():>26.4f}")
    return 0


if __name__ == "__main__":
    tune_process()
    sys.exit(main())
