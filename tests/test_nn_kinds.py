"""tl.nn.kinds: the registry of recurrent kinds, its records, registering and loading kinds."""
import textwrap

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm.nn import kinds
from tinygrad_lstm.nn.kinds import FusedReference, RecurrentKind, get_kind, kind_of, register_kind


class ToyCell(tl.nn.Module):
    """h' = tanh(x W^T + h U^T): the smallest cell of the Recurrent protocol."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.weight_ih = tl.nn.Parameter(np.full((hidden_size, input_size), 0.1, np.float32))
        self.weight_hh = tl.nn.Parameter(np.full((hidden_size, hidden_size), -0.2, np.float32))

    def init_state(self, batch_size):
        return tl.Tensor(np.zeros((batch_size, self.hidden_size), self.weight_ih.dtype))

    def forward(self, x, h):
        return (x @ self.weight_ih.T + h @ self.weight_hh.T).tanh()


@pytest.fixture
def toy_kind():
    kind = register_kind("toy", ToyCell, gates=("h",), states=("h",))
    yield kind
    kinds.unregister_kind("toy")


def test_builtin_records_agree_with_their_modules():
    assert kinds.kind_names()[:3] == ("rnn", "lstm", "gru")
    for name in ("rnn", "lstm", "gru"):
        kind = get_kind(name)
        assert kind.name == name and kind.title == kind.sequence.__name__ == name.upper()
        assert kind.num_gates == kind.cell.num_gates == kind.sequence.num_gates
        assert len(kind.states) == kind.sequence.state_size
        assert kind.manual is not None and kind.torch_name == kind.sequence.__name__
        assert get_kind(kind) is kind


@pytest.mark.parametrize("name", ["rnn", "lstm", "gru"])
def test_manual_reference_of_a_record_matches_autograd(name):
    """The record's forward/backward calling convention gives autograd's gradients for one layer."""
    kind = get_kind(name)
    tl.manual_seed(1)
    module = kind.build(3, 4, dtype=np.float64)
    x = np.random.default_rng(0).standard_normal((5, 2, 3))
    state = module.init_state(2)
    parts = state if isinstance(state, tuple) else (state,)
    weights = [getattr(module, f"{w}_l0").data for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    options = {option: getattr(module, option) for option in kind.options}
    output, _, cache = kind.manual.forward(x, *(p.data[0] for p in parts), *weights, **options)
    grads = kind.manual.backward(np.ones_like(output), *(None for _ in parts), cache)
    assert sorted(grads) == sorted(["x", *(f"{s}0" for s in kind.states), "weight_ih", "weight_hh", "bias_ih",
                                    "bias_hh"])
    inputs = tl.Tensor(x, requires_grad=True)
    module(inputs)[0].sum().backward()
    np.testing.assert_allclose(grads["weight_hh"], module.weight_hh_l0.grad, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grads["x"], inputs.grad, rtol=1e-10, atol=1e-12)


def test_torch_twin_names_exist_and_share_parameter_names():
    torch = pytest.importorskip("torch")
    for name in kinds.kind_names():
        kind = get_kind(name)
        if kind.torch_name is None:
            continue
        ours = kind.build(3, 4, num_layers=2, bidirectional=True)
        theirs = getattr(torch.nn, kind.torch_name)(3, 4, num_layers=2, bidirectional=True)
        assert list(ours.state_dict()) == list(theirs.state_dict())
        cell = getattr(torch.nn, kind.torch_name + "Cell")(3, 4)
        assert list(kind.make_cell(3, 4).state_dict()) == list(cell.state_dict())


def test_build_passes_sizes_layers_direction_and_dtype():
    gru = get_kind("gru").build(3, 5, num_layers=2, bidirectional=True, dtype=np.float64)
    assert type(gru) is tl.nn.GRU and (gru.num_layers, gru.bidirectional, gru.dtype) == (2, True, np.float64)
    cell = get_kind("rnn").make_cell(2, 3, np.float64, nonlinearity="relu")
    assert type(cell) is tl.nn.RNNCell and cell.nonlinearity == "relu" and cell.weight_hh.dtype == np.float64


def test_a_registered_kind_is_listed_built_and_found(toy_kind):
    assert kinds.kind_names()[-1] == "toy" and get_kind("toy") is toy_kind
    assert toy_kind.title == "Toy" and toy_kind.manual is None and toy_kind.torch_name is None
    module = toy_kind.build(3, 4, dtype=np.float64)
    assert type(module) is tl.nn.Recurrent and type(module.cell) is ToyCell
    assert module.cell.weight_ih.dtype == np.float64
    output, h = module(np.ones((5, 2, 3)))
    assert output.shape == (5, 2, 4) and h.shape == (2, 4)
    assert kind_of(module) is toy_kind and kind_of(module.cell) is toy_kind
    deep = toy_kind.build(3, 4, num_layers=2, bidirectional=True)
    assert deep.num_layers == 2 and deep.bidirectional and kind_of(deep) is toy_kind
    assert [name for name, _ in deep.named_parameters()][:3] == ["weight_ih_l0", "weight_hh_l0", "weight_ih_l0_reverse"]
    assert all(type(cell) is ToyCell for directions in deep.cells for cell in directions)


def test_a_sequence_factory_builds_the_sequence_module():
    def two_cells(input_size, hidden_size, num_layers, bidirectional, dtype):
        return tl.nn.Sequential(tl.nn.Recurrent(ToyCell(input_size, hidden_size).to(dtype)))

    kind = register_kind("toy_seq", ToyCell, sequence=two_cells)
    try:
        assert type(kind.build(2, 3, num_layers=3)) is tl.nn.Sequential
    finally:
        kinds.unregister_kind("toy_seq")
    assert "toy_seq" not in kinds.kind_names()


def test_kind_of_is_exact():
    assert kind_of(tl.nn.LSTM(2, 3)) is get_kind("lstm")
    assert kind_of(tl.nn.GRUCell(2, 3)) is get_kind("gru")
    assert kind_of(tl.nn.Recurrent(tl.nn.RNNCell(2, 3))) is get_kind("rnn")

    class MyLSTM(tl.nn.LSTM):
        pass
    assert kind_of(MyLSTM(2, 3)) is None  # a subclass may change the math
    assert kind_of(tl.nn.Linear(2, 3)) is None
    assert kind_of(tl.nn.Recurrent(ToyCell(2, 3))) is None
    lazy = tl.nn.Recurrent(lambda input_size: tl.nn.GRUCell(input_size, 3))
    assert kind_of(lazy) is None  # no cells before the first call
    lazy(np.ones((2, 1, 4)))
    assert kind_of(lazy) is get_kind("gru")


@pytest.mark.parametrize("name, error, match", [
    ("lstm", ValueError, "'lstm' is already registered"),
    ("", ValueError, "non-empty string"),
    ("my:cell", ValueError, "without ':'"),
    ("a,b", ValueError, "without ':'"),
])
def test_register_rejects_bad_names(name, error, match):
    before = kinds.kind_names()
    with pytest.raises(error, match=match):
        register_kind(name, ToyCell)
    assert kinds.kind_names() == before


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(cell=tl.nn.Linear), TypeError, "bad: cell must be a tl.nn.Module subclass with init_state"),
    (dict(cell=ToyCell(2, 3)), TypeError, "cell must be a tl.nn.Module subclass"),
    (dict(cell=ToyCell, sequence=3), TypeError, "sequence must be callable"),
    (dict(cell=ToyCell, manual=(np.tanh, np.tanh)), TypeError, "manual must be a FusedReference"),
    (dict(cell=ToyCell, gates="ifgo"), TypeError, "gates must be a sequence of strings"),
    (dict(cell=ToyCell, torch_name=1), TypeError, "torch_name must be a string"),
    (dict(cell=ToyCell, manual=FusedReference(np.tanh, np.tanh)), ValueError, "must name its states"),
])
def test_register_rejects_bad_records(kwargs, error, match):
    with pytest.raises(error, match=match):
        register_kind("bad", **kwargs)
    assert "bad" not in kinds.kind_names()


def test_get_kind_errors():
    with pytest.raises(KeyError, match="get_kind: unknown recurrent kind 'lstn'; registered: rnn, lstm, gru"):
        get_kind("lstn")
    with pytest.raises(TypeError, match="get_kind: expected a recurrent kind name, a RecurrentKind or a cell class, "
                                        "got int"):
        get_kind(3)
    with pytest.raises(TypeError, match=f"get_kind: {__name__}:test_get_kind_errors.<locals>.NotACell: "
                                        "cell must be a tl.nn.Module subclass"):
        class NotACell:
            pass
        get_kind(NotACell)
    with pytest.raises(KeyError, match="unregister_kind: no recurrent kind 'nope'"):
        kinds.unregister_kind("nope")


def test_module_colon_class_loads_a_cell_a_record_or_a_registered_cell(tmp_path, monkeypatch, toy_kind):
    (tmp_path / "user_cells.py").write_text(textwrap.dedent("""
        import tinygrad_lstm as tl
        from tinygrad_lstm.nn.kinds import RecurrentKind

        class MinimalCell(tl.nn.RNNCell):
            pass

        KIND = RecurrentKind("minimal", MinimalCell, gates=("h",), states=("h",))
        NOT_A_CELL = 3
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    loaded = get_kind("user_cells:MinimalCell")
    assert isinstance(loaded, RecurrentKind) and loaded.name == "user_cells:MinimalCell"
    assert loaded.cell.__name__ == "MinimalCell" and loaded.title == "Minimal"
    assert "user_cells:MinimalCell" not in kinds.kind_names()  # loading does not register
    assert get_kind("user_cells:KIND").name == "minimal"
    assert get_kind(f"{__name__}:ToyCell") is toy_kind  # a registered cell class is its kind
    with pytest.raises(ImportError, match="cannot import 'no_such_module'"):
        get_kind("no_such_module:Cell")
    with pytest.raises(ImportError, match="module 'user_cells' has no attribute 'Missing'"):
        get_kind("user_cells:Missing")
    with pytest.raises(TypeError, match="cell must be a tl.nn.Module subclass"):
        get_kind("user_cells:NOT_A_CELL")
    with pytest.raises(ImportError, match="not of the form module:Class"):
        get_kind("user_cells:")


