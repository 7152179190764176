"""`tl.nn.Module`, `Parameter`, containers and state dicts (the layers are in test_nn_layers.py)."""

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


# --------------------------------------------------------------------------- inputs, sizes and dtypes
def test_float64_input_requiring_grad_into_float32_module_is_a_type_error():
    with pytest.raises(TypeError, match="dtype float64 .* float32"):
        tl.nn.Linear(2, 2)(tl.randn(1, 2, requires_grad=True))
    assert tl.nn.Linear(2, 2)(tl.randn(1, 2)).dtype == np.float32  # constants are converted


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
    assert_unchanged_after(model, missing, RuntimeError, r'Missing key\(s\) in state_dict: "head.bias"')
    unexpected = dict(good, extra=np.zeros(1))
    assert_unchanged_after(model, unexpected, RuntimeError, r'Unexpected key\(s\) in state_dict: "extra"')
    wrong_shape = dict(good)
    wrong_shape["head.bias"] = np.zeros(3)
    assert_unchanged_after(model, wrong_shape, ValueError, r"size mismatch for head.bias: .*\(3,\).*\(2,\)")
    wrong_shape["embedding.weight"] = np.zeros((3, 3))  # every mismatch is listed, in module order
    assert_unchanged_after(model, wrong_shape, tl.nn.StateDictError,
                           r"size mismatch for embedding.weight: .*\n\tsize mismatch for head.bias")
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


# --------------------------------------------------------------------------- module API
def nets(torch):
    class Net(tl.nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = tl.nn.Embedding(5, 3)
            self.scale = tl.nn.Parameter(np.ones(1, np.float32))
            self.lstm = tl.nn.LSTM(3, 4, num_layers=2)
            self.head = tl.nn.Sequential(tl.nn.Linear(4, 4), tl.nn.Linear(4, 2))
            self.offset = tl.nn.Parameter(np.zeros(2, np.float32))

    class TorchNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = torch.nn.Embedding(5, 3)
            self.scale = torch.nn.Parameter(torch.ones(1))
            self.lstm = torch.nn.LSTM(3, 4, num_layers=2)
            self.head = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 2))
            self.offset = torch.nn.Parameter(torch.zeros(2))

    return Net(), TorchNet()


def names(pairs):
    return [name for name, _ in pairs]


def test_nested_named_parameters_modules_and_state_dict_follow_torch_order():
    torch = pytest.importorskip("torch")
    net, torch_net = nets(torch)
    assert names(net.named_parameters()) == names(torch_net.named_parameters())
    assert names(net.named_modules()) == names(torch_net.named_modules())
    assert list(net.state_dict()) == list(torch_net.state_dict())


def test_reassigning_a_parameter_keeps_its_place_as_in_torch():
    torch = pytest.importorskip("torch")
    net, torch_net = nets(torch)
    net.scale = tl.nn.Parameter(np.full(1, 3.0, np.float32))
    torch_net.scale = torch.nn.Parameter(torch.full((1,), 3.0))
    assert names(net.named_parameters()) == names(torch_net.named_parameters())
    assert net.state_dict()["scale"][0] == 3.0
    net.scale = None
    torch_net.scale = None
    assert names(net.named_parameters()) == names(torch_net.named_parameters())
    with pytest.raises(TypeError, match="cannot assign Tensor to parameter 'scale'"):
        net.scale = tl.Tensor([1.0])  # still registered, though empty
    net.scale = tl.nn.Parameter(np.ones(1, np.float32))
    torch_net.scale = torch.nn.Parameter(torch.ones(1))
    assert names(net.named_parameters()) == names(torch_net.named_parameters())


def test_assigning_a_non_module_to_a_child_name_is_a_type_error_and_deleting_unregisters():
    torch = pytest.importorskip("torch")
    net, torch_net = nets(torch)
    with pytest.raises(TypeError, match="cannot assign int to child module 'lstm'"):
        net.lstm = 3
    assert isinstance(net.lstm, tl.nn.LSTM)
    del net.head
    del torch_net.head
    assert names(net.named_parameters()) == names(torch_net.named_parameters())
    net.lstm = None
    assert "lstm.weight_ih_l0" not in net.state_dict() and len(list(net.children())) == 1


