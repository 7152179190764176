"""`Recurrent`: any cell unrolled over sequences, stacked in layers and directions.

The cell protocol, checked by `check_cell` when a `Recurrent` is built: a `Module` with
``forward(x_t, state) -> state`` and ``init_state(batch_size) -> state``, where the state is
a Tensor or a tuple of Tensors whose first element is the output ``h_t`` ``(B, H)``, and the
attributes ``input_size`` (D) and ``hidden_size`` (H). The built-in cells follow it.

Variable lengths go through `length_masks` and `masked_step`, shared with the built-in
sequence modules (`tl.nn.LSTM` ...), so ``lengths=`` means the same everywhere; a
`PackedSequence` input goes through `forward_packed`, which runs that same path.
"""
from __future__ import annotations

import contextlib
import inspect
import warnings

import numpy as np

from ..engine import Tensor, name_scope
from ..ops import DropoutMask, ZoneoutMask, concat, stack
from . import functional
from .layers import check_probability
from .module import Module, as_input, check_size
from .utils.rnn import PackedSequence, _pack, pad_packed_sequence

__all__ = ["Recurrent", "check_cell", "length_masks", "masked_step", "forward_packed", "NO_SEQUENCE", "StepWatcher",
           "watch_steps", "watching", "watch_gates"]

NO_SEQUENCE = object()  # a step mask meaning: no sequence of the batch has this step


# --------------------------------------------------------------------------- watching the steps
class StepWatcher:
    """Sees every step of every recurrent layer (`Recurrent` and `tl.nn.RNN/LSTM/GRU`) run while
    it is installed by `watch_steps`: how `tl.viz.diagnose_bptt` looks inside the recurrence.

    The methods are called inside the step's name scope (``l0/t=3``); override what you need.
    """

    def begin_step(self, module: Module, layer: int, direction: int, t: int) -> None:
        """Step `t` (in input order) of `layer` and `direction` (1: reverse) of `module` starts."""

    def parameter(self, parameter: Tensor) -> Tensor:
        """What the step reads instead of `parameter`: an alias (an identity op) gets this step's
        share of the parameter's gradient. Called once per parameter per step."""
        return parameter

    def gates(self, activations: dict) -> None:
        """The gate activations the cell declared with `watch_gates` in this step."""

    def end_step(self, state: tuple) -> None:
        """The step's new state, output first (``(h,)``, ``(h, c)``), before length masks."""


_watcher: StepWatcher | None = None  # the installed watcher; the steps check it once per layer


class watch_steps:
    """Install `watcher` for the recurrent layers run inside: ``with watch_steps(watcher): model(x)``.

    In this mode the built-in sequence modules project their input step by step (one matmul
    per step instead of one per layer), so that every parameter is read inside a step.
    """

    def __init__(self, watcher: StepWatcher):
        self.watcher = watcher

    def __enter__(self) -> StepWatcher:
        global _watcher
        if _watcher is not None:
            raise RuntimeError("watch_steps: another watcher is installed (diagnoses do not nest)")
        _watcher = self.watcher
        return self.watcher

    def __exit__(self, *exc) -> bool:
        global _watcher
        _watcher = None
        return False


def watching() -> StepWatcher | None:
    """The installed `StepWatcher`, or None (the usual case)."""
    return _watcher


def watch_gates(**activations) -> None:
    """Declare this step's gate activations, each ``(B, H)``, by name; returns nothing.

    A cell calls it in its forward, after computing its gates, with the names its kind gives
    them (``tl.nn.watch_gates(i=i, f=f, g=g, o=o)``): `tl.viz.diagnose_bptt` then records them
    step by step. Outside a diagnosis it does nothing.
    """
    if _watcher is not None:
        _watcher.gates(activations)


class _read_through:
    """Within: every parameter of `cell` and its submodules reads as ``alias(parameter)``.

    The aliases shadow the parameters as instance attributes (what a forward reads), as
    `Recurrent._bind_cells` does; the registries are untouched and everything is restored after.
    """

    def __init__(self, cell: Module, alias):
        self.cell, self.alias, self.shadowed = cell, alias, []

    def __enter__(self) -> None:
        for module in self.cell.modules():
            for name, parameter in module._parameters.items():
                if parameter is not None:
                    self.shadowed.append((module, name, module.__dict__[name]))
                    object.__setattr__(module, name, self.alias(parameter))

    def __exit__(self, *exc) -> bool:
        for module, name, value in reversed(self.shadowed):
            object.__setattr__(module, name, value)
        return False


