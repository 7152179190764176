"""RNN against LSTM on the adding problem (T=50): the LSTM remembers, the RNN does not.

Each sequence holds T random numbers and two markers; the target is the sum of the two
marked numbers, one in each half of the sequence. Predicting the mean scores an MSE of
1/6 ~ 0.167. With the defaults (1,000 Adam steps, batch 64, hidden 32) the LSTM gets
below 0.01 while the plain RNN stays near 0.167: its gradient vanishes over the ~T steps
between a marker and the end. The data, the model and the training loop are in
`tinygrad_lstm/tasks/adding.py`; ``tinygrad-lstm train --task adding`` runs one cell.

Run ``python examples/adding_problem.py`` (under a minute on a laptop), or
``--quick`` for a few seconds' run on short sequences. Writes learning curves to ``--out``.
"""
import sys

from tinygrad_lstm.cli import ArgumentParser, cell_kinds, non_negative_int, positive_float, positive_int, run_command
from tinygrad_lstm.plots import plot_learning_curves
from tinygrad_lstm.runtime import tune_process
from tinygrad_lstm.tasks import adding

QUICK = dict(steps=40, length=10, eval_every=20, test_size=200)


def main(argv=None) -> int:
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="a few seconds' run: " + ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in QUICK.items())
                        + " (options given explicitly win)")
    parser.add_argument("--cells", type=cell_kinds, default="rnn,lstm",
                        help="comma-separated recurrent kinds to train: rnn, lstm, gru, another registered kind "
                             "or module:Class (default: rnn,lstm)")
    parser.add_argument("--steps", type=positive_int, default=1000, help="Adam steps (default: 1000)")
    parser.add_argument("--batch", type=positive_int, default=64, help="sequences per step (default: 64)")
    parser.add_argument("--hidden", type=positive_int, default=32, help="hidden size (default: 32)")
    parser.add_argument("--length", type=positive_int, default=50, metavar="T", help="sequence length T (default: 50)")
    parser.add_argument("--lr", type=positive_float, default=1e-2, help="Adam learning rate (default: 0.01)")
    parser.add_argument("--eval-every", type=positive_int, default=100,
                        help="steps between test evaluations (default: 100)")
    parser.add_argument("--test-size", type=positive_int, default=1000,
                        help="sequences in the test set (default: 1000)")
    parser.add_argument("--out", default="adding_problem.png", help="learning-curve plot (default: adding_problem.png)")
    parser.add_argument("--seed", type=non_negative_int, default=0,
                        help="seed of the weights and the data (default: 0)")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")
    parser.add_argument("--debug", action="store_true", help="on an error, show its traceback")
    if parser.parse_known_args(argv)[0].quick:
        parser.set_defaults(**QUICK)
    return run_command(parser.prog, run, parser.parse_args(argv))


def run(args) -> int:
    """Train every cell of ``--cells``, print the table and plot the learning curves."""
    results = {}
    for kind in args.cells:
        results[kind.title] = adding.train(kind, steps=args.steps, batch=args.batch, hidden=args.hidden,
                                           T=args.length, lr=args.lr, seed=args.seed, test_size=args.test_size,
                                           eval_every=args.eval_every, progress=args.progress)

    print(f"adding problem, T={args.length}, {args.steps} Adam steps, batch {args.batch}, hidden {args.hidden}; "
          f"predicting the mean scores {adding.BASELINE_MSE:.3f}")
    print(f"{'cell':<6}{'test MSE before':>16}{'after':>10}{'seconds':>9}  verdict")
    for title, result in results.items():
        verdict = "solved (< 0.01)" if result.solved else "not solved"
        print(f"{title:<6}{result.test_mse[0]:>16.4f}{result.final_test_mse:>10.4f}"
              f"{result.seconds:>9.1f}  {verdict}")
    curves = {title: {"train": r.losses, "test": (r.eval_steps, r.test_mse)} for title, r in results.items()}
    path = plot_learning_curves(curves, args.out, baseline=adding.BASELINE_MSE, target=adding.SOLVED_MSE,
                                title=f"Adding problem, T={args.length}")
    print(f"learning curves: {path}")
    return 0


if __name__ == "__main__":
    tune_process()  # one BLAS thread, freed memory kept for the next step: as `tinygrad-lstm`
    sys.exit(main())
