"""Values of intermediate ops, recorded during the forward pass for ``draw_graph(show="values")``.

A node does not keep its outputs (the graph would hold every intermediate array), so their
values are known only while the forward pass runs. `record_values` watches it through the
engine's observer hook (as `tl.jvp` does) and keeps a short summary of each op's outputs,
keyed weakly by the node: the record goes away with the graph.
"""
from __future__ import annotations

import weakref

import numpy as np

from .. import engine

__all__ = ["record_values", "recorded_values", "summary"]

_VALUES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # node -> summary text per output


def summary(array) -> str:
    """A short text for an array: its values when it has at most 6, else ``min … mean … max …``."""
    array = np.asarray(array.data if hasattr(array, "grad_fn") else array)  # a Tensor (a gradient under create_graph)
    if array.size <= 6:
        return np.array2string(array.ravel(), precision=3, separator=", ", suppress_small=True)
    if array.dtype.kind == "b":
        return f"{int(array.sum())} of {array.size} true"
    return f"min {array.min():.3g} mean {array.mean():.3g} max {array.max():.3g}"


class record_values(engine.Observer):
    """Keep a summary of the outputs of every op recorded inside (their values when small, else
    min, mean and max), for ``draw_graph(..., show="values")``.

    Use it around the forward pass; backward may run inside or after. Nothing is recorded in
    ``no_grad`` (no node is made), and the summaries go away with the graph.

    Examples
    --------
    >>> import tinygrad_lstm as tl
    >>> w = tl.Tensor([[1.0, -2.0]], requires_grad=True)
    >>> with tl.viz.record_values():
    ...     y = (w * 3.0).tanh().sum()
    >>> "[ 3., -6.]" in tl.viz.draw_graph(y, show="values").source
    True
    """

    def __enter__(self) -> "record_values":
        self._previous, engine._tracer = engine._tracer, self
        return self

    def __exit__(self, *exc) -> bool:
        engine._tracer = self._previous
        return False

    # -- the engine's observer protocol (see `tl.autograd.forward`); anything else goes to the previous observer
    def on_apply(self, ctx, args, kwargs, result) -> None:
        if getattr(ctx, "seq", None) is not None:  # recorded in the graph
            outputs = result if isinstance(result, tuple) else (result,)
            _VALUES[ctx] = tuple(summary(t.data) for t in outputs)
        if self._previous is not None:
            self._previous.on_apply(ctx, args, kwargs, result)

    def on_inplace(self, tensor, result) -> None:
        if self._previous is not None:
            self._previous.on_inplace(tensor, result)

    def on_backward(self, *args):
        if self._previous is not None:
            return self._previous.on_backward(*args)
        return super().on_backward(*args)

    def on_grad(self, *args):
        if self._previous is not None:
            return self._previous.on_grad(*args)
        return super().on_grad(*args)

    def on_effect(self, fn, args, kwargs):
        if self._previous is not None:
            return self._previous.on_effect(fn, args, kwargs)
        return fn(*args, **kwargs)


def recorded_values(node) -> tuple | None:
    """The summary text of each output of ``node`` recorded by `record_values`, or None."""
    return _VALUES.get(node)
