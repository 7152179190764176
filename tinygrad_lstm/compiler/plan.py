"""The plan of a traced call: straight-line Python over numpy, generated once, run at every replay.

Lowering (`_Lowering`) walks the recorded events in order. Each op becomes the numpy calls
of its rule (`tinygrad_lstm.compiler.rules`), writing into buffers allocated once per *arena*
(``out=``), or a call of the op's own forward when it has no rule; views (reshape,
transpose, split, unbind, ...) are made once when the arena is built. A recorded
``backward`` becomes each node's backward in the engine's order, every gradient added in
the order it arrived: the first kept as it is, the second summed into a new buffer, later
ones added in place, and the deferred matmul gradient of a shared weight as one product
over all its rows, all as `engine.backward` does. Effects (optimiser steps, clipping) are
called where the function called them.

Two things keep the plan small and free of copies. *Homes*: where a consumer wants a value
(the rows of a deferred gradient's product, the slices of a split's input gradient), its
producer writes it there with ``out=``; a value written elsewhere is copied. *Sharing*:
buffers of one shape whose lifetimes in the generated code do not overlap share memory
(`_Program.allocate`), so the plan holds about what one eager step holds at its peak.

An arena is one set of buffers and the code bound to them (a namespace of globals the
generated functions read). A replay takes a free arena; a `_CompiledStep` node keeps its
arena until its backward has run (or the node is freed), so a second call before the first
call's backward uses another arena and nothing is overwritten under a live graph.
"""
from __future__ import annotations

import heapq
import itertools
import re

import numpy as np

from .. import engine
from ..engine import Function, LazyGrad, Tensor
from .. import ops
from .rules import RULES, Val, _axis_slice
from .trace import (_BackwardEvent, _Const, _CopyEvent, _EffectEvent, _InplaceEvent, _InputRef, _OpEvent,
                        _Ref, _Schedule, _explicit_generators, _fingerprint, _name, _rebuild, _record_backward)

# numpy functions the generated code calls, bound to short global names
_NUMPY = {f"np_{name}": getattr(np, name) for name in (
    "add", "subtract", "multiply", "divide", "negative", "exp", "log", "tanh", "reciprocal", "maximum",
    "greater", "matmul", "copyto", "concatenate", "sum", "transpose", "moveaxis", "broadcast_to", "expand_dims",
    "asarray", "errstate")}
_NUMPY["np_add_reduce"] = np.add.reduce


# =========================================================================== generated code
def _allocate(shape, dtype, order):
    """An uninitialised array of `shape` whose axes are laid out in memory in `order` (outermost first)."""
    if order is None:
        return np.empty(shape, dtype)
    return np.empty([shape[a] for a in order], dtype).transpose(np.argsort(order))


def _layout(array: np.ndarray):
    """The memory order of `array`'s axes when it is contiguous in some order and not C-ordered, else None."""
    if array.ndim < 2 or array.flags.c_contiguous or array.size == 0:
        return None
    order = tuple(sorted(range(array.ndim), key=lambda a: -array.strides[a]))
    expected = array.itemsize
    for axis in reversed(order):
        if array.shape[axis] != 1 and array.strides[axis] != expected:
            return None
        expected *= array.shape[axis]
    return order


def _new_op(cls, needs):
    """A fresh instance of an op without a rule, for one arena (its forward saves into it)."""
    ctx = object.__new__(cls)
    ctx.needs_input_grad = needs
    ctx.saved_tensors = ()
    return ctx


def _call_effect(fn, args, kwargs, inputs):
    """Call a recorded effect with this call's arguments in place of the traced ones."""
    def fill(value):
        if isinstance(value, _InputRef):
            return inputs[value.index]
        if type(value) in (tuple, list):
            return type(value)(fill(v) for v in value)
        if type(value) is dict:
            return {k: fill(v) for k, v in value.items()}
        return value
    return fn(*fill(args), **fill(kwargs))


class _Interface:
    """An object exposing a given ``__array_interface__`` and keeping the memory's owner alive."""

    def __init__(self, interface: dict, owner):
        self.__array_interface__ = interface
        self.owner = owner


def _view_at(base: np.ndarray, offset: int, shape: tuple, strides: tuple) -> np.ndarray:
    """The view of `base`'s memory starting `offset` bytes after its first element, with `shape`
    and `strides` (the numpy view of an argument that the traced call made)."""
    interface = dict(base.__array_interface__)
    interface.update(data=(interface["data"][0] + offset, False), shape=shape, strides=strides)
    return np.asarray(_Interface(interface, base))


def _snapshot(saved, target):
    return tuple([s.copy() if s is target else s for s in saved])


def _bump(tensor_or_array) -> None:
    if not isinstance(tensor_or_array, Tensor):
        tensor_or_array = Tensor._wrap(tensor_or_array, None, 0)
    engine.increment_version(tensor_or_array)


def _deposit_hooked(leaf, grad) -> None:
    """``engine._deposit`` for a leaf with hooks: they see a copy (the plan's buffer is reused
    by the next call), and what they return is accumulated."""
    grad = grad.copy()
    for hook in list(leaf._hooks):
        replaced = hook(grad)
        if replaced is not None:
            grad = engine._hook_result(replaced, grad)
    if leaf.grad is None:
        leaf.grad = grad.copy()
    else:
        leaf.grad += grad


class _Owned(LazyGrad):
    """A gradient the compiled node hands to the engine as a new array nobody else holds, so the
    engine keeps it as a leaf's ``.grad`` without copying it (as it does an array it summed)."""

    __slots__ = ("array",)

    def __init__(self, array: np.ndarray):
        self.array = array

    def materialize(self) -> np.ndarray:
        return self.array

    def __add__(self, other):
        return self.array + (other.materialize() if isinstance(other, LazyGrad) else other)

    __radd__ = __add__


def _as_tuple(grads):
    return grads if type(grads) is tuple else tuple(grads) if type(grads) is list else (grads,)


_SMALL = 4096  # elements: gradients of outputs up to this size are copied into the arena

_HELPERS = {"_Owned": _Owned, "_new_op": _new_op, "_call_effect": _call_effect, "_snapshot": _snapshot, "_bump": _bump,
            "_view_at": _view_at,
            "_deposit_hooked": _deposit_hooked, "_as_tuple": _as_tuple, "_allocate": _allocate,
            "_summed": engine._summed, "_materialized": engine._materialized, "_fit": engine._fit}


