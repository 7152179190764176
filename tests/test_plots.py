"""tl.plots: learning curves, the gradient flow of any model (stacked and bidirectional included), and
the plots of a `diagnose_bptt` diagnosis: figures or PNG files, drawn from the numbers."""
import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm import plots
from tinygrad_lstm.plots import plot_bptt_gradients, plot_contributions, plot_gate_heatmaps
from tinygrad_lstm.tasks import adding
from tinygrad_lstm.viz.bptt import saturated

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def diagnosis():
    tl.manual_seed(0)
    lstm = tl.nn.LSTM(3, 6, num_layers=2)
    for p in lstm.parameters():
        p.data = p.data * 4  # saturated gates to mark
    return tl.viz.diagnose_bptt(lstm, np.random.default_rng(0).standard_normal((9, 3, 3)))


def test_each_plot_returns_a_figure_or_writes_a_png(diagnosis, tmp_path):
    from matplotlib.figure import Figure
    for plot in (plot_bptt_gradients, plot_contributions, plot_gate_heatmaps):
        assert isinstance(plot(diagnosis), Figure)
        path = plot(diagnosis, tmp_path / "sub" / f"{plot.__name__}.png")
        assert path.read_bytes().startswith(PNG)


def test_gradient_plot_draws_one_line_per_sequence_and_panel(diagnosis):
    fig = plot_bptt_gradients(diagnosis)
    left, right = fig.axes
    assert [line.get_label() for line in left.lines] == ["l0", "l1"]
    np.testing.assert_allclose(left.lines[1].get_ydata(), diagnosis.grad_h["l1"])
    np.testing.assert_allclose(right.lines[0].get_ydata(), diagnosis.jacobian_norm["l0"])
    assert left.get_yscale() == right.get_yscale() == "log"


def test_contribution_heatmap_shows_each_steps_share(diagnosis):
    fig = plot_contributions(diagnosis)
    image = fig.axes[0].images[0].get_array()
    norms = diagnosis.contribution_norms()
    assert image.shape == (len(norms), diagnosis.steps)
    row = list(norms).index("weight_hh_l0")
    np.testing.assert_allclose(image[row, 1:], norms["weight_hh_l0"][1:] / norms["weight_hh_l0"].sum())
    assert np.ma.getmaskarray(image)[row, 0] or np.isnan(image[row, 0])  # exactly zero at t=0: drawn grey


def test_gate_heatmaps_mark_the_saturated_units(diagnosis):
    fig = plot_gate_heatmaps(diagnosis, sequence="l1", batch_index=2)
    panels = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title().split(" ")[0] for ax in panels] == ["i", "f", "g", "o"]
    for ax, (name, values) in zip(panels, diagnosis.gates["l1"].items()):
        picture = values[:, 2, :].T
        np.testing.assert_array_equal(ax.images[0].get_array(), picture)
        marked = sum(len(c.get_offsets()) for c in ax.collections)
        assert marked == saturated(picture, diagnosis.gate_functions["l1"][name]).sum()
    assert sum(len(c.get_offsets()) for ax in panels for c in ax.collections) > 0


def test_gate_heatmap_errors(diagnosis):
    with pytest.raises(KeyError, match="no gates for sequence 'l7'"):
        plot_gate_heatmaps(diagnosis, sequence="l7")
    with pytest.raises(IndexError, match="batch_index 3 is out of range for a batch of 3"):
        plot_gate_heatmaps(diagnosis, batch_index=3)


def test_a_stacked_bidirectional_flow_is_drawn_one_line_per_layer_and_direction(tmp_path):
    tl.manual_seed(0)
    model = adding.AddingModel(tl.nn.PeepholeLSTMCell(2, 3), layers=2, bidirectional=True)
    x, y = adding.make_batch(2, 6, np.random.default_rng(0))
    flow = adding.gradient_flow(model, x, y)
    flows = {"Peephole": {"at initialisation": flow}, "RNN": {"at initialisation": np.geomspace(1e-9, 1, 6)}}
    lines = plots._flow_lines(flows)
    assert list(lines) == ["Peephole l0", "Peephole l0_reverse", "Peephole l1", "Peephole l1_reverse", "RNN"]
    np.testing.assert_array_equal(lines["Peephole l1_reverse"]["at initialisation"], flow["l1_reverse"])
    assert plots.plot_gradient_flow(flows, tmp_path / "flow.png").read_bytes().startswith(PNG)


def test_norms_must_be_one_value_per_step(tmp_path):
    with pytest.raises(ValueError, match=r"plot_gradient_flow: the norms of 'GRU', 'init', 'l0' must be one value "
                                         r"per step \(T,\), got shape \(2, 3\)"):
        plots.plot_gradient_flow({"GRU": {"init": {"l0": np.ones((2, 3))}}}, tmp_path / "flow.png")
    assert not (tmp_path / "flow.png").exists()


# --------------------------------------------------------------------------- learning curves and gradient flow
def test_plots_write_pngs_or_return_figures(tmp_path):
    from matplotlib.figure import Figure
    from tinygrad_lstm.plots import plot_gradient_flow, plot_learning_curves
    steps = np.arange(0, 101, 50)
    curves = {"RNN": {"train": np.linspace(1, 0.2, 100), "test": (steps, [1.0, 0.3, 0.2])},
              "LSTM": {"test": (steps, [1.0, 0.1, 0.001])}}
    path = plot_learning_curves(curves, tmp_path / "sub" / "curves.png", baseline=1 / 6, target=0.01)
    assert path == tmp_path / "sub" / "curves.png" and path.read_bytes().startswith(PNG)
    figure = plot_learning_curves(curves, baseline=1 / 6)
    assert isinstance(figure, Figure)
    assert [line.get_label() for line in figure.axes[0].lines][:2] == ["RNN: training batch (running mean of 20)",
                                                                     "RNN: test set"]
    flows = {"RNN": {"init": np.geomspace(1e-30, 1, 10), "trained": np.r_[np.zeros(3), np.geomspace(1e-3, 1, 7)]}}
    assert plot_gradient_flow(flows, tmp_path / "flow.png").read_bytes().startswith(PNG)
    figure = plot_gradient_flow(flows)  # no path: nothing written, the figure shows inline in a notebook
    assert len(figure.axes) == 2 and figure._repr_png_().startswith(PNG)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["flow.png", "sub"]
