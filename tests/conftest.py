"""Shared pytest set-up: when PyTorch is missing, the summary says once why the tests that use it
as their oracle were skipped and how to run them (CI installs it: `.ci/run`)."""
TORCH_REQUIREMENT = "torch==2.13.0"


def _mentions_torch(report) -> bool:
    """A skip whose reason names torch: ``importorskip("torch")``, a docs block that requires it."""
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    return "torch" in reason.lower()


def _torch_missing() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return True
    return False


def pytest_terminal_summary(terminalreporter):
    skipped = [report for report in terminalreporter.stats.get("skipped", []) if _mentions_torch(report)]
    if skipped and _torch_missing():
        terminalreporter.write_line(
            f"{len(skipped)} skipped because PyTorch is not installed (the oracle of the module, optimiser and "
            f"gradient tests); to run them: pip install {TORCH_REQUIREMENT}", yellow=True, bold=True)
