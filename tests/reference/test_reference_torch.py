"""`tl.nn` recurrent modules against PyTorch, the oracle, in float64.

Both modules share weights through their state dicts. The loss is linear in every output
with random coefficients, so every gradient (parameters, input, initial states) is compared.
"""
import itertools
import warnings

import numpy as np
import pytest

import tinygrad_lstm as tl

torch = pytest.importorskip("torch", reason="PyTorch is the oracle for these tests")

T, B, D, H = 4, 3, 5, 4
RTOL, ATOL = 1e-9, 1e-12


def make_pair(kind, nonlinearity="tanh", dtype=np.float64, **kwargs):
    """A tl module and a PyTorch module with the same weights (copied tl -> torch)."""
    if kind == "RNN":
        kwargs["nonlinearity"] = nonlinearity
    ours = getattr(tl.nn, kind)(D, H, dtype=dtype, **kwargs)
    theirs = getattr(torch.nn, kind)(D, H, **kwargs).to(torch.float64 if dtype == np.float64 else torch.float32)
    theirs.load_state_dict({name: torch.from_numpy(array) for name, array in ours.state_dict().items()})
    return ours, theirs


def as_state(kind, parts):
    return tuple(parts) if kind == "LSTM" else parts[0]


def run_both(ours, theirs, kind, x, initial=None, lengths=None):
    """Forward and backward through both modules; returns (ours, theirs) dicts of arrays."""
    rng = np.random.default_rng(7)
    n_states = 2 if kind == "LSTM" else 1

    tl_x = tl.Tensor(x, requires_grad=True)
    tl_init = None if initial is None else [tl.Tensor(s, requires_grad=True) for s in initial]
    output, final = ours(tl_x, None if initial is None else as_state(kind, tl_init), lengths=lengths)
    finals = list(final) if n_states == 2 else [final]
    coefficients = [rng.standard_normal(t.shape) for t in [output] + finals]
    loss = sum((t * c).sum() for t, c in zip([output] + finals, coefficients))
    loss.backward()
    mine = {"output": output.data, "x.grad": tl_x.grad}
    mine.update({f"final{k}": f.data for k, f in enumerate(finals)})
    mine.update({f"initial{k}.grad": s.grad for k, s in enumerate(tl_init or [])})
    mine.update({f"{name}.grad": p.grad for name, p in ours.named_parameters()})

    t_x = torch.tensor(x, requires_grad=True)
    t_init = None if initial is None else [torch.tensor(s, requires_grad=True) for s in initial]
    t_hx = None if initial is None else as_state(kind, t_init)
    if lengths is None:
        t_output, t_final = theirs(t_x, t_hx)
    else:
        packed = torch.nn.utils.rnn.pack_padded_sequence(t_x, torch.tensor(lengths), batch_first=theirs.batch_first,
                                                         enforce_sorted=False)
        t_packed, t_final = theirs(packed, t_hx)
        t_output, _ = torch.nn.utils.rnn.pad_packed_sequence(t_packed, batch_first=theirs.batch_first,
                                                             total_length=x.shape[1 if theirs.batch_first else 0])
    t_finals = list(t_final) if n_states == 2 else [t_final]
    t_loss = sum((t * torch.from_numpy(c)).sum() for t, c in zip([t_output] + t_finals, coefficients))
    t_loss.backward()
    oracle = {"output": t_output.detach().numpy(), "x.grad": t_x.grad.numpy()}
    oracle.update({f"final{k}": f.detach().numpy() for k, f in enumerate(t_finals)})
    oracle.update({f"initial{k}.grad": s.grad.numpy() for k, s in enumerate(t_init or [])})
    oracle.update({f"{name}.grad": p.grad.numpy() for name, p in theirs.named_parameters()})
    return mine, oracle


def assert_same(mine, oracle, rtol=RTOL, atol=ATOL):
    assert mine.keys() == oracle.keys()
    for key in oracle:
        assert mine[key] is not None, f"no gradient for {key}"
        assert mine[key].shape == oracle[key].shape, f"{key}: shape {mine[key].shape} != {oracle[key].shape}"
        np.testing.assert_allclose(mine[key], oracle[key], rtol=rtol, atol=atol, err_msg=key)


