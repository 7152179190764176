"""`tl.nn.Recurrent`: the cell protocol, any cell stacked in layers and directions (equal to the
built-in modules and to PyTorch on their cells), variable lengths, dropout between layers,
variational dropout, zoneout, names, dtypes, errors."""
import warnings

import numpy as np
import pytest

import tinygrad_lstm as tl
from module_checks import gradcheck_module

T, B, D, H = 5, 3, 4, 3
KINDS = ["RNN", "LSTM", "GRU"]


# --------------------------------------------------------------------------- helpers
def flat(state):
    return list(state) if isinstance(state, tuple) else [state]


def forward_backward(model, x, state=None, lengths=None, seed=3):
    """Outputs, final state, and gradients of a random linear loss, as a dict of arrays."""
    x = tl.Tensor(x, requires_grad=True)
    initial = None if state is None else [tl.Tensor(s, requires_grad=True) for s in state]
    output, final = model(x, None if initial is None else (tuple(initial) if len(initial) > 1 else initial[0]),
                          lengths=lengths)
    rng = np.random.default_rng(seed)
    results = [output, *flat(final)]
    sum((r * rng.standard_normal(r.shape)).sum() for r in results).backward()
    arrays = {f"result{k}": r.data for k, r in enumerate(results)}
    arrays.update({f"{name}.grad": p.grad for name, p in model.named_parameters()}, x=x.grad)
    arrays.update({f"state{k}.grad": s.grad for k, s in enumerate(initial or [])})
    return arrays


def assert_same(ours, theirs, atol=1e-12):
    assert ours.keys() == theirs.keys()
    for key in theirs:
        assert ours[key] is not None and ours[key].shape == theirs[key].shape, key
        np.testing.assert_allclose(ours[key], theirs[key], rtol=0, atol=atol, err_msg=key)


class ConcatPeepholeCell(tl.nn.Module):
    """A user cell (not the package's): gates from one Linear on [x, h], peepholes on c."""

    def __init__(self, input_size, hidden_size, dtype=np.float64):
        super().__init__()
        self.input_size, self.hidden_size, self.dtype = input_size, hidden_size, np.dtype(dtype)
        self.gates = tl.nn.Linear(input_size + hidden_size, 4 * hidden_size, dtype=dtype)
        self.peephole = tl.nn.Parameter(tl.default_generator().standard_normal((3, hidden_size)), dtype=dtype)

    def init_state(self, batch_size):
        zeros = tl.zeros(batch_size, self.hidden_size, dtype=self.dtype)
        return zeros, zeros

    def forward(self, x, state):
        h, c = state
        i, f, g, o = self.gates(tl.concat([x, h], axis=1)).chunk(4, axis=1)
        p_i, p_f, p_o = self.peephole.unbind(0)
        c = (f + p_f * c).sigmoid() * c + (i + p_i * c).sigmoid() * g.tanh()
        return (o + p_o * c).sigmoid() * c.tanh(), c


class Recording(tl.nn.Module):
    """Wraps a cell and records what it was fed and what it returned at every step."""

    def __init__(self, cell):
        super().__init__()
        self.inner = cell
        self.input_size, self.hidden_size = cell.input_size, cell.hidden_size
        self.fed, self.returned = [], []

    def init_state(self, batch_size):
        return self.inner.init_state(batch_size)

    def forward(self, x, state):
        new = self.inner(x, state)
        self.fed.append((x.data.copy(), [s.data.copy() for s in flat(state)]))
        self.returned.append([s.data.copy() for s in flat(new)])
        return new


# --------------------------------------------------------------------------- the cell protocol
def test_the_module_moved_but_its_old_import_works():
    from tinygrad_lstm.nn.recurrent import Recurrent
    from tinygrad_lstm.nn.rnn import Recurrent as old
    assert old is Recurrent is tl.nn.Recurrent


def _cell_without(*missing):
    """A cell class lacking the named parts of the protocol."""
    namespace = {}

    def __init__(self):
        tl.nn.Module.__init__(self)
        if "input_size" not in missing:
            self.input_size = 2
        if "hidden_size" not in missing:
            self.hidden_size = 3

    namespace["__init__"] = __init__
    if "forward" not in missing:
        namespace["forward"] = lambda self, x, h: h
    if "init_state" not in missing:
        namespace["init_state"] = lambda self, batch_size: tl.zeros(batch_size, 3)
    return type("Broken", (tl.nn.Module,), namespace)()


@pytest.mark.parametrize("missing", [("forward",), ("init_state",), ("hidden_size",), ("input_size",),
                                     ("forward", "input_size")])
