"""`Module` and `Parameter`: the containers every layer is built from, as in ``torch.nn``.

A `Parameter` assigned to a module attribute is registered under that name, a `Module`
assigned to an attribute becomes a child, and ``named_parameters`` / ``state_dict`` list
them with dotted names (``encoder.weight_ih_l0``). Calling a module runs ``forward`` inside
a name scope, so every graph node records which module (and which time step) made it.
"""
from __future__ import annotations

from collections import OrderedDict, namedtuple
from collections.abc import Mapping

import numpy as np

from ..engine import Tensor, increment_version, name_scope, traced_effect
from ..serialization import real_array

__all__ = ["Module", "Parameter", "Sequential", "ModuleList", "IncompatibleKeys", "StateDictError"]

# The modules whose forward is running, innermost last: a module called from its parent's
# forward takes its attribute name as scope, a module called on its own its class name.
_call_stack: list["Module"] = []


class Parameter(Tensor):
    """A leaf tensor that requires grad; assigning it to a `Module` attribute registers it.

    Parameters
    ----------
    data : array_like
        Floating-point values (copied).
    dtype : numpy dtype, optional
        Defaults to the dtype of `data`.

    Examples
    --------
    >>> import tinygrad_lstm as tl
    >>> class Scale(tl.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.factor = tl.nn.Parameter([2.0])
    ...     def forward(self, x):
    ...         return x * self.factor
    >>> [name for name, _ in Scale().named_parameters()]
    ['factor']
    """

    # The attribute name it was first registered under ("weight_hh_l0"): error messages of the
    # engine (a backward through values changed in place) name the tensor by it.
    __slots__ = ("_name",)

    def __init__(self, data, dtype=None):
        array = np.asarray(data.data if isinstance(data, Tensor) else data, dtype=dtype)
        if array.dtype.kind != "f":
            raise TypeError(f"Parameter: only floating-point data can require grad, got dtype {array.dtype}; "
                            f"pass dtype=np.float32 or float values")
        super().__init__(array, requires_grad=True, dtype=dtype)
        self._name = None

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="Parameter(", threshold=64)
        return f"Parameter({body}, dtype={self.dtype})"


def check_float_dtype(dtype, owner: str) -> np.dtype:
    """`dtype` as a numpy floating dtype, or a TypeError naming `owner`."""
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{owner}: dtype must be a numpy floating dtype, got {dtype!r}") from None
    if dtype.kind != "f":
        raise TypeError(f"{owner}: dtype must be floating point (float32 or float64), got {dtype}")
    return dtype


def check_size(value, name: str, owner: str, minimum: int = 1) -> int:
    """`value` as an int >= `minimum`, or a TypeError / ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{owner}: {name} must be an integer, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{owner}: {name} must be at least {minimum}, got {value}")
    return int(value)


def as_input(value, dtype: np.dtype, owner: str, what: str = "input") -> Tensor:
    """`value` as a Tensor of the module's dtype.

    Arrays, lists and tensors outside the graph are converted; a tensor that requires
    grad must already have `dtype`, since converting it would cut it out of the graph.
    """
    if value is None:
        raise TypeError(f"{owner}: {what} is None; pass an array or Tensor, or omit it")
    if isinstance(value, Tensor):
        if value.dtype == dtype:
            return value
        if value.requires_grad:
            raise TypeError(f"{owner}: {what} has dtype {value.dtype} but the module's parameters are {dtype}; "
                            f"create the module with dtype=np.{value.dtype} or pass a {dtype} tensor")
        return Tensor._wrap(value.data.astype(dtype), None, 0)
    return Tensor(np.asarray(value), dtype=dtype)


class StateDictError(RuntimeError, ValueError):
    """What `Module.load_state_dict` raises: a RuntimeError as in PyTorch, and a ValueError (wrong values).

    The message lists every problem, as PyTorch's does: missing and unexpected keys (when
    strict) and size mismatches.
    """


class IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What `Module.load_state_dict` did not match: ``(missing_keys, unexpected_keys)``, lists of names."""

    __slots__ = ()

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


