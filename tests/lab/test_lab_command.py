"""`gankit lab` on the command line: flags checked up front, the server started on 127.0.0.1
with a token in the printed URL, a bad run folder refused in one line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("uvicorn")

from gankit.cli import main  # noqa: E402


def test_bad_flags_and_run_folders_are_one_line_errors(tmp_path: Path, capsys) -> None:
    assert main(["lab", "--port", "70000", "--no-browser"]) == 2
    assert "--port" in capsys.readouterr().err
    (tmp_path / "config.yaml").write_text("data:\n  dataset: mnist\n")
    assert main(["lab", "--run", str(tmp_path), "--no-browser"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gankit: error:") and "toy" in err and len(err.splitlines()) == 1


def test_lab_serves_the_printed_url_only_with_its_token(tmp_path: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "gankit", "lab", "--no-browser", "--runs-dir",
                             str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, start_new_session=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("gankit lab: http://127.0.0.1:"), line
        url = line.split()[-1]
        assert "token=" in url
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url, timeout=10) as page:
                    assert page.status == 200 and "gankit lab" in page.read().decode()
                break
            except urllib.error.URLError:
                assert time.monotonic() < deadline, "the lab did not answer"
                time.sleep(0.2)
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(url.split("?")[0], timeout=10)
        assert err.value.code == 403
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
