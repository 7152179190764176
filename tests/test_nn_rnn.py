"""`tl.nn` recurrent cells and sequence modules without PyTorch: shapes, dtypes, errors,
gradchecks, graph layout and scopes, variable lengths, `detach_state`."""
import warnings

import numpy as np
import pytest

import tinygrad_lstm as tl
from module_checks import gradcheck_module

T, B, D, H = 4, 3, 5, 4


def states(result):
    """Output and final states of a sequence module as a flat list."""
    output, final = result
    return [output, *final] if isinstance(final, tuple) else [output, final]


def as_tuple(state):
    return state if isinstance(state, tuple) else (state,)


# --------------------------------------------------------------------------- shapes and dtypes
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_shapes_and_float32_kept_through_backward(kind, batch_first):
    tl.manual_seed(0)
    module = getattr(tl.nn, kind)(D, H, num_layers=2, bidirectional=True, batch_first=batch_first)
    x = tl.Tensor(np.random.default_rng(0).standard_normal((B, T, D) if batch_first else (T, B, D)),
                  dtype=np.float32, requires_grad=True)
    hx = tl.zeros(4, B, H, dtype=np.float32, requires_grad=True)
    output, final = module(x, (hx, hx) if kind == "LSTM" else hx)
    assert output.shape == ((B, T, 2 * H) if batch_first else (T, B, 2 * H))
    finals = final if kind == "LSTM" else (final,)
    assert all(f.shape == (4, B, H) for f in finals)
    assert output.dtype == np.float32 and all(f.dtype == np.float32 for f in finals)
    sum((t * t).sum() for t in (output, *finals)).backward()
    assert x.grad.dtype == np.float32 and hx.grad.dtype == np.float32
    for name, parameter in module.named_parameters():
        assert parameter.dtype == np.float32 and parameter.grad.dtype == np.float32, name


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_float32_module_keeps_float32_through_forward_and_backward(kind):
    module = getattr(tl.nn, kind)(3, 4, num_layers=2, bidirectional=True)
    x = tl.Tensor(np.random.default_rng(0).standard_normal((5, 2, 3)).astype(np.float32), requires_grad=True)
    output, final = module(x, lengths=[5, 3])
    (output.sum() + as_tuple(final)[0].sum()).backward()
    assert output.dtype == np.float32 and all(h.dtype == np.float32 for h in as_tuple(final))
    assert x.grad.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in module.parameters())


def test_float64_input_is_cast_to_a_float32_module_unless_it_requires_grad():
    # A deliberate deviation: PyTorch refuses any dtype mismatch; we cast constants (arrays,
    # tensors outside the graph) and refuse only what the cast would cut out of the graph.
    lstm = tl.nn.LSTM(3, 4)
    output, (h, c) = lstm(np.ones((2, 1, 3)))
    assert output.dtype == h.dtype == c.dtype == np.float32
    with pytest.raises(TypeError, match="LSTM: input has dtype float64 but the module's parameters are float32"):
        lstm(tl.Tensor(np.ones((2, 1, 3)), requires_grad=True))
    with pytest.raises(TypeError, match="h_0 has dtype float64"):
        lstm(np.ones((2, 1, 3), np.float32), (tl.zeros(1, 1, 4, requires_grad=True), tl.zeros(1, 1, 4)))


@pytest.mark.parametrize("kind, gates", [("RNN", 1), ("LSTM", 4), ("GRU", 3)])
def test_parameter_names_shapes_and_init(kind, gates):
    tl.manual_seed(1)
    module = getattr(tl.nn, kind)(D, 16, num_layers=2, bidirectional=True)
    expected = []
    for layer in range(2):
        for suffix in ("", "_reverse"):
            width = D if layer == 0 else 32
            expected += [(f"weight_ih_l{layer}{suffix}", (gates * 16, width)),
                         (f"weight_hh_l{layer}{suffix}", (gates * 16, 16)),
                         (f"bias_ih_l{layer}{suffix}", (gates * 16,)), (f"bias_hh_l{layer}{suffix}", (gates * 16,))]
    assert [(n, p.shape) for n, p in module.named_parameters()] == expected
    values = np.concatenate([p.data.ravel() for p in module.parameters()])
    assert np.abs(values).max() <= 0.25 and np.abs(values).max() > 0.24  # U(-1/sqrt(H), 1/sqrt(H))
    without_bias = getattr(tl.nn, kind)(D, H, bias=False)
    assert [n for n, _ in without_bias.named_parameters()] == ["weight_ih_l0", "weight_hh_l0"]


