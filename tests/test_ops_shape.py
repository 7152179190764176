"""ops/shape.py: reshape/view, flatten, squeeze/unsqueeze, permute/transpose/T/mT, expand, repeat,
flip, roll, cat/stack, split/chunk/tensor_split/unbind, with PyTorch's meaning (numpy's under
numpy's names). (Every op is also checked against PyTorch by the op table, tests/test_ops.py.)"""
import numpy as np
import pytest

import tinygrad_lstm as tl

RNG = np.random.default_rng(1234)


def leaf(shape, low=-2.0, high=2.0):
    return tl.Tensor(RNG.uniform(low, high, shape), requires_grad=True)


@pytest.mark.parametrize("shape,new", [((3, 4), (4, 3)), ((3, 4), (-1,)), ((2, 3, 4), (6, 4)), ((), (1, 1))])
def test_reshape(shape, new):
    assert tl.gradcheck(lambda t: t.reshape(new), [leaf(shape)])
    assert tl.gradcheck(lambda t: t.reshape(*new), [leaf(shape)])


def test_view_shares_memory_and_refuses_a_layout_that_needs_a_copy_as_torch():
    x = tl.Tensor(np.arange(6.0).reshape(2, 3))
    v = x.view(3, 2)
    v[0, 0] = 10.0  # a view: writes reach the original, as in PyTorch
    assert x.data[0, 0] == 10.0
    with pytest.raises(RuntimeError, match=r"view: the tensor of shape \(3, 2\) .* use .reshape"):
        x.T.view(-1)
    np.testing.assert_array_equal(x.T.reshape(-1).data, x.data.T.reshape(-1))
    with pytest.raises(ValueError, match=r"view: cannot view shape \(2, 3\) \(6 elements\) as \(4, -1\)"):
        x.view(4, -1)


# --------------------------------------------------------------------------- transpose, permute

def test_transpose_swaps_two_dims_as_torch():
    x = leaf((2, 3))
    np.testing.assert_array_equal(x.transpose(0, 1).data, x.data.T)  # numpy's transpose(0, 1) is the identity
    y = leaf((2, 3, 4))
    assert y.transpose(1, 2).shape == (2, 4, 3) and y.transpose(-1, 0).shape == (4, 3, 2)
    np.testing.assert_array_equal(tl.transpose(y, 0, 2).data, np.swapaxes(y.data, 0, 2))
    assert tl.gradcheck(lambda t: t.transpose(1, 2), [y])


@pytest.mark.parametrize("dims", [(1, 0, 2), (2, 0, 1), (-1, 0, 1)])
def test_permute_takes_a_full_order_as_numpys_transpose(dims):
    x = leaf((2, 3, 4))
    np.testing.assert_array_equal(x.permute(*dims).data, np.transpose(x.data, dims))
    np.testing.assert_array_equal(x.permute(dims).data, np.transpose(x.data, dims))
    assert tl.gradcheck(lambda t: t.permute(*dims), [x])


def test_T_reverses_every_dim_and_mT_swaps_the_last_two():
    x = leaf((2, 3, 4))
    assert x.T.shape == (4, 3, 2) and x.mT.shape == (2, 4, 3)
    assert tl.gradcheck(lambda t: t.T, [leaf((2, 3))])
    assert tl.gradcheck(lambda t: t.mT, [x])
    with pytest.raises(ValueError, match=r"mT: needs a matrix or a batch of matrices, got shape \(3,\)"):
        leaf((3,)).mT


def test_movedim_swapaxes_and_their_numpy_names():
    x = leaf((2, 3, 4))
    np.testing.assert_array_equal(x.movedim(0, -1).data, np.moveaxis(x.data, 0, -1))
    np.testing.assert_array_equal(x.moveaxis((0, 1), (2, 0)).data, np.moveaxis(x.data, (0, 1), (2, 0)))
    np.testing.assert_array_equal(x.swapaxes(0, 2).data, np.swapaxes(x.data, 0, 2))
    np.testing.assert_array_equal(x.swapdims(1, 2).data, np.swapaxes(x.data, 1, 2))


# --------------------------------------------------------------------------- flatten, squeeze, expand, repeat

def test_flatten_merges_a_range_of_dims():
    x = leaf((2, 3, 4))
    assert x.flatten().shape == (24,) and x.flatten(1).shape == (2, 12) and x.flatten(0, 1).shape == (6, 4)
    assert tl.Tensor(1.0).flatten().shape == (1,)
    assert x.flatten(1).unflatten(1, (3, 4)).shape == (2, 3, 4)


def test_squeeze_leaves_dims_of_other_sizes_alone_as_torch():
    x = leaf((2, 1, 3, 1))
    assert x.squeeze().shape == (2, 3) and x.squeeze(1).shape == (2, 3, 1) and x.squeeze(0).shape == (2, 1, 3, 1)
    assert x.squeeze((1, 3)).shape == (2, 3) and x.unsqueeze(0).shape == (1, 2, 1, 3, 1)
    assert x.unsqueeze(-1).shape == (2, 1, 3, 1, 1)


