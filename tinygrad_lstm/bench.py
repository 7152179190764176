"""Benchmark: autograd BPTT of the recurrent kinds of `tl.nn.kinds`, eager and compiled with
`tl.jit`, against their hand-written fused numpy reference (`tinygrad_lstm.manual`) and PyTorch
on the CPU, plus a compiled training step, growth in T and memory. A kind without a reference
(or a PyTorch twin) is timed without it.

Run ``tinygrad-lstm bench`` (``--quick`` for a smoke run). Timings are interleaved in one
process (eager, fused, compiled, eager, ...; each timed run right after an untimed run of the
same code; PyTorch in rounds of its own) and the minimum over repeats is kept;
ratios, not absolute times, are what to compare between machines. ``--write`` regenerates
``docs/performance.md``.
"""
from __future__ import annotations

import datetime
import gc
import os
import platform
import time
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from . import optim, runtime
from .engine import Function, Tensor, grad
from .compiler import jit
from .nn.kinds import get_kind, kind_names
from .progress import progress_bar

CONFIGS = [(50, 32, 64, 128), (20, 1, 4, 8), (200, 64, 128, 256)]
QUICK_CONFIGS = [(6, 2, 3, 4)]
TARGETS = {(50, 32, 64, 128): 1.3, (200, 64, 128, 256): 1.3, (20, 1, 4, 8): 2.5}  # autograd / fused
COMPILED_TARGETS = {(50, 32, 64, 128): 1.10, (200, 64, 128, 256): 1.05, (20, 1, 4, 8): 2.0}  # compiled / fused
TRAINING_STEP_TARGET = 2  # eager / compiled training step of the adding problem, batch 1 to 8
GROWTH_TARGET = 4.4  # T=100 -> T=400: linear is 4x
MEMORY_TARGET = 2  # peak memory of a training step over the fused reference's
DOUBLE_BACKWARD_TARGET = 3  # a Hessian-vector product through an LSTM, over PyTorch's
QUICK_VERDICT = "quick run: targets not judged"


@dataclass
class Timing:
    cell: str
    config: tuple
    dtype: str
    autograd: float
    fused: float | None
    torch: float | None
    compiled: float | None = None    # the same forward + backward through `tl.jit`
    trace: float | None = None       # its first call: the eager call, the trace check and the plan
    torch_ops: float | None = None   # the LSTM composed from torch ops (LSTM only)

    @property
    def ratio(self) -> float | None:
        """autograd / fused, or None for a kind without a hand-written reference."""
        return None if self.fused is None else self.autograd / self.fused

    @property
    def compiled_ratio(self) -> float | None:
        """compiled / fused, or None."""
        return None if self.fused is None or self.compiled is None else self.compiled / self.fused


@dataclass
class Results:
    """What `run` measured: one `Timing` per kind, configuration and dtype, then growth and memory.

    ``str(results)`` is the Markdown of `report`; in a notebook the results display as a table
    with the rows that miss their target highlighted. A `quick` run is not judged against the
    targets.
    """

    timings: list = field(default_factory=list)
    growth: dict = field(default_factory=dict)
    memory: dict = field(default_factory=dict)
    flat: dict = field(default_factory=dict)
    double: dict = field(default_factory=dict)
    training: list = field(default_factory=list)
    breakdown: dict = field(default_factory=dict)
    quick: bool = False

    def __repr__(self) -> str:
        missed = [t for t in self.timings if _missed(t)]
        verdict = "not judged" if self.quick else f"{len(missed)} timing(s) miss their target"
        return f"Results({len(self.timings)} timings, quick={self.quick}, {verdict})"

    def __str__(self) -> str:
        return report(self)

    def _repr_html_(self) -> str:
        from html import escape
        head = "".join(f"<th>{escape(h.strip())}</th>" for h in TABLE_HEADER.split("\n")[0].strip("|").split("|"))
        rows = []
        for timing in self.timings:
            cells = _timing_row(timing, self.quick).strip("|").split("|")
            style = ' style="background-color:#fdd"' if _missed(timing) and not self.quick else ""
            rows.append(f"<tr{style}>" + "".join(f"<td>{escape(c.strip())}</td>" for c in cells) + "</tr>")
        notes = "".join(f"<li>{escape(line[2:])}</li>" for line in summary(self).splitlines() if line.startswith("- "))
        return (f"<div><table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
                f"<ul>{notes}</ul></div>")


