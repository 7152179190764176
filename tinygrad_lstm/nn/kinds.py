"""The registry of recurrent kinds: one record per kind (``rnn``, ``lstm``, ``gru``, and yours).

A `RecurrentKind` says everything the tools need to know about a kind of recurrent network:
its cell class, how to build a sequence module, its gates and state parts, its hand-written
BPTT in `tinygrad_lstm.manual` (if any) and its PyTorch twin (if any). The command line,
the tasks, the benchmark, the graph pictures and `compare_gradients` read the record, so a
kind registered with `register_kind` is accepted everywhere a kind name is, e.g.
``tinygrad-lstm compare --cell NAME``.

Where a kind is asked for, `get_kind` accepts a registered name, a `RecurrentKind`, a cell
class, or ``"module:Class"``: a cell class (or a `RecurrentKind`) imported from a module, used
as a kind without registering it. Where a recurrent module is asked for (the tasks, the graph
pictures), `build_module` also takes a cell you built (used as is) or a factory
``input_size -> cell``.

>>> import tinygrad_lstm as tl
>>> tl.nn.kinds.kind_names()[:3]
('rnn', 'lstm', 'gru')
>>> lstm = tl.nn.kinds.get_kind("lstm")
>>> lstm.gates, lstm.states, lstm.num_gates, lstm.torch_name
(('i', 'f', 'g', 'o'), ('h', 'c'), 4, 'LSTM')
>>> lstm.build(3, 4, num_layers=2)
LSTM(3, 4, num_layers=2)
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..manual.fused import (gru_backward_fused, gru_forward_fused, lstm_backward_fused, lstm_forward_fused,
                            rnn_backward_fused, rnn_forward_fused)
from .cells import LayerNormLSTMCell, PeepholeLSTMCell
from .module import Module, check_size
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell

__all__ = ["RecurrentKind", "FusedReference", "register_kind", "unregister_kind", "get_kind", "kind_names",
           "kind_of", "build_module", "module_kind"]


@dataclass(frozen=True)
class FusedReference:
    """A hand-written BPTT of one layer in PyTorch's layout, as in `tinygrad_lstm.manual.fused`.

    ``forward(x, *states, weight_ih, weight_hh, bias_ih, bias_hh, **options)`` returns
    ``(output (T, B, H), final state, cache)``; ``backward(grad_output, *grad_final_states,
    cache)`` returns a dict with ``"x"``, ``"<state>0"`` for each state part (``"h0"``,
    ``"c0"``), ``"weight_ih"``, ``"weight_hh"`` and the biases that were given.
    """

    forward: Callable
    backward: Callable


@dataclass(frozen=True)
class RecurrentKind:
    """One kind of recurrent network, as the tools see it.

    Attributes
    ----------
    name : str
        The key in the registry (``"lstm"``), or ``"module:Class"`` for a kind loaded by path.
    cell : type
        The cell class, a `Module` with ``forward(x_t, state) -> state`` and
        ``init_state(batch_size)``, built as ``cell(input_size, hidden_size, **options)``.
    sequence : callable or None
        Builds a sequence module, ``sequence(input_size, hidden_size, num_layers=,
        bidirectional=, dtype=)``, called as ``module(x (T, B, D)) -> (output, final_state)``:
        the class for the built-in kinds (`tl.nn.LSTM`). None: `tl.nn.Recurrent` stacking
        cells of this kind.
    gates : tuple of str
        The gates, in the order of the rows of ``weight_ih`` (LSTM ``i, f, g, o``).
    states : tuple of str
        The parts of the state, output first (LSTM ``h, c``).
    manual : FusedReference or None
        The hand-written BPTT of one layer, for `compare_gradients` and the benchmark, on
        parameters named as PyTorch's (``weight_ih``, ..., ``weight_ih_l0`` when stacked).
    torch_name : str or None
        The PyTorch twin: ``torch.nn.<torch_name>`` for the sequence module and
        ``torch.nn.<torch_name>Cell`` for the cell, with the same parameter names.
    options : tuple of str
        Attributes of the modules passed on as keyword arguments to the cell, the manual
        reference and the PyTorch twin (``nonlinearity`` for the RNN).
    """

    name: str
    cell: type
    sequence: Callable | None = None
    gates: tuple = ()
    states: tuple = ()
    manual: FusedReference | None = None
    torch_name: str | None = None
    options: tuple = ()

    @property
    def num_gates(self) -> int:
        """The number of gates (rows of ``weight_ih`` are ``num_gates * hidden_size``)."""
        return len(self.gates)

    @property
    def title(self) -> str:
        """A display name: the cell class's name without ``Cell`` (``LSTM``)."""
        name = self.cell.__name__
        return name[:-len("Cell")] if name.endswith("Cell") and len(name) > len("Cell") else name

    def build(self, input_size: int, hidden_size: int, num_layers: int = 1, bidirectional: bool = False,
              dtype=np.float32) -> Module:
        """A fresh sequence module of this kind, with random weights from the global generator."""
        if self.sequence is not None:
            return self.sequence(input_size, hidden_size, num_layers=num_layers, bidirectional=bidirectional,
                                 dtype=dtype)
        from .recurrent import Recurrent
        return Recurrent(lambda size: self.make_cell(size, hidden_size, dtype), num_layers=num_layers,
                         bidirectional=bidirectional, input_size=input_size)

    def make_cell(self, input_size: int, hidden_size: int, dtype=np.float32, **options) -> Module:
        """A fresh cell of this kind in `dtype`; `options` as the record's `options` name them."""
        return self.cell(input_size, hidden_size, **options).to(dtype)


