"""The CUDA-graph runner's bookkeeping, checked on the CPU: warm-up, the plan of random draws
filled before each replay, the EMA weight, counters, recapture after a load.

A fake graph stands in for the CUDA one: capturing records the step instead of running it,
and each replay runs it again on the static buffers (as a real replay re-executes the captured
kernels on them). Graphed training must then equal eager training bit for bit.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from gankit.config import build_config
from gankit.core.trainer import Trainer
from gankit.runtime.graphs import WARMUP, IterationGraphs


class _FakeGraph:
    def __init__(self, runner: IterationGraphs, fn: Any, out: torch.Tensor) -> None:
        self.noise, self.fn, self.out = runner.noise, fn, out
        self.draws = list(runner.noise.pending or [])
        runner.noise.pending.clear()  # a real capture consumes them

    def replay(self) -> None:
        with self.noise.from_buffers(self.draws):
            self.out.copy_(self.fn())


class _FakeGraphs(IterationGraphs):
    captures = 0

    def run_on_side_stream(self, fn):  # noqa: ANN001, ANN201
        return fn()

    def record(self, fn):  # noqa: ANN001, ANN201
        _FakeGraphs.captures += 1
        out = torch.zeros(7)
        return _FakeGraph(self, fn, out), out


def _trainer(graphs: bool, **extra: object) -> Trainer:
    cfg = build_config("smoke", None, {"train.batch_size": 16, "train.device": "cpu", **extra})
    labels = torch.arange(128) % 10 if extra.get("model.conditional") else None
    torch.manual_seed(0)
    data = torch.rand(128, 1, 28, 28, generator=torch.Generator().manual_seed(3)) * 2 - 1
    t = Trainer(cfg, data, "cpu", labels=labels)
    if graphs:
        t.attach_graphs(_FakeGraphs)
    return t


@pytest.mark.parametrize("extra", [
    {},
    {"loss.game": "minimax", "train.ema": 0.9},
    {"model.conditional": True, "train.ema": 0.99},
    {"loss.game": "wgan-gp", "train.n_critic": 3},
    {"train.precision": "bf16"},
])
def test_fake_graphed_training_equals_eager_bit_for_bit(extra) -> None:
    # one after the other: dropout draws from the global RNG, which each Trainer seeds
    eager = _trainer(False, **extra)
    ra = [eager.train_epoch() for _ in range(3)]
    graphed = _trainer(True, **extra)
    rb = [graphed.train_epoch() for _ in range(3)]
    kinds = 2 if extra.get("train.n_critic", 1) > 1 else 1
    assert len(graphed.graphs.captured) == kinds
    assert graphed.graphs.replays == 3 * 8 - kinds * WARMUP
    assert graphed.g_steps == eager.g_steps
    for net in ("g", "d"):
        a, b = getattr(eager, net).state_dict(), getattr(graphed, net).state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a), net
    if eager.ema is not None:
        assert graphed.ema.updates == eager.ema.updates
        for key, value in eager.ema.model.state_dict().items():
            torch.testing.assert_close(graphed.ema.model.state_dict()[key], value)
    assert [r["loss_d"] for r in ra] == [r["loss_d"] for r in rb]
    assert [r["g_grad_norm"] for r in ra] == [r["g_grad_norm"] for r in rb]


def test_a_load_discards_the_graphs_and_training_goes_on_exactly() -> None:
    whole = _trainer(True, **{"train.ema": 0.9})
    for _ in range(2):
        whole.train_epoch()
    first = _trainer(True, **{"train.ema": 0.9})
    first.train_epoch()
    assert first.graphs.captured
    first.load_state_dict(first.state_dict())  # restores the global RNG too
    assert not first.graphs.captured
    first.train_epoch()
    for net in ("g", "d"):
        a, b = getattr(whole, net).state_dict(), getattr(first, net).state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a), net


def test_a_failed_capture_falls_back_to_eager_training_with_a_warning() -> None:
    class _Failing(_FakeGraphs):
        def record(self, fn):  # noqa: ANN001, ANN201
            raise RuntimeError("operation not permitted when stream is capturing\nmore")

    eager = _trainer(False)
    eager.train_epoch()
    t = _trainer(True)
    t.attach_graphs(_Failing)
    with pytest.warns(RuntimeWarning, match="CUDA graph capture failed .operation not permitted"):
        t.train_epoch()
    assert t.graphs is None and t.g_steps == eager.g_steps
    for net in ("g", "d"):
        a, b = getattr(eager, net).state_dict(), getattr(t, net).state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a), net