def test_a_cell_breaking_the_protocol_is_a_type_error_naming_what_is_missing(missing):
    with pytest.raises(TypeError, match="Recurrent: cell Broken lacks") as error:
        tl.nn.Recurrent(_cell_without(*missing))
    for name in missing:
        assert name in str(error.value).split(";")[0]
    present = {"forward", "init_state", "hidden_size", "input_size"} - set(missing)
    assert not any(name in str(error.value).split(";")[0] for name in present)


def test_the_protocol_is_checked_for_factory_cells_and_other_types():
    with pytest.raises(TypeError, match="Recurrent: cell Broken lacks init_state"):
        tl.nn.Recurrent(lambda size: _cell_without("init_state"), input_size=2)
    with pytest.raises(TypeError, match="Recurrent: cell Linear lacks init_state"):
        tl.nn.Recurrent(tl.nn.Linear(2, 2))
    with pytest.raises(TypeError, match="expected a cell .* or a factory"):
        tl.nn.Recurrent("lstm")
    cell = _cell_without()
    cell.hidden_size = 2.5
    with pytest.raises(TypeError, match="lacks hidden_size"):
        tl.nn.Recurrent(cell)


def test_a_cell_class_needing_more_than_input_size_is_a_type_error_at_construction():
    with pytest.raises(TypeError, match=r"^Recurrent: got the class LSTMCell, .*Recurrent\(LSTMCell\(input_size, hidden_size"):
        tl.nn.Recurrent(tl.nn.LSTMCell)

    class OneArgument(tl.nn.LSTMCell):  # a class built from input_size alone is a factory
        def __init__(self, input_size):
            super().__init__(input_size, H, dtype=np.float64)

    output, _ = tl.nn.Recurrent(OneArgument)(np.zeros((2, 1, D)))
    assert output.shape == (2, 1, H)


def test_a_factory_without_input_size_builds_the_cells_at_the_first_call():
    tl.manual_seed(0)
    lazy = tl.nn.Recurrent(lambda size: tl.nn.LSTMCell(size, H, dtype=np.float64), num_layers=2,
                           bidirectional=True)
    assert list(lazy.parameters()) == []
    with pytest.raises(RuntimeError, match="built by the first call"):
        lazy.init_state(2)
    x = tl.randn(5, 2, D)
    output, (h_n, c_n) = lazy(x)
    assert lazy.input_size == D and output.shape == (5, 2, 2 * H) and h_n.shape == (4, 2, H)
    reference = tl.nn.LSTM(D, H, num_layers=2, bidirectional=True, dtype=np.float64)
    reference.load_state_dict(lazy.state_dict())
    np.testing.assert_allclose(reference(x)[0].data, output.data, rtol=1e-13)
    assert len(list(lazy.parameters())) == len(list(reference.parameters()))


def test_factories_must_build_matching_cells():
    with pytest.raises(ValueError, match="layer 1 needs input_size=6, the factory made one with input_size=4"):
        tl.nn.Recurrent(lambda size: tl.nn.LSTMCell(D, H), input_size=D, num_layers=2, bidirectional=True)
    sizes = iter([3, 5])
    with pytest.raises(ValueError, match="same hidden_size"):
        tl.nn.Recurrent(lambda size: tl.nn.GRUCell(size, next(sizes)), input_size=D, num_layers=2)
    with pytest.raises(ValueError, match="input_size=5 differs from the cell's input_size=4"):
        tl.nn.Recurrent(tl.nn.GRUCell(D, H), input_size=5)


# --------------------------------------------------------------------------- one cell (the defaults)
def test_one_cell_keeps_its_names_shapes_and_scopes():
    model = tl.nn.Recurrent(ConcatPeepholeCell(2, 3), batch_first=True)
    assert [name for name, _ in model.named_parameters()] == ["cell.peephole", "cell.gates.weight",
                                                             "cell.gates.bias"]
    assert model.cells == ((model.cell,),) and model.input_size == 2 and model.hidden_size == 3
    outputs, (h, c) = model(tl.randn(4, 5, 2))
    assert outputs.shape == (4, 5, 3) and h.shape == c.shape == (4, 3)
    np.testing.assert_array_equal(outputs.data[:, -1], h.data)
    scopes = {node.scope for node in tl.walk_graph(outputs).nodes}
    assert {f"recurrent/t={t}/cell" for t in range(5)} <= scopes
    assert {f"recurrent/t={t}/cell/gates" for t in range(5)} <= scopes
    with pytest.raises(ValueError, match=r"\(B, T, D\)"):
        model(tl.randn(2, 4, 1, 2))
    with pytest.raises(ValueError, match="input size 3 does not match input_size=2"):
        model(tl.randn(4, 5, 3))


