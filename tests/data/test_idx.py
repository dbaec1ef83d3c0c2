"""The IDX reader/writer: round trips, and one-line errors for every kind of bad file."""

from __future__ import annotations

import gzip
import math
import struct
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st
from reliability_support import FAST, NAMES, outcome, scratch_folder

from gankit.config import DataConfig
from gankit.data import load_dataset
from gankit.data.idx import DTYPES, read_idx, write_idx
from gankit.errors import DataError


def _raw(path: Path, header: bytes, body: bytes = b"") -> Path:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as f:
        f.write(header + body)
    return path


def _message(err: pytest.ExceptionInfo[DataError]) -> str:
    message = str(err.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("dtype", ["u1", "i1", "<i2", "<i4", "<f4", "<f8"])
def test_round_trip(tmp_path: Path, suffix: str, dtype: str) -> None:
    rng = np.random.default_rng(0)
    array = (rng.standard_normal((3, 4, 5)) * 50).astype(dtype)
    path = write_idx(tmp_path / f"a-idx3{suffix}", array)
    back = read_idx(path)
    assert back.dtype == array.dtype
    assert back.shape == (3, 4, 5)
    np.testing.assert_array_equal(back, array)


def test_uint8_file_layout_matches_the_idx_spec(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "labels-idx1-ubyte", np.array([7, 2, 1], dtype=np.uint8))
    assert path.read_bytes() == bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1])


def test_big_endian_on_disk(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "x", np.array([1, 256], dtype=np.int32))
    assert path.read_bytes()[8:] == struct.pack(">2i", 1, 256)


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_truncated_file_is_refused(tmp_path: Path, suffix: str) -> None:
    header = bytes([0, 0, 8, 2]) + struct.pack(">2I", 4, 5)
    path = _raw(tmp_path / f"t{suffix}", header, bytes(19))
    with pytest.raises(DataError) as err:
        read_idx(path)
    assert "truncated" in _message(err) and path.name in _message(err)


def test_truncated_header_is_refused(tmp_path: Path) -> None:
    path = _raw(tmp_path / "t", bytes([0, 0, 8, 3]) + struct.pack(">I", 2))
    with pytest.raises(DataError, match="truncated"):
        read_idx(path)


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_trailing_bytes_are_refused(tmp_path: Path, suffix: str) -> None:
    header = bytes([0, 0, 8, 1]) + struct.pack(">I", 3)
    path = _raw(tmp_path / f"t{suffix}", header, bytes(4))
    with pytest.raises(DataError, match="after the 3 data bytes"):
        read_idx(path)


def test_wrong_magic_is_refused(tmp_path: Path) -> None:
    path = _raw(tmp_path / "m", bytes([1, 2, 8, 1]) + struct.pack(">I", 1), b"\x00")
    with pytest.raises(DataError) as err:
        read_idx(path)
    assert "not an IDX file" in _message(err) and "0102" in _message(err)


def test_unknown_type_code_is_refused(tmp_path: Path) -> None:
    path = _raw(tmp_path / "m", bytes([0, 0, 0x0A, 1]) + struct.pack(">I", 1), b"\x00")
    with pytest.raises(DataError, match="type code 0x0a"):
        read_idx(path)


@pytest.mark.parametrize("ndim", [0, 17])
def test_bad_number_of_dimensions_is_refused(tmp_path: Path, ndim: int) -> None:
    path = _raw(tmp_path / "d", bytes([0, 0, 8, ndim]) + bytes(4 * ndim), b"")
    with pytest.raises(DataError, match=f"declares {ndim} dimensions"):
        read_idx(path)


