"""CUDA: graphed iterations train as the eager loop does, and resume exactly (skipped without
a GPU; `bash benchmarks/gpu.sh` runs them on a machine that has one)."""

from __future__ import annotations

import pytest
import torch

from gankit.config import build_config
from gankit.core.trainer import Trainer

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _cfg(graphs: bool, **extra: object):  # noqa: ANN202
    return build_config("smoke", None, {"train.batch_size": 32, "train.device": "cuda",
                                        "train.precision": "fp32",
                                        "train.cuda_graphs": graphs, **extra})


def _data() -> torch.Tensor:
    return torch.rand(512, 1, 28, 28, generator=torch.Generator().manual_seed(3)) * 2 - 1


def _trainer(graphs: bool, **extra: object) -> Trainer:
    labels = torch.arange(512) % 10 if extra.get("model.conditional") else None
    torch.manual_seed(0)
    return Trainer(_cfg(graphs, **extra), _data(), "cuda", labels=labels)


CASES = [
    {},
    {"train.precision": "bf16"},
    {"loss.game": "minimax", "train.ema": 0.9},
    {"model.conditional": True, "train.ema": 0.99},
    {"loss.game": "wgan-gp", "train.n_critic": 3},
    {"model.name": "dcgan", "model.width": 8, "train.ema": 0.9},
]


@pytest.mark.parametrize("extra", CASES, ids=lambda e: ",".join(f"{k}={v}" for k, v in e.items())
                         or "default")
def test_graphed_training_matches_eager(extra) -> None:
    # one after the other: dropout draws from the global RNG, which each Trainer seeds
    eager = _trainer(False, **extra)
    ra = [eager.train_epoch() for _ in range(2)]
    graphed = _trainer(True, **extra)
    rb = [graphed.train_epoch() for _ in range(2)]
    assert eager.graphs is None and graphed.graphs is not None
    assert graphed.graphs.replays > 0  # 16 iterations per epoch, 3 eager warm-ups per kind
    assert graphed.g_steps == eager.g_steps and graphed.iteration == eager.iteration
    for net in ("g", "d"):
        a, b = getattr(eager, net).state_dict(), getattr(graphed, net).state_dict()
        for key in a:
            diff = (a[key].float() - b[key].float()).abs().max().item()
            print(f"{net}.{key}: max |eager - graphed| = {diff:.3g}")
            torch.testing.assert_close(b[key], a[key], rtol=1e-4, atol=1e-5)
    if eager.ema is not None:
        assert graphed.ema.updates == eager.ema.updates
        for key, value in eager.ema.model.state_dict().items():
            torch.testing.assert_close(graphed.ema.model.state_dict()[key], value,
                                       rtol=1e-4, atol=1e-5)
    for x, y in zip(ra, rb, strict=True):
        assert x["loss_d"] == pytest.approx(y["loss_d"], rel=1e-3, abs=1e-5)
        assert x["loss_g"] == pytest.approx(y["loss_g"], rel=1e-3, abs=1e-5)


@pytest.mark.parametrize("second", [True, False], ids=["graphs", "eager"])
def test_graphed_resume_is_exact(second: bool) -> None:
    """1 graphed epoch + save + load (graphed or eager) + 1 epoch == 2 graphed epochs."""
    whole = _trainer(True, **{"train.ema": 0.9})
    whole.train_epoch()
    whole.train_epoch()
    first = _trainer(True, **{"train.ema": 0.9})
    first.train_epoch()
    state = first.state_dict()
    torch.manual_seed(123)
    resumed = _trainer(second, **{"train.ema": 0.9})
    resumed.load_state_dict(state)
    resumed.train_epoch()
    for net in ("g", "d"):
        a, b = getattr(whole, net).state_dict(), getattr(resumed, net).state_dict()
        for key in a:
            torch.testing.assert_close(b[key], a[key], rtol=1e-4, atol=1e-5)


def test_graphs_are_recaptured_after_a_load() -> None:
    t = _trainer(True)
    t.train_epoch()
    assert t.graphs.captured
    t.load_state_dict(t.state_dict())
    assert not t.graphs.captured  # the optimiser state it held was replaced
    t.train_epoch()
    assert t.graphs.captured
