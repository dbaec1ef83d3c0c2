"""gankit.runs.console: what a run shows on a terminal, and in a file or pipe."""

from __future__ import annotations

import io

from gankit.config import apply_overrides, from_preset
from gankit.runs import console


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_bar_only_when_both_streams_are_terminals(monkeypatch):
    monkeypatch.setattr("sys.stdout", _Tty())
    monkeypatch.setattr("sys.stderr", _Tty())
    assert console.interactive()
    monkeypatch.setattr("sys.stdout", io.StringIO())  # `gankit train ... > log`
    assert not console.interactive()
    monkeypatch.setattr("sys.stdout", _Tty())
    monkeypatch.setattr("sys.stderr", io.StringIO())  # `... 2> log`
    assert not console.interactive()


def test_output_into_a_file_gets_one_plain_line_per_epoch(tmp_path, capsys):
    """`make demo > log` wrote ~2,000 carriage-return bar updates for 12 epochs: with the
    output not a terminal, train.progress still on, a run writes one line per epoch."""
    from gankit.runs.loop import train

    epochs = 2
    cfg = apply_overrides(from_preset("toy"), {"data.toy_samples": 1024, "train.epochs": epochs,
                                               "train.progress": True})
    train(cfg, tmp_path / "run")
    out, err = capsys.readouterr()
    assert "\r" not in out and "\r" not in err
    lines = [x for x in out.splitlines() if x.startswith("epoch ") and "/" in x.split(":")[0]]
    assert [x.split(":")[0] for x in lines] == [f"epoch {e}/{epochs}" for e in
                                                range(1, epochs + 1)]
