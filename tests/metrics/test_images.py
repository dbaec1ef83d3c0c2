"""Reading samples from other tools: layouts, value ranges, PNG folders, bad inputs."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image
from reliability_support import examples, outcome, scratch_folder

from gankit.errors import DataError
from gankit.metrics.images import detect_range, load_images, to_signed_images


def _bytes(n: int = 4) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, size=(n, 28, 28), dtype=np.uint8)


def _expected(u8: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(u8.astype(np.float32) / 127.5 - 1.0).unsqueeze(1)


@pytest.mark.parametrize(
    "layout",
    [lambda a: a, lambda a: a[:, None], lambda a: a[..., None], lambda a: a.reshape(len(a), 784)],
    ids=["NHW", "N1HW", "NHW1", "N784"],
)
@pytest.mark.parametrize(
    "scale",
    [lambda a: a, lambda a: a.astype(np.float32) / 255.0, lambda a: a / 127.5 - 1.0,
     lambda a: a.astype(np.float64)],
    ids=["uint8", "unit-float", "signed-float", "byte-float"],
)  # fmt: skip
def test_every_usual_layout_and_range_gives_the_same_images(layout, scale) -> None:
    u8 = _bytes()
    out = to_signed_images(layout(scale(u8)))
    assert out.shape == (4, 1, 28, 28) and out.dtype == torch.float32
    torch.testing.assert_close(out, _expected(u8), atol=1e-5, rtol=0)


def test_range_detection_rules() -> None:
    assert detect_range(np.zeros((2, 28, 28), np.uint8)) == "byte"
    assert detect_range(np.zeros((2, 28, 28), np.int64)) == "byte"
    assert detect_range(np.zeros((2, 28, 28), bool)) == "unit"
    assert detect_range(np.full((2, 28, 28), 0.5)) == "unit"
    assert detect_range(np.full((2, 28, 28), -0.5)) == "signed"
    assert detect_range(np.full((2, 28, 28), 200.0)) == "byte"


def test_an_explicit_range_overrides_detection() -> None:
    # a [-1, 1] generator whose samples happen to have no negative pixel: detection says unit
    x = np.full((2, 28, 28), 0.5, np.float32)
    torch.testing.assert_close(to_signed_images(x), torch.zeros(2, 1, 28, 28))
    torch.testing.assert_close(to_signed_images(x, "signed"), torch.full((2, 1, 28, 28), 0.5))


def test_values_outside_the_range_are_an_error() -> None:
    with pytest.raises(DataError, match="outside the unit range"):
        to_signed_images(np.full((2, 28, 28), 2.0), "unit")
    with pytest.raises(DataError, match="outside the byte range"):
        to_signed_images(np.full((2, 28, 28), 300.0))


@pytest.mark.parametrize(
    "array, message",
    [(np.zeros((3, 32, 32)), "not an MNIST-like batch"),
     (np.zeros((3, 3, 28, 28)), "not an MNIST-like batch"),
     (np.zeros((0, 28, 28)), "holds no images"),
     (np.full((2, 28, 28), np.nan), "NaN"),
     (np.array([["a"] * 28] * 28), "not numeric")],
)  # fmt: skip
def test_bad_arrays_give_one_line_errors(array: np.ndarray, message: str) -> None:
    with pytest.raises(DataError, match=message) as err:
        to_signed_images(array)
    assert "\n" not in str(err.value)


def test_npy_and_npz_files(tmp_path: Path) -> None:
    u8 = _bytes()
    np.save(tmp_path / "a.npy", u8)
    np.savez(tmp_path / "one.npz", whatever=u8)
    np.savez(tmp_path / "named.npz", labels=np.arange(4), images=u8)
    np.savez(tmp_path / "many.npz", a=u8, b=u8)
    for name in ("a.npy", "one.npz", "named.npz"):
        torch.testing.assert_close(load_images(tmp_path / name), _expected(u8))
    torch.testing.assert_close(load_images(tmp_path / "many.npz", key="b"), _expected(u8))
    with pytest.raises(DataError, match="--key"):
        load_images(tmp_path / "many.npz")
    with pytest.raises(DataError, match="'c' not in"):
        load_images(tmp_path / "many.npz", key="c")


def test_png_folder_is_read_in_name_order(tmp_path: Path) -> None:
    u8 = _bytes(3)
    for i, im in enumerate(u8):
        Image.fromarray(im).save(tmp_path / f"{i:03d}.png")
    Image.fromarray(u8[0]).convert("RGB").save(tmp_path / "999.png")  # colour PNG -> gray
    (tmp_path / "notes.txt").write_text("ignored")
    out = load_images(tmp_path)
    torch.testing.assert_close(out, _expected(np.concatenate([u8, u8[:1]])))


def test_bad_files_and_folders_give_one_line_errors(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "big").mkdir()
    Image.new("L", (64, 64)).save(tmp_path / "big" / "grid.png")
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    (tmp_path / "x.jpg").write_bytes(b"")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    cases = [("empty", "no .png"), ("big", "expected 28x28"), ("junk.npy", "not a readable"),
             ("x.jpg", "unsupported file type"), ("missing.npy", "no such file"),
             ("obj.npy", "not a readable")]  # fmt: skip
    for name, message in cases:
        with pytest.raises(DataError, match=message) as err:
            load_images(tmp_path / name)
        assert "\n" not in str(err.value)


def test_an_empty_npz_is_named_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "e.npz"
    np.savez(path)
    with pytest.raises(DataError, match="no arrays in it") as err:
        load_images(path)
    assert "several" not in str(err.value)


def test_complex_images_are_refused_not_cast(tmp_path: Path) -> None:
    images = (np.random.default_rng(0).random((10, 28, 28)) * (1 + 1j)).astype(np.complex64)
    np.save(tmp_path / "c.npy", images)
    with pytest.raises(DataError, match="complex; images are real"):
        load_images(tmp_path / "c.npy")
    with pytest.raises(DataError, match="complex"):
        to_signed_images(torch.from_numpy(images).numpy())


DTYPES = ["|u1", "<f4", "<f8", "<i8", "|b1", "|O", "<c8", "|S3", "<U2", "|V4", ">f4"]


@examples(60)
@given(shape=st.lists(st.integers(0, 2**40), max_size=4).map(tuple),
       dtype=st.sampled_from(DTYPES), body=st.binary(max_size=2000),
       fill=st.one_of(st.none(), st.integers(0, 4)))
def test_npy_headers_and_bodies(shape, dtype, body, fill):
    path = scratch_folder() / "x.npy"
    header = {"descr": dtype, "fortran_order": False, "shape": shape}
    with open(path, "wb") as fh:
        try:
            np.lib.format.write_array_header_1_0(fh, header)
        except ValueError:
            return
        if fill is not None and all(s < 64 for s in shape) and dtype in ("|u1", "<f4"):
            n = int(np.prod(shape)) * np.dtype(dtype).itemsize
            fh.write(bytes([fill]) * n)
        else:
            fh.write(body)
    got = outcome(load_images, path)
    if got is not None:
        assert got.ndim == 4 and got.shape[1:] == (1, 28, 28)
        assert got.min() >= -1 and got.max() <= 1


@examples(60)
@given(header=st.one_of(st.binary(max_size=120), st.text(max_size=120).map(str.encode)),
       version=st.sampled_from([b"\x01\x00", b"\x02\x00", b"\x03\x00", b"\x09\x09"]),
       body=st.binary(max_size=200), suffix=st.sampled_from([".npy", ".npz"]))
def test_npy_raw_header_bytes(header, version, body, suffix):
    path = scratch_folder() / f"x{suffix}"
    size = struct.pack("<H" if version == b"\x01\x00" else "<I", len(header))
    raw = b"\x93NUMPY" + version + size + header + body
    if suffix == ".npz":
        import zipfile

        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("images.npy", raw)
    else:
        path.write_bytes(raw)
    got = outcome(load_images, path)
    assert got is None or got.shape[1:] == (1, 28, 28)


def _png(width: int, height: int, claim: tuple[int, int] | None = None) -> bytes:
    from io import BytesIO

    from PIL import Image

    buf = BytesIO()
    Image.new("L", (width, height), 128).save(buf, format="PNG")
    data = bytearray(buf.getvalue())
    if claim is not None:
        ihdr = struct.pack(">II", *claim) + bytes(data[24:29])
        data[16:29] = ihdr
        data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr) & 0xFFFFFFFF)
    return bytes(data)


@examples(30)
@given(files=st.lists(st.one_of(
    st.tuples(st.integers(1, 40), st.integers(1, 40)).map(lambda s: _png(*s)),
    st.tuples(st.integers(1, 10**5), st.integers(1, 10**5)).map(lambda c: _png(28, 28, c)),
    st.binary(max_size=300)), min_size=1, max_size=4), npz=st.booleans())
def test_png_folders_and_npz_archives(files, npz):
    folder = scratch_folder() / "pngs"
    folder.mkdir()
    for i, data in enumerate(files):
        (folder / f"{i}.png").write_bytes(data)
    got = outcome(load_images, folder)
    if got is not None:
        assert got.shape == (len(files), 1, 28, 28)
    if npz:
        path = folder.parent / "x.npz"
        path.write_bytes(b"PK\x03\x04" + files[0][:200])
        assert outcome(load_images, path) is None
