"""tl.nn.functional: float64 gradchecks, values and gradients against torch.nn.functional, errors."""
import itertools
import warnings

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm.nn import functional as F


def tensor(rng, *shape, dtype=np.float64, requires_grad=True):
    return tl.Tensor(rng.standard_normal(shape).astype(dtype), requires_grad=requires_grad)


def targets_for(rng, logits_shape, ignore_index=None, fraction_ignored=0.3):
    """Integer targets matching logits of `logits_shape`, some set to `ignore_index`."""
    n_classes = logits_shape[0] if len(logits_shape) == 1 else logits_shape[1]
    shape = () if len(logits_shape) == 1 else (logits_shape[0],) + tuple(logits_shape[2:])
    targets = rng.integers(0, n_classes, size=shape)
    if ignore_index is not None:
        targets = np.where(rng.random(shape) < fraction_ignored, ignore_index, targets)
    return targets


@pytest.fixture
def no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# --------------------------------------------------------------------------- gradcheck (float64)
def _ce_case(shape, **options):
    rng = np.random.default_rng(len(shape))
    targets = targets_for(rng, shape, options.get("ignore_index"))
    return lambda x: F.cross_entropy(x, targets, **options), shape


GRADCHECK_CASES = {
    "sigmoid": (F.sigmoid, (3, 4)),
    "tanh": (F.tanh, (3, 4)),
    "relu": (F.relu, (3, 4)),
    "softmax_last": (lambda x: F.softmax(x, -1), (3, 4)),
    "softmax_axis0": (lambda x: F.softmax(x, 0), (3, 4)),
    "softmax_axis1_3d": (lambda x: F.softmax(x, axis=1), (2, 3, 4)),
    "log_softmax_last": (lambda x: F.log_softmax(x, dim=-1), (3, 4)),
    "log_softmax_dim0": (lambda x: F.log_softmax(x, dim=0), (3, 4)),
    "log_softmax_1d": (lambda x: F.log_softmax(x, 0), (5,)),
    "dropout": (lambda x: F.dropout(x, 0.4, generator=np.random.default_rng(7)), (4, 5)),
    "mse_mean": (lambda x: F.mse_loss(x, np.linspace(-1, 1, 12).reshape(3, 4)), (3, 4)),
    "mse_none": (lambda x: F.mse_loss(x, np.zeros((3, 4)), reduction="none"), (3, 4)),
    "ce_2d": _ce_case((5, 4)),
    "ce_sum": _ce_case((5, 4), reduction="sum"),
    "ce_none_nd": _ce_case((3, 4, 2), reduction="none"),
    "ce_unbatched": _ce_case((4,)),
    "ce_weight_ignore_smooth": _ce_case((6, 3, 2), weight=np.array([0.2, 1.0, 3.0]), ignore_index=1,
                                        label_smoothing=0.3),
    "nll_2d": (lambda x: F.nll_loss(F.log_softmax(x, 1), np.array([0, 2, 1])), (3, 4)),
}


@pytest.mark.parametrize("name", GRADCHECK_CASES)
def test_gradcheck_float64(name):
    fn, shape = GRADCHECK_CASES[name]
    x = tensor(np.random.default_rng(0), *shape)
    assert tl.gradcheck(fn, (x,))


def test_gradcheck_mse_loss_target_gradient():
    rng = np.random.default_rng(1)
    assert tl.gradcheck(lambda a, b: F.mse_loss(a, b, reduction="sum"), (tensor(rng, 2, 3), tensor(rng, 2, 3)))


# --------------------------------------------------------------------------- against PyTorch
def assert_matches_torch(ours, theirs, inputs, torch_inputs, rng, dtype):
    """Equal values, and equal input gradients for one random upstream gradient."""
    torch = pytest.importorskip("torch")
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-5, atol=1e-6)
    assert ours.dtype == dtype
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), **tol)
    upstream = rng.standard_normal(ours.shape).astype(dtype)
    ours.backward(upstream)
    theirs.backward(torch.tensor(upstream))
    for mine, other in zip(inputs, torch_inputs):
        assert mine.grad.dtype == dtype
        np.testing.assert_allclose(mine.grad, other.grad.numpy(), **tol)


def as_torch(t):
    torch = pytest.importorskip("torch")
    return torch.tensor(t.data.copy(), requires_grad=True)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "softmax", "log_softmax"])
