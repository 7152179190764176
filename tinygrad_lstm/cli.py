"""The ``tinygrad-lstm`` command (also ``python -m tinygrad_lstm``).

Commands: ``demo`` (the main job), ``compare`` (gradient check of one module), ``graph``
(draw an unrolled module), ``diagnose`` (BPTT step by step: gradient norms, Jacobian decay,
per-step contributions, gate saturation), ``train`` (a task from `tinygrad_lstm.tasks`), ``bench``
(autograd against the hand-written reference and PyTorch) and ``check`` (a learner's own
course-layout BPTT code against the graph). Every command has ``--help``, ``--quiet`` (no
progress, only the result line) and ``--debug`` (the traceback of an error).

Exit codes, the same for every command (`EXIT_CODES`): 0 success (the gradients agree, the
code checked is right), 1 the gradients disagree or a check found a bug, 2 a usage error or a
runtime error (one line on stderr, never a traceback unless ``--debug``). When the reader of
stdout or stderr goes away (``tinygrad-lstm compare | head -1``, or ``2>&1 | head -1``) the
rest of the output is dropped quietly and the exit code is still the command's own.

``--cell`` takes a recurrent kind of `tl.nn.kinds` (``rnn``, ``lstm``, ``gru`` or a kind
registered with ``register_kind``) or ``module:Class``, a cell class imported from the
current directory or ``PYTHONPATH``. The argument types (`positive_int`, `cell_kind`, ...)
are shared with the tasks' options.

Each command is one section below: ``_<command>_parser(commands)`` adds its subparser and
``_<command>(args)`` runs it; `COMMANDS` lists them in the order of ``--help``.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import traceback
import warnings

import numpy as np

from .runtime import tune_process

__all__ = ["main", "build_parser", "ArgumentParser", "run_command", "EXIT_CODES", "cell_kind", "cell_kinds",
           "add_cell_argument", "positive_int", "non_negative_int", "positive_float", "non_negative_float"]

EXIT_CODES = """exit codes:
  0  success: the gradients agree, the code checked is right
  1  the gradients disagree, or a check found a bug
  2  a usage error or a runtime error (one line on stderr; --debug shows the traceback)"""


class _HelpFormatter(argparse.HelpFormatter):
    """Wraps descriptions to the terminal; keeps the lines of text that has line breaks (`EXIT_CODES`)."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


class ArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr and exit code 2, and whose
    ``--help`` ends with `EXIT_CODES`; the example scripts' parser too."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _HelpFormatter)
        kwargs.setdefault("epilog", EXIT_CODES)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        """``PROG: error: MESSAGE (try --help)`` on stderr, one line, and exit code 2 (no usage block)."""
        self.exit(2, f"{self.prog}: error: {message} (try --help)\n")


def _usage_error(command: str, message: str):
    """Exit with code 2 after one line on stderr, as the parser does, for an error found after parsing."""
    print(f"tinygrad-lstm {command}: error: {message} (try --help)", file=sys.stderr)
    raise SystemExit(2)


# --------------------------------------------------------------------------- argument types
def _number(text: str, convert, kind: str, valid) -> int | float:
    try:
        value = convert(text)
    except ValueError:
        value = None
    if value is None or not valid(value):
        raise argparse.ArgumentTypeError(f"expected a {kind}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """An argparse type: an int >= 1, or a usage error naming the value."""
    return _number(text, int, "positive integer", lambda value: value >= 1)


def non_negative_int(text: str) -> int:
    """An argparse type: an int >= 0, or a usage error naming the value."""
    return _number(text, int, "non-negative integer", lambda value: value >= 0)


def positive_float(text: str) -> float:
    """An argparse type: a finite number > 0, or a usage error naming the value."""
    return _number(text, float, "positive number", lambda value: 0 < value < float("inf"))


def non_negative_float(text: str) -> float:
    """An argparse type: a finite number >= 0, or a usage error naming the value."""
    return _number(text, float, "non-negative number", lambda value: 0 <= value < float("inf"))


@contextlib.contextmanager
def _current_directory_importable():
    """Let ``module:Class`` name a module of the current directory, as ``python -m`` would."""
    added = os.getcwd() not in sys.path and "" not in sys.path
    if added:
        sys.path.insert(0, os.getcwd())
    try:
        yield
    finally:
        if added:
            sys.path.remove(os.getcwd())


def cell_kind(text: str):
    """An argparse type: a registered kind (`tl.nn.kinds`) or ``module:Class``, as its `RecurrentKind`.

    ``module`` is imported from the current directory or ``PYTHONPATH``; anything that is not
    a kind is a usage error naming the problem.
    """
    from .nn.kinds import get_kind
    with _current_directory_importable():
        try:
            return get_kind(text, owner="")
        except KeyError:
            raise argparse.ArgumentTypeError(f"invalid choice: {text!r} (choose from {_kinds_help()})") from None
        except (ImportError, TypeError) as e:
            raise argparse.ArgumentTypeError(str(e)) from None


def cell_kinds(text: str) -> tuple:
    """An argparse type: a comma-separated list of `cell_kind`s."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected a comma-separated list of recurrent kinds, got {text!r}")
    return tuple(cell_kind(name) for name in names)


