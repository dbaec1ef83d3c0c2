"""Evaluation end to end: images or a generator -> extractor outputs -> the metrics dict.

The reference set is MNIST's 10,000 test images (for precision, recall, density and coverage,
those of them the extractor is sure are digits: scores.digit_manifold). `load_context` loads
the shipped extractor and the reference features once (memoised per argument set);
`evaluate_images` and `evaluate_generator` return flat dicts of floats (n, fid, kid, ...),
ready for a table, a JSON file or a training run's metrics log. `real_floor` scores 10,000
training images against the test set, the best a generator could hope for, cached on disk
per extractor.
"""

from __future__ import annotations

import functools
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from gankit.errors import CheckpointError, DataError
from gankit.fileio import write_text_atomic
from gankit.metrics import scores
from gankit.metrics.features import (
    MNISTExtractor,
    default_weights,
    extract,
    load_extractor,
    sha256_file,
    to_model_input,
)

RECOMMENDED_N = 10_000
"""Sample count for a reported figure; FID and KID are biased upward below it."""

FLOOR_N = 10_000
"""Training images scored against the test set for the real-data floor."""

METRICS = (
    ("n", "samples evaluated"),
    ("fid", "FID"),
    ("kid", "KID x 10^3, mean over subsets"),
    ("kid_std", "KID x 10^3, std over subsets"),
    ("classifier_score", "classifier score, like IS (max 10)"),
    ("classes_covered", "classes covered (of 10, >= 1% each)"),
    ("not_digit", "share read as no digit"),
    ("kl_uniform", "KL(digit histogram || uniform), nats"),
    ("precision", "precision, k=3 (Kynkaanniemi)"),
    ("recall", "recall, k=3 (Kynkaanniemi)"),
    ("density", "density, k=5 (Naeem)"),
    ("coverage", "coverage, k=5 (Naeem)"),
    ("confidence", "mean classifier confidence"),
)
"""Metric keys in table order, with their labels."""

MANIFOLD = "test images read as digits"
"""The real k-NN manifold of precision, recall, density and coverage (scores.digit_manifold),
as the floor's cache records it."""

KID_SCALE = 1e3
"""KID is stored as the MMD^2 itself and shown x 10^3, the field's usual unit. The figures
run large (thousands x 10^3 for a slightly degraded set): the kernel (x.y / D + 1)^3 grows as
the cube of x.y / D, about 8 for this extractor's 128-d features (norm ~30), so a KID compares
only with KIDs of the same extractor, as a FID does."""

MEANINGS: dict[str, tuple[str, str]] = {
    "n": ("", "samples drawn and scored"),
    "fid": ("lower", "distance between the feature statistics of samples and real digits"),
    "kid": ("lower", "the same as an unbiased kernel distance, steadier at small n (this "
                     "extractor's units: its large features make the cubic kernel's values large)"),
    "classifier_score": ("higher", "samples are sure digits and of many kinds"),
    "classes_covered": ("higher", f"digits read with confidence >= {scores.DIGIT_CONFIDENCE:g}"),
    "not_digit": ("lower", "samples with no digit the classifier is sure of (blurs, blobs, ...)"),
    "kl_uniform": ("lower", "how unevenly the digits read are spread over the classes"),
    "precision": ("higher", "share of samples that look like some real digit (quality)"),
    "recall": ("higher", "share of real digits that some sample looks like (variety)"),
    "density": ("higher", "as precision, counting how many real digits each sample is near"),
    "coverage": ("higher", "share of real digits with a sample close by (variety)"),
    "confidence": ("higher", "the mean top class probability, how digit-like the samples look"),
}
"""Per metric: which direction is better ('lower' / 'higher'; '' for counts) and a one-line
meaning, as the table prints them."""


