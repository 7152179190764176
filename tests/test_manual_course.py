"""tl.manual.check_course_code and `tinygrad-lstm check`: a learner's own course-layout BPTT.

Each classic mistake is planted as a one-line edit of a correct solution, written as a student
would, in each course layout; the report must name the right gradient, gate or part and length
class (1: the single-step math; more: the gradient carried between steps).
"""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm.manual import check_course_code, classic, cs231n, localize
from tinygrad_lstm.manual.course import CourseCodeError

ROOT = Path(__file__).resolve().parent.parent

COURSERA = '''\
import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softmax(x):
    e_x = np.exp(x - np.max(x, axis=0, keepdims=True))
    return e_x / e_x.sum(axis=0, keepdims=True)


def rnn_cell_forward(xt, a_prev, parameters):
    Wax, Waa, Wya = parameters["Wax"], parameters["Waa"], parameters["Wya"]
    ba, by = parameters["ba"], parameters["by"]
    a_next = np.tanh(np.dot(Waa, a_prev) + np.dot(Wax, xt) + ba)
    yt_pred = softmax(np.dot(Wya, a_next) + by)
    cache = (a_next, a_prev, xt, parameters)
    return a_next, yt_pred, cache


def rnn_forward(x, a0, parameters):
    caches = []
    n_x, m, T_x = x.shape
    n_y, n_a = parameters["Wya"].shape
    a = np.zeros((n_a, m, T_x))
    y_pred = np.zeros((n_y, m, T_x))
    a_next = a0
    for t in range(T_x):
        a_next, yt_pred, cache = rnn_cell_forward(x[:, :, t], a_next, parameters)
        a[:, :, t] = a_next
        y_pred[:, :, t] = yt_pred
        caches.append(cache)
    caches = (caches, x)
    return a, y_pred, caches


def rnn_cell_backward(da_next, cache):
    (a_next, a_prev, xt, parameters) = cache
    Wax, Waa = parameters["Wax"], parameters["Waa"]
    dtanh = da_next * (1 - a_next ** 2)
    dxt = np.dot(Wax.T, dtanh)
    dWax = np.dot(dtanh, xt.T)
    da_prev = np.dot(Waa.T, dtanh)
    dWaa = np.dot(dtanh, a_prev.T)
    dba = np.sum(dtanh, axis=1, keepdims=True)
    return {"dxt": dxt, "da_prev": da_prev, "dWax": dWax, "dWaa": dWaa, "dba": dba}


def rnn_backward(da, caches):
    (caches, x) = caches
    (a1, a0, x1, parameters) = caches[0]
    n_a, m, T_x = da.shape
    n_x, m = x1.shape
    dx = np.zeros((n_x, m, T_x))
    dWax = np.zeros((n_a, n_x))
    dWaa = np.zeros((n_a, n_a))
    dba = np.zeros((n_a, 1))
    da_prevt = np.zeros((n_a, m))
    for t in reversed(range(T_x)):
        gradients = rnn_cell_backward(da[:, :, t] + da_prevt, caches[t])
        dxt, da_prevt = gradients["dxt"], gradients["da_prev"]
        dx[:, :, t] = dxt
        dWax += gradients["dWax"]
        dWaa += gradients["dWaa"]
        dba += gradients["dba"]
    da0 = da_prevt
    return {"dx": dx, "da0": da0, "dWax": dWax, "dWaa": dWaa, "dba": dba}


def lstm_cell_forward(xt, a_prev, c_prev, parameters):
    Wf, bf = parameters["Wf"], parameters["bf"]
    Wi, bi = parameters["Wi"], parameters["bi"]
    Wc, bc = parameters["Wc"], parameters["bc"]
    Wo, bo = parameters["Wo"], parameters["bo"]
    Wy, by = parameters["Wy"], parameters["by"]
    concat = np.concatenate((a_prev, xt), axis=0)
    ft = sigmoid(np.dot(Wf, concat) + bf)
    it = sigmoid(np.dot(Wi, concat) + bi)
    cct = np.tanh(np.dot(Wc, concat) + bc)
    c_next = ft * c_prev + it * cct
    ot = sigmoid(np.dot(Wo, concat) + bo)
    a_next = ot * np.tanh(c_next)
    yt_pred = softmax(np.dot(Wy, a_next) + by)
    cache = (a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, parameters)
    return a_next, c_next, yt_pred, cache


def lstm_forward(x, a0, parameters):
    caches = []
    n_x, m, T_x = x.shape
    n_y, n_a = parameters["Wy"].shape
    a = np.zeros((n_a, m, T_x))
    c = np.zeros((n_a, m, T_x))
    y = np.zeros((n_y, m, T_x))
    a_next = a0
    c_next = np.zeros((n_a, m))
    for t in range(T_x):
        a_next, c_next, yt, cache = lstm_cell_forward(x[:, :, t], a_next, c_next, parameters)
        a[:, :, t] = a_next
        c[:, :, t] = c_next
        y[:, :, t] = yt
        caches.append(cache)
    caches = (caches, x)
    return a, y, c, caches


def lstm_cell_backward(da_next, dc_next, cache):
    (a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, parameters) = cache
    n_x, m = xt.shape
    n_a, m = a_next.shape
    dc = dc_next + da_next * ot * (1 - np.tanh(c_next) ** 2)
    dot = da_next * np.tanh(c_next) * ot * (1 - ot)
    dcct = dc * it * (1 - cct ** 2)
    dit = dc * cct * it * (1 - it)
    dft = dc * c_prev * ft * (1 - ft)
    concat = np.concatenate((a_prev, xt), axis=0)
    dWf = np.dot(dft, concat.T)
    dWi = np.dot(dit, concat.T)
    dWc = np.dot(dcct, concat.T)
    dWo = np.dot(dot, concat.T)
    dbf = np.sum(dft, axis=1, keepdims=True)
    dbi = np.sum(dit, axis=1, keepdims=True)
    dbc = np.sum(dcct, axis=1, keepdims=True)
    dbo = np.sum(dot, axis=1, keepdims=True)
    Wf, Wi, Wc, Wo = parameters["Wf"], parameters["Wi"], parameters["Wc"], parameters["Wo"]
    da_prev = (np.dot(Wf[:, :n_a].T, dft) + np.dot(Wi[:, :n_a].T, dit)
               + np.dot(Wc[:, :n_a].T, dcct) + np.dot(Wo[:, :n_a].T, dot))
    dc_prev = dc * ft
    dxt = (np.dot(Wf[:, n_a:].T, dft) + np.dot(Wi[:, n_a:].T, dit)
           + np.dot(Wc[:, n_a:].T, dcct) + np.dot(Wo[:, n_a:].T, dot))
    return {"dxt": dxt, "da_prev": da_prev, "dc_prev": dc_prev, "dWf": dWf, "dbf": dbf, "dWi": dWi,
            "dbi": dbi, "dWc": dWc, "dbc": dbc, "dWo": dWo, "dbo": dbo}


def lstm_backward(da, caches):
    (caches, x) = caches
    (a1, c1, a0, c0, f1, i1, cc1, o1, x1, parameters) = caches[0]
    n_a, m, T_x = da.shape
    n_x, m = x1.shape
    dx = np.zeros((n_x, m, T_x))
    da_prevt = np.zeros((n_a, m))
    dc_prevt = np.zeros((n_a, m))
    dWf = np.zeros((n_a, n_a + n_x))
    dWi = np.zeros((n_a, n_a + n_x))
    dWc = np.zeros((n_a, n_a + n_x))
    dWo = np.zeros((n_a, n_a + n_x))
    dbf = np.zeros((n_a, 1))
    dbi = np.zeros((n_a, 1))
    dbc = np.zeros((n_a, 1))
    dbo = np.zeros((n_a, 1))
    for t in reversed(range(T_x)):
        gradients = lstm_cell_backward(da[:, :, t] + da_prevt, dc_prevt, caches[t])
        da_prevt = gradients["da_prev"]
        dc_prevt = gradients["dc_prev"]
        dx[:, :, t] = gradients["dxt"]
        dWf += gradients["dWf"]
        dWi += gradients["dWi"]
        dWc += gradients["dWc"]
        dWo += gradients["dWo"]
        dbf += gradients["dbf"]
        dbi += gradients["dbi"]
        dbc += gradients["dbc"]
        dbo += gradients["dbo"]
    da0 = da_prevt
    return {"dx": dx, "da0": da0, "dWf": dWf, "dbf": dbf, "dWi": dWi, "dbi": dbi, "dWc": dWc, "dbc": dbc,
            "dWo": dWo, "dbo": dbo}
'''

