"""Animations with Pillow (no ffmpeg): the training-progress GIF and latent interpolation.

`slerp` and `interpolation_path` are pure tensor functions; `save_gif` writes frames;
`progress_gif` turns a run's epoch grids (samples/epoch_NNNN.png) into one GIF and
`progress_strip` into one captioned row (the notes' epochs 1, 50, 100, 400 side by side).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor

from gankit.errors import GankitError
from gankit.fileio import write_atomic


def slerp(z0: Tensor, z1: Tensor, t: float | Tensor) -> Tensor:
    """Spherical interpolation between latents z0, z1 (..., Z) at fraction t in [0, 1].

    Walks the great circle between the two directions while interpolating the norms
    linearly, so intermediate latents keep the norm a Gaussian latent typically has
    (a straight line through the origin's neighbourhood would shrink them). Nearly
    parallel pairs fall back to linear interpolation.
    """
    t = torch.as_tensor(t, dtype=z0.dtype)
    n0 = z0.norm(dim=-1, keepdim=True)
    n1 = z1.norm(dim=-1, keepdim=True)
    u0 = z0 / n0.clamp_min(1e-12)
    u1 = z1 / n1.clamp_min(1e-12)
    cos = (u0 * u1).sum(-1, keepdim=True).clamp(-1.0, 1.0)
    omega = torch.arccos(cos)  # angle between the directions, (..., 1)
    sin = torch.sin(omega)
    small = sin.abs() < 1e-6
    safe = torch.where(small, torch.ones_like(sin), sin)
    a = torch.where(small, 1.0 - t, torch.sin((1.0 - t) * omega) / safe)
    b = torch.where(small, t, torch.sin(t * omega) / safe)
    direction = a * u0 + b * u1
    return direction * ((1.0 - t) * n0 + t * n1)


def interpolation_path(keys: Tensor, steps: int, loop: bool = True) -> Tensor:
    """Latents walking through keyframes `keys` (K, n, Z) by slerp, `steps` frames a segment:
    the one latent walk of `gankit sample --interpolate` and `Generator.interpolate`.

    `loop`: a closed loop, (K * steps, n, Z); segment k goes from keys[k] to
    keys[(k + 1) % K] (end excluded), so a GIF loops without a jump. Else an open path from
    keys[0] to keys[-1], both included: ((K - 1) * steps + 1, n, Z).
    """
    assert keys.ndim == 3 and steps >= 1 and keys.shape[0] >= 1 + (not loop), (keys.shape, steps)
    k = keys.shape[0]
    frames = []
    for i in range(k if loop else k - 1):
        z0, z1 = keys[i], keys[(i + 1) % k]
        for s in range(steps):
            frames.append(slerp(z0, z1, s / steps))
    if not loop:
        frames.append(keys[-1])
    return torch.stack(frames)


def save_gif(frames: Sequence[np.ndarray | Image.Image], path: str | Path,
             frame_ms: int = 100, last_ms: int | None = None) -> Path:
    """Write uint8 frames (H, W) or (H, W, 3) as a looping GIF; `last_ms` holds the last one."""
    if not frames:
        raise GankitError(f"no frames to write to {str(path)!r}")
    path = Path(path)
    images = [f if isinstance(f, Image.Image) else Image.fromarray(f) for f in frames]
    images = [im.convert("P", palette=Image.ADAPTIVE) if im.mode == "RGB" else im.convert("L")
              for im in images]
    durations = [frame_ms] * len(images)
    if last_ms is not None:
        durations[-1] = last_ms
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, lambda tmp: images[0].save(
            tmp, format="GIF", save_all=True, append_images=images[1:], duration=durations,
            loop=0, optimize=False))
    except OSError as err:
        raise GankitError(f"cannot write GIF {str(path)!r}: {err.strerror or err}") from None
    return path


def _label(img: Image.Image, text: str) -> Image.Image:
    """The grid with a caption strip on top (Pillow's built-in bitmap font)."""
    try:
        font = ImageFont.load_default(size=13)  # Pillow >= 10.1 with FreeType
    except (TypeError, ImportError, OSError):
        font = ImageFont.load_default()
    strip = 18
    mode = "L" if img.mode in ("1", "L", "LA", "I", "I;16") else "RGB"
    out = Image.new(mode, (img.width, img.height + strip), color="white")
    out.paste(img.convert(mode), (0, strip))
    ImageDraw.Draw(out).text((4, 2), text, fill="black", font=font)
    return out


def progress_gif(grid_paths: Sequence[str | Path], out: str | Path,
                 frame_ms: int = 400) -> Path:
    """One GIF of the epoch grids in order, each captioned with its file's epoch."""
    frames = []
    for p in grid_paths:
        p = Path(p)
        with Image.open(p) as im:
            epoch = p.stem.removeprefix("epoch_").lstrip("0") or "0"
            frames.append(_label(im.copy(), f"epoch {epoch}"))
    return save_gif(frames, out, frame_ms=frame_ms, last_ms=frame_ms * 4)


MAX_STRIP_PIXELS = 64 << 20
"""Most pixels in a progression row (the notes' four 560 x 560 grids are 1.3 million)."""


def progress_strip(grid_paths: Sequence[str | Path], out: str | Path, gap: int = 8) -> Path:
    """The epoch grids in one row, each captioned with its file's epoch; PNG."""
    if not grid_paths:
        raise GankitError("no grids to put in a row; give the run's samples/epoch_*.png")
    out = Path(out)
    if out.suffix.lower() != ".png":
        raise GankitError(f"--out {out} must end in .png")
    tiles, pixels = [], 0
    for p in grid_paths:
        p = Path(p)
        with Image.open(p) as im:
            pixels += im.width * (im.height + 18)  # from the header, before decoding
            if pixels > MAX_STRIP_PIXELS:
                raise GankitError(f"the row of {len(grid_paths)} grids would exceed "
                                  f"{MAX_STRIP_PIXELS:,} pixels; pick fewer with --epochs")
            epoch = p.stem.removeprefix("epoch_").lstrip("0") or "0"
            tiles.append(_label(im.convert("L"), f"epoch {epoch}"))
    width = sum(t.width for t in tiles) + gap * (len(tiles) - 1)
    row = Image.new("L", (width, max(t.height for t in tiles)), color="white")
    x = 0
    for tile in tiles:
        row.paste(tile, (x, 0))
        x += tile.width + gap
    write_atomic(out, lambda tmp: row.save(tmp, format="PNG"))
    return out
