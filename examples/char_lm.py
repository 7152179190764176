"""A character-level LSTM language model, trained with truncated BPTT, then sampled.

The model (`CharLM`: Embedding -> LSTM -> Linear) and the training loop are in
`tinygrad_lstm/tasks/chars.py`, with docstrings; this script is their command line, as
is ``tinygrad-lstm train --task chars``. In short, each step:

    logits, state = model(inputs, state)            # (seq_len, batch) chars -> (seq_len, batch, V)
    loss = cross_entropy(logits.reshape(-1, V), targets.reshape(-1))
    optimizer.zero_grad(); loss.backward(); clip_grad_norm_(parameters, 1.0); optimizer.step()
    state = tl.nn.detach_state(state)               # carry the state on, but not its graph

The default text is the Zen of Python (``import this``), repeated; ``--text PATH`` trains
on any UTF-8 file. ``--checkpoint PATH`` saves the model and Adam's state with `tl.save`
every ``--checkpoint-every`` steps; ``--resume`` continues from it up to ``--steps``,
exactly as if the run had not stopped.

    python examples/char_lm.py                                  # 500 steps, seconds to a minute
    python examples/char_lm.py --quick                          # a few seconds
    python examples/char_lm.py --text book.txt --steps 2000 --checkpoint lm.npz
    python examples/char_lm.py --text book.txt --steps 4000 --checkpoint lm.npz --resume
    python examples/char_lm.py --checkpoint lm.npz --resume --steps 0 --temperature 0.5   # sample only
"""
import sys

from tinygrad_lstm.cli import ArgumentParser, non_negative_int, run_command
from tinygrad_lstm.runtime import tune_process
from tinygrad_lstm.tasks import chars

QUICK = dict(steps=40, batch=16, hidden=64, sample_length=100)


def main(argv=None) -> int:
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="a few seconds' run: " + ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in QUICK.items())
                        + " (options given explicitly win)")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="seed of the weights and the sampling (default: 0)")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    parser.add_argument("--debug", action="store_true", help="on an error, show its traceback")
    chars.add_arguments(parser)
    if parser.parse_known_args(argv)[0].quick:
        parser.set_defaults(**QUICK)
    return run_command(parser.prog, chars.run, parser.parse_args(argv))


if __name__ == "__main__":
    tune_process()  # one BLAS thread, freed memory kept for the next step: as `tinygrad-lstm`
    sys.exit(main())
