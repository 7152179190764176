"""`Module` and `Parameter`: the containers every layer is built from, as in ``torch.nn``.

A `Parameter` assigned to a module attribute is registered under that name, a `Module`
assigned to an attribute becomes a child, and ``named_parameters`` / ``state_dict`` list
them with dotted names (``encoder.weight_ih_l0``). Calling a module runs ``forward`` inside
a name scope, so every graph node records which module (and which time step) made it.
"""
from __future__ import annotations

from collections import OrderedDict, namedtuple

import numpy as np

from ..engine import Tensor, name_scope
from ..serialization import real_array

__all__ = ["Module", "Parameter", "Sequential", "ModuleList", "IncompatibleKeys"]

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])
IncompatibleKeys.__doc__ = "What `Module.load_state_dict(strict=False)` skipped: missing and unexpected keys."

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

    __slots__ = ("_name",)  # the attribute name it was first registered under (named in error messages)

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


class Module:
    """Base class of every layer: registers parameters and children, and runs `forward`.

    Subclasses call ``super().__init__()`` first, then assign `Parameter`s and child
    modules as attributes, and define ``forward``. ``module(*args)`` runs ``forward``
    inside ``tl.name_scope``: the class name in lower case for a module called on its
    own (``lstm``), the attribute name for a child called from its parent (``encoder``).

    Attributes
    ----------
    training : bool
        True after `train()` (the default), False after `eval()`; dropout reads it.
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # -- registration ----------------------------------------------------------
    def __setattr__(self, name: str, value) -> None:
        parameters = self.__dict__.get("_parameters")
        if parameters is None:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before assigning attributes")
        modules = self._modules
        # As in PyTorch, a re-assigned name keeps its place in named_parameters and state_dict
        # (their order numbers optimiser state), and None keeps the name registered but empty.
        if isinstance(value, Parameter):
            modules.pop(name, None)
            parameters[name] = value
            if value._name is None:
                value._name = name
        elif isinstance(value, Module):
            parameters.pop(name, None)
            modules[name] = value
        elif name in parameters or name in modules:
            if value is not None:
                kind, expected = ("parameter", "Parameter") if name in parameters else ("child module", "Module")
                raise TypeError(f"{type(self).__name__}: cannot assign {type(value).__name__} to {kind} {name!r} "
                                f"(a {expected} or None expected)")
            (parameters if name in parameters else modules)[name] = None
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        object.__delattr__(self, name)

    # -- traversal -----------------------------------------------------------------
    def named_children(self):
        """Iterate over ``(name, module)`` for the direct children, in assignment order."""
        return ((name, module) for name, module in self._modules.items() if module is not None)

    def children(self):
        """Iterate over the direct child modules."""
        return (module for _, module in self.named_children())

    def named_modules(self, prefix: str = "", remove_duplicate: bool = True):
        """Iterate over ``(dotted_name, module)`` for this module (name ``prefix``) and all descendants.

        A module reachable under several names comes once, unless `remove_duplicate` is False.
        """
        seen = set()
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if remove_duplicate:
                if id(module) in seen:
                    continue
                seen.add(id(module))
            yield name, module
            children = [(f"{name}.{child_name}" if name else child_name, child)
                        for child_name, child in module.named_children()]
            stack.extend(reversed(children))

    def modules(self):
        """Iterate over this module and all its descendants."""
        return (module for _, module in self.named_modules())

    def named_parameters(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        """Iterate over ``(dotted_name, parameter)`` in registration order.

        A parameter shared by several modules (tied weights) comes once, under its first
        name, unless `remove_duplicate` is False.
        """
        seen = set()
        modules = self.named_modules(prefix, remove_duplicate) if recurse else [(prefix, self)]
        for module_name, module in modules:
            for name, parameter in module._parameters.items():
                if parameter is None or (remove_duplicate and id(parameter) in seen):
                    continue
                seen.add(id(parameter))
                yield (f"{module_name}.{name}" if module_name else name), parameter

    def parameters(self, recurse: bool = True):
        """Iterate over the parameters (see `named_parameters`)."""
        return (parameter for _, parameter in self.named_parameters(recurse=recurse))

    # -- state -----------------------------------------------------------------------
    def state_dict(self) -> OrderedDict:
        """``{dotted_name: copy of the parameter's array}``, in `named_parameters` order.

        The names are PyTorch's, so ``torch_module.load_state_dict({k: torch.from_numpy(v)
        for k, v in module.state_dict().items()})`` moves the weights to PyTorch. As there,
        a tied parameter is listed under each of its names.
        """
        return OrderedDict((name, parameter.data.copy())
                           for name, parameter in self.named_parameters(remove_duplicate=False))

    def load_state_dict(self, state_dict, strict: bool = True) -> IncompatibleKeys:
        """Copy arrays into the parameters, in place, after validating all of them.

        Parameters
        ----------
        state_dict : mapping of str to array_like
            Numpy arrays or anything ``np.asarray`` converts (CPU torch tensors and
            parameters included); each is cast to its parameter's dtype.
        strict : bool
            Missing or unexpected keys are a KeyError; with False they are skipped and listed
            in the result.

        Returns
        -------
        IncompatibleKeys
            ``(missing_keys, unexpected_keys)``.

        Raises
        ------
        KeyError
            Missing or unexpected keys (strict), listing them.
        ValueError
            A shape mismatch, naming the key and both shapes.
        TypeError
            A value that is not a real numeric array.

        Nothing is changed unless every key and shape is valid.
        """
        parameters = OrderedDict(self.named_parameters(remove_duplicate=False))
        missing = [name for name in parameters if name not in state_dict]
        unexpected = [name for name in state_dict if name not in parameters]
        if strict and (missing or unexpected):
            raise KeyError(f"{type(self).__name__}.load_state_dict: missing keys {missing}, "
                           f"unexpected keys {unexpected}")
        arrays = {}
        for name, parameter in parameters.items():
            if name not in state_dict:
                continue
            array = real_array(state_dict[name], f"{type(self).__name__}.load_state_dict", name)
            if array.shape != parameter.shape:
                raise ValueError(f"{type(self).__name__}.load_state_dict: shape mismatch for {name!r}: "
                                 f"the state dict has {array.shape}, the module has {parameter.shape}")
            arrays[name] = array
        for name, array in arrays.items():
            np.copyto(parameters[name].data, array, casting="unsafe")
        return IncompatibleKeys(missing, unexpected)

    def zero_grad(self) -> None:
        """Reset every parameter's ``.grad`` to None."""
        for parameter in self.parameters():
            parameter.grad = None

    def train(self, mode: bool = True) -> "Module":
        """Set training mode (dropout active) on this module and its descendants; returns self."""
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self) -> "Module":
        """Set evaluation mode (dropout off); returns self."""
        return self.train(False)

    def to(self, dtype) -> "Module":
        """Cast every parameter, and its gradient, to the floating `dtype`; returns self.

        As ``torch.nn.Module.to(dtype)``: modules convert their inputs to the new dtype from
        then on, so ``model.to(np.float64)`` (or ``model.double()``) is the way to gradcheck
        a float32 model. Parameters get new arrays, so graphs built before keep their values.
        """
        dtype = check_float_dtype(dtype, f"{type(self).__name__}.to")
        for module in self.modules():
            if isinstance(module.__dict__.get("dtype"), np.dtype):
                module.dtype = dtype
        for parameter in self.parameters():
            parameter.data = parameter.data.astype(dtype)
            if parameter.grad is not None:
                parameter.grad = parameter.grad.astype(dtype)
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
        scope = self._scope_name()
        _call_stack.append(self)
        try:
            with name_scope(scope):
                return self.forward(*args, **kwargs)
        finally:
            _call_stack.pop()

    # -- printing ------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The constructor arguments shown inside the parentheses of `repr`."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        if not self._modules:
            return f"{type(self).__name__}({extra})"
        lines = extra.split("\n") if extra else []
        for name, module in self._modules.items():
            child = repr(module).replace("\n", "\n  ")
            lines.append(f"({name}): {child}")
        body = "\n  ".join(lines)
        return f"{type(self).__name__}(\n  {body}\n)"


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
