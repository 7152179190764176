"""Fused forward and backward of one recurrent layer in PyTorch's layout: RNN, LSTM and GRU.

Layout (as ``torch.nn.RNN/LSTM/GRU`` with one layer, one direction, ``batch_first=False``):
``x (T, B, D)``, states ``(B, H)``, ``weight_ih (G*H, D)``, ``weight_hh (G*H, H)``,
``bias_ih, bias_hh (G*H,)``, gate rows stacked in PyTorch's order (LSTM ``i, f, g, o``;
GRU ``r, z, n``). Either bias may be ``None``.

This is the speed reference for the autograd modules, written as a performance engineer
would: the input projection of all steps is one matmul, each step does one ``h @ weight_hh.T``,
buffers are preallocated and filled with ``out=`` ufuncs, the backward loop does one
``dgates @ weight_hh`` per step, and ``dx`` and the weight gradients are one matmul each after
the loop. Work that does not depend on the recurrence (activation derivatives) is vectorised
over all steps before the loop. The dtype of the inputs is kept (no float64 upcast).

Sigmoid is computed as ``0.5 * tanh(0.5 * z) + 0.5``: it cannot overflow. The ``0.5 * z`` is
folded into the sigmoid rows of the projections (a power-of-two scale, so it is exact), which
lets one in-place ``tanh`` activate all gates of a step at once.

Every forward returns ``(output, final_state, cache)``; ``output`` is a read-only view into the
cache. Every backward takes ``(grad_output, grad_h_n[, grad_c_n], cache)``, where a ``None``
final-state gradient means zero, and returns a dict keyed by PyTorch's names: ``"x"``,
``"h0"`` (``"c0"``), ``"weight_ih"``, ``"weight_hh"`` and ``"bias_ih"`` / ``"bias_hh"`` for the
biases that were given. Equations: ``docs/math.md``.
"""
import numpy as np


def _check_inputs(caller, num_gates, x, states, weight_ih, weight_hh, bias_ih, bias_hh):
    """Raise a ValueError naming `caller` and the first argument whose shape does not fit the others."""
    if x.ndim != 3:
        raise ValueError(f"{caller}: x must be (T, B, D), got shape {x.shape}")
    T, B, D = x.shape
    gate_rows, H = weight_hh.shape
    if gate_rows != num_gates * H:
        raise ValueError(f"{caller}: weight_hh must be ({num_gates}*H, H), got {weight_hh.shape}")
    expected = {"weight_ih": (gate_rows, D), "bias_ih": (gate_rows,), "bias_hh": (gate_rows,)}
    given = {"weight_ih": weight_ih, "bias_ih": bias_ih, "bias_hh": bias_hh}
    expected.update({name: (B, H) for name in states})
    given.update(states)
    for name, array in given.items():
        if array is not None and array.shape != expected[name]:
            raise ValueError(f"{caller}: {name} must have shape {expected[name]}, got {array.shape}")


def _input_projection(x, weight_ih, dtype, *biases):
    """``x @ weight_ih.T`` plus the given biases, for all steps in one matmul: ``(T, B, G*H)``.

    Biases that are ``None`` are skipped; the others are summed first, so the big array is
    touched once.
    """
    T, B, D = x.shape
    projection = (x.reshape(T * B, D) @ weight_ih.T).astype(dtype, copy=False).reshape(T, B, -1)
    present = [bias for bias in biases if bias is not None]
    if present:
        projection += sum(present[1:], present[0])
    return projection


def _final_grad(grad, shape, dtype):
    """A writable copy of a final-state gradient, zero when ``None``."""
    return np.zeros(shape, dtype) if grad is None else np.array(grad, dtype=dtype)


