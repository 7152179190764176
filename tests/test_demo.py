"""tinygrad_lstm.demo end to end in --quick mode: every file written, every check agreeing, deterministic."""
import re
import shutil

from tinygrad_lstm.cli import main

PNG = b"\x89PNG\r\n\x1a\n"


def _run_quick_demo(out, capsys, seed="0"):
    assert main(["demo", "--quick", "--out", str(out), "--seed", seed, "--no-progress"]) == 0
    return capsys.readouterr().out


def test_quick_demo_writes_every_file_and_all_checks_agree(tmp_path, capsys):
    out = tmp_path / "demo"
    text = _run_quick_demo(out, capsys)
    assert text.count("all agree: autograd = manual = numerical") == 3
    assert "DISAGREE" not in text and "FAIL" not in text
    for name in ("RNN(3, 4)", "LSTM(3, 4)", "GRU(3, 4)"):
        assert f"Gradient check of {name}" in text
    graph = out / "lstm_graph.svg" if shutil.which("dot") else out / "lstm_graph.dot"
    for path in (graph, out / "lstm_graph.dot", out / "learning_curves.png", out / "gradient_flow.png",
                 out / "lstm_gates.png"):
        assert path.exists() and path.stat().st_size > 0
        assert str(path) in text.split("Files written:")[1]
    assert re.search(r"LSTM gates after training, share of saturated units over 4 sequences: i \d+%, f \d+%", text)
    for png in ("learning_curves.png", "gradient_flow.png", "lstm_gates.png"):
        assert (out / png).read_bytes().startswith(PNG)


def _without_timings(text):
    return re.sub(r"\d+\.\d s", "<time>", text)


def test_quick_demo_is_deterministic_and_survives_a_missing_graphviz(tmp_path, capsys, monkeypatch):
    first = _run_quick_demo(tmp_path / "a", capsys, seed="3")
    monkeypatch.setenv("PATH", "")
    second = _run_quick_demo(tmp_path / "b", capsys, seed="3")
    assert "note: Graphviz's `dot` program is not installed" in second
    assert (tmp_path / "b" / "lstm_graph.dot").exists() and not (tmp_path / "b" / "lstm_graph.svg").exists()

    def comparable(text, directory):
        text = _without_timings(text).replace(str(directory), "<out>")
        return text.split("2. The unrolled graph")[0] + text.split("3. The adding problem")[1].split("Files written")[0]
    assert comparable(first, tmp_path / "a") == comparable(second, tmp_path / "b")


