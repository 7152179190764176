"""The tape: `Tensor`, the node (`Function`), the backward walk, and the modes around them.

A tensor produced by an op points at the op's node (a `Function` instance) and at its
output index. A node points at its inputs through *edges*: ``(parent_node, output_index)``
for a tensor made by another op, ``(leaf_tensor, 0)`` for a leaf, ``None`` for a plain
number or array. Nodes never point at their outputs, so the graph has no reference cycles
and everything it holds is freed by reference counting alone as soon as the last tensor
that reaches it goes away.

Every node gets a creation number when it is recorded, and its parents always have smaller
ones, so `backward` runs nodes newest first from a heap, without recursion and without a
separate topological sort. It keeps a dict of pending gradients that it pops as each node
runs, adds into a gradient buffer in place only when the engine allocated it, and drops each
node's saved arrays right after its backward unless ``retain_graph=True``.

In-place changes made through the library (in-place Tensor methods, optimizer steps,
``load_state_dict``, ``.data`` assignment) bump a version counter kept per block of memory,
so views and detached aliases share it, as in PyTorch. A node whose saved arrays were
changed after it was recorded refuses to run its backward.

The ops themselves, and the Tensor methods that call them, live in `tinygrad_lstm.ops`.
"""
from __future__ import annotations

import collections
import functools
import heapq
import itertools
import os
import traceback
import weakref

import numpy as np

__all__ = [
    "Tensor", "Function", "ShapeError", "no_grad", "enable_grad", "is_grad_enabled", "set_grad_enabled",
    "name_scope", "detect_anomaly", "backward", "grad", "walk_graph", "Graph", "increment_version", "LazyGrad",
    "tensor_method", "tensor_property", "inplace", "traced_effect", "Observer",
]


class ShapeError(ValueError):
    """A `ValueError` raised by an op whose message already names the op and the shapes."""


# --------------------------------------------------------------------------- modes
_grad_enabled = True
_anomaly_enabled = False
_scope = ""  # the current name scope, e.g. "lstm/l0/t=3", recorded on every node
_tracer = None  # an `Observer` (tl.jit recording a call, forward mode, record_values), or None


class Observer:
    """What watches the engine while it is installed as ``engine._tracer``: `tl.jit` recording
    a call, forward mode (`tl.jvp`), `tl.viz.record_values`. It is told of every op
    (`on_apply`), tensor made from data (`on_tensor`) and in-place copy (`on_inplace`), and
    runs `backward`, `grad` and the library calls marked `traced_effect` in its place. By
    default those run as usual, unobserved.
    """

    def on_apply(self, ctx: "Function", args: tuple, kwargs: dict, result) -> None:
        """After an op ran: `ctx` is the op (recorded in the graph or not), `result` its output(s)."""

    def on_tensor(self, tensor: "Tensor", data) -> None:
        """After ``Tensor(data)`` made `tensor` (a copy of `data`) outside the ops."""

    def on_inplace(self, tensor: "Tensor", result: "Tensor") -> None:
        """After `tensor` took the values of `result` in place."""

    def on_backward(self, tensors, grad_tensors, retain_graph, create_graph, inputs):
        with _Unobserved():
            return backward(tensors, grad_tensors, retain_graph, create_graph, inputs)

    def on_grad(self, outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused):
        with _Unobserved():
            return grad(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused)

    def on_effect(self, fn, args: tuple, kwargs: dict):
        return fn(*args, **kwargs)


class _Unobserved:
    """No observer inside (the one installed comes back after)."""

    def __enter__(self):
        global _tracer
        self.previous, _tracer = _tracer, None

    def __exit__(self, *exc) -> bool:
        global _tracer
        _tracer = self.previous
        return False


