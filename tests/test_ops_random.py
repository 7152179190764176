"""The random-mask ops: drawn inside an op (so tl.jit replays draw afresh), with the draws,
dtypes and statistics of the code they replaced."""
import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm.ops import DropoutMask, ZoneoutMask


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_mask_is_inverted_dropout_from_the_generator(dtype):
    mask = DropoutMask.apply(shape=(400, 50), p=0.3, dtype=dtype, generator=np.random.default_rng(5))
    expected = ((np.random.default_rng(5).random((400, 50)) >= 0.3) / 0.7).astype(dtype)
    assert mask.dtype == dtype and not mask.requires_grad and mask.grad_fn is None
    np.testing.assert_array_equal(mask.data, expected)
    assert set(np.unique(mask.data)) == {0, dtype(1 / 0.7)}
    assert abs((mask.data == 0).mean() - 0.3) < 0.01


def test_dropout_mask_draws_from_the_global_generator_as_it_is_now():
    tl.manual_seed(3)
    first = DropoutMask.apply(shape=(5,), p=0.5).data
    tl.manual_seed(3)  # a new global generator: the op looks it up when it runs
    np.testing.assert_array_equal(DropoutMask.apply(shape=(5,), p=0.5).data, first)
    later = [DropoutMask.apply(shape=(5,), p=0.5).data for _ in range(4)]
    assert any(not np.array_equal(mask, first) for mask in later)  # each run draws anew


def test_zoneout_masks_are_complementary():
    keep, change = ZoneoutMask.apply(shape=(300, 40), p=0.25, dtype=np.float32, generator=np.random.default_rng(1))
    expected = np.random.default_rng(1).random((300, 40)) < 0.25
    np.testing.assert_array_equal(keep.data, expected.astype(np.float32))
    np.testing.assert_array_equal(keep.data + change.data, np.ones((300, 40), np.float32))
    assert keep.dtype == change.dtype == np.float32 and abs(keep.data.mean() - 0.25) < 0.01


def test_dropout_keeps_its_numbers_and_its_gradient_is_the_mask():
    x = tl.Tensor(np.arange(1.0, 7.0).reshape(2, 3), requires_grad=True)
    out = tl.nn.functional.dropout(x, 0.5, generator=np.random.default_rng(0))
    keep = np.random.default_rng(0).random((2, 3)) >= 0.5
    np.testing.assert_array_equal(out.data, x.data * keep / 0.5)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, keep / 0.5)
