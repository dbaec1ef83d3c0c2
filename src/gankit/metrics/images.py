"""Reading samples made by any tool: .npy / .npz arrays or a folder of PNGs -> extractor input.

Layouts accepted: (N, 28, 28), (N, 1, 28, 28), (N, 28, 28, 1), (N, 784), and a single
(28, 28) image. Value ranges, detected from the data unless given explicitly:

- "byte"   [0, 255]: any integer dtype (uint8, int64, ...), or floats whose maximum exceeds 1;
- "unit"   [0, 1]:   bool, or floats within [0, 1];
- "signed" [-1, 1]:  floats with a negative value (a tanh generator's output).

Values outside the chosen range (beyond a small tolerance), NaN or infinity are errors.
PNG folders: every *.png directly inside, sorted by name, read as 8-bit grayscale, 28 x 28.
Everything ends as a float32 tensor (N, 1, 28, 28) in [-1, 1].

Hostile files are refused before their data are read: at most MAX_IMAGES images (an .npy's
or .npz member's header shape is checked first; a folder's files are counted first), and
a PNG whose header declares more than Pillow's pixel limit is never decoded.
"""

from __future__ import annotations

import math
import warnings
import zipfile
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from gankit.errors import DataError, short

MAX_IMAGES = 50_000
"""Most images one evaluation reads or draws (10,000 is the reported figure; the nearest-
neighbour metrics grow with the square of the count)."""

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
        with open(p, "rb") as fh:
            _check_header(fh, p.stat().st_size, str(p))
        return np.load(p, allow_pickle=False)
    except DataError:
        raise
    except Exception as err:  # noqa: BLE001 - numpy's header parser raises many kinds
        raise DataError(f"--images {p}: not a readable .npy array ({_first_line(err)})") from None


def _check_header(fh, size: int | None, source: str) -> None:  # noqa: ANN001
    """Read an .npy header from `fh` and refuse, before any data are read, an object array,
    more than MAX_IMAGES images, or a shape that needs more bytes than the file holds."""
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
    elif version in ((2, 0), (3, 0)):
        shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
    else:
        raise ValueError(f"unknown .npy format version {version}")
    if dtype.hasobject:
        raise DataError(f"--images {source}: not a readable image array: it holds Python "
                        "objects, not numbers; save the images as a numeric array")
    count = shape[0] if len(shape) >= 2 or shape == (28, 28) else 1
    if len(shape) and shape != (28, 28) and count > MAX_IMAGES:
        raise DataError(f"--images {source}: holds {short(count)} images, more than "
                        f"{MAX_IMAGES:,}; evaluate 10,000 (the reported figure)")
    need = math.prod(shape) * dtype.itemsize
    if size is not None and need > size:
        raise DataError(f"--images {source}: its header declares shape {short(shape, 60)} "
                        f"({need:,} bytes) but the file holds {size:,} bytes; it is truncated "
                        "or damaged")


def _load_npz(p: Path, key: str | None) -> np.ndarray:
    try:
        with zipfile.ZipFile(p) as zf:  # every member's header before any data
            for info in zf.infolist()[:1000]:
                if info.filename.endswith(".npy"):
                    with zf.open(info) as fh:
                        _check_header(fh, None, f"{p}:{info.filename}")
                    if info.file_size > 8 * MAX_IMAGES * 28 * 28 + 4096:
                        raise DataError(f"--images {p}: member {short(info.filename, 60)} "
                                        f"is {info.file_size:,} bytes, more than "
                                        f"{MAX_IMAGES:,} images need")
    except DataError:
        raise
    except Exception as err:  # noqa: BLE001 - zipfile and numpy's header parser raise many kinds
        raise DataError(f"--images {p}: not a readable .npz archive ({_first_line(err)})") \
            from None
    try:
        with np.load(p, allow_pickle=False) as archive:
            names = list(archive.files)
            if key is not None:
                if key not in names:
                    raise DataError(f"--key {short(key)} not in {p}; it holds "
                                    f"{short(names, 200)}")
                return archive[key]
            if len(names) == 1:
                return archive[names[0]]
            for name in NPZ_KEYS:
                if name in names:
                    return archive[name]
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise DataError(f"--images {p}: not a readable .npz archive ({_first_line(err)})") \
            from None
    if not names:
        raise DataError(f"--images {p} is an .npz archive with no arrays in it; save the "
                        "images into it (np.savez(path, images=array))")
    raise DataError(f"--images {p} holds several arrays {short(names, 200)}; choose one with "
                    "--key NAME")


def read_png_folder(folder: Path) -> np.ndarray:
    """Every *.png directly in `folder`, sorted by name, as uint8 (N, 28, 28) grayscale."""
    from PIL import Image, UnidentifiedImageError

    files = sorted(f for f in folder.iterdir() if f.suffix.lower() == ".png" and f.is_file())
    if not files:
        raise DataError(f"--images {folder}: folder holds no .png files")
    if len(files) > MAX_IMAGES:
        raise DataError(f"--images {folder}: holds {len(files):,} PNGs, more than "
                        f"{MAX_IMAGES:,}; evaluate 10,000 (the reported figure)")
    images = []
    for f in files:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(f) as im:
                    if im.width * im.height > 4096 * 4096:  # never decode a bomb
                        raise DataError(f"--images {f}: image is {im.width}x{im.height}, "
                                        "expected 28x28 digits")
                    gray = np.asarray(im.convert("L"))
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError,
                Image.DecompressionBombWarning, SyntaxError) as err:
            raise DataError(f"--images {f}: unreadable PNG ({_first_line(err)})") from None
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
    if np.iscomplexobj(x):  # casting to float would drop the imaginary part silently
        raise DataError(f"{source}: dtype {x.dtype} is complex; images are real numbers: save "
                        "their real values (e.g. array.real, or np.abs(array))")
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
    """The first line of an error, without numpy's hint to load with allow_pickle (unsafe)."""
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    if "pickle" in text.lower():
        text = "not a numeric array (gankit never loads pickled objects)"
    return short(text, 160).strip("'\"")
