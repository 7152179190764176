"""The tinygrad-lstm command line: help, exit codes, usage errors, compare/graph/train, kinds of your own."""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinygrad_lstm as tl
import tinygrad_lstm.tasks
from tinygrad_lstm import cli
from tinygrad_lstm.cli import main
from tinygrad_lstm.nn import kinds

SMALL = ["--steps", "3", "--batch", "2", "--input", "2", "--hidden", "3", "--no-torch"]


@pytest.mark.parametrize("command", [[], ["demo"], ["compare"], ["graph"], ["diagnose"], ["train"],
                                     ["train", "--task", "adding"]])
def test_help_for_every_command(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: tinygrad-lstm")
    if command[:1] == ["train"]:
        assert "--hidden" in out and "adding" in out


@pytest.mark.parametrize("argv", [
    [], ["frobnicate"], ["compare", "--cell", "foo"], ["compare", "--steps", "0"], ["compare", "--hidden", "x"],
    ["demo", "--seed", "one"], ["graph", "--max-steps", "-1"], ["train", "--task", "nope"],
    ["train", "--steps", "0"], ["graph", "--out", "picture.notaformat", *SMALL[:-1]], ["diagnose", "--steps", "0"],
])
def test_usage_errors_exit_2_with_one_line(argv, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("tinygrad-lstm") and "error:" in err
    assert "Traceback" not in err


def test_compare_exit_0_when_all_agree(capsys):
    assert main(["compare", "--cell", "gru", "--layers", "2", "--bidirectional", *SMALL]) == 0
    out = capsys.readouterr().out
    assert "GRU(2, 3, num_layers=2, bidirectional=True)" in out and "all agree" in out


def test_compare_exit_1_when_a_comparison_fails(capsys):
    """A kind whose hand-written backward is wrong: `compare` flags it and exits 1."""
    rnn = kinds.get_kind("rnn")

    def wrong_backward(grad_output, grad_h_n, cache):
        grads = rnn.manual.backward(grad_output, grad_h_n, cache)
        return {**grads, "weight_hh": grads["weight_hh"] * 1.01}

    class BrokenRNN(tl.nn.RNN):
        pass

    kinds.register_kind("broken_rnn", tl.nn.RNNCell, sequence=BrokenRNN, gates=rnn.gates, states=rnn.states,
                        manual=kinds.FusedReference(rnn.manual.forward, wrong_backward), options=rnn.options)
    try:
        assert main(["compare", "--cell", "broken_rnn", *SMALL]) == 1
    finally:
        kinds.unregister_kind("broken_rnn")
    out = capsys.readouterr().out
    assert "DISAGREE" in out and "weight_hh_l0 (manual)" in out
    assert "  weight_hh_l0 wrong from length 1 on" in out.splitlines()  # localised under the table


def test_compare_in_float32_warns_in_one_line_on_stderr(capsys):
    assert main(["compare", "--cell", "lstm", "--dtype", "float32", *SMALL]) == 0
    out, err = capsys.readouterr()
    assert f"tinygrad-lstm compare: {tl.manual.localize.FLOAT32_WARNING}\n" in err  # after the progress bar
    assert out.startswith(tl.manual.localize.FLOAT32_WARNING + "\n") and "all agree" in out
    assert main(["compare", "--cell", "lstm", "--dtype", "float32", "--quiet", *SMALL]) == 0
    out, err = capsys.readouterr()  # quiet: the verdict on stdout, the warning still on stderr
    assert err == f"tinygrad-lstm compare: {tl.manual.localize.FLOAT32_WARNING}\n"
    assert out.startswith("all agree")


def test_compare_json(capsys):
    assert main(["compare", "--cell", "lstm", "--json", "--numerical-elements", "3", *SMALL]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is True
    assert [row["name"] for row in data["rows"]][-3:] == ["x", "h0", "c0"]


def test_graph_dot_needs_no_graphviz(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", "")
    out = tmp_path / "g.dot"
    assert main(["graph", "--cell", "gru", "--grads", "--out", str(out)]) == 0
    assert "digraph" in out.read_text() and "weight_hh_l0" in out.read_text()
    assert str(out) in capsys.readouterr().out


def test_graph_without_graphviz_is_a_clear_failure(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", "")
    assert main(["graph", "--out", str(tmp_path / "g.svg")]) == 2  # a runtime error
    err = capsys.readouterr().err
    assert "Graphviz" in err and "Traceback" not in err
    assert (tmp_path / "g.dot").exists() and not (tmp_path / "g.svg").exists()


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_graph_svg(tmp_path, capsys):
    out = tmp_path / "lstm.svg"
    assert main(["graph", "--steps", "6", "--max-steps", "2", "--out", str(out)]) == 0
    assert out.read_text().lstrip().startswith(("<?xml", "<svg"))


def test_diagnose_prints_the_numbers_and_writes_the_plots(tmp_path):
    done = _run_cli(["diagnose", "--cell", "lstm", "--layers", "2", "--bidirectional", "--steps", "5", "--batch", "2",
                     "--hidden", "3", "--out", "plots"], tmp_path)
    assert done.returncode == 0, done.stderr
    for sequence in ("l0", "l0_reverse", "l1", "l1_reverse"):
        assert f"\n{sequence}:\n" in done.stdout
        assert (tmp_path / "plots" / f"gates_{sequence}.png").read_bytes().startswith(b"\x89PNG")
    assert "sat f" in done.stdout and "weight_hh_l1_reverse" in done.stdout
    assert (tmp_path / "plots" / "gradients.png").exists() and (tmp_path / "plots" / "contributions.png").exists()


def test_diagnose_json_has_the_numbers_of_the_diagnosis(tmp_path):
    done = _run_cli(["diagnose", "--cell", "gru", "--steps", "4", "--batch", "2", "--hidden", "3", "--seed", "2",
                     "--json", "--out", "plots"], tmp_path)
    assert done.returncode == 0, done.stderr
    numbers = json.loads(done.stdout)
    tl.manual_seed(2)
    gru = tl.nn.GRU(3, 3)
    x = np.random.default_rng(2).standard_normal((4, 2, 3)).astype(np.float32)
    expected = tl.viz.diagnose_bptt(gru, x, seed=2)
    assert numbers["steps"] == 4 and list(numbers["sequences"]) == ["l0"]
    np.testing.assert_allclose(numbers["sequences"]["l0"]["grad_h"], expected.grad_h["l0"], rtol=1e-12)
    np.testing.assert_allclose(numbers["sequences"]["l0"]["jacobian_norm"], expected.jacobian_norm["l0"], rtol=1e-12)
    assert numbers["sequences"]["l0"]["gates"]["z"]["function"] == "sigmoid"
    np.testing.assert_allclose(numbers["contribution_norms"]["weight_hh_l0"],
                               expected.contribution_norms()["weight_hh_l0"], rtol=1e-12)


def test_train_adding(capsys):
    argv = ["train", "--task", "adding", "--cell", "gru", "--steps", "3", "--batch", "4", "--hidden", "3",
            "--length", "6", "--no-progress", "--seed", "3"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "GRU test MSE" in out and "0.167" in out
    assert main(argv) == 0
    assert capsys.readouterr().out.split("(")[0] == out.split("(")[0]  # same seed, same numbers


@pytest.mark.parametrize("options", [
    ["--task", "adding", "--cell", "lstm", "--steps", "4", "--batch", "2", "--hidden", "3", "--length", "5"],
    ["--task", "sine", "--steps", "4", "--batch", "2", "--hidden", "3", "--length", "6", "--out", "{tmp}/sine.png"],
    ["--task", "chars", "--steps", "4", "--batch", "2", "--hidden", "3", "--seq-len", "5", "--sample-length", "8"],
])
def test_train_with_jit_prints_the_same_numbers(options, capsys, tmp_path):
    argv = ["train", *[o.format(tmp=tmp_path) for o in options], "--no-progress", "--seed", "2"]
    outputs = []
    for extra in ([], ["--jit"]):
        assert main(argv + extra) == 0
        outputs.append(capsys.readouterr().out)
    without_times = [re.sub(r"\d+ steps in [\d.]+ s|\([\d.]+ s\)", "", out) for out in outputs]
    assert without_times[0] == without_times[1]


def test_train_missing_task_module_is_a_usage_error(capsys, monkeypatch):
    def unavailable(name):
        raise ImportError(f"the task {name!r} is not available in this installation")
    monkeypatch.setattr(tinygrad_lstm.tasks, "load_task", unavailable)
    assert main(["train", "--task", "sine"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'sine' is not available" in err


def test_python_dash_m_runs_the_cli():
    done = subprocess.run([sys.executable, "-m", "tinygrad_lstm", "compare", "--cell", "bogus"],
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "invalid choice" in done.stderr
    assert done.stdout == ""


# --------------------------------------------------------------------------- kinds of your own
TOY_CELLS = '''
import numpy as np
import tinygrad_lstm as tl


class ToyCell(tl.nn.Module):
    """h' = tanh(x W^T + h U^T + b): a cell the package does not know."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        bound = 1 / np.sqrt(hidden_size)
        draw = tl.default_generator().uniform
        self.weight_ih = tl.nn.Parameter(draw(-bound, bound, (hidden_size, input_size)).astype(np.float32))
        self.weight_hh = tl.nn.Parameter(draw(-bound, bound, (hidden_size, hidden_size)).astype(np.float32))
        self.bias = tl.nn.Parameter(np.zeros(hidden_size, np.float32))

    def init_state(self, batch_size):
        return tl.Tensor(np.zeros((batch_size, self.hidden_size), self.weight_ih.dtype))

    def forward(self, x, h):
        return (x @ self.weight_ih.T + h @ self.weight_hh.T + self.bias).tanh()


NOT_A_CELL = 42
'''

REGISTER_TOY = '''
import tinygrad_lstm as tl
import toy_cells

tl.nn.kinds.register_kind("toy", toy_cells.ToyCell, gates=("h",), states=("h",))
'''


def _run_cli(args, cwd, pythonpath=()):
    """``python -m tinygrad_lstm ARGS`` in a fresh interpreter, with `pythonpath` first on PYTHONPATH."""
    root = str(Path(__file__).resolve().parent.parent)
    path = os.pathsep.join([*map(str, pythonpath), root, os.environ.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-m", "tinygrad_lstm", *args], cwd=cwd, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=path), timeout=300)


@pytest.fixture
def toy_kind_site(tmp_path):
    """A directory whose sitecustomize registers the kind ``toy`` at start-up, and an empty working directory."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "toy_cells.py").write_text(TOY_CELLS)
    (site / "sitecustomize.py").write_text(REGISTER_TOY)
    work = tmp_path / "work"
    work.mkdir()
    return site, work


TOY_COMMANDS = {
    "compare": (["compare", "--cell", "{cell}", "--steps", "3", "--batch", "2", "--input", "2", "--hidden", "3"],
                ["Recurrent((cell): ToyCell())", "all agree: autograd = numerical for all 5 tensors",
                 "(not compared: no built-in hand-written reference for Recurrent",
                 "cell.weight_hh", "h0"]),
    "train": (["train", "--task", "adding", "--cell", "{cell}", "--steps", "3", "--batch", "4", "--hidden", "3",
               "--length", "6", "--no-progress"], ["Toy test MSE"]),
    "graph": (["graph", "--cell", "{cell}", "--out", "toy.dot"], ["wrote toy.dot"]),
    "diagnose": (["diagnose", "--cell", "{cell}", "--steps", "4", "--batch", "2", "--hidden", "3", "--out", "diag"],
                 ["BPTT diagnosis: 4 steps", "l0:", "cell.weight_hh", "wrote diag/gradients.png"]),
    "bench": (["bench", "--quick", "--repeats", "1", "--cells", "{cell},rnn"],
              ["| {name} | (6, 2, 3, 4)        | float32 |", "| rnn  | (6, 2, 3, 4)"]),
}


@pytest.mark.parametrize("command", TOY_COMMANDS)
def test_a_kind_registered_at_runtime_works_in_every_command(command, toy_kind_site):
    """`toy` is registered by a sitecustomize, outside the package: no module of the package names it."""
    site, work = toy_kind_site
    argv, expected = TOY_COMMANDS[command]
    done = _run_cli([a.format(cell="toy") for a in argv], work, [site])
    assert done.returncode == 0, done.stderr
    for text in expected:
        assert text.format(name="toy ") in done.stdout
    if command == "graph":
        assert "cell.weight_hh" in (work / "toy.dot").read_text()
    if command == "bench":
        row = next(line for line in done.stdout.splitlines() if line.startswith("| toy"))
        assert row.split("|")[6].strip() == "-" and row.split("|")[7].strip() == "-"  # no fused, no torch twin


@pytest.mark.parametrize("command", TOY_COMMANDS)
def test_module_colon_class_works_in_every_command(command, toy_kind_site):
    """`--cell toy_cells:ToyCell` imports the cell from the current directory; nothing registers it."""
    site, work = toy_kind_site
    (work / "toy_cells.py").write_text(TOY_CELLS)
    argv, expected = TOY_COMMANDS[command]
    done = _run_cli([a.format(cell="toy_cells:ToyCell") for a in argv], work)
    assert done.returncode == 0, done.stderr
    for text in expected:
        assert text.format(name="toy_cells:ToyCell") in done.stdout


@pytest.mark.parametrize("cell, message", [
    ("no_such_module:Cell", "cannot import 'no_such_module' for 'no_such_module:Cell': ModuleNotFoundError"),
    ("toy_cells:Missing", "module 'toy_cells' has no attribute 'Missing'"),
    ("toy_cells:NOT_A_CELL", "toy_cells:NOT_A_CELL: cell must be a tl.nn.Module subclass with init_state"),
    ("toy_cells:", "'toy_cells:' is not of the form module:Class"),
])
@pytest.mark.parametrize("command", ["compare", "graph", "diagnose", "train", "bench"])
def test_a_bad_cell_path_is_a_one_line_usage_error(command, cell, message, toy_kind_site):
    site, work = toy_kind_site
    (work / "toy_cells.py").write_text(TOY_CELLS)
    option = ["--cells"] if command == "bench" else ["--cell"]
    argv = [command, *(["--task", "adding"] if command == "train" else []), *option, cell]
    done = _run_cli(argv, work)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and message in done.stderr and "Traceback" not in done.stderr


def test_a_cell_only_kind_stacks_in_layers_and_directions(toy_kind_site):
    site, work = toy_kind_site
    done = _run_cli(["compare", "--cell", "toy", "--layers", "2", "--bidirectional", "--steps", "3", "--batch", "2",
                     "--input", "2", "--hidden", "3", "--json"], work, [site])
    assert done.returncode == 0, done.stderr
    rows = {row["name"]: row["shape"] for row in json.loads(done.stdout)["rows"]}
    assert rows["weight_ih_l0_reverse"] == [3, 2] and rows["weight_ih_l1"] == [3, 6] and rows["h0"] == [4, 2, 3]


def test_a_user_cell_unknown_to_the_package_gets_every_tool(toy_kind_site, monkeypatch):
    """Issue 16's "done when": a cell written here trains on the adding problem from the command line
    by --cell module:Class, stacks 2 layers bidirectional with lengths, gradchecks, and renders its
    unrolled graph and its gradient-flow plot."""
    import numpy as np

    from tinygrad_lstm.plots import plot_gradient_flow
    from tinygrad_lstm.tasks import adding

    site, work = toy_kind_site
    (work / "toy_cells.py").write_text(TOY_CELLS)
    done = _run_cli(["train", "--task", "adding", "--cell", "toy_cells:ToyCell", "--layers", "2", "--bidirectional",
                     "--steps", "30", "--batch", "16", "--hidden", "4", "--length", "6", "--no-progress"], work)
    assert done.returncode == 0, done.stderr
    assert "adding problem, T=6: 2-layer bidirectional Toy test MSE" in done.stdout
    assert "toy_cells" not in sys.modules and "toy" not in kinds.kind_names()  # unknown to this process so far

    monkeypatch.syspath_prepend(str(work))
    monkeypatch.chdir(work)
    monkeypatch.delitem(sys.modules, "toy_cells", raising=False)
    from toy_cells import ToyCell

    tl.manual_seed(0)
    model = tl.nn.Recurrent(ToyCell(3, 4), num_layers=2, bidirectional=True).double()
    rng = np.random.default_rng(0)
    x = tl.Tensor(rng.standard_normal((5, 3, 3)), requires_grad=True)
    h0 = tl.Tensor(rng.standard_normal((4, 3, 4)), requires_grad=True)
    output, h_n = model(x, h0, lengths=[5, 2, 4])
    assert output.shape == (5, 3, 8) and h_n.shape == (4, 3, 4) and not output.data[2:, 1].any()
    assert tl.gradcheck(lambda x, h0: model(x, h0, lengths=[5, 2, 4])[0], [x, h0])
    report = tl.compare_gradients(model, x.data, lengths=[5, 2, 4])
    assert report.ok and "weight_hh_l1_reverse" in [row.name for row in report.rows]

    roots, module = tl.viz.unrolled_graph(ToyCell(3, 4), steps=4, layers=2, bidirectional=True, batch=2,
                                          lengths=[4, 2])
    graph = tl.viz.render_graph(roots, work / "toy_graph.dot", params=module)
    assert "weight_hh_l1_reverse" in graph.read_text()
    if shutil.which("dot"):
        assert tl.viz.render_graph(roots, work / "toy_graph.svg", params=module).read_text().startswith("<?xml")

    flow_model = adding.AddingModel(ToyCell, hidden=4, layers=2, bidirectional=True)
    x, y = adding.make_batch(8, 6, np.random.default_rng(1))
    flow = adding.gradient_flow(flow_model, x, y)
    assert list(flow) == ["l0", "l0_reverse", "l1", "l1_reverse"] and all((f > 0).all() for f in flow.values())
    plot = plot_gradient_flow({"Toy": {"at initialisation": flow}}, work / "toy_flow.png")
    assert plot.read_bytes().startswith(b"\x89PNG")


def test_help_lists_the_registered_kinds(capsys):
    kinds.register_kind("listed", tl.nn.RNNCell)
    try:
        names = kinds.kind_names()
        with pytest.raises(SystemExit):
            main(["compare", "--help"])
    finally:
        kinds.unregister_kind("listed")
    out = " ".join(capsys.readouterr().out.split())
    assert names[:3] == ("rnn", "lstm", "gru") and names[-1] == "listed"
    assert f"{', '.join(names)}, or module:Class" in out


@pytest.mark.parametrize("convert, good, bad", [
    (cli.positive_int, {"1": 1, "12": 12}, ["0", "-3", "1.5", "x", ""]),
    (cli.non_negative_int, {"0": 0, "7": 7}, ["-1", "x"]),
    (cli.positive_float, {"0.5": 0.5, "3": 3.0}, ["0", "-1", "inf", "nan", "x"]),
    (cli.non_negative_float, {"0": 0.0, "2.5": 2.5}, ["-0.1", "inf", "nan"]),
])
def test_argument_types(convert, good, bad):
    for text, value in good.items():
        assert convert(text) == value and type(convert(text)) is type(value)
    for text in bad:
        with pytest.raises(argparse.ArgumentTypeError, match=f"expected a .*, got {text!r}"):
            convert(text)


def test_cell_kinds_lists():
    assert [k.name for k in cli.cell_kinds(" gru, rnn ")] == ["gru", "rnn"]
    with pytest.raises(argparse.ArgumentTypeError, match="comma-separated list of recurrent kinds"):
        cli.cell_kinds(" , ")
    with pytest.raises(argparse.ArgumentTypeError, match="invalid choice: 'foo'"):
        cli.cell_kinds("lstm,foo")


@pytest.mark.parametrize("cell", ["peephole_lstm", "layernorm_lstm"])
def test_the_reference_cells_are_kinds_in_every_command(cell, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["compare", "--cell", cell, "--layers", "2", "--bidirectional", *SMALL]) == 0
    assert "all agree: autograd = numerical" in capsys.readouterr().out
    assert main(["graph", "--cell", cell, "--steps", "2", "--out", "cell.dot"]) == 0
    assert "weight_c" in (tmp_path / "cell.dot").read_text() or "ln_" in (tmp_path / "cell.dot").read_text()
    assert main(["train", "--task", "adding", "--cell", cell, "--steps", "2", "--batch", "4", "--hidden", "3",
                 "--length", "5", "--no-progress"]) == 0
    assert "test MSE" in capsys.readouterr().out


# --------------------------------------------------------------------------- at home in a terminal
QUICK_COMPARE = ["compare", "--steps", "3", "--batch", "2", "--input", "2", "--hidden", "3"]


@pytest.mark.parametrize("command", [[], *([name] for name in cli.COMMANDS)])
def test_every_help_states_the_exit_codes_and_the_common_options(command, capsys):
    with pytest.raises(SystemExit):
        main([*command, "--help"])
    out = capsys.readouterr().out
    assert cli.EXIT_CODES in out
    if command:
        assert "--quiet" in out and "--debug" in out


def test_help_of_the_installed_command_states_the_exit_codes(tmp_path):
    done = _run_cli(["--help"], tmp_path)
    assert done.returncode == 0 and cli.EXIT_CODES in done.stdout


def test_a_runtime_error_is_one_line_and_exit_2_and_debug_shows_the_traceback(tmp_path):
    (tmp_path / "file").write_text("")
    argv = ["demo", "--quick", "--out", str(tmp_path / "file" / "below-a-file")]
    done = _run_cli(argv, tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("tinygrad-lstm demo: error: ") and "below-a-file" in done.stderr
    debug = _run_cli([*argv, "--debug"], tmp_path)
    assert debug.returncode == 2 and "Traceback (most recent call last)" in debug.stderr
    assert debug.stderr.splitlines()[-1].startswith("tinygrad-lstm demo: error: ")


def test_an_unexpected_error_is_named_and_says_how_to_see_its_traceback(capsys):
    def broken(args):
        raise ZeroDivisionError("division by zero")

    assert cli.run_command("tinygrad-lstm x", broken, argparse.Namespace(debug=False)) == 2
    assert capsys.readouterr().err == ("tinygrad-lstm x: error: ZeroDivisionError: division by zero "
                                       "(--debug shows the traceback)\n")
    assert cli.run_command("tinygrad-lstm x", broken, argparse.Namespace(debug=True)) == 2
    err = capsys.readouterr().err
    assert err.startswith("Traceback") and err.endswith("tinygrad-lstm x: error: ZeroDivisionError: division by zero\n")


@pytest.mark.parametrize("argv", [
    ["compare", "--seed", "-1"], ["demo", "--seed", "-1"], ["graph", "--seed", "-5"], ["check", "x.py", "--seed", "-1"],
    ["train", "--seed", "-1"], ["bench", "--repeats", "0"], ["train", "--task", "chars", "--encoding", "klingon"],
])
def test_bad_values_are_usage_errors(argv, tmp_path):
    done = _run_cli(argv, tmp_path)
    assert done.returncode == 2 and done.stdout == "", done.stderr
    assert done.stderr.count("\n") == 1 and "error: argument" in done.stderr and "Traceback" not in done.stderr


def test_compare_into_head_ends_quietly_with_its_own_exit_code(tmp_path):
    root = Path(__file__).resolve().parent.parent
    command = " ".join([sys.executable, "-m", "tinygrad_lstm", *QUICK_COMPARE, "--no-torch"])
    done = subprocess.run(["bash", "-c", f"set -o pipefail; {command} | head -1"], cwd=tmp_path, capture_output=True,
                          text=True, env=dict(os.environ, PYTHONPATH=str(root)), timeout=300)
    assert done.returncode == 0 and done.stdout.startswith("Gradient check of LSTM(2, 3)")
    assert done.stdout.count("\n") == 1
    assert "BrokenPipeError" not in done.stderr and "Exception ignored" not in done.stderr


def test_progress_to_a_reader_that_left_is_dropped_quietly(tmp_path):
    """``2>&1 | head -1`` or a closed log: stderr's reader has gone before the first progress line."""
    root = Path(__file__).resolve().parent.parent
    child = subprocess.Popen([sys.executable, "-m", "tinygrad_lstm", *QUICK_COMPARE, "--no-torch"],
                             cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=dict(os.environ, PYTHONPATH=str(root)))
    child.stderr.close()
    output = child.stdout.read().decode()
    assert child.wait(timeout=300) == 0
    assert output.splitlines()[-1].startswith("all agree: autograd = manual = numerical")


def test_output_to_a_reader_that_left_is_dropped_quietly(tmp_path):
    """The reader closes the pipe before anything is written: every write would fail."""
    root = Path(__file__).resolve().parent.parent
    child = subprocess.Popen([sys.executable, "-m", "tinygrad_lstm", *QUICK_COMPARE, "--no-torch", "--json"],
                             cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=dict(os.environ, PYTHONPATH=str(root)))
    child.stdout.close()
    errors = child.stderr.read().decode()
    assert child.wait(timeout=300) == 0
    assert "BrokenPipeError" not in errors and "Exception ignored" not in errors and "Traceback" not in errors


def test_quiet_prints_the_result_line_only(tmp_path):
    done = _run_cli([*QUICK_COMPARE, "--quiet"], tmp_path)
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.splitlines() == [done.stdout.strip()] and done.stdout.startswith("all agree: autograd = ")
    done = _run_cli(["train", "--task", "adding", "--steps", "30", "--batch", "4", "--hidden", "3", "--length", "5",
                     "--quiet"], tmp_path)
    assert done.returncode == 0 and done.stderr == "" and done.stdout.count("\n") == 1
    done = _run_cli(["graph", "--out", "g.dot", "-q"], tmp_path)
    assert done.returncode == 0 and done.stdout == done.stderr == "" and (tmp_path / "g.dot").exists()
    done = _run_cli(["diagnose", "--steps", "4", "--batch", "2", "--hidden", "3", "--out", "diag", "--quiet"], tmp_path)
    assert done.returncode == 0 and done.stderr == "" and done.stdout.startswith("BPTT diagnosis: 4 steps, loss ")
    assert done.stdout.count("\n") == 1 and (tmp_path / "diag" / "gradients.png").exists()


def test_piped_progress_is_whole_lines_and_compare_shows_its_columns(tmp_path):
    done = _run_cli(["train", "--task", "adding", "--steps", "40", "--batch", "4", "--hidden", "3", "--length", "5"],
                    tmp_path)
    assert done.returncode == 0 and "\r" not in done.stderr
    lines = done.stderr.splitlines()
    assert 1 <= len(lines) <= 11 and lines[-1].startswith("LSTM adding T=5: 100% 40/40 [")
    done = _run_cli(QUICK_COMPARE, tmp_path)
    assert done.returncode == 0 and "\r" not in done.stderr
    assert done.stderr.splitlines()[-1].startswith("compare: torch: 100% 10/10 [")  # 3 columns, 7 tensors


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_progress_on_a_terminal_is_a_bar(tmp_path):
    import fcntl
    import pty
    import struct
    import termios
    root = Path(__file__).resolve().parent.parent
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # 24 rows, 100 columns
    try:
        done = subprocess.run([sys.executable, "-m", "tinygrad_lstm", "train", "--task", "adding", "--steps", "20",
                               "--batch", "4", "--hidden", "3", "--length", "5"], cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=follower, env=dict(os.environ, PYTHONPATH=str(root)), timeout=300)
        os.set_blocking(leader, False)
        shown = os.read(leader, 1 << 16).decode()
    finally:
        os.close(leader)
        os.close(follower)
    assert done.returncode == 0 and "\r" in shown and "20/20" in shown and "█" in shown


def test_train_options_and_errors_are_its_own(tmp_path):
    done = _run_cli(["train", "--task", "chars", "--bogus"], tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("tinygrad-lstm train: error: unrecognized arguments: --bogus")
    missing = tmp_path / "missing.txt"
    done = _run_cli(["train", "--task", "chars", "--text", str(missing)], tmp_path)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert done.stderr.startswith("tinygrad-lstm train: error: ") and str(missing) in done.stderr


def test_text_that_is_not_utf8_names_the_byte_and_encoding_reads_it(tmp_path):
    (tmp_path / "latin.txt").write_bytes("Schöne Grüße, schöne Straße. ".encode("latin-1") * 20)
    argv = ["train", "--task", "chars", "--text", "latin.txt", "--steps", "2", "--batch", "2", "--seq-len", "4",
            "--hidden", "4", "--embedding", "2", "--sample-length", "5", "--quiet"]
    done = _run_cli(argv, tmp_path)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "latin.txt is not valid utf-8: byte 0xf6 at offset 3" in done.stderr and "--encoding" in done.stderr
    done = _run_cli([*argv, "--encoding", "latin-1"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "chars: latin.txt, 16 distinct characters" in done.stdout


# --------------------------------------------------------------------------- bench: what it writes and says
BENCH = ["bench", "--quick", "--repeats", "1", "--cells", "rnn"]
PERFORMANCE_PAGE = Path(__file__).resolve().parent.parent / "docs" / "performance.md"


def test_quick_bench_writes_nothing_and_judges_nothing(tmp_path):
    before = PERFORMANCE_PAGE.read_bytes()
    done = _run_cli(BENCH, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Quick run: targets not judged" in done.stdout
    assert "NOT met" not in done.stdout and "GROWING" not in done.stdout and "target <=" not in done.stdout
    assert list(tmp_path.iterdir()) == [] and PERFORMANCE_PAGE.read_bytes() == before
    assert "\r" not in done.stderr and done.stderr.splitlines()[-1].startswith("bench: where the time goes: 100% 8/8")


def test_bench_write_is_relative_to_the_current_directory(tmp_path):
    (tmp_path / "results").mkdir()
    done = _run_cli([*BENCH, "--write", "results/quick.md"], tmp_path)
    assert done.returncode == 0, done.stderr
    written = tmp_path / "results" / "quick.md"
    assert f"wrote {written}" in done.stdout and "| rnn  | (6, 2, 3, 4)" in written.read_text()


@pytest.mark.parametrize("argv, message", [
    (["--write"], "--quick does not overwrite"),
    (["--write", "no/such/directory/out.md"], "the directory"),
])
def test_bench_refuses_to_write_before_measuring(argv, message, tmp_path):
    before = PERFORMANCE_PAGE.read_bytes()
    done = _run_cli([*BENCH, *argv], tmp_path)
    assert done.returncode == 2 and done.stdout == "" and message in done.stderr
    assert PERFORMANCE_PAGE.read_bytes() == before


def test_readme_states_the_exit_codes_and_the_demo_time_of_the_help(capsys):
    from tinygrad_lstm.demo import DURATION, QUICK_DURATION
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    table = readme.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    rows = {line.split("|")[1].strip(): line.split("|")[2] for line in table.splitlines() if line.startswith("| ")}
    assert set(rows) == {"code", "0", "1", "2"}
    for code, phrases in {"0": ["success", "the gradients agree", "the code checked is right"],
                          "1": ["the gradients disagree", "a check found a bug"],
                          "2": ["a usage error", "a runtime error", "one line on stderr", "--debug"]}.items():
        line = next(line for line in cli.EXIT_CODES.splitlines() if line.strip().startswith(code))
        assert all(phrase in rows[code] and phrase in line for phrase in phrases), code
    assert "--quiet" in table
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert f"In {DURATION} on an idle machine (`--quick`: {QUICK_DURATION};" in " ".join(readme.split())
    assert f"Takes {DURATION} on an idle machine ({QUICK_DURATION} with --quick)" in help_text


# --------------------------------------------------------------------------- help, usage errors, commands that run
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


def test_cli_commands_run(capsys, tmp_path, monkeypatch):
    pytest.importorskip("torch")
    monkeypatch.chdir(tmp_path)
    assert main(["compare", "--cell", "lstm", "--layers", "2", "--bidirectional"]) == 0
    assert "all agree" in capsys.readouterr().out
    assert main(["graph", "--out", "x.dot"]) == 0
    assert (tmp_path / "x.dot").read_text().startswith("digraph")
    assert main(["train", "--task", "sine", "--steps", "5", "--no-progress"]) == 0
    assert "after 5 steps" in capsys.readouterr().out and (tmp_path / "sine_forecast.png").exists()
