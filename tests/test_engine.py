"""Tensor semantics, the backward walk, memory release, modes, hooks, anomaly, errors."""
import gc
import warnings
import weakref

import numpy as np
import pytest

import tinygrad_lstm as tl

RNG = np.random.default_rng(1234)


def leaf(*shape, low=0.5, high=1.5, dtype=np.float64):
    return tl.Tensor(RNG.uniform(low, high, shape).astype(dtype), requires_grad=True)


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


@pytest.mark.parametrize("fn", [
    lambda x: x * 2.0, lambda x: 2.0 * x, lambda x: x / 3, lambda x: 1 - x, lambda x: x ** 2,
    lambda x: 2 ** x, lambda x: x ** 0.5, lambda x: x + np.float32(1), lambda x: x.clip(0.7, 1.2),
    lambda x: x * tl.Tensor([True, False, True]), lambda x: x - np.array([1, 2, 3], dtype=np.int8),
])
def test_python_scalars_and_small_ints_keep_float32_forward_and_backward(fn):
    x = leaf(3, dtype=np.float32)
    y = fn(x)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32


def test_float64_arrays_and_numpy_float64_scalars_promote_like_numpy():
    x = leaf(3, dtype=np.float32)
    for other in (np.ones(3), np.float64(2.0)):
        y = x * other
        assert y.dtype == (x.data * other).dtype == np.float64
        y.sum().backward()
        assert x.grad.dtype == np.float32  # gradients always come back in the input's dtype
        x.grad = None


def test_int_tensors_compute_without_grad_and_cannot_require_it():
    i = tl.Tensor([1, 2, 3])
    np.testing.assert_array_equal((i / 2).data, np.array([1, 2, 3]) / 2)
    x = leaf(3)
    (x * i + i).sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 2.0, 3.0])
    with pytest.raises(TypeError):
        tl.Tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError):
        tl.zeros(2, dtype=np.int64, requires_grad=True)
    with pytest.raises(TypeError):
        tl.Tensor(["a"])
    with pytest.raises(TypeError):
        tl.Tensor([1j])


def test_float16_graph_stays_float16():
    x = tl.Tensor(np.array([0.5, -1.0], dtype=np.float16), requires_grad=True)
    y = (x.sigmoid() * x.exp()).sum()
    y.backward()
    assert y.dtype == x.grad.dtype == np.float16


def test_backward_requires_grad_for_non_scalar():
    y = tl.Tensor([1.0, 2.0], requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="one-element"):
        y.backward()
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        y.backward(np.ones(3))
    with pytest.raises(RuntimeError, match="does not require grad"):
        tl.Tensor([1.0]).backward()


def test_backward_accepts_one_tensor_like_torch_autograd_backward():
    x = leaf(3)
    tl.backward((x * x).sum())
    np.testing.assert_allclose(x.grad, 2 * x.data)
    y = x * 3
    tl.backward(y, np.ones(3))
    np.testing.assert_allclose(x.grad, 2 * x.data + 3)


def test_backward_of_several_tensors_with_grads():
    x = leaf(2)
    a, b = x * 2, x * 3
    tl.backward([a, b, a], [np.ones(2), np.full(2, 2.0), np.ones(2)])
    np.testing.assert_array_equal(x.grad, [10.0, 10.0])


def test_backward_inside_no_grad_works_like_torch():
    x = leaf(2)
    y = (x * x).sum()
    with tl.no_grad():
        y.backward()
    np.testing.assert_allclose(x.grad, 2 * x.data)


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


def test_multi_output_node_with_unused_outputs_and_retained_grads():
    x = leaf(3, 2)
    a, b, c = x.unbind(0)
    b.retain_grad()
    a.retain_grad()
    (b * 2).sum().backward()
    assert a.grad is None  # no gradient reached it, as in PyTorch
    np.testing.assert_array_equal(b.grad, [2.0, 2.0])
    np.testing.assert_array_equal(x.grad, [[0, 0], [2, 2], [0, 0]])


def test_backward_straight_from_a_multi_output_output():
    x = leaf(4, 2)
    first, second = x.split([1, 3])
    second.backward(np.ones((3, 2)))
    np.testing.assert_array_equal(x.grad, [[0, 0], [1, 1], [1, 1], [1, 1]])


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


def test_saved_arrays_released_after_backward():
    x = leaf(2, 3)
    y = ((x * x).tanh() @ x.T).sigmoid().sum()
    nodes = tl.walk_graph(y).nodes
    y.backward()
    assert all(node.saved_tensors is None for node in nodes)


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


