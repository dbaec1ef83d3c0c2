"""The degradations of the extractor's calibration ladder, and the ladder itself on real MNIST:
FID rises with every degradation's strength, ten legible classes beat any one class, and
non-digits score worse than every set of digits."""

from __future__ import annotations

import math
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from gankit.metrics import degrade
from gankit.metrics.degrade import (
    DEGRADATIONS,
    LEGIBLE,
    STRENGTHS,
    TRAINED,
    blur,
    elastic,
    noise,
    strokes,
)


def _square(side: int = 4) -> torch.Tensor:
    """One image (1, 1, 28, 28): a white side x side square in the middle of black."""
    x = -torch.ones(1, 1, 28, 28)
    lo = 14 - side // 2
    x[..., lo : lo + side, lo : lo + side] = 1.0
    return x


def _ink(x: torch.Tensor) -> torch.Tensor:
    return (x + 1) / 2  # background 0, full ink 1


def _spread(x: torch.Tensor) -> float:
    """Variance of the ink's position along the rows (pixels^2)."""
    ink = _ink(x)[0, 0]
    rows = torch.arange(28, dtype=torch.float32)
    w = ink.sum(dim=1) / ink.sum()
    mean = (w * rows).sum()
    return float((w * (rows - mean) ** 2).sum())


def test_blur_keeps_the_ink_and_spreads_it_by_sigma_squared() -> None:
    x = _square()
    spreads = [_spread(x)]
    for sigma in (0.5, 1.0, 1.5, 2.0, 2.5):
        y = blur(x, sigma)
        assert float(_ink(y).sum()) == pytest.approx(float(_ink(x).sum()), rel=1e-5)  # mass
        spreads.append(_spread(y))
        if sigma >= 1.0:  # a sampled Gaussian adds sigma^2 to the variance
            assert spreads[-1] - spreads[0] == pytest.approx(sigma**2, rel=0.02)
    assert all(a < b for a, b in zip(spreads, spreads[1:], strict=False))
    assert torch.equal(blur(x, 0.0), x)  # sigma 0: nothing


def test_blur_takes_one_sigma_per_image() -> None:
    x = _square().repeat(3, 1, 1, 1)
    y = blur(x, torch.tensor([0.0, 1.0, 2.0]))
    assert torch.equal(y[0], x[0])
    torch.testing.assert_close(y[2:], blur(x[2:], 2.0))


