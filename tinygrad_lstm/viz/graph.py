"""Draw the computation graph behind tensors with Graphviz, grouped by name scope and time step.

Nodes are grouped in nested clusters following their ``name_scope`` (``lstm/l0/t=3``
is the cluster ``t=3`` inside ``l0`` inside ``lstm``). Scopes named ``t=<int>`` are
time steps: ``max_steps`` keeps the first and last steps of each sequence and draws
the middle ones as a single dashed node; ``rolled`` draws one step for all of them, the
edges from one step to the next looping back. A leaf is drawn in the innermost scope that
holds all the ops using it, so a parameter shared by every step is drawn once, outside the
step clusters; constants and scalars are folded into the label of the op using them.

``backward=True`` draws the backward pass instead: one node per vector-Jacobian product,
the sums where gradients meet, and the accumulation into each parameter's ``.grad``.
"""
from __future__ import annotations

import functools
import html
import math
import pathlib
import re
import warnings
from collections import Counter
from dataclasses import dataclass

import numpy as np

from ..engine import Tensor, walk_graph
from .grads import grad_norm, recorded_grad_norms, recorded_grad_summaries
from .values import recorded_values, summary

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
    # the backward graph
    "gradient seed": dict(shape="ellipse", style="filled", fillcolor="#fde9c9", color="#b45f06"),
    "vjp": dict(shape="box", style="rounded,filled", fillcolor="#fff8ec", color="#b45f06"),
    "sum of gradients": dict(shape="oval", style="filled", fillcolor="#fde9c9", color="#b45f06"),
    "accumulate into .grad": dict(shape="box", style="filled", fillcolor="#cfe2f3", color="#3d85c6"),
}
_FORWARD_KINDS = ("parameter", "input", "op", "output", "collapsed")
_BACKWARD_KINDS = ("gradient seed", "vjp", "sum of gradients", "accumulate into .grad", "collapsed")
_STEP_CLUSTER = dict(style="rounded,filled", fillcolor="#f6f6f6", color="#cccccc", fontcolor="#666666")
_SCOPE_CLUSTER = dict(style="rounded", color="#999999", fontcolor="#333333")
_LEAF_EDGE = dict(color="#9db8d2")
_LOOSE_EDGE = dict(weight="0", style="dashed", penwidth="0.7")
_LOOP_EDGE = dict(color="#b45f06", fontcolor="#b45f06", constraint="false", penwidth="1.3")
_SHOWABLE = ("values", "grads")
_FOLDED = -1  # the leaf instance of an edge from a constant folded into its consumer's label


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


@functools.cache
def _digraph_class():
    """`Graph`, a `graphviz.Digraph` that a notebook shows as SVG, defined once graphviz is imported."""
    graphviz = _graphviz()

    class Graph(graphviz.Digraph):
        """A `graphviz.Digraph` whose notebook display, without Graphviz's ``dot`` program, is a
        line saying how to install it instead of a traceback."""

        def _repr_mimebundle_(self, include=None, exclude=None, **kwargs):
            try:
                return super()._repr_mimebundle_(include, exclude, **kwargs)
            except graphviz.ExecutableNotFound:
                return {"text/plain": f"<graph of {self.source.count(' -> ')} edges: Graphviz's `dot` program was "
                                      f"not found on PATH, so it cannot be drawn here. {_INSTALL_HINT}; "
                                      f"its DOT source is .source>"}

    Graph.__qualname__ = "Graph"  # tinygrad_lstm.viz.graph.Graph in reprs, not the factory's locals
    return Graph