def test_tied_weights_state_dict_lists_both_names_like_torch_and_round_trips():
    torch = pytest.importorskip("torch")

    class Tied(tl.nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = tl.nn.Linear(2, 2), tl.nn.Linear(2, 2)
            self.b.weight = self.a.weight

    class TorchTied(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
            self.b.weight = self.a.weight

    ours, theirs = Tied(), TorchTied()
    assert names(ours.named_parameters()) == names(theirs.named_parameters()) == ["a.weight", "a.bias", "b.bias"]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())
    np.testing.assert_array_equal(ours.b.weight.data, theirs.b.weight.detach().numpy())
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in Tied().state_dict().items()})


def test_state_dict_is_a_copy_and_load_takes_torch_tensors_and_parameters():
    torch = pytest.importorskip("torch")
    net, torch_net = nets(torch)
    state = net.state_dict()
    state["scale"][0] = 99.0
    assert net.scale.data[0] == 1.0
    weight = net.lstm.weight_ih_l0
    assert net.load_state_dict(dict(torch_net.named_parameters())) == ([], [])  # Parameters require grad
    assert net.lstm.weight_ih_l0 is weight  # copied into, not replaced: optimisers keep working
    np.testing.assert_array_equal(weight.data, torch_net.lstm.weight_ih_l0.detach().numpy())
    net.load_state_dict(torch_net.state_dict())


def test_load_state_dict_strict_false_and_errors_change_nothing():
    torch = pytest.importorskip("torch")
    net, torch_net = nets(torch)
    state = {k: v.detach().numpy() * 0 + 7 for k, v in torch_net.state_dict().items()}
    partial = dict(state)
    del partial["offset"]
    partial["extra"] = np.ones(2)
    result = net.load_state_dict(partial, strict=False)
    assert result == torch_net.load_state_dict({k: torch.from_numpy(v) for k, v in partial.items()}, strict=False)
    assert result.missing_keys == ["offset"] and result.unexpected_keys == ["extra"]
    assert net.scale.data[0] == 7
    with pytest.raises(RuntimeError) as theirs:
        torch_net.load_state_dict({k: torch.from_numpy(v) for k, v in partial.items()})
    with pytest.raises(RuntimeError) as ours:
        net.load_state_dict(partial)
    assert str(ours.value) == str(theirs.value).replace("TorchNet", "Net") == (
        'Error(s) in loading state_dict for Net:\n\tMissing key(s) in state_dict: "offset". \n\t'
        'Unexpected key(s) in state_dict: "extra". ')
    before = net.state_dict()
    bad = dict(state, scale=np.full(1, 5.0), offset=np.ones(3))
    for strict in (True, False):
        with pytest.raises(RuntimeError, match=r"size mismatch for offset: copying a param with shape \(3,\) from "
                                               r"checkpoint, the shape in current model is \(2,\)\."):
            net.load_state_dict(bad, strict=strict)
    with pytest.raises(TypeError, match="'scale' has dtype <U1"):
        net.load_state_dict(dict(state, scale=np.array(["a"])))
    after = net.state_dict()
    assert all(np.array_equal(before[k], after[k]) for k in before)


def test_zero_grad_train_eval_and_repr():
    torch = pytest.importorskip("torch")
    net, _ = nets(torch)
    for p in net.parameters():
        p.grad = np.ones(p.shape, p.dtype)
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    assert not any(m.training for m in net.eval().modules())
    assert all(m.training for m in net.train().modules())
    for ours, theirs in [(tl.nn.LSTM(3, 4, num_layers=2, dropout=0.1, batch_first=True),
                          torch.nn.LSTM(3, 4, num_layers=2, dropout=0.1, batch_first=True)),
                         (tl.nn.GRU(3, 4, bias=False, bidirectional=True),
                          torch.nn.GRU(3, 4, bias=False, bidirectional=True)),
                         (tl.nn.Linear(3, 4), torch.nn.Linear(3, 4)), (tl.nn.Embedding(3, 4), torch.nn.Embedding(3, 4)),
                         (tl.nn.LSTMCell(3, 4, bias=False), torch.nn.LSTMCell(3, 4, bias=False))]:
        assert repr(ours) == repr(theirs)


def test_parameter_of_integers_is_a_clear_type_error():
    with pytest.raises(TypeError, match="Parameter: only floating-point data can require grad, got dtype int64"):
        tl.nn.Parameter(np.array([1, 2]))
    assert tl.nn.Parameter([1.0, 2.0]).requires_grad