def length_masks(lengths, steps: int, batch: int, dtype, owner: str) -> list | None:
    """Per step: None (every sequence has it), `NO_SEQUENCE`, or a ``(B, 1)`` 0/1 mask of `dtype`.

    `lengths` is ``(B,)`` integers in ``[1, steps]``, or None (all sequences full length).
    """
    if lengths is None:
        return None
    lengths = np.asarray(lengths.data if isinstance(lengths, Tensor) else lengths)
    if lengths.shape != (batch,) or lengths.dtype.kind not in "iu":
        raise ValueError(f"{owner}: lengths must be {batch} integers (one per sequence), "
                         f"got shape {lengths.shape} and dtype {lengths.dtype}")
    if lengths.min() < 1 or lengths.max() > steps:
        raise ValueError(f"{owner}: lengths must be in [1, {steps}], got {lengths.tolist()}")
    masks = []
    for t in range(steps):
        valid = t < lengths
        if valid.all():
            masks.append(None)
        elif not valid.any():
            masks.append(NO_SEQUENCE)
        else:
            masks.append(valid.astype(dtype)[:, None])
    return masks


def forward_packed(module: Module, packed: PackedSequence, state, lengths) -> tuple:
    """``module.forward`` on a `PackedSequence`, as PyTorch's modules: ``(packed output, final state)``.

    The sequences are unpacked to the padded batch in their original order and run with
    ``lengths=``, so `state` and the final state are in the original batch order (PyTorch
    permutes them by ``sorted_indices`` / ``unsorted_indices`` to the same effect); the output
    is packed in the input's order, with its ``batch_sizes`` and indices.
    """
    if lengths is not None:
        raise ValueError(f"{type(module).__name__}: a PackedSequence carries its lengths; do not pass lengths= too")
    padded, lengths = pad_packed_sequence(packed, batch_first=module.batch_first)
    output, final = module.forward(padded, state, lengths=lengths)
    sorted_lengths = lengths if packed.sorted_indices is None else lengths[packed.sorted_indices]
    return _pack(output, sorted_lengths, packed.sorted_indices, module.batch_first), final


def masked_step(state: tuple, new_state: tuple, mask) -> tuple:
    """``(state, output)`` after one step; with a ``(B, 1)`` `mask`, the sequences past their
    length keep their state and output zeros."""
    if mask is None:
        return new_state, new_state[0]
    return tuple(old + mask * (new - old) for old, new in zip(state, new_state)), new_state[0] * mask


def check_cell(cell, owner: str = "Recurrent") -> Module:
    """`cell` if it follows the cell protocol, else a TypeError naming what it lacks."""
    if not isinstance(cell, Module):
        raise TypeError(f"{owner}: a cell must be a tl.nn.Module, got {type(cell).__name__}")
    missing = []
    if type(cell).forward is Module.forward:
        missing.append("forward(x_t, state)")
    if not callable(getattr(cell, "init_state", None)):
        missing.append("init_state(batch_size)")
    for name in ("hidden_size", "input_size"):
        value = getattr(cell, name, None)
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            missing.append(f"{name} (a positive int)")
    if missing:
        raise TypeError(f"{owner}: cell {type(cell).__name__} lacks {', '.join(missing)}; a cell needs "
                        f"forward(x_t, state) -> state, init_state(batch_size) -> state, and the attributes "
                        f"input_size and hidden_size")
    _check_state(cell, cell.init_state(2), 2, "init_state(2)", owner)
    return cell


def _check_state(cell: Module, state, batch: int, source: str, owner: str) -> None:
    """A TypeError (not a Tensor or tuple of them) or ValueError (h not ``(batch, hidden_size)``)
    naming the cell and what `source` returned, when `state` breaks the protocol."""
    parts = _parts(state) if state is not None else ()
    if not parts or not all(isinstance(part, (Tensor, np.ndarray)) for part in parts):
        raise TypeError(f"{owner}: {type(cell).__name__}.{source} returned {_describe(state)}; a cell's state is a "
                        f"Tensor h ({batch}, hidden_size) or a tuple of Tensors whose first element is h")
    expected = (batch, cell.hidden_size)
    if np.shape(parts[0]) != expected:
        raise ValueError(f"{owner}: {type(cell).__name__}.{source} returned h of shape {np.shape(parts[0])}, "
                         f"expected (batch, hidden_size) = {expected}")