def _kinds_help() -> str:
    from .nn.kinds import kind_names
    return f"{', '.join(kind_names())}, or module:Class for a cell class of yours"


def add_cell_argument(parser, default: str = "lstm") -> None:
    """The ``--cell KIND`` option: a registered recurrent kind or ``module:Class`` (see `cell_kind`)."""
    parser.add_argument("--cell", type=cell_kind, default=default, metavar="KIND",
                        help=f"the recurrent kind: {_kinds_help()} (default: {default})")


# --------------------------------------------------------------------------- running a command
def run_command(prog: str, run, args) -> int:
    """``run(args) -> exit code`` under the exit-code convention of `EXIT_CODES`.

    An exception becomes one line on stderr, ``PROG: error: message``, and exit code 2 (with
    its traceback first when ``args.debug``); Ctrl-C exits with 130. A reader of stdout or
    stderr that goes away (``| head -1``) ends that output quietly, not the command. The example scripts
    run their tasks through this too.
    """
    with _readers_may_leave():
        try:
            return run(args)
        except KeyboardInterrupt:
            print(f"{prog}: interrupted", file=sys.stderr)
            return 130
        except Exception as e:  # the convention: any failure is one line and exit code 2
            debug = getattr(args, "debug", False)
            if debug:
                traceback.print_exc()
            print(f"{prog}: error: {_error_message(e, hint=not debug)}", file=sys.stderr)
            return 2


_EXPECTED_ERRORS = (ValueError, TypeError, KeyError, OSError, ImportError)  # bad input, files: the message says it


def _error_message(error: Exception, hint: bool) -> str:
    """`error` on one line: a file error names its file; an unexpected type is named, and with
    `hint` the line says how to see its traceback."""
    if isinstance(error, OSError) and error.filename is not None:
        return f"{error.strerror or error}: {error.filename}"
    message = str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)
    message = " ".join(message.split()) or type(error).__name__
    if isinstance(error, _EXPECTED_ERRORS):
        return message
    return f"{type(error).__name__}: {message}" + (" (--debug shows the traceback)" if hint else "")


