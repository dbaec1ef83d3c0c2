"""Every seed a training run derives from `train.seed`, in one place.

A run has one seed; each random stream gets its own seed mixed from it, so that streams do
not overlap and each can be rebuilt from (seed, a counter) alone, which is what exact resume
and the NaN guard's retries rely on. All mixing goes through the large prime `PRIME`.
"""

from __future__ import annotations

PRIME = 1_000_003
"""Multiplier that spreads (seed, counter) pairs apart."""

NOISE_OFFSET = 104_729
"""The noise generator (z, fake labels, WGAN-GP weights) is seeded seed + this."""

FIXED_LATENTS_OFFSET = 7919
"""The fixed latents of the sample grids are drawn from a generator seeded seed + this."""

LESSON_OFFSET = 10_000
"""A lesson's noise generator (its real draws and latents) is seeded seed + this."""

TOY_EVAL_SEED = 2017
"""The toy evaluation latents' seed, alike for every run (so runs and epochs compare); the
toy reference data sample's is this + 1."""


def weights_seed(seed: int) -> int:
    """The global RNG's seed when a run's G and D are built (their initial weights): the
    run's seed itself, so a batched seed starts from its serial run's weights."""
    return seed


def noise_seed(seed: int, iteration: int = 0) -> int:
    """The noise generator's seed (alike on every rank); `iteration` > 0 only when its saved
    state cannot be used (saved on another kind of device)."""
    return seed + NOISE_OFFSET + iteration


def rank_seed(seed: int, rank: int, iteration: int = 0) -> int:
    """The global RNG's seed (dropout) on `rank`; `iteration` > 0 only when a resume has no
    saved state for this rank (saved with another number of ranks)."""
    return seed + PRIME * rank + iteration


def fixed_latents_seed(seed: int) -> int:
    """The seed of the 100 fixed latents every sample grid of a run shows."""
    return seed + FIXED_LATENTS_OFFSET


def lesson_seed(seed: int) -> int:
    """The seed of a lesson's noise generator (gankit.lesson) for its run `seed`; its
    models are built after torch.manual_seed(weights_seed(seed))."""
    return seed + LESSON_OFFSET


def toy_reference_seed() -> int:
    """The seed of the fixed toy data sample generated samples are compared with."""
    return TOY_EVAL_SEED + 1


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of epoch `epoch`'s shuffle: a function of (seed, epoch) only."""
    return seed * PRIME + epoch


def ema_calibration_seed(seed: int, updates: int) -> int:
    """The seed of the noise that recomputes the EMA G's BatchNorm statistics."""
    return seed * PRIME + updates


def retry_seed(seed: int, epoch: int, attempt: int) -> int:
    """The seed of retry `attempt` (1, 2, ...) of `epoch` after a non-finite epoch."""
    return (epoch_seed(seed, epoch) * 7_919 + attempt) % (2**63)
