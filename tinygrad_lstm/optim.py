"""Optimisers: `SGD`, `Adam` and `Adagrad`, updating parameters in place from their ``.grad``.

Every update follows the formulas of ``torch.optim`` (its single-tensor code path) in the
same order, so a run matches PyTorch step for step up to float rounding. Updates work on
``p.data`` directly: they record no graph and keep the dtype (float32 parameters have
float32 state). Each step bumps the version counter of every parameter it updates, as
PyTorch's in-place updates do, so a ``backward()`` through a graph built before the step
(which saved the old values) raises RuntimeError instead of returning wrong gradients.

State dicts are flat ``{name: numpy array}`` dicts, so a checkpoint is one ``np.savez``::

    np.savez(path, **optimizer.state_dict())
    optimizer.load_state_dict(np.load(path))

Names are ``"state.{i}.{buffer}"`` for the state of parameter ``i`` (numbered across all
groups in order, as in PyTorch; parameters that never had a gradient have none) and
``"param_groups.{g}.{option}"`` for the options of group ``g``, with
``"param_groups.{g}.params"`` listing the indices of its parameters.
"""
from __future__ import annotations

from collections import defaultdict
from numbers import Real

import numpy as np

from .engine import Tensor, enable_grad, increment_version
from .nn.module import _zero_grads

__all__ = ["Optimizer", "SGD", "Adam", "Adagrad"]