def test_no_reference_cycles_with_hooks_retain_grad_and_multi_output():
    gc.collect()
    gc.disable()
    try:
        x = leaf(2, 3)
        y = x * 2
        y.retain_grad()
        y.register_hook(lambda g: g)
        a, b = y.split([1, 2], axis=1)
        a.retain_grad()
        z = a.sum() + b.sum() * a.sum()
        z.backward(retain_graph=True)
        refs = [weakref.ref(o) for o in (y, a, b, z, y.grad_fn, a.grad_fn, z.grad_fn)]
        del y, a, b, z
        assert [r() for r in refs] == [None] * len(refs)
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


def test_no_grad_nesting_decorator_and_enable_grad():
    x = leaf(1)

    @tl.no_grad()
    def f(t):
        return t * 2

    with tl.no_grad():
        with tl.no_grad():
            pass
        inside = x * 2
        with tl.enable_grad():
            enabled = x * 2
        after = x * 2
    assert not f(x).requires_grad and not inside.requires_grad and not after.requires_grad
    assert enabled.requires_grad and (x * 2).requires_grad and tl.is_grad_enabled()


def test_detach_and_requires_grad_():
    x = tl.Tensor([1.0], requires_grad=True)
    d = (x * 2).detach()
    assert d.is_leaf and not d.requires_grad
    assert d.requires_grad_() is d and d.requires_grad
    with pytest.raises(RuntimeError, match="leaf"):
        (x * 2).requires_grad_(False)


def test_detach_shares_data_and_requires_grad_on_non_leaf_is_error():
    x = leaf(2)
    d = x.detach()
    d.data[0] = 7.0
    assert x.data[0] == 7.0 and d.is_leaf and not d.requires_grad
    with pytest.raises(RuntimeError):
        (x * 2).requires_grad_(False)
    assert (x * 2).requires_grad_().requires_grad  # True on a computed tensor is allowed, as in PyTorch


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


def test_retain_grad_holds_the_gradient_after_every_hook_whatever_the_order():
    torch = pytest.importorskip("torch")
    for retain_first in (True, False):
        x = tl.Tensor([1.0, 2.0], requires_grad=True)
        x_t = torch.tensor([1.0, 2.0], requires_grad=True)
        y, y_t = x * 3, x_t * 3
        for t in ((y, y_t) if retain_first else ()):
            t.retain_grad()
        y.register_hook(lambda g: g * 2)
        y_t.register_hook(lambda g: g * 2)
        for t in (() if retain_first else (y, y_t)):
            t.retain_grad()
        (y * y).sum().backward()
        (y_t * y_t).sum().backward()
        np.testing.assert_array_equal(y.grad, y_t.grad.numpy())
        np.testing.assert_array_equal(x.grad, x_t.grad.numpy())


def test_hooks_replace_and_remove_on_leaves_and_non_leaves():
    x = leaf(2)
    seen = []
    handle = x.register_hook(lambda g: seen.append(g.copy()) or g * 10)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad, 20 * x.data)
    np.testing.assert_allclose(seen[0], 2 * x.data)
    handle.remove()
    x.grad = None
    y = x * 1
    h = y.register_hook(lambda g: g * 0)
    (y * y).sum().backward(retain_graph=True)
    np.testing.assert_array_equal(x.grad, [0.0, 0.0])
    h.remove()
    (y * y).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x.data)


def test_hook_returning_the_wrong_shape_is_value_error_and_dtype_is_kept():
    x = leaf(3, dtype=np.float32)
    x.register_hook(lambda g: np.ones(3))  # float64 replacement for a float32 leaf
    (x * 2).sum().backward()
    assert x.grad.dtype == np.float32
    y = leaf(3)
    z = y * 2
    z.register_hook(lambda g: np.ones(4))
    with pytest.raises(ValueError, match=r"\(4,\).*\(3,\)"):
        z.sum().backward()


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


