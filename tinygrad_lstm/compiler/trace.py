"""Recording one call for `tl.jit`: the tracer the engine reports to, the recorded backward,
and the check of a trace against a second run on other inputs.

The tracer (`_Tracer`) sees every op, tensor made from an array, in-place copy, ``backward``
and marked effect of the call, and names each array the call touches by a `_Slot`: an
argument, an op's result, a tensor from outside (a parameter or a constant), so that a
replay knows where to take it. ``backward`` inside the call runs as the engine's does
(`_record_backward` follows `engine.backward` step for step) and keeps its schedule: the nodes
in the order they ran and every gradient in the order it arrived. `_verify` runs the function
again on perturbed inputs and parameters and refuses what a replay would wrongly keep fixed.
"""
from __future__ import annotations

import collections
import heapq
import itertools
import types

import numpy as np
from numpy.lib.array_utils import byte_bounds

from .. import engine
from ..engine import Function, LazyGrad, Tensor


# =========================================================================== flattening
class _Spec:
    """The structure of a (nested) tuple/list/dict of leaves, to rebuild it around new leaves."""

    __slots__ = ("kind", "parts", "keys")

    def __init__(self, kind, parts=(), keys=None):
        self.kind, self.parts, self.keys = kind, parts, keys


_LEAF = _Spec("leaf")


def _flatten(obj, leaves: list, also=frozenset()) -> _Spec:
    """Append the tensors and arrays of `obj` (and the objects whose ids are in `also`) to
    `leaves`; other values stay in the spec."""
    if isinstance(obj, (Tensor, np.ndarray)) or id(obj) in also:
        leaves.append(obj)
        return _LEAF
    kind = type(obj)
    if kind is tuple or kind is list or (isinstance(obj, tuple) and hasattr(obj, "_fields")):
        return _Spec(kind, tuple(_flatten(item, leaves, also) for item in obj))
    if kind is dict:
        keys = tuple(obj)
        return _Spec(kind, tuple(_flatten(obj[k], leaves, also) for k in keys), keys)
    return _Spec("value", obj)


def _rebuild(spec: _Spec, leaves) -> object:
    """The structure `spec` with the next items of the iterator `leaves` in its leaf places."""
    kind = spec.kind
    if kind == "leaf":
        return next(leaves)
    if kind == "value":
        return spec.parts
    items = [_rebuild(part, leaves) for part in spec.parts]
    if kind is dict:
        return dict(zip(spec.keys, items))
    if kind is tuple or kind is list:
        return kind(items)
    return kind(*items)  # a namedtuple


def _spec_key(spec: _Spec):
    """A hashable summary of a spec: containers by type, plain values by value, other objects by identity."""
    kind = spec.kind
    if kind == "leaf":
        return None
    if kind == "value":
        value = spec.parts
        if isinstance(value, (float, np.floating)):
            return (type(value), float(value).hex())  # -0.0 is not 0.0, and a NaN finds its plan again
        if value is None or isinstance(value, (bool, int, float, complex, str, bytes, np.generic, np.dtype, slice)):
            return (type(value), value)
        return ("id", id(value))
    return (kind, spec.keys, tuple(_spec_key(p) for p in spec.parts))


def _signature(leaves: list) -> tuple:
    """Shape, strides, dtype and ``requires_grad`` of each leaf, and which leaves share an array."""
    parts = []
    first = {}
    for k, leaf in enumerate(leaves):
        if type(leaf) is Tensor or isinstance(leaf, Tensor):
            a = leaf._data
            parts.append((a.shape, a.strides, a.dtype, leaf.requires_grad, first.setdefault(id(a), k)))
        else:
            parts.append((leaf.shape, leaf.strides, leaf.dtype, None, first.setdefault(id(leaf), k)))
    return tuple(parts)


# =========================================================================== tracing
class _Slot:
    """One array of the traced call.

    ``kind`` says where a replay gets it: ``"input"`` (argument ``source`` of the flattened
    arguments), ``"external"`` (``tensor``'s data: a parameter, a buffer, or a constant made
    during the call), ``"op"`` (output ``source = (event, index)`` of an op), ``"copy"``
    (``Tensor(array)`` made inside the call, event ``source``), ``"view"`` (a numpy view of
    another slot's array made in Python, ``source = (slot, byte offset, shape, strides)``) or
    ``"const"`` (an array that no op made and no argument is).
    """

    __slots__ = ("index", "kind", "array", "source", "tensor", "initial")

    def __init__(self, index, kind, array, source=None, tensor=None):
        self.index, self.kind, self.array, self.source, self.tensor = index, kind, array, source, tensor
        self.initial = None


class _Ref:
    """A place in an op's arguments (or keyword arguments) filled by slot `slot` at replay."""

    __slots__ = ("slot",)

    def __init__(self, slot: _Slot):
        self.slot = slot