_REGISTRY: dict = {}


def register_kind(name: str, cell: type, *, sequence: Callable | None = None, gates=(), states=(),
                  manual: FusedReference | None = None, torch_name: str | None = None,
                  options=()) -> RecurrentKind:
    """Add a kind to the registry, so every tool accepts `name`; returns its record.

    The arguments are the fields of `RecurrentKind`. A kind without `manual` is compared
    with central differences only (and PyTorch when it has a `torch_name`) and benchmarked
    without a reference; a kind without `sequence` runs its cells in a `tl.nn.Recurrent`.

    Raises
    ------
    ValueError
        `name` is taken, empty, or has a character the command line gives a meaning to
        (``:``, ``,``, space); or `manual` is given without `states`.
    TypeError
        `cell` is not a `Module` subclass with ``init_state``, or a field has the wrong type.

    Examples
    --------
    >>> import tinygrad_lstm as tl
    >>> class Elman(tl.nn.RNNCell):
    ...     pass
    >>> kind = tl.nn.kinds.register_kind("elman", Elman, gates=("h",), states=("h",))
    >>> "elman" in tl.nn.kinds.kind_names(), kind.title, type(kind.build(2, 3)).__name__
    (True, 'Elman', 'Recurrent')
    >>> tl.nn.kinds.unregister_kind("elman")
    """
    if not isinstance(name, str) or not name or any(c in name for c in ":, \t\n"):
        raise ValueError(f"register_kind: name must be a non-empty string without ':', ',' or spaces, got {name!r}")
    if name in _REGISTRY:
        raise ValueError(f"register_kind: {name!r} is already registered; unregister_kind({name!r}) first")
    kind = _make_kind(name, cell, sequence, gates, states, manual, torch_name, options, "register_kind: ")
    _REGISTRY[name] = kind
    return kind


def _make_kind(name, cell, sequence, gates, states, manual, torch_name, options, prefix: str) -> RecurrentKind:
    if not (isinstance(cell, type) and issubclass(cell, Module) and callable(getattr(cell, "init_state", None))):
        raise TypeError(f"{prefix}{name}: cell must be a tl.nn.Module subclass with init_state(batch_size), "
                        f"got {cell!r}")
    if sequence is not None and not callable(sequence):
        raise TypeError(f"{prefix}{name}: sequence must be callable or None, got {type(sequence).__name__}")
    if manual is not None and not isinstance(manual, FusedReference):
        raise TypeError(f"{prefix}{name}: manual must be a FusedReference or None, got {type(manual).__name__}")
    if torch_name is not None and not isinstance(torch_name, str):
        raise TypeError(f"{prefix}{name}: torch_name must be a string or None, got {type(torch_name).__name__}")
    fields = {"gates": gates, "states": states, "options": options}
    for field_name, value in fields.items():
        if isinstance(value, str) or not all(isinstance(v, str) for v in value):
            raise TypeError(f"{prefix}{name}: {field_name} must be a sequence of strings, got {value!r}")
        fields[field_name] = tuple(value)
    if manual is not None and not fields["states"]:
        raise ValueError(f"{prefix}{name}: a kind with a manual reference must name its states (e.g. ('h',))")
    return RecurrentKind(name, cell, sequence, fields["gates"], fields["states"], manual, torch_name,
                         fields["options"])


