"""ops/indexing.py: t[index], t[index] = value, gather, where, masked_fill, as in PyTorch.
(Every op is also checked against PyTorch by the op table, tests/test_ops.py.)"""
import numpy as np
import pytest

import tinygrad_lstm as tl

RNG = np.random.default_rng(1234)


def leaf(shape, low=-2.0, high=2.0):
    return tl.Tensor(RNG.uniform(low, high, shape), requires_grad=True)


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
    assert tl.gradcheck(lambda t: t[tl.Tensor(mask)], [x])


def test_getitem_to_0d_and_backward_from_it():
    x = leaf((3,), 0.5, 1.5)
    y = x[1]
    assert y.shape == ()
    y.backward()
    np.testing.assert_array_equal(x.grad, [0.0, 1.0, 0.0])


@pytest.mark.parametrize("index", [
    (slice(None, None, -1), slice(None, None, -2)), (Ellipsis, None, 1), (None, 1, Ellipsis),
    np.array([0, 0, 1, 0]), [1, 1, 0], (slice(1, None), [0, 0, 2]), ([0, 0],), ((0, 0),),
    ([1, 1], [2, 2]), ([True, False], [0, 0]), np.array([[True, False, True], [False, True, True]]),
    [True, False], (0, [2, 2, 2]), [[0, 1], [1, 1]], (Ellipsis, [0, 0]),
], ids=repr)
def test_getitem_matches_numpy_and_repeated_indices_accumulate(index):
    x = leaf((2, 3), 0.5, 1.5)
    y = x[index]
    np.testing.assert_array_equal(y.data, x.data[index])
    g = RNG.standard_normal(y.shape)
    y.backward(g)
    expected = np.zeros(x.shape)
    np.add.at(expected, tuple(np.asarray(p) if isinstance(p, list) else p for p in index)
              if isinstance(index, tuple) else (np.asarray(index) if isinstance(index, list) else index), g)
    np.testing.assert_allclose(x.grad, expected)


def test_getitem_with_tensor_indices_and_masks():
    x = leaf((2, 3), 0.5, 1.5)
    y = x[tl.Tensor([1, 1]), tl.Tensor([0, 0])]
    y.sum().backward()
    assert x.grad[1, 0] == 2.0 and x.grad.sum() == 2.0
    x.grad = None
    mask = x > 1.0
    x[mask].sum().backward()
    np.testing.assert_array_equal(x.grad, mask.data.astype(float))


def test_getitem_with_an_empty_list_gives_an_empty_tensor_like_numpy():
    x = leaf((3,), 0.5, 1.5)
    y = x[[]]
    assert y.shape == x.data[[]].shape == (0,)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, np.zeros(3))


@pytest.mark.parametrize("index", [5, -4, [0, 5], (0, 0, 0), 1.0])
def test_getitem_out_of_range_is_index_error(index):
    with pytest.raises(IndexError):
        leaf((3,), 0.5, 1.5)[index]


# --------------------------------------------------------------------------- setitem

def test_setitem_writes_in_place_and_is_differentiable_in_the_value_as_torch():
    torch = pytest.importorskip("torch")
    base, values = RNG.standard_normal((3, 4)), RNG.standard_normal((2, 4))
    x, v = tl.Tensor(base, requires_grad=True), tl.Tensor(values, requires_grad=True)
    y = x * 2
    before = y._version
    y[[0, 2]] = v
    assert y._version == before + 1 and y.grad_fn.name == "setitem"
    (y * y).sum().backward()
    x_t, v_t = torch.tensor(base, requires_grad=True), torch.tensor(values, requires_grad=True)
    y_t = x_t * 2
    y_t[[0, 2]] = v_t
    (y_t * y_t).sum().backward()
    np.testing.assert_allclose(y.data, y_t.detach().numpy())
    np.testing.assert_allclose(x.grad, x_t.grad.numpy())
    np.testing.assert_allclose(v.grad, v_t.grad.numpy())


@pytest.mark.parametrize("index, value_shape", [
    (1, (4,)), ((slice(None), 2), ()), ((slice(0, 2), slice(1, 3)), (1, 2)), (np.array([2, 0]), (2, 1)),
    (np.array([[True, False, True, False]] * 3), ()),
])
def test_setitem_gradients(index, value_shape):
    def write(t, v):
        y = t * 1.0
        y[index] = v
        return y
    assert tl.gradcheck(write, [leaf((3, 4)), leaf(value_shape)])


def test_setitem_of_a_leaf_that_requires_grad_is_refused_and_leaves_it_unchanged():
    x = leaf((2, 3))
    before = x.data.copy()
    with pytest.raises(RuntimeError, match="setitem: a leaf tensor that requires grad"):
        x[0] = 1.0
    np.testing.assert_array_equal(x.data, before)
    with tl.no_grad():
        x[0] = 1.0
    np.testing.assert_array_equal(x.data[0], [1.0, 1.0, 1.0])
    assert x._version == 1


def test_setitem_errors():
    y = leaf((2, 3)) * 1
    with pytest.raises(IndexError, match=r"setitem: .* for shape \(2, 3\)"):
        y[5] = 1.0
    with pytest.raises(ValueError, match=r"setitem: a value of shape \(2,\) does not broadcast to the shape \(3,\)"):
        y[0] = tl.zeros(2)


# --------------------------------------------------------------------------- gather, where, masked_fill

def test_gather_picks_along_a_dim_and_accumulates_repeats():
    x = leaf((3, 4))
    index = np.array([[0, 0], [3, 1], [2, 2]])
    out = x.gather(1, index)
    np.testing.assert_array_equal(out.data, np.take_along_axis(x.data, index, 1))
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, [[2, 0, 0, 0], [0, 1, 0, 1], [0, 0, 2, 0]])
    assert tl.gradcheck(lambda t: tl.gather(t, 0, tl.Tensor(np.array([[2, 0, 1, 1], [0, 0, 0, 0]]))), [x])


def test_where_selects_and_sends_gradients_to_the_chosen_side():
    x, y = leaf((2, 3)), leaf((3,))
    condition = x > 0
    out = tl.where(condition, x, y)
    np.testing.assert_array_equal(out.data, np.where(condition.data, x.data, y.data))
    np.testing.assert_array_equal(x.where(condition, 0.0).data, np.where(condition.data, x.data, 0.0))
    assert tl.gradcheck(lambda a, b: tl.where(condition, a, b), [x, y])
    rows, cols = tl.where(condition)
    assert rows.dtype == np.int64 and np.array_equal(x.data[rows.data, cols.data], x.data[condition.data])


def test_where_keeps_float32_with_a_python_number():
    x = tl.Tensor(np.ones(3, np.float32), requires_grad=True)
    assert tl.where(x > 0, x, 0.0).dtype == np.float32


def test_masked_fill_and_its_in_place_form():
    x = leaf((2, 3))
    mask = tl.Tensor(np.array([True, False, True]))
    filled = x.masked_fill(mask, -1.0)
    np.testing.assert_array_equal(filled.data, np.where(mask.data, -1.0, x.data))
    value = tl.Tensor(0.5, requires_grad=True)
    assert tl.gradcheck(lambda t, v: t.masked_fill(mask, v), [x, value])
    y = x * 1
    assert y.masked_fill_(mask, 0.0) is y and y._version == 1
    np.testing.assert_array_equal(y.data[:, 0], [0.0, 0.0])
    integers = tl.Tensor([1, 2, 3])
    assert integers.masked_fill(mask, 7.9).dtype == np.int64  # keeps the tensor's dtype, as torch