def test_one_custom_cell_gradchecks():
    tl.manual_seed(9)
    model = tl.nn.Recurrent(ConcatPeepholeCell(2, 2))
    rng = np.random.default_rng(9)
    x, h0, c0 = (tl.Tensor(rng.standard_normal(shape), requires_grad=True) for shape in ((3, 2, 2), (2, 2), (2, 2)))

    def call(x, h, c):
        outputs, (h_n, c_n) = model(x, (h, c))
        return outputs, h_n, c_n

    assert gradcheck_module(model, call, [x, h0, c0])


@pytest.mark.parametrize("kind", KINDS)
def test_one_builtin_cell_equals_the_sequence_module(kind):
    tl.manual_seed(10)
    module = getattr(tl.nn, kind)(D, H, dtype=np.float64)
    cell = getattr(tl.nn, kind + "Cell")(D, H, dtype=np.float64)
    cell.load_state_dict({name[:-3]: array for name, array in module.state_dict().items()})  # drop "_l0"
    x = np.random.default_rng(10).standard_normal((T, B, D))
    expected_output, expected_final = module(x, lengths=[5, 2, 4])
    output, final = tl.nn.Recurrent(cell)(x, lengths=[5, 2, 4])
    np.testing.assert_allclose(output.data, expected_output.data, rtol=0, atol=1e-14)
    for ours, theirs in zip(flat(final), flat(expected_final)):
        assert ours.shape == (B, H)
        np.testing.assert_allclose(ours.data, theirs.data[0], rtol=0, atol=1e-14)


# --------------------------------------------------------------------------- stacked: names and equality
def test_stacked_names_follow_pytorch():
    model = tl.nn.Recurrent(tl.nn.LSTMCell(D, H), num_layers=2, bidirectional=True)
    assert list(model.state_dict()) == list(tl.nn.LSTM(D, H, num_layers=2, bidirectional=True).state_dict())
    assert model.weight_ih_l1_reverse.shape == (4 * H, 2 * H) and not hasattr(model, "cell")
    assert len(model.cells) == 2 and all(len(directions) == 2 for directions in model.cells)
    assert model.cells[1][1].weight_ih is model.weight_ih_l1_reverse
    names = [name for name, _ in tl.nn.Recurrent(tl.nn.LayerNormLSTMCell(D, H), num_layers=2).named_parameters()]
    assert names == ["weight_ih_l0", "weight_hh_l0", "bias_l0", "weight_ih_l1", "weight_hh_l1", "bias_l1",
                     "ln_ih_l0.weight", "ln_ih_l0.bias", "ln_hh_l0.weight", "ln_hh_l0.bias", "ln_c_l0.weight",
                     "ln_c_l0.bias", "ln_ih_l1.weight", "ln_ih_l1.bias", "ln_hh_l1.weight", "ln_hh_l1.bias",
                     "ln_c_l1.weight", "ln_c_l1.bias"]
    assert [n for n, _ in tl.nn.Recurrent(tl.nn.GRUCell(D, H, bias=False), bidirectional=True).named_parameters()] \
        == ["weight_ih_l0", "weight_hh_l0", "weight_ih_l0_reverse", "weight_hh_l0_reverse"]
    assert repr(model) == "Recurrent(LSTMCell(4, 3), num_layers=2, bidirectional=True)"


STACKED = [(kind, layers, bidirectional) for kind in KINDS for layers, bidirectional in ((2, True), (3, False),
                                                                                          (1, True))]


@pytest.mark.parametrize("kind, num_layers, bidirectional", STACKED)
@pytest.mark.parametrize("lengths", [None, [5, 2, 4]])
@pytest.mark.parametrize("how", ["cell", "factory"])
def test_stacked_builtin_cells_equal_the_sequence_module(kind, num_layers, bidirectional, lengths, how):
    """Outputs, final states and every gradient, on the same weights."""
    tl.manual_seed(11)
    module = getattr(tl.nn, kind)(D, H, num_layers=num_layers, bidirectional=bidirectional, dtype=np.float64)
    cell_class = getattr(tl.nn, kind + "Cell")
    if how == "cell":
        model = tl.nn.Recurrent(cell_class(D, H, dtype=np.float64), num_layers=num_layers,
                                bidirectional=bidirectional)
    else:
        model = tl.nn.Recurrent(lambda size: cell_class(size, H, dtype=np.float64), input_size=D,
                                num_layers=num_layers, bidirectional=bidirectional)
    model.load_state_dict(module.state_dict())
    rng = np.random.default_rng(11)
    x = rng.standard_normal((T, B, D))
    count = num_layers * (2 if bidirectional else 1)
    state = [rng.standard_normal((count, B, H)) for _ in range(2 if kind == "LSTM" else 1)]
    assert_same(forward_backward(model, x, state, lengths), forward_backward(module, x, state, lengths))
    assert_same(forward_backward(model, x, None, lengths), forward_backward(module, x, None, lengths))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("batch_first", [False, True])