@pytest.mark.parametrize("shape, axis", [((7,), -1), ((3, 5), 0), ((3, 5), 1), ((2, 3, 4), 1)])
def test_elementwise_and_softmax_match_torch(name, shape, axis, dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    x = tensor(rng, *shape, dtype=dtype)
    x.data *= 5
    tx = as_torch(x)
    if name in ("softmax", "log_softmax"):
        ours, theirs = getattr(F, name)(x, axis), getattr(torch.nn.functional, name)(tx, dim=axis)
    else:
        ours, theirs = getattr(F, name)(x), getattr(torch, name)(tx)
    assert_matches_torch(ours, theirs, [x], [tx], rng, dtype)


CE_GRID = list(itertools.product(
    [(5, 4), (4,), (3, 4, 2), (2, 3, 2, 2)],   # logits shapes: (N, C), (C,), (N, C, d1), (N, C, d1, d2)
    ["mean", "sum", "none"],
    [False, True],                              # class weights
    [None, -100, 1],                            # ignore_index
    [0.0, 0.25],                                # label smoothing
))


@pytest.mark.parametrize("shape, reduction, weighted, ignore_index, smoothing", CE_GRID)
def test_cross_entropy_matches_torch(shape, reduction, weighted, ignore_index, smoothing):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(CE_GRID.index((shape, reduction, weighted, ignore_index, smoothing)))
    x = tensor(rng, *shape)
    targets = targets_for(rng, shape, ignore_index)
    n_classes = shape[0] if len(shape) == 1 else shape[1]
    weight = rng.random(n_classes) + 0.1 if weighted else None
    ours = F.cross_entropy(x, targets, weight, ignore_index=ignore_index, reduction=reduction,
                           label_smoothing=smoothing)
    tx = as_torch(x)
    theirs = torch.nn.functional.cross_entropy(
        tx, torch.tensor(targets), None if weight is None else torch.tensor(weight),
        ignore_index=-100 if ignore_index is None else ignore_index, reduction=reduction,
        label_smoothing=smoothing)
    assert ours.shape == tuple(theirs.shape)
    assert_matches_torch(ours, theirs, [x], [tx], rng, np.float64)


@pytest.mark.parametrize("shape, reduction, weighted, smoothing", list(itertools.product(
    [(5, 4), (4,), (3, 4, 2)], ["mean", "sum", "none"], [False, True], [0.0, 0.25])))
def test_cross_entropy_with_class_probabilities_matches_torch(shape, reduction, weighted, smoothing):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    x = tensor(rng, *shape)
    class_axis = 0 if len(shape) == 1 else 1
    probabilities = tl.Tensor(tl.Tensor(rng.standard_normal(shape)).softmax(class_axis).data, requires_grad=True)
    weight = rng.random(shape[class_axis]) + 0.1 if weighted else None
    ours = F.cross_entropy(input=x, target=probabilities, weight=weight, reduction=reduction,
                           label_smoothing=smoothing)
    tx, tp = as_torch(x), as_torch(probabilities)
    theirs = torch.nn.functional.cross_entropy(input=tx, target=tp, weight=None if weight is None else torch.tensor(weight),
                                               reduction=reduction, label_smoothing=smoothing)
    assert ours.shape == tuple(theirs.shape)
    assert_matches_torch(ours, theirs, [x, probabilities], [tx, tp], rng, np.float64)
    with pytest.raises(ValueError, match=r"cross_entropy: probability targets of shape \(2,\) do not match input"):
        F.cross_entropy(x, np.ones(2) / 2)  # neither the input's shape nor (N,)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_loss_and_float32_cross_entropy_match_torch(reduction):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x = tensor(rng, 6, 5, dtype=np.float32)
    targets = targets_for(rng, (6, 5), ignore_index=2)
    weight = np.linspace(0.5, 2.0, 5)
    tx = as_torch(x)
    ours = F.nll_loss(F.log_softmax(x, dim=1), targets, weight, ignore_index=2, reduction=reduction)
    theirs = torch.nn.functional.nll_loss(torch.log_softmax(tx, 1), torch.tensor(targets),
                                          torch.tensor(weight, dtype=torch.float32), ignore_index=2,
                                          reduction=reduction)
    assert_matches_torch(ours, theirs, [x], [tx], rng, np.float32)

    x.grad = None
    tx = as_torch(x)
    ours = F.cross_entropy(x, targets, weight, ignore_index=2, reduction=reduction, label_smoothing=0.1)
    theirs = torch.nn.functional.cross_entropy(tx, torch.tensor(targets), torch.tensor(weight, dtype=torch.float32),
                                               ignore_index=2, reduction=reduction, label_smoothing=0.1)
    assert_matches_torch(ours, theirs, [x], [tx], rng, np.float32)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss_matches_torch_for_input_and_target(reduction, dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    x, y = tensor(rng, 3, 4, dtype=dtype), tensor(rng, 3, 4, dtype=dtype)
    tx, ty = as_torch(x), as_torch(y)
    assert_matches_torch(F.mse_loss(x, y, reduction), torch.nn.functional.mse_loss(tx, ty, reduction=reduction),
                         [x, y], [tx, ty], rng, dtype)


def test_cross_entropy_with_nothing_counted_is_nan_with_zero_gradient_like_torch(no_warnings):
    torch = pytest.importorskip("torch")
    x = tl.Tensor(np.zeros((2, 3)), requires_grad=True)
    loss = F.cross_entropy(x, np.array([-100, -100]), ignore_index=-100)
    loss.backward()
    tx = torch.zeros(2, 3, dtype=torch.float64, requires_grad=True)
    torch_loss = torch.nn.functional.cross_entropy(tx, torch.tensor([-100, -100]))
    torch_loss.backward()
    assert np.isnan(loss.item()) and np.isnan(torch_loss.item())
    np.testing.assert_array_equal(x.grad, tx.grad.numpy())


def test_cross_entropy_ignores_torchs_padding_index_by_default():
    torch = pytest.importorskip("torch")
    logits, targets = np.random.default_rng(0).standard_normal((3, 4)), np.array([1, -100, 2])
    ours = F.cross_entropy(logits, targets)
    theirs = torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(targets))
    np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-12)