class _Const:
    """A plain value in an op's arguments, the same at every replay."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


class _InputRef:
    """Argument `index` of the flattened arguments, inside an effect's arguments."""

    __slots__ = ("index",)

    def __init__(self, index: int):
        self.index = index


class _OpEvent:
    __slots__ = ("index", "ctx", "args", "kwargs", "outputs", "multi", "scope", "snapshot", "modules")

    def __init__(self, index, ctx, args, kwargs, outputs, multi, scope):
        self.index, self.ctx, self.args, self.kwargs = index, ctx, args, kwargs
        self.outputs, self.multi, self.scope = outputs, multi, scope
        self.snapshot = None  # the slot an in-place copy later overwrote while this op's node had it saved

    @property
    def name(self) -> str:
        return self.ctx.name

    def where(self) -> str:
        return f"op {self.index} '{self.name}'" + (f" (scope {self.scope})" if self.scope else "")


class _CopyEvent:
    """``Tensor(array)`` inside the call: a copy (and cast) of a traced array."""

    __slots__ = ("index", "source", "output", "dtype")

    def __init__(self, index, source, output, dtype):
        self.index, self.source, self.output, self.dtype = index, source, output, dtype


class _InplaceEvent:
    __slots__ = ("index", "target", "result", "tensor")

    def __init__(self, index, target, result, tensor):
        self.index, self.target, self.result, self.tensor = index, target, result, tensor


class _EffectEvent:
    __slots__ = ("index", "fn", "args", "kwargs", "result")

    def __init__(self, index, fn, args, kwargs, result=None):
        self.index, self.fn, self.args, self.kwargs, self.result = index, fn, args, kwargs, result

    @property
    def name(self) -> str:
        return getattr(self.fn, "__qualname__", repr(self.fn))


class _BackwardEvent:
    __slots__ = ("index", "schedule")

    def __init__(self, index, schedule):
        self.index, self.schedule = index, schedule


def _module_stack() -> list:
    from ..nn import module
    return module._call_stack


class _CallStack(list):
    """The modules' call stack while a call is traced: it tells `tracer` every module called,
    also one that runs no op (``Dropout`` in eval mode), whose state the plan then guards."""

    def __init__(self, items, tracer):
        super().__init__(items)
        self.tracer = tracer

    def append(self, module) -> None:
        self.tracer.modules[id(module)] = module
        super().append(module)


class _RecordingModules:
    """``with _RecordingModules(tracer):`` installs a `_CallStack` for `tracer`, then puts the previous one back."""

    def __init__(self, tracer):
        self.tracer = tracer

    def __enter__(self):
        from ..nn import module
        self.previous = module._call_stack
        module._call_stack = _CallStack(self.previous, self.tracer)

    def __exit__(self, *exc) -> None:
        from ..nn import module
        module._call_stack = self.previous


_PLAIN = (bool, int, float, str, type(None), np.dtype)


def _fingerprint(module) -> tuple:
    """What a module's forward depends on besides tensors: its training mode, registered members
    and plain settings (``p`` of a dropout, ``batch_first``, ...)."""
    d = module.__dict__
    settings = tuple((k, v) for k, v in d.items() if type(v) in _PLAIN)
    return (settings, tuple(map(id, d["_parameters"].values())), tuple(map(id, d["_buffers"].values())),
            tuple(map(id, d["_modules"].values())))


