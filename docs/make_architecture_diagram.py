"""Draw how the pieces of tinygrad_lstm fit: ``python docs/make_architecture_diagram.py``.

Writes docs/images/architecture.dot (always), and .svg and .png when Graphviz's ``dot``
program is installed. Built with the `graphviz` package, as `tl.viz` is, in the same colours.
tests/test_docs.py checks the committed .dot against `build()`.
"""
from __future__ import annotations

import html
import sys
from pathlib import Path

import graphviz

IMAGES = Path(__file__).resolve().parent / "images"

# The colours of tl.viz's legend: parameters blue, inputs grey, ops white, outputs green.
CORE = dict(shape="box", style="rounded,filled", fillcolor="white", color="#666666")
MODEL = dict(shape="box", style="filled", fillcolor="#cfe2f3", color="#3d85c6")
REFERENCE = dict(shape="box", style="filled", fillcolor="#e8e8e8", color="#999999")
TOOL = dict(shape="box", style="rounded,filled", fillcolor="#c9e7b8", color="#38761d")
CLUSTER = dict(style="rounded", color="#999999", fontcolor="#333333")

# cluster label -> [(node id, title, detail, style)]
CLUSTERS = {
    "entry points": [
        ("you", "your code", "a custom cell,\na training loop", TOOL),
        ("cli", "cli.py", "tinygrad-lstm demo | compare\n| graph | train | bench", TOOL),
        ("tasks", "tasks/", "adding, chars, sine", TOOL),
    ],
    "tools": [
        ("compare", "compare/", "compare_gradients\n-> GradientReport", TOOL),
        ("viz", "viz/", "draw_graph,\nrender_graph", TOOL),
        ("plots", "plots.py", "learning curves,\ngradient flow", TOOL),
        ("bench", "bench.py", "timings vs the manual\nreference and torch", TOOL),
    ],
    "models: built from ops, backward comes from the graph": [
        ("nn", "nn/", "Module, Linear, ...\nRNN/LSTM/GRU, cells,\nRecurrent, kinds", MODEL),
        ("functional", "nn/functional.py\nnn/utils.py", "losses, dropout,\nclipping", MODEL),
        ("optim", "optim.py", "SGD, Adam, Adagrad", MODEL),
        ("serialization", "serialization.py", "tl.save, tl.load", MODEL),
    ],
    "engine": [
        ("tensor", "Tensor", ".data .grad\n.grad_fn -> node", CORE),
        ("function", "Function (a node)", "edges to parents,\nsaved arrays, scope, seq", CORE),
        ("ops", "ops/", "primitive ops:\nforward + backward", CORE),
        ("backward", "backward()", "newest node first,\npending grads, release", CORE),
        ("checks", "checks.py, random.py", "gradcheck,\nfactories, seeds", CORE),
        ("jit", "compiler/", "tl.jit: trace a call,\nreplay it as numpy", CORE),
    ],
    "references: numpy and torch only": [
        ("manual", "manual/", "hand-written BPTT: classic,\nfused, stacked, adapters", REFERENCE),
        ("torch", "PyTorch", "optional oracle", REFERENCE),
    ],
}

# (tail, head, label)
EDGES = [
    ("you", "nn", "compose ops"),
    ("you", "compare", ""),
    ("cli", "tasks", ""),
    ("cli", "compare", ""),
    ("cli", "viz", ""),
    ("cli", "bench", ""),
    ("tasks", "plots", ""),
    ("tasks", "optim", ""),
    ("compare", "nn", "autograd"),
    ("compare", "manual", "by hand"),
    ("compare", "torch", "oracle"),
    ("bench", "manual", ""),
    ("viz", "function", "walk_graph + scopes"),
    ("nn", "ops", "ops in name scopes"),
    ("functional", "ops", ""),
    ("optim", "tensor", ".grad"),
    ("ops", "function", "subclass"),
    ("tensor", "function", "made by"),
    ("backward", "function", "walks, frees"),
    ("checks", "tensor", ""),
    ("you", "jit", ""),
    ("tasks", "jit", ""),
    ("bench", "jit", ""),
    ("jit", "backward", "records"),
]


def _label(title: str, detail: str) -> str:
    head = "<BR/>".join(f"<B>{html.escape(line)}</B>" for line in title.split("\n"))
    lines = "".join(f'<BR/><FONT POINT-SIZE="9" COLOR="#555555">{html.escape(line)}</FONT>'
                    for line in detail.split("\n"))
    return f"<{head}{lines}>"


def build() -> graphviz.Digraph:
    """The architecture diagram as a `graphviz.Digraph` (deterministic source)."""
    dot = graphviz.Digraph(
        "architecture",
        graph_attr=dict(rankdir="TB", fontname="Helvetica", fontsize="11", nodesep="0.25", ranksep="0.5"),
        node_attr=dict(fontname="Helvetica", fontsize="11", margin="0.12,0.06"),
        edge_attr=dict(arrowsize="0.6", color="#555555", fontname="Helvetica", fontsize="9", fontcolor="#777777"))
    for i, (label, nodes) in enumerate(CLUSTERS.items()):
        with dot.subgraph(name=f"cluster_{i}", graph_attr=dict(CLUSTER, label=label)) as cluster:
            for node_id, title, detail, style in nodes:
                cluster.node(node_id, _label(title, detail), **style)
    for tail, head, label in EDGES:
        dot.edge(tail, head, label=label) if label else dot.edge(tail, head)
    return dot


def main() -> int:
    dot = build()
    IMAGES.mkdir(exist_ok=True)
    (IMAGES / "architecture.dot").write_text(dot.source, encoding="utf-8")
    for fmt in ("svg", "png"):
        try:
            (IMAGES / f"architecture.{fmt}").write_bytes(dot.pipe(format=fmt, quiet=True))
        except graphviz.ExecutableNotFound:
            print("Graphviz's `dot` program is not installed: wrote only docs/images/architecture.dot")
            return 1
    print("wrote docs/images/architecture.dot, .svg and .png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
