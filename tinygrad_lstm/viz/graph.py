"""Draw the computation graph behind tensors with Graphviz, grouped by name scope and time step.

Nodes are grouped in nested clusters following their ``name_scope`` (``lstm/l0/t=3``
is the cluster ``t=3`` inside ``l0`` inside ``lstm``). Scopes named ``t=<int>`` are
time steps: ``max_steps`` keeps the first and last steps of each sequence and draws
the middle ones as a single dashed node. A leaf is drawn in the innermost scope that
holds all the ops using it, so a parameter shared by every step is drawn once,
outside the step clusters.
"""
from __future__ import annotations

import html
import math
import pathlib
import re
from dataclasses import dataclass

import numpy as np

from ..engine import Tensor, walk_graph
from .grads import grad_norm, recorded_grad_norms

__all__ = ["draw_graph", "render_graph", "GraphvizNotFoundError"]

_STEP = re.compile(r"t=(-?\d+)")
_RANKDIRS = ("LR", "RL", "TB", "BT")

# How each kind of node looks; the legend and the docstring of `draw_graph` follow this table.
_STYLES = {
    "parameter": dict(shape="box", style="filled", fillcolor="#cfe2f3", color="#3d85c6"),
    "input": dict(shape="ellipse", style="filled", fillcolor="#e8e8e8", color="#999999"),
    "op": dict(shape="box", style="rounded,filled", fillcolor="white", color="#666666"),
    "output": dict(shape="box", style="rounded,filled", fillcolor="#c9e7b8", color="#38761d"),
    "collapsed": dict(shape="box", style="rounded,dashed,filled", fillcolor="#f6f6f6", color="#777777",
                      fontsize="12", margin="0.25,0.12"),
}
_STEP_CLUSTER = dict(style="rounded,filled", fillcolor="#f6f6f6", color="#cccccc", fontcolor="#666666")
_SCOPE_CLUSTER = dict(style="rounded", color="#999999", fontcolor="#333333")
_LEAF_EDGE = dict(color="#9db8d2")
_LOOSE_EDGE = dict(weight="0", style="dashed", penwidth="0.7")


class GraphvizNotFoundError(RuntimeError):
    """Graphviz's ``dot`` program is not installed; the DOT source was written anyway."""


_INSTALL_HINT = ("Install Graphviz to render it: `sudo apt-get install graphviz` (Debian/Ubuntu), "
                 "`brew install graphviz` (macOS), `conda install -c conda-forge graphviz` (conda), "
                 "or see https://graphviz.org/download/")


def _graphviz():
    try:
        import graphviz
    except ImportError:
        raise ImportError("tinygrad_lstm.viz needs the graphviz Python package: pip install graphviz") from None
    return graphviz


