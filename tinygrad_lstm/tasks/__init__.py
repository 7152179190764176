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
import importlib

TASKS = ("adding", "chars", "sine")

__all__ = ["TASKS", "load_task"]


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