# --------------------------------------------------------------------------- stability and dtype
def test_extreme_float32_logits_give_exact_finite_results(no_warnings):
    logits = tl.Tensor(np.array([[1e4, -1e4, 0.0], [0.0, 0.0, -1e4]], dtype=np.float32), requires_grad=True)
    log_probs = F.log_softmax(logits, dim=1)
    ln2 = np.log(2.0)
    expected = np.array([[0, -2e4, -1e4], [-ln2, -ln2, -1e4 - ln2]]).astype(np.float32)
    np.testing.assert_array_equal(log_probs.data, expected)
    np.testing.assert_array_equal(F.softmax(logits, dim=1).data, np.array([[1, 0, 0], [0.5, 0.5, 0]], dtype=np.float32))
    loss = F.cross_entropy(logits, np.array([1, 2]), reduction="none")
    np.testing.assert_array_equal(loss.data, -expected[[0, 1], [1, 2]])
    loss.sum().backward()
    assert logits.grad.dtype == np.float32
    np.testing.assert_allclose(logits.grad, [[1, -1, 0], [0.5, 0.5, -1]])


@pytest.mark.parametrize("fn", [
    F.sigmoid, F.tanh, F.relu, lambda x: F.softmax(x, 1), lambda x: F.log_softmax(x, -1),
    lambda x: F.dropout(x, 0.5),
    lambda x: F.mse_loss(x, np.ones((4, 3))),
    lambda x: F.cross_entropy(x, np.array([0, 1, 2, 0]), np.ones(3)),
    lambda x: F.cross_entropy(x, np.array([0, 1, 2, 0]), label_smoothing=0.2, ignore_index=0),
])
def test_float32_stays_float32(fn):
    x = tensor(np.random.default_rng(5), 4, 3, dtype=np.float32)
    out = fn(x)
    assert out.dtype == np.float32
    out.sum().backward()
    assert x.grad.dtype == np.float32


@pytest.mark.parametrize("target", [np.ones(3), tl.Tensor(np.ones(3)), tl.Tensor(np.ones(3, np.int64))])
def test_mse_loss_keeps_the_inputs_float32_for_a_constant_target(target):
    x = tl.Tensor(np.zeros(3, np.float32), requires_grad=True)
    loss = F.mse_loss(x, target)
    loss.backward()
    assert loss.dtype == x.grad.dtype == np.float32
    assert loss.item() == 1.0


# --------------------------------------------------------------------------- dropout
def test_dropout_drops_the_right_fraction_and_scales_the_rest():
    x = tl.Tensor(np.full((200, 100), 2.0), requires_grad=True)
    out = F.dropout(x, 0.3, generator=np.random.default_rng(0))
    kept = out.data != 0
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(out.data[kept], 2.0 / 0.7)
    out.sum().backward()
    np.testing.assert_allclose(x.grad, np.where(kept, 1 / 0.7, 0))


def test_dropout_special_cases():
    x = tensor(np.random.default_rng(6), 3, 4)
    assert F.dropout(x, 0.0) is x
    assert F.dropout(x, 0.9, training=False) is x
    zeros = F.dropout(x, 1.0)
    np.testing.assert_array_equal(zeros.data, 0)
    zeros.sum().backward()
    np.testing.assert_array_equal(x.grad, 0)