def test_unbatched_input_and_state():
    lstm = tl.nn.LSTM(D, H, num_layers=2)
    output, (h_n, c_n) = lstm(np.ones((T, D)), (np.zeros((2, H)), np.zeros((2, H))))
    assert output.shape == (T, H) and h_n.shape == c_n.shape == (2, H)
    batched, (h_b, _) = lstm(np.ones((T, 1, D)))
    np.testing.assert_allclose(output.data, batched.data[:, 0])
    np.testing.assert_allclose(h_n.data, h_b.data[:, 0])


@pytest.mark.parametrize("module, shapes", [
    (tl.nn.GRU(D, H, num_layers=2, bidirectional=True), [(4, B, H)]),
    (tl.nn.LSTM(D, H, num_layers=3, proj_size=2, dtype=np.float64), [(3, B, 2), (3, B, H)]),
])
def test_init_state_is_the_zero_state_forward_takes(module, shapes):
    state = module.init_state(B)
    parts = state if isinstance(state, tuple) else (state,)
    assert [p.shape for p in parts] == shapes and all(p.dtype == module.dtype for p in parts)
    assert not any(p.requires_grad or p.data.any() for p in parts)
    unbatched = module.init_state()
    assert [p.shape for p in (unbatched if isinstance(unbatched, tuple) else (unbatched,))] == \
        [(s[0], s[2]) for s in shapes]
    x = np.random.default_rng(0).standard_normal((T, B, D))
    default, given = module(x), module(x, state)
    np.testing.assert_array_equal(default[0].data, given[0].data)


@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cells_batched_and_unbatched(name):
    cell = getattr(tl.nn, name)(D, H)
    x = np.random.default_rng(2).standard_normal((B, D))
    batched = cell(x)
    single = cell(x[1])
    first_b, first_s = (batched[0], single[0]) if name == "LSTMCell" else (batched, single)
    assert first_b.shape == (B, H) and first_s.shape == (H,)
    np.testing.assert_allclose(first_s.data, first_b.data[1], rtol=1e-6)
    zero = cell.init_state(B)
    again = cell(x, zero)
    np.testing.assert_array_equal((again[0] if name == "LSTMCell" else again).data, first_b.data)


# --------------------------------------------------------------------------- errors
def test_input_rank_and_size_errors():
    lstm = tl.nn.LSTM(4, 8)
    with pytest.raises(ValueError, match=r"LSTM: expected input with 3 dimensions \(T, B, 4\) or 2 \(T, 4\), "
                                         r"got shape \(5, 3, 1, 4\)"):
        lstm(np.zeros((5, 3, 1, 4)))
    with pytest.raises(ValueError, match=r"LSTM: input size 7 does not match input_size=4"):
        lstm(np.zeros((5, 3, 7)))
    with pytest.raises(ValueError, match=r"\(B, T, 4\)"):
        tl.nn.GRU(4, 8, batch_first=True)(np.zeros(4))


