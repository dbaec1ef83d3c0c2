"""Distributed training: torchrun's env, batch splitting, and 2 CPU processes == 1 process."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import torch
from dist_support import launch

from gankit.config import build_config
from gankit.core.trainer import Trainer
from gankit.errors import ConfigError
from gankit.runtime.distributed import DistInfo, from_env

SRC = Path(__file__).resolve().parents[2] / "src"


def test_from_env_reads_torchrun_variables() -> None:
    assert from_env({}) is None
    assert from_env({"WORLD_SIZE": "1", "RANK": "0", "LOCAL_RANK": "0"}) is None
    info = from_env({"WORLD_SIZE": "4", "RANK": "3", "LOCAL_RANK": "1"})
    assert info == DistInfo(rank=3, world_size=4, local_rank=1)
    assert not info.is_main
    with pytest.raises(ConfigError, match="RANK=5"):
        from_env({"WORLD_SIZE": "2", "RANK": "5"})


def test_global_batch_must_split_over_ranks() -> None:
    cfg = build_config("smoke", None, {"train.batch_size": 10, "train.device": "cpu"})
    with pytest.raises(ConfigError, match="does not split over 3"):
        Trainer(cfg, torch.zeros(64, 1, 28, 28), "cpu", DistInfo(0, 3, 0))


def test_noise_is_drawn_from_its_own_seeded_generator() -> None:
    """The noise stream depends on the seed only, not on the global RNG (dropout's)."""
    cfg = build_config("smoke", None, {"train.device": "cpu"})
    data = torch.zeros(64, 1, 28, 28)
    a = Trainer(cfg, data).noise(8)
    torch.manual_seed(12345)
    b = Trainer(cfg, data).noise(8)
    assert torch.equal(a, b)


WORKER = textwrap.dedent("""
    import sys
    from pathlib import Path
    sys.path.insert(0, {src!r})
    import torch
    torch.set_num_threads(1)
    from gankit.runs import loop as run
    from gankit.config import build_config
    from gankit.data import Dataset

    def synthetic(cfg, log=None):
        gen = torch.Generator().manual_seed(1)
        return Dataset("synthetic", torch.rand(64, 1, 28, 28, generator=gen) * 2 - 1)

    run.load_dataset = synthetic
    out, epochs = Path(sys.argv[1]), int(sys.argv[2])
    if sys.argv[3:] == ["resume"]:
        run.train(None, out, resume=True, resume_overrides={{"train.epochs": epochs}},
                  log=lambda _: None)
    else:
        cfg = build_config("smoke", None, {{
            "model.dropout": 0.0, "train.epochs": epochs, "train.batch_size": 16,
            "train.device": "cpu", "train.checkpoint_every": 1, "train.keep_checkpoints": 5,
        }})
        run.train(cfg, out, log=lambda _: None)
""")


def _final(out: Path, epoch: int) -> dict:
    return torch.load(out / "checkpoints" / f"epoch_{epoch:04d}.pt", weights_only=True)


@pytest.mark.slow
def test_two_processes_match_one_process_and_resume(tmp_path: Path) -> None:
    """Global batch 16 as 2 ranks x 8 equals 1 process x 16, up to float reassociation.

    Dropout is off (its masks are per rank); the noise is the same global draw. The
    2-process run stops after epoch 1 and resumes (every rank loads the checkpoint).
    """
    script = tmp_path / "worker.py"
    script.write_text(WORKER.format(src=str(SRC)))
    one, two = tmp_path / "one", tmp_path / "two"
    launch(script, 1, one, 2)
    launch(script, 2, two, 1)
    launch(script, 2, two, 2, "resume")

    a, b = _final(one, 2), _final(two, 2)
    assert a["iteration"] == b["iteration"] == 8  # 64 images / 16 per batch x 2 epochs
    for net in ("g", "d"):
        for key, value in a[net].items():
            torch.testing.assert_close(b[net][key], value, rtol=1e-4, atol=1e-5)
    for key in ("exp_avg", "exp_avg_sq"):
        torch.testing.assert_close(b["opt_d"]["state"][0][key], a["opt_d"]["state"][0][key],
                                   rtol=1e-3, atol=1e-7)
    # the weights moved: the comparison is not between two untouched initialisations
    first = _final(one, 1)
    assert not torch.allclose(first["g"]["net.0.weight"], a["g"]["net.0.weight"])
    # only rank 0 wrote: one metrics line per epoch, with the global images/s and stats
    lines = [json.loads(x) for x in (two / "metrics.jsonl").read_text().splitlines()]
    ref = [json.loads(x) for x in (one / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [1, 2]
    for mine, theirs in zip(lines, ref, strict=True):
        for key in ("loss_d", "loss_g", "d_real", "d_fake", "g_grad_norm"):
            assert mine[key] == pytest.approx(theirs[key], rel=1e-4, abs=1e-6)
    assert len(b["rng"]["ranks"]) == 2


def test_a_stray_world_size_is_one_line(tmp_path: Path, monkeypatch, capsys) -> None:
    from gankit.cli import main

    monkeypatch.setenv("WORLD_SIZE", "2")
    for key in ("MASTER_ADDR", "MASTER_PORT", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(key, raising=False)
    out = tmp_path / "run"
    assert main(["train", "--preset", "toy", "--epochs", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "WORLD_SIZE=2 is set but MASTER_ADDR and MASTER_PORT" in err
    assert not out.exists()


def test_a_stray_world_size_with_master_addr_says_what_it_waits_for(tmp_path: Path) -> None:
    import os
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TORCHELASTIC")}
    env.update(WORLD_SIZE="2", RANK="0", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
               OMP_NUM_THREADS="1")
    child = subprocess.Popen([sys.executable, "-m", "gankit", "train", "--preset", "toy",
                              "--epochs", "1", "--out", str(tmp_path / "run")],
                             env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline, line = time.monotonic() + 120, ""
        while time.monotonic() < deadline and "waits for" not in line:
            line = child.stderr.readline()
            if not line and child.poll() is not None:
                break
        assert "waits for the other processes" in line and "unset WORLD_SIZE" in line, line
    finally:
        child.kill()
        child.wait()