class _Program:
    """The constants, arena code and functions of a plan, as text until compiled."""

    def __init__(self):
        self.consts = dict(_NUMPY)
        self.consts.update(_HELPERS)
        self._const_names: dict = {}
        self._names = itertools.count()
        self.arena: list[str] = []       # lines run once per arena: buffers, views, op instances
        self.functions: list[str] = []   # source of the functions, each ``def ...``
        self.bytes = 0                   # memory of the arena's buffers
        self.sources: dict = {}          # name -> generated source, for reading
        self.buffers: dict = {}          # name -> (shape, dtype, memory order, pinned) of every buffer
        self.parents: dict = {}          # name of a view made with the arena -> name of its base

    def fresh(self, prefix: str) -> str:
        return f"{prefix}{next(self._names)}"

    def const(self, obj, prefix: str = "c") -> str:
        name = self._const_names.get(id(obj))
        if name is None:
            name = self._const_names[id(obj)] = self.fresh(prefix)
            self.consts[name] = obj
        return name

    def literal(self, value) -> str:
        """Python source for a plain value (a constant's name for anything else)."""
        if value is None or type(value) in (bool, int, str):
            return repr(value)
        if type(value) is float and np.isfinite(value):
            return repr(value)
        if type(value) is tuple and all(v is None or type(v) in (int, bool) for v in value):
            return repr(value)
        return self.const(value)

    def allocate(self, units: list) -> list:
        """Allocation lines for the buffers of `units`, ``(names, lines)`` pairs run one after the
        other: buffers of one shape, dtype and layout whose lifetimes do not overlap share memory
        (`_lifetimes`); pinned buffers (filled once with the arena) keep their own. Returns one
        list of lines per unit, to run before that unit's other arena lines."""
        lines = [line for _, unit_lines in units for line in unit_lines]
        first, last = _lifetimes(lines, self.parents)
        start = 0
        for k, (_, unit_lines) in enumerate(units):
            end = start + len(unit_lines) - 1
            if k:  # a later unit (a backward) may run again (retain_graph): what it reads of earlier ones lasts to its end
                for name, used in last.items():
                    if first[name] < start <= used:
                        last[name] = end
            start = end + 1
        free: dict = {}  # spec -> heap of (last line using it, physical name)
        result = []
        for names, _ in units:
            allocation = []
            for name in sorted(names, key=lambda n: first.get(n, -1)):
                shape, dtype, order, pinned = self.buffers[name]
                spec = (shape, dtype, order)
                begins = first.get(name)
                if pinned or begins is None:
                    allocation.append(f"{name} = _allocate({shape!r}, {self.const(dtype)}, {order!r})")
                    self.bytes += int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
                    continue
                heap = free.setdefault(spec, [])
                if heap and heap[0][0] < begins:  # the buffer free the longest fits
                    physical = heapq.heapreplace(heap, (last[name], heap[0][1]))[1]
                    allocation.append(f"{name} = {physical}")
                    continue
                allocation.append(f"{name} = _allocate({shape!r}, {self.const(dtype)}, {order!r})")
                self.bytes += int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
                heapq.heappush(heap, (last[name], name))
            result.append(allocation)
        return result

    def compile(self, name: str, source_lines: list) -> object:
        source = "\n".join(source_lines)
        self.sources[name] = source
        return compile(source, f"<tl.jit {name}>", "exec")


class _Emitter:
    """Writes one generated function: its lines, and the arena lines its buffers need.

    Values (`Val`) are static (an arena buffer, a view made with the arena, a constant) or
    dynamic (computed by a line of some function). A function that reads a dynamic value of
    another function (the backward of a `_CompiledStep` reading the forward's) loads it from
    the arena's store ``D``; `loads` collects them.
    """

    def __init__(self, program: _Program, phase: str, arena: list | None = None):
        self.program = program
        self.phase = phase
        self.lines: list[str] = []
        self.arena = program.arena if arena is None else arena
        self.loads: dict = {}
        self.buffers: list = []  # names of the buffers this function made (allocated by `_Program.allocate`)
        self.fresh_slots: set = set()  # slots returned by the call: made in new arrays (`output`)

    # -- operands ---------------------------------------------------------------------------
    def ref(self, operand) -> str:
        if isinstance(operand, Val):
            if operand.phase is not None and operand.phase != self.phase:
                self.loads[operand.name] = operand
            return operand.name
        if isinstance(operand, _Const):
            operand = operand.value
        return self.program.literal(operand)

    def line(self, text: str) -> None:
        self.lines.append(text)

    def call(self, fn: str, *operands, **keywords) -> None:
        parts = [self.ref(o) for o in operands] + [f"{k}={self.ref(v)}" for k, v in keywords.items()]
        self.lines.append(f"{fn}({', '.join(parts)})")

    # -- values -----------------------------------------------------------------------------
    def new(self, like: np.ndarray | None = None, shape=None, dtype=None, fill=None) -> Val:
        """A static buffer: laid out as the traced array `like`, or C-ordered `shape` and `dtype`."""
        if like is not None:
            shape = like.shape if shape is None else shape
            dtype = like.dtype if dtype is None else np.dtype(dtype)
            order = _layout(like) if like.shape == tuple(shape) else None
        else:
            dtype, order = np.dtype(dtype), None
        name = self.program.fresh("a")
        self.program.buffers[name] = (tuple(shape), dtype, order, fill is not None)
        self.buffers.append(name)
        if fill is not None:
            self.arena.append(f"{name}.fill({fill!r})")
        return Val(name, None, tuple(shape), dtype)

    def output(self, op: "_OpView", k: int) -> Val:
        """The buffer for output `k` of `op`: its home when a consumer asked for one it fits
        (same shape and dtype, and the traced output C-ordered, as the home is), else a new one."""
        like = op.out_arrays[k]
        home = op.homes.get(k) if op.homes else None
        if home is not None and home.shape == like.shape and home.dtype == like.dtype and like.flags.c_contiguous:
            return home
        if op.event.outputs[k].index in self.fresh_slots:  # a result of the call: a new array each run, not copied
            value = self.dynamic(like.shape, like.dtype, fresh=True)
            self.lines.append(f"{value.name} = _allocate({like.shape!r}, {self.program.const(like.dtype)}, "
                              f"{_layout(like)!r})")
            return value
        return self.new(like=like)

    def result(self, op: "_OpView", position: int) -> Val:
        """The buffer for the gradient `op` returns for argument `position`: its home if it has one."""
        like = op.returned[position]
        home = op.result_homes.get(position) if op.result_homes else None
        if home is not None and home.shape == like.shape and home.dtype == like.dtype:
            return home
        return self.new(like=like)

    def view(self, base, expression: str, shape, dtype, is_view: bool = True) -> Val:
        """``expression`` (with ``{}`` for `base`): made once with the arena when `base` is static
        and the result shares its memory (`is_view`), else computed by a line at every run."""
        if isinstance(base, Val) and base.phase is None and is_view:
            name = self.program.fresh("a")
            self.arena.append(f"{name} = {expression.format(base.name)}")
            if base.name in self.program.buffers or base.name in self.program.parents:
                self.program.parents[name] = base.name
            return Val(name, None, shape, dtype)
        value = self.dynamic(shape, dtype, fresh=is_view and isinstance(base, Val) and base.fresh)
        self.lines.append(f"{value.name} = {expression.format(self.ref(base))}")
        return value

    def dynamic(self, shape, dtype, fresh: bool = False) -> Val:
        return Val(self.program.fresh("v"), self.phase, tuple(shape), None if dtype is None else np.dtype(dtype), fresh)


