"""Derivatives of a function of tensors, as ``torch.autograd.functional``: `vjp`, `jvp`, `hvp`,
`vhp`, `jacobian` and `hessian`, with PyTorch's signatures and results.

Each takes ``func`` (tensors in, a Tensor or a tuple of Tensors out) and ``inputs`` (a Tensor
or a tuple of them); results mirror that structure. The inputs are detached copies, so the
caller's tensors keep their ``.grad``. With ``create_graph=True`` the results are in the graph
(differentiable again); ``strict=True`` raises when an output does not depend on the inputs
instead of returning zeros. All are built on reverse mode (`tl.grad`); `jvp` and `hvp` use the
double-vjp trick, as PyTorch's do. Forward mode proper is `tl.jvp`.
"""
from __future__ import annotations

import numpy as np

from ..engine import Tensor, enable_grad, grad
from ..ops import stack
from .forward import jvp as jvp_forward

__all__ = ["vjp", "jvp", "hvp", "vhp", "jacobian", "hessian"]


def _as_tuple(value, what: str, fn: str) -> tuple[bool, tuple]:
    """``(was_a_tuple, value as a tuple of Tensors)``, or a TypeError naming `fn` and `what`."""
    is_tuple = isinstance(value, (tuple, list))
    values = tuple(value) if is_tuple else (value,)
    for i, v in enumerate(values):
        if not isinstance(v, Tensor):
            raise TypeError(f"{fn}: {what} must be a Tensor or a tuple of Tensors, got {type(v).__name__}"
                            + (f" at position {i}" if is_tuple else ""))
    return is_tuple, values


def _leaves(inputs: tuple, create_graph: bool) -> tuple:
    """Inputs to differentiate with respect to: detached leaves that require grad (or, to
    keep the graph to the caller's tensors with `create_graph`, views of them)."""
    if create_graph:
        return tuple(t.reshape(t.shape) if t.requires_grad else _fresh(t) for t in inputs)  # a view in the graph
    return tuple(_fresh(t) for t in inputs)


def _fresh(t: Tensor) -> Tensor:
    if t.dtype.kind != "f":
        raise TypeError(f"autograd.functional: inputs must be floating point, got dtype {t.dtype}")
    return Tensor._wrap(t._data, None, 0).requires_grad_()


def _grads(outputs: tuple, inputs: tuple, grad_outputs: tuple, create_graph: bool, strict: bool, fn: str) -> tuple:
    """Gradients of sum(outputs * grad_outputs) for every input, zeros where unused (not strict)."""
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    if strict:
        for i, o in enumerate(outputs):
            if not o.requires_grad:
                raise RuntimeError(f"{fn}: output {i} of the function does not require grad: the outputs must be "
                                   f"computed in a differentiable way from the inputs in strict mode")
    if not pairs:
        result = (None,) * len(inputs)
    else:
        result = grad([o for o, _ in pairs], list(inputs), [g for _, g in pairs], retain_graph=True,
                      create_graph=create_graph, allow_unused=True)
    grads = []
    for i, (g, t) in enumerate(zip(result, inputs)):
        if g is None:
            if strict:
                raise RuntimeError(f"{fn}: the outputs do not depend on input {i}, which strict mode does not allow")
            g = Tensor._wrap(np.zeros(t.shape, t.dtype), None, 0)
        grads.append(g)
    return tuple(grads)


def _check_v(v, like: tuple, fn: str, what: str) -> tuple:
    is_tuple, vs = _as_tuple(v, what, fn)
    if len(vs) != len(like):
        raise ValueError(f"{fn}: {what} has {len(vs)} tensors, expected {len(like)}")
    for i, (a, b) in enumerate(zip(vs, like)):
        if a.shape != b.shape:
            raise ValueError(f"{fn}: {what} {i} has shape {a.shape}, expected {b.shape}")
    return vs


def _outputs(func, inputs: tuple, fn: str) -> tuple[bool, tuple]:
    with enable_grad():
        return _as_tuple(func(*inputs), "the function's output", fn)


def _result(values: tuple, is_tuple: bool, create_graph: bool):
    values = tuple(v if create_graph else Tensor._wrap(v._data, None, 0) for v in values)
    return values if is_tuple else values[0]