def traced_effect(fn):
    """Mark a library function that changes state outside the tape (an optimizer step,
    ``zero_grad``, gradient clipping) so that `tl.jit` records the call and replays it."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if _tracer is not None:
            return _tracer.on_effect(fn, args, kwargs)
        return fn(*args, **kwargs)
    return wrapper


def is_grad_enabled() -> bool:
    """True when ops record a graph (outside `no_grad`)."""
    return _grad_enabled


class _GradMode:
    """Context manager and decorator that sets whether ops record the graph."""

    def __init__(self, enabled: bool):
        self.enabled = bool(enabled)
        self._previous: list[bool] = []

    def __enter__(self):
        global _grad_enabled
        self._previous.append(_grad_enabled)
        _grad_enabled = self.enabled
        return self

    def __exit__(self, *exc):
        global _grad_enabled
        _grad_enabled = self._previous.pop()
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with type(self)(self.enabled):
                return fn(*args, **kwargs)
        return wrapper


def no_grad() -> _GradMode:
    """Ops inside record nothing: results do not require grad. Context manager or decorator.

    >>> with no_grad():
    ...     y = Tensor([1.0], requires_grad=True) * 2
    >>> y.requires_grad
    False
    """
    return _GradMode(False)


def enable_grad() -> _GradMode:
    """Re-enable graph recording inside a `no_grad` block. Context manager or decorator."""
    return _GradMode(True)


def set_grad_enabled(mode: bool) -> _GradMode:
    """Record the graph or not, as `mode` says: a context manager (``torch.set_grad_enabled``)."""
    return _GradMode(mode)


class name_scope:
    """Nestable scope recorded on every node created inside, e.g. ``lstm/l0/t=3``.

    Graph rendering groups nodes into nested clusters by these scopes. A class rather than
    a generator-based context manager: recurrent modules enter one per time step.

    >>> with name_scope("lstm"), name_scope("t=0"):
    ...     (Tensor([1.0], requires_grad=True) * 2).grad_fn.scope
    'lstm/t=0'
    """

    __slots__ = ("name", "_previous")

    def __init__(self, name: str):
        if not isinstance(name, str) or not name or "/" in name:
            raise ValueError(f"name_scope: name must be a non-empty string without '/', got {name!r}")
        self.name = name

    def __enter__(self) -> str:
        global _scope
        self._previous = _scope
        _scope = f"{_scope}/{self.name}" if _scope else self.name
        return _scope

    def __exit__(self, *exc) -> bool:
        global _scope
        _scope = self._previous
        return False


class detect_anomaly:
    """Inside, the first NaN/Inf produced by an op, in forward or backward, raises
    `FloatingPointError` naming the op and the line of user code that created it.

    Slower: every op records where it was created and checks its results. A context
    manager (``with tl.detect_anomaly():``) that also works as a decorator.
    """

    def __enter__(self):
        global _anomaly_enabled
        self._previous = _anomaly_enabled
        _anomaly_enabled = True
        return self

    def __exit__(self, *exc) -> bool:
        global _anomaly_enabled
        _anomaly_enabled = self._previous
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with detect_anomaly():
                return fn(*args, **kwargs)
        return wrapper


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_LIBRARY_DIRS = (os.path.join(_PACKAGE_DIR, "ops"), __file__)


def _user_frame() -> traceback.FrameSummary | None:
    """The innermost stack frame outside the engine and the ops (where the user made the op)."""
    for frame in reversed(traceback.extract_stack()):
        if not frame.filename.startswith(_LIBRARY_DIRS):
            return frame
    return None


def _check_finite(node: "Function", arrays, where: str, operands, operands_are: str, scope: str) -> None:
    """Raise `FloatingPointError` at the first NaN/Inf among `arrays`, naming the op, its scope
    (with the time step), the shapes and value ranges of its `operands`, and where it was made."""
    for i, a in enumerate(arrays):
        if isinstance(a, LazyGrad):  # anomaly mode is slow anyway: compute the product to check it
            a = a.materialize()
        if a is not None and a.dtype.kind == "f" and not np.isfinite(a).all():
            bad = "NaN" if np.isnan(a).any() else "Inf"
            frame = getattr(node, "created_at", None)
            site = (f"{frame.filename}:{frame.lineno} in {frame.name}: {frame.line}" if frame else
                    "an unknown place (run the forward pass inside detect_anomaly() to record it)")
            where_in_graph = f" at {scope}" if scope else ""
            described = "; ".join(_value_range(x) for x in operands if x is not None) or "none"
            raise FloatingPointError(
                f"detect_anomaly: op '{node.name}'{where_in_graph} produced {bad} in its {where} {i} "
                f"(shape {a.shape}); {operands_are}: {described}; the op was created at {site}")


def _value_range(value) -> str:
    """``shape [min, max]`` of an array or number, with how many entries are NaN or infinite."""
    if isinstance(value, LazyGrad):
        value = value.materialize()
    array = np.asarray(value)
    if array.dtype.kind not in "fiub" or array.size == 0:
        return f"{array.shape}"
    finite = array[np.isfinite(array)] if array.dtype.kind == "f" else array.ravel()
    text = f"{array.shape} in [{finite.min():.4g}, {finite.max():.4g}]" if finite.size else f"{array.shape}"
    if finite.size < array.size:
        text += f" with {int(np.isnan(array).sum())} NaN and {int(np.isinf(array).sum())} inf"
    return text


# --------------------------------------------------------------------------- version counters
class _MemoryVersion:
    """The in-place history of one block of memory (the numpy array that owns it)."""

    __slots__ = ("version", "recent", "modified_by", "owner")

    def __init__(self, owner):
        self.version = 0
        self.recent = collections.deque(maxlen=64)  # creation numbers of the latest changes
        self.modified_by = None                     # a weak reference to the tensor changed last
        self.owner = owner                          # a weak reference that drops this record


_versions: dict = {}   # id(memory root) -> _MemoryVersion
_last_change = -1      # the creation number of the latest in-place change anywhere


def _memory_root(array: np.ndarray) -> np.ndarray:
    """The array that owns the memory `array` views (`array` itself when it owns it)."""
    base = array.base
    while type(base) is np.ndarray:
        array, base = base, base.base
    return array


def increment_version(tensor: "Tensor") -> None:
    """Record that `tensor`'s data was changed in place (``torch.autograd.graph.increment_version``).

    Library code that writes into ``tensor.data`` directly (optimizers, ``load_state_dict``,
    ``nn.init``) calls this afterwards; the in-place Tensor methods do it themselves. Every
    tensor sharing that memory (views, ``detach()``) sees the new version, and a backward
    through a node that saved the old values raises `RuntimeError`.
    """
    global _last_change
    root = _memory_root(tensor._data)
    key = id(root)
    record = _versions.get(key)
    if record is None:
        try:
            owner = weakref.ref(root, lambda _, key=key: _versions.pop(key, None))
        except TypeError:  # memory owned by an object without weak references: keep it
            owner = root
        record = _versions[key] = _MemoryVersion(owner)
    record.version += 1
    _last_change = next(_sequence)
    record.recent.append(_last_change)
    record.modified_by = weakref.ref(tensor)


def _version_of(array: np.ndarray) -> int:
    record = _versions.get(id(_memory_root(array)))
    return 0 if record is None else record.version


def _check_saved_versions(node: "Function") -> None:
    """Raise if an array `node` saved for backward was changed in place after the node was made."""
    created = -node.seq
    for array in node.saved_tensors:
        if type(array) is not np.ndarray:
            continue
        record = _versions.get(id(_memory_root(array)))
        if record is None or record.recent[-1] < created:
            continue
        later = sum(1 for change in record.recent if change > created)
        expected = f"{record.version - later}" + (" or lower" if later == len(record.recent) == 64 else "")
        changed = record.modified_by()
        what = _describe_tensor(changed) if changed is not None else f"a tensor of shape {array.shape}"
        scope = f" at {node.scope}" if node.scope else ""
        raise RuntimeError(
            f"one of the variables needed for gradient computation has been modified by an inplace operation: "
            f"{what} saved by {node.name}{scope} is at version {record.version}; expected version {expected}. "
            f"Run the forward pass again after changing it (or change a copy: tensor.clone()); writes into the "
            f"numpy array of .data or .numpy() are not tracked")


def _describe_tensor(t: "Tensor") -> str:
    name = getattr(t, "_name", None)
    if name:
        return name
    made_by = f", output {t._index} of {t._node.name}" if t._node is not None else ""
    return f"a tensor of shape {t.shape} and dtype {t.dtype}{made_by}"


# --------------------------------------------------------------------------- Function
class Function:
    """Base class of every op: subclass it with a `forward` and a `backward` on numpy arrays.

    ``forward(ctx, *arrays, **params)`` receives the data of its tensor arguments (other
    arguments, such as Python numbers, unchanged) and returns one array, or a tuple of
    arrays for an op with several outputs. ``backward(ctx, *grad_outputs)`` receives
    one gradient per output (``None`` for an output that received no gradient) and
    returns one gradient per positional argument (``None`` where there is none). The
    engine does the shared work: it sums gradients over broadcast dimensions, casts
    them to the input's dtype, and accumulates them.

    Save what backward needs with ``ctx.save_for_backward(*arrays)`` (read back as
    ``ctx.saved_tensors``, released after backward) and ``ctx.needs_input_grad`` tells
    which arguments need a gradient. Call the op with ``MyOp.apply(*args, **params)``.

    Examples
    --------
    >>> class Cube(Function):
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x ** 3
    ...     def backward(ctx, grad_output):
    ...         (x,) = ctx.saved_tensors
    ...         return 3 * x ** 2 * grad_output
    >>> x = Tensor([2.0], requires_grad=True)
    >>> Cube.apply(x).sum().backward()
    >>> x.grad
    array([12.])
    """

    __slots__ = ("edges", "needs_input_grad", "saved_tensors", "scope", "meta", "hooks", "seq",
                 "__dict__", "__weakref__")

    def forward(ctx, *args, **kwargs):  # pragma: no cover - abstract
        """Compute the output array(s) from the input arrays; override in a subclass."""
        raise NotImplementedError(f"{type(ctx).__name__}.forward is not defined")

    def backward(ctx, *grad_outputs):  # pragma: no cover - abstract
        """Return the gradient of each input from the gradient of each output; override in a subclass."""
        raise NotImplementedError(f"{type(ctx).__name__}.backward is not defined")

    def vjp(ctx, *grad_outputs):
        """`backward` written with ops on Tensors, for ``create_graph=True`` (double backward):
        receives one Tensor (or None) per output, returns one Tensor (or None) per argument.
        Read saved values as graph tensors with `saved_input` and `saved_output`."""
        raise RuntimeError(f"backward with create_graph=True: op '{ctx.name}' has no differentiable vjp, so its "
                           f"gradient cannot be differentiated again")

    def jvp(ctx, *tangents):
        """Forward mode: the tangent of each output (an array) from one tangent per argument
        (an array, or None for an argument without one), after `forward` ran. Ops without a
        rule get theirs from `vjp` (see `tl.autograd.forward`)."""
        raise NotImplementedError(f"{ctx.name}: no jvp rule")

    def saved_input(ctx, index: int, array: np.ndarray) -> "Tensor":
        """Argument `index` of the op as a Tensor in the graph, whose data is `array` (the op's
        saved copy of it): what a `vjp` multiplies by so that its result depends on it."""
        edge = ctx.edges[index]
        if edge is None:
            return Tensor._wrap(np.asarray(array), None, 0)
        source, output_index = edge
        if isinstance(source, Tensor):
            return source if source._data is array else Tensor._wrap(array, None, 0)
        return Tensor._wrap(array, source, output_index)

    def saved_output(ctx, index: int, array: np.ndarray) -> "Tensor":
        """Output `index` of the op as a Tensor in the graph (its data `array`, saved by forward);
        a constant when the op is not in a graph."""
        return Tensor._wrap(array, ctx if getattr(ctx, "seq", None) is not None else None, index)

    def save_for_backward(ctx, *arrays) -> None:
        """Keep arrays for backward; they are released after backward runs."""
        ctx.saved_tensors = arrays

    def register_hook(self, fn, output_index: int = 0) -> "_HookHandle":
        """Call ``fn(grad)`` with the gradient of output `output_index` when backward reaches
        this node; a non-None return replaces it. Returns a handle with ``remove()``.
        """
        if not 0 <= output_index < len(self.meta):
            raise IndexError(f"register_hook: op '{self.name}' has {len(self.meta)} outputs, "
                             f"got output_index={output_index}")
        if self.hooks is None:
            self.hooks = {}
        hooks = self.hooks.setdefault(output_index, [])
        if hooks and getattr(hooks[-1], "retains_grad", False):
            # retain_grad's hook stays last, so ``.grad`` is the gradient after every hook (PyTorch)
            hooks.insert(len(hooks) - 1, fn)
        else:
            hooks.append(fn)
        return _HookHandle(hooks, fn)

    @property
    def name(self) -> str:
        """The op's name, as it appears in error messages and graphs (e.g. ``matmul``)."""
        return type(self).__name__.lower()

    @property
    def shapes(self) -> tuple:
        """The shape of each output."""
        return tuple(m[0] for m in self.meta)

    @property
    def dtypes(self) -> tuple:
        """The dtype of each output."""
        return tuple(m[1] for m in self.meta)

    def __repr__(self) -> str:
        shapes = ", ".join(str(s) for s in self.shapes)
        scope = f" scope={self.scope!r}" if self.scope else ""
        return f"<{type(self).__name__} -> {shapes}{scope}>"

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run the op on tensors (or numbers and arrays) and record it in the graph."""
        ctx = _new_object(cls)
        arrays = []
        needs = []
        edges = []
        record = huge = False
        for a in args:  # one pass; this is the hottest loop of the engine
            if isinstance(a, Tensor):
                arrays.append(a._data)
                if a.requires_grad:
                    record = True
                    needs.append(True)
                    node = a._node
                    edges.append((a, 0) if node is None else (node, a._index))
                else:
                    needs.append(False)
                    edges.append((a, 0))
            else:
                if type(a) is list or type(a) is tuple:
                    a = np.asarray(a)  # as numpy does
                elif type(a) is float and not -_FLOAT16_MAX <= a <= _FLOAT16_MAX:
                    huge = True
                arrays.append(a)
                needs.append(False)
                edges.append(None)
        record = record and _grad_enabled
        ctx.needs_input_grad = tuple(needs) if record else (False,) * len(needs)
        ctx.saved_tensors = ()
        if _anomaly_enabled:
            ctx.created_at = _user_frame()
        try:
            if huge:  # a number beyond a small float dtype becomes inf in it, as in PyTorch, without a warning
                with np.errstate(over="ignore"):
                    out = ctx.forward(*arrays, **kwargs)
            else:
                out = ctx.forward(*arrays, **kwargs)
        except ShapeError:
            raise
        except ValueError as e:
            shapes = " and ".join(str(np.shape(a)) for a in arrays)
            raise ValueError(f"{ctx.name}: operands of shapes {shapes}: {e}") from None

        if type(out) is tuple:
            outs = tuple([o if type(o) is np.ndarray else np.asarray(o) for o in out])
            ctx.meta = tuple([(o.shape, o.dtype) for o in outs])
        else:
            if type(out) is not np.ndarray:
                out = np.asarray(out)
            outs = None
            ctx.meta = ((out.shape, out.dtype),)
        if _anomaly_enabled:
            _check_finite(ctx, outs or (out,), "forward output", arrays, "inputs", _scope)
        node = ctx
        if record:
            ctx.edges = tuple(edges)
            ctx.scope = _scope
            ctx.hooks = None
            ctx.seq = -next(_sequence)  # negated: heapq is a min-heap and backward wants newest first
        else:
            node = None
        if outs is not None:
            result = tuple([Tensor._wrap(o, node, i) for i, o in enumerate(outs)])
        else:
            result = _new_object(Tensor)
            result._data = out
            result.grad = None
            result.requires_grad = record
            result._node = node
            result._index = 0
            result._hooks = None
        if _tracer is not None:
            _tracer.on_apply(ctx, args, kwargs, result)
        return result


_FLOAT16_MAX = float(np.finfo(np.float16).max)
_sequence = itertools.count()  # creation order: every node is created after its parents
_new_object = object.__new__


class LazyGrad:
    """A pending gradient that is not an array yet (e.g. the deferred weight gradient of a matmul).

    Subclasses support ``+`` with arrays and with each other (the engine only adds into a
    lazy gradient it owns) and `materialize()`, which the engine calls just before the
    gradient is used: by the next op's backward, a hook, or a leaf's ``.grad``.
    """

    __slots__ = ()
    __array_ufunc__ = None  # numpy defers `array + lazy` to __radd__

    def materialize(self) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


# --------------------------------------------------------------------------- Tensor
class _HookHandle:
    """Returned by `Tensor.register_hook`; ``handle.remove()`` unregisters the hook."""

    __slots__ = ("_hooks", "_fn")

    def __init__(self, hooks: list, fn):
        self._hooks, self._fn = hooks, fn

    def remove(self) -> None:
        if self._fn in self._hooks:
            self._hooks.remove(self._fn)


_ALLOWED_KINDS = "fiub"


class _Size(int):
    """``Tensor.size``: the number of elements (numpy's attribute) that is also callable as
    PyTorch's method, ``t.size()`` the shape and ``t.size(dim)`` one dimension."""

    def __new__(cls, shape: tuple):
        size = int(np.prod(shape, dtype=np.int64)) if shape else 1
        self = super().__new__(cls, size)
        self._shape = shape
        return self

    def __call__(self, dim=None):
        if dim is None:
            return self._shape
        ndim = len(self._shape)
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or not -ndim <= dim < ndim:
            raise IndexError(f"size: dim {dim!r} is out of range for a tensor with {ndim} dimensions")
        return self._shape[dim]


class Tensor:
    """An n-dimensional array that records the ops applied to it for reverse-mode autograd.

    Parameters
    ----------
    data : array_like
        Numbers: a numpy array (copied), nested lists, or a scalar. The dtype follows
        numpy (``Tensor([1.0])`` is float64), unless `dtype` is given.
    requires_grad : bool
        Whether to accumulate the gradient into ``.grad`` on `backward`; floats only.
    dtype : numpy dtype, optional

    The op methods (``+``, ``@``, ``sum``, ``transpose``, ...) are defined next to their
    ops in `tinygrad_lstm.ops`.

    Examples
    --------
    >>> x = Tensor([[1.0, 2.0]], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad
    array([[2., 4.]])
    """

    __slots__ = ("_data", "grad", "requires_grad", "_node", "_index", "_hooks", "__weakref__")
    __array_ufunc__ = None  # make numpy defer to Tensor's reflected operators

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        if isinstance(data, Tensor):
            data = data._data
        try:
            with np.errstate(over="ignore"):  # a value beyond `dtype` becomes inf, as in PyTorch
                array = np.array(data, dtype=dtype)
        except (TypeError, ValueError) as e:
            raise TypeError(f"Tensor: cannot make a numeric array from {type(data).__name__}: {e}") from None
        if array.dtype.kind not in _ALLOWED_KINDS:
            raise TypeError(f"Tensor: data must be numeric (float, int or bool), got dtype {array.dtype}")
        self._data = array
        self.grad = None
        self._node = None
        self._index = 0
        self._hooks = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)
        if _tracer is not None:  # a copy of an input made inside a compiled function is part of its plan
            _tracer.on_tensor(self, data)

    @classmethod
    def _wrap(cls, data: np.ndarray, node, index: int) -> "Tensor":
        t = _new_object(Tensor)
        t._data = data
        t.grad = None
        t.requires_grad = node is not None
        t._node = node
        t._index = index
        t._hooks = None
        return t

    # -- attributes --------------------------------------------------------
    @property
    def data(self) -> np.ndarray:
        """The numpy array (shared, not copied). Assigning a new array counts as an in-place
        change (the version counter goes up); writes into the array itself are not tracked."""
        return self._data

    @data.setter
    def data(self, value) -> None:
        array = value._data if isinstance(value, Tensor) else np.asarray(value)
        if array.dtype.kind not in _ALLOWED_KINDS:
            raise TypeError(f"data: must be a numeric array, got dtype {array.dtype}")
        if self.requires_grad and self._node is None and array.dtype.kind != "f":
            raise TypeError(f"data: a tensor that requires grad needs floating-point data, got dtype {array.dtype}")
        self._data = array
        increment_version(self)

    @property
    def _version(self) -> int:
        """How many times this tensor's memory was changed in place through the library
        (``torch.Tensor._version``; shared by views and detached aliases)."""
        return _version_of(self._data)

    @property
    def shape(self) -> tuple:
        """The shape of the data, a tuple of ints."""
        return self._data.shape

    @property
    def ndim(self) -> int:
        """The number of dimensions."""
        return self._data.ndim

    @property
    def size(self) -> _Size:
        """The number of elements, as numpy's ``size``; also callable as PyTorch's
        ``size()`` (the shape) and ``size(dim)``."""
        return _Size(self._data.shape)

    def dim(self) -> int:
        """The number of dimensions (``torch.Tensor.dim``)."""
        return self._data.ndim

    def numel(self) -> int:
        """The number of elements (``torch.Tensor.numel``)."""
        return self._data.size

    @property
    def dtype(self) -> np.dtype:
        """The numpy dtype of the data."""
        return self._data.dtype

    @property
    def is_leaf(self) -> bool:
        """True unless the tensor was made by a recorded op."""
        return self._node is None

    @property
    def grad_fn(self) -> Function | None:
        """The node (op) that made this tensor, or None for a leaf."""
        return self._node

    @property
    def output_index(self) -> int:
        """Which output of `grad_fn` this tensor is (0 for single-output ops)."""
        return self._index

    def numpy(self) -> np.ndarray:
        """The data as a numpy array (shared, not copied; writes into it are not tracked)."""
        return self._data

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise ValueError(f"item: only one-element tensors convert to a Python number, got shape {self.shape}")
        return self._data.item()

    def tolist(self):
        """The data as (nested) Python lists of numbers (``torch.Tensor.tolist``)."""
        return self._data.tolist()

    def __array__(self, dtype=None, copy=None):
        if copy:
            return np.array(self._data, dtype=dtype, copy=True)
        return np.asarray(self._data, dtype=dtype)

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self._data)

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __bool__(self) -> bool:
        return bool(self._data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError(f"only integer tensors of a single element can be converted to an index, "
                            f"got dtype {self.dtype} and shape {self.shape}")
        return int(self._data.item())

    def __repr__(self) -> str:
        body = np.array2string(self._data, separator=", ", prefix="Tensor(", threshold=64)
        extras = [f"dtype={self.dtype}"]
        if self._node is not None:
            extras.append(f"grad_fn=<{type(self._node).__name__}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return f"Tensor({body}, {', '.join(extras)})"

    __hash__ = object.__hash__

    # -- autograd ------------------------------------------------------------
    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Set whether this leaf records gradients (in place); returns self."""
        if self._node is not None:
            if requires_grad:
                return self
            raise RuntimeError("requires_grad_: only leaf tensors can change requires_grad; "
                               "use detach() to make a leaf from a computed tensor")
        if requires_grad and self._data.dtype.kind != "f":
            raise TypeError(f"requires_grad_: only floating-point tensors can require grad, got dtype {self.dtype}")
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self) -> "Tensor":
        """A new leaf sharing this tensor's data (and its version counter), outside the graph."""
        return Tensor._wrap(self._data, None, 0)

    def detach_(self) -> "Tensor":
        """Make this tensor a leaf outside the graph, in place; returns self."""
        self._node, self._index, self.requires_grad = None, 0, False
        return self

    def register_hook(self, fn) -> _HookHandle:
        """Call ``fn(grad)`` when this tensor's gradient is computed; a non-None return replaces it.

        For a leaf, the hook sees the gradient of one backward call before it is
        accumulated into ``.grad``. Returns a handle with ``remove()``.
        """
        if not self.requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that does not require grad")
        if self._node is not None:
            return self._node.register_hook(fn, self._index)
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(fn)
        return _HookHandle(self._hooks, fn)

    def retain_grad(self) -> None:
        """Keep this non-leaf tensor's gradient in ``.grad`` after backward (leaves always do)."""
        if self._node is None or self.retains_grad:
            return
        ref = weakref.ref(self)  # a weak reference: the node must not keep its output alive

        def store(grad):
            t = ref()
            if t is not None:
                copy = grad if isinstance(grad, Tensor) else grad.copy()  # a Tensor under create_graph
                t.grad = copy if t.grad is None else t.grad + grad
        store.retains_grad = True
        self.register_hook(store)

    @property
    def retains_grad(self) -> bool:
        """True for a non-leaf tensor on which `retain_grad` was called."""
        node = self._node
        if node is None or not node.hooks:
            return False
        return any(getattr(h, "retains_grad", False) for h in node.hooks.get(self._index, ()))

    def backward(self, gradient=None, retain_graph: bool | None = None, create_graph: bool = False,
                 inputs=None) -> None:
        """Accumulate d(self)/d(leaf) times `gradient` into every leaf's ``.grad``.

        Parameters
        ----------
        gradient : array_like, optional
            The gradient with respect to this tensor, same shape. Implicitly 1 for a
            one-element tensor; required otherwise.
        retain_graph : bool, optional
            Keep the saved arrays so backward can run through the graph again (default:
            `create_graph`).
        create_graph : bool
            Make the gradients Tensors in the graph, to differentiate them again.
        inputs : Tensor or sequence of Tensor, optional
            Accumulate only into these tensors' ``.grad``.
        """
        backward([self], None if gradient is None else [gradient], retain_graph=retain_graph,
                 create_graph=create_graph, inputs=inputs)


def tensor_method(fn):
    """Make `fn` a method of `Tensor` under its own name; the ops declare theirs with it, next to the op."""
    setattr(Tensor, fn.__name__, fn)
    return fn


def tensor_property(fn):
    """Make `fn` a read-only property of `Tensor` under its own name (e.g. ``T``)."""
    setattr(Tensor, fn.__name__, property(fn, doc=fn.__doc__))
    return fn


def inplace(tensor: Tensor, result: Tensor, op: str) -> Tensor:
    """Make `tensor` hold `result`, in place, as PyTorch's in-place methods do; returns `tensor`.

    The values are copied into `tensor`'s memory (views of it see them) and its version goes
    up. When the graph is recorded, `tensor` takes `result`'s place in it. Raises before
    changing anything: `RuntimeError` for a leaf that requires grad (outside `no_grad`) or a
    view of another tensor in the graph, `ValueError` when `result` does not have `tensor`'s
    shape, `TypeError` when its dtype does not cast to `tensor`'s (numpy's same-kind rule).
    """
    target = tensor._data
    if result._data.shape != target.shape:
        raise ShapeError(f"{op}: the result of shape {result.shape} does not fit in place into the tensor of "
                         f"shape {tensor.shape}")
    if not np.can_cast(result._data.dtype, target.dtype, "same_kind"):
        raise TypeError(f"{op}: the result type {result.dtype} can't be cast to the tensor's dtype {tensor.dtype}")
    if not target.flags.writeable:
        raise RuntimeError(f"{op}: the tensor's memory is read-only (shape {tensor.shape})")
    recorded = result.requires_grad and _grad_enabled
    if recorded or (_grad_enabled and tensor.requires_grad):
        if tensor.requires_grad and tensor._node is None:
            raise RuntimeError(f"{op}: a leaf tensor that requires grad is used in an in-place operation; "
                               f"change it under tl.no_grad() (as optimizers do), or use the out-of-place op")
        if target.base is not None and recorded:
            raise RuntimeError(f"{op}: in-place operation on a view of another tensor ({_describe_tensor(tensor)}) "
                               f"inside the graph is not supported; use the out-of-place op")
    node = result._node
    if node is not None and any(s is target for s in node.saved_tensors):
        # the op saved the old values we are about to overwrite: give it its own copy
        node.saved_tensors = tuple(s.copy() if s is target else s for s in node.saved_tensors)
    np.copyto(target, result._data, casting="same_kind")
    increment_version(tensor)
    if _tracer is not None:
        _tracer.on_inplace(tensor, result)
    if recorded:
        tensor._node, tensor._index, tensor.requires_grad = node, result._index, True
    return tensor


# --------------------------------------------------------------------------- backward
def _unbroadcast(grad, shape: tuple, node: Function):
    """Sum `grad` (an array, or a Tensor under ``create_graph``) over the dimensions that
    broadcasting added or stretched to reach `shape`.

    Raises ValueError when `grad` (returned by `node`) cannot come from broadcasting `shape`.
    """
    returned = grad.shape
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    if extra >= 0:
        stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
        if stretched:
            grad = grad.sum(axis=stretched, keepdims=True)
    if grad.shape != shape:
        raise ValueError(f"backward: op '{node.name}' returned a gradient of shape {returned} "
                         f"for an input of shape {shape}")
    return grad if isinstance(grad, Tensor) else np.asarray(grad)  # numpy sums to a scalar for shape ()


def _toposort(roots) -> list:
    """Nodes reachable from `roots`, each after all of its parents (iterative DFS)."""
    order = []
    seen = set()
    for root in roots:
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, 0)]
        while stack:
            node, i = stack.pop()
            edges = node.edges
            n = len(edges)
            while i < n:
                edge = edges[i]
                i += 1
                if edge is not None:
                    parent = edge[0]
                    if isinstance(parent, Function) and parent not in seen:
                        seen.add(parent)
                        stack.append((node, i))
                        stack.append((parent, 0))
                        break
            else:
                order.append(node)
    return order


