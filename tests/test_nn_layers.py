"""`tl.nn.Linear`, `Embedding` and `Dropout`: shapes, init, dtypes, gradients, padding_idx as PyTorch's."""
import numpy as np
import pytest

import tinygrad_lstm as tl


def test_linear_shapes_init_and_dtype():
    tl.manual_seed(2)
    linear = tl.nn.Linear(16, 3)
    assert linear.weight.shape == (3, 16) and linear.bias.shape == (3,)
    assert linear.weight.dtype == np.float32
    assert np.abs(linear.weight.data).max() <= 0.25 and np.abs(linear.bias.data).max() <= 0.25
    x = np.random.default_rng(0).standard_normal((2, 5, 16))
    np.testing.assert_allclose(linear(x).data, x.astype(np.float32) @ linear.weight.data.T + linear.bias.data,
                               rtol=1e-6)
    assert tl.nn.Linear(2, 3, bias=False).bias is None
    assert [n for n, _ in tl.nn.Linear(2, 3, bias=False).named_parameters()] == ["weight"]
    with pytest.raises(ValueError, match="in_features=16, got shape \\(2, 5\\)"):
        linear(np.ones((2, 5)))


def test_linear_gradcheck_float64():
    linear = tl.nn.Linear(3, 2, dtype=np.float64)
    x = tl.randn(4, 3, requires_grad=True)
    assert tl.gradcheck(lambda t: linear(t), [x])


def test_embedding_lookup_and_accumulated_gradient():
    embedding = tl.nn.Embedding(5, 2, dtype=np.float64)
    out = embedding(np.array([[1, 1], [4, 1]]))
    np.testing.assert_array_equal(out.data, embedding.weight.data[[[1, 1], [4, 1]]])
    out.sum().backward()
    np.testing.assert_array_equal(embedding.weight.grad[:, 0], [0, 3, 0, 0, 1])
    with pytest.raises(IndexError, match="index 5"):
        embedding([5])
    with pytest.raises(TypeError, match="integers"):
        embedding(np.array([0.5]))


@pytest.mark.parametrize("padding_idx", [0, 3, -1])
def test_embedding_padding_idx_matches_torch(padding_idx):
    torch = pytest.importorskip("torch")
    embedding = tl.nn.Embedding(5, 3, padding_idx=padding_idx, dtype=np.float64)
    row = padding_idx % 5
    assert embedding.padding_idx == row and not embedding.weight.data[row].any()
    assert repr(embedding) == f"Embedding(5, 3, padding_idx={row}, dtype=float64)"
    reference = torch.nn.Embedding(5, 3, padding_idx=padding_idx).double()
    reference.weight.data = torch.from_numpy(embedding.weight.data.copy())
    indices = np.array([[0, 4, 2], [3, 3, 1], [row, row, 0]])
    upstream = np.random.default_rng(0).standard_normal((3, 3, 3))
    (embedding(indices) * upstream).sum().backward()
    (reference(torch.from_numpy(indices)) * torch.from_numpy(upstream)).sum().backward()
    np.testing.assert_array_equal(embedding(indices).data, reference(torch.from_numpy(indices)).detach().numpy())
    np.testing.assert_allclose(embedding.weight.grad, reference.weight.grad.numpy(), rtol=1e-12)
    assert not embedding.weight.grad[row].any()


@pytest.mark.parametrize("padding_idx,error", [(5, ValueError), (-6, ValueError), (1.0, TypeError), (True, TypeError)])
def test_embedding_rejects_bad_padding_idx(padding_idx, error):
    with pytest.raises(error, match="Embedding: padding_idx"):
        tl.nn.Embedding(5, 3, padding_idx=padding_idx)


def test_dropout_train_eval_and_reproducible():
    dropout = tl.nn.Dropout(0.5)
    x = tl.ones(1000, dtype=np.float32)
    tl.manual_seed(3)
    first = dropout(x).data
    tl.manual_seed(3)
    np.testing.assert_array_equal(dropout(x).data, first)
    assert set(np.unique(first)) == {0.0, 2.0} and first.dtype == np.float32
    assert 400 < (first == 0).sum() < 600
    assert dropout.eval()(x) is x
    assert (tl.nn.Dropout(1.0)(x).data == 0).all()
    with pytest.raises(ValueError, match="\\[0, 1\\]"):
        tl.nn.Dropout(1.5)
