"""gankit.fileio.write_atomic: the one writer of every file gankit writes."""

from __future__ import annotations

import errno
import os

import pytest
from reliability_support import (
    one_line_error,
    small_run,
)

from gankit.cli import main
from gankit.fileio import NAME_MAX, temp_name, write_atomic, write_text_atomic


def test_a_legal_250_character_name_is_written(tmp_path):
    name = "é" * 2 + "x" * 244 + ".png"  # 250 characters, 252 bytes: a legal name
    assert len(name) == 250 and len(os.fsencode(name)) <= NAME_MAX
    path = write_text_atomic(tmp_path / name, "grid")
    assert path.read_text() == "grid" and len(os.fsencode(temp_name(name))) <= NAME_MAX
    assert os.listdir(tmp_path) == [name]  # no temp file left behind


def test_a_planted_link_is_replaced_never_written_through(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (tmp_path / "eval.json").symlink_to(victim)
    write_text_atomic(tmp_path / "eval.json", "{}")
    assert victim.read_text() == "keep me"
    out = tmp_path / "eval.json"
    assert not out.is_symlink() and out.read_text() == "{}"


def test_a_pipe_or_folder_at_the_name_is_refused(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "dir").mkdir()
    for name in ("pipe", "dir"):
        with pytest.raises(OSError, match="not a regular file") as err:
            write_text_atomic(tmp_path / name, "x")
        assert err.value.errno == errno.EEXIST
    assert sorted(os.listdir(tmp_path)) == ["dir", "pipe"]


def test_a_failed_write_keeps_the_old_file_whole(tmp_path):
    path = tmp_path / "samples.npy"
    path.write_bytes(b"old contents")

    def half_then_full(tmp):
        tmp.write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError):
        write_atomic(path, half_then_full)
    assert path.read_bytes() == b"old contents" and os.listdir(tmp_path) == ["samples.npy"]


def test_no_command_writes_over_its_input(tmp_path, capsys):
    run = small_run(tmp_path, epochs=1)
    path = run / "checkpoints" / "epoch_0001.pt"
    before = path.read_bytes()
    one_line_error(capsys, main(["export", "--checkpoint", str(path), "--out", str(path)]),
                   "would destroy the input")
    one_line_error(capsys, main(["eval", str(path), "--out", str(path)]), "would destroy")
    one_line_error(capsys, main(["eval", str(run), "--out", str(path)]), "would destroy")
    link = tmp_path / "link.npy"
    link.symlink_to(path)
    one_line_error(capsys, main(["sample", "--checkpoint", str(path), "--out", str(link)]),
                   "would destroy")
    one_line_error(capsys, main(["export", "--checkpoint", str(path), "--out", str(run)]),
                   "existing folder")
    assert path.read_bytes() == before