def test_stacked_builtin_cells_match_pytorch_with_lengths(kind, batch_first):
    torch = pytest.importorskip("torch")
    tl.manual_seed(12)
    model = tl.nn.Recurrent(getattr(tl.nn, kind + "Cell")(D, H, dtype=np.float64), num_layers=2, bidirectional=True,
                            batch_first=batch_first)
    theirs = getattr(torch.nn, kind)(D, H, num_layers=2, bidirectional=True, batch_first=batch_first,
                                     dtype=torch.float64)
    theirs.load_state_dict({name: torch.from_numpy(array) for name, array in model.state_dict().items()})
    rng = np.random.default_rng(12)
    x = rng.standard_normal((B, T, D) if batch_first else (T, B, D))
    state = [rng.standard_normal((4, B, H)) for _ in range(2 if kind == "LSTM" else 1)]
    lengths = [5, 2, 4]
    ours = forward_backward(model, x, state, lengths)

    t_x = torch.tensor(x, requires_grad=True)
    t_state = [torch.tensor(s, requires_grad=True) for s in state]
    packed = torch.nn.utils.rnn.pack_padded_sequence(t_x, torch.tensor(lengths), batch_first=batch_first,
                                                     enforce_sorted=False)
    t_packed, t_final = theirs(packed, tuple(t_state) if kind == "LSTM" else t_state[0])
    t_output, _ = torch.nn.utils.rnn.pad_packed_sequence(t_packed, batch_first=batch_first, total_length=T)
    results = [t_output, *(t_final if kind == "LSTM" else [t_final])]
    rng = np.random.default_rng(3)
    sum((r * torch.from_numpy(rng.standard_normal(tuple(r.shape)))).sum() for r in results).backward()
    oracle = {f"result{k}": r.detach().numpy() for k, r in enumerate(results)}
    oracle.update({f"{name}.grad": p.grad.numpy() for name, p in theirs.named_parameters()}, x=t_x.grad.numpy())
    oracle.update({f"state{k}.grad": s.grad.numpy() for k, s in enumerate(t_state)})
    assert_same(ours, oracle, atol=1e-10)


# --------------------------------------------------------------------------- stacked: any cell
def test_a_user_cell_is_cloned_with_its_constructor_arguments():
    tl.manual_seed(13)
    given = ConcatPeepholeCell(D, H, dtype=np.float32)
    model = tl.nn.Recurrent(given, num_layers=2, bidirectional=True)
    assert model.cells[0][0] is given
    clones = [model.cells[0][1], model.cells[1][0], model.cells[1][1]]
    assert all(type(c) is ConcatPeepholeCell and c.dtype == np.float32 for c in clones)
    assert [c.input_size for c in clones] == [D, 2 * H, 2 * H]
    assert not np.array_equal(given.peephole.data, clones[0].peephole.data)  # fresh parameters
    assert [name for name, _ in model.named_parameters()][:3] == ["peephole_l0", "peephole_l0_reverse",
                                                                  "peephole_l1"]
    assert "gates_l1_reverse.weight" in model.state_dict()

    class Unclonable(ConcatPeepholeCell):
        def __init__(self, input_size, hidden, dtype=np.float64):
            super().__init__(input_size, hidden, dtype)

    with pytest.raises(TypeError, match="'hidden' is not an attribute of the cell; pass a factory"):
        tl.nn.Recurrent(Unclonable(D, H), num_layers=2)
    clone = tl.nn.Recurrent(tl.nn.LayerNormLSTMCell(D, H, bias=False, eps=1e-3), bidirectional=True).cells[0][1]
    assert clone.bias is None and clone.eps == 1e-3


