"""Gradients of intermediate ops, recorded during backward for ``draw_graph(show="grads")``.

Op outputs are not kept after the forward pass, so their gradients exist only while
backward runs. `record_grad_norms` puts a hook on every op output of a graph that
stores the norm (and a short summary) of the gradient flowing through it, keyed weakly by
the op's node: the record goes away with the graph and nothing keeps the graph alive.
"""
from __future__ import annotations

import weakref

import numpy as np

from ..engine import Tensor, walk_graph
from .values import summary

__all__ = ["record_grad_norms", "recorded_grad_norms", "recorded_grad_summaries"]

# node -> list with, per output, (norm, summary text) of the gradient of the last backward (None if none)
_NORMS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


class _NormHook:
    """Stores the gradient norm of one output of one node; holds the node weakly (no cycle)."""

    __slots__ = ("node_ref", "index")

    def __init__(self, node, index: int):
        self.node_ref = weakref.ref(node)
        self.index = index

    def __call__(self, grad):
        node = self.node_ref()
        if node is not None:
            norms = _NORMS.get(node)
            if norms is None:
                norms = _NORMS[node] = [None] * len(node.meta)
            norms[self.index] = (float(np.linalg.norm(grad)), summary(grad))


class record_grad_norms:
    """Record the gradient norm of every op output of ``root``'s graph during backward.

    Use it as a context manager around ``backward``, then draw with ``show="grads"``;
    each op is labelled with the norm and a summary of the gradient of its output(s) in
    the last backward. Leaves (parameters) need no recording: their ``.grad`` is used.

    Parameters
    ----------
    root : Tensor or list of Tensor
        The tensors whose graph to watch (usually the loss).

    Examples
    --------
    >>> import tinygrad_lstm as tl
    >>> w = tl.Tensor([[1.0, 2.0]], requires_grad=True)
    >>> loss = (w * 3.0).tanh().sum()
    >>> with tl.viz.record_grad_norms(loss):
    ...     loss.backward()
    >>> dot = tl.viz.draw_graph(loss, show="grads")
    """

    def __init__(self, root):
        self._handles = [node.register_hook(_NormHook(node, index), index)
                         for node in walk_graph(root).nodes for index in range(len(node.meta))]

    def remove(self) -> None:
        """Stop recording (the norms recorded so far stay available)."""
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def __enter__(self) -> "record_grad_norms":
        return self

    def __exit__(self, *exc) -> bool:
        self.remove()
        return False


def recorded_grad_norms(node) -> list | None:
    """The gradient norm of each output of ``node`` recorded by `record_grad_norms` (None for an
    output without one), or None."""
    recorded = _NORMS.get(node)
    return None if recorded is None else [None if r is None else r[0] for r in recorded]


def recorded_grad_summaries(node) -> list | None:
    """A summary text (`tinygrad_lstm.viz.values.summary`) of each output's recorded gradient, or None."""
    recorded = _NORMS.get(node)
    return None if recorded is None else [None if r is None else r[1] for r in recorded]


def grad_norm(tensor: Tensor) -> float | None:
    """The norm of ``tensor.grad``, or None when it has no gradient."""
    return None if tensor.grad is None else float(np.linalg.norm(tensor.grad))
