"""The benchmark runs (a smoke test: timings are measured by the script, never asserted here)."""
import numpy as np
import pytest

from tinygrad_lstm import bench


def test_quick_benchmark_runs_and_reports(tmp_path):
    results = bench.run(quick=True, repeats=1, cells=("lstm", "gru", "rnn"), progress=lambda line: None)
    assert {t.cell for t in results.timings} == {"lstm", "gru", "rnn"}
    assert all(t.autograd > 0 and t.fused > 0 for t in results.timings)
    assert results.flat["live_nodes"] == 0
    path = tmp_path / "performance.md"
    bench.write_markdown(results, path)
    text = path.read_text()
    assert "autograd/fused" in text and "Growth with sequence length" in text and "cores" in text
    assert "## Summary" in text and ("met" in text)
    assert "Double backward" in text and results.double["autograd"] > 0


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
