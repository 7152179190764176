"""Write docs/api.md, the API reference, from the docstrings: ``python docs/make_api.py``.

Every name in the ``__all__`` of each documented module gets a section with its signature and
its numpy-style docstring turned into Markdown; classes list their public methods and
properties. tests/test_docs.py fails when docs/api.md differs from what this script writes,
and when a public name has no section. ``python docs/make_api.py --missing`` lists the public
functions and methods that have no docstring.
"""
from __future__ import annotations

import argparse
import enum
import importlib
import inspect
import re
import sys
import types
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import tinygrad_lstm as tl  # noqa: E402

# (title, module, prefix users type, names; None means the module's __all__, in its order)
SECTIONS = [
    ("Tensors and autograd", "tinygrad_lstm", "tl",
     ["Tensor", "Function", "backward", "grad", "jvp", "no_grad", "enable_grad", "is_grad_enabled", "set_grad_enabled", "name_scope",
      "detect_anomaly", "walk_graph", "Graph", "ShapeError"]),
    ("Creating tensors", "tinygrad_lstm", "tl",
     ["tensor", "zeros", "ones", "full", "arange", "eye", "randn", "rand", "zeros_like", "ones_like", "full_like",
      "randn_like", "rand_like", "manual_seed", "default_generator"]),
    ("Ops as functions", "tinygrad_lstm", "tl", tl.ops.FUNCTIONS),
    ("Checking gradients", "tinygrad_lstm", "tl",
     ["gradcheck", "gradgradcheck", "GradcheckError", "numerical_jacobian", "analytical_jacobian", "compare_gradients",
      "GradientReport", "BPTTWarning"]),
    ("Saving and loading", "tinygrad_lstm", "tl", ["save", "load"]),
    ("Compiling a step: tl.jit", "tinygrad_lstm", "tl", ["jit"]),
    ("The compiled function", "tinygrad_lstm.compiler", "tinygrad_lstm.compiler", ["CompiledFunction"]),
    ("tl.autograd: gradients of any order", "tinygrad_lstm.autograd", "tl.autograd", ["grad", "backward"]),
    ("tl.func: a module as a function of its weights", "tinygrad_lstm.func", "tl.func", ["functional_call"]),
    ("tl.autograd.functional: derivatives of functions", "tinygrad_lstm.autograd.functional",
     "tl.autograd.functional", None),
    ("tl.nn: modules and recurrent layers", "tinygrad_lstm.nn", "tl.nn", None),
    ("tl.nn.functional", "tinygrad_lstm.nn.functional", "tl.nn.functional", None),
    ("tl.nn.init", "tinygrad_lstm.nn.init", "tl.nn.init", None),
    ("tl.nn.utils", "tinygrad_lstm.nn.utils", "tl.nn.utils", None),
    ("tl.nn.utils.rnn: packed sequences", "tinygrad_lstm.nn.utils.rnn", "tl.nn.utils.rnn", None),
    ("tl.nn.kinds: the registry of recurrent kinds", "tinygrad_lstm.nn.kinds", "tl.nn.kinds", None),
    ("tl.optim", "tinygrad_lstm.optim", "tl.optim", None),
    ("tl.compare: the gradient report", "tinygrad_lstm.compare", "tl.compare", None),
    ("tl.viz: graph pictures and BPTT diagnostics", "tinygrad_lstm.viz", "tl.viz", None),
    ("tl.plots: training and gradient plots", "tinygrad_lstm.plots", "tl.plots", None),
    ("tl.manual: hand-written BPTT", "tinygrad_lstm.manual", "tl.manual", None),
    ("tl.manual.cs231n: the CS231n layout", "tinygrad_lstm.manual.cs231n", "tl.manual.cs231n", None),
    ("tl.manual.localize: where a gradient is wrong", "tinygrad_lstm.manual.localize", "tl.manual.localize", None),
    ("Training tasks", "tinygrad_lstm.tasks", "tinygrad_lstm.tasks", None),
    ("The training loop of the tasks", "tinygrad_lstm.tasks.training", "tinygrad_lstm.tasks.training", None),
    ("The adding problem", "tinygrad_lstm.tasks.adding", "tinygrad_lstm.tasks.adding", None),
    ("Character language model", "tinygrad_lstm.tasks.chars", "tinygrad_lstm.tasks.chars", None),
    ("Sine forecasting", "tinygrad_lstm.tasks.sine", "tinygrad_lstm.tasks.sine", None),
    ("The demo", "tinygrad_lstm.demo", "tinygrad_lstm.demo", None),
    ("Process settings", "tinygrad_lstm.runtime", "tinygrad_lstm.runtime", None),
    ("Progress of the long jobs", "tinygrad_lstm.progress", "tinygrad_lstm.progress", None),
    ("The command line from Python", "tinygrad_lstm.cli", "tinygrad_lstm.cli", None),
]

