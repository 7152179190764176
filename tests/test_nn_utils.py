"""`tl.nn.utils`: gradient clipping against ``torch.nn.utils``, non-finite gradients included."""
import math
import warnings

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm.nn import utils as nn_utils

NAN, INF = math.nan, math.inf
# Each case: the gradients of three parameters (None: no gradient, skipped).
GRADIENTS = {
    "finite": [[0.3, -1.2, 2.0], [[0.5, 0.0], [-0.25, 4.0]], None],
    "small": [[1e-3, -2e-3, 0.0], [[0.0, 1e-4], [0.0, 0.0]], None],
    "zeros": [[0.0, 0.0, 0.0], [[0.0, 0.0], [0.0, 0.0]], None],
    "nan": [[0.3, NAN, 2.0], [[0.5, 0.0], [-0.25, 4.0]], None],
    "inf": [[0.3, INF, 2.0], [[0.5, 0.0], [-0.25, 4.0]], None],
    "minus_inf": [[0.3, -1.2, 2.0], [[0.5, 0.0], [-INF, 4.0]], None],
    "inf_and_nan": [[INF, -1.2, 2.0], [[0.5, NAN], [-0.25, 4.0]], None],
    "scalar_grad": [[0.3, -1.2, 2.0], [[0.5, 0.0], [-0.25, 4.0]], 7.0],
}
NORM_TYPES = [2.0, 1.0, 3.0, 0.5, INF, -INF, 0.0, -1.0, -2.0, "inf"]


def twins(torch, grads, dtype):
    """Parameters of ours and of PyTorch with the same gradients (``None`` stays without one)."""
    ours, theirs = [], []
    for g in grads:
        shape = np.shape(g) if g is not None else (2,)
        ours.append(tl.Tensor(np.zeros(shape, dtype), requires_grad=True))
        theirs.append(torch.zeros(shape, dtype=getattr(torch, np.dtype(dtype).name), requires_grad=True))
        if g is not None:
            ours[-1].grad = np.array(g, dtype)
            theirs[-1].grad = torch.tensor(np.array(g, dtype))
    return ours, theirs


