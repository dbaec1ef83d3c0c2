"""The command line end to end on a tiny IDX data set: train, resume, sample, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from reliability_support import (
    one_line_error,
)

from gankit.cli import main
from gankit.data.idx import write_idx


@pytest.fixture
def idx_dir(tmp_path, toy_images):
    """A folder of MNIST-named IDX files holding 256 synthetic images."""
    folder = tmp_path / "idx"
    folder.mkdir()
    pics = ((toy_images[:, 0] + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()
    labels = (np.arange(len(pics)) % 10).astype(np.uint8)
    write_idx(folder / "train-images-idx3-ubyte", pics)
    write_idx(folder / "train-labels-idx1-ubyte", labels)
    return folder


def _train(idx_dir, out, *extra):
    return main(["train", "--preset", "smoke", "--set", "data.dataset=idx", "--data-dir",
                 str(idx_dir), "--out", str(out), "--batch-size", "64", *extra])


def test_train_writes_the_run_folder(tmp_path, idx_dir):
    out = tmp_path / "run"
    assert _train(idx_dir, out, "--epochs", "2") == 0
    assert (out / "config.yaml").read_text().count("dataset: idx") == 1
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["epoch_0001.png",
                                                                   "epoch_0002.png"]
    records = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2]
    assert records[-1]["iteration"] == 2 * (256 // 64)
    assert (out / "checkpoints" / "epoch_0002.pt").is_file()


def test_resume_continues_exactly(tmp_path, idx_dir):
    straight, split = tmp_path / "a", tmp_path / "b"
    assert _train(idx_dir, straight, "--epochs", "2") == 0
    assert _train(idx_dir, split, "--epochs", "1") == 0
    assert main(["train", "--out", str(split), "--resume", "--epochs", "2"]) == 0
    a = torch.load(straight / "checkpoints" / "epoch_0002.pt", weights_only=True)
    b = torch.load(split / "checkpoints" / "epoch_0002.pt", weights_only=True)
    for key in ("g", "d"):
        assert all(torch.equal(a[key][k], b[key][k]) for k in a[key])
    assert len((split / "metrics.jsonl").read_text().splitlines()) == 2


def test_resume_from_moved_data_repeating_flags_is_exact(tmp_path, idx_dir):
    """The data moved: --data-dir may point elsewhere; flags repeating the run's values pass."""
    straight, split = tmp_path / "a", tmp_path / "b"
    assert _train(idx_dir, straight, "--epochs", "2") == 0
    assert _train(idx_dir, split, "--epochs", "1") == 0
    moved = idx_dir.rename(tmp_path / "moved")
    assert main(["train", "--out", str(split), "--resume", "--epochs", "2", "--data-dir",
                 str(moved), "--batch-size", "64"]) == 0
    a = torch.load(straight / "checkpoints" / "epoch_0002.pt", weights_only=True)
    b = torch.load(split / "checkpoints" / "epoch_0002.pt", weights_only=True)
    assert a["data_sha256"] == b["data_sha256"]
    for key in ("g", "d"):
        assert all(torch.equal(a[key][k], b[key][k]) for k in a[key])


def test_resume_of_a_finished_run_trains_nothing_and_restores_a_missing_report(
        tmp_path, idx_dir, capsys):
    out = tmp_path / "run"
    assert _train(idx_dir, out, "--epochs", "1") == 0
    (out / "report.html").unlink()  # as if stopped between the last checkpoint and the report
    before = (out / "metrics.jsonl").read_bytes()
    capsys.readouterr()
    assert main(["train", "--out", str(out), "--resume", "--epochs", "1"]) == 0
    assert "run already has 1 epochs" in capsys.readouterr().out
    assert (out / "report.html").is_file()
    assert (out / "metrics.jsonl").read_bytes() == before


def test_resume_on_other_data_or_changed_config_is_refused(tmp_path, idx_dir, capsys):
    out = tmp_path / "run"
    assert _train(idx_dir, out, "--epochs", "1") == 0
    before = (out / "metrics.jsonl").read_bytes()
    other = tmp_path / "other"
    other.mkdir()
    pics = np.random.default_rng(1).integers(0, 256, (256, 28, 28), dtype=np.uint8)
    write_idx(other / "train-images-idx3-ubyte", pics)
    write_idx(other / "train-labels-idx1-ubyte", (np.arange(256) % 10).astype(np.uint8))
    capsys.readouterr()
    assert main(["train", "--out", str(out), "--resume", "--epochs", "2", "--data-dir",
                 str(other)]) == 2
    err = capsys.readouterr().err.strip()
    assert "not the data the run was trained on" in err and "--data-dir" in err
    assert "\n" not in err
    assert main(["train", "--out", str(out), "--resume", "--epochs", "2", "--batch-size",
                 "32"]) == 2
    err = capsys.readouterr().err.strip()
    assert "cannot change train.batch_size when resuming" in err and "\n" not in err
    assert (out / "metrics.jsonl").read_bytes() == before  # nothing lost
    assert not (out / "checkpoints" / "epoch_0002.pt").exists()


def test_a_score_game_logs_d_scores_not_probabilities(tmp_path, idx_dir, capsys, monkeypatch):
    out = tmp_path / "run"
    assert _train(idx_dir, out, "--epochs", "1", "--loss", "hinge", "--no-progress") == 0
    text = capsys.readouterr().out
    assert "D score(x)" in text and "D(x)" not in text
    record = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    assert record["d_output"] == "score" and "js_hat" not in record
    from gankit.report import figures
    from gankit.report.read import read_run

    panels = {}
    monkeypatch.setattr(figures, "curve_png", lambda title, ylabel, lines, hline, logy: (
        panels.setdefault(title, (ylabel, [name for name, *_ in lines], hline)) and b""))
    figures.run_curves(read_run(out))
    assert panels["Discriminator outputs"] == ("mean score (not a probability)",
                                               ["D score(x)", "D score(G(z))"], None)
    assert "Jensen-Shannon estimate" not in panels