def test_dropout_is_reproducible_across_dtypes_and_agrees_with_the_module():
    x64 = tensor(np.random.default_rng(8), 5, 6)
    x32 = tl.Tensor(x64.data.astype(np.float32))
    a = F.dropout(x64, 0.5, generator=np.random.default_rng(1))
    b = F.dropout(x32, 0.5, generator=np.random.default_rng(1))
    np.testing.assert_array_equal(a.data == 0, b.data == 0)
    tl.manual_seed(3)
    c = F.dropout(x64, 0.4)
    tl.manual_seed(3)
    np.testing.assert_array_equal(c.data, tl.nn.Dropout(0.4)(x64).data)


@pytest.mark.parametrize("p", [-0.1, 1.5, True, "0.5"])
def test_dropout_rejects_bad_probabilities(p):
    with pytest.raises(ValueError, match="dropout: probability"):
        F.dropout(tl.ones(2), p)


# --------------------------------------------------------------------------- errors
def test_shape_errors_name_the_function_and_the_shapes():
    x = tl.ones(4, 3)
    with pytest.raises(ValueError, match=r"mse_loss.*\(4, 3\).*\(3, 4\)"):
        F.mse_loss(x, np.ones((3, 4)))
    with pytest.raises(ValueError, match=r"cross_entropy.*\(3,\).*\(4, 3\)"):
        F.cross_entropy(x, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"nll_loss.*\(4, 1\).*\(4, 3\)"):
        F.nll_loss(x, np.zeros((4, 1), dtype=int))
    with pytest.raises(ValueError, match=r"cross_entropy: weight of shape \(2,\)"):
        F.cross_entropy(x, np.array([0, 1, 2, 0]), np.ones(2))
    with pytest.raises(ValueError, match=r"softmax: dim 2 is out of range.*\(4, 3\)"):
        F.softmax(x, 2)
    with pytest.raises(ValueError, match="class dimension"):
        F.cross_entropy(tl.Tensor(1.0), np.array(0))


def test_mse_loss_refuses_broadcasting_where_torch_only_warns():
    torch = pytest.importorskip("torch")
    with pytest.warns(UserWarning, match="different to the input size"):
        torch.nn.functional.mse_loss(torch.ones(3, 1), torch.ones(3))
    with pytest.raises(ValueError, match=r"mse_loss: input of shape \(3, 1\) and target of shape \(3,\) differ"):
        F.mse_loss(np.ones((3, 1)), np.ones(3))


@pytest.mark.parametrize("loss", [
    lambda r: F.mse_loss(tl.ones(2), np.ones(2), reduction=r),
    lambda r: F.cross_entropy(tl.ones(2, 3), np.array([0, 1]), reduction=r),
    lambda r: F.nll_loss(tl.ones(2, 3), np.array([0, 1]), reduction=r),
])
def test_bad_reduction_is_a_value_error(loss):
    with pytest.raises(ValueError, match="reduction must be 'mean', 'sum' or 'none', got 'avg'"):
        loss("avg")


def test_target_errors():
    x = tl.ones(2, 3)
    with pytest.raises(TypeError, match="integer class indices"):
        F.cross_entropy(x, np.array([0.0, 1.0]))
    with pytest.raises(IndexError, match="target 3 is out of bounds for 3 classes"):
        F.cross_entropy(x, np.array([0, 3]))
    with pytest.raises(IndexError, match="target -100 is out of bounds"):
        F.cross_entropy(x, np.array([0, -100]), ignore_index=None)  # None: nothing is ignored
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(x, np.array([0, 1]), label_smoothing=1.5)
    with pytest.raises(TypeError, match="log_softmax: got both dim and its numpy alias axis"):
        F.log_softmax(x, 0, axis=1)
    with pytest.raises(TypeError, match="floating-point"):
        F.softmax(tl.Tensor([1, 2]), dim=0)


def test_targets_may_be_tensors_or_lists():
    x = tensor(np.random.default_rng(9), 3, 4)
    expected = F.cross_entropy(x, np.array([1, 0, 3])).item()
    assert F.cross_entropy(x, tl.Tensor([1, 0, 3])).item() == expected
    assert F.cross_entropy(x, [1, 0, 3]).item() == expected


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softplus_at_extreme_inputs_is_torchs_without_warnings(dtype):
    torch = pytest.importorskip("torch")
    x = np.array([-1e30, -1e4, -88.0, -1e-8, 0.0, 19.99, 20.01, 89.0, 1e4, 3e38], dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = tl.Tensor(x, requires_grad=True)
        out = tl.nn.functional.softplus(t)
        out.sum().backward()
    x_torch = torch.tensor(x, requires_grad=True)
    out_torch = torch.nn.functional.softplus(x_torch)
    out_torch.sum().backward()
    assert out.dtype == dtype
    np.testing.assert_allclose(out.data, out_torch.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(t.grad, x_torch.grad.numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="softplus: beta must be a nonzero number, got 0"):
        tl.nn.functional.softplus(t, beta=0)
