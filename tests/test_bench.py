"""The benchmark runs (a smoke test: timings are measured by the script, never asserted here)."""
import dataclasses

import numpy as np
import pytest

from tinygrad_lstm import bench


@pytest.fixture(scope="module")
def quick_results():
    return bench.run(quick=True, repeats=1, cells=("lstm", "gru", "rnn"), progress=lambda line: None)


def test_quick_benchmark_runs_and_reports_without_judging(quick_results, tmp_path):
    results = quick_results
    assert {t.cell for t in results.timings} == {"lstm", "gru", "rnn"} and results.quick
    assert all(t.autograd > 0 and t.fused > 0 for t in results.timings)
    assert results.flat["live_nodes"] == 0
    path = tmp_path / "performance.md"
    bench.write_markdown(results, path)
    text = path.read_text()
    assert "autograd/fused" in text and "Growth with sequence length" in text and "cores" in text
    assert "## Summary" in text and text.lower().count(bench.QUICK_VERDICT) == 4 + bool(results.double["torch"])
    # the table, growth, memory, flat and, with torch, the double backward
    assert "met" not in text.replace("Summary", "") and "target <=" not in text
    assert "Double backward" in text and results.double["autograd"] > 0


def test_a_full_run_is_judged_against_the_targets(quick_results):
    judged = dataclasses.replace(quick_results, quick=False)
    lines = bench.summary(judged).splitlines()[2:]
    targets = ["target 4.4x", "target 2x", "target flat"] + ["target 3x"] * bool(judged.double["torch"])
    assert [line.rsplit("(", 1)[1].split(":")[0] for line in lines] == targets
    assert all(line.endswith(("met).", "NOT met).")) for line in lines)


def test_results_display_as_a_table_with_missed_targets_highlighted(quick_results):
    slow = bench.Timing("lstm", (20, 1, 4, 8), "float32", autograd=3.0, fused=1.0, torch=None)  # target 2.5
    fast = bench.Timing("gru", (20, 1, 4, 8), "float64", autograd=1.0, fused=1.0, torch=2.0)
    results = dataclasses.replace(quick_results, timings=[slow, fast], quick=False)
    html = results._repr_html_()
    assert html.count("<tr") == 3 and html.count('<tr style="background-color:#fdd">') == 1
    highlighted = html.split('<tr style="background-color:#fdd">')[1].split("</tr>")[0]
    assert "<td>lstm</td>" in highlighted and "&gt; 2.5" in highlighted
    assert repr(results) == "Results(2 timings, quick=False, 1 timing(s) miss their target)"
    assert "background-color" not in quick_results._repr_html_()
    assert repr(quick_results) == "Results(6 timings, quick=True, not judged)"


def test_fused_and_autograd_runners_compute_the_same_gradients():
    module, x = bench._make("lstm", (5, 2, 3, 4), np.float64)
    grads = bench._fused_runner("lstm", module, x)()
    bench._autograd_runner(module, x)()
    assert np.allclose(module.weight_hh_l0.grad, grads["weight_hh"], rtol=1e-10, atol=1e-12)
    assert np.allclose(module.weight_ih_l0.grad, grads["weight_ih"], rtol=1e-10, atol=1e-12)


def test_bench_command(capsys, tmp_path):
    from tinygrad_lstm import cli
    out = tmp_path / "performance.md"
    assert cli.main(["bench", "--quick", "--repeats", "1", "--cells", "rnn", "--write", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| rnn  |" in printed and "Peak memory" in printed and out.exists()
    with pytest.raises(SystemExit) as usage_error:
        cli.main(["bench", "--cells", "lstm,foo"])
    assert usage_error.value.code == 2


def test_the_double_backward_runners_compute_the_same_product():
    torch = pytest.importorskip("torch")
    module, x = bench._make("lstm", (4, 2, 3, 5), np.float64)
    params = list(module.parameters())
    vectors = [np.random.default_rng(i).standard_normal(p.shape) for i, p in enumerate(params)]
    output, _ = module(x)
    grads = bench.grad((output * output).sum(), params, create_graph=True)
    ours = bench.grad(sum((g * v).sum() for g, v in zip(grads, vectors)), params)
    twin = torch.nn.LSTM(3, 5, dtype=torch.float64)
    twin.load_state_dict({k: torch.tensor(v) for k, v in module.state_dict().items()})
    output_t, _ = twin(torch.tensor(x))
    grads_t = torch.autograd.grad((output_t * output_t).sum(), list(twin.parameters()), create_graph=True)
    theirs = torch.autograd.grad(sum((g * torch.tensor(v)).sum() for g, v in zip(grads_t, vectors)),
                                 list(twin.parameters()))
    for mine, reference in zip(ours, theirs):
        assert np.allclose(mine.data, reference.numpy(), rtol=1e-10, atol=1e-12)
    assert bench._torch_hvp(module, x, vectors) is not None
