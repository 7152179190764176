"""tl.autograd.functional against torch.autograd.functional: same results, same nesting, same errors."""
import numpy as np
import pytest

import tinygrad_lstm as tl

torch = pytest.importorskip("torch")
TF = torch.autograd.functional
F = tl.autograd.functional

rng = np.random.default_rng(0)
A, B = rng.standard_normal(3), rng.standard_normal((2, 3))


def same(mine, theirs):
    if isinstance(theirs, (tuple, list)):  # PyTorch's forward mode nests in lists, ours in tuples as elsewhere
        assert isinstance(mine, tuple) and len(mine) == len(theirs)
        for m, t in zip(mine, theirs):
            same(m, t)
    else:
        assert isinstance(mine, tl.Tensor) and mine.shape == tuple(theirs.shape)
        np.testing.assert_allclose(mine.data, theirs.detach().numpy(), rtol=1e-12, atol=1e-14)


def ours(*arrays):
    return tuple(tl.Tensor(a) for a in arrays) if len(arrays) > 1 else tl.Tensor(arrays[0])


def theirs(*arrays):
    return tuple(torch.tensor(a) for a in arrays) if len(arrays) > 1 else torch.tensor(arrays[0])


def elementwise(x):
    return x.tanh() * x


def two_in_two_out(x, w):
    return (w @ x).sigmoid(), x * 2


def scalar(x):
    return (x ** 3).sum() + (x.tanh() * x).sum()


def scalar_of_two(x, w):
    return ((w @ x).tanh() ** 2).sum() + (x * x).sum()


@pytest.mark.parametrize("fn, arrays", [(elementwise, (A,)), (two_in_two_out, (A, B))])
def test_jacobian(fn, arrays):
    same(F.jacobian(fn, ours(*arrays)), TF.jacobian(fn, theirs(*arrays)))


@pytest.mark.parametrize("fn, arrays", [(scalar, (A,)), (scalar_of_two, (A, B))])
def test_hessian_hvp_vhp(fn, arrays):
    same(F.hessian(fn, ours(*arrays)), TF.hessian(fn, theirs(*arrays)))
    same(F.hvp(fn, ours(*arrays), ours(*arrays)), TF.hvp(fn, theirs(*arrays), theirs(*arrays)))
    same(F.vhp(fn, ours(*arrays), ours(*arrays)), TF.vhp(fn, theirs(*arrays), theirs(*arrays)))


@pytest.mark.parametrize("fn, arrays", [(elementwise, (A,)), (two_in_two_out, (A, B)), (scalar, (A,))])
def test_jacobian_forward_mode_and_hessian_outer_forward_mode_as_pytorch(fn, arrays):
    same(F.jacobian(fn, ours(*arrays), strategy="forward-mode", vectorize=True),
         TF.jacobian(fn, theirs(*arrays), strategy="forward-mode", vectorize=True))
    with pytest.raises(NotImplementedError, match="jacobian: strategy='forward-mode' needs vectorize=True"):
        F.jacobian(fn, ours(*arrays), strategy="forward-mode")
    with pytest.raises(NotImplementedError, match="jacobian: strategy='forward-mode' supports neither create_graph"):
        F.jacobian(fn, ours(*arrays), create_graph=True, strategy="forward-mode", vectorize=True)
    with pytest.raises(ValueError, match="jacobian: strategy must be 'forward-mode' or 'reverse-mode', got 'sideways'"):
        F.jacobian(fn, ours(*arrays), strategy="sideways")
    same(F.hessian(scalar_of_two, ours(A, B), outer_jacobian_strategy="forward-mode", vectorize=True),
         TF.hessian(scalar_of_two, theirs(A, B), outer_jacobian_strategy="forward-mode", vectorize=True))


def test_vjp_and_jvp():
    same(F.vjp(elementwise, ours(A), ours(A)), TF.vjp(elementwise, theirs(A), theirs(A)))
    same(F.jvp(two_in_two_out, ours(A, B), ours(A, B)), TF.jvp(two_in_two_out, theirs(A, B), theirs(A, B)))
    same(F.vjp(two_in_two_out, ours(A, B), (tl.ones(2), tl.ones(3))),
         TF.vjp(two_in_two_out, theirs(A, B), (torch.ones(2, dtype=torch.float64), torch.ones(3, dtype=torch.float64))))


def test_outputs_that_ignore_the_inputs_give_zeros_or_raise_in_strict_mode():
    constant = lambda x: tl.zeros(2)  # noqa: E731
    same(F.jacobian(constant, ours(A)), TF.jacobian(lambda x: torch.zeros(2, dtype=torch.float64), theirs(A)))
    with pytest.raises(RuntimeError, match="does not require grad"):
        F.jacobian(constant, ours(A), strict=True)
    with pytest.raises(RuntimeError, match="do not depend on input 1"):
        F.vjp(lambda x, y: x * 2, ours(A, A), tl.ones(3), strict=True)


def test_bad_arguments():
    with pytest.raises(RuntimeError, match="v can be None only"):
        F.vjp(elementwise, ours(A))
    with pytest.raises(RuntimeError, match="single Tensor with a single element"):
        F.hvp(elementwise, ours(A), ours(A))
    with pytest.raises(ValueError, match=r"v 0 has shape \(2,\), expected \(3,\)"):
        F.jvp(elementwise, ours(A), tl.ones(2))
    with pytest.raises(TypeError, match="inputs must be a Tensor"):
        F.jacobian(elementwise, [A])


def test_inputs_keep_their_grad_and_create_graph_differentiates_again():
    x = tl.Tensor(A, requires_grad=True)
    x.grad = np.full(3, 7.0)
    hessian = F.hessian(scalar, x)
    assert not hessian.requires_grad and np.array_equal(x.grad, np.full(3, 7.0))
    hessian = F.hessian(scalar, x, create_graph=True)
    assert hessian.requires_grad
    (third,) = tl.grad(hessian.sum(), x)
    x_t = torch.tensor(A, requires_grad=True)
    (third_t,) = torch.autograd.grad(TF.hessian(scalar, x_t, create_graph=True).sum(), x_t)
    np.testing.assert_allclose(third.data, third_t.numpy(), rtol=1e-12)


def test_hessian_of_an_lstm_cell_loss_matches_torch():
    tl.manual_seed(0)
    cell = tl.nn.LSTMCell(2, 3, dtype=np.float64)
    x, h, c = rng.standard_normal((2, 2)), rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    weight_hh = cell.weight_hh.data.copy()

    def loss(w):
        object.__setattr__(cell, "weight_hh", w)  # the cell computes with the input in place of its weight
        h_next, c_next = cell(tl.Tensor(x), (tl.Tensor(h), tl.Tensor(c)))
        return (h_next * c_next).sum()

    mine = F.hessian(loss, tl.Tensor(weight_hh))
    twin = torch.nn.LSTMCell(2, 3, dtype=torch.float64)
    with torch.no_grad():
        for name in ("weight_ih", "bias_ih", "bias_hh"):
            getattr(twin, name).copy_(torch.tensor(getattr(cell, name).data))

    def loss_t(w):
        h_next, c_next = torch.func.functional_call(twin, {"weight_hh": w}, (torch.tensor(x), (torch.tensor(h),
                                                                                               torch.tensor(c))))
        return (h_next * c_next).sum()

    same(mine, TF.hessian(loss_t, torch.tensor(weight_hh)))
