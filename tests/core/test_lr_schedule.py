"""The learning rates' linear decay (train.lr_end): its factor in closed form, the rates each
iteration's steps use, constant rates left alone, and the config's bounds."""

from __future__ import annotations

import pytest

from gankit.config import build_config
from gankit.core.step import lr_factor, scheduled
from gankit.core.trainer import Trainer
from gankit.data import load_dataset
from gankit.errors import ConfigError
from gankit.validation import validate


def test_factor_falls_linearly_from_one_to_the_end_value():
    assert lr_factor(0.2, 0, 100) == 1.0
    assert lr_factor(0.2, 25, 100) == pytest.approx(0.8)
    assert lr_factor(0.2, 50, 100) == pytest.approx(0.6)
    assert lr_factor(0.0, 99, 100) == pytest.approx(0.01)  # the last iteration still steps
    assert lr_factor(0.2, 100, 100) == pytest.approx(0.2)
    assert lr_factor(0.2, 150, 100) == pytest.approx(0.2)  # trained past the schedule
    assert lr_factor(1.0, 70, 100) == 1.0


def _trainer(end: float) -> Trainer:
    cfg = build_config("toy", None, {"data.toy_samples": 1024, "train.batch_size": 256,
                                     "train.epochs": 3, "train.lr_d": 1e-3,
                                     "train.lr_g": 4e-3, "train.lr_end": end})
    return Trainer(cfg, load_dataset(cfg.data).samples)


def _rates_per_iteration(t: Trainer) -> list[tuple[float, float]]:
    """(D's lr, G's lr) in force at each iteration's steps, over the whole run."""
    seen: list[tuple[float, float]] = []

    def after_step(*_args) -> None:
        seen.append((t.opt_d.param_groups[0]["lr"], t.opt_g.param_groups[0]["lr"]))

    hook = t.opt_g.register_step_post_hook(after_step)
    for _ in range(t.cfg.train.epochs):
        t.train_epoch()
    hook.remove()
    return seen


def test_each_iteration_steps_with_its_scheduled_rates():
    t = _trainer(0.25)
    seen = _rates_per_iteration(t)
    total = 3 * 4  # 3 epochs of 1024 / 256 iterations
    assert len(seen) == total
    for i, (lr_d, lr_g) in enumerate(seen):
        f = 1 - 0.75 * i / total
        assert lr_d == pytest.approx(1e-3 * f) and lr_g == pytest.approx(4e-3 * f)
    assert seen[-1][0] < seen[0][0] / 3  # two rates, one schedule


def test_constant_rates_are_left_as_the_optimisers_hold_them():
    t = _trainer(1.0)
    for group in t.opt_d.param_groups:
        group["lr"] = 5e-5  # e.g. the lab's live setting
    seen = _rates_per_iteration(t)
    assert {lr_d for lr_d, _ in seen} == {5e-5}
    assert {lr_g for _, lr_g in seen} == {4e-3}
    assert not scheduled(t.cfg) and scheduled(_trainer(0.5).cfg)


@pytest.mark.parametrize("bad", [-0.1, 1.5])
def test_lr_end_outside_zero_to_one_is_refused_in_one_line(bad):
    with pytest.raises(ConfigError, match=rf"train.lr_end={bad} must be in 0..1 \(the "
                                          r"learning rates' factor at the run's end; 1: "
                                          r"constant\)"):
        validate(build_config("toy", None, {"train.lr_end": bad}))