class _PipeGuard:
    """An output stream that, once its reader has gone (a broken pipe), drops what is written to it."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> int:
        try:
            return self.stream.write(text)
        except BrokenPipeError:
            self._drop()
            return len(text)

    def flush(self) -> None:
        try:
            self.stream.flush()
        except BrokenPipeError:
            self._drop()

    def _drop(self) -> None:
        # Point the file descriptor at /dev/null too: the interpreter flushes what is still
        # buffered when it exits, which would raise again.
        with contextlib.suppress(AttributeError, OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self.stream.fileno())
            os.close(devnull)
        self.stream = open(os.devnull, "w")

    def __getattr__(self, name):
        return getattr(self.stream, name)


@contextlib.contextmanager
def _readers_may_leave():
    """stdout and stderr (progress, warnings, errors) both: ``2>&1 | head -1`` must end as quietly."""
    originals = sys.stdout, sys.stderr
    guards = sys.stdout, sys.stderr = _PipeGuard(originals[0]), _PipeGuard(originals[1])
    try:
        yield
    finally:
        for guard in guards:
            guard.flush()
        sys.stdout, sys.stderr = originals


# --------------------------------------------------------------------------- the parser
def _add_module_options(parser, steps: int, batch: int, input_size: int, hidden: int) -> None:
    """Options describing a random module of a recurrent kind and its random input."""
    add_cell_argument(parser)
    parser.add_argument("--steps", type=positive_int, default=steps, help=f"time steps T (default: {steps})")
    parser.add_argument("--batch", type=positive_int, default=batch, help=f"batch size B (default: {batch})")
    parser.add_argument("--input", type=positive_int, default=input_size,
                        help=f"input size D (default: {input_size})")
    parser.add_argument("--hidden", type=positive_int, default=hidden, help=f"hidden size H (default: {hidden})")
    parser.add_argument("--layers", type=positive_int, default=1, help="number of layers (default: 1)")
    parser.add_argument("--bidirectional", action="store_true", help="add a reverse direction per layer")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="seed of the weights and the input (default: 0)")


def _add_common_options(parser) -> None:
    """``--quiet`` and ``--debug``, which every command has."""
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress, only the result line")
    parser.add_argument("--debug", action="store_true", help="on an error, show its traceback")


def build_parser(task_module=None) -> argparse.ArgumentParser:
    """The argument parser; `task_module` adds its options to ``train`` (see `tinygrad_lstm.tasks`)."""
    parser = ArgumentParser(prog="tinygrad-lstm", description=(
        "See and trust how recurrent networks learn: gradient checks, graph pictures and training demos."))
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    subparsers = {name: add_parser(commands) for name, (add_parser, _) in COMMANDS.items()}
    for subparser in subparsers.values():
        _add_common_options(subparser)
    if task_module is not None:
        name = task_module.__name__.rsplit(".", 1)[-1]
        group = subparsers["train"].add_argument_group(f"options of the {name} task",
                                                       (task_module.__doc__ or "").splitlines()[0])
        task_module.add_arguments(group)
    return parser


def _peek_task(argv: list) -> str | None:
    """The ``--task`` of a ``train`` command line, before the full parse (it decides the options)."""
    if not argv or argv[0] != "train":
        return None
    peek = argparse.ArgumentParser(add_help=False)
    peek.add_argument("--task", default="adding")
    known, _ = peek.parse_known_args(argv[1:])
    return known.task


def main(argv=None) -> int:
    """Run the command line; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    from .tasks import TASKS, load_task

    task_module = None
    task = _peek_task(argv)
    if task in TASKS:
        try:
            task_module = load_task(task)
        except ImportError as e:
            print(f"tinygrad-lstm train: error: {e}", file=sys.stderr)
            return 2
    args = _parse(build_parser(task_module), argv)
    tune_process()
    _, run = COMMANDS[args.command]
    return run_command(f"tinygrad-lstm {args.command}", run, args)


def _parse(parser: argparse.ArgumentParser, argv: list) -> argparse.Namespace:
    """Parse `argv`; an unknown option is reported by its command's parser (``tinygrad-lstm train: ...``)."""
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        commands = next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
        commands.choices[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    return args


# --------------------------------------------------------------------------- demo
def _demo_parser(commands):
    from .demo import DURATION, QUICK_DURATION

    demo = commands.add_parser(
        "demo", help="the main job: gradient checks, the graph of an LSTM, RNN vs LSTM on the adding problem",
        description="Print gradient checks of RNN, LSTM and GRU; draw the unrolled graph of a 3-step LSTM; "
                    "train a plain RNN and an LSTM on the adding problem and plot their learning curves and "
                    f"gradient flow. Takes {DURATION} on an idle machine ({QUICK_DURATION} with --quick) and prints "
                    "the time it took at the end.")
    demo.add_argument("--out", default="demo-output", metavar="DIR",
                      help="directory for the pictures and plots (default: demo-output)")
    demo.add_argument("--quick", action="store_true", help=f"tiny sizes and a few steps ({QUICK_DURATION})")
    demo.add_argument("--seed", type=non_negative_int, default=0, help="seed of everything random (default: 0)")
    demo.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")
    return demo


def _demo(args) -> int:
    import io

    from .demo import run_demo
    log = io.StringIO() if args.quiet else None
    code = run_demo(args.out, quick=args.quick, seed=args.seed, progress=args.progress and not args.quiet, stream=log)
    if args.quiet:
        print(log.getvalue().rstrip().rsplit("\n", 1)[-1])  # the summary line
    return code


# --------------------------------------------------------------------------- compare
def _compare_parser(commands):
    compare = commands.add_parser(
        "compare", help="compare autograd gradients with hand-written BPTT, central differences and PyTorch",
        description="Check every gradient of a random recurrent module (parameters, input, initial state): autograd "
                    "against the hand-written BPTT, central differences and PyTorch (when installed). "
                    "Exit code 0 when all agree, 1 otherwise.")
    _add_module_options(compare, steps=5, batch=3, input_size=4, hidden=6)
    compare.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                         help="dtype of autograd, the manual reference and torch (default: float64)")
    compare.add_argument("--numerical-elements", type=non_negative_int, default=512, metavar="N",
                         help="central differences on at most N elements per tensor, 0 for none (default: 512)")
    compare.add_argument("--no-torch", action="store_true", help="do not compare with PyTorch")
    compare.add_argument("--json", action="store_true", help="print the report as JSON")
    return compare


