"""The shapes of what a model takes and returns: a state that is None, an array or a tuple of
arrays, and outputs nested in tuples. Shared by the autograd, manual and PyTorch columns."""
from __future__ import annotations


def as_tuple(state) -> tuple:
    """The parts of a state: ``()`` for None, ``(state,)`` for one array."""
    if state is None:
        return ()
    return state if isinstance(state, tuple) else (state,)


def state_names(state) -> list:
    """Report rows of the state parts: ``h0``, ``h0, c0``, or ``state0, state1, ...``."""
    parts = as_tuple(state)
    if len(parts) == 1:
        return ["h0"]
    if len(parts) == 2:
        return ["h0", "c0"]
    return [f"state{k}" for k in range(len(parts))]


def call(module, inputs: list, state, lengths=None):
    """``module(x)``, ``module(x, h)`` or ``module(x, (h, c))`` as `state` is None, an array or a
    tuple, with ``lengths=`` when given; `inputs` holds ``x`` and the state parts, as the
    caller's tensors (ours or torch's)."""
    options = {} if lengths is None else {"lengths": lengths}
    if state is None:
        return module(inputs[0], **options)
    if isinstance(state, tuple):
        return module(inputs[0], tuple(inputs[1:]), **options)
    return module(inputs[0], inputs[1], **options)


def flatten(obj) -> list:
    """The leaves of nested tuples and lists, in order."""
    if isinstance(obj, (tuple, list)):
        return [leaf for item in obj for leaf in flatten(item)]
    return [obj]


def rebuild(template, leaves):
    """`template`'s (nested) tuple structure filled with the next items of the iterator `leaves`."""
    if isinstance(template, (tuple, list)):
        return tuple(rebuild(item, leaves) for item in template)
    return next(leaves)