def test_expand_is_a_read_only_view_whose_gradient_sums():
    x = leaf((3, 1))
    y = x.expand(2, 3, 4)
    assert y.shape == (2, 3, 4) and np.shares_memory(y.data, x.data)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, np.full((3, 1), 8.0))
    assert x.expand(-1, 5).shape == (3, 5) and x.expand_as(tl.zeros(3, 2)).shape == (3, 2)
    with pytest.raises(RuntimeError, match="read-only"):
        y.detach().add_(1.0)


def test_repeat_tiles_as_torch_and_repeat_interleave_repeats_elements_as_numpy():
    x = leaf((2, 3))
    np.testing.assert_array_equal(x.repeat(2, 1, 2).data, np.tile(x.data, (2, 1, 2)))
    np.testing.assert_array_equal(x.repeat_interleave(2, dim=1).data, np.repeat(x.data, 2, axis=1))
    np.testing.assert_array_equal(x.repeat_interleave(2).data, np.repeat(x.data, 2))
    assert tl.gradcheck(lambda t: t.repeat(2, 1, 2), [x])
    assert tl.gradcheck(lambda t: t.repeat_interleave(3, dim=0), [x])


def test_flip_and_roll():
    x = leaf((2, 3))
    np.testing.assert_array_equal(x.flip(0, 1).data, x.data[::-1, ::-1])
    np.testing.assert_array_equal(x.roll(1).data, np.roll(x.data, 1))
    np.testing.assert_array_equal(x.roll((1, -1), (0, 1)).data, np.roll(x.data, (1, -1), (0, 1)))
    assert tl.gradcheck(lambda t: t.roll(2, 1).flip(0), [x])


# --------------------------------------------------------------------------- cat, stack

@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cat_and_stack(dim):
    a, b = leaf((2, 3)), leaf((2, 3))
    np.testing.assert_array_equal(tl.cat([a, b], dim).data, np.concatenate([a.data, b.data], dim))
    np.testing.assert_array_equal(tl.stack([a, b], dim).data, np.stack([a.data, b.data], dim))
    np.testing.assert_array_equal(tl.concat([a, b], axis=dim).data, tl.concatenate([a, b], dim=dim).data)
    assert tl.gradcheck(lambda x, y: tl.cat([x, y, x], dim), [a, b])
    assert tl.gradcheck(lambda x, y: tl.stack([x, y, x], dim=dim), [a, b])


def test_cat_skips_empty_vectors_as_torch():
    a, empty = leaf((2, 3)), tl.zeros(0, requires_grad=True)
    out = tl.cat([a, empty, a])
    assert out.shape == (4, 3)
    out.sum().backward()
    assert empty.grad.shape == (0,)


def test_cat_and_stack_want_a_sequence_of_tensors():
    with pytest.raises(TypeError, match="cat: expected a sequence of tensors"):
        tl.cat(leaf((2, 3)))
    with pytest.raises(ValueError, match="cat: zero-dimensional tensors cannot be concatenated"):
        tl.cat([tl.Tensor(1.0), tl.Tensor(2.0)])


# --------------------------------------------------------------------------- split, chunk, tensor_split, unbind

def test_split_with_an_int_gives_pieces_of_that_size_as_torch():
    x = leaf((5, 2))
    assert [p.shape[0] for p in x.split(2)] == [2, 2, 1]
    assert [p.shape[0] for p in x.split([1, 4])] == [1, 4]
    assert [p.shape[0] for p in x.chunk(2)] == [3, 2]  # a number of pieces: chunk
    assert [p.shape[0] for p in x.tensor_split(2)] == [3, 2]  # or tensor_split (numpy's array_split)
    assert [p.shape[0] for p in x.tensor_split([1, 3])] == [1, 2, 2]


@pytest.mark.parametrize("sections,dim", [(2, 0), ([1, 3, 2], 1), (3, -1), ([6], 1), (4, 1)])
def test_split(sections, dim):
    x = leaf((4, 6))
    pieces = x.split(sections, dim)
    sizes = sections if isinstance(sections, list) else [min(sections, x.shape[dim] - i)
                                                         for i in range(0, x.shape[dim], sections)]
    expected = np.split(x.data, np.cumsum(sizes)[:-1], dim)
    assert all(np.array_equal(p.data, e) for p, e in zip(pieces, expected)) and len(pieces) == len(expected)
    assert len({id(p.grad_fn) for p in pieces}) == 1  # one node, several outputs
    assert tl.gradcheck(lambda t: t.split(sections, dim), [x])
    # only some outputs used: the rest count as zero
    assert tl.gradcheck(lambda t: t.split(sections, dim)[0] * 2, [x])