class _Tracer(engine.Observer):
    """Records one call: the engine calls its ``on_*`` methods while it is ``engine._tracer``.

    `shadow` tracers record a second run for `_verify`: they skip ``backward`` and effects
    (returning the traced call's effect results instead).
    """

    def __init__(self, inputs: list, shadow_of: "_Tracer | None" = None):
        self.inputs = inputs
        self.events: list = []
        self.slots: list[_Slot] = []
        self.by_array: dict = {}      # id(array) -> slot
        self.by_memory: dict = {}     # id(array owning the memory) -> slots whose arrays lie in it
        self.by_tensor: dict = {}     # id(tensor) -> slot, for tensors that are not arguments
        self.by_node: dict = {}       # node -> the op event that made it
        self.keep: list = []          # everything whose id is a key above stays alive while tracing
        self.modules: dict = {}       # id(module) -> module, every module on the call stack of an op
        self.backward_called = False
        self.shadow_of = shadow_of
        self._effects_seen = 0
        self.input_tensor = {}        # id(input object) -> position, for effects' arguments
        for k, leaf in enumerate(inputs):
            array = leaf._data if isinstance(leaf, Tensor) else leaf
            self.input_tensor.setdefault(id(leaf), k)
            if id(array) not in self.by_array:
                self._new_slot("input", array, k)

    # -- slots --------------------------------------------------------------------------------
    def _new_slot(self, kind, array, source=None, tensor=None) -> _Slot:
        slot = _Slot(len(self.slots), kind, array, source, tensor)
        self.slots.append(slot)
        self.by_array[id(array)] = slot
        self.by_memory.setdefault(id(engine._memory_root(array)), []).append(slot)
        self.keep.append(array)
        return slot

    def _tensor_slot(self, t: Tensor) -> _Slot:
        slot = self.by_array.get(id(t._data)) or self._array_slot(t._data)
        if slot is None:
            slot = self.by_tensor.get(id(t))
            if slot is None:
                slot = self._new_slot("external", t._data, tensor=t)
                slot.initial = t._data.copy()  # for a tensor made during the call and changed in place
                self.by_tensor[id(t)] = slot
                self.keep.append(t)
        return slot

    def _array_slot(self, array: np.ndarray) -> _Slot | None:
        """The slot of a traced array, or of a numpy view of one (``targets.reshape(-1)``), or None."""
        slot = self.by_array.get(id(array))
        if slot is not None or array.base is None or not array.size:
            return slot
        low, high = byte_bounds(array)
        start = array.__array_interface__["data"][0]
        for base in self.by_memory.get(id(engine._memory_root(array)), ()):
            other = base.array
            if other.dtype == array.dtype and other.size and base.kind != "view":
                other_low, other_high = byte_bounds(other)
                if other_low <= low and high <= other_high:
                    offset = start - other.__array_interface__["data"][0]
                    return self._new_slot("view", array, (base, offset, array.shape, array.strides))
        return None

    def _ref(self, value):
        if isinstance(value, Tensor):
            return _Ref(self._tensor_slot(value))
        if type(value) is np.ndarray:
            slot = self._array_slot(value)
            return _Ref(slot) if slot is not None else _Const(value)
        if type(value) is list or type(value) is tuple:
            return _Const(np.asarray(value))  # as Function.apply converts it
        return _Const(value)

    def _structure(self, value):
        """Keyword arguments: arrays and tensors inside (nested) tuples become references."""
        if isinstance(value, Tensor):
            return _Ref(self._tensor_slot(value))
        if type(value) is np.ndarray:
            slot = self._array_slot(value)
            return _Ref(slot) if slot is not None else value
        if type(value) is tuple or type(value) is list:
            parts = [self._structure(v) for v in value]
            if any(isinstance(p, _Ref) or type(p) in (tuple, list) and _has_ref(p) for p in parts):
                return type(value)(parts)
        return value

    # -- engine hooks -------------------------------------------------------------------------
    def on_apply(self, ctx, args, kwargs, result):
        for module in _module_stack():
            self.modules[id(module)] = module
        refs = tuple(self._ref(a) for a in args)
        kw = {k: self._structure(v) for k, v in kwargs.items()}
        multi = type(result) is tuple
        outs = result if multi else (result,)
        index = len(self.events)
        event = _OpEvent(index, ctx, refs, kw, [], multi, engine._scope)
        event.outputs = [self._new_slot("op", t._data, (index, j)) for j, t in enumerate(outs)]
        self.keep.append(ctx)
        if outs[0]._node is ctx:
            self.by_node[ctx] = event
        self.events.append(event)

    def on_tensor(self, tensor, data):
        array = data._data if isinstance(data, Tensor) else data
        slot = self._array_slot(array) if type(array) is np.ndarray else None
        if slot is None or tensor._data is array:
            return
        index = len(self.events)
        out = self._new_slot("copy", tensor._data, index)
        self.events.append(_CopyEvent(index, slot, out, tensor._data.dtype))

    def on_inplace(self, tensor, result):
        target = self._tensor_slot(tensor)
        source = self._tensor_slot(result)
        producer = self.events[source.source[0]] if source.kind == "op" else None
        if (producer is not None and isinstance(producer, _OpEvent) and producer.ctx.saved_tensors
                and any(isinstance(r, _Ref) and r.slot is target for r in producer.args)):
            producer.snapshot = target  # the engine gave that node a copy of the old values
        owner = tensor if target.kind in ("external", "input") else None
        self.events.append(_InplaceEvent(len(self.events), target, source, owner))

    def on_backward(self, tensors, grad_tensors, retain_graph, create_graph=False, inputs=None):
        if create_graph or inputs is not None:
            raise RuntimeError("backward: create_graph=True and inputs= are not supported inside tl.jit; "
                               "call backward outside the compiled function for them")
        self.backward_called = True
        index = len(self.events)
        if self.shadow_of is not None:
            self.events.append(_BackwardEvent(index, None))
            return None
        schedule = _record_backward(self, tensors, grad_tensors, retain_graph)
        self.events.append(_BackwardEvent(index, schedule))
        return None

    def on_grad(self, outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused):
        raise RuntimeError("grad: not supported inside tl.jit; call tl.grad outside the compiled function")

    def on_effect(self, fn, args, kwargs):
        args = tuple(list(a) if isinstance(a, types.GeneratorType) else a for a in args)
        kwargs = {k: list(v) if isinstance(v, types.GeneratorType) else v for k, v in kwargs.items()}
        event = _EffectEvent(len(self.events), fn, self._effect_args(args), self._effect_args(kwargs))
        self.events.append(event)
        if self.shadow_of is not None:
            traced = [e for e in self.shadow_of.events if isinstance(e, _EffectEvent)]
            self._effects_seen += 1
            return traced[self._effects_seen - 1].result if self._effects_seen <= len(traced) else None
        previous, engine._tracer = engine._tracer, None  # what the effect does inside is not part of the trace
        try:
            event.result = fn(*args, **kwargs)
        finally:
            engine._tracer = previous
        return event.result

    def _effect_args(self, value):
        k = self.input_tensor.get(id(value))
        if k is not None and self.inputs[k] is value:
            return _InputRef(k)
        if type(value) in (tuple, list):
            return type(value)(self._effect_args(v) for v in value)
        if type(value) is dict:
            return {k: self._effect_args(v) for k, v in value.items()}
        return value

    # -- results ------------------------------------------------------------------------------
    def output_ref(self, leaf):
        """Where a replay finds an output leaf: a slot (a tensor or array of the trace), or an effect's result."""
        if isinstance(leaf, Tensor):
            return self._tensor_slot(leaf)
        slot = self._array_slot(leaf) if type(leaf) is np.ndarray else None
        return slot if slot is not None else _Const(leaf)

    def tensor_of_output(self, node, index: int) -> Tensor | None:
        """The argument (or else a tensor from outside that an op of the call read) that is output
        `index` of `node`, a node recorded before the call; None if there is none."""
        candidates = itertools.chain(self.inputs, (slot.tensor for slot in self.by_tensor.values()))
        return next((t for t in candidates if isinstance(t, Tensor) and t._node is node and t._index == index), None)

    def leaf_of(self, t: Tensor):
        """The leaf descriptor of a tensor that receives gradients: ``("input", k)`` or ``("external", slot)``."""
        k = self.input_tensor.get(id(t))
        if k is not None and self.inputs[k] is t:
            return ("input", k)
        return ("external", self._tensor_slot(t))