def test_noise_has_the_stated_sd_and_is_seeded() -> None:
    grey = torch.zeros(50, 1, 28, 28)  # mid-grey: no clipping at these strengths
    for sd in (0.05, 0.1, 0.2):
        y = noise(grey, sd, torch.Generator().manual_seed(0))
        # sd in [0, 1] pixel units; the images span [-1, 1], twice that
        assert float((y - grey).std()) / 2 == pytest.approx(sd, rel=0.02)
    a = noise(grey, 0.1, torch.Generator().manual_seed(3))
    b = noise(grey, 0.1, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    assert float((-noise(-torch.ones(2, 1, 28, 28), 0.5, torch.Generator())).max()) <= 1.0


def test_elastic_warps_more_with_its_strength_and_keeps_the_ink_on_average() -> None:
    x = _square(10).repeat(64, 1, 1, 1)
    change = []
    for rms in (0.5, 1.0, 2.0, 3.0):
        y = elastic(x, rms, torch.Generator().manual_seed(0))
        change.append(float((y - x).abs().mean()))
        # a warp squeezes ink in one place and stretches it in another: kept on average
        if rms <= 2.0:
            assert float(_ink(y).sum()) == pytest.approx(float(_ink(x).sum()), rel=0.01)
    assert all(a < b for a, b in zip(change, change[1:], strict=False))
    torch.testing.assert_close(elastic(x, 0.0, torch.Generator().manual_seed(0)), x)
    g = [torch.Generator().manual_seed(1) for _ in range(2)]
    assert torch.equal(elastic(x, 1.0, g[0]), elastic(x, 1.0, g[1]))


def test_strokes_grow_and_shrink_by_a_disk() -> None:
    dot = _square(1)
    # dilating one pixel by a disk of radius r lights the disk's pixels: 5, 9, 13, 21
    for radius, pixels in ((1.0, 5), (1.5, 9), (2.0, 13), (2.5, 21)):
        assert int((strokes(dot, radius) > 0).sum()) == pixels
    block = _square(3)
    assert int((strokes(block, -1.0) > 0).sum()) == 1  # a 3 x 3 square erodes to its centre
    assert int((strokes(block, -1.5) > 0).sum()) == 1
    assert int((strokes(_square(5), -1.5) > 0).sum()) == 9


def test_degrade_names_each_kind_and_refuses_others() -> None:
    x = _square(6)
    g = torch.Generator().manual_seed(0)
    for kind in DEGRADATIONS:
        for s in STRENGTHS[kind]:
            y = degrade.degrade(kind, x, s, g)
            assert y.shape == x.shape and not torch.equal(y, x)
            assert float(y.min()) >= -1 and float(y.max()) <= 1
    with pytest.raises(ValueError, match="unknown degradation 'fog'"):
        degrade.degrade("fog", x, 1.0, g)


def test_training_augmentation_stays_within_its_trained_strengths() -> None:
    x = _square(6).repeat(400, 1, 1, 1)
    y = degrade.augment(x, torch.Generator().manual_seed(0))
    assert torch.equal(y, degrade.augment(x, torch.Generator().manual_seed(0)))
    untouched = (y == x).flatten(1).all(dim=1).float().mean()
    assert 0.15 < float(untouched) < 0.35  # half blurred, half noisy, independently: ~1/4 clean
    # never more than the strongest trained blur and noise together
    strongest = noise(blur(x, TRAINED["blur"]), TRAINED["noise"], torch.Generator().manual_seed(1))
    assert float((y - x).abs().mean()) < 0.5 * float((strongest - x).abs().mean())
    assert torch.equal(degrade.augment(x, torch.Generator(), share=0.0), x)


def test_the_ladder_is_seeded_and_draws_what_it_names() -> None:
    labels = torch.arange(1000) % 10
    # each "digit" an image of one grey level that names its class: the picks can be read back
    digits = (labels.float() / 10).view(-1, 1, 1, 1).expand(-1, 1, 28, 28).contiguous()
    a = list(degrade.ladder(digits, labels, 100, seed=0))
    b = list(degrade.ladder(digits, labels, 100, seed=0))
    assert [r.label for r in a] == [r.label for r in b]
    assert all(torch.equal(r.images, s.images) for r, s in zip(a, b, strict=True))
    assert all(r.images.shape == (100, 1, 28, 28) for r in a)
    by = {r.label: r for r in a}
    assert by["clean digits"].legible and not by["only 3s"].legible
    assert not by["thinner 1.5"].legible and by["blur 2"].legible

    def classes(rung) -> set[int]:
        return set((rung.images[:, 0, 0, 0] * 10).round().int().tolist())

    assert classes(by["only 3s"]) == {3}
    for k in degrade.SUBSETS:
        assert classes(by[f"{k} classes"]) == set(degrade.SUBSET_ORDER[:k])
    assert len(classes(by["clean digits"])) == 10
    assert sum(r.family == "one class" for r in a) == 10


@pytest.mark.slow  # 45 sets through the extractor: 12 s, 150 s on a loaded shared machine
@pytest.mark.network  # real MNIST, from the PyPI wheel
@pytest.mark.xfail(strict=True, reason="the shipped extractor reads digits blurred by 1 px as "
                   "non-digits (its outlier exposure includes averages of digits); the ladder "
                   "candidates that hold this test give held-out noise (or, with the "
                   "objectosphere cost, blank images) precision 0.3-1.0: not shipped")
def test_the_shipped_extractor_holds_the_ladder() -> None:
    """The ladder's rules on real MNIST, 500 images a rung against 2,000 test images (FID)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import ladder

    from gankit.data.mnist import load_mnist
    from gankit.metrics.features import extract, load_extractor, to_model_input

    model = load_extractor()
    train_x, train_y = load_mnist("train")
    test_x, _ = load_mnist("test")
    reference, _ = extract(model, to_model_input(test_x[:2000]))
    pick = np.random.default_rng(0).choice(len(train_x), 6000, replace=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = ladder.score_rungs(model, to_model_input(train_x[pick]),
                                  torch.from_numpy(train_y[pick].astype(np.int64)), reference,
                                  n=500, with_precision=False)  # fmt: skip
    held = ladder.checks(rows, precision=False)
    rules = [f"FID rises with {k}" for k in (*DEGRADATIONS, "classes")] + [
        "ten legible classes beat one class",
        "non-digits worse than every set of ten classes",
    ]  # not held yet: Gaussian noise and small letters score better than 2- and 1-class sets
    # (FID 670-740 against 700-1080 at n = 5,000; benchmarks/results/ladder-*.md)
    failed = {k: held[k][1] for k in rules if not held[k][0]}
    assert not failed, failed


def test_graded_augmentation_draws_as_augment_and_says_how_strong_each_image_was() -> None:
    x = _square(6).repeat(400, 1, 1, 1)
    y, severity = degrade.graded_augment(x, torch.Generator().manual_seed(0))
    assert torch.equal(y, degrade.augment(x, torch.Generator().manual_seed(0)))
    # severity 0: the image left as it was; a changed image has a severity (a tiny blur may
    # leave a square unchanged, so not the converse)
    assert torch.equal(y[severity == 0], x[severity == 0])
    assert bool((severity[(y != x).flatten(1).any(dim=1)] > 0).all())
    # each strength in units of its legible limit, combined as a Euclidean norm
    top = math.hypot(TRAINED["blur"] / LEGIBLE["blur"], TRAINED["noise"] / LEGIBLE["noise"],
                     TRAINED["thinner"] / LEGIBLE["thinner"])
    assert float(severity.max()) <= top
    eroded = severity >= TRAINED["thinner"] / LEGIBLE["thinner"]  # only erosion reaches 1
    assert 0.15 < float(eroded.float().mean()) < 0.35  # a quarter of the images (share / 2)
    _, none = degrade.graded_augment(x, torch.Generator(), share=0.0)
    assert torch.equal(none, torch.zeros(400))
