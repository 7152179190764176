"""Convert weights and data between the classic layout (``classic.py``) and PyTorch's (``fused.py``).

LSTM. Classic: ``Wf, Wi, Wc, Wo (n_a, n_a + n_x)`` act on ``concat = [a_prev; xt]``, one bias
``(n_a, 1)`` per gate. PyTorch: ``weight_ih (4H, D)`` and ``weight_hh (4H, H)`` with gate rows
in the order ``i, f, g, o`` (``g`` is the classic candidate ``c``), and two biases ``(4H,)``
that are always added together. Hence::

    weight_ih = vstack(Wi[:, n_a:], Wf[:, n_a:], Wc[:, n_a:], Wo[:, n_a:])
    weight_hh = vstack(Wi[:, :n_a], Wf[:, :n_a], Wc[:, :n_a], Wo[:, :n_a])
    bias_ih   = concat(bi, bf, bc, bo),   bias_hh = 0
    Wf = hstack(weight_hh[H:2H], weight_ih[H:2H]),   bf = bias_ih[H:2H] + bias_hh[H:2H]

RNN: ``Wax = weight_ih``, ``Waa = weight_hh``, ``ba = bias_ih + bias_hh`` (``bias_hh = 0`` when
going to PyTorch). Classic to PyTorch to classic is exact; PyTorch to classic to PyTorch moves
the whole bias into ``bias_ih`` and computes the same function.

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


def _summed_bias(torch_params, rows, dtype):
    """``bias_ih + bias_hh`` with absent biases counted as zero: ``(rows,)``."""
    bias = np.zeros(rows, dtype)
    for name in ("bias_ih", "bias_hh"):
        if torch_params.get(name) is not None:
            bias = bias + torch_params[name]
    return bias


def _with_output_layer(params, weight, bias, weight_name):
    if weight is not None:
        params[weight_name] = np.array(weight)
        params["by"] = np.zeros((weight.shape[0], 1), weight.dtype) if bias is None else np.array(bias)
    return params


def lstm_params_to_torch(parameters):
    """Classic LSTM dict to PyTorch-layout arrays (``Wy``, ``by`` are dropped).

    Parameters
    ----------
    parameters : dict with ``Wf, Wi, Wc, Wo (n_a, n_a + n_x)``, ``bf, bi, bc, bo (n_a, 1)``

    Returns
    -------
    dict with ``weight_ih (4n_a, n_x)``, ``weight_hh (4n_a, n_a)``, ``bias_ih (4n_a,)`` and
    ``bias_hh (4n_a,)`` (zeros), gate rows ordered ``i, f, g, o``.
    """
    n_a = parameters["Wf"].shape[0]
    weights = [parameters["W" + gate] for gate in _LSTM_GATES_TORCH_ORDER]
    bias_ih = np.concatenate([parameters["b" + gate][:, 0] for gate in _LSTM_GATES_TORCH_ORDER])
    return {
        "weight_ih": np.concatenate([w[:, n_a:] for w in weights]),
        "weight_hh": np.concatenate([w[:, :n_a] for w in weights]),
        "bias_ih": bias_ih,
        "bias_hh": np.zeros_like(bias_ih),
    }


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
    dict with ``Wf, bf, Wi, bi, Wc, bc, Wo, bo`` (``Wg (H, H + D)``, ``bg (H, 1)``), then
    ``Wy, by`` if given.
    """
    weight_ih, weight_hh = torch_params["weight_ih"], torch_params["weight_hh"]
    H = weight_hh.shape[1]
    bias = _summed_bias(torch_params, 4 * H, np.result_type(weight_ih, weight_hh))
    blocks = {gate: slice(k * H, (k + 1) * H) for k, gate in enumerate(_LSTM_GATES_TORCH_ORDER)}
    params = {}
    for gate in "fico":
        rows = blocks[gate]
        params["W" + gate] = np.concatenate([weight_hh[rows], weight_ih[rows]], axis=1)
        params["b" + gate] = bias[rows, None].copy()
    return _with_output_layer(params, Wy, by, "Wy")


def rnn_params_to_torch(parameters):
    """Classic RNN dict to PyTorch-layout arrays (``Wya``, ``by`` are dropped).

    Parameters
    ----------
    parameters : dict with ``Wax (n_a, n_x)``, ``Waa (n_a, n_a)``, ``ba (n_a, 1)``

    Returns
    -------
    dict with ``weight_ih (n_a, n_x)``, ``weight_hh (n_a, n_a)``, ``bias_ih (n_a,)``,
    ``bias_hh (n_a,)`` (zeros).
    """
    bias_ih = parameters["ba"][:, 0].copy()
    return {
        "weight_ih": parameters["Wax"].copy(),
        "weight_hh": parameters["Waa"].copy(),
        "bias_ih": bias_ih,
        "bias_hh": np.zeros_like(bias_ih),
    }


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
    dict with ``Wax (H, D)``, ``Waa (H, H)``, ``ba (H, 1)``, then ``Wya, by`` if given.
    """
    weight_ih, weight_hh = torch_params["weight_ih"], torch_params["weight_hh"]
    bias = _summed_bias(torch_params, weight_hh.shape[0], np.result_type(weight_ih, weight_hh))
    params = {"Wax": weight_ih.copy(), "Waa": weight_hh.copy(), "ba": bias[:, None].copy()}
    return _with_output_layer(params, Wya, by, "Wya")


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