def test_sequential_and_module_list_indexing_slicing_extend_setitem():
    model = tl.nn.Sequential(tl.nn.Linear(2, 3), tl.nn.Linear(3, 4), tl.nn.Linear(4, 1))
    head = model[1:]
    assert isinstance(head, tl.nn.Sequential) and len(head) == 2
    assert head(np.ones((5, 3))).shape == (5, 1)
    assert model[-1] is head[1]
    replacement = tl.nn.Linear(2, 3)
    model[0] = replacement
    assert model[0] is replacement and names(model.named_parameters())[:2] == ["0.weight", "0.bias"]
    with pytest.raises(TypeError, match="Sequential: can only hold modules, got int"):
        model[0] = 3
    layers = tl.nn.ModuleList().extend([tl.nn.Linear(1, 1), tl.nn.Linear(1, 2)])
    assert isinstance(layers[:1], tl.nn.ModuleList) and not isinstance(layers[:1], tl.nn.Sequential)
    assert names(layers.named_parameters()) == ["0.weight", "0.bias", "1.weight", "1.bias"]
    with pytest.raises(TypeError, match="ModuleList: can only hold modules"):
        layers.append("linear")


# --------------------------------------------------------------------------- the Module API against torch.nn.Module
def twin_structures(torch):
    """The same module tree in both libraries: buffers of every kind, empty slots, a shared child, a tied weight."""

    def build(nn, tensor):
        class Block(nn.Module):
            def __init__(self):
                super().__init__()
                self.linear = nn.Linear(3, 3)
                self.register_buffer("running_mean", tensor(np.zeros(3)))
                self.register_buffer("scratch", tensor(np.ones(3)), persistent=False)
                self.register_buffer("count", tensor(np.zeros((), np.int64)))
                self.register_parameter("gain", nn.Parameter(tensor(np.ones(3))))
                self.register_parameter("unused", None)
                self.register_buffer("empty", None)

            def extra_repr(self):
                return "width=3,\nkind='block'"

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.first = Block()
                self.shared = nn.Linear(3, 3)
                self.second = Block()
                self.add_module("again", self.shared)  # one module under two names
                self.second.linear.weight = self.first.linear.weight  # a tied parameter
                self.register_module("nothing", None)
                self.head = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 2))

        return Net()

    return build(tl.nn, tl.Tensor), build(torch.nn, torch.tensor)


def test_names_and_order_of_every_traversal_match_torch():
    torch = pytest.importorskip("torch")
    ours, theirs = twin_structures(torch)
    for remove_duplicate in (True, False):
        for method in ("named_parameters", "named_buffers", "named_modules"):
            assert names(getattr(ours, method)(remove_duplicate=remove_duplicate)) == \
                names(getattr(theirs, method)(remove_duplicate=remove_duplicate)), (method, remove_duplicate)
        assert names(ours.named_parameters(prefix="model", remove_duplicate=remove_duplicate)) == \
            names(theirs.named_parameters(prefix="model", remove_duplicate=remove_duplicate))
    assert names(ours.named_modules(prefix="root")) == names(theirs.named_modules(prefix="root"))
    assert names(ours.named_children()) == names(theirs.named_children()) == ["first", "shared", "second", "head"]
    assert names(ours.first.named_parameters(recurse=False)) == names(theirs.first.named_parameters(recurse=False))
    assert names(ours.first.named_buffers(recurse=False)) == names(theirs.first.named_buffers(recurse=False))
    for method in ("parameters", "buffers", "modules", "children"):
        assert len(list(getattr(ours, method)())) == len(list(getattr(theirs, method)())), method
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert list(ours.state_dict(prefix="model.")) == list(theirs.state_dict(prefix="model."))
    memo = {ours.first}  # modules already seen are skipped, with their subtrees
    torch_memo = {theirs.first}
    assert names(ours.named_modules(memo)) == names(theirs.named_modules(torch_memo))


