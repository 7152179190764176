"""Every op gradchecked in float64 over a grid of shapes, broadcasting and axes."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_lstm as tl

RNG = np.random.default_rng(1234)
SHAPES = [(), (2,), (3, 2), (1, 2), (2, 1, 2)]


def leaf(shape, low=-2.0, high=2.0):
    return tl.Tensor(RNG.uniform(low, high, shape), requires_grad=True)


def positive(shape):
    return leaf(shape, 0.5, 2.0)


BINARY = {
    "add": (lambda a, b: a + b, leaf, leaf),
    "sub": (lambda a, b: a - b, leaf, leaf),
    "mul": (lambda a, b: a * b, leaf, leaf),
    "div": (lambda a, b: a / b, leaf, positive),
    "pow": (lambda a, b: a ** b, positive, leaf),
}


@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize("shape_a", SHAPES)
@pytest.mark.parametrize("shape_b", SHAPES)
def test_binary_ops_broadcast(name, shape_a, shape_b):
    fn, make_a, make_b = BINARY[name]
    if np.broadcast_shapes(shape_a, shape_b) is None:  # pragma: no cover - all grid pairs broadcast
        return
    assert tl.gradcheck(fn, [make_a(shape_a), make_b(shape_b)])


@pytest.mark.parametrize("name", BINARY)
def test_binary_ops_with_numbers_and_arrays(name):
    fn, make_a, make_b = BINARY[name]
    a = make_a((3, 2))
    constant = make_b((3, 2)).data
    assert tl.gradcheck(lambda t: fn(t, 1.5), [a])
    assert tl.gradcheck(lambda t: fn(t, constant), [a])
    assert tl.gradcheck(lambda t: fn(constant, t) if name != "pow" else fn(np.abs(constant) + 0.5, t), [make_b((3, 2))])
    assert np.allclose(fn(a, constant).data, fn(a.data, constant))


UNARY = {
    "neg": (lambda a: -a, leaf),
    "exp": (lambda a: a.exp(), leaf),
    "log": (lambda a: a.log(), positive),
    "tanh": (lambda a: a.tanh(), leaf),
    "sigmoid": (lambda a: a.sigmoid(), leaf),
    "relu": (lambda a: a.relu(), leaf),
    "abs": (lambda a: a.abs(), leaf),
    "clip": (lambda a: a.clip(-1.0, 0.5), leaf),
    "clip_min": (lambda a: a.clip(min=0.1), leaf),
    "softmax": (lambda a: tl.ops.Softmax.apply(a, axis=-1), leaf),
    "log_softmax": (lambda a: tl.ops.LogSoftmax.apply(a, axis=0), leaf),
}


@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("shape", [(2,), (3, 2), (2, 1, 3)])
def test_unary_ops(name, shape):
    fn, make = UNARY[name]
    x = make(shape)
    if name in ("relu", "abs", "clip", "clip_min"):  # keep away from the kinks
        x.data[np.abs(x.data) < 1e-3] = 0.3
        x.data[np.abs(x.data - 0.5) < 1e-3] = 0.3
        x.data[np.abs(x.data + 1.0) < 1e-3] = 0.3
        x.data[np.abs(x.data - 0.1) < 1e-3] = 0.3
    assert tl.gradcheck(fn, [x])


def test_unary_values_match_numpy():
    x = RNG.uniform(-3, 3, (4, 5))
    t = tl.Tensor(x)
    assert np.allclose(t.exp().data, np.exp(x))
    assert np.allclose(t.tanh().data, np.tanh(x))
    assert np.allclose(t.sigmoid().data, 1 / (1 + np.exp(-x)), rtol=1e-15, atol=0)
    assert np.allclose(t.relu().data, np.maximum(x, 0))
    assert np.allclose(t.abs().data, np.abs(x))
    assert np.allclose(t.clip(-1, 1).data, np.clip(x, -1, 1))
    e = np.exp(x - x.max(-1, keepdims=True))
    assert np.allclose(tl.ops.Softmax.apply(t, axis=-1).data, e / e.sum(-1, keepdims=True))


@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 2), (-1, 0)])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("reduction", ["sum", "mean", "max"])
def test_reductions(axis, keepdims, reduction):
    x = leaf((3, 4, 2))
    assert tl.gradcheck(lambda t: getattr(t, reduction)(axis=axis, keepdims=keepdims), [x])
    expected = getattr(np, reduction)(x.data, axis=axis, keepdims=keepdims)
    assert np.allclose(getattr(x, reduction)(axis=axis, keepdims=keepdims).data, expected)


def test_max_gradient_goes_to_argmax_and_splits_ties():
    x = tl.Tensor([[1.0, 5.0, 2.0], [3.0, 3.0, 0.0]], requires_grad=True)
    x.max(axis=1).sum().backward()
    assert np.array_equal(x.grad, [[0, 1, 0], [0.5, 0.5, 0]])


MATMUL_SHAPES = [
    ((3,), (3,)), ((3,), (3, 2)), ((2, 3), (3,)), ((2, 3), (3, 4)),
    ((5, 2, 3), (3, 4)), ((2, 3), (5, 3, 4)), ((5, 2, 3), (5, 3, 4)), ((5, 1, 2, 3), (4, 3, 2)),
    ((3,), (5, 3, 2)), ((5, 2, 3), (3,)),
]


@pytest.mark.parametrize("shape_a,shape_b", MATMUL_SHAPES)
def test_matmul(shape_a, shape_b):
    a, b = leaf(shape_a), leaf(shape_b)
    assert np.allclose((a @ b).data, a.data @ b.data)
    assert tl.gradcheck(lambda x, y: x @ y, [a, b])


def test_reflected_matmul_with_array():
    a = leaf((3, 4))
    m = RNG.standard_normal((2, 3))
    assert tl.gradcheck(lambda t: m @ t, [a])


ADDMM_SHAPES = [((), (2, 3), (3, 4)), ((4,), (2, 3), (3, 4)), ((2, 1), (2, 3), (3, 4)), ((2, 4), (2, 3), (3, 4)),
                ((4,), (3,), (3, 4)), ((), (3,), (3, 4))]


@pytest.mark.parametrize("shape_input,shape_a,shape_b", ADDMM_SHAPES)
def test_addmm_is_input_plus_matmul(shape_input, shape_a, shape_b):
    bias, a, b = leaf(shape_input), leaf(shape_a), leaf(shape_b)
    fused = tl.addmm(bias, a, b)
    assert fused.grad_fn.name == "addmm" and fused.shape == (a @ b).shape
    np.testing.assert_allclose(fused.data, bias.data + a.data @ b.data, rtol=1e-14)
    assert tl.gradcheck(tl.addmm, [bias, a, b])
    fused.sum().backward()
    grads = [t.grad.copy() for t in (bias, a, b)]
    for t in (bias, a, b):
        t.grad = None
    (bias + a @ b).sum().backward()
    for g, t in zip(grads, (bias, a, b)):
        np.testing.assert_allclose(g, t.grad, rtol=1e-14)


def test_addmm_matches_torch_and_promotes_like_numpy():
    torch = pytest.importorskip("torch")
    bias, a, b = RNG.standard_normal(4), RNG.standard_normal((2, 3)), RNG.standard_normal((3, 4))
    expected = torch.addmm(*(torch.from_numpy(v) for v in (bias, a, b))).numpy()
    np.testing.assert_allclose(tl.addmm(bias, tl.Tensor(a), b).data, expected, rtol=1e-14)
    a32, b32 = tl.Tensor(a, dtype=np.float32), tl.Tensor(b, dtype=np.float32)
    assert tl.addmm(1.0, a32, b32).dtype == np.float32
    assert tl.addmm(bias.astype(np.float32), a32, b32).dtype == np.float32
    assert tl.addmm(bias, a32, b32).dtype == np.float64  # a float64 array promotes, as in numpy


@pytest.mark.parametrize("shape_input,shape_a,shape_b,message", [
    ((3, 4), (2, 3), (3, 4), r"input of shape \(3, 4\) does not broadcast to the shape \(2, 4\)"),
    ((2, 2, 4), (2, 3), (3, 4), r"input of shape \(2, 2, 4\) does not broadcast"),
    ((4,), (2, 2), (3, 4), r"addmm: \(2, 2\) @ \(3, 4\): inner dimensions 2 and 3 differ"),
    ((4,), (2, 2, 3), (3, 4), r"addmm: \(2, 2, 3\) @ \(3, 4\): needs a matrix or a vector"),
])
def test_addmm_shape_errors_name_the_shapes(shape_input, shape_a, shape_b, message):
    with pytest.raises(ValueError, match=message):
        tl.addmm(np.ones(shape_input), leaf(shape_a), np.ones(shape_b))


def test_list_operands_are_arrays_as_in_numpy():
    a = leaf((2, 2))
    (a @ [[1.0, 2.0], [3.0, 4.0]]).sum().backward()
    np.testing.assert_array_equal(a.grad, [[3.0, 7.0], [3.0, 7.0]])
    assert tl.gradcheck(lambda t: tl.addmm([1.0, 2.0], t, [[1.0, 2.0], [3.0, 4.0]]), [a])


@pytest.mark.parametrize("index", [
    0, -1, slice(1, 3), (slice(None), 1), (Ellipsis, 0), (None, 1), (slice(None, None, -1),),
    np.array([0, 2, 2, 1]), (np.array([0, 1]), np.array([1, 0])), np.array([[0, 1], [2, 2]]),
])
def test_getitem(index):
    x = leaf((3, 4))
    assert np.array_equal(x[index].data, x.data[index])
    assert tl.gradcheck(lambda t: t[index], [x])


def test_getitem_repeated_indices_accumulate():
    weight = tl.Tensor(np.ones((4, 2)), requires_grad=True)
    weight[tl.Tensor(np.array([1, 1, 3]))].sum().backward()
    assert np.array_equal(weight.grad[:, 0], [0, 2, 0, 1])


def test_getitem_boolean_mask():
    x = leaf((3, 4))
    mask = x.data > 0
    assert tl.gradcheck(lambda t: t[mask], [x])


@pytest.mark.parametrize("shape,new", [((3, 4), (4, 3)), ((3, 4), (-1,)), ((2, 3, 4), (6, 4)), ((), (1, 1))])
def test_reshape(shape, new):
    assert tl.gradcheck(lambda t: t.reshape(new), [leaf(shape)])


@pytest.mark.parametrize("axes", [(), (1, 0, 2), (2, 0, 1), (-1, 0, 1)])
def test_transpose(axes):
    x = leaf((2, 3, 4))
    assert np.array_equal(x.transpose(*axes).data, np.transpose(x.data, axes or None))
    assert tl.gradcheck(lambda t: t.transpose(*axes), [x])
    assert tl.gradcheck(lambda t: t.T, [leaf((2, 3))])


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concat_and_stack(axis):
    a, b = leaf((2, 3)), leaf((2, 3))
    assert np.array_equal(tl.concat([a, b], axis).data, np.concatenate([a.data, b.data], axis))
    assert np.array_equal(tl.stack([a, b], axis).data, np.stack([a.data, b.data], axis))
    assert tl.gradcheck(lambda x, y: tl.concat([x, y, x], axis), [a, b])
    assert tl.gradcheck(lambda x, y: tl.stack([x, y, x], axis), [a, b])


@pytest.mark.parametrize("sections,axis", [(2, 0), ([1, 3, 2], 1), (3, -1), ([6], 1)])
def test_split(sections, axis):
    x = leaf((4, 6))
    pieces = x.split(sections, axis)
    expected = (np.split(x.data, sections, axis) if isinstance(sections, int)
                else np.split(x.data, np.cumsum(sections)[:-1], axis))
    assert all(np.array_equal(p.data, e) for p, e in zip(pieces, expected))
    assert len({id(p.grad_fn) for p in pieces}) == 1  # one node, several outputs
    assert tl.gradcheck(lambda t: t.split(sections, axis), [x])
    # only some outputs used: the rest count as zero
    assert tl.gradcheck(lambda t: t.split(sections, axis)[0] * 2, [x])


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_unbind(axis):
    x = leaf((3, 2, 4))
    parts = x.unbind(axis)
    assert all(np.array_equal(p.data, np.take(x.data, i, axis)) for i, p in enumerate(parts))
    assert tl.gradcheck(lambda t: t.unbind(axis), [x])
    assert tl.gradcheck(lambda t: t.unbind(axis)[1].tanh(), [x])


def test_chunk_and_iteration():
    x = leaf((4, 2))
    assert [p.shape for p in x.chunk(2)] == [(2, 2), (2, 2)]
    assert tl.gradcheck(lambda t: tl.stack(list(t)[::-1]), [x])


@settings(max_examples=40, deadline=None)
@given(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
       st.sampled_from(["add", "sub", "mul", "div"]))
def test_broadcasting_property(shapes, name):
    fn, make_a, make_b = BINARY[name]
    a, b = make_a(shapes.input_shapes[0]), make_b(shapes.input_shapes[1])
    out = fn(a, b)
    assert out.shape == shapes.result_shape
    out.backward(np.ones(out.shape))
    assert a.grad.shape == a.shape and b.grad.shape == b.shape
    assert tl.gradcheck(fn, [make_a(a.shape), make_b(b.shape)])


@settings(max_examples=30, deadline=None)
@given(hnp.array_shapes(min_dims=1, max_dims=4, max_side=4), st.data())
def test_reduction_property(shape, data):
    axis = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    x = leaf(shape)
    out = x.sum(axis=axis)
    assert np.allclose(out.data, x.data.sum(axis=axis))
    assert tl.gradcheck(lambda t: t.mean(axis=axis), [x])


def test_lstm_cell_from_ops_over_several_steps():
    batch, inputs, hidden, steps = 2, 3, 4, 4

    def unrolled(x, h0, c0, weight_ih, weight_hh, bias):
        h, c = h0, c0
        hs = []
        for x_t in x.unbind(0):
            i, f, g, o = (x_t @ weight_ih.T + h @ weight_hh.T + bias).split(4, axis=1)
            c = f.sigmoid() * c + i.sigmoid() * g.tanh()
            h = o.sigmoid() * c.tanh()
            hs.append(h)
        return tl.stack(hs), c

    args = [leaf((steps, batch, inputs)), leaf((batch, hidden)), leaf((batch, hidden)),
            leaf((4 * hidden, inputs), -0.5, 0.5), leaf((4 * hidden, hidden), -0.5, 0.5), leaf((4 * hidden,))]
    assert tl.gradcheck(unrolled, args)
