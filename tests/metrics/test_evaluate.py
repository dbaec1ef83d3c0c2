"""gankit.metrics.evaluate: counting samples copied from the reference set, and the table
`gankit eval` and `gankit.evaluate` print."""

from __future__ import annotations

import numpy as np

from gankit.metrics.evaluate import format_table, reference_copies


def test_reference_copies_counts_rows_equal_to_a_reference_row() -> None:
    rng = np.random.default_rng(0)
    real = rng.normal(size=(50, 8)).astype(np.float32)
    fake = rng.normal(size=(30, 8)).astype(np.float32)
    fake[[2, 7, 29]] = real[[0, 10, 49]]  # three exact copies
    fake[5] = real[3] + 1e-6  # a copy up to rounding
    assert reference_copies(fake, real) == 4
    assert reference_copies(fake, real, chunk=7) == 4  # chunks do not change the count
    fake[5] = real[3] + 0.1  # near, but 100 times the tolerance away
    assert reference_copies(fake, real) == 3


def test_format_table_shows_values_floor_and_the_class_shares() -> None:
    metrics = {"n": 1000.0, "fid": 12.3456, "kid": 0.0021, "kid_std": 0.0004,
               "classes_covered": 9.0, "not_digit": 0.25}
    floor = {"fid": 1.5, "kid": 0.0001, "kid_std": 0.00002}
    hist = [0.075] * 10
    text = format_table(metrics, floor, hist, "run/checkpoints/epoch_0010.pt")
    lines = text.splitlines()
    assert lines[0] == "eval of run/checkpoints/epoch_0010.pt"
    fid = next(line for line in lines if line.strip().startswith("FID"))
    assert fid.split() == ["FID", "12.346", "1.500", "lower"]
    kid = next(line for line in lines if line.strip().startswith("KID"))
    assert "2.1 ± 0.4" in kid and "0.1 ± 0.02" in kid  # KID shown x 10^3
    assert next(line for line in lines if "classes covered" in line).split()[-3:] == [
        "9", "-", "higher"]
    assert "0:0.075" in text and "not a digit:0.250" in text
    assert "precision" not in text  # metrics not computed are not shown
