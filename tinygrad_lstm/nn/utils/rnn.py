"""Packed sequences, as ``torch.nn.utils.rnn``: a batch of variable-length sequences without padding.

A `PackedSequence` holds the sequences sorted by decreasing length and interleaved time-major:
the first step of every sequence, then the second step of those that have one, and so on;
``batch_sizes[t]`` counts the sequences that have step ``t``. Packing and unpacking are one
integer-array gather each, so gradients flow through them from the graph. `tl.nn.RNN`, `LSTM`,
`GRU` and `tl.nn.Recurrent` accept a `PackedSequence` and return one, as PyTorch's modules do.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ...engine import Tensor
from ...ops import concat, stack

__all__ = ["PackedSequence", "PackedSequenceError", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence",
           "pack_sequence", "unpad_sequence", "unpack_sequence", "invert_permutation"]


class PackedSequenceError(RuntimeError, ValueError):
    """Bad lengths or sequences: a RuntimeError where PyTorch raises one, and a ValueError (wrong values)."""


class PackedSequence_(NamedTuple):  # noqa: N801 (PyTorch's name for the fields of PackedSequence)
    data: Tensor
    batch_sizes: np.ndarray
    sorted_indices: np.ndarray | None
    unsorted_indices: np.ndarray | None


class PackedSequence(PackedSequence_):
    """Variable-length sequences packed without padding, as ``torch.nn.utils.rnn.PackedSequence``.

    Build one with `pack_padded_sequence` or `pack_sequence` rather than by hand.

    Attributes
    ----------
    data : Tensor
        ``(sum(lengths), *)``: the sequences sorted by decreasing length, interleaved time-major.
    batch_sizes : numpy.ndarray
        int64 ``(max(lengths),)``: how many sequences have step ``t``.
    sorted_indices : numpy.ndarray or None
        int64 ``(B,)``: the original batch index of each sorted sequence; None when the input
        was already sorted (``enforce_sorted=True``).
    unsorted_indices : numpy.ndarray or None
        The inverse permutation of `sorted_indices` (computed from it when omitted).
    """

    def __new__(cls, data, batch_sizes, sorted_indices=None, unsorted_indices=None):
        data = data if isinstance(data, Tensor) else Tensor(np.asarray(data))
        batch_sizes = np.asarray(batch_sizes, dtype=np.int64)
        if batch_sizes.ndim != 1 or data.ndim < 1 or int(batch_sizes.sum()) != data.shape[0]:
            raise ValueError(f"PackedSequence: batch_sizes (shape {batch_sizes.shape}) must be 1-D and sum to "
                             f"data.shape[0] (data shape {data.shape})")
        if sorted_indices is not None:
            sorted_indices = np.asarray(sorted_indices, dtype=np.int64)
            if unsorted_indices is None:
                unsorted_indices = invert_permutation(sorted_indices)
        if unsorted_indices is not None:
            unsorted_indices = np.asarray(unsorted_indices, dtype=np.int64)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, dtype) -> PackedSequence:
        """The same packing with `data` cast to `dtype` (in the graph); itself when it has that dtype."""
        data = self.data.to(dtype)
        return self if data is self.data else type(self)(data, *self[1:])

    def double(self) -> PackedSequence:
        """`to` float64."""
        return self.to(np.float64)

    def float(self) -> PackedSequence:
        """`to` float32."""
        return self.to(np.float32)

    @property
    def lengths(self) -> np.ndarray:
        """int64 ``(B,)``: each sequence's length, in the original batch order."""
        sorted_lengths = (self.batch_sizes[None, :] > np.arange(self.batch_sizes[0])[:, None]).sum(axis=1)
        return sorted_lengths if self.unsorted_indices is None else sorted_lengths[self.unsorted_indices]


def invert_permutation(permutation) -> np.ndarray | None:
    """The inverse of a permutation of ``range(n)`` (None stays None), int64."""
    if permutation is None:
        return None
    permutation = np.asarray(permutation, dtype=np.int64)
    inverse = np.empty_like(permutation)
    inverse[permutation] = np.arange(permutation.size)
    return inverse


def _as_tensor(value) -> Tensor:
    return value if isinstance(value, Tensor) else Tensor(np.asarray(value))


