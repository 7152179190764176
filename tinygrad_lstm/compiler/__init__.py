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
   (at most `max_cache` of them, least recently used dropped first). Integer arrays that
   the traced call read in Python only (``lengths=``) are part of the key by value.
2. No plan: `fn` runs eagerly with the engine's tracer on (`_Tracer`), which sees every op,
   tensor made from an array, in-place copy, ``backward`` and marked effect (optimiser steps,
   ``zero_grad``, clipping). It then runs once more on perturbed inputs and parameters
   (`_verify`) and compares: a value computed outside the ops from the inputs (``.data``
   arithmetic, a comparison, a numpy random draw), a result that is not a tensor of the
   trace, or a branch on the data shows up as a difference and is refused with a
   `RuntimeError` naming the op, instead of being frozen into the plan (the first call has
   run by then). The traced call's own results are returned.
3. A plan: its guards are checked (the parameters it read still hold the same arrays and
   ``requires_grad``; the modules it called have the same parameters, children, training
   mode and plain settings such as a dropout's ``p``), then the generated code runs.
   Outputs are new arrays at every call, never buffers of the plan.
   When `fn` did not call ``backward`` itself, its outputs that need a gradient come out of one
   node (`_CompiledStep`) whose backward replays the recorded backward, so
   ``out.backward()`` after the call accumulates into ``.grad`` as eager does.

Exactness: each op has a plan rule (`tinygrad_lstm.compiler.rules`) doing the same numpy
arithmetic as its own forward and backward, and gradients are summed in the engine's
order, so results equal eager ones bit for bit. One exception: when the graph of one
``backward`` spans several calls (a state returned by one call and given to the next), each
call's node sums the gradient of a parameter over its own steps first, so the total can
differ from eager by rounding (an ulp or so). An op without a rule runs its own
forward/backward (`trace_info` lists them). Random masks are drawn by ops
(`tl.ops.DropoutMask`), so every replay draws afresh.
"""
from __future__ import annotations

import collections
import itertools
import time
import types
import warnings

import numpy as np

from .. import engine
from ..engine import Tensor
from .plan import _Plan
from .trace import (_EffectEvent, _RecordingModules, _Tracer, _flatten, _name, _read_by_python, _signature,
                    _spec_key, _value_key, _verify)

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
        if isinstance(max_cache, bool) or not isinstance(max_cache, (int, np.integer)):
            raise TypeError(f"jit: max_cache must be an integer, got {type(max_cache).__name__}")
        if max_cache < 1:
            raise ValueError(f"jit: max_cache must be a positive integer, got {max_cache!r}")
        if not isinstance(check, (bool, int, np.integer)):
            raise TypeError(f"jit: check must be a bool or a number of replays, got {type(check).__name__}")
        if check < 0:
            raise ValueError(f"jit: check must be a bool or a non-negative number of replays, got {check!r}")
        self.fn = fn
        self.max_cache = int(max_cache)
        self.check = check if isinstance(check, bool) else int(check)
        self._cache: collections.OrderedDict = collections.OrderedDict()
        self._by_value: dict = {}  # signature -> positions of the arguments keyed by value (`_read_by_python`)
        self._value_traces: collections.Counter = collections.Counter()  # signature -> traces for new values
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
        by_value = self._by_value.get(key)
        if by_value:
            key = (key, _value_key(leaves, by_value))
        plan = self._cache.get(key)
        if plan is not None and plan.guards_hold():
            self._cache.move_to_end(key)
            if self.check is True or (self.check and plan.replays < self.check):
                return self._checked(plan, args, kwargs, leaves)
            return plan.replay(leaves)
        return self._trace(key, args, kwargs, leaves, spec)

    def _trace(self, key, args, kwargs, leaves, spec):
        start = time.perf_counter()
        tracer = _Tracer(leaves)
        engine._tracer = tracer
        try:
            with _RecordingModules(tracer):
                result = self.fn(*args, **kwargs)
        finally:
            engine._tracer = None
        eager_seconds = time.perf_counter() - start
        outputs: list = []
        effect_results = {id(e.result) for e in tracer.events if isinstance(e, _EffectEvent) and e.result is not None}
        output_spec = _flatten(result, outputs, effect_results)
        by_value = _read_by_python(tracer, outputs)
        _verify(self.fn, args, kwargs, leaves, spec, tracer, result, by_value)
        if isinstance(key[0], tuple):
            key = key[0]
        self._by_value[key] = by_value
        if by_value:
            self._value_traces[key] += 1
            if self._value_traces[key] == self.max_cache + 1:
                warnings.warn(f"tl.jit: {_name(self.fn)} traced {self.max_cache + 1} times for one signature: "
                              f"argument(s) {', '.join(map(str, by_value))} of the flattened arguments are integer "
                              f"arrays whose values are read in Python, not by ops (lengths, a numpy mask), so "
                              f"their values are part of the cache key. Use ops on them (cross_entropy with "
                              f"ignore_index=None) or call the function without tl.jit", stacklevel=3)
            key = (key, _value_key(leaves, by_value))
        plan = _Plan(self, tracer, outputs, output_spec, eager_seconds)
        plan.trace_seconds = time.perf_counter() - start
        self._cache[key] = plan
        self._cache.move_to_end(key)
        while len(self._cache) > self.max_cache:
            self._cache.popitem(last=False)
        kept = {k[0] if isinstance(k[0], tuple) else k for k in self._cache}
        for signature in [s for s in self._by_value if s not in kept]:
            del self._by_value[signature]
            self._value_traces.pop(signature, None)
        self.traces += 1
        return result

    def _checked(self, plan, args, kwargs, leaves):
        """Run `fn` eagerly, recording every op's results, put back what it changed, replay the plan
        recording the same, and raise at the first op whose results differ."""
        state = _State(plan, leaves)
        recorder = _Recorder()
        engine._tracer = recorder
        try:
            eager = self.fn(*args, **kwargs)
        finally:
            engine._tracer = None
        eager_leaves: list = []
        _flatten(eager, eager_leaves)
        eager_outputs = [np.array(leaf._data if isinstance(leaf, Tensor) else leaf) for leaf in eager_leaves
                         if isinstance(leaf, (Tensor, np.ndarray))]
        eager_grads = state.grads()
        state.restore()
        capture: list = []
        result = plan.replay(leaves, capture)
        name = _name(self.fn)
        for i, ((op, scope), values) in enumerate(itertools.zip_longest(plan.op_sites, capture)):
            if i >= len(recorder.ops):
                raise RuntimeError(f"tl.jit(check=True): the trace of {name} runs {len(plan.op_sites)} ops, the eager "
                                   f"call only {len(recorder.ops)}: control flow depends on the data (it is recorded "
                                   f"as taken when traced)")
            eager_op, eager_scope, eager_values = recorder.ops[i]
            where = f"op {i} '{op}'" + (f" (scope {scope})" if scope else "")
            if eager_op != op:
                raise RuntimeError(f"tl.jit(check=True): {where} of the trace of {name} differs from the eager call, "
                                   f"which runs '{eager_op}' there: control flow depends on the data (it is recorded "
                                   f"as taken when traced)")
            for j, (mine, theirs) in enumerate(zip(values, eager_values)):
                problem = _mismatch(mine, theirs)
                if problem:
                    raise RuntimeError(f"tl.jit(check=True): {where} of the trace of {name} differs from the eager "
                                       f"call: output {j} {problem}. The replay does not fit these inputs, probably "
                                       f"because of control flow on the data (recorded as taken when traced)")
        if len(recorder.ops) > len(plan.op_sites):
            raise RuntimeError(f"tl.jit(check=True): the eager call of {name} runs {len(recorder.ops)} ops, its trace "
                               f"only {len(plan.op_sites)}: control flow depends on the data")
        replayed: list = []
        _flatten(result, replayed)
        replayed = [leaf._data if isinstance(leaf, Tensor) else leaf for leaf in replayed
                    if isinstance(leaf, (Tensor, np.ndarray))]
        for k, (mine, theirs) in enumerate(zip(replayed, eager_outputs)):
            problem = _mismatch(mine, theirs)
            if problem:
                raise RuntimeError(f"tl.jit(check=True): output {k} of {name} differs from the eager call: {problem}")
        for label, (mine, theirs) in zip(state.labels, zip(state.grads(), eager_grads)):
            problem = _mismatch(mine, theirs)
            if problem:
                raise RuntimeError(f"tl.jit(check=True): the gradient of {label} after {name} differs from the "
                                   f"eager call: {problem}")
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
        self._by_value.clear()
        self._value_traces.clear()


class _Recorder(engine.Observer):
    """Runs everything eagerly (the `engine.Observer` defaults) and keeps a copy of every op's results."""

    def __init__(self):
        self.ops: list = []

    def on_apply(self, ctx, args, kwargs, result):
        outputs = result if type(result) is tuple else (result,)
        self.ops.append((ctx.name, engine._scope, [t._data.copy() for t in outputs]))


class _State:
    """What a call can change besides its results, saved to be put back: the data and ``.grad`` of
    the parameters and arguments it reads, its optimisers' state, the random generators."""

    def __init__(self, plan, leaves):
        from .trace import _generators_of
        tensors = [tensor for tensor, _, _ in plan.guards]
        tensors += [leaf for leaf in leaves if isinstance(leaf, Tensor) and leaf.requires_grad]
        self.tensors = tensors
        self.labels = [getattr(t, "_name", None) or f"a tensor of shape {t.shape}" for t in tensors]
        self.data = [t._data.copy() for t in tensors]
        self.saved_grads = self.grads()
        self.optimizers = [(o, {p: {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in s.items()}
                                for p, s in o.state.items()}) for o in plan.optimizers]
        self.generators = [(g, g.bit_generator.state) for g in _generators_of(plan.generators)]

    def grads(self) -> list:
        return [None if t.grad is None else np.array(t.grad) for t in self.tensors]

    def restore(self) -> None:
        for t, data, grad in zip(self.tensors, self.data, self.saved_grads):
            np.copyto(t._data, data)
            t.grad = None if grad is None else grad.copy()
        for optimizer, state in self.optimizers:
            optimizer.state = collections.defaultdict(dict, {p: {k: v.copy() if isinstance(v, np.ndarray) else v
                                                                 for k, v in s.items()} for p, s in state.items()})
        for generator, state in self.generators:
            generator.bit_generator.state = state


def _mismatch(mine, theirs) -> str | None:
    """How two results differ beyond rounding, or None."""
    if mine is None or theirs is None:
        return None if mine is None and theirs is None else "has a gradient in one and none in the other"
    mine, theirs = np.asarray(mine), np.asarray(theirs)
    if mine.shape != theirs.shape:
        return f"has shape {mine.shape}, not {theirs.shape}"
    if mine.dtype.kind != "f":
        return None if np.array_equal(mine, theirs) else "has other values"
    eps = np.finfo(mine.dtype).eps
    if np.allclose(mine, theirs, rtol=64 * eps, atol=64 * eps * max(1.0, float(np.abs(theirs).max(initial=0))),
                   equal_nan=True):
        return None
    difference = np.abs(mine.astype(np.float64) - theirs)
    return f"is off by up to {np.nanmax(difference):.3g}"


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
        strides, dtypes and ``requires_grad`` of the tensor and array arguments, and grad mode;
        also the values of integer arrays no op reads (``lengths=``, read in Python), with a
        warning when one signature traces more than `max_cache` times for their values.
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