def _compare(args) -> int:
    from .compare import compare_gradients

    module, x = _random_module("compare", args)
    with warnings.catch_warnings(record=True) as caught:  # one plain line each on stderr, not Python's format
        warnings.simplefilter("always")
        report = compare_gradients(module, x, dtype=args.dtype, seed=args.seed,
                                   numerical_elements=args.numerical_elements,
                                   torch_module=None if args.no_torch else "auto", progress=not args.quiet)
    for warning in caught:
        print(f"tinygrad-lstm compare: {warning.message}", file=sys.stderr)
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.summary() if args.quiet else report)
    return 0 if report.ok else 1


def _random_module(command: str, args, dtype=np.float32):
    """The module and input that `compare` and `graph` describe."""
    from .random import manual_seed

    manual_seed(args.seed)
    try:
        module = args.cell.build(args.input, args.hidden, num_layers=args.layers, bidirectional=args.bidirectional,
                                 dtype=dtype)
    except ValueError as e:
        _usage_error(command, str(e))
    x = np.random.default_rng(args.seed).standard_normal((args.steps, args.batch, args.input)).astype(dtype)
    return module, x


# --------------------------------------------------------------------------- graph
def _graph_parser(commands):
    graph = commands.add_parser(
        "graph", help="draw the unrolled graph of a recurrent module",
        description="Run a random recurrent module on a random input and draw its computation graph, one cluster "
                    "per layer and time step. The format follows the suffix of --out (.svg, .png, .pdf, or .dot "
                    "for the DOT source only, which needs no Graphviz).")
    _add_module_options(graph, steps=3, batch=2, input_size=3, hidden=4)
    graph.add_argument("--out", default=None, metavar="PATH", help="the file to write (default: KIND_graph.svg)")
    graph.add_argument("--max-steps", type=positive_int, default=None, metavar="N",
                       help="draw at most N time steps, collapsing the middle ones")
    graph.add_argument("--grads", action="store_true",
                       help="backpropagate a random linear loss and label every node with its gradient norm")
    return graph


def _graph(args) -> int:
    from .engine import name_scope
    from .viz import GraphvizNotFoundError, record_grad_norms, render_graph

    stem = args.cell.name if ":" not in args.cell.name else args.cell.title.lower()  # no ':' in file names
    out = args.out or f"{stem}_graph.svg"
    if not os.path.splitext(out)[1]:
        _usage_error("graph", f"--out {out!r} needs a suffix naming the format: .svg, .png, .pdf or .dot")
    module, x = _random_module("graph", args)
    output, final = module(x)
    roots = [output, *(final if isinstance(final, tuple) else (final,))]
    if args.grads:
        with name_scope("loss"):
            weights = np.random.default_rng([args.seed, 1]).standard_normal(output.shape).astype(output.dtype)
            loss = (output * weights).sum()
        roots = [loss]
        with record_grad_norms(loss):
            loss.backward()
    try:
        path = render_graph(roots, out, params=module, max_steps=args.max_steps, show="grads" if args.grads else None,
                            legend=True)
    except GraphvizNotFoundError as e:
        print(f"tinygrad-lstm graph: error: {e}", file=sys.stderr)
        return 2
    except ValueError as e:
        _usage_error("graph", str(e))
    except OSError as e:
        raise OSError(e.errno, f"cannot write the graph ({e.strerror or e})", out) from e
    if not args.quiet:
        print(f"wrote {path}")
    return 0


