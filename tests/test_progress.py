"""Progress fitted to where it goes: whole lines every 10 % or 10 s into a pipe or a log, a tqdm bar
on a terminal, nothing when switched off."""
import io

import pytest
from tqdm.std import tqdm

from tinygrad_lstm import progress
from tinygrad_lstm.progress import LogProgress, progress_bar


class Clock:
    """A stand-in for time.monotonic that moves only when told."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(progress.time, "monotonic", fake)
    return fake


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_piped_progress_is_a_line_per_ten_percent(clock):
    log = io.StringIO()
    for step in LogProgress(range(100), total=100, desc="train", file=log):
        clock.now += 0.5  # 50 s in all: the 10 % lines come first
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue()
    assert [line.split()[1] for line in lines] == [f"{p}%" for p in range(10, 101, 10)]
    assert lines[0].startswith("train:  10% 10/100 [00:05<00:45, 2.00it/s")
    assert lines[-1].startswith("train: 100% 100/100 [00:50<00:00")


def test_piped_progress_of_a_slow_job_is_a_line_per_ten_seconds(clock):
    log = io.StringIO()
    bar = LogProgress(total=1000, desc="bench", file=log)
    for _ in range(35):
        clock.now += 1.0
        bar.update(1)  # 3.5 % of the work in 35 s
    bar.set_postfix(loss="0.5")
    bar.close()
    lines = log.getvalue().splitlines()
    assert [line.split()[2] for line in lines] == ["10/1000", "20/1000", "30/1000", "35/1000"]
    assert lines[-1].endswith(", loss=0.5]")


def test_a_quick_job_prints_only_its_last_line(clock):
    log = io.StringIO()
    with LogProgress(total=10, desc="compare", file=log) as bar:
        for _ in range(10):
            clock.now += 0.01
            bar.update(1)
    assert log.getvalue().splitlines() == ["compare: 100% 10/10 [00:00<00:00, 100.00it/s]"]


def test_progress_bar_chooses_by_destination():
    assert isinstance(progress_bar(range(3), file=io.StringIO()), LogProgress)
    terminal = Terminal()
    bar = progress_bar(range(3), desc="tty", file=terminal)
    assert type(bar) is tqdm and list(bar) == [0, 1, 2]
    assert "\r" in terminal.getvalue() and "tty: 100%" in terminal.getvalue()
    silent = io.StringIO()
    bar = progress_bar(range(3), file=silent, enabled=False)
    assert list(bar) == [0, 1, 2] and silent.getvalue() == ""
    bar.update(1)
    bar.set_postfix(loss=1.0)
    bar.close()


def test_log_progress_has_the_interface_of_a_bar():
    log = io.StringIO()
    bar = LogProgress(range(5), desc="x", file=log)
    bar.set_description("y")
    bar.write("a message")
    with bar.external_write_mode():
        pass
    assert list(bar) == [0, 1, 2, 3, 4] and len(bar) == 5
    assert log.getvalue().splitlines()[0] == "a message" and log.getvalue().splitlines()[-1].startswith("y: ")
