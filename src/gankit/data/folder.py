"""Your own images: a folder of PNG/JPEG files as a training set (`--data folder:PATH`).

Files are found recursively (sorted by path). When every image sits in a first-level
subfolder, the subfolders are the classes (labels in sorted name order, as torchvision's
ImageFolder); otherwise there are no labels. Images are centre-cropped to a square and
resized to `image_size` (bicubic). They come back grayscale (1 channel) when every file
is grayscale, else RGB (3 channels; grayscale files are converted). Files Pillow cannot
read are skipped with one warning naming them; a folder with no readable image is a
DataError.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from gankit.errors import DataError

EXTENSIONS = (".png", ".jpg", ".jpeg")
"""File name endings read as images (case-insensitive)."""

GRAY_MODES = ("1", "L", "LA", "I", "I;16", "F", "P")
"""Pillow modes treated as grayscale ("P" only when its palette is gray)."""


def find_images(folder: Path) -> list[Path]:
    """Image files under `folder`, recursively, sorted; hidden files skipped."""
    return sorted(
        p for p in folder.rglob("*")
        if p.suffix.lower() in EXTENSIONS and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def _is_gray(img: Image.Image) -> bool:
    if img.mode == "P":
        rgb = img.convert("RGB")
        arr = np.asarray(rgb)
        return bool((arr[..., 0] == arr[..., 1]).all() and (arr[..., 1] == arr[..., 2]).all())
    return img.mode in GRAY_MODES


def _read(path: Path) -> Image.Image:
    """Open and fully decode one image (a truncated file fails here, not later).

    A header declaring more than PIL's MAX_IMAGE_PIXELS (about 89 M) is refused before any
    pixel buffer is allocated: Pillow's DecompressionBombWarning is raised as an error.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(path) as img:
            img.load()
            return ImageOps.exif_transpose(img).copy()


def load_folder(
    folder: str | Path,
    image_size: int = 32,
    log: Callable[[str], None] | None = None,
) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """(images uint8 (N, S, S) or (N, S, S, 3), labels (N,) int64 or None, class names)."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise DataError(f"image folder {str(root)!r} does not exist or is not a folder; "
                        "use --data folder:PATH with a folder of PNG/JPEG files")
    paths = find_images(root)
    if not paths:
        raise DataError(f"image folder {str(root)!r} holds no .png/.jpg/.jpeg files")
    images: list[Image.Image] = []
    kept: list[Path] = []
    broken: list[str] = []
    for path in paths:
        try:
            images.append(_read(path))
            kept.append(path)
        except (OSError, UnidentifiedImageError, ValueError, SyntaxError,
                Image.DecompressionBombError, Image.DecompressionBombWarning):
            broken.append(str(path.relative_to(root)))
    if broken and log is not None:
        shown = ", ".join(broken[:10]) + (f" and {len(broken) - 10} more" if len(broken) > 10
                                          else "")
        log(f"warning: skipped {len(broken)} unreadable image file(s) in {root}: {shown}")
    if not images:
        raise DataError(f"image folder {str(root)!r}: none of its {len(paths)} image files "
                        "could be read (all broken)")
    gray = all(_is_gray(img) for img in images)
    mode = "L" if gray else "RGB"
    size = (image_size, image_size)
    arrays = [np.asarray(ImageOps.fit(img.convert(mode), size, Image.BICUBIC)) for img in images]
    stacked = np.stack(arrays).astype(np.uint8)  # (N, S, S) or (N, S, S, 3)

    rel = [p.relative_to(root).parts for p in kept]
    if all(len(parts) >= 2 for parts in rel):
        classes = sorted({parts[0] for parts in rel})
        index = {name: i for i, name in enumerate(classes)}
        labels = np.array([index[parts[0]] for parts in rel], dtype=np.int64)
        return stacked, labels, classes
    return stacked, None, []