def format_table(metrics: dict[str, float], floor: dict[str, float], hist: list[float],
                 source: str) -> str:
    """The results as a plain-text table: metric | value | real-data floor | better, the class
    histogram with its own "not a digit" bucket, then a line per metric saying what it means.
    `gankit eval` and `gankit.evaluate` both show this."""
    rows = [("metric", "value", "real-data floor", "better")]
    legend = []
    for key, label in METRICS:
        if key == "kid_std" or key not in metrics:
            continue
        better, meaning = MEANINGS[key]
        if key == "kid":
            value, base = _kid(metrics), _kid(floor) if "kid" in floor else "-"
        else:
            value = _fmt(key, metrics[key])
            base = _fmt(key, floor[key]) if key in floor else "-"
        name = label.replace(", mean over subsets", " (mean ± std)")
        rows.append((name, value, base, better))
        legend.append(f"  {name.split(' (')[0].split(',')[0]}: {meaning}")
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [f"eval of {source}"]
    for i, row in enumerate(rows):
        lines.append(f"  {row[0]:<{widths[0]}}  {row[1]:>{widths[1]}}  {row[2]:>{widths[2]}}  "
                     f"{row[3]}".rstrip())
        if i == 0:
            lines.append("  " + "  ".join("-" * w for w in [*widths, len(row[3])]))
    shares = " ".join(f"{d}:{h:.3f}" for d, h in enumerate(hist))
    rest = metrics.get("not_digit", max(0.0, 1.0 - sum(hist)))
    lines.append(f"  class shares  {shares}  not a digit:{rest:.3f}")
    lines.append(f"  (a sample is a digit when the classifier's top probability is >= "
                 f"{scores.DIGIT_CONFIDENCE:g}; the rest are 'not a digit', never a class)")
    lines.append("  floor: 10,000 MNIST training images against the 10,000 test images")
    lines.append("what they mean:")
    lines.extend(legend)
    return "\n".join(lines)


def _kid(m: dict[str, float]) -> str:
    return f"{m['kid'] * KID_SCALE:.3g} ± {m['kid_std'] * KID_SCALE:.2g}"


def _fmt(key: str, value: float) -> str:
    if key in ("n", "classes_covered"):
        return str(int(value))
    if key == "fid":
        return f"{value:.3f}"
    return f"{value:.4f}"


@dataclass(frozen=True)
class EvalContext:
    """The extractor and the reference (MNIST test set) outputs every evaluation compares to."""

    extractor: MNISTExtractor
    real_feats: np.ndarray
    """(10000, 128) float64 features of the MNIST test set."""
    real_probs: np.ndarray
    """(10000, 10) float64 class probabilities of the MNIST test set."""
    manifold: np.ndarray
    """(M, 128) features of the test images the extractor is sure are digits
    (scores.digit_manifold): the real k-NN balls of precision, recall, density, coverage."""
    extractor_sha256: str
    device: str


@functools.lru_cache(maxsize=4)
def load_context(
    device: str = "cpu",
    weights: str | None = None,
    data_dir: str | None = None,
    cache_dir: str | None = None,
) -> EvalContext:
    """Extractor (default: the shipped one) and the MNIST test set's features; memoised."""
    from gankit.data.mnist import load_mnist

    extractor = load_extractor(weights, device=device)
    test_x, _ = load_mnist("test", data_dir=data_dir, cache_dir=cache_dir)
    feats, probs = extract(extractor, to_model_input(test_x), device=device)
    sha = sha256_file(Path(weights) if weights else default_weights())
    manifold = scores.digit_manifold(feats, probs)
    if len(manifold) < len(feats) // 2:  # a digit classifier reads nearly all of them
        raise CheckpointError(f"extractor {weights or default_weights()} reads only "
                              f"{len(manifold)} of the {len(feats)} MNIST test images as digits; "
                              "it is no MNIST extractor: retrain with `gankit eval "
                              "train-extractor`")
    return EvalContext(extractor, feats, probs, manifold, sha, device)


