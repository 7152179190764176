"""tests/conftest.py: the summary of a run without PyTorch says why tests were skipped and how to run them."""
import os


def test_without_torch_the_summary_says_once_why_tests_were_skipped_and_how_to_run_them(tmp_path):
    """torch made unimportable in a fresh pytest run over a few test files that use it as their oracle."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    run = ("import sys; sys.modules['torch'] = None; import pytest; "
           "sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', 'tests/reference/test_reference_torch.py', "
           "'tests/test_optim.py']))")
    done = subprocess.run([sys.executable, "-c", run], cwd=root, capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, PYTHONPATH=str(root)))
    assert done.returncode == 0, done.stdout[-2000:]
    skipped = int(done.stdout.split(" skipped in ")[0].split()[-1])  # "51 passed, 53 skipped in 3.2s"
    assert skipped > 1
    note = (f"{skipped} skipped because PyTorch is not installed (the oracle of the module, optimiser and gradient "
            f"tests); to run them: pip install torch==2.13.0")
    assert done.stdout.count("PyTorch is not installed") == 1 and note in done.stdout
