"""gankit's scores against the field's reference code, on the same features.

FID and KID against torchmetrics (its FrechetInceptionDistance and KernelInceptionDistance fed
features through an identity "extractor"), precision / recall / density / coverage against
`prdc` (Naeem et al.'s package). gankit keeps its own implementations (float64 numpy, no torch
state, blocked distances for 10k x 10k sets); these tests hold them equal to the references.

Definitions, checked here: FID is the same formula (gankit takes the trace of the square root
through the symmetric matrix sqrt(C1) C2 sqrt(C1), torchmetrics through the eigenvalues of
C1 C2: equal to round-off). KID is the same unbiased MMD^2 with the kernel (x.y / D + 1)^3,
mean and population standard deviation (ddof 0) over subsets of equal size drawn without
replacement; only the random subsets differ (numpy's generator with gankit's seed, torch's
global one in torchmetrics), so the figures agree exactly when every subset is the whole set.
Balls: a point is inside a k-NN ball when its distance is below the radius (prdc: strictly,
gankit: <=; equal but for exact ties, which continuous features do not have).
"""

from __future__ import annotations

import numpy as np
import prdc
import pytest
import torch

from gankit.metrics import scores


class _Features(torch.nn.Module):
    """An "extractor" that returns its input: torchmetrics then scores the features we give."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.num_features = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def _feature_sets(n1: int = 400, n2: int = 300, d: int = 16, seed: int = 0):
    """Two different, correlated, non-negative feature sets (like post-ReLU features)."""
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(d, d)) / np.sqrt(d)
    real = np.maximum(rng.normal(size=(n1, d)) @ mix + 0.5, 0)
    fake = np.maximum(rng.normal(size=(n2, d)) @ (mix * 1.3) + 0.7, 0)
    return real, fake


def test_fid_equals_torchmetrics() -> None:
    from torchmetrics.image.fid import FrechetInceptionDistance

    real, fake = _feature_sets()
    metric = FrechetInceptionDistance(feature=_Features(real.shape[1]))
    metric.update(torch.from_numpy(real), real=True)
    metric.update(torch.from_numpy(fake), real=False)
    expected = float(metric.compute())
    assert expected > 0.1  # two distinct sets
    assert scores.fid(real, fake) == pytest.approx(expected, rel=1e-9)
    assert scores.fid(real, real) == pytest.approx(0.0, abs=1e-9)


def test_kid_equals_torchmetrics_when_every_subset_is_the_whole_set() -> None:
    from torchmetrics.image.kid import KernelInceptionDistance, poly_mmd

    real, fake = _feature_sets(n1=300, n2=300)
    n = real.shape[0]
    metric = KernelInceptionDistance(feature=_Features(real.shape[1]), subsets=3, subset_size=n)
    metric.update(torch.from_numpy(real), real=True)
    metric.update(torch.from_numpy(fake), real=False)
    mean, std = (float(v) for v in metric.compute())
    ours, ours_std = scores.kid(real, fake, subsets=3, subset_size=n)
    assert mean > 1e-3
    assert ours == pytest.approx(mean, rel=1e-9)
    assert ours_std == pytest.approx(std, abs=1e-9 * mean)  # both 0: the same set each time
    # the per-subset estimate itself, on subsets of another size
    x, y = torch.from_numpy(real[:120]), torch.from_numpy(fake[:120])
    assert scores.mmd2_unbiased(real[:120], fake[:120]) == pytest.approx(
        float(poly_mmd(x, y)), rel=1e-9)


@pytest.mark.parametrize("k", [3, 5])
def test_precision_recall_density_coverage_equal_prdc(k: int, capsys) -> None:
    real, fake = _feature_sets(n1=500, n2=400, d=8, seed=k)
    ref = prdc.compute_prdc(real, fake, nearest_k=k)
    capsys.readouterr()  # prdc prints the set sizes
    precision, recall = scores.precision_recall(real, fake, k=k)
    density, coverage = scores.density_coverage(real, fake, k=k)
    assert 0.05 < ref["precision"] < 0.95 and 0.05 < ref["coverage"] < 0.95  # not trivial
    assert precision == pytest.approx(ref["precision"], abs=1e-12)
    assert recall == pytest.approx(ref["recall"], abs=1e-12)
    assert density == pytest.approx(ref["density"], abs=1e-12)
    assert coverage == pytest.approx(ref["coverage"], abs=1e-12)
