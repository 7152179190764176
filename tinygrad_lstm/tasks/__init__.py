"""Training tasks shared by the command line (``tinygrad-lstm train --task NAME``), the demo
and the example scripts.

Each task is a module ``tinygrad_lstm.tasks.<name>`` with

- ``train(...) -> result``: the Python API (its own keyword arguments, a ``seed`` and a
  ``progress`` flag among them);
- ``add_arguments(parser)``: adds the task's options to an `argparse.ArgumentParser`
  (``--steps``, ``--hidden``, ...). The command line already defines ``--task``,
  ``--seed`` (an int, default 0) and ``--no-progress`` (stored as ``args.progress``), so
  a task must not define those;
- ``run(args) -> int``: trains with the parsed options, prints a short summary on stdout
  (progress bars go to stderr) and returns the exit code;
- a module docstring whose first line is the task's one-line description (``--help``).
"""
import argparse
import importlib

TASKS = ("adding", "chars", "sine")

__all__ = ["TASKS", "load_task", "non_negative_int", "positive_int", "positive_float", "non_negative_float"]


def _int_at_least(text: str, minimum: int, kind: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected a {kind} integer, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    """An argparse type: an int >= 0, or a usage error naming the value."""
    return _int_at_least(text, 0, "non-negative")


def positive_int(text: str) -> int:
    """An argparse type: an int >= 1, or a usage error naming the value."""
    return _int_at_least(text, 1, "positive")


def _float_above(text: str, kind: str, strict: bool) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (value > 0 if strict else value >= 0) or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a {kind} number, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a finite number > 0, or a usage error naming the value."""
    return _float_above(text, "positive", strict=True)


def non_negative_float(text: str) -> float:
    """An argparse type: a finite number >= 0, or a usage error naming the value."""
    return _float_above(text, "non-negative", strict=False)


def load_task(name: str):
    """The task module ``tinygrad_lstm.tasks.<name>``.

    Raises
    ------
    KeyError
        `name` is not one of `TASKS`.
    ImportError
        The task's module is not part of this installation.
    """
    if name not in TASKS:
        raise KeyError(f"unknown task {name!r}; choose from {', '.join(TASKS)}")
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as e:
        if e.name != f"{__name__}.{name}":
            raise
        raise ImportError(f"the task {name!r} is not available in this installation") from None
