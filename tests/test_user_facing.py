"""A demanding PyTorch user's checks: odd shapes, module API, checkpoints, optimisers, losses,
gradient reports, graph pictures and the command line, each against PyTorch where it has the same thing."""
import json
import os

import numpy as np
import pytest

import tinygrad_lstm as tl
import tinygrad_lstm.tasks
from tinygrad_lstm.cli import main

F = tl.nn.functional
KINDS = ["RNN", "LSTM", "GRU"]


def torch_twin(torch, module, torch_cls=None):
    """The PyTorch module of the same class and configuration, with `module`'s weights, in float64."""
    kwargs = dict(num_layers=module.num_layers, bias=module.bias, batch_first=module.batch_first,
                  dropout=module.dropout, bidirectional=module.bidirectional)
    twin = getattr(torch.nn, torch_cls or type(module).__name__)(module.input_size, module.hidden_size, **kwargs)
    twin = twin.double()
    twin.load_state_dict({k: torch.from_numpy(v.astype(np.float64)) for k, v in module.state_dict().items()})
    return twin


def as_tuple(state):
    return state if isinstance(state, tuple) else (state,)


# --------------------------------------------------------------------------- recurrent modules vs torch
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", ["T1_B1", "unbatched_hx", "batch_first_hx", "three_layers_bidirectional",
                                  "lengths_unsorted", "lengths_all_T_batch_first", "lengths_one_bidirectional"])
def test_sequence_modules_match_torch_forward_and_every_gradient(kind, case):
    torch = pytest.importorskip("torch")
    T, B, D, H, layers, bidirectional, batch_first, unbatched, with_hx, lengths = {
        "T1_B1": (1, 1, 3, 4, 1, False, False, False, False, None),
        "unbatched_hx": (4, 1, 3, 4, 2, True, False, True, True, None),
        "batch_first_hx": (4, 2, 3, 4, 1, False, True, False, True, None),
        "three_layers_bidirectional": (5, 2, 3, 4, 3, True, False, False, True, None),
        "lengths_unsorted": (5, 3, 3, 4, 2, True, False, False, True, [2, 5, 1]),
        "lengths_all_T_batch_first": (4, 2, 3, 4, 1, False, True, False, False, np.array([4, 4])),
        "lengths_one_bidirectional": (3, 2, 2, 3, 1, True, False, False, False, tl.Tensor(np.array([1, 3]))),
    }[case]
    tl.manual_seed(0)
    module = getattr(tl.nn, kind)(D, H, num_layers=layers, bidirectional=bidirectional, batch_first=batch_first,
                                  dtype=np.float64)
    twin = torch_twin(torch, module)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((T, D) if unbatched else ((B, T, D) if batch_first else (T, B, D)))
    count = layers * (2 if bidirectional else 1)
    hx = [rng.standard_normal((count, H) if unbatched else (count, B, H)) for _ in range(2 if kind == "LSTM" else 1)]
    ours_x, torch_x = tl.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours_hx = [tl.Tensor(h, requires_grad=True) for h in hx]
    torch_hx = [torch.tensor(h, requires_grad=True) for h in hx]
    pack = (lambda s: tuple(s) if kind == "LSTM" else s[0]) if with_hx else (lambda s: None)

    output, final = module(ours_x, pack(ours_hx), lengths=lengths)
    if lengths is None:
        torch_output, torch_final = twin(torch_x, pack(torch_hx))
    else:
        lengths_list = np.asarray(lengths.data if isinstance(lengths, tl.Tensor) else lengths).tolist()
        packed = torch.nn.utils.rnn.pack_padded_sequence(torch_x, torch.tensor(lengths_list),
                                                         batch_first=batch_first, enforce_sorted=False)
        torch_output, torch_final = twin(packed, pack(torch_hx))
        torch_output, _ = torch.nn.utils.rnn.pad_packed_sequence(torch_output, batch_first=batch_first,
                                                                 total_length=T)
    assert output.shape == tuple(torch_output.shape)
    np.testing.assert_allclose(output.data, torch_output.detach().numpy(), atol=1e-12)
    for ours, theirs in zip(as_tuple(final), as_tuple(torch_final)):
        assert ours.shape == tuple(theirs.shape)
        np.testing.assert_allclose(ours.data, theirs.detach().numpy(), atol=1e-12)

    weights = rng.standard_normal(output.shape)
    loss = (output * weights).sum() + sum((h * h).sum() for h in as_tuple(final))
    torch_loss = (torch_output * torch.tensor(weights)).sum() + sum((h * h).sum() for h in as_tuple(torch_final))
    loss.backward()
    torch_loss.backward()
    np.testing.assert_allclose(ours_x.grad, torch_x.grad.numpy(), atol=1e-12)
    for (name, p), (torch_name, torch_p) in zip(module.named_parameters(), twin.named_parameters()):
        assert name == torch_name
        np.testing.assert_allclose(p.grad, torch_p.grad.numpy(), atol=1e-12, err_msg=name)
    if with_hx:
        for ours, theirs in zip(ours_hx, torch_hx):
            np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_float32_module_keeps_float32_through_forward_and_backward(kind):
    module = getattr(tl.nn, kind)(3, 4, num_layers=2, bidirectional=True)
    x = tl.Tensor(np.random.default_rng(0).standard_normal((5, 2, 3)).astype(np.float32), requires_grad=True)
    output, final = module(x, lengths=[5, 3])
    (output.sum() + as_tuple(final)[0].sum()).backward()
    assert output.dtype == np.float32 and all(h.dtype == np.float32 for h in as_tuple(final))
    assert x.grad.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in module.parameters())


