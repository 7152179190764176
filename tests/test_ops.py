"""Every op of the op table (tests/op_table.py) against PyTorch and central differences.

For each row and sample, and each way of calling the op (method, function): the forward
values, shapes, dtypes and ``requires_grad`` of every output equal PyTorch's, in float32 and
float64; the gradients of every input equal PyTorch's and keep the input's dtype; the float64
gradients pass `tl.gradcheck` and their gradients `tl.gradgradcheck`; the second derivatives
(``create_graph=True``) and the forward-mode tangents (`tl.jvp`) equal PyTorch's; bad arguments raise the documented error type with a message
naming the op (and PyTorch rejects them too). Our side runs with warnings as errors, so no
numpy RuntimeWarning escapes an op, forward or backward.
"""
import warnings

import numpy as np
import pytest

import tinygrad_lstm as tl
from op_table import OPS, build, sample_arrays

CASES = [pytest.param(row, i, sample, id=f"{row.name}{sample!r}") for row in OPS for i, sample in enumerate(row.samples)]
GRADIENT_CASES = [case for case in CASES if case.values[0].differentiable]
GRADCHECK_CASES = [case for case in GRADIENT_CASES if case.values[2].gradcheck]
# Higher derivatives are compared where the op is smooth (not at kinks, ties or infinities). PyTorch's
# tangent of a reduction over nothing is 0/0; the double-vjp trick gives 0, so those are left out too.
DOUBLE_BACKWARD_CASES = [case for case in GRADCHECK_CASES if case.values[0].supports_double_backward]
FORWARD_AD_CASES = [case for case in GRADCHECK_CASES if case.values[0].supports_forward_ad
                    and not any(0 in a.shape for a in sample_arrays(*case.values[:3], np.float64))]
