"""tinygrad_lstm in a real Jupyter kernel: the reports, the benchmark results, graphs and plots
display as HTML tables, SVG and PNG; progress bars appear without tqdm's ipywidgets warning and
without touching the notebook's matplotlib backend.

One notebook is built with nbformat, executed once by nbclient on an ipykernel kernel, and each
test reads the display data of its cells.
"""
import base64
import importlib.util
import re
import shutil
import sys

import pytest

nbformat = pytest.importorskip("nbformat", reason="the notebook tests need the dev extras: pip install -e .[dev]")
nbclient = pytest.importorskip("nbclient", reason="the notebook tests need the dev extras: pip install -e .[dev]")
pytest.importorskip("ipykernel", reason="the notebook tests need the dev extras: pip install -e .[dev]")

from test_manual_course import learner_file  # noqa: E402  (tests/ is on sys.path)

HAS_DOT = shutil.which("dot") is not None
HAS_WIDGETS = importlib.util.find_spec("ipywidgets") is not None
PNG = b"\x89PNG\r\n\x1a\n"

# name -> the source of one cell; the tests look their outputs up by name
CELLS = {
    "setup": """
import sys, matplotlib
import numpy as np
import tinygrad_lstm as tl
from tinygrad_lstm.compare import builtin_reference
backend = matplotlib.get_backend()
print(sys.executable)
""",
    "report": """
gru = tl.nn.GRU(3, 4)
x = np.random.default_rng(0).standard_normal((4, 2, 3))
tl.compare_gradients(gru, x)
""",
    "failing_report": """
reference = builtin_reference(gru)
def off_by_one_percent(params, x, state, grad_outputs):
    grads = reference(params, x, state, grad_outputs)
    return {**grads, "weight_hh_l0": grads["weight_hh_l0"] * 1.01}
tl.compare_gradients(gru, x, manual=off_by_one_percent, torch_module=None)
""",
    "course_check": """
tl.manual.check_course_code(LEARNER, cells="lstm")
""",
    "bench": """
from tinygrad_lstm import bench
bench.run(quick=True, repeats=1, cells=["rnn"], progress=lambda row: None, bar=True)
""",
    "training": """
from tinygrad_lstm.tasks import adding
result = adding.train("rnn", steps=4, batch=4, hidden=3, T=5, test_size=8, eval_every=2)
""",
    "graph": """
lstm = tl.nn.LSTM(2, 3)
output, (h_n, c_n) = lstm(np.ones((3, 1, 2), np.float32))
dot = tl.viz.draw_graph([output, h_n, c_n], params=lstm)
dot
""",
    "render_graph": """
print(tl.viz.render_graph([output, h_n, c_n], "lstm_graph.dot", params=lstm))
""",
    "plot": """
from tinygrad_lstm.plots import plot_learning_curves
curves = {"RNN": {"train": np.linspace(1, 0.2, 50), "test": (np.array([0, 25, 50]), [1.0, 0.3, 0.2])}}
plot_learning_curves(curves, baseline=1 / 6)
""",
    "diagnosis": """
tl.viz.diagnose_bptt(tl.nn.LSTM(2, 3), np.ones((4, 1, 2)))
""",
    "backend_after": """
print(matplotlib.get_backend() == backend, "matplotlib.pyplot" in sys.modules)
""",
}


@pytest.fixture(scope="module")
def notebook(tmp_path_factory):
    """The executed notebook: ``{cell name: outputs}``."""
    directory = tmp_path_factory.mktemp("notebook")
    learner = learner_file(directory, "coursera", "    dc_prev = dc * ft\n", "    dc_prev = dc\n")
    sources = dict(CELLS, course_check=CELLS["course_check"].replace("LEARNER", repr(str(learner))))
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source.strip()) for source in sources.values()]
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(directory)}}).execute()
    nbformat.validate(nb)
    return {name: cell.outputs for name, cell in zip(sources, nb.cells)}, directory


def result(outputs) -> dict:
    """The MIME bundle a cell displayed as its value."""
    bundles = [output["data"] for output in outputs if output["output_type"] in ("execute_result", "display_data")]
    assert len(bundles) == 1, outputs
    return bundles[0]


