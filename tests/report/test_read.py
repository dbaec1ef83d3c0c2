"""gankit.report.read: reading what a run left on disk, whatever else is in the folder."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from gankit.cli import main
from gankit.report.read import as_number, read_eval, read_run, read_tables

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from reliability_support import examples, make_idx_dir, outcome, scratch_folder, small_config

from gankit.errors import GankitError
from gankit.report.page import render_run
from test_config import mapping_bomb  # noqa: E402


def _run_folder(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    (run / "samples").mkdir(parents=True)
    Image.fromarray(np.zeros((20, 20), np.uint8)).save(run / "samples" / "epoch_0001.png")
    (run / "metrics.jsonl").write_text(json.dumps({"epoch": 1, "loss_d": 1.2, "loss_g": 0.7})
                                       + "\n")
    (run / "config.yaml").write_text("preset: smoke\n")
    return run


def test_pipes_in_a_run_folder_are_skipped_not_read(tmp_path):
    run = _run_folder(tmp_path)
    for name in ("samples/epoch_0002.png", "eval_x.json", "table.json", "table2.md"):
        os.mkfifo(run / name)
    start = time.perf_counter()
    data = read_run(run)
    assert [p.name for p in data.grids] == ["epoch_0001.png"] and data.evals == []
    assert read_tables(run) == []
    assert main(["report", str(run), "--out", str(tmp_path / "r.html")]) == 0
    assert time.perf_counter() - start < 60


def test_a_config_alias_bomb_is_shown_raw_not_unfolded(tmp_path):
    run = _run_folder(tmp_path)
    (run / "config.yaml").write_text(mapping_bomb())
    start = time.perf_counter()
    data = read_run(run)
    assert data.config is None and data.config_text == mapping_bomb()
    assert main(["report", str(run), "--out", str(tmp_path / "r.html")]) == 0
    assert time.perf_counter() - start < 60


def test_damaged_numbers_never_break_the_report(tmp_path, capsys):
    run = _run_folder(tmp_path)
    huge = "9" * 5000
    with open(run / "metrics.jsonl", "a") as fh:
        fh.write(json.dumps({"epoch": 2, "loss_d": 1e308, "loss_g": -1e308, "fid": 3.0}) + "\n")
        fh.write('{"epoch": 3, "loss_d": ' + huge + ', "loss_g": 1.0}\n')
        fh.write('{"epoch": "two", "loss_d": 1.0}\n{"epoch": null, "loss_d": 1.0}\n')
    (run / "table.json").write_text('[{"game": "minimax", "fid": ' + huge + '}]')
    data = read_run(run)
    assert [r["epoch"] for r in data.metrics] == [1, 2]  # epoch 3's line, "two", null dropped
    assert data.metrics[1]["loss_d"] is None and data.metrics[1]["loss_g"] is None
    assert read_tables(run) == []
    assert as_number(10**4000) is None and as_number(-1e308) is None and as_number(2.5) == 2.5
    assert main(["report", str(run), "--out", str(tmp_path / "r.html")]) == 0
    out = tmp_path / "t.png"
    assert main(["plot", "time-to-quality", str(run), "--out", str(out)]) == 0
    assert "Traceback" not in capsys.readouterr().err


def test_an_eval_file_with_a_5000_digit_number_is_one_line(tmp_path):
    import pytest


    path = tmp_path / "eval.json"
    path.write_text('{"fid": ' + "1" * 5000 + "}")
    with pytest.raises(GankitError, match="cannot read evaluation file"):
        read_eval(path)


def test_a_report_written_elsewhere_writes_nothing_into_the_run(tmp_path):
    run = _run_folder(tmp_path)
    Image.fromarray(np.full((20, 20), 99, np.uint8)).save(run / "samples" / "epoch_0002.png")
    before = sorted(p.relative_to(run) for p in run.rglob("*"))
    out = tmp_path / "elsewhere" / "r.html"
    assert main(["report", str(run), "--out", str(out)]) == 0
    assert sorted(p.relative_to(run) for p in run.rglob("*")) == before  # no progress.gif
    assert "data:image/gif;base64," in out.read_text()  # the GIF is in the page itself


@pytest.fixture(scope="module")
def run_folder():
    tmp = scratch_folder()
    from gankit.runs.loop import train

    cfg = small_config(make_idx_dir(tmp / "idx"), **{"train.epochs": 2})
    return train(cfg, tmp / "run", log=lambda _: None)


JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**64), 2**64),
              st.floats(allow_nan=False), st.text(max_size=10)),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=10)


LINES = st.one_of(
    JSON_VALUES.map(json.dumps),
    st.dictionaries(st.sampled_from(["epoch", "loss_d", "loss_g", "d_real", "d_fake", "fid",
                                     "images_per_s", "iteration", "elapsed"]),
                    JSON_VALUES, max_size=6).map(json.dumps),
    st.text(max_size=40),
    st.integers(1, 3000).map(lambda d: "[" * d + "]" * d),
)


@examples(8)
@given(lines=st.lists(LINES, max_size=6), evals=st.lists(JSON_VALUES, max_size=2),
       deep=st.integers(0, 3000))
def test_report_of_damaged_metrics_and_eval_files(run_folder, lines, evals, deep):
    import shutil

    folder = scratch_folder() / "run"
    shutil.copytree(run_folder, folder, ignore=shutil.ignore_patterns("checkpoints"))
    with open(folder / "metrics.jsonl", "a", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    for i, value in enumerate(evals):
        (folder / f"eval_{i}.json").write_text(json.dumps(value))
    if deep:
        (folder / "eval_deep.json").write_text("{\"a\": " * deep + "1" + "}" * deep)
    run = outcome(read_run, folder)
    if run is not None:
        assert isinstance(render_run(run), str)


@examples(40)
@given(value=JSON_VALUES)
def test_eval_json_of_junk(value):
    path = scratch_folder() / "eval.json"
    path.write_text(json.dumps(value))
    outcome(read_eval, path)