# --------------------------------------------------------------------------- diagnose
def _diagnose_parser(commands):
    diagnose = commands.add_parser(
        "diagnose", help="see BPTT step by step: gradient norms, Jacobian decay, per-step contributions, gates",
        description="Run a random recurrent module on a random input and backpropagate a random linear loss "
                    "(float64): print, per layer and direction and time step, ||dL/dh_t||, ||dh_T/dh_t|| and the "
                    "share of saturated units of every gate, and how much each step contributes to each weight's "
                    "gradient; plot them as PNG files. Warns about exploding and vanishing gradients.")
    _add_module_options(diagnose, steps=20, batch=4, input_size=3, hidden=8)
    diagnose.add_argument("--out", default="diagnose-output", metavar="DIR",
                          help="directory for the plots (default: diagnose-output)")
    diagnose.add_argument("--json", action="store_true", help="print the numbers as JSON")
    return diagnose


def _diagnose(args) -> int:
    import pathlib
    import warnings

    from .plots import plot_bptt_gradients, plot_contributions, plot_gate_heatmaps
    from .viz import BPTTWarning, diagnose_bptt

    module, x = _random_module("diagnose", args)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BPTTWarning)  # printed with the numbers
        diagnosis = diagnose_bptt(module, x, seed=args.seed)
    out = pathlib.Path(args.out)
    try:
        written = [plot_bptt_gradients(diagnosis, out / "gradients.png"),
                   plot_contributions(diagnosis, out / "contributions.png")]
        written += [plot_gate_heatmaps(diagnosis, out / f"gates_{sequence}.png", sequence=sequence)
                    for sequence in diagnosis.sequences if diagnosis.gates[sequence]]
    except OSError as e:
        print(f"tinygrad-lstm diagnose: error: cannot write to {args.out!r}: {e.strerror or e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(diagnosis.to_dict(), indent=2))
        return 0
    if args.quiet:  # the headline and the warnings
        print("\n".join(line for line in str(diagnosis).splitlines() if line.startswith(("BPTT diagnosis", "warning:"))))
        return 0
    print(diagnosis)
    print()
    print("wrote " + ", ".join(str(path) for path in written))
    return 0


# --------------------------------------------------------------------------- bench
def _bench_parser(commands):
    bench = commands.add_parser(
        "bench", help="time autograd BPTT against the hand-written fused reference and PyTorch",
        description="Forward + backward of recurrent layers: autograd vs the fused numpy reference vs PyTorch "
                    "(interleaved, minimum of several repeats), growth from T=100 to T=400, peak memory of a "
                    "training step at T=1000 and memory over 500 steps. Prints a Markdown table of ratios.")
    bench.add_argument("--quick", action="store_true",
                       help="tiny sizes: a smoke run, not a measurement (its targets are not judged)")
    bench.add_argument("--repeats", type=positive_int, default=None, metavar="N",
                       help="repeats per timing of the small configurations, a sixth of them for the largest "
                            "(default: 30, 2 with --quick)")
    bench.add_argument("--cells", type=cell_kinds, default=None, metavar="LIST",
                       help=f"comma-separated recurrent kinds to time: {_kinds_help()} "
                            f"(default: every kind with a hand-written reference)")
    bench.add_argument("--write", nargs="?", const=_PERFORMANCE_PAGE, default=None, metavar="PATH",
                       help="also write the results with the machine description to PATH (relative to the "
                            "current directory); without PATH, this source tree's docs/performance.md, which a "
                            "--quick run only overwrites when the path is given explicitly")
    return bench


_PERFORMANCE_PAGE = "the source tree's docs/performance.md"  # --write without a PATH


def _bench_output(args):
    """The file ``--write`` names (checked before the long measurement), or None."""
    from pathlib import Path

    if args.write is None:
        return None
    if args.write == _PERFORMANCE_PAGE:
        page = Path(__file__).resolve().parent.parent / "docs" / "performance.md"
        if not page.parent.is_dir():
            _usage_error("bench", "--write without a PATH writes docs/performance.md of a source checkout; "
                                  "this installation has none: give a PATH")
        if args.quick:
            _usage_error("bench", f"--quick does not overwrite {page}; give the path explicitly to write it anyway")
        return page
    path = Path(args.write).expanduser().absolute()
    if not path.parent.is_dir():
        _usage_error("bench", f"--write {args.write!r}: the directory {str(path.parent)!r} does not exist")
    return path


def _bench(args) -> int:
    from . import bench

    out = _bench_output(args)
    if not args.quiet:
        if args.quick:
            print(f"{bench.QUICK_VERDICT.capitalize()}: tiny sizes, a smoke test, not a measurement.\n")
        print(bench.TABLE_HEADER, flush=True)
    results = bench.run(quick=args.quick, repeats=args.repeats, cells=args.cells, bar=not args.quiet,
                        progress=(lambda line: None) if args.quiet else (lambda line: print(line, flush=True)))
    if args.quiet:
        print(bench.summary(results).split("\n\n", 1)[1])
    else:
        print()
        print(bench.report(results)[bench.report(results).index("## Growth"):])  # the table was printed row by row
    if out is not None:
        bench.write_markdown(results, out)
        if not args.quiet:
            print(f"\nwrote {out}")
    return 0


# --------------------------------------------------------------------------- check
def _check_parser(commands):
    check = commands.add_parser(
        "check", help="check your own course-layout BPTT code (Coursera, CS231n) and say where it is wrong",
        description="Import FILE.py, find every function with a known course name and signature (Coursera's "
                    "rnn_cell_forward ... lstm_backward, CS231n's rnn_step_forward ... lstm_backward) and check each "
                    "against the graph (the same cell composed from tinygrad_lstm ops, float64): which gradient, "
                    "which gate or part, from which sequence length. Exit code 0 when all are right, 1 when "
                    "something is wrong, 2 when FILE cannot be imported or has no course function.")
    check.add_argument("file", metavar="FILE.py", help="your Python file")
    check.add_argument("--layout", choices=("coursera", "cs231n", "auto"), default="auto",
                       help="the course whose names, shapes and gate order FILE uses (default: auto, from the "
                            "names and signatures found)")
    check.add_argument("--cell", choices=("rnn", "lstm", "all"), default="all",
                       help="check only the RNN or only the LSTM functions (default: all)")
    check.add_argument("--seed", type=non_negative_int, default=0, help="seed of the random weights and data (default: 0)")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    return check


def _check(args) -> int:
    from .manual.course import CourseCodeError, check_course_code

    try:
        report = check_course_code(args.file, layout=args.layout, cells=args.cell, seed=args.seed)
    except CourseCodeError as e:
        if e.traceback:
            print(e.traceback, file=sys.stderr)
        print(f"tinygrad-lstm check: error: {e}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as e:
        print(f"tinygrad-lstm check: error: {str(e).removeprefix('check_course_code: ')}", file=sys.stderr)
        return 2
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.summary() if args.quiet else report)
    return 0 if report.correct else 1


# --------------------------------------------------------------------------- train
def _train_parser(commands):
    from .tasks import TASKS

    train = commands.add_parser(
        "train", help="train a model on a task (adding, chars, sine)",
        description="Train on one of the tasks; `train --task NAME --help` lists the task's options.")
    train.add_argument("--task", choices=TASKS, default="adding", help="the task (default: adding)")
    train.add_argument("--seed", type=non_negative_int, default=0, help="seed of the weights and the data (default: 0)")
    train.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    return train


def _train(args) -> int:
    from .tasks import load_task
    args.progress = args.progress and not args.quiet
    return load_task(args.task).run(args)


# Each command: (add its subparser to the subparsers action, run it on the parsed arguments -> exit code).
COMMANDS = {
    "demo": (_demo_parser, _demo),
    "compare": (_compare_parser, _compare),
    "graph": (_graph_parser, _graph),
    "diagnose": (_diagnose_parser, _diagnose),
    "bench": (_bench_parser, _bench),
    "check": (_check_parser, _check),
    "train": (_train_parser, _train),
}