def _has_ref(structure) -> bool:
    if isinstance(structure, _Ref):
        return True
    if type(structure) in (tuple, list):
        return any(_has_ref(s) for s in structure)
    return False


# =========================================================================== backward
class _Contribution:
    """One gradient arriving at a pending entry, in the engine's arrival order.

    `source` is ``("seed", k)`` or ``("run", run index, input position)``; a lazy contribution
    (a deferred matmul gradient) is added unfitted, a dense one after `_fit` to `fit`
    (``(shape, dtype)``) when that changed it. `array` is its traced value.
    """

    __slots__ = ("source", "lazy", "fit", "array", "raw")

    def __init__(self, source, lazy, fit, array, raw):
        self.source, self.lazy, self.fit, self.array, self.raw = source, lazy, fit, array, raw


class _Run:
    """One node's backward: `event` is its op, `grads_out` the entry key of each output (None
    when that output got no gradient), `sends` ``(position, key, contribution)`` in the order
    the engine sent them, `returned` the traced gradient returned for each input. (Hooks on
    the call's own tensors are refused: they would run with the traced call's values.)"""

    __slots__ = ("event", "grads_out", "sends", "returned")

    def __init__(self, event, grads_out):
        self.event, self.grads_out = event, grads_out
        self.sends, self.returned = [], []


class _Schedule:
    """The recorded backward of one ``backward`` call (or, for `_CompiledStep`, of the outputs).

    Entry keys are ``(event index, output index)`` for an op's output and ``("leaf", ...)``
    for a tensor outside the recorded ops. `seeds` are ``(key, source)``; `contributions`
    lists per key what arrived, in order; `consumed` keeps the traced value of each entry when
    it was used (its layout is the plan's); `deposits` are the leaf keys in the engine's order.
    """

    def __init__(self, retain):
        self.retain = retain
        self.seeds: list = []
        self.runs: list[_Run] = []
        self.contributions: dict = collections.defaultdict(list)
        self.consumed: dict = {}
        self.first_sum: dict = {}
        self.deposits: list = []
        self.leaves: dict = {}  # leaf key -> ("input", k) / ("external", slot), shape, dtype


