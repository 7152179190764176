"""Graph pictures: DOT structure (clusters per scope and step, labels, shared parameters once),
determinism, collapsing long unrolls, real renders with Graphviz, and the error paths."""
import gc
import re
import shutil
import warnings
import weakref

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm.viz import GraphvizNotFoundError, draw_graph, record_grad_norms, render_graph, unrolled_graph
from tinygrad_lstm.engine import walk_graph
from tinygrad_lstm.viz.graph import DrawOptions

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program is not installed")


# --------------------------------------------------------------------------- reading DOT back
def parse_dot(source: str) -> dict:
    """Nodes (id -> (label, attribute text, cluster labels outside-in)), edges and clusters of a DOT text."""
    stack, names, nodes, edges, clusters = [], {}, {}, [], []
    for line in source.splitlines():
        text = line.strip()
        opened = re.match(r"subgraph (cluster_\w+) \{", text)
        if opened:
            stack.append(opened[1])
            continue
        if text == "}":
            if stack:
                stack.pop()
            continue
        cluster_attrs = re.match(r'graph \[.*\blabel=("[^"]*"|\S+?)[ \]]', text)
        if cluster_attrs and stack:
            names[stack[-1]] = cluster_attrs[1].strip('"')
            clusters.append(tuple(names[c] for c in stack))
            continue
        edge = re.match(r'(\w+) -> (\w+)(?: \[(.*)\])?$', text)
        if edge:
            edges.append((edge[1], edge[2], edge[3] or ""))
            continue
        node = re.match(r'(\w+) \[label=(<.*>|"[^"]*"|\S+) ?(.*)\]$', text)
        if node:
            nodes[node[1]] = (node[2], node[3], tuple(names[c] for c in stack))
    return {"nodes": nodes, "edges": edges, "clusters": clusters}


def nodes_labelled(parsed: dict, text: str) -> list:
    return [key for key, (label, _, _) in parsed["nodes"].items() if text in label]


# --------------------------------------------------------------------------- graphs to draw
def hand_lstm(steps: int, hidden: int = 4, input_size: int = 3, batch: int = 2, seed: int = 0):
    """An LSTM unrolled by hand with the scopes `tl.nn` uses: once-per-layer work in ``lstm/l0``."""
    rng = np.random.default_rng(seed)
    shapes = {"weight_ih_l0": (4 * hidden, input_size), "weight_hh_l0": (4 * hidden, hidden),
              "bias_ih_l0": (4 * hidden,), "bias_hh_l0": (4 * hidden,)}
    params = {name: tl.Tensor(rng.normal(size=shape), requires_grad=True) for name, shape in shapes.items()}
    x = tl.Tensor(rng.normal(size=(steps, batch, input_size)))
    with tl.name_scope("lstm"), tl.name_scope("l0"):
        weight_hh_t = params["weight_hh_l0"].T
        projection = x.reshape(steps * batch, input_size) @ params["weight_ih_l0"].T
        projection = projection + params["bias_ih_l0"] + params["bias_hh_l0"]
        step_inputs = projection.reshape(steps, batch, 4 * hidden).unbind(0)
        h = c = tl.zeros((batch, hidden))
        outputs = []
        for t in range(steps):
            with tl.name_scope(f"t={t}"):
                i, f, g, o = (step_inputs[t] + h @ weight_hh_t).chunk(4, 1)
                c = f.sigmoid() * c + i.sigmoid() * g.tanh()
                h = o.sigmoid() * c.tanh()
            outputs.append(h)
        output = tl.stack(outputs, 0)
    return [output, h, c], params


def per_step_weights(steps: int):
    """A cell using its weight directly in every step (no layer-level transpose)."""
    w = tl.Tensor(np.full((3, 3), 0.1), requires_grad=True)
    h = tl.Tensor(np.ones((1, 3)))
    with tl.name_scope("cell"):
        for t in range(steps):
            with tl.name_scope(f"t={t}"):
                h = (h @ w).tanh()
    return h, w


class MinimalGatedUnit(tl.nn.Module):
    """A custom cell for `tl.nn.Recurrent`: f = σ(W_f [x, h]); h' = (1 - f) h + f tanh(W_h [x, f h])."""

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.forget = tl.nn.Linear(input_size + hidden_size, hidden_size)
        self.candidate = tl.nn.Linear(input_size + hidden_size, hidden_size)

    def init_state(self, batch_size):
        return tl.zeros((batch_size, self.hidden_size), dtype=np.float32)

    def forward(self, x, h):
        f = self.forget(tl.concat([x, h], 1)).sigmoid()
        candidate = self.candidate(tl.concat([x, f * h], 1)).tanh()
        return (1 - f) * h + f * candidate


def custom_cell(steps: int):
    rnn = tl.nn.Recurrent(MinimalGatedUnit(2, 3))
    x = np.random.default_rng(0).standard_normal((steps, 1, 2)).astype(np.float32)
    outputs, h = rnn(tl.Tensor(x))
    return [outputs, h], rnn


