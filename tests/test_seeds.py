"""gankit.seeds: each stream's seed in closed form, and streams kept apart."""

from __future__ import annotations

from gankit import seeds


def test_every_seed_is_its_closed_form() -> None:
    p = seeds.PRIME
    assert seeds.weights_seed(7) == 7
    assert seeds.noise_seed(7) == 7 + seeds.NOISE_OFFSET
    assert seeds.noise_seed(7, 3) == 7 + seeds.NOISE_OFFSET + 3
    assert seeds.rank_seed(7, 2, 5) == 7 + 2 * p + 5
    assert seeds.fixed_latents_seed(7) == 7 + seeds.FIXED_LATENTS_OFFSET
    assert seeds.lesson_seed(7) == 7 + seeds.LESSON_OFFSET
    assert seeds.toy_reference_seed() == seeds.TOY_EVAL_SEED + 1
    assert seeds.epoch_seed(7, 4) == 7 * p + 4
    assert seeds.ema_calibration_seed(7, 9) == 7 * p + 9
    assert seeds.retry_seed(7, 4, 2) == ((7 * p + 4) * 7_919 + 2) % 2**63


def test_streams_of_one_run_do_not_share_seeds() -> None:
    seed = 0
    streams = {seeds.weights_seed(seed), seeds.noise_seed(seed), seeds.rank_seed(seed, 1),
               seeds.fixed_latents_seed(seed), seeds.lesson_seed(seed)}
    assert len(streams) == 5
    epochs = [seeds.epoch_seed(seed, e) for e in range(1, 100)]
    retries = [seeds.retry_seed(seed, e, a) for e in range(1, 100) for a in (1, 2, 3)]
    assert len(set(epochs)) == len(epochs) and len(set(retries)) == len(retries)
    assert all(0 <= r < 2**63 for r in (seeds.retry_seed(2**62, 10**9, 1),))
