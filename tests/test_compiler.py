"""`tl.jit`: compiled calls equal eager ones bit for bit (float64), for every built-in module
configuration of the PyTorch conformity grid, custom cells and whole training steps; and
retracing, checking, stale outputs, random masks, guards and the engine's modes."""
import itertools

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm.nn.functional import mse_loss
from tinygrad_lstm.nn.utils import clip_grad_norm_

T, B, D, H = 4, 3, 5, 4


def grads_of(module, tensors):
    result = {name: None if p.grad is None else p.grad.copy() for name, p in module.named_parameters()}
    result.update({f"input{k}": None if t.grad is None else t.grad.copy() for k, t in enumerate(tensors)})
    return result


def assert_equal(mine: dict, eager: dict):
    assert mine.keys() == eager.keys()
    for key in eager:
        if eager[key] is None:
            assert mine[key] is None, key
        else:
            assert mine[key] is not None, key
            assert mine[key].dtype == eager[key].dtype, key
            np.testing.assert_array_equal(mine[key], eager[key], err_msg=key)


def flat(result):
    """The tensors of a (nested) tuple, in order."""
    if isinstance(result, tl.Tensor):
        return [result]
    return [t for part in result for t in flat(part)]


def forward_backward(fn, module, arrays, coefficients, **kwargs):
    """Call ``fn(*tensors)``, backpropagate a loss linear in every output, return values and gradients."""
    module.zero_grad()
    tensors = [tl.Tensor(a, requires_grad=True) for a in arrays]
    outputs = flat(fn(*tensors, **kwargs))
    loss = sum((t * c).sum() for t, c in zip(outputs, coefficients))
    loss.backward()
    values = {f"output{k}": t.data.copy() for k, t in enumerate(outputs)}
    return values, grads_of(module, tensors)


def compare_module(module, make_arrays, state_arity, **kwargs):
    """Trace on one draw of inputs, replay on two others: outputs and gradients equal eager."""
    def call(x, *state):
        if not state:
            return module(x, **kwargs)
        return module(x, tuple(state) if state_arity == 2 else state[0], **kwargs)
    compiled = tl.jit(call)
    rng = np.random.default_rng(0)
    for _ in range(3):
        arrays = make_arrays(rng)
        outputs = flat(call(*[tl.Tensor(a) for a in arrays]))
        coefficients = [rng.standard_normal(t.shape) for t in outputs]
        mine = forward_backward(compiled, module, arrays, coefficients)
        eager = forward_backward(call, module, arrays, coefficients)
        for a, b in zip(mine, eager):
            assert_equal(a, b)
    assert compiled.traces == 1
    return compiled


KINDS = [("RNN", "tanh"), ("RNN", "relu"), ("LSTM", "tanh"), ("GRU", "tanh")]
GRID = list(itertools.product(KINDS, [1, 2, 3], [False, True], [False, True], [True, False], [False, True]))


@pytest.mark.parametrize("kind_nonlinearity, num_layers, bidirectional, batch_first, bias, with_initial", GRID,
                         ids=["-".join(str(v) for v in (k[0], k[1], *rest)) for k, *rest in GRID])
def test_every_module_of_the_conformity_grid_equals_eager(kind_nonlinearity, num_layers, bidirectional,
                                                          batch_first, bias, with_initial):
    kind, nonlinearity = kind_nonlinearity
    options = {"nonlinearity": nonlinearity} if kind == "RNN" else {}
    tl.manual_seed(num_layers)
    module = getattr(tl.nn, kind)(D, H, num_layers=num_layers, bidirectional=bidirectional,
                                  batch_first=batch_first, bias=bias, dtype=np.float64, **options)
    arity = 2 if kind == "LSTM" else 1
    states = num_layers * (2 if bidirectional else 1)

    def arrays(rng):
        x = rng.standard_normal((B, T, D) if batch_first else (T, B, D))
        return [x] + ([rng.standard_normal((states, B, H)) for _ in range(arity)] if with_initial else [])
    plan = compare_module(module, arrays, arity)
    assert "none" in plan.trace_info().split("forward/backward):")[1].splitlines()[0]  # every op has a rule


PROJ_GRID = list(itertools.product([1, 2], [False, True], [False, True], [True, False], [False, True]))


