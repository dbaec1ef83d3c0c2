"""The metrics as pure functions of extractor outputs: feature arrays and class probabilities.

Nothing here knows about images, models or files. Features are (N, D) arrays, class
probabilities (N, 10) arrays, all computed in float64. Formulas: docs/theory.md, section 8.

- `fid`: ||mu1 - mu2||^2 + Tr(C1 + C2 - 2 (C1 C2)^1/2), with Tr((C1 C2)^1/2) the sum of the
  square roots of the eigenvalues of sqrt(C1) C2 sqrt(C1) (symmetric PSD, so stable).
- `kid`: unbiased MMD^2 with kernel (x.y / D + 1)^3, mean and std over random subsets.
- `classifier_score`: exp(E_x KL(p(y|x) || p(y))), between 1 and the number of classes.
- `mode_coverage`: histogram of the classes the classifier is sure of (the rest: `not_digit`),
  classes covered, KL(histogram || uniform).
- `precision_recall` (Kynkaanniemi et al. 2019) and `density_coverage` (Naeem et al. 2020),
  both from k-nearest-neighbour balls in feature space. Their real manifold is
  `digit_manifold`: the real images the classifier is sure are digits. A real outlier (a
  test digit the extractor reads as no digit) has its features among the non-digits', so its
  k-NN ball, stretched out to the nearest digits, would swallow blank images and noise (both
  papers show one outlier inflating the manifold; Naeem et al. build density and coverage to
  resist it). The formulas themselves are the papers' (and the `prdc` package's).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg

# ---------------------------------------------------------------------------- FID


def gaussian_stats(feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, D) features -> mean (D,) and unbiased covariance (D, D), float64."""
    x = np.asarray(feats, dtype=np.float64)
    assert x.ndim == 2 and x.shape[0] >= 2, x.shape
    return x.mean(axis=0), np.cov(x, rowvar=False)


def frechet_distance(mu1: np.ndarray, c1: np.ndarray, mu2: np.ndarray, c2: np.ndarray) -> float:
    """Squared Frechet distance between N(mu1, c1) and N(mu2, c2), in float64.

    Tr((C1 C2)^1/2) = Tr((sqrt(C1) C2 sqrt(C1))^1/2): C1 C2 has the same eigenvalues as the
    symmetric PSD matrix sqrt(C1) C2 sqrt(C1), whose eigenvalues `eigh` finds stably; tiny
    negative eigenvalues from round-off are clipped to 0.
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    c1, c2 = np.asarray(c1, np.float64), np.asarray(c2, np.float64)
    assert mu1.shape == mu2.shape and c1.shape == c2.shape == (mu1.size, mu1.size)
    s1 = _psd_sqrt(c1)
    middle = s1 @ c2 @ s1
    eig = np.linalg.eigvalsh((middle + middle.T) / 2)
    tr_covmean = np.sqrt(np.clip(eig, 0.0, None)).sum()
    diff = mu1 - mu2
    value = diff @ diff + np.trace(c1) + np.trace(c2) - 2.0 * tr_covmean
    return float(max(value, 0.0))


def _psd_sqrt(c: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric PSD matrix, negative round-off clipped."""
    w, v = linalg.eigh((c + c.T) / 2)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def fid(feats1: np.ndarray, feats2: np.ndarray) -> float:
    """FID between two feature sets (N1, D) and (N2, D)."""
    return frechet_distance(*gaussian_stats(feats1), *gaussian_stats(feats2))


# ---------------------------------------------------------------------------- KID


