"""A character-level LSTM (or any cell) language model on any text, trained with truncated BPTT.

The text is cut into ``batch`` parallel streams, read ``seq_len`` characters at a time.
Each step predicts every next character of the chunk (cross entropy), backpropagates
through those ``seq_len`` steps only, clips the gradient norm and takes an Adam step.
The recurrent state is carried from one chunk to the next but cut out of the graph with
`tl.nn.detach_state`: the model reads the streams as one long sequence while every
backward pass stays ``seq_len`` steps long (truncated backpropagation through time).
Samples are drawn one character at a time from ``softmax(logits / temperature)``.

The default text is the Zen of Python (``import this``), which every Python has,
repeated `DEFAULT_REPEATS` times; ``text=`` takes any other string.

A checkpoint (`save_checkpoint`) is one flat `tl.save` archive: the model's parameters
(``model.*``), Adam's state (``optim.*``), the step, the carried state and the loss
history (``train.*``), the vocabulary, the kind of cell and the sizes (``config.*``). Resuming from it
continues exactly where the run stopped: training 40 steps, then resuming to 80, gives
the same parameters as training 80 steps at once.

>>> import numpy as np
>>> vocab = build_vocabulary("hello")
>>> vocab, encode("hole", vocab).tolist()
('ehlo', [1, 3, 2, 0])
>>> streams = make_streams(np.arange(10), batch=2)
>>> streams.T.tolist()
[[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]
"""
from __future__ import annotations

import argparse
import codecs
import contextlib
import io
import os
import pathlib
from dataclasses import dataclass, field

import numpy as np

from ..cli import add_cell_argument, non_negative_int, positive_float, positive_int
from ..engine import Tensor, no_grad
from ..compiler import jit as compile_step
from ..nn import Embedding, Linear, Module, detach_state
from ..nn.functional import cross_entropy, softmax
from ..nn.kinds import build_module, module_kind
from ..optim import Adam
from ..random import manual_seed
from ..serialization import load, save
from .training import add_optimizer_arguments, check_counts, fit, upgrade_state_dict

__all__ = ["DEFAULT_REPEATS", "default_text", "build_vocabulary", "encode", "decode", "make_streams", "CharLM",
           "sample", "save_checkpoint", "load_checkpoint", "CharResult", "train", "read_text", "add_arguments", "run"]

DEFAULT_REPEATS = 20
DEFAULT_HIDDEN = 128
LEGACY_CELL = "lstm"  # the cell of a checkpoint that does not name one (written before the tasks took any cell)
_SIZES = ("batch", "seq_len", "hidden", "embedding", "layers")  # what a resumed run must share with its checkpoint


def default_text() -> str:
    """The Zen of Python (PEP 20, the text ``import this`` prints), repeated `DEFAULT_REPEATS` times."""
    with contextlib.redirect_stdout(io.StringIO()):  # the first import of `this` prints the Zen
        import this
    zen = codecs.decode(this.s, "rot13").strip() + "\n\n"
    return zen * DEFAULT_REPEATS


def build_vocabulary(text: str) -> str:
    """The distinct characters of `text`, sorted: character ``vocab[i]`` has index ``i``."""
    if not text:
        raise ValueError("build_vocabulary: the text is empty")
    return "".join(sorted(set(text)))


def encode(text: str, vocab: str) -> np.ndarray:
    """Indices ``(len(text),)`` int64 of the characters of `text` in `vocab`.

    Raises
    ------
    ValueError
        `text` has characters that `vocab` lacks (they are listed).
    """
    index = {char: i for i, char in enumerate(vocab)}
    missing = sorted(set(text) - index.keys())
    if missing:
        raise ValueError(f"encode: characters not in the vocabulary: {''.join(missing)!r}")
    return np.fromiter((index[char] for char in text), dtype=np.int64, count=len(text))


def decode(indices, vocab: str) -> str:
    """The text of indices ``(N,)`` into `vocab`."""
    return "".join(vocab[i] for i in np.asarray(indices).reshape(-1))