def _as_array(grad) -> np.ndarray:
    """A pending gradient that is not an array as one: a lazy gradient is computed, and a NumPy
    scalar (the sum of two 0-d arrays) becomes a 0-d array again."""
    return grad.materialize() if isinstance(grad, LazyGrad) else np.asarray(grad)


def _materialized(entry) -> np.ndarray | None:
    """The gradient array of a pending ``[grad, owned]`` entry (or None)."""
    if entry is None:
        return None
    grad = entry[0]
    return grad if type(grad) is np.ndarray else _as_array(grad)


def _released_error(node: Function) -> RuntimeError:
    return RuntimeError(
        f"backward: trying to backward through the graph a second time (op '{node.name}'): its saved arrays "
        f"were freed after the first backward. Pass retain_graph=True to the first backward() to keep them.")


def backward(tensors, grad_tensors=None, retain_graph: bool | None = None, create_graph: bool = False,
             inputs=None) -> None:
    """Backpropagate from several tensors at once, accumulating into leaves' ``.grad``
    (``torch.autograd.backward``).

    Parameters
    ----------
    tensors : Tensor or list of Tensor
    grad_tensors : array_like or list of array_like or None, optional
        One gradient per tensor, same shape; None means 1 for one-element tensors.
    retain_graph : bool, optional
        Keep saved arrays so the graph can be backpropagated again (default: `create_graph`).
    create_graph : bool
        Record the backward pass itself: every node runs its differentiable ``vjp``, and the
        gradients put into ``.grad`` are Tensors in a graph that can be differentiated again.
    inputs : Tensor or sequence of Tensor, optional
        Accumulate only into these tensors' ``.grad`` (leaves or not), as PyTorch.

    Notes
    -----
    Four steps: seed the gradients of `tensors` (`_seed`), run the nodes newest first from
    a heap, each once all of its gradient has arrived (`_walk`), let each node's backward
    run with its hooks and release (`_run_node`), then hand the leaves their gradients
    (`_deposit`). Pending gradients are kept as ``[array, engine_owns_array]``: an array
    that came from an op may be shared (``add`` hands one array to both inputs), so the
    first sum allocates a new buffer, which the engine then owns and adds into in place.
    """
    if _tracer is not None:
        return _tracer.on_backward(tensors, grad_tensors, retain_graph, create_graph, inputs)
    retain_graph = create_graph if retain_graph is None else bool(retain_graph)
    if inputs is not None:
        inputs = _as_tensor_list(inputs, "backward", "inputs")
        if not inputs:
            raise RuntimeError("backward: inputs is empty; pass None to accumulate into every leaf")
        for t, g in zip(inputs, grad(tensors, inputs, grad_tensors, retain_graph, create_graph, allow_unused=True)):
            if g is not None and not t.retains_grad:  # retain_grad's hook has stored it already
                _add_to_grad(t, g if create_graph else g._data.copy())
        return
    pending, leaves, heap = _seed(tensors, grad_tensors, create_graph)
    with _quiet_numerics():  # inf * 0 and the like give nan, as in PyTorch, without numpy warnings
        if create_graph:
            _walk_differentiable(heap, pending, leaves)
            for leaf, g in leaves.items():
                _add_to_grad(leaf, _run_leaf_hooks(leaf, g))
            return
        _walk(heap, pending, leaves, retain_graph)
        _deposit(leaves)


