"""Non-digit images for the extractor's outlier exposure.

A digit classifier trained on digits alone answers every input with some digit, often with
great confidence: all-black images read as a confident "1", uniform noise as a certain "8".
Metrics built on it then reward garbage (precision 1.00 for a blank batch). Outlier exposure
(Hendrycks, Mazeika & Dietterich, "Deep Anomaly Detection with Outlier Exposure", ICLR 2019)
also shows the classifier images that are not digits; gankit's extractor learns to call them
"not a digit", an eleventh class that its output folds into a uniform prediction over the
digits (gankit.metrics.features). Training toward the uniform prediction directly, as the
paper does, was tried first: it mapped every non-digit onto one point of the feature space
(all features zero) that lay among real digits' neighbourhoods, so a blank batch still scored
precision 1.00; the extra class gives non-digits a place of their own, away from digits.
`outlier_batch` makes such images on the fly, an even mix of KINDS:

- constant: one grey level everywhere (blank, white and between);
- uniform: independent uniform pixels;  sparse: random dots, a random share of them lit;
- blobs: smoothed noise cut at a threshold (shapes without strokes);
- scribbles: looping random-walk strokes as thick as a pen stroke, 40-80 steps long;
- ghosts: the average of 4 digits (the blur of an untrained generator);
- shuffled: a digit's pixels in random order (its ink without its shape);
- inverted: a digit dark on white (not MNIST's polarity).

Images are float (B, 1, 28, 28) in [-1, 1]; every draw takes an explicit torch.Generator.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

KINDS = ("constant", "uniform", "sparse", "blobs", "scribbles", "ghosts", "shuffled", "inverted")
"""The kinds of non-digit image, drawn in equal shares."""

SIDE = 28


def _constant(n: int, digits: Tensor, gen: torch.Generator) -> Tensor:
    level = torch.rand(n, 1, 1, 1, generator=gen) * 2 - 1  # (n, 1, 1, 1)
    return level.expand(n, 1, SIDE, SIDE).clone()


def _uniform(n: int, digits: Tensor, gen: torch.Generator) -> Tensor:
    return torch.rand(n, 1, SIDE, SIDE, generator=gen) * 2 - 1


def _sparse(n: int, digits: Tensor, gen: torch.Generator) -> Tensor:
    share = torch.rand(n, 1, 1, 1, generator=gen) * 0.48 + 0.02  # lit share in [0.02, 0.5]
    lit = torch.rand(n, 1, SIDE, SIDE, generator=gen) < share
    return torch.where(lit, 1.0, -1.0)


def _blobs(n: int, digits: Tensor, gen: torch.Generator) -> Tensor:
    noise = torch.randn(n, 1, SIDE, SIDE, generator=gen)
    smooth = F.avg_pool2d(F.avg_pool2d(noise, 5, 1, 2, count_include_pad=False), 5, 1, 2,
                          count_include_pad=False)  # (n, 1, 28, 28)
    flat = smooth.flatten(1)
    q = torch.rand(n, 1, generator=gen) * 0.25 + 0.7  # keep the top 5-30 %
    cut = torch.quantile(flat, q.squeeze(1), dim=1).diagonal().unsqueeze(1)  # (n, 1)
    return torch.where(flat > cut, 1.0, -1.0).view(n, 1, SIDE, SIDE)


def _scribbles(n: int, digits: Tensor, gen: torch.Generator, steps: int = 80) -> Tensor:
    start = torch.rand(n, 1, 2, generator=gen) * 14 + 7  # (n, 1, 2) in [7, 21]
    # a pen turning at a random rate: heading changes by a random walk, speed ~1 px/step
    rate = (torch.rand(n, 1, generator=gen) - 0.5) * 0.6  # radians per step
    turn = rate + torch.cumsum(torch.randn(n, steps, generator=gen) * 0.06, dim=1)  # (n, T)
    heading = torch.rand(n, 1, generator=gen) * 6.2832 + torch.cumsum(turn, dim=1)  # (n, T)
    vel = 1.2 * torch.stack([heading.sin(), heading.cos()], dim=2)  # (n, T, 2)
    pos = (start + torch.cumsum(vel, dim=1)).round().clamp(1, SIDE - 2).long()  # (n, T, 2)
    length = torch.randint(40, steps + 1, (n, 1), generator=gen)  # (n, 1)
    keep = torch.arange(steps).unsqueeze(0) < length  # (n, T)
    canvas = torch.zeros(n, SIDE * SIDE)
    flat_idx = pos[..., 0] * SIDE + pos[..., 1]  # (n, T)
    canvas.scatter_(1, flat_idx, keep.float())
    thick = F.max_pool2d(canvas.view(n, 1, SIDE, SIDE), 3, 1, 1)  # a 3-pixel pen
    return thick * 2 - 1


def _ghosts(n: int, digits: Tensor, gen: torch.Generator, k: int = 4) -> Tensor:
    pick = torch.randint(0, digits.shape[0], (n, k), generator=gen)
    return digits[pick].mean(dim=1)  # (n, 1, 28, 28)


def _shuffled(n: int, digits: Tensor, gen: torch.Generator) -> Tensor:
    pick = torch.randint(0, digits.shape[0], (n,), generator=gen)
    flat = digits[pick].flatten(1)  # (n, 784)
    order = torch.rand(flat.shape, generator=gen).argsort(dim=1)
    return flat.gather(1, order).view(n, 1, SIDE, SIDE)


def _inverted(n: int, digits: Tensor, gen: torch.Generator) -> Tensor:
    pick = torch.randint(0, digits.shape[0], (n,), generator=gen)
    return -digits[pick]


_MAKERS = {
    "constant": _constant, "uniform": _uniform, "sparse": _sparse, "blobs": _blobs,
    "scribbles": _scribbles, "ghosts": _ghosts, "shuffled": _shuffled, "inverted": _inverted,
}  # fmt: skip


def outlier_images(kind: str, n: int, digits: Tensor, gen: torch.Generator) -> Tensor:
    """n images (n, 1, 28, 28) in [-1, 1] of one kind; `digits` (M, 1, 28, 28) feed the kinds
    built from real digits (ghosts, shuffled, inverted)."""
    if kind not in _MAKERS:
        raise ValueError(f"unknown outlier kind {kind!r}; use one of {', '.join(KINDS)}")
    assert digits.ndim == 4 and digits.shape[1:] == (1, SIDE, SIDE), tuple(digits.shape)
    return _MAKERS[kind](n, digits, gen).clamp(-1, 1)


def outlier_batch(n: int, digits: Tensor, gen: torch.Generator) -> Tensor:
    """n non-digit images (n, 1, 28, 28), the kinds in equal shares (the remainder to the first)."""
    per, extra = divmod(n, len(KINDS))
    parts = [outlier_images(kind, per + (i < extra), digits, gen)
             for i, kind in enumerate(KINDS) if per + (i < extra) > 0]
    return torch.cat(parts)

