"""Docs that cannot rot: every Python block of README.md and docs/ runs, links resolve,
docstring examples pass, and the generated pages match their generators.

Blocks of one page run in order in one namespace, in a fresh working directory. A block
containing ``>>>`` is a doctest (its output is checked). A plain block's printed output is
checked against the ```text block after it when that block is marked ``<!-- output -->``.
A block marked ``<!-- requires: torch -->`` (or ``dot``) is skipped when that is missing.
A block marked ``<!-- file: NAME.py -->`` is a file of the page: written to NAME.py in the
working directory (later blocks import it, commands load ``NAME:Class`` from it), not run.
"""
from __future__ import annotations

import contextlib
import doctest
import functools
import importlib
import io
import pkgutil
import re
import shutil
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

import tinygrad_lstm

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted([ROOT / "README.md", *DOCS.rglob("*.md")])
FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS

_FENCE = re.compile(r"^([ \t]*)(`{3,})([\w+-]*)[^\n]*\n(.*?)^\1\2[ \t]*$", re.MULTILINE | re.DOTALL)
_MARK = re.compile(r"<!--\s*(requires:\s*[\w, ]+|file:\s*[\w.-]+|output)\s*-->[ \t]*\n[ \t]*$")


@dataclass
class Block:
    language: str
    code: str
    line: int              # line number of the first code line in the page
    requires: tuple = ()
    output: "Block | None" = None  # the ```text block marked <!-- output --> right after it
    file: str | None = None        # the file name of a block marked <!-- file: NAME -->


def blocks(page: Path) -> list[Block]:
    """The fenced code blocks of a page, with the marker comment on the line before each."""
    text = page.read_text(encoding="utf-8")
    found = []
    for match in _FENCE.finditer(text):
        before = text[:match.start()]
        mark = _MARK.search(before[-200:])
        block = Block(match[3].lower(), textwrap.dedent(match[4]), before.count("\n") + 2)
        if mark and mark[1].startswith("requires"):
            block.requires = tuple(r.strip() for r in mark[1].split(":", 1)[1].split(",") if r.strip())
        if mark and mark[1].startswith("file"):
            block.file = mark[1].split(":", 1)[1].strip()
        if mark and mark[1] == "output" and found and found[-1].language == "python" and block.language == "text":
            found[-1].output = block
            continue
        found.append(block)
    return found


def _missing(requirement: str) -> str | None:
    """Why a requirement is not met, or None when it is."""
    if requirement == "torch":
        try:
            import torch  # noqa: F401
        except ImportError:
            return "PyTorch is not installed"
        return None
    if requirement == "dot":
        return None if shutil.which("dot") else "Graphviz's `dot` program is not installed"
    raise ValueError(f"unknown requirement {requirement!r} in a <!-- requires: --> marker")


def _run_doctest(code: str, namespace: dict, name: str, line: int) -> str:
    test = doctest.DocTestParser().get_doctest(code, namespace, name, name, line - 1)
    report = io.StringIO()
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    runner.run(test, out=report.write, clear_globs=False)
    namespace.update(test.globs)  # DocTest ran in a copy; later blocks build on its names
    return report.getvalue() if runner.failures else ""


def _run_block(block: Block, namespace: dict, page: str) -> None:
    if ">>>" in block.code:
        failure = _run_doctest(block.code, namespace, page, block.line)
        assert not failure, f"{page}:{block.line}: doctest failed\n{failure}"
        return
    # Padding with newlines makes tracebacks point at the line of the page.
    code = compile("\n" * (block.line - 1) + block.code, page, "exec")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(code, namespace)
    if block.output is not None:
        checker = doctest.OutputChecker()
        want = block.output.code
        assert checker.check_output(want, printed.getvalue(), FLAGS), (
            f"{page}:{block.line}: printed output differs from the block at line {block.output.line}\n"
            + checker.output_difference(doctest.Example("", want), printed.getvalue(), FLAGS))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_code_blocks_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(ROOT))
    name = str(page.relative_to(ROOT))
    namespace = {"__name__": f"docs_{page.stem}"}
    skipped = []
    ran = 0
    for block in blocks(page):
        if block.language != "python":
            continue
        reasons = [r for r in map(_missing, block.requires) if r]
        if reasons:
            skipped.append(f"line {block.line} ({'; '.join(reasons)})")
            continue
        if block.file:
            (tmp_path / block.file).write_text(block.code, encoding="utf-8")
            monkeypatch.syspath_prepend(str(tmp_path))  # importable by later blocks (and invalidates caches)
            monkeypatch.delitem(sys.modules, Path(block.file).stem, raising=False)  # another page's file
            continue
        _run_block(block, namespace, name)
        ran += 1
    if skipped:
        pytest.skip(f"{name}: ran {ran} blocks, skipped {', '.join(skipped)}")