def grad(outputs, inputs, grad_outputs=None, retain_graph: bool | None = None, create_graph: bool = False,
         allow_unused: bool | None = None, is_grads_batched: bool = False, materialize_grads: bool = False) -> tuple:
    """The gradients of `outputs` with respect to `inputs`, returned, not accumulated into
    ``.grad`` (``torch.autograd.grad``).

    Parameters
    ----------
    outputs : Tensor or sequence of Tensor
    inputs : Tensor or sequence of Tensor
        Tensors that require grad, leaves or not.
    grad_outputs : array_like or sequence, optional
        The gradient with respect to each output (None: 1 for one-element outputs).
    retain_graph : bool, optional
        Keep the saved arrays (default: `create_graph`).
    create_graph : bool
        Return gradients that are in the graph, so they can be differentiated again.
    allow_unused : bool, optional
        Return None for an input the outputs do not depend on, instead of raising
        (default: `materialize_grads`).
    is_grads_batched : bool
        The first dim of every grad_output is a batch: one vector-Jacobian product per entry,
        stacked along a new first dim of each result (PyTorch vectorizes this with vmap; here
        it is a loop over the batch).
    materialize_grads : bool
        Return zeros instead of None for such an input.

    Returns
    -------
    tuple of Tensor (or None), one per input, each of the input's shape and dtype.

    Examples
    --------
    >>> x = Tensor([1.0, 2.0], requires_grad=True)
    >>> (g,) = grad((x ** 3).sum(), x, create_graph=True)
    >>> g.data, grad(g.sum(), x)[0].data                  # 3x^2, then 6x
    (array([ 3., 12.]), array([ 6., 12.]))
    """
    if allow_unused is None:
        allow_unused = materialize_grads
    elif materialize_grads and not allow_unused:
        raise ValueError("grad: materialize_grads=True needs allow_unused=True (or not passed)")
    if is_grads_batched:
        return _batched_grad(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused,
                             materialize_grads)
    if materialize_grads:
        listed = _as_tensor_list(inputs, "grad", "inputs")
        results = grad(outputs, listed, grad_outputs, retain_graph, create_graph, True)
        return tuple(Tensor(np.zeros(t.shape, t.dtype)) if g is None else g for g, t in zip(results, listed))
    if _tracer is not None:
        return _tracer.on_grad(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused)
    inputs = _as_tensor_list(inputs, "grad", "inputs")
    if not inputs:
        raise RuntimeError("grad: inputs is empty; pass the tensors to differentiate with respect to")
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"grad: input {i} (shape {t.shape}) does not require grad")
    retain_graph = create_graph if retain_graph is None else bool(retain_graph)
    pending, leaves, heap = _seed(outputs, grad_outputs, create_graph)
    captured: dict = {}
    handles = [_capture(t, i, captured) for i, t in enumerate(inputs) if t._node is not None]
    try:
        with _quiet_numerics():
            if create_graph:
                _walk_differentiable(heap, pending, leaves)
            else:
                _walk(heap, pending, leaves, retain_graph)
    finally:
        for handle in handles:
            handle.remove()
    results = []
    for i, t in enumerate(inputs):
        g = captured.get(i) if t._node is not None else leaves.get(t)
        if g is not None and not create_graph:
            g = np.array(_materialized(g) if type(g) is list else g)
            if t._node is None and t._hooks:  # a leaf's hooks see its gradient, as in backward and PyTorch
                g = np.array(_run_leaf_hooks(t, g))
            g = Tensor._wrap(g, None, 0)
        elif g is not None and t._node is None:
            g = _run_leaf_hooks(t, g)
        if g is None and not allow_unused:
            raise RuntimeError(f"grad: input {i} (shape {t.shape}) was not used to compute the outputs; "
                               f"pass allow_unused=True to get None for it")
        results.append(g)
    return tuple(results)


