"""tl.optim: trajectories against torch.optim, checkpoints, validation, short fits."""

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm.nn import functional as F
from tinygrad_lstm.nn import utils as nn_utils

SHAPES = [(3,), (2, 4), ()]
N_STEPS = 6


def make_params(dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [tl.Tensor(rng.standard_normal(shape).astype(dtype), requires_grad=True) for shape in SHAPES]


def synthetic_grads(n_steps, dtype, seed=1):
    """One gradient per parameter per step; parameter 1 has none at step 2 (it must be skipped)."""
    rng = np.random.default_rng(seed)
    grads = [[rng.standard_normal(shape).astype(dtype) for shape in SHAPES] for _ in range(n_steps)]
    if n_steps > 2:
        grads[2][1] = None
    return grads


def set_grads(params, grads, torch_params=None):
    for i, g in enumerate(grads):
        params[i].grad = None if g is None else g.copy()
        if torch_params is not None:
            import torch
            torch_params[i].grad = None if g is None else torch.tensor(g)


def tolerance(dtype):
    return dict(rtol=1e-12, atol=1e-14) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-6)


CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.5)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, weight_decay=0.1, maximize=True)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.1, betas=(0.5, 0.9), eps=1e-3)),
    ("Adam", dict(lr=0.1, betas=(0.3, 0.6))),  # beta1 < 0.5: the other branch of the moving-average update
    ("Adam", dict(lr=0.1, weight_decay=0.1)),
    ("Adam", dict(lr=0.1, weight_decay=0.1, decoupled_weight_decay=True)),
    ("Adam", dict(lr=0.1, amsgrad=True, maximize=True)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.5, eps=1e-6)),
    ("Adagrad", dict(lr=0.1, maximize=True)),
]


# --------------------------------------------------------------------------- against torch.optim
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name, options", CONFIGS)
def test_trajectory_and_state_match_torch(name, options, dtype):
    torch = pytest.importorskip("torch")
    params = make_params(dtype)
    torch_params = [torch.tensor(p.data.copy(), requires_grad=True) for p in params]
    ours = getattr(tl.optim, name)(params, **options)
    theirs = getattr(torch.optim, name)(torch_params, **options)
    for grads in synthetic_grads(N_STEPS, dtype):
        set_grads(params, grads, torch_params)
        ours.step()
        theirs.step()
        for p, tp in zip(params, torch_params):
            assert p.dtype == dtype and p.is_leaf
            np.testing.assert_allclose(p.data, tp.detach().numpy(), **tolerance(dtype))
    for p, tp in zip(params, torch_params):
        theirs_state = theirs.state[tp]
        assert set(ours.state[p]) == set(theirs_state)
        for key, value in theirs_state.items():
            if key == "step":
                assert ours.state[p]["step"] == int(value.item())
            else:
                assert ours.state[p][key].dtype == dtype
                np.testing.assert_allclose(ours.state[p][key], value.numpy(), **tolerance(dtype))


def test_param_groups_and_changing_lr_between_steps_match_torch():
    torch = pytest.importorskip("torch")
    params = make_params(np.float64)
    torch_params = [torch.tensor(p.data.copy(), requires_grad=True) for p in params]

    def groups(ps):
        return [{"params": ps[:2], "lr": 0.2}, {"params": [ps[2]], "momentum": 0.5, "nesterov": True}]

    ours = tl.optim.SGD(groups(params), lr=0.05, momentum=0.9)
    theirs = torch.optim.SGD(groups(torch_params), lr=0.05, momentum=0.9)
    assert [g["lr"] for g in ours.param_groups] == [0.2, 0.05]
    assert [g["momentum"] for g in ours.param_groups] == [0.9, 0.5]
    for step, grads in enumerate(synthetic_grads(N_STEPS, np.float64)):
        if step == 3:  # what a learning-rate scheduler does
            for optimizer in (ours, theirs):
                for group in optimizer.param_groups:
                    group["lr"] *= 0.1
        set_grads(params, grads, torch_params)
        ours.step()
        theirs.step()
    for p, tp in zip(params, torch_params):
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-12, atol=1e-14)