def _fused_runner(kind, module, x: np.ndarray):
    """A closure running the fused reference's forward + backward of ``sum(output)``, or None
    when the kind has no hand-written reference."""
    kind = get_kind(kind)
    if kind.manual is None:
        return None
    p = module.state_dict()
    w = (p["weight_ih_l0"], p["weight_hh_l0"], p.get("bias_ih_l0"), p.get("bias_hh_l0"))
    steps, batch, _ = x.shape
    states = [np.zeros((batch, module.hidden_size), x.dtype)] * len(kind.states)
    grad_output = np.ones((steps, batch, module.hidden_size), x.dtype)
    options = {option: getattr(module, option) for option in kind.options}

    def run():
        _, _, cache = kind.manual.forward(x, *states, *w, **options)
        return kind.manual.backward(grad_output, *(None for _ in states), cache)
    return run


def _autograd_runner(module, x: np.ndarray):
    """A closure running ``module(x)``, ``sum(output).backward()``."""
    return _backward_runner(module, Tensor(x, requires_grad=True))


def _backward_runner(module, inputs):
    """A closure running ``module(inputs)``, ``sum(output).backward()``: for a `tl.nn` module on a
    Tensor and for a ``torch.nn`` module on a torch tensor alike."""
    def run():
        module.zero_grad()
        inputs.grad = None
        output, _ = module(inputs)
        output.sum().backward()
    return run


def _compiled_runner(module, x: np.ndarray) -> tuple:
    """``(runner, trace seconds)``: `_autograd_runner` with the module call compiled by `tl.jit`,
    traced (timed) and replayed once before it is returned."""
    inputs = Tensor(x, requires_grad=True)
    step = jit(lambda t: module(t)[0])
    start = time.perf_counter()
    step(inputs)
    trace = time.perf_counter() - start

    def run():
        module.zero_grad()
        inputs.grad = None
        step(inputs).sum().backward()
    run()
    return run, trace


def _torch_runner(kind, module, x: np.ndarray):
    """A closure running the same layer in PyTorch, or None when torch is not installed or the
    kind has no PyTorch twin."""
    kind = get_kind(kind)
    if kind.torch_name is None:
        return None
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(os.cpu_count() or 1)
    dtype = torch.float64 if x.dtype == np.float64 else torch.float32
    options = {option: getattr(module, option) for option in kind.options}
    layer = getattr(torch.nn, kind.torch_name)(module.input_size, module.hidden_size, dtype=dtype, **options)
    layer.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in module.state_dict().items()})
    return _backward_runner(layer, torch.from_numpy(x).requires_grad_())


def _torch_ops_runner(module, x: np.ndarray):
    """A closure running the same LSTM composed from PyTorch ops (the six lines of the LSTM's
    math, one step at a time), or None when torch is not installed. Its ``weights`` are the
    torch tensors, by PyTorch's names."""
    try:
        import torch
    except ImportError:
        return None
    p = {k: torch.from_numpy(np.ascontiguousarray(v)).requires_grad_() for k, v in module.state_dict().items()}
    inputs = torch.from_numpy(x).requires_grad_()
    zeros = torch.zeros(x.shape[1], module.hidden_size, dtype=inputs.dtype)

    def run():
        for t in (*p.values(), inputs):
            t.grad = None
        projection = inputs @ p["weight_ih_l0"].T + p["bias_ih_l0"] + p["bias_hh_l0"]
        h, c, outputs = zeros, zeros, []
        for step in range(x.shape[0]):
            i, f, g, o = (projection[step] + h @ p["weight_hh_l0"].T).chunk(4, 1)
            c = f.sigmoid() * c + i.sigmoid() * g.tanh()
            h = o.sigmoid() * c.tanh()
            outputs.append(h)
        torch.stack(outputs).sum().backward()
    run.weights = p
    return run


def _best_times(runners: list, repeats: int) -> list:
    """Minimum wall time of each runner over `repeats` rounds, interleaved so that machine
    drift hits all alike.

    In every round each runner runs twice in a row and only the second run is timed: the
    steady state of a training loop, which repeats the same step. Timed right after another
    runner, a run would start from that runner's caches (PyTorch's, say), which costs the
    runner with the larger working set more.
    """
    best = [float("inf")] * len(runners)
    for _ in range(repeats):
        for k, runner in enumerate(runners):
            if runner is None:
                continue
            runner()
            start = time.perf_counter()
            runner()
            best[k] = min(best[k], time.perf_counter() - start)
    return [None if runner is None else b for runner, b in zip(runners, best)]


