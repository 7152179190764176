"""Forecast noisy sine waves with an LSTM and plot the forecasts against the truth.

Every wave has a random amplitude, frequency and phase and is observed with Gaussian
noise for T steps. ``--mode seq2one`` reads the whole sequence and predicts the next
``--horizon`` clean values from the last hidden state; ``--mode seq2seq`` predicts, at
every step, the clean value of the next step. The model (`SineForecaster`: LSTM ->
Linear), the data and the loop are in `tinygrad_lstm/tasks/sine.py`; this script is
their command line, as is ``tinygrad-lstm train --task sine``.

    python examples/sine_forecast.py                          # 1,000 steps, a few seconds to a minute
    python examples/sine_forecast.py --mode seq2seq --out seq2seq.png
    python examples/sine_forecast.py --quick
"""
import sys

from tinygrad_lstm.cli import ArgumentParser, non_negative_int, run_command
from tinygrad_lstm.runtime import tune_process
from tinygrad_lstm.tasks import sine

QUICK = dict(steps=200, length=30)


def main(argv=None) -> int:
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="a few seconds' run: " + ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in QUICK.items())
                        + " (options given explicitly win)")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="seed of the weights and the waves (default: 0)")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    parser.add_argument("--debug", action="store_true", help="on an error, show its traceback")
    sine.add_arguments(parser)
    if parser.parse_known_args(argv)[0].quick:
        parser.set_defaults(**QUICK)
    return run_command(parser.prog, sine.run, parser.parse_args(argv))


if __name__ == "__main__":
    tune_process()  # one BLAS thread, freed memory kept for the next step: as `tinygrad-lstm`
    sys.exit(main())