def test_collector_checks_output_and_markers(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("Intro.\n\n```python\nprint(1 + 1)\n```\n\n<!-- output -->\n```text\n2\n```\n\n"
                    "<!-- requires: torch, dot -->\n```python\nimport torch\n```\n\n"
                    "```python\n>>> 3 * 3\n10\n```\n\n<!-- file: cells.py -->\n```python\nX = 1\n```\n",
                    encoding="utf-8")
    first, second, third, fourth = blocks(page)
    assert (first.line, first.output.code, first.requires, first.file) == (4, "2\n", (), None)
    assert (fourth.file, fourth.code) == ("cells.py", "X = 1\n")
    assert second.requires == ("torch", "dot") and second.output is None
    namespace = {}
    _run_block(first, namespace, "page.md")
    first.output.code = "3\n"
    with pytest.raises(AssertionError, match="printed output differs"):
        _run_block(first, namespace, "page.md")
    with pytest.raises(AssertionError, match="doctest failed"):
        _run_block(third, namespace, "page.md")


# --------------------------------------------------------------------------- links
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HTML_SRC = re.compile(r"<(?:img|a)\b[^>]*?\b(?:src|href)=\"([^\"]+)\"")
_INLINE_CODE = re.compile(r"`+[^`\n]*`+")


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"<[^>]+>", "", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


@functools.lru_cache(maxsize=None)
def anchors(page: Path) -> set[str]:
    text = _FENCE.sub("", page.read_text(encoding="utf-8"))
    seen: dict[str, int] = {}
    result = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, re.MULTILINE):
        slug = github_slug(heading)
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        result.add(slug if count == 0 else f"{slug}-{count}")
    result.update(re.findall(r"<a\s+(?:id|name)=\"([^\"]+)\"", text))
    return result


def links(page: Path) -> list[str]:
    """Relative link targets of a page (outside code), images included."""
    text = _INLINE_CODE.sub("", _FENCE.sub("", page.read_text(encoding="utf-8")))
    targets = _LINK.findall(text) + _HTML_SRC.findall(text)
    return [t for t in targets if not re.match(r"^[a-z][a-z0-9+.-]*:", t)]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_links_resolve(page):
    broken = []
    for target in links(page):
        path, _, anchor = target.partition("#")
        destination = (page.parent / path).resolve() if path else page
        if not destination.exists():
            broken.append(f"{target} (no file {destination.relative_to(ROOT) if ROOT in destination.parents else destination})")
        elif anchor and destination.suffix == ".md" and anchor not in anchors(destination):
            broken.append(f"{target} (no heading with anchor #{anchor} in {destination.name})")
    assert not broken, f"{page.relative_to(ROOT)}: broken links: " + "; ".join(broken)


def test_link_checker_finds_broken_links(tmp_path):
    (tmp_path / "a.md").write_text("# Some Title: `x`\n\n## Some Title: `x`\n", encoding="utf-8")
    page = tmp_path / "b.md"
    page.write_text("[ok](a.md#some-title-x-1) [bad](a.md#nope) ![img](missing.png) `[code](x.md)` "
                    "[web](https://example.com)\n", encoding="utf-8")
    assert links(page) == ["a.md#some-title-x-1", "a.md#nope", "missing.png"]
    assert anchors(tmp_path / "a.md") == {"some-title-x", "some-title-x-1"}


# --------------------------------------------------------------------------- docstrings
def _modules() -> list[str]:
    names = ["tinygrad_lstm"]
    names += [m.name for m in pkgutil.walk_packages(tinygrad_lstm.__path__, "tinygrad_lstm.")
              if m.name.rpartition(".")[2] != "__main__"]
    return sorted(names)


@pytest.mark.parametrize("module_name", _modules())
def test_docstring_examples(module_name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    module = importlib.import_module(module_name)
    report = io.StringIO()
    with contextlib.redirect_stdout(report):
        result = doctest.testmod(module, optionflags=FLAGS, report=True)
    assert result.failed == 0, f"{module_name}: {result.failed} docstring example(s) failed\n{report.getvalue()}"


# --------------------------------------------------------------------------- generated files
def _load_script(name: str):
    sys.path.insert(0, str(DOCS))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(DOCS))


def test_api_reference_is_up_to_date():
    make_api = _load_script("make_api")
    assert (DOCS / "api.md").read_text(encoding="utf-8") == make_api.render(), (
        "docs/api.md is out of date with the docstrings: run `python docs/make_api.py`")


def test_api_reference_covers_the_public_api():
    make_api = _load_script("make_api")
    missing = make_api.undocumented_public_names()
    assert not missing, f"public names missing from docs/api.md: {missing}"


def test_architecture_diagram_is_up_to_date():
    diagram = _load_script("make_architecture_diagram")
    committed = (DOCS / "images" / "architecture.dot").read_text(encoding="utf-8")
    assert committed == diagram.build().source, (
        "docs/images/architecture.* are out of date: run `python docs/make_architecture_diagram.py`")