def _record_backward(tracer: _Tracer, tensors, grads, retain_graph, probe=False) -> _Schedule:
    """Run ``backward`` as the engine does (`engine.backward`) and record what it did.

    With `probe`, `tensors` are the traced call's outputs and nothing is deposited: the
    schedule is the backward of a `_CompiledStep`, whose leaves are the node's inputs.
    """
    if isinstance(tensors, Tensor):
        tensors, grads = [tensors], None if grads is None else [grads]
    tensors = list(tensors)
    grads = [None] * len(tensors) if grads is None else list(grads)
    if len(grads) != len(tensors):
        raise ValueError(f"backward: got {len(grads)} gradients for {len(tensors)} tensors")
    schedule = _Schedule(bool(retain_graph) or probe)
    pending: dict = {}   # key -> [grad, owned]
    leaves: dict = {}    # leaf tensor -> [grad, owned] (the engine's own deposit runs on it)
    heap: list = []
    node_keys: dict = {}  # node -> its pending output keys

    def key_of(parent, index):
        """The entry key of edge ``(parent, index)`` and the shape/dtype gradients are fitted to."""
        if isinstance(parent, Tensor):
            key = ("leaf", id(parent))
            if key not in schedule.leaves:
                schedule.leaves[key] = (tracer.leaf_of(parent), parent)
            return key, parent._data.shape, parent._data.dtype
        event = tracer.by_node.get(parent)
        if event is None:
            if not probe:
                raise RuntimeError(f"tl.jit: backward inside the compiled function reaches op '{parent.name}', "
                                   f"recorded before the call; backpropagate through the ops of the call only")
            key = ("leaf", id(parent), index)
            if key not in schedule.leaves:  # a tensor with a graph before the call: its gradient goes on there
                tensor = tracer.tensor_of_output(parent, index)
                schedule.leaves[key] = ((tracer.leaf_of(tensor), tensor) if tensor is not None
                                        else (("outside", parent, index), None))
            shape, dtype = parent.meta[index]
            return key, shape, dtype
        shape, dtype = parent.meta[index]
        return (event.index, index), shape, dtype

    def arrive(key, node, grad, contribution):
        entry = pending.get(key)
        new = entry is None
        pending[key] = engine._summed(entry, grad)
        if entry is not None and key not in schedule.first_sum and type(pending[key][0]) is np.ndarray:
            schedule.first_sum[key] = pending[key][0]
        schedule.contributions[key].append(contribution)
        if key[0] == "leaf":
            if new:
                schedule.deposits.append(key)
            return
        if node is not None:
            keys = node_keys.get(node)
            if keys is None:
                node_keys[node] = keys = []
                heapq.heappush(heap, (node.seq, node))
            if key not in keys:
                keys.append(key)

    for k, (t, g) in enumerate(zip(tensors, grads)):
        if not isinstance(t, Tensor):
            raise TypeError(f"backward: expected Tensors, got {type(t).__name__}")
        if not t.requires_grad:
            raise RuntimeError("backward: the tensor does not require grad and has no grad_fn")
        if g is None:
            if t._data.size != 1 and not probe:
                raise RuntimeError(f"backward: grad can be implicitly created only for one-element outputs; "
                                   f"pass a gradient for the output of shape {t.shape}")
            value = np.ones_like(t._data)
            source = ("output", k) if probe else ("ones", t._data.shape, t._data.dtype)
        else:
            value = np.asarray(g._data if isinstance(g, Tensor) else g)
            if value.shape != t.shape:
                raise ValueError(f"backward: grad of shape {value.shape} does not match the tensor's shape {t.shape}")
            ref = tracer._ref(g) if isinstance(g, (Tensor, np.ndarray)) else _Const(value)
            value = value.astype(t.dtype, copy=False)
            source = ("given", ref, t.dtype)
        if t._node is None:
            key, _, _ = key_of(t, 0)
            node = None
        else:
            key, _, _ = key_of(t._node, t._index)
            node = t._node if key[0] != "leaf" else None
        schedule.seeds.append((key, source))
        arrive(key, node, value, _Contribution(("seed", k), False, None, value, value))

    stale = -engine._last_change
    while heap:
        node = heapq.heappop(heap)[1]
        event = tracer.by_node[node]
        keys = node_keys.pop(node)
        grads_out = []
        out_keys = []
        for index in range(len(node.meta)):
            key = (event.index, index)
            entry = pending.pop(key, None) if key in keys else None
            value = engine._materialized(entry)
            if value is not None:
                schedule.consumed[key] = value
            grads_out.append(value)
            out_keys.append(key if entry is not None else None)
        if node.saved_tensors is None:
            raise engine._released_error(node)
        if node.seq > stale:
            engine._check_saved_versions(node)
        if node.hooks and any(node.hooks.values()):
            raise RuntimeError(f"tl.jit: a hook on a tensor made inside the compiled function (on op '{node.name}') "
                               f"would run with the values of the traced call at every replay; register hooks "
                               f"outside the function, or call it without tl.jit")
        run = _Run(event, out_keys)
        grads_in = engine._checked_grads(node, node.backward(*grads_out))
        if not schedule.retain:
            node.saved_tensors = None
        run.returned = list(grads_in)
        position = len(schedule.runs)
        schedule.runs.append(run)
        for i, (edge, g, need) in enumerate(zip(node.edges, grads_in, node.needs_input_grad)):
            if not need or g is None:
                continue
            parent, index = edge
            key, shape, dtype = key_of(parent, index)
            lazy = isinstance(g, LazyGrad)
            raw = g
            fit = None
            if not lazy:
                g = np.asarray(g)
                raw = g
                if g.shape != shape or g.dtype != dtype:
                    g = engine._fit(g, shape, dtype, node)
                    fit = (shape, dtype)
            contribution = _Contribution(("run", position, i), lazy, fit, g, raw)
            run.sends.append((i, key, contribution))
            arrive(key, parent if isinstance(parent, Function) and key[0] != "leaf" else None, g, contribution)

    for key in schedule.deposits:
        entry = pending.pop(key)
        schedule.consumed[key] = engine._materialized(entry)
        descriptor, tensor = schedule.leaves[key]
        if descriptor[0] != "outside" and not probe:
            leaves[tensor] = entry
    if not probe:
        engine._deposit(leaves)
    return schedule