def test_a_cell_class_is_its_registered_kind_or_a_record_of_its_own(toy_kind):
    assert get_kind(ToyCell) is toy_kind and get_kind(tl.nn.LSTMCell) is get_kind(tl.nn.LSTM) is get_kind("lstm")

    class Elman(ToyCell):
        pass

    record = get_kind(Elman)
    assert record.cell is Elman and record.name == f"{__name__}:{Elman.__qualname__}" and record.title == "Elman"
    assert record.name not in kinds.kind_names() and record.manual is None and record.torch_name is None


def test_build_module_from_every_spec(toy_kind):
    tl.manual_seed(0)
    assert type(kinds.build_module("gru", 2, 3, num_layers=2)) is tl.nn.GRU
    assert type(kinds.build_module(toy_kind, 2, default_hidden_size=4).cell) is ToyCell
    by_class = kinds.build_module(tl.nn.PeepholeLSTMCell, 2, 3, bidirectional=True, dtype=np.float64)
    assert by_class.cells[0][1].weight_ci.dtype == np.float64 and by_class.hidden_size == 3
    cell = ToyCell(2, 5)
    stacked = kinds.build_module(cell, 2, num_layers=2, dtype=np.float64)
    assert stacked.cells[0][0] is cell and cell.weight_hh.dtype == np.float64  # used as is, cast in place
    assert stacked.cells[1][0].input_size == 5 and stacked.hidden_size == 5
    lstm = tl.nn.LSTM(2, 3, num_layers=2)
    assert kinds.build_module(lstm, 2, 3, num_layers=2) is lstm
    made = kinds.build_module(lambda size: tl.nn.GRUCell(size, 4), 2, bidirectional=True)
    assert [type(c) for c in made.cells[0]] == [tl.nn.GRUCell] * 2 and made.cells[0][1].input_size == 2
    assert kinds.module_kind(made) is get_kind("gru") and kinds.module_kind(stacked) is toy_kind