def _make(kind, config: tuple, dtype, seed: int = 0):
    steps, batch, features, hidden = config
    rng = np.random.default_rng(seed)
    module = get_kind(kind).build(features, hidden, dtype=dtype)
    x = rng.standard_normal((steps, batch, features)).astype(dtype)
    return module, x


def time_config(kind, config: tuple, dtype, repeats: int, with_torch: bool = True) -> Timing:
    """Autograd (eager and compiled), fused and torch times for one kind (a name or a
    `RecurrentKind`), (T, B, D, H) and dtype; for the LSTM also the LSTM composed from torch ops."""
    module, x = _make(kind, config, dtype)
    compiled, trace = _compiled_runner(module, x)
    is_lstm = get_kind(kind).name == "lstm"
    autograd, fused, compiled_time = _best_times([_autograd_runner(module, x), _fused_runner(kind, module, x),
                                                  compiled], repeats)
    # PyTorch in rounds of its own: its worker threads keep spinning for a while after a call,
    # which slows whatever runs next on these two cores
    torch_time, torch_ops = _best_times([_torch_runner(kind, module, x) if with_torch else None,
                                         _torch_ops_runner(module, x) if with_torch and is_lstm else None], repeats)
    return Timing(get_kind(kind).name, config, np.dtype(dtype).name, autograd, fused, torch_time, compiled_time,
                  trace, torch_ops)


def training_steps(batches=(1, 2, 4, 8), steps: int = 50, hidden: int = 32, repeats: int = 15) -> list:
    """The adding problem's training step (forward, MSE, backward, gradient clipping, Adam), eager
    and compiled whole with `tl.jit`, at each batch size: ``[{"batch", "eager", "compiled", "trace"}]``."""
    from .nn.functional import mse_loss
    from .nn.utils import clip_grad_norm_
    from .tasks.adding import AddingModel, make_batch
    rows = []
    for batch in batches:
        model = AddingModel("lstm", hidden)
        params = list(model.parameters())
        optimizer = optim.Adam(params, lr=1e-3)
        x, y = make_batch(batch, steps, np.random.default_rng(batch))

        def step(x, y):
            loss = mse_loss(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            clip_grad_norm_(params, 1.0)
            optimizer.step()
            return loss
        compiled = jit(step)
        start = time.perf_counter()
        compiled(x, y)
        trace = time.perf_counter() - start
        eager, replay = _best_times([lambda: step(x, y), lambda: compiled(x, y)], repeats)
        rows.append({"batch": batch, "eager": eager, "compiled": replay, "trace": trace, "T": steps,
                     "hidden": hidden})
    return rows


def where_the_time_goes(config: tuple = (20, 1, 4, 8), repeats: int = 15) -> dict:
    """The compiled LSTM forward + backward of `config`, in parts: the generated forward and
    backward code alone, and the rest (the call's signature and guards, the node, the
    engine's walk of the two nodes outside, copies of results); numpy calls per step."""
    module, x = _make("lstm", config, np.float32)
    inputs = Tensor(x, requires_grad=True)
    step = jit(lambda t: module(t)[0])
    step(inputs)
    step(inputs).sum().backward()
    plan = next(iter(step._cache.values()))
    arena = plan.pool[0]
    backward = arena.backwards[plan._full]
    seeds = (np.ones((config[0], config[1], config[3]), np.float32),)

    def whole():
        module.zero_grad()
        inputs.grad = None
        step(inputs).sum().backward()
    whole_time, forward, back = _best_times([whole, lambda: arena.run([inputs], arena.store),
                                             lambda: backward(seeds, arena.store)], repeats)
    calls = {name: sum(1 for line in source.splitlines() if "np_" in line or ".forward(" in line)
             for name, source in plan.program.sources.items() if not name.endswith("arena")}
    forward_calls = next(n for name, n in calls.items() if "backward" not in name and "checked" not in name)
    backward_calls = next(n for name, n in calls.items() if name.endswith("backward"))
    eager, fused = _best_times([_autograd_runner(module, x), _fused_runner("lstm", module, x)], repeats)
    return {"config": config, "whole": whole_time, "forward": forward, "backward": back, "eager": eager,
            "fused": fused, "forward_calls": forward_calls / config[0], "backward_calls": backward_calls / config[0],
            "ops": plan.op_count / config[0]}


def growth(config: tuple, short: int, long: int, repeats: int, dtype=np.float32) -> dict:
    """LSTM time at T=`long` over T=`short` (linear BPTT gives long/short), autograd and the
    fused reference (which shows what the machine's caches add to linear)."""
    _, batch, features, hidden = config
    times = {}
    for steps in (short, long):
        module, x = _make("lstm", (steps, batch, features, hidden), dtype)
        times[steps] = _best_times([_autograd_runner(module, x), _fused_runner("lstm", module, x)], repeats)
    return {"short": short, "long": long, "ratio": times[long][0] / times[short][0],
            "fused_ratio": times[long][1] / times[short][1], "linear": long / short}


def double_backward(config: tuple, repeats: int, dtype=np.float64) -> dict:
    """Time a Hessian-vector product of ``sum(output ** 2)`` with respect to an LSTM's weights:
    forward, ``tl.grad(..., create_graph=True)``, then the gradient of ``<gradient, v>``;
    the same in PyTorch (None when it is not installed)."""
    module, x = _make("lstm", config, dtype)
    params = list(module.parameters())
    vectors = [np.random.default_rng(i).standard_normal(p.shape).astype(dtype) for i, p in enumerate(params)]

    def hvp():
        output, _ = module(x)
        grads = grad((output * output).sum(), params, create_graph=True)
        grad(sum((g * v).sum() for g, v in zip(grads, vectors)), params)

    runners = [hvp, _torch_hvp(module, x, vectors)]
    ours, theirs = _best_times(runners, repeats)
    return {"config": config, "dtype": np.dtype(dtype).name, "autograd": ours, "torch": theirs}


def _torch_hvp(module, x: np.ndarray, vectors: list):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(os.cpu_count() or 1)
    twin = torch.nn.LSTM(module.input_size, module.hidden_size, dtype=torch.float64 if x.dtype == np.float64
                         else torch.float32)
    twin.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in module.state_dict().items()})
    params, inputs = list(twin.parameters()), torch.from_numpy(x)
    torch_vectors = [torch.from_numpy(v) for v in vectors]

    def hvp():
        output, _ = twin(inputs)
        grads = torch.autograd.grad((output * output).sum(), params, create_graph=True)
        torch.autograd.grad(sum((g * v).sum() for g, v in zip(grads, torch_vectors)), params)
    return hvp


