"""Random masks drawn inside an op: dropout and zoneout.

A mask made by numpy outside the ops would be a constant of the graph: `tl.jit` would replay
the mask of the traced call forever. Drawn by an op, it is drawn afresh whenever the op runs,
eagerly or in a replay. The ops take no tensor, so they record no node and pass no gradient;
the tensor they multiply carries it.
"""
from __future__ import annotations

import numpy as np

from ..engine import Function


def _generator(generator):
    from ..random import default_generator  # the global one may be replaced by manual_seed: look it up now
    return generator if generator is not None else default_generator()


class DropoutMask(Function):
    """An inverted-dropout mask of `shape`: 0 with probability `p`, else ``1 / (1 - p)``, in `dtype`
    (``p < 1``). Drawn from `generator`, or the global one (`tl.manual_seed`)."""

    def forward(ctx, shape=(), p=0.5, dtype=np.float64, generator=None):
        return ((_generator(generator).random(shape) >= p) / (1 - p)).astype(dtype)

    def backward(ctx):  # pragma: no cover - no tensor inputs, so never part of a graph
        return ()


class ZoneoutMask(Function):
    """Two complementary 0/1 masks of `shape` in `dtype`: ``(keep, 1 - keep)`` with keep = 1 with
    probability `p` (the units that keep their previous value)."""

    def forward(ctx, shape=(), p=0.5, dtype=np.float64, generator=None):
        keep = _generator(generator).random(shape) < p
        return keep.astype(dtype), (~keep).astype(dtype)

    def backward(ctx):  # pragma: no cover - no tensor inputs, so never part of a graph
        return ()
