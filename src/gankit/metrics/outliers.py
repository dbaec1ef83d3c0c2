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

Made too, and not in KINDS: letters (printed capitals that look like no digit, LETTERS, in
Pillow's default font at a random size, stroke, offset and slant), lowercase letters,
Gaussian noise, checkerboards, rectangles: held out, to test what an extractor makes of the
unseen (gankit.metrics.degrade's ladder, benchmarks/ood.py).

The ladder (benchmarks/results/ladder-*.md) shows what ghosts cost: since an average of
digits looks like a blurred digit, they draw the "not a digit" line inside the digits (real
digits blurred with sigma 1 px read as non-digits: FID 932, precision 0). Candidates trained
without them, with letters (LADDER_KINDS) and with degraded digits labelled as themselves
(gankit.metrics.degrade.augment) fix that; they put blank images inside two odd test digits'
k-NN balls (precision 1.0), which the evaluation now avoids for the first of them (its real
balls are those of the test images the extractor is sure are digits), but held-out Gaussian
noise still scores precision 0.3 with both, so they are not shipped yet.

Images are float (B, 1, 28, 28) in [-1, 1]; every draw takes an explicit torch.Generator.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import Tensor

KINDS = ("constant", "uniform", "sparse", "blobs", "scribbles", "ghosts", "shuffled", "inverted")
"""The kinds of non-digit image the shipped extractor's training drew, in equal shares."""

LADDER_KINDS = ("constant", "uniform", "sparse", "blobs", "scribbles", "shuffled", "inverted",
                "letters")
"""The mix of the ladder candidates (no ghosts, printed letters): `train_extractor(
outlier_kinds=LADDER_KINDS, augment=True)`; not shipped (see the module doc)."""

LETTERS = "ACEFHKMNPRUVWXY"
"""Capital letters unlike any digit (no O, I, S, Z, B, G, D, L, T, J, Q)."""

LOWERCASE = "acehkmnruvwx"
"""Small letters unlike any digit: held out of training (`lowercase`), to test on."""

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


@functools.lru_cache(maxsize=16)
def _font(size: int):
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def _letters(n: int, digits: Tensor, gen: torch.Generator, alphabet: str = LETTERS) -> Tensor:
    from PIL import Image, ImageDraw

    pick = torch.randint(0, len(alphabet), (n,), generator=gen).tolist()
    size = torch.randint(16, 25, (n,), generator=gen).tolist()
    stroke = torch.randint(0, 2, (n,), generator=gen).tolist()
    offset = torch.randint(-2, 3, (n, 2), generator=gen).tolist()
    angle = ((torch.rand(n, generator=gen) - 0.5) * 30).tolist()  # degrees in [-15, 15]
    out = []
    for i in range(n):
        im = Image.new("L", (SIDE, SIDE), 0)
        ImageDraw.Draw(im).text((14 + offset[i][0], 14 + offset[i][1]), alphabet[pick[i]],
                                fill=255, font=_font(size[i]),
                                anchor="mm", stroke_width=stroke[i], stroke_fill=255)
        out.append(torch.frombuffer(bytearray(im.rotate(angle[i], resample=Image.BILINEAR)
                                              .tobytes()), dtype=torch.uint8))
    return torch.stack(out).float().div(127.5).sub(1.0).view(n, 1, SIDE, SIDE)


def _lowercase(n: int, digits: Tensor, gen: torch.Generator) -> Tensor:
    return _letters(n, digits, gen, alphabet=LOWERCASE)


def _gaussian(n: int, digits: Tensor, gen: torch.Generator) -> Tensor:
    return torch.randn(n, 1, SIDE, SIDE, generator=gen) * 0.5 - 0.5  # dark, clipped later


def _checkerboards(n: int, digits: Tensor, gen: torch.Generator) -> Tensor:
    yy, xx = torch.meshgrid(torch.arange(SIDE), torch.arange(SIDE), indexing="ij")
    k = torch.randint(2, 8, (n, 1, 1), generator=gen)  # square sizes 2-7 px
    return (((yy // k + xx // k) % 2) * 2.0 - 1).unsqueeze(1)  # (n, 1, 28, 28)


def _rectangles(n: int, digits: Tensor, gen: torch.Generator) -> Tensor:
    out = -torch.ones(n, 1, SIDE, SIDE)
    count = torch.randint(1, 4, (n,), generator=gen).tolist()
    for i in range(n):
        for _ in range(count[i]):
            y0, x0, h, w = (torch.randint(0, 20, (2,), generator=gen).tolist()
                            + torch.randint(3, 12, (2,), generator=gen).tolist())
            out[i, 0, y0 : y0 + h, x0 : x0 + w] = 1.0
    return out


_MAKERS = {
    "constant": _constant, "uniform": _uniform, "sparse": _sparse, "blobs": _blobs,
    "scribbles": _scribbles, "ghosts": _ghosts, "shuffled": _shuffled, "inverted": _inverted,
    "letters": _letters,
    # never in the training mix: held out, for benchmarks and tests
    "lowercase": _lowercase, "gaussian": _gaussian, "checkerboards": _checkerboards,
    "rectangles": _rectangles,
}  # fmt: skip


def outlier_images(kind: str, n: int, digits: Tensor, gen: torch.Generator) -> Tensor:
    """n images (n, 1, 28, 28) in [-1, 1] of one kind; `digits` (M, 1, 28, 28) feed the kinds
    built from real digits (ghosts, shuffled, inverted)."""
    if kind not in _MAKERS:
        raise ValueError(f"unknown outlier kind {kind!r}; use one of {', '.join(_MAKERS)}")
    assert digits.ndim == 4 and digits.shape[1:] == (1, SIDE, SIDE), tuple(digits.shape)
    return _MAKERS[kind](n, digits, gen).clamp(-1, 1)


def outlier_batch(n: int, digits: Tensor, gen: torch.Generator,
                  kinds: tuple[str, ...] = KINDS) -> Tensor:
    """n non-digit images (n, 1, 28, 28), the kinds in equal shares (the remainder to the first)."""
    per, extra = divmod(n, len(kinds))
    parts = [outlier_images(kind, per + (i < extra), digits, gen)
             for i, kind in enumerate(kinds) if per + (i < extra) > 0]
    return torch.cat(parts)

