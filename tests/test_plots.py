"""tl.plots: the gradient-flow plot of any model, stacked and bidirectional ones included."""
import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm import plots
from tinygrad_lstm.tasks import adding

PNG = b"\x89PNG\r\n\x1a\n"


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