def test_dims_that_disagree_with_the_data_are_refused(tmp_path: Path) -> None:
    # claims 3 x 5 = 15 bytes, holds 12
    path = _raw(tmp_path / "d", bytes([0, 0, 8, 2]) + struct.pack(">2I", 3, 5), bytes(12))
    with pytest.raises(DataError, match=r"shape \(3, 5\)"):
        read_idx(path)


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_huge_declared_size_is_refused_without_allocating(tmp_path: Path, suffix: str) -> None:
    # 10^6 x 10^6 = 10^12 float64 items in a file of a few dozen bytes
    header = bytes([0, 0, 0x0E, 2]) + struct.pack(">2I", 10**6, 10**6)
    path = _raw(tmp_path / f"huge{suffix}", header, bytes(16))
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match="truncated or corrupt"):
            read_idx(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20


def test_corrupt_gzip_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.gz"
    path.write_bytes(b"\x1f\x8b" + bytes(range(40)))
    with pytest.raises(DataError) as err:
        read_idx(path)
    assert "cannot read IDX file" in _message(err)


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such IDX file"):
        read_idx(tmp_path / "absent")


def test_write_refuses_unsupported_dtype(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot store dtype"):
        write_idx(tmp_path / "x", np.zeros(2, dtype=np.uint16))


def _idx_bytes(code: int, shape: tuple[int, ...], body: bytes) -> bytes:
    return bytes([0, 0, code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape) + body


@FAST
@given(data=st.binary(max_size=300), gz=st.booleans(), name=NAMES)
@example(data=b"", gz=False, name="x").via("empty file")
@example(data=b"\x00\x00\x08\x01", gz=False, name="x").via("header without sizes")
def test_idx_reader_on_random_bytes(data, gz, name):
    path = scratch_folder() / (name + (".gz" if gz else ""))
    path.write_bytes(data)
    got = outcome(read_idx, path)
    if got is not None:  # only a self-consistent file reads: header + exactly its data
        assert data[:2] == b"\0\0" and got.size * got.dtype.itemsize == len(data) - 4 - 4 * got.ndim


@FAST
@given(code=st.sampled_from(sorted(DTYPES)),
       shape=st.lists(st.integers(0, 6), min_size=1, max_size=4).map(tuple),
       cut=st.integers(0, 400), gz=st.booleans(), name=NAMES)
def test_idx_reader_on_truncated_and_padded_files(code, shape, cut, gz, name):
    rng = np.random.default_rng(0)
    dtype = DTYPES[code]
    array = (rng.integers(0, 100, shape)).astype(dtype)
    full = _idx_bytes(code, shape, array.tobytes())
    data = full[:cut] if cut < len(full) else full + b"\x01" * (cut - len(full))
    path = scratch_folder() / (name + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(data) if gz else data)
    got = outcome(read_idx, path)
    if data == full:
        np.testing.assert_array_equal(got, array.astype(dtype.newbyteorder("=")))
    else:
        assert got is None


@settings(max_examples=40, deadline=2000)
@given(shape=st.lists(st.integers(1, 2**32 - 1), min_size=1, max_size=16),
       code=st.sampled_from(sorted(DTYPES)), gz=st.booleans(), tail=st.binary(max_size=64))
def test_idx_huge_declared_sizes_are_refused_without_allocating(shape, code, gz, tail):
    n = math.prod(shape) * DTYPES[code].itemsize
    path = scratch_folder() / ("big.gz" if gz else "big")
    data = _idx_bytes(code, tuple(shape), tail)
    path.write_bytes(gzip.compress(data) if gz else data)
    tracemalloc.start()
    try:
        got = outcome(read_idx, path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert got is None or n == len(tail)
    assert peak < 8 << 20  # never anything like the declared size


@FAST
@given(array=st.integers(1, 3).flatmap(lambda nd: st.lists(
    st.integers(0, 255), min_size=1, max_size=60)).map(lambda v: np.array(v, np.uint8)),
    name=NAMES, gz=st.booleans())
def test_idx_round_trip_under_unicode_names(array, name, gz):
    path = write_idx(scratch_folder() / (name + (".gz" if gz else "")), array)
    np.testing.assert_array_equal(read_idx(path), array)


@FAST
@given(images=st.binary(max_size=200), labels=st.binary(max_size=40), name=NAMES,
       valid_images=st.booleans())
def test_idx_data_set_folder_with_hostile_files(images, labels, name, valid_images):
    folder = scratch_folder() / name
    folder.mkdir()
    if valid_images:
        n = len(labels)
        images = _idx_bytes(8, (n, 2, 2), bytes(4 * n))
        labels = _idx_bytes(8, (n,), labels)
    (folder / "train-images-idx3-ubyte").write_bytes(images)
    (folder / "train-labels-idx1-ubyte").write_bytes(labels)
    got = outcome(load_dataset, DataConfig(dataset="idx", data_dir=str(folder)))
    if got is not None:
        assert got.samples.dtype == torch.float32 and got.samples.shape[1:] == (1, 2, 2)
        assert len(got) > 0 and got.samples.abs().max() <= 1
