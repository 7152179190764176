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
    for part in y.split(2, axis=1):
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
        parts = y.split(2)
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
        y = (x * 0).sqrt() if hasattr(x, "sqrt") else (x * 0) ** 0.5
        with pytest.raises(FloatingPointError, match=r"'pow'.*gradient"):
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
    a, b = (x * w).split(2)
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
    with pytest.raises(ValueError, match=r"concat: .*\(3, 4\).*\(5, 2\)"):
        tl.concat([a, b], axis=0)
    with pytest.raises(ValueError, match=r"stack"):
        tl.stack([a, b])
    with pytest.raises(ValueError, match=r"reshape: .*\(3, 4\)"):
        a.reshape(5, 3)
    with pytest.raises(ValueError, match=r"split"):
        a.split(3, axis=1)
    with pytest.raises(ValueError, match=r"split: sizes"):
        a.split([1, 1], axis=1)
    with pytest.raises(ValueError, match=r"sum: axis 2"):
        a.sum(axis=2)
    with pytest.raises(ValueError, match=r"transpose"):
        a.transpose(0, 0)


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
        i, f = (x_t + h @ w).split(2, axis=1)
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
