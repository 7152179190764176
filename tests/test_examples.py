"""Every example script runs in quick mode (so the examples cannot rot), and the tasks behind
them learn: the character LM's loss falls 1.5x in 40 steps, the sine forecaster's test MSE 5x
in 200, the custom cells beat the adding-problem baseline 4x; checkpoints resume exactly."""
import importlib.util
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm.cli import main as cli_main
from tinygrad_lstm.tasks import chars, sine
from tinygrad_lstm.tasks.adding import BASELINE_MSE

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLES = ("quickstart", "adding_problem", "char_lm", "sine_forecast", "custom_cell", "torch_interop",
            "hessian_eigenvalue", "meta_learning")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# the quick character LM of examples/char_lm.py, small enough for the resume tests too
TINY_LM = dict(batch=8, seq_len=16, hidden=16, embedding=8, sample_length=20, progress=False)


def load_example(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_example(name: str, *argv: str) -> subprocess.CompletedProcess:
    """``python examples/NAME.py ARGV...`` in a fresh interpreter, with this checkout importable."""
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    return subprocess.run([sys.executable, str(ROOT / "examples" / f"{name}.py"), *argv], capture_output=True,
                          text=True, env=environment, timeout=120)


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_scripts_have_help(name):
    done = run_example(name, "--help")
    assert done.returncode == 0, done.stderr
    assert "--quick" in done.stdout and "--seed" in done.stdout and "--debug" in done.stdout
    assert "exit codes:" in done.stdout  # the convention of the tinygrad-lstm command


# a value each script must refuse, for one of its own numeric options
BAD_VALUES = {"quickstart": ("--hidden", "0"), "adding_problem": ("--steps", "-5"), "char_lm": ("--seed", "-1"),
              "sine_forecast": ("--batch", "0"), "custom_cell": ("--lr", "0"), "torch_interop": ("--layers", "-1"),
              "hessian_eigenvalue": ("--iterations", "0"), "meta_learning": ("--lr", "nan")}


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_scripts_refuse_a_bad_value_as_a_usage_error(name):
    option, value = BAD_VALUES[name]
    done = run_example(name, "--quick", option, value)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith(f"{name}.py: error: argument {option}: ") and repr(value) in done.stderr
    assert done.stdout == ""


def test_example_scripts_report_a_runtime_error_in_one_line_or_with_debug_its_traceback(tmp_path):
    argv = ["--quick", "--no-progress", "--length", "1", "--out", str(tmp_path / "curves.png")]
    done = run_example("adding_problem", *argv)  # the adding problem needs two halves
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr == "adding_problem.py: error: make_batch: T must be at least 2, got 1\n"
    debugged = run_example("adding_problem", *argv, "--debug")
    assert debugged.returncode == 2
    assert debugged.stderr.startswith("Traceback") and debugged.stderr.endswith(done.stderr), debugged.stderr
    assert not (tmp_path / "curves.png").exists()


# --------------------------------------------------------------------------- quick runs of the scripts
def test_adding_problem_quick(tmp_path, capsys):
    out = tmp_path / "curves.png"
    assert load_example("adding_problem").main(["--quick", "--no-progress", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "RNN" in printed and "LSTM" in printed and "T=10" in printed
    assert out.read_bytes().startswith(PNG_SIGNATURE)


def test_char_lm_quick_writes_a_checkpoint_and_samples(tmp_path, capsys):
    checkpoint = tmp_path / "lm.npz"
    argv = ["--quick", "--no-progress", "--checkpoint", str(checkpoint), "--prime", "Beautiful"]
    assert load_example("char_lm").main(argv) == 0
    printed = capsys.readouterr().out
    assert "after step 40" in printed and "\nBeautiful" in printed
    saved = chars.load_checkpoint(checkpoint)
    assert saved["step"] == 40 and saved["losses"].shape == (40,) and saved["config"]["hidden"] == 64


def test_char_lm_reports_bad_options_in_one_line(tmp_path, capsys):
    example = load_example("char_lm")
    assert example.main(["--quick", "--no-progress", "--resume"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert example.main(["--quick", "--no-progress", "--text", str(tmp_path / "missing.txt")]) == 2
    assert "missing.txt" in capsys.readouterr().err


@pytest.mark.parametrize("mode", sine.MODES)
def test_sine_forecast_quick_plots(mode, tmp_path, capsys):
    out = tmp_path / "forecast.png"
    assert load_example("sine_forecast").main(["--quick", "--no-progress", "--mode", mode, "--out", str(out)]) == 0
    assert f"sine {mode}: test MSE" in capsys.readouterr().out
    assert out.read_bytes().startswith(PNG_SIGNATURE)


def test_custom_cell_quick_gradchecks_trains_and_draws(tmp_path, capsys):
    assert load_example("custom_cell").main(["--quick", "--no-progress", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert printed.count("gradcheck passed") == 2
    for name in ("peephole_lstm", "minimal_gated_unit"):
        assert "recurrent" in (tmp_path / f"{name}.dot").read_text()


def test_torch_interop_quick(capsys):
    code = load_example("torch_interop").main(["--quick"])
    printed = capsys.readouterr().out
    if importlib.util.find_spec("torch") is None:
        assert code == 0 and "not installed" in printed
    else:
        assert code == 0 and printed.count("identical up to rounding") == 2 and "MISMATCH" not in printed


# --------------------------------------------------------------------------- the tasks learn
def test_char_lm_loss_falls_1_5x_in_40_steps():
    quick = load_example("char_lm").QUICK
    result = chars.train(steps=quick["steps"], batch=quick["batch"], hidden=quick["hidden"], sample_length=0,
                         progress=False)
    first, last = result.losses[:5].mean(), result.losses[-5:].mean()
    assert first > 1.5 * last, (first, last)


def test_sine_test_mse_falls_5x_in_200_steps():
    quick = load_example("sine_forecast").QUICK
    result = sine.train("seq2one", steps=quick["steps"], T=quick["length"], eval_every=100, progress=False)
    assert result.test_mse[0] > 5 * result.final_test_mse, result.test_mse
    assert result.final_test_mse < result.zero_mse / 5


def test_custom_cells_beat_the_adding_baseline_4x():
    example = load_example("custom_cell")
    for cell_class in example.CELLS.values():
        tl.manual_seed(0)
        before, after, losses = example.train(cell_class(2, 32), steps=300, T=10, batch=64, lr=1e-2, seed=0,
                                              progress=False, label="")
        assert after < BASELINE_MSE / 4 < before, (cell_class.__name__, before, after)
        assert np.isfinite(losses).all()


def test_custom_cell_gradcheck_catches_a_wrong_parameter_gradient():
    example = load_example("custom_cell")

    class HalfGradient(tl.Function):
        """``x * w`` whose backward gives ``w`` half its gradient."""

        def forward(ctx, x, w):
            ctx.save_for_backward(x, w)
            return x * w

        def backward(ctx, grad_output):
            x, w = ctx.saved_tensors
            return grad_output * w, 0.5 * grad_output * x

    class Broken(example.MinimalGatedUnit):
        def __init__(self):
            super().__init__(2, 3, dtype=np.float64)
            self.scale = tl.nn.Parameter(np.array([0.5, -1.0, 2.0]))

        def forward(self, x, h):
            return super().forward(x, HalfGradient.apply(h, self.scale))

    tl.manual_seed(0)
    assert example.gradcheck_cell(example.MinimalGatedUnit(2, 3, dtype=np.float64)) > 0
    # inputs: x, h_0, then the parameters, the cell's own (scale) before its children's
    with pytest.raises(tl.GradcheckError, match="with respect to input 2"):
        example.gradcheck_cell(Broken())


# --------------------------------------------------------------------------- checkpoints
def test_char_lm_resume_equals_an_uninterrupted_run(tmp_path):
    checkpoint = tmp_path / "lm.npz"
    whole = chars.train(steps=24, **TINY_LM)
    first = chars.train(steps=10, checkpoint=checkpoint, checkpoint_every=4, **TINY_LM)
    assert chars.load_checkpoint(checkpoint)["step"] == 10
    resumed = chars.train(steps=24, checkpoint=checkpoint, resume=True, **TINY_LM)
    np.testing.assert_array_equal(first.losses, whole.losses[:10])
    assert resumed.start_step == 10
    np.testing.assert_array_equal(resumed.losses, whole.losses)
    for (name, ours), theirs in zip(resumed.model.state_dict().items(), whole.model.state_dict().values()):
        np.testing.assert_array_equal(ours, theirs, err_msg=name)
    assert resumed.sample == whole.sample
    assert chars.load_checkpoint(checkpoint)["step"] == 24


def test_char_lm_resume_checks_the_checkpoint(tmp_path):
    checkpoint = tmp_path / "lm.npz"
    chars.train(steps=4, checkpoint=checkpoint, **TINY_LM)
    with pytest.raises(ValueError, match=r"hidden=\(16, 32\)"):
        chars.train(steps=8, checkpoint=checkpoint, resume=True, **dict(TINY_LM, hidden=32))
    with pytest.raises(ValueError, match="vocabulary"):
        chars.train("abcabc" * 100, steps=8, checkpoint=checkpoint, resume=True, **TINY_LM)
    sampled = chars.train(steps=0, checkpoint=checkpoint, resume=True, **TINY_LM)
    assert sampled.start_step == 4 and len(sampled.losses) == 4 and len(sampled.sample) == 21


def test_char_lm_carries_the_state_between_chunks():
    """The state entering a chunk is the detached final state of the previous chunk."""
    model = chars.CharLM(5, embedding=3, hidden=4)
    ids = np.random.default_rng(0).integers(0, 5, (12, 2))
    whole, _ = model(ids)
    first, state = model(ids[:6])
    second, _ = model(ids[6:], tl.nn.detach_state(state))
    np.testing.assert_allclose(np.concatenate([first.data, second.data]), whole.data, rtol=1e-5, atol=1e-6)


def test_sampling_follows_the_temperature():
    tl.manual_seed(0)
    model = chars.CharLM(4, embedding=3, hidden=4)
    rng = np.random.default_rng
    cold = chars.sample(model, "abcd", 200, temperature=0.05, prime="a", rng=rng(1))
    hot = chars.sample(model, "abcd", 200, temperature=5.0, prime="a", rng=rng(1))
    assert chars.sample(model, "abcd", 50, 1.0, "a", rng(2)) == chars.sample(model, "abcd", 50, 1.0, "a", rng(2))
    assert len(set(cold[1:])) < len(set(hot[1:])) == 4
    with pytest.raises(ValueError, match="temperature"):
        chars.sample(model, "abcd", 5, temperature=0.0)


# --------------------------------------------------------------------------- the command line drives the same code
def test_cli_trains_the_chars_and_sine_tasks(tmp_path, capsys):
    argv = ["train", "--task", "chars", "--steps", "5", "--batch", "4", "--hidden", "8", "--sample-length", "10",
            "--no-progress"]
    assert cli_main(argv) == 0
    assert "after step 5" in capsys.readouterr().out
    out = tmp_path / "sine.png"
    argv = ["train", "--task", "sine", "--steps", "5", "--length", "8", "--no-progress", "--out", str(out)]
    assert cli_main(argv) == 0
    assert "after 5 steps" in capsys.readouterr().out and out.exists()


def test_hessian_eigenvalue_quick_matches_pytorch(capsys):
    assert load_example("hessian_eigenvalue").main(["--quick"]) == 0
    printed = capsys.readouterr().out
    mine = float(printed.split("tinygrad_lstm ")[1].split()[0])
    assert mine > 0
    if "PyTorch" in printed:
        theirs = float(printed.split("PyTorch ")[1].split()[0])
        assert abs(mine - theirs) <= 1e-10 * abs(theirs)


def test_meta_learning_quick_matches_pytorch_and_raises_the_learning_rate(capsys):
    assert load_example("meta_learning").main(["--quick"]) == 0
    printed = capsys.readouterr().out
    rows = [line.split() for line in printed.splitlines() if line.strip()[:1].isdigit()]
    rates = [float(row[1]) for row in rows]
    assert rates[-1] > rates[0]  # the learned rate grows from its too-small start
    if "PyTorch" in printed:
        mine = float(printed.split("d loss / d log_lr = ")[1].split()[0])
        theirs = float(printed.split("(PyTorch: ")[1].split(",")[0])
        assert abs(mine - theirs) <= 1e-10 * abs(theirs)