@dataclass(frozen=True)
class DrawOptions:
    """How `draw_graph` draws: its keyword arguments after ``params``, checked once."""

    max_steps: int | None = None
    show_shapes: bool = True
    show_values: bool = False
    show_grads: bool = False
    rankdir: str = "LR"
    legend: bool = False

    def __post_init__(self):
        if self.max_steps is not None and (isinstance(self.max_steps, bool) or not isinstance(self.max_steps, int)):
            raise TypeError(f"draw_graph: max_steps must be an int or None, got {type(self.max_steps).__name__}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"draw_graph: max_steps must be at least 1, got {self.max_steps}")
        if self.rankdir not in _RANKDIRS:
            raise ValueError(f"draw_graph: rankdir must be one of {_RANKDIRS}, got {self.rankdir!r}")


def draw_graph(root, params=None, max_steps: int | None = None, show_shapes: bool = True,
               show_values: bool = False, show_grads: bool = False, rankdir: str = "LR",
               legend: bool = False):
    """The graph behind ``root`` as a `graphviz.Digraph`, clustered by name scope and time step.

    Legend: parameters are light-blue boxes labelled with their name, inputs (leaves
    that are not parameters) grey ellipses, ops white rounded boxes labelled with the
    op name, outputs (the ops or leaves that made ``root``) green rounded boxes, and
    collapsed time steps dashed boxes. Edges from leaves are light blue; an edge from
    an op with several outputs (``split``, ``unbind``) is labelled with the output index
    at its tail. A node outside a sequence that feeds several of its steps (a weight, an
    unbound input) has a solid edge into the earliest step and dashed edges into the
    others, which do not shape the layout.

    Parameters
    ----------
    root : Tensor or list of Tensor
        The tensors whose graph to draw.
    params : Module or dict of str to Tensor, optional
        Names for parameters (a module's ``named_parameters()``), matched by identity.
        Without it, every leaf that requires grad counts as a parameter; with it,
        leaves not named there count as inputs.
    max_steps : int, optional
        Keep at most this many time steps (scopes ``t=<int>``) of each sequence: the
        first ``ceil(max_steps / 2)`` and the last ``floor(max_steps / 2)``; the others
        are drawn as one node saying how many steps it stands for.
    show_shapes : bool
        Add each node's output shape(s) to its label.
    show_values : bool
        Add the values of leaves and of ``root`` (their mean and std when large).
    show_grads : bool
        Add gradient norms, after backward: of leaves' ``.grad``, of ``root`` tensors
        holding a ``.grad`` (`Tensor.retain_grad`), and of every op whose norms were
        recorded with `record_grad_norms`.
    rankdir : {"LR", "RL", "TB", "BT"}
        Graphviz's layout direction; ``"LR"`` makes time flow left to right.
    legend : bool
        Also draw a small legend of the node kinds.

    Returns
    -------
    graphviz.Digraph
        Deterministic: the same graph gives the same DOT text (``.source``). Node ids are
        ``leaf<i>`` and ``op<i>`` in `walk_graph` order and ``steps<i>`` for collapsed steps.
        A notebook shows it inline as SVG (its ``_repr_mimebundle_``, drawn by Graphviz's
        ``dot``); ``.render(...)`` or `render_graph` writes it to a file.

    Examples
    --------
    >>> import tinygrad_lstm as tl
    >>> w = tl.Tensor([[0.5, -1.0]], requires_grad=True)
    >>> with tl.name_scope("t=0"):
    ...     h = (w * 2.0).tanh()
    >>> dot = tl.viz.draw_graph(h, params={"w": w})
    >>> "cluster_" in dot.source and "tanh" in dot.source
    True
    """
    graphviz = _graphviz()
    roots = _as_roots(root)
    options = DrawOptions(max_steps, show_shapes, show_values, show_grads, rankdir, legend)
    names = _parameter_names(params)
    layout = _Layout(walk_graph(roots), names, options.max_steps)
    labels = _Labeller(roots, names, options)
    for kind, key, obj in layout.order:
        if kind == "leaf":
            leaf_kind = "parameter" if (id(obj) in names if names else obj.requires_grad) else "input"
            style = _STYLES["output"] if id(obj) in labels.root_leaves else _STYLES[leaf_kind]
            layout.place(key, labels.leaf(obj, leaf_kind), style)
        elif kind == "op":
            style = _STYLES["output"] if obj in labels.root_nodes else _STYLES["op"]
            layout.place(key, labels.op(obj), style)
        else:
            layout.place(key, _collapsed_label(obj), _STYLES["collapsed"])

    dot = graphviz.Digraph(
        "graph",
        graph_attr=dict(rankdir=options.rankdir, fontname="Helvetica", fontsize="11", nodesep="0.2",
                        ranksep="0.3", newrank="true"),
        node_attr=dict(fontname="Helvetica", fontsize="10", height="0.3", margin="0.08,0.04"),
        edge_attr=dict(arrowsize="0.6", color="#555555", fontname="Helvetica", fontsize="8",
                       fontcolor="#777777"))
    layout.emit(graphviz, dot, legend=_legend(graphviz) if options.legend else None)
    return dot


def render_graph(root, path, format: str | None = None, **draw_kwargs) -> pathlib.Path:
    """Draw ``root``'s graph (see `draw_graph`) and write it to ``path``.

    The format follows the suffix of ``path`` (``.svg``, ``.png``, ``.pdf``, ...); ``.dot``
    or ``.gv`` writes only the DOT source. The DOT source is always written, next to
    the picture with the suffix ``.dot``, so it survives a missing Graphviz.

    Parameters
    ----------
    root : Tensor or list of Tensor
    path : str or path-like
    format : str, optional
        A Graphviz output format; overrides the suffix (and is appended when ``path``
        has none).
    **draw_kwargs
        Passed to `draw_graph` (``params``, ``max_steps``, ...).

    Returns
    -------
    pathlib.Path
        The file written (the picture, or the DOT file for ``.dot``/``.gv``).

    Raises
    ------
    GraphvizNotFoundError
        Graphviz's ``dot`` program is not installed (the DOT file was written).
    """
    graphviz = _graphviz()
    path = pathlib.Path(path)
    if format is None:
        format = path.suffix[1:]
        if not format:
            raise ValueError(f"render_graph: cannot tell the format of '{path}': give it a suffix "
                             f"(.svg, .png, .pdf, .dot) or pass format=")
    elif not path.suffix:
        path = path.with_suffix("." + format)
    format = format.lower()
    dot_only = format in ("dot", "gv")
    if not dot_only and format not in graphviz.FORMATS:
        raise ValueError(f"render_graph: unknown format {format!r} for '{path}'; use svg, png, pdf, dot or "
                         f"another Graphviz format")
    dot_path = path if dot_only else path.with_suffix(".dot")
    if dot_path == path and not dot_only:
        raise ValueError(f"render_graph: '{path}' is where the DOT source goes; pick another suffix for {format}")
    source = draw_graph(root, **draw_kwargs)
    path.parent.mkdir(parents=True, exist_ok=True)
    dot_path.write_text(source.source, encoding="utf-8")
    if dot_only:
        return dot_path
    try:
        picture = source.pipe(format=format, quiet=True)
    except graphviz.ExecutableNotFound:
        raise GraphvizNotFoundError(
            f"render_graph: Graphviz's `dot` program was not found on PATH, so '{path}' was not drawn. "
            f"The DOT source was written to '{dot_path}'. {_INSTALL_HINT}; then run "
            f"`dot -T{format} '{dot_path}' -o '{path}'` or call render_graph again.") from None
    except graphviz.CalledProcessError as e:
        stderr = e.stderr.decode(errors="replace").strip() if isinstance(e.stderr, bytes) else e.stderr
        raise RuntimeError(f"render_graph: Graphviz's dot failed to render '{dot_path}' as {format}: "
                           f"{stderr}") from None
    path.write_bytes(picture)
    return path


# --------------------------------------------------------------------------- arguments
def _as_roots(root) -> list:
    roots = [root] if isinstance(root, Tensor) else list(root) if isinstance(root, (list, tuple)) else None
    if not roots or not all(isinstance(t, Tensor) for t in roots):
        raise TypeError(f"draw_graph: root must be a Tensor or a non-empty list of Tensors, got {root!r:.80}")
    return roots


def _parameter_names(params) -> dict:
    """id(tensor) -> name, from a Module (``named_parameters``) or a dict; the first name wins."""
    if params is None:
        return {}
    if hasattr(params, "named_parameters"):
        items = list(params.named_parameters())
    elif isinstance(params, dict):
        items = list(params.items())
    else:
        raise TypeError(f"draw_graph: params must be a Module or a dict of name -> Tensor, "
                        f"got {type(params).__name__}")
    names = {}
    for name, tensor in items:
        if not isinstance(tensor, Tensor):
            raise TypeError(f"draw_graph: params[{name!r}] must be a Tensor, got {type(tensor).__name__}")
        names.setdefault(id(tensor), str(name))
    return names


# --------------------------------------------------------------------------- layout
class _Collapsed:
    """The hidden middle steps of one sequence scope."""

    def __init__(self, parent: tuple, steps: list):
        self.parent, self.first, self.last, self.count = parent, steps[0], steps[-1], len(steps)


def _common_prefix(a: tuple, b: tuple) -> tuple:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return a[:n]


class _Layout:
    """Which node goes in which cluster, in which order, and the edges between drawn nodes.

    Built in phases: `_collect` decides where each leaf is drawn, `_collapse` which time
    steps are hidden behind one node, `_scope` the draw order and the cluster of every drawn
    node, `_link` the edges; `place` then labels the nodes and `emit` writes the clusters and
    edges into a `graphviz.Digraph`.
    """

    def __init__(self, graph, names: dict, max_steps: int | None):
        self.graph = graph
        self._collect(names)
        self._collapse(max_steps)
        self._scope()
        self._link()
        self.clusters = {(): []}  # cluster path -> its entries: ("node", key, attrs) or ("cluster", path)
        self.cluster_ids = {}

    def _collect(self, names: dict) -> None:
        """Scope paths of the ops, and the leaf instances: which leaf, drawn in which scope, feeding which edge.

        A leaf is drawn in the innermost scope holding all its users. A constant (an unnamed
        leaf that needs no gradient, like a zero initial state) is drawn once per sequence
        scope using it instead, so it does not wire distant layers together.
        """
        nodes, leaves = self.graph.nodes, self.graph.leaves
        self.op_index = {node: i for i, node in enumerate(nodes)}
        leaf_index = {id(leaf): i for i, leaf in enumerate(leaves)}
        self.op_paths = [tuple(node.scope.split("/")) if node.scope else () for node in nodes]
        instances = {}  # (leaf index, sequence scope or None) -> index in leaf_paths
        self.leaf_of, self.leaf_paths, self.leaf_ids = [], [], []
        copies = [0] * len(leaves)  # instances drawn so far of each leaf
        self.edge_leaf = []  # per graph edge: the leaf instance it starts from, or None
        for source, target, _, _ in self.graph.edges:
            if not isinstance(source, Tensor):
                self.edge_leaf.append(None)
                continue
            j = leaf_index[id(source)]
            path = self.op_paths[self.op_index[target]]
            constant = id(source) not in names and not source.requires_grad
            where = _outside_steps(path) if constant else None
            instance = instances.get((j, where))
            if instance is None:
                instance = instances[j, where] = len(self.leaf_paths)
                self.leaf_ids.append(f"leaf{j}" if copies[j] == 0 else f"leaf{j}_{copies[j]}")
                copies[j] += 1
                self.leaf_of.append(j)
                self.leaf_paths.append(path)
            else:
                self.leaf_paths[instance] = _common_prefix(self.leaf_paths[instance], path)
            self.edge_leaf.append(instance)
        for j in range(len(leaves)):  # a root that is a leaf has no user
            if copies[j] == 0:
                self.leaf_of.append(j)
                self.leaf_paths.append(())
                self.leaf_ids.append(f"leaf{j}")

    def _collapse(self, max_steps: int | None) -> None:
        """The key each op and leaf instance is drawn as: its own, or its collapsed group's ``steps<i>``."""
        hidden = _hidden_steps(self.op_paths + self.leaf_paths, max_steps)
        self.groups = list(dict.fromkeys(hidden.values()))
        group_ids = {group: f"steps{i}" for i, group in enumerate(self.groups)}

        def key_of(path: tuple, own_id: str) -> str:
            for depth in range(1, len(path) + 1):
                group = hidden.get(path[:depth])
                if group is not None:
                    return group_ids[group]
            return own_id

        self.op_keys = [key_of(p, f"op{i}") for i, p in enumerate(self.op_paths)]
        self.leaf_keys = [key_of(p, own_id) for p, own_id in zip(self.leaf_paths, self.leaf_ids)]

    def _scope(self) -> None:
        """Draw order (each leaf just before its first user, each collapsed group at its first op)
        and the scope path of every drawn key."""
        nodes, leaves = self.graph.nodes, self.graph.leaves
        self.order = []
        self.paths = {}
        placed = set()

        def visit(kind, key, obj, path):
            if key in placed:
                return
            placed.add(key)
            if key.startswith("steps"):
                group = self.groups[int(key[5:])]
                self.order.append(("collapsed", key, group))
                self.paths[key] = group.parent
            else:
                self.order.append((kind, key, obj))
                self.paths[key] = path

        leaf_inputs = [[] for _ in nodes]
        for (_, target, _, _), instance in zip(self.graph.edges, self.edge_leaf):
            if instance is not None:
                leaf_inputs[self.op_index[target]].append(instance)
        for i, node in enumerate(nodes):
            for instance in leaf_inputs[i]:
                visit("leaf", self.leaf_keys[instance], leaves[self.leaf_of[instance]], self.leaf_paths[instance])
            visit("op", self.op_keys[i], node, self.op_paths[i])
        for instance, j in enumerate(self.leaf_of):
            visit("leaf", self.leaf_keys[instance], leaves[j], self.leaf_paths[instance])

    def _link(self) -> None:
        """``edges``: ``(tail, head, label, from_leaf, loose)`` between drawn keys, each drawn once.

        Of a node's edges into the steps of a sequence from outside (a weight used by every
        step), only the one into the earliest step pulls on the layout; the others would
        stretch the picture, so they are drawn loose (dashed, weight 0).
        """
        step_depth = _step_depths(self.graph.nodes, self.op_paths)
        edges = []
        anchors = {}  # tail -> (depth of the earliest step it enters, index in edges)
        seen_edges = set()
        for (source, target, index, _), instance in zip(self.graph.edges, self.edge_leaf):
            from_leaf = instance is not None
            tail = self.leaf_keys[instance] if from_leaf else self.op_keys[self.op_index[source]]
            head = self.op_keys[self.op_index[target]]
            if tail == head:
                continue
            multi = not from_leaf and len(source.meta) > 1
            label = str(index) if multi and not tail.startswith("steps") and not head.startswith("steps") else None
            if (tail, head, label) in seen_edges:
                continue
            seen_edges.add((tail, head, label))
            step = _entered_step(self._step_path(tail), self._step_path(head))
            if step is not None:
                rank = (step_depth.get(step, math.inf), len(edges))
                anchors[tail] = min(anchors.get(tail, rank), rank)
            edges.append((tail, head, label, from_leaf, step is not None))
        anchor_edges = {i for _, i in anchors.values()}
        self.edges = [(tail, head, label, from_leaf, enters and i not in anchor_edges)
                      for i, (tail, head, label, from_leaf, enters) in enumerate(edges)]

    def _step_path(self, key: str) -> tuple:
        """The scope path of a node, a collapsed group counting as its first hidden step."""
        if key.startswith("steps"):
            group = self.groups[int(key[5:])]
            return group.parent + (f"t={group.first}",)
        return self.paths[key]

    def place(self, key: str, label: str, style: dict) -> None:
        """Put the drawn node `key` in its cluster (creating the clusters on its scope path)."""
        path = self.paths[key]
        for depth in range(1, len(path) + 1):
            prefix = path[:depth]
            if prefix not in self.clusters:
                self.clusters[prefix] = []
                self.cluster_ids[prefix] = f"cluster_{len(self.cluster_ids)}"
                self.clusters[prefix[:-1]].append(("cluster", prefix))
        self.clusters[path].append(("node", key, dict(style, label=label)))

    def emit(self, graphviz, dot, legend=None) -> None:
        """Add the placed nodes in their clusters, then `legend` (a subgraph, if any), then the edges."""
        self._emit_clusters(graphviz, dot)
        if legend is not None:
            dot.subgraph(legend)
        for source, target, label, from_leaf, loose in self.edges:
            attrs = dict(_LEAF_EDGE) if from_leaf else {}
            if label is not None:
                attrs["taillabel"] = label
            if loose:
                attrs.update(_LOOSE_EDGE)
            dot.edge(source, target, **attrs)

    def _emit_clusters(self, graphviz, dot) -> None:
        """Add the clusters to ``dot``, innermost first (no recursion over the scope tree)."""
        built = {}
        for path in sorted(self.clusters, key=len, reverse=True):
            if path:
                attrs = _STEP_CLUSTER if _STEP.fullmatch(path[-1]) else _SCOPE_CLUSTER
                target = graphviz.Digraph(self.cluster_ids[path], graph_attr=dict(attrs, label=path[-1]))
            else:
                target = dot
            for entry in self.clusters[path]:
                if entry[0] == "node":
                    target.node(entry[1], **entry[2])
                else:
                    target.subgraph(built.pop(entry[1]))
            built[path] = target


def _outside_steps(path: tuple) -> tuple:
    """``path`` cut before its first step scope: ``lstm/l0/t=3/cell`` -> ``lstm/l0``."""
    for depth, part in enumerate(path):
        if _STEP.fullmatch(part):
            return path[:depth]
    return path


def _entered_step(tail: tuple, head: tuple) -> tuple | None:
    """The step scope that ``head`` lies in when ``tail`` lies in no step of the same sequence."""
    for depth, part in enumerate(head):
        if _STEP.fullmatch(part):
            inside = tail[:depth] == head[:depth] and len(tail) > depth and _STEP.fullmatch(tail[depth])
            return None if inside else head[:depth + 1]
    return None


def _step_depths(nodes: list, paths: list) -> dict:
    """Step scope path -> the longest chain of ops up to its last op (orders steps as computed)."""
    depth = {}
    steps = {}
    for node, path in zip(nodes, paths):
        d = 1 + max((depth[e[0]] for e in node.edges if e is not None and not isinstance(e[0], Tensor)),
                    default=0)
        depth[node] = d
        for i, part in enumerate(path):
            if _STEP.fullmatch(part):
                steps[path[:i + 1]] = max(steps.get(path[:i + 1], 0), d)
    return steps


def _hidden_steps(paths: list, max_steps: int | None) -> dict:
    """Scope path of each hidden step -> its `_Collapsed` group."""
    if max_steps is None:
        return {}
    steps: dict = {}  # sequence scope path -> {t: step scope path}
    for path in dict.fromkeys(paths):
        for depth, part in enumerate(path):
            match = _STEP.fullmatch(part)
            if match:
                steps.setdefault(path[:depth], {})[int(match[1])] = path[:depth + 1]
    hidden = {}
    for parent, by_t in steps.items():
        if len(by_t) <= max_steps:
            continue
        ts = sorted(by_t)
        middle = ts[math.ceil(max_steps / 2):len(ts) - max_steps // 2]
        group = _Collapsed(parent, middle)
        for t in middle:
            hidden[by_t[t]] = group
    return hidden


# --------------------------------------------------------------------------- labels
def _shape_text(shape: tuple) -> str:
    return "scalar" if shape == () else "×".join(str(n) for n in shape)


def _shapes_text(shapes: tuple) -> str:
    if len(set(shapes)) == 1:
        return _shape_text(shapes[0]) if len(shapes) == 1 else f"{len(shapes)} × ({_shape_text(shapes[0])})"
    texts = [_shape_text(s) for s in shapes]
    return ", ".join(texts[:3] + (["…"] if len(texts) > 3 else []))


def _values_text(data: np.ndarray) -> str:
    if data.size <= 6:
        return np.array2string(np.asarray(data).ravel(), precision=3, separator=", ", suppress_small=True)
    return f"mean {data.mean():.3g}, std {data.std():.3g}"


def _html(title: str, lines: list, bold: bool = True) -> str:
    head = f"<B>{html.escape(title)}</B>" if bold else html.escape(title)
    small = "".join(f'<BR/><FONT POINT-SIZE="8" COLOR="#555555">{html.escape(line)}</FONT>' for line in lines)
    return f"<{head}{small}>"


class _Labeller:
    def __init__(self, roots: list, names: dict, options: DrawOptions):
        self.names, self.show_shapes = names, options.show_shapes
        self.show_values, self.show_grads = options.show_values, options.show_grads
        self.root_leaves = {id(t): t for t in roots if t.grad_fn is None}
        self.root_nodes = {}  # node -> root tensors it made
        for t in roots:
            if t.grad_fn is not None:
                self.root_nodes.setdefault(t.grad_fn, []).append(t)

    def leaf(self, leaf: Tensor, kind: str) -> str:
        lines = [_shape_text(leaf.shape)] if self.show_shapes else []
        if self.show_values:
            lines.append(_values_text(leaf.data))
        if self.show_grads:
            norm = grad_norm(leaf)
            if norm is not None:
                lines.append(f"|grad| {norm:.3g}")
        return _html(self.names.get(id(leaf), kind), lines, bold=kind == "parameter")

    def op(self, node) -> str:
        lines = [_shapes_text(node.shapes)] if self.show_shapes else []
        made = self.root_nodes.get(node, ())
        if self.show_values:
            lines.extend(_values_text(t.data) for t in made)
        if self.show_grads:
            recorded = recorded_grad_norms(node) or [None] * len(node.meta)
            for t in made:
                if t.grad is not None:
                    recorded = list(recorded)
                    recorded[t.output_index] = grad_norm(t)
            known = [n for n in recorded if n is not None]
            if known:
                lines.append(f"|grad| {math.sqrt(sum(n * n for n in known)):.3g}")
        return _html(node.name, lines)


def _collapsed_label(group: _Collapsed) -> str:
    return _html(f"… {group.count} steps …", [f"t={group.first} … t={group.last}"], bold=False)


def _legend(graphviz):
    legend = graphviz.Digraph("cluster_legend", graph_attr=dict(label="legend", style="rounded",
                                                                 color="#cccccc", fontcolor="#666666"))
    kinds = ("parameter", "input", "op", "output", "collapsed")
    for kind in kinds:
        legend.node(f"legend_{kind}", label=kind, **dict(_STYLES[kind], fontsize="10", margin="0.08,0.04"))
    for a, b in zip(kinds, kinds[1:]):  # invisible edges keep the legend in one row
        legend.edge(f"legend_{a}", f"legend_{b}", style="invis")
    return legend