def _zero_grads(parameters, set_to_none: bool) -> None:
    """Set every ``.grad`` to None, or zero it in place (keeping the array) when not `set_to_none`."""
    for p in parameters:
        if p.grad is not None:
            if set_to_none:
                p.grad = None
            elif type(p.grad) is np.ndarray:
                p.grad.fill(0)
            else:  # a gradient assigned by hand as a list or number
                p.grad = np.zeros(p.shape, p.dtype)


class Module:
    """Base class of every layer: registers parameters, buffers and children, and runs `forward`.

    Subclasses call ``super().__init__()`` first, then assign `Parameter`s and child
    modules as attributes (or use `register_buffer`, `register_parameter`, `add_module`),
    and define ``forward``. ``module(*args)`` runs ``forward`` inside ``tl.name_scope``:
    the class name in lower case for a module called on its own (``lstm``), the attribute
    name for a child called from its parent (``encoder``).

    As in PyTorch, assigning a `Parameter` registers it, assigning a `Module` registers a
    child, assigning a Tensor to a buffer's name replaces the buffer, and a name keeps its
    kind: only a Parameter (or None) can be assigned to a parameter's name, only a Module
    (or None) to a child's. Any other value is a plain attribute.

    Attributes
    ----------
    training : bool
        True after `train()` (the default), False after `eval()`; dropout reads it.
    """

    def __init__(self):
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers_set", set())
        object.__setattr__(self, "_modules", OrderedDict())

    # -- registration ----------------------------------------------------------
    # Registered members live in their registry (_parameters, _buffers, _modules) and, so that
    # reading them is plain attribute access, in the instance __dict__ too: every change goes
    # through _register or __delattr__, which keep the two in step.
    def _register(self, registry: str, name: str, value) -> None:
        """Put `value` under `name` in `registry`, removing the name from the other registries."""
        for other in ("_parameters", "_buffers", "_modules"):
            if other != registry:
                self.__dict__[other].pop(name, None)
        if registry != "_buffers":
            self._non_persistent_buffers_set.discard(name)
        self.__dict__[registry][name] = value
        object.__setattr__(self, name, value)

    def _check_name(self, name, kind: str, registry: str) -> None:
        """Raise like PyTorch unless `name` can name a new or existing `kind` ("parameter", ...)."""
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: cannot assign {kind}s before Module.__init__() call; "
                                 f"call super().__init__() first")
        if not isinstance(name, str):
            raise TypeError(f"{type(self).__name__}: {kind} name should be a string, got {type(name).__name__}")
        if "." in name:  # dots separate the levels of state_dict keys
            raise KeyError(f'{type(self).__name__}: {kind} name cannot contain ".", got {name}')
        if name == "":
            raise KeyError(f'{type(self).__name__}: {kind} name cannot be the empty string ""')
        if hasattr(self, name) and name not in self.__dict__[registry]:
            raise KeyError(f"{type(self).__name__}: attribute {name!r} already exists")

    def register_parameter(self, name: str, param) -> None:
        """Register `param` (a `Parameter`, or None for an empty slot) under `name`, like ``self.name = param``.

        Raises TypeError for another value, KeyError for a name that is taken by a plain
        attribute, a buffer or a child, or that is empty or dotted.
        """
        self._check_name(name, "parameter", "_parameters")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"{type(self).__name__}: cannot assign {type(param).__name__} object to parameter "
                            f"{name!r} (a Parameter or None required)")
        if param is not None and param._name is None:
            param._name = name
        self._register("_parameters", name, param)

    def register_buffer(self, name: str, tensor, persistent: bool = True) -> None:
        """Register a Tensor that is module state but not a parameter (a running mean, a mask).

        Parameters
        ----------
        name : str
            Reached as ``module.name``; assigning a Tensor or None to it later replaces the buffer.
        tensor : Tensor or None
            Stored as given (not copied). None reserves the name and is left out of `state_dict`.
        persistent : bool
            Whether `state_dict` includes the buffer (and `load_state_dict` expects it).

        Buffers are listed by `buffers` / `named_buffers`, not by `parameters` (optimisers do
        not train them), and are cast by `to` when floating point.

        Examples
        --------
        >>> import numpy as np, tinygrad_lstm as tl
        >>> counter = tl.nn.Module()
        >>> counter.register_buffer("steps", tl.Tensor(np.zeros(1, np.int64)))
        >>> counter.register_buffer("scratch", tl.zeros(2), persistent=False)
        >>> list(counter.state_dict()), [name for name, _ in counter.named_buffers()]
        (['steps'], ['steps', 'scratch'])
        """
        self._check_name(name, "buffer", "_buffers")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"{type(self).__name__}: cannot assign {type(tensor).__name__} object to buffer "
                            f"{name!r} (a Tensor or None required)")
        self._register("_buffers", name, tensor)
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name: str, module) -> None:
        """Register `module` (or None for an empty slot) as the child `name`, like ``self.name = module``."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(self).__name__}: {type(module).__name__} is not a Module subclass")
        self._check_name(name, "module", "_modules")
        self._register("_modules", name, module)

    def register_module(self, name: str, module) -> None:
        """Alias of `add_module`."""
        self.add_module(name, module)

    def __setattr__(self, name: str, value) -> None:
        registered = self.__dict__.get("_parameters") is not None
        if isinstance(value, (Parameter, Module)) and not registered:
            raise AttributeError(f"{type(self).__name__}: cannot assign {type(value).__name__} before "
                                 f"Module.__init__() call; call super().__init__() first")
        # PyTorch's order of precedence: a Parameter takes any name; a parameter's name then takes
        # only None; a Module takes any other name; a child's name then takes only None; a
        # buffer's name takes a Tensor or None. A re-assigned name keeps its place in
        # named_parameters and state_dict (their order numbers optimiser state).
        if isinstance(value, Parameter):
            self.__dict__.pop(name, None)
            self._buffers.pop(name, None)
            self._modules.pop(name, None)
            self.register_parameter(name, value)
        elif registered and name in self._parameters:
            self._replace("_parameters", "parameter", name, value, type(None), "Parameter")
        elif isinstance(value, Module):
            self._register("_modules", name, value)
        elif registered and name in self._modules:
            self._replace("_modules", "child module", name, value, type(None), "Module")
        elif registered and name in self._buffers:
            self._replace("_buffers", "buffer", name, value, Tensor, "Tensor")
        else:
            object.__setattr__(self, name, value)

    def _replace(self, registry: str, kind: str, name: str, value, allowed: type, expected: str) -> None:
        """Give the registered `name` a new `value` (None, or an `allowed`), keeping its place."""
        if value is not None and not isinstance(value, allowed):
            raise TypeError(f"{type(self).__name__}: cannot assign {type(value).__name__} to {kind} {name!r} "
                            f"(a {expected} or None expected)")
        self.__dict__[registry][name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        if "_parameters" in self.__dict__:
            for registry in ("_parameters", "_buffers", "_modules"):
                self.__dict__[registry].pop(name, None)
            self._non_persistent_buffers_set.discard(name)
        object.__delattr__(self, name)

    # -- lookup by dotted name -------------------------------------------------------
    def get_submodule(self, target: str) -> "Module":
        """The descendant at the dotted path `target` (``"encoder.lstm"``; ``""`` is this module).

        Raises AttributeError naming the first part of the path that is missing or not a module.
        """
        if target == "":
            return self
        module = self
        for item in target.split("."):
            if not hasattr(module, item):
                raise AttributeError(f"{type(module).__name__} has no attribute `{item}`")
            module = getattr(module, item)
            if not isinstance(module, Module):
                raise AttributeError(f"`{item}` is not an nn.Module")
        return module

    def get_parameter(self, target: str) -> Parameter:
        """The parameter at the dotted path `target` (``"encoder.lstm.weight_ih_l0"``); AttributeError if none."""
        module, name = self._owner_of(target)
        parameter = getattr(module, name)
        if not isinstance(parameter, Parameter):
            raise AttributeError(f"`{name}` is not an nn.Parameter")
        return parameter

    def get_buffer(self, target: str) -> Tensor:
        """The buffer at the dotted path `target`; AttributeError if there is none."""
        module, name = self._owner_of(target)
        if name not in module._buffers:
            raise AttributeError(f"`{name}` is not a buffer")
        return getattr(module, name)

    def _owner_of(self, target: str) -> tuple:
        """``(submodule, attribute)`` for the dotted path `target`, the attribute checked to exist."""
        module_path, _, name = target.rpartition(".")
        module = self.get_submodule(module_path)
        if not hasattr(module, name):
            raise AttributeError(f"{type(module).__name__} has no attribute `{name}`")
        return module, name

    # -- traversal -----------------------------------------------------------------
    def named_children(self):
        """Iterate over ``(name, module)`` for the direct children, in assignment order, each module once."""
        seen = set()
        for name, module in self._modules.items():
            if module is not None and module not in seen:
                seen.add(module)
                yield name, module

    def children(self):
        """Iterate over the direct child modules."""
        return (module for _, module in self.named_children())

    def named_modules(self, memo: set | None = None, prefix: str = "", remove_duplicate: bool = True):
        """Iterate over ``(dotted_name, module)`` for this module (named `prefix`) and all descendants.

        Depth first, parents before children, as PyTorch. A module reachable under several
        names comes once, unless `remove_duplicate` is False; `memo` is the set of modules to skip.
        """
        memo = set() if memo is None else memo
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if module in memo:
                continue
            if remove_duplicate:
                memo.add(module)
            yield name, module
            children = [(f"{name}.{child_name}" if name else child_name, child)
                        for child_name, child in module._modules.items() if child is not None]
            stack.extend(reversed(children))

    def modules(self):
        """Iterate over this module and all its descendants, each once."""
        return (module for _, module in self.named_modules())

    def _named_members(self, registry: str, prefix: str, recurse: bool, remove_duplicate: bool):
        seen = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for module_name, module in modules:
            for name, member in module.__dict__[registry].items():
                if member is None or id(member) in seen:
                    continue
                if remove_duplicate:
                    seen.add(id(member))
                yield (f"{module_name}.{name}" if module_name else name), member

    def named_parameters(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        """Iterate over ``(dotted_name, parameter)`` in registration order.

        A parameter shared by several modules (tied weights) comes once, under its first
        name, unless `remove_duplicate` is False. With `recurse` False, only this module's own.
        """
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True):
        """Iterate over the parameters (see `named_parameters`); what an optimiser is given."""
        return (parameter for _, parameter in self.named_parameters(recurse=recurse))

    def named_buffers(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        """Iterate over ``(dotted_name, buffer)``, persistent or not, in registration order (see `register_buffer`)."""
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True):
        """Iterate over the buffers (see `named_buffers`)."""
        return (buffer for _, buffer in self.named_buffers(recurse=recurse))

    def apply(self, fn) -> "Module":
        """Call ``fn(module)`` on every child's subtree (children first), then on this module; returns self.

        Examples
        --------
        >>> import tinygrad_lstm as tl
        >>> def zero_biases(module):
        ...     if isinstance(module, tl.nn.Linear):
        ...         module.bias.data[...] = 0
        >>> model = tl.nn.Sequential(tl.nn.Linear(2, 3), tl.nn.Linear(3, 1)).apply(zero_biases)
        >>> [float(abs(layer.bias.data).sum()) for layer in model]
        [0.0, 0.0]
        """
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # -- state -----------------------------------------------------------------------
    def _own_state(self):
        """``(name, tensor)`` for this module's own parameters, then its persistent buffers (None skipped)."""
        for name, parameter in self._parameters.items():
            if parameter is not None:
                yield name, parameter
        for name, buffer in self._buffers.items():
            if buffer is not None and name not in self._non_persistent_buffers_set:
                yield name, buffer

    def _named_state(self, prefix: str = ""):
        """``(key, tensor)`` for every parameter and persistent buffer, in PyTorch's state_dict order.

        Module by module (parents first, a module once per name it has), its own state; a
        tensor shared by several modules is listed under each of its names.
        """
        for module_name, module in self.named_modules(remove_duplicate=False):
            module_prefix = prefix + (module_name + "." if module_name else "")
            for name, tensor in module._own_state():
                yield module_prefix + name, tensor

    def state_dict(self, *, destination=None, prefix: str = "", keep_vars: bool = False):
        """``{dotted_name: array}`` for every parameter and persistent buffer, in PyTorch's order.

        Parameters
        ----------
        destination : dict, optional
            Filled and returned instead of a new ``OrderedDict``.
        prefix : str
            Put before every key (``"model."``).
        keep_vars : bool
            Give the Parameters and buffer Tensors themselves instead of copies of their arrays.

        The names are PyTorch's, so ``torch_module.load_state_dict({k: torch.from_numpy(v)
        for k, v in module.state_dict().items()})`` moves the weights to PyTorch. As there,
        a tied parameter is listed under each of its names. Unlike PyTorch, whose state dict
        shares memory with the module, the arrays are copies: a snapshot that later training
        does not change.
        """
        destination = OrderedDict() if destination is None else destination
        for key, tensor in self._named_state(prefix):
            destination[key] = tensor if keep_vars else tensor.data.copy()
        return destination

    def load_state_dict(self, state_dict, strict: bool = True) -> IncompatibleKeys:
        """Copy arrays into the parameters and persistent buffers, in place, after validating all of them.

        Parameters
        ----------
        state_dict : mapping of str to array_like
            Numpy arrays or anything ``np.asarray`` converts (CPU torch tensors and
            parameters included); each is cast to the dtype of the tensor it is copied into.
        strict : bool
            Missing or unexpected keys are an error; with False they are skipped and listed
            in the result.

        Returns
        -------
        IncompatibleKeys
            ``(missing_keys, unexpected_keys)``, found as PyTorch finds them.

        Raises
        ------
        StateDictError
            A RuntimeError (as in PyTorch), also a ValueError, listing every missing and
            unexpected key (when strict) and every size mismatch with both shapes.
        TypeError
            A value that is not a real numeric array, or a `state_dict` that is not a mapping.

        Nothing is changed unless every key and shape is valid. Every tensor written gets its
        version counter bumped, so a backward through a graph built before the load raises
        RuntimeError. As in PyTorch, a parameter of shape ``()`` takes a value of shape ``(1,)``.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"{type(self).__name__}.load_state_dict: expected a mapping of names to arrays, "
                            f"got {type(state_dict).__name__}")
        missing, unexpected, errors, writes = [], [], [], []
        for module_name, module in self.named_modules(remove_duplicate=False):
            prefix = module_name + "." if module_name else ""
            local = OrderedDict(module._own_state())
            for name, tensor in local.items():
                key = prefix + name
                if key not in state_dict:
                    missing.append(key)
                    continue
                array = real_array(state_dict[key], f"{type(self).__name__}.load_state_dict", key)
                if tensor.ndim == 0 and array.shape == (1,):
                    array = array.reshape(())
                if array.shape != tensor.shape:
                    errors.append(f"size mismatch for {key}: copying a param with shape {array.shape} from "
                                  f"checkpoint, the shape in current model is {tensor.shape}.")
                    continue
                writes.append((tensor, array))
            for key in state_dict:
                if not isinstance(key, str) or not key.startswith(prefix):
                    continue
                first, dot, _ = key[len(prefix):].partition(".")
                if (first not in module._modules) if dot else (first not in local):
                    unexpected.append(key)
        unexpected.extend(key for key in state_dict if not isinstance(key, str))
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ". ")
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ". ")
        if errors:
            raise StateDictError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(errors))
        for tensor, array in writes:
            np.copyto(tensor.data, array, casting="unsafe")
            increment_version(tensor)  # a graph that saved the old values now refuses to backpropagate
        return IncompatibleKeys(missing, unexpected)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        """Set ``requires_grad`` of every parameter (False freezes them: backward leaves their ``.grad``); returns self."""
        for parameter in self.parameters():
            parameter.requires_grad_(requires_grad)
        return self

    @traced_effect
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the parameters' gradients: to None (the default, as PyTorch), or to zeros in place."""
        _zero_grads(self.parameters(), set_to_none)

    def train(self, mode: bool = True) -> "Module":
        """Set training mode (dropout active) on this module and, through their ``train``, its children; returns self."""
        if not isinstance(mode, bool):
            raise ValueError(f"{type(self).__name__}.train: training mode is expected to be boolean, got {mode!r}")
        object.__setattr__(self, "training", mode)
        for module in self.children():
            module.train(mode)
        return self

    def eval(self) -> "Module":
        """Set evaluation mode (dropout off); the same as ``train(False)``; returns self."""
        return self.train(False)

    def to(self, dtype) -> "Module":
        """Cast every parameter and its gradient, and every floating-point buffer, to the floating `dtype`; returns self.

        As ``torch.nn.Module.to(dtype)``: modules convert their inputs to the new dtype from
        then on, so ``model.to(np.float64)`` (or ``model.double()``) is the way to gradcheck
        a float32 model. Integer buffers keep their dtype. Tensors get new arrays, so graphs
        built before keep their values.
        """
        dtype = check_float_dtype(dtype, f"{type(self).__name__}.to")
        for module in self.modules():
            if isinstance(module.__dict__.get("dtype"), np.dtype):
                module.dtype = dtype
        for parameter in self.parameters():
            parameter.data = parameter.data.astype(dtype)
            if parameter.grad is not None:
                parameter.grad = np.asarray(parameter.grad).astype(dtype)
        for buffer in self.buffers():
            if buffer.dtype.kind == "f":
                buffer.data = buffer.data.astype(dtype)
        return self

    def double(self) -> "Module":
        """``to(np.float64)``."""
        return self.to(np.float64)

    def float(self) -> "Module":
        """``to(np.float32)``."""
        return self.to(np.float32)

    # -- calling -----------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        """The computation, defined by every subclass; call the module (``module(x)``), not this."""
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def _scope_name(self) -> str:
        if _call_stack:
            caller = _call_stack[-1]
            for name, module in caller.named_modules():
                if module is self and name:
                    return name
        return type(self).__name__.lower()

    def __call__(self, *args, **kwargs):
        _reject_torch_inputs(self, args, kwargs)
        scope = self._scope_name()
        _call_stack.append(self)
        try:
            with name_scope(scope):
                return self.forward(*args, **kwargs)
        finally:
            _call_stack.pop()

    # -- printing ------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The constructor arguments shown inside the parentheses of `repr`; override it in a subclass."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): " + repr(module).replace("\n", "\n  ") for name, module in self._modules.items()]
        if not child_lines and len(extra_lines) <= 1:  # as PyTorch: one line unless there is more to show
            return f"{type(self).__name__}({extra})"
        body = "\n  ".join(extra_lines + child_lines)
        return f"{type(self).__name__}(\n  {body}\n)"