def test_clones_take_the_dtype_of_a_cell_cast_after_construction():
    """A cell whose constructor takes no dtype, cast by .to, is cloned in its parameters' dtype."""

    class LinearTanhCell(tl.nn.Module):
        def __init__(self, input_size, hidden_size):
            super().__init__()
            self.input_size, self.hidden_size = input_size, hidden_size
            self.linear = tl.nn.Linear(input_size + hidden_size, hidden_size)

        def init_state(self, batch_size):
            return tl.zeros(batch_size, self.hidden_size, dtype=self.linear.weight.dtype)

        def forward(self, x, h):
            return self.linear(tl.concat([x, h], axis=1)).tanh()

    model = tl.nn.Recurrent(LinearTanhCell(D, H).to(np.float64), num_layers=2, bidirectional=True)
    assert {p.dtype for p in model.parameters()} == {np.dtype(np.float64)}
    assert model(np.ones((3, 2, D)))[0].dtype == np.float64
    model.to(np.float32)  # the cells seen through `cells` hold the module's parameters as they are now
    assert model.cells[1][1].linear.weight is model.get_parameter("linear_l1_reverse.weight")
    assert model.cells[1][1].linear.weight.dtype == np.float32


def test_stacked_user_cell_gradchecks_with_lengths_and_a_given_state():
    tl.manual_seed(14)
    model = tl.nn.Recurrent(tl.nn.LayerNormLSTMCell(2, 2, dtype=np.float64), bidirectional=True)
    for parameter in model.parameters():  # LayerNorm gains and shifts away from 1 and 0
        parameter.data[...] += np.random.default_rng(14).uniform(-0.3, 0.3, parameter.shape)
    rng = np.random.default_rng(14)
    x, h0, c0 = (tl.Tensor(rng.standard_normal(shape), requires_grad=True) for shape in ((3, 2, 2), (2, 2, 2),
                                                                                         (2, 2, 2)))

    def call(x, h, c):
        output, (h_n, c_n) = model(x, (h, c), lengths=[3, 1])
        return output, h_n, c_n

    assert gradcheck_module(model, call, [x, h0, c0])


def test_each_sequence_as_if_run_alone():
    """With lengths: padded outputs zero, final state at each sequence's own end, and the reverse
    direction starting there: the same as running each sequence unpadded on its own."""
    tl.manual_seed(15)
    model = tl.nn.Recurrent(tl.nn.PeepholeLSTMCell(D, H, dtype=np.float64), num_layers=2, bidirectional=True)
    lengths = [5, 1, 3]
    x = np.random.default_rng(15).standard_normal((T, B, D))
    x_padded = x.copy()
    for b, length in enumerate(lengths):
        x_padded[length:, b] = 1e3  # garbage in the padding must not leak
    output, (h_n, c_n) = model(x_padded, lengths=lengths)
    for b, length in enumerate(lengths):
        alone, (h_alone, c_alone) = model(x[:length, b:b + 1])
        np.testing.assert_allclose(output.data[:length, b], alone.data[:, 0], rtol=0, atol=1e-14)
        np.testing.assert_array_equal(output.data[length:, b], 0)
        np.testing.assert_allclose(h_n.data[:, b], h_alone.data[:, 0], rtol=0, atol=1e-14)
        np.testing.assert_allclose(c_n.data[:, b], c_alone.data[:, 0], rtol=0, atol=1e-14)


def test_stacked_state_shapes_init_state_and_errors():
    tl.manual_seed(16)
    model = tl.nn.Recurrent(tl.nn.GRUCell(D, H), num_layers=3, bidirectional=True, batch_first=True)
    zeros = model.init_state(B)
    assert isinstance(zeros, tl.Tensor) and zeros.shape == (6, B, H) and not zeros.data.any()
    output, h_n = model(np.zeros((B, T, D), np.float32))
    assert output.shape == (B, T, 2 * H) and h_n.shape == (6, B, H) and output.dtype == np.float32
    with pytest.raises(ValueError, match=r"expected state element 0 of shape \(6, 3, 3\).*got \(2, 3, 3\)"):
        model(np.zeros((B, T, D)), np.zeros((2, B, H)))
    with pytest.raises(TypeError, match="the state must be a Tensor like init_state"):
        model(np.zeros((B, T, D)), (np.zeros((6, B, H)), np.zeros((6, B, H))))
    lstm = tl.nn.Recurrent(tl.nn.LSTMCell(D, H), num_layers=2)
    assert [s.shape for s in lstm.init_state(B)] == [(2, B, H), (2, B, H)]
    with pytest.raises(TypeError, match="the state must be a tuple of 2"):
        lstm(np.zeros((T, B, D)), np.zeros((2, B, H)))
    with pytest.raises(ValueError, match=r"lengths must be in \[1, 5\]"):
        lstm(np.zeros((T, B, D)), lengths=[0, 1, 2])


