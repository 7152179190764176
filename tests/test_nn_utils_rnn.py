"""`tl.nn.utils.rnn`: packed sequences against ``torch.nn.utils.rnn`` (data, batch sizes, indices,
padding, errors), gradients through packing, and the recurrent modules on packed input against
PyTorch's on PyTorch's packed input."""
import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm.nn.utils import rnn

torch = pytest.importorskip("torch")
trnn = torch.nn.utils.rnn

T, B, D, H = 5, 4, 3, 4
# (lengths, enforce_sorted): sorted with ties, unsorted with ties, one full-length sequence
LENGTHS = [([5, 3, 3, 1], True), ([2, 5, 3, 5], False), ([5, 5, 5, 5], True), ([1, 4, 2, 3], False)]


def padded_input(batch_first, trailing=(D,), seed=0):
    shape = (B, T, *trailing) if batch_first else (T, B, *trailing)
    return np.random.default_rng(seed).standard_normal(shape)


def assert_same_packed(ours, theirs):
    assert isinstance(ours, rnn.PackedSequence)
    np.testing.assert_array_equal(ours.data.data, theirs.data.detach().numpy())
    assert ours.batch_sizes.dtype == np.int64 and isinstance(ours.batch_sizes, np.ndarray)
    np.testing.assert_array_equal(ours.batch_sizes, theirs.batch_sizes.numpy())
    for mine, torch_indices in [(ours.sorted_indices, theirs.sorted_indices),
                                (ours.unsorted_indices, theirs.unsorted_indices)]:
        if torch_indices is None:
            assert mine is None
        else:
            assert mine.dtype == np.int64
            np.testing.assert_array_equal(mine, torch_indices.numpy())


# --------------------------------------------------------------------------- packing and padding
@pytest.mark.parametrize("lengths, enforce_sorted", LENGTHS)
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("trailing", [(D,), (), (2, 3)])
def test_pack_padded_sequence_matches_pytorch(lengths, enforce_sorted, batch_first, trailing):
    x = padded_input(batch_first, trailing)
    packed = rnn.pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=enforce_sorted)
    theirs = trnn.pack_padded_sequence(torch.from_numpy(x), lengths, batch_first=batch_first,
                                       enforce_sorted=enforce_sorted)
    assert_same_packed(packed, theirs)
    assert tuple(packed) == (packed.data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices)


@pytest.mark.parametrize("lengths, enforce_sorted", LENGTHS)
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_value, total_length", [(0.0, None), (-1.5, T + 2)])
def test_pad_packed_sequence_matches_pytorch_and_round_trips(lengths, enforce_sorted, batch_first, padding_value,
                                                            total_length):
    x = padded_input(batch_first)
    packed = rnn.pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=enforce_sorted)
    theirs = trnn.pack_padded_sequence(torch.from_numpy(x), lengths, batch_first=batch_first,
                                       enforce_sorted=enforce_sorted)
    padded, our_lengths = rnn.pad_packed_sequence(packed, batch_first=batch_first, padding_value=padding_value,
                                                  total_length=total_length)
    torch_padded, torch_lengths = trnn.pad_packed_sequence(theirs, batch_first=batch_first,
                                                           padding_value=padding_value, total_length=total_length)
    np.testing.assert_array_equal(padded.data, torch_padded.numpy())
    assert our_lengths.dtype == np.int64
    np.testing.assert_array_equal(our_lengths, torch_lengths.numpy())
    np.testing.assert_array_equal(our_lengths, lengths)
    # round trip: the valid steps come back, and packing the padded batch again gives the same packing
    again = rnn.pack_padded_sequence(padded, our_lengths, batch_first=batch_first, enforce_sorted=enforce_sorted)
    np.testing.assert_array_equal(again.data.data, packed.data.data)
    for i, length in enumerate(lengths):
        ours = padded.data[i, :length] if batch_first else padded.data[:length, i]
        np.testing.assert_array_equal(ours, x[i, :length] if batch_first else x[:length, i])


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_pad_sequence_matches_pytorch(batch_first, padding_side):
    rng = np.random.default_rng(1)
    sequences = [rng.standard_normal((length, 2, 3)) for length in (3, 5, 1)]
    ours = rnn.pad_sequence([tl.Tensor(s) for s in sequences], batch_first=batch_first, padding_value=7.0,
                            padding_side=padding_side)
    theirs = trnn.pad_sequence([torch.from_numpy(s) for s in sequences], batch_first=batch_first, padding_value=7.0,
                               padding_side=padding_side)
    np.testing.assert_array_equal(ours.data, theirs.numpy())


