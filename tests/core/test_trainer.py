"""The trainer: steps touch only their own network, epochs follow the notes (resume:
test_resume.py)."""

from __future__ import annotations

import pytest
import torch

from gankit.config import build_config
from gankit.core.trainer import Trainer, epoch_permutation
from gankit.errors import ConfigError


def _cfg(**extra):
    over = {"model.g_hidden": [16], "model.d_hidden": [32, 16], "train.batch_size": 32,
            "train.epochs": 2}
    over.update(extra)
    return build_config("smoke", overrides=over)


def _params(module):
    return [p.detach().clone() for p in module.parameters()]


def _same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def test_d_step_changes_only_d(toy_images):
    t = Trainer(_cfg(), toy_images)
    g0, d0 = _params(t.g), _params(t.d)
    t.d_step(toy_images[:32])
    assert _same(g0, _params(t.g))
    assert not _same(d0, _params(t.d))
    assert all(p.grad is None for p in t.g.parameters())


def test_g_step_changes_only_g_and_keeps_no_d_gradients(toy_images):
    t = Trainer(_cfg(), toy_images)
    g0, d0 = _params(t.g), _params(t.d)
    t.g_step(32)
    assert _same(d0, _params(t.d))
    assert not _same(g0, _params(t.g))
    assert all(p.grad is None for p in t.d.parameters())
    assert all(p.requires_grad for p in t.d.parameters())  # D unfrozen afterwards


def test_epoch_is_floor_n_over_b_iterations(toy_images):
    t = Trainer(_cfg(**{"train.batch_size": 100}), toy_images)  # 256 images
    rec = t.train_epoch()
    assert t.iterations_per_epoch() == 2 and rec["iteration"] == 2 and rec["epoch"] == 1
    assert set(rec) >= {"loss_d", "loss_g", "d_real", "d_fake", "js_hat", "images_per_s"}
    assert 0 < rec["d_real"] < 1 and 0 < rec["d_fake"] < 1


def test_epoch_visits_a_fresh_shuffle_of_every_sample():
    p1, p2 = epoch_permutation(1000, 0, 1), epoch_permutation(1000, 0, 2)
    assert sorted(p1.tolist()) == list(range(1000))
    assert not torch.equal(p1, p2)
    assert torch.equal(p1, epoch_permutation(1000, 0, 1))


def test_batch_larger_than_data_is_a_clear_error(toy_images):
    with pytest.raises(ConfigError, match="batch size 512 is larger than the data set"):
        Trainer(_cfg(**{"train.batch_size": 512}), toy_images)


def test_same_seed_same_run_other_seed_differs(toy_images):
    runs = []
    for seed in (0, 0, 1):
        t = Trainer(_cfg(**{"train.seed": seed}), toy_images)
        t.train_epoch()
        runs.append(_params(t.g))
    assert _same(runs[0], runs[1]) and not _same(runs[0], runs[2])


def test_fixed_latents_make_comparable_grids(toy_images):
    t = Trainer(_cfg(), toy_images)
    a = t.sample()
    assert a.shape == (100, 1, 28, 28)
    assert torch.equal(a, t.sample())  # eval mode, same z, same weights -> same images


def test_bf16_autocast_trains(toy_images):
    t = Trainer(_cfg(**{"train.precision": "bf16"}), toy_images)
    rec = t.train_epoch()
    assert all(torch.isfinite(torch.tensor(rec[k])) for k in ("loss_d", "loss_g"))
    assert next(t.g.parameters()).dtype == torch.float32  # master weights stay fp32
