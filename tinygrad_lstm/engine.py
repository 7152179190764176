"""The engine: `Tensor`, the `Function` base class of every op, and the backward walk.

A tensor produced by an op points at the op's node (a `Function` instance) and at
its output index. A node points at its inputs through *edges*: ``(parent_node,
output_index)`` for a tensor made by another op, ``(leaf_tensor, 0)`` for a leaf,
``None`` for a plain number or array. Nodes never point at their outputs, so the
graph has no reference cycles and everything it holds is freed by reference
counting alone as soon as the last tensor that reaches it goes away.

Every node gets a creation number when it is recorded, and its parents always have
smaller ones, so `backward` runs nodes newest first from a heap, without recursion and
without a separate topological sort. It keeps a dict of pending gradients that it pops
as each node runs, adds into a gradient buffer in place only when the engine allocated
it, and drops each node's saved arrays right after its backward unless
``retain_graph=True``. `walk_graph` gives the same graph in topological order (an
iterative depth-first search) for drawing and inspection.
"""
from __future__ import annotations

import contextlib
import functools
import heapq
import itertools
import traceback
import weakref

import numpy as np

__all__ = [
    "Tensor", "Function", "ShapeError", "no_grad", "enable_grad", "is_grad_enabled",
    "name_scope", "detect_anomaly", "backward", "walk_graph", "Graph",
]


class ShapeError(ValueError):
    """A `ValueError` raised by an op whose message already names the op and the shapes."""


# --------------------------------------------------------------------------- modes
_grad_enabled = True
_anomaly_enabled = False
_scope = ""  # the current name scope, e.g. "lstm/l0/t=3", recorded on every node


def is_grad_enabled() -> bool:
    """True when ops record a graph (outside `no_grad`)."""
    return _grad_enabled


