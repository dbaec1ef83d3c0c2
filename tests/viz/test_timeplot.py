"""Time-to-quality plot: metric key lookup, (elapsed, value) pairs, and the figure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gankit.errors import GankitError
from gankit.viz.timeplot import metric_key, plot_time_to_quality, time_to_quality

RECORDS = [
    {"epoch": 1, "elapsed": 10.0, "loss_d": 1.2},
    {"epoch": 2, "elapsed": 20.0, "loss_d": 1.1, "fid": 80.0},
    {"epoch": 3, "elapsed": 31.5, "loss_d": 1.0},
    {"epoch": 4, "elapsed": 42.0, "loss_d": 1.0},
    {"epoch": 4, "fid": 40.0},  # an evaluation record without timing
]


def test_pairs_take_the_latest_elapsed() -> None:
    assert time_to_quality(RECORDS, "fid") == ([20.0, 42.0], [80.0, 40.0])


def test_metric_key_exact_or_unique_match() -> None:
    assert metric_key(RECORDS) == "fid"
    assert metric_key([{"fid_mnist": 3.0}]) == "fid_mnist"
    with pytest.raises(GankitError, match="several"):
        metric_key([{"fid_a": 1.0, "fid_b": 2.0}])
    with pytest.raises(GankitError, match="--eval-every"):
        metric_key([{"loss_d": 1.0}])


def test_plot_writes_a_png(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    out = plot_time_to_quality([run], tmp_path / "ttq.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(GankitError, match="no metrics.jsonl"):
        plot_time_to_quality([tmp_path / "missing"], tmp_path / "x.png")


def test_an_unknown_figure_suffix_is_one_line_before_any_work(tmp_path: Path, capsys) -> None:
    from gankit.cli import main

    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    assert main(["plot", "time-to-quality", str(run), "--out", str(tmp_path / "t.txt")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown suffix '.txt'" in err
    assert not (tmp_path / "t.txt").exists()
