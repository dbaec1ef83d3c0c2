"""Fake MNIST for the data tests: small arrays, IDX folders, the classic mnist.pkl.gz
pickle (written as Python 2 did) and a wheel holding it."""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np

from gankit.data import mnist
from gankit.data.idx import write_idx


def fake_arrays(seed: int = 0, n_train: int = 8, n_test: int = 4) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, n_train, dtype=np.uint8),
        "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, n_test, dtype=np.uint8),
    }


def mnist_sums(arrays: dict[str, np.ndarray]) -> dict[str, str]:
    return {key: mnist.sha256_array(arrays[key]) for key in mnist.KEYS}


def write_folder(folder: Path, arrays: dict[str, np.ndarray], gz: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    for split, (images_stem, labels_stem) in mnist.SPLITS.items():
        write_idx(folder / f"{images_stem}{suffix}", arrays[f"{split}_images"])
        write_idx(folder / f"{labels_stem}{suffix}", arrays[f"{split}_labels"])
    return folder


class Py2Pickler(pickle._Pickler):  # type: ignore[name-defined]
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


def py2_pickle_gz(obj: object) -> bytes:
    buffer = io.BytesIO()
    Py2Pickler(buffer, protocol=2).dump(obj)
    return gzip.compress(buffer.getvalue())


def classic_pickle(arrays: dict[str, np.ndarray], n_valid: int = 3) -> bytes:
    """The layout of mnist.pkl.gz: (train, valid, test), float32 pixel/256, int64 labels."""

    def pair(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (x.reshape(len(x), 784).astype(np.float32) / 256, y.astype(np.int64))

    tx, ty = arrays["train_images"], arrays["train_labels"]
    return py2_pickle_gz(
        (
            pair(tx[:-n_valid], ty[:-n_valid]),
            pair(tx[-n_valid:], ty[-n_valid:]),
            pair(arrays["test_images"], arrays["test_labels"]),
        )
    )


def fake_wheel(path: Path, member_bytes: bytes) -> mnist.WheelSource:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("mnist/__init__.py", "")
        zf.writestr("mnist/data/mnist.pkl.gz", member_bytes)
    return mnist.WheelSource(
        requirement="fake-mnist==0",
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        member_sha256=hashlib.sha256(member_bytes).hexdigest(),
        path=path,
    )