def _poly_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(x.y / D + 1)^3 for all pairs: (n, D), (m, D) -> (n, m)."""
    k = x @ y.T
    k /= x.shape[1]
    k += 1.0
    return k * k * k  # several times faster than k ** 3


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 between samples x (m, D) and y (n, D) with the cubic polynomial kernel."""
    m, n = x.shape[0], y.shape[0]
    assert m >= 2 and n >= 2
    kxx, kyy, kxy = _poly_kernel(x, x), _poly_kernel(y, y), _poly_kernel(x, y)
    xx = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    yy = (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
    return float(xx + yy - 2.0 * kxy.mean())


def kid(
    feats1: np.ndarray,
    feats2: np.ndarray,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """KID: mean and std of unbiased MMD^2 over `subsets` random subsets (without replacement).

    The subset size is min(subset_size, N1, N2).
    """
    x = np.asarray(feats1, dtype=np.float64)
    y = np.asarray(feats2, dtype=np.float64)
    size = min(subset_size, x.shape[0], y.shape[0])
    rng = np.random.default_rng(seed)
    values = np.array([
        mmd2_unbiased(x[rng.choice(x.shape[0], size, replace=False)],
                      y[rng.choice(y.shape[0], size, replace=False)])
        for _ in range(subsets)
    ])  # fmt: skip
    return float(values.mean()), float(values.std())


# ------------------------------------------------------------ classifier outputs


def classifier_score(probs: np.ndarray, eps: float = 1e-12) -> float:
    """exp(E_x KL(p(y|x) || p(y))) with p(y) the mean of p(y|x); in [1, number of classes]."""
    p = np.asarray(probs, dtype=np.float64)
    marginal = p.mean(axis=0, keepdims=True)  # (1, K)
    kl = (p * (np.log(p + eps) - np.log(marginal + eps))).sum(axis=1)  # (N,)
    # E KL is a mutual information, >= 0; rounding can leave -1e-15 when every row is the
    # same (e.g. the extractor's uniform answer to non-digits): the score stays >= 1
    return float(np.exp(max(float(kl.mean()), 0.0)))


DIGIT_CONFIDENCE = 0.5
"""A sample reads as a digit when the classifier's top probability reaches this: more mass
on one class than on all the others together. The extractor answers what is not a digit with
the uniform 1 / K, far below it."""


def is_digit(probs: np.ndarray, confidence: float = DIGIT_CONFIDENCE) -> np.ndarray:
    """(N,) bool: the rows of class probabilities (N, K) the classifier is sure of."""
    return np.asarray(probs).max(axis=1) >= confidence


@dataclass(frozen=True)
class ModeCoverage:
    """Class histogram of samples (argmax of those the classifier is sure of) and how evenly
    it covers the classes; what it is not sure of is its own bucket, `not_digit`.

    A class counts as covered when at least `min_share` of all the samples are read as it
    with confidence >= `confidence` (default min_share 0.1 / K, a tenth of its uniform share:
    1% of samples for 10 classes), so a handful of stray predictions do not make a collapsed
    generator look complete, and samples that read as nothing never count as a class.
    """

    histogram: tuple[float, ...]
    """Share of all the samples read as each class; sums to 1 - not_digit."""
    not_digit: float
    """Share of the samples the classifier is not sure of (top probability < confidence)."""
    classes_covered: int
    kl_to_uniform: float
    """KL(digit histogram || uniform) in nats, over the samples read as digits; 0 when uniform,
    log K when one class or when no sample reads as a digit."""
    min_share: float


def mode_coverage(probs: np.ndarray, min_share: float | None = None,
                  confidence: float = DIGIT_CONFIDENCE) -> ModeCoverage:
    """Mode coverage of samples from their class probabilities (N, K)."""
    p = np.asarray(probs)
    n, k = p.shape
    share = 0.1 / k if min_share is None else min_share
    sure = is_digit(p, confidence)
    hist = np.bincount(p[sure].argmax(axis=1), minlength=k) / n
    digits = hist.sum()
    if digits > 0:
        nz = hist[hist > 0] / digits
        kl = float((nz * np.log(nz * k)).sum())
    else:
        kl = float(np.log(k))  # nothing reads as a digit: as far from uniform as one class
    covered = int((hist >= share).sum()) if share > 0 else int((hist > 0).sum())
    return ModeCoverage(tuple(float(h) for h in hist), float(1.0 - sure.mean()), covered, kl,
                        share)


def digit_manifold(feats: np.ndarray, probs: np.ndarray,
                   confidence: float = DIGIT_CONFIDENCE) -> np.ndarray:
    """The real features (N, D) whose images the classifier is sure are digits (M, D): the
    reference manifold of precision, recall, density and coverage (see the module doc)."""
    assert feats.shape[0] == probs.shape[0], (feats.shape, probs.shape)
    return np.asarray(feats)[is_digit(probs, confidence)]


def mean_confidence(probs: np.ndarray) -> float:
    """Mean of the largest class probability: how digit-like the samples look to the classifier."""
    return float(np.asarray(probs, dtype=np.float64).max(axis=1).mean())


# ------------------------------------------------------- precision, recall, ...


_BLOCK = 1000
"""Rows per distance block: bounds the temporaries to _BLOCK x N float64 (80 MB at N = 10k).

Balls are compared in squared distances; a point lies in a ball when its distance is <= the
ball's radius (the k-th neighbour distance), as in the papers' reference code."""


def _sq_dists(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances (n, m) via one matrix product (BLAS), clipped at 0."""
    d = (x * x).sum(axis=1)[:, None] + (y * y).sum(axis=1)[None, :] - 2.0 * (x @ y.T)
    return np.maximum(d, 0.0)


def _kth_nn_radii(x: np.ndarray, k: int) -> np.ndarray:
    """Squared distance from each row of x to its k-th nearest neighbour in x, itself excluded."""
    assert x.shape[0] > k, f"need more than k={k} samples, got {x.shape[0]}"
    out = np.empty(x.shape[0])
    for i in range(0, x.shape[0], _BLOCK):
        d = _sq_dists(x[i : i + _BLOCK], x)  # (b, N); each row holds its own ~0
        out[i : i + _BLOCK] = np.partition(d, k, axis=1)[:, k]
    return out


def _inside_any_ball(points: np.ndarray, centres: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """For each point, whether it lies in at least one ball (centres[j], squared radii[j])."""
    out = np.empty(points.shape[0], dtype=bool)
    for i in range(0, points.shape[0], _BLOCK):
        d = _sq_dists(points[i : i + _BLOCK], centres)  # (b, C)
        out[i : i + _BLOCK] = (d <= radii[None, :]).any(axis=1)
    return out


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkaanniemi et al. 2019).

    precision: share of fake samples inside some real sample's k-NN ball;
    recall: share of real samples inside some fake sample's k-NN ball.
    """
    real = np.asarray(real, dtype=np.float64)
    fake = np.asarray(fake, dtype=np.float64)
    precision = float(_inside_any_ball(fake, real, _kth_nn_radii(real, k)).mean())
    recall = float(_inside_any_ball(real, fake, _kth_nn_radii(fake, k)).mean())
    return precision, recall


def density_coverage(real: np.ndarray, fake: np.ndarray, k: int = 5) -> tuple[float, float]:
    """Density and coverage (Naeem et al. 2020), from k-NN balls around the real samples.

    density: mean over fake samples of the number of real balls containing it, divided by k
    (about 1 for matching distributions; can exceed 1); coverage: share of real samples
    whose ball contains at least one fake sample.
    """
    real = np.asarray(real, dtype=np.float64)
    fake = np.asarray(fake, dtype=np.float64)
    r_real = _kth_nn_radii(real, k)
    counts = np.zeros(fake.shape[0])
    covered = np.empty(real.shape[0], dtype=bool)
    for i in range(0, real.shape[0], _BLOCK):
        inside = _sq_dists(real[i : i + _BLOCK], fake) <= r_real[i : i + _BLOCK, None]  # (b, F)
        counts += inside.sum(axis=0)
        covered[i : i + _BLOCK] = inside.any(axis=1)
    return float(counts.mean() / k), float(covered.mean())