def test_module_kind_of_an_unregistered_cell_is_its_class_record():
    module = kinds.build_module(ToyCell(2, 3), 2)
    assert kinds.kind_of(module) is None and kinds.module_kind(module).cell is ToyCell
    with pytest.raises(TypeError, match="module_kind: expected a recurrent sequence module, got Linear"):
        kinds.module_kind(tl.nn.Linear(2, 3))


@pytest.mark.parametrize("spec, kwargs, error, match", [
    ("nope", {"hidden_size": 3}, ValueError, "build_module: unknown recurrent kind 'nope'"),
    ("no_such_module:Cell", {"hidden_size": 3}, ValueError, "build_module: cannot import 'no_such_module'"),
    ("lstm", {}, TypeError, "build_module: hidden_size must be an integer, got NoneType"),
    (ToyCell(3, 4), {}, ValueError, "build_module: the ToyCell given has input_size=3, expected 2"),
    (ToyCell(2, 4), {"hidden_size": 5}, ValueError, "build_module: the ToyCell given has hidden_size=4, expected 5"),
    (tl.nn.LSTM(2, 3), {"num_layers": 2}, ValueError, "the module given has num_layers=1, bidirectional=False; "
                                                      "asked for num_layers=2"),
    (lambda size: tl.nn.GRUCell(size, 4), {"hidden_size": 3}, ValueError, "the function given has hidden_size=4"),
    (lambda size: 3, {}, TypeError, "Recurrent: a cell must be a tl.nn.Module, got int"),
    (tl.nn.Linear(2, 3), {}, TypeError, "build_module: cell Linear lacks forward|init_state"),
    (3, {}, TypeError, "build_module: expected a recurrent kind, a cell class, a cell, a sequence module or a "
                       "factory input_size -> cell, got int"),
])
def test_build_module_errors(spec, kwargs, error, match):
    with pytest.raises(error, match=match):
        kinds.build_module(spec, 2, **kwargs)