@pytest.mark.parametrize("num_layers, bidirectional, batch_first, bias, with_initial", PROJ_GRID)
def test_lstm_with_projection_equals_eager(num_layers, bidirectional, batch_first, bias, with_initial):
    tl.manual_seed(0)
    module = tl.nn.LSTM(D, H, num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first,
                        bias=bias, proj_size=2, dtype=np.float64)
    states = num_layers * (2 if bidirectional else 1)

    def arrays(rng):
        x = rng.standard_normal((B, T, D) if batch_first else (T, B, D))
        return [x] + ([rng.standard_normal((states, B, 2)), rng.standard_normal((states, B, H))]
                      if with_initial else [])
    compare_module(module, arrays, 2)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_lengths_equal_eager(kind, bidirectional):
    tl.manual_seed(0)
    module = getattr(tl.nn, kind)(D, H, bidirectional=bidirectional, dtype=np.float64)
    compare_module(module, lambda rng: [rng.standard_normal((T, B, D))], 2 if kind == "LSTM" else 1,
                   lengths=[4, 1, 3])


@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell", "PeepholeLSTMCell", "LayerNormLSTMCell"])
def test_cells_and_recurrent_with_every_option_equal_eager(name):
    tl.manual_seed(0)
    cell = getattr(tl.nn, name)(D, H, dtype=np.float64)
    module = tl.nn.Recurrent(cell, num_layers=2, bidirectional=True).eval()
    compare_module(module, lambda rng: [rng.standard_normal((T, B, D))], 2, lengths=[4, 2, 3])