def _parameter_grads(cache, dgates_ih, dgates_hh, **state_grads):
    """Gradients of ``x``, weights and biases from the pre-activation gradients of all steps.

    ``dgates_ih (T, B, G*H)`` is the gradient of ``x @ weight_ih.T + bias_ih``, ``dgates_hh``
    that of ``h_prev @ weight_hh.T + bias_hh`` (the same array except for the GRU);
    ``state_grads`` (``h0``, ``c0``) are placed after ``x`` in the returned dict.
    """
    x, hs = cache["x"], cache["hs"]
    T, B, D = x.shape
    flat_ih = dgates_ih.reshape(T * B, -1)
    flat_hh = dgates_hh.reshape(T * B, -1)
    grads = {
        "x": (flat_ih @ cache["weight_ih"]).reshape(T, B, D),
        **state_grads,
        "weight_ih": flat_ih.T @ x.reshape(T * B, D),
        "weight_hh": flat_hh.T @ hs[:-1].reshape(T * B, -1),
    }
    if cache["has_bias_ih"]:
        grads["bias_ih"] = flat_ih.sum(axis=0)
    if cache["has_bias_hh"]:
        grads["bias_hh"] = flat_hh.sum(axis=0)
    return grads


def _read_only(view):
    view.flags.writeable = False
    return view


