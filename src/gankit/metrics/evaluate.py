"""Evaluation end to end: images or a generator -> extractor outputs -> the metrics dict.

The reference set is MNIST's 10,000 test images. `load_context` loads the shipped extractor
and the reference features once (memoised per argument set); `evaluate_images` and
`evaluate_generator` return flat dicts of floats (n, fid, kid, ...), ready for a table, a
JSON file or a training run's metrics log. `real_floor` scores 10,000 training images
against the test set, the best a generator could hope for, cached on disk per extractor.
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

from gankit.errors import DataError
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
    ("fid", "FID (lower is better)"),
    ("kid", "KID, mean over subsets (lower is better)"),
    ("kid_std", "KID, std over subsets"),
    ("classifier_score", "classifier score, like IS (max 10)"),
    ("classes_covered", "classes covered (of 10; >= 1% of samples)"),
    ("kl_uniform", "KL(class histogram || uniform), nats"),
    ("precision", "precision, k=3 (Kynkaanniemi)"),
    ("recall", "recall, k=3 (Kynkaanniemi)"),
    ("density", "density, k=5 (Naeem)"),
    ("coverage", "coverage, k=5 (Naeem)"),
    ("confidence", "mean classifier confidence"),
)
"""Metric keys in table order, with their labels."""


@dataclass(frozen=True)
class EvalContext:
    """The extractor and the reference (MNIST test set) outputs every evaluation compares to."""

    extractor: MNISTExtractor
    real_feats: np.ndarray
    """(10000, 128) float64 features of the MNIST test set."""
    real_probs: np.ndarray
    """(10000, 10) float64 class probabilities of the MNIST test set."""
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
    return EvalContext(extractor, feats, probs, sha, device)


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
    precision, recall = scores.precision_recall(ctx.real_feats, feats, k=3)
    density, coverage = scores.density_coverage(ctx.real_feats, feats, k=5)
    out = {
        "n": float(n),
        "fid": scores.fid(feats, ctx.real_feats),
        "kid": kid_mean,
        "kid_std": kid_std,
        "classifier_score": scores.classifier_score(probs),
        "classes_covered": float(modes.classes_covered),
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
            return json.loads(path.read_text())
        except json.JSONDecodeError:
            pass  # a corrupt cache is recomputed below
    from gankit.data.mnist import load_mnist

    train_x, _ = load_mnist("train", data_dir=data_dir, cache_dir=cache_dir)
    assert len(train_x) >= n, f"floor wants {n} training images, the set has {len(train_x)}"
    pick = np.random.default_rng(seed).choice(len(train_x), size=n, replace=False)
    metrics, hist = evaluate_images(to_model_input(train_x[np.sort(pick)]), ctx, seed=seed)
    record = {"metrics": metrics, "class_histogram": hist, "n": n, "seed": seed,
              "extractor_sha256": ctx.extractor_sha256,
              "what": f"{n} MNIST training images against the 10,000 test images"}  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(record, indent=2) + "\n")
    return record
