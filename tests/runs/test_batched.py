"""Batched toy training (gankit.runs.batched): S seeds at once equal S serial runs.

A batched step is S separate steps (gradients, updated weights and the logged statistics, to
float tolerance); each seed starts from the serial run's weights and draws the serial run's
noise; the toy metrics match gankit.runs.toy's; the configs it cannot batch are refused.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from gankit.config import build_config
from gankit.core.trainer import Trainer
from gankit.data import load_dataset
from gankit.data.toy import get_toy
from gankit.errors import ConfigError
from gankit.log import read_metrics
from gankit.runs.batched import BatchedToyGANs, check_batchable, toy_metrics_batched, train_seeds
from gankit.runs.loop import train
from gankit.runs.toy import eval_latents, toy_epoch_metrics
from gankit.stats import STAT_NAMES

TINY = {"data.toy_samples": 512, "train.batch_size": 64, "model.g_hidden": [16, 16],
        "model.d_hidden": [16, 16], "model.z_dim": 4}


def configs(seeds: int = 3, **over: object) -> list:
    return [build_config("toy", None, {**TINY, **over, "train.seed": s}) for s in range(seeds)]


def linears(net: nn.Module) -> list[nn.Linear]:
    return [m for m in net.modules() if isinstance(m, nn.Linear)]


def assert_same_nets(batched: BatchedToyGANs, serial: list[Trainer], exact: bool = False
                     ) -> None:
    """Every seed's layers in the batched model match its serial run's."""
    for k, tr in enumerate(serial):
        for stacked, net in ((batched.g, tr.g), (batched.d, tr.d)):
            for j, layer in enumerate(linears(net)):
                w, b = stacked.layer(j, k)
                if exact:
                    assert torch.equal(w, layer.weight) and torch.equal(b, layer.bias)
                else:
                    torch.testing.assert_close(w, layer.weight, rtol=1e-5, atol=1e-6)
                    torch.testing.assert_close(b, layer.bias, rtol=1e-5, atol=1e-6)


def test_initial_weights_are_the_serial_runs():
    cfgs = configs(3, **{"model.init": "keras"})
    data = load_dataset(cfgs[0].data).samples
    batched = BatchedToyGANs(cfgs, data)
    assert_same_nets(batched, [Trainer(c, data) for c in cfgs], exact=True)
    # and the seeds differ from each other
    assert not torch.equal(batched.g.weights[0][0], batched.g.weights[0][1])


@pytest.mark.parametrize(("game", "pack", "noise"), [
    ("minimax", 1, 0.0), ("non-saturating", 1, 0.0), ("maximum-likelihood", 1, 0.0),
    ("wgan-gp", 1, 0.0), ("non-saturating", 4, 0.0), ("non-saturating", 1, 0.7),
    ("wgan-gp", 1, 0.7)])
def test_a_batched_step_equals_separate_steps(game, pack, noise):
    """D step then G step: one Adam over stacked tensors == S Adams, each seed's gradient its
    own; the same noise, statistics, gradients and updated weights as S serial trainers
    (also with a packed D, model.pack=4: B / 4 logits per batch, and with instance noise
    drawn from each seed's own stream)."""
    cfgs = configs(3, **{"loss.game": game, "loss.real_label": 0.9, "model.pack": pack,
                         "train.instance_noise": noise})
    data = load_dataset(cfgs[0].data).samples
    batched = BatchedToyGANs(cfgs, data)
    serial = [Trainer(c, data) for c in cfgs]
    index = torch.stack([torch.randperm(512, generator=torch.Generator().manual_seed(s))[:64]
                         for s in range(3)])
    for _ in range(2):  # the second step uses Adam's moments from the first
        stats = batched.d_step(data[index])
        for k, tr in enumerate(serial):
            ref = tr.d_step(data[index[k]])
            assert set(ref) == set(stats)
            for name, value in ref.items():
                assert stats[name][k].item() == pytest.approx(value.item(), rel=1e-5, abs=1e-6)
        for k, tr in enumerate(serial):  # each seed's D gradient is its own
            for j, layer in enumerate(linears(tr.d)):
                torch.testing.assert_close(batched.d.weights[j].grad[k].t(), layer.weight.grad,
                                           rtol=1e-4, atol=1e-7)
        assert_same_nets(batched, serial)
        stats = batched.g_step(64)
        for k, tr in enumerate(serial):
            ref = tr.g_step(64)
            for name, value in ref.items():
                assert stats[name][k].item() == pytest.approx(value.item(), rel=1e-5, abs=1e-6)
        for k, tr in enumerate(serial):
            for j, layer in enumerate(linears(tr.g)):
                torch.testing.assert_close(batched.g.weights[j].grad[k].t(), layer.weight.grad,
                                           rtol=1e-4, atol=1e-7)
        assert_same_nets(batched, serial)


def test_an_epoch_follows_the_serial_iteration_semantics():
    """floor(N / B) iterations on the serial run's shuffle, G every n_critic-th iteration of
    the run (across epochs), the serial record's statistics."""
    cfgs = configs(2, **{"train.n_critic": 3})
    data = load_dataset(cfgs[0].data).samples
    batched = BatchedToyGANs(cfgs, data)
    serial = [Trainer(c, data) for c in cfgs]
    for epoch in (1, 2):
        records = batched.train_epoch()
        for k, tr in enumerate(serial):
            ref = tr.train_epoch()
            got = records[k]
            assert set(got) == set(ref)
            assert (got["epoch"], got["iteration"], got["g_steps"]) == (
                epoch, ref["iteration"], ref["g_steps"])
            for name in STAT_NAMES:
                assert got[name] == pytest.approx(ref[name], rel=1e-4, abs=1e-5), name
    assert batched.iteration == 16 and batched.g_steps == 16 // 3  # 8 iterations an epoch
    assert_same_nets(batched, serial)


def test_toy_metrics_batched_match_the_serial_metrics():
    z = eval_latents(2)
    for name in ("ring2d", "grid2d", "gaussian1d"):
        dist = get_toy(name)
        nets = [nn.Linear(2, dist.dim) for _ in range(3)]
        with torch.no_grad():
            nets[1].weight.mul_(0.01)
            nets[1].bias.copy_(dist.centres[0])  # one seed sits on a mode
            nets[2].bias.fill_(float("nan"))  # one seed went non-finite
        fake = torch.stack([n(z).detach() for n in nets])
        got = toy_metrics_batched(fake, dist)
        for k, net in enumerate(nets):
            ref = toy_epoch_metrics(net, dist, z)
            assert set(got[k]) == set(ref)
            for key, value in ref.items():
                if isinstance(value, float) and math.isnan(value):
                    assert math.isnan(got[k][key])
                else:
                    assert got[k][key] == pytest.approx(value), (name, k, key)
        assert got[1]["modes_covered"] == 1


def test_train_seeds_gives_serial_records_and_final_samples(tmp_path):
    cfgs = configs(3, **{"train.epochs": 2})
    records, fake = train_seeds(cfgs, log=lambda _m: None)
    assert len(records) == 3 and all(len(r) == 2 for r in records)
    assert fake.shape == (3, 2500, 2)
    serial = read_metrics(train(cfgs[0], tmp_path / "run", log=lambda _m: None)
                          / "metrics.jsonl")
    assert set(records[0][-1]) <= set(serial[-1])
    assert {"modes_covered", "num_modes", "hq_share", "loss_d", "elapsed"} <= set(records[0][-1])
    # seed 0's batched run is seed 0's serial run, to float tolerance
    for key in ("loss_d", "loss_g", "d_real", "d_fake", "hq_share"):
        assert records[0][-1][key] == pytest.approx(serial[-1][key], rel=1e-3, abs=1e-4), key


def test_what_cannot_be_batched_is_refused_with_the_fix():
    with pytest.raises(ConfigError, match=r"model.dropout=0.3.*--set model.dropout=0"):
        check_batchable(configs(2, **{"model.dropout": 0.3}))
    with pytest.raises(ConfigError, match="differ only in train.seed"):
        check_batchable(configs(1) + configs(1, **{"train.lr_d": 1e-4}))
    with pytest.raises(ConfigError, match="repeat a seed"):
        check_batchable(configs(1) * 2)
    with pytest.raises(ConfigError, match="train.ema"):
        check_batchable(configs(2, **{"train.ema": 0.99}))
    with pytest.raises(ConfigError, match="'mnist' is not a toy set"):
        check_batchable([build_config("smoke")])
    with pytest.raises(ConfigError, match="n_critic=9"):
        BatchedToyGANs(configs(2, **{"train.n_critic": 9}))