def make_streams(ids: np.ndarray, batch: int) -> np.ndarray:
    """Cut ``ids (N,)`` into `batch` contiguous streams, one per column: ``(N // batch, batch)``.

    Column ``b`` holds ``ids[b * L:(b + 1) * L]`` with ``L = N // batch``; the last
    ``N % batch`` ids are dropped.
    """
    length = len(ids) // batch
    return ids[:batch * length].reshape(batch, length).T


class CharLM(Module):
    """Embedding, a recurrent module (an LSTM by default) and a linear decoder: ``logits (T, B, V)``
    of the next character.

    Parameters
    ----------
    vocab_size : int
        V, the number of distinct characters.
    embedding : int
        Size of the character embeddings.
    hidden : int, optional
        Hidden size H; default 128 for a kind, the cell's own for a given cell or factory.
    layers : int
        Recurrent layers.
    cell : str, RecurrentKind, class, Module or callable
        Anything `tl.nn.kinds.build_module` takes: a kind (``"lstm"``, ``"gru"``, a
        registered kind, ``"module:Class"``, a cell class), a cell of yours with
        ``input_size=embedding`` (used as is), a sequence module, or a factory
        ``input_size -> cell``.
    """

    def __init__(self, vocab_size: int, embedding: int = 32, hidden: int | None = None, layers: int = 1,
                 cell="lstm"):
        super().__init__()
        self.embedding = Embedding(vocab_size, embedding)
        self.rnn = build_module(cell, embedding, hidden, num_layers=layers, default_hidden_size=DEFAULT_HIDDEN,
                                owner="CharLM: cell")
        self.kind = module_kind(self.rnn)
        directions = 2 if self.rnn.bidirectional else 1
        self.decoder = Linear(directions * self.rnn.hidden_size, vocab_size)

    def forward(self, indices, state=None) -> tuple:
        """``indices (T, B)`` ints and the state (None for zeros), as the recurrent module takes it:
        ``(h, c)`` each ``(layers, B, H)`` for the LSTM, ``h`` for the GRU, ...

        Returns ``logits (T, B, V)`` and the final state, in the same format.
        """
        output, state = self.rnn(self.embedding(indices), state)
        steps, batch, features = output.shape
        logits = self.decoder(output.reshape(steps * batch, features))
        return logits.reshape(steps, batch, logits.shape[-1]), state

    def load_state_dict(self, state_dict, strict: bool = True):
        """`Module.load_state_dict`, also of the LSTM-only model's keys (``lstm.*``, now ``rnn.*``)."""
        return super().load_state_dict(upgrade_state_dict(state_dict), strict)


def sample(model: CharLM, vocab: str, length: int, temperature: float = 0.8, prime: str | None = None,
           rng: np.random.Generator | None = None) -> str:
    """Generate `length` characters after `prime`, each drawn from ``softmax(logits / temperature)``.

    Parameters
    ----------
    model : CharLM
    vocab : str
    length : int
        Characters to generate (the result also starts with `prime`).
    temperature : float > 0
        Below 1 sharpens the distribution (more likely characters), above 1 flattens it.
    prime : str, optional
        Text read first to set the state; default: the first character of `vocab`.
    rng : numpy Generator, optional

    Returns
    -------
    str
        `prime` followed by the generated characters.
    """
    if not temperature > 0:
        raise ValueError(f"sample: temperature must be positive, got {temperature!r}")
    rng = np.random.default_rng() if rng is None else rng
    prime = vocab[0] if not prime else prime
    generated = []
    with no_grad():
        logits, state = model(encode(prime, vocab).reshape(-1, 1))
        for _ in range(length):
            probabilities = softmax(logits[-1, 0] / temperature, dim=-1).data.astype(np.float64)
            index = int(rng.choice(len(vocab), p=probabilities / probabilities.sum()))
            generated.append(vocab[index])
            logits, state = model(np.array([[index]]), state)
    return prime + "".join(generated)


