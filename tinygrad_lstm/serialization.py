"""`save` / `load`: state dicts as ``.npz`` archives through numpy, never pickle."""
from __future__ import annotations

import os
import zipfile
from collections import OrderedDict

import numpy as np

__all__ = ["save", "load"]


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
    if array.dtype.kind not in "fiub":
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
        The file is not an archive of ``.npy`` arrays (a single ``.npy`` array, a PyTorch
        checkpoint, a pickle, text).

    Object arrays are refused (``allow_pickle=False``): loading never runs pickled code.
    """
    where = repr(os.fspath(path)) if isinstance(path, (str, os.PathLike)) else "the file"
    if isinstance(path, (str, os.PathLike)) and not os.path.exists(path):
        hint = ""
        if os.path.exists(os.fspath(path) + ".npz"):
            hint = f"; {os.fspath(path) + '.npz'!r} exists (numpy.savez adds the .npz suffix, tl.save does not)"
        raise FileNotFoundError(f"load: no such file {where}{hint}")
    try:
        archive = np.load(path, allow_pickle=False)
    except ValueError:
        # numpy takes anything unrecognised for a pickle, which load never unpickles
        raise ValueError(f"load: {where} is not an .npz archive of arrays (as tl.save and numpy.savez write)") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"load: {where} holds a single array (.npy), not an .npz archive of named arrays")
    with archive:
        not_arrays = [name for name in archive.zip.namelist() if not name.endswith(".npy")]
        if not_arrays:
            raise ValueError(f"load: {where} is a zip archive but not of .npy arrays (it holds {not_arrays[0]!r}); "
                             f"a PyTorch checkpoint is read with torch.load")
        return OrderedDict((name, archive[name]) for name in archive.files)