def test_sample_png_and_npy(tmp_path, idx_dir):
    out = tmp_path / "run"
    assert _train(idx_dir, out, "--epochs", "1") == 0
    assert main(["sample", "--checkpoint", str(out), "--n", "12", "--out",
                 str(tmp_path / "g.png")]) == 0
    assert (tmp_path / "g.png").stat().st_size > 0
    assert main(["sample", "--checkpoint", str(out), "--n", "12", "--seed", "3", "--out",
                 str(tmp_path / "s.npy")]) == 0
    arr = np.load(tmp_path / "s.npy")
    assert arr.shape == (12, 28, 28) and arr.dtype == np.uint8
    assert main(["sample", "--checkpoint", str(out), "--n", "12", "--seed", "3", "--out",
                 str(tmp_path / "t.npy")]) == 0
    assert np.array_equal(arr, np.load(tmp_path / "t.npy"))  # same seed, same images


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--loss", "wgan-ish"], "unknown; choose one of"),
        (["--preset", "nope"], "unknown preset 'nope'"),
        (["--batch-size", "0"], "train.batch_size=0 must be > 0"),
        (["--batch-size", "1000"], "batch size 1000 is larger than the data set"),
        (["--epochs", "-1"], "train.epochs=-1 must be > 0"),
        (["--set", "train.bogus=1"], "unknown config key 'train.bogus'"),
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path, idx_dir, capsys, args, message):
    out = tmp_path / "run"
    base = ["train", "--preset", "smoke", "--set", "data.dataset=idx", "--data-dir",
            str(idx_dir), "--out", str(out)]
    assert main(base + args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and err.startswith("gankit: error:") and "\n" not in err


def test_existing_run_folder_is_never_overwritten(tmp_path, idx_dir, capsys):
    out = tmp_path / "run"
    assert _train(idx_dir, out, "--epochs", "1") == 0
    before = (out / "metrics.jsonl").read_bytes()
    capsys.readouterr()
    assert _train(idx_dir, out, "--epochs", "1") == 2
    err = capsys.readouterr().err
    assert "already exists" in err and "--resume" in err
    assert (out / "metrics.jsonl").read_bytes() == before


def test_unwritable_output_is_a_clear_error(tmp_path, idx_dir, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert _train(idx_dir, blocker / "run", "--epochs", "1") == 2
    assert "cannot write to output folder" in capsys.readouterr().err


def test_corrupt_checkpoint_for_sample(tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    assert main(["sample", "--checkpoint", str(bad), "--out", str(tmp_path / "x.png")]) == 2
    assert "corrupt or truncated" in capsys.readouterr().err


def test_missing_data_is_a_clear_error(tmp_path, capsys):
    code = main(["train", "--preset", "smoke", "--set", "data.dataset=idx", "--data-dir",
                 str(tmp_path / "nowhere"), "--out", str(tmp_path / "run")])
    assert code == 2 and "not a folder" in capsys.readouterr().err


def test_python_dash_m_and_help():

    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2] / "src"))
    for cmd in (["--help"], ["train", "--help"], ["sample", "--help"], ["data", "--help"]):
        res = subprocess.run([sys.executable, "-m", "gankit", *cmd], capture_output=True,
                             text=True, timeout=120, env=env)
        assert res.returncode == 0 and "usage: gankit" in res.stdout


def test_building_the_parser_imports_neither_torch_nor_numpy() -> None:
    # `gankit --help` must answer at once: heavy libraries load only when a command runs
    code = ("import sys; from gankit.cli import build_parser; build_parser(); "
            "print(sorted(m for m in ('torch', 'numpy', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


def test_torch_out_of_memory_is_reported_as_such(tmp_path, monkeypatch, capsys):
    import gankit.api

    def cpu_oom(*args, **kwargs):
        return torch.empty(10**15)  # the CPU allocator's RuntimeError: 4 PB

    monkeypatch.setattr(gankit.api, "load", cpu_oom)
    assert main(["sample", "--checkpoint", str(tmp_path), "--out", str(tmp_path / "s.png")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("gankit: error: out of memory;") and "unexpected" not in err

    def gpu_oom(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(gankit.api, "load", gpu_oom)
    assert main(["sample", "--checkpoint", str(tmp_path), "--out", str(tmp_path / "s.png")]) == 1
    assert capsys.readouterr().err.startswith("gankit: error: out of memory;")


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
def test_sizes_and_seeds_are_refused_up_front(argv, needle, capsys):
    start = time.perf_counter()
    one_line_error(capsys, main(argv), needle)
    assert time.perf_counter() - start < 20


def test_argparse_errors_are_short(capsys):
    with pytest.raises(SystemExit) as done:
        main(["sample", "--nrow", "x"])
    err = capsys.readouterr().err.strip().splitlines()
    assert done.value.code == 2 and len(err) <= 2 and "invalid int value: 'x'" in err[0]


def test_an_unexpected_exception_is_one_line_and_debug_shows_it(monkeypatch, capsys):
    def boom(args):
        raise TypeError("x" * 10_000)

    monkeypatch.delenv("GANKIT_DEBUG", raising=False)
    parser_main = main
    monkeypatch.setattr("gankit.cli.build_parser", _parser_with(boom))
    one_line_error(capsys, parser_main(["report", "x"]), "unexpected TypeError", "--debug")
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