CS231N = '''\
import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(x.dot(Wx) + prev_h.dot(Wh) + b)
    cache = (x, prev_h, Wx, Wh, next_h)
    return next_h, cache


def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    dz = dnext_h * (1 - next_h ** 2)
    dx = dz.dot(Wx.T)
    dprev_h = dz.dot(Wh.T)
    dWx = x.T.dot(dz)
    dWh = prev_h.T.dot(dz)
    db = dz.sum(axis=0)
    return dx, dprev_h, dWx, dWh, db


def rnn_forward(x, h0, Wx, Wh, b):
    N, T, D = x.shape
    H = h0.shape[1]
    h = np.zeros((N, T, H))
    cache = []
    prev_h = h0
    for t in range(T):
        prev_h, step_cache = rnn_step_forward(x[:, t, :], prev_h, Wx, Wh, b)
        h[:, t, :] = prev_h
        cache.append(step_cache)
    return h, cache


def rnn_backward(dh, cache):
    N, T, H = dh.shape
    D = cache[0][0].shape[1]
    dx = np.zeros((N, T, D))
    dWx = np.zeros((D, H))
    dWh = np.zeros((H, H))
    db = np.zeros(H)
    dprev_h = np.zeros((N, H))
    for t in reversed(range(T)):
        dx_t, dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t, :] + dprev_h, cache[t])
        dx[:, t, :] = dx_t
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    dh0 = dprev_h
    return dx, dh0, dWx, dWh, db


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    H = prev_h.shape[1]
    a = x.dot(Wx) + prev_h.dot(Wh) + b
    i = sigmoid(a[:, :H])
    f = sigmoid(a[:, H:2 * H])
    o = sigmoid(a[:, 2 * H:3 * H])
    g = np.tanh(a[:, 3 * H:])
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    cache = (x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c)
    return next_h, next_c, cache


def lstm_step_backward(dnext_h, dnext_c, cache):
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c = cache
    dc = dnext_c + dnext_h * o * (1 - np.tanh(next_c) ** 2)
    di = dc * g * i * (1 - i)
    df = dc * prev_c * f * (1 - f)
    do = dnext_h * np.tanh(next_c) * o * (1 - o)
    dg = dc * i * (1 - g ** 2)
    da = np.hstack((di, df, do, dg))
    dx = da.dot(Wx.T)
    dprev_h = da.dot(Wh.T)
    dprev_c = dc * f
    dWx = x.T.dot(da)
    dWh = prev_h.T.dot(da)
    db = da.sum(axis=0)
    return dx, dprev_h, dprev_c, dWx, dWh, db


def lstm_forward(x, h0, Wx, Wh, b):
    N, T, D = x.shape
    H = h0.shape[1]
    h = np.zeros((N, T, H))
    cache = []
    prev_h, prev_c = h0, np.zeros((N, H))
    for t in range(T):
        prev_h, prev_c, step_cache = lstm_step_forward(x[:, t, :], prev_h, prev_c, Wx, Wh, b)
        h[:, t, :] = prev_h
        cache.append(step_cache)
    return h, cache


def lstm_backward(dh, cache):
    N, T, H = dh.shape
    D = cache[0][0].shape[1]
    dx = np.zeros((N, T, D))
    dWx = np.zeros((D, 4 * H))
    dWh = np.zeros((H, 4 * H))
    db = np.zeros(4 * H)
    dprev_h = np.zeros((N, H))
    dprev_c = np.zeros((N, H))
    for t in reversed(range(T)):
        dx_t, dprev_h, dprev_c, dWx_t, dWh_t, db_t = lstm_step_backward(dh[:, t, :] + dprev_h, dprev_c, cache[t])
        dx[:, t, :] = dx_t
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    dh0 = dprev_h
    return dx, dh0, dWx, dWh, db
'''

