"""`tl.jit`: trace a function once, then replay it without the Python tape.

An eager step pays a few microseconds of Python per op (a `Tensor`, a node, a heap entry in
backward); on a small LSTM that is most of the time. ``step = tl.jit(fn)`` records what one
call of `fn` does and turns it into straight-line Python over numpy: every op of the trace
becomes one or a few numpy calls writing into buffers allocated once (``out=``), its
backward comes from the recorded graph in the order the engine would run it, and the
optimiser calls the step makes run in place. As tinygrad's TinyJit and ``torch.jit.trace``,
it records what the call did, not the Python that decided it.

How a call goes:

1. The signature of the arguments (shapes, strides, dtypes, ``requires_grad`` of tensors and
   arrays; values of numbers and strings; identity of other objects) selects a cached plan
   (at most `max_cache` of them, least recently used dropped first).
2. No plan: `fn` runs eagerly with the engine's tracer on (`_Tracer`), which sees every op,
   tensor made from an array, in-place copy, ``backward`` and marked effect (optimiser steps,
   ``zero_grad``, clipping). It then runs once more on perturbed inputs and parameters
   (`_verify`) and compares: a value computed outside the ops from the inputs (``.data``
   arithmetic, a comparison, a numpy random draw) or a branch on the data shows up as a
   difference and is refused with a `RuntimeError` naming the op, instead of being frozen
   into the plan. The traced call's own results are returned.
3. A plan: its guards are checked (the parameters it read still hold the same arrays and
   ``requires_grad``; the modules it ran have the same parameters, children and training
   mode), then the generated code runs. Outputs are fresh copies, never buffers of the plan.
   When `fn` did not call ``backward`` itself, its outputs that need a gradient come out of one
   node (`_CompiledStep`) whose backward replays the recorded backward, so
   ``out.backward()`` after the call accumulates into ``.grad`` as eager does.

Exactness: each op has a plan rule (`tinygrad_lstm.jit_rules`) doing the same numpy
arithmetic as its own forward and backward, and gradients are summed in the engine's
order, so results equal eager ones bit for bit. An op without a rule runs its own
forward/backward (`trace_info` lists them). Random masks are drawn by ops
(`tl.ops.DropoutMask`), so every replay draws afresh.
"""
from __future__ import annotations

import collections
import time
import types

from . import engine
from .jit_plan import _Plan
from .jit_trace import _EffectEvent, _Tracer, _flatten, _name, _signature, _spec_key, _verify

__all__ = ["jit", "CompiledFunction"]




