"""docs/notebook.py (the walk through the notes with the Python API) runs end to end, small."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "docs" / "notebook.py"


def test_notebook_is_a_percent_format_notebook() -> None:
    text = NOTEBOOK.read_text()
    cells = text.count("\n# %%")
    assert "formats: py:percent" in text and cells >= 10
    assert text.count("# %% [markdown]") >= 5


@pytest.mark.network  # the MNIST part: MNIST from the cache, else downloaded
@pytest.mark.slow
def test_notebook_runs_as_a_script_on_small_settings(tmp_path: Path) -> None:
    env = {**os.environ, "GANKIT_NOTEBOOK_SMALL": "1", "GANKIT_NOTEBOOK_OUT": str(tmp_path / "nb"),
           "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, str(NOTEBOOK)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "modes covered" in out and "real-data floor" in out and "FID" in out
    for run in ("toy", "toy-minimax", "mnist"):
        assert (tmp_path / "nb" / run / "report.html").is_file(), run
    assert not [p for p in tmp_path.iterdir() if p.name != "nb"]  # nothing else written