def unregister_kind(name: str) -> None:
    """Remove a kind from the registry (a `KeyError` when it is not there)."""
    if name not in _REGISTRY:
        raise KeyError(f"unregister_kind: no recurrent kind {name!r}; registered: {', '.join(_REGISTRY)}")
    del _REGISTRY[name]


def kind_names() -> tuple:
    """The registered names, in the order they were registered."""
    return tuple(_REGISTRY)


def get_kind(kind, owner: str = "get_kind") -> RecurrentKind:
    """The record of `kind`: a registered name, a `RecurrentKind`, a cell class, or ``"module:Class"``.

    A cell class (or the sequence class of a registered kind, `tl.nn.LSTM`) is the registered
    kind with that class, or else a kind with only that cell, not registered, named
    ``"module:Class"`` after where the class is defined. ``"module:Class"`` imports
    ``module`` (from ``sys.path``) and takes its attribute ``Class``: a `RecurrentKind` or a
    class, as above. Error messages start with ``owner:`` (nothing for an empty `owner`).

    Raises
    ------
    KeyError
        An unknown name.
    ImportError
        The module of ``"module:Class"`` cannot be imported or has no such attribute.
    TypeError
        `kind` is not a string, a record or a cell class.
    """
    prefix = f"{owner}: " if owner else ""
    if isinstance(kind, RecurrentKind):
        return kind
    if isinstance(kind, type):
        return _kind_of_class(kind, f"{kind.__module__}:{kind.__qualname__}", prefix)
    if not isinstance(kind, str):
        raise TypeError(f"{prefix}expected a recurrent kind name, a RecurrentKind or a cell class, "
                        f"got {type(kind).__name__}")
    if kind in _REGISTRY:
        return _REGISTRY[kind]
    if ":" in kind:
        return _load(kind, prefix)
    raise KeyError(f"{prefix}unknown recurrent kind {kind!r}; registered: {', '.join(_REGISTRY)} "
                   f"(or module:Class for a cell class)")


def _load(path: str, prefix: str) -> RecurrentKind:
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise ImportError(f"{prefix}{path!r} is not of the form module:Class")
    try:
        module = importlib.import_module(module_name)
    except Exception as e:  # the user's module may fail in any way: say which, in one line
        raise ImportError(f"{prefix}cannot import {module_name!r} for {path!r}: {type(e).__name__}: {e}") from None
    value = module
    for part in attribute.split("."):
        if not hasattr(value, part):
            raise ImportError(f"{prefix}module {module_name!r} has no attribute {attribute!r}")
        value = getattr(value, part)
    if isinstance(value, RecurrentKind):
        return value
    return _kind_of_class(value, path, prefix)


def _kind_of_class(value, name: str, prefix: str) -> RecurrentKind:
    """The registered kind whose cell or sequence class is `value`, else a new record named `name`."""
    registered = next((k for k in _REGISTRY.values() if value in (k.cell, k.sequence)), None)
    if registered is not None:
        return registered
    return _make_kind(name, value, None, (), (), None, None, (), prefix)


def kind_of(module) -> RecurrentKind | None:
    """The registered kind `module` is an instance of, or None.

    A module is of a kind when its class is exactly the kind's sequence class or cell class
    (subclasses may change the math), or when it is a `tl.nn.Recurrent` of such cells (once
    they are built).
    """
    from .recurrent import Recurrent
    wrapped = None
    if type(module) is Recurrent:
        try:
            wrapped = type(module.cells[0][0])
        except RuntimeError:  # a factory's cells are built by the first call: no kind yet
            return None
    for kind in _REGISTRY.values():
        if wrapped is not None:
            if wrapped is kind.cell:
                return kind
        elif type(module) in (kind.cell, kind.sequence):
            return kind
    return None


