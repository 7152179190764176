"""Process settings for training on small arrays: one BLAS thread, freed memory kept for reuse.

`tinygrad-lstm` applies them before every command; a script can call `tune_process()` first.
Each one steps aside when the environment already chose (``OPENBLAS_NUM_THREADS``,
``MALLOC_TRIM_THRESHOLD_``, ...).
"""
from __future__ import annotations

import ctypes
import os
import sys

__all__ = ["tune_process", "single_threaded_blas", "reuse_freed_memory", "describe"]

BLAS_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
MALLOC_VARIABLES = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")
MMAP_THRESHOLD = 32 << 20   # glibc's largest: arrays below 32 MiB come from the reusable heap
TRIM_THRESHOLD = 256 << 20  # free heap kept by the process before any is returned to the OS
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameters, from glibc's malloc.h


def single_threaded_blas() -> bool:
    """Limit numpy's BLAS to one thread; False (and nothing changed) when the environment chose.

    The matrices of a recurrent step are small (64 x 512 in the demo): BLAS threads cost more
    than they save, and when other programs keep the cores busy they spin and make training
    two to three times slower.
    """
    if any(name in os.environ for name in BLAS_VARIABLES):
        return False
    from threadpoolctl import threadpool_limits
    threadpool_limits(limits=1, user_api="blas")
    return True


def reuse_freed_memory() -> bool:
    """Keep memory freed by numpy in the process for the next step, instead of returning it
    to the operating system (glibc only); True when applied.

    A training step allocates and frees thousands of arrays. With glibc's adaptive defaults
    the heap shrinks as backward frees the graph, and every page is faulted in again by the
    next forward pass: measured here, up to a third of the time of an LSTM step at
    (T, B, H) = (50, 32, 128). Arrays below `MMAP_THRESHOLD` then come from the heap and up
    to `TRIM_THRESHOLD` of free heap is kept. False on other C libraries, or when a
    ``MALLOC_*`` variable already chose.
    """
    if not sys.platform.startswith("linux") or any(name in os.environ for name in MALLOC_VARIABLES):
        return False
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # only glibc has it (and glibc's mallopt parameters)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))


_applied: dict = {}


def tune_process() -> dict:
    """Apply both settings; returns which were applied, e.g. ``{"single_threaded_blas": True, ...}``."""
    _applied.update(single_threaded_blas=single_threaded_blas(), reuse_freed_memory=reuse_freed_memory())
    return dict(_applied)


def describe() -> str:
    """How this process allocates memory, in words (for benchmark reports)."""
    if _applied.get("reuse_freed_memory"):
        return (f"glibc malloc keeps freed memory for reuse (mmap threshold {MMAP_THRESHOLD >> 20} MiB, "
                f"trim threshold {TRIM_THRESHOLD >> 20} MiB)")
    chosen = [name for name in MALLOC_VARIABLES if name in os.environ]
    return "malloc as set by " + ", ".join(chosen) if chosen else "the C library's default malloc"