def _peak_bytes(run) -> int:
    gc.collect()
    tracemalloc.start()
    run()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def peak_memory(config: tuple, dtype=np.float32) -> dict:
    """tracemalloc peak of one training step (forward, backward, Adam) vs the fused reference,
    and the memory of the same step compiled: its plan's buffers and the peak of a replay beyond them."""
    module, x = _make("lstm", config, dtype)
    optimizer = optim.Adam(module.parameters(), lr=1e-3)
    autograd = _autograd_runner(module, x)

    def training_step():
        autograd()
        optimizer.step()
    training_step()  # optimiser state exists before measuring, as in a training loop
    fused = _fused_runner("lstm", module, x)
    inputs = Tensor(x, requires_grad=True)

    def step(t):
        module.zero_grad()
        module(t)[0].sum().backward()
        optimizer.step()
    compiled = jit(step)
    compiled(inputs)
    compiled(inputs)
    plan = next(iter(compiled._cache.values()))
    return {"autograd": _peak_bytes(training_step), "fused": _peak_bytes(fused), "config": config,
            "plan": plan.program.bytes, "replay": _peak_bytes(lambda: compiled(inputs))}


def memory_over_steps(steps: int = 500, dtype=np.float32) -> dict:
    """Traced memory after each of `steps` training steps of a small LSTM, and live graph nodes after.

    A retained graph would add about one step's graph (the ``graph`` bytes: peak during a
    step minus memory after it) per step; numpy's small-buffer cache adds a little at first
    and then saturates. Flat means: after the first fifth of the steps, memory grows by
    less than 1% of one graph per step, and no graph node outlives training.
    """
    module, x = _make("lstm", (20, 8, 4, 16), dtype)
    optimizer = optim.Adam(module.parameters(), lr=1e-3)
    run = _autograd_runner(module, x)
    samples, graph = [0] * steps, 0  # allocated before tracing: the record itself must not grow
    gc.collect()
    tracemalloc.start()
    for step in range(steps):
        tracemalloc.reset_peak()
        run()
        optimizer.step()
        current, peak = tracemalloc.get_traced_memory()
        samples[step] = current
        graph = max(graph, peak - current)
    tracemalloc.stop()
    live_nodes = sum(issubclass(type(o), Function) for o in gc.get_objects())
    start = steps // 5
    per_step = (samples[-1] - samples[start]) / max(1, steps - 1 - start)
    return {"steps": steps, "start": start, "at_start": samples[start], "last": samples[-1], "graph": graph,
            "per_step": per_step, "live_nodes": live_nodes, "flat": per_step < 0.01 * graph and live_nodes == 0}


