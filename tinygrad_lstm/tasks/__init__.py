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

The tasks share their training loop, `tinygrad_lstm.tasks.training.fit`, and take their
argument types (`positive_int`, ...) from `tinygrad_lstm.cli`.
"""
import importlib
import warnings

TASKS = ("adding", "chars", "sine")

__all__ = ["TASKS", "load_task"]

_MOVED_TO_CLI = ("non_negative_int", "positive_int", "positive_float", "non_negative_float")


def __getattr__(name: str):
    """The argparse types that moved to `tinygrad_lstm.cli`, with a DeprecationWarning."""
    if name in _MOVED_TO_CLI:
        warnings.warn(f"tinygrad_lstm.tasks.{name} moved to tinygrad_lstm.cli.{name}", DeprecationWarning,
                      stacklevel=2)
        from .. import cli
        return getattr(cli, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
