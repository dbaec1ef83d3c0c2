"""The non-finite guard: an epoch whose losses or weights are not finite is undone and retried.

Checking costs one host sync per epoch, not one per iteration: the trainer already sums
every iteration's losses, D outputs and G's gradient norm on the device, and a NaN or inf
at any iteration makes that sum non-finite; after the epoch the parameters of G and D are
checked once as well. A bad epoch is rolled back to the in-memory copy of the state taken
before it (weights, both optimisers, counters, RNG state) and run again.

What changes on a retry, exactly: retry k (k = 1, 2, ...) of epoch e reseeds the trainer's
random streams with `trainer.reseed(retry_seed(seed, e, k))` (gankit.seeds) right after the
rollback: the noise generator (z fed to G) and the global torch RNG (D's dropout masks), so
those differ from the failed try. Everything else is the last good state: weights,
optimiser moments, the data order of epoch e (a function of (seed, e) only), the fixed
sample latents and the config (train.seed is not changed). The RNG state saved with the
next checkpoint is the one after the retried epoch, so resuming a run that needed a retry
is still exact. After `retries` failed retries of one epoch the run stops with a
GankitError; it never loops.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch

from gankit.errors import GankitError
from gankit.seeds import retry_seed
from gankit.stats import STAT_NAMES

if TYPE_CHECKING:
    from gankit.core.trainer import Trainer

__all__ = ["nonfinite", "retry_seed", "train_epoch_guarded"]

Progress = Callable[[int, dict[str, float] | None], None]


def nonfinite(trainer: Trainer, record: dict[str, Any]) -> list[str]:
    """Names of the epoch's statistics and of the parameters that are NaN or inf."""
    bad = [k for k in STAT_NAMES if k in record and not math.isfinite(float(record[k]))]
    named = [(f"G.{n}", p) for n, p in trainer.g.named_parameters()]
    named += [(f"D.{n}", p) for n, p in trainer.d.named_parameters()]
    with torch.no_grad():
        ok = torch.stack([torch.isfinite(p).all() for _, p in named]).tolist()  # one sync
    bad += [n for (n, _), good in zip(named, ok, strict=True) if not good]
    return bad


def train_epoch_guarded(
    trainer: Trainer,
    retries: int,
    progress: Callable[[], Progress | None] = lambda: None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the next epoch; undo and retry it (at most `retries` times) while it is not finite.

    `progress()` makes a fresh progress callback for each try. Raises GankitError when the
    epoch is still not finite after `retries` retries; the trainer is then left in the last
    good state (the one before the epoch).
    """
    good = copy.deepcopy(trainer.state_dict())
    epoch = trainer.epoch + 1
    for attempt in range(retries + 1):
        if attempt > 0:
            trainer.load_state_dict(good)
            trainer.reseed(retry_seed(trainer.cfg.train.seed, epoch, attempt))
        record = trainer.train_epoch(progress())
        bad = nonfinite(trainer, record)
        if not bad:
            return record
        shown = ", ".join(bad[:4]) + (f" and {len(bad) - 4} more" if len(bad) > 4 else "")
        if attempt < retries:
            log(f"epoch {epoch}: non-finite {shown}; rolled back to the state after epoch "
                f"{epoch - 1}, retrying with a new noise seed ({attempt + 1}/{retries})")
    trainer.load_state_dict(good)
    raise GankitError(
        f"training diverged: epoch {epoch} gave non-finite {shown} on {retries + 1} tries "
        f"({retries} retries with new noise seeds); lower train.lr_d / train.lr_g (e.g. "
        f"--set train.lr_d=1e-4), use --precision fp32, or raise train.nan_retries"
    )
