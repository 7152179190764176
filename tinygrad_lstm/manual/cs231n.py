"""Hand-written BPTT for RNN and LSTM in the batch-first layout of Stanford CS231n (``rnn_layers.py``).

Layout: a batch of ``N`` examples is stored row-wise, so a hidden state is ``(N, H)``, an input
sequence ``x`` is ``(N, T, D)`` and weights multiply from the right (``x @ Wx``). The RNN has
``Wx (D, H)``, ``Wh (H, H)``, ``b (H,)``; the LSTM stacks its four gates as columns of
``Wx (D, 4H)``, ``Wh (H, 4H)`` and one bias ``b (4H,)``, in the order **i, f, o, g** (PyTorch's
rows are i, f, g, o). The initial cell state of ``lstm_forward`` is zero.

The signatures and return tuples are the course's. The course leaves the cache to the student;
here a step cache is a tuple of the step's inputs and outputs (see each function) and a sequence
cache is the list of its step caches. The backward passes start from the gradient of the loss
reaching the hidden states.
"""
import numpy as np

from .classic import sigmoid

__all__ = ["rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward",
           "lstm_step_forward", "lstm_step_backward", "lstm_forward", "lstm_backward"]


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    """One step of a tanh RNN: ``next_h = tanh(x @ Wx + prev_h @ Wh + b)``.

    Parameters
    ----------
    x : ndarray (N, D)
    prev_h : ndarray (N, H)
    Wx : ndarray (D, H)
    Wh : ndarray (H, H)
    b : ndarray (H,)

    Returns
    -------
    next_h : ndarray (N, H)
    cache : tuple ``(x, prev_h, Wx, Wh, next_h)``
    """
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
    return next_h, (x, prev_h, Wx, Wh, next_h)


def rnn_step_backward(dnext_h, cache):
    """Backward of one ``rnn_step_forward`` step.

    With ``dz = dnext_h * (1 - next_h**2)``: ``dx = dz @ Wx.T``, ``dprev_h = dz @ Wh.T``,
    ``dWx = x.T @ dz``, ``dWh = prev_h.T @ dz``, ``db = dz.sum(axis=0)``.

    Returns
    -------
    dx (N, D), dprev_h (N, H), dWx (D, H), dWh (H, H), db (H,)
    """
    x, prev_h, Wx, Wh, next_h = cache
    dz = dnext_h * (1 - next_h**2)
    return dz @ Wx.T, dz @ Wh.T, x.T @ dz, prev_h.T @ dz, dz.sum(axis=0)


def rnn_forward(x, h0, Wx, Wh, b):
    """Run ``rnn_step_forward`` over a sequence.

    Parameters
    ----------
    x : ndarray (N, T, D)
    h0 : ndarray (N, H)
    Wx, Wh, b : as in ``rnn_step_forward``

    Returns
    -------
    h : ndarray (N, T, H), hidden states
    cache : list of the T step caches
    """
    N, T, _ = x.shape
    h = np.zeros((N, T, h0.shape[1]), dtype=np.result_type(x, h0, Wx, Wh, b))
    cache = []
    prev_h = h0
    for t in range(T):
        prev_h, step_cache = rnn_step_forward(x[:, t], prev_h, Wx, Wh, b)
        h[:, t] = prev_h
        cache.append(step_cache)
    return h, cache


def rnn_backward(dh, cache):
    """Backpropagation through time for ``rnn_forward``.

    At each step, from the last to the first, the cell receives ``dh[:, t] + dprev_h``: the loss
    reaches ``h[:, t]`` directly and through ``h[:, t + 1]``.

    Parameters
    ----------
    dh : ndarray (N, T, H), gradient of the loss with respect to every hidden state
    cache : list from ``rnn_forward``

    Returns
    -------
    dx (N, T, D), dh0 (N, H), dWx (D, H), dWh (H, H), db (H,)
    """
    N, T, H = dh.shape
    x, _, Wx, Wh, _ = cache[0]
    dtype = np.result_type(dh, x)
    dx = np.zeros((N, T, x.shape[1]), dtype=dtype)
    dWx, dWh, db = np.zeros(Wx.shape, dtype), np.zeros(Wh.shape, dtype), np.zeros(H, dtype)
    dprev_h = np.zeros((N, H), dtype)
    for t in reversed(range(T)):
        dx[:, t], dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t] + dprev_h, cache[t])
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dprev_h, dWx, dWh, db


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    """One LSTM step with the gates stacked as columns i, f, o, g.

    ``a = x @ Wx + prev_h @ Wh + b``; ``i, f, o = sigmoid`` of the first three ``H``-column
    blocks of ``a`` and ``g = tanh`` of the last; ``next_c = f * prev_c + i * g``,
    ``next_h = o * tanh(next_c)``.

    Parameters
    ----------
    x : ndarray (N, D)
    prev_h, prev_c : ndarray (N, H)
    Wx : ndarray (D, 4H)
    Wh : ndarray (H, 4H)
    b : ndarray (4H,)

    Returns
    -------
    next_h, next_c : ndarray (N, H)
    cache : tuple ``(x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c)``
    """
    H = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b
    i, f, o = (sigmoid(a[:, k * H:(k + 1) * H]) for k in range(3))
    g = np.tanh(a[:, 3 * H:])
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c)


