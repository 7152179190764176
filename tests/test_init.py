"""`import tinygrad_lstm`: the package's namespace, and numpy as its only import from outside the standard library."""
import subprocess
import sys

import tinygrad_lstm as tl

# Top-level packages of the modules loaded by `import tinygrad_lstm` (after the standard library);
# modules without a file (made at run time by compiled extensions, such as Cython's) are skipped.
IMPORTS = """
import sys
before = set(sys.modules)
import tinygrad_lstm{extra}
added = {{name.partition(".")[0] for name in set(sys.modules) - before
          if getattr(sys.modules[name], "__file__", None) is not None}}
print(" ".join(sorted(added - set(sys.stdlib_module_names))))
"""


def _third_party_imports(extra: str = "") -> list:
    done = subprocess.run([sys.executable, "-c", IMPORTS.format(extra=extra)], capture_output=True, text=True,
                          check=True)
    return done.stdout.split()


def test_import_loads_numpy_and_nothing_else_from_outside_the_standard_library():
    assert _third_party_imports() == ["numpy", "tinygrad_lstm"]


def test_the_check_sees_an_import_from_outside_the_standard_library():
    assert _third_party_imports("\nimport tqdm") == ["numpy", "tinygrad_lstm", "tqdm"]


def test_public_names_and_version():
    assert tl.__version__ == "0.1.0"
    assert all(hasattr(tl, name) for name in tl.__all__)
    assert tl.compare_gradients is tl.compare.compare_gradients and tl.GradientReport is tl.compare.GradientReport