# Python's operators on a Tensor (the methods behind them carry no docstrings of their own).
OPERATORS = [
    ("`a + b`, `a - b`, `a * b`, `a / b`", "Elementwise, numpy broadcasting; either side may be a number or an array."),
    ("`a ** b`", "Elementwise power; a tensor exponent gets a gradient too (`a ** b * log(a)`)."),
    ("`a @ b`", "Matrix product with `numpy.matmul` semantics: `(..., n, k) @ (k, m) -> (..., n, m)`, 1-D operands are vectors."),
    ("`-a`", "Negation."),
    ("`a < b`, `a <= b`, `a > b`, `a >= b`, `a == b`, `a != b`", "Elementwise comparison: a bool tensor outside the graph (a mask)."),
    ("`a[index]`", "Basic slicing, integer-array and boolean-mask indexing (`weight[token_ids]` is an embedding lookup); repeated indices accumulate in backward."),
    ("`a[index] = value`", "Writes in place, as PyTorch's `index_put_`: the gradient reaches `value` (and `a` where it was not overwritten)."),
    ("`len(a)`, `iter(a)`", "Length of axis 0; iteration unbinds axis 0 (one node)."),
    ("`float(a)`, `int(a)`, `bool(a)`", "The value of a one-element tensor."),
    ("`np.asarray(a)`", "The data (`Tensor.__array__`)."),
]

# Tensor's plain attributes (slots, so they have no docstrings of their own).
TENSOR_ATTRIBUTES = [
    ("data", "the values, a numpy array (`ndarray`)."),
    ("grad", "the accumulated gradient, an array of the tensor's shape and dtype, or None."),
    ("requires_grad", "whether backward computes a gradient for this tensor (set by `requires_grad_`)."),
]