def test_float64_input_is_cast_to_a_float32_module_unless_it_requires_grad():
    # A deliberate deviation: PyTorch refuses any dtype mismatch; we cast constants (arrays,
    # tensors outside the graph) and refuse only what the cast would cut out of the graph.
    lstm = tl.nn.LSTM(3, 4)
    output, (h, c) = lstm(np.ones((2, 1, 3)))
    assert output.dtype == h.dtype == c.dtype == np.float32
    with pytest.raises(TypeError, match="LSTM: input has dtype float64 but the module's parameters are float32"):
        lstm(tl.Tensor(np.ones((2, 1, 3)), requires_grad=True))
    with pytest.raises(TypeError, match="h_0 has dtype float64"):
        lstm(np.ones((2, 1, 3), np.float32), (tl.zeros(1, 1, 4, requires_grad=True), tl.zeros(1, 1, 4)))


def test_dropout_between_layers_is_seeded_in_training_and_exact_in_eval():
    torch = pytest.importorskip("torch")
    tl.manual_seed(0)
    lstm = tl.nn.LSTM(3, 4, num_layers=3, dropout=0.5, bidirectional=True, dtype=np.float64)
    x = np.random.default_rng(0).standard_normal((5, 2, 3))
    tl.manual_seed(1)
    first = lstm(x)[0].data
    tl.manual_seed(1)
    assert np.array_equal(lstm(x)[0].data, first)
    assert first.shape == (5, 2, 8)
    assert not np.array_equal(lstm(x)[0].data, first)  # the generator moved on: a new mask
    twin = torch_twin(torch, lstm).eval()
    lstm.eval()
    np.testing.assert_allclose(lstm(x)[0].data, twin(torch.from_numpy(x))[0].detach().numpy(), atol=1e-12)
    assert np.array_equal(lstm(x)[0].data, lstm(x)[0].data)


@pytest.mark.parametrize("call, message", [
    (lambda m: m(np.ones((1, 5, 2, 3))),
     r"LSTM: expected input with 3 dimensions \(T, B, 3\) or 2 \(T, 3\), got shape \(1, 5, 2, 3\)"),
    (lambda m: m(np.ones(3)), r"got shape \(3,\)"),
    (lambda m: m(np.ones((5, 2, 4))), r"input size 4 does not match input_size=3"),
    (lambda m: m(np.ones((0, 2, 3))), r"no time steps"),
    (lambda m: m(np.ones((5, 2, 3)), (np.zeros((1, 3, 4)), np.zeros((1, 2, 4)))),
     r"expected h_0 of shape \(1, 2, 4\), got \(1, 3, 4\)"),
    (lambda m: m(np.ones((5, 2, 3)), (np.zeros((1, 2, 4)), np.zeros((2, 4)))),
     r"expected c_0 of shape \(1, 2, 4\), got \(2, 4\)"),
    (lambda m: m(np.ones((5, 3)), (np.zeros((1, 1, 4)), np.zeros((1, 1, 4)))), r"expected h_0 of shape \(1, 4\)"),
    (lambda m: m(np.ones((5, 2, 3)), lengths=[0, 2]), r"lengths must be in \[1, 5\], got \[0, 2\]"),
    (lambda m: m(np.ones((5, 2, 3)), lengths=[6, 2]), r"lengths must be in \[1, 5\], got \[6, 2\]"),
    (lambda m: m(np.ones((5, 2, 3)), lengths=[5]), r"lengths must be 2 integers"),
    (lambda m: m(np.ones((5, 2, 3)), lengths=[5.0, 2.0]), r"lengths must be 2 integers"),
    (lambda m: m(np.ones((5, 3)), lengths=[5]), r"lengths needs a batched input"),
])
def test_lstm_shape_errors_are_value_errors_naming_the_shapes(call, message):
    lstm = tl.nn.LSTM(3, 4)
    with pytest.raises(ValueError, match=message):
        call(lstm)