def test_buffers_are_state_but_not_parameters():
    torch = pytest.importorskip("torch")
    ours, theirs = twin_structures(torch)
    assert not {id(b) for b in ours.buffers()} & {id(p) for p in ours.parameters()}
    state = ours.state_dict()
    assert "first.running_mean" in state and "first.count" in state and "first.scratch" not in state
    assert "first.empty" not in state and "first.unused" not in state
    assert state["first.count"].dtype == np.int64
    # training never touches a buffer: the optimiser only sees parameters
    optimizer = tl.optim.SGD(ours.parameters(), lr=0.1)
    for p in ours.parameters():
        p.grad = np.ones(p.shape, p.dtype)
    optimizer.step()
    np.testing.assert_array_equal(ours.first.running_mean.data, np.zeros(3))
    # load_state_dict fills buffers as it fills parameters, in both directions with PyTorch
    torch_state = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    torch_state["first.running_mean"] = np.arange(3.0)
    torch_state["second.count"] = np.array(7)
    assert ours.load_state_dict(torch_state) == theirs.load_state_dict({k: torch.from_numpy(np.array(v))
                                                                       for k, v in torch_state.items()})
    np.testing.assert_array_equal(ours.first.running_mean.data, [0.0, 1.0, 2.0])
    assert ours.second.count.data == 7 and ours.second.count.dtype == np.int64
    for key, value in ours.state_dict().items():
        np.testing.assert_allclose(value, theirs.state_dict()[key].numpy(), rtol=1e-7, err_msg=key)


def test_to_casts_floating_buffers_but_not_integer_ones_like_torch():
    torch = pytest.importorskip("torch")
    ours, theirs = twin_structures(torch)
    ours.to(np.float32)
    theirs.to(torch.float32)
    for (name, buffer), (_, torch_buffer) in zip(ours.named_buffers(), theirs.named_buffers()):
        assert buffer.dtype.name == str(torch_buffer.dtype).removeprefix("torch."), name
    ours.double()
    assert ours.first.running_mean.dtype == ours.first.scratch.dtype == np.float64
    assert ours.first.count.dtype == np.int64


def test_register_buffer_and_assignment_to_a_buffer_name():
    torch = pytest.importorskip("torch")
    for module, tensor in ((tl.nn.Module(), tl.Tensor), (torch.nn.Module(), torch.tensor)):
        module.register_buffer("mask", tensor(np.ones(2)), persistent=False)
        replacement = tensor(np.zeros(2))
        module.mask = replacement  # a Tensor assigned to a buffer's name replaces the buffer ...
        assert module.mask is replacement and names(module.named_buffers()) == ["mask"]
        assert list(module.state_dict()) == []  # ... and keeps it non-persistent
        module.mask = None
        assert module.mask is None and list(module.buffers()) == []
        with pytest.raises(TypeError, match="buffer 'mask'"):
            module.mask = 3
        module.register_buffer("mask", tensor(np.ones(1)))  # registered again: persistent now
        assert list(module.state_dict()) == ["mask"]
        del module.mask
        assert list(module.named_buffers()) == [] and not hasattr(module, "mask")