def _parts(state) -> tuple:
    """A state as a tuple of tensors, output first."""
    return tuple(state) if isinstance(state, (tuple, list)) else (state,)


def _check_cell_class(cls: type) -> None:
    """A cell class used as a factory must be callable as ``cls(input_size)``: say so now, not at the first call."""
    try:
        inspect.signature(cls).bind(1)
    except TypeError:
        raise TypeError(f"Recurrent: got the class {cls.__name__}, which cannot be built from input_size alone; "
                        f"pass a cell, e.g. Recurrent({cls.__name__}(input_size, hidden_size)), or a factory, "
                        f"e.g. Recurrent(lambda input_size: {cls.__name__}(input_size, hidden_size))") from None


def _suffix(layer: int, direction: int) -> str:
    """PyTorch's parameter-name suffix: ``_l0``, ``_l0_reverse``, ``_l1`` ..."""
    return f"_l{layer}" + ("_reverse" if direction else "")


def _rebuild(cell: Module, input_size: int) -> Module:
    """A new cell of `cell`'s class for `input_size` inputs, with fresh parameters.

    As ``sklearn.base.clone``: every other constructor argument is read from the cell's
    attribute of the same name, or left at its default; the new cell takes the dtype of the
    cell's parameters.
    """
    cls = type(cell)
    hint = (f"pass a factory instead, e.g. Recurrent(lambda input_size: {cls.__name__}(input_size, ...), "
            f"input_size=...)")
    parameters = inspect.signature(cls).parameters
    if "input_size" not in parameters:
        raise TypeError(f"Recurrent: cannot build more {cls.__name__} cells: its constructor has no input_size "
                        f"argument; {hint}")
    arguments = {}
    for name, parameter in parameters.items():
        if name == "input_size" or parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        value = getattr(cell, name, parameter.default)
        if isinstance(parameter.default, bool) and (value is None or isinstance(value, Tensor)):
            value = value is not None  # a switch stored as what it switches on: bias=True -> the bias parameter
        if value is parameter.empty:
            raise TypeError(f"Recurrent: cannot build more {cls.__name__} cells: the constructor argument {name!r} "
                            f"is not an attribute of the cell; {hint}")
        arguments[name] = value
    clone = cls(input_size=input_size, **arguments)
    dtypes = {parameter.dtype for parameter in cell.parameters()}
    return clone.to(dtypes.pop()) if len(dtypes) == 1 else clone  # a cell cast after construction (.to)