@pytest.mark.parametrize("hx, error, message", [
    (np.zeros((1, 2, 4)), TypeError, r"LSTM: hx must be a tuple \(h_0, c_0\), got ndarray"),
    ((None, np.zeros((1, 2, 4))), TypeError, r"LSTM: h_0 is None"),
])
def test_lstm_state_type_errors(hx, error, message):
    with pytest.raises(error, match=message):
        tl.nn.LSTM(3, 4)(np.ones((5, 2, 3)), hx)


# --------------------------------------------------------------------------- cells
@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("batched", [False, True])
def test_cells_match_torch_batched_and_unbatched_with_and_without_state(kind, batched):
    torch = pytest.importorskip("torch")
    cell = getattr(tl.nn, kind)(3, 4, dtype=np.float64)
    twin = getattr(torch.nn, kind)(3, 4).double()
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in cell.state_dict().items()})
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3) if batched else (3,))
    state_shape = (2, 4) if batched else (4,)
    states = [rng.standard_normal(state_shape) for _ in range(2 if kind == "LSTMCell" else 1)]
    pack = (lambda s: tuple(s)) if kind == "LSTMCell" else (lambda s: s[0])
    for ours_state, torch_state in [(None, None), (pack(states), pack([torch.from_numpy(s) for s in states]))]:
        ours = as_tuple(cell(x, ours_state))
        theirs = as_tuple(twin(torch.from_numpy(x), torch_state))
        for a, b in zip(ours, theirs):
            assert a.shape == tuple(b.shape) == state_shape
            np.testing.assert_allclose(a.data, b.detach().numpy(), atol=1e-12)


@pytest.mark.parametrize("call, error, message", [
    (lambda c: c(np.ones((1, 2, 3))), ValueError, r"LSTMCell: expected input of shape \(B, 3\) or \(3,\)"),
    (lambda c: c(np.ones((2, 5))), ValueError, r"input size 5 does not match input_size=3"),
    (lambda c: c(np.ones((2, 3)), (np.zeros((3, 4)), np.zeros((2, 4)))), ValueError,
     r"expected h of shape \(2, 4\) for input of shape \(2, 3\), got \(3, 4\)"),
    (lambda c: c(np.ones((2, 3)), (np.zeros(4), np.zeros(4))), ValueError, r"got \(4,\)"),
    (lambda c: c(np.ones((2, 3)), tl.zeros(2, 4)), TypeError, r"state must be a tuple \(h, c\)"),
    (lambda c: c(np.ones((2, 3)), (tl.zeros(2, 4), None)), TypeError, r"LSTMCell: c is None"),
])
def test_cell_errors(call, error, message):
    with pytest.raises(error, match=message):
        call(tl.nn.LSTMCell(3, 4))


# --------------------------------------------------------------------------- functional
@pytest.mark.parametrize("options", [dict(), dict(reduction="none"), dict(reduction="sum", label_smoothing=0.2),
                                     dict(weight=np.array([1.0, 2.0, 0.5, 1.0]), label_smoothing=0.1)])
def test_cross_entropy_with_spatial_dims_and_ignore_index_matches_torch(options):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((2, 4, 3))  # (N, C, d1)
    targets = np.array([[0, 1, -100], [3, -100, 2]])
    ours = tl.Tensor(logits, requires_grad=True)
    theirs = torch.tensor(logits, requires_grad=True)
    torch_options = {k: torch.tensor(v) if k == "weight" else v for k, v in options.items()}
    loss = F.cross_entropy(ours, targets, ignore_index=-100, **options)
    torch_loss = torch.nn.functional.cross_entropy(theirs, torch.tensor(targets), **torch_options)
    assert loss.shape == tuple(torch_loss.shape)
    np.testing.assert_allclose(loss.data, torch_loss.detach().numpy(), atol=1e-12)
    grad = rng.standard_normal(loss.shape)
    loss.backward(grad)
    torch_loss.backward(torch.tensor(grad))
    np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), atol=1e-12)


