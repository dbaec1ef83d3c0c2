"""gankit's Python API (gankit.api): keywords, runs, generators, evaluation, Ctrl-C, clean-up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import gankit
from gankit import api
from gankit.config import build_config, flatten
from gankit.errors import ConfigError, GankitError, Interrupted
from gankit.viz.animate import slerp

sys.path.insert(0, str(Path(__file__).resolve().parent / "metrics"))
from pathlib import Path

from digits import render_digits  # noqa: E402
from hypothesis import given
from hypothesis import strategies as st
from reliability_support import examples, make_idx_dir, outcome, scratch_folder, small_config

TOY = {"epochs": 2, "toy_samples": 512, "sample_every": 1, "checkpoint_every": 1}
"""A toy run of well under a second."""


def test_import_gankit_and_its_api_load_neither_torch_nor_numpy() -> None:
    code = ("import sys, gankit; light = not {'torch', 'numpy'} & set(sys.modules); "
            "f = gankit.train; print(light, callable(f), 'torch' in sys.modules, "
            "'train' in dir(gankit))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["True", "True", "False", "True"]  # torch loads when a function runs
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        gankit.nope  # noqa: B018


def test_keywords_name_config_keys_three_ways() -> None:
    assert api.config_key("epochs") == "train.epochs"
    assert api.config_key("train__lr_d") == "train.lr_d"
    assert api.config_key("model.z_dim") == "model.z_dim"
    assert api.config_key("loss") == api.config_key("game") == "loss.game"
    assert api.config_key("dataset") == "data.dataset"
    cfg = gankit.make_config("smoke", epochs=3, train__seed=5, dataset="ring2d",
                             model="toy-mlp", **{"train.lr_d": 1e-4})
    assert (cfg.train.epochs, cfg.train.seed, cfg.train.lr_d) == (3, 5, 1e-4)
    assert (cfg.data.dataset, cfg.model.name, cfg.preset) == ("ring2d", "toy-mlp", "smoke")
    # exactly what the CLI builds from the same preset and --set pairs
    assert cfg == build_config("smoke", None, {"train.epochs": 3, "train.seed": 5,
                                               "data.dataset": "ring2d", "model.name": "toy-mlp",
                                               "train.lr_d": 1e-4})
    with pytest.raises(ConfigError, match="unknown config keyword 'epoch'"):
        api.config_key("epoch")
    with pytest.raises(ConfigError, match="unknown config key 'train.bogus'"):
        gankit.make_config("smoke", train__bogus=1)
    assert set(gankit.presets()) >= {"default", "smoke", "toy", "seed"}


def test_a_toy_run_trains_shows_its_grid_and_resumes(tmp_path: Path) -> None:
    lines: list[str] = []
    run = gankit.train("toy", tmp_path / "r", log=lines.append, **TOY)
    assert isinstance(run, gankit.Run) and run.path == tmp_path / "r"
    assert [m["epoch"] for m in run.metrics] == [1, 2]
    assert run.config.train.epochs == 2 and run.config.data.toy_samples == 512
    assert run._repr_png_() == run.grids[-1].read_bytes()
    assert run.grid().size == run.grid(2).size
    with pytest.raises(GankitError, match="no grid of epoch 7; it has epochs 0, 1, 2"):
        run.grid(7)
    # config.yaml records what `auto` resolved to; the banner and the closing line say it
    text = (run.path / "config.yaml").read_text()
    assert "device_used: cpu\n" in text and "precision_used: fp32\n" in text
    assert "done: 2 epochs" in lines[-1] and "on cpu (fp32)" in lines[0]
    assert "on cpu fp32" in run.report_path.read_text()  # the report's subtitle
    assert "<img" in run._repr_html_()
    more = gankit.train(out=run.path, resume=True, epochs=3, log=lines.append)
    assert [m["epoch"] for m in more.metrics] == [1, 2, 3]
    g = more.generator("cpu")
    a, b = g.sample(50, seed=3), g.sample(50, seed=3)
    assert a.is_points and a.tensor.shape == (50, 2) and torch.equal(a.tensor, b.tensor)
    assert not torch.equal(a.tensor, g.sample(50, seed=4).tensor)
    assert a._repr_png_().startswith(b"\x89PNG")
    with pytest.raises(GankitError, match="toy points"):
        gankit.evaluate(g, n=10)


def test_banner_names_conditional_and_ema_and_one_epoch_is_singular(tmp_path: Path) -> None:
    lines: list[str] = []
    gankit.train("toy", tmp_path / "r", log=lines.append, ema=0.99,
                 **{**TOY, "epochs": 1})
    assert "EMA of G (0.99)" in lines[0]
    assert "done: 1 epoch in" in lines[-1]


@pytest.fixture(scope="module")
def conditional(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from gankit.core.trainer import Trainer
    from gankit.runs.checkpoint import save_atomic

    cfg = build_config("smoke", overrides={"model.z_dim": 8, "model.g_hidden": [16],
                                           "model.d_hidden": [16], "train.batch_size": 8,
                                           "model.conditional": True})
    t = Trainer(cfg, torch.rand(16, 1, 28, 28) * 2 - 1, labels=torch.arange(16) % 10)
    return save_atomic(t.state_dict(), tmp_path_factory.mktemp("ck") / "c.pt")


def test_generator_draws_what_gankit_sample_draws(conditional: Path, tmp_path: Path) -> None:
    from gankit import cli

    g = gankit.load(conditional, device="cpu")
    assert g.n_classes == 10 and g.z_dim == 8
    assert cli.main(["sample", "--checkpoint", str(conditional), "--n", "20", "--seed", "2",
                     "--out", str(tmp_path / "s.npy")]) == 0
    assert np.array_equal(np.load(tmp_path / "s.npy"), g.sample(20, seed=2).numpy())
    # per_class: row k is class k, column j one latent shared by every row
    z = g.latents(3, seed=1)
    grid = g.per_class(3, seed=1)
    assert grid.row_labels == [str(k) for k in range(10)] and grid.nrow == 3
    for k in (0, 7):
        expect = g(z, torch.full((3,), k))
        assert torch.allclose(grid.tensor[3 * k: 3 * k + 3], expect, atol=1e-5)
    assert grid.image().width > grid.image().height / 10 * 3  # a label margin on the left
    # interpolate: row i starts at latent i and ends at latent n + i
    path = g.interpolate(n=2, steps=4, seed=5)
    ends, labels = g.latents(4, seed=5), torch.tensor([0, 1])
    first, last = path.tensor.view(2, 5, 1, 28, 28)[:, 0], path.tensor.view(2, 5, 1, 28, 28)[:, -1]
    assert torch.allclose(first, g(ends[:2], labels), atol=1e-5)
    assert torch.allclose(last, g(ends[2:], labels), atol=1e-5)
    middle = path.tensor.view(2, 5, 1, 28, 28)[:, 2]  # the walk of gankit sample --interpolate
    assert torch.allclose(middle, g(slerp(ends[:2], ends[2:], 0.5), labels), atol=1e-5)
    with pytest.raises(GankitError, match="0..9"):
        g.sample(4, digit=10)
    assert g.sample(4, digit=7).tensor.shape == (4, 1, 28, 28)


@pytest.fixture
def fake_mnist(monkeypatch: pytest.MonkeyPatch):
    """MNIST replaced by rendered digits (300 train, 200 test), as in tests/commands/test_eval."""
    import gankit.data.mnist
    from gankit.metrics import evaluate

    data = {"train": render_digits(300, seed=10), "test": render_digits(200, seed=11)}
    monkeypatch.setattr(gankit.data.mnist, "load_mnist",
                        lambda split="train", data_dir=None, cache_dir=None, **_: data[split])
    monkeypatch.setattr(evaluate, "FLOOR_N", 100)
    evaluate.load_context.cache_clear()
    yield data
    evaluate.load_context.cache_clear()


def test_evaluate_takes_arrays_samples_and_generators(fake_mnist, conditional: Path) -> None:
    from gankit.metrics.evaluate import METRICS

    real = gankit.evaluate(render_digits(150, seed=12)[0], device="cpu")
    assert set(real) == {k for k, _ in METRICS} and real["n"] == 150
    assert set(real.floor) == set(real) and len(real.histogram) == 10
    assert any("n = 150" in w for w in real.warnings)
    assert "real-data floor" in real.table() and real._repr_html_().startswith("<pre>")
    g = gankit.load(conditional, "cpu")
    ev = gankit.evaluate(g, n=60, device="cpu")
    assert ev["n"] == 60 and ev.conditional is not None
    # the same samples as a Samples object: the same metrics, without the per-class accuracy
    same = gankit.evaluate(g.sample(60, seed=0), device="cpu")
    assert same["fid"] == pytest.approx(ev["fid"]) and same.conditional is None
    # the reference set itself: a warning says so
    itself = gankit.evaluate(fake_mnist["test"][0], device="cpu")
    assert any("200 of the 200 images are images of the reference set" in w
               for w in itself.warnings), itself.warnings
    assert not any("reference set" in w for w in real.warnings)
    with pytest.raises(GankitError, match="cannot score a dict"):
        gankit.evaluate({})


def test_a_run_that_fails_at_start_leaves_no_folder(tmp_path: Path) -> None:
    out = tmp_path / "new" / "run"
    with pytest.raises(ConfigError, match="larger than the data set"):
        gankit.train("toy", out, toy_samples=100, batch_size=256)
    assert not out.exists()
    with pytest.raises(GankitError):
        gankit.train("smoke", out, dataset="idx", data_dir=str(tmp_path / "missing"))
    assert not out.exists()
    mine = tmp_path / "mine"  # a folder the user made stays
    mine.mkdir()
    with pytest.raises(ConfigError):
        gankit.train("toy", mine, toy_samples=100, batch_size=256)
    assert mine.is_dir()


def test_ctrl_c_checkpoints_the_epoch_and_resume_equals_uninterrupted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gankit.runs.loop as loop
    from gankit.runs.checkpoint import list_checkpoints, load

    straight = gankit.train("toy", tmp_path / "a", log=lambda _: None, **{**TOY, "epochs": 3})
    real_epoch = loop.train_epoch_guarded

    def epoch_with_ctrl_c(trainer, *args, **kwargs):  # noqa: ANN001, ANN202
        record = real_epoch(trainer, *args, **kwargs)
        if trainer.epoch == 1:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C during epoch 1
        return record

    monkeypatch.setattr(loop, "train_epoch_guarded", epoch_with_ctrl_c)
    out = tmp_path / "b"
    # Ctrl-C must reach this process: under `nohup make test &` SIGINT comes ignored
    # (and gankit keeps it so), so the test installs Python's handler for the call
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        before = signal.getsignal(signal.SIGINT)
        with pytest.raises(Interrupted,
                           match=f"after epoch 1 .*gankit train --resume --out {out}"):
            gankit.train("toy", out, log=lambda _: None, **{**TOY, "epochs": 3})
        assert signal.getsignal(signal.SIGINT) is before  # the handler found is restored
    finally:
        signal.signal(signal.SIGINT, inherited)
    assert [p.name for p in list_checkpoints(out)] == ["epoch_0001.pt"]
    monkeypatch.setattr(loop, "train_epoch_guarded", real_epoch)
    gankit.train(out=out, resume=True, log=lambda _: None)
    a, b = load(list_checkpoints(straight.path)[-1]), load(list_checkpoints(out)[-1])
    for key in a["g"]:
        assert torch.equal(a["g"][key], b["g"][key]), key
    assert Interrupted("x").exit_code == 130


def test_games_plot_and_toy_data(tmp_path: Path) -> None:
    img = gankit.games_plot(tmp_path / "g.png")
    assert (tmp_path / "g.png").is_file() and img.width > img.height
    assert gankit.toy_datasets() == ["gaussian1d", "ring2d", "grid2d"]
    pts = gankit.toy_data("grid2d", 400, seed=1)
    dist = gankit.toy_distribution("grid2d")
    assert pts.tensor.shape == (400, 2) and dist.num_modes == 25
    nearest = torch.cdist(pts.tensor, dist.centres).min(dim=1).values
    assert float(nearest.max()) < 6 * dist.std  # every point sits on one of the 25 modes


def test_config_show_reads_back_as_the_same_config(tmp_path: Path, capsys) -> None:
    from gankit import cli

    assert cli.main(["config", "show", "--preset", "toy", "--set", "train.epochs=7"]) == 0
    text = capsys.readouterr().out
    path = tmp_path / "c.yaml"
    path.write_text(text)
    assert build_config(None, path) == build_config("toy", None, {"train.epochs": 7})
    keys = flatten(build_config("toy").to_dict())
    lines = [ln for ln in text.splitlines()  # a key's line (not its doc's wrapped rest)
             if ln.startswith("  ") and not ln.lstrip().startswith("#")]
    assert len(lines) == len(keys) - 1  # preset is the top line
    assert all("  # " in ln for ln in lines)  # every key with its doc
    assert "  epochs: 7" in text and "Passes over a fresh shuffle" in text
    assert cli.main(["config", "keys"]) == 0
    listed = [ln.split()[0] for ln in capsys.readouterr().out.splitlines()
              if not ln.startswith((" ", "("))]  # "(first sentences; ...)" closes the list
    assert listed == [k for k in keys if k != "preset"]


@pytest.mark.parametrize("name", sorted(p.name for p in (
    Path(__file__).resolve().parents[1] / "configs").glob("*.yaml")))
def test_example_configs_load_and_validate(name: str) -> None:
    path = Path(__file__).resolve().parents[1] / "configs" / name
    cfg = build_config(None, path)
    assert cfg.preset in gankit.presets()


def test_bare_gankit_prints_help_and_help_shows_defaults() -> None:
    run = [sys.executable, "-m", "gankit"]
    bare = subprocess.run(run, capture_output=True, text=True)
    assert bare.returncode == 0 and "usage: gankit" in bare.stdout and "config" in bare.stdout
    train = subprocess.run([*run, "train", "--help"], capture_output=True, text=True).stdout
    flat = " ".join(train.split())
    for flag, value in (("--epochs N", "12"), ("--batch-size B", "128"), ("--seed S", "0"),
                        ("--device DEV", "auto"), ("--ema DECAY", "0.999")):
        assert flag in flat and f"(default preset: {value})" in flat
    for cmd in ("sample", "eval"):
        out = subprocess.run([*run, cmd, "--help"], capture_output=True, text=True).stdout
        assert "(default auto)" in " ".join(out.split())


def test_license_and_ignored_outputs() -> None:
    root = Path(__file__).resolve().parents[1]
    assert "MIT License" in (root / "LICENSE").read_text()
    assert "gankit developers" in (root / "LICENSE").read_text()
    ignored = (root / ".gitignore").read_text().split()
    assert {"/*.png", "/*.npy", "/*.onnx", "/*.gif"} <= set(ignored)


def test_an_inherited_ignored_sigint_stays_ignored_while_training(tmp_path: Path,
                                                                   monkeypatch) -> None:
    """`nohup gankit train ... &` starts with SIGINT ignored: the run must stay uninterruptible
    by Ctrl-C, as the shell asked, and the ignore is what is left afterwards."""
    import gankit.runs.loop as loop

    real_epoch, seen = loop.train_epoch_guarded, []

    def epoch(trainer, *args, **kwargs):  # noqa: ANN001, ANN202
        seen.append(signal.getsignal(signal.SIGINT))
        os.kill(os.getpid(), signal.SIGINT)  # ignored: the run goes on
        return real_epoch(trainer, *args, **kwargs)

    monkeypatch.setattr(loop, "train_epoch_guarded", epoch)
    inherited = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        run = gankit.train("toy", tmp_path / "r", log=lambda _: None, **{**TOY, "epochs": 2})
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, inherited)
    assert seen == [signal.SIG_IGN, signal.SIG_IGN] and len(run.metrics) == 2


@pytest.mark.parametrize(("call", "match"), [
    (lambda g: g.sample(10.5), "n 10.5 is not a whole number"),
    (lambda g: g.sample(0), "n 0 is out of range"),
    (lambda g: g.sample(5, digit="x"), "digit=x is out of range"),
    (lambda g: g.sample(5, seed=-1), "seed -1 is out of range"),
    (lambda g: g.per_class(10**9), "n 1000000000 is out of range"),
    (lambda g: g.interpolate(10**6, steps=10), "n 1000000 is out of range"),
    (lambda g: gankit.evaluate(g, n=60, batch_size=0, device="cpu"),
     "batch_size 0 is out of range"),
    (lambda g: gankit.evaluate(g, n=3, device="cpu"), "n 3 is out of range"),
    (lambda g: gankit.toy_data("ring2d", n=10**11), "n 100000000000 is out of range"),
    (lambda g: gankit.toy_data("ring2d", n=2.5), "n 2.5 is not a whole number"),
])
def test_the_api_checks_its_arguments_as_the_cli_checks_its_flags(conditional: Path,
                                                                  call, match) -> None:
    g = gankit.load(conditional, "cpu")
    with pytest.raises(GankitError, match=match):
        call(g)


def test_run_grid_and_train_check_their_arguments(tmp_path: Path) -> None:
    run = gankit.train("toy", tmp_path / "r", log=lambda _: None, **{**TOY, "epochs": 1})
    with pytest.raises(GankitError, match="epoch 'x' is not a whole number"):
        run.grid(epoch="x")
    out = tmp_path / "new"
    with pytest.raises(GankitError, match="log=5 is not a function"):
        gankit.train("toy", out, log=5, **TOY)
    assert not out.exists()  # nothing half-made


def test_samples_save_refuses_a_folder_or_another_suffix(conditional: Path,
                                                         tmp_path: Path) -> None:
    samples = gankit.load(conditional, "cpu").sample(4)
    with pytest.raises(GankitError, match="it is a folder; give a file in it"):
        samples.save(tmp_path)
    with pytest.raises(GankitError, match=r"must end in \.png \(a grid\) or \.npy"):
        samples.save(tmp_path / "grid")
    assert os.listdir(tmp_path) == []  # no FOLDER.png beside it, nothing written
    assert samples.save(tmp_path / "g.png").is_file()


API_VALUES = st.one_of(st.integers(-(2**70), 2**70), st.floats(allow_nan=True),
                       st.text(max_size=5), st.none(), st.booleans(),
                       st.sampled_from([0, -1, 10.5, 10**11, 2**63, "x", [], {}, 1e308]))


@examples(60)
@given(method=st.sampled_from(["sample", "per_class", "interpolate", "latents", "toy_data",
                               "evaluate", "grid"]),
       args=st.dictionaries(st.sampled_from(["n", "seed", "digit", "nrow", "steps", "epoch",
                                             "batch_size"]), API_VALUES, max_size=3))
def test_api_arguments(api_generator, method, args):
    """The Python API's functions with junk arguments: a result or one GankitError line."""
    import gankit

    g, run = api_generator
    allowed = {"sample": {"n", "seed", "digit", "nrow"}, "per_class": {"n", "seed"},
               "interpolate": {"n", "steps", "seed"}, "latents": {"n", "seed"},
               "toy_data": {"n", "seed"}, "evaluate": {"n", "seed", "batch_size"},
               "grid": {"epoch"}}[method]
    kwargs = {k: v for k, v in args.items() if k in allowed}
    if method == "toy_data":
        outcome(gankit.toy_data, "ring2d", **kwargs)
    elif method == "evaluate":  # only the argument checks: they come before any scoring
        if {"n", "seed", "batch_size"} - set(kwargs):
            kwargs.setdefault("n", 10**11)  # a valid call would score: make it fail its check
        outcome(gankit.evaluate, g, device="cpu", **kwargs)
    elif method == "grid":
        outcome(run.grid, **kwargs)
    else:
        n = kwargs.setdefault("n", 4)
        if isinstance(n, int) and not isinstance(n, bool) and 64 < n <= 100_000:
            kwargs["n"] = 64  # valid sizes stay small: the test checks refusals, not speed
        outcome(getattr(g, method), **kwargs)


@pytest.fixture(scope="module")
def api_generator():
    import gankit

    tmp = scratch_folder()
    run = gankit.train("toy", tmp / "run", log=lambda _: None, epochs=1, toy_samples=256,
                       sample_every=1)
    cfg = small_config(make_idx_dir(tmp / "idx"), **{"train.epochs": 1, "model.conditional": True})
    from gankit.runs.loop import train

    return gankit.load(train(cfg, tmp / "img", log=lambda _: None), "cpu"), run