class Optimizer:
    """Base class of the optimisers: parameter groups, per-parameter state, state dicts.

    A subclass defines ``_check(group)`` (validate and normalise a group's options) and
    ``_update(group, pairs)`` (apply one step to ``(parameter, gradient)`` pairs, in place on
    each parameter's ``.data`` array; `step` then bumps their version counters).

    Parameters
    ----------
    params : iterable of Tensor or of dicts
        The leaf tensors to optimise, e.g. ``model.parameters()``, or PyTorch-style groups
        ``[{"params": [...], "lr": 0.1}, {"params": [...]}]`` whose options override `defaults`.
    defaults : dict
        The options of a group that does not set them.

    Attributes
    ----------
    param_groups : list of dict
        ``{"params": [Tensor, ...], "lr": ..., ...}``; change an option (e.g. ``lr``) here
        between steps and the next step uses it.
    state : dict
        Per-parameter state (step counts, momentum and moment buffers), keyed by the Tensor.
    """

    def __init__(self, params, defaults: dict):
        if isinstance(params, Tensor):
            raise TypeError(f"{type(self).__name__}: params should be an iterable of Tensors or dicts, "
                            f"but got a Tensor; pass [tensor]")
        self.defaults = dict(defaults)
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list[dict] = []
        groups = _ordered(params, type(self).__name__)
        if not groups:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {key}: {value}" for key, value in sorted(group.items())
                         if key != "params")
        return "\n".join(lines + [")"])

    def add_param_group(self, param_group: dict) -> None:
        """Add a group ``{"params": [...], option: value, ...}``; missing options take the defaults."""
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}: a parameter group must be a dict, got {type(param_group).__name__}")
        if "params" not in param_group:
            raise KeyError(f"{name}: the parameter group has no 'params'")
        params = param_group["params"]
        params = [params] if isinstance(params, Tensor) else _ordered(params, name)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: can only optimise Tensors, but one of the params is {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"{name}: can't optimise a non-leaf Tensor (shape {p.shape}, made by "
                                 f"'{p.grad_fn.name}'); optimise the leaves it was computed from")
            if p.dtype.kind != "f":
                raise TypeError(f"{name}: can only optimise floating-point Tensors, got dtype {p.dtype}")
        ids = {id(p) for p in params}
        if len(ids) != len(params):
            raise ValueError(f"{name}: a parameter group contains the same parameter twice")
        if any(id(p) in ids for group in self.param_groups for p in group["params"]):
            raise ValueError(f"{name}: some parameters appear in more than one parameter group")

        group = {"params": params}
        for key, default in self.defaults.items():
            group[key] = param_group.get(key, default)
        group.update((k, v) for k, v in param_group.items() if k not in group)
        self._check(group)
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients: set them to None (default, like PyTorch 2), or zero them in place."""
        _zero_grads((p for group in self.param_groups for p in group["params"]), set_to_none)

    def step(self, closure=None):
        """Update every parameter that has a gradient (those whose ``.grad`` is None are skipped).

        Parameters
        ----------
        closure : callable, optional
            Re-evaluates the model and returns the loss; called (with grad enabled) before the update.

        Returns
        -------
        The closure's loss, or None.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        work = []
        for group in self.param_groups:
            pairs = []
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = np.asarray(p.grad)
                if grad.shape != p.shape:
                    raise ValueError(f"{type(self).__name__}.step: a parameter of shape {p.shape} has a "
                                     f"gradient of shape {grad.shape}")
                pairs.append((p, grad.astype(p.dtype, copy=False)))
            work.append((group, pairs))
        for group, pairs in work:
            if pairs:
                self._update(group, pairs)
                for p, _ in pairs:  # a graph that saved the old values now refuses to backpropagate
                    increment_version(p)
        return loss

    def _check(self, group: dict) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not define _check")

    def _update(self, group: dict, pairs: list) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not define _update")

    # -- checkpoints -------------------------------------------------------------
    def state_dict(self) -> dict:
        """A snapshot of the options and state as a flat ``{name: numpy array}`` dict (see the module doc).

        The arrays are copies, so later steps do not change a state dict already taken.

        Examples
        --------
        >>> import tinygrad_lstm as tl
        >>> w = tl.Tensor([1.0, 2.0], requires_grad=True)
        >>> opt = SGD([w], lr=0.1, momentum=0.9)
        >>> w.grad = np.array([1.0, 1.0])
        >>> opt.step()
        >>> sorted(opt.state_dict())[:3]
        ['param_groups.0.dampening', 'param_groups.0.lr', 'param_groups.0.maximize']
        >>> opt.state_dict()["state.0.momentum_buffer"]
        array([1., 1.])
        """
        result = {}
        index = 0
        for g, group in enumerate(self.param_groups):
            for key, value in group.items():
                if key == "params":
                    value = np.arange(index, index + len(group["params"]))
                result[f"param_groups.{g}.{key}"] = np.array(value)
            for p in group["params"]:
                for key, value in self.state.get(p, {}).items():
                    result[f"state.{index}.{key}"] = np.array(value)
                index += 1
        return result

    def load_state_dict(self, state_dict) -> None:
        """Restore options and state from `state_dict` (e.g. ``np.load(path)`` of a saved one).

        The optimiser must have the same groups, of the same sizes, as the one saved. Raises
        KeyError for missing or unknown names, ValueError for mismatched groups or shapes;
        on error nothing is changed.
        """
        name = type(self).__name__
        saved_groups: dict[int, dict] = defaultdict(dict)
        saved_state: dict[int, dict] = defaultdict(dict)
        for key, value in state_dict.items():
            section, _, rest = str(key).partition(".")
            index, _, field = rest.partition(".")
            if section not in ("state", "param_groups") or not index.isdigit() or not field:
                raise KeyError(f"{name}.load_state_dict: unexpected key {key!r}; expected "
                               f"'state.<i>.<buffer>' or 'param_groups.<g>.<option>'")
            (saved_state if section == "state" else saved_groups)[int(index)][field] = np.asarray(value)

        if sorted(saved_groups) != list(range(len(self.param_groups))):
            raise ValueError(f"{name}.load_state_dict: the state dict has {len(saved_groups)} parameter groups, "
                             f"the optimiser has {len(self.param_groups)}")
        new_groups = []
        params_by_index = {}
        for g, group in enumerate(self.param_groups):
            saved = saved_groups[g]
            options = set(group) - {"params"}
            missing = sorted(options - set(saved))
            unknown = sorted(set(saved) - options - {"params"})
            if missing or unknown or "params" not in saved:
                raise KeyError(f"{name}.load_state_dict: parameter group {g} has missing options "
                               f"{missing + ([] if 'params' in saved else ['params'])} and unknown options {unknown}")
            indices = saved["params"].reshape(-1).tolist()
            if len(indices) != len(group["params"]):
                raise ValueError(f"{name}.load_state_dict: saved parameter group {g} has {len(indices)} "
                                 f"parameters, the optimiser's has {len(group['params'])}")
            new = {}
            for key, value in group.items():
                if key in options:
                    value = saved[key]
                    value = value.item() if value.ndim == 0 else tuple(value.tolist())
                new[key] = value
            self._check(new)
            new_groups.append(new)
            params_by_index.update(zip(indices, group["params"]))

        new_state = defaultdict(dict)
        for index, buffers in saved_state.items():
            if index not in params_by_index:
                raise KeyError(f"{name}.load_state_dict: state for parameter {index}, which no group lists")
            p = params_by_index[index]
            missing = sorted(set(self._state_names) - set(buffers) - set(self._optional_state))
            if missing:
                raise KeyError(f"{name}.load_state_dict: the state of parameter {index} lacks {missing}")
            state = new_state[p]
            for key, value in buffers.items():
                if key not in self._state_names:
                    raise KeyError(f"{name}.load_state_dict: unknown state {key!r} for parameter {index}; "
                                   f"{name} keeps {list(self._state_names)}")
                if key == "step":
                    if value.ndim != 0:
                        raise ValueError(f"{name}.load_state_dict: state.{index}.step must be a number, "
                                         f"got shape {value.shape}")
                    state[key] = int(value)
                else:
                    if value.shape != p.shape:
                        raise ValueError(f"{name}.load_state_dict: state.{index}.{key} has shape {value.shape} "
                                         f"but parameter {index} has shape {p.shape}")
                    state[key] = value.astype(p.dtype, copy=True)

        for group, new in zip(self.param_groups, new_groups):
            group.clear()  # in place, so references to the group dicts (schedulers) stay valid
            group.update(new)
        self.state = new_state

    _state_names: tuple = ()  # what `state[p]` may hold: "step" (an int) and buffers shaped like p
    _optional_state: tuple = ()  # names that a parameter's state may lack