def test_cross_entropy_ignores_torchs_padding_index_by_default():
    torch = pytest.importorskip("torch")
    logits, targets = np.random.default_rng(0).standard_normal((3, 4)), np.array([1, -100, 2])
    ours = F.cross_entropy(logits, targets)
    theirs = torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(targets))
    np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-12)


def test_mse_loss_refuses_broadcasting_where_torch_only_warns():
    torch = pytest.importorskip("torch")
    with pytest.warns(UserWarning, match="different to the input size"):
        torch.nn.functional.mse_loss(torch.ones(3, 1), torch.ones(3))
    with pytest.raises(ValueError, match=r"mse_loss: input of shape \(3, 1\) and target of shape \(3,\) differ"):
        F.mse_loss(np.ones((3, 1)), np.ones(3))


@pytest.mark.parametrize("target", [np.ones(3), tl.Tensor(np.ones(3)), tl.Tensor(np.ones(3, np.int64))])
def test_mse_loss_keeps_the_inputs_float32_for_a_constant_target(target):
    x = tl.Tensor(np.zeros(3, np.float32), requires_grad=True)
    loss = F.mse_loss(x, target)
    loss.backward()
    assert loss.dtype == x.grad.dtype == np.float32
    assert loss.item() == 1.0


def test_dropout_p0_is_identity_and_p1_zeros_values_and_gradients():
    x = tl.Tensor(np.ones((3, 4), np.float32), requires_grad=True)
    assert F.dropout(x, 0.0) is x and F.dropout(x, 0.5, training=False) is x
    y = F.dropout(x, 1.0)
    y.sum().backward()
    assert y.dtype == np.float32 and not y.data.any() and not x.grad.any()
    with pytest.raises(ValueError, match=r"\[0, 1\], got 1.5"):
        tl.nn.Dropout(1.5)


# --------------------------------------------------------------------------- compare_gradients
@pytest.mark.parametrize("make, x_shape", [
    (lambda: tl.nn.LSTMCell(3, 4), (2, 3)), (lambda: tl.nn.GRUCell(3, 4), (3,)),
    (lambda: tl.nn.Recurrent(tl.nn.RNNCell(3, 4)), (4, 2, 3)),
    (lambda: tl.nn.GRU(3, 4, num_layers=2, bidirectional=True, batch_first=True), (2, 4, 3)),
])
def test_compare_gradients_agrees_and_its_report_is_json(make, x_shape):
    pytest.importorskip("torch")
    report = tl.compare_gradients(make(), np.random.default_rng(0).standard_normal(x_shape))
    assert report.ok
    data = json.loads(json.dumps(report.to_dict()))
    assert data["ok"] is True and {"manual", "numerical", "torch"} <= set(data["references"])


def test_compare_gradients_flags_a_wrong_hand_written_gradient():
    lstm = tl.nn.LSTM(3, 4)
    reference = tl.compare.builtin_reference(lstm)

    def off_by_one_percent(params, x, state, grad_outputs):
        grads = dict(reference(params, x, state, grad_outputs))
        grads["weight_hh_l0"] = grads["weight_hh_l0"] * 1.01
        return grads

    report = tl.compare_gradients(lstm, np.random.default_rng(0).standard_normal((4, 2, 3)), manual=off_by_one_percent,
                                  torch_module=None, numerical_elements=0)
    assert not report.ok
    assert json.loads(json.dumps(report.to_dict()))["ok"] is False