# --------------------------------------------------------------------------- structure
def test_one_cluster_per_step_nested_in_layer_and_module():
    roots, params = hand_lstm(3)
    parsed = parse_dot(draw_graph(roots, params=params).source)
    steps = [c for c in parsed["clusters"] if c[-1].startswith("t=")]
    assert steps == [("lstm", "l0", "t=0"), ("lstm", "l0", "t=1"), ("lstm", "l0", "t=2")]
    assert ("lstm", "l0") in parsed["clusters"]
    # every step holds the same cell: one matmul, one split and three sigmoids
    for step in steps:
        inside = [label for label, _, where in parsed["nodes"].values() if where == step]
        assert sum("<B>matmul</B>" in label for label in inside) == 1
        assert sum("<B>split</B>" in label for label in inside) == 1
        assert sum("<B>sigmoid</B>" in label for label in inside) == 3


def test_labels_name_parameters_and_give_shapes():
    roots, params = hand_lstm(2, hidden=4, input_size=3, batch=2)
    parsed = parse_dot(draw_graph(roots, params=params).source)
    labels = [label for label, _, _ in parsed["nodes"].values()]
    assert any("weight_ih_l0" in label and "16×3" in label for label in labels)
    assert any("bias_hh_l0" in label and ">16<" in label for label in labels)
    assert any("<B>matmul</B>" in label and "2×16" in label for label in labels)
    assert any("<B>split</B>" in label and "4 × (2×4)" in label for label in labels)
    bare = parse_dot(draw_graph(roots, params=params, show_shapes=False).source)
    assert not any("16×3" in label for label, _, _ in bare["nodes"].values())


@pytest.mark.parametrize("build", [hand_lstm, per_step_weights])
def test_shared_parameters_drawn_once_outside_the_steps(build):
    roots, params = build(4)
    params = params if isinstance(params, dict) else {"w": params}
    parsed = parse_dot(draw_graph(roots, params=params).source)
    for name in params:
        (key,) = nodes_labelled(parsed, f"<B>{name}</B>")
        assert not any(part.startswith("t=") for part in parsed["nodes"][key][2])


def test_weight_used_by_every_step_pulls_on_the_layout_once():
    h, w = per_step_weights(4)
    parsed = parse_dot(draw_graph(h, params={"w": w}).source)
    (key,) = nodes_labelled(parsed, "<B>w</B>")
    out_of_w = [attrs for tail, _, attrs in parsed["edges"] if tail == key]
    assert len(out_of_w) == 4
    assert sum("weight=0" in attrs for attrs in out_of_w) == 3


def test_node_kinds_are_visually_distinct():
    roots, params = hand_lstm(2)
    parsed = parse_dot(draw_graph(roots, params=params).source)
    attrs = {key: a for key, (_, a, _) in parsed["nodes"].items()}
    (weight,) = nodes_labelled(parsed, "weight_hh_l0")
    (stack,) = nodes_labelled(parsed, "<B>stack</B>")
    inputs = nodes_labelled(parsed, "<input<")
    assert inputs and all("shape=ellipse" in attrs[k] for k in inputs)
    assert "shape=box" in attrs[weight] and "#cfe2f3" in attrs[weight]
    assert "#c9e7b8" in attrs[stack]  # outputs are green
    ops = [k for k in attrs if k.startswith("op") and k != stack]
    outputs = [k for k in ops if "#c9e7b8" in attrs[k]]
    assert len(outputs) == 2  # the ops making h and c
    legend = parse_dot(draw_graph(roots, params=params, legend=True).source)
    assert ("legend",) in legend["clusters"]
    assert {k for k in legend["nodes"] if k.startswith("legend_")} == {
        "legend_parameter", "legend_input", "legend_op", "legend_output", "legend_collapsed"}


def test_without_params_leaves_that_require_grad_are_parameters():
    h, w = per_step_weights(2)
    parsed = parse_dot(draw_graph(h).source)
    (key,) = nodes_labelled(parsed, "<B>parameter</B>")
    assert "#cfe2f3" in parsed["nodes"][key][1]


def test_multi_output_edges_carry_the_output_index():
    roots, params = hand_lstm(3)
    parsed = parse_dot(draw_graph(roots, params=params).source)
    (unbind,) = nodes_labelled(parsed, "<B>unbind</B>")
    labels = sorted(re.search(r'taillabel=(\d+)', attrs)[1] for tail, _, attrs in parsed["edges"] if tail == unbind)
    assert labels == ["0", "1", "2"]


def test_deterministic_dot_text():
    first = draw_graph(*hand_lstm(5), max_steps=2).source
    roots, params = hand_lstm(5)
    assert draw_graph(roots, params=params, max_steps=2).source == first
    assert draw_graph(roots, params=params, max_steps=2).source == first
    assert re.search(r"\bop0 \[", first) and "0x" not in first  # ids by position, never by address


