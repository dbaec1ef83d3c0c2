"""gankit.log: the JSONL metrics log (non-finite numbers as null, truncation on resume) and
its tolerant reader."""

from __future__ import annotations

import json
from pathlib import Path

from gankit.log import MAX_NUMBER, JsonlLogger, read_metrics


def test_records_round_trip_with_non_finite_numbers_as_missing(tmp_path: Path) -> None:
    log = JsonlLogger(tmp_path / "deep" / "metrics.jsonl")
    log.log({"epoch": 1, "loss_d": 0.5, "loss_g": float("inf"), "alarms": ["collapse"]})
    log.log({"epoch": 2, "loss_d": float("nan")})
    log.close()
    assert read_metrics(log.path) == [
        {"epoch": 1, "loss_d": 0.5, "loss_g": None, "alarms": ["collapse"]},
        {"epoch": 2, "loss_d": None}]


def test_truncate_after_drops_later_epochs(tmp_path: Path) -> None:
    log = JsonlLogger(tmp_path / "metrics.jsonl")
    for epoch in (1, 2, 3):
        log.log({"epoch": epoch})
    log.truncate_after(1)
    assert read_metrics(log.path) == [{"epoch": 1}]
    JsonlLogger(tmp_path / "none.jsonl").truncate_after(1)  # no file: nothing to do
    assert not (tmp_path / "none.jsonl").exists()


def test_damaged_lines_are_skipped_and_huge_numbers_read_as_missing(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    lines = [json.dumps({"epoch": 1, "x": 2 * MAX_NUMBER, "y": 2**70, "z": 3}),
             "[1, 2]", json.dumps({"epoch": True}), json.dumps({"epoch": -1}),
             json.dumps({"epoch": 2, "nested": {"a": 1}}), json.dumps({"epoch": 3}),
             '{"epoch": 4, "loss']  # torn last line
    path.write_text("\n".join(lines), encoding="utf-8")
    assert read_metrics(path) == [{"epoch": 1, "x": None, "y": None, "z": 3}, {"epoch": 3}]