# =========================================================================== lowering
class _OpView:
    """What a rule sees of a recorded op: the traced instance (`ctx`, its attributes set by the
    traced forward), its operands (`inputs`: `Val` for arrays, `_Const` for plain values),
    their traced values (`arrays`), its outputs, and in backward the traced gradients."""

    __slots__ = ("event", "ctx", "inputs", "arrays", "outputs", "out_arrays", "needs", "kwargs", "returned",
                 "grad_arrays", "homes", "result_homes", "grad_homes", "home_base")

    def __init__(self, event: _OpEvent, inputs: list):
        self.event = event
        self.ctx = event.ctx
        self.inputs = inputs
        self.arrays = [r.slot.array if isinstance(r, _Ref) else r.value for r in event.args]
        self.outputs = []
        self.out_arrays = [slot.array for slot in event.outputs]
        self.needs = event.ctx.needs_input_grad
        self.kwargs = event.kwargs
        self.returned = None
        self.grad_arrays = None
        self.homes = None         # output index -> where a consumer wants that output (`_Emitter.output`)
        self.result_homes = None  # input position -> where the gradient for it should be written
        self.grad_homes = None    # per output: where its gradient is wanted (slices of `home_base`)
        self.home_base = None


class _Entry:
    """A pending gradient while lowering a backward: the dense sum so far, the deferred matmul
    pairs, or (`runtime`) a variable holding the engine's own ``[grad, owned]`` entry."""

    __slots__ = ("dense", "owned", "pairs", "runtime")

    def __init__(self, runtime: str | None):
        self.dense, self.owned, self.pairs, self.runtime = None, False, [], runtime