# --------------------------------------------------------------------------- checkpoints
def save_checkpoint(path, model: CharLM, optimizer: Adam, step: int, state, losses: np.ndarray, vocab: str,
                    config: dict) -> None:
    """Write everything a run needs to continue as one flat `tl.save` archive at `path`.

    Keys: ``model.<parameter>``, ``optim.<optimizer key>``, ``train.step``,
    ``train.losses`` ``(step,)``, the carried state (absent at the start of a pass over the
    text; a Tensor or a tuple of them, output first): ``train.h``, and ``train.c`` for a pair
    such as the LSTM's ``(h, c)``, or ``train.state0``, ``train.state1``, ... for more parts;
    ``config.vocab`` and ``config.cell`` (code points: the characters and the kind's name,
    `CharLM.kind`) and ``config.<size>``. The file is replaced atomically, so an interrupted
    save leaves the previous checkpoint intact.
    """
    archive = {f"model.{name}": array for name, array in model.state_dict().items()}
    archive.update((f"optim.{name}", array) for name, array in optimizer.state_dict().items())
    archive["train.step"] = np.array(step)
    archive["train.losses"] = np.asarray(losses[:step], dtype=np.float64)
    if state is not None:
        parts = state if isinstance(state, tuple) else (state,)
        archive.update((f"train.{name}", part.data) for name, part in zip(_state_names(len(parts)), parts))
    archive["config.vocab"] = _code_points(vocab)
    archive["config.cell"] = _code_points(model.kind.name)
    archive.update((f"config.{name}", np.array(config[name])) for name in _SIZES)
    path = os.fspath(path)
    partial = path + ".partial"
    save(archive, partial)
    os.replace(partial, path)


def load_checkpoint(path) -> dict:
    """Read a checkpoint written by `save_checkpoint`, split by section.

    Returns
    -------
    dict
        ``model`` and ``optim`` (state dicts), ``step`` (int), ``losses`` ``(step,)``,
        ``state`` (a tuple of arrays, the parts of the carried state output first, or None),
        ``vocab`` and ``cell`` (str; `LEGACY_CELL` for a checkpoint that names none) and
        ``config`` (dict of ints).
    """
    archive = load(path)
    sections = {"model": {}, "optim": {}, "train": {}, "config": {}}
    for key, array in archive.items():
        section, _, name = key.partition(".")
        if section not in sections or not name:
            raise KeyError(f"load_checkpoint: unexpected key {key!r} in '{os.fspath(path)}'; not a chars checkpoint")
        sections[section][name] = array
    train_part, config = sections["train"], sections["config"]
    missing = [k for k in ("step", "losses") if k not in train_part] + [k for k in _SIZES + ("vocab",)
                                                                          if k not in config]
    if missing:
        raise KeyError(f"load_checkpoint: '{os.fspath(path)}' lacks {missing}; not a chars checkpoint")
    count = len(train_part) - 2  # the parts of the carried state, besides the step and the losses
    names = _state_names(count)
    if any(name not in train_part for name in names):
        raise KeyError(f"load_checkpoint: '{os.fspath(path)}' has unexpected train.* keys "
                       f"{sorted(set(train_part) - {'step', 'losses'})}; not a chars checkpoint")
    cell = "".join(map(chr, config.pop("cell"))) if "cell" in config else LEGACY_CELL
    return dict(model=sections["model"], optim=sections["optim"], step=int(train_part["step"]),
                losses=train_part["losses"], state=tuple(train_part[name] for name in names) or None,
                vocab="".join(map(chr, config.pop("vocab"))), cell=cell,
                config={name: int(value) for name, value in config.items()})


def _state_names(count: int) -> tuple:
    """The checkpoint keys of a carried state of `count` parts: ``h``, ``h, c`` (the LSTM's), or ``state<k>``."""
    return ("h", "c")[:count] if count <= 2 else tuple(f"state{k}" for k in range(count))


def _code_points(text: str) -> np.ndarray:
    return np.array([ord(char) for char in text], dtype=np.int64)


# --------------------------------------------------------------------------- training
@dataclass
class CharResult:
    """What `train` returns.

    Attributes
    ----------
    model : CharLM
    vocab : str
    losses : ndarray (steps,)
        Training loss (nats per character) of every step, including those before a resume.
    start_step : int
        0, or the step the run resumed from.
    sample : str
        Text sampled after training.
    seconds : float
        Wall-clock time of the steps trained in this call.
    config : dict
        The arguments of `train` (without the text).
    """

    model: CharLM
    vocab: str
    losses: np.ndarray
    start_step: int
    sample: str
    seconds: float
    config: dict = field(default_factory=dict)


