"""Reading samples made by any tool: .npy / .npz arrays or a folder of PNGs -> extractor input.

Layouts accepted: (N, 28, 28), (N, 1, 28, 28), (N, 28, 28, 1), (N, 784), and a single
(28, 28) image. Value ranges, detected from the data unless given explicitly:

- "byte"   [0, 255]: any integer dtype (uint8, int64, ...), or floats whose maximum exceeds 1;
- "unit"   [0, 1]:   bool, or floats within [0, 1];
- "signed" [-1, 1]:  floats with a negative value (a tanh generator's output).

Values outside the chosen range (beyond a small tolerance), NaN or infinity are errors.
PNG folders: every *.png directly inside, sorted by name, read as 8-bit grayscale, 28 x 28.
Everything ends as a float32 tensor (N, 1, 28, 28) in [-1, 1].
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from gankit.errors import DataError

RANGES = {"byte": (0.0, 255.0), "unit": (0.0, 1.0), "signed": (-1.0, 1.0)}
"""Value ranges by name: (low, high)."""

NPZ_KEYS = ("images", "samples", "x", "arr_0")
"""Array names tried, in order, in an .npz holding several arrays."""

_TOL = 1e-3


def load_images(path: str | Path, value_range: str | None = None, key: str | None = None) -> Tensor:
    """Images from an .npy/.npz file or a PNG folder -> float32 (N, 1, 28, 28) in [-1, 1]."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"--images {p}: no such file or folder; give an .npy, .npz or PNG folder")
    if p.is_dir():
        array = read_png_folder(p)
    elif p.suffix == ".npy":
        array = _load_npy(p)
    elif p.suffix == ".npz":
        array = _load_npz(p, key)
    else:
        raise DataError(
            f"--images {p}: unsupported file type {p.suffix!r}; give an .npy, .npz or PNG folder"
        )
    return to_signed_images(array, value_range, source=str(p))


def _load_npy(p: Path) -> np.ndarray:
    try:
        return np.load(p, allow_pickle=False)
    except (ValueError, OSError) as err:
        raise DataError(f"--images {p}: not a readable .npy array ({_first_line(err)})") from err


def _load_npz(p: Path, key: str | None) -> np.ndarray:
    try:
        with np.load(p, allow_pickle=False) as archive:
            names = list(archive.files)
            if key is not None:
                if key not in names:
                    raise DataError(f"--key {key!r} not in {p}; it holds {names}")
                return archive[key]
            if len(names) == 1:
                return archive[names[0]]
            for name in NPZ_KEYS:
                if name in names:
                    return archive[name]
    except (ValueError, OSError) as err:
        raise DataError(f"--images {p}: not a readable .npz archive ({_first_line(err)})") from err
    raise DataError(f"--images {p} holds several arrays {names}; choose one with --key NAME")


def read_png_folder(folder: Path) -> np.ndarray:
    """Every *.png directly in `folder`, sorted by name, as uint8 (N, 28, 28) grayscale."""
    from PIL import Image, UnidentifiedImageError

    files = sorted(f for f in folder.iterdir() if f.suffix.lower() == ".png" and f.is_file())
    if not files:
        raise DataError(f"--images {folder}: folder holds no .png files")
    images = []
    for f in files:
        try:
            with Image.open(f) as im:
                gray = np.asarray(im.convert("L"))
        except (UnidentifiedImageError, OSError) as err:
            raise DataError(f"--images {f}: unreadable PNG ({_first_line(err)})") from err
        if gray.shape != (28, 28):
            raise DataError(
                f"--images {f}: image is {gray.shape[1]}x{gray.shape[0]}, expected 28x28; "
                "save single 28x28 digits, not grids"
            )
        images.append(gray)
    return np.stack(images)


def to_signed_images(
    array: np.ndarray, value_range: str | None = None, source: str = "array"
) -> Tensor:
    """Any accepted layout and range -> float32 (N, 1, 28, 28) in [-1, 1]."""
    x = _to_nhw(np.asarray(array), source)  # (N, 28, 28)
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_):
        raise DataError(f"{source}: dtype {x.dtype} is not numeric; save images as numbers")
    x64 = x.astype(np.float64)
    if not np.isfinite(x64).all():
        raise DataError(f"{source}: contains NaN or infinity; check the generator's output")
    name = detect_range(x) if value_range is None else value_range
    if name not in RANGES:
        raise DataError(f"--range {name!r} unknown; choose one of {sorted(RANGES)}")
    low, high = RANGES[name]
    lo, hi = float(x64.min()), float(x64.max())
    tol = _TOL * (high - low)
    if lo < low - tol or hi > high + tol:
        raise DataError(
            f"{source}: values span [{lo:g}, {hi:g}], outside the {name} range "
            f"[{low:g}, {high:g}]; "
            "pass the right --range or rescale the images"
        )
    signed = (x64 - low) / (high - low) * 2.0 - 1.0
    return torch.from_numpy(np.clip(signed, -1.0, 1.0).astype(np.float32)).unsqueeze(1)


def detect_range(x: np.ndarray) -> str:
    """The value range of an image array by its dtype and values (see the module docstring)."""
    if x.dtype == np.bool_:
        return "unit"
    if np.issubdtype(x.dtype, np.integer):
        return "byte"
    if x.size and float(x.min()) < 0.0:
        return "signed"
    if x.size and float(x.max()) > 1.0 + _TOL:
        return "byte"
    return "unit"


def _to_nhw(x: np.ndarray, source: str) -> np.ndarray:
    """(N, 28, 28), (N, 1, 28, 28), (N, 28, 28, 1), (N, 784) or (28, 28) -> (N, 28, 28)."""
    shape = x.shape
    if shape == (28, 28):
        return x[None]
    if x.ndim == 3 and shape[1:] == (28, 28):
        out = x
    elif x.ndim == 4 and shape[1:] == (1, 28, 28):
        out = x[:, 0]
    elif x.ndim == 4 and shape[1:] == (28, 28, 1):
        out = x[..., 0]
    elif x.ndim == 2 and shape[1] == 784:
        out = x.reshape(-1, 28, 28)
    else:
        raise DataError(
            f"{source}: array shape {shape} is not an MNIST-like batch; expected (N, 28, 28), "
            "(N, 1, 28, 28), (N, 28, 28, 1) or (N, 784)"
        )
    if out.shape[0] == 0:
        raise DataError(f"{source}: holds no images (shape {shape})")
    return out


def _first_line(err: BaseException) -> str:
    return str(err).splitlines()[0] if str(err) else type(err).__name__