@pytest.mark.parametrize("call, error", [
    (lambda m, t, nn: m.register_buffer(1, t(np.ones(1))), TypeError),
    (lambda m, t, nn: m.register_buffer("a.b", t(np.ones(1))), KeyError),
    (lambda m, t, nn: m.register_buffer("", t(np.ones(1))), KeyError),
    (lambda m, t, nn: m.register_buffer("weight", t(np.ones(1))), KeyError),  # a parameter's name
    (lambda m, t, nn: m.register_buffer("training", t(np.ones(1))), KeyError),  # a plain attribute
    (lambda m, t, nn: m.register_buffer("x", np.ones(1)), TypeError),  # not a Tensor
    (lambda m, t, nn: m.register_parameter("x", t(np.ones(1))), TypeError),  # not a Parameter
    (lambda m, t, nn: m.register_parameter("a.b", None), KeyError),
    (lambda m, t, nn: m.register_parameter(2, None), TypeError),
    (lambda m, t, nn: m.register_parameter("child", None), KeyError),  # a child's name
    (lambda m, t, nn: m.add_module("x", 3), TypeError),
    (lambda m, t, nn: m.add_module("a.b", nn.Linear(1, 1)), KeyError),
    (lambda m, t, nn: m.add_module("", nn.Linear(1, 1)), KeyError),
    (lambda m, t, nn: m.add_module("weight", nn.Linear(1, 1)), KeyError),
    (lambda m, t, nn: m.add_module(1, nn.Linear(1, 1)), TypeError),
    (lambda m, t, nn: setattr(m, "weight", t(np.ones(1))), TypeError),  # a non-Parameter over a parameter
    (lambda m, t, nn: setattr(m, "weight", 3.0), TypeError),
    (lambda m, t, nn: setattr(m, "child", t(np.ones(1))), TypeError),
    (lambda m, t, nn: delattr(m, "missing"), AttributeError),
    (lambda m, t, nn: m.get_submodule("child.missing"), AttributeError),
    (lambda m, t, nn: m.get_submodule("weight"), AttributeError),  # not a module
    (lambda m, t, nn: m.get_parameter("child.missing"), AttributeError),
    (lambda m, t, nn: m.get_parameter("child"), AttributeError),  # not a parameter
    (lambda m, t, nn: m.get_parameter("missing.weight"), AttributeError),
    (lambda m, t, nn: m.get_buffer("weight"), AttributeError),  # not a buffer
    (lambda m, t, nn: m.get_buffer("child.missing"), AttributeError),
    (lambda m, t, nn: m.train(1), ValueError),
    (lambda m, t, nn: m.load_state_dict([("weight", t(np.ones(1)))]), TypeError),
])
def test_registration_and_lookup_errors_have_torchs_types(call, error):
    torch = pytest.importorskip("torch")
    for nn, tensor in ((tl.nn, tl.Tensor), (torch.nn, torch.tensor)):
        module = nn.Module()
        module.weight = nn.Parameter(tensor(np.ones(1)))
        module.child = nn.Linear(1, 1)
        before = names(module.named_parameters()), names(module.named_buffers()), names(module.named_modules())
        with pytest.raises(error):
            call(module, tensor, nn)
        after = names(module.named_parameters()), names(module.named_buffers()), names(module.named_modules())
        assert before == after and isinstance(module.weight, nn.Parameter)  # a refused change changes nothing


def test_registration_messages_name_the_module_and_the_name():
    module = tl.nn.Linear(1, 1)
    with pytest.raises(TypeError, match="Linear: cannot assign Tensor to parameter 'weight' "
                                        r"\(a Parameter or None expected\)"):
        module.weight = tl.Tensor(np.ones((1, 1)))
    with pytest.raises(KeyError, match="Linear: attribute 'in_features' already exists"):
        module.register_buffer("in_features", tl.zeros(1))
    with pytest.raises(KeyError, match='Linear: buffer name cannot contain ".", got a.b'):
        module.register_buffer("a.b", tl.zeros(1))
    with pytest.raises(TypeError, match="Linear: int is not a Module subclass"):
        module.add_module("x", 3)


def test_assignment_moves_a_name_between_kinds_like_torch():
    torch = pytest.importorskip("torch")
    results = []
    for nn, tensor in ((tl.nn, tl.Tensor), (torch.nn, torch.tensor)):
        module = nn.Module()
        module.register_buffer("a", tensor(np.ones(1)))
        module.b = nn.Linear(1, 1)
        module.c = nn.Parameter(tensor(np.ones(1)))
        module.a = nn.Parameter(tensor(np.ones(1)))  # buffer -> parameter
        module.b = nn.Parameter(tensor(np.ones(1)))  # child -> parameter
        with pytest.raises(TypeError, match="parameter 'c'"):
            module.c = nn.Linear(1, 1)  # a parameter's name takes only a Parameter or None
        module.register_buffer("e", tensor(np.ones(1)))
        module.e = nn.Linear(1, 1)  # buffer -> child
        module.plain = 3
        module.plain = nn.Parameter(tensor(np.ones(1)))  # plain attribute -> parameter
        module.register_parameter("d", None)
        module.d = None  # None keeps an empty parameter slot
        results.append((names(module.named_parameters()), names(module.named_buffers()),
                        names(module.named_children()), module.d, list(module.state_dict())))
    assert results[0] == results[1]
    assert results[0][:3] == (["c", "a", "b", "plain", "e.weight", "e.bias"], [], ["e"])


def test_plain_attributes_may_be_set_before_init_but_parameters_not_like_torch():
    torch = pytest.importorskip("torch")
    for nn, tensor in ((tl.nn, tl.Tensor), (torch.nn, torch.tensor)):
        class Early(nn.Module):
            def __init__(self, parameter):
                self.size = 3  # fine before super().__init__(), as in PyTorch
                if parameter:
                    self.weight = nn.Parameter(tensor(np.ones(1)))
                super().__init__()

        assert Early(False).size == 3
        with pytest.raises(AttributeError, match="before Module.__init__"):
            Early(True)