SOURCES = {"coursera": COURSERA, "cs231n": CS231N}


def learner_file(tmp_path, layout, old=None, new=None, name="learner.py"):
    """The correct `layout` solution, with the line `old` replaced by `new`, written to tmp_path/name."""
    source = SOURCES[layout]
    if old is not None:
        assert source.count(old) == 1, f"{old!r} occurs {source.count(old)} times in the {layout} solution"
        source = source.replace(old, new)
    path = tmp_path / name
    path.write_text(source, encoding="utf-8")
    return path


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "tinygrad_lstm", "check", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


LONGER = "2+"  # the gradient carried between steps: wrong from a prefix length > 1

# (id, layout, old line, new line, {function: ({gradient: (gate, part, length class)}, words in the diagnosis)})
# A length class of None is a step function's (no sequence). Every wrong function is listed; the
# gradients listed are exactly those wrong at the function's shortest wrong length.
MISTAKES = [
    ("coursera-missing-ft-in-dc_prev", "coursera", "    dc_prev = dc * ft\n", "    dc_prev = dc\n", {
        "lstm_cell_backward": ({"dc_prev": (None, None, None)}, ["ft in dc_prev"]),
        "lstm_backward": ({"dx": (None, None, LONGER), "da0": (None, None, LONGER), "dWf": ("f", None, LONGER),
                           "dbf": ("f", None, LONGER), "dWi": ("i", None, LONGER), "dbi": ("i", None, LONGER),
                           "dWc": ("c", None, LONGER), "dbc": ("c", None, LONGER)},
                          ["carried through c_prev", "ft in dc_prev"])}),
    ("coursera-tanh-derivative-from-pre-activation", "coursera", "    dcct = dc * it * (1 - cct ** 2)\n",
     "    dcct = dc * it * (1 - np.tanh(cct) ** 2)\n", {
         "lstm_cell_backward": ({"dxt": (None, None, None), "da_prev": (None, None, None),
                                 "dWc": ("c", None, None), "dbc": ("c", None, None)}, ["candidate c", "1 - cct**2"]),
         "lstm_backward": ({"dx": (None, None, 1), "da0": (None, None, 1), "dWc": ("c", None, 1),
                            "dbc": ("c", None, 1)}, ["single-step", "candidate c"])}),
    ("coursera-rnn-tanh-derivative-from-pre-activation", "coursera", "    dtanh = da_next * (1 - a_next ** 2)\n",
     "    dtanh = da_next * (1 - np.tanh(a_next) ** 2)\n", {
         "rnn_cell_backward": ({name: (None, None, None) for name in ("dxt", "da_prev", "dWax", "dWaa", "dba")},
                               ["through tanh", "a_next"]),
         "rnn_backward": ({name: (None, None, 1) for name in ("dx", "da0", "dWax", "dWaa", "dba")},
                          ["single-step", "through tanh"])}),
    ("coursera-dWf-not-accumulated", "coursera", '        dWf += gradients["dWf"]\n',
     '        dWf = gradients["dWf"]\n', {
         "lstm_backward": ({"dWf": ("f", None, LONGER)}, ["dWf is not summed over the time steps"])}),
    ("coursera-rnn-dWax-not-accumulated", "coursera", '        dWax += gradients["dWax"]\n',
     '        dWax = gradients["dWax"]\n', {
         "rnn_backward": ({"dWax": (None, None, LONGER)}, ["dWax is not summed over the time steps"])}),
    ("coursera-gate-gradients-swapped", "coursera", "    dWf = np.dot(dft, concat.T)\n    dWi = np.dot(dit, concat.T)\n",
     "    dWf = np.dot(dit, concat.T)\n    dWi = np.dot(dft, concat.T)\n", {
         "lstm_cell_backward": ({"dWf": ("f", None, None), "dWi": ("i", None, None)},
                                ["dWf holds the gradient of gate i"]),
         "lstm_backward": ({"dWf": ("f", None, 1), "dWi": ("i", None, 1)}, ["dWi holds the gradient of gate f"])}),
    ("coursera-da_prev-not-added", "coursera", "lstm_cell_backward(da[:, :, t] + da_prevt, dc_prevt, caches[t])",
     "lstm_cell_backward(da[:, :, t], dc_prevt, caches[t])", {
         "lstm_backward": ({"dx": (None, None, LONGER), "da0": (None, None, LONGER)} | {
             f"d{kind}{g}": (g, None, LONGER) for g in "fico" for kind in "Wb"},
             ["carried through a_prev", "da[:, :, t] + da_prev"])}),
    ("coursera-da-not-added", "coursera", "lstm_cell_backward(da[:, :, t] + da_prevt, dc_prevt, caches[t])",
     "lstm_cell_backward(da_prevt, dc_prevt, caches[t])", {
         "lstm_backward": ({"dx": (None, None, 1), "da0": (None, None, 1)} | {
             f"d{kind}{g}": (g, None, 1) for g in "fico" for kind in "Wb"}, ["all zero", "da[:, :, t] + da_prev"])}),
    ("coursera-rnn-da_prev-not-added", "coursera", "rnn_cell_backward(da[:, :, t] + da_prevt, caches[t])",
     "rnn_cell_backward(da[:, :, t], caches[t])", {
         "rnn_backward": ({name: (None, None, LONGER) for name in ("dx", "da0", "dWax", "dWaa", "dba")},
                          ["carried through a_prev"])}),
    ("coursera-sigmoid-derivative-as-s", "coursera", "    dft = dc * c_prev * ft * (1 - ft)\n",
     "    dft = dc * c_prev * ft\n", {
         "lstm_cell_backward": ({"dxt": (None, None, None), "da_prev": (None, None, None), "dWf": ("f", None, None),
                                 "dbf": ("f", None, None)}, ["only gate f", "ft * (1 - ft)"]),
         "lstm_backward": ({"dx": (None, None, 1), "da0": (None, None, 1), "dWf": ("f", None, 1),
                            "dbf": ("f", None, 1)}, ["single-step", "ft * (1 - ft)"])}),
    ("coursera-bias-mean-over-batch", "coursera", "    dbf = np.sum(dft, axis=1, keepdims=True)\n",
     "    dbf = np.mean(dft, axis=1, keepdims=True)\n", {
         "lstm_cell_backward": ({"dbf": ("f", None, None)}, ["dbf is the mean over the batch"]),
         "lstm_backward": ({"dbf": ("f", None, 1)}, ["dbf is the mean over the batch"])}),
    ("coursera-rnn-bias-not-summed", "coursera", "    dba = np.sum(dtanh, axis=1, keepdims=True)\n",
     "    dba = dtanh[:, :1]\n", {
         "rnn_cell_backward": ({"dba": (None, None, None)}, ["bias gradient", "sums over the batch"]),
         "rnn_backward": ({"dba": (None, None, 1)}, ["bias gradient"])}),
    ("coursera-bias-not-summed-shape", "coursera", "    dbf = np.sum(dft, axis=1, keepdims=True)\n", "    dbf = dft\n", {
        "lstm_cell_backward": ({"dbf": ("f", None, None)}, ["dbf has shape (5, 2), expected (5, 1)"]),
        "lstm_backward": ({}, ["raised ValueError", "lstm_cell_backward: dbf has shape (5, 2)"])}),
    ("cs231n-missing-f-in-dprev_c", "cs231n", "    dprev_c = dc * f\n", "    dprev_c = dc\n", {
        "lstm_step_backward": ({"dprev_c": (None, None, None)}, ["f in dprev_c"]),
        "lstm_backward": ({"dx": (None, None, LONGER), "dh0": (None, None, LONGER), "dWx": ("i,f,g", None, LONGER),
                           "dWh": ("i,f,g", None, LONGER), "db": ("i,f,g", None, LONGER)},
                          ["carried through prev_c", "f in dprev_c"])}),
    ("cs231n-tanh-derivative-from-pre-activation", "cs231n", "    dg = dc * i * (1 - g ** 2)\n",
     "    dg = dc * i * (1 - np.tanh(g) ** 2)\n", {
         "lstm_step_backward": ({"dx": (None, None, None), "dprev_h": (None, None, None), "dWx": ("g", None, None),
                                 "dWh": ("g", None, None), "db": ("g", None, None)}, ["candidate g", "1 - g**2"]),
         "lstm_backward": ({"dx": (None, None, 1), "dh0": (None, None, 1), "dWx": ("g", None, 1), "dWh": ("g", None, 1),
                            "db": ("g", None, 1)}, ["single-step", "candidate g"])}),
    ("cs231n-rnn-tanh-derivative-from-pre-activation", "cs231n", "    dz = dnext_h * (1 - next_h ** 2)\n",
     "    dz = dnext_h * (1 - np.tanh(next_h) ** 2)\n", {
         "rnn_step_backward": ({name: (None, None, None) for name in ("dx", "dprev_h", "dWx", "dWh", "db")},
                               ["through tanh", "next_h"]),
         "rnn_backward": ({name: (None, None, 1) for name in ("dx", "dh0", "dWx", "dWh", "db")}, ["single-step"])}),
    ("cs231n-dWx-not-accumulated", "cs231n",
     "dprev_c, cache[t])\n        dx[:, t, :] = dx_t\n        dWx += dWx_t\n",
     "dprev_c, cache[t])\n        dx[:, t, :] = dx_t\n        dWx = dWx_t\n", {
         "lstm_backward": ({"dWx": (None, None, LONGER)}, ["dWx is not summed over the time steps"])}),
    ("cs231n-gate-slices-swapped-in-backward", "cs231n", "    da = np.hstack((di, df, do, dg))\n",
     "    da = np.hstack((di, df, dg, do))\n", {
         "lstm_step_backward": ({"dx": (None, None, None), "dprev_h": (None, None, None), "dWx": ("o,g", None, None),
                                 "dWh": ("o,g", None, None), "db": ("o,g", None, None)}, ["gates o and g swapped"]),
         "lstm_backward": ({"dx": (None, None, 1), "dh0": (None, None, 1), "dWx": ("o,g", None, 1),
                            "dWh": ("o,g", None, 1), "db": ("o,g", None, 1)}, ["gates o and g swapped"])}),
    ("cs231n-gate-slices-swapped-in-forward", "cs231n",
     "    o = sigmoid(a[:, 2 * H:3 * H])\n    g = np.tanh(a[:, 3 * H:])\n",
     "    g = np.tanh(a[:, 2 * H:3 * H])\n    o = sigmoid(a[:, 3 * H:])\n", {
         "lstm_step_forward": ({"next_h": (None, None, None), "next_c": (None, None, None)},
                               ["order i, f, g, o; the course's is i, f, o, g"]),
         "lstm_forward": ({"h": (None, None, None)}, ["order i, f, g, o"])}),
    ("cs231n-dprev_h-not-added", "cs231n", "lstm_step_backward(dh[:, t, :] + dprev_h, dprev_c, cache[t])",
     "lstm_step_backward(dh[:, t, :], dprev_c, cache[t])", {
         "lstm_backward": ({"dx": (None, None, LONGER), "dh0": (None, None, LONGER), "dWx": (None, None, LONGER),
                            "dWh": (None, None, LONGER), "db": (None, None, LONGER)},
                           ["carried through prev_h", "dh[:, t] + dprev_h"])}),
    ("cs231n-rnn-dprev_h-not-added", "cs231n", "rnn_step_backward(dh[:, t, :] + dprev_h, cache[t])",
     "rnn_step_backward(dh[:, t, :], cache[t])", {
         "rnn_backward": ({name: (None, None, LONGER) for name in ("dx", "dh0", "dWx", "dWh", "db")},
                          ["carried through prev_h"])}),
    ("cs231n-sigmoid-derivative-as-s", "cs231n", "    df = dc * prev_c * f * (1 - f)\n", "    df = dc * prev_c * f\n", {
        "lstm_step_backward": ({"dx": (None, None, None), "dprev_h": (None, None, None), "dWx": ("f", None, None),
                                "dWh": ("f", None, None), "db": ("f", None, None)}, ["only gate f", "f * (1 - f)"]),
        "lstm_backward": ({"dx": (None, None, 1), "dh0": (None, None, 1), "dWx": ("f", None, 1), "dWh": ("f", None, 1),
                           "db": ("f", None, 1)}, ["single-step", "f * (1 - f)"])}),
    ("cs231n-bias-mean-over-batch", "cs231n", "    db = da.sum(axis=0)\n", "    db = da.mean(axis=0)\n", {
        "lstm_step_backward": ({"db": (None, None, None)}, ["db is the mean over the batch"]),
        "lstm_backward": ({"db": (None, None, 1)}, ["db is the mean over the batch"])}),
    ("cs231n-bias-not-summed-shape", "cs231n", "    db = dz.sum(axis=0)\n", "    db = dz\n", {
        "rnn_step_backward": ({"db": (None, None, None)}, ["db has shape (2, 5), expected (5,)"]),
        "rnn_backward": ({}, ["raised ValueError", "rnn_step_backward: db has shape (2, 5)"])}),
]


