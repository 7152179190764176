"""Convert weights, gradients and data between the classic layout (``classic.py``) and PyTorch's.

LSTM. Classic: ``Wf, Wi, Wc, Wo (n_a, n_a + n_x)`` act on ``concat = [a_prev; xt]``, one bias
``(n_a, 1)`` per gate. PyTorch: ``weight_ih (4H, D)`` and ``weight_hh (4H, H)`` with gate rows
in the order ``i, f, g, o`` (``g`` is the classic candidate ``c``), and two biases ``(4H,)``
that are always added together. Hence::

    weight_ih = vstack(Wi[:, n_a:], Wf[:, n_a:], Wc[:, n_a:], Wo[:, n_a:])
    weight_hh = vstack(Wi[:, :n_a], Wf[:, :n_a], Wc[:, :n_a], Wo[:, :n_a])
    bias_ih   = concat(bi, bf, bc, bo) - bias_hh,   bias_hh = 0 unless given
    Wf = hstack(weight_hh[H:2H], weight_ih[H:2H]),   bf = bias_ih[H:2H] + bias_hh[H:2H]

RNN: ``Wax = weight_ih``, ``Waa = weight_hh``, ``ba = bias_ih + bias_hh``.

Only the parameter adapters split the single classic bias in two, and only as stated: all of
it goes to ``bias_ih`` and ``bias_hh = 0``, unless the ``bias_hh`` to keep is passed. So
classic -> PyTorch -> classic is exact, and PyTorch -> classic -> PyTorch gives back the same
arrays (to rounding of the bias sum) when the original ``bias_hh`` is passed back; without it
the whole bias moves into ``bias_ih`` and the network computes the same function.

Gradients are not parameters: both PyTorch biases receive the classic bias gradient, so
``*_grads_to_torch`` gives ``bias_ih`` and ``bias_hh`` the same ``db`` (the weight blocks map
as the weights do), and ``*_grads_from_torch`` reads ``db`` back from ``bias_ih``.

The output layers (``Wya``/``Wy``, ``by``) have no PyTorch counterpart: they are dropped going to
PyTorch and passed explicitly coming back (the classic forwards need them).

The PyTorch-side dicts use the keys ``weight_ih, weight_hh, bias_ih, bias_hh`` (the argument
names of ``fused.py``); ``tl.nn.LSTM`` and ``torch.nn.LSTM`` call layer ``k``'s parameters
``weight_ih_l{k}`` etc., so ``{f"{name}_l0": value for name, value in params.items()}`` maps them.

Data: classic sequences are ``(n_x, m, T_x)`` and states ``(n_a, m)``; PyTorch's are
``(T, B, D)`` and ``(B, H)``.
"""
import numpy as np

# Classic gate names in PyTorch's row order i, f, g, o.
_LSTM_GATES_TORCH_ORDER = ("i", "f", "c", "o")


def _require(arrays, names, fn):
    """`arrays` if it is a dict holding every key of `names`, else a TypeError / KeyError naming `fn`."""
    if not isinstance(arrays, dict):
        raise TypeError(f"{fn}: expected a dict of arrays, got {type(arrays).__name__}")
    missing = [name for name in names if name not in arrays]
    if missing:
        raise KeyError(f"{fn}: missing keys {missing}; got keys {sorted(arrays)}")
    return arrays


def _summed_bias(torch_params, rows, dtype):
    """``bias_ih + bias_hh`` with absent biases counted as zero: ``(rows,)``."""
    bias = np.zeros(rows, dtype)
    for name in ("bias_ih", "bias_hh"):
        if torch_params.get(name) is not None:
            bias = bias + torch_params[name]
    return bias


def _split_bias(bias, bias_hh, fn):
    """``(bias_ih, bias_hh)`` with ``bias_ih + bias_hh = bias``: ``bias_hh`` zero unless given."""
    if bias_hh is None:
        return bias, np.zeros_like(bias)
    bias_hh = np.asarray(bias_hh)
    if bias_hh.shape != bias.shape:
        raise ValueError(f"{fn}: bias_hh must have shape {bias.shape} like the summed bias, got {bias_hh.shape}")
    return bias - bias_hh, bias_hh.copy()


def _bias_grad(torch_grads, fn):
    """The classic bias gradient: PyTorch's ``bias_ih`` gradient, or ``bias_hh``'s (they are equal)."""
    for name in ("bias_ih", "bias_hh"):
        if torch_grads.get(name) is not None:
            return torch_grads[name]
    raise KeyError(f"{fn}: needs the gradient of 'bias_ih' or 'bias_hh', got keys {sorted(torch_grads)}")


def _with_output_layer(params, weight, bias, weight_name):
    if weight is not None:
        params[weight_name] = np.array(weight)
        params["by"] = np.zeros((weight.shape[0], 1), weight.dtype) if bias is None else np.array(bias)
    return params