def _reject_torch_inputs(module: Module, args: tuple, kwargs: dict) -> None:
    """A torch Tensor or PackedSequence given to a module (also inside a state tuple): a
    TypeError that says how to convert it, rather than a numpy error from deep inside."""
    for value in (*args, *kwargs.values()):
        for part in (value if type(value) in (tuple, list) else (value,)):
            if type(part).__module__.partition(".")[0] == "torch":
                raise TypeError(_torch_input_message(type(module).__name__, part))


def _torch_input_message(owner: str, value) -> str:
    kind = type(value).__name__
    if kind == "PackedSequence":
        return (f"{owner}: got a torch PackedSequence; tinygrad_lstm takes the padded batch and its lengths "
                f"instead: padded, lengths = torch.nn.utils.rnn.pad_packed_sequence(packed), then "
                f"module(padded.numpy(), lengths=lengths.tolist()) (pass batch_first= to pad_packed_sequence "
                f"as the module has it), or pack it as tinygrad_lstm's own PackedSequence with "
                f"tl.nn.utils.rnn.pack_padded_sequence(padded.numpy(), lengths.tolist(), enforce_sorted=False) "
                f"and pass that")
    shape = tuple(getattr(value, "shape", ()))
    return (f"{owner}: got a torch.{kind} of shape {shape}; convert it to numpy with x.detach().numpy(), or to "
            f"a tl.Tensor with tl.Tensor(x.detach().numpy(), requires_grad=True) for its gradient")