class MinimalGatedCell(tl.nn.Module):
    """A user cell composed of ops: ``h' = (1 - z) * h + z * tanh(x W + (r * h) U)``."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.weight_x = tl.nn.Parameter(tl.randn(input_size, 2 * hidden_size).data * 0.5)
        self.weight_h = tl.nn.Parameter(tl.randn(hidden_size, 2 * hidden_size).data * 0.5)

    def init_state(self, batch_size):
        return tl.zeros(batch_size, self.hidden_size)

    def forward(self, x, h):
        gates = x @ self.weight_x
        z, candidate = gates.chunk(2, axis=1)
        r, u = (h @ self.weight_h).chunk(2, axis=1)
        z = z.sigmoid()
        return (1 - z) * h + z * (candidate + r.sigmoid() * h * u).tanh()


def test_a_custom_cell_through_recurrent_equals_eager():
    tl.manual_seed(0)
    module = tl.nn.Recurrent(MinimalGatedCell(D, H), num_layers=2)
    compiled = compare_module(module, lambda rng: [rng.standard_normal((T, B, D))], 1)
    assert "none" in compiled.trace_info().split("forward/backward):")[1].splitlines()[0]


# --------------------------------------------------------------------------- training steps
def training_run(compiled: bool, steps: int = 20, cell: str = "lstm", batch: int = 4, dtype=np.float64):
    from tinygrad_lstm.tasks.adding import AddingModel, make_batch
    tl.manual_seed(0)
    model = AddingModel(cell, 8, dtype)
    optimizer = tl.optim.Adam(model.parameters(), lr=1e-2)
    params = list(model.parameters())

    def step(x, y):
        loss = mse_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        norm = clip_grad_norm_(params, 0.5)
        optimizer.step()
        return loss, norm

    run = tl.jit(step) if compiled else step
    rng = np.random.default_rng(1)
    history = []
    for _ in range(steps):
        x, y = make_batch(batch, 10, rng, dtype)
        loss, norm = run(x, y)
        history.append((loss.item(), float(norm)))
    state = {k: v.copy() for k, v in optimizer.state_dict().items()}
    return history, [p.data.copy() for p in params], state, run


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_a_whole_adam_training_step_equals_eager_for_20_steps(cell):
    eager_history, eager_params, eager_state, _ = training_run(False, cell=cell)
    history, params, state, run = training_run(True, cell=cell)
    assert history == eager_history  # losses and clipped norms of every step
    for mine, theirs in zip(params, eager_params):
        np.testing.assert_array_equal(mine, theirs)
    assert state.keys() == eager_state.keys()
    for key in state:
        np.testing.assert_array_equal(state[key], eager_state[key], err_msg=key)
    assert run.traces == 1
    info = run.trace_info()
    assert "Optimizer.zero_grad, clip_grad_norm_, Optimizer.step" in info and "19 replays" in info


def test_sgd_with_momentum_and_clip_value_in_float32():
    def run(compiled):
        tl.manual_seed(3)
        model = tl.nn.Linear(3, 2)
        optimizer = tl.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

        def step(x):
            optimizer.zero_grad()
            (model(x) ** 2).mean().backward()
            tl.nn.utils.clip_grad_value_(model.parameters(), 0.05)
            optimizer.step()
        fn = tl.jit(step) if compiled else step
        rng = np.random.default_rng(0)
        for _ in range(6):
            fn(rng.standard_normal((4, 3)).astype(np.float32))
        return [p.data.copy() for p in model.parameters()]
    for mine, theirs in zip(run(True), run(False)):
        assert mine.dtype == np.float32
        np.testing.assert_array_equal(mine, theirs)


# --------------------------------------------------------------------------- retracing and the cache
def test_a_new_length_or_batch_retraces_and_old_plans_stay():
    tl.manual_seed(0)
    lstm = tl.nn.LSTM(D, H, dtype=np.float64)
    compiled = tl.jit(lambda x: lstm(x)[0])
    rng = np.random.default_rng(0)
    for shape in [(4, 3, D), (4, 3, D), (7, 3, D), (4, 2, D), (7, 3, D), (4, 3, D)]:
        x = rng.standard_normal(shape)
        np.testing.assert_array_equal(compiled(x).data, lstm(x)[0].data)
    assert compiled.traces == 3
    assert compiled.trace_info().count("tl.jit of") == 3


def test_the_cache_is_bounded_least_recently_used_first():
    compiled = tl.jit(lambda x: x * 2, max_cache=2)
    for n in (1, 2, 3, 1):
        compiled(tl.ones(n))
    assert compiled.traces == 4  # (1,) was dropped when (3,) came
    compiled(tl.ones(1))
    assert compiled.traces == 4


def test_numbers_are_part_of_the_key_and_other_objects_by_identity():
    compiled = tl.jit(lambda x, scale, name: x * scale)
    x = tl.Tensor(np.arange(3.0))
    np.testing.assert_array_equal(compiled(x, 2.0, "a").data, x.data * 2)
    np.testing.assert_array_equal(compiled(x, 3.0, "a").data, x.data * 3)
    np.testing.assert_array_equal(compiled(x, 3.0, "a").data, x.data * 3)
    compiled(x, 3.0, "b")
    assert compiled.traces == 3


@pytest.mark.parametrize("change", ["replace", "dtype", "requires_grad", "mode", "data"])
def test_what_invalidates_a_plan_retraces(change):
    tl.manual_seed(0)
    model = tl.nn.Sequential(tl.nn.Linear(3, 4), tl.nn.Dropout(0.5))
    layer = model[0]
    compiled = tl.jit(lambda x: model(x))
    x = np.ones((2, 3), np.float32)
    compiled(x)
    compiled(x)
    if change == "replace":
        layer.weight = tl.nn.Parameter(np.zeros((4, 3), np.float32))
    elif change == "dtype":
        model.double()
        x = x.astype(np.float64)
    elif change == "requires_grad":
        layer.bias.requires_grad_(False)
    elif change == "mode":
        model.eval()
    else:
        layer.weight.data = np.zeros((4, 3), np.float32)
    tl.manual_seed(5)
    out = compiled(x)
    tl.manual_seed(5)
    np.testing.assert_array_equal(out.data, model(x).data)
    assert compiled.traces == 2


def test_a_module_that_ran_no_op_is_guarded_too():
    dropout = tl.nn.Dropout(0.5)  # in eval mode it returns its input: no op sees the module
    compiled = tl.jit(lambda x: dropout(x))
    x = np.ones(64)
    dropout.eval()
    compiled(x)
    dropout.train()
    assert (compiled(x).data == 0).any()
    assert compiled.traces == 2


def test_a_changed_module_setting_retraces():
    dropout = tl.nn.Dropout(0.5)
    compiled = tl.jit(lambda x: dropout(x))
    x = np.ones(64)
    compiled(x)
    dropout.p = 0.0
    np.testing.assert_array_equal(compiled(x).data, x)
    assert compiled.traces == 2


# --------------------------------------------------------------------------- what a trace cannot see
def test_check_true_names_the_first_op_of_a_data_dependent_branch():
    weight = tl.Tensor(np.array([[1.0, -2.0], [0.5, 1.0]]), requires_grad=True)

    def step(x):
        h = x @ weight
        if h.sum().item() > 0:  # decided on the data: the trace records the branch it took
            return (h * 2).tanh()
        return h.sigmoid()
    compiled = tl.jit(step, check=True)
    x = np.array([[1.0, 4.0]])
    compiled(x)                       # traced: the first branch (the check of the trace keeps it: scaled inputs)
    np.testing.assert_array_equal(compiled(x).data, step(x).data)
    with pytest.raises(RuntimeError, match=r"op 2 'mul'.*differs from the eager call, which runs 'sigmoid'"):
        compiled(-x)                  # the other branch: the replay would be wrong
    unchecked = tl.jit(step)
    unchecked(x)
    assert not np.array_equal(unchecked(-x).data, step(-x).data)  # what check=True protects against


def test_check_counts_replays_and_passes_for_a_correct_plan():
    lstm = tl.nn.LSTM(2, 3, dtype=np.float64)
    compiled = tl.jit(lambda x: lstm(x)[0].sum(), check=2)
    x = np.random.default_rng(0).standard_normal((4, 1, 2))
    for _ in range(4):
        assert compiled(x).item() == lstm(x)[0].sum().item()
    assert "3 replays" in compiled.trace_info()


@pytest.mark.parametrize("body, message", [
    (lambda x: tl.Tensor(x.data * 2) * x, "computed outside the ops"),                  # numpy on .data
    (lambda x: x * (x > 0), "computed outside the ops"),                               # a comparison
    (lambda x: x * tl.randn(*x.shape), "computed outside the ops"),                    # a draw outside the ops
    (lambda x: x * 2 if x.data[0, 0] == 0.8 else x + 3, "control flow depends on the data"),
])
def test_tracing_refuses_what_a_replay_would_freeze(body, message):
    compiled = tl.jit(body)
    with pytest.raises(RuntimeError, match=message):
        compiled(tl.Tensor(np.full((2, 2), 0.8), requires_grad=True))


@pytest.mark.parametrize("body", [
    lambda x: (x ** 3).sum(),            # numpy on an array argument: no op at all
    lambda x: tl.Tensor(x).sum().item(),  # a Python number made from the result
    lambda x: (tl.Tensor(x) * 2, float(x.sum())),
])
def test_results_computed_outside_the_ops_are_refused(body):
    with pytest.raises(RuntimeError, match="outside the ops|plain values"):
        tl.jit(body)(np.arange(1.0, 4.0))


def test_tracing_a_data_dependent_shape_is_refused():
    compiled = tl.jit(lambda x: x[:int((x.data > 0).sum())] * 2)
    with pytest.raises(RuntimeError, match="shapes depend on the data"):
        compiled(tl.Tensor(np.arange(1.0, 7.0)))


def test_arrays_made_inside_from_the_inputs_are_traced():
    """``Tensor(array)`` and module inputs converted from arrays are copies made by the plan."""
    lstm = tl.nn.LSTM(2, 3)
    compiled = tl.jit(lambda x: lstm(x)[0] * tl.Tensor(x.mean(axis=2, keepdims=True) if False else x)[..., :1])
    rng = np.random.default_rng(0)
    for _ in range(3):
        x = rng.standard_normal((4, 1, 2)).astype(np.float32)
        np.testing.assert_array_equal(compiled(x).data, (lstm(x)[0] * tl.Tensor(x)[..., :1]).data)


# --------------------------------------------------------------------------- outputs, arenas, graphs
def test_outputs_are_never_overwritten_by_later_calls():
    lstm = tl.nn.LSTM(2, 3, dtype=np.float64)
    compiled = tl.jit(lambda x: lstm(x))
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((4, 1, 2)) for _ in range(4)]
    results = [compiled(x) for x in xs]
    for x, (output, (h, c)) in zip(xs, results):
        eager_output, (eager_h, eager_c) = lstm(x)
        for mine, theirs in ((output, eager_output), (h, eager_h), (c, eager_c)):
            np.testing.assert_array_equal(mine.data, theirs.data)


def test_two_live_graphs_of_one_plan_backpropagate_independently():
    tl.manual_seed(0)
    gru = tl.nn.GRU(2, 3, dtype=np.float64)
    compiled = tl.jit(lambda x: gru(x)[0])
    rng = np.random.default_rng(1)
    x1, x2, x3 = (rng.standard_normal((5, 2, 2)) for _ in range(3))
    compiled(x1)                                     # the trace
    a, b = compiled(x2), compiled(x3)                # two replays alive at once: two arenas
    ((a * a).sum() + b.sum() * 3).backward()
    mine = grads_of(gru, [])
    gru.zero_grad()
    ((gru(x2)[0] ** 2).sum() + gru(x3)[0].sum() * 3).backward()
    eager = grads_of(gru, [])
    for key in eager:  # one sum per parameter outside the plan: equal up to the order of that sum
        np.testing.assert_allclose(mine[key], eager[key], rtol=1e-13, atol=1e-15, err_msg=key)


def test_arenas_of_many_live_graphs_are_let_go_after_their_backward():
    w = tl.Tensor(np.ones(3), requires_grad=True)
    compiled = tl.jit(lambda x: (x * w).sum())
    compiled(np.ones(3))
    held = [compiled(np.ones(3)) for _ in range(20)]  # twenty graphs alive at once: twenty arenas
    for loss in held:
        loss.backward()
    del held, loss
    plan = next(iter(compiled._cache.values()))
    assert len(plan.pool) <= 2
    np.testing.assert_array_equal(w.grad, np.full(3, 20.0))


def test_retain_graph_and_a_second_backward_as_eager():
    w = tl.Tensor(np.array([0.5, -1.0]), requires_grad=True)
    compiled = tl.jit(lambda x: (x * w).tanh().sum())
    compiled(np.ones(2))
    loss = compiled(np.array([1.0, 2.0]))
    loss.backward(retain_graph=True)
    loss.backward()
    expected = 2 * (1 - np.tanh(np.array([0.5, -2.0])) ** 2) * np.array([1.0, 2.0])
    np.testing.assert_allclose(w.grad, expected, rtol=1e-15)
    with pytest.raises(RuntimeError, match="second time"):
        loss.backward()


def test_only_the_outputs_with_a_gradient_backpropagate():
    """Gradients reaching some outputs only: the nodes the others would reach do not run, as eager."""
    a = tl.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    b = tl.Tensor(np.array([3.0, -1.0]), requires_grad=True)
    compiled = tl.jit(lambda: (a * 2, (b * b).exp()))
    compiled()
    first, second = compiled()
    first.sum().backward(retain_graph=True)  # one node holds both outputs: keep it for the second
    np.testing.assert_array_equal(a.grad, [2.0, 2.0])
    assert b.grad is None
    second.sum().backward()
    np.testing.assert_array_equal(b.grad, 2 * np.array([3.0, -1.0]) * np.exp([9.0, 1.0]))


def test_nested_outputs_kwargs_and_plain_values():
    w = tl.Tensor(np.array([2.0]), requires_grad=True)
    compiled = tl.jit(lambda x, *, shift: {"y": [x * w + shift, "label"], "n": 3})
    compiled(np.array([1.0]), shift=1.0)
    out = compiled(np.array([2.0]), shift=1.0)
    assert out["n"] == 3 and out["y"][1] == "label"
    np.testing.assert_array_equal(out["y"][0].data, [5.0])
    out["y"][0].backward()
    np.testing.assert_array_equal(w.grad, [2.0])


def test_an_argument_or_parameter_returned_is_the_object_itself_as_eager():
    w = tl.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    x = tl.Tensor(np.array([3.0, 4.0]), requires_grad=True)
    array = np.ones(2)
    compiled = tl.jit(lambda x, a: ((x * w).sum(), x, w, a))
    for _ in range(3):
        loss, same_x, same_w, same_array = compiled(x, array)
        assert same_x is x and same_w is w and same_array is array
    loss.backward()
    np.testing.assert_array_equal(x.grad, [1.0, 2.0])
    assert compiled.traces == 1


def test_one_backward_through_several_calls_equals_eager_to_rounding():
    tl.manual_seed(0)
    gru = tl.nn.GRU(3, 4, dtype=np.float64)
    compiled = tl.jit(lambda x, h: gru(x, h))

    def gradients(step):
        gru.zero_grad()
        rng = np.random.default_rng(3)
        h0 = h = tl.Tensor(np.zeros((1, 2, 4)), requires_grad=True)
        total = 0
        for _ in range(4):  # the state of one call goes into the next: one graph through all of them
            out, h = step(rng.standard_normal((5, 2, 3)), h)
            total = total + (out * out).sum()
        total.backward()
        return [p.grad.copy() for p in gru.parameters()] + [h0.grad.copy()]
    eager = gradients(gru)
    # each call's node sums a weight's gradient over its own steps first: the total may differ in the last bit
    for mine, theirs in zip(gradients(compiled), eager):
        np.testing.assert_allclose(mine, theirs, rtol=8 * np.finfo(np.float64).eps, atol=0)
    assert compiled.traces == 1


def test_float_numbers_are_keyed_by_their_bits():
    compiled = tl.jit(lambda x, scale: tl.Tensor(x) * scale)
    x = np.ones(2)
    for scale in (0.0, -0.0, float("nan"), float("nan")):
        np.testing.assert_array_equal(compiled(x, scale).data, x * scale)
        assert np.array_equal(np.signbit(compiled(x, scale).data), np.signbit(x * scale))
    assert compiled.traces == 3


def test_a_tensor_given_twice_compiles():
    x = tl.Tensor(np.array([3.0, 4.0]), requires_grad=True)
    compiled = tl.jit(lambda xs: (tl.stack(xs) * tl.Tensor(np.array([[1.0], [2.0]]))).sum())
    assert compiled([x, x]).item() == 21.0
    assert compiled([x, x * 2]).item() == 35.0
    compiled([x, x]).backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])
    assert compiled.traces == 2  # which arguments are one tensor is part of the signature


def test_no_grad_inference_returns_plain_tensors():
    lstm = tl.nn.LSTM(2, 3)
    compiled = tl.jit(lambda x: lstm(x)[0])
    x = np.ones((3, 1, 2), np.float32)
    with tl.no_grad():
        compiled(x)
        out = compiled(x)
    assert not out.requires_grad and out.dtype == np.float32
    assert compiled(x).requires_grad  # grad mode is part of the signature: traced again
    assert compiled.traces == 2


def test_grad_enabled_inside_a_call_under_no_grad_keeps_the_graph():
    w = tl.Tensor(np.array([1.0, 2.0]), requires_grad=True)

    def loss_of(x):
        with tl.enable_grad():
            return (x * w).sum()
    compiled = tl.jit(loss_of)
    with tl.no_grad():
        losses = [compiled(np.array([3.0, 4.0])) for _ in range(3)]
    assert all(loss.requires_grad for loss in losses)
    losses[2].backward()
    np.testing.assert_array_equal(w.grad, [3.0, 4.0])


def test_dropout_draws_fresh_masks_at_every_call_as_eager():
    def outputs(compiled):
        tl.manual_seed(0)
        model = tl.nn.Recurrent(tl.nn.LSTMCell(3, 4), num_layers=2, dropout=0.5, variational_dropout=0.3,
                                zoneout=0.2)
        model_call = (tl.jit if compiled else (lambda f: f))(lambda x: model(x)[0])
        x = np.ones((4, 2, 3), np.float32)
        return [model_call(x).data for _ in range(4)]
    compiled, eager = outputs(True), outputs(False)
    for mine, theirs in zip(compiled, eager):
        np.testing.assert_array_equal(mine, theirs)
    assert not np.array_equal(compiled[2], compiled[3])  # fresh masks, not the traced ones


def test_effect_results_are_this_calls():
    w = tl.Tensor(np.array([1.0, 1.0]), requires_grad=True)
    optimizer = tl.optim.SGD([w], lr=0.0)

    def step(x):
        optimizer.zero_grad()  # replayed (assigning w.grad = None here would not be: plain Python)
        (w * x).sum().backward()
        return clip_grad_norm_([w], 1.0)
    compiled = tl.jit(step)
    norms = [float(compiled(np.array([v, 0.0]))) for v in (3.0, 4.0, 5.0)]
    assert norms == [3.0, 4.0, 5.0]


def test_in_place_ops_inside_the_function():
    w = tl.Tensor(np.array([1.0, 2.0]), requires_grad=True)

    def step(x):
        h = x * w
        h.mul_(3)           # the node of mul saved h: the engine gave it a copy; the plan does too
        h.add_(x)
        counter = tl.zeros(2)
        counter += x        # a tensor made in the call and changed in place starts from zeros every time
        return (h * h).sum() + counter.sum()
    compiled = tl.jit(step)
    for value in (1.0, 2.0, 3.0):
        x = np.array([value, -value])
        w.grad = None
        loss = compiled(x)
        loss.backward()
        mine = (loss.item(), w.grad.copy())
        w.grad = None
        loss = step(x)
        loss.backward()
        assert mine[0] == loss.item()
        np.testing.assert_array_equal(mine[1], w.grad)


def test_in_place_change_of_a_parameter_before_backward_raises_as_eager():
    w = tl.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    compiled = tl.jit(lambda x: (x * w).sum())
    compiled(np.ones(2))
    loss = compiled(np.ones(2))
    with tl.no_grad():
        w.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


@pytest.mark.parametrize("make", [lambda: tl.nn.Linear(3, 2, dtype=np.float64),
                                  lambda: tl.nn.LSTM(3, 2, dtype=np.float64)], ids=["Linear", "LSTM"])
def test_in_place_change_of_a_weight_saved_through_a_view_raises_as_eager(make):
    module = make()  # its matmuls save views of the weights (weight.T), the engine checks by memory
    x = np.ones((2, 1, 3))
    compiled = tl.jit(lambda x: module(x)[0].sum() if isinstance(module, tl.nn.LSTM) else module(x).sum())
    compiled(x)
    loss = compiled(x)
    with tl.no_grad():
        next(module.parameters()).mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


@pytest.mark.parametrize("saved", [True, False])
def test_in_place_change_of_an_output_before_backward_raises_as_eager(saved):
    w = tl.Tensor(np.array([0.5, 1.0]), requires_grad=True)
    fn = (lambda x: (x * w).tanh()) if saved else (lambda x: x * w)  # tanh saves its output, mul does not
    compiled = tl.jit(fn)
    compiled(np.array([1.0, 2.0]))
    for step in (fn, compiled):
        w.grad = None
        out = step(np.array([1.0, 2.0]))
        out.mul_(2.0)
        if saved:
            with pytest.raises(RuntimeError, match="modified by an inplace operation"):
                out.sum().backward()
        else:
            out.sum().backward()
            np.testing.assert_array_equal(w.grad, [2.0, 4.0])


def test_anomaly_mode_runs_eagerly_with_its_checks():
    w = tl.Tensor(np.array([0.0]), requires_grad=True)
    compiled = tl.jit(lambda x: (x / w).sum())
    compiled(np.ones(1))
    with tl.detect_anomaly():
        with pytest.raises(FloatingPointError, match="div"):
            compiled(np.ones(1))
    assert compiled.traces == 1


def test_a_compiled_function_inside_another_is_traced_through():
    w = tl.Tensor(np.array([2.0]), requires_grad=True)
    inner = tl.jit(lambda x: (x * w).tanh())
    outer = tl.jit(lambda x: inner(x) * 3)
    for value in (0.1, 0.2, 0.3):
        np.testing.assert_array_equal(outer(np.array([value])).data, np.tanh(np.array([value * 2])) * 3)
    assert inner.traces == 0 and outer.traces == 1


def test_bad_arguments_are_clear_errors():
    with pytest.raises(TypeError, match="callable"):
        tl.jit(3)
    with pytest.raises(ValueError, match="max_cache"):
        tl.jit(lambda: None, max_cache=0)
    with pytest.raises(TypeError, match="max_cache"):
        tl.jit(lambda: None, max_cache=2.5)
    with pytest.raises(TypeError, match="check"):
        tl.jit(lambda: None, check="yes")
    with pytest.raises(ValueError, match="check"):
        tl.jit(lambda: None, check=-1)
    compiled = tl.jit(lambda x: x * 2)
    assert "nothing traced" in compiled.trace_info()


def test_decorator_forms_and_methods():
    @tl.jit
    def double(x):
        return x * 2

    @tl.jit(max_cache=1)
    def triple(x):
        return x * 3

    class Model(tl.nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = tl.nn.Parameter(np.array([2.0]))

        @tl.jit
        def forward(self, x):
            return x * self.scale
    m = Model()
    for value in (1.0, 2.0):
        np.testing.assert_array_equal(double(tl.full(2, value)).data, [2 * value] * 2)
        np.testing.assert_array_equal(triple(tl.full(2, value)).data, [3 * value] * 2)
        np.testing.assert_array_equal(m(tl.full(1, value)).data, [2 * value])
    assert triple.max_cache == 1


def test_numpy_views_of_the_arguments_and_cross_entropy_targets_are_traced():
    """The chars task's loss: integer arguments used as indices (an embedding) and as targets,
    reshaped in numpy inside the function."""
    tl.manual_seed(0)
    embedding, lstm, decoder = tl.nn.Embedding(7, 3), tl.nn.LSTM(3, 5), tl.nn.Linear(5, 7)

    def loss_of(inputs, targets):
        output, _ = lstm(embedding(inputs))
        logits = decoder(output.reshape(-1, 5))
        return tl.nn.functional.cross_entropy(logits, targets.reshape(-1), ignore_index=None)
    compiled = tl.jit(loss_of)
    rng = np.random.default_rng(0)
    stream = rng.integers(0, 7, 40)
    for offset in (0, 12, 24):
        chunk = stream[offset:offset + 13].reshape(13, 1)
        assert compiled(chunk[:-1], chunk[1:]).item() == loss_of(chunk[:-1], chunk[1:]).item()
    assert compiled.traces == 1
    ignoring = tl.jit(lambda inputs, targets: tl.nn.functional.cross_entropy(
        decoder(lstm(embedding(inputs))[0].reshape(-1, 5)), targets.reshape(-1), ignore_index=3))
    for offset in (0, 0, 12):  # ignore_index: a numpy mask of the targets, so their values are in the key
        chunk = stream[offset:offset + 13].reshape(13, 1)
        expected = tl.nn.functional.cross_entropy(decoder(lstm(embedding(chunk[:-1]))[0].reshape(-1, 5)),
                                                  chunk[1:].reshape(-1), ignore_index=3)
        assert ignoring(chunk[:-1], chunk[1:]).item() == expected.item()
    assert ignoring.traces == 2


@pytest.mark.parametrize("as_tensor", [False, True])
def test_lengths_read_in_python_are_part_of_the_key(as_tensor):
    tl.manual_seed(0)
    lstm = tl.nn.LSTM(D, H, bidirectional=True, dtype=np.float64)
    compiled = tl.jit(lambda x, lengths: lstm(x, lengths=lengths)[0])
    x = np.random.default_rng(0).standard_normal((T, B, D))
    # all equal first: permuting them (the check of the trace) changes nothing, the plan must not keep them
    for lengths in ([4, 4, 4], [2, 2, 2], [4, 1, 3], [4, 4, 4]):
        given = tl.Tensor(np.array(lengths)) if as_tensor else np.array(lengths)
        np.testing.assert_array_equal(compiled(x, given).data, lstm(x, lengths=lengths)[0].data)
    assert compiled.traces == 3


def test_many_traces_for_values_of_an_argument_warn():
    compiled = tl.jit(lambda x, lengths: tl.Tensor(x)[: int(lengths[0])].sum(), max_cache=2)
    x = np.ones(5)
    with pytest.warns(UserWarning, match="traced 3 times for one signature"):
        for n in (1, 2, 3):
            assert compiled(x, np.array([n])).item() == n


def test_hooks_on_the_calls_own_tensors_are_refused():
    w = tl.Tensor(np.ones(2), requires_grad=True)

    def step(x):
        h = x * w
        h.register_hook(lambda g: g * 2)
        h.sum().backward()
    with pytest.raises(RuntimeError, match="hook on a tensor made inside"):
        tl.jit(step)(np.ones(2))


class Fragile(tl.Function):
    """Doubles its input, or raises while `failing` is set (an op without a plan rule)."""

    failing = False

    def forward(ctx, a):
        if Fragile.failing:
            raise ValueError("fragile: failing on purpose")
        return a * 2

    def backward(ctx, grad_output):
        return grad_output * 2


@pytest.mark.parametrize("backward_inside", [False, True])
def test_hooks_on_leaves_registered_after_tracing_run_as_eager(backward_inside):
    w = tl.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    x = tl.Tensor(np.array([3.0, 4.0]), requires_grad=True)

    def step(x):
        loss = (x * w).sum()
        if backward_inside:
            loss.backward()
        return loss
    compiled = tl.jit(step)
    call = (lambda: compiled(x)) if backward_inside else (lambda: compiled(x).backward())
    call()
    call()
    seen = []
    handles = [w.register_hook(lambda g: g * 10), x.register_hook(lambda g: seen.append(g.copy()))]
    w.grad = x.grad = None
    call()
    np.testing.assert_array_equal(w.grad, [30.0, 40.0])
    np.testing.assert_array_equal(x.grad, [1.0, 2.0])
    for handle in handles:
        handle.remove()
    call()
    np.testing.assert_array_equal(w.grad, [33.0, 44.0])
    np.testing.assert_array_equal(seen, [[1.0, 2.0]])
    assert compiled.traces == 1


def test_a_failing_replay_returns_its_buffers_and_the_plan_stays_usable():
    w = tl.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    compiled = tl.jit(lambda x: Fragile.apply(x * w))
    compiled(np.ones(2))
    compiled(np.ones(2))  # its node is dropped at once: the arena is back in the pool
    plan = next(iter(compiled._cache.values()))
    assert len(plan.pool) == 1
    Fragile.failing = True
    try:
        with pytest.raises(ValueError, match="failing on purpose"):
            compiled(np.ones(2))
    finally:
        Fragile.failing = False
    assert len(plan.pool) == 1
    np.testing.assert_array_equal(compiled(np.array([3.0, 4.0])).data, [6.0, 16.0])
    assert "fragile x1" in compiled.trace_info()


def test_an_argument_with_a_graph_before_the_call_passes_its_gradient_on_as_eager():
    # an input made by ops outside the call (x * 2, a packed sequence): the compiled node's gradient
    # for it continues into that graph, to the leaf x
    from tinygrad_lstm.nn.utils.rnn import pack_padded_sequence
    lstm = tl.nn.LSTM(3, 4, dtype=np.float64)
    data = np.random.default_rng(0).standard_normal((5, 2, 3))
    calls = {"scaled": (lambda x: x * 2, lambda t: lstm(t)[0]),
             "packed": (lambda x: pack_padded_sequence(x, [5, 3]), lambda p: lstm(p)[0].data)}
    for name, (prepare, fn) in calls.items():
        grads = []
        for step in (fn, tl.jit(fn)):
            x = tl.Tensor(data, requires_grad=True)
            lstm.zero_grad()
            for _ in range(3):  # trace, then replays
                out = step(prepare(x))
                (out * out).sum().backward()
            grads.append((x.grad.copy(), lstm.weight_hh_l0.grad.copy()))
        for eager, compiled in zip(*grads):
            np.testing.assert_array_equal(compiled, eager, err_msg=name)
