"""Progress of the long jobs (training, ``bench``, the columns of ``compare``), fitted to where
the output goes.

- In a Jupyter kernel: `tqdm.auto` (a widget with ipywidgets; text bars without it, and
  without tqdm's "IProgress not found" warning).
- On a terminal: a tqdm bar redrawn in place.
- Piped or logged: no carriage returns; one line whenever another `PERCENT` % is done (but
  not within a second of the last line) or `SECONDS` s have passed, and one at the end.

>>> bar = progress_bar(range(3), desc="demo", enabled=False)
>>> sum(bar)
3
"""
from __future__ import annotations

import contextlib
import sys
import time
import warnings

__all__ = ["progress_bar", "LogProgress", "PERCENT", "SECONDS", "MIN_SECONDS"]

PERCENT = 10  # a log line every PERCENT % of the work ...
SECONDS = 10.0  # ... or SECONDS s, whichever comes first,
MIN_SECONDS = 1.0  # ... but not within MIN_SECONDS of the last one (a quick job prints its last line only)


def progress_bar(iterable=None, total: int | None = None, desc: str = "", enabled: bool = True, file=None,
                 initial: int = 0, unit: str = "it"):
    """A progress bar over `iterable` (or updated by hand with ``update(n)``) on `file` (stderr).

    Returns a tqdm bar in a notebook or on a terminal, a `LogProgress` when `file` is a pipe
    or a file, a disabled tqdm bar when not `enabled`; all of them iterate, ``update``,
    ``set_postfix``, ``set_description``, ``write``, ``external_write_mode`` and ``close``
    (also as a context manager).
    """
    from tqdm.std import tqdm as text_tqdm
    file = sys.stderr if file is None else file
    if not enabled:
        return text_tqdm(iterable, total=total, disable=True)
    if _in_jupyter_kernel():
        return _auto_tqdm()(iterable, total=total, initial=initial, desc=desc, unit=unit)
    if _is_terminal(file):
        return text_tqdm(iterable, total=total, initial=initial, desc=desc, unit=unit, file=file,
                         dynamic_ncols=True)
    return LogProgress(iterable, total=total, initial=initial, desc=desc, unit=unit, file=file)


class LogProgress:
    """Progress as whole lines, for pipes and log files: ``desc: 40% 40/100 [00:12<00:18, 3.25it/s]``.

    A line whenever another `percent` % of `total` is done or `seconds` have passed since the
    last line (whichever comes first, but never within `min_seconds` of the last line), and a
    last one on `close` (also at the end of the iteration).
    """

    def __init__(self, iterable=None, total: int | None = None, desc: str = "", file=None, initial: int = 0,
                 unit: str = "it", percent: float = PERCENT, seconds: float = SECONDS,
                 min_seconds: float = MIN_SECONDS):
        if total is None and hasattr(iterable, "__len__"):
            total = len(iterable)
        self.iterable, self.total, self.desc, self.unit = iterable, total, desc, unit
        self.file = sys.stderr if file is None else file
        self.n = self._shown = initial
        self.percent, self.seconds, self.min_seconds = percent, seconds, min_seconds
        self.postfix = ""
        self._start = self._last = time.monotonic()
        self._closed = False

    def __iter__(self):
        try:
            for item in self.iterable:
                yield item
                self.update(1)
        finally:
            self.close()

    def __len__(self) -> int:
        return self.total

    def __enter__(self) -> "LogProgress":
        return self

    def __exit__(self, *exc) -> bool:
        self.close()
        return False

    def update(self, n: int = 1) -> None:
        """`n` more units done; prints a line when it is time for one."""
        self.n += n
        now = time.monotonic()
        step = self.total * self.percent / 100 if self.total else None
        milestone = step is not None and self.n - self._shown >= step and now - self._last >= self.min_seconds
        if milestone or now - self._last >= self.seconds:
            self._emit(now)

    def set_postfix(self, ordered_dict=None, refresh: bool = True, **kwargs) -> None:
        """Values shown after the rate on the next line (``loss=0.123``), as tqdm's."""
        values = dict(ordered_dict or {}, **kwargs)
        self.postfix = ", ".join(f"{key}={value}" for key, value in values.items())

    def set_description(self, desc: str = "", refresh: bool = True) -> None:
        """The text before the percentage on the next line, as tqdm's."""
        self.desc = desc

    def write(self, text: str, file=None) -> None:
        """Print a line of text to `file` (default: the progress's), as ``tqdm.write``."""
        print(text, file=self.file if file is None else file, flush=True)

    def external_write_mode(self, file=None, nolock: bool = False):
        """As tqdm's: a context for printing elsewhere (nothing to clear: no line is left open)."""
        return contextlib.nullcontext()

    def close(self) -> None:
        """Print the last line, unless the last line printed already says it."""
        if self._closed:
            return
        self._closed = True
        if self.n != self._shown or self.n == 0:
            self._emit(time.monotonic())

    def _emit(self, now: float) -> None:
        from tqdm.std import tqdm as text_tqdm
        total = f"/{self.total}" if self.total else ""
        head = f"{self.desc}: " if self.desc else ""
        percent = f"{100 * self.n / self.total:3.0f}% " if self.total else ""
        elapsed = now - self._start
        remaining = ""
        if self.total and self.n:
            remaining = "<" + text_tqdm.format_interval(elapsed * (self.total - self.n) / self.n)
        rate = f"{self.n / elapsed:.2f}{self.unit}/s" if elapsed > 0 else f"?{self.unit}/s"
        postfix = f", {self.postfix}" if self.postfix else ""
        print(f"{head}{percent}{self.n}{total} [{text_tqdm.format_interval(elapsed)}{remaining}, {rate}{postfix}]",
              file=self.file, flush=True)
        self._shown, self._last = self.n, now


def _is_terminal(file) -> bool:
    try:
        return file.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed file
        return False


def _in_jupyter_kernel() -> bool:
    """True inside a Jupyter kernel (a notebook, JupyterLab, VS Code), whatever its stderr is."""
    shell = sys.modules.get("IPython")
    if shell is None or "ipykernel" not in sys.modules:
        return False
    ipython = shell.get_ipython()
    return ipython is not None and "IPKernelApp" in ipython.config


def _auto_tqdm():
    """`tqdm.auto.tqdm`, imported without its warning when ipywidgets is missing (it falls back to
    text bars, which a notebook shows well)."""
    from tqdm.std import TqdmWarning
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="IProgress not found", category=TqdmWarning)
        from tqdm.auto import tqdm
    return tqdm