def test_tensor_split_with_decreasing_indices_gives_overlapping_pieces_as_numpy():
    x = leaf((5, 2))
    pieces = x.tensor_split([3, 1])
    expected = np.array_split(x.data, [3, 1])
    assert all(np.array_equal(p.data, e) for p, e in zip(pieces, expected))
    assert tl.gradcheck(lambda t: t.tensor_split([3, 1]), [x])


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_unbind(dim):
    x = leaf((3, 2, 4))
    parts = x.unbind(dim)
    assert all(np.array_equal(p.data, np.take(x.data, i, dim)) for i, p in enumerate(parts))
    assert tl.gradcheck(lambda t: t.unbind(dim), [x])
    assert tl.gradcheck(lambda t: t.unbind(dim)[1].tanh(), [x])


def test_chunk_and_iteration():
    x = leaf((4, 2))
    assert [p.shape for p in x.chunk(2)] == [(2, 2), (2, 2)]
    assert tl.gradcheck(lambda t: tl.stack(list(t)[::-1]), [x])


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


def test_split_family_keeps_numpys_axis_alias():
    x = leaf((2, 6))
    assert [p.shape for p in x.chunk(3, axis=1)] == [(2, 2)] * 3
    assert [p.shape for p in x.split([2, 4], axis=-1)] == [(2, 2), (2, 4)]
    assert len(x.unbind(axis=1)) == 6
    with pytest.raises(TypeError, match="split: got both dim and its numpy alias axis"):
        x.split(2, dim=1, axis=0)
    with pytest.raises(TypeError, match="split: expected an int or a list of ints"):
        x.split(1.5)


@pytest.mark.parametrize("make", [
    lambda t: t.split(0, dim=1), lambda t: t.split([1, 1], dim=1), lambda t: t.split(1, dim=2),
    lambda t: t.unbind(-3), lambda t: tl.cat([t, t.T]), lambda t: tl.stack([t, t], dim=3),
])
def test_split_concat_stack_errors_are_value_errors_naming_the_op(make):
    with pytest.raises(ValueError, match="split|unbind|cat|stack"):
        make(leaf((2, 3), 0.5, 1.5))


def test_lstm_cell_from_ops_over_several_steps():
    batch, inputs, hidden, steps = 2, 3, 4, 4

    def unrolled(x, h0, c0, weight_ih, weight_hh, bias):
        h, c = h0, c0
        hs = []
        for x_t in x.unbind(0):
            i, f, g, o = (x_t @ weight_ih.T + h @ weight_hh.T + bias).chunk(4, dim=1)
            c = f.sigmoid() * c + i.sigmoid() * g.tanh()
            h = o.sigmoid() * c.tanh()
            hs.append(h)
        return tl.stack(hs), c

    args = [leaf((steps, batch, inputs)), leaf((batch, hidden)), leaf((batch, hidden)),
            leaf((4 * hidden, inputs), -0.5, 0.5), leaf((4 * hidden, hidden), -0.5, 0.5), leaf((4 * hidden,))]
    assert tl.gradcheck(unrolled, args)


def test_contiguous_copies_a_transposed_tensor_so_that_view_works_as_torch():
    x = leaf((2, 3))
    assert x.is_contiguous() and x.contiguous() is x and not x.t().is_contiguous()
    flat = x.t().contiguous().view(-1)
    np.testing.assert_array_equal(flat.data, x.data.T.reshape(-1))
    assert tl.gradcheck(lambda t: t.t().contiguous().view(3, 2) * 2, [x])


@pytest.mark.parametrize("call", [
    lambda L, x: x.reshape(shape=(4, 6)), lambda L, x: L.reshape(x, shape=(-1, 4)), lambda L, x: x.view(size=(6, 4)),
    lambda L, x: x.permute(dims=(2, 0, 1)), lambda L, x: L.permute(x, dims=(1, 0, 2)),
    lambda L, x: x.flip(dims=(0, 2)), lambda L, x: L.flip(x, dims=[-1]),
    lambda L, x: x[:1].expand(size=(3, 3, 4)), lambda L, x: L.broadcast_to(x[:1], size=(2, 2, 3, 4)),
    lambda L, x: x.repeat(repeats=(1, 2, 1)),
])
def test_sizes_and_dims_by_pytorchs_keywords(call):
    torch = pytest.importorskip("torch")
    data = RNG.standard_normal((2, 3, 4))
    x, x_torch = tl.Tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    out, out_torch = call(tl, x), call(torch, x_torch)
    np.testing.assert_array_equal(out.data, out_torch.detach().numpy())
    weights = RNG.standard_normal(out.shape)
    (out * tl.Tensor(weights)).sum().backward()
    (out_torch * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(x.grad, x_torch.grad.numpy(), rtol=1e-12)


def test_sizes_given_both_ways_are_a_type_error_naming_the_op():
    with pytest.raises(TypeError, match=r"reshape: got the sizes both as arguments \(3, 8\) and as shape=\(24,\)"):
        leaf((2, 3, 4)).reshape(3, 8, shape=(24,))
