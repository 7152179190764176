"""`tl.nn.Module`, `Parameter`, the feed-forward layers and state dicts."""

import numpy as np
import pytest

import tinygrad_lstm as tl


class Encoder(tl.nn.Module):
    def __init__(self, dtype=np.float32):
        super().__init__()
        self.embedding = tl.nn.Embedding(10, 4, dtype=dtype)
        self.lstm = tl.nn.LSTM(4, 3, num_layers=2, dtype=dtype)
        self.head = tl.nn.Linear(3, 2, dtype=dtype)
        self.scale = tl.nn.Parameter(np.ones(2), dtype=dtype)

    def forward(self, tokens):
        output, _ = self.lstm(self.embedding(tokens))
        return self.head(output) * self.scale


def test_named_parameters_are_dotted_and_in_registration_order():
    names = [name for name, _ in Encoder().named_parameters()]
    lstm = [f"lstm.{kind}_l{k}" for k in range(2) for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    assert names == ["scale", "embedding.weight", *lstm, "head.weight", "head.bias"]


def test_children_modules_and_shared_parameters():
    model = Encoder()
    assert [name for name, _ in model.named_children()] == ["embedding", "lstm", "head"]
    assert list(model.children()) == [model.embedding, model.lstm, model.head]
    assert [name for name, _ in model.named_modules()] == ["", "embedding", "lstm", "head"]
    model.tied = model.head  # a module reachable twice is listed once, and so are its parameters
    assert len(list(model.modules())) == 4
    assert len(list(model.parameters())) == len(dict(model.named_parameters())) == 12


def test_assignment_registers_and_reassignment_unregisters():
    module = tl.nn.Module()
    module.weight = tl.nn.Parameter([1.0, 2.0])
    module.child = tl.nn.Linear(2, 2)
    assert [n for n, _ in module.named_parameters()] == ["weight", "child.weight", "child.bias"]
    module.child = None
    module.weight = None
    assert list(module.named_parameters()) == []
    module.weight = tl.nn.Parameter([1.0])
    with pytest.raises(TypeError, match="parameter 'weight'"):
        module.weight = tl.Tensor([1.0])
    del module.weight
    assert list(module.parameters()) == []


def test_assigning_before_init_is_an_error():
    class Broken(tl.nn.Module):
        def __init__(self):
            self.weight = tl.nn.Parameter([1.0])

    with pytest.raises(AttributeError, match="super"):
        Broken()


def test_parameter_is_a_leaf_that_requires_grad():
    parameter = tl.nn.Parameter(np.arange(3.0), dtype=np.float32)
    assert isinstance(parameter, tl.Tensor)
    assert parameter.requires_grad and parameter.is_leaf and parameter.dtype == np.float32
    assert repr(parameter).startswith("Parameter([0., 1., 2.]")
    with pytest.raises(TypeError):
        tl.nn.Parameter([1, 2])


def test_forward_backward_zero_grad_and_float32():
    tl.manual_seed(0)
    model = Encoder()
    out = model(np.array([[1, 2], [3, 3], [9, 0]]))
    assert out.shape == (3, 2, 2) and out.dtype == np.float32
    out.sum().backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and parameter.grad.dtype == np.float32, name
    model.zero_grad()
    assert all(parameter.grad is None for parameter in model.parameters())


def test_module_without_forward():
    with pytest.raises(NotImplementedError, match="Module does not define forward"):
        tl.nn.Module()(1)


def test_train_and_eval_reach_every_descendant():
    model = Encoder()
    assert model.eval() is model
    assert not any(module.training for module in model.modules())
    model.train()
    assert all(module.training for module in model.modules())


def test_repr_like_pytorch():
    assert repr(tl.nn.LSTM(4, 8, num_layers=2, bidirectional=True)) == "LSTM(4, 8, num_layers=2, bidirectional=True)"
    assert repr(tl.nn.RNN(2, 3, nonlinearity="relu", batch_first=True, dtype=np.float64)) == \
        "RNN(2, 3, nonlinearity='relu', batch_first=True, dtype=float64)"
    assert repr(tl.nn.GRUCell(2, 3, bias=False)) == "GRUCell(2, 3, bias=False)"
    assert repr(Encoder()) == (
        "Encoder(\n"
        "  (embedding): Embedding(10, 4)\n"
        "  (lstm): LSTM(4, 3, num_layers=2)\n"
        "  (head): Linear(in_features=3, out_features=2, bias=True)\n"
        ")")
    nested = tl.nn.Sequential(tl.nn.Sequential(tl.nn.Dropout(0.25)))
    assert repr(nested) == "Sequential(\n  (0): Sequential(\n    (0): Dropout(p=0.25)\n  )\n)"


def test_scopes_name_modules_and_children():
    tl.manual_seed(1)
    model = Encoder()
    out = model(np.array([[1, 2], [3, 4], [5, 6]]))
    scopes = {node.scope for node in tl.walk_graph(out).nodes}
    assert {"encoder/embedding", "encoder/head", "encoder/lstm/l0", "encoder/lstm/l1/t=2"} <= scopes
    assert all(scope.startswith("encoder") for scope in scopes)
    alone = model.head(tl.zeros(1, 3, dtype=np.float32))
    assert {node.scope for node in tl.walk_graph(alone).nodes} == {"linear"}


def test_scopes_inside_containers():
    model = tl.nn.Sequential(tl.nn.Linear(2, 2), tl.nn.Linear(2, 1))
    out = model(np.ones((1, 2)))
    assert {node.scope for node in tl.walk_graph(out).nodes} == {"sequential/0", "sequential/1"}


# --------------------------------------------------------------------------- layers
def test_linear_shapes_init_and_dtype():
    tl.manual_seed(2)
    linear = tl.nn.Linear(16, 3)
    assert linear.weight.shape == (3, 16) and linear.bias.shape == (3,)
    assert linear.weight.dtype == np.float32
    assert np.abs(linear.weight.data).max() <= 0.25 and np.abs(linear.bias.data).max() <= 0.25
    x = np.random.default_rng(0).standard_normal((2, 5, 16))
    np.testing.assert_allclose(linear(x).data, x.astype(np.float32) @ linear.weight.data.T + linear.bias.data,
                               rtol=1e-6)
    assert tl.nn.Linear(2, 3, bias=False).bias is None
    assert [n for n, _ in tl.nn.Linear(2, 3, bias=False).named_parameters()] == ["weight"]
    with pytest.raises(ValueError, match="in_features=16, got shape \\(2, 5\\)"):
        linear(np.ones((2, 5)))


def test_linear_gradcheck_float64():
    linear = tl.nn.Linear(3, 2, dtype=np.float64)
    x = tl.randn(4, 3, requires_grad=True)
    assert tl.gradcheck(lambda t: linear(t), [x])


def test_float64_input_requiring_grad_into_float32_module_is_a_type_error():
    with pytest.raises(TypeError, match="dtype float64 .* float32"):
        tl.nn.Linear(2, 2)(tl.randn(1, 2, requires_grad=True))
    assert tl.nn.Linear(2, 2)(tl.randn(1, 2)).dtype == np.float32  # constants are converted


def test_embedding_lookup_and_accumulated_gradient():
    embedding = tl.nn.Embedding(5, 2, dtype=np.float64)
    out = embedding(np.array([[1, 1], [4, 1]]))
    np.testing.assert_array_equal(out.data, embedding.weight.data[[[1, 1], [4, 1]]])
    out.sum().backward()
    np.testing.assert_array_equal(embedding.weight.grad[:, 0], [0, 3, 0, 0, 1])
    with pytest.raises(IndexError, match="index 5"):
        embedding([5])
    with pytest.raises(TypeError, match="integers"):
        embedding(np.array([0.5]))


def test_dropout_train_eval_and_reproducible():
    dropout = tl.nn.Dropout(0.5)
    x = tl.ones(1000, dtype=np.float32)
    tl.manual_seed(3)
    first = dropout(x).data
    tl.manual_seed(3)
    np.testing.assert_array_equal(dropout(x).data, first)
    assert set(np.unique(first)) == {0.0, 2.0} and first.dtype == np.float32
    assert 400 < (first == 0).sum() < 600
    assert dropout.eval()(x) is x
    assert (tl.nn.Dropout(1.0)(x).data == 0).all()
    with pytest.raises(ValueError, match="\\[0, 1\\]"):
        tl.nn.Dropout(1.5)


@pytest.mark.parametrize("make", [lambda: tl.nn.Linear(0, 2), lambda: tl.nn.LSTM(2, -1),
                                  lambda: tl.nn.GRU(2, 2, num_layers=0)])
def test_bad_sizes(make):
    with pytest.raises(ValueError, match="must be at least 1"):
        make()


def test_bad_dtype():
    with pytest.raises(TypeError, match="floating point"):
        tl.nn.Linear(2, 2, dtype=np.int64)


# --------------------------------------------------------------------------- state dicts
def test_state_dict_is_a_copy_and_round_trips():
    tl.manual_seed(4)
    source, target = Encoder(), Encoder()
    state = source.state_dict()
    state["head.bias"][:] = 123  # a copy: the module is untouched
    assert not (source.head.bias.data == 123).any()
    result = target.load_state_dict(source.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    for (name, a), b in zip(source.state_dict().items(), target.state_dict().values()):
        np.testing.assert_array_equal(a, b, err_msg=name)


def test_load_casts_to_the_parameter_dtype_in_place():
    linear = tl.nn.Linear(2, 2)
    weight = linear.weight
    linear.load_state_dict({"weight": np.ones((2, 2)), "bias": [1, 2]})
    assert linear.weight is weight and weight.dtype == np.float32
    np.testing.assert_array_equal(linear.bias.data, [1, 2])


def assert_unchanged_after(module, state_dict, error, match):
    before = module.state_dict()
    with pytest.raises(error, match=match):
        module.load_state_dict(state_dict)
    after = module.state_dict()
    assert list(before) == list(after)
    for name in before:
        np.testing.assert_array_equal(before[name], after[name], err_msg=name)


def test_load_errors_leave_the_module_unchanged():
    tl.manual_seed(5)
    model = Encoder()
    good = {name: np.zeros_like(array) for name, array in model.state_dict().items()}
    # the bad entry comes last, after entries that would have been written already
    missing = dict(good)
    del missing["head.bias"]
    assert_unchanged_after(model, missing, KeyError, r"missing keys \['head.bias'\]")
    unexpected = dict(good, extra=np.zeros(1))
    assert_unchanged_after(model, unexpected, KeyError, r"unexpected keys \['extra'\]")
    wrong_shape = dict(good)
    wrong_shape["head.bias"] = np.zeros(3)
    assert_unchanged_after(model, wrong_shape, ValueError, r"'head.bias'.*\(3,\).*\(2,\)")
    wrong_type = dict(good)
    wrong_type["head.bias"] = np.array(["a", "b"])
    assert_unchanged_after(model, wrong_type, TypeError, "head.bias")


def test_load_non_strict_reports_keys():
    linear = tl.nn.Linear(2, 2)
    result = linear.load_state_dict({"weight": np.zeros((2, 2)), "other": 1}, strict=False)
    assert result.missing_keys == ["bias"] and result.unexpected_keys == ["other"]
    assert (linear.weight.data == 0).all()


def test_to_double_and_float_cast_parameters_grads_and_inputs():
    torch = pytest.importorskip("torch")
    model = tl.nn.Sequential(tl.nn.Linear(3, 4), tl.nn.LSTM(4, 5, num_layers=2))
    model[0](np.ones((2, 3))).sum().backward()
    assert model.double() is model
    assert all(p.dtype == np.float64 for p in model.parameters())
    assert model[0].weight.grad.dtype == np.float64 and model[1].weight_ih_l0.grad is None
    assert model[0].dtype == model[1].dtype == np.float64 and "dtype=float64" in repr(model[1])
    lstm = model[1]
    x = tl.Tensor(np.random.default_rng(0).standard_normal((3, 2, 4)), requires_grad=True)
    assert lstm(x)[0].dtype == np.float64
    assert tl.gradcheck(lambda t: lstm(t)[0], [x])  # the point of double(): gradcheck a float32 model
    reference = torch.nn.LSTM(4, 5, num_layers=2).double()
    reference.load_state_dict({k: torch.from_numpy(v) for k, v in lstm.state_dict().items()})
    np.testing.assert_allclose(lstm(x)[0].data, reference(torch.from_numpy(x.data))[0].detach().numpy(), rtol=1e-10)
    model.float()
    assert all(p.dtype == np.float32 for p in model.parameters()) and lstm.dtype == np.float32
    assert model(np.ones((3, 2, 3)))[0].dtype == np.float32


def test_to_rejects_non_float_dtypes_and_changes_nothing():
    model = tl.nn.Linear(2, 2)
    with pytest.raises(TypeError, match=r"Linear.to: dtype must be floating point"):
        model.to(np.int64)
    assert model.weight.dtype == model.dtype == np.float32


@pytest.mark.parametrize("padding_idx", [0, 3, -1])
def test_embedding_padding_idx_matches_torch(padding_idx):
    torch = pytest.importorskip("torch")
    embedding = tl.nn.Embedding(5, 3, padding_idx=padding_idx, dtype=np.float64)
    row = padding_idx % 5
    assert embedding.padding_idx == row and not embedding.weight.data[row].any()
    assert repr(embedding) == f"Embedding(5, 3, padding_idx={row}, dtype=float64)"
    reference = torch.nn.Embedding(5, 3, padding_idx=padding_idx).double()
    reference.weight.data = torch.from_numpy(embedding.weight.data.copy())
    indices = np.array([[0, 4, 2], [3, 3, 1], [row, row, 0]])
    upstream = np.random.default_rng(0).standard_normal((3, 3, 3))
    (embedding(indices) * upstream).sum().backward()
    (reference(torch.from_numpy(indices)) * torch.from_numpy(upstream)).sum().backward()
    np.testing.assert_array_equal(embedding(indices).data, reference(torch.from_numpy(indices)).detach().numpy())
    np.testing.assert_allclose(embedding.weight.grad, reference.weight.grad.numpy(), rtol=1e-12)
    assert not embedding.weight.grad[row].any()


@pytest.mark.parametrize("padding_idx,error", [(5, ValueError), (-6, ValueError), (1.0, TypeError), (True, TypeError)])
def test_embedding_rejects_bad_padding_idx(padding_idx, error):
    with pytest.raises(error, match="Embedding: padding_idx"):
        tl.nn.Embedding(5, 3, padding_idx=padding_idx)


def test_module_list_insert_pop_and_delete_renumber_like_pytorch():
    torch = pytest.importorskip("torch")
    ours = tl.nn.ModuleList([tl.nn.Linear(1, 1), tl.nn.Linear(2, 2), tl.nn.Linear(3, 3)])
    theirs = torch.nn.ModuleList([torch.nn.Linear(1, 1), torch.nn.Linear(2, 2), torch.nn.Linear(3, 3)])
    for container, linear in ((ours, tl.nn.Linear), (theirs, torch.nn.Linear)):
        container.insert(1, linear(4, 4))
        container.insert(3, linear(5, 5))
        popped = container.pop(0)
        assert popped.in_features == 1
        del container[-1]
        del container[0:1]
    assert [m.in_features for m in ours] == [m.in_features for m in theirs] == [2, 5]
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    with pytest.raises(IndexError, match="ModuleList: index 5 is out of range for 2 modules"):
        ours.pop(5)
    with pytest.raises(IndexError, match="out of range"):
        del ours[7]
    with pytest.raises(TypeError, match="can only hold modules"):
        ours.insert(0, "not a module")
    assert len(ours) == 2