def _checked_module(module, owner: str) -> Module:
    if not isinstance(module, Module):
        raise TypeError(f"{owner}: can only hold modules, got {type(module).__name__}")
    return module


class ModuleList(Module):
    """A list of modules registered as children ``"0"``, ``"1"``, ...

    Examples
    --------
    >>> import tinygrad_lstm as tl
    >>> layers = tl.nn.ModuleList([tl.nn.Linear(2, 3), tl.nn.Linear(3, 1)])
    >>> [name for name, _ in layers.named_parameters()]
    ['0.weight', '0.bias', '1.weight', '1.bias']
    """

    def __init__(self, modules=()):
        super().__init__()
        for module in modules:
            self.append(module)

    def append(self, module: Module) -> "ModuleList":
        """Register `module` as the next child (named by its index); returns self."""
        setattr(self, str(len(self._modules)), _checked_module(module, type(self).__name__))
        return self

    def extend(self, modules) -> "ModuleList":
        """Append every module of the iterable `modules`; returns self."""
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Insert `module` before position `index` (as ``list.insert``); children are renumbered."""
        modules = list(self._modules.values())
        modules.insert(index, _checked_module(module, type(self).__name__))
        self._renumber(modules)

    def pop(self, index: int = -1) -> Module:
        """Remove and return the module at `index` (IndexError when out of range); children are renumbered."""
        modules = list(self._modules.values())
        try:
            module = modules.pop(index)
        except IndexError:
            raise IndexError(f"{type(self).__name__}: index {index} is out of range for {len(modules)} modules") from None
        self._renumber(modules)
        return module

    def __delitem__(self, index) -> None:
        """Remove the module(s) at an int `index` or a slice; children are renumbered."""
        modules = list(self._modules.values())
        try:
            del modules[index]
        except IndexError:
            raise IndexError(f"{type(self).__name__}: index {index} is out of range for {len(modules)} modules") from None
        self._renumber(modules)

    def _renumber(self, modules: list) -> None:
        """Register `modules` as the children ``"0"``, ``"1"``, ... in this order."""
        for name in list(self._modules):
            delattr(self, name)
        for module in modules:
            self.append(module)

    def __getitem__(self, index):
        """The module at an int `index`, or a new container of the same kind for a slice (as PyTorch)."""
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return Sequential(*modules[index]) if isinstance(self, Sequential) else ModuleList(modules[index])
        return modules[index]

    def __setitem__(self, index: int, module: Module) -> None:
        """Replace the module at `index` (negative counts from the end); it keeps its name and place."""
        names = list(self._modules)
        setattr(self, names[index], _checked_module(module, type(self).__name__))

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class Sequential(ModuleList):
    """Modules applied one after the other: ``Sequential(a, b)(x) == b(a(x))``.

    Examples
    --------
    >>> import numpy as np, tinygrad_lstm as tl
    >>> model = tl.nn.Sequential(tl.nn.Linear(4, 8), tl.nn.Dropout(0.1), tl.nn.Linear(8, 2))
    >>> model(np.ones((3, 4))).shape
    (3, 2)
    """

    def __init__(self, *modules: Module):
        super().__init__(modules)

    def forward(self, x):
        """Apply the modules in order; shapes are whatever the first takes and the last returns."""
        for module in self._modules.values():
            x = module(x)
        return x