class _Lowering:
    """Turns a trace into generated code (see the module docstring)."""

    def __init__(self, plan: "_Plan", tracer):
        self.plan = plan
        self.tracer = tracer
        self.program = plan.program
        self.values: dict = {}      # slot index -> Val
        self.views: dict = {}       # event index -> _OpView, for ops lowered with their rule
        self.fallback: dict = {}    # event index -> name of the op instance of each arena
        self.effects: dict = {}     # id(effect result) -> name of the variable holding it
        self.inplace_targets = {e.target.index for e in tracer.events if isinstance(e, _InplaceEvent)}
        self.placements: dict = {}  # slot index -> the view a consumer wants the forward to write it in
        self.left_groups: dict = {}  # (id(schedule), entry key) -> the planned rows of a deferred gradient's lefts

    # -- forward ------------------------------------------------------------------------------
    def value(self, em: _Emitter, slot) -> Val:
        value = self.values.get(slot.index)
        if value is not None:
            return value
        array = slot.array
        if slot.kind == "input":
            value = em.dynamic(array.shape, array.dtype)
            leaf = self.tracer.inputs[slot.source]
            em.line(f"{value.name} = I[{slot.source}]" + ("._data" if isinstance(leaf, Tensor) else ""))
        elif slot.kind == "view":
            base, offset, shape, strides = slot.source
            value = em.view(self.value(em, base), f"_view_at({{}}, {offset}, {shape!r}, {strides!r})", shape,
                            array.dtype)
        elif slot.kind == "const" and slot.index in self.inplace_targets:
            # made during the call and changed in place: every run starts from the value it was made with
            value = em.new(like=array)
            em.call("np_copyto", value, _Const(slot.initial))
        else:  # a parameter or buffer (guarded: same array at every replay), or a constant
            value = Val(self.program.const(array, "p"), None, array.shape, array.dtype)
        self.values[slot.index] = value
        return value

    def operand(self, em: _Emitter, ref):
        return self.value(em, ref.slot) if isinstance(ref, _Ref) else ref

    def structure(self, em: _Emitter, value) -> str:
        """Source text for a keyword argument that holds references."""
        if isinstance(value, _Ref):
            return em.ref(self.value(em, value.slot))
        if type(value) in (tuple, list):
            inner = ", ".join(self.structure(em, v) for v in value)
            return f"({inner},)" if type(value) is tuple else f"[{inner}]"
        return self.program.literal(value)

    def op(self, em: _Emitter, event: _OpEvent) -> None:
        view = _OpView(event, [self.operand(em, r) for r in event.args])
        view.homes = {k: self.placements[s.index] for k, s in enumerate(event.outputs) if s.index in self.placements}
        rule = RULES.get(type(event.ctx))
        if rule is not None and event.snapshot is None and rule.accepts(view):
            outputs = rule.forward(em, view)
            self.views[event.index] = view
        else:
            outputs = self.fallback_forward(em, event, view)
        view.outputs = outputs
        for slot, value in zip(event.outputs, outputs):
            self.values[slot.index] = value

    def fallback_forward(self, em: _Emitter, event: _OpEvent, view: _OpView) -> list:
        instance = self.program.fresh("x")
        self.program.arena.append(f"{instance} = _new_op({self.program.const(type(event.ctx))}, "
                                  f"{self.program.literal(tuple(event.ctx.needs_input_grad))})")
        self.fallback[event.index] = instance
        args = [em.ref(v) for v in view.inputs]
        if any(_has_refs(v) for v in event.kwargs.values()):
            args += [f"{k}={self.structure(em, v)}" for k, v in event.kwargs.items()]
        elif event.kwargs:
            args.append(f"**{self.program.const(event.kwargs)}")
        result = self.program.fresh("r")
        em.line(f"{result} = {instance}.forward({', '.join(args)})")
        outputs = [em.dynamic(a.shape, a.dtype) for a in view.out_arrays]
        for k, out in enumerate(outputs):
            source = f"{result}[{k}]" if event.multi else result
            em.line(f"{out.name} = np_asarray({source})" if out.shape == () else f"{out.name} = {source}")
        return outputs

    def copy(self, em: _Emitter, event: _CopyEvent) -> None:
        out = em.new(like=event.output.array)
        em.call("np_copyto", out, self.value(em, event.source), casting="unsafe")
        self.values[event.output.index] = out

    def inplace(self, em: _Emitter, event: _InplaceEvent) -> None:
        target = self.value(em, event.target)
        producer = self.tracer.events[event.result.source[0]] if event.result.kind == "op" else None
        if producer is not None and getattr(producer, "snapshot", None) is event.target:
            instance = self.fallback[producer.index]
            em.line(f"{instance}.saved_tensors = _snapshot({instance}.saved_tensors, {em.ref(target)})")
        em.call("np_copyto", target, self.value(em, event.result), casting="same_kind")
        if event.target.kind == "input":
            em.line(f"_bump(I[{event.target.source}])")
        elif event.tensor is not None and event.target.kind == "external":
            em.line(f"_bump({self.program.const(event.tensor)})")

    def effect(self, em: _Emitter, event: _EffectEvent) -> None:
        result = self.program.fresh("e")
        fn, args, kwargs = (self.program.const(x) for x in (event.fn, event.args, event.kwargs))
        if _mentions_inputs((event.args, event.kwargs)):
            em.line(f"{result} = _call_effect({fn}, {args}, {kwargs}, I)")
        else:
            em.line(f"{result} = {fn}(*{args}, **{kwargs})")
        if event.result is not None:
            self.effects[id(event.result)] = result

    # -- backward -----------------------------------------------------------------------------
    def backward(self, em: _Emitter, schedule: _Schedule, seeded, seeds: dict | None = None) -> list:
        """Emit the recorded backward for the seeds `seeded`; returns the final value of every
        leaf entry still alive, in the engine's deposit order, as ``(key, Val)``.

        `seeds` gives the value of seed ``k`` when the seeds come from outside (a
        `_CompiledStep`'s output gradients); otherwise they are made as `engine.backward` does.
        """
        runs, sends = _alive(schedule, seeded)
        runtime = set()  # entries receiving a deferred gradient from an op without a rule: kept as the engine does
        for run in runs:
            if run.event.index not in self.views:
                for _, key, contribution in run.sends:
                    if contribution.lazy:
                        runtime.add(key)
        homes, groups = self.homes(em, schedule, runs, sends, seeded, runtime)
        entries: dict = {}

        def arrive(key, value, contribution):
            entry = entries.get(key)
            if entry is None:
                entry = entries[key] = _Entry(self.program.fresh("q") if key in runtime else None)
                if entry.runtime:
                    em.line(f"{entry.runtime} = None")
            if entry.runtime:
                if not contribution.lazy and contribution.fit is not None:
                    shape, dtype = contribution.fit
                    value = self._runtime_fit(em, value, shape, dtype)
                em.line(f"{entry.runtime} = _summed({entry.runtime}, {em.ref(value)})")
            elif contribution.lazy:
                entry.pairs.extend(value.pairs)
            else:
                if contribution.fit is not None:
                    value = self.fit(em, value, contribution)
                if entry.dense is None:
                    entry.dense = value
                elif not entry.owned:
                    like = schedule.first_sum.get(key, contribution.array)
                    home = homes.get(key)
                    fits = home is not None and home.shape == like.shape and home.dtype == like.dtype
                    total = home if fits else em.new(like=like)
                    em.call("np_add", entry.dense, value, total)
                    entry.dense, entry.owned = total, True
                else:
                    em.call("np_add", entry.dense, value, entry.dense)

        for k, (key, source) in enumerate(schedule.seeds):
            if k in seeded:
                contribution = schedule.contributions[key][_seed_position(schedule, key, k)]
                arrive(key, self.seed(em, source, seeds, k), contribution)
        for run in runs:
            view = self.views.get(run.event.index)
            grads = []
            for index, key in enumerate(run.grads_out):
                entry = entries.pop(key, None) if key is not None else None
                grads.append(None if entry is None else
                             self.materialize(em, entry, schedule.consumed[key], groups.get(key)))
            if view is not None:
                view.returned = run.returned
                view.grad_arrays = [schedule.consumed.get(key) if key is not None else None for key in run.grads_out]
                returned = RULES[type(run.event.ctx)].backward(em, view, grads)
            else:
                returned = self.fallback_backward(em, run, grads)
            for position, key, contribution in run.sends:
                arrive(key, returned[position], contribution)

        finals = []
        for key in schedule.deposits:
            entry = entries.pop(key, None)
            if entry is not None:
                finals.append((key, self.materialize(em, entry, schedule.consumed[key], groups.get(key), fresh=True)))
        return finals

    def plan_forward_homes(self, em: _Emitter, schedules: list) -> None:
        """Ask the forward to write the left operands of each deferred matmul gradient (``h_t`` of
        ``h_t @ W_hh.T``) straight into the rows of the buffer its one product reads, in the order
        the engine concatenates them."""
        for schedule in schedules:
            for key, contributions in schedule.contributions.items():
                group = _deferred_group(schedule, contributions, lambda c: True)
                if group is None:
                    continue
                buffer, views = self._rows(em, [slot.array for slot, _, _ in group])
                for (slot, _, _), view in zip(group, views):
                    if slot.kind == "op" and slot.index not in self.placements and slot.index not in self.inplace_targets:
                        self.placements[slot.index] = view
                self.left_groups[(id(schedule), key)] = (buffer, views)

    @staticmethod
    def _rows(em: _Emitter, like: list) -> tuple:
        """A buffer stacking arrays shaped as `like` (2-D, one width) by rows, and a view of each part."""
        width, dtype = like[0].shape[1], like[0].dtype
        buffer = em.new(shape=(sum(a.shape[0] for a in like), width), dtype=dtype)
        views, start = [], 0
        for a in like:
            views.append(em.view(buffer, f"{{}}[{start}:{start + a.shape[0]}]", (a.shape[0], width), dtype))
            start += a.shape[0]
        return buffer, views

    def homes(self, em: _Emitter, schedule: _Schedule, runs: list, sends: set, seeded, runtime: set) -> tuple:
        """Where gradients should be written so that no copy assembles them: the rows of a deferred
        matmul gradient's one product, the slices of a split's or unbind's input gradient.

        Returns ``(homes, groups)``: entry key -> the view its value is wanted in, and entry key ->
        ``(lefts buffer, their rows, rights buffer, their rows)`` of each deferred gradient summed by
        one product. Sets each rule-lowered run's `result_homes` (where to write what it returns)
        and, for a split or unbind, `grad_homes`. A value not written in its home is copied there.
        """
        seeded_keys = {key for k, (key, _) in enumerate(schedule.seeds) if k in seeded}

        def alive(contribution):
            if contribution.source[0] == "seed":
                return contribution.source[1] in seeded
            return id(contribution) in sends
        counts = {key: sum(1 for c in contributions if alive(c))
                  for key, contributions in schedule.contributions.items()}
        homes: dict = {}
        groups: dict = {}
        for key, contributions in schedule.contributions.items():
            group = _deferred_group(schedule, contributions, alive)
            if group is None or key in runtime or any(run.event.index not in self.views for _, _, run in group):
                continue
            planned = self.left_groups.get((id(schedule), key))
            if planned is not None and len(planned[1]) == len(group):
                lefts, left_rows = planned
            else:
                lefts, left_rows = self._rows(em, [slot.array for slot, _, _ in group])
            rights, right_rows = self._rows(em, [schedule.consumed[right] for _, right, _ in group])
            for (_, right, _), view in zip(group, right_rows):
                if right not in seeded_keys:
                    homes.setdefault(right, view)
            groups[key] = (lefts, left_rows, rights, right_rows)
        for run in reversed(runs):  # the oldest first: a parent's home is known before its children are planned
            view = self.views.get(run.event.index)
            if view is None:
                continue
            view.result_homes = {}
            view.grad_homes = view.home_base = None
            for position, key, contribution in run.sends:
                if counts.get(key) == 1 and not contribution.lazy and contribution.fit is None and key in homes:
                    view.result_homes[position] = homes[key]
            kind = type(run.event.ctx)
            if kind is ops.Split and len(run.sends) == 1:
                like = run.returned[0]
                base = view.result_homes.get(0)
                if base is None or base.shape != like.shape or base.dtype != like.dtype:
                    base = view.result_homes[0] = em.new(like=like)
                axis, start, pieces = view.ctx.axis, 0, []
                for k, (size, array) in enumerate(zip(view.ctx.sizes, view.out_arrays)):
                    pieces.append(em.view(base, "{}" + _axis_slice(axis, start, start + size), array.shape, base.dtype))
                    homes[(run.event.index, k)] = pieces[-1]
                    start += size
                view.grad_homes = pieces
            elif kind is ops.Unbind and len(run.sends) == 1:
                ctx, dtype = view.ctx, run.returned[0].dtype
                moved = (ctx.shape[ctx.axis],) + ctx.shape[:ctx.axis] + ctx.shape[ctx.axis + 1:]
                view.home_base = em.new(shape=moved, dtype=dtype)
                view.grad_homes = [em.view(view.home_base, f"{{}}[{i}]", moved[1:], dtype) for i in range(moved[0])]
                for i, piece in enumerate(view.grad_homes):
                    homes[(run.event.index, i)] = piece
        return homes, groups

    def seed(self, em: _Emitter, source, seeds, k) -> Val:
        kind = source[0]
        if kind == "output":
            return seeds[k]
        if kind == "ones":
            return em.new(shape=source[1], dtype=source[2], fill=1)
        ref, dtype = source[1], source[2]
        value = self.operand(em, ref)
        if not isinstance(value, Val):
            array = np.asarray(value.value).astype(dtype, copy=False)
            return Val(self.program.const(array, "p"), None, array.shape, array.dtype)
        if value.dtype != dtype:
            cast = em.new(shape=value.shape, dtype=dtype)
            em.call("np_copyto", cast, value, casting="unsafe")
            return cast
        return value

    def fit(self, em: _Emitter, value: Val, contribution) -> Val:
        """`engine._fit`: sum over broadcast dimensions, then cast, into buffers."""
        shape, dtype = contribution.fit
        array = contribution.raw
        if array.shape != shape:
            extra = array.ndim - len(shape)
            if extra > 0:
                axes = tuple(range(extra))
                array = np.asarray(array.sum(axis=axes))
                out = em.new(like=array)
                em.call("np_sum", value, axis=axes, out=out)
                value = out
            if extra >= 0:
                stretched = tuple(i for i, n in enumerate(shape) if n == 1 and array.shape[i] != 1)
                if stretched:
                    array = np.asarray(array.sum(axis=stretched, keepdims=True))
                    out = em.new(like=array)
                    em.call("np_sum", value, axis=stretched, out=out, keepdims=True)
                    value = out
        if array.dtype != dtype:
            array = array.astype(dtype)
            out = em.new(like=array)
            em.call("np_copyto", out, value, casting="unsafe")
            value = out
        return value

    def _runtime_fit(self, em, value, shape, dtype) -> Val:
        out = em.dynamic(shape, dtype)
        em.line(f"{out.name} = _fit({em.ref(value)}, {shape!r}, {self.program.const(np.dtype(dtype))}, None)")
        return out

    def materialize(self, em: _Emitter, entry: _Entry, traced, group=None, fresh: bool = False) -> Val:
        """The value of a pending gradient when it is used: `fresh` for one that leaves the plan
        (a ``.grad``, a node's input gradient) and should be a new array when it is computed.
        A deferred gradient with a `group` (`homes`) finds its operands in the group's rows."""
        if entry.runtime:
            out = em.dynamic(traced.shape, traced.dtype)  # may be an array the engine does not own: not fresh
            em.line(f"{out.name} = _materialized({entry.runtime})")
            return out
        if not entry.pairs:
            return entry.dense
        lefts, rights = [p[0] for p in entry.pairs], [p[1] for p in entry.pairs]
        if group is not None and len(group[1]) == len(lefts):
            left_buffer, left_rows, right_buffer, right_rows = group
            for values, rows in ((lefts, left_rows), (rights, right_rows)):
                for value, row in zip(values, rows):
                    if value is not row:
                        em.call("np_copyto", row, value)
            lefts, rights = [left_buffer], [right_buffer]
        elif len(lefts) > 1:
            lefts = [self._concatenated(em, lefts)]
            rights = [self._concatenated(em, rights)]
        left_t = em.view(lefts[0], "{}.T", lefts[0].shape[::-1], lefts[0].dtype)
        shape = (lefts[0].shape[1], rights[0].shape[1])
        if fresh and entry.dense is None:
            out = em.dynamic(shape, traced.dtype, fresh=True)
            em.line(f"{out.name} = np_matmul({em.ref(left_t)}, {em.ref(rights[0])})")
            return out
        out = em.new(shape=shape, dtype=traced.dtype)
        em.call("np_matmul", left_t, rights[0], out)
        if entry.dense is not None:
            em.call("np_add", out, entry.dense, out)
        return out

    def _concatenated(self, em: _Emitter, parts: list) -> Val:
        rows = sum(p.shape[0] for p in parts)
        out = em.new(shape=(rows, parts[0].shape[1]), dtype=parts[0].dtype)
        em.line(f"np_concatenate(({', '.join(em.ref(p) for p in parts)},), 0, {em.ref(out)})")
        return out

    def fallback_backward(self, em: _Emitter, run, grads) -> list:
        instance = self.fallback[run.event.index]
        result = self.program.fresh("r")
        names = ", ".join(em.ref(g) if g is not None else "None" for g in grads)
        em.line(f"{result} = _as_tuple({instance}.backward({names}))")
        returned = [None] * len(run.returned)
        for position, _, contribution in run.sends:
            traced = run.returned[position]
            if contribution.lazy:
                value = Val(self.program.fresh("v"), em.phase, (), None)
                em.line(f"{value.name} = {result}[{position}]")
            else:
                raw = contribution.raw
                value = em.dynamic(raw.shape, raw.dtype)
                wrap = type(traced) is not np.ndarray
                em.line(f"{value.name} = " + (f"np_asarray({result}[{position}])" if wrap else f"{result}[{position}]"))
            returned[position] = value
        return returned


