"""`gankit eval` end to end on small synthetic data, with MNIST replaced by rendered digits."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "metrics"))
import sys
from pathlib import Path

from digits import render_digits  # noqa: E402
from reliability_support import one_line_error, png_bomb

import gankit.data.mnist  # noqa: E402
from gankit import cli  # noqa: E402
from gankit.cli import main
from gankit.core.models import MLPGenerator  # noqa: E402
from gankit.data.idx import write_idx  # noqa: E402
from gankit.metrics import evaluate  # noqa: E402

FLOOR_N = 100


@pytest.fixture
def fake_mnist(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """gankit.data.mnist.load_mnist -> rendered digits (300 train, 200 test); counts calls."""
    calls = {"train": 0, "test": 0}
    data = {"train": render_digits(300, seed=10), "test": render_digits(200, seed=11)}

    def load_mnist(split: str = "train", data_dir=None, cache_dir=None, **_: object):
        calls[split] += 1
        return data[split]

    monkeypatch.setattr(gankit.data.mnist, "load_mnist", load_mnist)
    monkeypatch.setattr(cli, "COMMANDS", ("train", "eval"))
    monkeypatch.setattr(evaluate, "FLOOR_N", FLOOR_N)  # the fake training set is small
    evaluate.load_context.cache_clear()
    yield calls
    evaluate.load_context.cache_clear()


def _run(argv: list[str]) -> int:
    return cli.main(["eval", *argv])


def test_images_are_scored_with_the_floor_beside_them(fake_mnist, tmp_path, capsys) -> None:
    images, _ = render_digits(150, seed=12)
    np.save(tmp_path / "s.npy", images.astype(np.float32) / 255.0)  # a [0, 1] float tool
    out, cache = tmp_path / "r.json", tmp_path / "cache"
    argv = ["--images", str(tmp_path / "s.npy"), "--out", str(out), "--cache-dir", str(cache)]
    assert _run(argv) == 0
    captured = capsys.readouterr()
    assert "real-data floor" in captured.out and "FID" in captured.out
    assert "warning: n = 150 < 10000" in captured.err
    result = json.loads(out.read_text())
    assert result["n"] == 150 and result["metrics"]["n"] == 150
    assert set(result["metrics"]) == {key for key, _ in evaluate.METRICS}
    assert set(result["real_floor"]) == set(result["metrics"])
    assert len(result["class_histogram"]) == 10
    # the shares read as each digit and the share read as none make up all the samples
    assert sum(result["class_histogram"]) + result["metrics"]["not_digit"] == pytest.approx(1.0)
    assert result["metrics"]["fid"] > 0 and 1 <= result["metrics"]["classifier_score"] <= 10
    assert len(list((cache / "eval").glob("floor_*.json"))) == 1
    # a second run reads the cached floor: no training images loaded again
    assert _run(argv) == 0
    assert fake_mnist["train"] == 1


def _smoke_run(tmp_path: Path, *extra: str) -> Path:
    """A 1-epoch smoke run on 128 rendered digits in an IDX folder; returns the run folder."""
    idx = tmp_path / "idx"
    idx.mkdir()
    images, labels = render_digits(128, seed=13)
    write_idx(idx / "train-images-idx3-ubyte", images)
    write_idx(idx / "train-labels-idx1-ubyte", labels)
    run = tmp_path / "run"
    assert cli.main(["train", "--preset", "smoke", "--set", "data.dataset=idx", "--data-dir",
                     str(idx), "--out", str(run), "--batch-size", "64", "--epochs", "1",
                     *extra]) == 0
    return run


def test_a_trained_run_is_sampled_and_scored(fake_mnist, tmp_path, capsys) -> None:
    run = _smoke_run(tmp_path)
    argv = [str(run), "--n", "64", "--batch-size", "20", "--cache-dir", str(tmp_path)]
    assert _run(argv) == 0
    assert "data set 'idx'" in capsys.readouterr().err  # scored against MNIST: a warning
    result = json.loads((run / "eval_epoch_0001_n64.json").read_text())
    assert result["n"] == 64 and result["source"].endswith("epoch_0001.pt")


def test_sample_generator_is_seeded_and_restores_training_mode() -> None:
    g = MLPGenerator(z_dim=8, hidden=(16,))
    g.train()
    a = evaluate.sample_generator(g, 8, 30, seed=3, batch_size=7)
    b = evaluate.sample_generator(g, 8, 30, seed=3, batch_size=30)
    assert a.shape == (30, 1, 28, 28) and g.training
    torch.testing.assert_close(a, b)


@pytest.mark.parametrize(
    "argv, message",
    [(["--images", "missing.npy"], "no such file"),
     ([], "exactly one of"),
     (["run", "--images", "x.npy"], "exactly one of"),
     (["run", "--epochs", "2"], "--epochs 2 applies only"),
     (["run", "--range", "unit"], "apply only to --images"),
     (["--images", "x.npy", "--n", "2"], "--n 2 is too small")],
)  # fmt: skip
def test_bad_invocations_give_one_line_errors(fake_mnist, argv, message, capsys) -> None:
    assert _run(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_train_extractor_writes_weights_and_record(fake_mnist, tmp_path, capsys) -> None:
    out = tmp_path / "ex.safetensors"
    code = _run(["train-extractor", "--epochs", "1", "--out", str(out)])
    assert out.is_file() and out.with_suffix(".json").is_file()
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["command"] == ("gankit eval train-extractor --epochs 1 --seed 0 "
                                 "--outlier-weight 0.5")
    assert record["outlier_exposure"]["weight"] == 0.5
    # 300 rendered digits and one epoch cannot reach 99.3%: the command says so
    assert code == 2 and "below 99.3%" in capsys.readouterr().err


def test_a_conditional_run_reports_the_asked_for_class_accuracy(fake_mnist, tmp_path,
                                                                 capsys) -> None:
    run = _smoke_run(tmp_path, "--conditional", "--ema", "0.9")
    out = tmp_path / "r.json"
    assert _run([str(run), "--n", "40", "--batch-size", "16", "--cache-dir", str(tmp_path),
                 "--out", str(out)]) == 0
    assert "asked-for class accuracy" in capsys.readouterr().out
    result = json.loads(out.read_text())["conditional_accuracy"]
    assert result["counts"] == [4] * 10  # the classes asked for in turn
    assert 0.0 <= result["overall"] <= 1.0 and len(result["per_class"]) == 10


def test_the_json_replaces_a_link_planted_at_its_name(fake_mnist, tmp_path, capsys) -> None:
    run = _smoke_run(tmp_path)
    victim = tmp_path / "victim.txt"
    victim.write_text("not yours")
    (run / "eval_epoch_0001_n64.json").symlink_to(victim)
    assert _run([str(run), "--n", "64", "--batch-size", "32", "--cache-dir", str(tmp_path)]) == 0
    assert victim.read_text() == "not yours"
    assert json.loads((run / "eval_epoch_0001_n64.json").read_text())["n"] == 64


@pytest.mark.parametrize("device", ["meta", "mps", "xla", "hpu", "xpu"])
def test_an_unusable_device_is_refused_as_train_refuses_it(fake_mnist, tmp_path, capsys,
                                                           device) -> None:
    images, _ = render_digits(20, seed=12)
    np.save(tmp_path / "s.npy", images)
    assert _run(["--images", str(tmp_path / "s.npy"), "--device", device]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "use auto, cpu, cuda or cuda:N" in err


def test_a_corrupt_newest_checkpoint_is_skipped_as_sample_and_export_skip_it(
        fake_mnist, tmp_path, capsys) -> None:
    run = _smoke_run(tmp_path, "--epochs", "2")
    newest = run / "checkpoints" / "epoch_0002.pt"
    newest.write_bytes(newest.read_bytes()[:1000])  # truncated, as by a crash
    assert _run([str(run), "--n", "64", "--batch-size", "32", "--cache-dir", str(tmp_path)]) == 0
    assert "skipping checkpoint epoch_0002.pt" in capsys.readouterr().err
    result = json.loads((run / "eval_epoch_0001_n64.json").read_text())
    assert result["source"].endswith("epoch_0001.pt")


def test_samples_read_as_no_digit_are_their_own_bucket(fake_mnist, tmp_path, capsys) -> None:
    """Uniform noise reads as no digit (the extractor's uniform answer, whose argmax is 0):
    it is counted in "not a digit", never as a class "0"."""
    noise = np.random.default_rng(0).integers(0, 256, (60, 28, 28), dtype=np.uint8)
    np.save(tmp_path / "noise.npy", noise)
    out = tmp_path / "r.json"
    assert _run(["--images", str(tmp_path / "noise.npy"), "--out", str(out), "--cache-dir",
                 str(tmp_path / "cache")]) == 0
    printed = capsys.readouterr().out
    result = json.loads(out.read_text())
    assert result["metrics"]["classes_covered"] == 0
    assert result["metrics"]["not_digit"] == 1.0
    assert result["class_histogram"] == [0.0] * 10
    assert "0:0.000" in printed and "not a digit:1.000" in printed
    row = next(line for line in printed.splitlines() if line.strip().startswith("classes"))
    assert row.split()[-1] != "1" and " 0 " in row


def test_the_table_gives_kid_in_units_of_1e3_and_each_metrics_direction(
        fake_mnist, tmp_path, capsys) -> None:
    images, _ = render_digits(80, seed=12)
    np.save(tmp_path / "s.npy", images)
    out = tmp_path / "r.json"
    assert _run(["--images", str(tmp_path / "s.npy"), "--out", str(out), "--cache-dir",
                 str(tmp_path / "cache")]) == 0
    printed = capsys.readouterr().out
    result = json.loads(out.read_text())
    lines = printed.splitlines()
    kid = next(line for line in lines if line.strip().startswith("KID x 10^3"))
    m, f = result["metrics"], result["real_floor"]
    assert f"{m['kid'] * 1e3:.3g} ± {m['kid_std'] * 1e3:.2g}" in kid  # value x 10^3
    assert f"{f['kid'] * 1e3:.3g} ± {f['kid_std'] * 1e3:.2g}" in kid  # floor, same units
    for key, label in evaluate.METRICS:
        if key in ("n", "kid_std"):
            continue
        row = next(line for line in lines if line.strip().startswith(label.split(",")[0]))
        better, meaning = evaluate.MEANINGS[key]
        assert row.rstrip().endswith(f"  {better}"), row  # its direction, in the table
        assert any(line.strip().startswith(label.split(" (")[0].split(",")[0] + ": ") and
                   line.rstrip().endswith(meaning) for line in lines), key  # its meaning


def test_gankit_eval_and_the_api_print_one_table(fake_mnist, tmp_path, capsys) -> None:
    import gankit

    images, _ = render_digits(70, seed=14)
    np.save(tmp_path / "s.npy", images)
    cache = str(tmp_path / "cache")
    assert _run(["--images", str(tmp_path / "s.npy"), "--cache-dir", cache]) == 0
    printed = capsys.readouterr().out
    table = gankit.evaluate(str(tmp_path / "s.npy"), cache_dir=cache, device="cpu").table()
    assert printed.rstrip("\n") == table


def test_huge_npy_header_and_png_bombs(tmp_path, capsys):
    fake = tmp_path / "huge.npy"
    with open(fake, "wb") as fh:
        np.lib.format.write_array_header_1_0(
            fh, {"descr": "<f4", "fortran_order": False, "shape": (10**12, 28, 28)})
    one_line_error(capsys, main(["eval", "--images", str(fake)]), "more than 50,000")
    small = tmp_path / "short.npy"
    with open(small, "wb") as fh:
        np.lib.format.write_array_header_1_0(
            fh, {"descr": "<f4", "fortran_order": False, "shape": (100, 28, 28)})
    one_line_error(capsys, main(["eval", "--images", str(small)]), "truncated")
    folder = tmp_path / "pngs"
    folder.mkdir()
    png_bomb(folder / "a.png")
    one_line_error(capsys, main(["eval", "--images", str(folder)]), "a.png")


def test_an_extractor_that_reads_few_test_digits_as_digits_is_refused(fake_mnist, tmp_path,
                                                                      capsys) -> None:
    """Precision's real balls are those of the test digits the extractor is sure of: an
    extractor sure of almost none (here an untrained one) is no MNIST extractor."""
    from gankit.metrics.features import MNISTExtractor, TrainResult, save_extractor

    torch.manual_seed(0)
    weights = tmp_path / "untrained.safetensors"
    save_extractor(TrainResult(MNISTExtractor().eval(), 0.1, 0.0, 0, 0), weights, "test")
    images, _ = render_digits(20, seed=12)
    np.save(tmp_path / "s.npy", images.astype(np.float32) / 255.0)
    assert _run(["--images", str(tmp_path / "s.npy"), "--extractor", str(weights),
                 "--cache-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "MNIST test images as digits" in err and err.count("\n") == 1