def test_state_errors():
    lstm = tl.nn.LSTM(4, 8, num_layers=2)
    with pytest.raises(ValueError, match=r"LSTM: expected h_0 of shape \(2, 3, 8\), got \(1, 3, 8\)"):
        lstm(np.zeros((5, 3, 4)), (np.zeros((1, 3, 8)), np.zeros((2, 3, 8))))
    with pytest.raises(ValueError, match=r"expected c_0 of shape \(2, 3, 8\), got \(2, 3, 7\)"):
        lstm(np.zeros((5, 3, 4)), (np.zeros((2, 3, 8)), np.zeros((2, 3, 7))))
    with pytest.raises(TypeError, match=r"tuple \(h_0, c_0\)"):
        lstm(np.zeros((5, 3, 4)), np.zeros((2, 3, 8)))
    with pytest.raises(ValueError, match=r"GRU: expected h_0 of shape \(2, 8\), got \(2, 1, 8\)"):
        tl.nn.GRU(4, 8, bidirectional=True)(np.zeros((5, 4)), np.zeros((2, 1, 8)))
    with pytest.raises(ValueError, match=r"LSTMCell: expected c of shape \(3, 8\)"):
        tl.nn.LSTMCell(4, 8)(np.zeros((3, 4)), (np.zeros((3, 8)), np.zeros((8,))))
    with pytest.raises(ValueError, match=r"RNNCell: input size 5 does not match input_size=4"):
        tl.nn.RNNCell(4, 8)(np.zeros((3, 5)))


def test_lengths_errors():
    gru = tl.nn.GRU(4, 8)
    x = np.zeros((5, 3, 4))
    with pytest.raises(ValueError, match=r"lengths must be in \[1, 5\], got \[1, 6, 2\]"):
        gru(x, lengths=[1, 6, 2])
    with pytest.raises(ValueError, match="3 integers"):
        gru(x, lengths=[1, 2])
    with pytest.raises(ValueError, match="batched"):
        gru(np.zeros((5, 4)), lengths=[5])


@pytest.mark.parametrize("call, message", [
    (lambda m: m(np.ones((1, 5, 2, 3))),
     r"LSTM: expected input with 3 dimensions \(T, B, 3\) or 2 \(T, 3\), got shape \(1, 5, 2, 3\)"),
    (lambda m: m(np.ones(3)), r"got shape \(3,\)"),
    (lambda m: m(np.ones((5, 2, 4))), r"input size 4 does not match input_size=3"),
    (lambda m: m(np.ones((0, 2, 3))), r"no time steps"),
    (lambda m: m(np.ones((5, 2, 3)), (np.zeros((1, 3, 4)), np.zeros((1, 2, 4)))),
     r"expected h_0 of shape \(1, 2, 4\), got \(1, 3, 4\)"),
    (lambda m: m(np.ones((5, 2, 3)), (np.zeros((1, 2, 4)), np.zeros((2, 4)))),
     r"expected c_0 of shape \(1, 2, 4\), got \(2, 4\)"),
    (lambda m: m(np.ones((5, 3)), (np.zeros((1, 1, 4)), np.zeros((1, 1, 4)))), r"expected h_0 of shape \(1, 4\)"),
    (lambda m: m(np.ones((5, 2, 3)), lengths=[0, 2]), r"lengths must be in \[1, 5\], got \[0, 2\]"),
    (lambda m: m(np.ones((5, 2, 3)), lengths=[6, 2]), r"lengths must be in \[1, 5\], got \[6, 2\]"),
    (lambda m: m(np.ones((5, 2, 3)), lengths=[5]), r"lengths must be 2 integers"),
    (lambda m: m(np.ones((5, 2, 3)), lengths=[5.0, 2.0]), r"lengths must be 2 integers"),
    (lambda m: m(np.ones((5, 3)), lengths=[5]), r"lengths needs a batched input"),
])
def test_lstm_shape_errors_are_value_errors_naming_the_shapes(call, message):
    lstm = tl.nn.LSTM(3, 4)
    with pytest.raises(ValueError, match=message):
        call(lstm)


@pytest.mark.parametrize("hx, error, message", [
    (np.zeros((1, 2, 4)), TypeError, r"LSTM: hx must be a tuple \(h_0, c_0\), got ndarray"),
    ((None, np.zeros((1, 2, 4))), TypeError, r"LSTM: h_0 is None"),
])
def test_lstm_state_type_errors(hx, error, message):
    with pytest.raises(error, match=message):
        tl.nn.LSTM(3, 4)(np.ones((5, 2, 3)), hx)


