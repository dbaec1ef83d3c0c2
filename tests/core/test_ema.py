"""The EMA of G's weights: its update rule, state dict, and use for samples and checkpoints."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gankit.config import build_config
from gankit.core.ema import EMA
from gankit.core.trainer import Trainer
from gankit.runs.checkpoint import load_generator, save_atomic


def test_update_is_the_warmed_up_moving_average() -> None:
    model = nn.Linear(2, 1, bias=False)
    nn.init.zeros_(model.weight)
    ema = EMA(model, decay=0.9)
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema.update(model)  # n = 0: d = min(0.9, 1/10) = 0.1 -> 0.1 * 0 + 0.9 * 1
    assert torch.allclose(ema.model.weight, torch.full((1, 2), 0.9))
    assert ema.current_decay() == pytest.approx(2 / 11)
    for _ in range(200):
        ema.update(model)
    assert ema.current_decay() == 0.9  # warm-up over: the configured decay
    with torch.no_grad():
        model.weight.fill_(2.0)
    before = ema.model.weight.clone()
    ema.update(model)
    assert torch.allclose(ema.model.weight, 0.9 * before + 0.1 * 2.0)
    assert not ema.model.weight.requires_grad


def test_buffers_are_copied_and_state_round_trips() -> None:
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    ema = EMA(model, 0.99)
    model.train()
    model(torch.randn(8, 2) * 5 + 3)
    ema.update(model)
    assert torch.equal(ema.model[1].running_mean, model[1].running_mean)
    other = EMA(model, 0.5)
    other.load_state_dict(ema.state_dict())
    assert other.decay == 0.99 and other.updates == 1
    assert torch.equal(other.model[0].weight, ema.model[0].weight)


def _trainer(ema: float | None) -> Trainer:
    cfg = build_config("smoke", overrides={"train.ema": ema, "train.batch_size": 16})
    return Trainer(cfg, torch.rand(32, 1, 28, 28) * 2 - 1)


def test_trainer_samples_from_the_ema_and_saves_it(tmp_path) -> None:  # noqa: ANN001
    torch.manual_seed(0)
    t = _trainer(0.9)
    t.train_epoch()
    assert t.ema is not None and t.ema.updates == t.g_steps == 2
    t.sampler.eval()
    expected = t.sampler(t.fixed_z)
    assert torch.allclose(t.sample(), expected)
    t.g.eval()
    assert not torch.allclose(t.sample(), t.g(t.fixed_z))  # not the raw G
    state = t.state_dict()
    assert "ema" in state
    path = save_atomic(state, tmp_path / "c.pt")
    g, _ = load_generator(path)
    assert torch.allclose(g(t.fixed_z), expected)  # load_generator gives the EMA weights
    resumed = _trainer(0.9)
    resumed.load_state_dict(state)
    assert resumed.ema.updates == 2
    assert torch.allclose(resumed.sample(), expected)


def test_ema_off_means_no_copy_and_no_key() -> None:
    for decay in (None, 0.0):
        t = _trainer(decay)
        assert t.ema is None and t.sampler is t.g and "ema" not in t.state_dict()


def test_recalibrate_batchnorm_sets_the_plain_average_statistics() -> None:
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    ema = EMA(model, 0.9)
    batches = [(torch.randn(50, 3) * 2 + 1,) for _ in range(4)]
    assert ema.recalibrate_batchnorm(batches)
    with torch.no_grad():
        h = [ema.model[0](x) for (x,) in batches]
    expected_mean = torch.stack([x.mean(0) for x in h]).mean(0)
    expected_var = torch.stack([x.var(0) for x in h]).mean(0)  # unbiased, as BatchNorm keeps
    bn = ema.model[1]
    assert torch.allclose(bn.running_mean, expected_mean, atol=1e-5)
    assert torch.allclose(bn.running_var, expected_var, atol=1e-4)
    assert bn.momentum == 0.1 and not ema.model.training  # restored
    assert not EMA(nn.Linear(2, 2), 0.9).recalibrate_batchnorm([(torch.randn(4, 2),)])


def test_trainer_recalibrates_the_ema_without_touching_the_global_rng() -> None:
    cfg = build_config("smoke", overrides={"train.ema": 0.9, "train.batch_size": 8,
                                           "model.name": "dcgan", "model.width": 4})
    t = Trainer(cfg, torch.rand(16, 1, 28, 28) * 2 - 1)
    t.train_epoch()
    bn = next(m for m in t.ema.model.modules() if isinstance(m, nn.BatchNorm2d))
    live = next(m for m in t.g.modules() if isinstance(m, nn.BatchNorm2d))
    assert torch.equal(bn.running_mean, live.running_mean)  # copied by update()
    rng = torch.get_rng_state()
    first = t.sample()
    assert torch.equal(torch.get_rng_state(), rng)
    assert not torch.equal(bn.running_mean, live.running_mean)  # recomputed for EMA weights
    assert torch.equal(t.state_dict()["ema"]["model"]["project.2.running_mean"],
                       bn.running_mean)
    t._ema_calibrated_at = None
    assert torch.equal(t.sample(), first)  # deterministic


def _average_of_steps(warmup: float, n: int) -> float:
    """The EMA (decay never reached) of a weight that is 0 at the start and k after step k."""
    model = nn.Linear(1, 1, bias=False)
    nn.init.zeros_(model.weight)
    ema = EMA(model, decay=0.999999, warmup=warmup)
    for k in range(1, n + 1):
        with torch.no_grad():
            model.weight.fill_(float(k))
        ema.update(model)
    return ema.model.weight.item()


def test_warmup_two_is_the_plain_average_of_every_step() -> None:
    # d_n = (1 + n) / (2 + n): the start and the n steps weigh 1 / (n + 1) each
    assert _average_of_steps(2.0, 30) == pytest.approx(sum(range(31)) / 31, rel=1e-5)


def test_warmup_four_weighs_step_k_as_k_squared() -> None:
    # d_n = (1 + n) / (4 + n): step k weighs 3 (k + 1)(k + 2) / ((n + 1)(n + 2)(n + 3))
    n = 40
    closed = sum(3 * (k + 1) * (k + 2) * k for k in range(1, n + 1)) / ((n + 1) * (n + 2) * (n + 3))
    assert _average_of_steps(4.0, n) == pytest.approx(closed, rel=1e-5)
    # more of the run than TensorFlow's warm-up (10: about the last tenth)
    assert _average_of_steps(4.0, n) < _average_of_steps(10.0, n)


def test_the_trainer_builds_its_ema_with_the_configured_warmup() -> None:
    cfg = build_config("smoke", None, {"train.ema": 0.99, "train.ema_warmup": 3.0})
    t = Trainer(cfg, torch.zeros(64, 1, 28, 28), "cpu")
    assert t.ema is not None and t.ema.current_decay() == pytest.approx(1 / 3)


@pytest.mark.parametrize("bad", [1.5, -4.0])
def test_a_warmup_below_two_is_refused_in_one_line(bad) -> None:
    from gankit.errors import ConfigError
    from gankit.validation import validate

    with pytest.raises(ConfigError, match=rf"train.ema_warmup={bad} must be in 2..1000000 "):
        validate(build_config("smoke", None, {"train.ema_warmup": bad}))