# How user code reaches each primitive op (the ops' classes mostly carry no docstring).
OP_CALLS = {
    "Add": "`a + b`, `a.add(b)`", "Sub": "`a - b`, `a.sub(b)`", "Mul": "`a * b`, `a.mul(b)`",
    "Div": "`a / b`, `a.div(b)`", "Neg": "`-a`, `a.neg()`", "Pow": "`a ** b`, `a.pow(b)`",
    "MatMul": "`a @ b`, `a.matmul(b)`", "AddMM": "`tl.addmm(input, mat1, mat2)`",
    "Maximum": "`tl.maximum(a, b)`, `a.max(b)`", "Minimum": "`tl.minimum(a, b)`, `a.min(b)`",
    "Exp": "`a.exp()`", "Log": "`a.log()`", "Sqrt": "`a.sqrt()`", "Sign": "`a.sign()`", "Tanh": "`a.tanh()`", "Sigmoid": "`a.sigmoid()`",
    "ReLU": "`a.relu()`", "Abs": "`a.abs()`", "Clamp": "`a.clamp(min, max)`, `a.clip(min, max)`",
    "Sum": "`a.sum(dim, keepdim)`", "Mean": "`a.mean(dim, keepdim)`", "Prod": "`a.prod(dim, keepdim)`",
    "Var": "`a.var(dim, keepdim, correction=1)`", "Std": "`a.std(dim, keepdim, correction=1)`",
    "Norm": "`a.norm(p, dim, keepdim)`", "LogSumExp": "`a.logsumexp(dim, keepdim)`", "Max": "`a.max()`", "Min": "`a.min()`",
    "Amax": "`a.amax(dim, keepdim)`", "Amin": "`a.amin(dim, keepdim)`",
    "MaxDim": "`a.max(dim, keepdim)`", "MinDim": "`a.min(dim, keepdim)`",
    "LogSoftmax": "`a.log_softmax(dim)`, `tl.nn.functional.log_softmax(a, dim)`",
    "Softmax": "`a.softmax(dim)`, `tl.nn.functional.softmax(a, dim)`",
    "Reshape": "`a.reshape(shape)`, `a.flatten()`, `a.squeeze()`, `a.unsqueeze(dim)`", "View": "`a.view(shape)`", "Contiguous": "`a.contiguous()`",
    "Transpose": "`a.permute(dims)`, `a.transpose(dim0, dim1)`, `a.T`, `a.mT`, `a.movedim(src, dst)`",
    "Expand": "`a.expand(sizes)`, `a.expand_as(b)`", "Repeat": "`a.repeat(sizes)`", "Flip": "`a.flip(dims)`",
    "Roll": "`a.roll(shifts, dims)`", "Concat": "`tl.cat(tensors, dim)`", "Stack": "`tl.stack(tensors, dim)`",
    "Split": "`a.split(size_or_sizes, dim)`, `a.chunk(n, dim)`, `a.tensor_split(n_or_indices, dim)`",
    "Unbind": "`a.unbind(dim)`, `iter(a)`", "GetItem": "`a[index]`", "SetItem": "`a[index] = value`",
    "PlaceAt": "the gradient of `a[index]` under `create_graph=True`",
    "Gather": "`a.gather(dim, index)`", "Where": "`tl.where(condition, a, b)`, `a.where(condition, b)`",
    "MaskedFill": "`a.masked_fill(mask, value)`", "Copy": "`a.copy_(src)`, `a.fill_(value)`", "Clone": "`a.clone()`",
    "Cast": "`a.astype(dtype)`, `a.to(dtype)`, `a.double()`, `a.float()`",
}

# --------------------------------------------------------------------------- docstrings
_SECTION_NAMES = ("Parameters", "Other Parameters", "Returns", "Yields", "Raises", "Warns", "Attributes",
                  "Examples", "Notes", "See Also", "References", "Methods")
_LISTED = ("Parameters", "Other Parameters", "Returns", "Yields", "Raises", "Warns", "Attributes")


def _prose(lines: list[str]) -> list[str]:
    """Docstring prose as Markdown: reST literal blocks (``text::`` + indented) become fences."""
    out = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith(">>>"):  # a doctest session: up to the next blank line
            block = []
            while i < len(lines) and lines[i].strip():
                block.append(lines[i])
                i += 1
            out += ["```pycon", *inspect.cleandoc("\n".join(block)).splitlines(), "```"]
            continue
        if line.rstrip().endswith("::"):
            text = line.rstrip()[:-2].rstrip()
            out.append(text + ":" if text else "")
            block = []
            i += 1
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith((" ", "\t"))):
                block.append(lines[i])
                i += 1
            while block and not block[-1].strip():
                block.pop()
            while block and not block[0].strip():
                block.pop(0)
            out += ["", "```text", *inspect.cleandoc("\n".join(block)).splitlines(), "```", ""]
            continue
        out.append(line.strip() if not line.startswith("    ") else line)
        i += 1
    return out


def _entries(lines: list[str]) -> list[str]:
    """A numpy ``name : type`` list (indented descriptions) as a Markdown bullet list.

    A paragraph after a blank line that is not an entry (no ``name : type`` head and no
    indented description) ends the list and is kept as prose.
    """
    items = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        indented = line.startswith((" ", "\t"))
        after_blank = i > 0 and not lines[i - 1].strip()
        next_line = lines[i + 1] if i + 1 < len(lines) else ""
        if (not indented and after_blank and items and " : " not in line
                and next_line.strip() and not next_line.startswith((" ", "\t"))):
            return _render_entries(items) + [""] + _prose(lines[i:])
        if not indented or not items:
            items.append([line.strip(), []])
        else:
            items[-1][1].append(line.strip())
    return _render_entries(items)


