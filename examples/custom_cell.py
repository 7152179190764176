"""Your own recurrent cell in ~20 lines: unrolled by `tl.nn.Recurrent`, gradchecked, trained, drawn.

A cell is a `tl.nn.Module` with ``forward(x_t, state) -> new state`` and
``init_state(batch_size) -> state`` (a Tensor, or a tuple whose first element is the
output). It defines no backward: backpropagation through time comes from the graph.
This script defines two:

- `PeepholeLSTMCell` (Gers & Schmidhuber, 2000): an LSTM whose gates also see the cell state;
- `MinimalGatedUnit` (Zhou et al., 2016): a GRU reduced to a single (forget) gate.

For each it (1) gradchecks the unrolled cell in float64 against central differences,
with respect to the input, the initial state and every parameter; (2) trains it with
Adam on the adding problem (`tinygrad_lstm.tasks.adding.make_batch`) and reports the test
MSE before and after (predicting the mean scores 0.167); (3) draws the graph of three
unrolled steps with `tl.viz.render_graph` into ``--out``.

    python examples/custom_cell.py            # a few seconds
    python examples/custom_cell.py --quick
"""
import contextlib
import pathlib
import sys

import numpy as np
import tinygrad_lstm as tl
from tinygrad_lstm.cli import ArgumentParser, non_negative_int, positive_float, positive_int, run_command
from tinygrad_lstm.progress import progress_bar
from tinygrad_lstm.tasks.adding import BASELINE_MSE, make_batch


class PeepholeLSTMCell(tl.nn.Module):
    """LSTM with peephole connections; ``x (B, D)``, ``state = (h, c)`` each ``(B, H)``::

        i, f, g, o = chunk(W [x, h] + b, 4)
        c' = σ(f + p_f * c) * c + σ(i + p_i * c) * tanh(g)
        h' = σ(o + p_o * c') * tanh(c')
    """

    def __init__(self, input_size: int, hidden_size: int, dtype=np.float32):
        super().__init__()
        self.input_size, self.hidden_size, self.dtype = input_size, hidden_size, np.dtype(dtype)
        self.gates = tl.nn.Linear(input_size + hidden_size, 4 * hidden_size, dtype=dtype)
        bound = 1 / np.sqrt(hidden_size)
        self.peephole = tl.nn.Parameter(tl.default_generator().uniform(-bound, bound, (3, hidden_size)), dtype)

    def init_state(self, batch_size: int) -> tuple:
        zeros = tl.zeros(batch_size, self.hidden_size, dtype=self.dtype)
        return zeros, zeros

    def forward(self, x, state) -> tuple:
        h, c = state
        i, f, g, o = self.gates(tl.concat([x, h], axis=1)).chunk(4, axis=1)
        p_i, p_f, p_o = self.peephole.unbind(0)
        c = (f + p_f * c).sigmoid() * c + (i + p_i * c).sigmoid() * g.tanh()
        h = (o + p_o * c).sigmoid() * c.tanh()
        return h, c


class MinimalGatedUnit(tl.nn.Module):
    """Minimal gated unit; ``x (B, D)``, ``h (B, H)``::

        f  = σ(W_f [x, h] + b_f)
        h~ = tanh(W_h [x, f * h] + b_h)
        h' = (1 - f) * h + f * h~
    """

    def __init__(self, input_size: int, hidden_size: int, dtype=np.float32):
        super().__init__()
        self.input_size, self.hidden_size, self.dtype = input_size, hidden_size, np.dtype(dtype)
        self.forget = tl.nn.Linear(input_size + hidden_size, hidden_size, dtype=dtype)
        self.candidate = tl.nn.Linear(input_size + hidden_size, hidden_size, dtype=dtype)

    def init_state(self, batch_size: int):
        return tl.zeros(batch_size, self.hidden_size, dtype=self.dtype)

    def forward(self, x, h):
        f = self.forget(tl.concat([x, h], axis=1)).sigmoid()
        candidate = self.candidate(tl.concat([x, f * h], axis=1)).tanh()
        return h + f * (candidate - h)


CELLS = {"peephole_lstm": PeepholeLSTMCell, "minimal_gated_unit": MinimalGatedUnit}


class SequenceRegressor(tl.nn.Module):
    """A cell unrolled by `tl.nn.Recurrent`, read out linearly from its last output: ``(T, B, D) -> (B, 1)``."""

    def __init__(self, cell: tl.nn.Module, hidden_size: int):
        super().__init__()
        self.rnn = tl.nn.Recurrent(cell)
        self.readout = tl.nn.Linear(hidden_size, 1, dtype=cell.dtype)

    def forward(self, x):
        outputs, _ = self.rnn(x)
        return self.readout(outputs[-1])


@contextlib.contextmanager
def parameters_replaced(module: tl.nn.Module, tensors: list):
    """Let `module` compute with `tensors` in place of its parameters (same order), then restore them."""
    originals = []
    for (name, parameter), tensor in zip(module.named_parameters(), tensors):
        *path, attribute = name.split(".")
        owner = module
        for part in path:
            owner = getattr(owner, part)
        originals.append((owner, attribute, parameter))
        # object.__setattr__: a plain Tensor, not registered as a parameter, only for the duration
        object.__setattr__(owner, attribute, tensor)
    try:
        yield
    finally:
        for owner, attribute, parameter in originals:
            object.__setattr__(owner, attribute, parameter)


