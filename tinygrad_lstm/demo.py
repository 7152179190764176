"""`tinygrad-lstm demo`: trust the gradients, see the graph, watch an LSTM learn where an RNN cannot.

1. Gradient checks of `nn.RNN`, `nn.LSTM` and `nn.GRU`: autograd against the hand-written
   BPTT, central differences and (when installed) PyTorch, one table each.
2. The unrolled graph of a 3-step LSTM, as ``lstm_graph.svg`` (DOT only without Graphviz).
3. A plain RNN and an LSTM trained on the adding problem (T = 50).
4. PNG plots: the learning curves, the gradient flow ``||d loss / d h_t||`` against ``t``
   at initialisation and after training, and the trained LSTM's gate activations
   (`tl.viz.diagnose_bptt`), saturated units marked.
"""
from __future__ import annotations

import pathlib
import sys
import time
import warnings

import numpy as np

from .compare import compare_gradients
from .nn import LSTM
from .nn.functional import mse_loss
from .nn.kinds import get_kind, kind_names
from .plots import plot_gate_heatmaps, plot_gradient_flow, plot_learning_curves
from .random import manual_seed
from .tasks import adding

__all__ = ["run_demo", "FULL", "QUICK", "DURATION", "QUICK_DURATION"]

# How long the demo takes on an idle machine, as README, docs and ``--help`` say; it prints its
# own time at the end (most of it is the 1,000 training steps of the LSTM).
DURATION = "about 35 seconds"
QUICK_DURATION = "under 10 seconds"

# Sizes of the two modes: gradient-check shapes, graph shapes, and adding-problem training.
FULL = dict(check=dict(steps=5, batch=3, input=4, hidden=6), graph=dict(steps=3, batch=2, input=3, hidden=4),
            train=dict(steps=1000, batch=64, hidden=32, T=50, test_size=1000, eval_every=50), flow_batch=256,
            gate_batch=8)
QUICK = dict(check=dict(steps=3, batch=2, input=3, hidden=4), graph=dict(steps=3, batch=2, input=3, hidden=4),
             train=dict(steps=30, batch=16, hidden=8, T=10, test_size=100, eval_every=10), flow_batch=32,
             gate_batch=4)


def run_demo(out="demo-output", quick: bool = False, seed: int = 0, progress: bool = True, stream=None) -> int:
    """Run the demo, writing its files to `out`.

    Parameters
    ----------
    out : str or path-like
        Directory for ``lstm_graph.svg`` (or ``.dot``), ``learning_curves.png`` and
        ``gradient_flow.png``; created if needed.
    quick : bool
        Tiny sizes and a few training steps (seconds; the LSTM is not expected to solve it).
    seed : int
        Everything random follows from it: the same seed prints the same numbers.
    progress : bool
        Show training progress bars on stderr.
    stream : file, optional
        Where to print (default: stdout).

    Returns
    -------
    int
        0 when every gradient check agrees, 1 otherwise.
    """
    stream = sys.stdout if stream is None else stream
    sizes = QUICK if quick else FULL
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    start = time.perf_counter()

    def say(text: str = "") -> None:
        print(text, file=stream, flush=True)

    say(f"tinygrad_lstm demo{' (quick)' if quick else ''}, seed {seed}")
    say()
    say("1. Gradient checks: backpropagation through time from the graph (autograd) against the "
        "hand-written BPTT, central differences and PyTorch")
    checks_ok = True
    check = sizes["check"]
    checked = [kind for kind in map(get_kind, kind_names()) if kind.manual is not None]  # the built-in kinds
    for number, kind in enumerate(checked):
        manual_seed(seed + number)
        model = kind.build(check["input"], check["hidden"])
        x = np.random.default_rng([seed, number]).standard_normal((check["steps"], check["batch"], check["input"]))
        report = compare_gradients(model, x, seed=seed)
        checks_ok = checks_ok and report.ok
        say()
        say(str(report))

    say()
    say("2. The unrolled graph of a 3-step LSTM")
    written += _render_lstm_graph(out, sizes["graph"], seed, say)

    train = sizes["train"]
    say()
    say(f"3. The adding problem (Hochreiter & Schmidhuber 1997): two marked numbers among T={train['T']} "
        f"random ones; the target is their sum.")
    say(f"   {train['steps']} Adam steps (lr 0.01, gradient norm clipped to 1), batch {train['batch']}, "
        f"hidden size {train['hidden']}; predicting the mean scores MSE {adding.BASELINE_MSE:.3f}.")
    results = {}
    for cell in ("rnn", "lstm"):
        results[cell] = adding.train(cell, seed=seed, progress=progress, **train)
    for cell, result in results.items():
        verdict = "solved (< 0.01)" if result.solved else "not solved"
        say(f"   {cell.upper():>4}: test MSE {result.final_test_mse:.4f}  {verdict}  ({result.seconds:.1f} s)")

    say()
    say("4. Plots")
    curves = {cell.upper(): {"train": r.losses, "test": (r.eval_steps, r.test_mse)} for cell, r in results.items()}
    written.append(plot_learning_curves(
        curves, out / "learning_curves.png", baseline=adding.BASELINE_MSE, target=adding.SOLVED_MSE,
        title=f"Adding problem, T={train['T']}: the LSTM learns, the plain RNN stays at the baseline"))
    x, y = adding.make_batch(sizes["flow_batch"], train["T"], np.random.default_rng([seed, 2]))
    flows = {}
    for cell, result in results.items():
        initial = adding.AddingModel(cell, train["hidden"])
        initial.load_state_dict(result.initial_state)
        flows[cell.upper()] = {"at initialisation": adding.gradient_flow(initial, x, y),
                               "after training": adding.gradient_flow(result.model, x, y)}
    written.append(plot_gradient_flow(
        flows, out / "gradient_flow.png",
        title=f"Gradient of the adding-problem loss reaching h_t (T={train['T']}): "
              f"vanishing in the RNN, carried by the LSTM after training"))
    for cell, stages in flows.items():
        ratios = ", ".join(f"{stage} {norms[0] / norms[-1]:.1e}" for stage, norms in stages.items())
        say(f"   {cell:>4}: ||dL/dh_1|| / ||dL/dh_T||: {ratios}")
    written.append(_plot_lstm_gates(results["lstm"].model, x[:, :sizes["gate_batch"]], y[:sizes["gate_batch"]],
                                    out / "lstm_gates.png", say))

    say()
    say("Files written:")
    for path in written:
        say(f"   {path}")
    say()
    lstm, rnn = results["lstm"], results["rnn"]
    say(f"Summary: gradient checks {'all agree' if checks_ok else 'DISAGREE (see the tables above)'}; "
        f"adding problem test MSE: LSTM {lstm.final_test_mse:.4f}, RNN {rnn.final_test_mse:.4f} "
        f"(baseline {adding.BASELINE_MSE:.3f}); {time.perf_counter() - start:.1f} s in total.")
    return 0 if checks_ok else 1


