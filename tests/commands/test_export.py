"""`gankit export`: the exported generator gives the same images as the original."""

from __future__ import annotations

import argparse
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gankit.commands import export as export_cmd
from gankit.config import ModelConfig, build_config
from gankit.core.models import build_models
from gankit.core.trainer import Trainer
from gankit.errors import GankitError
from gankit.export import example_inputs, export_generator, run_exported
from gankit.runs.checkpoint import load_generator, save_atomic

# torch.jit.load is deprecated in PyTorch >= 2.9 but is what users of a TorchScript file call.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")


def _g(name: str, n_classes: int) -> torch.nn.Module:
    torch.manual_seed(0)
    g, _ = build_models(ModelConfig(name, 8, [16], [16], width=4), (1, 28, 28), n_classes)
    for p in g.parameters():  # DCGAN's init is tiny: make the weights matter
        p.data.normal_(0, 0.5)
    return g.eval()


@pytest.mark.parametrize("name", ["mlp", "dcgan"])
@pytest.mark.parametrize("n_classes", [0, 10])
def test_torchscript_gives_the_same_images(tmp_path: Path, name: str, n_classes: int) -> None:
    g = _g(name, n_classes)
    path = export_generator(g, tmp_path / "g.pt", "torchscript")
    inputs = example_inputs(g, batch=5, seed=3)  # another batch size than the trace's
    with torch.no_grad():
        expected = g(*inputs)
    loaded = torch.jit.load(str(path))
    assert torch.allclose(loaded(*inputs), expected, atol=1e-6)


@pytest.mark.parametrize("name", ["mlp", "dcgan"])
@pytest.mark.parametrize("n_classes", [0, 10])
def test_onnx_gives_the_same_images(tmp_path: Path, name: str, n_classes: int) -> None:
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    g = _g(name, n_classes)
    path = export_generator(g, tmp_path / "g.onnx", "onnx")
    inputs = example_inputs(g, batch=5, seed=3)
    with torch.no_grad():
        expected = g(*inputs)
    got = run_exported(path, "onnx", inputs)
    assert got.shape == expected.shape
    assert torch.allclose(got, expected, atol=1e-5)


def test_unknown_format_and_missing_onnx(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(GankitError, match="torchscript, onnx"):
        export_generator(_g("mlp", 0), tmp_path / "g", "tflite")
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "onnx" else real(name, *a))
    with pytest.raises(GankitError, match=r"gankit\[export\]"):
        export_generator(_g("mlp", 0), tmp_path / "g.onnx", "onnx")


def test_export_command_uses_the_ema_weights(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    cfg = build_config("smoke", overrides={"model.z_dim": 8, "model.g_hidden": [16],
                                           "model.d_hidden": [16], "train.batch_size": 8,
                                           "train.ema": 0.5, "model.conditional": True})
    t = Trainer(cfg, torch.rand(16, 1, 28, 28) * 2 - 1, labels=torch.arange(16) % 10)
    t.train_epoch()
    ckpt = save_atomic(t.state_dict(), tmp_path / "c.pt")
    parser = argparse.ArgumentParser()
    export_cmd.add_parser(parser.add_subparsers())
    out = tmp_path / "g.pt"
    args = parser.parse_args(["export", "--checkpoint", str(ckpt), "--out", str(out)])
    assert args.func(args) == 0
    assert "(z, labels)" in capsys.readouterr().out
    z, y = t.fixed_grid()
    with torch.no_grad():
        got = torch.jit.load(str(out))(z, y)
    assert torch.allclose(got, t.sample(), atol=1e-6)  # the EMA G's grid
    g, _ = load_generator(ckpt)
    assert torch.allclose(got, g(z, y), atol=1e-6)
    bad = parser.parse_args(["export", "--checkpoint", str(ckpt), "--format", "gif"])
    with pytest.raises(GankitError, match="torchscript, onnx"):
        bad.func(bad)


def _gankit_with_file_limit(argv: list[str], limit: int) -> subprocess.CompletedProcess:
    """`python -m gankit ARGV` with files capped at `limit` bytes (`ulimit -f`: a full disk)."""
    import resource

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "gankit", *argv], preexec_fn=cap, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def small_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cfg = build_config("smoke", overrides={"model.z_dim": 8, "model.g_hidden": [16],
                                           "model.d_hidden": [16], "train.batch_size": 8})
    t = Trainer(cfg, torch.rand(16, 1, 28, 28) * 2 - 1)
    return save_atomic(t.state_dict(), tmp_path_factory.mktemp("ck") / "c.pt")


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_a_full_disk_is_one_line_and_the_old_export_stays(small_checkpoint: Path, tmp_path: Path,
                                                         fmt: str) -> None:
    if fmt == "onnx":
        pytest.importorskip("onnx")
    out = tmp_path / ("g.pt" if fmt == "torchscript" else "g.onnx")
    out.write_bytes(b"last week's export")
    done = _gankit_with_file_limit(["export", "--checkpoint", str(small_checkpoint), "--format",
                                    fmt, "--out", str(out)], limit=20_000)  # G is ~50 kB
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.count("\n") == 1 and "[EFBIG]" in done.stderr
    assert out.read_bytes() == b"last week's export"
    assert os.listdir(tmp_path) == [out.name]  # no temp file left


@pytest.mark.parametrize("where", ["/proc/self/x.pt", "pipe"])
def test_an_unwritable_out_is_one_line(small_checkpoint: Path, tmp_path: Path, where: str,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    from gankit.cli import main

    if where == "pipe":  # a device or pipe (as /dev/full) is never replaced nor written into
        where = str(tmp_path / "pipe")
        os.mkfifo(where)
    assert main(["export", "--checkpoint", str(small_checkpoint), "--out", where]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"cannot write {where!r}" in err
    if where.endswith("pipe"):
        assert stat.S_ISFIFO(os.stat(where).st_mode)