def _render_entries(items: list) -> list[str]:
    out = []
    for head, description in items:
        name, sep, kind = head.partition(" : ")
        if sep and not name.startswith("("):
            names = ", ".join(f"`{n.strip()}`" for n in name.split(","))
            head_md = f"{names} : {kind.strip()}"
        elif sep:
            head_md = f"`{name.strip()}` : {kind.strip()}"
        else:
            head_md = head
        text = " ".join(description)
        out.append(f"- {head_md}" + (f" — {text}" if text else ""))
    return out


def docstring_markdown(doc: str | None, level: int) -> str:
    """A numpy-style docstring as Markdown; section titles become bold labels."""
    if not doc:
        return ""
    lines = inspect.cleandoc(doc).splitlines()
    sections: list[tuple[str, list[str]]] = [("", [])]
    i = 0
    while i < len(lines):
        if (lines[i].strip() in _SECTION_NAMES and i + 1 < len(lines)
                and re.fullmatch(r"-{3,}", lines[i + 1].strip())):
            sections.append((lines[i].strip(), []))
            i += 2
            continue
        sections[-1][1].append(lines[i])
        i += 1
    out = []
    for title, body in sections:
        while body and not body[-1].strip():
            body.pop()
        if not title:
            out += _prose(body)
            continue
        out += ["", f"**{title}**", ""]
        if title in _LISTED:
            out += _entries(body)
        elif title == "Examples":
            out += ["```pycon", *inspect.cleandoc("\n".join(body)).splitlines(), "```"]
        else:
            out += _prose(body)
    text = "\n".join(out).strip()
    return re.sub(r"\n{3,}", "\n\n", text)


# --------------------------------------------------------------------------- signatures
def _default(value) -> str:
    if isinstance(value, type):
        module = "np" if value.__module__ == "numpy" else value.__module__
        return f"{module}.{value.__name__}"
    if isinstance(value, np.dtype):
        return f"np.{value.name}"
    if isinstance(value, enum.Enum):
        return f"{type(value).__name__}.{value.name}"
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return f"float({str(value)!r})"
    return repr(value)


def signature(obj, name: str) -> str:
    """``name(arg, arg=default, *args, **kwargs)`` without annotations, or "" when unknown."""
    target = obj
    if isinstance(obj, type):
        if issubclass(obj, BaseException):
            return ""
        target = obj.__init__ if "__init__" in vars(obj) or obj.__init__ is not object.__init__ else obj
    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):
        return ""
    parts = []
    star_done = False
    for p in sig.parameters.values():
        if p.name in ("self", "cls", "ctx") and not parts and not star_done:
            continue
        if p.kind is p.VAR_POSITIONAL:
            parts.append(f"*{p.name}")
            star_done = True
        elif p.kind is p.VAR_KEYWORD:
            parts.append(f"**{p.name}")
        else:
            if p.kind is p.KEYWORD_ONLY and not star_done:
                parts.append("*")
                star_done = True
            parts.append(p.name if p.default is p.empty else f"{p.name}={_default(p.default)}")
    return f"{name}({', '.join(parts)})"


# --------------------------------------------------------------------------- rendering
def _public_members(cls: type) -> list[tuple[str, object]]:
    """Public methods and properties defined in `cls` itself (not inherited), in source order."""
    members = []
    for name, value in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        if isinstance(value, (types.FunctionType, property)):
            members.append((name, value))
    return members


def _kind(obj) -> str:
    if isinstance(obj, type):
        return "exception" if issubclass(obj, BaseException) else "class"
    return "function" if callable(obj) else "constant"