@dataclass(frozen=True)
class DrawOptions:
    """How `draw_graph` draws: its keyword arguments after ``params``, checked once."""

    max_steps: int | None = None
    show_shapes: bool = True
    show_values: bool = False
    show_grads: bool = False
    rankdir: str = "LR"
    legend: bool = False
    rolled: bool = False
    backward: bool = False
    saved: bool = False
    fold_constants: bool = True

    def __post_init__(self):
        if self.max_steps is not None and (isinstance(self.max_steps, bool) or not isinstance(self.max_steps, int)):
            raise TypeError(f"draw_graph: max_steps must be an int or None, got {type(self.max_steps).__name__}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"draw_graph: max_steps must be at least 1, got {self.max_steps}")
        if self.rankdir not in _RANKDIRS:
            raise ValueError(f"draw_graph: rankdir must be one of {_RANKDIRS}, got {self.rankdir!r}")
        if self.rolled and self.max_steps is not None:
            raise ValueError(f"draw_graph: rolled=True draws one step for all of them; max_steps={self.max_steps} "
                             f"does not apply")

    @staticmethod
    def parse_show(show) -> frozenset:
        """``show`` (None, ``"values"``, ``"grads"`` or a sequence of them) as a set, checked."""
        if show is None:
            return frozenset()
        items = (show,) if isinstance(show, str) else show
        if not isinstance(items, (tuple, list, set, frozenset)) or not all(isinstance(i, str) for i in items):
            raise TypeError(f"draw_graph: show must be 'values', 'grads' or a sequence of them, got {show!r}")
        unknown = [i for i in items if i not in _SHOWABLE]
        if unknown:
            raise ValueError(f"draw_graph: show={show!r}: unknown {unknown}; choose from {_SHOWABLE}")
        return frozenset(items)


def draw_graph(root, params=None, max_steps: int | None = None, show_shapes: bool = True,
               show_values: bool = False, show_grads: bool = False, rankdir: str = "LR",
               legend: bool = False, *, show=None, rolled: bool = False, backward: bool = False,
               saved: bool = False, fold_constants: bool = True):
    """The graph behind ``root`` as a `graphviz.Digraph`, clustered by name scope and time step.

    Legend: parameters are light-blue boxes labelled with their name, inputs (leaves
    that are not parameters) grey ellipses, ops white rounded boxes labelled with the
    op name, outputs (the ops or leaves that made ``root``) green rounded boxes, and
    collapsed time steps dashed boxes. Edges from leaves are light blue; an edge from
    an op with several outputs (``split``, ``unbind``) is labelled with the output index
    at its tail. A node outside a sequence that feeds several of its steps (a weight, an
    unbound input) has a solid edge into the earliest step and dashed edges into the
    others, which do not shape the layout. Constants (leaves outside the parameters that
    need no gradient and hold one repeated value, like a zero initial state) and scalars
    are not drawn: the op using them says ``with zeros 2×4`` or ``with 0.5``.

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
    show_values, show_grads : bool
        The same as ``"values"`` and ``"grads"`` in `show`.
    rankdir : {"LR", "RL", "TB", "BT"}
        Graphviz's layout direction; ``"LR"`` makes time flow left to right.
    legend : bool
        Also draw a small legend of the node kinds.
    show : {"values", "grads"} or a sequence of them, optional
        Add to each node a summary (the values when there are at most 6, else min, mean
        and max) of its value or of its gradient. Values: of leaves and ``root`` always,
        of the other ops when the forward pass ran inside `tl.viz.record_values` (a
        warning says when it did not). Gradients, after backward: of leaves' ``.grad``, of
        ``root`` tensors holding a ``.grad`` (`Tensor.retain_grad`), and of every op whose
        gradients were recorded with `record_grad_norms` (with their norm, ``|grad|``).
        Before any backward, a warning, and the nodes say ``no grad yet``.
    rolled : bool
        Draw each sequence's cell once: the ops of every step are drawn as those of one
        step whose cluster says ``t=0…T-1 (×T)``, and the edges from one step into the next
        loop back into it, labelled ``×T``. A step whose ops differ from the others' (as
        the first step of some cells) keeps its own cluster. Not with `max_steps`.
    backward : bool
        Draw the backward pass: one node per vector-Jacobian product (``MulBackward``), in
        the scope of its op, edges in the direction gradients flow (from the seeds, the
        gradients of ``root``, to the parameters), a ``+`` node where the gradients of one
        output from several consumers are summed, and one ``AccumulateGrad`` node per leaf
        saying how many gradients are added into its ``.grad`` (one per step for a shared
        weight: the sum of backpropagation through time).
    saved : bool
        Add what each op saved for its backward (shapes and bytes; ``freed`` after a
        backward without ``retain_graph``), and a legend with the total saved per time
        step of each sequence.
    fold_constants : bool
        Fold constants and scalars into their consumer's label (the default); False draws
        them as input nodes.

    Returns
    -------
    graphviz.Digraph
        Deterministic: the same graph gives the same DOT text (``.source``). Node ids are
        ``leaf<i>`` and ``op<i>`` in `walk_graph` order and ``steps<i>`` for collapsed steps.
        A notebook shows it inline as SVG (its ``_repr_mimebundle_``, drawn by Graphviz's
        ``dot``); ``.render(...)`` or `render_graph` writes it to a file.

    Warns
    -----
    UserWarning
        ``show="grads"`` before any backward or for ops whose gradients were not recorded,
        or ``show="values"`` for ops whose values were not recorded.

    Examples
    --------
    >>> import tinygrad_lstm as tl
    >>> w = tl.Tensor([[0.5, -1.0]], requires_grad=True)
    >>> with tl.name_scope("t=0"):
    ...     h = (w * 2.0).tanh()
    >>> dot = tl.viz.draw_graph(h, params={"w": w})
    >>> "cluster_" in dot.source and "tanh" in dot.source
    True
    >>> roots, lstm = tl.viz.unrolled_graph("lstm", steps=5)
    >>> "(×5)" in tl.viz.draw_graph(roots, params=lstm, rolled=True).source
    True
    """
    graphviz = _graphviz()
    roots = _as_roots(root)
    shown = DrawOptions.parse_show(show)
    options = DrawOptions(max_steps, show_shapes, show_values or "values" in shown, show_grads or "grads" in shown,
                          rankdir, legend, rolled, backward, saved, fold_constants)
    names = _parameter_names(params)
    forward = walk_graph(roots)
    graph = _BackwardGraph(forward, names) if options.backward else forward
    layout = _Layout(graph, {**names, **getattr(graph, "seed_names", {})}, options)
    labels = _Labeller(forward, roots, names, options)
    for kind, key, obj in layout.order:
        if kind == "leaf":
            if options.backward:  # the leaves of the backward graph are its seeds
                layout.place(key, labels.seed(obj, graph.seed_names[id(obj)]), _STYLES["gradient seed"])
                continue
            leaf_kind = "parameter" if (id(obj) in names if names else obj.requires_grad) else "input"
            style = _STYLES["output"] if id(obj) in labels.root_leaves else _STYLES[leaf_kind]
            layout.place(key, labels.leaf(obj, leaf_kind), style)
        elif kind == "op":
            if options.backward:
                layout.place(key, labels.gradient_node(obj), _STYLES[obj.kind])
                continue
            style = _STYLES["output"] if obj in labels.root_nodes else _STYLES["op"]
            layout.place(key, labels.op(obj, layout.folded.get(obj, ())), style)
        else:
            layout.place(key, _collapsed_label(obj), _STYLES["collapsed"])
    labels.warn()

    dot = _digraph_class()(
        "graph",
        graph_attr=dict(rankdir=options.rankdir, fontname="Helvetica", fontsize="11", nodesep="0.2",
                        ranksep="0.3", newrank="true"),
        node_attr=dict(fontname="Helvetica", fontsize="10", height="0.3", margin="0.08,0.04"),
        edge_attr=dict(arrowsize="0.6", color="#555555", fontname="Helvetica", fontsize="8",
                       fontcolor="#777777"))
    notes = _saved_per_step(forward) if options.saved else []
    kinds = _BACKWARD_KINDS if options.backward else _FORWARD_KINDS
    layout.emit(graphviz, dot, legend=_legend(graphviz, kinds, notes) if options.legend or notes else None)
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

    Built in phases: `_collect` decides where each leaf is drawn (or which op's label it is
    folded into), `_roll` which steps are drawn as one, `_collapse` which time steps are
    hidden behind one node, `_scope` the draw order and the cluster of every drawn node,
    `_link` the edges; `place` then labels the nodes and `emit` writes the clusters and edges
    into a `graphviz.Digraph`.
    """

    def __init__(self, graph, names: dict, options: DrawOptions):
        self.graph = graph
        self._collect(names, options.fold_constants)
        self._roll(options.rolled)
        self._collapse(options.max_steps)
        self._scope()
        self._link()
        self.clusters = {(): []}  # cluster path -> its entries: ("node", key, attrs) or ("cluster", path)
        self.cluster_ids = {}

    def _collect(self, names: dict, fold_constants: bool) -> None:
        """Scope paths of the ops, and the leaf instances: which leaf, drawn in which scope, feeding which edge.

        A leaf is drawn in the innermost scope holding all its users. A constant (an unnamed
        leaf that needs no gradient, like a zero initial state) is drawn once per sequence
        scope using it instead, so it does not wire distant layers together; one holding a
        single repeated value is folded into the label of each op using it (`folded`).
        """
        nodes, leaves = self.graph.nodes, self.graph.leaves
        self.op_index = {node: i for i, node in enumerate(nodes)}
        leaf_index = {id(leaf): i for i, leaf in enumerate(leaves)}
        self.op_paths = [tuple(node.scope.split("/")) if node.scope else () for node in nodes]
        roots = {id(t) for t in self.graph.roots}
        instances = {}  # (leaf index, sequence scope or None) -> index in leaf_paths
        self.leaf_of, self.leaf_paths, self.leaf_ids = [], [], []
        self.folded = {}  # op node -> texts of the constants folded into its label
        copies = [0] * len(leaves)  # instances drawn so far of each leaf
        folded_leaves = set()
        self.edge_leaf = []  # per graph edge: the leaf instance it starts from, `_FOLDED`, or None (an op)
        for source, target, _, _ in self.graph.edges:
            if not isinstance(source, Tensor):
                self.edge_leaf.append(None)
                continue
            j = leaf_index[id(source)]
            path = self.op_paths[self.op_index[target]]
            constant = id(source) not in names and not source.requires_grad
            if constant and fold_constants and id(source) not in roots and _is_uniform(source.data):
                self.folded.setdefault(target, []).append(f"with {_constant_text(source.data)}")
                folded_leaves.add(j)
                self.edge_leaf.append(_FOLDED)
                continue
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
            if copies[j] == 0 and j not in folded_leaves:
                self.leaf_of.append(j)
                self.leaf_paths.append(())
                self.leaf_ids.append(f"leaf{j}")

    def _roll(self, rolled: bool) -> None:
        """With `rolled`: each op of a step drawn as the op at the same place in one step of its
        sequence (``rep``), when the steps hold the same ops; leaves used only inside the other
        steps are not drawn (``dropped``): the drawn step has its own."""
        self.rep = {}             # op index -> the index of the op drawn for it
        self.op_step = {}         # op index of a rolled step -> (sequence path, t)
        self.step_counts = {}     # sequence path -> number of steps drawn as one
        self.cluster_labels = {}  # step path -> the label of the drawn step's cluster
        self.dropped = set()      # leaf instances not drawn
        if not rolled:
            return
        steps: dict = {}  # sequence path -> {t: [op indices, in creation order]}
        for i, path in enumerate(self.op_paths):
            depth = _first_step(path)
            if depth is not None:
                steps.setdefault(path[:depth], {}).setdefault(int(_STEP.fullmatch(path[depth])[1]), []).append(i)
        nodes = self.graph.nodes
        drawn_steps = {}  # sequence path -> (drawn step path, ts drawn as it)
        for parent, by_t in steps.items():
            for ops in by_t.values():  # in creation order (the backward graph's nodes have none: theirs)
                ops.sort(key=lambda i: -getattr(nodes[i], "seq", -i))
            signatures = {t: tuple((nodes[i].name, self.op_paths[i][len(parent) + 1:]) for i in ops)
                          for t, ops in by_t.items()}
            counts = Counter(signatures.values())
            most = max(counts.values())
            common = next(signatures[t] for t in sorted(by_t) if counts[signatures[t]] == most)
            matched = [t for t in sorted(by_t) if signatures[t] == common]
            drawn_t = matched[len(matched) // 2]  # a middle step: fed by the step before it, like most
            for t in matched:
                for i, drawn in zip(by_t[t], by_t[drawn_t]):
                    self.rep[i] = drawn
                    self.op_step[i] = (parent, t)
            drawn_path = parent + (f"t={drawn_t}",)
            self.step_counts[parent] = len(matched)
            self.cluster_labels[drawn_path] = f"t={matched[0]}…{matched[-1]} (×{len(matched)})"
            drawn_steps[parent] = (drawn_path, set(matched))
        for instance, path in enumerate(self.leaf_paths):
            depth = _first_step(path)
            if depth is None or path[:depth] not in drawn_steps:
                continue
            drawn_path, matched = drawn_steps[path[:depth]]
            if int(_STEP.fullmatch(path[depth])[1]) in matched and path[:depth + 1] != drawn_path:
                self.dropped.add(instance)

    def _collapse(self, max_steps: int | None) -> None:
        """The key each op and leaf instance is drawn as: its own, its drawn step's op (rolled), or its
        collapsed group's ``steps<i>``."""
        hidden = _hidden_steps(self.op_paths + self.leaf_paths, max_steps)
        self.groups = list(dict.fromkeys(hidden.values()))
        group_ids = {group: f"steps{i}" for i, group in enumerate(self.groups)}

        def key_of(path: tuple, own_id: str) -> str:
            for depth in range(1, len(path) + 1):
                group = hidden.get(path[:depth])
                if group is not None:
                    return group_ids[group]
            return own_id

        self.op_keys = [key_of(p, f"op{self.rep.get(i, i)}") for i, p in enumerate(self.op_paths)]
        self.leaf_keys = [None if i in self.dropped else key_of(p, own_id)
                          for i, (p, own_id) in enumerate(zip(self.leaf_paths, self.leaf_ids))]

    def _scope(self) -> None:
        """Draw order (each leaf just before its first user, each collapsed group at its first op)
        and the scope path of every drawn key."""
        nodes, leaves = self.graph.nodes, self.graph.leaves
        self.order = []
        self.paths = {}
        placed = set()

        def visit(kind, key, obj, path):
            if key is None or key in placed:
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
            if instance is not None and instance != _FOLDED:
                leaf_inputs[self.op_index[target]].append(instance)
        for i in range(len(nodes)):
            for instance in leaf_inputs[i]:
                visit("leaf", self.leaf_keys[instance], leaves[self.leaf_of[instance]], self.leaf_paths[instance])
            drawn = self.rep.get(i, i)
            visit("op", self.op_keys[i], nodes[drawn], self.op_paths[drawn])
        for instance, j in enumerate(self.leaf_of):
            visit("leaf", self.leaf_keys[instance], leaves[j], self.leaf_paths[instance])

    def _link(self) -> None:
        """``edges``: ``(tail, head, label, from_leaf, loose, loop)`` between drawn keys, each drawn once.

        Of a node's edges into the steps of a sequence from outside (a weight used by every
        step), only the one into the earliest step pulls on the layout; the others would
        stretch the picture, so they are drawn loose (dashed, weight 0). Rolled, an edge from
        one step into another is a loop labelled with the number of steps, and the outputs of
        a multi-output op outside feeding the steps (one per step) are drawn as one edge ``t``.
        """
        step_depth = _step_depths(self.graph.nodes, self.op_paths)
        edges = []
        anchors = {}  # tail -> (depth of the earliest step it enters, index in edges)
        seen_edges = set()
        for (source, target, index, _), instance in zip(self.graph.edges, self.edge_leaf):
            if instance == _FOLDED:
                continue
            from_leaf = instance is not None
            tail = self.leaf_keys[instance] if from_leaf else self.op_keys[self.op_index[source]]
            head = self.op_keys[self.op_index[target]]
            if tail is None or tail == head:
                continue
            source_step = None if from_leaf else self.op_step.get(self.op_index[source])
            target_step = self.op_step.get(self.op_index[target])
            loop = source_step is not None and target_step is not None and source_step != target_step
            multi = not from_leaf and len(source.meta) > 1
            if loop:
                label = f"×{self.step_counts[target_step[0]]}"
            elif multi and target_step is not None and source_step is None:
                label = "t"
            else:
                label = str(index) if multi and not tail.startswith("steps") and not head.startswith("steps") else None
            if (tail, head, label) in seen_edges:
                continue
            seen_edges.add((tail, head, label))
            step = None if loop else _entered_step(self._step_path(tail), self._step_path(head))
            if step is not None:
                rank = (step_depth.get(step, math.inf), len(edges))
                anchors[tail] = min(anchors.get(tail, rank), rank)
            edges.append((tail, head, label, from_leaf, step is not None, loop))
        anchor_edges = {i for _, i in anchors.values()}
        self.edges = [(tail, head, label, from_leaf, enters and i not in anchor_edges, loop)
                      for i, (tail, head, label, from_leaf, enters, loop) in enumerate(edges)]

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
        for source, target, label, from_leaf, loose, loop in self.edges:
            attrs = dict(_LEAF_EDGE) if from_leaf else {}
            if loop:
                attrs.update(_LOOP_EDGE, label=label)
            elif label is not None:
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
                label = self.cluster_labels.get(path, path[-1])
                target = graphviz.Digraph(self.cluster_ids[path], graph_attr=dict(attrs, label=label))
            else:
                target = dot
            for entry in self.clusters[path]:
                if entry[0] == "node":
                    target.node(entry[1], **entry[2])
                else:
                    target.subgraph(built.pop(entry[1]))
            built[path] = target


def _first_step(path: tuple) -> int | None:
    """The depth of the first step scope (``t=<int>``) in `path`, or None."""
    return next((depth for depth, part in enumerate(path) if _STEP.fullmatch(part)), None)


def _is_uniform(data: np.ndarray) -> bool:
    """One value repeated (or a scalar): a constant worth a line in a label, not a node."""
    return data.size <= 1 or bool((data == data.flat[0]).all())


def _constant_text(data: np.ndarray) -> str:
    """``0.5``, ``zeros 2×4``, ``ones 3``, ``full 2×4 of 0.1``."""
    if data.size == 1 and data.ndim <= 1:
        return f"{data.item():.4g}"
    if data.size == 0:
        return f"empty {_shape_text(data.shape)}"
    value = data.flat[0].item()
    shape = _shape_text(data.shape)
    return f"zeros {shape}" if value == 0 else f"ones {shape}" if value == 1 else f"full {shape} of {value:.4g}"


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


def _bytes_text(size: int) -> str:
    """``96 B``, ``1.5 KiB``, ``2.0 MiB``."""
    for unit in ("B", "KiB", "MiB"):
        if size < 1024 or unit == "MiB":
            return f"{size} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"  # pragma: no cover - the loop returns


def _html(title: str, lines: list, bold: bool = True) -> str:
    head = f"<B>{html.escape(title)}</B>" if bold else html.escape(title)
    small = "".join(f'<BR/><FONT POINT-SIZE="8" COLOR="#555555">{html.escape(line)}</FONT>' for line in lines)
    return f"<{head}{small}>"


def _saved_arrays(node) -> list | None:
    """The arrays `node` saved for its backward (None once a backward freed them)."""
    saved = node.saved_tensors
    return None if saved is None else [a for a in saved if isinstance(a, np.ndarray)]


def _saved_text(node) -> str:
    """``saved 2×4, 2×16 (192 B)``, ``saves nothing`` or ``saved: freed by backward``."""
    arrays = _saved_arrays(node)
    if arrays is None:
        return "saved: freed by backward"
    if not arrays:
        return "saves nothing"
    unique = list({id(a): a for a in arrays}.values())
    return (f"saved {', '.join(_shape_text(a.shape) for a in arrays[:3])}{', …' if len(arrays) > 3 else ''} "
            f"({_bytes_text(sum(a.nbytes for a in unique))})")


def _saved_per_step(graph) -> list:
    """Legend lines: the bytes saved for backward per time step of each sequence, and in all."""
    per_step: dict = {}  # sequence path -> {t: {id: array}}
    everything = {}
    for node in graph.nodes:
        arrays = _saved_arrays(node) or []
        everything.update((id(a), a) for a in arrays)
        path = tuple(node.scope.split("/")) if node.scope else ()
        depth = _first_step(path)
        if depth is not None:
            step = per_step.setdefault(path[:depth], {}).setdefault(int(_STEP.fullmatch(path[depth])[1]), {})
            step.update((id(a), a) for a in arrays)
    lines = []
    for parent, steps in per_step.items():
        sizes = [sum(a.nbytes for a in step.values()) for step in steps.values()]
        where = "/".join(parent) or "the graph"
        amount = _bytes_text(sizes[0]) if len(set(sizes)) == 1 else f"{_bytes_text(min(sizes))}–{_bytes_text(max(sizes))}"
        lines.append(f"{where}: {amount} saved per time step ({len(sizes)} steps)")
    lines.append(f"saved for backward in all: {_bytes_text(sum(a.nbytes for a in everything.values()))}")
    return lines


class _Labeller:
    """The label of every drawn node, following the options; notes what to warn about."""

    def __init__(self, graph, roots: list, names: dict, options: DrawOptions):
        self.names, self.options = names, options
        self.root_leaves = {id(t): t for t in roots if t.grad_fn is None}
        self.root_nodes = {}  # node -> root tensors it made
        for t in roots:
            if t.grad_fn is not None:
                self.root_nodes.setdefault(t.grad_fn, []).append(t)
        # Before any backward there is no gradient to show anywhere: say so on every node.
        self.no_grads_yet = options.show_grads and not (
            any(leaf.grad is not None for leaf in graph.leaves if leaf.requires_grad)
            or any(t.grad is not None for t in roots) or any(recorded_grad_norms(n) for n in graph.nodes))
        self.unrecorded_values = 0
        self.unrecorded_grads = 0

    def leaf(self, leaf: Tensor, kind: str) -> str:
        lines = [_shape_text(leaf.shape)] if self.options.show_shapes else []
        if self.options.show_values:
            lines.append(summary(leaf.data))
        if self.options.show_grads and leaf.requires_grad:
            lines += self._grad_lines([leaf.grad])
        return _html(self.names.get(id(leaf), kind), lines, bold=kind == "parameter")

    def op(self, node, folded=()) -> str:
        lines = [_shapes_text(node.shapes)] if self.options.show_shapes else []
        lines += folded
        if self.options.show_values:
            lines += self._value_lines(node)
        if self.options.show_grads:
            lines += self._op_grad_lines(node)
        if self.options.saved:
            lines.append(_saved_text(node))
        return _html(node.name, lines)

    def seed(self, seed: Tensor, title: str) -> str:
        lines = [_shape_text(seed.shape)] if self.options.show_shapes else []
        return _html(title, lines, bold=False)

    def gradient_node(self, node: "_GradientNode") -> str:
        """A node of the backward graph: the gradients it receives (their shapes, and their
        values with ``show="grads"``), what its op saved, how many gradients it sums."""
        lines = [_shapes_text(node.shapes)] if self.options.show_shapes else []
        if node.kind == "accumulate into .grad":
            lines.append(f"AccumulateGrad: sum of {node.count} gradient{'s' * (node.count != 1)}")
            if self.options.show_grads:
                lines += self._grad_lines([node.leaf.grad])
            return _html(self.names.get(id(node.leaf), "leaf"), lines)
        if node.kind == "sum of gradients":
            lines.append(f"sum of {node.count} gradients")
            if self.options.show_grads:
                lines += self._grad_lines([self._output_grads(node.op)[node.index]])
            return _html("+", lines)
        if self.options.show_grads:
            lines += self._op_grad_lines(node.op)
        if self.options.saved:
            lines.append(_saved_text(node.op))
        return _html(node.name, lines)

    def _value_lines(self, node) -> list:
        made = self.root_nodes.get(node)
        if made:
            return [summary(t.data) for t in made]
        recorded = recorded_values(node)
        if recorded is None:
            self.unrecorded_values += 1
            return ["value not recorded"]
        return list(recorded)

    def _output_grads(self, node) -> list:
        """Per output of `node`: its recorded gradient as ``(norm, summary)``, a retained root
        gradient, or None."""
        norms = recorded_grad_norms(node) or [None] * len(node.meta)
        texts = recorded_grad_summaries(node) or [None] * len(node.meta)
        grads = [None if n is None else (n, t) for n, t in zip(norms, texts)]
        for t in self.root_nodes.get(node, ()):
            if t.grad is not None:
                grads[t.output_index] = (grad_norm(t), summary(t.grad))
        return grads

    def _op_grad_lines(self, node) -> list:
        """The gradient lines of an op; after a backward that did not record them, ``grad not recorded``."""
        grads = self._output_grads(node)
        if self.no_grads_yet or any(g is not None for g in grads) or recorded_grad_norms(node) is not None:
            return self._grad_lines(grads)
        self.unrecorded_grads += 1
        return ["grad not recorded"]

    def _grad_lines(self, grads: list) -> list:
        """Lines for gradients given as arrays or ``(norm, summary)`` pairs (None: unknown)."""
        known = [g if isinstance(g, tuple) else (float(np.linalg.norm(np.asarray(g))), summary(g))
                 for g in grads if g is not None]
        if not known:
            return ["no grad yet"] if self.no_grads_yet else []
        lines = [f"grad {known[0][1]}"] if len(known) == 1 else []
        return lines + [f"|grad| {math.sqrt(sum(n * n for n, _ in known)):.3g}"]

    def warn(self) -> None:
        """Say what the labels could not show."""
        if self.no_grads_yet:
            warnings.warn("draw_graph: show='grads' before backward(): there is no gradient yet, so the nodes say "
                          "'no grad yet'; call backward() first (inside tl.viz.record_grad_norms(loss) to see the "
                          "gradients of the ops too)", UserWarning, stacklevel=3)
        if self.unrecorded_grads:
            warnings.warn(f"draw_graph: show='grads': the gradients of {self.unrecorded_grads} ops were not recorded "
                          f"(backward keeps only the leaves' .grad), so they say 'grad not recorded'; run backward "
                          f"inside tl.viz.record_grad_norms(loss) to see them", UserWarning, stacklevel=3)
        if self.unrecorded_values:
            warnings.warn(f"draw_graph: show='values': the values of {self.unrecorded_values} ops were not recorded "
                          f"(nodes keep no outputs), so they say 'value not recorded'; run the forward pass inside "
                          f"tl.viz.record_values() to see them", UserWarning, stacklevel=3)


def _collapsed_label(group: _Collapsed) -> str:
    return _html(f"… {group.count} steps …", [f"t={group.first} … t={group.last}"], bold=False)


def _legend(graphviz, kinds: tuple, notes: list):
    """A cluster with one node per kind of node (in a row) and, below, the `notes` as text."""
    legend = graphviz.Digraph("cluster_legend", graph_attr=dict(label="legend", style="rounded",
                                                                 color="#cccccc", fontcolor="#666666"))
    for kind in kinds:
        legend.node(f"legend_{kind.replace(' ', '_').replace('.', '')}", label=kind,
                    **dict(_STYLES[kind], fontsize="10", margin="0.08,0.04"))
    ids = [f"legend_{kind.replace(' ', '_').replace('.', '')}" for kind in kinds]
    for a, b in zip(ids, ids[1:]):  # invisible edges keep the legend in one row
        legend.edge(a, b, style="invis")
    if notes:
        legend.node("legend_notes", label=_html("saved for backward", notes, bold=False), shape="plaintext")
    return legend


# --------------------------------------------------------------------------- the backward graph
class _GradientNode:
    """A node of the backward graph: the vector-Jacobian product of an op (``vjp``), the sum of
    the gradients reaching one output of an op from its consumers (``sum of gradients``), or
    the accumulation of a leaf's gradients into its ``.grad`` (``accumulate into .grad``)."""

    __slots__ = ("kind", "op", "index", "leaf", "scope", "shapes", "meta", "edges", "count", "__weakref__")

    def __init__(self, kind: str, scope: str, shapes: tuple, op=None, index: int = 0, leaf=None):
        self.kind, self.op, self.index, self.leaf, self.scope = kind, op, index, leaf, scope
        self.shapes = shapes  # of the gradients it receives
        self.meta = ((shapes[0], None),)  # one gradient passed on per edge: no output indices on the edges
        self.edges = []  # (source node or seed, 0), in the order the gradients arrive
        self.count = 0

    @property
    def name(self) -> str:
        return f"{type(self.op).__name__}Backward" if self.kind == "vjp" else self.kind


class _BackwardGraph:
    """The backward pass of a forward `Graph`, shaped like one for `_Layout`: ``nodes`` in the
    order gradients flow (each after the nodes whose gradients it receives), ``leaves`` the
    seeds (the gradients of the roots), ``edges`` ``(source, target, 0, position)``."""

    def __init__(self, graph, names: dict):
        consumers: dict = {}  # (forward node or leaf, output index) -> [(consumer node, position)]
        for node in graph.nodes:
            for position, edge in enumerate(node.edges):
                if edge is not None and node.needs_input_grad[position]:
                    consumers.setdefault((edge[0], edge[1]), []).append(node)
        self.roots, self.seed_names, seeds = [], {}, {}
        for t in graph.roots:
            if t.requires_grad:
                seed = Tensor._wrap(np.ones(t.shape, t.dtype), None, 0)
                producer = t.grad_fn if t.grad_fn is not None else t
                origin = names.get(id(t)) or (t.grad_fn.name if t.grad_fn is not None else "leaf")
                self.seed_names[id(seed)] = "1" if t.size == 1 else f"gradient of {origin}"
                seeds.setdefault((producer, t.output_index), []).append(seed)
                self.roots.append(seed)
        self.leaves = list(self.roots)
        self.nodes, vjps = [], {}
        for node in reversed(graph.nodes):  # consumers before producers
            vjp = _GradientNode("vjp", node.scope, node.shapes, op=node)
            for index, (shape, _) in enumerate(node.meta):
                incoming = [vjps[c] for c in consumers.get((node, index), ())] + seeds.get((node, index), [])
                if len(incoming) > 1:
                    total = _GradientNode("sum of gradients", node.scope, (shape,), op=node, index=index)
                    self._connect(incoming, total)
                    incoming = [total]
                self._connect(incoming, vjp)
            vjps[node] = vjp
            self.nodes.append(vjp)
        for leaf in graph.leaves:
            incoming = [vjps[c] for c in consumers.get((leaf, 0), ())] + seeds.get((leaf, 0), [])
            if leaf.requires_grad and incoming:
                scopes = [tuple(c.scope.split("/")) if c.scope else () for c in consumers.get((leaf, 0), ())]
                common = scopes[0] if scopes else ()
                for scope in scopes[1:]:
                    common = _common_prefix(common, scope)
                accumulate = _GradientNode("accumulate into .grad", "/".join(common), (leaf.shape,), leaf=leaf)
                self._connect(incoming, accumulate)
        self.edges = [(source, node, 0, position) for node in self.nodes
                      for position, (source, _) in enumerate(node.edges)]

    def _connect(self, sources: list, target: _GradientNode) -> None:
        """Edges from `sources` into `target`, which joins ``nodes`` after them."""
        target.edges.extend((source, 0) for source in sources)
        target.count += len(sources)
        if target.kind != "vjp":  # a vjp joins when its op's outputs are all connected
            self.nodes.append(target)
