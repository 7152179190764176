"""`save` / `load`: state dicts as ``.npz`` archives through numpy, never pickle."""
from __future__ import annotations

import os
import zipfile
from collections import OrderedDict

import numpy as np

__all__ = ["save", "load"]


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
        array = np.asarray(value)
        if array.dtype.kind not in "fiub":
            raise TypeError(f"save: {name!r} has dtype {array.dtype}; only real numeric arrays are saved")
        arrays[name] = array
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

    Object arrays are refused (``allow_pickle=False``): loading never runs pickled code.
    """
    with np.load(path, allow_pickle=False) as archive:
        return OrderedDict((name, archive[name]) for name in archive.files)
