"""Adversarial conformity tests for the engine: numpy's dtype and indexing rules, PyTorch's
autograd semantics, and central differences, at the corners a demanding user reaches."""
import gc
import operator
import warnings
import weakref

import numpy as np
import pytest

import tinygrad_lstm as tl

RNG = np.random.default_rng(1234)


def leaf(*shape, low=0.5, high=1.5, dtype=np.float64):
    return tl.Tensor(RNG.uniform(low, high, shape).astype(dtype), requires_grad=True)


def torch_pair(fn_tl, fn_torch, *arrays, grad_seed=0):
    """Forward values and input gradients of the same function in tinygrad_lstm and PyTorch."""
    torch = pytest.importorskip("torch")
    ours = [tl.Tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, y_t = fn_tl(*ours), fn_torch(*theirs)
    g = np.random.default_rng(grad_seed).uniform(-1, 1, y.shape)
    y.backward(g)
    y_t.backward(torch.tensor(g))
    return (y.data, y_t.detach().numpy(), [t.grad for t in ours],
            [None if t.grad is None else t.grad.numpy() for t in theirs])


def assert_matches_torch(fn_tl, fn_torch, *arrays):
    y, y_t, grads, grads_t = torch_pair(fn_tl, fn_torch, *arrays)
    np.testing.assert_allclose(y, y_t, rtol=1e-12, atol=1e-12)
    for g, g_t in zip(grads, grads_t):
        np.testing.assert_allclose(g, g_t, rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- dtypes (NEP 50)

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


# --------------------------------------------------------------------------- 0-d tensors

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


def test_getitem_to_0d_and_backward_from_it():
    x = leaf(3)
    y = x[1]
    assert y.shape == ()
    y.backward()
    np.testing.assert_array_equal(x.grad, [0.0, 1.0, 0.0])


# --------------------------------------------------------------------------- broadcasting

BINARY = [operator.add, operator.sub, operator.mul, operator.truediv, operator.pow]
SHAPES = [((), (3,)), ((2, 1, 3), (4, 1)), ((1, 3), (2, 1)), ((2, 3), (3,)), ((4, 1), (4, 1))]


@pytest.mark.parametrize("op", BINARY, ids=lambda op: op.__name__)
@pytest.mark.parametrize("shapes", SHAPES, ids=str)
def test_binary_op_gradients_unbroadcast(op, shapes):
    a, b = leaf(*shapes[0]), leaf(*shapes[1])
    assert tl.gradcheck(op, [a, b])


@pytest.mark.parametrize("op", BINARY, ids=lambda op: op.__name__)
def test_binary_ops_match_torch_with_broadcasting(op):
    a, b = RNG.uniform(0.5, 1.5, (2, 1, 3)), RNG.uniform(0.5, 1.5, (4, 1))
    assert_matches_torch(op, op, a, b)


@pytest.mark.parametrize("shapes", [
    ((3,), (3,)), ((3,), (3, 4)), ((2, 3), (3,)), ((2, 1, 3, 4), (5, 4, 2)), ((4,), (2, 4, 3)),
    ((5, 2, 3, 4), (4,)), ((3, 4), (2, 4, 5)), ((2, 3, 4), (4, 5)), ((1, 3, 4), (2, 4, 5)),
], ids=str)
def test_matmul_shapes_match_torch(shapes):
    a, b = RNG.standard_normal(shapes[0]), RNG.standard_normal(shapes[1])
    assert_matches_torch(operator.matmul, operator.matmul, a, b)
    assert tl.gradcheck(operator.matmul, [tl.Tensor(a, requires_grad=True), tl.Tensor(b, requires_grad=True)])


def test_reflected_ops_with_numpy_arrays_on_the_left():
    x = leaf(3, 2)
    A = RNG.standard_normal((4, 3))
    for y, expected in [(A @ x, A @ x.data), (A[:, :2] - x[:1], A[:, :2] - x.data[:1]),
                        (2 ** x, 2 ** x.data), (A[:2].T / x, A[:2].T / x.data)]:
        assert isinstance(y, tl.Tensor)
        np.testing.assert_allclose(y.data, expected)
    assert tl.gradcheck(lambda t: A @ t, [x])
    assert tl.gradcheck(lambda t: 2.0 ** t - A[:3, :2] / t, [x])


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


# --------------------------------------------------------------------------- elementwise

def test_pow_gradients_at_zero_base_match_torch_without_warnings():
    # d/da a^0 is 0 everywhere (also at a = 0, where b * a^(b-1) is 0 * inf)
    a = np.array([0.0, 0.0, 0.0, 2.0, 0.0])
    b = np.array([2.0, 0.0, 1.0, 0.0, 3.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_matches_torch(operator.pow, operator.pow, a, b)
        assert_matches_torch(lambda t: t ** 0.0, lambda t: t ** 0.0, a)


def test_pow_gradient_of_sqrt_at_zero_is_inf_like_torch():
    torch = pytest.importorskip("torch")
    x = tl.Tensor([0.0, 4.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (x ** 0.5).sum().backward()
    x_t = torch.tensor([0.0, 4.0], requires_grad=True)
    (x_t ** 0.5).sum().backward()
    np.testing.assert_array_equal(x.grad, x_t.grad.numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_and_tanh_at_infinities_and_extremes(dtype):
    torch = pytest.importorskip("torch")
    info = np.finfo(dtype)
    values = np.array([-np.inf, info.min, -1e4, -30.0, 0.0, 30.0, 1e4, info.max, np.inf], dtype=dtype)
    x = tl.Tensor(values, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s, t = x.sigmoid(), x.tanh()
        (s + t).sum().backward()
    np.testing.assert_allclose(s.data, torch.sigmoid(torch.tensor(values)).numpy(), rtol=4 * info.eps, atol=0)
    np.testing.assert_array_equal(t.data, np.tanh(values))
    assert s.dtype == t.dtype == x.grad.dtype == dtype
    assert np.isfinite(x.grad).all()


@pytest.mark.parametrize("dtype", [np.int64, np.int8, np.bool_])
def test_sigmoid_of_integers_and_booleans_is_float_like_numpy_ufuncs(dtype):
    values = np.array([0, 1, 1], dtype=dtype)
    s = tl.Tensor(values).sigmoid()
    assert s.dtype == np.tanh(values).dtype
    np.testing.assert_allclose(s.data, 1 / (1 + np.exp(-values.astype(np.float64))), rtol=1e-3)


def test_sigmoid_of_nan_is_nan():
    assert np.isnan(tl.Tensor([np.nan]).sigmoid().data).all()


@pytest.mark.parametrize("fn_tl, fn_torch", [
    (lambda t: t.clip(1.0, 2.0), lambda t: t.clamp(1.0, 2.0)),
    (lambda t: t.clip(min=2.0), lambda t: t.clamp(min=2.0)),
    (lambda t: t.clip(max=2.0), lambda t: t.clamp(max=2.0)),
    (lambda t: t.clip(3.0, 1.0), lambda t: t.clamp(3.0, 1.0)),
    (lambda t: (t - 2).relu(), lambda t: (t - 2).relu()),
    (lambda t: (t - 2).abs(), lambda t: (t - 2).abs()),
], ids=["clip", "clip_min", "clip_max", "clip_min_gt_max", "relu_at_0", "abs_at_0"])
def test_kinks_and_boundaries_match_torch(fn_tl, fn_torch):
    assert_matches_torch(fn_tl, fn_torch, np.array([[1.0, 3.0, 2.0], [2.0, 0.0, 1.5]]))


def test_clip_accepts_tensor_bounds():
    x = leaf(4, low=-2, high=2)
    low, high = tl.Tensor(-0.5), tl.Tensor(np.array([0.1, 0.2, 0.3, 0.4]))
    y = x.clip(low, high)
    np.testing.assert_array_equal(y.data, np.clip(x.data, -0.5, high.data))


# --------------------------------------------------------------------------- reductions

# --------------------------------------------------------------------------- indexing

@pytest.mark.parametrize("index", [
    (slice(None, None, -1), slice(None, None, -2)), (Ellipsis, None, 1), (None, 1, Ellipsis),
    np.array([0, 0, 1, 0]), [1, 1, 0], (slice(1, None), [0, 0, 2]), ([0, 0],), ((0, 0),),
    ([1, 1], [2, 2]), ([True, False], [0, 0]), np.array([[True, False, True], [False, True, True]]),
    [True, False], (0, [2, 2, 2]), [[0, 1], [1, 1]], (Ellipsis, [0, 0]),
], ids=repr)
def test_getitem_matches_numpy_and_repeated_indices_accumulate(index):
    x = leaf(2, 3)
    y = x[index]
    np.testing.assert_array_equal(y.data, x.data[index])
    g = RNG.standard_normal(y.shape)
    y.backward(g)
    expected = np.zeros(x.shape)
    np.add.at(expected, tuple(np.asarray(p) if isinstance(p, list) else p for p in index)
              if isinstance(index, tuple) else (np.asarray(index) if isinstance(index, list) else index), g)
    np.testing.assert_allclose(x.grad, expected)


def test_getitem_with_tensor_indices_and_masks():
    x = leaf(2, 3)
    y = x[tl.Tensor([1, 1]), tl.Tensor([0, 0])]
    y.sum().backward()
    assert x.grad[1, 0] == 2.0 and x.grad.sum() == 2.0
    x.grad = None
    mask = x > 1.0
    x[mask].sum().backward()
    np.testing.assert_array_equal(x.grad, mask.data.astype(float))


def test_getitem_with_an_empty_list_gives_an_empty_tensor_like_numpy():
    x = leaf(3)
    y = x[[]]
    assert y.shape == x.data[[]].shape == (0,)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, np.zeros(3))


@pytest.mark.parametrize("index", [5, -4, [0, 5], (0, 0, 0), 1.0])
def test_getitem_out_of_range_is_index_error(index):
    with pytest.raises(IndexError):
        leaf(3)[index]


# --------------------------------------------------------------------------- split, concat, stack

@pytest.mark.parametrize("length,chunks", [(10, 3), (10, 4), (5, 5), (5, 7), (6, 4), (8, 4), (0, 3)])
def test_chunk_sizes_match_torch(length, chunks):
    torch = pytest.importorskip("torch")
    x = tl.Tensor(np.arange(2.0 * length).reshape(2, length), requires_grad=True)
    pieces = x.chunk(chunks, axis=1)
    expected = torch.arange(2.0 * length).reshape(2, length).chunk(chunks, dim=1)
    assert [p.shape for p in pieces] == [tuple(e.shape) for e in expected]
    for p, e in zip(pieces, expected):
        np.testing.assert_array_equal(p.data, e.numpy())
    if length:
        sum((k + 1) * p.sum() for k, p in enumerate(pieces)).backward()
        assert x.grad.shape == x.shape and x.grad[0, -1] == len(pieces)


@pytest.mark.parametrize("chunks,error", [(0, ValueError), (-2, ValueError), (2.0, TypeError), (True, TypeError)])
def test_chunk_rejects_bad_counts(chunks, error):
    with pytest.raises(error, match="chunk: chunks must be"):
        tl.Tensor(np.ones(4)).chunk(chunks)


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


@pytest.mark.parametrize("make", [
    lambda t: t.split(0, dim=1), lambda t: t.split([1, 1], dim=1), lambda t: t.split(1, dim=2),
    lambda t: t.unbind(-3), lambda t: tl.cat([t, t.T]), lambda t: tl.stack([t, t], dim=3),
])
def test_split_concat_stack_errors_are_value_errors_naming_the_op(make):
    with pytest.raises(ValueError, match="split|unbind|cat|stack"):
        make(leaf(2, 3))


# --------------------------------------------------------------------------- backward semantics

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


def test_retain_graph_and_accumulation_and_release_error():
    x = leaf(3)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad, 4 * x.data)
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


def test_backward_argument_errors():
    x = leaf(2)
    with pytest.raises(RuntimeError):
        (x * 2).backward()
    with pytest.raises(ValueError):
        (x * 2).backward(np.ones(3))
    with pytest.raises(RuntimeError):
        tl.Tensor([1.0]).backward()


def test_backward_inside_no_grad_works_like_torch():
    x = leaf(2)
    y = (x * x).sum()
    with tl.no_grad():
        y.backward()
    np.testing.assert_allclose(x.grad, 2 * x.data)


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


def test_detach_shares_data_and_requires_grad_on_non_leaf_is_error():
    x = leaf(2)
    d = x.detach()
    d.data[0] = 7.0
    assert x.data[0] == 7.0 and d.is_leaf and not d.requires_grad
    with pytest.raises(RuntimeError):
        (x * 2).requires_grad_(False)
    assert (x * 2).requires_grad_().requires_grad  # True on a computed tensor is allowed, as in PyTorch


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


# --------------------------------------------------------------------------- gradcheck

def test_gradcheck_tuples_constants_and_failure():
    x, c = leaf(3), tl.Tensor(RNG.standard_normal(3))
    assert tl.gradcheck(lambda a, b: (a.sum(), a * b, a.split(3)), [x, c])

    class Wrong(tl.Function):
        def forward(ctx, a):
            return a * a

        def backward(ctx, grad_output):
            return grad_output

    assert not tl.gradcheck(Wrong.apply, [x], raise_exception=False)
    with pytest.raises(tl.GradcheckError, match="output 0 with respect to input 0"):
        tl.gradcheck(Wrong.apply, [x])
    with pytest.raises(TypeError):
        tl.gradcheck(lambda a: a * 2, [leaf(3, dtype=np.float32)])
    assert x.grad is None  # gradcheck works on copies


# --------------------------------------------------------------------------- anomaly mode

def test_anomaly_names_op_and_user_line_in_forward_and_backward():
    x = tl.Tensor([0.0, 1.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with tl.detect_anomaly():
            with pytest.raises(FloatingPointError, match=r"'log'.*test_conformity\.py:\d+"):
                x.log()
            y = x ** 0.5
            with pytest.raises(FloatingPointError, match=r"'pow'.*gradient.*test_conformity\.py:\d+"):
                y.sum().backward()


def test_anomaly_in_backward_of_a_graph_built_outside_says_how_to_locate_it():
    x = tl.Tensor([0.0, 1.0], requires_grad=True)
    y = (x * 1) ** 0.5
    with tl.detect_anomaly(), pytest.raises(FloatingPointError, match="'pow'.*detect_anomaly"):
        y.sum().backward()


# --------------------------------------------------------------------------- memory

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


def test_saved_arrays_released_after_backward():
    x = leaf(2, 3)
    y = ((x * x).tanh() @ x.T).sigmoid().sum()
    nodes = tl.walk_graph(y).nodes
    y.backward()
    assert all(node.saved_tensors is None for node in nodes)


# --------------------------------------------------------------------------- factories

def test_factories_shapes_dtypes_and_seeding():
    assert tl.zeros(2, 3).shape == tl.zeros((2, 3)).shape == tl.ones([2, 3]).shape == (2, 3)
    assert tl.zeros().shape == () and tl.full(2, 3.0).shape == (2,)
    assert tl.full((2,), 3).dtype == np.full(2, 3).dtype
    assert tl.ones(3, dtype=np.float32, requires_grad=True).requires_grad
    assert tl.randn(2, dtype=np.float32).dtype == tl.rand(2, dtype=np.float32).dtype == np.float32
    tl.manual_seed(7)
    a = tl.randn(4).data
    tl.manual_seed(7)
    np.testing.assert_array_equal(a, tl.randn(4).data)
    g1, g2 = np.random.default_rng(3), np.random.default_rng(3)
    np.testing.assert_array_equal(tl.rand(2, 2, generator=g1).data, tl.rand(2, 2, generator=g2).data)
    with pytest.raises(ValueError):
        tl.zeros(-1)


@pytest.mark.parametrize("factory", [tl.randn, tl.rand])
def test_random_factories_refuse_integer_dtypes(factory):
    with pytest.raises(TypeError):
        factory(3, dtype=np.int64)


def test_split_with_a_float_is_type_error_naming_split():
    with pytest.raises(TypeError, match="split"):
        leaf(4).split(1.5)


# --------------------------------------------------------------------------- custom Functions

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