def _batched_grad(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused, materialize_grads) -> tuple:
    """`grad` with ``is_grads_batched=True``: one call per entry of the grad_outputs' first dim."""
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    seeds = [grad_outputs] if isinstance(grad_outputs, (Tensor, np.ndarray)) or grad_outputs is None \
        else list(grad_outputs)
    if len(seeds) != len(outputs) or any(g is None for g in seeds):
        raise RuntimeError("grad: is_grads_batched=True needs one batched grad_output per output")
    seeds = [g if isinstance(g, Tensor) else Tensor._wrap(np.asarray(g), None, 0) for g in seeds]
    sizes = {g.shape[0] if g.ndim else None for g in seeds}
    if len(sizes) != 1 or None in sizes:
        raise ValueError(f"grad: is_grads_batched=True needs grad_outputs with the same first (batch) dim, got "
                         f"shapes {[g.shape for g in seeds]}")
    (batch,) = sizes
    keep = create_graph if retain_graph is None else retain_graph
    rows = [grad(outputs, inputs, [g[b] for g in seeds], retain_graph=True if b < batch - 1 else keep,
                 create_graph=create_graph, allow_unused=allow_unused, materialize_grads=materialize_grads)
            for b in range(batch)]
    if not rows:
        raise ValueError("grad: is_grads_batched=True with a batch of 0 grad_outputs")
    from .ops import stack
    return tuple(None if column[0] is None else stack(column) if create_graph
                 else Tensor._wrap(np.stack([c._data for c in column]), None, 0) for column in zip(*rows))