def _ordered(params, optimizer: str) -> list:
    if isinstance(params, (set, frozenset)):
        raise TypeError(f"{optimizer}: parameters must be in an ordered collection (a list), not a set, "
                        f"whose order changes between runs and would scramble state dicts")
    return list(params)


def _check_number(optimizer: str, group: dict, key: str, label: str) -> None:
    _check_value(optimizer, key, group[key], label)


def _check_value(optimizer: str, key: str, value, label: str, upper: float | None = None) -> None:
    """Raise like PyTorch unless ``0 <= value (< upper)``; NaN is rejected too."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{optimizer}: {key} must be a real number, got {value!r}")
    if not (0.0 <= value and (upper is None or value < upper)):
        raise ValueError(f"{optimizer}: Invalid {label}: {value}")


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with momentum (heavy-ball or Nesterov) and weight decay.

    With ``g = grad + weight_decay * p`` (``-grad`` if `maximize`), each step is::

        buf = g                                   (first step)
        buf = momentum * buf + (1 - dampening) * g  (later steps)
        g = g + momentum * buf if nesterov else buf  (when momentum != 0)
        p = p - lr * g

    Parameters
    ----------
    params : iterable of Tensor or of dicts
        See `Optimizer`.
    lr : float
        Learning rate (default 1e-3, as in PyTorch).
    momentum, dampening, weight_decay : float
    nesterov : bool
        Requires momentum > 0 and dampening = 0.
    maximize : bool
        Ascend the gradient instead.

    Examples
    --------
    >>> import tinygrad_lstm as tl
    >>> w = tl.Tensor([1.0], requires_grad=True)
    >>> opt = SGD([w], lr=0.1)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> w.data
    array([0.8])
    """

    _state_names = ("momentum_buffer",)

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, *, maximize: bool = False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize))

    def _check(self, group: dict) -> None:
        _check_number("SGD", group, "lr", "learning rate")
        _check_number("SGD", group, "momentum", "momentum value")
        _check_number("SGD", group, "weight_decay", "weight_decay value")
        if not isinstance(group["dampening"], Real):
            raise TypeError(f"SGD: dampening must be a real number, got {group['dampening']!r}")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum and zero dampening")

    def _update(self, group: dict, pairs: list) -> None:
        lr, momentum = float(group["lr"]), float(group["momentum"])
        dampening, weight_decay = float(group["dampening"]), float(group["weight_decay"])
        for p, grad in pairs:
            data = p.data
            if group["maximize"]:
                grad = -grad
            if weight_decay != 0:
                grad = grad + weight_decay * data
            if momentum != 0:
                state = self.state[p]
                buf = state.get("momentum_buffer")
                if buf is None:
                    # np.array, not .copy(): arithmetic on 0-d arrays gives immutable numpy scalars
                    buf = state["momentum_buffer"] = np.array(grad, dtype=p.dtype)
                else:
                    buf *= momentum
                    buf += (1 - dampening) * grad
                grad = grad + momentum * buf if group["nesterov"] else buf
            data -= lr * grad


