"""Process settings of `tinygrad_lstm.runtime`: applied, or stepping aside when the environment chose."""
import ctypes
import sys

import pytest
from threadpoolctl import threadpool_info

from tinygrad_lstm import runtime


def _is_glibc() -> bool:
    try:
        return sys.platform.startswith("linux") and hasattr(ctypes.CDLL(None), "gnu_get_libc_version")
    except OSError:
        return False


def test_single_threaded_blas_limits_numpy_blas(monkeypatch):
    for name in runtime.BLAS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert runtime.single_threaded_blas() is True
    blas = [pool for pool in threadpool_info() if pool.get("user_api") == "blas"]
    assert blas and all(pool["num_threads"] == 1 for pool in blas)


@pytest.mark.parametrize("name", runtime.BLAS_VARIABLES)
def test_single_threaded_blas_respects_the_environment(monkeypatch, name):
    monkeypatch.setenv(name, "2")
    assert runtime.single_threaded_blas() is False


@pytest.mark.parametrize("name", runtime.MALLOC_VARIABLES)
def test_reuse_freed_memory_respects_the_environment(monkeypatch, name):
    monkeypatch.setenv(name, "1000000")
    assert runtime.reuse_freed_memory() is False
    assert runtime.tune_process()["reuse_freed_memory"] is False
    assert name in runtime.describe()


def test_reuse_freed_memory_applies_on_glibc(monkeypatch):
    for name in runtime.MALLOC_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    applied = runtime.tune_process()
    assert set(applied) == {"single_threaded_blas", "reuse_freed_memory"}
    assert applied["reuse_freed_memory"] is _is_glibc()
    assert ("keeps freed memory" in runtime.describe()) is _is_glibc()