def train(text: str | None = None, steps: int = 500, batch: int = 32, seq_len: int = 32, hidden: int | None = None,
          embedding: int = 32, layers: int = 1, lr: float = 1e-2, clip: float | None = 1.0,
          sample_length: int = 300, temperature: float = 0.8, prime: str | None = None,
          checkpoint=None, resume: bool = False, checkpoint_every: int = 100, seed: int = 0,
          progress: bool = True, cell="lstm", jit: bool = False) -> CharResult:
    """Train `CharLM` on `text` with truncated BPTT, then sample from it.

    Step ``k`` reads chunk ``k mod n`` of the streams (``n`` chunks per pass over the
    text); the carried state starts from zeros at every pass.

    Parameters
    ----------
    text : str, optional
        The corpus; default `default_text()`.
    steps : int
        Train until this many steps in total (a resumed run continues up to it; a
        checkpoint already past it is not trained further).
    batch, seq_len : int
        Parallel streams, and characters per chunk (the truncation length of BPTT).
    hidden, embedding, layers : int
        Model sizes (see `CharLM`; `hidden` defaults to 128 for a kind, the cell's own for a
        given cell or factory).
    lr : float
        Adam's learning rate.
    clip : float or None
        Scale gradients to a total norm of at most this (None: no clipping).
    sample_length, temperature, prime
        The sample drawn at the end (see `sample`), from `prime` (default: the first
        character of the text); no sample when `sample_length` is 0.
    checkpoint : str or path-like, optional
        Write a checkpoint there every `checkpoint_every` steps and at the end.
    resume : bool
        Start from `checkpoint` (it must exist and have the same vocabulary, kind of cell and
        sizes; a checkpoint that names no cell is of the LSTM).
    seed : int
        Seeds the weights (`tl.manual_seed`) and the sampling generator.
    progress : bool
        Show a tqdm progress bar on stderr.
    cell : str, RecurrentKind, class, Module or callable
        The recurrent part (see `CharLM`): a kind, a cell of yours (the one trained), a
        sequence module or a factory ``input_size -> cell``.
    jit : bool
        Compile the loss function with `tl.jit` (traced once, replayed; the same numbers, faster).

    Returns
    -------
    CharResult
    """
    config = dict(steps=steps, batch=batch, seq_len=seq_len, hidden=hidden, embedding=embedding, layers=layers,
                  lr=lr, clip=clip, sample_length=sample_length, temperature=temperature, seed=seed)
    check_counts(dict(steps=steps, sample_length=sample_length), minimum=0)
    check_counts(dict(checkpoint_every=checkpoint_every, **{name: config[name] for name in _SIZES
                                                            if config[name] is not None}))
    if resume and checkpoint is None:
        raise ValueError("train: resume=True needs a checkpoint path")
    text = default_text() if text is None else text
    vocab = build_vocabulary(text)
    streams = make_streams(encode(text, vocab), batch)
    chunks = (len(streams) - 1) // seq_len
    if chunks < 1:
        raise ValueError(f"train: the text has {len(text)} characters, too few for batch={batch} streams of "
                         f"seq_len={seq_len} + 1 characters; use a longer text or a smaller batch or seq_len")

    manual_seed(seed)
    model = CharLM(len(vocab), embedding, hidden, layers, cell)
    config.update(cell=model.kind.name, hidden=model.rnn.hidden_size)
    optimizer = Adam(model.parameters(), lr=lr)
    start, state, previous_losses = 0, None, np.zeros(0)
    if resume:
        saved = load_checkpoint(checkpoint)
        if saved["vocab"] != vocab:
            raise ValueError(f"train: the checkpoint '{os.fspath(checkpoint)}' was trained on a text with another "
                             f"vocabulary ({len(saved['vocab'])} characters, this text has {len(vocab)})")
        if saved["cell"] != model.kind.name:
            raise ValueError(f"train: the checkpoint '{os.fspath(checkpoint)}' is of the cell {saved['cell']!r}, "
                             f"asked for {model.kind.name!r}")
        changed = {name: (saved["config"][name], config[name]) for name in _SIZES
                   if saved["config"][name] != config[name]}
        if changed:
            raise ValueError("train: the checkpoint has other sizes than asked (saved, asked): " +
                             ", ".join(f"{name}={pair}" for name, pair in changed.items()))
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optim"])
        for group in optimizer.param_groups:
            group["lr"] = lr  # the learning rate asked now wins over the saved one
        start, previous_losses = saved["step"], saved["losses"]
        if saved["state"] is not None:
            state = _carried_state(model, saved["state"], checkpoint)

    steps = max(steps, start)  # a checkpoint already past `steps` is only sampled
    losses = np.concatenate([previous_losses, np.zeros(steps - start)])

    def loss_of(inputs, targets, state):
        """The loss of ``inputs (T, B)`` against the next characters ``targets (T * B,)``, and the final state."""
        logits, state = model(inputs, state)
        # nothing to ignore: the targets index the logits themselves (what tl.jit can replay)
        return cross_entropy(logits.reshape(-1, len(vocab)), targets, ignore_index=None), state
    if jit:
        loss_of = compile_step(loss_of)

    def loss_at(step):
        nonlocal state
        offset = (step % chunks) * seq_len
        if offset == 0:
            state = None  # a new pass over the text starts from a zero state
        targets = streams[offset + 1:offset + seq_len + 1].reshape(-1)
        loss, state = loss_of(streams[offset:offset + seq_len], targets, state)
        return loss

    def after_step(step):
        nonlocal state
        state = detach_state(state)  # carried to the next chunk without its history
        if checkpoint is not None and (step + 1) % checkpoint_every == 0:
            save_checkpoint(checkpoint, model, optimizer, step + 1, state, losses, vocab, config)

    seconds = fit(list(model.parameters()), optimizer, loss_at, steps, clip=clip, start=start, losses=losses,
                  after_step=after_step, progress=progress, description=f"{model.kind.title} chars").seconds
    if checkpoint is not None and steps > start:
        save_checkpoint(checkpoint, model, optimizer, steps, state, losses, vocab, config)
    text_sample = ""
    if sample_length:
        text_sample = sample(model, vocab, sample_length, temperature, prime or text[0],
                             np.random.default_rng([seed, 1]))
    return CharResult(model, vocab, losses, start, text_sample, seconds, config)