def _lstm_to_torch(blocks, n_a):
    """Stack per-gate classic ``(W, b)`` blocks (dict gate -> pair) into PyTorch's rows."""
    weights = [blocks[gate][0] for gate in _LSTM_GATES_TORCH_ORDER]
    return {
        "weight_ih": np.concatenate([w[:, n_a:] for w in weights]),
        "weight_hh": np.concatenate([w[:, :n_a] for w in weights]),
    }, np.concatenate([blocks[gate][1][:, 0] for gate in _LSTM_GATES_TORCH_ORDER])


def _lstm_from_torch(weight_ih, weight_hh, bias, prefix):
    """Per-gate classic dict (``{prefix}W{g}``, ``{prefix}b{g}``, order f, i, c, o) from PyTorch rows."""
    H = weight_hh.shape[1]
    rows = {gate: slice(k * H, (k + 1) * H) for k, gate in enumerate(_LSTM_GATES_TORCH_ORDER)}
    out = {}
    for gate in "fico":
        out[prefix + "W" + gate] = np.concatenate([weight_hh[rows[gate]], weight_ih[rows[gate]]], axis=1)
        out[prefix + "b" + gate] = bias[rows[gate], None].copy()
    return out


def lstm_params_to_torch(parameters, bias_hh=None):
    """Classic LSTM dict to PyTorch-layout arrays (``Wy``, ``by`` are dropped).

    Parameters
    ----------
    parameters : dict with ``Wf, Wi, Wc, Wo (n_a, n_a + n_x)``, ``bf, bi, bc, bo (n_a, 1)``
    bias_hh : ndarray (4n_a,), optional
        The ``bias_hh`` to keep; ``bias_ih`` is then the classic bias minus it. By default
        ``bias_hh`` is zero and the whole bias goes to ``bias_ih``.

    Returns
    -------
    dict with ``weight_ih (4n_a, n_x)``, ``weight_hh (4n_a, n_a)``, ``bias_ih (4n_a,)`` and
    ``bias_hh (4n_a,)``, gate rows ordered ``i, f, g, o``.
    """
    _require(parameters, [k + g for g in "fico" for k in "Wb"], "lstm_params_to_torch")
    n_a = parameters["Wf"].shape[0]
    weights, bias = _lstm_to_torch({g: (parameters["W" + g], parameters["b" + g]) for g in "fico"}, n_a)
    weights["bias_ih"], weights["bias_hh"] = _split_bias(bias, bias_hh, "lstm_params_to_torch")
    return weights


def lstm_params_from_torch(torch_params, Wy=None, by=None):
    """PyTorch-layout LSTM arrays to a classic dict.

    Parameters
    ----------
    torch_params : dict with ``weight_ih (4H, D)``, ``weight_hh (4H, H)`` and optionally
        ``bias_ih``, ``bias_hh (4H,)`` (absent or ``None`` means zero)
    Wy : ndarray (n_y, H), optional
        Output layer; when given, ``Wy`` and ``by`` (zeros if ``by`` is None) are included.
    by : ndarray (n_y, 1), optional

    Returns
    -------
    dict with ``Wf, bf, Wi, bi, Wc, bc, Wo, bo`` (``Wg (H, H + D)``, ``bg = bias_ih + bias_hh``
    rows of gate ``g``, ``(H, 1)``), then ``Wy, by`` if given.
    """
    _require(torch_params, ["weight_ih", "weight_hh"], "lstm_params_from_torch")
    weight_ih, weight_hh = torch_params["weight_ih"], torch_params["weight_hh"]
    bias = _summed_bias(torch_params, weight_ih.shape[0], np.result_type(weight_ih, weight_hh))
    return _with_output_layer(_lstm_from_torch(weight_ih, weight_hh, bias, ""), Wy, by, "Wy")


def lstm_grads_to_torch(gradients):
    """Classic LSTM gradients to PyTorch-layout gradients.

    Parameters
    ----------
    gradients : dict with ``dWf, dWi, dWc, dWo (n_a, n_a + n_x)``, ``dbf, dbi, dbc, dbo (n_a, 1)``
        (other keys, such as ``dx`` and ``da0``, are ignored)

    Returns
    -------
    dict with ``weight_ih (4n_a, n_x)``, ``weight_hh (4n_a, n_a)`` and ``bias_ih``, ``bias_hh``
    ``(4n_a,)``, both equal to the stacked ``db``: PyTorch adds the two biases, so each receives
    the whole bias gradient.
    """
    _require(gradients, ["d" + k + g for g in "fico" for k in "Wb"], "lstm_grads_to_torch")
    n_a = gradients["dWf"].shape[0]
    grads, bias = _lstm_to_torch({g: (gradients["dW" + g], gradients["db" + g]) for g in "fico"}, n_a)
    grads["bias_ih"], grads["bias_hh"] = bias, bias.copy()
    return grads


def lstm_grads_from_torch(torch_grads):
    """PyTorch-layout LSTM gradients to classic ones: ``dWf, dbf, dWi, dbi, dWc, dbc, dWo, dbo``.

    Parameters
    ----------
    torch_grads : dict with ``weight_ih (4H, D)``, ``weight_hh (4H, H)`` and ``bias_ih`` or
        ``bias_hh (4H,)``: the gradient of either bias is the gradient of the classic bias
        (``bias_ih``'s is read when both are given).
    """
    _require(torch_grads, ["weight_ih", "weight_hh"], "lstm_grads_from_torch")
    return _lstm_from_torch(torch_grads["weight_ih"], torch_grads["weight_hh"],
                            _bias_grad(torch_grads, "lstm_grads_from_torch"), "d")