class Recurrent(Module):
    """Unroll any cell over a sequence, in layers and directions:
    ``(output, final_state) = Recurrent(cell)(x, state=None, lengths=None)``.

    Parameters
    ----------
    cell : Module, or a factory ``input_size -> cell``
        A cell following the protocol of this module (see `check_cell`): the first layer's
        forward cell, the others being new cells of its class built with the same
        constructor arguments and fresh parameters. Or a factory such as
        ``lambda input_size: tl.nn.LSTMCell(input_size, 8)``, called once per layer and
        direction: with `input_size` at construction, otherwise at the first call, from the
        input's last dimension (until then the module has no parameters).
    num_layers : int
        Layer ``k > 0`` reads the outputs of layer ``k - 1`` (both directions concatenated).
    bidirectional : bool
        A second cell per layer reads the sequence backwards.
    batch_first : bool
        ``x`` and ``output`` are ``(B, T, ...)`` instead of ``(T, B, ...)``.
    dropout : float
        In training, dropout on the outputs of every layer but the last (as `tl.nn.LSTM`).
    variational_dropout : float
        In training, dropout with one mask per sequence, the same at every step, on each
        layer's input ``x_t`` and on the recurrent output ``h_{t-1}`` fed back to the cell
        (Gal & Ghahramani 2016); other state elements (an LSTM's ``c``) are not dropped.
    zoneout : float
        Each state unit keeps its previous value with this probability: in training a new
        random mask at every step, in evaluation the expectation
        ``p * previous + (1 - p) * new`` (Krueger et al. 2017). The output is the zoned state.
    input_size : int, optional
        The number of input features, for a factory (to build the cells at once).

    With one layer and one direction (the defaults) the cell is the child ``cell``: parameters
    ``cell.weight_ih`` ..., state shapes the cell's own. Otherwise the parameters take
    PyTorch's suffixes: a cell parameter ``weight_ih`` becomes ``weight_ih_l0``,
    ``weight_ih_l0_reverse``, ``weight_ih_l1`` ..., a cell submodule ``ln_ih`` becomes
    ``ln_ih_l0`` (so ``ln_ih.weight`` becomes ``ln_ih_l0.weight``), and each state element is
    stacked to ``(num_layers * num_directions, B, size)`` in the order l0, l0_reverse, l1 ...
    With built-in cells the names, state dicts and results are those of `tl.nn.LSTM` /
    `GRU` / `RNN` (and PyTorch's). These suffixed attributes own the parameters; the cells in
    `cells` compute with them, rebound at every call.

    Random masks come from the global generator, so ``tl.manual_seed`` makes them repeatable.
    Step ``t`` runs in name scope ``t=<t>`` (under ``l0``, ``l0_reverse`` ... when stacked),
    the cell inside it in its own (``recurrent/t=3/cell``). For truncated BPTT, pass the final
    state through `detach_state` before feeding it to the next chunk.

    Examples
    --------
    >>> import tinygrad_lstm as tl
    >>> rnn = tl.nn.Recurrent(tl.nn.LSTMCell(4, 8))
    >>> output, (h, c) = rnn(tl.randn(5, 3, 4, dtype="float32"))
    >>> output.shape, h.shape
    ((5, 3, 8), (3, 8))
    >>> deep = tl.nn.Recurrent(tl.nn.PeepholeLSTMCell(4, 8), num_layers=2, bidirectional=True)
    >>> output, (h_n, c_n) = deep(tl.randn(5, 3, 4, dtype="float32"), lengths=[5, 2, 4])
    >>> output.shape, h_n.shape
    ((5, 3, 16), (4, 3, 8))
    """

    def __init__(self, cell, num_layers: int = 1, bidirectional: bool = False, batch_first: bool = False,
                 dropout: float = 0.0, variational_dropout: float = 0.0, zoneout: float = 0.0, *,
                 input_size: int | None = None):
        super().__init__()
        self.num_layers = check_size(num_layers, "num_layers", "Recurrent")
        self.bidirectional = bool(bidirectional)
        self.batch_first = bool(batch_first)
        self.dropout = check_probability(dropout, "Recurrent")
        self.variational_dropout = check_probability(variational_dropout, "Recurrent", "variational_dropout")
        self.zoneout = check_probability(zoneout, "Recurrent", "zoneout")
        if self.dropout > 0 and self.num_layers == 1:
            warnings.warn(f"Recurrent: dropout={self.dropout} acts between layers and has no effect with "
                          f"num_layers=1", stacklevel=2)
        self._stacked = self.num_layers > 1 or self.bidirectional
        self.input_size = self.hidden_size = self.dtype = None
        if isinstance(cell, type) and issubclass(cell, Module):
            _check_cell_class(cell)
        if not isinstance(cell, Module) and callable(cell) and input_size is None:
            object.__setattr__(self, "_factory", cell)  # built by the first call, from the input's size
            return
        self._materialize(cell, input_size)

    def _materialize(self, cell, input_size) -> None:
        """Build the cells and register their parameters (at construction, or at the first call)."""
        cells = self._build(cell, input_size)
        first = cells[0][0]
        self.input_size, self.hidden_size = int(first.input_size), int(first.hidden_size)
        self.dtype = np.dtype(first.dtype) if getattr(first, "dtype", None) is not None else None
        self.__dict__.pop("_factory", None)
        if not self._stacked:
            self.cell = first
            return
        object.__setattr__(self, "_cells", cells)  # not children: their parameters are registered below
        for layer, directions in enumerate(cells):
            for direction, member in enumerate(directions):
                for name, value in [*member.named_parameters(recurse=False), *member.named_children()]:
                    setattr(self, name + _suffix(layer, direction), value)

    def _check_built(self, what: str) -> None:
        if "_factory" in self.__dict__:
            raise RuntimeError(f"Recurrent.{what}: the cells are built by the first call, from the input's "
                               f"size; call the module once, or pass input_size= to the constructor")

    def _build(self, cell, input_size) -> list:
        """``cells[layer][direction]``, checked against the protocol and the sizes they must have."""
        if isinstance(cell, Module):
            check_cell(cell)
            if input_size is not None and input_size != cell.input_size:
                raise ValueError(f"Recurrent: input_size={input_size} differs from the cell's input_size="
                                 f"{cell.input_size}")
            given, factory = cell, (lambda size: _rebuild(cell, size))
        elif callable(cell):
            given, factory = None, cell
            input_size = check_size(input_size, "input_size", "Recurrent")
        else:
            raise TypeError(f"Recurrent: expected a cell (a tl.nn.Module) or a factory input_size -> cell, "
                            f"got {type(cell).__name__}")
        cells, hidden_size = [], None
        for layer in range(self.num_layers):
            if layer == 0:
                size = input_size if given is None else given.input_size
            else:
                size = self.num_directions * hidden_size
            directions = []
            for direction in range(self.num_directions):
                member = given if given is not None and (layer, direction) == (0, 0) else check_cell(factory(size))
                if member.input_size != size:
                    raise ValueError(f"Recurrent: the cell of layer {layer} needs input_size={size}, "
                                     f"the factory made one with input_size={member.input_size}")
                hidden_size = hidden_size or member.hidden_size
                if member.hidden_size != hidden_size:
                    raise ValueError(f"Recurrent: all cells need the same hidden_size; layer {layer} has "
                                     f"{member.hidden_size}, layer 0 has {hidden_size}")
                directions.append(member)
            cells.append(directions)
        return cells

    @property
    def num_directions(self) -> int:
        """2 when bidirectional, else 1."""
        return 2 if self.bidirectional else 1

    @property
    def cells(self) -> tuple:
        """The cell of each layer and direction: ``cells[layer][direction]``, holding this module's
        current parameters (after a `to` or a `load_state_dict` too)."""
        self._check_built("cells")
        if not self._stacked:
            return ((self.cell,),)
        self._bind_cells()
        return tuple(map(tuple, self._cells))

    def _bind_cells(self) -> None:
        """Give each stacked cell this module's (suffixed) parameters and submodules, mode and dtype."""
        for layer, directions in enumerate(self._cells):
            for direction, member in enumerate(directions):
                for registry in (member._parameters, member._modules):
                    for name in registry:
                        value = getattr(self, name + _suffix(layer, direction))
                        registry[name] = value
                        object.__setattr__(member, name, value)
                object.__setattr__(member, "training", self.training)
                if isinstance(member.__dict__.get("dtype"), np.dtype):
                    object.__setattr__(member, "dtype", self.dtype)

    def init_state(self, batch_size: int) -> Tensor | tuple:
        """The zero state: the cell's own with one layer and direction, else each element
        stacked to ``(num_layers * num_directions, batch_size, size)``."""
        self._check_built("init_state")
        if not self._stacked:
            return self.cell.init_state(batch_size)
        self._bind_cells()
        return _stack_states([member.init_state(batch_size) for directions in self._cells for member in directions])

    def forward(self, x, state=None, lengths=None) -> tuple:
        """Run every layer and direction over the sequence.

        Parameters
        ----------
        x : Tensor or array_like
            ``(T, B, input_size)``, or ``(B, T, input_size)`` with ``batch_first``, or
            unbatched ``(T, input_size)`` (as `tl.nn.LSTM`: the state and results then have
            no batch axis).
        state : Tensor or tuple of Tensors, optional
            The initial state: the cell's own with one layer and direction, else each element
            ``(num_layers * num_directions, B, size)``. `init_state` when omitted.
        lengths : sequence of int, optional
            ``(B,)`` valid steps per sequence, each in ``[1, T]``, as the built-in modules:
            outputs past a sequence's length are zero, its final state is that of its last
            valid step, and the reverse direction starts at its last valid step.

        Returns
        -------
        output : Tensor
            ``(T, B, num_directions * H)`` (``(B, T, ...)`` with ``batch_first``): the first
            state element of every step, directions concatenated, of the last layer.
        final_state : Tensor or tuple of Tensors
            Shaped as `state`.

        A `tl.nn.utils.rnn.PackedSequence` `x` (no `lengths`) gives a packed `output`, as
        `tl.nn.LSTM`; `state` and `final_state` are then in the original batch order.
        """
        if isinstance(x, PackedSequence):
            return forward_packed(self, x, state, lengths)
        if "_factory" in self.__dict__:
            size = np.shape(x.data if isinstance(x, Tensor) else x)
            if len(size) not in (2, 3):
                raise ValueError(f"Recurrent: expected input with 3 dimensions, or 2 unbatched, got shape {size}")
            self._materialize(self._factory, size[-1])
        if self._stacked:
            self._bind_cells()
        cells = self.cells
        dtype = getattr(cells[0][0], "dtype", None)
        x = as_input(x, dtype, "Recurrent") if dtype is not None else (x if isinstance(x, Tensor) else Tensor(x))
        layout = "(B, T, D)" if self.batch_first else "(T, B, D)"
        if x.ndim not in (2, 3):
            raise ValueError(f"Recurrent: expected input with 3 dimensions {layout} or 2 (T, D), got shape {x.shape}")
        if x.shape[-1] != self.input_size:
            raise ValueError(f"Recurrent: input size {x.shape[-1]} does not match input_size={self.input_size} "
                             f"(input shape {x.shape})")
        batched = x.ndim == 3
        if not batched:
            if lengths is not None:
                raise ValueError(f"Recurrent: lengths needs a batched input (3 dimensions), got shape {x.shape}")
            x = x.reshape(x.shape[0], 1, x.shape[1])
            if state is not None:
                h_shape = (self.num_layers * self.num_directions,) * self._stacked + (self.hidden_size,)
                given = np.shape(_parts(state)[0].data if isinstance(_parts(state)[0], Tensor) else _parts(state)[0])
                if given != h_shape:
                    raise ValueError(f"Recurrent: for an unbatched input (shape {(x.shape[0], x.shape[2])}) the state has no "
                                     f"batch axis: expected h of shape {h_shape}, got {given}")
                state = _with_batch_axis(state, -2, dtype)
        elif self.batch_first:
            x = x.permute(1, 0, 2)
        steps, batch, _ = x.shape
        if steps == 0:
            raise ValueError(f"Recurrent: the input has no time steps (shape {x.shape})")
        masks = length_masks(lengths, steps, batch, x.dtype, "Recurrent")
        initial = self._initial_states(state, batch, x.dtype)

        layer_input, finals = x, []
        for layer, directions in enumerate(cells):
            outputs = []
            for direction, member in enumerate(directions):
                scope = name_scope(_suffix(layer, direction)[1:]) if self._stacked else contextlib.nullcontext()
                with scope:
                    output, final = self._run(member, layer_input, initial[layer * len(directions) + direction],
                                              (layer, direction), masks)
                outputs.append(output)
                finals.append(final)
            layer_input = outputs[0] if len(outputs) == 1 else concat(outputs, axis=2)
            if self.training and self.dropout > 0 and layer < self.num_layers - 1:
                layer_input = functional.dropout(layer_input, self.dropout)

        final = _stack_states(finals) if self._stacked else finals[0]
        if not batched:
            return layer_input.squeeze(1), _without_batch_axis(final, -2)
        return (layer_input.permute(1, 0, 2) if self.batch_first else layer_input), final

    def _initial_states(self, state, batch: int, dtype) -> list:
        """One initial state per layer and direction, in the cells' own format."""
        if not self._stacked:
            return [self.cell.init_state(batch) if state is None else state]
        if state is None:
            return [member.init_state(batch) for directions in self._cells for member in directions]
        template = self.init_state(batch)
        expected = _parts(template)
        if isinstance(template, tuple) != isinstance(state, (tuple, list)) or len(_parts(state)) != len(expected):
            raise TypeError(f"Recurrent: the state must be {_describe(template)} like init_state(B), "
                            f"got {_describe(state)}")
        stacked = []
        for k, (part, zeros) in enumerate(zip(_parts(state), expected)):
            part = as_input(part, dtype, "Recurrent", f"state element {k}")
            if part.shape != zeros.shape:
                raise ValueError(f"Recurrent: expected state element {k} of shape {zeros.shape} "
                                 f"(num_layers * num_directions, B, size), got {part.shape}")
            stacked.append(part.unbind(0))
        per_cell = list(zip(*stacked))
        return per_cell if isinstance(template, tuple) else [parts[0] for parts in per_cell]

    def _run(self, cell: Module, x: Tensor, state, where: tuple, masks) -> tuple:
        """One layer in one direction, ``where = (layer, direction)``: ``(outputs (T, B, H), final state)``."""
        tuple_state = isinstance(state, (tuple, list))
        state = _parts(state)
        steps, batch, features = x.shape
        input_keep = state_keep = None
        if self.training and self.variational_dropout > 0:
            input_keep = _keep_mask((batch, features), self.variational_dropout, x.dtype)
            state_keep = _keep_mask(state[0].shape, self.variational_dropout, x.dtype)
        inputs = x.unbind(0)
        outputs = [None] * steps
        zeros = None
        checked = False
        watcher = _watcher
        for t in (reversed(range(steps)) if where[1] else range(steps)):
            mask = None if masks is None else masks[t]
            if mask is NO_SEQUENCE:
                # No sequence has step t: the state carries over, the output is zero.
                if zeros is None:
                    zeros = Tensor._wrap(np.zeros(state[0].shape, state[0].dtype), None, 0)
                outputs[t] = zeros
                continue
            with name_scope(f"t={t}"):
                x_t = inputs[t] if input_keep is None else inputs[t] * input_keep
                fed = state if state_keep is None else (state[0] * state_keep, *state[1:])
                if watcher is None:
                    new_state = cell(x_t, fed if tuple_state else fed[0])
                else:
                    watcher.begin_step(self, *where, t)
                    with _read_through(cell, watcher.parameter):
                        new_state = cell(x_t, fed if tuple_state else fed[0])
                if not checked:  # the protocol, once per layer and direction
                    _check_state(cell, new_state, batch, "forward(x_t, state)", "Recurrent")
                    checked = True
                tuple_state = isinstance(new_state, (tuple, list))
                new_state = _parts(new_state)
                if self.zoneout > 0:
                    new_state = self._zone(state, new_state)
                if watcher is not None:
                    watcher.end_step(new_state)
                state, outputs[t] = masked_step(state, new_state, mask)
        return stack(outputs, axis=0), (tuple(state) if tuple_state else state[0])

    def _zone(self, previous: tuple, new: tuple) -> tuple:
        """Zoneout: each unit keeps its previous value with probability p (the expectation in evaluation)."""
        p = self.zoneout
        if not self.training:
            return tuple(n + p * (old - n) for old, n in zip(previous, new))
        zoned = []
        for old, n in zip(previous, new):
            keep, change = ZoneoutMask.apply(shape=old.shape, p=p, dtype=old.dtype)
            zoned.append(old * keep + n * change)  # kept units exactly
        return tuple(zoned)

    def extra_repr(self) -> str:
        options = [f"num_layers={self.num_layers}" if self.num_layers != 1 else "",
                   "bidirectional=True" if self.bidirectional else "",
                   "batch_first=True" if self.batch_first else "",
                   f"dropout={self.dropout}" if self.dropout else "",
                   f"variational_dropout={self.variational_dropout}" if self.variational_dropout else "",
                   f"zoneout={self.zoneout}" if self.zoneout else ""]
        if self._stacked:
            first = self._cells[0][0]
            options.insert(0, f"{type(first).__name__}({first.extra_repr()})")  # its submodules are listed below
        return ", ".join(option for option in options if option)