def _capture(t: Tensor, i: int, captured: dict) -> "_HookHandle":
    """Record the gradient reaching the non-leaf `t` as ``captured[i]`` (a node hook, removed after)."""
    def store(g):
        captured[i] = g if i not in captured else captured[i] + g
    return t._node.register_hook(store, t._index)


def _as_tensor_list(tensors, op: str, what: str) -> list:
    tensors = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    for t in tensors:
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: {what} must be Tensors, got {type(t).__name__}")
    return tensors


def _add_to_grad(t: Tensor, g) -> None:
    """``t.grad += g`` (a new array or Tensor when there was none): a Tensor in the graph when
    `g` is one (after ``create_graph=True``), an array otherwise."""
    if t.grad is None:
        t.grad = g
    elif isinstance(g, Tensor) or isinstance(t.grad, Tensor):
        t.grad = t.grad + g
    else:
        t.grad += g


def _quiet_numerics() -> np.errstate:
    return np.errstate(over="ignore", invalid="ignore", divide="ignore")


def _seed(tensors, grads, differentiable: bool = False) -> tuple:
    """The pending gradients of the roots: ``(pending per node, pending per leaf, heap)``; the
    gradients are Tensors when `differentiable` (``create_graph``)."""
    tensors = _as_tensor_list(tensors, "backward", "outputs")
    if grads is None:
        grads = [None] * len(tensors)
    elif isinstance(grads, (Tensor, np.ndarray, int, float)):  # one gradient; a sequence has one per tensor
        grads = [grads]
    grads = list(grads)
    if len(grads) != len(tensors):
        raise ValueError(f"backward: got {len(grads)} gradients for {len(tensors)} tensors")
    pending: dict = {}  # node -> [grad, owned] (one output) or a list of those / None per output
    leaves: dict = {}   # leaf tensor -> [grad, owned]
    heap: list = []
    for t, g in zip(tensors, grads):
        if not t.requires_grad:
            raise RuntimeError("backward: the tensor does not require grad and has no grad_fn")
        if g is None:
            if t._data.size != 1:
                raise RuntimeError(f"backward: grad can be implicitly created only for one-element outputs; "
                                   f"pass a gradient for the output of shape {t.shape}")
            g = np.ones_like(t._data)
        elif not (differentiable and isinstance(g, Tensor)):
            g = np.asarray(g._data if isinstance(g, Tensor) else g)
        if g.shape != t.shape:
            raise ValueError(f"backward: grad of shape {g.shape} does not match the tensor's shape {t.shape}")
        if differentiable:
            g = (g if isinstance(g, Tensor) else Tensor._wrap(g, None, 0)).astype(t.dtype)
            target, key = (leaves, t) if t._node is None else (pending, t._node)
            if _accumulate_tensor(target, key, t._index if t._node is not None else None, g) and t._node:
                heapq.heappush(heap, (t._node.seq, t._node))
            continue
        g = g.astype(t.dtype, copy=False)
        if t._node is None:
            _accumulate(leaves, t, g)
        elif _accumulate_output(pending, t._node, t._index, g):
            heapq.heappush(heap, (t._node.seq, t._node))
    return pending, leaves, heap


