"""Hostile and careless use, item by item: no lost checkpoints, no tracebacks, bounded sizes.

Each test reproduces one attack of the tester's list (numbers in the test names) through the
command line or the function a command calls, and checks the outcome: the data survive, and
the user gets one line naming the value and the fix, with a non-zero exit.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import time
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from reliability_support import child_env, make_idx_dir, small_config

from gankit.cli import main
from gankit.config import Config, build_config, read_config_file, validate
from gankit.errors import CheckpointError, ConfigError, GankitError, short
from gankit.runlock import LOCK_NAME, RunLock
from gankit.runs import checkpoint as ckpt
from gankit.runs.loop import train


def _quiet(_: str) -> None:
    pass


def _run(tmp_path: Path, name: str = "run", epochs: int = 2, **extra) -> Path:
    """A SMALL run (8 iterations an epoch on 8x8 IDX images) trained for `epochs`."""
    data = tmp_path / "idx"
    if not data.is_dir():
        make_idx_dir(data)
    cfg = small_config(data, **{"train.epochs": epochs, **extra})
    return train(cfg, tmp_path / name, log=_quiet)


def _one_line_error(capsys, rc: int, *needles: str) -> str:
    """The command failed with exactly one stderr line holding every needle; returns it."""
    err = capsys.readouterr().err.strip()
    assert rc != 0, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err
    return err


def _truncate_copy(src: Path, dst: Path) -> None:
    dst.write_bytes(src.read_bytes()[: src.stat().st_size // 2])


def _epochs(run: Path) -> list[int]:
    return [ckpt.epoch_of_name(p) for p in ckpt.list_checkpoints(run)]


# --------------------------------------------------------------------------- 1-5 data loss
def test_1_corrupt_newer_checkpoints_never_push_good_ones_out(tmp_path, capsys):
    run = _run(tmp_path, epochs=3)
    good = run / "checkpoints" / "epoch_0003.pt"
    for e in (7, 8, 9):
        _truncate_copy(good, run / "checkpoints" / ckpt.checkpoint_name(e))
    assert main(["train", "--resume", "--out", str(run), "--epochs", "5"]) == 0
    assert "skipping checkpoint epoch_0009.pt" in capsys.readouterr().out
    valid = [p for p in ckpt.list_checkpoints(run) if ckpt.is_valid(p)]
    assert [ckpt.epoch_of_name(p) for p in valid] == [3, 4, 5]  # keep_checkpoints=3 good ones
    assert ckpt.latest_valid(run)[1]["epoch"] == 5


def test_1_one_corrupt_file_with_keep_checkpoints_1(tmp_path):
    run = _run(tmp_path, epochs=2, **{"train.keep_checkpoints": 1})
    _truncate_copy(run / "checkpoints" / "epoch_0002.pt", run / "checkpoints" / "epoch_0005.pt")
    assert main(["train", "--resume", "--out", str(run), "--epochs", "3"]) == 0
    assert ckpt.latest_valid(run)[1]["epoch"] == 3
    assert ckpt.load_valid(run / "checkpoints" / "epoch_0003.pt")["epoch"] == 3


def _hold_lock(folder: Path) -> subprocess.Popen:
    code = ("import sys, time; from pathlib import Path; from gankit.runlock import RunLock; "
            "RunLock().acquire(Path(sys.argv[1])); print('held', flush=True); time.sleep(60)")
    child = subprocess.Popen([sys.executable, "-c", code, str(folder)], env=child_env(),
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "held"
    return child


def test_2_a_run_folder_has_one_owner_and_a_dead_owner_is_taken_over(tmp_path, capsys):
    run = _run(tmp_path, epochs=1)
    child = _hold_lock(run)
    try:
        rc = main(["train", "--resume", "--out", str(run), "--epochs", "2"])
        _one_line_error(capsys, rc, "in use by another gankit process", f"pid {child.pid}")
        data = tmp_path / "idx"
        rc = main(["train", "--preset", "smoke", "--out", str(run), "--data-dir", str(data),
                   "--set", "data.dataset=idx"])
        _one_line_error(capsys, rc, "in use")
        assert _epochs(run) == [1]
    finally:
        child.kill()
        child.wait()
    assert f"pid {child.pid}" in (run / LOCK_NAME).read_text()  # a dead owner's stale file
    assert main(["train", "--resume", "--out", str(run), "--epochs", "2"]) == 0
    assert _epochs(run) == [1, 2]


def test_2_two_new_runs_racing_for_one_folder(tmp_path):
    folder = tmp_path / "new"
    with RunLock() as first:
        first.acquire(folder)
        with pytest.raises(GankitError, match="in use"), RunLock() as second:
            second.acquire(folder)
    with RunLock() as again:  # released on exit
        again.acquire(folder)


def test_3_a_checkpoint_of_another_run_or_renamed_is_never_resumed(tmp_path, capsys):
    mine = _run(tmp_path, "mine", epochs=2)
    other = _run(tmp_path, "other", epochs=2, **{"model.g_hidden": [64]})
    shutil.copy(other / "checkpoints" / "epoch_0002.pt", mine / "checkpoints" / "epoch_0009.pt")
    shutil.copy(mine / "checkpoints" / "epoch_0001.pt", mine / "checkpoints" / "epoch_0008.pt")
    assert main(["train", "--resume", "--out", str(mine), "--epochs", "4"]) == 0
    out = capsys.readouterr().out
    assert "epoch_0009.pt" in out and "belongs to another run" in out
    assert "named for epoch 8 but holds epoch 1" in out
    assert "g_hidden:\n  - 128\n  - 128" in (mine / "config.yaml").read_text()
    assert _epochs(mine) == [2, 3, 4, 8, 9]  # the two strangers are neither used nor counted
    assert ckpt.latest_valid(mine, run_id=_run_id(mine))[1]["config"]["model"]["g_hidden"] == [
        128, 128]


def _run_id(run: Path) -> str:
    return yaml.safe_load((run / "config.yaml").read_text())["run_id"]


def test_3_every_checkpoint_of_a_run_carries_its_run_id(tmp_path):
    a, b = _run(tmp_path, "a", epochs=1), _run(tmp_path, "b", epochs=1)
    assert _run_id(a) != _run_id(b)
    assert ckpt.load_valid(a / "checkpoints" / "epoch_0001.pt")["run_id"] == _run_id(a)
    with pytest.raises(CheckpointError, match="belongs to another run"):
        ckpt.load_valid(a / "checkpoints" / "epoch_0001.pt", run_id=_run_id(b))


def test_4_no_command_writes_over_its_input(tmp_path, capsys):
    run = _run(tmp_path, epochs=1)
    path = run / "checkpoints" / "epoch_0001.pt"
    before = path.read_bytes()
    _one_line_error(capsys, main(["export", "--checkpoint", str(path), "--out", str(path)]),
                    "would destroy the input")
    _one_line_error(capsys, main(["eval", str(path), "--out", str(path)]), "would destroy")
    _one_line_error(capsys, main(["eval", str(run), "--out", str(path)]), "would destroy")
    link = tmp_path / "link.npy"
    link.symlink_to(path)
    _one_line_error(capsys, main(["sample", "--checkpoint", str(path), "--out", str(link)]),
                    "would destroy")
    _one_line_error(capsys, main(["export", "--checkpoint", str(path), "--out", str(run)]),
                    "existing folder")
    assert path.read_bytes() == before


def test_5_hand_edits_of_config_yaml_on_resume(tmp_path, capsys):
    run = _run(tmp_path, epochs=1)
    text = (run / "config.yaml").read_text()
    (run / "config.yaml").write_text(text.replace("z_dim: 16", "z_dim: 8"))
    rc = main(["train", "--resume", "--out", str(run)])
    _one_line_error(capsys, rc, "model.z_dim changed", "undo")
    assert _epochs(run) == [1]
    (run / "config.yaml").write_text(text.replace("  epochs: 1\n", "  epochs: 3\n"))
    assert main(["train", "--resume", "--out", str(run)]) == 0  # an overridable key: applied
    assert "config.yaml edit applied: train.epochs 1 -> 3" in capsys.readouterr().out
    assert _epochs(run) == [1, 2, 3] and "epochs: 3" in (run / "config.yaml").read_text()


# ------------------------------------------------------------------ 6-10 crashes and hangs
def test_6_threads_are_bounded_by_the_cpus(capsys):
    rc = main(["train", "--preset", "smoke", "--set", "train.threads=100000"])
    _one_line_error(capsys, rc, "train.threads=100000", f"0..{os.cpu_count()}")


def test_7_alias_bombs_give_a_short_message_in_bounded_memory(tmp_path):
    lines = ["train:", "  epochs:", "    - &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    for i in range(1, 9):  # level i refers 9 times to level i - 1: 9**9 leaves by reference
        lines.append(f"    - &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    tracemalloc.start()
    try:
        with pytest.raises(ConfigError) as err:
            build_config(None, path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(str(err.value)) < 600 and "expands" in str(err.value)  # refused as it loads
    assert peak < 20 << 20


def test_7_short_quotes_a_bounded_prefix():
    nested: list = [1]
    for _ in range(40):
        nested = [nested] * 9
    for value in (nested, "x" * 10**7, 10**10000, {"k" * 100: list(range(10**5))}):
        start = time.perf_counter()
        assert len(short(value)) <= 80
        assert time.perf_counter() - start < 0.5


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_8_config_from_an_endless_stream_or_a_huge_file(tmp_path):
    with pytest.raises(ConfigError, match="larger than 1 MiB"):
        read_config_file("/dev/zero")
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * (1 << 20) + "\n")
    with pytest.raises(ConfigError, match="larger than 1 MiB"):
        read_config_file(big)


def test_8_eval_and_sample_sizes_are_checked_before_allocating(tmp_path, capsys):
    header = tmp_path / "many.npy"  # only a header: 100,000 images that are not there
    with open(header, "wb") as fh:
        np.lib.format.write_array_header_1_0(
            fh, {"descr": "|u1", "fortran_order": False, "shape": (100_000, 28, 28)})
    _one_line_error(capsys, main(["eval", "--images", str(header)]), "100000 images")
    _one_line_error(capsys, main(["eval", "some-run", "--n", "100000000"]), "--n 100000000")
    run = _run(tmp_path, epochs=1)
    rc = main(["sample", "--checkpoint", str(run), "--interpolate", "--steps", "100000000"])
    _one_line_error(capsys, rc, "--steps 100000000")
    rc = main(["sample", "--checkpoint", str(run), "--interpolate", "--steps", "900",
               "--n", "900"])
    _one_line_error(capsys, rc, "GIF images")


def test_9_a_full_disk_ends_in_one_line(tmp_path):
    """RLIMIT_FSIZE makes writes past 64 kB fail with EFBIG, as a full disk fails them."""
    make_idx_dir(tmp_path / "idx")
    code = ("import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
            "resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536)); "
            "from gankit.cli import main; sys.exit(main(sys.argv[1:]))")
    argv = [sys.executable, "-c", code, "train", "--preset", "smoke", "--out",
            str(tmp_path / "run"), "--data-dir", str(tmp_path / "idx"), "--set",
            "data.dataset=idx", "--set", "model.g_hidden=[64]", "--set", "model.d_hidden=[64]",
            "--batch-size", "32", "--epochs", "1", "--no-progress"]
    done = subprocess.run(argv, env=child_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot write" in lines[0] and "epoch_0001.pt" in lines[0], lines
    assert not list((tmp_path / "run" / "checkpoints").glob("epoch_*"))


def _png_bomb(path: Path, side: int = 100_000) -> Path:
    """A small valid PNG whose header claims side x side pixels."""
    from PIL import Image

    Image.new("L", (28, 28)).save(path)
    data = bytearray(path.read_bytes())
    ihdr = struct.pack(">II", side, side) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr) & 0xFFFFFFFF)
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("argv, needle", [
    (["train", "--seed", "99999999999999999999999"], "train.seed="),
    (["train", "--set", "model.g_hidden=[100000000000]"], "hidden widths"),
    (["train", "--set", "model.g_hidden=[100000,100000,100000]"], "GiB"),
    (["train", "--set", "model.z_dim=10000000000"], "model.z_dim="),
    (["train", "--model", "dcgan", "--set", "model.width=200000"], "GiB"),
    (["train", "--image-size", "100000"], "data.image_size=100000"),
    (["train", "--preset", "toy", "--set", "data.toy_samples=100000000000"], "toy_samples"),
    (["train", "--preset", "toy", "--eval-every", "1"], "drop --eval-every"),
    (["train", "--eval-n", "3"], "train.eval_n=3"),
    (["train", "--preset", "toy", "--n-critic", "1000"], "G would never step"),
    (["sample", "--checkpoint", "x.pt", "--n", "100000000"], "--n 100000000"),
    (["sample", "--checkpoint", "x.pt", "--nrow", "-3"], "--nrow -3"),
    (["sample", "--checkpoint", "x.pt", "--seed", "-1"], "--seed -1"),
    (["eval", "x.pt", "--seed", "99999999999999999999999"], "--seed"),
    (["eval", "x.pt", "--n", "1000000"], "--n 1000000"),
])
def test_10_sizes_and_seeds_are_refused_up_front(argv, needle, capsys):
    start = time.perf_counter()
    _one_line_error(capsys, main(argv), needle)
    assert time.perf_counter() - start < 20


def test_10_huge_npy_header_and_png_bombs(tmp_path, capsys):
    fake = tmp_path / "huge.npy"
    with open(fake, "wb") as fh:
        np.lib.format.write_array_header_1_0(
            fh, {"descr": "<f4", "fortran_order": False, "shape": (10**12, 28, 28)})
    _one_line_error(capsys, main(["eval", "--images", str(fake)]), "more than 50,000")
    small = tmp_path / "short.npy"
    with open(small, "wb") as fh:
        np.lib.format.write_array_header_1_0(
            fh, {"descr": "<f4", "fortran_order": False, "shape": (100, 28, 28)})
    _one_line_error(capsys, main(["eval", "--images", str(small)]), "truncated")
    folder = tmp_path / "pngs"
    folder.mkdir()
    _png_bomb(folder / "a.png")
    _one_line_error(capsys, main(["eval", "--images", str(folder)]), "a.png")


def test_10_report_on_a_damaged_run_folder(tmp_path, capsys):
    run = _run(tmp_path, epochs=2)
    with open(run / "metrics.jsonl", "a") as fh:
        fh.write("[1, 2, 3]\n" + "[" * 100_000 + "\n" + '{"epoch": {"a": 1}}\n')
    _png_bomb(run / "samples" / "epoch_0003.png")
    assert main(["report", str(run)]) == 0
    (run / "eval_deep.json").write_text("[" * 50_000 + "]" * 50_000)
    _one_line_error(capsys, main(["report", str(run)]), "eval_deep.json")
    (run / "eval_deep.json").unlink()
    (run / "config.yaml").write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
    assert main(["report", str(run)]) == 0


# -------------------------------------------------------------- crafted checkpoint fields
@pytest.fixture(scope="module")
def good_state(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("good")
    run = _run(tmp, epochs=1)
    return ckpt.load(run / "checkpoints" / "epoch_0001.pt")


CRAFTED = {
    "config": [1, 2], "g": [1], "ema": [1], "n_classes": "abc", "sample_shape": "x",
    "epoch": "two", "opt_g": [1], "rng": [1], "iteration": -1, "format": "1",
    "fixed_z": torch.zeros(100, 3), "elapsed": float("nan"), "run_id": 5,
}


@pytest.mark.parametrize("field, value", [
    *CRAFTED.items(), ("n_classes", -3), ("n_classes", 10**9), ("sample_shape", [1, -8, 8]),
    ("sample_shape", [10**6, 10**6]), ("config", {"model": {"z_dim": 10**12}}),
    ("config", {"model": {"g_hidden": "big"}}), ("fixed_z", [[0.0]]),
    ("rng", {"torch": torch.zeros(3, dtype=torch.uint8)}), ("d", {"w": "x"}),
    ("opt_d", {"state": [], "param_groups": 1}),
])
def test_10_crafted_checkpoint_fields_are_one_checkpoint_error(good_state, field, value,
                                                                tmp_path, capsys):
    state = {**good_state, field: value}
    path = ckpt.save_atomic(state, tmp_path / "checkpoints" / "epoch_0001.pt")
    with pytest.raises(CheckpointError) as err:
        ckpt.load_valid(path)
    assert field in str(err.value) or "checkpoint" in str(err.value)
    for argv in (["sample", "--checkpoint", str(path), "--out", str(tmp_path / "s.png")],
                 ["export", "--checkpoint", str(path), "--out", str(tmp_path / "g.pt")],
                 ["train", "--resume", "--out", str(tmp_path)]):
        _one_line_error(capsys, main(argv), "checkpoint")


# --------------------------------------------------------------------- 11 unclear messages
def test_11_a_checkpoint_that_does_not_fit_names_the_key_and_shapes(good_state, tmp_path,
                                                                    capsys):
    g = dict(good_state["g"])
    key = next(k for k, v in g.items() if v.ndim == 2)
    g[key] = torch.zeros(3, 3)
    path = ckpt.save_atomic({**good_state, "g": g, "ema": None}, tmp_path / "x.pt")
    rc = main(["sample", "--checkpoint", str(path), "--out", str(tmp_path / "s.png")])
    _one_line_error(capsys, rc, f"MLPGenerator.{key} has shape (3, 3) in the file")


def test_11_nan_weights_are_an_error(good_state, tmp_path, capsys):
    g = {k: torch.full_like(v, float("nan")) for k, v in good_state["g"].items()}
    path = ckpt.save_atomic({**good_state, "g": g}, tmp_path / "nan.pt")
    rc = main(["sample", "--checkpoint", str(path), "--out", str(tmp_path / "s.png")])
    _one_line_error(capsys, rc, "NaN or infinity", "earlier checkpoint")
    assert not (tmp_path / "s.png").exists()


def test_11_torchscript_file_and_random_bytes(tmp_path, capsys):
    script = tmp_path / "g.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), script)
    rc = main(["sample", "--checkpoint", str(script)])
    err = _one_line_error(capsys, rc, "TorchScript", "not a training checkpoint")
    assert "weights_only" not in err and "Warning" not in err
    noise = tmp_path / "noise.npy"
    noise.write_bytes(b"\x93NUMPY\x01\x00v\x00{'descr': '|O', 'fortran_order': False, "
                      b"'shape': (3,), }" + b" " * 50 + b"\n" + bytes(range(64)))
    err = _one_line_error(capsys, main(["eval", "--images", str(noise)]), "--images")
    assert "allow_pickle" not in err
    noise.write_bytes(b"\x93NUMPY\x01\x00\x10\x00{'descr': ((((\n" + bytes(range(64)))
    err = _one_line_error(capsys, main(["eval", "--images", str(noise)]), "not a readable")


def test_11_compare_out_existing_does_not_suggest_resume(tmp_path, capsys):
    (tmp_path / "cmp").mkdir()
    (tmp_path / "cmp" / "x").write_text("x")
    rc = main(["compare", "--data", "ring2d", "--out", str(tmp_path / "cmp")])
    err = _one_line_error(capsys, rc, "choose another --out")
    assert "--resume" not in err


def test_11_preset_in_the_config_file_and_on_the_command_line(tmp_path, capsys):
    path = tmp_path / "c.yaml"
    path.write_text("preset: toy\n")
    rc = main(["train", "--preset", "smoke", "--config", str(path)])
    _one_line_error(capsys, rc, "--preset 'smoke' conflicts with preset: 'toy'")
    assert build_config(None, path).preset == "toy"
    assert build_config("toy", path).preset == "toy"


def test_11_n_critic_above_the_iterations_of_an_epoch(tmp_path, capsys):
    data = make_idx_dir(tmp_path / "idx")  # 256 images, batch 32: 8 iterations an epoch
    rc = main(["train", "--preset", "smoke", "--set", "data.dataset=idx", "--data-dir",
               str(data), "--batch-size", "32", "--n-critic", "1000", "--out",
               str(tmp_path / "run")])
    _one_line_error(capsys, rc, "n_critic=1000", "8 iterations")


def test_11_argparse_errors_are_short(capsys):
    with pytest.raises(SystemExit) as done:
        main(["sample", "--nrow", "x"])
    err = capsys.readouterr().err.strip().splitlines()
    assert done.value.code == 2 and len(err) <= 2 and "invalid int value: 'x'" in err[0]


def test_11_checkpoints_get_the_mode_of_other_outputs(tmp_path):
    old = os.umask(0o022)
    try:
        run = _run(tmp_path, epochs=1)
    finally:
        os.umask(old)
    mode = (run / "checkpoints" / "epoch_0001.pt").stat().st_mode & 0o777
    assert mode == (run / "config.yaml").stat().st_mode & 0o777 == 0o644


# ------------------------------------------------------------------ every exception: 1 line
def test_an_unexpected_exception_is_one_line_and_debug_shows_it(monkeypatch, capsys):
    def boom(args):
        raise TypeError("x" * 10_000)

    monkeypatch.delenv("GANKIT_DEBUG", raising=False)
    parser_main = main
    monkeypatch.setattr("gankit.cli.build_parser", _parser_with(boom))
    _one_line_error(capsys, parser_main(["report", "x"]), "unexpected TypeError", "--debug")
    with pytest.raises(TypeError):
        parser_main(["report", "x", "--debug"])
    monkeypatch.setenv("GANKIT_DEBUG", "1")
    with pytest.raises(TypeError):
        parser_main(["report", "x"])


def _parser_with(func):
    from gankit import cli

    real = cli.build_parser

    def build():
        parser = real()
        for action in parser._subparsers._group_actions:
            action.choices["report"].set_defaults(func=func)
        return parser

    return build


def test_config_yaml_with_run_id_reads_as_a_config(tmp_path):
    run = _run(tmp_path, epochs=1)
    cfg = Config.from_dict(read_config_file(run / "config.yaml"))
    assert validate(cfg).model.z_dim == 16
    assert build_config(None, run / "config.yaml").preset == "smoke"
