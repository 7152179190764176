"""Tensor semantics, the backward walk, memory release, modes, hooks, anomaly, errors."""
import gc
import warnings
import weakref

import numpy as np
import pytest

import tinygrad_lstm as tl


def test_tensor_attributes_and_repr():
    t = tl.Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    assert t.shape == (2, 2) and t.ndim == 2 and t.size == 4 and t.dtype == np.float64
    assert t.is_leaf and t.grad is None and t.requires_grad
    assert isinstance(t.numpy(), np.ndarray)
    assert tl.Tensor(3.5).item() == 3.5
    assert "requires_grad=True" in repr(t)
    y = t * 2
    assert not y.is_leaf and "grad_fn=<Mul>" in repr(y)


def test_constructor_copies_and_casts():
    a = np.ones(3, dtype=np.float32)
    t = tl.Tensor(a)
    a[0] = 5
    assert t.data[0] == 1 and t.dtype == np.float32
    assert tl.Tensor([1, 2], dtype=np.float32).dtype == np.float32
    assert tl.Tensor([1, 2]).dtype.kind == "i"


def test_bad_data_and_requires_grad_types():
    with pytest.raises(TypeError, match="numeric"):
        tl.Tensor(["a", "b"])
    with pytest.raises(TypeError):
        tl.Tensor({"a": 1})
    with pytest.raises(TypeError, match="floating-point"):
        tl.Tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="floating-point"):
        tl.Tensor([True]).requires_grad_()
    with pytest.raises(ValueError, match="one-element"):
        tl.Tensor([1.0, 2.0]).item()


def test_float32_graph_stays_float32():
    x = tl.Tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
    w = tl.Tensor(np.ones((3, 4), dtype=np.float32), requires_grad=True)
    y = ((x @ w).sigmoid() * 2.0 + 1 - 0.5 / (x @ w).exp()).tanh() ** 2
    for part in y.chunk(2, dim=1):
        assert part.dtype == np.float32
    loss = y.mean()
    assert loss.dtype == np.float32
    loss.backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float32


