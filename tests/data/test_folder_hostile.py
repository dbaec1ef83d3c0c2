"""Hostile image folders, property-based: a correct result or one DataError, never a crash.

Random bytes under image names, truncated real PNG/JPEG files, headers that declare huge
images, unicode file and folder names.
"""

from __future__ import annotations

import io
import struct
import tempfile
import zlib
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from gankit.data.folder import load_folder
from gankit.errors import DataError

FAST = settings(max_examples=40, deadline=4000,
                suppress_health_check=[HealthCheck.too_slow])

NAMES = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\\x00"),
                min_size=1, max_size=16).filter(lambda s: s not in (".", "..") and
                                                len(s.encode()) < 200)


def _png(size: tuple[int, int], mode: str = "L", seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    shape = size[::-1] + ((3,) if mode == "RGB" else ())
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(buf, "PNG")
    return buf.getvalue()


def _huge_png_header(width: int, height: int) -> bytes:
    """A PNG signature + IHDR declaring width x height, and a tiny IDAT: a decompression bomb."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + chunk(b"IEND", b""))


FILES = st.one_of(
    st.binary(max_size=300).map(lambda b: ("png", b)),
    st.binary(max_size=300).map(lambda b: ("jpg", b"\xff\xd8\xff" + b)),
    st.tuples(st.integers(1, 40), st.integers(1, 40), st.sampled_from(["L", "RGB"]),
              st.floats(0.05, 1.0)).map(
        lambda t: ("png", _png((t[0], t[1]), t[2])[: max(8, int(len(_png((t[0], t[1]), t[2]))
                                                              * t[3]))])),
    st.tuples(st.integers(1, 2**31 - 1), st.integers(1, 2**31 - 1)).map(
        lambda wh: ("png", _huge_png_header(*wh))),
)


@FAST
@given(files=st.lists(st.tuples(NAMES, FILES), min_size=1, max_size=6),
       folder_name=NAMES, size=st.sampled_from([8, 28]))
def test_hostile_folders_end_in_a_result_or_one_data_error(files, folder_name, size):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / folder_name
        root.mkdir()
        for i, (name, (ext, data)) in enumerate(files):
            (root / f"{name}-{i}.{ext}").write_bytes(data)
        logs: list[str] = []
        try:
            images, labels, classes = load_folder(root, size, logs.append)
        except DataError as err:
            assert "\n" not in str(err) and str(err).startswith("image folder ")
            return
        assert images.dtype == np.uint8 and images.shape[1:3] == (size, size)
        assert 1 <= len(images) <= len(files)
        assert labels is None and classes == []
        if len(images) < len(files):  # something was skipped: one warning names it
            assert len(logs) == 1 and "skipped" in logs[0]


def test_a_header_above_the_pixel_limit_is_skipped_not_allocated(tmp_path):
    """12,000 x 12,000 (144 M pixels) is in Pillow's warn-only band: gankit refuses it too."""
    (tmp_path / "bomb.png").write_bytes(_huge_png_header(12_000, 12_000))
    (tmp_path / "ok.png").write_bytes(_png((28, 28)))
    logs: list[str] = []
    images, _, _ = load_folder(tmp_path, 28, logs.append)
    assert images.shape == (1, 28, 28)
    assert len(logs) == 1 and "bomb.png" in logs[0]