def _base_note(cls: type, prefixes: dict) -> str:
    bases = [b for b in cls.__bases__ if b is not object]
    names = [prefixes.get(b, f"{b.__module__}.{b.__qualname__}") for b in bases]
    if not names:
        return ""
    return "Subclass of " + ", ".join(f"[`{n}`](#{_slug(n)})" if b in prefixes else f"`{n}`"
                                      for n, b in zip(names, bases)) + "."


def _slug(heading: str) -> str:
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _render_object(qualified: str, obj, prefixes: dict, out: list[str]) -> None:
    out += [f"### {qualified}", ""]
    kind = _kind(obj)
    if kind == "constant":
        value = repr(obj)
        if len(value) <= 100:
            out += [f"*constant* `{qualified} = {value}`", ""]
        else:
            out += ["*constant*", "", "```text", f"{qualified} = {value}", "```", ""]
        return
    sig = signature(obj, qualified)
    out.append(f"*{kind}*" + (f" `{sig}`" if sig else ""))
    out.append("")
    if isinstance(obj, type):
        note = _base_note(obj, prefixes)
        if note:
            out += [note, ""]
    doc = inspect.getdoc(obj) if not isinstance(obj, type) else obj.__doc__
    body = docstring_markdown(doc, 3)
    if body:
        out += [body, ""]
    if isinstance(obj, type) and not issubclass(obj, BaseException):
        if obj is tl.Tensor:
            _render_operators(out)
        for name, member in _public_members(obj):
            member_doc = inspect.getdoc(member) if not isinstance(member, property) else member.__doc__
            label = f"{qualified}.{name}"
            out += [f"#### {label}", ""]
            if isinstance(member, property):
                out += ["*property*", ""]
            else:
                out += [f"*method* `{signature(member, label)}`", ""]
            text = docstring_markdown(member_doc, 4)
            if text:
                out += [text, ""]


def _render_operators(out: list[str]) -> None:
    out += ["**Attributes**", ""]
    out += [f"- `{name}` — {text}" for name, text in TENSOR_ATTRIBUTES]
    out += ["", "**Operators**", "", "| expression | meaning |", "| --- | --- |"]
    out += [f"| {expr} | {meaning} |" for expr, meaning in OPERATORS]
    out.append("")


def _ops_table(out: list[str]) -> None:
    """The primitive ops of tl.ops, for people writing new ops or reading graphs."""
    from tinygrad_lstm import ops
    rows = [(name, cls) for name, cls in vars(ops).items()
            if isinstance(cls, type) and issubclass(cls, tl.Function) and cls is not tl.Function
            and cls.__module__.startswith(ops.__name__ + ".")]
    out += ["## tl.ops: the primitive ops", "",
            "Each op is a [`tl.Function`](#tlfunction) subclass with its forward and backward side by side "
            "in `tinygrad_lstm/ops/`; the `Tensor` methods and operators declared next to them call `Op.apply(...)`. Graphs "
            "name a node after its class in lower case (`MatMul` -> `matmul`). See "
            "[the architecture](architecture.md#adding-a-new-op) for how to add one.", "",
            "| op | node name | called by | notes |", "| --- | --- | --- | --- |"]
    for name, cls in rows:
        summary = " ".join(cls.__doc__.strip().split("\n\n")[0].split()) if cls.__doc__ else ""
        out.append(f"| `tl.ops.{name}` | `{name.lower()}` | {OP_CALLS.get(name, '')} | {summary} |")
    out.append("")


def _cli(out: list[str]) -> None:
    try:
        cli = importlib.import_module("tinygrad_lstm.cli")
    except ImportError:
        return
    parser = cli.build_parser()
    out += ["## Command line", "",
            "`tinygrad-lstm COMMAND ...` (also `python -m tinygrad_lstm COMMAND ...`). The help of "
            "each command, as printed by `--help`:", ""]
    out += ["### tinygrad-lstm", "", "```text", *_help(parser), "```", ""]
    for action in parser._actions:  # argparse exposes subcommands only through its actions
        if isinstance(action, argparse._SubParsersAction):
            for command, sub in action.choices.items():
                out += [f"### tinygrad-lstm {command}", "", "```text", *_help(sub), "```", ""]