def test_replacing_a_parameter_and_casting_take_effect():
    tl.manual_seed(17)
    model = tl.nn.Recurrent(tl.nn.RNNCell(D, H), num_layers=2)
    model.weight_hh_l1 = tl.nn.Parameter(np.zeros((H, H), np.float32))
    x = np.random.default_rng(17).standard_normal((T, B, D))
    reference = tl.nn.RNN(D, H, num_layers=2)
    reference.load_state_dict(model.state_dict())
    np.testing.assert_allclose(model(x)[0].data, reference(x)[0].data, rtol=1e-6)
    model.double()
    assert model.dtype == np.float64
    x64 = tl.Tensor(x, requires_grad=True)
    output, h_n = model(x64)
    assert output.dtype == h_n.dtype == np.float64
    assert all(c.dtype == np.float64 for row in model.cells for c in row)


def test_train_and_eval_reach_the_stacked_cells():
    class DroppingCell(tl.nn.RNNCell):
        def forward(self, x, h=None):
            return super().forward(x, h) if self.training else super().forward(x, h) * 0

    model = tl.nn.Sequential(tl.nn.Recurrent(DroppingCell(D, H), num_layers=2))
    x = np.ones((T, B, D))
    assert np.abs(model(x)[0].data).sum() > 0
    model.eval()
    np.testing.assert_array_equal(model(x)[0].data, 0)


# --------------------------------------------------------------------------- dropout, variational, zoneout
def test_dropout_between_layers_is_the_sequence_modules():
    tl.manual_seed(18)
    module = tl.nn.LSTM(D, H, num_layers=3, bidirectional=True, dropout=0.5, dtype=np.float64)
    model = tl.nn.Recurrent(tl.nn.LSTMCell(D, H, dtype=np.float64), num_layers=3, bidirectional=True, dropout=0.5)
    model.load_state_dict(module.state_dict())
    x = np.random.default_rng(18).standard_normal((T, B, D))
    tl.manual_seed(1)
    expected = module(x)[0].data
    tl.manual_seed(1)
    output = model(x)[0].data
    np.testing.assert_array_equal(output, expected)
    tl.manual_seed(2)
    assert not np.array_equal(model(x)[0].data, expected)
    model.eval()
    module.eval()
    np.testing.assert_allclose(model(x)[0].data, module(x)[0].data, rtol=0, atol=1e-14)
    with pytest.warns(UserWarning, match="dropout=0.5 acts between layers"):
        tl.nn.Recurrent(tl.nn.LSTMCell(D, H), dropout=0.5)


def test_variational_dropout_one_mask_per_sequence_on_inputs_and_recurrent_output():
    tl.manual_seed(19)
    p = 0.5
    recording = Recording(tl.nn.LSTMCell(6, 8, dtype=np.float64))
    model = tl.nn.Recurrent(recording, variational_dropout=p)
    x = np.random.default_rng(19).uniform(1, 2, (T, 16, 6))
    model(x)
    input_masks = [fed_x / x[t] for t, (fed_x, _) in enumerate(recording.fed)]
    state_masks = [fed[0] / recording.returned[t - 1][0] for t, (_, fed) in enumerate(recording.fed) if t > 0]
    for masks in (input_masks, state_masks):
        np.testing.assert_allclose(np.unique(np.round(masks[0], 12)), [0, 1 / (1 - p)])
        for mask in masks[1:]:
            np.testing.assert_allclose(mask, masks[0], rtol=1e-12)  # the same at every step
        assert len({row.tobytes() for row in (masks[0] > 0)}) > 1  # a different mask per sequence
        assert 0.3 < (masks[0] > 0).mean() < 0.7
    for t in range(1, T):  # the LSTM's c is not dropped
        np.testing.assert_array_equal(recording.fed[t][1][1], recording.returned[t - 1][1])

    recording.fed.clear()
    model.eval()
    model(x)
    np.testing.assert_array_equal(recording.fed[0][0], x[0])


def test_variational_dropout_is_repeatable_and_gradchecks():
    model = tl.nn.Recurrent(tl.nn.GRUCell(2, 2, dtype=np.float64), num_layers=2, variational_dropout=0.4)
    x = np.random.default_rng(20).standard_normal((3, 2, 2))
    tl.manual_seed(5)
    first = model(x)[0].data
    tl.manual_seed(5)
    np.testing.assert_array_equal(model(x)[0].data, first)
    assert gradcheck_module(model, lambda x: model(x), [tl.Tensor(x, requires_grad=True)], seed=6)