_NAME = re.compile(r"\b[avrxqeh]\d+\b")
_DEFINITION = re.compile(r"\s*([vrqhe]\d+) = ")


def _lifetimes(lines: list, parents: dict) -> tuple:
    """First and last line mentioning each buffer in generated `lines`.

    A mention of a view counts for its base; a value computed at run time (``v``, ``r`` ...) may
    hold a buffer of the line defining it (a fallback op may return a view of its input), and an
    op instance (``x``) the buffers of every line it appears on (its forward saves them for its
    backward): a mention of either counts for those buffers too.
    """
    def root(name):
        while name in parents:
            name = parents[name]
        return name
    holds: dict = {}
    first: dict = {}
    last: dict = {}
    for i, line in enumerate(lines):
        names = _NAME.findall(line)
        buffers = set()
        for name in names:
            if name[0] == "a":
                buffers.add(root(name))
            else:
                buffers |= holds.get(name, set())
        defined = _DEFINITION.match(line)
        if defined:
            holds[defined.group(1)] = set(buffers)
        for name in names:
            if name[0] == "x":
                holds.setdefault(name, set()).update(buffers)
        for name in buffers:
            first.setdefault(name, i)
            last[name] = i
    return first, last


def _deferred_group(schedule: _Schedule, contributions: list, alive) -> list | None:
    """The deferred matmul gradients arriving at one entry, when one product can sum them: at
    least two, each the 2-D right operand's gradient of a matmul or addmm whose left operand is
    a 2-D array. ``(left slot, key of the product's output gradient, run)`` in arrival order."""
    lazies = [c for c in contributions if c.lazy and alive(c)]
    if len(lazies) < 2:
        return None
    group = []
    for contribution in lazies:
        run = schedule.runs[contribution.source[1]]
        event, position = run.event, contribution.source[2]
        if type(event.ctx) not in (ops.MatMul, ops.AddMM) or position != len(event.args) - 1:
            return None
        left = event.args[position - 1]
        if not isinstance(left, _Ref) or left.slot.array.ndim != 2 or run.grads_out[0] is None:
            return None
        group.append((left.slot, run.grads_out[0], run))
    widths = {(slot.array.shape[1], slot.array.dtype) for slot, _, _ in group}
    return group if len(widths) == 1 else None


