"""Degradations of digit images: the rungs of the extractor's calibration ladder.

A metric in the extractor's feature space is only as good as the ladder it climbs: blurrier,
noisier, more warped digits, strokes thinner or thicker, fewer classes, and images that are no
digits at all, must score worse and worse, in that order. This module makes those images;
benchmarks/ladder.py scores them and tests/metrics/test_degrade.py checks the order.

Each degradation maps float images (B, 1, 28, 28) in [-1, 1] (the generator's range) to images
of the same shape and range, at a strength that is a float or one value per image (B,):

- `blur(x, sigma)`: a Gaussian blur of the ink ((x + 1) / 2, background 0), sigma in pixels;
  the kernel is normalised, so the ink's mass is kept (away from the border);
- `noise(x, sd, gen)`: Gaussian pixel noise, sd in units of the [0, 1] pixel range, clipped;
- `elastic(x, rms, gen)`: a smooth random displacement field (Simard et al. 2003, Gaussian-
  smoothed with sigma 4 px), scaled to a root-mean-square displacement of `rms` pixels;
- `strokes(x, radius)`: thicker (radius > 0, grey-level dilation) or thinner (radius < 0,
  erosion) strokes, by a flat disk of |radius| pixels (1: a 3 x 3 cross, 1.5: a 3 x 3 square).

`augment` draws `blur`, `noise` and a thinning at mild strengths (TRAINED) as the training
augmentation of the ladder candidates (`train_extractor(augment=True)`); elastic warps,
thicker strokes and the stronger rungs stay held out. `graded_augment` also says how strong
each image's degradation was (its severity), for `train_extractor(displacement=...)`. Every
random draw takes an explicit torch.Generator.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

SIDE = 28

TRAINED = {"blur": 1.5, "noise": 0.2, "thinner": 1.0}
"""Largest strength of each degradation `augment` draws (blur and noise uniform from 0,
thinning at that radius); the rest of the ladder is held out of such training."""


def _per_image(value: float | Tensor, n: int) -> Tensor:
    """A strength as one float per image: (n,)."""
    v = torch.as_tensor(value, dtype=torch.float32).flatten()
    assert v.numel() in (1, n) and bool((v >= 0).all()), (v.numel(), n)
    return v.expand(n) if v.numel() == 1 else v


def _gaussian_kernels(sigma: Tensor, radius: int) -> Tensor:
    """One normalised 1-d Gaussian kernel per sigma: (n,) -> (n, 2 * radius + 1); sigma 0 is
    the identity kernel."""
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)  # (K,)
    s = sigma.clamp_min(1e-6).unsqueeze(1)  # (n, 1)
    k = torch.exp(-0.5 * (t / s) ** 2)  # (n, K)
    return k / k.sum(dim=1, keepdim=True)


def _separable(ink: Tensor, kernels: Tensor) -> Tensor:
    """Convolve each image (n, 1, H, W) with its own separable kernel (n, K), zero padding."""
    n, _, h, w = ink.shape
    r = kernels.shape[1] // 2
    x = ink.reshape(1, n, h, w)
    x = F.conv2d(F.pad(x, (r, r, 0, 0)), kernels.view(n, 1, 1, -1), groups=n)  # rows
    x = F.conv2d(F.pad(x, (0, 0, r, r)), kernels.view(n, 1, -1, 1), groups=n)  # columns
    return x.reshape(n, 1, h, w)


def blur(x: Tensor, sigma: float | Tensor) -> Tensor:
    """Gaussian blur of the ink with standard deviation `sigma` pixels (a float or (B,))."""
    _check(x)
    s = _per_image(sigma, x.shape[0])
    radius = max(1, math.ceil(3 * float(s.max())))
    ink = (x + 1) / 2  # (B, 1, 28, 28) in [0, 1], background 0
    return (_separable(ink, _gaussian_kernels(s, radius)) * 2 - 1).clamp(-1, 1)


def noise(x: Tensor, sd: float | Tensor, gen: torch.Generator) -> Tensor:
    """Add Gaussian pixel noise of standard deviation `sd` (in [0, 1] pixel units), clipped."""
    _check(x)
    s = _per_image(sd, x.shape[0]).view(-1, 1, 1, 1)
    eps = torch.randn(x.shape, generator=gen)
    return (x + 2 * s * eps).clamp(-1, 1)  # 2 sd: the [-1, 1] range is twice [0, 1]


def elastic(x: Tensor, rms: float | Tensor, gen: torch.Generator, smooth: float = 4.0) -> Tensor:
    """Warp each image by a smooth random displacement field of RMS length `rms` pixels."""
    _check(x)
    n = x.shape[0]
    r = _per_image(rms, n).view(-1, 1, 1, 1)
    field = torch.rand(2 * n, 1, SIDE, SIDE, generator=gen) * 2 - 1  # (2B, 1, 28, 28): dy, dx
    kernel = _gaussian_kernels(torch.full((2 * n,), smooth), math.ceil(3 * smooth))
    field = _separable(field, kernel).view(n, 2, SIDE, SIDE)
    field = field - field.mean(dim=(2, 3), keepdim=True)  # a warp, not a shift
    norm = field.pow(2).sum(dim=1, keepdim=True).mean(dim=(2, 3), keepdim=True).sqrt()
    field = field / norm.clamp_min(1e-12) * r  # (B, 2, 28, 28), RMS length r pixels
    base = torch.linspace(-1, 1, SIDE)
    gy, gx = torch.meshgrid(base, base, indexing="ij")
    scale = 2 / (SIDE - 1)  # pixels -> grid_sample's [-1, 1] coordinates
    grid = torch.stack([gx + field[:, 1] * scale, gy + field[:, 0] * scale], dim=3)  # (B, H, W, 2)
    ink = (x + 1) / 2
    out = F.grid_sample(ink, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    return (out * 2 - 1).clamp(-1, 1)


def _disk_pool(ink: Tensor, radius: float, fn) -> Tensor:
    """Grey-level dilation (fn=max) or erosion (fn=min) by a flat disk: every offset (dy, dx)
    with dy^2 + dx^2 <= radius^2 (radius 1: a 3 x 3 cross, 1.5: the 3 x 3 square)."""
    r = int(radius)
    padded = F.pad(ink, (r, r, r, r), value=0.0)
    out = ink
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            if 0 < dy * dy + dx * dx <= radius * radius:
                out = fn(out, padded[:, :, r + dy : r + dy + SIDE, r + dx : r + dx + SIDE])
    return out


def strokes(x: Tensor, radius: float) -> Tensor:
    """Thicker (radius > 0: grey-level dilation) or thinner (radius < 0: erosion) strokes, by a
    flat disk of |radius| pixels; radii 1, 1.5, 2, 2.5 are disks of 5, 9, 13, 21 pixels."""
    _check(x)
    fn = torch.maximum if radius > 0 else torch.minimum
    return (_disk_pool((x + 1) / 2, abs(float(radius)), fn) * 2 - 1).clamp(-1, 1)


def _check(x: Tensor) -> None:
    assert x.ndim == 4 and x.shape[1:] == (1, SIDE, SIDE), tuple(x.shape)
    assert x.dtype == torch.float32, x.dtype


DEGRADATIONS = ("blur", "noise", "elastic", "thinner", "thicker")
"""The strength-graded degradations of the ladder, in the order `degrade` knows them."""


def degrade(kind: str, x: Tensor, strength: float, gen: torch.Generator) -> Tensor:
    """One of DEGRADATIONS at one strength (sigma / sd / RMS pixels / disk radius)."""
    if kind == "blur":
        return blur(x, strength)
    if kind == "noise":
        return noise(x, strength, gen)
    if kind == "elastic":
        return elastic(x, strength, gen)
    if kind in ("thinner", "thicker"):
        return strokes(x, strength if kind == "thicker" else -strength)
    raise ValueError(f"unknown degradation {kind!r}; use one of {', '.join(DEGRADATIONS)}")


def augment(x: Tensor, gen: torch.Generator, share: float = 0.5) -> Tensor:
    """The extractor's training augmentation: `share` of the images blurred (sigma uniform in
    [0, TRAINED['blur']]), `share` of them given pixel noise (sd uniform in [0,
    TRAINED['noise']]), `share` / 2 of them eroded (thinner strokes, radius
    TRAINED['thinner']), independently; labels stay those of the digits."""
    return graded_augment(x, gen, share)[0]


def graded_augment(x: Tensor, gen: torch.Generator, share: float = 0.5) -> tuple[Tensor, Tensor]:
    """`augment` (the same draws, the same images) and each image's severity (B,): the
    Euclidean norm of its strengths, each in units of its degradation's strongest legible rung
    (LEGIBLE), sqrt((sigma / 2)^2 + (sd / 0.4)^2 + (radius / 1)^2); 0 for an untouched image."""
    _check(x)
    n = x.shape[0]
    sigma = torch.rand(n, generator=gen) * TRAINED["blur"]
    sigma = torch.where(torch.rand(n, generator=gen) < share, sigma, torch.zeros(n))
    x = blur(x, sigma)
    sd = torch.rand(n, generator=gen) * TRAINED["noise"]
    sd = torch.where(torch.rand(n, generator=gen) < share, sd, torch.zeros(n))
    x = noise(x, sd, gen)
    thin = torch.rand(n, generator=gen) < share / 2  # (B,) eroded by a cross: faint digits
    x = torch.where(thin.view(-1, 1, 1, 1), strokes(x, -TRAINED["thinner"]), x)
    radius = thin.float() * TRAINED["thinner"]
    severity = torch.stack([sigma / LEGIBLE["blur"], sd / LEGIBLE["noise"],
                            radius / LEGIBLE["thinner"]]).norm(dim=0)  # (B,)
    return x, severity


# ------------------------------------------------------------------------ the ladder

STRENGTHS = {
    "blur": (0.5, 1.0, 1.5, 2.0, 2.5),
    "noise": (0.05, 0.1, 0.2, 0.3, 0.4),
    "elastic": (0.5, 1.0, 1.5, 2.0),
    "thinner": (1.0, 1.5),
    "thicker": (1.0, 1.5, 2.0, 2.5),
}
"""The ladder's rungs of each degradation, weakest first (units as in `degrade`)."""

