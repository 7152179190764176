"""Hand-written BPTT for RNN and LSTM in the column-major layout most courses teach.

Layout: a batch of ``m`` examples is stored column-wise, so a hidden state is ``(n_a, m)``,
an input sequence ``x`` is ``(n_x, m, T_x)`` and weights multiply from the left (``W @ a``).
The LSTM weights act on ``concat = [a_prev; xt]`` (``a_prev`` rows first), so the columns
``W[:, :n_a]`` act on ``a_prev`` and ``W[:, n_a:]`` on ``xt``.

The backward passes start from ``da``, the gradient of the loss reaching the hidden states;
the softmax output layer is not differentiated here. Every equation is derived step by step in
``docs/math.md``.
"""
import numpy as np


def sigmoid(z):
    """Logistic function ``1 / (1 + exp(-z))``, written as ``0.5 * (1 + tanh(z / 2))``.

    The tanh form never overflows (``exp(1e4)`` would), keeps the dtype and raises no warnings.
    """
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def softmax(z):
    """Softmax over axis 0 (the class axis of a column-major batch), shifted by the max for stability."""
    e = np.exp(z - z.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def rnn_cell_forward(xt, a_prev, parameters):
    """One step of a tanh RNN with a softmax output.

    ``a_next = tanh(Wax @ xt + Waa @ a_prev + ba)``, ``yt_pred = softmax(Wya @ a_next + by)``.

    Parameters
    ----------
    xt : ndarray (n_x, m)
    a_prev : ndarray (n_a, m)
    parameters : dict
        ``Wax (n_a, n_x)``, ``Waa (n_a, n_a)``, ``Wya (n_y, n_a)``, ``ba (n_a, 1)``, ``by (n_y, 1)``.

    Returns
    -------
    a_next : ndarray (n_a, m)
    yt_pred : ndarray (n_y, m)
    cache : tuple ``(a_next, a_prev, xt, parameters)``
    """
    a_next = np.tanh(parameters["Wax"] @ xt + parameters["Waa"] @ a_prev + parameters["ba"])
    yt_pred = softmax(parameters["Wya"] @ a_next + parameters["by"])
    return a_next, yt_pred, (a_next, a_prev, xt, parameters)


def rnn_forward(x, a0, parameters):
    """Run ``rnn_cell_forward`` over a sequence.

    Parameters
    ----------
    x : ndarray (n_x, m, T_x)
    a0 : ndarray (n_a, m)
    parameters : dict, as in ``rnn_cell_forward``

    Returns
    -------
    a : ndarray (n_a, m, T_x), hidden states
    y_pred : ndarray (n_y, m, T_x)
    caches : tuple ``(list_of_cell_caches, x)``
    """
    n_x, m, T_x = x.shape
    n_a, n_y = parameters["Waa"].shape[0], parameters["Wya"].shape[0]
    dtype = np.result_type(x, a0, *parameters.values())
    a = np.zeros((n_a, m, T_x), dtype=dtype)
    y_pred = np.zeros((n_y, m, T_x), dtype=dtype)
    caches = []
    a_next = a0
    for t in range(T_x):
        a_next, y_pred[:, :, t], cache = rnn_cell_forward(x[:, :, t], a_next, parameters)
        a[:, :, t] = a_next
        caches.append(cache)
    return a, y_pred, (caches, x)


def rnn_cell_backward(da_next, cache):
    """Backward of one ``rnn_cell_forward`` step (output layer excluded).

    With ``dz = da_next * (1 - a_next**2)`` (tanh' from its output):
    ``dxt = Wax.T @ dz``, ``da_prev = Waa.T @ dz``, ``dWax = dz @ xt.T``,
    ``dWaa = dz @ a_prev.T``, ``dba = dz.sum(axis=1)``.

    Parameters
    ----------
    da_next : ndarray (n_a, m), gradient of the loss with respect to ``a_next``
    cache : tuple from ``rnn_cell_forward``

    Returns
    -------
    dict with ``dxt (n_x, m)``, ``da_prev (n_a, m)``, ``dWax (n_a, n_x)``, ``dWaa (n_a, n_a)``,
    ``dba (n_a, 1)``.
    """
    a_next, a_prev, xt, parameters = cache
    dz = da_next * (1 - a_next**2)
    return {
        "dxt": parameters["Wax"].T @ dz,
        "da_prev": parameters["Waa"].T @ dz,
        "dWax": dz @ xt.T,
        "dWaa": dz @ a_prev.T,
        "dba": dz.sum(axis=1, keepdims=True),
    }


def rnn_backward(da, caches):
    """Backpropagation through time for ``rnn_forward``.

    At each step, from the last to the first, the cell receives ``da[:, :, t] + da_prev``:
    the loss reaches ``a<t>`` directly and through ``a<t+1>``.

    Parameters
    ----------
    da : ndarray (n_a, m, T)
        Gradient of the loss with respect to the hidden states ``a[:, :, :T]``. ``T`` may be
        smaller than ``T_x``: the loss then does not depend on the later steps.
    caches : tuple from ``rnn_forward``

    Returns
    -------
    dict with ``dx (n_x, m, T_x)`` (zero after step ``T``), ``da0 (n_a, m)``,
    ``dWax (n_a, n_x)``, ``dWaa (n_a, n_a)``, ``dba (n_a, 1)``.
    """
    cell_caches, x = caches
    T = da.shape[2]
    parameters = cell_caches[0][3]
    dx = np.zeros(x.shape, dtype=np.result_type(x, da))
    grads = {name: np.zeros_like(parameters[name[1:]], dtype=dx.dtype) for name in ("dWax", "dWaa", "dba")}
    da_prev = np.zeros(da.shape[:2], dtype=dx.dtype)
    for t in reversed(range(T)):
        step = rnn_cell_backward(da[:, :, t] + da_prev, cell_caches[t])
        dx[:, :, t] = step["dxt"]
        da_prev = step["da_prev"]
        for name in grads:
            grads[name] += step[name]
    return {"dx": dx, "da0": da_prev, **grads}


def lstm_cell_forward(xt, a_prev, c_prev, parameters):
    """One LSTM step with a softmax output, weights acting on ``concat = [a_prev; xt]``.

    ``ft = sigmoid(Wf @ concat + bf)``, ``it = sigmoid(Wi @ concat + bi)``,
    ``cct = tanh(Wc @ concat + bc)``, ``ot = sigmoid(Wo @ concat + bo)``,
    ``c_next = ft * c_prev + it * cct``, ``a_next = ot * tanh(c_next)``,
    ``yt_pred = softmax(Wy @ a_next + by)``.

    Parameters
    ----------
    xt : ndarray (n_x, m)
    a_prev, c_prev : ndarray (n_a, m)
    parameters : dict
        ``Wf, Wi, Wc, Wo (n_a, n_a + n_x)``, ``bf, bi, bc, bo (n_a, 1)``, ``Wy (n_y, n_a)``,
        ``by (n_y, 1)``.

    Returns
    -------
    a_next, c_next : ndarray (n_a, m)
    yt_pred : ndarray (n_y, m)
    cache : tuple ``(a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, parameters)``
    """
    concat = np.concatenate([a_prev, xt], axis=0)
    ft = sigmoid(parameters["Wf"] @ concat + parameters["bf"])
    it = sigmoid(parameters["Wi"] @ concat + parameters["bi"])
    cct = np.tanh(parameters["Wc"] @ concat + parameters["bc"])
    ot = sigmoid(parameters["Wo"] @ concat + parameters["bo"])
    c_next = ft * c_prev + it * cct
    a_next = ot * np.tanh(c_next)
    yt_pred = softmax(parameters["Wy"] @ a_next + parameters["by"])
    return a_next, c_next, yt_pred, (a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, parameters)


def lstm_forward(x, a0, parameters):
    """Run ``lstm_cell_forward`` over a sequence, starting from ``c0 = 0``.

    Parameters
    ----------
    x : ndarray (n_x, m, T_x)
    a0 : ndarray (n_a, m)
    parameters : dict, as in ``lstm_cell_forward``

    Returns
    -------
    a : ndarray (n_a, m, T_x), hidden states
    y : ndarray (n_y, m, T_x), softmax outputs
    c : ndarray (n_a, m, T_x), cell states
    caches : tuple ``(list_of_cell_caches, x)``
    """
    n_x, m, T_x = x.shape
    n_a, n_y = a0.shape[0], parameters["Wy"].shape[0]
    dtype = np.result_type(x, a0, *parameters.values())
    a = np.zeros((n_a, m, T_x), dtype=dtype)
    c = np.zeros((n_a, m, T_x), dtype=dtype)
    y = np.zeros((n_y, m, T_x), dtype=dtype)
    caches = []
    a_next, c_next = a0, np.zeros_like(a0, dtype=dtype)
    for t in range(T_x):
        a_next, c_next, y[:, :, t], cache = lstm_cell_forward(x[:, :, t], a_next, c_next, parameters)
        a[:, :, t] = a_next
        c[:, :, t] = c_next
        caches.append(cache)
    return a, y, c, (caches, x)


def lstm_cell_backward(da_next, dc_next, cache):
    """Backward of one ``lstm_cell_forward`` step (output layer excluded).

    ``dc = dc_next + da_next * ot * (1 - tanh(c_next)**2)`` collects both paths into ``c_next``;
    the pre-activation gradients are
    ``dot = da_next * tanh(c_next) * ot * (1 - ot)``, ``dcct = dc * it * (1 - cct**2)``,
    ``dit = dc * cct * it * (1 - it)``, ``dft = dc * c_prev * ft * (1 - ft)``;
    then ``dW_g = d_g @ concat.T``, ``db_g = d_g.sum(axis=1)`` for each gate ``g``,
    ``dconcat = sum_g W_g.T @ d_g`` split into ``da_prev = dconcat[:n_a]``, ``dxt = dconcat[n_a:]``,
    and ``dc_prev = dc * ft``.

    Parameters
    ----------
    da_next, dc_next : ndarray (n_a, m)
        Gradients of the loss with respect to ``a_next`` and ``c_next``.
    cache : tuple from ``lstm_cell_forward``

    Returns
    -------
    dict with ``dxt (n_x, m)``, ``da_prev, dc_prev (n_a, m)``,
    ``dWf, dWi, dWc, dWo (n_a, n_a + n_x)``, ``dbf, dbi, dbc, dbo (n_a, 1)``.
    """
    a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, parameters = cache
    n_a = a_next.shape[0]
    tanh_c = np.tanh(c_next)
    dc = dc_next + da_next * ot * (1 - tanh_c**2)
    dot = da_next * tanh_c * ot * (1 - ot)
    dcct = dc * it * (1 - cct**2)
    dit = dc * cct * it * (1 - it)
    dft = dc * c_prev * ft * (1 - ft)
    concat = np.concatenate([a_prev, xt], axis=0)
    gate_grads = {"f": dft, "i": dit, "c": dcct, "o": dot}
    dconcat = sum(parameters["W" + g].T @ d for g, d in gate_grads.items())
    grads = {"dxt": dconcat[n_a:], "da_prev": dconcat[:n_a], "dc_prev": dc * ft}
    for g, d in gate_grads.items():
        grads["dW" + g] = d @ concat.T
        grads["db" + g] = d.sum(axis=1, keepdims=True)
    return grads


def lstm_backward(da, caches):
    """Backpropagation through time for ``lstm_forward``.

    At each step, from the last to the first, the cell receives ``da[:, :, t] + da_prev`` and
    the ``dc_prev`` of the step after it (zero after the last step).

    Parameters
    ----------
    da : ndarray (n_a, m, T)
        Gradient of the loss with respect to the hidden states ``a[:, :, :T]``; ``T`` may be
        smaller than ``T_x``.
    caches : tuple from ``lstm_forward``

    Returns
    -------
    dict with ``dx (n_x, m, T_x)`` (zero after step ``T``), ``da0 (n_a, m)``,
    ``dWf, dWi, dWc, dWo (n_a, n_a + n_x)``, ``dbf, dbi, dbc, dbo (n_a, 1)``.
    """
    cell_caches, x = caches
    T = da.shape[2]
    parameters = cell_caches[0][-1]
    dx = np.zeros(x.shape, dtype=np.result_type(x, da))
    names = [prefix + g for g in "fico" for prefix in ("dW", "db")]
    grads = {name: np.zeros_like(parameters[name[1:]], dtype=dx.dtype) for name in names}
    da_prev = np.zeros(da.shape[:2], dtype=dx.dtype)
    dc_prev = np.zeros_like(da_prev)
    for t in reversed(range(T)):
        step = lstm_cell_backward(da[:, :, t] + da_prev, dc_prev, cell_caches[t])
        dx[:, :, t] = step["dxt"]
        da_prev, dc_prev = step["da_prev"], step["dc_prev"]
        for name in names:
            grads[name] += step[name]
    return {"dx": dx, "da0": da_prev, **grads}