@pytest.mark.parametrize("layout, old, new, expected", [m[1:] for m in MISTAKES], ids=[m[0] for m in MISTAKES])
def test_report_localises_each_classic_mistake(tmp_path, layout, old, new, expected):
    report = check_course_code(learner_file(tmp_path, layout, old, new))
    assert report.layout == layout and not report.correct
    assert {f.name for f in report.functions if not f.correct} == set(expected)
    for name, (gradients, words) in expected.items():
        function = report[name]
        for word in words:
            assert word in function.diagnosis, (name, function.diagnosis)
        if not gradients:
            assert function.gradients == [] and function.traceback
            continue
        wrong = [row for row in function.gradients if not row.correct]
        if all(row.first_wrong_length is None for row in wrong):
            first = wrong  # a step function, or a forward
        else:
            shortest = min(row.first_wrong_length for row in wrong)
            first = [row for row in wrong if row.first_wrong_length == shortest]
        assert {row.name for row in first} == set(gradients), (name, [row.name for row in first])
        for row in first:
            gate, part, length = gradients[row.name]
            assert (row.gate, row.part) == (gate, part), (name, row)
            if length == LONGER:
                assert row.first_wrong_length > 1, (name, row)
            else:
                assert row.first_wrong_length == length, (name, row)
            assert row.problem is not None or row.max_abs_error > 1e-6


@pytest.mark.parametrize("layout", ["coursera", "cs231n"])
def test_correct_learner_passes_in_each_layout(tmp_path, layout):
    report = check_course_code(learner_file(tmp_path, layout))
    assert report.layout == layout and report.correct, str(report)
    assert len(report.functions) == 8
    assert all(f.forward_used == "yours" for f in report.functions)
    assert all(row.max_abs_error < 1e-12 and row.gate is None and row.first_wrong_length is None
               for f in report.functions for row in f.gradients)
    assert report.summary() == "all 8 functions agree with the graph"


@pytest.mark.parametrize("module, layout", [(classic, "coursera"), (cs231n, "cs231n")])
def test_the_package_course_references_pass(module, layout):
    report = check_course_code(module)
    assert report.layout == layout and report.correct, str(report)
