"""Graph pictures: DOT structure (clusters per scope and step, labels, shared parameters once),
determinism, collapsing long unrolls, real renders with Graphviz, and the error paths."""
import gc
import re
import shutil
import weakref

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm.viz import GraphvizNotFoundError, draw_graph, record_grad_norms, render_graph, unrolled_graph
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
    parsed = parse_dot(draw_graph(h, params={"w": w}, max_steps=2).source)
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
    # the zero initial state, one tensor shared by every layer, is drawn in each first step
    zeros = [key for key in nodes_labelled(parsed, "<input<") if "1×4" in parsed["nodes"][key][0]]
    assert sorted(parsed["nodes"][key][2] for key in zeros) == [
        ("gru", "l0", "t=0"), ("gru", "l0_reverse", "t=2"), ("gru", "l1", "t=0"), ("gru", "l1_reverse", "t=2")]


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
    with tl.name_scope("t=0"):
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
    parsed = parse_dot(draw_graph(loss, show_grads=True).source)
    (tanh,) = nodes_labelled(parsed, "<B>tanh</B>")
    assert "|grad|" not in parsed["nodes"][tanh][0]
    (leaf,) = nodes_labelled(parsed, "<B>parameter</B>")
    assert "|grad|" in parsed["nodes"][leaf][0]


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