def test_anomaly_names_op_and_user_line_in_forward_and_backward():
    x = tl.Tensor([0.0, 1.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with tl.detect_anomaly():
            with pytest.raises(FloatingPointError, match=r"'log'.*test_engine\.py:\d+"):
                x.log()
            y = x ** 0.5
            with pytest.raises(FloatingPointError, match=r"'pow'.*gradient.*test_engine\.py:\d+"):
                y.sum().backward()


def test_anomaly_in_backward_of_a_graph_built_outside_says_how_to_locate_it():
    x = tl.Tensor([0.0, 1.0], requires_grad=True)
    y = (x * 1) ** 0.5
    with tl.detect_anomaly(), pytest.raises(FloatingPointError, match="'pow'.*detect_anomaly"):
        y.sum().backward()


def test_anomaly_mode_checks_matmul_weight_gradients():
    x = tl.Tensor(np.ones((2, 3)), requires_grad=True)
    w = tl.Tensor(np.ones((3, 4)), requires_grad=True)
    with tl.detect_anomaly():
        (x @ w).sum().backward()
    np.testing.assert_array_equal(w.grad, np.full((3, 4), 2.0))
    x = tl.Tensor(np.array([[1e300, 1.0, 1.0]]), requires_grad=True)
    w = tl.Tensor(np.full((3, 4), 1e-300), requires_grad=True)
    y = x @ w
    with warnings.catch_warnings(), tl.detect_anomaly():
        warnings.simplefilter("ignore")  # numpy's overflow warning; the anomaly is the point
        with pytest.raises(FloatingPointError, match="'matmul'.*input 1"):
            (y * 1e300).sum().backward()  # the weight gradient x.T @ grad overflows


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


@pytest.mark.parametrize("make", [
    lambda: tl.Tensor(np.ones((3, 4))) + tl.Tensor(np.ones((5, 2))),
    lambda: np.ones((5, 2)) * tl.Tensor(np.ones((3, 4))),
    lambda: tl.Tensor(np.ones((3, 4))) @ tl.Tensor(np.ones((5, 2))),
    lambda: tl.Tensor(np.ones((2, 3, 4))) @ tl.Tensor(np.ones((3, 4, 2))),
    lambda: tl.concat([tl.Tensor(np.ones((3, 4))), tl.Tensor(np.ones((5, 2)))]),
    lambda: tl.stack([tl.Tensor(np.ones((3, 4))), tl.Tensor(np.ones((4, 3)))]),
])
def test_shape_errors_name_the_op_and_both_shapes(make):
    with pytest.raises(ValueError) as info:
        make()
    message = str(info.value)
    assert any(op in message for op in ("add", "mul", "matmul", "cat", "stack"))
    assert ("(3, 4)" in message or "(2, 3, 4)" in message) and any(
        s in message for s in ("(5, 2)", "(3, 4, 2)", "(4, 3)"))


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


class _Returns(tl.Function):
    """Multiplies its inputs; backward returns whatever the test asks for."""

    def forward(ctx, *arrays, make_grads=None):
        ctx.make_grads = make_grads
        out = arrays[0]
        for a in arrays[1:]:
            out = out * a
        return out

    def backward(ctx, grad_output):
        return ctx.make_grads(grad_output)


@pytest.mark.parametrize("make_grads, through_node", [
    (lambda g: np.ones(3), False), (lambda g: np.ones(3), True), (lambda g: np.ones((2, 3)), False),
    (lambda g: np.ones((3, 1)), True), (lambda g: np.ones(()), False),
])
def test_custom_function_gradient_of_the_wrong_shape_is_value_error(make_grads, through_node):
    x = leaf(2)
    y = _Returns.apply(x * 1 if through_node else x, make_grads=make_grads)
    with pytest.raises(ValueError, match=r"'_returns'.*gradient of shape .* input of shape \(2,\)"):
        y.sum().backward()
    assert x.grad is None


def test_custom_function_gradient_that_broadcasts_is_summed():
    x = leaf(2)
    _Returns.apply(x, make_grads=lambda g: np.ones((3, 2))).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])


def test_custom_function_may_return_a_list_and_must_return_one_gradient_per_input():
    x, y = leaf(2), leaf(2)
    _Returns.apply(x, y, make_grads=lambda g: [g * 2, g * 3]).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])
    np.testing.assert_array_equal(y.grad, [3.0, 3.0])
    with pytest.raises(RuntimeError, match="1 gradients for its 2 inputs"):
        _Returns.apply(x, y, make_grads=lambda g: g).sum().backward()


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


def test_numpy_scalar_makes_a_0d_tensor():
    t = tl.Tensor(np.float32(1.5))
    assert (t.shape, t.dtype, t.ndim, t.size) == ((), np.float32, 0, 1)
    assert t.item() == 1.5 and type(t.item()) is float


def test_0d_gradients_are_arrays_even_when_they_accumulate():
    # adding two 0-d arrays gives a NumPy scalar, not an array
    x = tl.Tensor(2.0, requires_grad=True)
    (x * x + x).backward()
    assert type(x.grad) is np.ndarray and x.grad.shape == ()
    assert x.grad == 5.0


def test_0d_intermediate_with_several_consumers_backpropagates():
    x = leaf(3)
    s = x.sum()
    s.retain_grad()
    (s * s + s).backward()
    assert type(s.grad) is np.ndarray and s.grad == 2 * x.data.sum() + 1
    np.testing.assert_allclose(x.grad, np.full(3, 2 * x.data.sum() + 1))