def run(quick: bool = False, repeats: int | None = None, cells=None, progress=print, bar: bool = False) -> Results:
    """Run every measurement; `quick` uses tiny sizes (a smoke test, not a measurement).

    `cells` are the kinds to time (names or `RecurrentKind`s; default: every registered kind
    with a hand-written reference); growth and memory are measured on the LSTM.
    ``progress(row)`` receives each table row as it is measured; `bar` adds a progress bar on
    stderr (`tinygrad_lstm.progress`).
    """
    repeats = repeats or (2 if quick else 30)
    if cells is None:
        cells = [name for name in kind_names() if get_kind(name).manual is not None]
    results = Results(quick=quick)
    configs = QUICK_CONFIGS if quick else CONFIGS
    with progress_bar(total=len(configs) * 2 * len(cells) + 6, desc="bench", enabled=bar, unit="run") as shown:
        for config in configs:
            for dtype in (np.float32, np.float64):
                for cell in cells:
                    reps = repeats if config[0] * config[1] * config[3] < 500_000 else max(2, repeats // 6)
                    timing = time_config(cell, config, dtype, reps)
                    results.timings.append(timing)
                    with shown.external_write_mode():
                        progress(_timing_row(timing, quick))
                    shown.update(1)
        shown.set_description("bench: growth in T")
        results.growth = growth((0, 8, 4, 16) if quick else (0, 32, 64, 128), 10 if quick else 100,
                                40 if quick else 400, repeats)
        shown.update(1)
        shown.set_description("bench: peak memory")
        results.memory = peak_memory((50 if quick else 1000, 4 if quick else 32, 8 if quick else 64,
                                      8 if quick else 128))
        shown.update(1)
        shown.set_description("bench: memory over steps")
        results.flat = memory_over_steps(20 if quick else 500)
        shown.update(1)
        shown.set_description("bench: double backward")
        results.double = double_backward((6, 2, 3, 4) if quick else (50, 32, 64, 128), repeats if quick else 5)
        shown.update(1)
        shown.set_description("bench: compiled training step")
        results.training = training_steps((1, 2) if quick else (1, 2, 4, 8), 6 if quick else 50,
                                          4 if quick else 32, repeats)
        shown.update(1)
        shown.set_description("bench: where the time goes")
        results.breakdown = where_the_time_goes((6, 1, 3, 4) if quick else (20, 1, 4, 8), repeats)
        shown.update(1)
    return results


def _ms(seconds) -> str:
    return f"{'-':>9}" if seconds is None else f"{seconds * 1e3:9.2f}"


def _ratio(a, b) -> str:
    return "-" if a is None or b is None else f"{a / b:.2f}"


def _missed(t: Timing) -> bool:
    """True when `t` has a target (eager or compiled) and misses it."""
    return any(targets.get(t.config) is not None and ratio is not None and ratio > targets[t.config]
               for ratio, targets in ((t.ratio, TARGETS), (t.compiled_ratio, COMPILED_TARGETS)))


def _timing_row(t: Timing, quick: bool = False) -> str:
    verdicts = []
    for ratio, targets in ((t.ratio, TARGETS), (t.compiled_ratio, COMPILED_TARGETS)):
        target = targets.get(t.config)
        verdicts.append("" if quick or target is None or ratio is None else
                        ("ok" if ratio <= target else f"> {target}"))
    return (f"| {t.cell:4} | {str(t.config):19} | {t.dtype:7} | {_ms(t.autograd)} | {_ms(t.compiled)} | "
            f"{_ms(t.fused)} | {_ms(t.torch)} | {_ratio(t.autograd, t.fused):>6} | {verdicts[0]:6} | "
            f"{_ratio(t.compiled, t.fused):>6} | {verdicts[1]:6} | {_ratio(t.autograd, t.torch):>6} | "
            f"{_ratio(t.compiled, t.torch):>6} | {_ms(t.trace)} |")


TABLE_HEADER = ("| cell | (T, B, D, H)        | dtype   | eager ms  | compiled ms | fused ms | torch ms | "
                "eager/fused | target | compiled/fused | target | eager/torch | compiled/torch | trace ms |\n"
                "|------|---------------------|---------|-----------|-----------|-----------|-----------|--------|"
                "--------|--------|--------|--------|--------|-----------|")


def report(results: Results) -> str:
    """The results as Markdown (the body of docs/performance.md); a quick run's says it is not judged."""
    quick = results.quick
    lines = ["## Time: forward + backward of sum(output), one layer", "",
             "*eager* is `tl.nn` with its graph; *compiled* the same call through `tl.jit` (the backward "
             "replayed by its node); *trace* the compiled call's first run (the eager call, the check of the "
             "trace on other inputs, and the plan).", "", TABLE_HEADER]
    if quick:
        lines[1:1] = ["", f"{QUICK_VERDICT.capitalize()}: tiny sizes, a smoke test, not a measurement."]
    lines += [_timing_row(t, quick) for t in results.timings]
    against = [t for t in results.timings if t.torch_ops is not None]
    if against:
        lines += ["", "## The LSTM against PyTorch eager", "",
                  "`torch.nn.LSTM` (its fused C++ cell) and the same LSTM composed from torch ops step by step "
                  "(what autograd does in both libraries).", "",
                  "| (T, B, D, H)        | dtype   | eager ms  | compiled ms | torch.nn.LSTM ms | torch ops ms | "
                  "eager/nn.LSTM | compiled/nn.LSTM | eager/torch ops | compiled/torch ops |",
                  "|---------------------|---------|-----------|-----------|-----------|-----------|--------|"
                  "--------|--------|--------|"]
        lines += [f"| {str(t.config):19} | {t.dtype:7} | {_ms(t.autograd)} | {_ms(t.compiled)} | {_ms(t.torch)} | "
                  f"{_ms(t.torch_ops)} | {_ratio(t.autograd, t.torch):>6} | {_ratio(t.compiled, t.torch):>6} | "
                  f"{_ratio(t.autograd, t.torch_ops):>6} | {_ratio(t.compiled, t.torch_ops):>6} |" for t in against]
    if results.training:
        lines += ["", "## A compiled training step: the adding problem", "",
                  "Forward, MSE, backward, gradient-norm clipping and an Adam step, eager and compiled whole with "
                  "`tl.jit` (the same numbers), LSTM, float32.", "",
                  "| batch | (T, H)   | eager ms  | compiled ms | eager/compiled | target | trace ms |",
                  "|-------|----------|-----------|-----------|--------|--------|-----------|"]
        for r in results.training:
            speedup = r["eager"] / r["compiled"]
            verdict = "" if quick else "ok" if speedup >= TRAINING_STEP_TARGET else f"< {TRAINING_STEP_TARGET}"
            lines.append(f"| {r['batch']:5} | {str((r['T'], r['hidden'])):8} | {_ms(r['eager'])} | "
                         f"{_ms(r['compiled'])} | {speedup:6.2f} | {verdict:6} | {_ms(r['trace'])} |")
    g, m, f = results.growth, results.memory, results.flat
    growth_target, memory_target = ("", "") if quick else (f"; target <= {GROWTH_TARGET}x",
                                                           f" (target <= {MEMORY_TARGET})")
    flat = "not judged in a quick run" if quick else "flat" if f["flat"] else "GROWING"
    lines += ["", "## Growth with sequence length (autograd LSTM, float32)", "",
              f"T={g['long']} takes {g['ratio']:.2f}x the time of T={g['short']} "
              f"(linear would be {g['linear']:.1f}x{growth_target}); the fused reference takes "
              f"{g['fused_ratio']:.2f}x.", "",
              "## Peak memory of one training step (tracemalloc)", "",
              f"LSTM (T, B, D, H) = {m['config']}, float32: autograd forward + backward + Adam step "
              f"{m['autograd'] / 2**20:.1f} MiB, fused reference forward + backward {m['fused'] / 2**20:.1f} MiB: "
              f"ratio {m['autograd'] / m['fused']:.2f}{memory_target}. Compiled with `tl.jit`: "
              f"the plan's buffers {m['plan'] / 2**20:.1f} MiB, {m['plan'] / m['autograd']:.2f}x the eager step's "
              f"peak{'' if quick else ' (target <= 2)'}, and a replay allocates at most "
              f"{m['replay'] / 2**20:.1f} MiB more.", "",
              f"## Memory over {f['steps']} training steps", "",
              f"Traced memory after step {f['start']}: {f['at_start'] / 2**10:.0f} KiB; after step {f['steps']}: "
              f"{f['last'] / 2**10:.0f} KiB, i.e. {f['per_step']:.0f} bytes per step against "
              f"{f['graph'] / 2**10:.0f} KiB for one step's graph; graph nodes alive after training: "
              f"{f['live_nodes']}: {flat}."]
    d = results.double
    if d:
        double_target = "" if quick else f" (target <= {DOUBLE_BACKWARD_TARGET})"
        torch_part = (f", PyTorch {_ms(d['torch']).strip()} ms: ratio {d['autograd'] / d['torch']:.2f}"
                      f"{double_target}") if d["torch"] else " (PyTorch not installed)"
        lines += ["", "## Double backward: a Hessian-vector product through an LSTM", "",
                  f"(T, B, D, H) = {d['config']}, {d['dtype']}: forward, gradient with create_graph=True, "
                  f"gradient of <gradient, v>: autograd {_ms(d['autograd']).strip()} ms{torch_part}."]
    return "\n".join(lines)


def machine_description() -> str:
    """CPU, core count, Python, numpy and its BLAS, torch: what the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    blas = ""
    try:
        config = np.show_config(mode="dicts")
        info = config["Build Dependencies"]["blas"]
        blas = f"{info.get('name', '')} {info.get('version', '')}".strip()
    except Exception:  # the config layout differs across numpy versions; the BLAS name is optional
        blas = "unknown"
    try:
        import torch
        torch_version = torch.__version__
    except ImportError:
        torch_version = "not installed"
    from threadpoolctl import threadpool_info
    blas_threads = ", ".join(f"{pool['internal_api']} {pool['num_threads']} thread(s)" for pool in threadpool_info()
                             if pool.get("user_api") == "blas") or "unknown"
    return (f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}; "
            f"Python {platform.python_version()}, numpy {np.__version__} ({blas}; {blas_threads}), torch {torch_version}; "
            f"{runtime.describe()}")


def write_markdown(results: Results, path: Path) -> None:
    header = ["# Performance", "",
              "Generated by `tinygrad-lstm bench --write`; do not edit by hand. Absolute times vary",
              "between machines: the ratios are what we track. *fused* is the hand-written numpy",
              "reference of `tinygrad_lstm.manual` on the same weights; *autograd* is `tl.nn` with",
              "backpropagation through the graph. Both run in one process with the settings of",
              "`tinygrad_lstm.runtime` (one BLAS thread, freed memory kept for reuse), as every",
              "`tinygrad-lstm` command does. The reference preallocates its buffers and computes sigmoid as",
              "0.5 * tanh(0.5 * z) + 0.5 folded into one tanh per step; `tl` ops allocate their results and",
              "compute sigmoid as 1 / (1 + exp(-z)), exact to a few ulps in both tails, as PyTorch.", "",
              f"Measured {datetime.date.today().isoformat()} on: {machine_description()}.", "",
              summary(results), "", where_the_time_goes_text(results.breakdown), ""]
    path.write_text("\n".join(header) + "\n" + report(results) + "\n")


def where_the_time_goes_text(b: dict) -> str:
    """The paragraph explaining the ratios, with the measured parts of a small compiled LSTM."""
    text = ["## Where the time goes", "",
            "All sides do the same matrix products. Eager autograd adds Python work for every node of the",
            "graph (a Tensor and a node recorded in forward, a heap entry and a call in backward: a few",
            "microseconds each, 11 nodes per LSTM step) and numpy calls that allocate their results. At",
            "(200, 64, 128, 256) the products dominate and every ratio is close to 1; at (20, 1, 4, 8) an op",
            "handles at most 32 numbers, so the time is per-call overhead.", "",
            "`tl.jit` removes the Python of the graph: the replay is generated straight-line code, one to four",
            "numpy calls per op writing into buffers allocated once (`out=`), views (split, unbind, reshape)",
            "made once, each step's gate gradients written into the rows that the one weight-gradient product",
            "reads, so no concatenation. What remains is the numpy call overhead (under a microsecond each)",
            "and the same elementwise work as eager, op by op: the plan makes eager's numpy calls (the same",
            "numbers to the last bit), so a sigmoid stays four calls (negate, exp, add 1, reciprocal) where",
            "the hand-fused reference folds three gates into one tanh, and the backward keeps one call per",
            "product of the chain rule."]
    if b:
        rest = b["whole"] - b["forward"] - b["backward"]
        # each part is the minimum of its own runs, so on a noisy machine the parts can add up to
        # more than the whole: then the rest is below what this machine can resolve
        around = (f"{rest * 1e6:.0f} us around them" if rest > 0.05 * b["whole"] else
                  "under 5% of the whole around them")
        text += ["", f"Measured on the LSTM {b['config']}, float32, per forward + backward: eager "
                 f"{b['eager'] * 1e6:.0f} us; compiled {b['whole'] * 1e6:.0f} us = generated forward "
                 f"{b['forward'] * 1e6:.0f} us ({b['forward_calls']:.0f} numpy calls per step for "
                 f"{b['ops']:.0f} ops) + generated backward {b['backward'] * 1e6:.0f} us "
                 f"({b['backward_calls']:.0f} calls per step) + {around} (the call's "
                 f"signature and guards, the compiled node, the engine's walk of the two nodes outside, copies of "
                 f"the results); the fused reference {b['fused'] * 1e6:.0f} us."]
    return "\n".join(text)


def summary(results: Results) -> str:
    """What was measured, one line each: the worst autograd / fused ratio per configuration, the
    growth from short to long sequences, peak memory and memory over many steps, each against
    its target (a quick run's: not judged)."""
    def verdict(target: str, ok: bool) -> str:
        return QUICK_VERDICT if results.quick else f"target {target}: {'met' if ok else 'NOT met'}"

    lines = ["## Summary", ""]
    for name, attribute, targets in (("eager", "ratio", TARGETS), ("compiled", "compiled_ratio", COMPILED_TARGETS)):
        for config, target in targets.items():
            ratios = [getattr(t, attribute) for t in results.timings
                      if t.config == config and getattr(t, attribute) is not None]
            if ratios:
                worst = max(ratios)
                lines.append(f"- {name} / fused at (T, B, D, H) = {config}, worst over kinds and dtypes: {worst:.2f} "
                             f"({verdict(str(target), worst <= target)}).")
    if results.training:
        least = min(r["eager"] / r["compiled"] for r in results.training)
        batches = ", ".join(str(r["batch"]) for r in results.training)
        lines.append(f"- compiled training step of the adding problem at batch {batches}: at least {least:.2f}x "
                     f"faster than eager ({verdict(f'{TRAINING_STEP_TARGET}x', least >= TRAINING_STEP_TARGET)}).")
    g, m, f = results.growth, results.memory, results.flat
    memory_ratio = m["autograd"] / m["fused"]
    lines += [f"- autograd LSTM time from T={g['short']} to T={g['long']}: {g['ratio']:.2f}x, the fused reference "
              f"{g['fused_ratio']:.2f}x ({verdict(f'{GROWTH_TARGET}x', g['ratio'] <= GROWTH_TARGET)}).",
              f"- peak memory of a training step over the fused reference's: {memory_ratio:.2f}x "
              f"({verdict(f'{MEMORY_TARGET}x', memory_ratio <= MEMORY_TARGET)}).",
              f"- memory of a compiled training step's plan over one eager step's peak: "
              f"{m['plan'] / m['autograd']:.2f}x ({verdict('2x', m['plan'] <= 2 * m['autograd'])}).",
              f"- memory over {f['steps']} training steps: "
              + (f"({verdict('flat', f['flat'])})." if results.quick else
                 f"{'flat' if f['flat'] else 'growing'} ({verdict('flat', f['flat'])}).")]
    d = results.double
    if d and d["torch"]:
        ratio = d["autograd"] / d["torch"]
        lines.append(f"- Hessian-vector product through an LSTM {d['config']} {d['dtype']} over PyTorch's: "
                     f"{ratio:.2f}x ({verdict(f'{DOUBLE_BACKWARD_TARGET}x', ratio <= DOUBLE_BACKWARD_TARGET)}).")
    return "\n".join(lines)
