"""Write the pictures of the tutorials that draw their own: ``python docs/make_tutorial_images.py``.

Runs every Python block of each page in `PAGES`, in order, in ``docs/images``, so the files the
page's code writes (``bptt_rnn_gradients.png``, ...) are the pictures the page shows. Blocks
marked ``<!-- requires: dot -->`` are skipped, with a note, when Graphviz's ``dot`` is missing.
"""
from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

PAGES = ["tutorials/watching_gradients.md"]

_BLOCK = re.compile(r"(<!--\s*requires:\s*([\w, ]+)-->\s*\n)?```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def run_page(page: Path, images: Path) -> list:
    """Run the page's Python blocks in `images`; returns the notes on skipped blocks."""
    namespace = {"__name__": f"docs_{page.stem}"}
    skipped = []
    previous = os.getcwd()
    os.chdir(images)
    try:
        for match in _BLOCK.finditer(page.read_text(encoding="utf-8")):
            requires = [r.strip() for r in (match[2] or "").split(",") if r.strip()]
            if "dot" in requires and shutil.which("dot") is None:
                skipped.append(f"{page.name}: a block needing Graphviz's dot")
                continue
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(match[3], str(page), "exec"), namespace)
    finally:
        os.chdir(previous)
    return skipped


def main() -> None:
    images = HERE / "images"
    before = {p.name: p.stat().st_mtime for p in images.iterdir()}
    skipped = [note for page in PAGES for note in run_page(HERE / page, images)]
    written = sorted(p.name for p in images.iterdir() if before.get(p.name) != p.stat().st_mtime)
    print("wrote " + ", ".join(f"docs/images/{name}" for name in written))
    for note in skipped:
        print(f"skipped {note} (not installed)")


if __name__ == "__main__":
    main()
