"""The IDX file format (MNIST's): read and write n-dimensional arrays, raw or gzipped.

An IDX file is a 4-byte magic number `0, 0, type code, ndim`, then `ndim` big-endian
uint32 sizes, then the data in C order, big-endian. `read_idx` checks every part of
that against the file and raises a one-line `DataError` naming the file and the fault;
it never allocates more than the file can actually hold (a header claiming 10^12 items
is refused before any allocation; a gzipped file is decompressed in chunks, up to the
declared size plus one byte).
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from gankit.errors import DataError

DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
"""IDX type code -> on-disk numpy dtype (big-endian), as in the IDX specification."""

MAX_NDIM = 16
"""More dimensions than this is taken as a corrupt header."""

GZIP_MAX_RATIO = 1100
"""Deflate cannot compress better than about 1032:1; a gz file declaring more is truncated."""

_CHUNK = 1 << 20


def _code_for(dtype: np.dtype) -> int:
    for code, disk in DTYPES.items():
        if disk.kind == dtype.kind and disk.itemsize == dtype.itemsize:
            return code
    supported = ", ".join(str(d.newbyteorder("=")) for d in DTYPES.values())
    raise DataError(f"IDX cannot store dtype {dtype}; use one of {supported}")


def write_idx(path: str | Path, array: np.ndarray) -> Path:
    """Write `array` as an IDX file (gzipped if `path` ends in .gz); returns the path."""
    path = Path(path)
    array = np.asarray(array)
    if array.ndim < 1 or array.ndim > MAX_NDIM:
        raise DataError(f"IDX needs 1 to {MAX_NDIM} dimensions, got shape {array.shape}")
    code = _code_for(array.dtype)
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    body = np.ascontiguousarray(array, dtype=DTYPES[code]).tobytes()
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as f:
        f.write(header + body)
    return path


def _read_exact(f: BinaryIO, n: int, path: Path, what: str) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise DataError(f"{path}: truncated IDX file ({what}: wanted {n} bytes, got {len(data)})")
    return data


def _read_body(f: BinaryIO, nbytes: int, path: Path) -> bytes:
    """Read exactly `nbytes` in chunks, and make sure nothing follows them."""
    chunks: list[bytes] = []
    got = 0
    while got < nbytes:
        chunk = f.read(min(_CHUNK, nbytes - got))
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    if got != nbytes:
        raise DataError(
            f"{path}: truncated IDX file (header declares {nbytes} data bytes, found {got})"
        )
    if f.read(1):
        raise DataError(
            f"{path}: IDX file has bytes after the {nbytes} data bytes its header declares"
        )
    return b"".join(chunks)


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (raw, or gzipped if it ends in .gz) into a native-endian array.

    Raises `DataError` for a missing, truncated, oversized or corrupt file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such IDX file")
    gzipped = path.suffix == ".gz"
    file_size = path.stat().st_size
    try:
        with gzip.open(path, "rb") if gzipped else open(path, "rb") as f:
            magic = _read_exact(f, 4, path, "magic number")
            if magic[0] != 0 or magic[1] != 0:
                raise DataError(
                    f"{path}: not an IDX file (magic number {magic.hex()} should start 0000)"
                )
            code, ndim = magic[2], magic[3]
            if code not in DTYPES:
                known = ", ".join(f"0x{c:02x}" for c in DTYPES)
                raise DataError(f"{path}: unknown IDX type code 0x{code:02x} (known: {known})")
            if not 1 <= ndim <= MAX_NDIM:
                raise DataError(f"{path}: IDX header declares {ndim} dimensions (1..{MAX_NDIM})")
            shape = struct.unpack(f">{ndim}I", _read_exact(f, 4 * ndim, path, "dimensions"))
            dtype = DTYPES[code]
            nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
            header = 4 + 4 * ndim
            limit = file_size * GZIP_MAX_RATIO if gzipped else file_size - header
            if nbytes > limit:
                raise DataError(
                    f"{path}: truncated or corrupt IDX file (header declares shape {shape}, "
                    f"{nbytes} data bytes, but the file is only {file_size} bytes)"
                )
            body = _read_body(f, nbytes, path)
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(f"{path}: cannot read IDX file ({err})") from err
    return np.frombuffer(body, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))