def test_compare_gradients_on_a_custom_cell_leaves_the_model_untouched():
    class Cell(tl.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = tl.nn.Parameter(np.random.default_rng(0).standard_normal((3, 4)))
            self.u = tl.nn.Parameter(np.random.default_rng(1).standard_normal((4, 4)) * 0.3)
            self.input_size, self.hidden_size = 3, 4

        def init_state(self, batch_size):
            return tl.zeros(batch_size, 4)

        def forward(self, x, h):
            return (x @ self.w + h @ self.u).tanh()

    model = tl.nn.Recurrent(Cell())
    before = model.state_dict()
    report = tl.compare_gradients(model, np.random.default_rng(2).standard_normal((5, 2, 3)))
    assert report.ok and model.training
    assert all(np.array_equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())


# --------------------------------------------------------------------------- graph pictures
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


def test_render_graph_suffix_errors_and_missing_dot(tmp_path, monkeypatch):
    pytest.importorskip("graphviz")
    _, output = lstm_outputs()
    with pytest.raises(ValueError, match="unknown format 'jpg2'"):
        tl.viz.render_graph(output, tmp_path / "x.jpg2")
    with pytest.raises(ValueError, match="cannot tell the format"):
        tl.viz.render_graph(output, tmp_path / "x")
    assert tl.viz.render_graph(output, tmp_path / "x.dot").read_text().startswith("digraph")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(tl.viz.GraphvizNotFoundError, match="was not found on PATH"):
        tl.viz.render_graph(output, tmp_path / "y.svg")
    assert (tmp_path / "y.dot").exists() and not (tmp_path / "y.svg").exists()


# --------------------------------------------------------------------------- command line
@pytest.mark.parametrize("command", [["demo"], ["compare"], ["graph"], ["bench"], ["train"],
                                     ["train", "--task", "sine"], ["train", "--task", "chars"]])
def test_every_command_help_exits_0(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0 and capsys.readouterr().out.startswith("usage: tinygrad-lstm")


@pytest.mark.parametrize("argv, message", [
    (["graph", "--out", "picture"], "tinygrad-lstm graph: error: --out 'picture' needs a suffix"),
    (["graph", "--out", "picture.jpg2"], "tinygrad-lstm graph: error: render_graph: unknown format"),
    (["train", "--task", "sine", "--lr", "-1"], "argument --lr: expected a positive number, got '-1'"),
    (["train", "--task", "adding", "--clip", "-1"], "argument --clip: expected a non-negative number"),
    (["train", "--task", "chars", "--clip", "nan"], "argument --clip: expected a non-negative number"),
    (["train", "--task", "sine", "--noise", "-0.5"], "argument --noise: expected a non-negative number"),
])
def test_usage_errors_are_one_line_exit_2_before_any_work(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.count("\n") == 1 and message in err and "Traceback" not in err
    assert os.listdir(tmp_path) == []


def test_sine_checks_the_plot_format_before_training(capsys, tmp_path, monkeypatch):
    sine = tl.tasks.load_task("sine")

    def no_training(*args, **kwargs):
        raise AssertionError("trained before checking --out")

    monkeypatch.setattr(sine, "train", no_training)
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--task", "sine", "--out", "forecast.txt", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "tinygrad-lstm train: error: --out 'forecast.txt'" in err and ".png" in err


def test_cli_commands_run(capsys, tmp_path, monkeypatch):
    pytest.importorskip("torch")
    monkeypatch.chdir(tmp_path)
    assert main(["compare", "--cell", "lstm", "--layers", "2", "--bidirectional"]) == 0
    assert "all agree" in capsys.readouterr().out
    assert main(["graph", "--out", "x.dot"]) == 0
    assert (tmp_path / "x.dot").read_text().startswith("digraph")
    assert main(["train", "--task", "sine", "--steps", "5", "--no-progress"]) == 0
    assert "after 5 steps" in capsys.readouterr().out and (tmp_path / "sine_forecast.png").exists()


def test_a_scalar_loss_used_twice_backpropagates_like_torch():
    # (loss * loss) sums two 0-d gradients into one; numpy turns that sum into a scalar, not an array
    torch = pytest.importorskip("torch")
    logits = np.random.default_rng(0).standard_normal((3, 4))
    ours, theirs = tl.Tensor(logits, requires_grad=True), torch.tensor(logits, requires_grad=True)
    loss = F.cross_entropy(ours, np.array([0, 3, 1]))
    torch_loss = torch.nn.functional.cross_entropy(theirs, torch.tensor([0, 3, 1]))
    (loss * loss).backward()
    (torch_loss * torch_loss).backward()
    np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), atol=1e-12)


def test_without_torch_the_summary_says_once_why_tests_were_skipped_and_how_to_run_them(tmp_path):
    """torch made unimportable in a fresh pytest run over a few test files that use it as their oracle."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    run = ("import sys; sys.modules['torch'] = None; import pytest; "
           "sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', 'tests/test_nn_torch.py', 'tests/test_optim.py']))")
    done = subprocess.run([sys.executable, "-c", run], cwd=root, capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, PYTHONPATH=str(root)))
    assert done.returncode == 0, done.stdout[-2000:]
    skipped = int(done.stdout.split(" skipped in ")[0].split()[-1])  # "51 passed, 53 skipped in 3.2s"
    assert skipped > 1
    note = (f"{skipped} skipped because PyTorch is not installed (the oracle of the module, optimiser and gradient "
            f"tests); to run them: pip install torch==2.13.0")
    assert done.stdout.count("PyTorch is not installed") == 1 and note in done.stdout