def build_module(spec, input_size: int, hidden_size: int | None = None, num_layers: int = 1,
                 bidirectional: bool = False, dtype=np.float32, *, default_hidden_size: int | None = None,
                 owner: str = "build_module") -> Module:
    """A sequence module ``module(x (T, B, D), state=None) -> (output, final_state)`` from any cell spec.

    Parameters
    ----------
    spec : str, RecurrentKind, class, Module or callable
        A kind as `get_kind` takes it (a registered name, ``"module:Class"``, a record, a
        cell class): a fresh module of that kind (`RecurrentKind.build`). A cell (a `Module`
        following the protocol of `tl.nn.Recurrent`): used as is, as the first layer's forward
        cell of a `tl.nn.Recurrent` (further layers and directions are new cells of its class).
        A sequence module (`tl.nn.Recurrent`, `tl.nn.LSTM`, ...): used as is. A factory
        ``input_size -> cell``: a `tl.nn.Recurrent` of the cells it makes.
    input_size : int
        D: a given cell or module must have it.
    hidden_size : int, optional
        H: a given cell, module or factory must have it; None takes theirs, and
        `default_hidden_size` for a fresh module of a kind.
    num_layers, bidirectional
        As `tl.nn.LSTM` (a given sequence module must already have them).
    dtype : numpy floating dtype or None
        Fresh modules are built in it (float32 for None); a given cell or module is cast to
        it in place (`Module.to`), so the module returned is still the one given, or keeps
        its own dtype for None.
    owner : str
        Starts the error messages.

    Raises
    ------
    ValueError
        A given cell or module of other sizes than asked, an unknown kind (the message of
        `get_kind`), or a cell class or factory that breaks the protocol.
    TypeError
        `spec` is none of the above.

    Examples
    --------
    >>> import tinygrad_lstm as tl
    >>> build_module("gru", 2, 3)
    GRU(2, 3)
    >>> cell = tl.nn.PeepholeLSTMCell(2, 3)
    >>> build_module(cell, 2, num_layers=2).cells[0][0] is cell
    True
    >>> type(build_module(lambda size: tl.nn.GRUCell(size, 3), 2, 3, bidirectional=True)).__name__
    'Recurrent'
    """
    from .recurrent import Recurrent, check_cell
    from .rnn import RNNBase
    try:
        if isinstance(spec, (str, RecurrentKind, type)):
            hidden_size = check_size(default_hidden_size if hidden_size is None else hidden_size, "hidden_size", owner)
            return get_kind(spec, owner).build(input_size, hidden_size, num_layers=num_layers,
                                               bidirectional=bidirectional,
                                               dtype=np.float32 if dtype is None else dtype)
        if isinstance(spec, (Recurrent, RNNBase)):
            module = spec
            if (module.num_layers, module.bidirectional) != (num_layers, bool(bidirectional)):
                raise ValueError(f"{owner}: the module given has num_layers={module.num_layers}, bidirectional="
                                 f"{module.bidirectional}; asked for num_layers={num_layers}, "
                                 f"bidirectional={bool(bidirectional)}")
        elif isinstance(spec, Module):
            module = Recurrent(check_cell(spec, owner), num_layers=num_layers, bidirectional=bidirectional)
        elif callable(spec):
            module = Recurrent(spec, num_layers=num_layers, bidirectional=bidirectional, input_size=input_size)
        else:
            raise TypeError(f"{owner}: expected a recurrent kind, a cell class, a cell, a sequence module or a "
                            f"factory input_size -> cell, got {type(spec).__name__}")
    except (KeyError, ImportError) as e:
        raise ValueError(e.args[0]) from None
    for name, asked in (("input_size", input_size), ("hidden_size", hidden_size)):
        if module.input_size is not None and asked is not None and getattr(module, name) != asked:
            raise ValueError(f"{owner}: the {type(spec).__name__} given has {name}={getattr(module, name)}, "
                             f"expected {asked}")
    return module if dtype is None else module.to(dtype)


def module_kind(module) -> RecurrentKind:
    """The kind of a sequence module such as `build_module` returns: its registered kind
    (`kind_of`), else the record of its cells' class (`get_kind` of that class)."""
    kind = kind_of(module)
    if kind is not None:
        return kind
    from .recurrent import Recurrent
    if not isinstance(module, Recurrent):
        raise TypeError(f"module_kind: expected a recurrent sequence module, got {type(module).__name__}")
    return get_kind(type(module.cells[0][0]), owner="module_kind")


register_kind("rnn", RNNCell, sequence=RNN, gates=("h",), states=("h",),
              manual=FusedReference(rnn_forward_fused, rnn_backward_fused), torch_name="RNN",
              options=("nonlinearity",))
register_kind("lstm", LSTMCell, sequence=LSTM, gates=("i", "f", "g", "o"), states=("h", "c"),
              manual=FusedReference(lstm_forward_fused, lstm_backward_fused), torch_name="LSTM")
register_kind("gru", GRUCell, sequence=GRU, gates=("r", "z", "n"), states=("h",),
              manual=FusedReference(gru_forward_fused, gru_backward_fused), torch_name="GRU")
register_kind("peephole_lstm", PeepholeLSTMCell, gates=("i", "f", "g", "o"), states=("h", "c"))
register_kind("layernorm_lstm", LayerNormLSTMCell, gates=("i", "f", "g", "o"), states=("h", "c"))