def _help(parser: argparse.ArgumentParser) -> list[str]:
    import os
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal; fix it so the page is stable
    try:
        text = parser.format_help()
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous
    return [line.rstrip() for line in text.rstrip().splitlines()]


def _sections():
    """(title, module or None, [(qualified name, object)]) for every section whose module is importable.

    The module is given for sections that document a whole module (its docstring opens them).
    """
    result = []
    for title, module_name, prefix, names in SECTIONS:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        if names is None:
            names = list(getattr(module, "__all__", []))
        objects = [(f"{prefix}.{name}", getattr(module, name)) for name in names if hasattr(module, name)]
        result.append((title, module if module_name != "tinygrad_lstm" else None, objects))
    return result


def render() -> str:
    """The text of docs/api.md."""
    sections = _sections()
    prefixes = {obj: name for _, _, objects in sections for name, obj in objects if isinstance(obj, type)}
    out = ["# API reference", "",
           "Generated from the docstrings by `python docs/make_api.py`; do not edit by hand "
           "(`tests/test_docs.py` checks it is up to date). `import tinygrad_lstm as tl`. "
           "Shapes use `B` batch, `T` time steps, `D` input features, `H` hidden size, `G` gates. "
           "New here? Start with [the overview](index.md).", "",
           "## Contents", ""]
    for title, _, objects in sections:
        out.append(f"- [{title}](#{_slug(title)}): " + ", ".join(
            f"[`{name.rsplit('.', 1)[1]}`](#{_slug(name)})" for name, _ in objects))
    out.append("- [tl.ops: the primitive ops](#tlops-the-primitive-ops)")
    if _has_cli():
        out.append("- [Command line](#command-line)")
    out.append("")
    rendered = {}  # id(object) -> the name it was documented under
    for title, module, objects in sections:
        out += [f"## {title}", ""]
        if module is not None:
            out += [docstring_markdown(module.__doc__, 2), ""]
        for qualified, obj in objects:
            first = rendered.get(id(obj)) if callable(obj) else None
            if first is not None:
                out += [f"### {qualified}", "", f"The same object as [`{first}`](#{_slug(first)}).", ""]
                continue
            rendered[id(obj)] = qualified
            _render_object(qualified, obj, prefixes, out)
    _ops_table(out)
    _cli(out)
    text = "\n".join(out)
    return re.sub(r"\n{3,}", "\n\n", text).rstrip() + "\n"


def _has_cli() -> bool:
    try:
        importlib.import_module("tinygrad_lstm.cli")
    except ImportError:
        return False
    return True


# --------------------------------------------------------------------------- checks
def undocumented_public_names() -> list[str]:
    """Public names of `tl` (and of its public subpackages) that have no section."""
    covered = {name for _, _, objects in _sections() for name, _ in objects}
    documented_modules = {module for _, module, _, _ in SECTIONS}
    missing = []
    for name in tl.__all__:
        value = getattr(tl, name)
        if isinstance(value, types.ModuleType):
            if value.__name__ not in documented_modules:
                missing.append(f"tl.{name} (a module)")
        elif f"tl.{name}" not in covered:
            missing.append(f"tl.{name}")
    return missing


def missing_docstrings() -> list[str]:
    """Documented public functions, classes, methods and properties without a docstring.

    A method counts as documented when it inherits a docstring (``extra_repr``).
    """
    missing = []
    for _, _, objects in _sections():
        for qualified, obj in objects:
            if not obj.__doc__:
                missing.append(qualified)
            if isinstance(obj, type):
                missing += [f"{qualified}.{name}" for name, member in _public_members(obj)
                            if not inspect.getdoc(member)]
    return missing


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--missing", action="store_true", help="list public names without a docstring")
    args = parser.parse_args(argv)
    if args.missing:
        print("\n".join(missing_docstrings()))
        return 0
    path = HERE / "api.md"
    path.write_text(render(), encoding="utf-8")
    print(f"wrote {path.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
