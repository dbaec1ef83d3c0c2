"""A conditional run with EMA and n_critic: 2 CPU processes == 1 process."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import torch
from dist_support import launch

SRC = Path(__file__).resolve().parents[2] / "src"

WORKER = textwrap.dedent("""
    import sys
    sys.path.insert(0, {src!r})
    from pathlib import Path
    import torch
    torch.set_num_threads(1)
    from gankit.runs import loop as run
    from gankit.config import build_config
    from gankit.data import Dataset

    def synthetic(cfg, log=None):
        gen = torch.Generator().manual_seed(1)
        x = torch.rand(64, 1, 28, 28, generator=gen) * 2 - 1
        return Dataset("synthetic", x, torch.arange(64) % 10)

    run.load_dataset = synthetic
    cfg = build_config("smoke", None, {{
        "model.dropout": 0.0, "train.epochs": 1, "train.batch_size": 16, "train.device": "cpu",
        "model.conditional": True, "train.ema": 0.9, "train.n_critic": 2,
        "loss.game": "wgan-gp", "model.g_hidden": [16], "model.d_hidden": [16],
    }})
    run.train(cfg, Path(sys.argv[1]), log=lambda _: None)
""")


@pytest.mark.slow
def test_conditional_ema_n_critic_two_processes_match_one(tmp_path: Path) -> None:
    script = tmp_path / "worker.py"
    script.write_text(WORKER.format(src=str(SRC)))
    launch(script, 1, tmp_path / "one")
    launch(script, 2, tmp_path / "two")
    a, b = (torch.load(tmp_path / d / "checkpoints" / "epoch_0001.pt", weights_only=True)
            for d in ("one", "two"))
    assert a["g_steps"] == b["g_steps"] == 2 and a["n_classes"] == b["n_classes"] == 10
    for key, value in a["g"].items():
        torch.testing.assert_close(b["g"][key], value, rtol=1e-4, atol=1e-5)
    for key, value in a["ema"]["model"].items():
        torch.testing.assert_close(b["ema"]["model"][key], value, rtol=1e-4, atol=1e-5)