KINDS = [("RNN", "tanh"), ("RNN", "relu"), ("LSTM", "tanh"), ("GRU", "tanh")]
GRID = list(itertools.product(KINDS, [1, 2, 3], [False, True], [False, True], [True, False], [False, True]))


@pytest.mark.parametrize("kind_nonlinearity, num_layers, bidirectional, batch_first, bias, with_initial", GRID,
                         ids=["-".join(str(v) for v in (k[0], k[1], *rest)) for k, *rest in GRID])
def test_sequence_modules_match_pytorch(kind_nonlinearity, num_layers, bidirectional, batch_first, bias,
                                        with_initial):
    kind, nonlinearity = kind_nonlinearity
    tl.manual_seed(num_layers)
    ours, theirs = make_pair(kind, nonlinearity, num_layers=num_layers, bidirectional=bidirectional,
                             batch_first=batch_first, bias=bias)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((B, T, D) if batch_first else (T, B, D))
    n_states = 2 if kind == "LSTM" else 1
    state_shape = (num_layers * (2 if bidirectional else 1), B, H)
    initial = [rng.standard_normal(state_shape) for _ in range(n_states)] if with_initial else None
    assert_same(*run_both(ours, theirs, kind, x, initial))


PROJ_GRID = list(itertools.product([1, 2], [False, True], [False, True], [True, False], [False, True]))


@pytest.mark.parametrize("num_layers, bidirectional, batch_first, bias, with_initial", PROJ_GRID)
def test_lstm_with_projection_matches_pytorch(num_layers, bidirectional, batch_first, bias, with_initial):
    tl.manual_seed(num_layers)
    P = 2
    ours, theirs = make_pair("LSTM", num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first,
                             bias=bias, proj_size=P)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((B, T, D) if batch_first else (T, B, D))
    count = num_layers * (2 if bidirectional else 1)
    initial = [rng.standard_normal((count, B, P)), rng.standard_normal((count, B, H))] if with_initial else None
    assert_same(*run_both(ours, theirs, "LSTM", x, initial))


def test_lstm_with_projection_lengths_and_unbatched_match_pytorch():
    tl.manual_seed(8)
    ours, theirs = make_pair("LSTM", num_layers=2, bidirectional=True, proj_size=3)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((5, 4, D))
    initial = [rng.standard_normal((4, 4, 3)), rng.standard_normal((4, 4, H))]
    assert_same(*run_both(ours, theirs, "LSTM", x, initial, lengths=[3, 5, 1, 4]))
    assert_same(*run_both(ours, theirs, "LSTM", rng.standard_normal((T, D)),
                          [rng.standard_normal((4, 3)), rng.standard_normal((4, H))]))


@pytest.mark.parametrize("kind, proj_size, error, message", [
    ("LSTM", H, ValueError, "proj_size has to be smaller than hidden_size"), ("LSTM", -1, ValueError, "proj_size"),
    ("GRU", 2, ValueError, "proj_size is only supported by LSTM"), ("RNN", 2, TypeError, "proj_size"),
])
def test_bad_proj_size_is_a_clear_error(kind, proj_size, error, message):
    with pytest.raises(error, match=message):
        getattr(tl.nn, kind)(D, H, proj_size=proj_size)


def test_lstm_with_projection_checks_state_shapes():
    lstm = tl.nn.LSTM(D, H, proj_size=2)
    x = np.zeros((T, B, D), np.float32)
    with pytest.raises(ValueError, match=r"expected h_0 of shape \(1, 3, 2\), got \(1, 3, 4\)"):
        lstm(x, (np.zeros((1, B, H), np.float32), np.zeros((1, B, H), np.float32)))


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_lengths_match_packed_sequences(kind, bidirectional, batch_first):
    tl.manual_seed(3)
    ours, theirs = make_pair(kind, num_layers=2, bidirectional=bidirectional, batch_first=batch_first)
    rng = np.random.default_rng(1)
    steps, batch = 5, 4
    x = rng.standard_normal((batch, steps, D) if batch_first else (steps, batch, D))
    lengths = [3, 5, 1, 4]  # unsorted, one full-length sequence, one of length 1
    initial = [rng.standard_normal((2 * (2 if bidirectional else 1), batch, H))
               for _ in range(2 if kind == "LSTM" else 1)]
    assert_same(*run_both(ours, theirs, kind, x, initial, lengths=lengths))


