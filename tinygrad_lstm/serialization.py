"""`save` / `load`: state dicts as ``.npz`` archives through numpy, never pickle."""
from __future__ import annotations

import math
import os
import struct
import zipfile
import zlib
from collections import OrderedDict

import numpy as np

__all__ = ["save", "load"]

_REAL_KINDS = "fiub"  # bool, signed and unsigned int, float: what save writes and load reads
_NPY_MAGIC = b"\x93NUMPY"
_END_RECORD = struct.Struct("<4s4H2LH")  # zip's end of central directory record, without its comment


def real_array(value, owner: str, name: str) -> np.ndarray:
    """`value` as a numpy array of real numbers (bool, int or float), or a TypeError naming `name`.

    Tensors of this package and of PyTorch (parameters too) are detached first.
    """
    if not isinstance(value, np.ndarray) and callable(getattr(value, "detach", None)):
        value = value.detach()
    try:
        array = np.asarray(value)
    except (TypeError, ValueError, RuntimeError) as e:
        raise TypeError(f"{owner}: cannot convert {name!r} ({type(value).__name__}) to an array: {e}") from None
    if array.dtype.kind not in _REAL_KINDS:
        raise TypeError(f"{owner}: {name!r} has dtype {array.dtype}; expected an array of real numbers")
    return array


def save(state_dict, path) -> None:
    """Write a flat ``{name: array}`` mapping (e.g. ``module.state_dict()``) as an ``.npz`` archive.

    Parameters
    ----------
    state_dict : mapping of str to array_like
        Real numeric arrays (anything ``np.asarray`` converts, Tensors included).
    path : str, os.PathLike or writable binary file
        Written exactly as given (no suffix is added).

    Every value is validated before the file is opened, so a bad value leaves no file.
    The archive is a standard ``.npz``: ``numpy.load(path)`` reads it too.

    Examples
    --------
    >>> import io, tinygrad_lstm as tl
    >>> buffer = io.BytesIO()
    >>> tl.save(tl.nn.Linear(2, 3).state_dict(), buffer)
    >>> _ = buffer.seek(0)
    >>> {name: array.shape for name, array in tl.load(buffer).items()}
    {'weight': (3, 2), 'bias': (3,)}
    """
    if not hasattr(state_dict, "items"):
        raise TypeError(f"save: expected a mapping of names to arrays, got {type(state_dict).__name__}")
    arrays = OrderedDict()
    for name, value in state_dict.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"save: keys must be non-empty strings, got {name!r}")
        arrays[name] = real_array(value, "save", name)
    if isinstance(path, (str, os.PathLike)):
        path = os.fspath(path)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, array in arrays.items():
            with archive.open(name + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)


def load(path) -> OrderedDict:
    """Read an archive written by `save` (or ``numpy.savez``): ``{name: ndarray}`` in saved order.

    Parameters
    ----------
    path : str, os.PathLike or readable binary file
        Read exactly as given, like `save` writes it.

    Raises
    ------
    FileNotFoundError
        No file at `path` (the message points at ``path + ".npz"`` if that exists, the name
        ``numpy.savez`` would have written).
    ValueError
        The file is not an archive of arrays (a single ``.npy`` array, a PyTorch checkpoint, a
        pickle, text, an empty file), is truncated or corrupt, or holds an array that `save`
        refuses (strings, objects, complex numbers); the message names the file and the problem.

    Every array is read and checked before anything is returned: a bad file raises, it never
    gives part of a state dict. Nothing is unpickled, so loading cannot run code from the file.
    """
    if isinstance(path, (str, os.PathLike)):
        path = os.fspath(path)
        if not os.path.exists(path):
            hint = ""
            if os.path.exists(path + ".npz"):
                hint = f"; {path + '.npz'!r} exists (numpy.savez adds the .npz suffix, tl.save does not)"
            raise FileNotFoundError(f"load: no such file {path!r}{hint}")
        with open(path, "rb") as file:
            return _read_archive(file, repr(path))
    name = getattr(path, "name", None)
    return _read_archive(path, repr(name) if isinstance(name, str) else "the file")