@pytest.mark.parametrize("cell", [tl.nn.PeepholeLSTMCell, tl.nn.LayerNormLSTMCell])
def test_reference_cells_as_kinds_work_in_every_tool(cell):
    """A kind with no hand-written reference and no PyTorch twin: numerical checks, autograd timings."""
    from tinygrad_lstm import bench
    from tinygrad_lstm.tasks import adding

    kind = register_kind("reference_cell", cell, gates=("i", "f", "g", "o"), states=("h", "c"))
    try:
        tl.manual_seed(0)
        report = tl.compare_gradients(kind.build(2, 3, num_layers=2), np.random.default_rng(0).standard_normal((3, 2, 2)),
                                      numerical_elements=3)
        assert report.ok and list(report.references) == ["numerical"]
        timing = bench.time_config("reference_cell", (4, 2, 2, 3), np.float64, repeats=1)
        assert timing.fused is None and timing.torch is None and timing.ratio is None and timing.autograd > 0
        roots, module = tl.viz.unrolled_graph("reference_cell", steps=2, layers=2, bidirectional=True)
        assert len(roots) == 3 and type(module.cells[1][1]) is cell
        model = adding.AddingModel("reference_cell", 3)
        x, y = adding.make_batch(2, 4, np.random.default_rng(1))
        assert adding.gradient_flow(model, x, y).shape == (4,)
    finally:
        kinds.unregister_kind("reference_cell")