def _checked_lengths(lengths, fn: str) -> np.ndarray:
    """`lengths` as a 1-D int64 array (integral floats are accepted, as PyTorch casts them)."""
    array = np.asarray(lengths.data if isinstance(lengths, Tensor) else lengths)
    if array.dtype.kind == "b" or array.dtype.kind not in "iuf":
        raise TypeError(f"{fn}: lengths must be integers, got dtype {array.dtype}")
    if array.ndim != 1:
        raise ValueError(f"{fn}: lengths must be 1-D (one per sequence), got shape {array.shape}")
    if array.dtype.kind == "f" and not np.array_equal(array, np.floor(array)):
        raise ValueError(f"{fn}: lengths must be whole numbers, got {array.tolist()}")
    return array.astype(np.int64)


def _pack(padded: Tensor, sorted_lengths: np.ndarray, sorted_indices, batch_first: bool) -> PackedSequence:
    """Pack ``padded`` ``(T, B, *)`` (``(B, T, *)`` batch-first) whose sequence ``sorted_indices[j]``
    has length ``sorted_lengths[j]`` (decreasing): one gather of the valid rows, time-major."""
    batch, steps = sorted_lengths.size, padded.shape[1 if batch_first else 0]
    order = np.arange(batch) if sorted_indices is None else sorted_indices
    time = np.arange(int(sorted_lengths[0]))[:, None]
    flat_rows = order[None, :] * steps + time if batch_first else time * batch + order[None, :]
    rows = flat_rows[time < sorted_lengths[None, :]]  # row-major: step by step, sorted order within a step
    data = padded.reshape(padded.shape[0] * padded.shape[1], *padded.shape[2:])[rows]
    batch_sizes = (sorted_lengths[None, :] > time).sum(axis=1)
    return PackedSequence(data, batch_sizes, sorted_indices)