class _GradMode:
    """Context manager and decorator that sets whether ops record the graph."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
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


@contextlib.contextmanager
def detect_anomaly():
    """Inside, the first NaN/Inf produced by an op, in forward or backward, raises
    `FloatingPointError` naming the op and the line of user code that created it.

    Slower: every op records where it was created and checks its results.
    """
    global _anomaly_enabled
    previous = _anomaly_enabled
    _anomaly_enabled = True
    try:
        yield
    finally:
        _anomaly_enabled = previous


_ENGINE_FILES = None


def _user_frame() -> traceback.FrameSummary | None:
    """The innermost stack frame outside the engine and the ops (where the user made the op)."""
    global _ENGINE_FILES
    if _ENGINE_FILES is None:
        from . import ops
        _ENGINE_FILES = {__file__, ops.__file__}
    for frame in reversed(traceback.extract_stack()):
        if frame.filename not in _ENGINE_FILES:
            return frame
    return None


def _check_finite(node: "Function", arrays, where: str) -> None:
    for i, a in enumerate(arrays):
        if type(a) is DeferredMatmulGrad:  # anomaly mode is slow anyway: compute the product to check it
            a = a.materialize()
        if a is not None and a.dtype.kind == "f" and not np.isfinite(a).all():
            bad = "NaN" if np.isnan(a).any() else "Inf"
            frame = getattr(node, "created_at", None)
            site = (f"{frame.filename}:{frame.lineno} in {frame.name}: {frame.line}" if frame else
                    "an unknown place (run the forward pass inside detect_anomaly() to record it)")
            raise FloatingPointError(
                f"detect_anomaly: op '{node.name}' produced {bad} in its {where} {i} "
                f"(shape {a.shape}); the op was created at {site}")


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
        record = False
        for a in args:  # one pass; this is the hottest loop of the engine
            if isinstance(a, Tensor):
                arrays.append(a.data)
                if a.requires_grad:
                    record = True
                    needs.append(True)
                    node = a._node
                    edges.append((a, 0) if node is None else (node, a._index))
                else:
                    needs.append(False)
                    edges.append((a, 0))
            else:
                arrays.append(np.asarray(a) if type(a) is list or type(a) is tuple else a)  # as numpy does
                needs.append(False)
                edges.append(None)
        record = record and _grad_enabled
        ctx.needs_input_grad = tuple(needs) if record else (False,) * len(needs)
        ctx.saved_tensors = ()
        if _anomaly_enabled:
            ctx.created_at = _user_frame()
        try:
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
            _check_finite(ctx, outs or (out,), "forward output")
        if record:
            ctx.edges = tuple(edges)
            ctx.scope = _scope
            ctx.hooks = None
            ctx.seq = -next(_sequence)  # negated: heapq is a min-heap and backward wants newest first
        else:
            ctx = None
        if outs is not None:
            return tuple([Tensor._wrap(o, ctx, i) for i, o in enumerate(outs)])
        t = _new_object(Tensor)
        t.data = out
        t.grad = None
        t.requires_grad = record
        t._node = ctx
        t._index = 0
        t._hooks = None
        return t


_sequence = itertools.count()  # creation order: every node is created after its parents
_new_object = object.__new__


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

    Examples
    --------
    >>> x = Tensor([[1.0, 2.0]], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad
    array([[2., 4.]])
    """

    __slots__ = ("data", "grad", "requires_grad", "_node", "_index", "_hooks", "__weakref__")
    __array_ufunc__ = None  # make numpy defer to Tensor's reflected operators

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        if isinstance(data, Tensor):
            data = data.data
        try:
            array = np.array(data, dtype=dtype)
        except (TypeError, ValueError) as e:
            raise TypeError(f"Tensor: cannot make a numeric array from {type(data).__name__}: {e}") from None
        if array.dtype.kind not in _ALLOWED_KINDS:
            raise TypeError(f"Tensor: data must be numeric (float, int or bool), got dtype {array.dtype}")
        self.data = array
        self.grad = None
        self._node = None
        self._index = 0
        self._hooks = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _wrap(cls, data: np.ndarray, node, index: int) -> "Tensor":
        t = Tensor.__new__(Tensor)
        t.data = data
        t.grad = None
        t.requires_grad = node is not None
        t._node = node
        t._index = index
        t._hooks = None
        return t

    # -- attributes --------------------------------------------------------
    @property
    def shape(self) -> tuple:
        """The shape of the data, a tuple of ints."""
        return self.data.shape

    @property
    def ndim(self) -> int:
        """The number of dimensions."""
        return self.data.ndim

    @property
    def size(self) -> int:
        """The number of elements."""
        return self.data.size

    @property
    def dtype(self) -> np.dtype:
        """The numpy dtype of the data."""
        return self.data.dtype

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

    @property
    def T(self) -> "Tensor":
        """The axes reversed, ``(a, b) -> (b, a)``; a view in the graph like ``transpose()``."""
        return self.transpose()

    def numpy(self) -> np.ndarray:
        """The data as a numpy array (shared, not copied)."""
        return self.data

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item: only one-element tensors convert to a Python number, got shape {self.shape}")
        return self.data.item()

    def __array__(self, dtype=None, copy=None):
        if copy:
            return np.array(self.data, dtype=dtype, copy=True)
        return np.asarray(self.data, dtype=dtype)

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __iter__(self):
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __bool__(self) -> bool:
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="Tensor(", threshold=64)
        extras = [f"dtype={self.dtype}"]
        if self._node is not None:
            extras.append(f"grad_fn=<{type(self._node).__name__}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return f"Tensor({body}, {', '.join(extras)})"

    # -- autograd ------------------------------------------------------------
    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Set whether this leaf records gradients (in place); returns self."""
        if self._node is not None:
            raise RuntimeError("requires_grad_: only leaf tensors can change requires_grad; "
                               "use detach() to make a leaf from a computed tensor")
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"requires_grad_: only floating-point tensors can require grad, got dtype {self.dtype}")
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self) -> "Tensor":
        """A new leaf sharing this tensor's data, outside the graph."""
        return Tensor._wrap(self.data, None, 0)

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
                t.grad = grad.copy() if t.grad is None else t.grad + grad
        store.retains_grad = True
        self.register_hook(store)

    @property
    def retains_grad(self) -> bool:
        """True for a non-leaf tensor on which `retain_grad` was called."""
        node = self._node
        if node is None or not node.hooks:
            return False
        return any(getattr(h, "retains_grad", False) for h in node.hooks.get(self._index, ()))

    def backward(self, grad=None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) times `grad` into every leaf's ``.grad``.

        Parameters
        ----------
        grad : array_like, optional
            The gradient with respect to this tensor, same shape. Implicitly 1 for a
            one-element tensor; required otherwise.
        retain_graph : bool
            Keep the saved arrays so backward can run through the graph again.
        """
        backward([self], None if grad is None else [grad], retain_graph=retain_graph)

    # -- operators (defined in ops.py, bound here) -----------------------------
    def __add__(self, other): return ops.Add.apply(self, other)
    def __radd__(self, other): return ops.Add.apply(other, self)
    def __sub__(self, other): return ops.Sub.apply(self, other)
    def __rsub__(self, other): return ops.Sub.apply(other, self)
    def __mul__(self, other): return ops.Mul.apply(self, other)
    def __rmul__(self, other): return ops.Mul.apply(other, self)
    def __truediv__(self, other): return ops.Div.apply(self, other)
    def __rtruediv__(self, other): return ops.Div.apply(other, self)
    def __pow__(self, other): return ops.Pow.apply(self, other)
    def __rpow__(self, other): return ops.Pow.apply(other, self)
    def __matmul__(self, other): return ops.MatMul.apply(self, other)
    def __rmatmul__(self, other): return ops.MatMul.apply(other, self)
    def __neg__(self): return ops.Neg.apply(self)
    def __pos__(self): return self

    # Comparisons give bool tensors outside the graph (masks), like numpy and PyTorch.
    def __lt__(self, other): return Tensor._wrap(np.asarray(self.data < _data(other)), None, 0)
    def __le__(self, other): return Tensor._wrap(np.asarray(self.data <= _data(other)), None, 0)
    def __gt__(self, other): return Tensor._wrap(np.asarray(self.data > _data(other)), None, 0)
    def __ge__(self, other): return Tensor._wrap(np.asarray(self.data >= _data(other)), None, 0)
    def __eq__(self, other): return Tensor._wrap(np.asarray(self.data == _data(other)), None, 0)
    def __ne__(self, other): return Tensor._wrap(np.asarray(self.data != _data(other)), None, 0)
    __hash__ = object.__hash__

    def exp(self):
        """Elementwise e^x, same shape."""
        return ops.Exp.apply(self)

    def log(self):
        """Elementwise natural logarithm, same shape."""
        return ops.Log.apply(self)

    def tanh(self):
        """Elementwise tanh, same shape; exact for any input."""
        return ops.Tanh.apply(self)

    def sigmoid(self):
        """Elementwise 1 / (1 + e^-x), same shape; exact and overflow-free for any input."""
        return ops.Sigmoid.apply(self)

    def relu(self):
        """Elementwise max(x, 0), same shape; the gradient is 0 at 0."""
        return ops.ReLU.apply(self)

    def abs(self):
        """Elementwise |x|, same shape; the gradient is sign(x) (0 at 0)."""
        return ops.Abs.apply(self)

    def clip(self, min=None, max=None):
        """Clamp to ``[min, max]`` (numbers, arrays or tensors, taken as constants); the gradient
        flows where ``min <= x <= max``, as in PyTorch's ``clamp``."""
        if min is None and max is None:
            raise ValueError("clip: at least one of min and max must be given")
        return ops.Clip.apply(self, low=_data(min), high=_data(max))

    def sum(self, axis=None, keepdims: bool = False):
        """Sum over `axis` (None: all; an int or a tuple, negative allowed), like ``numpy.sum``."""
        return ops.Sum.apply(self, axis=_axes(axis, self.ndim, "sum"), keepdims=keepdims)

    def mean(self, axis=None, keepdims: bool = False):
        """Mean over `axis` (None: all; an int or a tuple, negative allowed), like ``numpy.mean``."""
        return ops.Mean.apply(self, axis=_axes(axis, self.ndim, "mean"), keepdims=keepdims)

    def max(self, axis=None, keepdims: bool = False):
        """Maximum over `axis`; the gradient goes to the maximum (shared equally between ties)."""
        return ops.Max.apply(self, axis=_axes(axis, self.ndim, "max"), keepdims=keepdims)

    def reshape(self, *shape):
        """The same data in a new shape (one entry may be -1), e.g. ``t.reshape(T * B, D)``."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return ops.Reshape.apply(self, shape=shape)

    def flatten(self):
        """The data as one dimension, ``(size,)``."""
        return self.reshape(-1)

    def transpose(self, *axes):
        """Permute axes like ``numpy.transpose`` (reverse them when none are given)."""
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        if not axes:
            axes = tuple(range(self.ndim - 1, -1, -1))
        if sorted(a % self.ndim if self.ndim else a for a in axes) != list(range(self.ndim)):
            raise ShapeError(f"transpose: axes {axes} are not a permutation of the {self.ndim} axes of shape {self.shape}")
        return ops.Transpose.apply(self, axes=tuple(a % self.ndim for a in axes))

    def __getitem__(self, index):
        return ops.GetItem.apply(self, index=_index_data(index))

    def split(self, sizes_or_sections, axis: int = 0):
        """Split along `axis`: an int gives that many equal sections, a list gives the sizes.

        One node with several outputs; its backward assembles the input gradient once.
        """
        axis = _axis(axis, self.ndim, "split")
        length = self.shape[axis]
        if isinstance(sizes_or_sections, (int, np.integer)):
            n = int(sizes_or_sections)
            if n <= 0 or length % n:
                raise ShapeError(f"split: axis {axis} of size {length} does not split into {n} equal sections "
                                 f"(shape {self.shape})")
            sizes = (length // n,) * n
        else:
            try:
                sizes = tuple(int(s) for s in sizes_or_sections)
            except TypeError:
                raise TypeError(f"split: expected an int or a list of ints, got {sizes_or_sections!r}") from None
            if sum(sizes) != length or any(s < 0 for s in sizes):
                raise ShapeError(f"split: sizes {list(sizes)} do not add up to {length}, the size of axis {axis} "
                                 f"of shape {self.shape}")
        return ops.Split.apply(self, sizes=sizes, axis=axis)

    def chunk(self, chunks: int, axis: int = 0):
        """Split into `chunks` pieces along `axis`, as ``torch.chunk``: each of ``ceil(n / chunks)``
        elements and the last one smaller, so there may be fewer than `chunks` pieces
        (``arange(10).chunk(4)`` has sizes 3, 3, 3, 1; ``arange(6).chunk(4)`` 2, 2, 2).
        """
        if isinstance(chunks, bool) or not isinstance(chunks, (int, np.integer)):
            raise TypeError(f"chunk: chunks must be an int, got {chunks!r}")
        if chunks <= 0:
            raise ValueError(f"chunk: chunks must be positive, got {chunks}")
        axis = _axis(axis, self.ndim, "chunk")
        length = self.shape[axis]
        size = -(-length // chunks)
        if size == 0:  # an empty axis: `chunks` empty pieces, as torch
            sizes = (0,) * chunks
        else:
            sizes = (size,) * (length // size) + ((length % size,) if length % size else ())
        return ops.Split.apply(self, sizes=sizes, axis=axis)

    def unbind(self, axis: int = 0):
        """The slices along `axis` as a tuple of tensors (one multi-output node)."""
        return ops.Unbind.apply(self, axis=_axis(axis, self.ndim, "unbind"))


def _data(x):
    return x.data if isinstance(x, Tensor) else x


def _index_data(index):
    if isinstance(index, tuple):
        return tuple(_index_part(part) for part in index)
    return _index_part(index)


def _index_part(part):
    if isinstance(part, Tensor):
        return part.data
    if isinstance(part, (list, tuple)):
        # numpy reads a sequence inside an index as an integer (or boolean) array; making it one
        # lets GetItem's backward see it and accumulate repeated indices
        array = np.asarray(part)
        return array if array.size else array.astype(np.intp)
    return part


def _axis(axis: int, ndim: int, op: str) -> int:
    if not -ndim <= axis < ndim:
        raise ShapeError(f"{op}: axis {axis} is out of range for a tensor with {ndim} dimensions")
    return axis % ndim


def _axes(axis, ndim: int, op: str):
    """Normalise an int/tuple/None axis argument to a sorted tuple of non-negative axes."""
    if axis is None:
        return None
    if isinstance(axis, (int, np.integer)):
        axis = (int(axis),)
    axes = tuple(sorted(_axis(a, ndim, op) for a in axis))
    if len(set(axes)) != len(axes):
        raise ShapeError(f"{op}: repeated axis in {axis}")
    return axes


# --------------------------------------------------------------------------- backward
def _unbroadcast(grad: np.ndarray, shape: tuple, node: Function) -> np.ndarray:
    """Sum `grad` over the dimensions that broadcasting added or stretched to reach `shape`.

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
    return grad


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


class DeferredMatmulGrad:
    """A pending weight gradient ``sum_k lefts[k].T @ rights[k] (+ dense)``, computed when used.

    A weight shared by T steps (``h_t @ W_hh.T``) gets one ``(B, K).T @ (B, N)`` product per
    step. Summing them as they arrive costs T small matmuls plus T additions of a full
    ``(K, N)`` buffer; stacking the factors and doing one ``(K, T*B) @ (T*B, N)`` matmul,
    as a hand-written BPTT does after its loop, is faster. `MatMul.backward` returns one of
    these for its 2-D right operand, and the engine turns it into an array just before the
    gradient is used: by the next op's backward, a hook, or a leaf's ``.grad``.
    """

    __slots__ = ("lefts", "rights", "dense")
    __array_ufunc__ = None  # numpy defers `array + deferred` to __radd__

    def __init__(self, left: np.ndarray, right: np.ndarray):
        self.lefts, self.rights, self.dense = [left], [right], None

    @property
    def shape(self) -> tuple:
        return self.lefts[0].shape[1], self.rights[0].shape[1]

    def __add__(self, other):
        # Only the engine holds a deferred gradient, so adding into it in place is safe.
        if type(other) is DeferredMatmulGrad:
            self.lefts += other.lefts
            self.rights += other.rights
            if other.dense is not None:
                self.__add__(other.dense)
        elif self.dense is None:
            self.dense = other
        else:
            self.dense = self.dense + other
        return self

    __radd__ = __iadd__ = __add__

    def materialize(self) -> np.ndarray:
        if len(self.lefts) == 1:
            out = self.lefts[0].T @ self.rights[0]
        else:
            out = np.concatenate(self.lefts).T @ np.concatenate(self.rights)
        if self.dense is not None:
            out += self.dense
        return out


def _as_array(grad) -> np.ndarray:
    """A pending gradient that is not an array as one: a deferred sum is computed, and a NumPy
    scalar (the sum of two 0-d arrays) becomes a 0-d array again."""
    return grad.materialize() if type(grad) is DeferredMatmulGrad else np.asarray(grad)


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


def backward(tensors, grads=None, retain_graph: bool = False) -> None:
    """Backpropagate from several tensors at once, accumulating into leaves' ``.grad``.

    Parameters
    ----------
    tensors : Tensor or list of Tensor
    grads : array_like or list of array_like or None, optional
        One gradient per tensor, same shape; None means 1 for one-element tensors.
    retain_graph : bool
        Keep saved arrays so the graph can be backpropagated again.

    Notes
    -----
    Nodes run newest first (a heap on their negated creation number, ``node.seq``): every
    consumer of a node was created after it, so a node runs once all of its gradient has
    arrived. Pending gradients are kept as ``[array, engine_owns_array]``: an array that
    came from an op may be shared (``add`` hands one array to both inputs), so the first
    sum allocates a new buffer, which the engine then owns and adds into in place.
    """
    if isinstance(tensors, Tensor):  # like torch.autograd.backward (list() would unbind it)
        tensors, grads = [tensors], None if grads is None else [grads]
    tensors = list(tensors)
    grads = [None] * len(tensors) if grads is None else list(grads)
    if len(grads) != len(tensors):
        raise ValueError(f"backward: got {len(grads)} gradients for {len(tensors)} tensors")
    pending: dict = {}       # node -> [grad, owned] (one output) or a list of those / None per output
    leaf_pending: dict = {}  # leaf tensor -> [grad, owned]
    heap: list = []
    for t, g in zip(tensors, grads):
        if not t.requires_grad:
            raise RuntimeError("backward: the tensor does not require grad and has no grad_fn")
        if g is None:
            if t.data.size != 1:
                raise RuntimeError(f"backward: grad can be implicitly created only for one-element outputs; "
                                   f"pass grad= for the output of shape {t.shape}")
            g = np.ones_like(t.data)
        else:
            g = np.asarray(_data(g))
            if g.shape != t.shape:
                raise ValueError(f"backward: grad of shape {g.shape} does not match the tensor's shape {t.shape}")
            g = g.astype(t.dtype, copy=False)
        if t._node is None:
            _accumulate(leaf_pending, t, g)
        elif _accumulate_output(pending, t._node, t._index, g):
            heapq.heappush(heap, (t._node.seq, t._node))

    anomaly = _anomaly_enabled
    heappop, heappush = heapq.heappop, heapq.heappush
    while heap:
        node = heappop(heap)[1]
        entry = pending.pop(node)
        if node.saved_tensors is None:
            raise _released_error(node)
        if node.hooks or len(node.meta) > 1:
            grads_out = [_materialized(e) for e in entry] if len(node.meta) > 1 else [_materialized(entry)]
            del entry
            if node.hooks:
                _run_node_hooks(node, grads_out)
            grads_in = node.backward(*grads_out)
            del grads_out
        else:
            grad = entry[0]
            del entry
            grads_in = node.backward(grad if type(grad) is np.ndarray else _as_array(grad))
            del grad
        if type(grads_in) is not tuple:
            grads_in = tuple(grads_in) if type(grads_in) is list else (grads_in,)
        if len(grads_in) != len(node.edges):
            raise RuntimeError(f"backward: op '{node.name}' returned {len(grads_in)} gradients "
                               f"for its {len(node.edges)} inputs")
        if anomaly:
            _check_finite(node, grads_in, "gradient for input")
        if not retain_graph:
            node.saved_tensors = None
        for edge, g, need in zip(node.edges, grads_in, node.needs_input_grad):
            if not need or g is None:
                continue
            parent, index = edge
            if type(g) is not np.ndarray:
                if type(g) is DeferredMatmulGrad:
                    if isinstance(parent, Tensor):
                        _accumulate(leaf_pending, parent, g)
                    elif _accumulate_output(pending, parent, index, g):
                        heappush(heap, (parent.seq, parent))
                    continue
                g = np.asarray(g)
            if isinstance(parent, Tensor):
                data = parent.data
                if g.shape != data.shape:
                    g = _unbroadcast(g, data.shape, node)
                if g.dtype != data.dtype:
                    g = g.astype(data.dtype)
                _accumulate(leaf_pending, parent, g)
                continue
            meta = parent.meta
            shape, dtype = meta[index]
            if g.shape != shape:
                g = _unbroadcast(g, shape, node)
            if g.dtype is not dtype and g.dtype != dtype:
                g = g.astype(dtype)
            if len(meta) == 1:
                e = pending.get(parent)
                if e is None:
                    pending[parent] = [g, False]
                    heappush(heap, (parent.seq, parent))
                elif e[1]:
                    e[0] += g
                else:
                    e[0] = e[0] + g
                    e[1] = True
            elif _accumulate_output(pending, parent, index, g):
                heappush(heap, (parent.seq, parent))
        del grads_in

    for leaf, (g, owned) in leaf_pending.items():
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


def _hook_result(replaced, grad: np.ndarray) -> np.ndarray:
    """A hook's replacement gradient, checked against the shape and cast to the dtype of `grad`."""
    replaced = np.asarray(replaced)
    if replaced.shape != grad.shape:
        raise ValueError(f"hook: returned a gradient of shape {replaced.shape} for a gradient of shape {grad.shape}")
    return replaced.astype(grad.dtype, copy=False)


def _summed(entry, grad) -> list:
    """``entry = [grad, owned]`` plus `grad`, never writing into an array the engine does not own."""
    if entry is None:
        return [grad, False]
    if entry[1]:
        entry[0] += grad
    else:
        entry[0] = entry[0] + grad
        entry[1] = True
    return entry


def _accumulate(pending: dict, key, grad: np.ndarray) -> None:
    pending[key] = _summed(pending.get(key), grad)


def _accumulate_output(pending: dict, node: Function, index: int, grad: np.ndarray) -> bool:
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


from . import ops  # noqa: E402  (ops subclasses Function, defined above)
