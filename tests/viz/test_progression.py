"""`gankit plot progression`: a run's epoch grids in one captioned row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gankit.cli import main


def _run_with_grids(tmp_path: Path, epochs: tuple[int, ...]) -> Path:
    run = tmp_path / "run"
    (run / "samples").mkdir(parents=True)
    for e in epochs:  # each grid a different grey level, to find it again in the row
        Image.fromarray(np.full((30, 40), 20 * e, np.uint8)).save(
            run / "samples" / f"epoch_{e:04d}.png")
    return run


def test_progression_puts_the_asked_epochs_in_a_row(tmp_path: Path, capsys) -> None:
    run = _run_with_grids(tmp_path, (1, 3, 5))
    out = tmp_path / "row.png"
    assert main(["plot", "progression", str(run), "--epochs", "1,5", "--out", str(out)]) == 0
    with Image.open(out) as im:
        row = np.asarray(im.convert("L"))
    assert row.shape[1] == 40 + 8 + 40  # two grids and the gap, in the asked order
    assert row.shape[0] > 30  # a caption strip above the grids
    assert row[-1, 0] == 20 and row[-1, -1] == 100
    assert main(["plot", "progression", str(run), "--out", str(out)]) == 0  # every grid
    with Image.open(out) as im:
        assert im.width == 3 * 40 + 2 * 8


@pytest.mark.parametrize(("epochs", "match"), [
    ("1,7", "has no grid of epoch\\(s\\) 7; it has 1, 3, 5"),
    ("one", "--epochs 'one' must be comma-separated integers"),
])
def test_progression_refuses_what_the_run_lacks(tmp_path: Path, capsys, epochs: str,
                                                match: str) -> None:
    run = _run_with_grids(tmp_path, (1, 3, 5))
    assert main(["plot", "progression", str(run), "--epochs", epochs,
                 "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and __import__("re").search(match, err)
    assert main(["plot", "progression", str(tmp_path), "--out", str(tmp_path / "x.png")]) == 2


def test_progression_never_writes_over_a_grid_it_reads(tmp_path: Path, capsys) -> None:
    run = _run_with_grids(tmp_path, (1, 3))
    grid = run / "samples" / "epoch_0001.png"
    before = grid.read_bytes()
    assert main(["plot", "progression", str(run), "--out", str(grid)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "would destroy the input" in err
    assert grid.read_bytes() == before


def test_a_png_bomb_among_the_grids_is_skipped(tmp_path: Path, capsys) -> None:
    import struct
    import zlib

    run = _run_with_grids(tmp_path, (1, 2))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    side = 60_000  # declares 3.6 gigapixels in a file of a few kilobytes
    rows = zlib.compress(b"\x00" * (side + 1) * 64)  # only a sliver of the rows
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    bomb = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows)
            + chunk(b"IEND", b""))
    (run / "samples" / "epoch_0003.png").write_bytes(bomb)
    out = tmp_path / "row.png"
    assert main(["plot", "progression", str(run), "--out", str(out)]) == 0
    with Image.open(out) as im:
        assert im.width == 2 * 40 + 8  # the two real grids only
    assert main(["plot", "progression", str(run), "--epochs", "3", "--out", str(out)]) == 2
    assert "has no grid of epoch(s) 3; it has 1, 2" in capsys.readouterr().err