def _carried_state(model: CharLM, parts: tuple, checkpoint):
    """The saved parts of a carried state in the format the model's recurrent module takes."""
    template = model.rnn.init_state(1)
    expected = len(template) if isinstance(template, tuple) else 1
    if len(parts) != expected:
        raise ValueError(f"train: the checkpoint '{os.fspath(checkpoint)}' carries a state of {len(parts)} parts, "
                         f"the {model.kind.title} takes {expected}")
    tensors = tuple(Tensor(array) for array in parts)
    return tensors if isinstance(template, tuple) else tensors[0]


# --------------------------------------------------------------------------- command line
def add_arguments(parser) -> None:
    """The options of ``tinygrad-lstm train --task chars``."""
    parser.add_argument("--text", metavar="PATH", help="train on this text file (default: the Zen of "
                        f"Python, `import this`, repeated {DEFAULT_REPEATS} times)")
    parser.add_argument("--encoding", type=_encoding, default="utf-8", metavar="NAME",
                        help="the encoding of --text (default: utf-8)")
    parser.add_argument("--steps", type=non_negative_int, metavar="N", default=500,
                        help="train until this many steps in total (default: 500)")
    parser.add_argument("--batch", type=positive_int, metavar="N", default=32, help="parallel streams of text (default: 32)")
    parser.add_argument("--seq-len", type=positive_int, metavar="N", default=32,
                        help="characters per chunk: how far BPTT reaches back (default: 32)")
    add_cell_argument(parser)
    parser.add_argument("--hidden", type=positive_int, metavar="N", default=DEFAULT_HIDDEN,
                        help=f"hidden size (default: {DEFAULT_HIDDEN})")
    parser.add_argument("--embedding", type=positive_int, metavar="N", default=32, help="character embedding size (default: 32)")
    parser.add_argument("--layers", type=positive_int, metavar="N", default=1, help="recurrent layers (default: 1)")
    add_optimizer_arguments(parser)
    parser.add_argument("--jit", action="store_true",
                        help="compile the forward and backward with tl.jit: traced once, replayed (same numbers)")
    parser.add_argument("--sample-length", type=non_negative_int, metavar="N", default=300,
                        help="characters to sample after training (default: 300)")
    parser.add_argument("--temperature", type=positive_float, metavar="X", default=0.8,
                        help="sampling temperature: lower is more conservative (default: 0.8)")
    parser.add_argument("--prime", metavar="TEXT", help="text the sample starts from (default: the first character of the text)")
    parser.add_argument("--checkpoint", metavar="PATH", help="save model and optimizer there every "
                        "--checkpoint-every steps and at the end")
    parser.add_argument("--checkpoint-every", type=positive_int, metavar="N", default=100,
                        help="steps between checkpoints (default: 100)")
    parser.add_argument("--resume", action="store_true", help="continue from --checkpoint up to --steps")


