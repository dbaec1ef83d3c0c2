"""The fast paths keep the math: fused Adam, the noise generator, bf16 (exact resume with
dropout and fused Adam: tests/core/test_resume.py)."""

from __future__ import annotations

import torch

from gankit.config import build_config
from gankit.core.trainer import Trainer
from gankit.runtime.device import make_adam


def _cfg(**extra: object):  # noqa: ANN202
    return build_config("smoke", None, {"train.batch_size": 16, "train.device": "cpu", **extra})


def _data() -> torch.Tensor:
    return torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(3)) * 2 - 1


def test_fused_adam_matches_plain_adam() -> None:
    torch.manual_seed(0)
    w = torch.randn(50, 30)
    a, b = w.clone().requires_grad_(), w.clone().requires_grad_()
    fused = make_adam([a], 1e-2, (0.5, 0.999))
    plain = torch.optim.Adam([b], lr=1e-2, betas=(0.5, 0.999))
    for step in range(5):
        g = torch.randn(50, 30, generator=torch.Generator().manual_seed(step))
        a.grad, b.grad = g.clone(), g.clone()
        fused.step()
        plain.step()
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


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


def test_noise_state_from_another_device_kind_reseeds_instead_of_failing() -> None:
    """A CUDA run resumed on the CPU: the CUDA noise state does not fit a CPU generator."""
    first = Trainer(_cfg(), _data())
    first.train_epoch()
    state = first.state_dict()
    state["rng"]["noise"] = torch.zeros(16, dtype=torch.uint8)  # a CUDA generator's size
    state["rng"]["noise_device"] = "cuda"
    second = Trainer(_cfg(), _data())
    second.load_state_dict(state)
    assert second.iteration == first.iteration
    assert torch.isfinite(second.noise(4)).all()


def test_gankit_dropout_is_inverted_dropout() -> None:
    """Keep rate 1 - p, kept values scaled by 1 / (1 - p), gradient = mask / (1 - p)."""
    from gankit.core.layers import Dropout

    torch.manual_seed(0)
    drop = Dropout(0.3)
    x = torch.ones(200_000, requires_grad=True)
    y = drop(x)
    kept = y != 0
    assert abs(kept.float().mean().item() - 0.7) < 0.005
    torch.testing.assert_close(y[kept], torch.full_like(y[kept], 1 / 0.7))
    y.sum().backward()
    torch.testing.assert_close(x.grad, kept.float() / 0.7)
    drop.eval()
    assert torch.equal(drop(x), x)
    assert torch.equal(Dropout(0.0)(x), x)