def test_get_submodule_parameter_and_buffer_match_torch():
    torch = pytest.importorskip("torch")
    ours, theirs = twin_structures(torch)
    for (name, module), (_, torch_module) in zip(ours.named_modules(), theirs.named_modules()):
        assert ours.get_submodule(name) is module and theirs.get_submodule(name) is torch_module
    for name, parameter in ours.named_parameters(remove_duplicate=False):
        assert ours.get_parameter(name) is parameter
        theirs.get_parameter(name)
    for name, buffer in ours.named_buffers(remove_duplicate=False):
        assert ours.get_buffer(name) is buffer
        theirs.get_buffer(name)
    with pytest.raises(AttributeError, match="Block has no attribute `missing`"):
        ours.get_submodule("first.missing")
    with pytest.raises(AttributeError, match="`gain` is not an nn.Module"):
        ours.get_submodule("first.gain")
    with pytest.raises(AttributeError, match="`running_mean` is not an nn.Parameter"):
        ours.get_parameter("first.running_mean")
    with pytest.raises(AttributeError, match="`gain` is not a buffer"):
        ours.get_buffer("first.gain")


def test_apply_visits_children_first_then_self_like_torch():
    torch = pytest.importorskip("torch")
    visits = []
    for model in twin_structures(torch):
        name_of = {id(module): name for name, module in model.named_modules()}
        order = []
        assert model.apply(lambda m: order.append(name_of[id(m)])) is model
        visits.append(order)
    assert visits[0] == visits[1]
    assert visits[0][-1] == "" and visits[0].index("first.linear") < visits[0].index("first")


def test_apply_initialises_weights():
    model = tl.nn.Sequential(tl.nn.Linear(2, 3), tl.nn.LSTM(3, 4), tl.nn.Linear(4, 1))

    def constant(module):
        for parameter in module.parameters(recurse=False):
            parameter.data[...] = 0.5

    model.apply(constant)
    assert all((p.data == 0.5).all() for p in model.parameters())


def test_requires_grad_freezes_parameters_like_torch():
    torch = pytest.importorskip("torch")
    ours, theirs = twin_structures(torch)
    assert ours.first.requires_grad_(False) is ours.first
    theirs.first.requires_grad_(False)
    flags = [p.requires_grad for p in ours.parameters()]
    assert flags == [p.requires_grad for p in theirs.parameters()] and not all(flags) and any(flags)
    frozen = tl.nn.Linear(2, 2).requires_grad_(False)
    x = tl.Tensor(np.ones((1, 2), np.float32), requires_grad=True)
    frozen(x).sum().backward()
    assert frozen.weight.grad is None and x.grad is not None
    assert all(p.requires_grad for p in frozen.requires_grad_().parameters())


def test_zero_grad_defaults_to_none_like_torch_and_can_zero_in_place():
    torch = pytest.importorskip("torch")
    ours, theirs = tl.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    ours(np.ones((1, 2))).sum().backward()
    theirs(torch.ones(1, 2)).sum().backward()
    grad = ours.weight.grad
    ours.zero_grad(set_to_none=False)
    theirs.zero_grad(set_to_none=False)
    assert ours.weight.grad is grad and not grad.any() and not theirs.weight.grad.any()
    ours.zero_grad()
    theirs.zero_grad()
    assert ours.weight.grad is None and theirs.weight.grad is None


def test_train_and_eval_recurse_through_overridden_train_like_torch():
    torch = pytest.importorskip("torch")
    calls = []
    for nn in (tl.nn, torch.nn):
        class Frozen(nn.Linear):
            def train(self, mode=True):  # a subclass that stays in eval mode
                calls.append(mode)
                return super().train(False)

        model = nn.Sequential(nn.Linear(1, 1), Frozen(1, 1), nn.Dropout(0.5))
        assert model.eval() is model and not any(m.training for m in model.modules())
        model.train()
        assert [m.training for m in model.modules()] == [True, True, False, True]
    assert calls == [False, True, False, True]