# --------------------------------------------------------------------------- checkpoints
RESUME_CONFIGS = [
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.99), amsgrad=True)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1)),
]


@pytest.mark.parametrize("writer", ["numpy", "tl"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, options", RESUME_CONFIGS)
def test_resuming_from_a_checkpoint_equals_an_uninterrupted_run(tmp_path, name, options, dtype, writer):
    cls = getattr(tl.optim, name)
    grads = synthetic_grads(10, dtype)
    uninterrupted = make_params(dtype)
    optimizer = cls(uninterrupted, **options)
    for g in grads:
        set_grads(uninterrupted, g)
        optimizer.step()

    first = make_params(dtype)
    optimizer = cls(first, **options)
    for g in grads[:4]:
        set_grads(first, g)
        optimizer.step()
    path = tmp_path / "optimizer.npz"
    if writer == "numpy":
        np.savez(path, **optimizer.state_dict())
        saved = np.load(path)
    else:
        tl.save(optimizer.state_dict(), path)
        saved = tl.load(path)
    del optimizer

    resumed = [tl.Tensor(p.data.copy(), requires_grad=True) for p in first]
    optimizer = cls(resumed, lr=123.0)  # the options come from the checkpoint
    optimizer.load_state_dict(saved)
    assert optimizer.param_groups[0]["lr"] == options["lr"]
    for g in grads[4:]:
        set_grads(resumed, g)
        optimizer.step()
    for a, b in zip(uninterrupted, resumed):
        assert b.dtype == dtype
        np.testing.assert_array_equal(a.data, b.data)


def test_state_dict_is_a_flat_numeric_snapshot():
    params = make_params(np.float32)
    optimizer = tl.optim.Adam([{"params": params[:2]}, {"params": params[2:], "lr": 0.5}], betas=(0.8, 0.9))
    set_grads(params, [np.ones(s, dtype=np.float32) for s in SHAPES])
    optimizer.step()
    state = optimizer.state_dict()
    assert all(isinstance(v, np.ndarray) and v.dtype.kind in "fiub" for v in state.values())
    np.testing.assert_array_equal(state["param_groups.0.params"], [0, 1])
    np.testing.assert_array_equal(state["param_groups.1.params"], [2])
    np.testing.assert_array_equal(state["param_groups.0.betas"], [0.8, 0.9])
    assert state["param_groups.1.lr"] == 0.5 and state["state.2.step"] == 1
    assert state["state.1.exp_avg"].shape == (2, 4) and state["state.1.exp_avg"].dtype == np.float32
    snapshot = {k: v.copy() for k, v in state.items()}
    optimizer.step()
    for key, value in snapshot.items():
        np.testing.assert_array_equal(state[key], value)


def test_loaded_options_are_python_values_and_keep_float32():
    params = make_params(np.float32)
    source = tl.optim.Adam(params, lr=0.01, betas=(0.5, 0.75), amsgrad=True)
    target = tl.optim.Adam(params)
    target.load_state_dict(source.state_dict())
    group = target.param_groups[0]
    assert type(group["lr"]) is float and group["betas"] == (0.5, 0.75) and group["amsgrad"] is True
    set_grads(params, [np.ones(s, dtype=np.float32) for s in SHAPES])
    target.step()
    assert all(p.dtype == np.float32 for p in params)
    assert all(v.dtype == np.float32 for p in params for k, v in target.state[p].items() if k != "step")


def test_a_failed_load_changes_nothing():
    params = make_params(np.float64)
    optimizer = tl.optim.SGD(params, lr=0.1, momentum=0.9)
    set_grads(params, [np.ones(s) for s in SHAPES])
    optimizer.step()
    good = optimizer.state_dict()

    def broken(**changes):
        state = dict(good)
        for key, value in changes.items():
            if value is None:
                del state[key.replace("__", ".")]
            else:
                state[key.replace("__", ".")] = value
        return state

    cases = [
        (ValueError, "parameter groups", broken(**{"param_groups__1__lr": np.array(0.1)})),
        (ValueError, "has 2 parameters", broken(param_groups__0__params=np.array([0, 1]))),
        (ValueError, r"shape \(3,\) but parameter 1 has shape \(2, 4\)", broken(state__1__momentum_buffer=np.ones(3))),
        (KeyError, "missing options", broken(param_groups__0__momentum=None)),
        (KeyError, "unknown state 'exp_avg'", broken(state__0__exp_avg=np.ones(3))),
        (KeyError, "unexpected key", broken(momentum=np.array(0.5))),
        (ValueError, "Invalid learning rate", broken(param_groups__0__lr=np.array(-1.0))),
    ]
    for error, message, state in cases:
        state = {k: (v * 7 if k.startswith("state.") else v) for k, v in state.items()}
        with pytest.raises(error, match=message):
            optimizer.load_state_dict(state)
        after = optimizer.state_dict()
        assert after.keys() == good.keys()
        for key in good:
            np.testing.assert_array_equal(after[key], good[key])
    with pytest.raises(KeyError, match="missing options"):
        tl.optim.Adam(params).load_state_dict(good)  # an SGD checkpoint


# --------------------------------------------------------------------------- behaviour
def test_step_updates_in_place_without_graph_and_skips_missing_grads():
    params = make_params(np.float64)
    arrays = [p.data for p in params]
    before = [a.copy() for a in arrays]
    optimizer = tl.optim.Adam(params, lr=0.1)
    params[0].grad = np.ones(3)
    optimizer.step()
    assert all(p.data is a for p, a in zip(params, arrays))
    assert all(p.is_leaf and p.grad_fn is None for p in params)
    assert not np.array_equal(params[0].data, before[0])
    for p, b in zip(params[1:], before[1:]):
        np.testing.assert_array_equal(p.data, b)
        assert not optimizer.state.get(p)


def test_a_gradient_of_the_wrong_shape_is_rejected_before_any_update():
    params = make_params(np.float64)
    before = [p.data.copy() for p in params]
    optimizer = tl.optim.SGD(params, lr=0.1)
    params[0].grad = np.ones(3)
    params[1].grad = np.ones((4, 2))
    with pytest.raises(ValueError, match=r"SGD.step: a parameter of shape \(2, 4\) has a gradient of shape \(4, 2\)"):
        optimizer.step()
    for p, b in zip(params, before):
        np.testing.assert_array_equal(p.data, b)


def test_closure_is_evaluated_before_the_update():
    w = tl.Tensor([3.0], requires_grad=True)
    optimizer = tl.optim.SGD([w], lr=0.25)

    def closure():
        optimizer.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with tl.no_grad():
        loss = optimizer.step(closure)
    assert loss.item() == 9.0
    np.testing.assert_array_equal(w.data, [1.5])


def test_optimises_module_parameters_from_a_generator():
    layer = tl.nn.Linear(3, 2)
    optimizer = tl.optim.Adam(layer.parameters(), lr=0.1)
    assert len(optimizer.param_groups[0]["params"]) == 2
    before = [p.data.copy() for p in layer.parameters()]
    layer(np.ones((4, 3), dtype=np.float32)).sum().backward()
    optimizer.step()
    for p, b in zip(layer.parameters(), before):
        assert isinstance(p, tl.nn.Parameter) and p.dtype == np.float32
        assert not np.array_equal(p.data, b)


def test_repr_lists_each_group():
    text = repr(tl.optim.SGD(make_params(np.float64), lr=0.5, momentum=0.9))
    assert text.startswith("SGD (") and "Parameter Group 0" in text and "lr: 0.5" in text


# --------------------------------------------------------------------------- validation
@pytest.mark.parametrize("make, error, message", [
    (lambda ps: tl.optim.SGD(ps, lr=-1), ValueError, "SGD: Invalid learning rate: -1"),
    (lambda ps: tl.optim.SGD(ps, lr=float("nan")), ValueError, "Invalid learning rate: nan"),
    (lambda ps: tl.optim.SGD(ps, lr="0.1"), TypeError, "lr must be a real number"),
    (lambda ps: tl.optim.SGD(ps, momentum=-0.5), ValueError, "Invalid momentum value: -0.5"),
    (lambda ps: tl.optim.SGD(ps, weight_decay=-1e-3), ValueError, "Invalid weight_decay value"),
    (lambda ps: tl.optim.SGD(ps, nesterov=True), ValueError, "Nesterov momentum requires a momentum"),
    (lambda ps: tl.optim.SGD(ps, momentum=0.9, dampening=0.1, nesterov=True), ValueError, "zero dampening"),
    (lambda ps: tl.optim.SGD([{"params": ps, "lr": -2.0}], lr=0.1), ValueError, "Invalid learning rate: -2.0"),
    (lambda ps: tl.optim.Adam(ps, lr=-1), ValueError, "Adam: Invalid learning rate: -1"),
    (lambda ps: tl.optim.Adam(ps, eps=-1e-8), ValueError, "Invalid epsilon value"),
    (lambda ps: tl.optim.Adam(ps, betas=(1.0, 0.9)), ValueError, "Invalid beta parameter at index 0: 1.0"),
    (lambda ps: tl.optim.Adam(ps, betas=(0.9, -0.1)), ValueError, "Invalid beta parameter at index 1: -0.1"),
    (lambda ps: tl.optim.Adam(ps, betas=0.9), TypeError, "betas must be a pair"),
    (lambda ps: tl.optim.Adam(ps, weight_decay=-1), ValueError, "Invalid weight_decay value"),
    (lambda ps: tl.optim.Adagrad(ps, lr=-1), ValueError, "Adagrad: Invalid learning rate: -1"),
    (lambda ps: tl.optim.Adagrad(ps, lr_decay=-1), ValueError, "Invalid lr_decay value"),
    (lambda ps: tl.optim.Adagrad(ps, initial_accumulator_value=-1), ValueError,
     "Invalid initial_accumulator_value value"),
    (lambda ps: tl.optim.Adagrad(ps, eps=-1), ValueError, "Invalid epsilon value"),
    (lambda ps: tl.optim.SGD(ps[0]), TypeError, "iterable of Tensors or dicts"),
    (lambda ps: tl.optim.SGD([]), ValueError, "empty parameter list"),
    (lambda ps: tl.optim.SGD(iter([])), ValueError, "empty parameter list"),
    (lambda ps: tl.optim.SGD([np.ones(3)]), TypeError, "can only optimise Tensors"),
    (lambda ps: tl.optim.SGD([ps[0] * 2]), ValueError, "non-leaf"),
    (lambda ps: tl.optim.SGD([tl.Tensor([1, 2])]), TypeError, "floating-point"),
    (lambda ps: tl.optim.SGD([ps[0], ps[0]]), ValueError, "same parameter twice"),
    (lambda ps: tl.optim.SGD([{"params": ps[:2]}, {"params": ps[1:]}]), ValueError, "more than one parameter group"),
    (lambda ps: tl.optim.SGD(set(ps)), TypeError, "not a set"),
    (lambda ps: tl.optim.SGD([{"lr": 0.1}]), KeyError, "no 'params'"),
])
def test_invalid_arguments_are_rejected_like_torch(make, error, message):
    with pytest.raises(error, match=message):
        make(make_params(np.float64))


# --------------------------------------------------------------------------- two layers, groups and checkpoints against torch
def optimiser_twins(torch, name, **options):
    tl.manual_seed(0)
    first, second = tl.nn.Linear(3, 2, dtype=np.float64), tl.nn.Linear(2, 1, dtype=np.float64)
    torch_first, torch_second = torch.nn.Linear(3, 2).double(), torch.nn.Linear(2, 1).double()
    for ours, theirs in [(first, torch_first), (second, torch_second)]:
        theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    groups = lambda a, b: [{"params": list(a.parameters())}, {"params": list(b.parameters()), "lr": 0.05}]
    return ((first, second, getattr(tl.optim, name)(groups(first, second), **options)),
            (torch_first, torch_second, getattr(torch.optim, name)(groups(torch_first, torch_second), **options)))


@pytest.mark.parametrize("name, options", [
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("Adam", dict(lr=0.1, amsgrad=True, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01)),
])
def test_optimisers_match_torch_with_groups_missing_grads_and_an_lr_change(name, options):
    torch = pytest.importorskip("torch")
    (first, second, optimiser), (torch_first, torch_second, torch_optimiser) = optimiser_twins(torch, name, **options)
    x = np.random.default_rng(0).standard_normal((4, 3))
    for step in range(6):
        optimiser.zero_grad()
        torch_optimiser.zero_grad()
        if step == 2:  # only the second layer gets gradients: the first's grads are None and it must not move
            loss = (second(tl.Tensor(x[:, :2])) ** 2).sum()
            torch_loss = (torch_second(torch.from_numpy(x[:, :2])) ** 2).sum()
        else:
            loss = (second(first(x)) ** 2).sum()
            torch_loss = (torch_second(torch_first(torch.from_numpy(x))) ** 2).sum()
        loss.backward()
        torch_loss.backward()
        if step == 3:
            optimiser.param_groups[0]["lr"] = torch_optimiser.param_groups[0]["lr"] = 0.2
        optimiser.step()
        torch_optimiser.step()
    ours = [p.data for m in (first, second) for p in m.parameters()]
    theirs = [p.detach().numpy() for m in (torch_first, torch_second) for p in m.parameters()]
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ["SGD", "Adam", "Adagrad"])
def test_optimiser_state_dict_round_trips_through_tl_save(tmp_path, name):
    torch = pytest.importorskip("torch")
    options = dict(lr=0.1, momentum=0.9) if name == "SGD" else dict(lr=0.1)
    (first, second, optimiser), _ = optimiser_twins(torch, name, **options)
    x = np.random.default_rng(0).standard_normal((4, 3))
    for _ in range(2):
        optimiser.zero_grad()
        (second(first(x)) ** 2).sum().backward()
        optimiser.step()
    tl.save(optimiser.state_dict(), tmp_path / "optimiser.npz")
    restored = getattr(tl.optim, name)([{"params": list(first.parameters())},
                                        {"params": list(second.parameters()), "lr": 0.05}], **options)
    restored.load_state_dict(tl.load(tmp_path / "optimiser.npz"))
    saved, again = optimiser.state_dict(), restored.state_dict()
    assert sorted(saved) == sorted(again)
    assert all(np.array_equal(saved[k], again[k]) and saved[k].dtype == again[k].dtype for k in saved)
    assert restored.param_groups[1]["lr"] == 0.05


def test_zero_grad_keeps_or_drops_the_gradient_arrays():
    w = tl.Tensor(np.ones(2, np.float32), requires_grad=True)
    optimiser = tl.optim.SGD([w], lr=0.1)
    w.grad = grad = np.ones(2, np.float32)
    optimiser.zero_grad(set_to_none=False)
    assert w.grad is grad and not grad.any()
    w.grad = [1.0, 2.0]  # set by hand as a list
    optimiser.zero_grad(set_to_none=False)
    assert isinstance(w.grad, np.ndarray) and w.grad.dtype == np.float32 and not w.grad.any()
    optimiser.zero_grad()
    assert w.grad is None


# --------------------------------------------------------------------------- short fits
def test_linear_regression_with_adam_cuts_the_loss_100_fold_in_200_steps():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3)).astype(np.float32)
    y = (x @ np.array([[1.5], [-2.0], [0.5]]) + 0.3).astype(np.float32)
    weight = tl.Tensor(np.zeros((3, 1), dtype=np.float32), requires_grad=True)
    bias = tl.Tensor(np.zeros(1, dtype=np.float32), requires_grad=True)
    optimizer = tl.optim.Adam([weight, bias], lr=0.1)
    losses = []
    for _ in range(200):
        optimizer.zero_grad()
        loss = F.mse_loss(x @ weight + bias, y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert weight.dtype == bias.dtype == np.float32
    assert losses[-1] < losses[0] / 100, f"loss went from {losses[0]:.3g} to {losses[-1]:.3g}"


def test_softmax_classifier_with_clipped_sgd_cuts_the_loss_10_fold_in_100_steps():
    rng = np.random.default_rng(1)
    centres = rng.standard_normal((4, 5)) * 3
    labels = rng.integers(0, 4, size=128)
    x = centres[labels] + rng.standard_normal((128, 5)) * 0.5
    layer = tl.nn.Linear(5, 4, dtype=np.float64)
    optimizer = tl.optim.SGD(layer.parameters(), lr=0.5, momentum=0.9)
    losses = []
    for _ in range(100):
        optimizer.zero_grad()
        loss = F.cross_entropy(layer(x), labels)
        loss.backward()
        nn_utils.clip_grad_norm_(layer.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 10, f"loss went from {losses[0]:.3g} to {losses[-1]:.3g}"


# --------------------------------------------------------------------------- version counters
@pytest.mark.parametrize("name, options", CONFIGS)
def test_step_bumps_the_version_of_every_parameter_it_updates_like_torch(name, options):
    torch = pytest.importorskip("torch")
    params = make_params(np.float64)
    torch_params = [torch.tensor(p.data.copy(), requires_grad=True) for p in params]
    grads = synthetic_grads(3, np.float64)[2]  # parameter 1 has no gradient: not updated
    set_grads(params, grads, torch_params)
    optimizer = getattr(tl.optim, name)(params, **options)
    torch_optimizer = getattr(torch.optim, name)(torch_params, **options)
    before = [p._version for p in params]
    torch_before = [p._version for p in torch_params]
    optimizer.step()
    torch_optimizer.step()
    bumped = [p._version > v for p, v in zip(params, before)]
    assert bumped == [p._version > v for p, v in zip(torch_params, torch_before)] == [True, False, True]


@pytest.mark.parametrize("name", ["SGD", "Adam", "Adagrad"])
def test_backward_through_a_graph_built_before_the_step_raises_like_torch(name):
    torch = pytest.importorskip("torch")
    tl.manual_seed(0)
    model = tl.nn.LSTM(2, 3, dtype=np.float64)
    twin = torch.nn.LSTM(2, 3).double()
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in model.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((4, 1, 2))
    optimizer = getattr(tl.optim, name)(model.parameters(), lr=0.1)
    torch_optimizer = getattr(torch.optim, name)(twin.parameters(), lr=0.1)
    first, second = model(x)[0].sum(), (model(x)[0] ** 2).sum()
    torch_first, torch_second = twin(torch.from_numpy(x))[0].sum(), (twin(torch.from_numpy(x))[0] ** 2).sum()
    first.backward()
    torch_first.backward()
    optimizer.step()  # changes the weights that `second` saved
    torch_optimizer.step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        torch_second.backward()
    with pytest.raises(RuntimeError, match=r"modified by an inplace operation: weight_hh_l0 saved by \w+ at "
                                           r"lstm/l0/t=\d is at version 1; expected version 0"):
        second.backward()
    optimizer.zero_grad()  # a forward pass after the step backpropagates as usual
    (model(x)[0] ** 2).sum().backward()
    assert all(np.isfinite(p.grad).all() for p in model.parameters())
