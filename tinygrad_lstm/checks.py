"""`gradcheck`: autograd Jacobians against central differences, in float64."""
from __future__ import annotations

import numpy as np

from .engine import Tensor, enable_grad, no_grad

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError", "numerical_jacobian", "analytical_jacobian", "central_differences"]


class GradcheckError(RuntimeError):
    """Raised by `gradcheck` when an analytical and a numerical Jacobian differ (a RuntimeError, as in PyTorch)."""


def _as_outputs(result) -> list:
    if isinstance(result, Tensor):
        return [result]
    if isinstance(result, (tuple, list)):
        return [r for r in result if isinstance(r, Tensor)]
    raise TypeError(f"gradcheck: fn must return a Tensor or a tuple of Tensors, got {type(result).__name__}")


def _prepare(inputs, fn: str = "gradcheck") -> tuple[list, list[int]]:
    """Fresh leaf copies of the inputs (so user tensors keep their .grad) and which need grad;
    `fn` names the check in errors."""
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    copies, diff = [], []
    for j, t in enumerate(inputs):
        if isinstance(t, Tensor) and t.requires_grad:
            if t.dtype != np.float64:
                raise TypeError(f"{fn}: input {j} is {t.dtype}; central differences need float64 "
                                f"(pass tensors created with dtype=np.float64)")
            copies.append(Tensor(t.data.copy(), requires_grad=True))
            diff.append(j)
        else:
            copies.append(t)
    return copies, diff


def central_differences(fn, array: np.ndarray, indices=None, eps: float = 1e-6) -> np.ndarray:
    """``(fn() at array + eps e_i  -  fn() at array - eps e_i) / (2 eps)`` for each flat index ``i``.

    `array` (contiguous) is perturbed in place, one element at a time, and restored; `fn`
    takes no arguments and returns a number or an array computed from it. Returns
    ``(len(indices),) + shape of fn()`` in float64; `indices` default to every element.
    """
    if not array.flags.c_contiguous:  # reshape would copy, and the perturbations would miss `array`
        raise ValueError(f"central_differences: the array must be contiguous to be perturbed in place "
                         f"(shape {array.shape}, strides {array.strides})")
    flat = array.reshape(-1)
    rows = []
    for i in range(flat.size) if indices is None else indices:
        original = flat[i]
        flat[i] = original + eps
        plus = np.asarray(fn(), np.float64)
        flat[i] = original - eps
        minus = np.asarray(fn(), np.float64)
        flat[i] = original
        rows.append((plus - minus) / (2 * eps))
    return np.array(rows, dtype=np.float64)


def numerical_jacobian(fn, inputs, eps: float = 1e-6) -> list[list[np.ndarray]]:
    """``J[i][j]``: d output_i / d input_j by central differences, shape (out_i.size, in_j.size)."""
    inputs, diff = _prepare(inputs)

    def outputs() -> np.ndarray:
        return np.concatenate([o.data.reshape(-1).astype(np.float64) for o in _as_outputs(fn(*inputs))])

    with no_grad():
        ends = np.cumsum([o.size for o in _as_outputs(fn(*inputs))])
        columns = [central_differences(outputs, inputs[j].data, eps=eps).reshape(inputs[j].size, ends[-1]).T
                   for j in diff]
    return [[column[start:end] for column in columns] for start, end in zip([0, *ends[:-1]], ends)]


def analytical_jacobian(fn, inputs) -> list[list[np.ndarray]]:
    """``J[i][j]`` from autograd: one backward pass per output element."""
    inputs, diff = _prepare(inputs)
    outputs = _as_outputs(fn(*inputs))
    jac = [[np.zeros((o.size, inputs[j].size)) for j in diff] for o in outputs]
    for i, out in enumerate(outputs):
        if not out.requires_grad:
            continue
        for k in range(out.size):
            for j in diff:
                inputs[j].grad = None
            seed = np.zeros(out.size, dtype=out.dtype)
            seed[k] = 1
            out.backward(seed.reshape(out.shape), retain_graph=True)
            for col, j in enumerate(diff):
                if inputs[j].grad is not None:
                    jac[i][col][k] = inputs[j].grad.reshape(-1)
    return jac


def gradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True) -> bool:
    """Check autograd against central differences for every input that requires grad.

    Parameters
    ----------
    fn : callable
        ``fn(*inputs)`` returns a Tensor or a tuple of Tensors of any shapes.
    inputs : Tensor or sequence
        Tensors that require grad must be float64; other arguments are passed as given.
    eps, atol, rtol : float
        Step of the central differences, and the tolerance
        ``|analytical - numerical| <= atol + rtol * |numerical|`` (PyTorch's defaults).
    raise_exception : bool
        Raise `GradcheckError` on a mismatch (otherwise return False).

    Returns
    -------
    bool
        True when every Jacobian entry agrees.

    Examples
    --------
    >>> x = Tensor([0.5, -1.0], requires_grad=True, dtype="float64")
    >>> gradcheck(lambda t: (t * t).tanh(), [x])
    True
    """
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    _, diff = _prepare(inputs)
    if not diff:
        raise ValueError("gradcheck: no input requires grad")
    analytical = analytical_jacobian(fn, inputs)
    numerical = numerical_jacobian(fn, inputs, eps)
    for i, (row_a, row_n) in enumerate(zip(analytical, numerical)):
        for col, (a, n) in enumerate(zip(row_a, row_n)):
            bad = np.abs(a - n) > atol + rtol * np.abs(n)
            if bad.any():
                err = np.where(bad, np.abs(a - n), -1)
                out_k, in_k = np.unravel_index(np.argmax(err), err.shape)
                message = (f"gradcheck: Jacobian mismatch for output {i} with respect to input {diff[col]}: "
                           f"worst at output element {out_k}, input element {in_k}: analytical {a[out_k, in_k]!r}, "
                           f"numerical {n[out_k, in_k]!r} ({int(bad.sum())} of {bad.size} entries exceed "
                           f"atol={atol} + rtol={rtol} * |numerical|)")
                if raise_exception:
                    raise GradcheckError(message)
                return False
    return True


def gradgradcheck(fn, inputs, grad_outputs=None, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
                  raise_exception: bool = True, seed: int = 0) -> bool:
    """Check second derivatives: `gradcheck` on the gradients of `fn` (``torch.autograd.gradgradcheck``).

    The function checked is ``(inputs, grad_outputs) -> d<fn(inputs), grad_outputs>/d inputs``,
    computed by ``tl.grad(..., create_graph=True)``, so its own gradients are the second
    derivatives of `fn` (through every op's differentiable ``vjp``), compared with central
    differences of the first derivatives. The first derivatives themselves are compared with
    those of the plain backward (each op's numpy ``backward``), which they must equal.

    Parameters
    ----------
    fn, inputs, eps, atol, rtol, raise_exception
        As `gradcheck` (float64 inputs; PyTorch's tolerances).
    grad_outputs : sequence of Tensor, optional
        One per output of `fn`; default random float64 tensors that require grad (drawn
        with `seed`), so the check covers the dependence on them too.

    Examples
    --------
    >>> x = Tensor([0.5, -1.0], requires_grad=True, dtype="float64")
    >>> gradgradcheck(lambda t: (t * t).tanh(), [x])
    True
    """
    from .engine import grad
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    _, diff = _prepare(inputs, "gradgradcheck")
    if not diff:
        raise ValueError("gradgradcheck: no input requires grad")
    outputs = _as_outputs(fn(*inputs))
    if grad_outputs is None:
        rng = np.random.default_rng(seed)
        grad_outputs = [Tensor(rng.standard_normal(o.shape), requires_grad=True) for o in outputs]
    grad_outputs = list(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"gradgradcheck: got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    n = len(inputs)

    @enable_grad()  # central differences call it under no_grad: the first derivatives still need a graph
    def first_derivatives(*args):
        xs, seeds = args[:n], args[n:]
        pairs = [(o, g) for o, g in zip(_as_outputs(fn(*xs)), seeds) if o.requires_grad]
        wrt = [xs[j] for j in diff]
        if not pairs:
            return tuple(Tensor(np.zeros(x.shape)) for x in wrt)
        grads = grad([o for o, _ in pairs], wrt, [g for _, g in pairs], create_graph=True, allow_unused=True)
        return tuple(Tensor(np.zeros(x.shape)) if g is None else g for g, x in zip(grads, wrt))

    # the differentiable vjp of every op must give the same first derivatives as its backward
    copies, _ = _prepare([*inputs, *grad_outputs])
    pairs = [(o, g) for o, g in zip(_as_outputs(fn(*copies[:n])), copies[n:]) if o.requires_grad]
    plain = grad([o for o, _ in pairs], [copies[j] for j in diff], [g for _, g in pairs], allow_unused=True)
    for j, first, reference in zip(diff, first_derivatives(*copies), plain):
        expected = np.zeros(first.shape) if reference is None else reference.data
        if not np.allclose(first.data, expected, rtol=rtol, atol=atol):
            message = (f"gradgradcheck: the first derivative with respect to input {j} differs between backward "
                       f"and the differentiable vjp (create_graph=True): max difference "
                       f"{np.abs(first.data - expected).max()!r}")
            if raise_exception:
                raise GradcheckError(message)
            return False
    return gradcheck(first_derivatives, [*inputs, *grad_outputs], eps, atol, rtol, raise_exception)
