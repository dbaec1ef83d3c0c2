"""Metrics for samples of the toy distributions: mode coverage, sample quality, 1-D JS.

Definitions (the usual ones of the mode-collapse benchmarks, Unrolled GAN / VEEGAN):
- a generated sample is *high quality* when its Euclidean distance to the nearest mode
  centre is at most `n_sigma` = 3 standard deviations of that mode. (A true sample passes
  with probability 0.997 in 1-D and 1 - exp(-4.5) = 0.989 in 2-D.)
- a mode is *covered* when at least `min_fraction` = 0.2 of its fair share n / M of the
  n samples are high-quality samples nearest to it. On the 25-mode grid with 2,500 samples
  that is 20 samples, the count PacGAN uses; it ignores a few stray samples near a mode.
- JS divergence in 1-D, in nats (at most log 2), estimated from two sample sets with
  histograms on shared bins: bin width by the Freedman-Diaconis rule on the real samples,
  2 IQR n^(-1/3), bins spanning both sets, at most `max_bins`. The plug-in estimate is
  biased upward by about (occupied bins - 1) / (4 n) for two sample sets of size n.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from gankit.data.toy import ToyDistribution


@dataclass(frozen=True)
class ModeReport:
    """How generated samples spread over the modes of a toy distribution."""

    modes_covered: int
    num_modes: int
    high_quality_share: float
    """Share of samples within n_sigma std of their nearest mode, in [0, 1]."""
    counts: tuple[int, ...]
    """High-quality samples per mode."""


N_SIGMA = 3.0
"""A sample is high quality within this many standard deviations of its nearest mode."""

MIN_FRACTION = 0.2
"""A mode is covered by at least this fraction of its fair share of high-quality samples."""


def mode_report(
    samples: Tensor, dist: ToyDistribution, n_sigma: float = N_SIGMA,
    min_fraction: float = MIN_FRACTION,
) -> ModeReport:
    """Modes covered and share of high-quality samples; see the module docstring."""
    x = samples.detach().to(torch.float64).reshape(-1, dist.dim)  # (n, dim)
    assert x.shape[0] > 0, "no samples to score"
    c = dist.centres.to(torch.float64)  # (M, dim)
    dist_to = torch.cdist(x, c)  # (n, M)
    nearest_d, nearest = dist_to.min(dim=1)  # (n,), (n,)
    good = nearest_d <= n_sigma * dist.std
    counts = torch.bincount(nearest[good], minlength=dist.num_modes)
    threshold = min_fraction * x.shape[0] / dist.num_modes
    return ModeReport(
        modes_covered=int((counts >= threshold).sum()),
        num_modes=dist.num_modes,
        high_quality_share=float(good.double().mean()),
        counts=tuple(int(k) for k in counts),
    )


def js_divergence_hist(real: Tensor | np.ndarray, fake: Tensor | np.ndarray,
                       max_bins: int = 1000) -> float:
    """JS(real || fake) in nats from 1-D samples, by histograms on shared bins.

    Bin width: Freedman-Diaconis on `real`; the bins cover both sample sets (capped at
    `max_bins`, then equal width over the joint range).
    """
    a = np.asarray(real, dtype=np.float64).ravel()
    b = np.asarray(fake, dtype=np.float64).ravel()
    assert a.size > 1 and b.size > 0, "need samples on both sides"
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return float("nan")
    lo, hi = min(a.min(), b.min()), max(a.max(), b.max())
    q75, q25 = np.percentile(a, [75, 25])
    width = 2.0 * (q75 - q25) * a.size ** (-1.0 / 3.0)
    if hi <= lo:
        return 0.0
    bins = max_bins if width <= 0 else int(min(max_bins, max(1, math.ceil((hi - lo) / width))))
    edges = np.linspace(lo, hi, bins + 1)
    p = np.histogram(a, edges)[0] / a.size
    q = np.histogram(b, edges)[0] / b.size
    return js_divergence_discrete(p, q)


def js_divergence_discrete(p: np.ndarray, q: np.ndarray) -> float:
    """JS(p || q) in nats for two probability vectors on the same support."""
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    m = 0.5 * (p + q)

    def kl_to_m(r: np.ndarray) -> float:
        mask = r > 0
        return float(np.sum(r[mask] * np.log(r[mask] / m[mask])))

    return 0.5 * kl_to_m(p) + 0.5 * kl_to_m(q)


def toy_metrics(
    fake: Tensor, dist: ToyDistribution, real: Tensor | None = None
) -> dict[str, float]:
    """The toy metrics of the per-epoch log for generated samples `fake` (n, dim).

    Keys: modes_covered, num_modes, hq_share, and for 1-D data js_hist (against `real`,
    or against a fresh sample of the data distribution with the same size and seed 0).
    """
    report = mode_report(fake, dist)
    out: dict[str, float] = {
        "modes_covered": report.modes_covered,
        "num_modes": report.num_modes,
        "hq_share": report.high_quality_share,
    }
    if dist.dim == 1:
        if real is None:
            real = dist.sample(fake.shape[0], torch.Generator().manual_seed(0))
        out["js_hist"] = js_divergence_hist(real.numpy(), fake.detach().numpy())
    return out