def _alive(schedule: _Schedule, seeded) -> tuple:
    """The runs and contributions of `schedule` when only the seeds in `seeded` carry a gradient:
    a node runs when at least one contribution reaches it, as in the engine."""
    alive_keys = set()
    alive_contributions = set()
    for k, (key, _) in enumerate(schedule.seeds):
        if k in seeded:
            alive_keys.add(key)
            alive_contributions.add(id(schedule.contributions[key][[c.source for c in
                                                                    schedule.contributions[key]].index(("seed", k))]))
    runs = []
    for run in schedule.runs:
        if not any(key is not None and key in alive_keys for key in run.grads_out):
            continue
        runs.append(run)
        for _, key, contribution in run.sends:
            alive_keys.add(key)
            alive_contributions.add(id(contribution))
    return runs, alive_contributions


# =========================================================================== verification
def _scaled(array: np.ndarray, rng) -> np.ndarray:
    """`array` with every element scaled by U(0.5, 1.5) and a random sign, zeros moved off zero:
    other values of the same magnitudes, on both sides of any threshold at zero."""
    factors = rng.uniform(0.5, 1.5, array.shape) * rng.choice((-1.0, 1.0), array.shape)
    new = np.where(array == 0, factors * 0.5, array * factors)
    return new.astype(array.dtype)


def _perturbed(leaf, rng):
    """A copy of an argument with other values of the same kind: floats scaled (`_scaled`),
    integers and booleans permuted."""
    array = leaf._data if isinstance(leaf, Tensor) else leaf
    new = np.empty_like(array)  # the same memory order, so that numpy views and copies happen alike
    if array.dtype.kind == "f":
        new[...] = _scaled(array, rng)
    elif array.dtype.kind in "iub" and array.size > 1:
        new[...] = rng.permutation(array.reshape(-1)).reshape(array.shape)
    else:
        new[...] = array
    if isinstance(leaf, Tensor):
        t = Tensor._wrap(new, None, 0)
        t.requires_grad = leaf.requires_grad
        return t
    return new