def test_0d_graph_in_float32_keeps_dtype():
    x = leaf(2, 3, dtype=np.float32)
    m = x.mean()
    (m * m).backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad, np.full((2, 3), 2 * x.data.mean() / 6), rtol=1e-6)


def test_a_scalar_loss_used_twice_backpropagates_like_torch():
    # (loss * loss) sums two 0-d gradients into one; numpy turns that sum into a scalar, not an array
    torch = pytest.importorskip("torch")
    logits = np.random.default_rng(0).standard_normal((3, 4))
    ours, theirs = tl.Tensor(logits, requires_grad=True), torch.tensor(logits, requires_grad=True)
    loss = tl.nn.functional.cross_entropy(ours, np.array([0, 3, 1]))
    torch_loss = torch.nn.functional.cross_entropy(theirs, torch.tensor([0, 3, 1]))
    (loss * loss).backward()
    (torch_loss * torch_loss).backward()
    np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), atol=1e-12)


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


def test_grad_materialize_grads_and_empty_inputs_as_pytorch():
    torch = pytest.importorskip("torch")
    x, unused = tl.Tensor([1.0, 2.0], requires_grad=True), tl.Tensor([[1.0]], requires_grad=True)
    gx, gu = tl.grad((x * x).sum(), [x, unused], materialize_grads=True)
    tx, tu = torch.tensor([1.0, 2.0], requires_grad=True), torch.tensor([[1.0]], requires_grad=True)
    ex, eu = torch.autograd.grad((tx * tx).sum(), [tx, tu], materialize_grads=True)
    np.testing.assert_array_equal(gx.data, ex.numpy())
    assert gu.shape == tuple(eu.shape) and gu.dtype == unused.dtype and not gu.data.any()
    with pytest.raises(ValueError, match="grad: materialize_grads=True needs allow_unused=True"):
        tl.grad((x * x).sum(), [x, unused], allow_unused=False, materialize_grads=True)
    with pytest.raises(RuntimeError, match="grad: inputs is empty"):
        tl.grad((x * x).sum(), [])
    with pytest.raises(RuntimeError, match="backward: inputs is empty"):
        (x * x).sum().backward(inputs=[])


@pytest.mark.parametrize("create_graph", [False, True])
def test_grad_runs_the_hooks_of_its_leaf_inputs_like_pytorch(create_graph):
    torch = pytest.importorskip("torch")
    x, x_t = tl.Tensor([1.0, 2.0], requires_grad=True), torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    for leaf in (x, x_t):
        leaf.register_hook(lambda g: g * 10)
    y, y_t = x * 3, x_t * 3
    for hidden in (y, y_t):
        hidden.register_hook(lambda g: g + 1)
    (g,) = tl.grad((y * y).sum(), x, create_graph=create_graph)
    (g_t,) = torch.autograd.grad((y_t * y_t).sum(), x_t, create_graph=create_graph)
    np.testing.assert_array_equal(g.data, g_t.detach().numpy())
    assert x.grad is None


@pytest.mark.parametrize("create_graph", [False, True])
def test_grad_is_grads_batched_gives_one_vjp_per_row_like_pytorch(create_graph):
    torch = pytest.importorskip("torch")
    x, rows = np.array([0.3, -1.2, 0.7]), np.random.default_rng(0).standard_normal((4, 3))
    t, t_t = tl.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (jac,) = tl.grad(t.tanh() * t, t, tl.Tensor(rows), create_graph=create_graph, is_grads_batched=True)
    (jac_t,) = torch.autograd.grad(t_t.tanh() * t_t, t_t, torch.tensor(rows), create_graph=create_graph,
                                   is_grads_batched=True)
    np.testing.assert_allclose(jac.data, jac_t.detach().numpy(), rtol=1e-14)
    assert jac.requires_grad == create_graph
    if create_graph:
        np.testing.assert_allclose(tl.grad(jac.sum(), t)[0].data, torch.autograd.grad(jac_t.sum(), t_t)[0].numpy(),
                                   rtol=1e-12)
    with pytest.raises(ValueError, match="is_grads_batched=True needs grad_outputs with the same first"):
        tl.grad((t * t, t.sum()), t, [rows, np.ones(2)], is_grads_batched=True)


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
    with pytest.raises(RuntimeError, match="jvp: backward\\(\\) or tl.grad inside"):  # its tangent would be lost
        tl.jvp(lambda a: tl.grad((a ** 2).sum() * 0 + (x * a).sum(), x)[0], (tl.Tensor([1.0, 1.0]),),
               (tl.Tensor([1.0, 0.0]),))


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
