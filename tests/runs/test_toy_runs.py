"""Toy training end to end: toy models, config checks, the run loop's toy metrics and
snapshots, and `compare` on a tiny budget."""

from __future__ import annotations

import json
import math

import pytest
import torch

from gankit import datasets
from gankit.cli import main as cli_main
from gankit.config import ModelConfig, build_config
from gankit.core.models import build_models
from gankit.data import toy as toy_mod
from gankit.errors import ConfigError
from gankit.log import read_metrics
from gankit.runs.compare import compare, markdown_table, parse_games, summarise
from gankit.runs.loop import train
from gankit.runs.toy import eval_latents, toy_epoch_metrics

TINY = {"data.toy_samples": 512, "train.batch_size": 64, "model.g_hidden": [16],
        "model.d_hidden": [16]}


def test_toy_models_map_vectors_without_tanh():
    g, d = build_models(ModelConfig("toy-mlp", 4, [8], [8], 0.0), (2,))
    z = torch.randn(5, 4)
    assert g(z).shape == (5, 2) and d(g(z)).shape == (5,)
    with torch.no_grad():
        g.net[-1].bias.fill_(10.0)
    assert g(z).min() > 1.0  # a linear output: no tanh squashing to [-1, 1]
    with pytest.raises(ConfigError, match="toy-mlp"):
        build_models(ModelConfig("toy-mlp", 4), (1, 28, 28))
    with pytest.raises(ConfigError, match=r"\(2,\)"):
        build_models(ModelConfig("mlp", 4), (2,))


def test_config_knows_the_toy_sets_and_checks_the_model_fits():
    assert all(toy_mod.get_toy(name).name == name for name in datasets.names("toy"))
    cfg = build_config("toy")
    assert (cfg.data.dataset, cfg.model.name) == ("ring2d", "toy-mlp")
    with pytest.raises(ConfigError, match="toy-mlp"):
        build_config("default", overrides={"data.dataset": "ring2d"})
    with pytest.raises(ConfigError, match="mlp"):
        build_config("toy", overrides={"data.dataset": "mnist"})


def test_toy_evaluation_leaves_the_global_rng_alone():
    cfg = build_config("toy", overrides=TINY)
    g, _ = build_models(ModelConfig("toy-mlp", cfg.model.z_dim, [16], [16], 0.0), (2,))
    state = torch.get_rng_state()
    m = toy_epoch_metrics(g, toy_mod.get_toy("ring2d"), eval_latents(cfg.model.z_dim))
    assert torch.equal(state, torch.get_rng_state())
    assert set(m) == {"modes_covered", "num_modes", "hq_share"} and m["num_modes"] == 8


@pytest.mark.parametrize("dataset", ["ring2d", "gaussian1d"])
def test_a_toy_run_logs_toy_metrics_and_draws_snapshots(tmp_path, dataset):
    cfg = build_config("toy", overrides={**TINY, "data.dataset": dataset, "train.epochs": 2,
                                         "train.sample_every": 1})
    out = train(cfg, tmp_path / "run", log=lambda _m: None)
    records = read_metrics(out / "metrics.jsonl")
    assert [r["epoch"] for r in records] == [1, 2]
    for r in records:
        assert 0 <= r["modes_covered"] <= r["num_modes"] and 0.0 <= r["hq_share"] <= 1.0
        assert ("js_hist" in r) == (dataset == "gaussian1d")
        for key in ("d_real", "d_fake", "js_hat", "g_grad_norm", "dj_dl"):
            assert math.isfinite(r[key])
    for e in (0, 1, 2):  # epoch 0: the untrained G, where its samples start from
        assert (out / "samples" / f"epoch_{e:04d}.png").read_bytes()[:4] == b"\x89PNG"
    snapshot = (out / "samples" / "epoch_0000.png").stat().st_mtime_ns
    train(None, out, resume=True, resume_overrides={"train.epochs": 3}, log=lambda _m: None)
    assert (out / "samples" / "epoch_0000.png").stat().st_mtime_ns == snapshot  # kept


