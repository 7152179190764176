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
    ("coursera-gate-gradients-swapped", "coursera",
     "    dWf = np.dot(dft, concat.T)\n    dWi = np.dot(dit, concat.T)\n",
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
    ("coursera-bias-not-summed-shape", "coursera", "    dbf = np.sum(dft, axis=1, keepdims=True)\n",
     "    dbf = dft\n", {
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


def test_wrong_forward_makes_the_backward_use_the_package_forward(tmp_path):
    step = "        a_next, c_next, yt, cache = lstm_cell_forward(x[:, :, t], {}, c_next, parameters)\n"
    carried_wrong = learner_file(tmp_path, "coursera", step.format("a_next"), step.format("a0"))
    report = check_course_code(carried_wrong, cells="lstm")
    forward, backward = report["lstm_forward"], report["lstm_backward"]
    assert not forward.correct and "wrong from t=1 on" in forward.diagnosis
    assert forward["a"].first_wrong_step == 1 and forward["a"].max_abs_error > 1e-3
    assert backward.correct and backward.forward_used == "reference"
    assert report["lstm_cell_backward"].forward_used == "yours"
    assert "caches from the package's lstm_forward (yours is wrong)" in str(report)


def test_coursera_cache_layout_is_checked(tmp_path):
    swapped = learner_file(tmp_path, "coursera",
                           "    cache = (a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, parameters)\n",
                           "    cache = (a_next, c_next, a_prev, c_prev, it, ft, cct, ot, xt, parameters)\n")
    report = check_course_code(swapped, cells="lstm")
    cell = report["lstm_cell_forward"]
    assert [row.name for row in cell.gradients if not row.correct] == ["cache"]
    assert "entries ft, it differ from the course's cache" in cell.diagnosis
    # the learner's backward reads ft and it from the course's positions: checked on the package's caches, it is right
    assert report["lstm_cell_backward"].correct and report["lstm_cell_backward"].forward_used == "reference"


def test_backward_alone_is_checked_on_the_package_forward(tmp_path):
    source = SOURCES["coursera"]
    only_backwards = "import numpy as np\n\n\n" + source[source.index("def lstm_cell_backward"):]
    path = tmp_path / "backward_only.py"
    path.write_text(only_backwards)
    report = check_course_code(path)
    assert [f.name for f in report.functions] == ["lstm_cell_backward", "lstm_backward"]
    assert report.correct and {f.forward_used for f in report.functions} == {"reference"}


def test_cs231n_backward_that_cannot_read_the_package_cache(tmp_path):
    # the learner caches the pre-activation `a` and computes the gates again in backward: a layout of its own
    source = SOURCES["cs231n"].replace(
        "    cache = (x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c)\n",
        "    cache = (x, prev_h, prev_c, Wx, Wh, a, next_c)\n").replace(
        "    x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c = cache\n",
        "    x, prev_h, prev_c, Wx, Wh, a, next_c = cache\n    H = prev_h.shape[1]\n"
        "    i, f, o = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H]), sigmoid(a[:, 2 * H:3 * H])\n"
        "    g = np.tanh(a[:, 3 * H:])\n")
    path = tmp_path / "own_cache.py"
    path.write_text(source)
    assert check_course_code(path).correct  # its own cache: fine
    path.write_text(source.replace("    next_c = f * prev_c + i * g\n", "    next_c = f * prev_c + i * g * 1.01\n"))
    report = check_course_code(path, cells=["lstm"])
    step = report["lstm_step_backward"]
    assert not report["lstm_step_forward"].correct
    assert not step.correct and step.forward_used == "reference" and step.gradients == []
    assert "could not be checked" in step.diagnosis and "fix lstm_step_forward first" in step.diagnosis
    assert "own_cache.py" in step.traceback and "tinygrad_lstm" not in step.traceback


@pytest.mark.parametrize("old, new, words", [
    ("    df = dc * prev_c * f * (1 - f)\n", "    df = dc * prev_c * f\n",
     "wrong from length 2 on, but the single-step math is wrong: dx is wrong at the last step"),
    ("    dprev_c = dc * f\n", "    dprev_c = dc\n", "wrong from length 2 on: the gradient carried through prev_c"),
])
def test_cs231n_cache_that_is_not_a_list_of_step_caches(tmp_path, old, new, words):
    """Prefixes then start from a zero cell state, where gate f gets no gradient at the first step: a
    mistake in f shows from length 2, and the report says that the last step, not the carry, is wrong."""
    source = SOURCES["cs231n"].replace("    return h, cache\n\n\ndef lstm_backward",
                                       "    return h, {'steps': cache}\n\n\ndef lstm_backward")
    source = source.replace("    N, T, H = dh.shape\n    D = cache[0][0].shape[1]\n    dx = np.zeros((N, T, D))\n"
                            "    dWx = np.zeros((D, 4 * H))",
                            "    cache = cache['steps']\n    N, T, H = dh.shape\n    D = cache[0][0].shape[1]\n"
                            "    dx = np.zeros((N, T, D))\n    dWx = np.zeros((D, 4 * H))")
    path = tmp_path / "dict_cache.py"
    path.write_text(source)
    assert check_course_code(path).correct
    path.write_text(source.replace(old, new))
    backward = check_course_code(path, cells="lstm")["lstm_backward"]
    assert words in backward.diagnosis, backward.diagnosis
    assert backward.forward_used == "yours" and backward["dWx"].first_wrong_length == 2


def test_layout_choice_cells_and_signatures(tmp_path):
    path = learner_file(tmp_path, "coursera")
    report = check_course_code(path, layout="cs231n")  # the shared names do not have cs231n's signatures
    assert report.layout == "cs231n" and [f.name for f in report.functions] == [
        "rnn_forward", "rnn_backward", "lstm_forward", "lstm_backward"]
    assert not any(f.correct for f in report.functions)
    assert "does not match the course's" in report["lstm_forward"].diagnosis
    assert "rnn_forward(x, a0, parameters) does not match the course's rnn_forward(x, h0, Wx, Wh, b)" in \
        report["rnn_forward"].diagnosis
    rnn_only = check_course_code(path, cells="rnn")
    assert [f.name for f in rnn_only.functions] == ["rnn_cell_forward", "rnn_forward", "rnn_cell_backward",
                                                      "rnn_backward"]
    for bad, match in [({"layout": "pytorch"}, "layout must be"), ({"cells": "gru"}, "cells must be")]:
        with pytest.raises(ValueError, match=match):
            check_course_code(path, **bad)
    with pytest.raises(FileNotFoundError, match="no file"):
        check_course_code(tmp_path / "missing.py")
    with pytest.raises(TypeError, match="expected a module or the path"):
        check_course_code(42)
    (tmp_path / "empty.py").write_text("def rnn_forward(x):\n    return x\n")
    with pytest.raises(ValueError, match="defines no function with a course name and signature"):
        check_course_code(tmp_path / "empty.py")


def test_import_error_shows_the_learner_traceback_only(tmp_path):
    (tmp_path / "helper.py").write_text("def broken():\n    return 1 / 0\n")
    path = tmp_path / "learner.py"
    path.write_text("import numpy as np\nfrom helper import broken\n\nprint('hello')\nbroken()\n")
    with pytest.raises(CourseCodeError, match=r"cannot import .*learner.py: ZeroDivisionError") as info:
        check_course_code(path)
    assert isinstance(info.value, ImportError)
    assert 'learner.py", line 5' in info.value.traceback and "importlib" not in info.value.traceback
    assert "helper" not in sys.modules or not str(tmp_path) in sys.path  # the folder left sys.path


def test_learner_prints_and_in_place_edits_do_not_matter(tmp_path):
    # prints at import and in the functions, and a backward that edits its upstream gradient in place
    source = "print('my tests')\n" + SOURCES["cs231n"].replace(
        "    dz = dnext_h * (1 - next_h ** 2)\n",
        "    print('step')\n    dnext_h *= (1 - next_h ** 2)\n    dz = dnext_h\n")
    path = tmp_path / "noisy.py"
    path.write_text(source)
    report = check_course_code(path)
    assert report.correct, str(report)


def test_float32_code_is_told_to_use_float64(tmp_path):
    path = learner_file(tmp_path, "cs231n", "    h = np.zeros((N, T, H))\n    cache = []\n    prev_h, prev_c",
                        "    h = np.zeros((N, T, H), dtype=np.float32)\n    cache = []\n    prev_h, prev_c")
    forward = check_course_code(path, cells="lstm")["lstm_forward"]
    assert not forward.correct and forward["h"].max_rel_error < 1e-6
    assert forward.diagnosis == "h: off by rounding only, and h is not float64: compute in float64"
    zeros = "    dx = np.zeros((N, T, D){})\n    dWx = np.zeros((D, 4 * H))"
    path = learner_file(tmp_path, "cs231n", zeros.format(""), zeros.format(", np.float32"))
    backward = check_course_code(path, cells="lstm")["lstm_backward"]
    assert backward["dx"].max_rel_error < 1e-6 and backward["dWx"].correct
    assert backward.diagnosis == "dx: off by rounding only, and dx is not float64: compute in float64"


def test_text_html_and_json(tmp_path):
    report = check_course_code(learner_file(tmp_path, "coursera", "    dc_prev = dc * ft\n", "    dc_prev = dc\n"))
    text = str(report)
    assert "coursera layout, float64, seed 0" in text and "1e-12 + 1e-09 * |graph|" in text
    assert "-> dx, da0, dWf, dbf, dWi, dbi, dWc, dbc: wrong from length 2 on" in text
    assert text.splitlines()[-1] == "2 of 8 functions wrong: lstm_cell_backward, lstm_backward"
    assert repr(report) == ("CourseCheck(layout='coursera', correct=False, functions=8, "
                            "wrong=['lstm_cell_backward', 'lstm_backward'])")
    page = report._repr_html_()
    assert page.count('<tr style="background-color:#fdd"><td>') >= 9  # the wrong rows and diagnoses
    assert "<td>dWo</td><td>ok</td>" in page or "<td>dWo</td><td>WRONG</td>" in page
    assert "&lt;" not in text and "dc_prev" in page
    data = json.loads(json.dumps(report.to_dict()))
    assert data["correct"] is False and data["layout"] == "coursera"


def test_relative_error_of_an_all_zero_true_gradient_is_its_absolute_error():
    zero = np.zeros((3, 2))
    check = localize.check_gradient("dc0", np.full((3, 2), 1e-3), zero)
    assert not check.correct and check.max_abs_error == check.max_rel_error == 1e-3
    assert localize.check_gradient("dc0", zero, zero).max_rel_error == 0.0
    exact = localize.check_gradient("w", np.array([1.0 + 5e-10, 1e-12]), np.array([1.0, 0.0]))
    assert exact.correct  # |a - b| <= atol + rtol * |b| elementwise, as PyTorch's gradcheck
    assert not localize.check_gradient("w", np.array([1.0, 1e-11]), np.array([1.0, 0.0])).correct
    assert localize.check_gradient("w", np.array([np.nan]), np.array([1.0])).problem == "contains NaN or inf"
    assert localize.check_gradient("w", None, np.zeros(2)).problem.startswith("is None")


def test_check_gradient_localises_gates_and_parts():
    rng = np.random.default_rng(0)
    reference = rng.standard_normal((12, 5))  # PyTorch rows: gates i, f, g, o of H = 3
    wrong = reference.copy()
    wrong[6:9] *= 1.1
    check = localize.check_torch_gradient("weight_hh_l0", wrong, reference, "lstm")
    assert (check.correct, check.gate, check.where()) == (False, "g", "weight_hh_l0 gate g")
    assert localize.check_torch_gradient("weight_hh", wrong, reference, "lstm").gate == "g"  # a cell's
    inside = localize.check_torch_gradient("cell.weight_hh", wrong, reference, "lstm")  # in a module (Recurrent)
    assert inside.where() == "cell.weight_hh gate g"
    assert localize.check_torch_gradient("rnn.weight_hhx", wrong, reference, "lstm").gate is None
    assert localize.check_torch_gradient("h0", wrong, reference, "lstm").gate is None
    assert localize.check_torch_gradient("weight_hr_l0", wrong, reference, "lstm").gate is None  # projection
    every_gate = localize.check_torch_gradient("bias_ih_l0_reverse", reference * 2, reference, "lstm")
    assert every_gate.gate is None and every_gate.wrong_gates == ("i", "f", "g", "o")
    swapped = np.concatenate([reference[:6], reference[9:], reference[6:9]])
    assert "has the slices of gates g and o swapped" in localize.check_torch_gradient(
        "weight_ih_l0", swapped, reference, "lstm").notes
    gru_reference = reference[:9]  # rows r, z, n of H = 3
    gru_wrong = gru_reference.copy()
    gru_wrong[3:6] = 0.0
    assert localize.check_torch_gradient("weight_ih_l1", gru_wrong, gru_reference, "gru").gate == "z"
    course_w = rng.standard_normal((4, 4 + 3))  # a coursera W acting on [a_prev; x_t], n_a = 4
    input_wrong = course_w.copy()
    input_wrong[:, 4:] += 0.5
    parts = {"recurrent": slice(0, 4), "input": slice(4, None)}
    check = localize.check_gradient("dWf", input_wrong, course_w, gate="f", parts=parts, part_axis=1)
    assert (check.part, check.gate, check.where()) == ("input", "f", "dWf input part, gate f")
    with pytest.raises(ValueError, match="does not split into gates"):
        localize.check_gradient("b", np.zeros(10), np.ones(10), gates=("i", "f", "g", "o"))
    with pytest.raises(ValueError, match="mode must be one of"):
        localize.check_torch_gradient("weight_hh_l0", wrong, reference, "transformer")


def test_localisation_of_a_pytorch_layout_backward():
    """What compare_gradients(manual=fn) gets: a fused backward whose weight_hh gate g is wrong once the
    gradient is carried between steps is reported as "weight_hh gate g wrong from length 2 on"."""
    rng = np.random.default_rng(1)
    T, B, D, H = 5, 2, 3, 4
    x, h0, c0 = rng.standard_normal((T, B, D)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
    weights = {"weight_ih": rng.standard_normal((4 * H, D)), "weight_hh": rng.standard_normal((4 * H, H)),
               "bias_ih": rng.standard_normal(4 * H), "bias_hh": rng.standard_normal(4 * H)}
    grad_output = rng.standard_normal((T, B, H))

    def reference_at(steps):
        output, _, cache = tl.manual.lstm_forward_fused(x[:steps], h0, c0, **weights)
        return tl.manual.lstm_backward_fused(grad_output[:steps], None, None, cache)

    def fused_at(steps):  # a researcher's backward that mis-scales gate g's recurrent gradient after step 1
        grads = dict(reference_at(steps))
        if steps > 1:
            grads["weight_hh"] = grads["weight_hh"].copy()
            grads["weight_hh"][2 * H:3 * H] += 0.1 * reference_at(steps - 1)["weight_hh"][2 * H:3 * H]
        return grads

    found = localize.first_wrong_lengths(fused_at, reference_at, range(1, T + 1),
                                         check=lambda name, value, reference, **tol: localize.check_torch_gradient(
                                             name, value, reference, "lstm", **tol))
    assert set(found) == {"weight_hh"}
    length, check = found["weight_hh"]
    assert length == 2 and check.first_wrong_length == 2 and check.gate == "g"
    wording = localize.Wording({"weight_hh": "weight"}, gates=("i", "f", "g", "o"), candidate="g")
    assert localize.diagnose([check], wording, sequence=True).startswith("weight_hh gate g: wrong from length 2 on")


def test_first_wrong_step_walks_as_the_pass():
    reference = np.zeros((2, 3, 5))  # time on axis 2
    value = reference.copy()
    value[:, :, 1:3] = 1.0
    assert localize.first_wrong_step(value, reference, 2, backward=False) == 1
    assert localize.first_wrong_step(value, reference, 2, backward=True) == 2
    assert localize.first_wrong_step(reference, reference, 2, backward=True) is None


def test_tolerances_and_float32_warning():
    assert localize.tolerance(np.float64) == (1e-9, 1e-12)
    assert localize.tolerance(np.float32) == localize.TOLERANCES["float32"]
    assert "cannot tell a 1e-4 bug from rounding" in localize.FLOAT32_WARNING


# --------------------------------------------------------------------------- the command line
def test_cli_help():
    result = run_cli("--help")
    assert result.returncode == 0 and result.stdout.startswith("usage: tinygrad-lstm check")
    assert "--layout {coursera,cs231n,auto}" in result.stdout and "--cell {rnn,lstm,all}" in result.stdout


def test_cli_exit_codes_and_text(tmp_path):
    good = learner_file(tmp_path, "cs231n", name="good.py")
    result = run_cli(good)
    assert result.returncode == 0, result.stderr
    assert "all 8 functions agree with the graph" in result.stdout
    bad = learner_file(tmp_path, "cs231n", "    dprev_c = dc * f\n", "    dprev_c = dc\n", name="bad.py")
    result = run_cli(bad, "--cell", "lstm", "--seed", "3")
    assert result.returncode == 1
    assert "seed 3" in result.stdout and "carried through prev_c" in result.stdout
    assert "2 of 4 functions wrong" in result.stdout


def test_cli_json_schema(tmp_path):
    bad = learner_file(tmp_path, "coursera", "    dft = dc * c_prev * ft * (1 - ft)\n", "    dft = dc * c_prev * ft\n")
    result = run_cli(bad, "--json", "--layout", "coursera")
    assert result.returncode == 1, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == {"layout", "correct", "functions"}
    assert data["layout"] == "coursera" and data["correct"] is False
    for function in data["functions"]:
        assert set(function) == {"name", "correct", "forward_used", "gradients", "diagnosis"}
        assert function["forward_used"] in ("yours", "reference") and isinstance(function["diagnosis"], str)
        for gradient in function["gradients"]:
            assert set(gradient) == {"name", "correct", "max_abs_error", "max_rel_error", "gate", "part",
                                     "first_wrong_length", "first_wrong_step"}
            assert isinstance(gradient["max_abs_error"], float) and isinstance(gradient["max_rel_error"], float)
            assert gradient["part"] in (None, "recurrent", "input")
    backward = next(f for f in data["functions"] if f["name"] == "lstm_backward")
    dWf = next(g for g in backward["gradients"] if g["name"] == "dWf")
    assert (dWf["correct"], dWf["gate"], dWf["first_wrong_length"]) == (False, "f", 1)
    dx = next(g for g in backward["gradients"] if g["name"] == "dx")
    assert dx["first_wrong_step"] == 3  # the backward walks from t = 3 down: wrong at once


@pytest.mark.parametrize("content, expected", [
    ("import numpy as np\n\ndef rnn_forward(x, a0, parameters):\n    return (\n", "SyntaxError"),
    ("import numpy as np\nraise RuntimeError('my own test failed')\n", "RuntimeError: my own test failed"),
])
def test_cli_unimportable_file_exits_2_with_its_traceback(tmp_path, content, expected):
    path = tmp_path / "broken.py"
    path.write_text(content)
    result = run_cli(path)
    assert result.returncode == 2 and result.stdout == ""
    assert expected in result.stderr and "broken.py" in result.stderr
    assert "tinygrad_lstm" not in result.stderr.replace("tinygrad-lstm check", "")
    assert result.stderr.splitlines()[-1].startswith("tinygrad-lstm check: error: cannot import")


@pytest.mark.parametrize("args, message", [
    (["missing.py"], "no file 'missing.py'"),
    (["none.py"], "none.py defines no function with a course name and signature"),
    (["none.py", "--layout", "keras"], "invalid choice"),
])
def test_cli_usage_errors_exit_2_with_one_line(tmp_path, args, message):
    (tmp_path / "none.py").write_text("def helper():\n    pass\n")
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and message in result.stderr and "Traceback" not in result.stderr


def test_torch_gates_come_from_the_registry_and_the_old_table_is_deprecated():
    kind = tl.nn.kinds.register_kind("three_gates", tl.nn.GRUCell, gates=("a", "b", "c"), states=("h",))
    try:
        reference = np.arange(12.0).reshape(6, 2)
        wrong = reference.copy()
        wrong[2:4] += 1  # rows of the second gate of H = 2
        assert localize.check_torch_gradient("weight_ih_l0", wrong, reference, "three_gates").gate == "b"
        with pytest.warns(DeprecationWarning, match="TORCH_GATES is deprecated"):
            table = localize.TORCH_GATES
        assert table["three_gates"] == kind.gates and table["lstm"] == ("i", "f", "g", "o")
        assert table["rnn"] is table["rnn_tanh"] is table["rnn_relu"] is None
    finally:
        tl.nn.kinds.unregister_kind("three_gates")
    assert "TORCH_GATES" not in localize.__all__