def vjp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), v^T J)``: the vector-Jacobian product at `inputs`.

    `v` has the shapes of the outputs (None: 1 for a single one-element output).
    """
    inputs_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
    leaves = _leaves(inputs, create_graph)
    outputs_tuple, outputs = _outputs(func, leaves, "vjp")
    if v is None:
        if len(outputs) != 1 or outputs[0].size != 1:
            raise RuntimeError("vjp: v can be None only if the function returns a single Tensor with a single element")
        v = (Tensor._wrap(np.ones(outputs[0].shape, outputs[0].dtype), None, 0),)
    vs = _check_v(v, outputs, "vjp", "v")
    grads = _grads(outputs, leaves, vs, create_graph, strict, "vjp")
    return _result(outputs, outputs_tuple, create_graph), _result(grads, inputs_tuple, create_graph)


def jvp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), J v)``: the Jacobian-vector product at `inputs`, by the double-vjp trick
    (``J v`` is the gradient of ``u -> (u^T J) v`` with respect to `u`).

    `v` has the shapes of the inputs (None: 1 for a single one-element input).
    """
    inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
    leaves = _leaves(inputs, create_graph)
    if v is None:
        if len(inputs) != 1 or inputs[0].size != 1:
            raise RuntimeError("jvp: v can be None only if the input is a single Tensor with a single element")
        v = (Tensor._wrap(np.ones(inputs[0].shape, inputs[0].dtype), None, 0),)
    vs = _check_v(v, inputs, "jvp", "v")
    outputs_tuple, outputs = _outputs(func, leaves, "jvp")
    dummies = tuple(Tensor._wrap(np.zeros(o.shape, o.dtype), None, 0).requires_grad_() for o in outputs)
    vjps = _grads(outputs, leaves, dummies, True, strict, "jvp")
    pairs = [(g, vi) for g, vi in zip(vjps, vs) if g.requires_grad]
    if pairs:
        jvps = grad([g for g, _ in pairs], list(dummies), [vi for _, vi in pairs], create_graph=create_graph,
                    allow_unused=True)
    else:
        jvps = (None,) * len(dummies)
    jvps = tuple(Tensor._wrap(np.zeros(o.shape, o.dtype), None, 0) if j is None else j
                 for j, o in zip(jvps, outputs))
    return _result(outputs, outputs_tuple, create_graph), _result(jvps, outputs_tuple, create_graph)


def jacobian(func, inputs, create_graph: bool = False, strict: bool = False, vectorize: bool = False,
             strategy: str = "reverse-mode"):
    """The Jacobian of `func` at `inputs`: for output i and input j an array of shape
    ``output_i.shape + input_j.shape``, nested as PyTorch nests them (a Tensor for one
    output and one input, a tuple over inputs or outputs, a tuple of tuples for both).

    ``strategy="reverse-mode"``: one vector-Jacobian product per output element;
    ``"forward-mode"`` (PyTorch: only with ``vectorize=True``, not with `create_graph` or
    `strict`): one forward-mode `tl.jvp` per input element. `vectorize` changes nothing else.
    """
    if strategy not in ("forward-mode", "reverse-mode"):
        raise ValueError(f"jacobian: strategy must be 'forward-mode' or 'reverse-mode', got {strategy!r}")
    if strategy == "forward-mode":
        return _jacobian_forward(func, inputs, create_graph, strict, vectorize)
    inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
    leaves = _leaves(inputs, create_graph)
    outputs_tuple, outputs = _outputs(func, leaves, "jacobian")
    rows = []
    for i, output in enumerate(outputs):
        per_input = [[] for _ in leaves]
        for k in range(output.size):
            seed = np.zeros(output.size, output.dtype)
            seed[k] = 1
            seeds = tuple(Tensor._wrap(seed.reshape(o.shape) if o is output else np.zeros(o.shape, o.dtype), None, 0)
                          for o in outputs)
            if not output.requires_grad:
                if strict:
                    raise RuntimeError(f"jacobian: output {i} of the function does not require grad: the outputs "
                                       f"must be computed in a differentiable way from the inputs in strict mode")
                grads = tuple(Tensor._wrap(np.zeros(t.shape, t.dtype), None, 0) for t in leaves)
            else:
                grads = _grads((output,), leaves, (seeds[i],), create_graph, strict, "jacobian")
            for j, g in enumerate(grads):
                per_input[j].append(g)
        row = []
        for j, t in enumerate(leaves):
            pieces = per_input[j]
            if create_graph and pieces:
                block = stack(pieces, axis=0).reshape(output.shape + t.shape)
            else:
                data = np.stack([p._data for p in pieces]) if pieces else np.zeros((0,) + t.shape, t.dtype)
                block = Tensor._wrap(data.reshape(output.shape + t.shape), None, 0)
            row.append(block)
        rows.append(tuple(row) if inputs_tuple else row[0])
    return tuple(rows) if outputs_tuple else rows[0]