def gradcheck_cell(cell: tl.nn.Module, steps: int = 3, batch: int = 2, input_size: int = 2) -> int:
    """`tl.gradcheck` of the unrolled cell (outputs and final state) in float64.

    With respect to a random input ``(steps, batch, input_size)``, a random initial state
    and every parameter of `cell` (which must be float64). `tl.gradcheck` differentiates
    fresh copies of its inputs, so the copies of the parameters stand in for the cell's
    own while it runs. Returns the number of scalars checked; raises
    `tl.GradcheckError` on a mismatch.
    """
    rng = np.random.default_rng(0)
    recurrent = tl.nn.Recurrent(cell)
    initial = cell.init_state(batch)
    initial = initial if isinstance(initial, tuple) else (initial,)
    x = tl.Tensor(rng.standard_normal((steps, batch, input_size)), requires_grad=True)
    state = [tl.Tensor(rng.standard_normal(s.shape), requires_grad=True) for s in initial]
    parameters = [tl.Tensor(p.data.copy(), requires_grad=True) for p in cell.parameters()]

    def unrolled(x, *tensors):
        state, parameters = tensors[:len(initial)], tensors[len(initial):]
        with parameters_replaced(cell, parameters):
            outputs, final = recurrent(x, state if len(state) > 1 else state[0])
        return (outputs,) + (final if isinstance(final, tuple) else (final,))

    tl.gradcheck(unrolled, [x, *state, *parameters])
    return sum(t.size for t in [x, *state, *parameters])


def train(cell: tl.nn.Module, steps: int, T: int, batch: int, lr: float, seed: int, progress: bool,
          label: str) -> tuple:
    """Adam on the adding problem; returns the test MSE before and after and the losses ``(steps,)``."""
    model = SequenceRegressor(cell, cell.hidden_size)
    optimizer = tl.optim.Adam(model.parameters(), lr=lr)
    rng = np.random.default_rng([seed, 0])
    test_x, test_y = make_batch(500, T, np.random.default_rng([seed, 1]))

    def test_mse() -> float:
        with tl.no_grad():
            return tl.nn.functional.mse_loss(model(test_x), test_y).item()

    before, losses = test_mse(), np.empty(steps)
    for step in progress_bar(range(steps), desc=label, enabled=progress):
        x, y = make_batch(batch, T, rng)
        loss = tl.nn.functional.mse_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        tl.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses[step] = loss.item()
    return before, test_mse(), losses


def draw(cell: tl.nn.Module, path: pathlib.Path) -> str:
    """Render three unrolled steps of `cell` (batch 1) to `path`; returns what was written."""
    outputs, _ = tl.nn.Recurrent(cell)(tl.randn(3, 1, 2, dtype=cell.dtype))
    try:
        return str(tl.viz.render_graph(outputs, path, params=cell, legend=True))
    except tl.viz.GraphvizNotFoundError:
        return f"{path.with_suffix('.dot')} (Graphviz's dot is not installed: the DOT source only)"


QUICK = dict(steps=150, length=10)


def main(argv=None) -> int:
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="a few seconds' run: " + ", ".join(f"--{k} {v}" for k, v in QUICK.items())
                        + " (options given explicitly win)")
    parser.add_argument("--steps", type=positive_int, default=400, help="Adam steps per cell (default: 400)")
    parser.add_argument("--length", type=positive_int, default=20, metavar="T",
                        help="adding-problem sequence length (default: 20)")
    parser.add_argument("--hidden", type=positive_int, default=32, help="hidden size (default: 32)")
    parser.add_argument("--batch", type=positive_int, default=64, help="sequences per step (default: 64)")
    parser.add_argument("--lr", type=positive_float, default=1e-2, help="Adam learning rate (default: 0.01)")
    parser.add_argument("--format", default="svg", help="picture format of the graphs: svg, png, pdf (default: svg)")
    parser.add_argument("--out", default="custom_cells", help="directory of the graphs (default: custom_cells)")
    parser.add_argument("--seed", type=non_negative_int, default=0,
                        help="seed of the weights and the data (default: 0)")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")
    parser.add_argument("--debug", action="store_true", help="on an error, show its traceback")
    if parser.parse_known_args(argv)[0].quick:
        parser.set_defaults(**QUICK)
    return run_command(parser.prog, run, parser.parse_args(argv))


def run(args) -> int:
    """Gradcheck, train and draw each cell of `CELLS`, one line each."""
    out = pathlib.Path(args.out)

    print(f"adding problem, T={args.length}, {args.steps} Adam steps; predicting the mean scores {BASELINE_MSE:.3f}")
    for name, cell_class in CELLS.items():
        tl.manual_seed(args.seed)
        checked = gradcheck_cell(cell_class(2, 3, dtype=np.float64))
        before, after, _ = train(cell_class(2, args.hidden), args.steps, args.length, args.batch, args.lr,
                                 args.seed, args.progress, name)
        picture = draw(cell_class(2, 2), out / f"{name}.{args.format}")
        print(f"{cell_class.__name__}: gradcheck passed ({checked} scalars, float64); "
              f"test MSE {before:.4f} -> {after:.4f}; graph: {picture}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