def test_float64_array_operand_promotes_like_numpy_and_grad_keeps_input_dtype():
    x = tl.Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    y = x * np.ones(3, dtype=np.float64)
    assert y.dtype == np.float64
    y.sum().backward()
    assert x.grad.dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_tanh_extreme_inputs_no_warnings(dtype):
    x = tl.Tensor(np.array([-1e4, -100.0, -20.0, 0.0, 20.0, 100.0, 1e4], dtype=dtype), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = x.sigmoid()
        t = x.tanh()
        (s + t).sum().backward()
    assert s.dtype == dtype and np.all(np.isfinite(s.data)) and np.all(np.isfinite(x.grad))
    assert s.data[0] == 0 and s.data[-1] == 1 and s.data[3] == 0.5
    exact = 1 / (1 + np.exp(-np.float64(-20.0)))
    assert abs(s.data[2] - exact) <= 4 * np.finfo(dtype).eps * exact  # relative accuracy in the tail
    assert np.array_equal(t.data, np.tanh(x.data))


def test_backward_requires_grad_for_non_scalar():
    y = tl.Tensor([1.0, 2.0], requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="one-element"):
        y.backward()
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        y.backward(np.ones(3))
    with pytest.raises(RuntimeError, match="does not require grad"):
        tl.Tensor([1.0]).backward()


def test_gradients_accumulate_over_two_backward_calls():
    x = tl.Tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    assert np.array_equal(x.grad, [3 + 2, 3 + 4])


def test_shared_gradient_arrays_are_never_aliased():
    a = tl.Tensor([1.0, 2.0], requires_grad=True)
    b = tl.Tensor([1.0, 2.0], requires_grad=True)
    (a + b).sum().backward()  # add passes one gradient array to both inputs
    a.grad += 10
    assert np.array_equal(b.grad, [1, 1])


def test_diamond_graph_accumulates_into_intermediate():
    x = tl.Tensor([0.3, -0.7], requires_grad=True)
    assert tl.gradcheck(lambda t: (lambda u: u * u + u.exp() + u)(t.tanh()), [x])


def test_non_leaf_grad_only_when_retained():
    x = tl.Tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    k = x * 3
    h.retain_grad()
    (h * h + k).sum().backward()
    assert np.array_equal(h.grad, 2 * h.data) and k.grad is None
    assert h.retains_grad and not k.retains_grad


def test_released_graph_second_backward_names_retain_graph():
    x = tl.Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


def test_retain_graph_allows_second_backward():
    x = tl.Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert np.array_equal(x.grad, 4 * x.data)


def test_saved_arrays_released_after_backward_without_gc():
    gc.disable()
    try:
        x = tl.Tensor(np.ones(4), requires_grad=True)
        hidden = (x * 2).tanh()
        saved = weakref.ref(hidden.data)
        loss = hidden.sum() * 1.0
        del hidden
        assert saved() is not None  # the tanh node keeps its output for backward
        loss.backward()
        assert saved() is None  # released by reference counting alone, loss still alive
    finally:
        gc.enable()


def test_graph_has_no_reference_cycles():
    gc.disable()
    try:
        x = tl.Tensor(np.ones(4), requires_grad=True)
        y = (x * 2).sigmoid()
        parts = y.chunk(2)
        out = tl.concat([parts[1], parts[0]]).sum()
        node = weakref.ref(y.grad_fn)
        out_node = weakref.ref(out.grad_fn)
        del y, parts, out
        assert node() is None and out_node() is None
    finally:
        gc.enable()


def test_100k_node_chain_backpropagates():
    x = tl.Tensor(np.array([1.0]), requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.sum().backward()
    assert x.grad[0] == 1.0
    del y  # freeing a long chain must not overflow the stack either


def test_no_grad_records_nothing_and_works_as_decorator():
    x = tl.Tensor([1.0], requires_grad=True)
    with tl.no_grad():
        y = x * 2
        with tl.enable_grad():
            z = x * 2
    assert not y.requires_grad and y.grad_fn is None and z.requires_grad
    assert tl.is_grad_enabled()

    @tl.no_grad()
    def double(t):
        return t * 2
    assert not double(x).requires_grad and tl.is_grad_enabled()


def test_detach_and_requires_grad_():
    x = tl.Tensor([1.0], requires_grad=True)
    d = (x * 2).detach()
    assert d.is_leaf and not d.requires_grad
    assert d.requires_grad_() is d and d.requires_grad
    with pytest.raises(RuntimeError, match="leaf"):
        (x * 2).requires_grad_(False)


def test_hooks_observe_and_replace_gradients():
    x = tl.Tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    seen = []
    h.register_hook(lambda g: seen.append(g.copy()))
    h.register_hook(lambda g: g * 0)  # replaces the gradient flowing on
    handle = x.register_hook(lambda g: g + 1)
    (h * 2).sum().backward()
    assert np.array_equal(seen[0], [2, 2])
    assert np.array_equal(x.grad, [1, 1])
    handle.remove()
    x.grad = None
    (x * 1).sum().backward()
    assert np.array_equal(x.grad, [1, 1])
    with pytest.raises(RuntimeError, match="does not require grad"):
        tl.Tensor([1.0]).register_hook(print)


def test_hooks_on_hidden_states_measure_gradient_per_step():
    w = tl.Tensor(0.5 * np.eye(2), requires_grad=True)
    h = tl.Tensor(np.ones((1, 2)))
    norms = {}
    for t in range(4):
        h = (h @ w).tanh()
        h.register_hook(lambda g, t=t: norms.__setitem__(t, np.linalg.norm(g)))
    h.sum().backward()
    assert sorted(norms) == [0, 1, 2, 3]
    assert norms[0] < norms[1] < norms[2] < norms[3]  # contractive recurrence: gradients vanish back in time


def test_detect_anomaly_names_op_and_user_line():
    x = tl.Tensor([1.0, -1.0], requires_grad=True)
    with tl.detect_anomaly():
        with pytest.raises(FloatingPointError, match=r"'log'.*test_engine\.py"):
            with np.errstate(invalid="ignore"):
                x.log()
        y = (x * 0).sqrt()
        with pytest.raises(FloatingPointError, match=r"'sqrt'.*gradient"):
            with np.errstate(divide="ignore", invalid="ignore"):
                y.sum().backward()
    with np.errstate(invalid="ignore"):
        assert np.isnan(x.log().data[1])  # outside the context: no check


def test_name_scopes_are_recorded_and_nested():
    x = tl.Tensor([1.0], requires_grad=True)
    with tl.name_scope("lstm"):
        with tl.name_scope("l0"):
            with tl.name_scope("t=3"):
                y = x * 2
        z = y + 1
    w = z * 1
    assert y.grad_fn.scope == "lstm/l0/t=3" and z.grad_fn.scope == "lstm" and w.grad_fn.scope == ""
    with pytest.raises(ValueError):
        with tl.name_scope("a/b"):
            pass


def test_walk_graph_is_deterministic_topological():
    x = tl.Tensor([1.0, 2.0], requires_grad=True)
    w = tl.Tensor([3.0, 4.0], requires_grad=True)
    a, b = (x * w).chunk(2)
    y = (a.exp() + b).sum()
    graph = tl.walk_graph(y)
    names = [n.name for n in graph.nodes]
    assert names == [n.name for n in tl.walk_graph(y).nodes]
    position = {id(n): i for i, n in enumerate(graph.nodes)}
    for source, target, _, _ in graph.edges:
        if isinstance(source, tl.Function):
            assert position[id(source)] < position[id(target)]
    assert graph.leaves == [x, w] or [id(t) for t in graph.leaves] == [id(x), id(w)]
    assert names[0] == "mul" and names[-1] == "sum"
    assert graph.nodes[1].shapes == ((1,), (1,))


def test_shape_errors_name_op_and_shapes():
    a, b = tl.Tensor(np.ones((3, 4))), tl.Tensor(np.ones((5, 2)))
    with pytest.raises(ValueError, match=r"matmul: \(3, 4\) @ \(5, 2\): inner dimensions 4 and 5 differ"):
        a @ b
    with pytest.raises(ValueError, match=r"add: .*\(3, 4\) and \(5, 2\)"):
        a + b
    with pytest.raises(ValueError, match=r"cat: .*\(3, 4\).*\(5, 2\)"):
        tl.cat([a, b], dim=0)
    with pytest.raises(ValueError, match=r"stack"):
        tl.stack([a, b])
    with pytest.raises(ValueError, match=r"reshape: .*\(3, 4\)"):
        a.reshape(5, 3)
    with pytest.raises(ValueError, match=r"split"):
        a.split(0, dim=1)
    with pytest.raises(ValueError, match=r"split: sizes"):
        a.split([1, 1], dim=1)
    with pytest.raises(ValueError, match=r"sum: dim 2 is out of range for a tensor of shape \(3, 4\)"):
        a.sum(dim=2)
    with pytest.raises(ValueError, match=r"transpose"):
        a.transpose(0, 2)


def test_custom_function_and_gradcheck_negative():
    class Square(tl.Function):
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        def backward(ctx, grad_output):
            (x,) = ctx.saved_tensors
            return 2 * x * grad_output

    class WrongSquare(Square):
        def backward(ctx, grad_output):
            (x,) = ctx.saved_tensors
            return x * grad_output  # missing factor 2

    x = tl.Tensor(np.array([0.5, -1.5]), requires_grad=True)
    assert tl.gradcheck(Square.apply, [x])
    with pytest.raises(tl.GradcheckError, match=r"output 0 with respect to input 0"):
        tl.gradcheck(WrongSquare.apply, [x])
    assert tl.gradcheck(WrongSquare.apply, [x], raise_exception=False) is False


def test_gradcheck_rejects_float32_and_keeps_user_grads():
    with pytest.raises(TypeError, match="float64"):
        tl.gradcheck(lambda t: t * 2, [tl.Tensor(np.ones(2, dtype=np.float32), requires_grad=True)])
    x = tl.Tensor([1.0], requires_grad=True)
    x.grad = np.array([7.0])
    tl.gradcheck(lambda t: t * 2, [x])
    assert x.grad[0] == 7.0


def test_factories_and_seeding():
    assert tl.zeros(2, 3).shape == (2, 3) and tl.ones((2,)).data.sum() == 2
    assert tl.full((2, 2), 3.0, dtype=np.float32).dtype == np.float32
    assert tl.zeros(2, requires_grad=True).requires_grad
    tl.manual_seed(7)
    a = tl.randn(3, 2, dtype=np.float32)
    tl.manual_seed(7)
    b = tl.randn(3, 2, dtype=np.float32)
    assert np.array_equal(a.data, b.data) and a.dtype == np.float32
    g = np.random.default_rng(3)
    assert np.array_equal(tl.rand(4, generator=g).data, np.random.default_rng(3).random(4))
    with pytest.raises(ValueError):
        tl.zeros(-1)


def test_numpy_arrays_defer_to_tensor_operators():
    x = tl.Tensor([1.0, 2.0], requires_grad=True)
    y = np.array([2.0, 3.0]) * x
    assert isinstance(y, tl.Tensor)
    y.sum().backward()
    assert np.array_equal(x.grad, [2, 3])
    assert np.array_equal(np.asarray(x), [1, 2])


def test_shared_weight_gradient_mixes_deferred_and_dense_contributions():
    rng = np.random.default_rng(0)
    x = tl.Tensor(rng.standard_normal((4, 2, 3)), requires_grad=True)
    w = tl.Tensor(rng.standard_normal((3, 3)) * 0.5, requires_grad=True)

    def unrolled(x, w):
        w_t = w.T  # a node used by every step, as nn does with weight_hh
        h = tl.zeros(2, 3)
        total = (w * w).sum()  # a dense contribution to the same leaf
        for x_t in x.unbind(0):
            h = (x_t @ w + h @ w_t).tanh()
            total = total + (h * h).sum()
        return total + (x @ w).sum()  # a 3-D @ 2-D product
    assert tl.gradcheck(unrolled, [x, w])
    seen = []
    w.register_hook(lambda g: seen.append(type(g)))
    unrolled(x, w).backward()
    assert seen == [np.ndarray] and isinstance(w.grad, np.ndarray)


def test_node_hooks_and_float32_softmax_extremes():
    x = tl.Tensor([0.5, 1.5], requires_grad=True)
    y = x * 2
    handle = y.grad_fn.register_hook(lambda g: g * 10)
    y.sum().backward()
    assert np.array_equal(x.grad, [20, 20])
    handle.remove()
    with pytest.raises(IndexError, match="outputs"):
        y.grad_fn.register_hook(print, output_index=1)
    big = tl.Tensor(np.array([[-3e38, 3e38, 0.0], [1e4, -1e4, 0.0]], dtype=np.float32), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        probs = tl.ops.Softmax.apply(big, axis=-1)
        log_probs = tl.ops.LogSoftmax.apply(big, axis=-1)
        (probs.sum() + log_probs[:, 1].sum()).backward()
    assert np.array_equal(probs.data, [[0, 1, 0], [1, 0, 0]]) and probs.dtype == np.float32
    assert log_probs.data[1, 0] == 0 and log_probs.data[1, 1] == -2e4


def _backward_peak_bytes(steps):
    import tracemalloc
    x = tl.Tensor(np.ones((steps, 4, 8)), requires_grad=True)
    w = tl.Tensor(np.full((8, 8), 0.1), requires_grad=True)
    h = tl.zeros(4, 8)
    for x_t in x.unbind(0):
        i, f = (x_t + h @ w).chunk(2, dim=1)
        h = tl.concat([i.sigmoid() * f.tanh(), f], axis=1)
    loss = h.sum()
    tracemalloc.start()
    loss.backward()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_backward_memory_grows_linearly_with_steps():
    # split/unbind backward assemble their input gradient once: no full-size buffer per step
    assert _backward_peak_bytes(400) / _backward_peak_bytes(100) < 4.4


# --------------------------------------------------------------------------- matmul weights with other uses
@pytest.mark.parametrize("order", ["matmul_first", "penalty_first", "both_sides", "tied"])
def test_matmul_weight_that_also_gets_other_gradients(order):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x_data, w_data = rng.standard_normal((2, 3)), rng.standard_normal((3, 3))

    def loss(lib, x, w):
        if order == "matmul_first":
            return (x @ w).sum() + 0.1 * (w * w).sum()
        if order == "penalty_first":
            return 0.1 * (w * w).sum() + (x @ w).sum()
        if order == "both_sides":
            return ((w * 2) @ w).sum() + (x @ w).sum() + w.sum()
        return ((x @ w) @ w.T).sum() + (x @ w).sum()  # the same weight tied in two matmuls

    w = tl.Tensor(w_data, requires_grad=True)
    loss(tl, tl.Tensor(x_data), w).backward()
    w_t = torch.tensor(w_data, requires_grad=True)
    loss(torch, torch.tensor(x_data), w_t).backward()
    np.testing.assert_allclose(w.grad, w_t.grad.numpy(), rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- 0-d tensors
@pytest.mark.parametrize("name", ["tanh", "sigmoid", "relu", "exp", "log", "softmax", "log_softmax", "abs"])
def test_elementwise_ops_on_0d_tensors(name):
    torch = pytest.importorskip("torch")
    fn = {"softmax": lambda t: tl.nn.functional.softmax(t, dim=0),
          "log_softmax": lambda t: tl.nn.functional.log_softmax(t, dim=-1)}.get(name, lambda t: getattr(t, name)())
    fn_t = {"softmax": lambda t: torch.softmax(t, 0), "log_softmax": lambda t: torch.log_softmax(t, -1)}.get(
        name, lambda t: getattr(t, name)())
    x = tl.Tensor(0.7, requires_grad=True)
    y = fn(x)
    y.backward()
    x_t = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    y_t = fn_t(x_t)
    y_t.backward()
    assert y.shape == () and x.grad.shape == () and isinstance(x.grad, np.ndarray)
    np.testing.assert_allclose(y.data, y_t.detach().numpy(), rtol=1e-15)
    np.testing.assert_allclose(x.grad, x_t.grad.numpy(), rtol=1e-15, atol=1e-300)


@pytest.mark.parametrize("op", ["+", "-", "*", "/", "**"])
def test_0d_operands_of_binary_ops(op):
    a, b = tl.Tensor(1.5, requires_grad=True), tl.Tensor(np.array([0.5, 2.0]), requires_grad=True)
    fn = {"+": lambda p, q: p + q, "-": lambda p, q: p - q, "*": lambda p, q: p * q, "/": lambda p, q: p / q,
          "**": lambda p, q: p ** q}[op]
    assert fn(a, a).shape == ()
    assert tl.gradcheck(fn, [a, b]) and tl.gradcheck(fn, [a, a])


# --------------------------------------------------------------------------- version counters and in-place ops
def test_in_place_methods_bump_the_version_shared_by_views_and_detached_aliases():
    x = tl.zeros(4)
    view, alias = x[1:3], x.detach()
    assert x._version == 0
    steps = [lambda: x.add_(1), lambda: x.sub_(1, alpha=2), lambda: x.mul_(2), lambda: x.div_(4),
             lambda: x.copy_(np.arange(4.0)), lambda: x.fill_(3), lambda: x.zero_(),
             lambda: x.uniform_(-1, 1), lambda: x.normal_(0, 2), lambda: view.add_(1)]
    for k, step in enumerate(steps, start=1):
        step()
        assert x._version == view._version == alias._version == k
    x += 1
    assert x._version == len(steps) + 1
    tl.engine.increment_version(x)
    assert x._version == len(steps) + 2
    assert tl.zeros(4)._version == 0  # fresh memory starts at 0


def test_in_place_operators_change_the_tensor_itself_like_pytorch():
    x = tl.Tensor([1.0, 2.0, 3.0])
    same, view = x, x[:2]
    x += 1
    x *= tl.Tensor([2.0, 2.0, 2.0])
    x -= 1
    x /= 2
    assert same is x
    np.testing.assert_array_equal(x.data, [1.5, 2.5, 3.5])
    np.testing.assert_array_equal(view.data, [1.5, 2.5])


def test_data_assignment_bumps_the_version():
    p = tl.nn.Parameter(np.ones(3))
    p.data = np.zeros(3)
    assert p._version == 1 and p.requires_grad
    with pytest.raises(TypeError, match="data"):
        p.data = np.array(["a"])


def test_backward_after_an_in_place_change_names_tensor_op_scope_and_versions():
    tl.manual_seed(0)
    lstm = tl.nn.LSTM(3, 4, dtype=np.float64)
    output, _ = lstm(tl.randn(5, 2, 3))
    with tl.no_grad():
        lstm.weight_hh_l0.add_(0.1)  # an optimizer step between forward and backward
    with pytest.raises(RuntimeError) as error:
        output.sum().backward()
    message = str(error.value)
    assert "modified by an inplace operation" in message
    assert "weight_hh_l0 saved by addmm at lstm/l0/t=" in message
    assert "is at version 1; expected version 0" in message


def test_data_written_through_a_library_optimizer_raises_but_a_fresh_forward_works():
    tl.manual_seed(0)
    rnn = tl.nn.RNN(2, 3, dtype=np.float64)
    x = tl.randn(4, 1, 2)
    stale, _ = rnn(x)
    with tl.no_grad():
        for p in rnn.parameters():
            p.copy_(p * 0.5)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        stale.sum().backward()
    fresh, _ = rnn(x)
    fresh.sum().backward()  # recorded after the change: no error
    assert all(p.grad is not None for p in rnn.parameters())


def test_in_place_on_a_leaf_that_requires_grad_is_an_error_outside_no_grad():
    w = tl.Tensor([1.0, 2.0], requires_grad=True)
    for step in (lambda: w.add_(1), lambda: w.zero_(), lambda: w.copy_([3.0, 4.0]), lambda: w.uniform_()):
        with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
            step()
    with pytest.raises(RuntimeError, match="leaf tensor"):
        w += 1
    np.testing.assert_array_equal(w.data, [1.0, 2.0])
    assert w._version == 0  # nothing half-changed
    with tl.no_grad():
        w.add_(1)
    np.testing.assert_array_equal(w.data, [2.0, 3.0])


def test_in_place_ops_on_computed_tensors_backpropagate_like_pytorch():
    torch = pytest.importorskip("torch")
    x_data, w_data = np.array([0.5, -1.0, 2.0]), np.array([2.0, 3.0, -1.0])

    def run(lib, x, w):
        y = x * 2
        y.mul_(w)   # Mul saved the old y: its gradient must use it
        y.add_(w)
        z = y.tanh() * 1  # (tanh saved its output: changing that in place would raise, in PyTorch too)
        z += x
        return (z * z).sum()

    x, w = tl.Tensor(x_data, requires_grad=True), tl.Tensor(w_data, requires_grad=True)
    run(tl, x, w).backward()
    x_t, w_t = (torch.tensor(a, requires_grad=True) for a in (x_data, w_data))
    run(torch, x_t, w_t).backward()
    np.testing.assert_allclose(x.grad, x_t.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(w.grad, w_t.grad.numpy(), rtol=1e-12)


def test_in_place_change_of_a_saved_output_raises_like_pytorch():
    x = tl.Tensor([0.5, 1.0], requires_grad=True)
    y = x.exp()
    y.add_(1)  # exp saved its output
    with pytest.raises(RuntimeError, match=r"saved by exp is at version 1; expected version 0"):
        y.sum().backward()
    a = tl.Tensor([1.0, 2.0], requires_grad=True)
    b = a * 1
    c = b * a   # saves b
    b.mul_(3)
    with pytest.raises(RuntimeError, match="saved by mul"):
        c.sum().backward()


def test_in_place_change_of_an_unsaved_input_is_not_an_error():
    x = tl.Tensor([1.0, 2.0], requires_grad=True)
    constant = tl.Tensor([3.0, 4.0])
    y = x + constant   # add saves nothing
    constant.add_(1)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0])


def test_bad_in_place_calls_change_nothing():
    a = tl.zeros(3, dtype=np.int64)
    with pytest.raises(TypeError, match=r"\+=: the result type float64 can't be cast to the tensor's dtype int64"):
        a += 0.5
    b = tl.zeros(3)
    with pytest.raises(ValueError, match=r"add_: the result of shape \(2, 3\) does not fit"):
        b.add_(tl.ones(2, 3))
    with pytest.raises(ValueError, match="copy_: the source of shape"):
        b.copy_(np.ones(4))
    with pytest.raises(ValueError, match="fill_"):
        b.fill_(tl.ones(2))
    assert a._version == b._version == 0 and not b.data.any()
    x = tl.Tensor([1.0, 2.0, 3.0], requires_grad=True)
    piece = (x * 1)[1:]
    with pytest.raises(RuntimeError, match="view of another tensor"):
        piece.mul_(x[1:])


def test_copy_and_fill_are_differentiable_in_their_source():
    torch = pytest.importorskip("torch")
    source = tl.Tensor([1.0, -2.0], requires_grad=True)
    target = tl.zeros(3, 2)
    target.copy_(source)   # broadcast over rows
    (target * target).sum().backward()
    source_t = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
    target_t = torch.zeros(3, 2, dtype=torch.float64)
    target_t.copy_(source_t)
    (target_t * target_t).sum().backward()
    np.testing.assert_allclose(source.grad, source_t.grad.numpy())
    value = tl.Tensor(2.0, requires_grad=True)
    filled = tl.zeros(4, dtype=np.float32).fill_(value)
    assert filled.dtype == np.float32
    filled.sum().backward()
    assert value.grad == 4.0


def test_random_fills_follow_the_generator_and_keep_dtype():
    tl.manual_seed(3)
    a = tl.zeros(1000, dtype=np.float32).uniform_(-2, 2)
    tl.manual_seed(3)
    b = tl.zeros(1000, dtype=np.float32).uniform_(-2, 2)
    assert a.dtype == np.float32 and np.array_equal(a.data, b.data)
    assert -2 <= a.data.min() and a.data.max() < 2
    n = tl.zeros(20000).normal_(1.0, 3.0, generator=np.random.default_rng(0))
    assert abs(n.data.mean() - 1.0) < 0.1 and abs(n.data.std() - 3.0) < 0.1
    with pytest.raises(ValueError, match="std"):
        tl.zeros(2).normal_(0, -1)


def test_clone_and_casts_are_in_the_graph():
    x = tl.Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    y = x.clone()
    assert not np.shares_memory(y.data, x.data)
    z = y.double() * 2
    assert z.dtype == np.float64 and x.to(np.float32) is x
    z.sum().backward()
    assert x.grad.dtype == np.float32 and np.array_equal(x.grad, [2.0, 2.0])
    assert x.float() is x and x.astype(np.int64).dtype == np.int64 and not x.astype(np.int64).requires_grad


def test_torch_style_size_dim_numel_tolist():
    t = tl.zeros(2, 3)
    assert t.size == 6 and t.size() == (2, 3) and t.size(1) == 3 and t.size(-2) == 2
    assert t.dim() == 2 and t.numel() == 6 and tl.Tensor([[1, 2]]).tolist() == [[1, 2]]
    with pytest.raises(IndexError, match="size: dim 2"):
        t.size(2)


def test_set_grad_enabled_and_detect_anomaly_as_decorator():
    x = tl.Tensor([1.0], requires_grad=True)
    with tl.engine.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    with tl.engine.set_grad_enabled(True):
        assert (x * 2).requires_grad

    @tl.detect_anomaly()
    def bad():
        return (x - 1).log()

    with pytest.raises(FloatingPointError):
        bad()


class _LogCell(tl.nn.Module):
    """h' = log(x w) + h: a log(0) where the input is 0."""

    def __init__(self):
        super().__init__()
        self.input_size = self.hidden_size = 1
        self.weight = tl.nn.Parameter(np.ones(1))

    def init_state(self, batch_size):
        return tl.zeros(batch_size, 1)

    def forward(self, x, h):
        return (x * self.weight).log() + h  # the planted log(0)


def test_detect_anomaly_names_the_time_step_the_operands_and_the_source_line():
    import inspect
    x = np.ones((8, 2, 1))
    x[5, 1] = 0.0
    line = next(i for i, text in enumerate(inspect.getsourcelines(_LogCell.forward)[0]) if "planted" in text)
    line += inspect.getsourcelines(_LogCell.forward)[1]
    with tl.detect_anomaly(), pytest.raises(FloatingPointError) as error:
        tl.nn.Recurrent(_LogCell())(tl.Tensor(x))
    message = str(error.value)
    assert "op 'log' at recurrent/t=5/cell produced Inf in its forward output" in message
    assert "inputs: (2, 1) in [0, 1]" in message
    assert f"test_engine.py:{line} in forward" in message
    tl.nn.Recurrent(_LogCell())(tl.Tensor(x))  # outside anomaly mode: no check, no error


def test_detect_anomaly_in_backward_names_the_incoming_gradient():
    x = tl.Tensor([0.0, 1.0], requires_grad=True)
    with tl.detect_anomaly():
        with tl.name_scope("model"):
            y = (x ** 0.5).sum()
        with pytest.raises(FloatingPointError, match=r"op 'pow' at model produced Inf in its gradient for input 0 "
                                                     r"\(shape \(2,\)\); gradients of its outputs: \(2,\) in \[1, 1\]"):
            y.backward()


# --------------------------------------------------------------------------- higher-order gradients
def test_grad_returns_gradients_without_touching_dot_grad():
    x = tl.Tensor([1.0, 2.0], requires_grad=True)
    w = tl.Tensor([3.0, -1.0], requires_grad=True)
    hidden = x * w
    (gx, gh) = tl.grad((hidden * hidden).sum(), [x, hidden], retain_graph=True)
    np.testing.assert_array_equal(gx.data, 2 * (x.data * w.data) * w.data)
    np.testing.assert_array_equal(gh.data, 2 * hidden.data)
    assert x.grad is None and w.grad is None and not gx.requires_grad
    unused = tl.Tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="input 1 .* was not used"):
        tl.grad((x * x).sum(), [x, unused])
    assert tl.grad((x * x).sum(), [x, unused], allow_unused=True)[1] is None
    with pytest.raises(RuntimeError, match="does not require grad"):
        tl.grad((x * x).sum(), [tl.Tensor([1.0])])


def test_derivatives_of_any_order():
    x = tl.Tensor([0.5, 2.0], requires_grad=True)
    y = (x ** 3).sum()
    (first,) = tl.grad(y, x, create_graph=True)
    (second,) = tl.grad(first.sum(), x, create_graph=True)
    (third,) = tl.grad(second.sum(), x)
    np.testing.assert_allclose(first.data, 3 * x.data ** 2)
    np.testing.assert_allclose(second.data, 6 * x.data)
    np.testing.assert_allclose(third.data, [6.0, 6.0])


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")  # torch's reference-cycle note
def test_backward_with_create_graph_leaves_differentiable_grads_like_pytorch():
    torch = pytest.importorskip("torch")
    data = np.array([0.3, -1.2, 2.0])
    x = tl.Tensor(data, requires_grad=True)
    (x.tanh() * x).sum().backward(create_graph=True)
    assert isinstance(x.grad, tl.Tensor) and x.grad.requires_grad
    penalty = (x.grad * x.grad).sum()
    x.grad = None
    penalty.backward()
    x_t = torch.tensor(data, requires_grad=True)
    (x_t.tanh() * x_t).sum().backward(create_graph=True)
    penalty_t = (x_t.grad * x_t.grad).sum()
    x_t.grad = None
    penalty_t.backward()
    np.testing.assert_allclose(x.grad, x_t.grad.numpy(), rtol=1e-12)


def test_backward_inputs_accumulates_only_into_those():
    a = tl.Tensor([1.0, 2.0], requires_grad=True)
    b = tl.Tensor([3.0, 4.0], requires_grad=True)
    middle = a * b
    middle.retain_grad()
    (middle * a).sum().backward(inputs=[b, middle])
    assert a.grad is None
    np.testing.assert_array_equal(b.grad, a.data ** 2)
    np.testing.assert_array_equal(middle.grad, a.data)


def test_double_backward_through_an_op_without_vjp_names_it():
    class Cube(tl.Function):
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        def backward(ctx, grad_output):
            (x,) = ctx.saved_tensors
            return 3 * x ** 2 * grad_output

    x = tl.Tensor([2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="op 'cube' has no differentiable vjp"):
        tl.grad(Cube.apply(x).sum(), x, create_graph=True)
    assert tl.grad(Cube.apply(x).sum(), x)[0].item() == 12.0  # first order still works


def test_hooks_see_tensors_under_create_graph():
    x = tl.Tensor([1.0, 2.0], requires_grad=True)
    y = x * x
    seen = []
    y.register_hook(lambda g: seen.append(type(g)) or g * 2)
    (g,) = tl.grad(y.sum(), x, create_graph=True)
    assert seen == [tl.Tensor] and g.requires_grad
    np.testing.assert_array_equal(g.data, 4 * x.data)


def test_observers_run_backward_and_grad_with_all_their_arguments():
    x = tl.Tensor([1.0, 2.0], requires_grad=True)
    with tl.viz.record_values():
        y = (x ** 3).sum()
        (first,) = tl.grad(y, x, create_graph=True)
        first.sum().backward(inputs=[x])
    np.testing.assert_array_equal(x.grad, 6 * x.data)
    out, tangent = tl.jvp(lambda a: tl.grad((a ** 2).sum() * 0 + (x * a).sum(), x)[0], (tl.Tensor([1.0, 1.0]),),
                          (tl.Tensor([1.0, 0.0]),))
    np.testing.assert_array_equal(out.data, [1.0, 1.0])


def test_backward_gives_nan_and_inf_like_pytorch_without_numpy_warnings():
    import warnings
    a = tl.Tensor([np.inf, 1.0, 1e308], requires_grad=True)
    b = tl.Tensor([0.0, 2.0, 10.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loss = (a * b).sum()   # the forward's inf * 0 is numpy's business
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss.backward()        # b's gradient has an inf, a's an inf * 0 = nan upstream: no warning
    np.testing.assert_array_equal(b.grad, [np.inf, 1.0, 1e308])