def test_repr_uses_extra_repr_as_torch_does():
    torch = pytest.importorskip("torch")
    ours, theirs = twin_structures(torch)
    assert repr(ours) == repr(theirs)
    for nn in (tl.nn, torch.nn):
        class OneLine(nn.Module):
            def extra_repr(self):
                return "size=3"
        assert repr(OneLine()) == "OneLine(size=3)"
        assert repr(nn.Module()) == "Module()"


def test_state_dict_keep_vars_prefix_and_destination():
    torch = pytest.importorskip("torch")
    ours, theirs = twin_structures(torch)
    kept = ours.state_dict(keep_vars=True)
    assert list(kept) == list(theirs.state_dict(keep_vars=True))
    assert kept["first.gain"] is ours.first.gain and kept["first.running_mean"] is ours.first.running_mean
    copies = ours.state_dict()
    assert all(type(v) is np.ndarray for v in copies.values())
    copies["first.gain"][:] = 5  # copies, not views: the module is untouched
    assert (ours.first.gain.data == 1).all()
    destination = {"step": np.array(3)}
    assert ours.state_dict(destination=destination, prefix="model.") is destination
    assert list(destination) == ["step"] + list(theirs.state_dict(prefix="model."))


@pytest.mark.parametrize("change", [
    "drop:first.running_mean", "drop:second.linear.weight", "add:first.linear.foo", "add:nonexistent.weight",
    "add:first.unused", "add:first.scratch", "add:first.empty", "add:head", "add:nothing.weight",
    "add:head.0.bias.extra", "add:again.weight_extra",
])
def test_missing_and_unexpected_keys_match_torch(change):
    torch = pytest.importorskip("torch")
    ours, theirs = twin_structures(torch)
    state = {k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()}
    action, key = change.split(":")
    if action == "drop":
        del state[key]
    else:
        state[key] = np.ones(3)
    torch_state = {k: torch.from_numpy(v) for k, v in state.items()}
    result = ours.load_state_dict(state, strict=False)
    assert result == theirs.load_state_dict(torch_state, strict=False)
    assert isinstance(result, tl.nn.IncompatibleKeys)
    if not result.missing_keys and not result.unexpected_keys:  # a key under an empty slot is ignored
        assert ours.load_state_dict(state) == theirs.load_state_dict(torch_state)
        return
    with pytest.raises(RuntimeError) as theirs_error:
        theirs.load_state_dict(torch_state)
    with pytest.raises(RuntimeError) as ours_error:
        ours.load_state_dict(state)
    assert str(ours_error.value) == str(theirs_error.value)


def test_incompatible_keys_print_like_torch():
    torch = pytest.importorskip("torch")
    ours, theirs = tl.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    state = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    assert repr(ours.load_state_dict(state)) == repr(theirs.load_state_dict(theirs.state_dict())) == \
        "<All keys matched successfully>"
    del state["bias"]
    assert str(ours.load_state_dict(state, strict=False)) == "IncompatibleKeys(missing_keys=['bias'], unexpected_keys=[])"


def test_a_failed_load_changes_nothing_where_torch_copies_what_fits():
    torch = pytest.importorskip("torch")
    ours, theirs = twin_structures(torch)
    state = {k: np.full(v.shape, 9, v.detach().numpy().dtype) for k, v in theirs.state_dict().items()}
    state["second.gain"] = np.ones(4)  # a size mismatch in the middle
    with pytest.raises(RuntimeError, match="size mismatch for second.gain"):
        theirs.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    assert (theirs.first.gain.detach().numpy() == 9).all()  # PyTorch: half applied
    before = ours.state_dict()
    with pytest.raises(tl.nn.StateDictError, match="size mismatch for second.gain"):
        ours.load_state_dict(state)
    after = ours.state_dict()
    assert all(np.array_equal(before[k], after[k]) for k in before)


def test_a_zero_dim_parameter_takes_a_one_element_value_like_torch():
    torch = pytest.importorskip("torch")
    ours, theirs = tl.nn.Module(), torch.nn.Module()
    ours.scale = tl.nn.Parameter(np.array(1.0))
    theirs.scale = torch.nn.Parameter(torch.tensor(1.0))
    ours.load_state_dict({"scale": np.array([3.0])})
    theirs.load_state_dict({"scale": torch.tensor([3.0])})
    assert ours.scale.shape == () and ours.scale.item() == theirs.scale.item() == 3.0