def test_lengths_all_shorter_than_input():
    """Steps that no sequence has give zero outputs and leave the state alone."""
    tl.manual_seed(4)
    ours, theirs = make_pair("LSTM", bidirectional=True)
    x = np.random.default_rng(2).standard_normal((T + 2, B, D))
    assert_same(*run_both(ours, theirs, "LSTM", x, lengths=[T, 2, 3]))


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_dropout_is_off_in_eval_mode(kind):
    tl.manual_seed(5)
    ours, theirs = make_pair(kind, num_layers=3, dropout=0.5)
    ours.eval()
    theirs.eval()
    x = np.random.default_rng(3).standard_normal((T, B, D))
    assert_same(*run_both(ours, theirs, kind, x))


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_unbatched_input(kind):
    tl.manual_seed(6)
    ours, theirs = make_pair(kind, num_layers=2, bidirectional=True)
    rng = np.random.default_rng(4)
    initial = [rng.standard_normal((4, H)) for _ in range(2 if kind == "LSTM" else 1)]
    assert_same(*run_both(ours, theirs, kind, rng.standard_normal((T, D)), initial))


CELLS = [("RNNCell", {"nonlinearity": "tanh"}), ("RNNCell", {"nonlinearity": "relu"}), ("LSTMCell", {}),
         ("GRUCell", {}), ("LSTMCell", {"bias": False}), ("GRUCell", {"bias": False})]