def _plot_lstm_gates(model, x: np.ndarray, y: np.ndarray, path: pathlib.Path, say) -> pathlib.Path:
    """The gate heatmaps of the trained LSTM on a few adding-problem sequences, and their saturation."""
    from .viz import BPTTWarning, diagnose_bptt

    target = np.asarray(y, np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BPTTWarning)  # the gradient-flow plot shows how far gradients reach
        diagnosis = diagnose_bptt(model, x, loss_fn=lambda prediction: mse_loss(prediction, target), jacobian=False)
    shares = ", ".join(f"{gate} {np.mean(share):.0%}" for gate, share in diagnosis.saturation["l0"].items())
    say(f"   LSTM gates after training, share of saturated units over {x.shape[1]} sequences: {shares}")
    return plot_gate_heatmaps(diagnosis, path, title="The trained LSTM's gates on an adding-problem sequence "
                                                     "(dots: saturated units)")


def _render_lstm_graph(out: pathlib.Path, sizes: dict, seed: int, say) -> list:
    """Render the graph of a small LSTM; without Graphviz write the DOT file and say how to render it."""
    from .viz import GraphvizNotFoundError, render_graph

    manual_seed(seed)
    lstm = LSTM(sizes["input"], sizes["hidden"])
    x = np.random.default_rng([seed, 3]).standard_normal((sizes["steps"], sizes["batch"], sizes["input"]))
    output, (h_n, c_n) = lstm(x.astype(np.float32))
    path = out / "lstm_graph.svg"
    try:
        written = render_graph([output, h_n, c_n], path, params=lstm, legend=True)
    except GraphvizNotFoundError:
        dot = path.with_suffix(".dot")
        say(f"   note: Graphviz's `dot` program is not installed, so only the DOT source was written: {dot}")
        say("   install Graphviz (e.g. `sudo apt-get install graphviz` or `brew install graphviz`) and run "
            f"`dot -Tsvg {dot} -o {path}`")
        return [dot]
    say(f"   {sizes['steps']} steps, batch {sizes['batch']}, input {sizes['input']}, hidden {sizes['hidden']}: "
        f"one cluster per time step; parameters drawn once, labelled by name and shape")
    return [written, path.with_suffix(".dot")]