def _walk(heap: list, pending: dict, leaves: dict, retain_graph: bool) -> None:
    """Run every node reachable from the heap newest first, sending gradients to its inputs."""
    stale = -_last_change  # nodes with a larger seq were made before the latest in-place change
    anomaly = _anomaly_enabled
    heappop, heappush = heapq.heappop, heapq.heappush
    while heap:
        node = heappop(heap)[1]
        entry = pending.pop(node)
        if node.hooks or len(node.meta) > 1 or node.seq > stale or node.saved_tensors is None or anomaly:
            grads_in = _run_node(node, entry, node.seq > stale)
        else:  # the common case, inline: a call per node costs 2% of a small LSTM's backward
            grad = entry[0]
            grads_in = node.backward(grad if type(grad) is np.ndarray else _as_array(grad))
            if type(grads_in) is not tuple or len(grads_in) != len(node.edges):
                grads_in = _checked_grads(node, grads_in)
        if not retain_graph:
            node.saved_tensors = None
        for edge, g, need in zip(node.edges, grads_in, node.needs_input_grad):
            if not need or g is None:
                continue
            parent, index = edge
            if type(g) is not np.ndarray:
                if isinstance(g, LazyGrad):
                    _send_lazy(g, parent, index, pending, leaves, heap)
                    continue
                g = np.asarray(g)
            if isinstance(parent, Tensor):
                _accumulate(leaves, parent, _fit(g, parent._data.shape, parent._data.dtype, node))
                continue
            meta = parent.meta
            shape, dtype = meta[index]
            if g.shape != shape or g.dtype != dtype:
                g = _fit(g, shape, dtype, node)
            if len(meta) > 1:
                if _accumulate_output(pending, parent, index, g):
                    heappush(heap, (parent.seq, parent))
                continue
            e = pending.get(parent)
            if e is None:
                pending[parent] = [g, False]
                heappush(heap, (parent.seq, parent))
            elif e[1]:
                e[0] += g
            else:
                e[0] = e[0] + g
                e[1] = True


def _send_lazy(g: LazyGrad, parent, index: int, pending: dict, leaves: dict, heap: list) -> None:
    """Add a lazy gradient to what `parent` (output `index`) has pending, as it is: it is
    computed when used."""
    if isinstance(parent, Tensor):
        _accumulate(leaves, parent, g)
    elif _accumulate_output(pending, parent, index, g):
        heapq.heappush(heap, (parent.seq, parent))


def _run_node(node: Function, entry, stale: bool) -> tuple:
    """`node`'s backward, with its checks and hooks, when it has hooks or several outputs,
    may have been invalidated by an in-place change, or anomaly mode is on."""
    if node.saved_tensors is None:
        raise _released_error(node)
    if stale:
        _check_saved_versions(node)
    grads_out = [_materialized(e) for e in entry] if len(node.meta) > 1 else [_materialized(entry)]
    if node.hooks:
        _run_node_hooks(node, grads_out)
    grads_in = _checked_grads(node, node.backward(*grads_out))
    if _anomaly_enabled:
        _check_finite(node, grads_in, "gradient for input", grads_out, "gradients of its outputs", node.scope)
    return grads_in


def _checked_grads(node: Function, grads_in) -> tuple:
    """What `node`'s backward returned, as a tuple with one gradient per input (or an error)."""
    if type(grads_in) is not tuple:
        grads_in = tuple(grads_in) if type(grads_in) is list else (grads_in,)
    if len(grads_in) != len(node.edges):
        raise RuntimeError(f"backward: op '{node.name}' returned {len(grads_in)} gradients "
                           f"for its {len(node.edges)} inputs")
    return grads_in


