"""The trainer with n_critic, gradient penalty and labels (conditional runs)."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from gankit.config import build_config
from gankit.core.trainer import Trainer
from gankit.errors import CheckpointError, ConfigError

SMALL = {"train.batch_size": 8, "model.g_hidden": [16], "model.d_hidden": [16], "model.z_dim": 4}


def _data(n: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    return torch.rand(n, 1, 28, 28, generator=gen) * 2 - 1, torch.arange(n) % 10


def _trainer(**overrides: Any) -> Trainer:
    cfg = build_config("smoke", overrides={**SMALL, **overrides})
    x, y = _data()
    return Trainer(cfg, x, "cpu", labels=y)


def test_n_critic_counts_d_steps_as_iterations_and_steps_g_every_kth() -> None:
    t = _trainer(**{"train.n_critic": 3})
    assert t.iterations_per_epoch() == 4  # an epoch still consumes the data once
    record = t.train_epoch()
    assert (record["iteration"], record["g_steps"]) == (4, 1)
    record = t.train_epoch()
    assert (record["iteration"], record["g_steps"]) == (8, 2)  # the count runs across epochs


def test_d_only_iterations_leave_g_unchanged() -> None:
    t = _trainer(**{"train.n_critic": 100})
    before = [p.detach().clone() for p in t.g.parameters()]
    t.train_epoch()
    assert t.g_steps == 0
    assert all(torch.equal(a, b) for a, b in zip(before, t.g.parameters(), strict=True))


def test_wgan_gp_step_adds_the_games_penalty() -> None:
    """D's step calls the game's `penalty` once, which draws one interpolation weight per
    sample from the run's noise stream; the other games have none."""
    import dataclasses

    from gankit.core.losses import wgan_gp_penalty

    draws: list[torch.Tensor] = []

    def spy(d, real, fake, uniform, batch_dim):  # noqa: ANN001, ANN202
        def draw() -> torch.Tensor:
            draws.append(uniform())
            return draws[-1]
        return wgan_gp_penalty(d, real, fake, draw, batch_dim)

    t = _trainer(**{"loss.game": "wgan-gp", "model.conditional": True})
    t.game = dataclasses.replace(t.game, penalty=spy)
    t.d_step(t.data[:8], t.labels[:8])
    assert [e.shape for e in draws] == [torch.Size([8, 1, 1, 1])]
    _trainer(**{"loss.game": "hinge"}).d_step(t.data[:8])
    assert len(draws) == 1  # no penalty for other games


def test_conditional_run_feeds_real_labels_and_uniform_fake_labels() -> None:
    t = _trainer(**{"model.conditional": True})
    assert t.n_classes == 10
    seen: list[torch.Tensor] = []
    forward = t.d.forward

    def record(x, labels=None):  # noqa: ANN001, ANN202
        seen.append(labels.clone())
        return forward(x, labels)

    t.d.forward = record
    real_labels = torch.tensor([3] * 8)
    t.d_step(t.data[:8], real_labels)
    assert seen[0].shape == (16,)
    assert torch.equal(seen[0][:8], real_labels)  # reals with their own labels
    fakes = torch.cat([t.fake_labels(1000)])
    counts = torch.bincount(fakes, minlength=10)
    assert counts.min() > 60 and counts.max() < 140  # uniform over the 10 classes


def test_conditional_grid_has_one_row_per_class_sharing_latents() -> None:
    t = _trainer(**{"model.conditional": True})
    z, labels = t.fixed_grid()
    assert labels.view(10, 10)[:, 0].tolist() == list(range(10))
    assert torch.equal(z.view(10, 10, -1)[3], z.view(10, 10, -1)[7])  # same latents per row
    assert t.sample().shape == (100, 1, 28, 28)


def test_conditional_needs_labels() -> None:
    cfg = build_config("smoke", overrides={**SMALL, "model.conditional": True})
    with pytest.raises(ConfigError, match="needs class labels"):
        Trainer(cfg, _data()[0])


def test_resume_refuses_a_checkpoint_of_another_class_count() -> None:
    state = _trainer(**{"model.conditional": True}).state_dict()
    with pytest.raises(CheckpointError, match="classes"):
        _trainer().load_state_dict(state)


def test_dcgan_trains_a_step() -> None:
    t = _trainer(**{"model.name": "dcgan", "model.width": 4, "model.conditional": True})
    before = [p.detach().clone() for p in t.g.parameters()]
    record = t.train_epoch()
    assert all(torch.isfinite(torch.tensor(record[k])) for k in ("loss_d", "loss_g"))
    assert any(not torch.equal(a, b) for a, b in zip(before, t.g.parameters(), strict=True))