def test_zoneout_keeps_units_with_probability_p_in_training_and_averages_in_eval():
    tl.manual_seed(21)
    p = 0.3
    recording = Recording(tl.nn.LSTMCell(4, 50, dtype=np.float64))
    model = tl.nn.Recurrent(recording, zoneout=p)
    x = np.random.default_rng(21).standard_normal((T, 40, 4))
    output, (h_n, c_n) = model(x)
    kept_fractions, masks = [], []
    for t in range(1, T):
        previous = recording.fed[t][1]  # the zoned state of step t - 1, fed to step t
        new = recording.returned[t]
        zoned = [output.data[t], recording.fed[t + 1][1][1] if t + 1 < T else c_n.data]
        for k in range(2):
            kept = zoned[k] == previous[k]
            assert np.all(kept | (zoned[k] == new[k]))  # each unit is either kept or updated
            kept_fractions.append(kept.mean())
        masks.append(zoned[0] == previous[0])
    assert 0.2 < np.mean(kept_fractions) < 0.4
    assert not np.array_equal(masks[0], masks[1])  # a new mask at every step

    recording.fed.clear()
    recording.returned.clear()
    model.eval()
    output, _ = model(x)
    for t in range(1, T):
        previous, new = recording.fed[t][1], recording.returned[t]
        np.testing.assert_allclose(output.data[t], p * previous[0] + (1 - p) * new[0], rtol=1e-12)


def test_zoneout_in_eval_gradchecks_and_is_repeatable_in_training():
    model = tl.nn.Recurrent(tl.nn.LSTMCell(2, 2, dtype=np.float64), bidirectional=True, zoneout=0.25).eval()
    x = tl.Tensor(np.random.default_rng(22).standard_normal((3, 2, 2)), requires_grad=True)
    assert gradcheck_module(model, lambda x: model(x, lengths=[3, 2]), [x])
    model.train()
    tl.manual_seed(7)
    first = model(x)[0].data
    tl.manual_seed(7)
    np.testing.assert_array_equal(model(x)[0].data, first)


@pytest.mark.parametrize("argument", ["dropout", "variational_dropout", "zoneout"])
def test_probabilities_are_checked(argument):
    with pytest.raises(ValueError, match=f"Recurrent: {argument}.* must be a number in \\[0, 1\\], got 1.5"):
        tl.nn.Recurrent(tl.nn.LSTMCell(D, H), num_layers=2, **{argument: 1.5})


