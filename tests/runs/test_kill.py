"""Kill tests: a training subprocess SIGKILLed at several points, resumed each time, ends with
exactly the weights, optimiser state, RNG state and metrics of an uninterrupted run."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
import yaml
from reliability_support import (
    child_argv,
    child_env,
    final_tensors,
    make_idx_dir,
    resume_argv,
    run_child,
    small_config,
)

from gankit.log import read_metrics
from gankit.runs import checkpoint as ckpt
from gankit.runs import loop as run

EPOCHS = 12
pytestmark = pytest.mark.slow


def _temps(folder: Path) -> list[os.DirEntry]:
    try:
        return [e for e in os.scandir(folder) if e.name.endswith(".tmp")]
    except FileNotFoundError:
        return []


def _newest_epoch(out: Path) -> int:
    found = ckpt.list_checkpoints(out)
    return int(found[-1].name[6:10]) if found else 0


def _kill_when(argv: list[str], out: Path, event: str, rng: random.Random) -> str:
    """Start argv, SIGKILL it when `event` happens; returns what was seen at the kill."""
    folder = out / ckpt.CHECKPOINT_DIR
    start_epoch = _newest_epoch(out)
    stale = {e.name for e in _temps(folder)}  # left by an earlier kill; the child removes them
    proc = subprocess.Popen(argv, env=child_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        if event == "startup":  # before the first epoch ends: during imports or the 1st epoch
            time.sleep(rng.uniform(0.0, 2.0))
        else:
            # Wait (cheaply) until the child has written its config, then watch closely.
            while proc.poll() is None and not (out / "config.yaml").exists():
                time.sleep(0.01)
            delay = rng.uniform(0.0, 0.15)
            while proc.poll() is None:
                if event == "mid-write":  # a new temp checkpoint, partly written
                    if any(e.stat().st_size > 0 for e in _temps(folder) if e.name not in stale):
                        break
                elif _newest_epoch(out) > start_epoch:  # a new checkpoint has landed
                    if event == "after-checkpoint":
                        break
                    time.sleep(delay)  # "random": somewhere in the following epoch
                    break
        assert proc.poll() is None, f"run ended before the kill ({event}): {proc.stderr.read()}"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    fresh = [e.name for e in _temps(folder) if e.name not in stale]
    if event == "mid-write":
        assert fresh, "the kill did not land inside save_atomic"
    return f"{event}: killed with checkpoints {[p.name for p in ckpt.list_checkpoints(out)]}, " \
           f"new temps {fresh}"


def _assert_readable(out: Path) -> None:
    """What a killed run folder must always offer: a loadable state or a config to restart."""
    assert yaml.safe_load((out / "config.yaml").read_text())["train"]["epochs"] == EPOCHS
    if ckpt.list_checkpoints(out):
        _, state = ckpt.latest_valid(out)
        assert state["epoch"] >= 1
    if (out / "metrics.jsonl").exists():
        read_metrics(out / "metrics.jsonl")


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_idx_dir(tmp_path_factory.mktemp("idx"))


@pytest.fixture(scope="module")
def reference(tmp_path_factory, data) -> Path:
    """The uninterrupted run, in process with one thread (as the children have)."""
    out = tmp_path_factory.mktemp("ref") / "run"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run.train(small_config(data, **{"train.epochs": EPOCHS}), out, log=lambda m: None)
    finally:
        torch.set_num_threads(threads)
    return out


def test_sigkill_at_several_points_then_resume_equals_uninterrupted(tmp_path, data, reference):
    rng = random.Random(7)
    out = tmp_path / "run"
    fresh = child_argv(out, data, "--set", f"train.epochs={EPOCHS}")
    seen = [_kill_when(fresh, out, "startup", rng)]
    if not (out / "config.yaml").exists():  # killed while starting: the same command again
        assert not out.exists() or not any(out.iterdir())
        seen.append(_kill_when(fresh, out, "mid-write", rng))
    _assert_readable(out)
    for event in ("mid-write", "random", "after-checkpoint", "mid-write", "random"):
        seen.append(_kill_when(resume_argv(out), out, event, rng))
        _assert_readable(out)
    done = run_child(resume_argv(out))
    assert done.returncode == 0, done.stderr
    print("\n".join(seen))  # the kill points, for `pytest -s`

    assert not _temps(out / ckpt.CHECKPOINT_DIR)  # resume cleared the interrupted writes
    got, _ = ckpt.latest_valid(out)
    want, _ = ckpt.latest_valid(reference)
    assert got.name == want.name == ckpt.checkpoint_name(EPOCHS)
    a, b = final_tensors(ckpt.load(got)), final_tensors(ckpt.load(want))
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), seen
    for path in ckpt.list_checkpoints(out):  # every kept checkpoint loads
        ckpt.load(path)
    assert len(ckpt.list_checkpoints(out)) == 3
    keys = ("epoch", "iteration", "loss_d", "loss_g", "d_real", "d_fake")
    got_m = [{k: r[k] for k in keys} for r in read_metrics(out / "metrics.jsonl")]
    want_m = [{k: r[k] for k in keys} for r in read_metrics(reference / "metrics.jsonl")]
    assert got_m == want_m  # one record per epoch, the same numbers


def test_kill_during_the_first_checkpoint_write_restarts_from_config(tmp_path, data,
                                                                     reference):
    out = tmp_path / "run"
    _kill_when(child_argv(out, data, "--set", f"train.epochs={EPOCHS}"), out, "mid-write",
               random.Random(1))
    assert _temps(out / ckpt.CHECKPOINT_DIR) and not ckpt.list_checkpoints(out)
    done = run_child(resume_argv(out))
    assert done.returncode == 0, done.stderr
    assert "starting it over from its config.yaml" in done.stdout
    a = final_tensors(ckpt.load(ckpt.list_checkpoints(out)[-1]))
    b = final_tensors(ckpt.load(ckpt.list_checkpoints(reference)[-1]))
    assert all(torch.equal(a[k], b[k]) for k in a)
