"""Faults inside one process: corrupt checkpoints, crafted pickles, a full or broken disk
(NaN/inf, the non-finite guard: test_guard.py).

Every fault ends in a correct run or one GankitError line (exit status 2 from the CLI), and
the newest intact checkpoint stays loadable and resumable to the uninterrupted result.
"""

from __future__ import annotations

import errno
import os
import pickle

import pytest
import torch
from reliability_support import (
    TINY,
    cli_outcome,
    final_tensors,
    small_config,
    tiny_train_argv,
    train_logged,
)

from gankit import cli
from gankit.errors import CheckpointError, GankitError
from gankit.log import JsonlLogger, read_metrics
from gankit.runs import checkpoint as ckpt
from gankit.runs import loop as run


def _resume(out):
    lines: list[str] = []
    run.train(None, out, resume=True, log=lines.append)
    return lines


def _same_final(a, b) -> bool:
    x = final_tensors(ckpt.load(ckpt.list_checkpoints(a)[-1]))
    y = final_tensors(ckpt.load(ckpt.list_checkpoints(b)[-1]))
    return x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, data):
    out = tmp_path_factory.mktemp("ref") / "run"
    run.train(small_config(data, **TINY), out, log=lambda m: None)
    return out


# --------------------------------------------------------------- corrupt newest checkpoint
@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "zeros"])
def test_corrupt_newest_checkpoint_is_named_and_the_previous_used(tmp_path, reference, damage,
                                                                  cfg):
    out = tmp_path / "run"
    train_logged(out, cfg())
    newest = ckpt.list_checkpoints(out)[-1]
    data = newest.read_bytes()
    newest.write_bytes({"truncate": data[: len(data) // 3], "garbage": os.urandom(5000),
                        "empty": b"", "zeros": bytes(len(data))}[damage])
    path, state = ckpt.latest_valid(out, warn=(warnings := []).append)
    assert path.name == ckpt.checkpoint_name(3) and state["epoch"] == 3
    assert len(warnings) == 1 and newest.name in warnings[0]
    lines = _resume(out)
    assert any("skipping checkpoint epoch_0004.pt" in line for line in lines)
    assert any("from epoch_0003.pt" in line for line in lines)
    assert _same_final(out, reference)  # epoch 4 redone, exactly
    assert [r["epoch"] for r in read_metrics(out / "metrics.jsonl")] == [1, 2, 3, 4]


def test_all_checkpoints_corrupt_is_one_error_naming_them(tmp_path, cfg):
    out = tmp_path / "run"
    train_logged(out, cfg())
    for p in ckpt.list_checkpoints(out):
        p.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(CheckpointError, match="no checkpoint of run folder") as err:
        ckpt.latest_valid(out)
    assert "epoch_0002.pt" in str(err.value) and "\n" not in str(err.value)


# --------------------------------------------------------------- safe loading
class _Marker:
    """Unpickling this would create a file: proof that code ran."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _evil_files(tmp_path, marker):
    zipped = tmp_path / "zipped.pt"
    torch.save({"format": 1, "g": _Marker(marker)}, zipped)
    legacy = tmp_path / "legacy.pt"  # torch's old format: a bare pickle stream
    legacy.write_bytes(pickle.dumps({"format": 1, "g": _Marker(marker)}, protocol=2))
    raw = tmp_path / "raw.pt"  # a hand-written pickle: GLOBAL os.system + REDUCE
    raw.write_bytes(b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR.")
    return [zipped, legacy, raw]


def test_crafted_pickles_are_refused_and_never_run(tmp_path):
    marker = tmp_path / "marker"
    for path in _evil_files(tmp_path, marker):
        with pytest.raises(CheckpointError) as err:
            ckpt.load(path)
        assert str(path) in str(err.value) and "\n" not in str(err.value)
        assert "safe loader" in str(err.value) or "corrupt" in str(err.value)
        assert not marker.exists()


def test_crafted_pickle_in_a_run_folder_via_the_cli(tmp_path, capsys, cfg):
    marker = tmp_path / "marker"
    out = tmp_path / "run"
    train_logged(out, cfg())
    for evil in _evil_files(tmp_path, marker):
        for p in ckpt.list_checkpoints(out):
            p.write_bytes(evil.read_bytes())
        rc, err = cli_outcome(["train", "--resume", "--out", str(out)], capsys)
        assert rc == 2 and err.startswith("gankit: error:") and "\n" not in err
        rc, err = cli_outcome(["sample", "--checkpoint", str(out / "checkpoints" / "epoch_0004.pt"),
                        "--out", str(tmp_path / "s.png")], capsys)
        assert rc == 2 and err.startswith("gankit: error:") and "\n" not in err
        assert not marker.exists()


# --------------------------------------------------------------- disk trouble
def _full_disk_from(monkeypatch, nth):
    """From the nth checkpoint write on, torch.save writes into /dev/full: real ENOSPC writes."""
    calls = {"n": 0}

    def fake_open(path, mode="r", *args, **kwargs):
        if mode == "wb":
            calls["n"] += 1
            if calls["n"] >= nth:
                return open("/dev/full", mode)  # noqa: SIM115 - the writer closes it
        return open(path, mode, *args, **kwargs)  # noqa: SIM115

    monkeypatch.setattr(ckpt, "open", fake_open, raising=False)


def _failing(monkeypatch, obj, name, nth, code):
    calls = {"n": 0}
    real = getattr(obj, name)

    def fake(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] >= nth:
            raise OSError(code, os.strerror(code))
        return real(*args, **kwargs)

    monkeypatch.setattr(obj, name, fake)


FAULTS = {
    "disk full during torch.save": (lambda mp: _full_disk_from(mp, 3), "No space left"),
    "rename refused (read-only fs)": (
        lambda mp: _failing(mp, os, "replace", 5, errno.EROFS), "Read-only file system"),
    "fsync fails (I/O error)": (
        lambda mp: _failing(mp, os, "fsync", 3, errno.EIO), "Input/output error"),
    "metrics log append fails": (
        lambda mp: _failing(mp, JsonlLogger, "log", 3, errno.ENOSPC), "No space left"),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_disk_trouble_mid_run_is_one_line_and_the_last_checkpoint_resumes(
        tmp_path, monkeypatch, capsys, reference, fault, cfg):
    inject, text = FAULTS[fault]
    out = tmp_path / "run"
    with monkeypatch.context() as mp:
        inject(mp)
        with pytest.raises(GankitError) as err:
            train_logged(out, cfg())
    msg = str(err.value)
    assert text in msg and str(out) in msg and "--resume" in msg and "\n" not in msg
    assert not list((out / "checkpoints").glob(".*.tmp"))
    for p in ckpt.list_checkpoints(out):  # every checkpoint left is intact
        assert ckpt.load(p)["epoch"] == int(p.name[6:10])
    assert ckpt.latest_valid(out)[1]["epoch"] >= 1
    _resume(out)  # the fault gone, the run goes on to the same end
    assert _same_final(out, reference)


def test_disk_trouble_through_the_cli_is_exit_2(tmp_path, monkeypatch, capsys, data):
    _full_disk_from(monkeypatch, 1)
    rc, err = cli_outcome(tiny_train_argv(tmp_path / "run", data, **{"train.epochs": 1}), capsys)
    assert rc == 2 and err.startswith("gankit: error: cannot write epoch_0001.pt")
    assert "[ENOSPC]" in err and "\n" not in err


def test_sample_grid_write_failure_is_one_line(tmp_path, monkeypatch, cfg):
    from PIL import Image

    _failing(monkeypatch, Image.Image, "save", 2, errno.ENOSPC)
    with pytest.raises(GankitError, match="No space left"):
        train_logged(tmp_path / "run", cfg(**{"train.sample_every": 1}))


def test_sample_from_a_run_folder_skips_a_corrupt_newest_checkpoint(tmp_path, cfg, capsys):
    out = tmp_path / "run"
    train_logged(out, cfg())
    ckpt.list_checkpoints(out)[-1].write_bytes(b"PK\x03\x04 torn")
    rc = cli.main(["sample", "--checkpoint", str(out), "--out", str(tmp_path / "s.png"),
                   "--n", "4"])
    err = capsys.readouterr().err
    assert rc == 0 and (tmp_path / "s.png").is_file()
    assert "skipping checkpoint epoch_0004.pt" in err
