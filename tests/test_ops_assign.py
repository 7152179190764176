"""ops/assign.py: copy_ and fill_ differentiable in their source, seeded random fills, clone and casts in the graph.
(Version counters and in-place semantics are tested in tests/test_engine.py.)"""
import numpy as np
import pytest

import tinygrad_lstm as tl


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