# --------------------------------------------------------------------------- version counters
def test_load_state_dict_bumps_the_version_of_every_tensor_it_writes():
    torch = pytest.importorskip("torch")
    ours, theirs = twin_structures(torch)
    state = ours.state_dict()
    tensors = dict(ours.state_dict(keep_vars=True))
    torch_tensors = dict(theirs.state_dict(keep_vars=True))
    before = {key: t._version for key, t in tensors.items()}
    torch_before = {key: t._version for key, t in torch_tensors.items()}
    ours.load_state_dict(state)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    bumped = {key: t._version > before[key] for key, t in tensors.items()}
    assert bumped == {key: t._version > torch_before[key] for key, t in torch_tensors.items()}
    assert all(bumped.values()) and "first.running_mean" in bumped  # buffers too
    versions = {key: t._version for key, t in tensors.items()}
    state["second.gain"] = np.ones(5)
    with pytest.raises(RuntimeError, match="size mismatch"):
        ours.load_state_dict(state)
    assert versions == {key: t._version for key, t in tensors.items()}  # a failed load writes nothing


def test_backward_through_a_graph_built_before_load_state_dict_raises_like_torch():
    torch = pytest.importorskip("torch")
    tl.manual_seed(0)
    model = tl.nn.GRU(2, 3, dtype=np.float64)
    twin = torch.nn.GRU(2, 3).double()
    state = model.state_dict()
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    x = np.random.default_rng(0).standard_normal((3, 1, 2))
    loss, torch_loss = (model(x)[0] ** 2).sum(), (twin(torch.from_numpy(x))[0] ** 2).sum()
    model.load_state_dict(state)  # the same values, written in place: the saved ones are stale all the same
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        torch_loss.backward()
    with pytest.raises(RuntimeError, match=r"modified by an inplace operation: weight_hh_l0 saved by"):
        loss.backward()
    (model(x)[0] ** 2).sum().backward()  # a fresh forward pass is fine
    assert model.weight_hh_l0.grad is not None


def test_a_parameter_is_named_by_its_first_registration():
    linear = tl.nn.Linear(2, 2)
    assert linear.weight._name == "weight"
    model = tl.nn.Module()
    model.tied = linear.weight  # a second name does not rename it
    assert model.tied._name == "weight"
    assert tl.nn.Parameter(np.ones(1))._name is None


# --------------------------------------------------------------------------- inputs from PyTorch
def test_torch_inputs_are_a_type_error_saying_how_to_convert():
    torch = pytest.importorskip("torch")
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
    lstm = tl.nn.LSTM(3, 4).double()
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    h0 = (torch.zeros(1, 2, 4, dtype=torch.float64),) * 2
    for call, shown in [(lambda: lstm(x), "torch.Tensor of shape (5, 2, 3)"),
                        (lambda: lstm(x.numpy(), h0), "torch.Tensor of shape (1, 2, 4)"),
                        (lambda: lstm(x.numpy(), lengths=torch.tensor([5, 3])), "torch.Tensor of shape (2,)"),
                        (lambda: tl.nn.Recurrent(tl.nn.GRUCell(3, 4))(x), "torch.Tensor"),
                        (lambda: tl.nn.Linear(3, 2)(x.clone().requires_grad_()), "torch.Tensor")]:
        with pytest.raises(TypeError, match=r"x\.detach\(\)\.numpy\(\)") as error:
            call()
        assert shown in str(error.value)
    packed = pack_padded_sequence(x, [5, 3])
    with pytest.raises(TypeError, match=r"^LSTM: got a torch PackedSequence.*pad_packed_sequence") as error:
        lstm(packed)
    assert "lengths=lengths.tolist()" in str(error.value)
    # the conversion the message gives runs the same batch as PyTorch's packed run
    twin = torch.nn.LSTM(3, 4).double()
    twin.load_state_dict({name: torch.from_numpy(value) for name, value in lstm.state_dict().items()})
    padded, lengths = pad_packed_sequence(packed)
    ours, (h_n, c_n) = lstm(padded.numpy(), lengths=lengths.tolist())
    theirs, (torch_h_n, torch_c_n) = twin(packed)
    np.testing.assert_allclose(ours.data, pad_packed_sequence(theirs)[0].detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(c_n.data, torch_c_n.detach().numpy(), atol=1e-12)