def test_summarise_uses_the_sample_std_and_flags_non_finite():
    s = summarise([1.0, 2.0, 3.0])
    assert (s["mean"], s["std"]) == (2.0, 1.0)
    assert summarise([5.0])["std"] == 0.0
    assert math.isnan(summarise([1.0, None])["mean"])
    table = markdown_table({"minimax": {"hq_share": summarise([0.5, float("nan")])}}, 8)
    assert "non-finite in 1/2 runs" in table


def test_table_marks_mean_scores_of_score_games():
    row = {"d_real": summarise([0.6, 0.7]), "d_fake": summarise([0.3, 0.4])}
    table = markdown_table({"minimax": row, "wgan-gp": row}, None)
    minimax, wgan = table.splitlines()[2], table.splitlines()[3]
    assert "(score)" not in minimax and minimax.count("±") == 2
    assert wgan.count("(score)") == 2


def test_parse_games():
    assert parse_games(None) == ["minimax", "non-saturating", "maximum-likelihood"]
    assert parse_games("minimax, maximum-likelihood") == ["minimax", "maximum-likelihood"]
    assert parse_games("minimax,hinge") == ["minimax", "hinge"]  # the later games too
    with pytest.raises(ConfigError, match="hinge"):  # the error lists the choices
        parse_games("minimax,wasserstein")
    with pytest.raises(ConfigError, match="twice"):
        parse_games("minimax,minimax")


@pytest.mark.slow
def test_compare_writes_table_curves_and_samples(tmp_path):
    result = compare("gaussian1d", tmp_path / "cmp", games=["minimax", "maximum-likelihood"],
                     seeds=2, epochs=1, overrides=TINY, log=lambda _m: None)
    out = result.out
    for name in ("table.md", "table.json", "samples.png", "curves.png"):
        assert (out / name).stat().st_size > 0
    data = json.loads((out / "table.json").read_text())
    assert data["games"] == ["minimax", "maximum-likelihood"] and data["seeds"] == [0, 1]
    for game in data["games"]:
        finals = [read_metrics(out / "runs" / f"{game}-seed{s}" / "metrics.jsonl")[-1]
                  for s in (0, 1)]
        hq = data["summary"][game]["hq_share"]
        assert hq["values"] == [f["hq_share"] for f in finals]
        assert hq["mean"] == pytest.approx(sum(hq["values"]) / 2)
    md = (out / "table.md").read_text()
    assert "| minimax |" in md and "| maximum-likelihood |" in md and "JS (hist" in md
    # compare writes its report, and `gankit report` accepts the folder compare wrote
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") >= 2  # samples.png and curves.png at least
    for run in ("minimax-seed0", "minimax-seed1", "maximum-likelihood-seed1"):
        assert run in page
    assert "JS (hist" in page  # the mean ± std table
    (out / "report.html").unlink()
    assert cli_main(["report", str(out)]) == 0
    assert (out / "report.html").read_text().count("maximum-likelihood-seed") >= 2


def test_compare_refuses_bad_input_before_training(tmp_path):
    with pytest.raises(ConfigError, match="seeds"):
        compare("ring2d", tmp_path / "a", seeds=0)
    with pytest.raises(ConfigError, match="moons"):
        compare("moons", tmp_path / "b", seeds=1)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_sample_from_a_toy_checkpoint_writes_points(tmp_path):
    """`gankit sample` on a toy run: .npy keeps the (N, 2) points, .png draws them."""
    import numpy as np

    from gankit.cli import main

    run = tmp_path / "toy"
    assert main(["train", "--preset", "toy", "--epochs", "1", "--out", str(run)]) == 0
    assert main(["sample", "--checkpoint", str(run), "--n", "50", "--out",
                 str(tmp_path / "p.npy")]) == 0
    pts = np.load(tmp_path / "p.npy")
    assert pts.shape == (50, 2) and pts.dtype == np.float32 and np.isfinite(pts).all()
    assert main(["sample", "--checkpoint", str(run), "--n", "50", "--out",
                 str(tmp_path / "p.png")]) == 0
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