def metrics_from_outputs(
    feats: np.ndarray, probs: np.ndarray, ctx: EvalContext, seed: int = 0
) -> tuple[dict[str, float], list[float]]:
    """All metrics of sample features (N, 128) and probabilities (N, 10) against the reference.

    Returns (scalars keyed as in METRICS, class histogram). Warns when N < 10,000.
    """
    n = feats.shape[0]
    if n < RECOMMENDED_N:
        warnings.warn(
            f"n = {n} < {RECOMMENDED_N}: FID is biased upward and KID noisier at small n; "
            f"not comparable to figures at n = {RECOMMENDED_N}",
            stacklevel=2,
        )
    if n < 6:
        raise DataError(f"only {n} samples; the metrics need at least 6 (use >= 10000)")
    copies = reference_copies(feats, ctx.real_feats)
    if copies >= 0.1 * n:
        warnings.warn(
            f"{copies} of the {n} images are images of the reference set itself (the MNIST "
            "test set): the metrics compare it with itself (FID near 0); evaluate generated "
            "images, or real images from the training set",
            stacklevel=2,
        )
    kid_mean, kid_std = scores.kid(feats, ctx.real_feats, seed=seed)
    modes = scores.mode_coverage(probs)
    precision, recall = scores.precision_recall(ctx.manifold, feats, k=3)
    density, coverage = scores.density_coverage(ctx.manifold, feats, k=5)
    out = {
        "n": float(n),
        "fid": scores.fid(feats, ctx.real_feats),
        "kid": kid_mean,
        "kid_std": kid_std,
        "classifier_score": scores.classifier_score(probs),
        "classes_covered": float(modes.classes_covered),
        "not_digit": modes.not_digit,
        "kl_uniform": modes.kl_to_uniform,
        "precision": precision,
        "recall": recall,
        "density": density,
        "coverage": coverage,
        "confidence": scores.mean_confidence(probs),
    }
    return out, list(modes.histogram)


def reference_copies(feats: np.ndarray, real_feats: np.ndarray, tol: float = 1e-3,
                     chunk: int = 1000) -> int:
    """How many rows of `feats` (N, F) equal a row of `real_feats` (M, F) up to `tol`
    (Euclidean distance, relative to the features' scale): images copied from the reference."""
    # float64: cdist's matrix-product form loses a copy's zero distance to cancellation in
    # float32 (one of 200 copies was missed on an AVX-512 CPU)
    real = torch.from_numpy(np.ascontiguousarray(real_feats, dtype=np.float64))
    scale = float(real.norm(dim=1).mean()) or 1.0
    count = 0
    for i in range(0, feats.shape[0], chunk):
        part = torch.from_numpy(np.ascontiguousarray(feats[i: i + chunk], dtype=np.float64))
        count += int((torch.cdist(part, real).min(dim=1).values <= tol * scale).sum())
    return count


def evaluate_images(
    images: Tensor, ctx: EvalContext, seed: int = 0, batch_size: int = 500
) -> tuple[dict[str, float], list[float]]:
    """Metrics of images (N, 1, 28, 28) in [-1, 1]; returns (scalars, class histogram)."""
    feats, probs = extract(ctx.extractor, images, batch_size=batch_size, device=ctx.device)
    return metrics_from_outputs(feats, probs, ctx, seed=seed)


@torch.no_grad()
def sample_generator(
    g: nn.Module, z_dim: int, n: int, device: str | torch.device = "cpu", seed: int = 0,
    batch_size: int = 500,
) -> Tensor:
    """n images (n, 1, 28, 28) on the CPU from G with z ~ N(0, I) drawn from a seeded generator.

    The latents are drawn at once on the CPU: a seed gives the same z on every device and
    for every batch size. G is put in
    eval mode for the duration and restored afterwards.
    """  # fmt: skip
    z_all = torch.randn(n, z_dim, generator=torch.Generator().manual_seed(seed))  # (n, Z)
    was_training = g.training
    g.eval()
    chunks = []
    try:
        for i in range(0, n, batch_size):
            z = z_all[i : i + batch_size].to(device)  # (B, Z)
            chunks.append(g(z).float().clamp_(-1, 1).cpu())  # (B, 1, 28, 28)
    finally:
        g.train(was_training)
    return torch.cat(chunks)


