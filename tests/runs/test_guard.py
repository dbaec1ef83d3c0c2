"""gankit.runs.guard: a non-finite epoch is rolled back and retried with the documented seed,
at most train.nan_retries times, then one clear error; `nonfinite` names what went bad."""

from __future__ import annotations

import math

import pytest
import torch
from reliability_support import (
    cli_outcome,
    final_tensors,
    tiny_train_argv,
    train_logged,
)

from gankit.core.trainer import Trainer
from gankit.data import load_dataset
from gankit.errors import GankitError
from gankit.log import read_metrics
from gankit.runs import checkpoint as ckpt
from gankit.runs import guard


def test_nonfinite_names_the_statistics_and_parameters(make_config, toy_images) -> None:
    t = Trainer(make_config(small=True), toy_images)
    assert guard.nonfinite(t, {"loss_d": 0.7, "loss_g": 1.0, "seconds": float("nan")}) == []
    with torch.no_grad():
        next(t.d.parameters())[0].fill_(float("inf"))
    name = "D." + next(n for n, _ in t.d.named_parameters())
    assert guard.nonfinite(t, {"loss_d": float("nan"), "loss_g": 1.0}) == ["loss_d", name]


def _poison(monkeypatch, when):
    """Make D's weights NaN right after the d_step for which when(trainer, call) is true."""
    calls = {"n": 0, "hit": 0}
    original = Trainer.d_step

    def d_step(self, real, labels=None):
        stats = original(self, real, labels)
        calls["n"] += 1
        if when(self, calls["n"]):
            calls["hit"] += 1
            with torch.no_grad():
                next(self.d.parameters()).fill_(float("nan"))
        return stats

    monkeypatch.setattr(Trainer, "d_step", d_step)
    return calls


def test_transient_nan_is_rolled_back_and_retried_with_the_documented_seed(tmp_path,
                                                                           monkeypatch, cfg):
    # 8 iterations per epoch: call 11 is iteration 3 of the first try of epoch 2.
    calls = _poison(monkeypatch, lambda t, n: n == 11)
    out = tmp_path / "run"
    lines = train_logged(out, cfg())
    assert calls["hit"] == 1
    assert any("epoch 2: non-finite" in line and "(1/3)" in line for line in lines)
    records = read_metrics(out / "metrics.jsonl")
    assert [r["epoch"] for r in records] == [1, 2, 3, 4]
    assert [r["iteration"] for r in records] == [8, 16, 24, 32]
    assert all(math.isfinite(r["loss_d"]) for r in records)
    # Exactly what changed: epoch 2 redone from the state after epoch 1, with the trainer's
    # random streams reseeded from retry_seed(seed, 2, 1); nothing else.
    monkeypatch.undo()
    c = cfg()
    t = Trainer(c, load_dataset(c.data).samples)
    t.train_epoch()
    t.reseed(guard.retry_seed(c.train.seed, 2, 1))
    t.train_epoch()
    want = final_tensors(t.state_dict())
    got = final_tensors(ckpt.load(out / "checkpoints" / ckpt.checkpoint_name(2)))
    assert all(torch.equal(got[k], want[k]) for k in want)


def test_persistent_nan_stops_after_the_retries_with_one_line(tmp_path, monkeypatch, capsys,
                                                              data):
    calls = _poison(monkeypatch, lambda t, n: t.epoch == 2)  # every try of epoch 3
    out = tmp_path / "run"
    rc, err = cli_outcome(tiny_train_argv(out, data, **{"train.checkpoint_every": 1}), capsys)
    assert rc == 2 and err.count("\n") == 0
    assert "training diverged: epoch 3" in err and "4 tries" in err
    assert calls["hit"] == 4 * 8  # 1 try + train.nan_retries (3) retries, 8 iterations each
    assert [p.name for p in ckpt.list_checkpoints(out)][-1] == "epoch_0002.pt"
    assert [r["epoch"] for r in read_metrics(out / "metrics.jsonl")] == [1, 2]


@pytest.mark.parametrize("retries", [0, 1])
def test_nan_retries_bounds_the_tries(tmp_path, monkeypatch, retries, cfg):
    calls = _poison(monkeypatch, lambda t, n: True)
    with pytest.raises(GankitError, match=f"{retries + 1} tries"):
        train_logged(tmp_path / "run", cfg(**{"train.nan_retries": retries}))
    assert calls["hit"] == 8 * (retries + 1)


def test_a_huge_learning_rate_ends_in_a_clear_error_not_a_loop(tmp_path, cfg):
    cfg = cfg(**{"train.lr_d": 1e38, "train.lr_g": 1e38, "train.nan_retries": 2})
    with pytest.raises(GankitError, match="training diverged: epoch 1 .* 3 tries"):
        train_logged(tmp_path / "run", cfg)


def test_inf_weight_is_caught_too(tmp_path, monkeypatch, cfg):
    calls = {"n": 0}
    original = Trainer.g_step

    def g_step(self, b, ema_weight=None):
        stats = original(self, b, ema_weight)
        calls["n"] += 1
        if calls["n"] == 13:  # epoch 2, first try: an inf that the losses may not show yet
            with torch.no_grad():
                list(self.g.parameters())[-1][0] = float("inf")
        return stats

    monkeypatch.setattr(Trainer, "g_step", g_step)
    lines = train_logged(tmp_path / "run", cfg())
    assert any("epoch 2: non-finite" in line for line in lines)
    state = ckpt.load(ckpt.list_checkpoints(tmp_path / "run")[-1])
    assert all(torch.isfinite(v).all() for k, v in state["g"].items())