def _jacobian_forward(func, inputs, create_graph: bool, strict: bool, vectorize: bool):
    """`jacobian` by forward mode: column k of input j is the tangent of the outputs along e_k."""
    if not vectorize:
        raise NotImplementedError("jacobian: strategy='forward-mode' needs vectorize=True (as in PyTorch)")
    if create_graph or strict:
        raise NotImplementedError("jacobian: strategy='forward-mode' supports neither create_graph=True nor "
                                  "strict=True (as in PyTorch); use strategy='reverse-mode'")
    inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
    for t in inputs:
        if t.dtype.kind != "f":
            raise TypeError(f"autograd.functional: inputs must be floating point, got dtype {t.dtype}")
    primals = tuple(Tensor._wrap(t._data, None, 0) for t in inputs)
    zeros = [np.zeros(t.shape, t.dtype) for t in inputs]
    outputs_tuple, outputs, columns = None, None, [[] for _ in inputs]
    for j, t in enumerate(inputs):
        for k in range(t.size):
            direction = np.zeros(t.size, t.dtype)
            direction[k] = 1
            tangents = tuple(direction.reshape(t.shape) if i == j else z for i, z in enumerate(zeros))
            result, tangents_out = jvp_forward(func, primals, tangents)
            outputs_tuple, outputs = _as_tuple(result, "the function's output", "jacobian")
            columns[j].append(tangents_out if outputs_tuple else (tangents_out,))
    if outputs is None:  # every input is empty: one call for the output shapes
        outputs_tuple, outputs = _as_tuple(func(*primals), "the function's output", "jacobian")
    rows = []
    for i, output in enumerate(outputs):
        row = []
        for j, t in enumerate(inputs):
            data = (np.stack([c[i]._data for c in columns[j]], axis=-1) if columns[j]
                    else np.zeros(output.shape + (0,), output.dtype))
            row.append(Tensor._wrap(data.reshape(output.shape + t.shape), None, 0))
        rows.append(tuple(row) if inputs_tuple else row[0])
    return tuple(rows) if outputs_tuple else rows[0]


def hessian(func, inputs, create_graph: bool = False, strict: bool = False, vectorize: bool = False,
            outer_jacobian_strategy: str = "reverse-mode"):
    """The Hessian of a scalar `func` at `inputs`: for inputs i and j an array of shape
    ``input_i.shape + input_j.shape`` (a Tensor for one input, a tuple of tuples otherwise)."""
    inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")

    def gradient(*xs):
        _, outputs = _outputs(func, xs, "hessian")
        if len(outputs) != 1 or outputs[0].size != 1:
            raise RuntimeError("hessian: the function must return a single Tensor with a single element")
        return _grads(outputs, xs, (Tensor._wrap(np.ones(outputs[0].shape, outputs[0].dtype), None, 0),),
                      True, strict, "hessian")

    if outer_jacobian_strategy not in ("forward-mode", "reverse-mode"):
        raise ValueError(f"hessian: outer_jacobian_strategy must be 'forward-mode' or 'reverse-mode', "
                         f"got {outer_jacobian_strategy!r}")
    if outer_jacobian_strategy == "forward-mode" and not vectorize:
        raise NotImplementedError("hessian: outer_jacobian_strategy='forward-mode' needs vectorize=True "
                                  "(as in PyTorch)")
    # the outer Jacobian is always taken in reverse mode (forward over reverse is not supported):
    # the same Hessian, so "forward-mode" is accepted for PyTorch's signature
    result = jacobian(gradient, inputs, create_graph=create_graph, strict=strict)
    return result if inputs_tuple else result[0][0]


def vhp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), v^T H)``: the vector-Hessian product of a scalar `func` at `inputs`."""
    return _hessian_product(func, inputs, v, create_graph, strict, "vhp")


def hvp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), H v)``: the Hessian-vector product of a scalar `func` at `inputs` (equal
    to `vhp`'s for the symmetric Hessian of a twice-differentiable function)."""
    return _hessian_product(func, inputs, v, create_graph, strict, "hvp")


def _hessian_product(func, inputs, v, create_graph: bool, strict: bool, fn: str):
    inputs_tuple, inputs = _as_tuple(inputs, "inputs", fn)
    leaves = _leaves(inputs, create_graph)
    if v is None:
        if len(inputs) != 1 or inputs[0].size != 1:
            raise RuntimeError(f"{fn}: v can be None only if the input is a single Tensor with a single element")
        v = (Tensor._wrap(np.ones(inputs[0].shape, inputs[0].dtype), None, 0),)
    vs = _check_v(v, inputs, fn, "v")
    outputs_tuple, outputs = _outputs(func, leaves, fn)
    if len(outputs) != 1 or outputs[0].size != 1:
        raise RuntimeError(f"{fn}: the function must return a single Tensor with a single element")
    ones = (Tensor._wrap(np.ones(outputs[0].shape, outputs[0].dtype), None, 0),)
    grads = _grads(outputs, leaves, ones, True, strict, fn)
    products = _grads(grads, leaves, vs, create_graph, strict, fn)
    return _result(outputs, outputs_tuple, create_graph), _result(products, inputs_tuple, create_graph)
