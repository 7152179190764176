"""`tl.save` / `tl.load`: round trips of every dtype save accepts, refusals, and damaged files."""
import io
import os
import random
import re
import zipfile

import numpy as np
import pytest

import tinygrad_lstm as tl

# Every dtype save accepts: bool, signed and unsigned ints, floats (long double too), either byte order.
DTYPES = [np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
          np.float16, np.float32, np.float64, np.longdouble, np.dtype(">f8"), np.dtype(">i4"), np.dtype("<u2")]


def saved(state_dict) -> bytes:
    buffer = io.BytesIO()
    tl.save(state_dict, buffer)
    return buffer.getvalue()


def write_npz(path, **arrays):
    """An archive written by numpy itself, which (unlike tl.save) also writes strings, objects, complex."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, array in arrays.items():
            with archive.open(name + ".npy", "w") as member:
                np.lib.format.write_array(member, array, allow_pickle=True)


# --------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_every_dtype_save_accepts_round_trips_exactly(tmp_path, dtype):
    values = np.arange(-3, 9).reshape(3, 4) % 7
    array = values.astype(dtype)
    arrays = {"matrix": array, "scalar": np.asarray(array[1, 2]), "empty": np.zeros((0, 2), dtype),
              "fortran": np.asfortranarray(array), "strided": array[:, ::2]}
    tl.save(arrays, tmp_path / "all.npz")
    loaded = tl.load(tmp_path / "all.npz")
    assert list(loaded) == list(arrays)
    for name, array in arrays.items():
        assert loaded[name].dtype == array.dtype and loaded[name].shape == array.shape, name
        np.testing.assert_array_equal(loaded[name], array, err_msg=name)


def test_tensors_and_non_finite_values_round_trip():
    tensor = tl.Tensor(np.array([np.nan, np.inf, -np.inf, -0.0], np.float32))
    loaded = tl.load(io.BytesIO(saved({"t": tensor})))["t"]
    assert loaded.dtype == np.float32
    np.testing.assert_array_equal(loaded, tensor.data)
    assert np.signbit(loaded[3])


def test_save_load_round_trip_into_a_fresh_module(tmp_path):
    tl.manual_seed(0)
    lstm = tl.nn.LSTM(2, 3, num_layers=2, bidirectional=True)
    tl.save(lstm.state_dict(), tmp_path / "model.npz")
    fresh = tl.nn.LSTM(2, 3, num_layers=2, bidirectional=True)
    fresh.load_state_dict(tl.load(tmp_path / "model.npz"))
    x = np.ones((4, 1, 2), np.float32)
    np.testing.assert_array_equal(fresh(x)[0].data, lstm(x)[0].data)
    assert list(tl.load(str(tmp_path / "model.npz"))) == list(lstm.state_dict())
    with np.load(tmp_path / "model.npz") as archive:  # a plain .npz
        assert archive.files == list(lstm.state_dict())


def test_numpy_savez_and_savez_compressed_archives_load(tmp_path):
    arrays = {"a": np.arange(4.0), "b": np.ones((2, 2), np.int16)}
    np.savez(tmp_path / "plain.npz", **arrays)
    np.savez_compressed(tmp_path / "compressed.npz", **arrays)
    for name in ("plain.npz", "compressed.npz"):
        loaded = tl.load(tmp_path / name)
        assert list(loaded) == ["a", "b"]
        assert all(np.array_equal(loaded[k], v) and loaded[k].dtype == v.dtype for k, v in arrays.items())


def test_save_writes_the_path_as_named_and_load_hints_at_numpys_suffix(tmp_path):
    tl.save({"w": np.ones(2)}, tmp_path / "checkpoint")
    assert os.listdir(tmp_path) == ["checkpoint"]
    np.testing.assert_array_equal(tl.load(tmp_path / "checkpoint")["w"], np.ones(2))
    np.savez(tmp_path / "numpy_checkpoint", w=np.ones(2))  # numpy writes numpy_checkpoint.npz
    with pytest.raises(FileNotFoundError, match=r"numpy_checkpoint.npz' exists \(numpy.savez adds"):
        tl.load(tmp_path / "numpy_checkpoint")
    with pytest.raises(FileNotFoundError, match="load: no such file"):
        tl.load(tmp_path / "missing.npz")


def test_save_takes_tensors_and_torch_parameters_that_require_grad():
    torch = pytest.importorskip("torch")
    twin = torch.nn.Linear(2, 3)
    loaded = tl.load(io.BytesIO(saved({**dict(twin.named_parameters()), "mine": tl.nn.Parameter(np.ones(2))})))
    np.testing.assert_array_equal(loaded["weight"], twin.weight.detach().numpy())
    assert loaded["mine"].tolist() == [1.0, 1.0]


# --------------------------------------------------------------------------- refusals
REFUSED = [np.array(["abc"]), np.array([b"abc"]), np.array([{"a": 1}, None], dtype=object),
           np.ones(2, np.complex64), np.ones(2, np.complex128), np.zeros(2, dtype=[("x", "f8")]),
           np.array(["2020-01-01"], "datetime64[D]")]


@pytest.mark.parametrize("array", REFUSED, ids=lambda a: str(a.dtype))
def test_save_and_load_refuse_the_same_dtypes(tmp_path, array):
    with pytest.raises(TypeError, match=rf"save: 'x' has dtype {re.escape(str(array.dtype))}; expected an array of real"):
        tl.save({"ok": np.ones(1), "x": array}, tmp_path / "bad.npz")
    assert not (tmp_path / "bad.npz").exists()  # validated before the file is opened
    write_npz(tmp_path / "numpy.npz", ok=np.ones(1), x=array)
    with pytest.raises(ValueError, match=rf"load: '.*numpy.npz': 'x' has dtype {re.escape(str(array.dtype))}; expected an array of real"):
        tl.load(tmp_path / "numpy.npz")


@pytest.mark.parametrize("value, message", [
    ("abc", "'x' has dtype <U3"), (None, "'x' has dtype object"), ({"a": 1}, "'x' has dtype object"),
    ([[1.0], [1.0, 2.0]], "cannot convert 'x' \\(list\\) to an array"),
])
def test_save_refuses_non_arrays_with_a_type_error_and_writes_nothing(tmp_path, value, message):
    with pytest.raises(TypeError, match=message):
        tl.save({"ok": np.ones(1), "x": value}, tmp_path / "bad.npz")
    assert not (tmp_path / "bad.npz").exists()


def test_save_refuses_bad_keys_and_non_mappings(tmp_path):
    with pytest.raises(TypeError, match="keys must be non-empty strings, got 1"):
        tl.save({1: np.zeros(2)}, tmp_path / "bad.npz")
    with pytest.raises(TypeError, match="expected a mapping of names to arrays, got list"):
        tl.save([np.zeros(2)], tmp_path / "bad.npz")
    assert not (tmp_path / "bad.npz").exists()


def test_load_never_unpickles(tmp_path):
    class Boom:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    import pickle
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps({"w": Boom()}))
    with pytest.raises(ValueError, match="'.*evil.pkl' is not an .npz archive"):
        tl.load(tmp_path / "evil.pkl")
    write_npz(tmp_path / "evil.npz", w=np.array([Boom()], dtype=object))
    with pytest.raises(ValueError, match="'w' has dtype object"):
        tl.load(tmp_path / "evil.npz")


def test_load_refuses_files_that_are_not_npz_archives_with_a_clear_value_error(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save(torch.nn.Linear(2, 3).state_dict(), tmp_path / "model.pt")
    with pytest.raises(ValueError, match="'.*model.pt' is a zip archive but not of .npy arrays.*torch.load"):
        tl.load(tmp_path / "model.pt")
    torch.save(torch.nn.Linear(2, 3).state_dict(), tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    with pytest.raises(ValueError, match="'.*legacy.pt' is not an .npz archive"):
        tl.load(tmp_path / "legacy.pt")
    np.save(tmp_path / "one.npy", np.ones(3))
    with pytest.raises(ValueError, match="'.*one.npy' holds a single array"):
        tl.load(tmp_path / "one.npy")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="'.*notes.txt' is not an .npz archive"):
        tl.load(tmp_path / "notes.txt")
    (tmp_path / "empty.npz").write_bytes(b"")
    with pytest.raises(ValueError, match="'.*empty.npz' is empty"):
        tl.load(tmp_path / "empty.npz")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as archive:
        archive.writestr("readme.md", "hi")
    with pytest.raises(ValueError, match="'.*other.zip' is a zip archive but not of .npy arrays.*'readme.md'"):
        tl.load(tmp_path / "other.zip")


# --------------------------------------------------------------------------- damaged files
STATE = {"weight": np.arange(6.0).reshape(2, 3), "steps": np.ones(3, np.int32), "flag": np.array(True)}


def assert_loads_intact_or_raises(data: bytes, where="the file"):
    """A damaged archive either loads exactly (the damage hit bytes nothing reads) or raises ValueError."""
    try:
        loaded = tl.load(io.BytesIO(data))
    except ValueError as e:
        assert str(e).startswith(f"load: {where}"), e
        return False
    assert list(loaded) == list(STATE)
    for name, array in STATE.items():
        assert loaded[name].dtype == array.dtype and np.array_equal(loaded[name], array), name
    return True


@pytest.mark.parametrize("writer", ["tl.save", "np.savez_compressed"])
def test_every_truncation_is_a_value_error(writer):
    buffer = io.BytesIO()
    tl.save(STATE, buffer) if writer == "tl.save" else np.savez_compressed(buffer, **STATE)
    data = buffer.getvalue()
    for length in range(len(data)):
        assert not assert_loads_intact_or_raises(data[:length]), length


def test_a_file_object_not_rewound_after_saving_is_explained():
    buffer = io.BytesIO()
    tl.save(STATE, buffer)
    with pytest.raises(ValueError, match=r"load: the file has nothing left to read at position \d+; rewind it with seek\(0\)"):
        tl.load(buffer)
    buffer.seek(0)
    assert list(tl.load(buffer)) == list(STATE)


def test_truncated_file_on_disk_names_its_path(tmp_path):
    data = saved(STATE)
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"load: '.*cut.npz' is a truncated or corrupt .npz archive"):
        tl.load(tmp_path / "cut.npz")
    with open(tmp_path / "cut.npz", "rb") as file:  # an open file is named by its name
        with pytest.raises(ValueError, match=r"load: '.*cut.npz' is a truncated"):
            tl.load(file)


@pytest.mark.parametrize("writer", ["tl.save", "np.savez_compressed"])
def test_every_flipped_bit_loads_intact_or_is_a_value_error(writer):
    buffer = io.BytesIO()
    tl.save(STATE, buffer) if writer == "tl.save" else np.savez_compressed(buffer, **STATE)
    data = buffer.getvalue()
    intact = 0
    for position in range(len(data)):
        for bit in range(8):
            damaged = bytearray(data)
            damaged[position] ^= 1 << bit
            intact += assert_loads_intact_or_raises(bytes(damaged))
    assert 0 < intact < len(data) * 8 / 2  # most damage is caught (the CRC covers every array byte)
    rng = random.Random(0)
    for _ in range(500):
        damaged = bytearray(data)
        for _ in range(rng.randint(2, 6)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        assert_loads_intact_or_raises(bytes(damaged))


def test_a_header_that_lies_about_the_shape_is_caught_before_reading():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        with archive.open("huge.npy", "w") as member:
            np.lib.format.write_array_header_1_0(member, {"descr": "<f8", "fortran_order": False,
                                                          "shape": (10 ** 12,)})
            member.write(np.zeros(4).tobytes())
    with pytest.raises(ValueError, match=r"'huge' cannot be read .*shape \(1000000000000,\).*8000000000000 bytes"):
        tl.load(io.BytesIO(buffer.getvalue()))


def test_an_entry_hidden_by_a_damaged_directory_is_caught():
    data = bytearray(saved(STATE))
    first = data.index(b"PK\x01\x02")  # the directory entry of 'weight'
    end = data.index(b"PK\x05\x06")
    # its comment length, grown to swallow the other entries: zipfile alone would list only 'weight'
    data[first + 32:first + 34] = (end - first - 46 - len("weight.npy")).to_bytes(2, "little")
    with pytest.raises(ValueError, match="load: the file is a corrupt .npz archive: its end record lists 3 arrays, "
                                         "its directory describes 1"):
        tl.load(io.BytesIO(bytes(data)))