@pytest.mark.parametrize("call, error, message", [
    (lambda c: c(np.ones((1, 2, 3))), ValueError, r"LSTMCell: expected input of shape \(B, 3\) or \(3,\)"),
    (lambda c: c(np.ones((2, 5))), ValueError, r"input size 5 does not match input_size=3"),
    (lambda c: c(np.ones((2, 3)), (np.zeros((3, 4)), np.zeros((2, 4)))), ValueError,
     r"expected h of shape \(2, 4\) for input of shape \(2, 3\), got \(3, 4\)"),
    (lambda c: c(np.ones((2, 3)), (np.zeros(4), np.zeros(4))), ValueError, r"got \(4,\)"),
    (lambda c: c(np.ones((2, 3)), tl.zeros(2, 4)), TypeError, r"state must be a tuple \(h, c\)"),
    (lambda c: c(np.ones((2, 3)), (tl.zeros(2, 4), None)), TypeError, r"LSTMCell: c is None"),
])
def test_cell_errors(call, error, message):
    with pytest.raises(error, match=message):
        call(tl.nn.LSTMCell(3, 4))


def test_constructor_errors_and_dropout_warning():
    with pytest.raises(ValueError, match="nonlinearity"):
        tl.nn.RNN(2, 2, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="dropout"):
        tl.nn.LSTM(2, 2, num_layers=2, dropout=-0.1)
    with pytest.warns(UserWarning, match="num_layers=1"):
        tl.nn.LSTM(2, 2, dropout=0.5)


# --------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_gradcheck_sequence_modules(kind):
    tl.manual_seed(3)
    module = getattr(tl.nn, kind)(2, 2, num_layers=2, bidirectional=True, dtype=np.float64)
    rng = np.random.default_rng(3)
    x = tl.Tensor(rng.standard_normal((3, 2, 2)), requires_grad=True)
    h0 = tl.Tensor(rng.standard_normal((4, 2, 2)), requires_grad=True)
    if kind == "LSTM":
        c0 = tl.Tensor(rng.standard_normal((4, 2, 2)), requires_grad=True)
        assert gradcheck_module(module, lambda x, h, c: states(module(x, (h, c), lengths=[2, 3])), [x, h0, c0])
    else:
        assert gradcheck_module(module, lambda x, h: states(module(x, h, lengths=[2, 3])), [x, h0])