def read_text(path, encoding: str = "utf-8") -> str:
    """The text of the file at `path`, decoded from `encoding`.

    Raises
    ------
    OSError
        The file cannot be read (the error names it).
    ValueError
        Its bytes are not valid `encoding`: the message names the first bad byte's offset.
    """
    data = pathlib.Path(path).read_bytes()
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as e:
        raise ValueError(f"{os.fspath(path)} is not valid {encoding}: byte 0x{data[e.start]:02x} at offset {e.start} "
                         f"({e.reason}); name its encoding with --encoding, e.g. --encoding latin-1") from None


def _encoding(name: str) -> str:
    """An argparse type: a codec Python knows, or a usage error naming it."""
    try:
        codecs.lookup(name)
    except LookupError:
        raise argparse.ArgumentTypeError(f"unknown encoding {name!r}") from None
    return name


def run(args) -> int:
    """Train as `args` says, print the loss before and after and the sample; returns 0.

    Inconsistent options (a checkpoint of other sizes, a prime outside the vocabulary) raise a
    ValueError or KeyError, an unreadable file an OSError, an undecodable one a ValueError:
    `tinygrad_lstm.cli.run_command` makes each one line and exit code 2.
    """
    if args.resume and not args.checkpoint:
        raise ValueError("--resume needs --checkpoint PATH")
    text = None if args.text is None else read_text(args.text, args.encoding)
    result = train(text, steps=args.steps, batch=args.batch, seq_len=args.seq_len, hidden=args.hidden,
                   embedding=args.embedding, layers=args.layers, lr=args.lr, clip=args.clip or None,
                   sample_length=args.sample_length, temperature=args.temperature, prime=args.prime,
                   checkpoint=args.checkpoint, resume=args.resume, checkpoint_every=args.checkpoint_every,
                   seed=args.seed, progress=args.progress, cell=args.cell, jit=args.jit)
    corpus = args.text or f"the Zen of Python x{DEFAULT_REPEATS}"
    trained = len(result.losses) - result.start_step
    print(f"chars: {corpus}, {len(result.vocab)} distinct characters, learned by a {result.model.kind.title}; "
          f"uniform guessing scores {np.log(len(result.vocab)):.3f} nats/char")
    if len(result.losses):
        window = max(1, min(20, len(result.losses) // 5))
        first, last = result.losses[:window].mean(), result.losses[-window:].mean()
        print(f"loss (mean of {window} steps) {first:.3f} at the start, {last:.3f} after step {len(result.losses)} "
              f"({last / np.log(2):.2f} bits/char); " +
              (f"{trained} steps in {result.seconds:.1f} s" if trained else "no steps trained in this run"))
    if args.checkpoint:
        print(f"checkpoint: {args.checkpoint}")
    if result.sample:
        print(f"sample at temperature {args.temperature}:\n{result.sample}")
    return 0