def test_deep_chain_draws_without_recursion():
    x = tl.Tensor([0.5], requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0
    parsed = parse_dot(draw_graph(y).source)
    assert len(parsed["nodes"]) == 5001


# --------------------------------------------------------------------------- collapsing
def test_200_step_lstm_collapses_to_a_small_graph():
    roots, params = hand_lstm(200)
    source = draw_graph(roots, params=params, max_steps=4).source
    assert len(source) < 20_000
    parsed = parse_dot(source)
    steps = [c[-1] for c in parsed["clusters"] if c[-1].startswith("t=")]
    assert steps == ["t=0", "t=1", "t=198", "t=199"]
    (collapsed,) = nodes_labelled(parsed, "196 steps")
    assert "t=2 … t=197" in parsed["nodes"][collapsed][0]
    assert "dashed" in parsed["nodes"][collapsed][1]
    # the chain stays connected: step 1 feeds the collapsed node, which feeds step 198
    where = {key: info[2] for key, info in parsed["nodes"].items()}
    into = {where[tail][-1] for tail, head, _ in parsed["edges"] if head == collapsed if tail in where}
    out_of = {where[head][-1] for tail, head, _ in parsed["edges"] if tail == collapsed}
    assert "t=1" in into and "t=198" in out_of


@pytest.mark.parametrize("max_steps, kept", [(1, ["t=0"]), (3, ["t=0", "t=1", "t=9"]), (10, None)])
def test_max_steps_keeps_first_and_last_steps(max_steps, kept):
    h, w = per_step_weights(10)
    parsed = parse_dot(draw_graph(h, params={"w": w}, max_steps=max_steps).source)
    steps = [c[-1] for c in parsed["clusters"] if c[-1].startswith("t=")]
    assert steps == (kept or [f"t={t}" for t in range(10)])
    hidden = 10 - len(steps)
    assert len(nodes_labelled(parsed, f"{hidden} steps")) == (1 if hidden else 0)


def test_collapsing_hides_leaves_used_only_inside_hidden_steps():
    w = tl.Tensor(np.eye(2), requires_grad=True)
    h = tl.Tensor(np.ones((1, 2)))
    with tl.name_scope("seq"):
        for t in range(6):
            with tl.name_scope(f"t={t}"):
                h = (h @ w + tl.Tensor(np.full((1, 2), t))).tanh()  # a per-step input
    parsed = parse_dot(draw_graph(h, params={"w": w}, max_steps=2, fold_constants=False).source)
    assert len(nodes_labelled(parsed, "<input<")) == 2 + 1  # the kept steps' inputs and h_0
    assert len(nodes_labelled(parsed, "<B>w</B>")) == 1


def test_real_lstm_200_steps_collapses():
    roots, lstm = unrolled_graph("lstm", steps=200, hidden=4)
    source = draw_graph(roots, params=lstm, max_steps=4).source
    assert len(source) < 20_000
    parsed = parse_dot(source)
    assert len(nodes_labelled(parsed, "196 steps")) == 1
    for name, _ in lstm.named_parameters():
        assert len(nodes_labelled(parsed, f"<B>{name}</B>")) == 1


# --------------------------------------------------------------------------- real modules
def test_bidirectional_two_layer_gru_clusters():
    roots, gru = unrolled_graph("gru", steps=3, hidden=4, layers=2, bidirectional=True, batch=1)
    parsed = parse_dot(draw_graph(roots, params=gru).source)
    for scope in ("l0", "l0_reverse", "l1", "l1_reverse"):
        steps = sorted(c[-1] for c in parsed["clusters"] if len(c) == 3 and c[:2] == ("gru", scope))
        assert steps == ["t=0", "t=1", "t=2"]
    names = [name for name, _ in gru.named_parameters()]
    assert len(names) == 16
    for name in names:  # each in its own layer and direction, outside the steps
        (key,) = nodes_labelled(parsed, f"<B>{name}</B>")
        assert parsed["nodes"][key][2] == ("gru", re.search(r"_(l\d(?:_reverse)?)$", name)[1])
    # the zero initial state, one tensor shared by every layer, is folded into the ops of each first step ...
    first_steps = [("gru", "l0", "t=0"), ("gru", "l0_reverse", "t=2"), ("gru", "l1", "t=0"), ("gru", "l1_reverse", "t=2")]
    assert not [key for key in nodes_labelled(parsed, "<input<") if "1×4" in parsed["nodes"][key][0]]
    folded = nodes_labelled(parsed, "with zeros 1×4")
    assert sorted(set(parsed["nodes"][key][2] for key in folded)) == first_steps
    # ... or, unfolded, drawn in each first step
    unfolded = parse_dot(draw_graph(roots, params=gru, fold_constants=False).source)
    zeros = [key for key in nodes_labelled(unfolded, "<input<") if "1×4" in unfolded["nodes"][key][0]]
    assert sorted(unfolded["nodes"][key][2] for key in zeros) == first_steps


def test_unrolled_graph_of_a_registered_kind_and_of_module_colon_class():
    kind = tl.nn.kinds.register_kind("mgu", MinimalGatedUnit)
    try:
        roots, rnn = unrolled_graph("mgu", steps=3, hidden=3, input_size=2)
    finally:
        tl.nn.kinds.unregister_kind("mgu")
    assert type(rnn) is tl.nn.Recurrent and type(rnn.cell) is MinimalGatedUnit and len(roots) == 2
    parsed = parse_dot(draw_graph(roots, params=rnn).source)
    assert sorted(c[-1] for c in parsed["clusters"] if c[-1].startswith("t=")) == ["t=0", "t=1", "t=2"]
    for name, _ in rnn.named_parameters():
        assert len(nodes_labelled(parsed, f"<B>{name}</B>")) == 1
    roots, again = unrolled_graph(f"{__name__}:MinimalGatedUnit", steps=3, hidden=3, input_size=2)
    assert type(again.cell) is MinimalGatedUnit and kind.name == "mgu"


def test_unrolled_graph_of_a_cell_instance_stacked_bidirectional_with_lengths():
    tl.manual_seed(0)
    cell = MinimalGatedUnit(2, 3).to(np.float64)
    roots, rnn = unrolled_graph(cell, steps=4, layers=2, bidirectional=True, batch=2, lengths=[4, 2])
    assert rnn.cells[0][0] is cell and cell.forget.weight.dtype == np.float64 and roots[0].dtype == np.float64
    assert roots[0].shape == (4, 2, 6) and roots[1].shape == (4, 2, 3)
    assert not roots[0].data[2:, 1].any()  # the second sequence has 2 steps: padded outputs are zero
    parsed = parse_dot(draw_graph(roots, params=rnn).source)
    names = [name for name, _ in rnn.named_parameters()]
    assert "forget_l1_reverse.weight" in names
    for name in names:  # each drawn once, labelled by the cell's own name with PyTorch's suffix
        assert len(nodes_labelled(parsed, f"<B>{name}</B>")) == 1
    roots, made = unrolled_graph(lambda size: MinimalGatedUnit(size, 5), steps=2)
    assert made.input_size == 3 and made.hidden_size == 5 and roots[0].shape == (2, 1, 5)


def test_draw_options_are_checked_once():
    assert DrawOptions() == DrawOptions(None, True, False, False, "LR", False)
    with pytest.raises(TypeError, match="draw_graph: max_steps must be an int or None, got bool"):
        DrawOptions(max_steps=True)
    with pytest.raises(ValueError, match="draw_graph: rankdir must be one of"):
        DrawOptions(rankdir="lr")


def test_custom_cell_nests_cell_scopes_inside_steps():
    roots, rnn = custom_cell(3)
    parsed = parse_dot(draw_graph(roots, params=rnn).source)
    steps = [c for c in parsed["clusters"] if c[-1].startswith("t=")]
    assert [c[-1] for c in steps] == ["t=0", "t=1", "t=2"]
    assert any(c[-1] == "forget" and c[-2] == "cell" for c in parsed["clusters"])
    for name, _ in rnn.named_parameters():  # cell.forget.weight, ...
        (key,) = nodes_labelled(parsed, f"<B>{name}</B>")
        assert not any(part.startswith("t=") for part in parsed["nodes"][key][2])


# --------------------------------------------------------------------------- values and gradients
def label_numbers(label: str) -> list:
    """The numbers inside the first [...] of a label."""
    return [float(v) for v in re.search(r"\[(.*?)\]", label)[1].split(",")]


def test_show_values_and_grads():
    w = tl.Tensor([[0.5, -1.0, 2.0]], requires_grad=True)
    with tl.viz.record_values(), tl.name_scope("t=0"):
        y = (w * 3.0).tanh()
    loss = y.sum()
    with record_grad_norms(loss):
        loss.backward()
    parsed = parse_dot(draw_graph(loss, params={"w": w}, show_values=True, show_grads=True).source)
    (tanh,) = nodes_labelled(parsed, "<B>tanh</B>")
    assert f"|grad| {np.sqrt(3):.3g}" in parsed["nodes"][tanh][0]  # d loss / d y = ones
    (leaf,) = nodes_labelled(parsed, "<B>w</B>")
    expected_w = np.linalg.norm(3 * (1 - np.tanh(3 * w.data) ** 2))
    assert f"|grad| {expected_w:.3g}" in parsed["nodes"][leaf][0]
    assert label_numbers(parsed["nodes"][leaf][0]) == [0.5, -1.0, 2.0]
    (total,) = nodes_labelled(parsed, "<B>sum</B>")
    assert label_numbers(parsed["nodes"][total][0]) == pytest.approx([np.tanh(3 * w.data).sum()], abs=1e-3)
    assert "|grad|" not in draw_graph(loss, params={"w": w}).source


def test_retained_root_grad_is_shown():
    w = tl.Tensor([1.0, 2.0], requires_grad=True)
    y = w * 2.0
    y.retain_grad()
    (y * y).sum().backward()
    parsed = parse_dot(draw_graph(y, show_grads=True).source)
    (mul,) = nodes_labelled(parsed, "<B>mul</B>")
    assert f"|grad| {np.linalg.norm(2 * y.data):.3g}" in parsed["nodes"][mul][0]


def test_removed_recorder_records_nothing():
    w = tl.Tensor([1.0, 2.0], requires_grad=True)
    loss = (w * 2.0).tanh().sum()
    record_grad_norms(loss).remove()
    loss.backward()
    with pytest.warns(UserWarning, match=r"gradients of 3 ops were not recorded .*record_grad_norms\(loss\)"):
        parsed = parse_dot(draw_graph(loss, show_grads=True).source)
    (tanh,) = nodes_labelled(parsed, "<B>tanh</B>")
    assert "|grad|" not in parsed["nodes"][tanh][0] and "grad not recorded" in parsed["nodes"][tanh][0]
    (leaf,) = nodes_labelled(parsed, "<B>parameter</B>")
    assert "|grad|" in parsed["nodes"][leaf][0]


def test_grads_after_a_backward_that_recorded_nothing_say_so_once():
    w = tl.Tensor([1.0, 2.0], requires_grad=True)
    loss = (w * 2.0).tanh().sum()
    loss.backward()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        source = draw_graph(loss, show="grads").source
    assert [str(w.message).split(":")[1] for w in caught] == [" show='grads'"]
    assert source.count("grad not recorded") == 3  # mul, tanh and sum (the root keeps no .grad either)
    loss = (w * 2.0).tanh().sum()
    with record_grad_norms(loss):
        loss.backward()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        recorded = draw_graph(loss, show="grads").source
    assert "grad not recorded" not in recorded and recorded.count("|grad|") >= 2


def test_recording_keeps_no_graph_alive():
    w = tl.Tensor([1.0, 2.0], requires_grad=True)
    loss = (w * 2.0).tanh().sum()
    recorder = record_grad_norms(loss)
    node = weakref.ref(loss.grad_fn)
    loss.backward()
    gc.disable()
    try:
        del loss
        assert node() is None  # freed by reference counting alone, recorder still alive
    finally:
        gc.enable()
    recorder.remove()


# --------------------------------------------------------------------------- rendering
@needs_dot
@pytest.mark.parametrize("suffix, magic", [(".svg", b"<svg"), (".png", b"\x89PNG"), (".pdf", b"%PDF")])
def test_render_with_dot(tmp_path, suffix, magic):
    roots, lstm = unrolled_graph("lstm", steps=3, hidden=4)
    path = render_graph(roots, tmp_path / f"lstm{suffix}", params=lstm)
    assert path == tmp_path / f"lstm{suffix}"
    assert magic in path.read_bytes()[:400]
    assert (tmp_path / "lstm.dot").read_text() == draw_graph(roots, params=lstm).source
    if suffix == ".svg":
        assert "weight_hh_l0" in path.read_text()


@pytest.mark.parametrize("suffix", [".dot", ".gv"])
def test_render_dot_source_only(tmp_path, suffix):
    h, w = per_step_weights(2)
    path = render_graph(h, tmp_path / f"graph{suffix}", params={"w": w})
    assert path.read_text().startswith("digraph")
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"graph{suffix}"]


