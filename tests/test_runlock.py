"""The run folder's lock never writes through a link planted at its name."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from reliability_support import (
    checkpoint_epochs,
    child_env,
    one_line_error,
    small_run,
)

from gankit.cli import main
from gankit.errors import GankitError
from gankit.runlock import LOCK_NAME, RunLock


@pytest.mark.parametrize("kind", ["symlink", "hardlink"])
def test_a_link_at_the_lock_name_is_refused_and_its_target_kept(tmp_path, kind):
    victim = tmp_path / "precious.txt"
    victim.write_text("years of notes\n")
    run = tmp_path / "run"
    run.mkdir()
    (os.symlink if kind == "symlink" else os.link)(victim, run / LOCK_NAME)
    with pytest.raises(GankitError, match="lock file .* remove it"), RunLock() as lock:
        lock.acquire(run)
    assert victim.read_text() == "years of notes\n"


def test_the_lock_names_its_owner_and_is_taken_over_after_release(tmp_path):
    first, second = RunLock(), RunLock()
    first.acquire(tmp_path)
    with pytest.raises(GankitError, match=f"in use by another gankit process \\(pid {os.getpid()}"):
        second.acquire(tmp_path)
    first.release()
    second.acquire(tmp_path)
    second.release()


def _hold_lock(folder: Path) -> subprocess.Popen:
    code = ("import sys, time; from pathlib import Path; from gankit.runlock import RunLock; "
            "RunLock().acquire(Path(sys.argv[1])); print('held', flush=True); time.sleep(60)")
    child = subprocess.Popen([sys.executable, "-c", code, str(folder)], env=child_env(),
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "held"
    return child


def test_a_run_folder_has_one_owner_and_a_dead_owner_is_taken_over(tmp_path, capsys):
    run = small_run(tmp_path, epochs=1)
    child = _hold_lock(run)
    try:
        rc = main(["train", "--resume", "--out", str(run), "--epochs", "2"])
        one_line_error(capsys, rc, "in use by another gankit process", f"pid {child.pid}")
        data = tmp_path / "idx"
        rc = main(["train", "--preset", "smoke", "--out", str(run), "--data-dir", str(data),
                   "--set", "data.dataset=idx"])
        one_line_error(capsys, rc, "in use")
        assert checkpoint_epochs(run) == [1]
    finally:
        child.kill()
        child.wait()
    assert f"pid {child.pid}" in (run / LOCK_NAME).read_text()  # a dead owner's stale file
    assert main(["train", "--resume", "--out", str(run), "--epochs", "2"]) == 0
    assert checkpoint_epochs(run) == [1, 2]


def test_two_new_runs_racing_for_one_folder(tmp_path):
    folder = tmp_path / "new"
    with RunLock() as first:
        first.acquire(folder)
        with pytest.raises(GankitError, match="in use"), RunLock() as second:
            second.acquire(folder)
    with RunLock() as again:  # released on exit
        again.acquire(folder)