def _walk_differentiable(heap: list, pending: dict, leaves: dict) -> None:
    """The walk of ``create_graph=True``: the gradients are Tensors and each node runs its
    ``vjp``, written with ops, so the backward pass is recorded like any forward pass. Saved
    arrays are kept (the new graph refers to them)."""
    stale = -_last_change
    with enable_grad():
        while heap:
            node = heapq.heappop(heap)[1]
            entry = pending.pop(node)
            if node.saved_tensors is None:
                raise _released_error(node)
            if node.seq > stale:
                _check_saved_versions(node)
            grads_out = list(entry) if len(node.meta) > 1 else [entry]
            if node.hooks:
                _run_node_hooks(node, grads_out)
            grads_in = _checked_grads(node, node.vjp(*grads_out))
            for edge, g, need in zip(node.edges, grads_in, node.needs_input_grad):
                if not need or g is None:
                    continue
                parent, index = edge
                if not isinstance(g, Tensor):
                    g = Tensor._wrap(np.asarray(g), None, 0)
                if isinstance(parent, Tensor):
                    _accumulate_tensor(leaves, parent, None, _fit(g, parent.shape, parent.dtype, node))
                elif _accumulate_tensor(pending, parent, index, _fit(g, *parent.meta[index], node)):
                    heapq.heappush(heap, (parent.seq, parent))


def _accumulate_tensor(pending: dict, key, index, g: Tensor) -> bool:
    """``pending[key] (+)= g`` with ops (output `index` of a node with several outputs);
    True when `key` was not pending yet."""
    entry = pending.get(key)
    new = entry is None
    if index is None or len(key.meta) == 1:
        pending[key] = g if new else entry + g
    else:
        if new:
            entry = pending[key] = [None] * len(key.meta)
        entry[index] = g if entry[index] is None else entry[index] + g
    return new


def _run_leaf_hooks(leaf: Tensor, g):
    """`g` after the hooks registered on `leaf` (each may return a replacement)."""
    for hook in list(leaf._hooks or ()):
        replaced = hook(g)
        if replaced is not None:
            g = _hook_result(replaced, g)
    return g


def _fit(g, shape: tuple, dtype, node: Function):
    """`g` (an array, or a Tensor under ``create_graph``) summed over broadcast dimensions to
    `shape` and cast to `dtype`."""
    if g.shape != shape:
        g = _unbroadcast(g, shape, node)
    if g.dtype != dtype:
        g = g.astype(dtype)
    return g


def _deposit(leaves: dict) -> None:
    """Run leaf hooks and accumulate each leaf's gradient into its ``.grad``."""
    for leaf, (g, owned) in leaves.items():
        if type(g) is not np.ndarray:
            g, owned = _as_array(g), True
        if leaf._hooks:
            for hook in list(leaf._hooks):
                replaced = hook(g)
                if replaced is not None:
                    g, owned = _hook_result(replaced, g), False
        if leaf.grad is None:
            leaf.grad = g if owned else g.copy()
        else:
            leaf.grad += g


def _run_node_hooks(node: Function, grads_out: list) -> None:
    for index, hooks in node.hooks.items():
        for hook in list(hooks):
            if grads_out[index] is not None:
                replaced = hook(grads_out[index])
                if replaced is not None:
                    grads_out[index] = _hook_result(replaced, grads_out[index])


def _hook_result(replaced, grad):
    """A hook's replacement gradient, checked against the shape and cast to the dtype of `grad`
    (a Tensor stays one when the gradients are Tensors, under ``create_graph``)."""
    if isinstance(grad, Tensor):
        replaced = replaced if isinstance(replaced, Tensor) else Tensor._wrap(np.asarray(replaced), None, 0)
    else:
        replaced = np.asarray(replaced)
    if replaced.shape != grad.shape:
        raise ValueError(f"hook: returned a gradient of shape {replaced.shape} for a gradient of shape {grad.shape}")
    return replaced.astype(grad.dtype) if isinstance(replaced, Tensor) else replaced.astype(grad.dtype, copy=False)


def _summed(entry, grad) -> list:
    """``entry = [grad, owned]`` plus `grad`, never writing into an array the engine does not own."""
    if entry is None:
        return [grad, False]
    if isinstance(grad, LazyGrad) and not isinstance(entry[0], LazyGrad):
        # an array plus a lazy gradient: the lazy one takes the array in (numpy cannot add it in place)
        entry[0] = grad + entry[0]
    elif entry[1]:
        entry[0] += grad
    else:
        entry[0] = entry[0] + grad
    entry[1] = True
    return entry


def _accumulate(pending: dict, key, grad) -> bool:
    """Accumulate into ``pending[key]``; True when `key` was not pending yet."""
    entry = pending.get(key)
    pending[key] = _summed(entry, grad)
    return entry is None


def _accumulate_output(pending: dict, node: Function, index: int, grad) -> bool:
    """Accumulate the gradient of output `index` of `node`; True when the node was not pending yet."""
    n_outputs = len(node.meta)
    entries = pending.get(node)
    new = entries is None
    if n_outputs == 1:
        pending[node] = _summed(entries, grad)
        return new
    if new:
        entries = pending[node] = [None] * n_outputs
    entries[index] = _summed(entries[index], grad)
    return new


# --------------------------------------------------------------------------- graph walk
class Graph:
    """The graph behind some tensors, in deterministic topological order (inputs first).

    Attributes
    ----------
    nodes : list of Function
        The ops, each after every op it depends on.
    leaves : list of Tensor
        Leaf tensors feeding the ops (parameters, inputs), in first-use order.
    edges : list of (source, target, output_index, input_position)
        ``source`` (a Function or a leaf Tensor) feeds argument ``input_position`` of
        the op ``target`` through its output ``output_index``.
    roots : list of Tensor
    """

    def __init__(self, roots):
        self.roots = list(roots)
        self.nodes = _toposort([t._node for t in self.roots if t._node is not None])
        self.leaves = []
        self.edges = []
        seen_leaves = set()
        for node in self.nodes:
            for position, edge in enumerate(node.edges):
                if edge is None:
                    continue
                source, index = edge
                if isinstance(source, Tensor) and id(source) not in seen_leaves:
                    seen_leaves.add(id(source))
                    self.leaves.append(source)
                self.edges.append((source, node, index, position))
        for t in self.roots:
            if t._node is None and id(t) not in seen_leaves:
                seen_leaves.add(id(t))
                self.leaves.append(t)

    def __repr__(self) -> str:
        return f"Graph({len(self.nodes)} ops, {len(self.leaves)} leaves, {len(self.edges)} edges)"


def walk_graph(roots) -> Graph:
    """The graph behind a tensor or a list of tensors (see `Graph`)."""
    if isinstance(roots, Tensor):
        roots = [roots]
    return Graph(roots)


from . import ops  # noqa: E402,F401  (the ops subclass Function and bind Tensor's op methods)