def pack_padded_sequence(input, lengths, batch_first: bool = False, enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch of variable-length sequences.

    Parameters
    ----------
    input : Tensor or array_like
        ``(T, B, *)``, or ``(B, T, *)`` with `batch_first`; steps past a sequence's length are ignored.
    lengths : sequence of int
        ``(B,)`` lengths, each in ``[1, T]`` (a list, numpy array or CPU tensor).
    batch_first : bool
    enforce_sorted : bool
        True: `lengths` must be in decreasing order (`sorted_indices` is then None); False:
        the sequences are sorted here and `sorted_indices` records the order.

    Returns
    -------
    PackedSequence

    Raises
    ------
    PackedSequenceError
        (a RuntimeError, as PyTorch's) for unsorted lengths with `enforce_sorted`, a length
        below 1, or a number of lengths other than B; ValueError for a length above T.

    Examples
    --------
    >>> import numpy as np, tinygrad_lstm as tl
    >>> x = tl.Tensor(np.arange(6.0).reshape(3, 2, 1))  # (T=3, B=2, 1)
    >>> packed = tl.nn.utils.rnn.pack_padded_sequence(x, [3, 1])
    >>> packed.data.data.ravel(), packed.batch_sizes
    (array([0., 1., 2., 4.]), array([2, 1, 1]))
    """
    fn = "pack_padded_sequence"
    input = _as_tensor(input)
    lengths = _checked_lengths(lengths, fn)
    if input.ndim < 2:
        raise ValueError(f"{fn}: input must have a time and a batch axis, got shape {input.shape}")
    steps, batch = (input.shape[1], input.shape[0]) if batch_first else input.shape[:2]
    if lengths.size != batch:
        raise PackedSequenceError(f"{fn}: expected `len(lengths)` to be equal to batch_size, but got {lengths.size} "
                                  f"(batch_size={batch}, input shape {input.shape})")
    if enforce_sorted:
        if np.any(lengths[:-1] < lengths[1:]):
            raise PackedSequenceError(f"{fn}: `lengths` array must be sorted in decreasing order when "
                                      f"`enforce_sorted` is True, got {lengths.tolist()}; pass enforce_sorted=False "
                                      f"to sort them here")
        sorted_indices = None
    else:
        sorted_indices = np.argsort(-lengths, kind="stable")
        lengths = lengths[sorted_indices]
    if lengths.size == 0 or lengths[-1] <= 0:
        raise PackedSequenceError(f"{fn}: length of all samples has to be greater than 0, got lengths "
                                  f"{lengths.tolist()}")
    if lengths[0] > steps:
        raise ValueError(f"{fn}: a length of {int(lengths[0])} exceeds the {steps} steps of the input "
                         f"(shape {input.shape}, batch_first={batch_first})")
    return _pack(input, lengths, sorted_indices, batch_first)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False, padding_value: float = 0.0,
                        total_length: int | None = None) -> tuple:
    """Undo `pack_padded_sequence`: the padded batch in the original order, and the lengths.

    Parameters
    ----------
    sequence : PackedSequence
    batch_first : bool
        Return ``(B, T, *)`` instead of ``(T, B, *)``.
    padding_value : float
        The value of the steps past each sequence's length.
    total_length : int, optional
        Pad to this many steps (at least the longest length) instead of the longest length.

    Returns
    -------
    padded : Tensor
        ``(T, B, *)`` or ``(B, T, *)``, of the data's dtype.
    lengths : numpy.ndarray
        int64 ``(B,)``, in the original batch order.

    Examples
    --------
    >>> import numpy as np, tinygrad_lstm as tl
    >>> packed = tl.nn.utils.rnn.pack_sequence([tl.Tensor([1.0, 2.0]), tl.Tensor([3.0, 4.0, 5.0])],
    ...                                        enforce_sorted=False)
    >>> padded, lengths = tl.nn.utils.rnn.pad_packed_sequence(packed, batch_first=True)
    >>> padded.data, lengths
    (array([[1., 2., 0.],
           [3., 4., 5.]]), array([2, 3]))
    """
    fn = "pad_packed_sequence"
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"{fn}: expected a tl.nn.utils.rnn.PackedSequence, got {type(sequence).__name__}")
    data, batch_sizes = sequence.data, sequence.batch_sizes
    max_length, batch = batch_sizes.size, int(batch_sizes[0])
    steps = max_length
    if total_length is not None:
        if isinstance(total_length, bool) or not isinstance(total_length, (int, np.integer)):
            raise TypeError(f"{fn}: total_length must be an int, got {type(total_length).__name__}")
        if total_length < max_length:
            raise ValueError(f"{fn}: expected total_length to be at least the length of the longest sequence in "
                             f"input, but got total_length={total_length} and max sequence length being {max_length}")
        steps = int(total_length)
    order = np.arange(batch) if sequence.sorted_indices is None else sequence.sorted_indices
    # Row of data for (step t, original sequence order[j]); the row past the end is the padding.
    source = np.full((steps, batch), data.shape[0], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(batch_sizes)[:-1]])
    for t, size in enumerate(batch_sizes):
        source[t, order[:size]] = offsets[t] + np.arange(size)
    padding = Tensor(np.full((1,) + data.shape[1:], padding_value, dtype=data.dtype))
    padded = concat([data, padding], axis=0)[source.T if batch_first else source]
    return padded, sequence.lengths


def pad_sequence(sequences, batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """Stack sequences of different lengths into one padded batch.

    Parameters
    ----------
    sequences : list of Tensor or array_like
        Each ``(L_i, *)`` with the same trailing shape ``*``.
    batch_first : bool
        Return ``(B, T, *)`` instead of ``(T, B, *)``, where ``T = max(L_i)``.
    padding_value : float
    padding_side : {"right", "left"}
        Where the padding goes in each sequence.

    Returns
    -------
    Tensor
        ``(T, B, *)`` or ``(B, T, *)``.
    """
    fn = "pad_sequence"
    if padding_side not in ("right", "left"):
        raise PackedSequenceError(f"{fn}: expected padding_side to be one of left or right, but got {padding_side!r}")
    sequences = [_as_tensor(s) for s in sequences]
    if not sequences:
        raise PackedSequenceError(f"{fn}: received an empty list of sequences")
    trailing = {s.shape[1:] for s in sequences}
    if any(s.ndim == 0 for s in sequences) or len(trailing) != 1:
        raise PackedSequenceError(f"{fn}: every sequence must be (L_i, *) with the same trailing shape, got shapes "
                                  f"{[s.shape for s in sequences]}")
    steps = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:
        padding = Tensor(np.full((steps - s.shape[0],) + s.shape[1:], padding_value, dtype=s.dtype))
        padded.append(concat([s, padding] if padding_side == "right" else [padding, s], axis=0))
    return stack(padded, axis=0 if batch_first else 1)


def pack_sequence(sequences, enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of sequences ``(L_i, *)``: `pad_sequence` then `pack_padded_sequence`.

    With `enforce_sorted`, the sequences must come in decreasing length.
    """
    sequences = [_as_tensor(s) for s in sequences]
    lengths = [s.shape[0] if s.ndim else 0 for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences, lengths, batch_first: bool = False) -> list:
    """The inverse of `pad_sequence`: a list of ``(L_i, *)`` tensors from a padded batch."""
    padded_sequences = _as_tensor(padded_sequences)
    lengths = _checked_lengths(lengths, "unpad_sequence")
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [padded_sequences[i, :int(length)] for i, length in enumerate(lengths)]


def unpack_sequence(packed_sequences: PackedSequence) -> list:
    """The inverse of `pack_sequence`: the list of ``(L_i, *)`` tensors, in the original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