def stream(outputs, name: str) -> str:
    return "".join(output["text"] for output in outputs if output["output_type"] == "stream" and output["name"] == name)


def test_the_kernel_runs_this_python(notebook):
    outputs, _ = notebook
    assert stream(outputs["setup"], "stdout").strip() == sys.executable


def test_gradient_report_is_a_table_with_a_short_repr(notebook):
    outputs, _ = notebook
    data = result(outputs["report"])
    assert set(data) == {"text/html", "text/plain"}
    html = data["text/html"]
    assert html.count("<tr>") == 2 + 6  # two header rows, one per tensor: 3 parameters of each kind, x, h0
    assert "<td>weight_hh_l0</td>" in html and "<td>h0</td>" in html and "all agree" in html
    assert "FAIL" not in html and "background-color" not in html
    assert data["text/plain"].startswith("<GradientReport of GRU(3, 4), float64: all agree")
    assert len(data["text/plain"]) < 200 and "\n" not in data["text/plain"]


def test_failing_rows_of_a_gradient_report_are_highlighted(notebook):
    outputs, _ = notebook
    data = result(outputs["failing_report"])
    highlighted = re.findall(r'<tr style="background-color:#fdd"><td>(\w+)</td>', data["text/html"])
    assert highlighted == ["weight_hh_l0"] and "FAIL" in data["text/html"]
    assert "DISAGREE: 1 of" in data["text/plain"] and "weight_hh_l0 (manual)" in data["text/plain"]


def test_course_check_is_a_table_with_the_wrong_functions_highlighted(notebook):
    outputs, _ = notebook
    data = result(outputs["course_check"])
    assert "<table>" in data["text/html"] and "background-color:#fdd" in data["text/html"]
    assert "lstm_cell_backward" in data["text/html"]
    assert data["text/plain"].startswith("CourseCheck(layout='coursera', correct=False")


def test_benchmark_results_are_a_table_and_show_progress(notebook):
    outputs, _ = notebook
    data = result(outputs["bench"])
    assert data["text/html"].count("<tr") == 1 + 2  # the header, rnn in float32 and float64
    assert "quick run: targets not judged" in data["text/html"]
    assert data["text/plain"] == "Results(2 timings, quick=True, not judged)"
    assert_progress_shown(outputs["bench"], "bench")


def test_training_progress_without_the_ipywidgets_warning(notebook):
    outputs, _ = notebook
    assert_progress_shown(outputs["training"], "4/4")


def assert_progress_shown(outputs, text: str):
    errors = stream(outputs, "stderr")
    assert "IProgress" not in errors and "Warning" not in errors
    if HAS_WIDGETS:
        assert any("application/vnd.jupyter.widget-view+json" in output.get("data", {}) for output in outputs)
    else:  # tqdm's text bars, which a notebook redraws in place
        assert text in errors and "\r" in errors


@pytest.mark.skipif(not HAS_DOT, reason="Graphviz's dot program is not installed")
def test_draw_graph_displays_inline_as_svg(notebook):
    outputs, _ = notebook
    data = result(outputs["graph"])
    assert "image/svg+xml" in data
    svg = data["image/svg+xml"]
    assert "<svg" in svg and "weight_hh_l0" in svg and "t=2" in svg


def test_render_graph_still_returns_the_path(notebook):
    outputs, directory = notebook
    printed = stream(outputs["render_graph"], "stdout").strip()
    assert printed == "lstm_graph.dot" and "digraph" in (directory / printed).read_text()


def test_plots_display_inline_and_leave_the_backend_alone(notebook):
    outputs, _ = notebook
    data = result(outputs["plot"])
    assert base64.b64decode(data["image/png"]).startswith(PNG)
    assert data["text/plain"].startswith("<InlineFigure size")
    assert stream(outputs["backend_after"], "stdout").split() == ["True", "False"]


def test_bptt_diagnosis_is_a_table_with_a_short_repr(notebook):
    outputs, _ = notebook
    data = result(outputs["diagnosis"])
    assert data["text/html"].count("<table>") == 1 and data["text/html"].count("<tr><td>") == 4
    assert "<th>sat f</th>" in data["text/html"]
    assert data["text/plain"].startswith("<BPTTDiagnosis: 4 steps") and len(data["text/plain"]) < 200
