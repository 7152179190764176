"""Every plan rule against its op: one row per op and case, compiled forward and backward equal
to eager bit for bit, and the rule used (or, where it declines, the op's own code run)."""
import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm.compiler.rules import RULES

# (id, function of the tensors, shapes of the tensors, the op expected to fall back or None)
ROWS = [
    ("add", lambda a, b: a + b, [(3, 4), (4,)], None),
    ("add-scalar", lambda a: 2.5 + a, [(3, 4)], None),
    ("add-float32-float64", lambda a, b: a.float() + b, [(2, 3), (2, 3)], None),
    ("sub", lambda a, b: a - b, [(3, 1), (1, 4)], None),
    ("rsub", lambda a: 1 - a, [(3, 4)], None),
    ("mul", lambda a, b: a * b, [(3, 1), (1, 4)], None),
    ("mul-scalar", lambda a: a * 0.5, [(5,)], None),
    ("div", lambda a, b: a / b, [(3, 4), (3, 4)], None),
    ("rdiv", lambda a: 2 / a, [(3, 4)], None),
    ("neg", lambda a: -a, [(3, 4)], None),
    ("exp", lambda a: a.exp(), [(3, 4)], None),
    ("log", lambda a: (a * a + 0.5).log(), [(3, 4)], None),
    ("tanh", lambda a: a.tanh(), [(3, 4)], None),
    ("sigmoid", lambda a: a.sigmoid(), [(3, 4)], None),
    ("relu", lambda a: a.relu(), [(3, 4)], None),
    ("sum", lambda a: a.sum(), [(3, 4)], None),
    ("sum-axis", lambda a: a.sum(axis=1), [(3, 4)], None),
    ("sum-keepdims", lambda a: a.sum(axis=0, keepdims=True), [(3, 4)], None),
    ("mean", lambda a: a.mean(), [(3, 4)], None),
    ("mean-axis", lambda a: a.mean(axis=(0, 2)), [(2, 3, 4)], None),
    ("reshape", lambda a: a.reshape(4, 3) * 2, [(3, 4)], None),
    ("reshape-of-transposed", lambda a: a.T.reshape(12) * 2, [(3, 4)], None),
    ("transpose", lambda a: a.permute(2, 0, 1) * 2, [(2, 3, 4)], None),
    ("transpose-two-dims", lambda a: a.transpose(0, 2) * 2, [(2, 3, 4)], None),
    ("getitem-slices", lambda a: a[1:, ::2] * 2, [(3, 4)], None),
    ("getitem-int", lambda a: a[1] * 2, [(3, 4)], None),
    ("getitem-int-0d", lambda a: a[1, 2] * 2, [(3, 4)], "getitem"),
    ("getitem-fancy", lambda a: a[[0, 2, 0]] * 2, [(3, 4)], "getitem"),
    ("concat", lambda a, b: tl.concat([a, b], axis=1), [(3, 2), (3, 4)], None),
    ("concat-empty", lambda a, b: tl.concat([a, b.reshape(0) * 0], axis=0), [(3,), (0,)], "concat"),
    ("stack", lambda a, b: tl.stack([a, b], axis=1), [(3, 4), (3, 4)], None),
    ("split", lambda a: a.split([1, 3], axis=1)[1] * 2, [(3, 4)], None),
    ("split-all", lambda a: [p * (k + 1) for k, p in enumerate(a.chunk(3, axis=0))], [(5, 2)], None),
    ("unbind", lambda a: a.unbind(1)[2] * 2, [(3, 4)], None),
    ("unbind-all", lambda a: [p * (k + 1) for k, p in enumerate(a.unbind(0))], [(3, 4)], None),
    ("copy_", lambda a, b: (a * 1).copy_(b) * 2, [(3, 4), (4,)], None),
    ("clone", lambda a: a.clone() * 2, [(3, 4)], None),
    ("astype", lambda a: a.astype(np.float32) * 2, [(3, 4)], None),
    ("matmul", lambda a, b: a @ b, [(3, 4), (4, 2)], None),
    ("matmul-batched", lambda a, b: a @ b, [(2, 3, 4), (4, 2)], None),
    ("matmul-transposed", lambda a, b: a.T @ b, [(4, 3), (4, 2)], None),
    ("matmul-vector", lambda a, b: a @ b, [(4,), (4, 2)], "matmul"),
    ("addmm", lambda c, a, b: tl.addmm(c, a, b), [(2,), (3, 4), (4, 2)], None),
    ("addmm-vector", lambda c, a, b: tl.addmm(c, a, b), [(2,), (4,), (4, 2)], "addmm"),
    ("tanh-0d", lambda a: a.sum().tanh(), [(3,)], "tanh"),
    ("pow", lambda a: a ** 3, [(3, 4)], "pow"),
    ("max", lambda a: a.max(), [(3, 4)], "max"),
    ("maxdim", lambda a: a.max(axis=1)[0], [(3, 4)], "maxdim"),
    ("softmax", lambda a: tl.nn.functional.softmax(a, dim=-1), [(3, 4)], "softmax"),
    ("log_softmax", lambda a: tl.nn.functional.log_softmax(a, dim=-1), [(3, 4)], "logsoftmax"),
    ("abs-clip", lambda a: a.abs().clip(0.2, 0.9), [(3, 4)], "abs"),
]


def flat(result):
    if isinstance(result, tl.Tensor):
        return [result]
    return [t for part in result for t in flat(part)]


def run(fn, arrays, coefficients):
    tensors = [tl.Tensor(a, requires_grad=True) for a in arrays]
    outputs = flat(fn(*tensors))
    sum((t * c).sum() for t, c in zip(outputs, coefficients)).backward()
    return [t.data.copy() for t in outputs], [t.grad for t in tensors]


@pytest.mark.parametrize("fn, shapes, falls_back", [row[1:] for row in ROWS], ids=[row[0] for row in ROWS])
def test_rule_equals_the_op(fn, shapes, falls_back):
    compiled = tl.jit(fn)
    rng = np.random.default_rng(0)
    for _ in range(3):
        arrays = [rng.standard_normal(shape) for shape in shapes]
        coefficients = [rng.standard_normal(t.shape) for t in flat(fn(*[tl.Tensor(a) for a in arrays]))]
        for mine, theirs in zip(*(sum(run(f, arrays, coefficients), []) for f in (compiled, fn))):
            assert (mine is None) == (theirs is None)  # copy_ leaves its target without a gradient
            if theirs is not None:
                assert mine.dtype == theirs.dtype
                np.testing.assert_array_equal(mine, theirs)
    plan = next(iter(compiled._cache.values()))
    if falls_back is None:
        assert plan.fallbacks == {}
    else:
        assert falls_back in plan.fallbacks
        assert falls_back in compiled.trace_info()


def test_every_rule_is_exercised_by_a_row():
    """A rule without a row here would be untested: each op with a rule appears in the table."""
    names = {cls.__name__.lower() for cls in RULES}
    covered = {row[0].split("-")[0].rstrip("_") for row in ROWS}
    aliases = {"rsub": "sub", "rdiv": "div", "getitem": "getitem", "astype": "cast", "chunk": "split",
               "copy": "copy"}
    covered |= {aliases.get(name, name) for name in covered}
    assert names <= covered, names - covered