def rnn_params_to_torch(parameters, bias_hh=None):
    """Classic RNN dict to PyTorch-layout arrays (``Wya``, ``by`` are dropped).

    Parameters
    ----------
    parameters : dict with ``Wax (n_a, n_x)``, ``Waa (n_a, n_a)``, ``ba (n_a, 1)``
    bias_hh : ndarray (n_a,), optional
        The ``bias_hh`` to keep; ``bias_ih`` is then ``ba`` minus it. By default ``bias_hh`` is
        zero and ``bias_ih = ba``.

    Returns
    -------
    dict with ``weight_ih (n_a, n_x)``, ``weight_hh (n_a, n_a)``, ``bias_ih (n_a,)``,
    ``bias_hh (n_a,)``.
    """
    _require(parameters, ["Wax", "Waa", "ba"], "rnn_params_to_torch")
    bias_ih, bias_hh = _split_bias(parameters["ba"][:, 0].copy(), bias_hh, "rnn_params_to_torch")
    return {"weight_ih": parameters["Wax"].copy(), "weight_hh": parameters["Waa"].copy(),
            "bias_ih": bias_ih, "bias_hh": bias_hh}


def rnn_params_from_torch(torch_params, Wya=None, by=None):
    """PyTorch-layout RNN arrays to a classic dict.

    Parameters
    ----------
    torch_params : dict with ``weight_ih (H, D)``, ``weight_hh (H, H)`` and optionally
        ``bias_ih``, ``bias_hh (H,)`` (absent or ``None`` means zero)
    Wya : ndarray (n_y, H), optional
        Output layer; when given, ``Wya`` and ``by`` (zeros if ``by`` is None) are included.
    by : ndarray (n_y, 1), optional

    Returns
    -------
    dict with ``Wax (H, D)``, ``Waa (H, H)``, ``ba = bias_ih + bias_hh (H, 1)``, then ``Wya, by``
    if given.
    """
    _require(torch_params, ["weight_ih", "weight_hh"], "rnn_params_from_torch")
    weight_ih, weight_hh = torch_params["weight_ih"], torch_params["weight_hh"]
    bias = _summed_bias(torch_params, weight_hh.shape[0], np.result_type(weight_ih, weight_hh))
    params = {"Wax": weight_ih.copy(), "Waa": weight_hh.copy(), "ba": bias[:, None].copy()}
    return _with_output_layer(params, Wya, by, "Wya")


def rnn_grads_to_torch(gradients):
    """Classic RNN gradients ``dWax, dWaa, dba`` to PyTorch-layout ones.

    Returns ``weight_ih (n_a, n_x)``, ``weight_hh (n_a, n_a)`` and ``bias_ih``, ``bias_hh (n_a,)``,
    both equal to ``dba``: PyTorch adds the two biases, so each receives the whole gradient.
    Other keys of `gradients` (``dx``, ``da0``) are ignored.
    """
    _require(gradients, ["dWax", "dWaa", "dba"], "rnn_grads_to_torch")
    bias = gradients["dba"][:, 0].copy()
    return {"weight_ih": gradients["dWax"].copy(), "weight_hh": gradients["dWaa"].copy(),
            "bias_ih": bias, "bias_hh": bias.copy()}


def rnn_grads_from_torch(torch_grads):
    """PyTorch-layout RNN gradients to classic ``dWax, dWaa, dba``.

    ``dba`` is the gradient of ``bias_ih`` (or of ``bias_hh`` when only it is given; the two are
    equal for any loss).
    """
    _require(torch_grads, ["weight_ih", "weight_hh"], "rnn_grads_from_torch")
    bias = _bias_grad(torch_grads, "rnn_grads_from_torch")
    return {"dWax": torch_grads["weight_ih"].copy(), "dWaa": torch_grads["weight_hh"].copy(),
            "dba": bias[:, None].copy()}


def sequence_to_torch(x):
    """Classic ``(n_x, m, T_x)`` sequence to PyTorch's ``(T, B, D)`` (a contiguous copy)."""
    return np.ascontiguousarray(x.transpose(2, 1, 0))


def sequence_from_torch(x):
    """PyTorch ``(T, B, D)`` sequence to the classic ``(n_x, m, T_x)`` (a contiguous copy)."""
    return np.ascontiguousarray(x.transpose(2, 1, 0))


def state_to_torch(a):
    """Classic ``(n_a, m)`` state to PyTorch's ``(B, H)`` (a contiguous copy)."""
    return np.ascontiguousarray(a.T)


def state_from_torch(h):
    """PyTorch ``(B, H)`` state to the classic ``(n_a, m)`` (a contiguous copy)."""
    return np.ascontiguousarray(h.T)
