"""The IDX reader/writer: round trips, and one-line errors for every kind of bad file."""

from __future__ import annotations

import gzip
import struct
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from gankit.data.idx import read_idx, write_idx
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