def rnn_forward_fused(x, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    """Elman RNN layer: ``h_t = act(x_t @ weight_ih.T + bias_ih + h_{t-1} @ weight_hh.T + bias_hh)``.

    Parameters
    ----------
    x : ndarray (T, B, D)
    h0 : ndarray (B, H)
    weight_ih : ndarray (H, D)
    weight_hh : ndarray (H, H)
    bias_ih, bias_hh : ndarray (H,) or None
    nonlinearity : "tanh" or "relu"

    Returns
    -------
    output : ndarray (T, B, H), all hidden states (read-only)
    h_n : ndarray (B, H)
    cache : dict for ``rnn_backward_fused``
    """
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"rnn_forward_fused: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    _check_inputs("rnn_forward_fused", 1, x, {"h0": h0}, weight_ih, weight_hh, bias_ih, bias_hh)
    dtype = np.result_type(x, h0, weight_ih, weight_hh)
    T, B, _ = x.shape
    H = weight_hh.shape[1]
    # bias_hh is added once for all steps instead of once per step.
    projection = _input_projection(x, weight_ih, dtype, bias_ih, bias_hh)
    hs = np.empty((T + 1, B, H), dtype)
    hs[0] = h0
    weight_hh_t = weight_hh.T
    for t in range(T):
        h = hs[t + 1]
        np.matmul(hs[t], weight_hh_t, out=h)
        h += projection[t]
        if nonlinearity == "tanh":
            np.tanh(h, out=h)
        else:
            np.maximum(h, 0, out=h)
    cache = {"x": x, "hs": hs, "weight_ih": weight_ih, "weight_hh": weight_hh,
             "has_bias_ih": bias_ih is not None, "has_bias_hh": bias_hh is not None,
             "nonlinearity": nonlinearity}
    return _read_only(hs[1:]), hs[T].copy(), cache


def rnn_backward_fused(grad_output, grad_h_n, cache):
    """Backward of ``rnn_forward_fused``.

    Going back in time with ``dh = grad_output[t] + dh_next`` (``dh_next`` starts at
    ``grad_h_n``): ``dz_t = dh * act'(z_t)``, with ``act' = 1 - h_t**2`` (tanh) or ``h_t > 0``
    (relu), and ``dh_next = dz_t @ weight_hh``.

    Parameters
    ----------
    grad_output : ndarray (T, B, H)
    grad_h_n : ndarray (B, H) or None
    cache : dict from ``rnn_forward_fused``

    Returns
    -------
    dict with ``x (T, B, D)``, ``h0 (B, H)``, ``weight_ih (H, D)``, ``weight_hh (H, H)``,
    ``bias_ih``, ``bias_hh (H,)`` (for the biases that were given).
    """
    hs, weight_hh = cache["hs"], cache["weight_hh"]
    T = hs.shape[0] - 1
    outputs = hs[1:]
    if cache["nonlinearity"] == "tanh":
        dgates = np.multiply(outputs, outputs)
        np.subtract(1, dgates, out=dgates)
    else:
        dgates = (outputs > 0).astype(hs.dtype)
    # dgates holds act'(z) for every step; step t overwrites its slice with dz_t.
    dh = _final_grad(grad_h_n, hs.shape[1:], hs.dtype)
    for t in reversed(range(T)):
        dh += grad_output[t]
        dgates[t] *= dh
        np.matmul(dgates[t], weight_hh, out=dh)
    return _parameter_grads(cache, dgates, dgates, h0=dh)


def lstm_forward_fused(x, h0, c0, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """LSTM layer with PyTorch's gate order ``i, f, g, o``.

    ``i, f, g, o = split(x_t @ weight_ih.T + bias_ih + h_{t-1} @ weight_hh.T + bias_hh, 4)``
    activated by ``sigmoid, sigmoid, tanh, sigmoid``; ``c_t = f * c_{t-1} + i * g``,
    ``h_t = o * tanh(c_t)``.

    Parameters
    ----------
    x : ndarray (T, B, D)
    h0, c0 : ndarray (B, H)
    weight_ih : ndarray (4H, D)
    weight_hh : ndarray (4H, H)
    bias_ih, bias_hh : ndarray (4H,) or None

    Returns
    -------
    output : ndarray (T, B, H), all hidden states (read-only)
    (h_n, c_n) : ndarrays (B, H)
    cache : dict for ``lstm_backward_fused``
    """
    _check_inputs("lstm_forward_fused", 4, x, {"h0": h0, "c0": c0}, weight_ih, weight_hh, bias_ih, bias_hh)
    dtype = np.result_type(x, h0, c0, weight_ih, weight_hh)
    T, B, _ = x.shape
    H = weight_hh.shape[1]
    # Per gate column: sigmoid(z) = 0.5 * tanh(0.5 * z) + 0.5 and tanh(z) = 1 * tanh(1 * z) + 0.
    scale = np.full(4 * H, 0.5, dtype)
    scale[2 * H:3 * H] = 1
    offset = np.full(4 * H, 0.5, dtype)
    offset[2 * H:3 * H] = 0
    gates = _input_projection(x, weight_ih, dtype, bias_ih, bias_hh)
    gates *= scale
    weight_hh_t = (weight_hh * scale[:, None]).astype(dtype, copy=False).T
    hs = np.empty((T + 1, B, H), dtype)
    cs = np.empty((T + 1, B, H), dtype)
    tanh_cs = np.empty((T, B, H), dtype)
    hs[0], cs[0] = h0, c0
    recurrent = np.empty((B, 4 * H), dtype)
    input_times_cell = np.empty((B, H), dtype)
    for t in range(T):
        a = gates[t]
        np.matmul(hs[t], weight_hh_t, out=recurrent)
        a += recurrent
        np.tanh(a, out=a)
        a *= scale
        a += offset
        i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
        np.multiply(f, cs[t], out=cs[t + 1])
        np.multiply(i, g, out=input_times_cell)
        cs[t + 1] += input_times_cell
        np.tanh(cs[t + 1], out=tanh_cs[t])
        np.multiply(o, tanh_cs[t], out=hs[t + 1])
    cache = {"x": x, "hs": hs, "cs": cs, "tanh_cs": tanh_cs, "gates": gates,
             "weight_ih": weight_ih, "weight_hh": weight_hh,
             "has_bias_ih": bias_ih is not None, "has_bias_hh": bias_hh is not None}
    return _read_only(hs[1:]), (hs[T].copy(), cs[T].copy()), cache


def lstm_backward_fused(grad_output, grad_h_n, grad_c_n, cache):
    """Backward of ``lstm_forward_fused``.

    Going back in time with ``dh = grad_output[t] + dh_next`` and ``dc`` (starting at
    ``grad_h_n``, ``grad_c_n``)::

        dc  = dc + dh * o * (1 - tanh(c_t)**2)
        di  = dc * g * i * (1 - i)          df = dc * c_{t-1} * f * (1 - f)
        dg  = dc * i * (1 - g**2)           do = dh * tanh(c_t) * o * (1 - o)
        dh_next = [di, df, dg, do] @ weight_hh,   dc_next = dc * f

    The factors not involving ``dh`` or ``dc`` are computed for all steps before the loop.

    Parameters
    ----------
    grad_output : ndarray (T, B, H)
    grad_h_n, grad_c_n : ndarray (B, H) or None
    cache : dict from ``lstm_forward_fused``

    Returns
    -------
    dict with ``x (T, B, D)``, ``h0, c0 (B, H)``, ``weight_ih (4H, D)``, ``weight_hh (4H, H)``,
    ``bias_ih``, ``bias_hh (4H,)`` (for the biases that were given).
    """
    hs, cs, tanh_cs, gates = cache["hs"], cache["cs"], cache["tanh_cs"], cache["gates"]
    weight_hh = cache["weight_hh"]
    T, B, H = tanh_cs.shape
    dtype = hs.dtype
    i, f, g, o = (gates[:, :, k * H:(k + 1) * H] for k in range(4))
    # Activation derivatives for all gates at once: a * (1 - a) for sigmoid, (1 + a) * (1 - a) for tanh.
    lower = np.zeros(4 * H, dtype)
    lower[2 * H:3 * H] = -1
    dgates = gates - lower
    dgates *= 1 - gates
    # Multiply in the other factor of each gate's gradient: [g, c_prev, i, tanh(c)].
    per_gate = dgates.reshape(T, B, 4, H)
    per_gate[:, :, 0] *= g
    per_gate[:, :, 1] *= cs[:-1]
    per_gate[:, :, 2] *= i
    per_gate[:, :, 3] *= tanh_cs
    dc_from_h = 1 - tanh_cs**2
    dc_from_h *= o
    # Step t overwrites dgates[t] with the pre-activation gradients of that step.
    dh = _final_grad(grad_h_n, (B, H), dtype)
    dc = _final_grad(grad_c_n, (B, H), dtype)
    dc_increment = np.empty((B, H), dtype)
    for t in reversed(range(T)):
        dh += grad_output[t]
        np.multiply(dh, dc_from_h[t], out=dc_increment)
        dc += dc_increment
        step = per_gate[t]
        np.multiply(step[:, :3], dc[:, None, :], out=step[:, :3])
        step[:, 3] *= dh
        dc *= f[t]
        np.matmul(dgates[t], weight_hh, out=dh)
    return _parameter_grads(cache, dgates, dgates, h0=dh, c0=dc)


def gru_forward_fused(x, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """GRU layer exactly as PyTorch, gate order ``r, z, n``.

    ``r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)``, ``z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)``,
    ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``, ``h' = (1 - z) * n + z * h``.

    Parameters
    ----------
    x : ndarray (T, B, D)
    h0 : ndarray (B, H)
    weight_ih : ndarray (3H, D)
    weight_hh : ndarray (3H, H)
    bias_ih, bias_hh : ndarray (3H,) or None

    Returns
    -------
    output : ndarray (T, B, H), all hidden states (read-only)
    h_n : ndarray (B, H)
    cache : dict for ``gru_backward_fused``
    """
    _check_inputs("gru_forward_fused", 3, x, {"h0": h0}, weight_ih, weight_hh, bias_ih, bias_hh)
    dtype = np.result_type(x, h0, weight_ih, weight_hh)
    T, B, _ = x.shape
    H = weight_hh.shape[1]
    projection = _input_projection(x, weight_ih, dtype, bias_ih)
    if bias_hh is not None:
        # b_hr and b_hz are added once for all steps; b_hn must stay inside r * (...).
        projection[:, :, :2 * H] += bias_hh[:2 * H]
    projection[:, :, :2 * H] *= 0.5
    weight_hh_scaled = weight_hh.astype(dtype, copy=True)
    weight_hh_scaled[:2 * H] *= 0.5
    weight_hh_t = weight_hh_scaled.T
    hs = np.empty((T + 1, B, H), dtype)
    hs[0] = h0
    # gates[t] holds [r, z, W_hn h + b_hn]; candidates[t] holds n.
    gates = np.empty((T, B, 3 * H), dtype)
    candidates = np.empty((T, B, H), dtype)
    for t in range(T):
        step = gates[t]
        np.matmul(hs[t], weight_hh_t, out=step)
        r_z, hidden_n = step[:, :2 * H], step[:, 2 * H:]
        r_z += projection[t, :, :2 * H]
        np.tanh(r_z, out=r_z)
        r_z *= 0.5
        r_z += 0.5
        if bias_hh is not None:
            hidden_n += bias_hh[2 * H:]
        n = candidates[t]
        np.multiply(step[:, :H], hidden_n, out=n)
        n += projection[t, :, 2 * H:]
        np.tanh(n, out=n)
        h = hs[t + 1]
        np.subtract(hs[t], n, out=h)
        h *= step[:, H:2 * H]
        h += n
    cache = {"x": x, "hs": hs, "gates": gates, "candidates": candidates,
             "weight_ih": weight_ih, "weight_hh": weight_hh,
             "has_bias_ih": bias_ih is not None, "has_bias_hh": bias_hh is not None}
    return _read_only(hs[1:]), hs[T].copy(), cache


def gru_backward_fused(grad_output, grad_h_n, cache):
    """Backward of ``gru_forward_fused``.

    Going back in time with ``dh = grad_output[t] + dh_next`` (starting at ``grad_h_n``)::

        dn_pre = dh * (1 - z) * (1 - n**2)
        dz_pre = dh * (h_prev - n) * z * (1 - z)
        dr_pre = dn_pre * (W_hn h_prev + b_hn) * r * (1 - r)
        d(input gates)  = [dr_pre, dz_pre, dn_pre]
        d(hidden gates) = [dr_pre, dz_pre, dn_pre * r]
        dh_next = dh * z + d(hidden gates) @ weight_hh

    Parameters
    ----------
    grad_output : ndarray (T, B, H)
    grad_h_n : ndarray (B, H) or None
    cache : dict from ``gru_forward_fused``

    Returns
    -------
    dict with ``x (T, B, D)``, ``h0 (B, H)``, ``weight_ih (3H, D)``, ``weight_hh (3H, H)``,
    ``bias_ih``, ``bias_hh (3H,)`` (for the biases that were given).
    """
    hs, gates, n = cache["hs"], cache["gates"], cache["candidates"]
    weight_hh = cache["weight_hh"]
    T, B, H = n.shape
    dtype = hs.dtype
    r, z, hidden_n = gates[:, :, :H], gates[:, :, H:2 * H], gates[:, :, 2 * H:]
    # dgates_ih[t] starts as the factors of [dr_pre / dn_pre, dz_pre / dh, dn_pre / dh].
    dgates_ih = np.empty((T, B, 3 * H), dtype)
    factor_r, factor_z, factor_n = (dgates_ih[:, :, k * H:(k + 1) * H] for k in range(3))
    np.multiply(r, 1 - r, out=factor_r)
    factor_r *= hidden_n
    np.subtract(hs[:-1], n, out=factor_z)
    factor_z *= z
    factor_z *= 1 - z
    np.multiply(n, n, out=factor_n)
    np.subtract(1, factor_n, out=factor_n)
    factor_n *= 1 - z
    dgates_hh = np.empty_like(dgates_ih)
    dh = _final_grad(grad_h_n, (B, H), dtype)
    recurrent = np.empty((B, H), dtype)
    for t in reversed(range(T)):
        dh += grad_output[t]
        step = dgates_ih[t]
        step.reshape(B, 3, H)[:, 1:] *= dh[:, None, :]
        step[:, :H] *= step[:, 2 * H:]
        hidden_step = dgates_hh[t]
        hidden_step[:, :2 * H] = step[:, :2 * H]
        np.multiply(step[:, 2 * H:], r[t], out=hidden_step[:, 2 * H:])
        np.matmul(hidden_step, weight_hh, out=recurrent)
        dh *= z[t]
        dh += recurrent
    return _parameter_grads(cache, dgates_ih, dgates_hh, h0=dh)