def _lerp_(start: np.ndarray, end: np.ndarray, weight: float) -> None:
    """``start += weight * (end - start)`` in place, with PyTorch's rounding-friendly form for large weights."""
    if abs(weight) < 0.5:
        start += weight * (end - start)
    else:
        start[...] = end - (end - start) * (1 - weight)


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) with PyTorch's bias correction, optional AMSGrad and decoupled decay.

    With ``g = grad + weight_decay * p`` (or ``p *= 1 - lr * weight_decay`` if
    `decoupled_weight_decay`, i.e. AdamW) and ``t`` the parameter's step count::

        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    (with AMSGrad, ``v`` in the denominator is its running maximum).

    Parameters
    ----------
    params : iterable of Tensor or of dicts
        See `Optimizer`.
    lr : float
    betas : (float, float)
        Decay rates of the first and second moment estimates, each in [0, 1).
    eps : float
    weight_decay : float
    amsgrad : bool
    maximize, decoupled_weight_decay : bool

    Examples
    --------
    >>> import tinygrad_lstm as tl
    >>> w = tl.Tensor([1.0], requires_grad=True)
    >>> opt = Adam([w], lr=0.1)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> w.data.round(6)
    array([0.9])
    """

    _state_names = ("step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    _optional_state = ("max_exp_avg_sq",)

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, *, maximize: bool = False,
                 decoupled_weight_decay: bool = False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize, decoupled_weight_decay=decoupled_weight_decay))

    def _check(self, group: dict) -> None:
        _check_number("Adam", group, "lr", "learning rate")
        _check_number("Adam", group, "eps", "epsilon value")
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"Adam: betas must be a pair of numbers, got {betas!r}")
        for i, beta in enumerate(betas):
            _check_value("Adam", f"betas[{i}]", beta, f"beta parameter at index {i}", upper=1.0)
        group["betas"] = (float(betas[0]), float(betas[1]))
        _check_number("Adam", group, "weight_decay", "weight_decay value")

    def _update(self, group: dict, pairs: list) -> None:
        lr, eps, weight_decay = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
        beta1, beta2 = group["betas"]
        for p, grad in pairs:
            state = self.state[p]
            data = p.data
            if not state:
                state.update(step=0, exp_avg=np.zeros_like(data), exp_avg_sq=np.zeros_like(data))
            state["step"] = step = state["step"] + 1
            exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
            if group["maximize"]:
                grad = -grad
            if weight_decay != 0:
                if group["decoupled_weight_decay"]:
                    data *= 1 - lr * weight_decay
                else:
                    grad = grad + weight_decay * data
            _lerp_(exp_avg, grad, 1 - beta1)
            exp_avg_sq *= beta2
            exp_avg_sq += (1 - beta2) * grad * grad
            step_size = lr / (1 - beta1 ** step)
            bias_correction2_sqrt = (1 - beta2 ** step) ** 0.5
            if group["amsgrad"]:
                if "max_exp_avg_sq" not in state:  # also when amsgrad is switched on mid-run
                    state["max_exp_avg_sq"] = np.zeros_like(data)
                second_moment = state["max_exp_avg_sq"]
                np.maximum(second_moment, exp_avg_sq, out=second_moment)
            else:
                second_moment = exp_avg_sq
            denom = np.sqrt(second_moment) / bias_correction2_sqrt
            denom += eps
            data += -step_size * exp_avg / denom


class Adagrad(Optimizer):
    """Adagrad: per-coordinate steps shrinking with the accumulated squared gradients.

    With ``g = grad + weight_decay * p`` and ``t`` the parameter's step count::

        sum = sum + g * g                       (sum starts at initial_accumulator_value)
        p = p - lr / (1 + (t - 1) * lr_decay) * g / (sqrt(sum) + eps)

    Parameters
    ----------
    params : iterable of Tensor or of dicts
        See `Optimizer`.
    lr, lr_decay, weight_decay, initial_accumulator_value, eps : float
    maximize : bool

    Examples
    --------
    >>> import tinygrad_lstm as tl
    >>> w = tl.Tensor([1.0], requires_grad=True)
    >>> opt = Adagrad([w], lr=0.1)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> w.data.round(6)
    array([0.9])
    """

    _state_names = ("step", "sum")

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10, *, maximize: bool = False):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps,
                                      maximize=maximize))

    def _check(self, group: dict) -> None:
        _check_number("Adagrad", group, "lr", "learning rate")
        _check_number("Adagrad", group, "lr_decay", "lr_decay value")
        _check_number("Adagrad", group, "weight_decay", "weight_decay value")
        _check_number("Adagrad", group, "initial_accumulator_value", "initial_accumulator_value value")
        _check_number("Adagrad", group, "eps", "epsilon value")

    def _update(self, group: dict, pairs: list) -> None:
        lr, lr_decay = float(group["lr"]), float(group["lr_decay"])
        weight_decay, eps = float(group["weight_decay"]), float(group["eps"])
        for p, grad in pairs:
            state, data = self.state[p], p.data
            if not state:
                state.update(step=0, sum=np.full_like(data, group["initial_accumulator_value"]))
            state["step"] = step = state["step"] + 1
            if group["maximize"]:
                grad = -grad
            if weight_decay != 0:
                grad = grad + weight_decay * data
            clr = lr / (1 + (step - 1) * lr_decay)
            state["sum"] += grad * grad
            std = np.sqrt(state["sum"])
            std += eps
            data += -clr * grad / std
