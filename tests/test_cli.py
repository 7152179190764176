"""The tinygrad-lstm command line: help, exit codes, usage errors, compare/graph/train."""
import json
import shutil
import subprocess
import sys

import pytest

import tinygrad_lstm as tl
import tinygrad_lstm.tasks
from tinygrad_lstm.cli import main
from tinygrad_lstm.nn import kinds

SMALL = ["--steps", "3", "--batch", "2", "--input", "2", "--hidden", "3", "--no-torch"]


@pytest.mark.parametrize("command", [[], ["demo"], ["compare"], ["graph"], ["train"], ["train", "--task", "adding"]])
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
    ["train", "--steps", "0"], ["graph", "--out", "picture.notaformat", *SMALL[:-1]],
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
    assert main(["graph", "--out", str(tmp_path / "g.svg")]) == 1
    err = capsys.readouterr().err
    assert "Graphviz" in err and "Traceback" not in err
    assert (tmp_path / "g.dot").exists() and not (tmp_path / "g.svg").exists()


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_graph_svg(tmp_path, capsys):
    out = tmp_path / "lstm.svg"
    assert main(["graph", "--steps", "6", "--max-steps", "2", "--out", str(out)]) == 0
    assert out.read_text().lstrip().startswith(("<?xml", "<svg"))


def test_train_adding(capsys):
    argv = ["train", "--task", "adding", "--cell", "gru", "--steps", "3", "--batch", "4", "--hidden", "3",
            "--length", "6", "--no-progress", "--seed", "3"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "GRU test MSE" in out and "0.167" in out
    assert main(argv) == 0
    assert capsys.readouterr().out.split("(")[0] == out.split("(")[0]  # same seed, same numbers


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