@pytest.mark.parametrize("name, kwargs", CELLS, ids=[f"{n}-{k}" for n, k in CELLS])
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("with_state", [True, False])
def test_cells_match_pytorch(name, kwargs, batched, with_state):
    tl.manual_seed(7)
    ours = getattr(tl.nn, name)(D, H, dtype=np.float64, **kwargs)
    theirs = getattr(torch.nn, name)(D, H, **kwargs).double()
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    rng = np.random.default_rng(5)
    batch_shape = (B,) if batched else ()
    x = rng.standard_normal(batch_shape + (D,))
    n_states = 2 if name == "LSTMCell" else 1
    states = [rng.standard_normal(batch_shape + (H,)) for _ in range(n_states)] if with_state else []

    tl_x = tl.Tensor(x, requires_grad=True)
    tl_states = [tl.Tensor(s, requires_grad=True) for s in states]
    result = ours(tl_x, (tuple(tl_states) if n_states == 2 else tl_states[0]) if with_state else None)
    result = list(result) if n_states == 2 else [result]
    coefficients = [rng.standard_normal(r.shape) for r in result]
    sum((r * c).sum() for r, c in zip(result, coefficients)).backward()

    t_x = torch.tensor(x, requires_grad=True)
    t_states = [torch.tensor(s, requires_grad=True) for s in states]
    t_result = theirs(t_x, (tuple(t_states) if n_states == 2 else t_states[0]) if with_state else None)
    t_result = list(t_result) if n_states == 2 else [t_result]
    sum((r * torch.from_numpy(c)).sum() for r, c in zip(t_result, coefficients)).backward()

    for mine, oracle in zip(result, t_result):
        np.testing.assert_allclose(mine.data, oracle.detach().numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(tl_x.grad, t_x.grad.numpy(), rtol=RTOL, atol=ATOL)
    for mine, oracle in zip(tl_states, t_states):
        np.testing.assert_allclose(mine.grad, oracle.grad.numpy(), rtol=RTOL, atol=ATOL)
    theirs_params = dict(theirs.named_parameters())
    for param_name, param in ours.named_parameters():
        np.testing.assert_allclose(param.grad, theirs_params[param_name].grad.numpy(), rtol=RTOL, atol=ATOL,
                                   err_msg=param_name)


def test_named_parameters_order_and_shapes_equal_pytorch():
    ours = tl.nn.LSTM(D, H, num_layers=2, bidirectional=True)
    theirs = torch.nn.LSTM(D, H, num_layers=2, bidirectional=True)
    assert [(n, p.shape) for n, p in ours.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    assert list(ours.state_dict()) == list(theirs.state_dict())


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_pytorch_state_dict_loads_into_our_module(kind):
    theirs = getattr(torch.nn, kind)(D, H, num_layers=2, bidirectional=True).double()
    ours = getattr(tl.nn, kind)(D, H, num_layers=2, bidirectional=True, dtype=np.float64)
    ours.load_state_dict(theirs.state_dict())
    for name, array in ours.state_dict().items():
        np.testing.assert_array_equal(array, theirs.state_dict()[name].numpy())
    x = np.random.default_rng(6).standard_normal((T, B, D))
    assert_same(*run_both(ours, theirs, kind, x))


def test_pytorch_linear_and_embedding_state_dicts():
    linear, embedding = torch.nn.Linear(D, H), torch.nn.Embedding(7, H)
    ours_linear, ours_embedding = tl.nn.Linear(D, H), tl.nn.Embedding(7, H)
    ours_linear.load_state_dict(linear.state_dict())
    ours_embedding.load_state_dict(embedding.state_dict())
    x = np.random.default_rng(8).standard_normal((2, 3, D)).astype(np.float32)
    np.testing.assert_allclose(ours_linear(x).data, linear(torch.from_numpy(x)).detach().numpy(), rtol=1e-6,
                               atol=1e-6)
    indices = np.array([[0, 6, 6], [2, 3, 0]])
    np.testing.assert_array_equal(ours_embedding(indices).data,
                                  embedding(torch.from_numpy(indices)).detach().numpy())


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_extreme_float32_weights_match_pytorch_without_warnings(kind, sign):
    ours, theirs = make_pair(kind, dtype=np.float32, num_layers=2, bidirectional=True)
    ours.load_state_dict({name: np.full(a.shape, 100.0 * sign) for name, a in ours.state_dict().items()})
    theirs.load_state_dict({name: torch.from_numpy(a) for name, a in ours.state_dict().items()})
    x = np.random.default_rng(9).standard_normal((T, B, D)).astype(np.float32) * 10
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mine, oracle = run_both(ours, theirs, kind, x)
    for key, value in mine.items():
        assert value.dtype == np.float32, key
        assert np.isfinite(value).all(), key
    np.testing.assert_allclose(mine["output"], oracle["output"], rtol=1e-6, atol=1e-6)
    for key in oracle:
        np.testing.assert_allclose(mine[key], oracle[key], rtol=1e-4, atol=1e-3, err_msg=key)


# --------------------------------------------------------------------------- T=1, lengths as arrays, dropout
def torch_twin(torch, module, torch_cls=None):
    """The PyTorch module of the same class and configuration, with `module`'s weights, in float64."""
    kwargs = dict(num_layers=module.num_layers, bias=module.bias, batch_first=module.batch_first,
                  dropout=module.dropout, bidirectional=module.bidirectional)
    twin = getattr(torch.nn, torch_cls or type(module).__name__)(module.input_size, module.hidden_size, **kwargs)
    twin = twin.double()
    twin.load_state_dict({k: torch.from_numpy(v.astype(np.float64)) for k, v in module.state_dict().items()})
    return twin


def as_tuple(state):
    return state if isinstance(state, tuple) else (state,)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("case", ["T1_B1", "unbatched_hx", "batch_first_hx", "three_layers_bidirectional",
                                  "lengths_unsorted", "lengths_all_T_batch_first", "lengths_one_bidirectional"])
def test_sequence_modules_match_torch_forward_and_every_gradient(kind, case):
    torch = pytest.importorskip("torch")
    T, B, D, H, layers, bidirectional, batch_first, unbatched, with_hx, lengths = {
        "T1_B1": (1, 1, 3, 4, 1, False, False, False, False, None),
        "unbatched_hx": (4, 1, 3, 4, 2, True, False, True, True, None),
        "batch_first_hx": (4, 2, 3, 4, 1, False, True, False, True, None),
        "three_layers_bidirectional": (5, 2, 3, 4, 3, True, False, False, True, None),
        "lengths_unsorted": (5, 3, 3, 4, 2, True, False, False, True, [2, 5, 1]),
        "lengths_all_T_batch_first": (4, 2, 3, 4, 1, False, True, False, False, np.array([4, 4])),
        "lengths_one_bidirectional": (3, 2, 2, 3, 1, True, False, False, False, tl.Tensor(np.array([1, 3]))),
    }[case]
    tl.manual_seed(0)
    module = getattr(tl.nn, kind)(D, H, num_layers=layers, bidirectional=bidirectional, batch_first=batch_first,
                                  dtype=np.float64)
    twin = torch_twin(torch, module)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((T, D) if unbatched else ((B, T, D) if batch_first else (T, B, D)))
    count = layers * (2 if bidirectional else 1)
    hx = [rng.standard_normal((count, H) if unbatched else (count, B, H)) for _ in range(2 if kind == "LSTM" else 1)]
    ours_x, torch_x = tl.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours_hx = [tl.Tensor(h, requires_grad=True) for h in hx]
    torch_hx = [torch.tensor(h, requires_grad=True) for h in hx]
    pack = (lambda s: tuple(s) if kind == "LSTM" else s[0]) if with_hx else (lambda s: None)

    output, final = module(ours_x, pack(ours_hx), lengths=lengths)
    if lengths is None:
        torch_output, torch_final = twin(torch_x, pack(torch_hx))
    else:
        lengths_list = np.asarray(lengths.data if isinstance(lengths, tl.Tensor) else lengths).tolist()
        packed = torch.nn.utils.rnn.pack_padded_sequence(torch_x, torch.tensor(lengths_list),
                                                         batch_first=batch_first, enforce_sorted=False)
        torch_output, torch_final = twin(packed, pack(torch_hx))
        torch_output, _ = torch.nn.utils.rnn.pad_packed_sequence(torch_output, batch_first=batch_first,
                                                                 total_length=T)
    assert output.shape == tuple(torch_output.shape)
    np.testing.assert_allclose(output.data, torch_output.detach().numpy(), atol=1e-12)
    for ours, theirs in zip(as_tuple(final), as_tuple(torch_final)):
        assert ours.shape == tuple(theirs.shape)
        np.testing.assert_allclose(ours.data, theirs.detach().numpy(), atol=1e-12)

    weights = rng.standard_normal(output.shape)
    loss = (output * weights).sum() + sum((h * h).sum() for h in as_tuple(final))
    torch_loss = (torch_output * torch.tensor(weights)).sum() + sum((h * h).sum() for h in as_tuple(torch_final))
    loss.backward()
    torch_loss.backward()
    np.testing.assert_allclose(ours_x.grad, torch_x.grad.numpy(), atol=1e-12)
    for (name, p), (torch_name, torch_p) in zip(module.named_parameters(), twin.named_parameters()):
        assert name == torch_name
        np.testing.assert_allclose(p.grad, torch_p.grad.numpy(), atol=1e-12, err_msg=name)
    if with_hx:
        for ours, theirs in zip(ours_hx, torch_hx):
            np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), atol=1e-12)


def test_dropout_between_layers_is_seeded_in_training_and_exact_in_eval():
    torch = pytest.importorskip("torch")
    tl.manual_seed(0)
    lstm = tl.nn.LSTM(3, 4, num_layers=3, dropout=0.5, bidirectional=True, dtype=np.float64)
    x = np.random.default_rng(0).standard_normal((5, 2, 3))
    tl.manual_seed(1)
    first = lstm(x)[0].data
    tl.manual_seed(1)
    assert np.array_equal(lstm(x)[0].data, first)
    assert first.shape == (5, 2, 8)
    assert not np.array_equal(lstm(x)[0].data, first)  # the generator moved on: a new mask
    twin = torch_twin(torch, lstm).eval()
    lstm.eval()
    np.testing.assert_allclose(lstm(x)[0].data, twin(torch.from_numpy(x))[0].detach().numpy(), atol=1e-12)
    assert np.array_equal(lstm(x)[0].data, lstm(x)[0].data)
