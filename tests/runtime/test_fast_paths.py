"""The fast paths keep the math: bf16 (fused Adam: tests/runtime/test_device.py; the noise
generator: tests/runtime/test_noise.py; gankit's Dropout: tests/core/test_layers.py; exact
resume with dropout and fused Adam: tests/core/test_resume.py)."""

from __future__ import annotations

import torch

from gankit.config import build_config
from gankit.core.trainer import Trainer


def _cfg(**extra: object):  # noqa: ANN202
    return build_config("smoke", None, {"train.batch_size": 16, "train.device": "cpu", **extra})


def _data() -> torch.Tensor:
    return torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(3)) * 2 - 1


def test_bf16_autocast_trains_with_fp32_master_weights() -> None:
    t = Trainer(_cfg(**{"train.precision": "bf16"}), _data())
    before = [p.detach().clone() for p in t.g.parameters()]
    record = t.train_epoch()
    assert all(p.dtype == torch.float32 for p in t.g.parameters())
    assert all(p.dtype == torch.float32 for p in t.d.parameters())
    assert any(not torch.equal(p, q) for p, q in zip(t.g.parameters(), before, strict=True))
    assert all(torch.isfinite(torch.tensor(record[k])) for k in ("loss_d", "loss_g"))


def test_bf16_losses_are_close_to_fp32_on_the_same_step() -> None:
    """One D step from the same weights and batch: bf16 autocast changes the loss little."""
    cfgs = (_cfg(**{"model.dropout": 0.0}), _cfg(**{"model.dropout": 0.0,
                                                    "train.precision": "bf16"}))
    losses = []
    for cfg in cfgs:
        t = Trainer(cfg, _data())
        losses.append(float(t.d_step(_data()[:16])["loss_d"]))
    assert abs(losses[0] - losses[1]) < 0.02 * abs(losses[0])