def _has_refs(value) -> bool:
    if isinstance(value, _Ref):
        return True
    return type(value) in (tuple, list) and any(_has_refs(v) for v in value)


def _mentions_inputs(value) -> bool:
    if isinstance(value, _InputRef):
        return True
    if type(value) in (tuple, list):
        return any(_mentions_inputs(v) for v in value)
    if type(value) is dict:
        return any(_mentions_inputs(v) for v in value.values())
    return False


def _seed_position(schedule: _Schedule, key, k) -> int:
    for i, contribution in enumerate(schedule.contributions[key]):
        if contribution.source == ("seed", k):
            return i
    raise AssertionError(f"seed {k} was not recorded")


def _alive(schedule: _Schedule, seeded) -> tuple:
    """The runs of `schedule` when only the seeds in `seeded` carry a gradient, and the ids of
    their sends: a node runs when at least one gradient reaches it, as in the engine."""
    alive = {key for k, (key, _) in enumerate(schedule.seeds) if k in seeded}
    runs, sends = [], set()
    for run in schedule.runs:
        if any(key is not None and key in alive for key in run.grads_out):
            runs.append(run)
            for _, key, contribution in run.sends:
                alive.add(key)
                sends.add(id(contribution))
    return runs, sends


# =========================================================================== plan and arenas
class _Arena:
    """One set of buffers and the plan's functions bound to them."""

    __slots__ = ("namespace", "run", "store", "backwards", "run_checked")

    def __init__(self, plan: "_Plan"):
        self.namespace = dict(plan.program.consts)
        exec(plan.arena_code, self.namespace)
        exec(plan.run_code, self.namespace)
        self.run = self.namespace["run"]
        self.store = [None] * plan.store_size
        self.backwards: dict = {}
        self.run_checked = None

    def forward(self, plan: "_Plan", leaves: list, capture: list | None):
        if capture is None:
            return self.run(leaves, self.store)
        if self.run_checked is None:
            if plan._checking_code is None:
                plan._checking_code = plan.program.compile(f"{plan.fn_name} checked", plan._checking_source)
            exec(plan._checking_code, self.namespace)
            self.run_checked = self.namespace.pop("run_checked")
        return self.run_checked(leaves, self.store, capture)


_POOL = 2  # free arenas a plan keeps


class _Lease:
    """Held in a `_CompiledStep`'s saved tensors: the arena returns to the plan's pool when the
    engine releases them (after backward, unless ``retain_graph``) or the node is freed."""

    __slots__ = ("plan", "arena")

    def __init__(self, plan, arena):
        self.plan, self.arena = plan, arena

    def __del__(self):
        if len(self.plan.pool) < _POOL:  # more are made when many graphs are alive at once; then let them go
            self.plan.pool.append(self.arena)


class _CompiledStep(Function):
    """The outputs of a replayed `tl.jit` function that need a gradient, as one node whose
    backward runs the recorded backward and returns the gradients of the function's
    inputs and parameters."""

    def forward(ctx, *arrays, plan=None, arena=None, leaves=None, capture=None):
        lease = _Lease(plan, arena)  # returns the arena to the pool if forward fails, or when backward is done
        outputs = arena.forward(plan, leaves, capture)
        ctx.save_for_backward(lease, *plan.watched(leaves), *(outputs[k] for k in plan.watched_outputs))
        ctx.outputs = outputs
        return tuple(outputs[i] for i in plan.node_outputs)

    def backward(ctx, *grad_outputs):
        lease = ctx.saved_tensors[0]
        return lease.plan.run_backward(lease.arena, grad_outputs)

    @property
    def name(self) -> str:
        return "jit"