def lstm_step_backward(dnext_h, dnext_c, cache):
    """Backward of one ``lstm_step_forward`` step.

    ``dc = dnext_c + dnext_h * o * (1 - tanh(next_c)**2)`` collects both paths into ``next_c``;
    the gate pre-activation gradients, stacked as columns i, f, o, g, are
    ``da = [dc * g * i * (1 - i), dc * prev_c * f * (1 - f), dnext_h * tanh(next_c) * o * (1 - o),
    dc * i * (1 - g**2)]``; then ``dx = da @ Wx.T``, ``dprev_h = da @ Wh.T``, ``dWx = x.T @ da``,
    ``dWh = prev_h.T @ da``, ``db = da.sum(axis=0)`` and ``dprev_c = dc * f``.

    Returns
    -------
    dx (N, D), dprev_h (N, H), dprev_c (N, H), dWx (D, 4H), dWh (H, 4H), db (4H,)
    """
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c = cache
    tanh_c = np.tanh(next_c)
    dc = dnext_c + dnext_h * o * (1 - tanh_c**2)
    da = np.concatenate([dc * g * i * (1 - i), dc * prev_c * f * (1 - f),
                         dnext_h * tanh_c * o * (1 - o), dc * i * (1 - g**2)], axis=1)
    return da @ Wx.T, da @ Wh.T, dc * f, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def lstm_forward(x, h0, Wx, Wh, b):
    """Run ``lstm_step_forward`` over a sequence, starting from a zero cell state.

    Parameters
    ----------
    x : ndarray (N, T, D)
    h0 : ndarray (N, H)
    Wx, Wh, b : as in ``lstm_step_forward``

    Returns
    -------
    h : ndarray (N, T, H), hidden states (the cell states are internal, as in the course)
    cache : list of the T step caches
    """
    N, T, _ = x.shape
    h = np.zeros((N, T, h0.shape[1]), dtype=np.result_type(x, h0, Wx, Wh, b))
    cache = []
    prev_h, prev_c = h0, np.zeros_like(h0, dtype=h.dtype)
    for t in range(T):
        prev_h, prev_c, step_cache = lstm_step_forward(x[:, t], prev_h, prev_c, Wx, Wh, b)
        h[:, t] = prev_h
        cache.append(step_cache)
    return h, cache


def lstm_backward(dh, cache):
    """Backpropagation through time for ``lstm_forward``.

    At each step, from the last to the first, the cell receives ``dh[:, t] + dprev_h`` and the
    ``dprev_c`` of the step after it (zero after the last step).

    Parameters
    ----------
    dh : ndarray (N, T, H), gradient of the loss with respect to every hidden state
    cache : list from ``lstm_forward``

    Returns
    -------
    dx (N, T, D), dh0 (N, H), dWx (D, 4H), dWh (H, 4H), db (4H,)
    """
    N, T, H = dh.shape
    x, _, _, Wx, Wh = cache[0][:5]
    dtype = np.result_type(dh, x)
    dx = np.zeros((N, T, x.shape[1]), dtype=dtype)
    dWx, dWh, db = np.zeros(Wx.shape, dtype), np.zeros(Wh.shape, dtype), np.zeros(4 * H, dtype)
    dprev_h, dprev_c = np.zeros((N, H), dtype), np.zeros((N, H), dtype)
    for t in reversed(range(T)):
        dx[:, t], dprev_h, dprev_c, dWx_t, dWh_t, db_t = lstm_step_backward(dh[:, t] + dprev_h, dprev_c, cache[t])
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dprev_h, dWx, dWh, db