def assert_same_grads(ours, theirs, exact):
    for p, tp in zip(ours, theirs):
        if tp.grad is None:
            assert p.grad is None
            continue
        expected = tp.grad.numpy()
        assert p.grad.dtype == expected.dtype and p.grad.shape == expected.shape
        if exact:
            np.testing.assert_array_equal(p.grad, expected)  # NaN where PyTorch has NaN, -0.0 == 0.0
        else:
            np.testing.assert_allclose(p.grad, expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("norm_type", NORM_TYPES, ids=str)
@pytest.mark.parametrize("case", list(GRADIENTS))
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torch(case, norm_type, max_norm, dtype):
    torch = pytest.importorskip("torch")
    ours, theirs = twins(torch, GRADIENTS[case], dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy RuntimeWarning leaks (inf * 0, 0 ** -1, ...)
        total = nn_utils.clip_grad_norm_(ours, max_norm, norm_type)
    torch_total = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert total.dtype == dtype and str(torch_total.dtype) == f"torch.{np.dtype(dtype).name}"
    np.testing.assert_allclose(total, torch_total.item(), rtol=1e-6 if dtype == np.float32 else 1e-12)
    assert math.isnan(total) == math.isnan(torch_total.item())
    assert_same_grads(ours, theirs, exact=not np.isfinite(total) or total <= max_norm)


@pytest.mark.parametrize("norm_type", [2.0, INF, 1.0])
@pytest.mark.parametrize("case", ["nan", "inf", "minus_inf", "inf_and_nan"])
def test_error_if_nonfinite_raises_like_torch_and_changes_nothing(case, norm_type):
    torch = pytest.importorskip("torch")
    ours, theirs = twins(torch, GRADIENTS[case], np.float64)
    before = [None if p.grad is None else p.grad.copy() for p in ours]
    with pytest.raises(RuntimeError, match="non-finite"):
        torch.nn.utils.clip_grad_norm_(theirs, 1.0, norm_type, error_if_nonfinite=True)
    with pytest.raises(RuntimeError, match=rf"clip_grad_norm_: the total norm of order {norm_type} of the gradients "
                                           r"is non-finite \((nan|inf)\), so they cannot be clipped"):
        nn_utils.clip_grad_norm_(ours, 1.0, norm_type, error_if_nonfinite=True)
    for p, b in zip(ours, before):
        np.testing.assert_array_equal(p.grad, b)
    assert_same_grads(ours, theirs, exact=True)  # PyTorch changed nothing either
    finite, _ = twins(torch, GRADIENTS["finite"], np.float64)
    assert nn_utils.clip_grad_norm_(finite, 1.0, norm_type, error_if_nonfinite=True) > 1


@pytest.mark.parametrize("foreach", [None, True, False])
def test_foreach_is_accepted_as_in_torch(foreach):
    torch = pytest.importorskip("torch")
    ours, theirs = twins(torch, GRADIENTS["finite"], np.float32)
    total = nn_utils.clip_grad_norm_(ours, 1.0, foreach=foreach)
    assert total == pytest.approx(torch.nn.utils.clip_grad_norm_(theirs, 1.0, foreach=foreach).item())
    assert_same_grads(ours, theirs, exact=False)
    nn_utils.clip_grad_value_(ours, 0.1, foreach=foreach)
    torch.nn.utils.clip_grad_value_(theirs, 0.1, foreach=foreach)
    assert_same_grads(ours, theirs, exact=False)


def test_mixed_dtypes_give_the_promoted_dtype_like_torch():
    torch = pytest.importorskip("torch")
    ours = [tl.Tensor(np.zeros(1, np.float32), requires_grad=True), tl.Tensor(np.zeros(1), requires_grad=True)]
    theirs = [torch.zeros(1, requires_grad=True), torch.zeros(1, dtype=torch.float64, requires_grad=True)]
    for p, tp, g in zip(ours, theirs, (3.0, 4.0)):
        p.grad = np.full(1, g, p.dtype)
        tp.grad = torch.full((1,), g, dtype=tp.dtype)
    total = nn_utils.clip_grad_norm_(ours, 1.0)
    torch_total = torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    assert total.dtype == np.float64 and torch_total.dtype == torch.float64 and total == torch_total.item()
    assert_same_grads(ours, theirs, exact=False)
    assert ours[0].grad.dtype == np.float32


def test_no_gradients_and_a_single_tensor():
    torch = pytest.importorskip("torch")
    w = tl.Tensor([0.0, 0.0], requires_grad=True)
    assert nn_utils.clip_grad_norm_([w], 1.0) == torch.nn.utils.clip_grad_norm_([], 1.0).item() == 0.0
    w.grad = [3.0, 4.0]  # set by hand as a list: clipped as an array of the parameter's dtype
    assert nn_utils.clip_grad_norm_(w, 1.0) == 5.0  # a single Tensor, as in PyTorch
    np.testing.assert_allclose(w.grad, np.array([3.0, 4.0]) / (5 + 1e-6), rtol=1e-12)  # torch's coefficient


def test_an_empty_generator_warns_like_torch():
    torch = pytest.importorskip("torch")
    with pytest.warns(UserWarning, match="`parameters` is an empty generator"):
        torch.nn.utils.clip_grad_norm_((p for p in []), 1.0)
    with pytest.warns(UserWarning, match="clip_grad_norm_: `parameters` is an empty generator"):
        assert nn_utils.clip_grad_norm_((p for p in []), 1.0) == 0.0
    model = tl.nn.Linear(2, 2)
    model(np.ones((1, 2))).sum().backward()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert nn_utils.clip_grad_norm_(model.parameters(), 1.0) > 0  # a generator with items: no warning


@pytest.mark.parametrize("norm_type", [INF, -INF, -1.0])
def test_norms_without_an_identity_of_an_empty_gradient_are_errors_as_in_torch(norm_type):
    torch = pytest.importorskip("torch")
    ours, theirs = twins(torch, [np.zeros(0), [3.0, 4.0]], np.float64)
    with pytest.raises(RuntimeError, match="empty tensor"):
        torch.nn.utils.clip_grad_norm_(theirs, 1.0, norm_type)
    with pytest.raises(ValueError, match=rf"clip_grad_norm_: cannot compute the {norm_type} norm of an empty "
                                         r"gradient \(shape \(0,\)\)"):
        nn_utils.clip_grad_norm_(ours, 1.0, norm_type)
    assert ours[1].grad.tolist() == [3.0, 4.0]
    for p in (0.0, 2.0):  # these have one
        ours, theirs = twins(torch, [np.zeros(0), [3.0, 4.0]], np.float64)
        assert nn_utils.clip_grad_norm_(ours, 1.0, p) == torch.nn.utils.clip_grad_norm_(theirs, 1.0, p).item()


def test_float32_gradients_are_summed_in_float64_so_large_ones_do_not_overflow():
    # PyTorch squares in float32 and gets inf here, zeroing every gradient; the true norm is 2e30.
    huge = tl.Tensor(np.zeros(4, dtype=np.float32), requires_grad=True)
    huge.grad = np.full(4, 1e30, dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        total = nn_utils.clip_grad_norm_([huge], 1.0)
    assert total.dtype == np.float32 and total == pytest.approx(2e30)
    np.testing.assert_allclose(huge.grad, 0.5, rtol=1e-6)
    assert huge.grad.dtype == np.float32


def test_get_total_norm_and_clip_grads_with_norm_match_torch():
    torch = pytest.importorskip("torch")
    ours, theirs = twins(torch, GRADIENTS["finite"], np.float64)
    grads = [p.grad for p in ours if p.grad is not None]
    for norm_type in (2.0, INF, 1.5):
        total = nn_utils.get_total_norm(grads, norm_type)
        torch_total = torch.nn.utils.get_total_norm([p.grad for p in theirs if p.grad is not None], norm_type)
        assert total == pytest.approx(torch_total.item(), rel=1e-12)
    assert nn_utils.get_total_norm(tl.Tensor([3.0, 4.0])) == 5.0  # a single tensor
    with pytest.raises(RuntimeError, match="get_total_norm: the total norm .* is non-finite"):
        nn_utils.get_total_norm([np.array([NAN])], error_if_nonfinite=True)
    nn_utils.clip_grads_with_norm_(ours, 1.0, total)
    torch.nn.utils.clip_grads_with_norm_(theirs, 1.0, torch_total)
    assert_same_grads(ours, theirs, exact=False)
    nn_utils.clip_grads_with_norm_(ours, 1.0, tl.Tensor(NAN))  # a 0-d Tensor, and NaN makes everything NaN
    torch.nn.utils.clip_grads_with_norm_(theirs, 1.0, torch.tensor(NAN))
    assert_same_grads(ours, theirs, exact=True)


def test_clip_grad_value_matches_torch_in_place():
    torch = pytest.importorskip("torch")
    ours, theirs = twins(torch, GRADIENTS["inf_and_nan"], np.float32)
    arrays = [p.grad for p in ours]
    nn_utils.clip_grad_value_(ours, 0.7)
    torch.nn.utils.clip_grad_value_(theirs, 0.7)
    assert all(p.grad is a for p, a in zip(ours, arrays))  # in place
    assert_same_grads(ours, theirs, exact=True)
    with pytest.raises(ValueError, match="clip_value must be non-negative"):
        nn_utils.clip_grad_value_(ours, -1.0)


def test_non_tensors_are_a_type_error():
    with pytest.raises(TypeError, match="clip_grad_norm_: parameters must be Tensors, got ndarray"):
        nn_utils.clip_grad_norm_([np.ones(2)], 1.0)