class _Plan:
    """A compiled trace: generated code, guards and a pool of arenas (see the module docstring)."""

    def __init__(self, owner, tracer, outputs: list, output_spec, eager_seconds: float):
        self.fn_name = _name(owner.fn)
        self.signature = [(tuple(leaf.shape), np.dtype(leaf.dtype).name,
                           getattr(leaf, "requires_grad", None)) for leaf in tracer.inputs]
        self.eager_seconds = eager_seconds
        self.trace_seconds = 0.0
        self.replays = 0
        self.pool: list = []
        self.program = _Program()
        self.output_spec = output_spec
        self.node_outputs: list = []
        self.schedule = None
        self.boundary: list = []  # (kind, index or tensor) of each input of the node, in the node's order
        self._backward_code: dict = {}
        self._build(tracer, outputs)
        self.guards = [(slot.tensor, slot.array, slot.tensor.requires_grad) for slot in tracer.slots
                       if slot.kind == "external"]
        self.modules = [(m, _fingerprint(m)) for m in tracer.modules.values()]
        self.arena_code = self.program.compile(f"{self.fn_name} arena", self.program.arena)
        self.run_code = self.program.compile(f"{self.fn_name}", self.program.functions)
        counts: dict = {}
        for event in tracer.events:
            if isinstance(event, _OpEvent) and event.index in self.lowering.fallback:
                counts[event.name] = counts.get(event.name, 0) + 1
        self.fallbacks = counts
        self.op_count = sum(isinstance(e, _OpEvent) for e in tracer.events)
        self.effect_names = [e.name for e in tracer.events if isinstance(e, _EffectEvent)]
        self.tracer = None  # the trace itself is not needed any more: let its arrays go

    # -- building ---------------------------------------------------------------------------
    def _build(self, tracer, outputs: list) -> None:
        self.lowering = lowering = _Lowering(self, tracer)
        em = _Emitter(self.program, "forward")
        needs_node = not tracer.backward_called  # under no_grad too: `fn` may enable grad inside
        passed = _passed_through(tracer, outputs, self.program.const)
        roots = []
        for k, leaf in enumerate(outputs):
            if needs_node and isinstance(leaf, Tensor) and leaf.requires_grad and k not in passed:
                self.node_outputs.append(k)
                roots.append(leaf)
        if roots:  # the backward of the `_CompiledStep`, recorded as the engine would run it
            self.schedule = _record_backward(tracer, roots, None, False, probe=True)
        schedules = [e.schedule for e in tracer.events if isinstance(e, _BackwardEvent)]
        lowering.plan_forward_homes(em, schedules + ([self.schedule] if roots else []))
        inputs = {slot.index for slot in tracer.slots if slot.kind == "input"}
        em.fresh_slots = {ref.index for ref in map(tracer.output_ref, outputs)
                          if not isinstance(ref, _Const) and ref.index not in inputs}
        captures = []  # (line, names of an op's outputs): where the checking variant records them
        for event in tracer.events:
            if isinstance(event, _OpEvent):
                lowering.op(em, event)
                captures.append((len(em.lines), [em.ref(lowering.values[s.index]) for s in event.outputs]))
            elif isinstance(event, _CopyEvent):
                lowering.copy(em, event)
            elif isinstance(event, _InplaceEvent):
                lowering.inplace(em, event)
            elif isinstance(event, _EffectEvent):
                lowering.effect(em, event)
            elif isinstance(event, _BackwardEvent):
                finals = lowering.backward(em, event.schedule, set(range(len(event.schedule.seeds))))
                self._deposit(em, event.schedule, finals)
        returned = []
        for k, leaf in enumerate(outputs):
            if k in passed:
                returned.append(passed[k])
                continue
            if id(leaf) in lowering.effects:
                returned.append(lowering.effects[id(leaf)])
                continue
            ref = tracer.output_ref(leaf)
            if isinstance(ref, _Const):
                returned.append(self.program.const(ref.value))
                continue
            value = lowering.value(em, ref)
            returned.append(em.ref(value) if value.fresh else f"{em.ref(value)}.copy()")
        self.output_kinds = [isinstance(leaf, Tensor) and k not in passed for k, leaf in enumerate(outputs)]
        forward_lines = em.lines + [f"return ({''.join(r + ', ' for r in returned)})"]
        stores: list = []
        units = [(em.buffers, forward_lines)]
        if roots:
            schedule = self.schedule
            self.boundary = [schedule.leaves[key][0] for key in schedule.deposits]
            self.watched_slots = _watched(tracer)
            saved = {id(engine._memory_root(array)) for event in tracer.events
                     if isinstance(event, _OpEvent) and event.ctx in tracer.by_node
                     for array in event.ctx.saved_tensors or () if type(array) is np.ndarray}
            # outputs an op of the call saved: changed in place before backward, they raise as in eager
            self.watched_outputs = [k for k in self.node_outputs
                                    if id(engine._memory_root(outputs[k]._data)) in saved]
            self._seed_meta = [(root.shape, root.dtype) for root in roots]
            self._full = frozenset(range(len(roots)))
            backward = self._lower_backward(self._full)
            stores = self._store_names
            units.append((backward[0].buffers, backward[1]))
        self.store_size = len(stores)
        saves = [f"D[{i}] = {name}" for i, name in enumerate(stores)]
        body = forward_lines[:-1] + saves + forward_lines[-1:]
        units[0] = (em.buffers, body)
        allocations = self.program.allocate(units)  # the backward's buffers reuse memory the forward is done with
        self.program.arena[:0] = allocations[0]
        if roots:
            self._backward_code[self._full] = self._compile_backward(backward, allocations[1])
        header = "    with np_errstate(over='ignore', divide='ignore', invalid='ignore', under='ignore'):"
        self.program.functions = ["def run(I, D):", header] + [f"        {line}" for line in body]
        checking = list(body)
        for position, names in reversed(captures):
            checking.insert(position, f"K.append(({''.join(n + '.copy(), ' for n in names)}))")
        self._checking_source = ["def run_checked(I, D, K):", header] + [f"        {line}" for line in checking]
        self._checking_code = None
        self.optimizers = _optimizers(tracer)
        self.generators = _explicit_generators(tracer)
        self.op_sites = [(e.name, e.scope) for e in tracer.events if isinstance(e, _OpEvent)]

    def _deposit(self, em: _Emitter, schedule: _Schedule, finals: list) -> None:
        """``engine._deposit``: each leaf's gradient into its ``.grad``, in the engine's order."""
        for key, value in finals:
            descriptor, tensor = schedule.leaves[key]
            if descriptor[0] == "input":
                leaf = f"I[{descriptor[1]}]"
            elif descriptor[1].kind == "external":
                leaf = self.program.const(descriptor[1].tensor)
            else:
                continue  # a tensor made during the traced call: nothing outlives the call to see its .grad
            grad = em.ref(value)
            em.line(f"if {leaf}._hooks: _deposit_hooked({leaf}, {grad})")  # hooks registered after tracing too
            em.line(f"elif {leaf}.grad is None: {leaf}.grad = {grad if value.fresh else grad + '.copy()'}")
            em.line(f"else: {leaf}.grad += {grad}")

    def _lower_backward(self, seeded: frozenset) -> tuple:
        """The `_CompiledStep` backward when the outputs in `seeded` have a gradient: its emitter and lines."""
        em = _Emitter(self.program, "backward", [])
        seeds = {}
        for k in sorted(seeded):
            shape, dtype = self._seed_meta[k]
            if np.prod(shape) <= _SMALL:  # copied into a buffer, so that the views of it are made once
                seeds[k] = em.new(shape=shape, dtype=dtype)
                em.line(f"np_copyto({seeds[k].name}, G[{k}])")
            else:  # large: its views made at every run cost less than copying it
                seeds[k] = em.dynamic(shape, dtype)
                em.line(f"{seeds[k].name} = G[{k}]")
        finals = dict(self.lowering.backward(em, self.schedule, seeded, seeds))
        returns = []
        for key in self.schedule.deposits:
            value = finals.get(key)
            if value is None:
                returns.append("None")
            elif value.fresh:
                returns.append(f"_Owned({em.ref(value)})")
            else:
                returns.append(f"_Owned({em.ref(value)}.copy())")
        if seeded == getattr(self, "_full", None):
            self._store_names = list(em.loads)
        store = {name: i for i, name in enumerate(self._store_names)}
        loads = [f"{name} = D[{store[name]}]" for name in em.loads]
        return em, loads + em.lines + [f"return ({''.join(r + ', ' for r in returns)})"]

    def _compile_backward(self, backward: tuple, allocation: list) -> tuple:
        em, body = backward
        lines = ["def back(G, D):",
                 "    with np_errstate(over='ignore', divide='ignore', invalid='ignore', under='ignore'):"]
        lines += [f"        {line}" for line in body]
        return (self.program.compile(f"{self.fn_name} backward arena", allocation + em.arena),
                self.program.compile(f"{self.fn_name} backward", lines))

    # -- running ------------------------------------------------------------------------------
    def guards_hold(self) -> bool:
        for tensor, array, requires_grad in self.guards:
            if tensor._data is not array or tensor.requires_grad is not requires_grad:
                return False
        for module, fingerprint in self.modules:
            if _fingerprint(module) != fingerprint:
                return False
        return True

    def watched(self, leaves) -> list:
        """The arrays the backward reads that the caller could change in place before it runs:
        saved with the node, so the engine's version check sees such a change."""
        return [(leaves[k]._data if isinstance(leaves[k], Tensor) else leaves[k]) if kind == "input" else array
                for kind, k, array in self.watched_slots]

    def replay(self, leaves: list, capture: list | None = None):
        """Run the plan on this call's arguments; `capture` collects every op's outputs (for `check`)."""
        self.replays += 1
        arena = self.pool.pop() if self.pool else _Arena(self)
        if not self.node_outputs:
            try:
                outputs = arena.forward(self, leaves, capture)
            finally:
                self.pool.append(arena)
            return _rebuild(self.output_spec, iter(self._wrap(outputs)))
        boundary = [leaves[ref] if kind == "input" else ref.tensor for kind, ref in self.boundary]
        with engine.enable_grad():  # the outputs had a graph when traced (`fn` may enable grad inside no_grad)
            node_results = _CompiledStep.apply(*boundary, plan=self, arena=arena, leaves=leaves, capture=capture)
        ctx = node_results[0]._node
        outputs = list(self._wrap(ctx.outputs))
        for k, result in zip(self.node_outputs, node_results):
            outputs[k] = result
        del ctx.outputs
        return _rebuild(self.output_spec, iter(outputs))

    def _wrap(self, outputs):
        return [Tensor._wrap(o, None, 0) if is_tensor else o for o, is_tensor in zip(outputs, self.output_kinds)]

    def run_backward(self, arena: _Arena, grad_outputs) -> tuple:
        seeded = frozenset(i for i, g in enumerate(grad_outputs) if g is not None)
        function = arena.backwards.get(seeded)
        if function is None:
            code = self._backward_code.get(seeded)
            if code is None:
                backward = self._lower_backward(seeded)
                allocation = self.program.allocate([(backward[0].buffers, backward[1])])[0]
                code = self._backward_code[seeded] = self._compile_backward(backward, allocation)
            exec(code[0], arena.namespace)
            exec(code[1], arena.namespace)
            function = arena.backwards[seeded] = arena.namespace.pop("back")
        return function(grad_outputs, arena.store)

    # -- reporting ----------------------------------------------------------------------------
    def describe(self) -> str:
        signature = ", ".join(f"{shape} {dtype}" + (" requires_grad" if rg else "")
                              for shape, dtype, rg in self.signature)
        fallbacks = (", ".join(f"{name} x{n}" for name, n in sorted(self.fallbacks.items()))
                     if self.fallbacks else "none")
        lines = [f"tl.jit of {self.fn_name}({signature}):",
                 f"  {self.op_count} ops; without a plan rule (run through their own forward/backward): {fallbacks}",
                 f"  effects replayed: {', '.join(self.effect_names) or 'none'}",
                 f"  traced in {self.trace_seconds * 1e3:.1f} ms (the eager call {self.eager_seconds * 1e3:.1f} ms); "
                 f"buffers {self.program.bytes / 2**20:.2f} MiB per arena, {max(1, len(self.pool))} arena(s); "
                 f"{self.replays} replays"]
        return "\n".join(lines)