def test_float32_kept_with_all_options():
    tl.manual_seed(23)
    model = tl.nn.Recurrent(tl.nn.LayerNormLSTMCell(D, H), num_layers=2, bidirectional=True, dropout=0.2,
                            variational_dropout=0.2, zoneout=0.2)
    x = tl.Tensor(np.random.default_rng(23).standard_normal((T, B, D)), dtype=np.float32, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        output, (h_n, c_n) = model(x, lengths=[5, 3, 1])
        (output.sum() + h_n.sum() + c_n.sum()).backward()
    assert output.dtype == h_n.dtype == c_n.dtype == x.grad.dtype == np.float32
    assert all(p.grad is not None and p.grad.dtype == np.float32 for p in model.parameters())


# --------------------------------------------------------------------------- watching the steps
class _Recorder(tl.nn.recurrent.StepWatcher):
    def __init__(self):
        self.steps, self.gate_names, self.read = [], [], 0

    def begin_step(self, module, layer, direction, t):
        self.steps.append((type(module).__name__, layer, direction, t))

    def parameter(self, parameter):
        self.read += 1
        return parameter * 1.0

    def gates(self, activations):
        self.gate_names.append(tuple(activations))


@pytest.mark.parametrize("build", [lambda: tl.nn.LSTM(3, 4, num_layers=2, bidirectional=True, dtype=np.float64),
                                   lambda: tl.nn.Recurrent(tl.nn.GRUCell(3, 4).to(np.float64), bidirectional=True)],
                         ids=["LSTM", "Recurrent"])
def test_watched_steps_compute_the_same_and_report_every_step(build):
    model = build()
    x = np.random.default_rng(0).standard_normal((3, 2, 3))
    plain, _ = model(x)
    watcher = _Recorder()
    with tl.nn.recurrent.watch_steps(watcher):
        watched, _ = model(x)
        with pytest.raises(RuntimeError, match="another watcher"):
            with tl.nn.recurrent.watch_steps(_Recorder()):
                pass
    np.testing.assert_allclose(watched.data, plain.data, rtol=1e-13, atol=1e-15)
    layers = getattr(model, "num_layers", 1)
    assert len(watcher.steps) == 3 * 2 * layers
    assert watcher.steps[:4] == [(type(model).__name__, 0, 0, 0), (type(model).__name__, 0, 0, 1),
                                 (type(model).__name__, 0, 0, 2), (type(model).__name__, 0, 1, 2)]
    assert watcher.read == len(list(model.parameters())) * 3  # every parameter read once per step
    assert set(watcher.gate_names) == ({("i", "f", "g", "o")} if layers == 2 else {("r", "z", "n")})
    assert tl.nn.recurrent.watching() is None
    tl.nn.watch_gates(anything=watched)  # outside a diagnosis: nothing happens


@pytest.mark.parametrize("num_layers, bidirectional", [(1, False), (2, True)])
def test_an_unbatched_sequence_gives_torch_lstm_outputs_states_and_gradients(num_layers, bidirectional):
    torch = pytest.importorskip("torch")
    theirs = torch.nn.LSTM(D, H, num_layers=num_layers, bidirectional=bidirectional, batch_first=True,
                           dtype=torch.float64)
    ours = tl.nn.Recurrent(tl.nn.LSTMCell(D, H, dtype=np.float64), num_layers=num_layers,
                           bidirectional=bidirectional, batch_first=True)
    stacked = num_layers > 1 or bidirectional
    ours.load_state_dict({(name if stacked else "cell." + name[:-len("_l0")]): value.detach().numpy()
                          for name, value in theirs.state_dict().items()})
    rng = np.random.default_rng(0)
    count = num_layers * (2 if bidirectional else 1)
    x, h0, c0 = rng.standard_normal((T, D)), rng.standard_normal((count, H)), rng.standard_normal((count, H))
    x_ours = tl.Tensor(x, requires_grad=True)
    output, (h_n, c_n) = ours(x_ours, (h0, c0) if stacked else (h0[0], c0[0]))  # the cell's own (H,) state
    x_theirs = torch.tensor(x, requires_grad=True)
    t_output, (t_h_n, t_c_n) = theirs(x_theirs, (torch.tensor(h0), torch.tensor(c0)))
    expected_h_n, expected_c_n = (t_h_n, t_c_n) if stacked else (t_h_n[0], t_c_n[0])
    assert output.shape == tuple(t_output.shape) and h_n.shape == tuple(expected_h_n.shape)
    np.testing.assert_allclose(output.data, t_output.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(c_n.data, expected_c_n.detach().numpy(), atol=1e-12)
    (output.sum() + (h_n * c_n).sum()).backward()
    (t_output.sum() + (expected_h_n * expected_c_n).sum()).backward()
    np.testing.assert_allclose(x_ours.grad, x_theirs.grad.numpy(), atol=1e-12)
    with pytest.raises(ValueError, match=r"Recurrent: lengths needs a batched input .* \(5, 4\)"):
        ours(x, lengths=[T])
    batched_h = (count, 1, H) if stacked else (1, H)
    with pytest.raises(ValueError, match=rf"unbatched input \(shape \(5, 4\)\) the state has no batch axis: "
                                         rf"expected h of shape \({count if stacked else H},.*got \({batched_h[0]}, "):
        ours(x, (np.zeros(batched_h), np.zeros(batched_h)))


class _StateCell(tl.nn.Module):
    """A cell whose init_state or forward returns what `initial` / `step` say (to break the protocol)."""

    def __init__(self, initial, step):
        super().__init__()
        self.input_size, self.hidden_size, self.initial, self.step = 2, 3, initial, step

    def init_state(self, batch_size):
        return self.initial(batch_size)

    def forward(self, x, h):
        return self.step(x, h)


@pytest.mark.parametrize("initial, error, message", [
    (lambda b: None, TypeError, r"_StateCell.init_state\(2\) returned NoneType"),
    (lambda b: tl.zeros(3), ValueError, r"_StateCell.init_state\(2\) returned h of shape \(3,\), expected .* \(2, 3\)"),
    (lambda b: (tl.zeros(b, 4), tl.zeros(b, 3)), ValueError, r"_StateCell.init_state\(2\) returned h of shape \(2, 4\)"),
])
def test_an_init_state_breaking_the_protocol_is_an_error_at_construction(initial, error, message):
    with pytest.raises(error, match="^Recurrent: " + message):
        tl.nn.Recurrent(_StateCell(initial, lambda x, h: h))


@pytest.mark.parametrize("step, error, message", [
    (lambda x, h: None, TypeError, r"_StateCell.forward\(x_t, state\) returned NoneType"),
    (lambda x, h: tl.zeros(x.shape[0], 7), ValueError, r"_StateCell.forward\(x_t, state\) returned h of shape \(4, 7\), expected .* \(4, 3\)"),
])
def test_a_forward_breaking_the_protocol_is_an_error_at_the_first_step(step, error, message):
    model = tl.nn.Recurrent(_StateCell(lambda b: tl.zeros(b, 3), step))
    with pytest.raises(error, match="^Recurrent: " + message):
        model(np.zeros((T, 4, 2), np.float32))
