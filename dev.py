"""Set up a virtual environment and run the main job or the tests: ``python3 dev.py demo|test``.

Needs only Python 3.10+. Creates ``.venv`` (once; again when pyproject.toml changes),
installs the package with its test extras, installs Graphviz's ``dot`` program when it
can (Debian/Ubuntu as root), then runs the command.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")


def ensure_graphviz() -> None:
    """Install Graphviz's `dot` if missing and possible; otherwise say how (it is optional)."""
    if shutil.which("dot"):
        return
    apt = shutil.which("apt-get")
    if apt and hasattr(os, "geteuid") and os.geteuid() == 0:
        print("dev.py: installing Graphviz (apt-get install graphviz) ...", flush=True)
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run([apt, "update", "-qq"], env=env, check=False, stdout=subprocess.DEVNULL)
        done = subprocess.run([apt, "install", "-y", "-qq", "graphviz"], env=env, check=False,
                              stdout=subprocess.DEVNULL)
        if done.returncode == 0 and shutil.which("dot"):
            return
    hint = ("sudo apt-get install graphviz" if apt else
            "brew install graphviz" if sys.platform == "darwin" else "see https://graphviz.org/download/")
    print(f"dev.py: Graphviz's `dot` program was not found; graphs are written as DOT files only. "
          f"To render them: {hint}", flush=True)


def ensure_venv() -> None:
    """Create .venv and install the package with the dev extras, unless already up to date."""
    stamp = VENV / ".installed"
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if PYTHON.exists() and stamp.exists() and stamp.read_text() == want:
        return
    print("dev.py: creating .venv and installing tinygrad_lstm[dev] ...", flush=True)
    venv.EnvBuilder(with_pip=True, clear=not PYTHON.exists()).create(VENV)
    subprocess.run([str(PYTHON), "-m", "pip", "install", "-q", "-e", f"{ROOT}[dev]"], check=True)
    stamp.write_text(want)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("demo", "test", "setup"):
        print("usage: python3 dev.py {demo|test|setup} [args...]", file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    ensure_venv()
    ensure_graphviz()
    if command == "setup":
        return 0
    if command == "demo":
        run = [str(BIN / "tinygrad-lstm"), "demo", *rest]
    else:
        run = [str(PYTHON), "-m", "pytest", *rest]
    return subprocess.run(run, cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
