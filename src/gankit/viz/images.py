"""Image output: sample grids as PNG, raw samples as .npy.

Images arrive as tensors (B, C, H, W) in [-1, 1] (the generator's tanh range).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from gankit.errors import GankitError
from gankit.fileio import write_atomic


def to_uint8(images: Tensor) -> np.ndarray:
    """(B, C, H, W) in [-1, 1] -> uint8 array (B, H, W, C) in [0, 255]."""
    x = images.detach().float().cpu().clamp(-1, 1)
    x = ((x + 1.0) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).numpy()


def make_grid(images: Tensor, nrow: int | None = None, pad: int = 2) -> np.ndarray:
    """Tile (B, C, H, W) images into one uint8 array (rows, cols[, C]) with a dark border."""
    pics = to_uint8(images)
    b, h, w, c = pics.shape
    nrow = nrow or max(1, int(math.ceil(math.sqrt(b))))
    ncol = int(math.ceil(b / nrow))
    grid = np.zeros((pad + ncol * (h + pad), pad + nrow * (w + pad), c), dtype=np.uint8)
    for i in range(b):
        r, k = divmod(i, nrow)
        y, x = pad + r * (h + pad), pad + k * (w + pad)
        grid[y : y + h, x : x + w] = pics[i]
    return grid[..., 0] if c == 1 else grid


def save_grid(images: Tensor, path: str | Path, nrow: int | None = None, scale: int = 2) -> Path:
    """Write a grid PNG (nearest-neighbour upscaled by `scale` so digits are visible)."""
    path = Path(path)
    grid = make_grid(images, nrow)
    img = Image.fromarray(grid)
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, lambda tmp: img.save(tmp, format="PNG"))
    except OSError as err:
        raise GankitError(f"cannot write image {str(path)!r}: {err.strerror or err}") from None
    return path


def save_samples(images: Tensor, path: str | Path, nrow: int | None = None) -> Path:
    """Write samples: `.npy` -> raw uint8 array (N, H, W) or (N, H, W, C); else a PNG grid.

    Toy samples (N, D) with D = 1 or 2 are points, not images: `.npy` keeps them as float32,
    `.png` draws a histogram (1-D) or a scatter plot (2-D).
    """
    path = Path(path)
    if images.ndim == 2:
        return _save_points(images, path)
    if path.suffix.lower() == ".npy":
        arr = to_uint8(images)
        if arr.shape[-1] == 1:
            arr = arr[..., 0]
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            save_npy(path, arr)
        except OSError as err:
            raise GankitError(f"cannot write {str(path)!r}: {err.strerror or err}") from None
        return path
    if path.suffix.lower() not in (".png", ""):
        raise GankitError(f"output {str(path)!r} must end in .png (a grid) or .npy (an array)")
    return save_grid(images, path.with_suffix(".png"), nrow)


def save_npy(path: Path, arr: np.ndarray) -> Path:
    """`np.save` through the one atomic writer (a failed write leaves any old file whole)."""

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:  # a file object: np.save would add .npy to a name
            np.save(fh, arr)

    return write_atomic(path, write)


def _save_points(samples: Tensor, path: Path) -> Path:
    from gankit.viz.plots import plot_points

    arr = samples.detach().float().cpu().numpy()
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".png"):
        raise GankitError(f"output {str(path)!r} must end in .png (a plot) or .npy (an array)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".npy":
            return save_npy(path, arr)
        return plot_points(path, arr)
    except OSError as err:
        raise GankitError(f"cannot write {str(path)!r}: {err.strerror or err}") from None