def _keep_mask(shape: tuple, p: float, dtype) -> Tensor | np.ndarray:
    """Inverted-dropout mask: 0 with probability p, else 1 / (1 - p) (drawn by an op, so a compiled step draws afresh)."""
    if p == 1:
        return np.zeros(shape, dtype)
    return DropoutMask.apply(shape=shape, p=p, dtype=dtype)


def _with_batch_axis(state, axis: int, dtype):
    """An unbatched state (each element ``(..., size)``) with a batch axis of 1 inserted at `axis`."""
    parts = tuple(as_input(part, dtype, "Recurrent", f"state element {k}") if dtype is not None
                  else (part if isinstance(part, Tensor) else Tensor(part)) for k, part in enumerate(_parts(state)))
    parts = tuple(part.unsqueeze(part.ndim + 1 + axis) for part in parts)
    return parts if isinstance(state, (tuple, list)) else parts[0]


def _without_batch_axis(state, axis: int):
    """`state` with its batch axis of 1 (at `axis` of each element) removed."""
    parts = tuple(part.squeeze(part.ndim + axis) for part in _parts(state))
    return parts if isinstance(state, (tuple, list)) else parts[0]


def _stack_states(states: list):
    """Per-cell states (Tensors or tuples) -> each element stacked along a new first axis."""
    parts = [_parts(s) for s in states]
    stacked = tuple(stack([p[k] for p in parts], axis=0) for k in range(len(parts[0])))
    return stacked if isinstance(states[0], (tuple, list)) else stacked[0]


def _describe(state) -> str:
    if isinstance(state, (tuple, list)):
        return f"a tuple of {len(state)}"
    return "a Tensor" if isinstance(state, Tensor) else type(state).__name__