@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_pack_sequence_unpack_and_unpad_match_pytorch(enforce_sorted):
    rng = np.random.default_rng(2)
    lengths = (5, 3, 3, 1) if enforce_sorted else (2, 5, 1, 4)
    sequences = [rng.standard_normal((length, D)) for length in lengths]
    packed = rnn.pack_sequence(sequences, enforce_sorted=enforce_sorted)
    theirs = trnn.pack_sequence([torch.from_numpy(s) for s in sequences], enforce_sorted=enforce_sorted)
    assert_same_packed(packed, theirs)
    np.testing.assert_array_equal(packed.lengths, lengths)
    for ours, original in zip(rnn.unpack_sequence(packed), sequences, strict=True):
        np.testing.assert_array_equal(ours.data, original)
    padded = rnn.pad_sequence(sequences, batch_first=True)
    for ours, original in zip(rnn.unpad_sequence(padded, lengths, batch_first=True), sequences, strict=True):
        np.testing.assert_array_equal(ours.data, original)


def test_packed_sequence_fields_as_pytorch():
    packed = rnn.PackedSequence(tl.Tensor(np.arange(6.0)), [3, 2, 1], sorted_indices=[2, 0, 1])
    np.testing.assert_array_equal(packed.unsorted_indices, [1, 2, 0])  # computed as PyTorch's invert_permutation
    assert packed.batch_sizes.dtype == np.int64 and packed.sorted_indices.dtype == np.int64
    np.testing.assert_array_equal(packed.lengths, [2, 1, 3])
    with pytest.raises(ValueError, match="PackedSequence: batch_sizes"):
        rnn.PackedSequence(tl.Tensor(np.arange(6.0)), [3, 2])


def test_packing_keeps_the_dtype():
    x = np.ones((T, B, D), dtype=np.float32)
    packed = rnn.pack_padded_sequence(x, [5, 4, 2, 1])
    padded, _ = rnn.pad_packed_sequence(packed, padding_value=-1.0)
    assert packed.data.dtype == padded.dtype == rnn.pad_sequence([x[:, 0], x[:2, 1]]).dtype == np.float32


# --------------------------------------------------------------------------- gradients from the graph
@pytest.mark.parametrize("batch_first", [False, True])
def test_gradients_through_pack_and_pad(batch_first):
    x = tl.Tensor(padded_input(batch_first), requires_grad=True)
    lengths = [2, 5, 3, 5]

    def pack_then_pad(x):
        packed = rnn.pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=False)
        return packed.data, rnn.pad_packed_sequence(packed, batch_first=batch_first, total_length=T + 1)[0]

    assert tl.gradcheck(pack_then_pad, [x])
    weights = np.random.default_rng(4).standard_normal((sum(lengths), D))
    pack_then_pad(x)[0].mul(tl.Tensor(weights)).sum().backward()
    t_x = torch.tensor(x.data, requires_grad=True)
    theirs = trnn.pack_padded_sequence(t_x, lengths, batch_first=batch_first, enforce_sorted=False)
    (theirs.data * torch.from_numpy(weights)).sum().backward()
    np.testing.assert_allclose(x.grad, t_x.grad.numpy(), atol=1e-12)