# =========================================================================== public
class CompiledFunction:
    """What `jit` returns: call it like the function it wraps.

    Attributes
    ----------
    fn : callable
        The wrapped function.
    max_cache : int
        How many signatures keep a plan.
    check : bool or int
        Whether replays are also run eagerly and compared (see `jit`).
    """

    def __init__(self, fn, max_cache: int = 8, check=False):
        if not callable(fn):
            raise TypeError(f"jit: expected a callable, got {type(fn).__name__}")
        if isinstance(max_cache, bool) or not isinstance(max_cache, int) or max_cache < 1:
            raise ValueError(f"jit: max_cache must be a positive integer, got {max_cache!r}")
        if not isinstance(check, (bool, int)) or check < 0:
            raise ValueError(f"jit: check must be a bool or a non-negative number of replays, got {check!r}")
        self.fn = fn
        self.max_cache = max_cache
        self.check = check
        self._cache: collections.OrderedDict = collections.OrderedDict()
        self.traces = 0
        self.__wrapped__ = fn
        self.__doc__ = getattr(fn, "__doc__", None)
        self.__name__ = getattr(fn, "__name__", type(fn).__name__)

    def __repr__(self) -> str:
        return f"<tl.jit of {_name(self.fn)}: {len(self._cache)} plan(s)>"

    def __get__(self, instance, owner=None):
        """As a decorator on a method: bind the instance (one compiled function per instance)."""
        if instance is None:
            return self
        bound = instance.__dict__.get(f"_jit_{self.__name__}")
        if bound is None:
            bound = CompiledFunction(types.MethodType(self.fn, instance), self.max_cache, self.check)
            instance.__dict__[f"_jit_{self.__name__}"] = bound
        return bound

    def __call__(self, *args, **kwargs):
        if engine._tracer is not None or engine._anomaly_enabled:
            # inside another trace the ops are recorded there; anomaly mode checks every op eagerly
            return self.fn(*args, **kwargs)
        leaves: list = []
        spec = _flatten((args, kwargs), leaves)
        key = (engine._grad_enabled, _spec_key(spec), _signature(leaves))
        plan = self._cache.get(key)
        if plan is not None and plan.guards_hold():
            self._cache.move_to_end(key)
            if self.check is True or (self.check and plan.replays < self.check):
                return plan.checked_replay(self.fn, args, kwargs, leaves, spec)
            return plan.replay(leaves)
        return self._trace(key, args, kwargs, leaves, spec)

    def _trace(self, key, args, kwargs, leaves, spec):
        start = time.perf_counter()
        tracer = _Tracer(leaves)
        engine._tracer = tracer
        try:
            result = self.fn(*args, **kwargs)
        finally:
            engine._tracer = None
        eager_seconds = time.perf_counter() - start
        outputs: list = []
        effect_results = {id(e.result) for e in tracer.events if isinstance(e, _EffectEvent) and e.result is not None}
        output_spec = _flatten(result, outputs, effect_results)
        _verify(self.fn, args, kwargs, leaves, spec, tracer)
        plan = _Plan(self, tracer, outputs, output_spec, eager_seconds)
        plan.trace_seconds = time.perf_counter() - start
        self._cache[key] = plan
        self._cache.move_to_end(key)
        while len(self._cache) > self.max_cache:
            self._cache.popitem(last=False)
        self.traces += 1
        return result

    def trace_info(self) -> str:
        """One paragraph per cached plan: its signature, ops, ops without a plan rule (run
        through their own forward/backward), trace time, memory and replays."""
        if not self._cache:
            return f"tl.jit of {_name(self.fn)}: nothing traced yet"
        return "\n\n".join(plan.describe() for plan in self._cache.values())

    def clear_cache(self) -> None:
        """Forget every plan: the next call traces again."""
        self._cache.clear()


def jit(fn=None, *, max_cache: int = 8, check=False):
    """Compile `fn`: trace its first call for each signature, replay the trace afterwards.

    Parameters
    ----------
    fn : callable
        Takes Tensors, arrays and other values (numbers and strings are part of the cache
        key, other objects by identity) and returns a Tensor or a (nested) tuple, list or
        dict of them. It may run ``loss.backward()``, ``optimizer.zero_grad()``,
        ``clip_grad_norm_`` and ``optimizer.step()``: the replay does the same updates.
    max_cache : int
        Signatures kept (least recently used dropped first). A signature is the shapes,
        strides, dtypes and ``requires_grad`` of the tensor and array arguments, and grad mode.
    check : bool or int
        Also run `fn` eagerly on every replay (True) or the first `check` replays of each
        plan, and raise `RuntimeError` naming the first op whose value differs.

    Returns
    -------
    CompiledFunction
        Call it as `fn`. Usable as a decorator, with or without arguments.

    Notes
    -----
    The trace records what one call did: Python control flow is fixed as taken (as
    ``torch.jit.trace`` and tinygrad's TinyJit). Tracing checks this by running the function
    a second time on perturbed inputs and parameters and refuses (`RuntimeError`) what
    differs: branches on values, arrays computed outside the ops from the inputs, random
    numbers drawn outside the ops. Python side effects (appending to a list, printing) happen
    during tracing only. A new signature, a replaced parameter, a module switched between
    ``train()`` and ``eval()``, a changed dtype or ``requires_grad`` trace again. Under
    `tl.detect_anomaly` the function runs eagerly. Outputs are new arrays at every call; when
    `fn` ran ``backward`` itself its outputs come without a graph.

    Examples
    --------
    >>> import numpy as np, tinygrad_lstm as tl
    >>> lstm = tl.nn.LSTM(3, 4, dtype=np.float64)
    >>> step = tl.jit(lambda x: lstm(x)[0].sum())
    >>> x = np.random.default_rng(0).standard_normal((5, 2, 3))
    >>> eager = lstm(x)[0].sum()
    >>> _ = step(x)                          # traced
    >>> compiled = step(x)                   # replayed
    >>> compiled.item() == eager.item()
    True
    """
    if fn is None:
        return lambda f: CompiledFunction(f, max_cache, check)
    return CompiledFunction(fn, max_cache, check)
