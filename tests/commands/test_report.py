"""`gankit report`: the HTML page of a run written where --out says (the page itself:
tests/report/test_page.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from reliability_support import small_run


def test_report_command(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from gankit.commands import report as cmd

    run = small_run(tmp_path)
    parser = argparse.ArgumentParser()
    cmd.add_parser(parser.add_subparsers())
    out = tmp_path / "page.html"
    args = parser.parse_args(["report", str(run), "--out", str(out), "--no-gif"])
    assert args.func(args) == 0
    assert out.is_file() and "gankit run run" in out.read_text(encoding="utf-8")
    assert str(out) in capsys.readouterr().out