def evaluate_generator(
    g: nn.Module,
    z_dim: int,
    n: int = RECOMMENDED_N,
    device: str | torch.device = "cpu",
    seed: int = 0,
    batch_size: int = 500,
    ctx: EvalContext | None = None,
) -> dict[str, float]:
    """The metrics of n samples of G against the MNIST test set, as a flat dict of floats.

    For a training loop: call with the same seed each time so the latents are fixed. The
    context (extractor, test-set features) loads once per device and is memoised.
    """
    ctx = ctx if ctx is not None else load_context(str(device))
    images = sample_generator(g, z_dim, n, device=device, seed=seed, batch_size=batch_size)
    metrics, _ = evaluate_images(images, ctx, seed=seed, batch_size=batch_size)
    return metrics


@dataclass(frozen=True)
class Scored:
    """One evaluation: the metrics of a sample set, its class histogram, the real-data floor
    and, for a conditional G, the accuracy of the classes asked for."""

    metrics: dict[str, float]
    histogram: list[float]
    """Share of the samples read as each digit (sure ones only); the rest: metrics['not_digit']."""
    floor: dict[str, Any]
    """real_floor's record: 'metrics', 'what', ..."""
    conditional: dict[str, Any] | None


def score(images: Tensor, ctx: EvalContext, seed: int = 0, batch_size: int = 500,
          asked: Any = None, data_dir: str | None = None,
          cache_dir: str | Path | None = None) -> Scored:
    """The one evaluation pipeline of `gankit eval` and `gankit.evaluate`: images (N, 1, 28,
    28) in [-1, 1] -> extractor -> metrics, histogram, floor, and the accuracy of `asked`
    (the class each sample of a conditional G was asked for; None otherwise)."""
    feats, probs = extract(ctx.extractor, images, batch_size=batch_size, device=ctx.device)
    metrics, hist = metrics_from_outputs(feats, probs, ctx, seed=seed)
    floor = real_floor(ctx, data_dir=data_dir, cache_dir=cache_dir)
    conditional = None
    if asked is not None:
        from gankit.metrics.conditional import conditional_accuracy

        conditional = conditional_accuracy(probs, asked, scores.DIGIT_CONFIDENCE)
    return Scored(metrics, hist, floor, conditional)


def real_floor(
    ctx: EvalContext,
    n: int | None = None,
    seed: int = 0,
    data_dir: str | None = None,
    cache_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Metrics of n (default FLOOR_N) random MNIST training images against the test set.

    Cached as json; computed once per extractor, n and seed.
    The cache file is `<cache>/eval/floor_<sha256[:16]>_n<n>_s<seed>.json`, one per extractor.
    """
    n = FLOOR_N if n is None else n
    from gankit.data.mnist import default_cache_dir

    root = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    path = root / "eval" / f"floor_{ctx.extractor_sha256[:16]}_n{n}_s{seed}.json"
    if path.is_file():
        try:
            cached = json.loads(path.read_text())
            if (set(cached.get("metrics", {})) == {k for k, _ in METRICS}
                    and cached.get("manifold") == MANIFOLD):
                return cached
            # a cache written before a metric (or the manifold) changed is recomputed below
        except (json.JSONDecodeError, AttributeError):
            pass  # a corrupt cache is recomputed below
    from gankit.data.mnist import load_mnist

    train_x, _ = load_mnist("train", data_dir=data_dir, cache_dir=cache_dir)
    assert len(train_x) >= n, f"floor wants {n} training images, the set has {len(train_x)}"
    pick = np.random.default_rng(seed).choice(len(train_x), size=n, replace=False)
    metrics, hist = evaluate_images(to_model_input(train_x[np.sort(pick)]), ctx, seed=seed)
    record = {"metrics": metrics, "class_histogram": hist, "n": n, "seed": seed,
              "extractor_sha256": ctx.extractor_sha256, "manifold": MANIFOLD,
              "what": f"{n} MNIST training images against the 10,000 test images"}  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(record, indent=2) + "\n")
    return record