def _same_value(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        return a.shape == b.shape and a.dtype == b.dtype and bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    if isinstance(a, np.random.Generator) or isinstance(b, np.random.Generator):
        return a is b
    if isinstance(a, (float, np.floating)) and isinstance(b, (float, np.floating)):
        return float(a).hex() == float(b).hex()  # NaN is NaN, -0.0 is not 0.0
    try:
        same = a == b
        return bool(same) if not isinstance(same, np.ndarray) else bool(same.all())
    except Exception:  # values that do not compare: the same object or not
        return a is b


class _TraceError(RuntimeError):
    pass


def _difference(main: _Tracer, shadow: _Tracer, results=None):
    """The first difference between two traces of one function, as a message, or None.

    Slots must correspond (same input, same op output, the same persistent tensor); arrays
    made during the call (constants) and plain values must be equal. `results` are the two
    runs' return values: they must come from corresponding slots, or be equal.
    """
    def describe(event):
        return event.where() if isinstance(event, _OpEvent) else f"event {event.index} ({type(event).__name__[1:-5]})"

    def same_slot(a: _Slot, b: _Slot, where: str):
        if a.kind != b.kind:
            return f"{where} reads {_slot_text(a)} when traced but {_slot_text(b)} with other inputs"
        if a.kind == "input" and a.source != b.source:
            return f"{where} reads argument {a.source} when traced but argument {b.source} with other inputs"
        if a.kind in ("op", "copy") and a.source != b.source:
            return f"{where} reads the result of event {a.source} when traced but of event {b.source} with other inputs"
        if a.kind == "view":
            if a.source[1:] != b.source[1:]:
                return f"{where} reads another part of an array with other inputs: indices depend on the data"
            return same_slot(a.source[0], b.source[0], where)
        if a.kind == "external" and a.tensor is not b.tensor and not _same_value(a.initial, b.initial):
            return (f"{where} reads an array computed outside the ops, which changes with the inputs or between "
                    f"calls (numpy on .data, a comparison, a random draw, Python state); a replay would reuse the "
                    f"traced value. Compute it with tensor ops or pass it as an argument")
        return None

    def same_structure(a, b, where):
        if isinstance(a, _Ref) or isinstance(b, _Ref):
            if not (isinstance(a, _Ref) and isinstance(b, _Ref)):
                return (f"{where} takes an array computed outside the ops, which changes with the inputs; a replay "
                        f"would reuse the traced value. Compute it with tensor ops or pass it as an argument")
            return same_slot(a.slot, b.slot, where)
        if isinstance(a, _Const) and isinstance(b, _Const):
            a, b = a.value, b.value
        if type(a) in (tuple, list) and type(b) in (tuple, list) and len(a) == len(b):
            for x, y in zip(a, b):
                problem = same_structure(x, y, where)
                if problem:
                    return problem
            return None
        if not _same_value(a, b):
            return (f"{where} takes a value computed outside the ops ({_short(a)} when traced, {_short(b)} with "
                    f"other inputs); a replay would reuse the traced value. Compute it with tensor ops or pass it "
                    f"as an argument (numbers and strings are part of the cache key)")
        return None

    if len(main.events) != len(shadow.events):
        n = min(len(main.events), len(shadow.events))
        for a, b in zip(main.events, shadow.events):
            if type(a) is not type(b) or (isinstance(a, _OpEvent) and type(a.ctx) is not type(b.ctx)):
                n = a.index
                break
        what = describe(main.events[n]) if n < len(main.events) else "the end of the call"
        return (f"the call runs {len(main.events)} ops and effects when traced but {len(shadow.events)} with other "
                f"inputs (first difference at {what}): control flow depends on the data")
    for a, b in zip(main.events, shadow.events):
        if type(a) is not type(b) or (isinstance(a, _OpEvent) and type(a.ctx) is not type(b.ctx)):
            return (f"{describe(a)} when traced is {describe(b)} with other inputs: control flow depends on "
                    f"the data")
        if isinstance(a, _OpEvent):
            for j, (x, y) in enumerate(zip(a.outputs, b.outputs)):
                if x.array.shape != y.array.shape or x.array.dtype != y.array.dtype:
                    return (f"{a.where()} gives output {j} of shape {x.array.shape} when traced and "
                            f"{y.array.shape} with other inputs: shapes depend on the data")
            if len(a.args) != len(b.args):
                return f"{a.where()} takes {len(a.args)} arguments when traced and {len(b.args)} with other inputs"
            for i, (x, y) in enumerate(zip(a.args, b.args)):
                problem = same_structure(x, y, f"{a.where()}, argument {i},")
                if problem:
                    return problem
            if set(a.kwargs) != set(b.kwargs):
                return f"{a.where()} takes other keyword arguments with other inputs"
            for name in a.kwargs:
                problem = same_structure(a.kwargs[name], b.kwargs[name], f"{a.where()}, argument {name!r},")
                if problem:
                    return problem
        elif isinstance(a, _CopyEvent):
            problem = same_slot(a.source, b.source, f"tensor made at {describe(a)}")
            if problem:
                return problem
        elif isinstance(a, _InplaceEvent):
            problem = same_slot(a.target, b.target, f"in-place copy at {describe(a)}") or \
                same_slot(a.result, b.result, f"in-place copy at {describe(a)}")
            if problem:
                return problem
    if results is not None:
        effects = frozenset(id(e.result) for e in main.events if isinstance(e, _EffectEvent) and e.result is not None)
        leaves_a, leaves_b = [], []
        spec_a, spec_b = _flatten(results[0], leaves_a, effects), _flatten(results[1], leaves_b, effects)
        if _spec_key(spec_a) != _spec_key(spec_b):
            return ("the function returns other plain values with other inputs (a number computed outside the ops, "
                    "such as loss.item()); a replay would return the traced ones. Return tensors")
        for k, (a, b) in enumerate(zip(leaves_a, leaves_b)):
            if a is b:  # an effect's result: the replay calls the effect
                continue
            refs = [ref if isinstance(ref, _Const) else _Ref(ref) for ref in (main.output_ref(a), shadow.output_ref(b))]
            problem = same_structure(*refs, f"result {k}")
            if problem:
                return problem
    return None


def _slot_text(slot: _Slot) -> str:
    return {"input": "an argument", "external": "a tensor from outside the call", "op": "an op's result",
            "copy": "a tensor made from an array", "view": "a numpy view of an array",
            "const": "a constant array"}[slot.kind]


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _explicit_generators(tracer: _Tracer) -> list:
    """The random generators passed to the ops of the call (dropout's ``generator=``)."""
    found = {}
    for event in tracer.events:
        if isinstance(event, _OpEvent):
            for value in event.kwargs.values():
                if isinstance(value, np.random.Generator):
                    found[id(value)] = value
    return list(found.values())


def _generators_of(explicit: list) -> list:
    """The generators a call draws from: the global one (as it is now: `manual_seed` replaces it) and `explicit`."""
    from ..random import default_generator
    found = {id(default_generator()): default_generator()}
    found.update((id(g), g) for g in explicit)
    return list(found.values())


def _verify(fn, args, kwargs, inputs: list, spec: _Spec, main: _Tracer, result, fixed=()) -> None:
    """Run `fn` again on perturbed arguments and parameters, recording, and raise `RuntimeError`
    where the two traces differ in what a replay would take as fixed. The arguments at the
    positions `fixed` keep their values (they are part of the cache key).

    Backward and effects do not run; random generators, parameters and anything the second
    run changes in place are restored, so the first call's results stand as if it ran alone.
    """
    rng = np.random.default_rng(len(main.events))
    externals = [slot for slot in main.slots if slot.kind == "external"]
    saved = [(slot.array, slot.array.copy()) for slot in externals
             if slot.array.dtype.kind == "f" and slot.array.flags.writeable and slot.array.size]
    tensors = [slot.tensor for slot in externals] + [leaf for leaf in inputs if isinstance(leaf, Tensor)]
    grads = [(t, t.grad) for t in tensors]  # the second run may assign .grad (it runs no backward)
    generators = [(g, g.bit_generator.state) for g in _generators_of(_explicit_generators(main))]
    shadow_inputs, made = [], {}  # an argument given twice (``f([x, x])``) is one perturbed argument twice
    for k, leaf in enumerate(inputs):
        if id(leaf) not in made:
            made[id(leaf)] = leaf if k in fixed else _perturbed(leaf, rng)
        shadow_inputs.append(made[id(leaf)])
    leaves = iter(shadow_inputs)
    shadow_args, shadow_kwargs = _rebuild(spec, leaves)
    shadow = _Tracer(shadow_inputs, shadow_of=main)
    state = (engine._grad_enabled, engine._scope)
    try:
        for array, _ in saved:
            np.copyto(array, _scaled(array, rng))
        engine._tracer = shadow
        try:
            shadow_result = fn(*shadow_args, **shadow_kwargs)
        finally:
            engine._tracer = None
            engine._grad_enabled, engine._scope = state
    except Exception as e:
        raise _TraceError(f"tl.jit: checking the trace of {_name(fn)}: the function failed on other inputs of the "
                          f"same shapes ({type(e).__name__}: {e})") from e
    finally:
        for array, original in reversed(saved):
            np.copyto(array, original)
        for t, grad in grads:
            t.grad = grad
        for generator, previous in generators:
            generator.bit_generator.state = previous
    problem = _difference(main, shadow, (result, shadow_result))
    if problem:
        raise _TraceError(f"tl.jit: cannot compile {_name(fn)}: {problem}")
    # what the second run also read, unchanged: a persistent tensor; what it made anew: a constant
    for a, b in zip(main.slots, shadow.slots):
        if a.kind == "external" and b.kind == "external" and a.tensor is not b.tensor:
            a.kind = "const"


def _read_by_python(tracer: _Tracer, outputs: list) -> tuple:
    """The positions of the integer and boolean arguments that no op, copy, effect or output of
    the call reads: their values were read in Python (``lengths``, a mask built with numpy), so
    they become part of the cache key instead of being frozen into the plan."""
    read = set()

    def mark(value):
        if isinstance(value, _Ref):
            slot = value.slot
            while slot.kind == "view":
                slot = slot.source[0]
            if slot.kind == "input":
                read.add(slot.source)
        elif isinstance(value, _Slot):
            mark(_Ref(value))
        elif isinstance(value, _InputRef):
            read.add(value.index)
        elif type(value) in (tuple, list):
            for v in value:
                mark(v)
        elif type(value) is dict:
            for v in value.values():
                mark(v)

    for event in tracer.events:
        if isinstance(event, _OpEvent):
            mark(event.args)
            mark(event.kwargs)
        elif isinstance(event, _CopyEvent):
            mark(event.source)
        elif isinstance(event, _InplaceEvent):
            mark((event.target, event.result))
        elif isinstance(event, _EffectEvent):
            mark((event.args, event.kwargs))
        elif isinstance(event, _BackwardEvent) and event.schedule is not None:
            mark([source[1] for _, source in event.schedule.seeds if source[0] == "given"])
    for leaf in outputs:
        mark(tracer.output_ref(leaf))
    return tuple(k for k, leaf in enumerate(tracer.inputs) if k not in read
                 and (leaf._data if isinstance(leaf, Tensor) else leaf).dtype.kind in "iub")


def _value_key(leaves: list, positions: tuple) -> tuple:
    """The values of the arguments at `positions`, for the cache key."""
    return tuple((leaves[k]._data if isinstance(leaves[k], Tensor) else leaves[k]).tobytes() for k in positions)


def _name(fn) -> str:
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or type(fn).__name__