LEGIBLE = {"blur": 2.0, "noise": 0.4, "elastic": 2.0, "thinner": 1.0, "thicker": 2.5}
"""Strongest rung of each degradation at which the digits stay plainly legible (judged by eye
on a contact sheet: blur 2.5 px smears them, erosion 1.5 px breaks the strokes)."""

SUBSETS = (7, 5, 3, 2)
"""Class subsets of the ladder: the first k digits of SUBSET_ORDER."""

SUBSET_ORDER = (3, 8, 0, 6, 1, 9, 4, 7, 2, 5)

NON_DIGITS = ("constant", "uniform", "sparse", "scribbles", "letters", "gaussian", "lowercase",
              "checkerboards", "rectangles")
"""The ladder's non-digit sets (gankit.metrics.outliers kinds)."""


@dataclass(frozen=True)
class Rung:
    """One set of the ladder: its images and what it is."""

    family: str
    """clean, a degradation (blur, noise, ...), classes (a subset), one class, non-digit, or
    blend (averages of 4 digits, the blur of an untrained generator: in no rule)."""
    label: str
    strength: float
    """The degradation's strength, the number of classes, or 0."""
    legible: bool
    """All ten classes present and legible (the sets that must beat any one-class set)."""
    images: Tensor


def ladder(digits: Tensor, labels: Tensor, n: int, seed: int = 0,
           families: tuple[str, ...] | None = None) -> Iterator[Rung]:
    """The ladder's rungs, one at a time, each of n images drawn from `digits` (M, 1, 28, 28)
    in [-1, 1] with their `labels` (M,): clean digits, each degradation at each strength (the
    same n digits throughout, so rungs differ only by the degradation), class subsets, each
    single class, non-digits, and averages of 4 digits. `families` picks a part of it
    (default: all)."""
    from gankit.metrics.outliers import outlier_images

    _check(digits)
    want = families or ("clean", *DEGRADATIONS, "classes", "one class", "non-digit", "blend")
    gen = torch.Generator().manual_seed(seed)
    base = digits[torch.randperm(digits.shape[0], generator=gen)[:n]]
    if "clean" in want:
        yield Rung("clean", "clean digits", 0.0, True, base)
    for kind in DEGRADATIONS:
        if kind not in want:
            continue
        for s in STRENGTHS[kind]:
            yield Rung(kind, f"{kind} {s:g}", s, s <= LEGIBLE[kind],
                       degrade(kind, base, s, torch.Generator().manual_seed(seed + 1)))
    if "classes" in want:
        for k in SUBSETS:
            pool = torch.isin(labels, torch.tensor(SUBSET_ORDER[:k]))
            yield Rung("classes", f"{k} classes", float(k), False,
                       _draw(digits[pool], n, gen))
    if "one class" in want:
        for c in range(10):
            pool = digits[labels == c]
            yield Rung("one class", f"only {c}s", 1.0, False, _draw(pool, n, gen))
    if "non-digit" in want:
        for kind in NON_DIGITS:
            x = outlier_images(kind, n, base, torch.Generator().manual_seed(seed + 2))
            yield Rung("non-digit", kind, 0.0, False, x)
    if "blend" in want:
        x = outlier_images("ghosts", n, base, torch.Generator().manual_seed(seed + 2))
        yield Rung("blend", "ghosts", 0.0, False, x)


def _draw(pool: Tensor, n: int, gen: torch.Generator) -> Tensor:
    """n images of `pool`, without replacement while it lasts."""
    idx = torch.randperm(pool.shape[0], generator=gen)[:n]
    return pool[idx]