def test_gradients_through_pad_sequence_and_pack_sequence():
    rng = np.random.default_rng(5)
    sequences = [tl.Tensor(rng.standard_normal((length, 2)), requires_grad=True) for length in (3, 4, 1)]
    assert tl.gradcheck(lambda *s: rnn.pad_sequence(list(s), batch_first=True, padding_side="left"), sequences)
    assert tl.gradcheck(lambda *s: rnn.pack_sequence(list(s), enforce_sorted=False).data, sequences)
    assert tl.gradcheck(lambda *s: rnn.unpack_sequence(rnn.pack_sequence(list(s), enforce_sorted=False))[1],
                        sequences)


# --------------------------------------------------------------------------- modules on packed input
def _torch_twin(model, kind, batch_first, proj_size):
    extra = {"proj_size": proj_size} if proj_size else {}
    twin = getattr(torch.nn, kind)(D, H, num_layers=2, bidirectional=True, batch_first=batch_first,
                                   dtype=torch.float64, **extra)
    twin.load_state_dict({name: torch.from_numpy(array.copy()) for name, array in model.state_dict().items()})
    return twin


def _run_both(model, twin, kind, batch_first, lengths, enforce_sorted, with_state):
    rng = np.random.default_rng(6)
    x = padded_input(batch_first, seed=7)
    h_size = getattr(twin, "proj_size", 0) or H
    state = ([rng.standard_normal((4, B, h_size)), rng.standard_normal((4, B, H))][:2 if kind == "LSTM" else 1]
             if with_state else None)

    x_ours = tl.Tensor(x, requires_grad=True)
    state_ours = None if state is None else [tl.Tensor(s, requires_grad=True) for s in state]
    packed = rnn.pack_padded_sequence(x_ours, lengths, batch_first=batch_first, enforce_sorted=enforce_sorted)
    output, final = model(packed, None if state is None else (tuple(state_ours) if kind == "LSTM" else state_ours[0]))
    finals = list(final) if isinstance(final, tuple) else [final]

    x_torch = torch.tensor(x, requires_grad=True)
    state_torch = None if state is None else [torch.tensor(s, requires_grad=True) for s in state]
    t_packed = trnn.pack_padded_sequence(x_torch, lengths, batch_first=batch_first, enforce_sorted=enforce_sorted)
    t_output, t_final = twin(t_packed, None if state is None else (tuple(state_torch) if kind == "LSTM"
                                                                   else state_torch[0]))
    t_finals = list(t_final) if isinstance(t_final, tuple) else [t_final]

    assert isinstance(output, rnn.PackedSequence)
    assert_same_packed_close(output, t_output)
    weights = [rng.standard_normal(tuple(r.shape)) for r in [t_output.data, *t_finals]]
    loss = sum((r * tl.Tensor(w)).sum() for r, w in zip([output.data, *finals], weights))
    loss.backward()
    sum((r * torch.from_numpy(w)).sum() for r, w in zip([t_output.data, *t_finals], weights)).backward()
    for ours, theirs in zip(finals, t_finals, strict=True):
        np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=0, atol=1e-10)
    ours_grads = dict(model.named_parameters())
    for name, parameter in twin.named_parameters():
        np.testing.assert_allclose(ours_grads[name].grad, parameter.grad.numpy(), rtol=0, atol=1e-10, err_msg=name)
    np.testing.assert_allclose(x_ours.grad, x_torch.grad.numpy(), rtol=0, atol=1e-10)
    for ours, theirs in zip(state_ours or [], state_torch or [], strict=True):
        np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=0, atol=1e-10)


