"""The run folder's lock never writes through a link planted at its name."""

from __future__ import annotations

import os

import pytest

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