# What a damaged archive raises from inside zipfile, zlib and numpy's .npy reader.
_DAMAGED = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError,
            RuntimeError, struct.error, OverflowError, KeyError)


def _read_archive(file, where: str) -> OrderedDict:
    """The arrays of the open binary `file`, an .npz archive; `where` names it in errors."""
    start = file.read(len(_NPY_MAGIC))
    file.seek(-len(start), os.SEEK_CUR)
    if not start:
        if file.tell():  # a file object left at the end of what was just written to it
            raise ValueError(f"load: {where} has nothing left to read at position {file.tell()}; "
                             f"rewind it with seek(0) first")
        raise ValueError(f"load: {where} is empty, not an .npz archive of arrays")
    if start == _NPY_MAGIC:
        raise ValueError(f"load: {where} holds a single array (.npy), not an .npz archive of named arrays")
    if not start.startswith(b"PK"):  # a pickle, PyTorch's legacy format, text: never unpickled
        raise ValueError(f"load: {where} is not an .npz archive of arrays (as tl.save and numpy.savez write)")
    try:
        archive = zipfile.ZipFile(file)
        listed = _listed_entries(file)
    except _DAMAGED as e:
        raise ValueError(f"load: {where} is a truncated or corrupt .npz archive ({type(e).__name__}: {e})") from None
    with archive:
        members = archive.infolist()
        if listed is not None and listed != len(members):
            raise ValueError(f"load: {where} is a corrupt .npz archive: its end record lists {listed} arrays, "
                             f"its directory describes {len(members)}")
        not_arrays = [member.filename for member in members if not member.filename.endswith(".npy")]
        if not_arrays:
            raise ValueError(f"load: {where} is a zip archive but not of .npy arrays (it holds {not_arrays[0]!r}); "
                             f"a PyTorch checkpoint is read with torch.load")
        arrays = OrderedDict()
        for member in members:
            name = member.filename[:-len(".npy")]
            try:
                dtype = _member_dtype(archive, member)
            except _DAMAGED as e:
                raise _damaged(where, name, e) from None
            if dtype.kind not in _REAL_KINDS:
                raise ValueError(f"load: {where}: {name!r} has dtype {dtype}; expected an array of real numbers "
                                 f"(bool, int or float, as tl.save writes)")
            try:
                with archive.open(member) as stream:  # zipfile checks the CRC as the last byte is read
                    arrays[name] = np.lib.format.read_array(stream, allow_pickle=False)
            except _DAMAGED as e:
                raise _damaged(where, name, e) from None
        return arrays


def _listed_entries(file) -> int | None:
    """The number of entries the zip end record of `file` announces, or None if it cannot tell.

    zipfile reads the central directory by its byte size, so a damaged entry can hide the
    entries after it; this count is the cross-check.
    """
    file.seek(-_END_RECORD.size, os.SEEK_END)
    signature, *_, entries, _, _, comment_length = _END_RECORD.unpack(file.read(_END_RECORD.size))
    if signature != b"PK\x05\x06" or comment_length or entries == 0xFFFF:  # a comment or zip64
        return None
    return entries


def _member_dtype(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> np.dtype:
    """The dtype in the header of the .npy `member`, after checking that its size matches the shape.

    The check comes before any data is read, so a corrupt header cannot make numpy allocate
    an array of the wrong size.
    """
    with archive.open(member) as stream:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
        else:  # 3.0 is 2.0 with UTF-8 field names, written only for structured dtypes (refused anyway)
            shape, _, dtype = np.lib.format.read_array_header_2_0(stream)
        if dtype.hasobject:
            return dtype
        nbytes = math.prod(shape) * dtype.itemsize
        if stream.tell() + nbytes != member.file_size:
            raise ValueError(f"its header declares shape {shape} of dtype {dtype} ({nbytes} bytes of data), "
                             f"the archive holds {member.file_size - stream.tell()}")
        return dtype


def _damaged(where: str, name: str, error: Exception) -> ValueError:
    return ValueError(f"load: {where} is truncated or corrupt: array {name!r} cannot be read "
                      f"({type(error).__name__}: {error})")
