"""`compare`'s table (mean and 95% t-interval over seeds) and its batched toy path: the folder
it writes is what `gankit report` and compare's own figures read."""

from __future__ import annotations

import json
import math

import pytest
from reliability_support import (
    one_line_error,
)

from gankit.cli import main
from gankit.cli import main as cli_main
from gankit.config import Config, read_config_file
from gankit.errors import ConfigError
from gankit.log import read_metrics
from gankit.runs.compare import compare, default_preset, markdown_table, summarise, t_interval

TINY = {"data.toy_samples": 512, "train.batch_size": 64, "model.g_hidden": [16],
        "model.d_hidden": [16]}

T_975_2 = 4.302652729911275
"""t(0.975) with 2 degrees of freedom (tables; scipy.stats.t.ppf(0.975, 2))."""


def test_t_interval_closed_form():
    # values 1, 2, 3: mean 2, sd 1, n 3 -> 2 ± t(0.975, 2) / sqrt(3)
    mean, half = t_interval([1.0, 2.0, 3.0])
    assert mean == 2.0 and half == pytest.approx(T_975_2 / math.sqrt(3))
    # two values a, b: sd = |a - b| / sqrt 2, t(0.975, 1) = tan(pi * 0.475) (Cauchy)
    mean, half = t_interval([0.0, 2.0])
    assert mean == 1.0 and half == pytest.approx(math.tan(math.pi * 0.475) * 1.0)
    assert t_interval([5.0]) is None and t_interval([]) is None


def test_summarise_gives_the_interval_and_keeps_non_finite_values_visible():
    s = summarise([1.0, 2.0, 3.0])
    assert (s["mean"], s["std"], s["n"]) == (2.0, 1.0, 3)
    assert s["ci95"] == pytest.approx(T_975_2 / math.sqrt(3))
    assert (s["lo"], s["hi"]) == pytest.approx((2.0 - s["ci95"], 2.0 + s["ci95"]))
    one = summarise([5.0])
    assert (one["mean"], one["std"], one["ci95"], one["lo"]) == (5.0, 0.0, None, None)
    bad = summarise([1.0, None, float("inf")])
    assert all(math.isnan(bad[k]) for k in ("mean", "std", "ci95", "lo", "hi"))
    table = markdown_table({"minimax": {"modes_covered": summarise([6, 7, 8]),
                                        "hq_share": summarise([0.5, float("nan"), 0.7])}}, 8)
    head, _, row = table.splitlines()
    assert "mean ± 95% t-interval, 3 seeds" in head and "(of 8)" in head
    assert f"7.00 ± {T_975_2 / math.sqrt(3):.2f}" in row and "non-finite in 1/3 runs" in row
    single = markdown_table({"minimax": {"modes_covered": summarise([6])}}, 8)
    assert "one seed, no interval" in single and "| 6.00 |" in single


def test_default_presets():
    assert default_preset("ring2d") == "toy-ring"
    assert default_preset("grid2d") == "toy-grid"
    assert default_preset("gaussian1d") == "toy"
    assert default_preset("mnist") == "default"


def test_batched_compare_folder_is_what_report_and_figures_read(tmp_path):
    said: list[str] = []
    result = compare("ring2d", tmp_path / "cmp", games=["minimax", "non-saturating"], seeds=2,
                     epochs=1, overrides=TINY, log=said.append)
    out = result.out
    for name in ("table.md", "table.json", "samples.png", "curves.png", "report.html"):
        assert (out / name).stat().st_size > 0, name
    data = json.loads((out / "table.json").read_text())
    assert data["batched"] is True and "95%" in data["interval"]
    for game in ("minimax", "non-saturating"):
        finals = []
        for s in (0, 1):
            run = out / "runs" / f"{game}-seed{s}"
            assert (run / "config.yaml").is_file()
            assert f"game: {game}" in (run / "config.yaml").read_text()
            written = read_config_file(run / "config.yaml")  # as RunFolder writes a run's,
            # and it reads back as the run's config (gankit train --config takes it)
            assert Config.from_dict(written).train.seed == s and len(written["run_id"]) == 16
            assert written["trained_by"] == "gankit.runs.batched (2 seeds at once)"
            assert written["device_used"] == "cpu" and written["precision_used"] == "fp32"
            records = read_metrics(run / "metrics.jsonl")
            assert [r["epoch"] for r in records] == [1]
            finals.append(records[-1])
        modes = data["summary"][game]["modes_covered"]
        assert modes["values"] == [f["modes_covered"] for f in finals]
        assert modes["n"] == 2 and modes["hi"] >= modes["mean"] >= modes["lo"]
    md = (out / "table.md").read_text()
    assert "95% Student's t interval" in md and "batched" in md
    assert any("2 seeds x 1 epochs batched" in line for line in said)
    page = (out / "report.html").read_text()
    assert "minimax-seed1" in page and "95% t-interval" in page
    (out / "report.html").unlink()
    assert cli_main(["report", str(out)]) == 0
    assert (out / "report.html").read_text().count("non-saturating-seed") >= 2


def test_compare_refuses_what_it_cannot_batch_before_training(tmp_path):
    with pytest.raises(ConfigError, match="model.dropout"):
        compare("ring2d", tmp_path / "a", seeds=2, overrides={"model.dropout": 0.2})
    with pytest.raises(ConfigError, match="seeds"):
        compare("ring2d", tmp_path / "b", seeds=True)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


@pytest.mark.slow
def test_serial_compare_gives_the_batched_numbers(tmp_path):
    """`--serial` trains the same runs with the full loop: the same records, to float
    tolerance after 2 epochs."""
    kw = dict(games=["maximum-likelihood"], seeds=2, epochs=2, overrides=TINY,
              log=lambda _m: None)
    fast = compare("ring2d", tmp_path / "b", **kw)
    slow = compare("ring2d", tmp_path / "s", batched=False, **kw)
    assert (slow.out / "runs" / "maximum-likelihood-seed0" / "checkpoints").is_dir()
    for s in (0, 1):
        a = read_metrics(fast.runs["maximum-likelihood"][s] / "metrics.jsonl")[-1]
        b = read_metrics(slow.runs["maximum-likelihood"][s] / "metrics.jsonl")[-1]
        for key in ("loss_d", "loss_g", "d_fake", "hq_share", "g_steps"):
            assert a[key] == pytest.approx(b[key], rel=1e-3, abs=1e-4), key


@pytest.mark.parametrize("seeds", [0, 101, 10**6, 2.5, True])
def test_the_number_of_seeds_is_bounded_through_the_api(tmp_path, seeds):
    import gankit

    with pytest.raises(ConfigError, match=r"--seeds .* must be a whole number in 1\.\.100"):
        gankit.compare("ring2d", seeds=seeds, out=tmp_path / "c", log=lambda _: None)
    assert not (tmp_path / "c").exists()


def test_compare_out_existing_does_not_suggest_resume(tmp_path, capsys):
    (tmp_path / "cmp").mkdir()
    (tmp_path / "cmp" / "x").write_text("x")
    rc = main(["compare", "--data", "ring2d", "--out", str(tmp_path / "cmp")])
    err = one_line_error(capsys, rc, "choose another --out")
    assert "--resume" not in err