def assert_same_packed_close(ours, theirs):
    np.testing.assert_allclose(ours.data.data, theirs.data.detach().numpy(), rtol=0, atol=1e-10)
    np.testing.assert_array_equal(ours.batch_sizes, theirs.batch_sizes.numpy())
    for mine, torch_indices in [(ours.sorted_indices, theirs.sorted_indices),
                                (ours.unsorted_indices, theirs.unsorted_indices)]:
        assert (mine is None) == (torch_indices is None)
        if mine is not None:
            np.testing.assert_array_equal(mine, torch_indices.numpy())


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("lengths, enforce_sorted", [([5, 3, 3, 1], True), ([2, 5, 3, 4], False)])
@pytest.mark.parametrize("with_state", [False, True])
def test_builtin_modules_on_packed_input_match_pytorch(kind, batch_first, lengths, enforce_sorted, with_state):
    tl.manual_seed(8)
    model = getattr(tl.nn, kind)(D, H, num_layers=2, bidirectional=True, batch_first=batch_first, dtype=np.float64)
    _run_both(model, _torch_twin(model, kind, batch_first, 0), kind, batch_first, lengths, enforce_sorted,
              with_state)


def test_projected_lstm_on_packed_input_matches_pytorch():
    tl.manual_seed(9)
    model = tl.nn.LSTM(D, H, num_layers=2, bidirectional=True, proj_size=2, dtype=np.float64)
    _run_both(model, _torch_twin(model, "LSTM", False, 2), "LSTM", False, [2, 5, 3, 4], False, True)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("with_state", [False, True])
def test_recurrent_on_packed_input_matches_pytorch(kind, batch_first, with_state):
    tl.manual_seed(10)
    model = tl.nn.Recurrent(getattr(tl.nn, kind + "Cell")(D, H, dtype=np.float64), num_layers=2, bidirectional=True,
                            batch_first=batch_first)
    _run_both(model, _torch_twin(model, kind, batch_first, 0), kind, batch_first, [2, 5, 3, 4], False, with_state)


def test_single_cell_recurrent_on_packed_input_equals_lengths():
    tl.manual_seed(11)
    model = tl.nn.Recurrent(tl.nn.LSTMCell(D, H, dtype=np.float64))
    x = padded_input(False)
    lengths = [2, 5, 3, 4]
    state = (tl.Tensor(np.ones((B, H))), tl.Tensor(np.full((B, H), 0.5)))  # the cell's own state, original order
    output, (h_n, c_n) = model(rnn.pack_padded_sequence(x, lengths, enforce_sorted=False), state)
    padded_output, (h_ref, c_ref) = model(x, state, lengths=lengths)
    np.testing.assert_array_equal(rnn.pad_packed_sequence(output, total_length=T)[0].data, padded_output.data)
    np.testing.assert_array_equal(h_n.data, h_ref.data)
    np.testing.assert_array_equal(c_n.data, c_ref.data)


def test_modules_keep_the_dtype_on_packed_input():
    model = tl.nn.GRU(D, H)
    output, h_n = model(rnn.pack_padded_sequence(np.ones((T, B, D), np.float32), [5, 4, 2, 1]))
    assert output.data.dtype == h_n.dtype == np.float32


# --------------------------------------------------------------------------- errors, as PyTorch's
ERROR_CASES = {
    "unsorted with enforce_sorted": (lambda m, x: m.pack_padded_sequence(x, [2, 5, 3, 4]), RuntimeError),
    "a zero length": (lambda m, x: m.pack_padded_sequence(x, [5, 3, 1, 0]), RuntimeError),
    "a negative length, sorted here": (lambda m, x: m.pack_padded_sequence(x, [-1, 5, 3, 2], enforce_sorted=False),
                                       RuntimeError),
    "too few lengths": (lambda m, x: m.pack_padded_sequence(x, [5, 3, 1]), RuntimeError),
    "total_length too short": (lambda m, x: m.pad_packed_sequence(m.pack_padded_sequence(x, [5, 3, 2, 1]),
                                                                  total_length=3), ValueError),
    "total_length not an int": (lambda m, x: m.pad_packed_sequence(m.pack_padded_sequence(x, [5, 3, 2, 1]),
                                                                   total_length=5.0), TypeError),
    "no sequences": (lambda m, x: m.pad_sequence([]), RuntimeError),
    "no sequences to pack": (lambda m, x: m.pack_sequence([]), RuntimeError),
    "mismatched trailing shapes": (lambda m, x: m.pad_sequence([x[:, 0], x[:3, 1, :2]]), RuntimeError),
    "a bad padding side": (lambda m, x: m.pad_sequence([x[:, 0]], padding_side="middle"), RuntimeError),
    "an empty sequence": (lambda m, x: m.pack_sequence([x[:0, 0]]), RuntimeError),
}


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
def test_errors_are_pytorchs(case):
    call, expected = ERROR_CASES[case]
    x = padded_input(False)
    with pytest.raises(expected):
        call(trnn, torch.from_numpy(x))
    with pytest.raises(expected) as error:
        call(rnn, x)
    function = str(error.value).partition(":")[0]
    assert function in {"pack_padded_sequence", "pad_packed_sequence", "pad_sequence"}