@needs_dot
def test_render_format_argument_appends_suffix(tmp_path):
    h, w = per_step_weights(2)
    path = render_graph(h, tmp_path / "graph", format="svg")
    assert path.name == "graph.svg" and b"<svg" in path.read_bytes()[:400]


def test_missing_dot_raises_a_clear_error_after_writing_the_dot_file(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    h, w = per_step_weights(2)
    with pytest.raises(GraphvizNotFoundError) as info:
        render_graph(h, tmp_path / "graph.png", params={"w": w})
    error = info.value
    assert isinstance(error, RuntimeError)
    assert error.__cause__ is None and error.__suppress_context__  # no subprocess traceback
    message = str(error)
    assert str(tmp_path / "graph.dot") in message and "DOT source was written" in message
    assert "apt-get install graphviz" in message and "brew install graphviz" in message
    assert (tmp_path / "graph.dot").read_text().startswith("digraph")
    assert not (tmp_path / "graph.png").exists()


def test_notebook_display_without_dot_is_a_line_saying_so(tmp_path, monkeypatch):
    graphviz = pytest.importorskip("graphviz")
    h, w = per_step_weights(2)
    dot = draw_graph(h, params={"w": w})
    assert isinstance(dot, graphviz.Digraph)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    shown = dot._repr_mimebundle_()
    assert list(shown) == ["text/plain"] and "Graphviz's `dot` program was not found" in shown["text/plain"]
    assert "apt-get install graphviz" in shown["text/plain"] and "\n" not in shown["text/plain"]


@needs_dot
def test_notebook_display_is_svg():
    h, w = per_step_weights(2)
    shown = draw_graph(h, params={"w": w})._repr_mimebundle_()
    assert list(shown) == ["image/svg+xml"] and "<svg" in shown["image/svg+xml"]


# --------------------------------------------------------------------------- argument errors
def test_argument_errors(tmp_path):
    h, w = per_step_weights(2)
    with pytest.raises(TypeError, match="root"):
        draw_graph([h, 3])
    with pytest.raises(TypeError, match="root"):
        draw_graph([])
    with pytest.raises(TypeError, match="params"):
        draw_graph(h, params=[w])
    with pytest.raises(TypeError, match=r"params\['w'\]"):
        draw_graph(h, params={"w": np.ones(2)})
    with pytest.raises(ValueError, match="max_steps"):
        draw_graph(h, max_steps=0)
    with pytest.raises(TypeError, match="max_steps"):
        draw_graph(h, max_steps=2.5)
    with pytest.raises(ValueError, match="rankdir"):
        draw_graph(h, rankdir="XY")
    with pytest.raises(ValueError, match="suffix"):
        render_graph(h, tmp_path / "graph")
    with pytest.raises(ValueError, match="unknown format"):
        render_graph(h, tmp_path / "graph.nope")
    with pytest.raises(ValueError, match="DOT source"):
        render_graph(h, tmp_path / "graph.dot", format="svg")
    with pytest.raises(ValueError, match="cell"):
        unrolled_graph("transformer")
    assert list(tmp_path.iterdir()) == []  # nothing written by a failed call


# --------------------------------------------------------------------------- the rolled view
def step_ops(parsed: dict, step: tuple) -> list:
    """The op names drawn inside the cluster `step` (and its sub-clusters), in order."""
    return [re.search(r"<B>(\w+)</B>", label)[1] for key, (label, _, where) in parsed["nodes"].items()
            if key.startswith("op") and where[:len(step)] == step]


def test_rolled_lstm_draws_one_cell_with_loops():
    roots, lstm = unrolled_graph("lstm", steps=5, hidden=4)
    unrolled = parse_dot(draw_graph(roots, params=lstm).source)
    dot = draw_graph(roots, params=lstm, rolled=True)
    parsed = parse_dot(dot.source)
    steps = [c for c in parsed["clusters"] if c[-1].startswith("t=")]
    assert steps == [("lstm", "l0", "t=0…4 (×5)")]
    one_step = step_ops(unrolled, ("lstm", "l0", "t=2"))
    assert sorted(step_ops(parsed, steps[0])) == sorted(one_step) and len(one_step) == 11
    # ops outside the steps are all still drawn, each once
    outside = [k for k, (_, _, where) in unrolled["nodes"].items() if k.startswith("op") and where[-1:] != ("t=2",)
               and not where[-1].startswith("t=")]
    assert all(k in parsed["nodes"] for k in outside)
    loops = [(a, b) for a, b, attrs in parsed["edges"] if 'label="×5"' in attrs]
    assert len(loops) == 2  # h_t and c_t feed the next step
    assert all("constraint=false" in attrs for _, _, attrs in parsed["edges"] if "×5" in attrs)
    unbind = nodes_labelled(parsed, "<B>unbind</B>")[0]
    assert [attrs for a, _, attrs in parsed["edges"] if a == unbind] == ["taillabel=t"]  # one edge for all steps
    assert dot.source == draw_graph(roots, params=lstm, rolled=True).source  # deterministic


def test_rolled_bidirectional_gru_and_custom_cell():
    roots, gru = unrolled_graph("gru", steps=4, hidden=3, layers=2, bidirectional=True)
    parsed = parse_dot(draw_graph(roots, params=gru, rolled=True).source)
    steps = sorted(c for c in parsed["clusters"] if c[-1].startswith("t="))
    assert steps == [("gru", scope, "t=0…3 (×4)") for scope in ("l0", "l0_reverse", "l1", "l1_reverse")]
    assert len({tuple(sorted(step_ops(parsed, s))) for s in steps}) == 1
    roots, rnn = custom_cell(4)
    parsed = parse_dot(draw_graph(roots, params=rnn, rolled=True).source)
    # the first step has one op less (its concat of x_0 and the zero state needs no gradient)
    assert [c for c in parsed["clusters"] if c[-1].startswith("t=")] == [("recurrent", "t=0"),
                                                                         ("recurrent", "t=1…3 (×3)")]
    assert ("recurrent", "t=1…3 (×3)", "cell", "forget") in parsed["clusters"]


def test_rolled_keeps_a_step_that_differs_in_its_own_cluster():
    w = tl.Tensor(np.eye(2) * 0.5, requires_grad=True)
    h = tl.Tensor(np.arange(2.0).reshape(1, 2))
    with tl.name_scope("seq"):
        for t in range(4):
            with tl.name_scope(f"t={t}"):
                h = (h @ w).tanh() if t else (h @ w).sigmoid().tanh()  # the first step has one more op
    parsed = parse_dot(draw_graph(h, params={"w": w}, rolled=True).source)
    assert sorted(c for c in parsed["clusters"] if c[-1].startswith("t=")) == [("seq", "t=0"), ("seq", "t=1…3 (×3)")]
    assert step_ops(parsed, ("seq", "t=0")) == ["matmul", "sigmoid", "tanh"]
    assert sorted(step_ops(parsed, ("seq", "t=1…3 (×3)"))) == ["matmul", "tanh"]


def test_rolled_does_not_take_max_steps():
    roots, lstm = unrolled_graph("lstm", steps=3)
    with pytest.raises(ValueError, match="rolled=True draws one step .* max_steps=2 does not apply"):
        draw_graph(roots, rolled=True, max_steps=2)


# --------------------------------------------------------------------------- show= values and grads
def test_show_values_of_recorded_ops():
    w = tl.Tensor([[1.0, -2.0, 0.5]], requires_grad=True)
    x = tl.Tensor(np.arange(12.0).reshape(4, 3))
    with tl.viz.record_values():
        hidden = (x * w).tanh()
        loss = hidden.sum()
    parsed = parse_dot(draw_graph(loss, params={"w": w}, show="values").source)
    (mul,) = nodes_labelled(parsed, "<B>mul</B>")
    product = x.data * w.data
    assert f"min {product.min():.3g} mean {product.mean():.3g} max {product.max():.3g}" in parsed["nodes"][mul][0]
    (leaf,) = nodes_labelled(parsed, "<B>w</B>")
    assert label_numbers(parsed["nodes"][leaf][0]) == [1.0, -2.0, 0.5]
    (total,) = nodes_labelled(parsed, "<B>sum</B>")
    assert label_numbers(parsed["nodes"][total][0]) == pytest.approx([hidden.data.sum()], abs=1e-3)


def test_show_values_without_recording_warns_and_says_so():
    w = tl.Tensor([[1.0, -2.0]], requires_grad=True)
    loss = (w * 3.0).tanh().sum()
    with pytest.warns(UserWarning, match=r"values of 2 ops were not recorded.*tl.viz.record_values\(\)"):
        source = draw_graph(loss, show="values").source
    assert source.count("value not recorded") == 2  # mul and tanh; the root's value is known


def test_show_grads_before_backward_warns_and_draws_no_grad_yet():
    roots, lstm = unrolled_graph("gru", steps=3)
    with pytest.warns(UserWarning, match=r"show='grads' before backward\(\)"):
        parsed = parse_dot(draw_graph(roots, params=lstm, show="grads").source)
    for name, _ in lstm.named_parameters():
        (key,) = nodes_labelled(parsed, f"<B>{name}</B>")
        assert "no grad yet" in parsed["nodes"][key][0]
    assert all("no grad yet" in label for key, (label, _, _) in parsed["nodes"].items() if key.startswith("op"))
    with pytest.warns(UserWarning):  # every view survives it
        for view in (dict(rolled=True), dict(backward=True), dict(max_steps=1), dict(saved=True)):
            draw_graph(roots, params=lstm, show=("values", "grads"), **view)


def test_show_grads_after_backward_gives_summaries():
    w = tl.Tensor([[0.5, -1.0, 2.0]], requires_grad=True)
    loss = (w * 3.0).tanh().sum()
    with record_grad_norms(loss):
        loss.backward()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parsed = parse_dot(draw_graph(loss, params={"w": w}, show="grads").source)
    (tanh,) = nodes_labelled(parsed, "<B>tanh</B>")
    assert "grad [1., 1., 1.]" in parsed["nodes"][tanh][0]
    (leaf,) = nodes_labelled(parsed, "<B>w</B>")
    assert label_numbers(parsed["nodes"][leaf][0].split("grad ")[1]) == pytest.approx(
        3 * (1 - np.tanh(3 * w.data.ravel()) ** 2), abs=1e-3)


def test_show_argument_errors():
    h, w = per_step_weights(2)
    with pytest.raises(ValueError, match=r"show='value': unknown \['value'\]; choose from \('values', 'grads'\)"):
        draw_graph(h, show="value")
    with pytest.raises(TypeError, match="show must be 'values', 'grads' or a sequence of them"):
        draw_graph(h, show=1)


def test_record_values_records_nothing_outside_the_graph():
    w = tl.Tensor([1.0, 2.0], requires_grad=True)
    with tl.viz.record_values():
        with tl.no_grad():
            detached = w * 2.0
        y = (w * 3.0).sum()
        y.backward()  # backward runs inside the recording too
    assert detached.grad_fn is None and w.grad.tolist() == [3.0, 3.0]
    assert tl.viz.values.recorded_values(y.grad_fn) == ("[9.]",)


# --------------------------------------------------------------------------- the backward view
def gradient_kinds(parsed: dict) -> dict:
    return {key: label for key, (label, _, _) in parsed["nodes"].items()}


def test_backward_view_has_one_vjp_per_op_and_shows_the_sums():
    tl.manual_seed(0)
    rnn = tl.nn.RNN(2, 3)
    output, h_n = rnn(np.random.default_rng(0).standard_normal((4, 1, 2)).astype(np.float32))
    loss = (output * output).sum()
    forward = walk_graph(loss)
    parsed = parse_dot(draw_graph(loss, params=rnn, backward=True).source)
    labels = gradient_kinds(parsed)
    vjps = [k for k, label in labels.items() if "Backward</B>" in label]
    assert len(vjps) == len(forward.nodes)
    assert sum("<B>TanhBackward</B>" in labels[k] for k in vjps) == 4
    # h_t feeds the output and the next step: its two gradients meet in a sum node inside the step
    sums = [k for k, label in labels.items() if "<B>+</B>" in label]
    in_steps = [k for k in sums if parsed["nodes"][k][2][-1].startswith("t=")]
    assert sorted(parsed["nodes"][k][2][-1] for k in in_steps) == ["t=0", "t=1", "t=2"]  # the last h has one use
    assert all("sum of 2 gradients" in labels[k] for k in in_steps)
    # weight_hh^T is used by all 4 steps: the BPTT sum
    assert any("sum of 4 gradients" in labels[k] for k in sums)
    for name, _ in rnn.named_parameters():
        (key,) = nodes_labelled(parsed, f"<B>{name}</B>")
        assert "AccumulateGrad: sum of 1 gradient" in labels[key]
    (seed,) = [k for k in labels if k.startswith("leaf")]
    assert "<1<BR/>" in labels[seed]  # the gradient of a scalar loss is 1
    # edges go the way gradients flow: from the seed, and from each consumer's vjp to its producer's
    (loss_vjp,) = [k for k in vjps if "<B>SumBackward</B>" in labels[k]]
    assert (seed, loss_vjp) in [(a, b) for a, b, _ in parsed["edges"]]
    heads = {b for _, b, _ in parsed["edges"]}
    assert loss_vjp in {a for a, _, _ in parsed["edges"]} and seed not in heads


def test_backward_view_of_a_weight_used_in_every_step():
    h, w = per_step_weights(3)
    loss = h.sum()
    parsed = parse_dot(draw_graph(loss, params={"w": w}, backward=True, legend=True).source)
    (key,) = nodes_labelled(parsed, "<B>w</B>")
    assert "AccumulateGrad: sum of 3 gradients" in parsed["nodes"][key][0]
    assert len([e for e in parsed["edges"] if e[1] == key]) == 3
    assert "legend_vjp" in parsed["nodes"] and "legend_accumulate_into_grad" in parsed["nodes"]


def test_backward_view_rolls_and_collapses():
    roots, lstm = unrolled_graph("lstm", steps=6)
    loss = roots[0].sum()
    rolled = parse_dot(draw_graph(loss, params=lstm, backward=True, rolled=True).source)
    # the last step's h_t has no later step to get a gradient from: no sum, its own cluster
    assert sorted(c for c in rolled["clusters"] if c[-1].startswith("t=")) == [("lstm", "l0", "t=0…4 (×5)"),
                                                                               ("lstm", "l0", "t=5")]
    collapsed = parse_dot(draw_graph(loss, params=lstm, backward=True, max_steps=2).source)
    assert nodes_labelled(collapsed, "… 4 steps …")


# --------------------------------------------------------------------------- saved for backward
def test_saved_shows_each_ops_arrays_and_the_memory_per_step():
    roots, gru = unrolled_graph("gru", steps=3, hidden=4, batch=2)
    graph = walk_graph(roots)
    parsed = parse_dot(draw_graph(roots, params=gru, saved=True).source)
    for i, node in enumerate(graph.nodes):
        if f"op{i}" not in parsed["nodes"]:
            continue
        arrays = [a for a in node.saved_tensors if isinstance(a, np.ndarray)]
        label = parsed["nodes"][f"op{i}"][0]
        if arrays:
            assert f"({sum({id(a): a for a in arrays}[k].nbytes for k in {id(a) for a in arrays})} B)" in label
        else:
            assert "saves nothing" in label
    per_step = {}
    for node in graph.nodes:
        step = node.scope.split("/")[-1]
        if step.startswith("t="):
            per_step.setdefault(step, {}).update((id(a), a.nbytes) for a in node.saved_tensors
                                                 if isinstance(a, np.ndarray))
    sizes = {sum(v.values()) for v in per_step.values()}
    assert len(sizes) == 1
    (legend,) = nodes_labelled(parsed, "saved for backward")
    assert f"gru/l0: {sizes.pop()} B saved per time step (3 steps)" in parsed["nodes"][legend][0]
    roots[0].sum().backward()
    assert "saved: freed by backward" in draw_graph(roots, params=gru, saved=True).source


# --------------------------------------------------------------------------- folded constants
def test_constants_and_scalars_are_folded_into_their_consumers():
    w = tl.Tensor([[1.0, 2.0]], requires_grad=True)
    y = (w * tl.Tensor(0.5) + tl.Tensor(np.zeros((3, 2))) + tl.Tensor(np.full((1, 2), 7.0))).sum()
    parsed = parse_dot(draw_graph(y, params={"w": w}).source)
    assert not nodes_labelled(parsed, "<input<")
    (mul,) = nodes_labelled(parsed, "<B>mul</B>")
    assert "with 0.5" in parsed["nodes"][mul][0]
    adds = [parsed["nodes"][k][0] for k in nodes_labelled(parsed, "<B>add</B>")]
    assert any("with zeros 3×2" in label for label in adds) and any("with full 1×2 of 7" in label for label in adds)
    unfolded = parse_dot(draw_graph(y, params={"w": w}, fold_constants=False).source)
    assert len(nodes_labelled(unfolded, "<input<")) == 3 and "with " not in draw_graph(y, fold_constants=False).source
    data = tl.Tensor(np.arange(4.0).reshape(2, 2))  # data is not a constant: it stays an input
    assert len(nodes_labelled(parse_dot(draw_graph((data @ w.T).sum()).source), "<input<")) == 1


# --------------------------------------------------------------------------- params as a module or a dict
def lstm_outputs():
    tl.manual_seed(0)
    lstm = tl.nn.LSTM(2, 3, num_layers=2)
    output, _ = lstm(np.random.default_rng(0).standard_normal((3, 1, 2)))
    return lstm, output


def test_draw_graph_is_deterministic_and_takes_a_module_or_a_dict():
    pytest.importorskip("graphviz")
    lstm, output = lstm_outputs()
    again_lstm, again = lstm_outputs()
    source = tl.viz.draw_graph(output, params=lstm).source
    assert source == tl.viz.draw_graph(again, params=again_lstm).source
    assert source == tl.viz.draw_graph(output, params=dict(lstm.named_parameters())).source
    assert "weight_hh_l1" in source
    with pytest.warns(UserWarning, match="before backward"):  # nothing to show yet, and it says so
        assert "no grad yet" in tl.viz.draw_graph(output, params=lstm, show="grads").source
    with pytest.raises(TypeError, match="params must be a Module or a dict"):
        tl.viz.draw_graph(output, params=list(lstm.parameters()))