def test_gradcheck_detects_a_wrong_module():
    """The helper can fail: a parameter used outside the graph gives a zero analytical gradient."""

    class Leaky(tl.nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = tl.nn.Parameter(np.array([0.5]))

        def forward(self, x):
            return x * self.weight.data  # bypasses the graph

    module = Leaky()
    with pytest.raises(tl.GradcheckError):
        gradcheck_module(module, lambda x: module(x), [tl.Tensor([1.0, 2.0], requires_grad=True)])


# --------------------------------------------------------------------------- graph layout and scopes
def test_lstm_graph_is_lean_and_scoped():
    tl.manual_seed(4)
    lstm = tl.nn.LSTM(D, H, num_layers=2, bidirectional=True)
    x = tl.randn(T, B, D, dtype=np.float32, requires_grad=True)
    output, (h_n, c_n) = lstm(x)
    nodes = tl.walk_graph([output, h_n, c_n]).nodes
    by_scope = {}
    for node in nodes:
        by_scope.setdefault(node.scope, []).append(node.name)
    for layer in ("l0", "l1"):
        for direction in ("", "_reverse"):
            scope = f"lstm/{layer}{direction}"
            assert by_scope[scope].count("matmul") == 1 and by_scope[scope].count("unbind") == 1
            for t in range(T):
                step = by_scope[f"{scope}/t={t}"]
                assert len(step) <= 11 and step.count("addmm") == 1 and step.count("split") == 1
    assert not any(node.name == "getitem" for node in nodes)  # never x[t] per step
    assert set(by_scope) == {"lstm"} | {f"lstm/l{k}{d}" for k in (0, 1) for d in ("", "_reverse")} | {
        f"lstm/l{k}{d}/t={t}" for k in (0, 1) for d in ("", "_reverse") for t in range(T)}


def test_reverse_direction_runs_last_step_first():
    rnn = tl.nn.RNN(D, H, bidirectional=True)
    output, _ = rnn(tl.randn(T, B, D, dtype=np.float32))
    nodes = tl.walk_graph(output).nodes
    step_matmuls = [n.scope for n in nodes if n.scope.startswith("rnn/l0_reverse/t=") and n.name == "addmm"]
    assert step_matmuls == [f"rnn/l0_reverse/t={t}" for t in reversed(range(T))]  # nodes are in dependency order


# --------------------------------------------------------------------------- lengths
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_lengths_equal_running_each_sequence_alone(kind, batch_first):
    tl.manual_seed(5)
    module = getattr(tl.nn, kind)(D, H, num_layers=2, bidirectional=True, dtype=np.float64, batch_first=batch_first)
    rng = np.random.default_rng(5)
    lengths = [2, 4, 1]
    x = rng.standard_normal((T, B, D))
    n_states = 2 if kind == "LSTM" else 1
    initial = [rng.standard_normal((4, B, H)) for _ in range(n_states)]
    hx = tuple(initial) if kind == "LSTM" else initial[0]
    feed = x.transpose(1, 0, 2) if batch_first else x
    output, final = module(feed, hx, lengths=lengths)
    output = output.data.transpose(1, 0, 2) if batch_first else output.data
    finals = [f.data for f in (final if kind == "LSTM" else (final,))]
    for b, length in enumerate(lengths):
        alone_x = x[:length, b:b + 1]
        alone_hx = [s[:, b:b + 1] for s in initial]
        alone_feed = alone_x.transpose(1, 0, 2) if batch_first else alone_x
        alone_out, alone_final = module(alone_feed, tuple(alone_hx) if kind == "LSTM" else alone_hx[0])
        alone_out = alone_out.data.transpose(1, 0, 2) if batch_first else alone_out.data
        np.testing.assert_allclose(output[:length, b], alone_out[:, 0], rtol=1e-12, atol=1e-14)
        assert (output[length:, b] == 0).all()
        for mine, alone in zip(finals, alone_final if kind == "LSTM" else (alone_final,)):
            np.testing.assert_allclose(mine[:, b], alone.data[:, 0], rtol=1e-12, atol=1e-14)


def test_full_lengths_build_the_same_graph():
    lstm = tl.nn.LSTM(D, H)
    x = tl.randn(T, B, D, dtype=np.float32, requires_grad=True)
    plain, _ = lstm(x)
    masked, _ = lstm(x, lengths=[T] * B)
    np.testing.assert_array_equal(plain.data, masked.data)
    assert len(tl.walk_graph(plain).nodes) == len(tl.walk_graph(masked).nodes)


# --------------------------------------------------------------------------- dropout
def test_dropout_between_layers_only_in_training():
    tl.manual_seed(6)
    lstm = tl.nn.LSTM(D, H, num_layers=2, dropout=0.5)
    x = tl.randn(T, B, D, dtype=np.float32)
    tl.manual_seed(7)
    first, _ = lstm(x)
    tl.manual_seed(7)
    second, _ = lstm(x)
    np.testing.assert_array_equal(first.data, second.data)
    evaluated, _ = lstm.eval()(x)
    assert not np.allclose(first.data, evaluated.data)
    no_dropout = tl.nn.LSTM(D, H, num_layers=2)
    no_dropout.load_state_dict(lstm.state_dict())
    np.testing.assert_array_equal(no_dropout(x)[0].data, evaluated.data)


# --------------------------------------------------------------------------- extreme values
def test_extreme_weights_float32_give_exact_saturated_values():
    lstm = tl.nn.LSTM(D, H, num_layers=1)
    rnn = tl.nn.RNN(D, H)
    x = tl.Tensor(np.abs(np.random.default_rng(8).standard_normal((T, B, D))) + 1, dtype=np.float32,
                  requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for sign in (1, -1):
            lstm.load_state_dict({n: np.full(a.shape, 100.0 * sign) for n, a in lstm.state_dict().items()})
            rnn.load_state_dict({n: np.full(a.shape, 100.0 * sign) for n, a in rnn.state_dict().items()})
            output, (h_n, c_n) = lstm(x)
            if sign > 0:  # every gate saturates at 1, so c_t = t + 1 and h_t = tanh(t + 1)
                expected_c = np.arange(1, T + 1, dtype=np.float32)[:, None, None] * np.ones((T, B, H), np.float32)
                np.testing.assert_array_equal(output.data, np.tanh(expected_c))
                np.testing.assert_array_equal(c_n.data[0], expected_c[-1])
            else:  # every gate saturates at 0, so the state stays exactly zero
                np.testing.assert_array_equal(output.data, np.zeros((T, B, H), np.float32))
            (output.sum() + c_n.sum()).backward()
            rnn_output, _ = rnn(x)
            np.testing.assert_array_equal(rnn_output.data, np.full((T, B, H), sign, np.float32))
            rnn_output.sum().backward()
    assert output.dtype == np.float32 and np.isfinite(x.grad).all()
    assert all(np.isfinite(p.grad).all() for p in lstm.parameters())


def test_detach_state_for_truncated_bptt():
    tl.manual_seed(11)
    lstm = tl.nn.LSTM(2, 3, dtype=np.float64)
    first = tl.randn(3, 1, 2, requires_grad=True)
    second = tl.randn(3, 1, 2, requires_grad=True)
    _, state = lstm(first)
    detached = tl.nn.detach_state(state)
    assert isinstance(detached, tuple) and not any(s.requires_grad for s in detached)
    np.testing.assert_array_equal(detached[0].data, state[0].data)
    output, _ = lstm(second, detached)
    output.sum().backward()
    assert first.grad is None and second.grad is not None
    nested = tl.nn.detach_state([state, (state[0],)])
    assert isinstance(nested, list) and not nested[1][0].requires_grad
    assert tl.nn.detach_state(None) is None
    with pytest.raises(TypeError, match="detach_state"):
        tl.nn.detach_state(1.0)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_hessian_vector_product_through_stacked_bidirectional_modules_matches_torch(kind):
    torch = pytest.importorskip("torch")
    tl.manual_seed(0)
    module = getattr(tl.nn, kind)(3, 4, num_layers=2, bidirectional=True, dtype=np.float64)
    twin = getattr(torch.nn, kind)(3, 4, num_layers=2, bidirectional=True, dtype=torch.float64)
    twin.load_state_dict({k: torch.tensor(v) for k, v in module.state_dict().items()})
    x = np.random.default_rng(1).standard_normal((5, 2, 3))
    params, params_t = list(module.parameters()), list(twin.parameters())
    vectors = [np.random.default_rng(i).standard_normal(p.shape) for i, p in enumerate(params)]

    output, _ = module(tl.Tensor(x))
    grads = tl.grad((output * output).sum(), params, create_graph=True)
    hvp = tl.grad(sum((g * v).sum() for g, v in zip(grads, vectors)), params)
    output_t, _ = twin(torch.tensor(x))
    grads_t = torch.autograd.grad((output_t * output_t).sum(), params_t, create_graph=True)
    hvp_t = torch.autograd.grad(sum((g * torch.tensor(v)).sum() for g, v in zip(grads_t, vectors)), params_t)
    for mine, theirs in zip(hvp, hvp_t):
        np.testing.assert_allclose(mine.data, theirs.numpy(), rtol=1e-10, atol=1e-12)