def test_bad_lengths_are_clear_errors():
    x = padded_input(False)
    with pytest.raises(ValueError, match=r"pack_padded_sequence: a length of 6 exceeds the 5 steps"):
        rnn.pack_padded_sequence(x, [6, 3, 2, 1])
    with pytest.raises(ValueError, match="whole numbers"):
        rnn.pack_padded_sequence(x, [4.5, 3, 2, 1])
    with pytest.raises(TypeError, match="lengths must be integers"):
        rnn.pack_padded_sequence(x, [True, True, True, True])
    with pytest.raises(ValueError, match=r"input must have a time and a batch axis, got shape \(5,\)"):
        rnn.pack_padded_sequence(x[:, 0, 0], [5])
    with pytest.raises(TypeError, match="pad_packed_sequence: expected a tl.nn.utils.rnn.PackedSequence"):
        rnn.pad_packed_sequence(x)
    # integral floats and tensors of lengths are accepted, as PyTorch casts them
    expected = rnn.pack_padded_sequence(x, [5, 3, 2, 1]).data.data
    for lengths in (np.array([5.0, 3, 2, 1]), tl.Tensor(np.array([5, 3, 2, 1])), torch.tensor([5, 3, 2, 1])):
        np.testing.assert_array_equal(rnn.pack_padded_sequence(x, lengths).data.data, expected)


def test_modules_reject_lengths_with_a_packed_sequence():
    packed = rnn.pack_padded_sequence(padded_input(False), [5, 3, 2, 1])
    for model in (tl.nn.LSTM(D, H, dtype=np.float64), tl.nn.Recurrent(tl.nn.GRUCell(D, H, dtype=np.float64))):
        with pytest.raises(ValueError, match="PackedSequence carries its lengths"):
            model(packed, lengths=[5, 3, 2, 1])


def test_a_torch_packed_sequence_points_to_ours():
    packed = trnn.pack_padded_sequence(torch.from_numpy(padded_input(False)), [5, 3, 2, 1])
    with pytest.raises(TypeError, match=r"tl\.nn\.utils\.rnn\.pack_padded_sequence") as error:
        tl.nn.GRU(D, H, dtype=np.float64)(packed)
    # the conversion the message gives runs
    padded, lengths = trnn.pad_packed_sequence(packed)
    ours = rnn.pack_padded_sequence(padded.numpy(), lengths.tolist(), enforce_sorted=False)
    assert "enforce_sorted=False" in str(error.value)
    np.testing.assert_array_equal(ours.data.data, packed.data.numpy())


def test_casting_a_packed_sequence_keeps_the_packing_and_the_graph():
    x = tl.Tensor(np.ones((T, B, D), np.float32), requires_grad=True)
    packed = rnn.pack_padded_sequence(x, [2, 5, 3, 4], enforce_sorted=False)
    assert packed.float() is packed
    double = packed.double()
    assert double.data.dtype == np.float64
    np.testing.assert_array_equal(double.sorted_indices, packed.sorted_indices)
    np.testing.assert_array_equal(double.batch_sizes, packed.batch_sizes)
    double.data.sum().backward()
    assert x.grad.dtype == np.float32 and x.grad.sum() == 14 * D