def _passed_through(tracer, outputs: list, const) -> dict:
    """The outputs that are an argument or a persistent tensor itself (``return loss, x``), as
    the expression the replay returns (`const` names a constant): the object itself, as eager
    returns it."""
    passed = {}
    for k, leaf in enumerate(outputs):
        if not isinstance(leaf, (Tensor, np.ndarray)):
            continue
        position = next((j for j, given in enumerate(tracer.inputs) if given is leaf), None)
        if position is not None:
            passed[k] = f"I[{position}]"
        elif isinstance(leaf, Tensor):
            slot = tracer.by_tensor.get(id(leaf)) or tracer.by_array.get(id(leaf._data))
            if slot is not None and slot.kind == "external" and slot.tensor is leaf:
                passed[k] = const(leaf)
    return passed


def _optimizers(tracer) -> list:
    """The optimisers whose methods the call ran (their state is saved and restored by `check`)."""
    from ..optim import Optimizer
    found = []
    for event in tracer.events:
        if isinstance(event, _EffectEvent):
            for value in event.args:
                if isinstance(value, Optimizer) and all(value is not o for o in found):
                    found.append(value)
    return found


def _watched(tracer) -> list:
    """``(kind, k, array)`` of every input or persistent tensor whose memory an op saved for
    backward, itself or through a view (``weight.T`` in a linear layer), as the engine checks
    versions by memory."""
    owners = {}
    for slot in tracer.slots:
        if slot.kind in ("input", "external"):
            owners.setdefault(id(engine._memory_root(slot.array)), slot)
    found, seen = [], set()
    for event in tracer.events:
        if not isinstance(event, _OpEvent) or event.ctx not in tracer.by_node:
            continue
        for array in event.ctx.saved_tensors or ():
            if type(array) is not np.ndarray:
                continue
            slot = owners.get(id(engine._memory_root(array)))
            if slot is not None and slot.index not in seen:
                seen.add(slot.index)
                found.append((slot.kind, slot.source, slot.array))
    return found