ERROR_CASES = [pytest.param(row, bad, id=f"{row.name}{bad.sample!r}") for row in OPS for bad in row.errors]
TOLERANCE = {np.float32: dict(rtol=2e-5, atol=1e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}


def _torch():
    return pytest.importorskip("torch")


def call(lib, row, index, sample, dtype, how):
    """Run one call of `row` in `lib` (tl or torch): ``(outputs as a flat list, leaf tensors)``."""
    torch = None if lib is tl else lib
    arrays = iter(sample_arrays(row, index, sample, dtype))
    leaves = []

    def leaf(_):
        data = next(arrays)
        tensor = tl.Tensor(data, requires_grad=True) if torch is None else torch.tensor(data, requires_grad=True)
        leaves.append(tensor)
        return tensor

    def constant(c):
        value = np.asarray(c.value)
        return tl.Tensor(value) if torch is None else torch.as_tensor(value)

    args, kwargs = build((sample.args, sample.kwargs), leaf, constant)
    if torch is not None and "dtype" in kwargs:
        kwargs["dtype"] = getattr(torch, np.dtype(kwargs["dtype"]).name)
    if torch is None:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            out = how(lib, *args, **kwargs)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. PyTorch's deprecation of .T on 1-d tensors
            out = how(lib, *args, **kwargs)
    return flatten(out), leaves


def flatten(out) -> list:
    if isinstance(out, (list, tuple)) or type(out).__module__ == "torch.return_types":
        return [t for item in out for t in flatten(item)]
    return [out]


def numpy_of(t):
    return t.data if isinstance(t, tl.Tensor) else t.detach().numpy()


def numpy_dtype(t):
    return t.dtype if isinstance(t, tl.Tensor) else t.detach().numpy().dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("row, index, sample", CASES)
def test_forward_matches_torch(row, index, sample, dtype):
    torch = _torch()
    for label, how in row.calls():
        ours, _ = call(tl, row, index, sample, dtype, how)
        theirs, _ = call(torch, row, index, sample, dtype, how)
        assert len(ours) == len(theirs), label
        for k, (a, b) in enumerate(zip(ours, theirs)):
            where = f"{label}: output {k}"
            assert isinstance(a, tl.Tensor), where
            assert a.shape == tuple(b.shape), where
            assert numpy_dtype(a) == numpy_dtype(b), where
            assert a.requires_grad == b.requires_grad, where
            np.testing.assert_allclose(a.data, numpy_of(b), equal_nan=True, err_msg=where, **TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("row, index, sample", GRADIENT_CASES)
def test_gradients_match_torch_and_keep_the_dtype(row, index, sample, dtype):
    torch = _torch()
    for label, how in row.calls():
        ours, leaves = call(tl, row, index, sample, dtype, how)
        theirs, leaves_t = call(torch, row, index, sample, dtype, how)
        rng = np.random.default_rng(index)
        pairs = [(a, b, rng.uniform(-1, 1, a.shape).astype(dtype)) for a, b in zip(ours, theirs) if b.requires_grad]
        assert pairs, f"{label}: no output requires grad"
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            tl.backward([a for a, _, _ in pairs], [g for _, _, g in pairs])
        torch.autograd.backward([b for _, b, _ in pairs], [torch.from_numpy(g) for _, _, g in pairs])
        for j, (a, b) in enumerate(zip(leaves, leaves_t)):
            where = f"{label}: gradient of input {j}"
            grad = np.zeros(a.shape, dtype) if a.grad is None else a.grad
            expected = np.zeros(a.shape, dtype) if b.grad is None else b.grad.numpy()
            assert grad.shape == a.shape and grad.dtype == dtype, where
            np.testing.assert_allclose(grad, expected, equal_nan=True, err_msg=where, **TOLERANCE[dtype])


@pytest.mark.parametrize("row, index, sample", GRADCHECK_CASES)
def test_gradcheck(row, index, sample):
    arrays = sample_arrays(row, index, sample, np.float64)
    leaves = [tl.Tensor(a, requires_grad=True) for a in arrays]
    label, how = row.calls()[0]

    def fn(*inputs):
        supply = iter(inputs)
        args, kwargs = build((sample.args, sample.kwargs), lambda _: next(supply), lambda c: tl.Tensor(np.asarray(c.value)))
        return tuple(flatten(how(tl, *args, **kwargs)))

    assert tl.gradcheck(fn, leaves)


@pytest.mark.parametrize("row, index, sample", DOUBLE_BACKWARD_CASES)
def test_gradgradcheck(row, index, sample):
    arrays = sample_arrays(row, index, sample, np.float64)
    label, how = row.calls()[0]

    def fn(*inputs):
        supply = iter(inputs)
        args, kwargs = build((sample.args, sample.kwargs), lambda _: next(supply), lambda c: tl.Tensor(np.asarray(c.value)))
        return tuple(o for o in flatten(how(tl, *args, **kwargs)) if o.requires_grad)

    assert tl.gradgradcheck(fn, [tl.Tensor(a, requires_grad=True) for a in arrays])


@pytest.mark.parametrize("row, index, sample", DOUBLE_BACKWARD_CASES)
def test_second_derivatives_match_torch(row, index, sample):
    """The gradient of ``<grad(outputs . u), v>`` with respect to the inputs, as PyTorch's."""
    torch = _torch()
    label, how = row.calls()[0]
    results = []
    for lib in (tl, torch):
        outputs, leaves = call(lib, row, index, sample, np.float64, how)
        rng = np.random.default_rng(index)
        pairs = [(o, rng.uniform(-1, 1, tuple(o.shape))) for o in outputs if o.requires_grad]
        grad = tl.grad if lib is tl else torch.autograd.grad
        cotangents = [u if lib is tl else torch.from_numpy(u) for _, u in pairs]
        with warnings.catch_warnings():
            warnings.simplefilter("error" if lib is tl else "ignore")
            grads = grad([o for o, _ in pairs], leaves, cotangents, create_graph=True, allow_unused=True)
            terms = [(g * (v if lib is tl else torch.from_numpy(v))).sum()
                     for g, v in zip(grads, (rng.uniform(-1, 1, tuple(x.shape)) for x in leaves)) if g is not None]
            total = sum(terms[1:], terms[0]) if terms else None
            if total is not None and total.requires_grad:
                total.backward()
        results.append([np.zeros(tuple(x.shape)) if x.grad is None else
                        x.grad if lib is tl else x.grad.numpy(force=True) for x in leaves])
    for j, (ours, theirs) in enumerate(zip(*results)):
        np.testing.assert_allclose(ours, theirs, equal_nan=True, err_msg=f"{label}: input {j}",
                                   **TOLERANCE[np.float64])


@pytest.mark.parametrize("row, index, sample", FORWARD_AD_CASES)
def test_forward_mode_matches_torch_func_jvp(row, index, sample):
    torch = _torch()
    label, how = row.calls()[0]
    arrays = sample_arrays(row, index, sample, np.float64)
    tangents = [np.random.default_rng(index + j).uniform(-1, 1, a.shape) for j, a in enumerate(arrays)]

    def function(lib):
        def fn(*inputs):
            supply = iter(inputs)
            constant = (lambda c: tl.Tensor(np.asarray(c.value))) if lib is tl else \
                (lambda c: torch.as_tensor(np.asarray(c.value)))
            args, kwargs = build((sample.args, sample.kwargs), lambda _: next(supply), constant)
            if lib is torch and "dtype" in kwargs:
                kwargs["dtype"] = getattr(torch, np.dtype(kwargs["dtype"]).name)
            return tuple(o for o in flatten(how(lib, *args, **kwargs))
                         if (o.dtype.kind == "f" if lib is tl else o.is_floating_point()))
        return fn

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        outputs, tangents_out = tl.jvp(function(tl), tuple(tl.Tensor(a) for a in arrays), tuple(tangents))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outputs_t, tangents_t = torch.func.jvp(function(torch), tuple(torch.from_numpy(a) for a in arrays),
                                               tuple(torch.from_numpy(t) for t in tangents))
    for k, (ours, theirs) in enumerate(zip(tangents_out, tangents_t)):
        np.testing.assert_allclose(ours, theirs.numpy(force=True), equal_nan=True, err_msg=f"{label}: output {k}",
                                   **TOLERANCE[np.float64])


@pytest.mark.parametrize("row, bad", ERROR_CASES)
def test_bad_arguments_raise_a_clear_error(row, bad):
    for label, how in row.calls():
        with pytest.raises(bad.error, match=bad.match):
            call(tl, row, 0, bad.sample, np.float64, how)
    if bad.torch_raises:
        torch = _torch()
        for label, how in row.calls():
            with pytest.raises(Exception):
                call(torch, row, 0, bad.sample, np.float64, how)


def test_every_op_class_is_in_the_table():
    """Each primitive op is reached by at least one row (a new op is a new row)."""
    torch = _torch()
    reached = set()
    for row in OPS:
        for index, sample in enumerate(row.samples):
            for label, how in row.calls():
                outputs, _ = call(tl, row, index, sample, np.float64, how)
                graph = tl.walk_graph([o for o in outputs if o.requires_grad])
                reached.update(type(node) for node in graph.nodes)
    ops = {cls for cls in vars(tl.ops).values() if isinstance(cls, type) and issubclass(cls, tl.Function)}
    assert torch
    # fills and casts are tested in tests/test_ops_assign.py; PlaceAt is GetItem's vjp, run by the second derivatives;
    # the random masks take no tensor (no graph): tests/test_ops_random.py
    assert not {cls.__name__ for cls in ops - reached} - {"Copy", "Cast", "PlaceAt", "DropoutMask", "ZoneoutMask"}
