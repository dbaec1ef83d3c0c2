"""gankit.report.figures: how the report shows numbers, which sample grids it keeps, and
its curve panels (a legend entry per game when a comparison has many seeds)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from gankit.report.figures import data_uri, fmt, pick_grids


def test_fmt() -> None:
    assert fmt(1.23456) == "1.235"
    assert fmt(None) == "—" and fmt(float("nan")) == "—"
    assert fmt(60000) == "60,000" and fmt(12345.6) == "12,346"
    assert fmt(3) == "3" and fmt(True) == "yes" and fmt([256, 512]) == "256, 512"


def test_pick_grids_keeps_ends() -> None:
    grids = [Path(f"epoch_{i:04d}.png") for i in range(1, 101)]
    picked = pick_grids(grids, 24)
    assert len(picked) == 24 and picked[0] == grids[0] and picked[-1] == grids[-1]
    assert picked == sorted(picked)
    assert pick_grids(grids[:5], 24) == grids[:5]


def test_many_seeds_of_a_few_games_get_one_legend_entry_per_game(monkeypatch):
    """compare's 10 seeds x 3 games: 30 lines, three legend entries (a legend of 30 squeezed
    the panel to nothing and matplotlib warned), one colour per game."""
    import warnings
    from io import BytesIO

    from matplotlib.figure import Figure

    from gankit.report.figures import _seed_group, curve_png

    axes = []
    add_subplot = Figure.add_subplot
    monkeypatch.setattr(Figure, "add_subplot",
                        lambda self, *a, **k: axes.append(add_subplot(self, *a, **k)) or axes[-1])
    lines = [(f"{game}-seed{s}", [1, 2, 3], [0.1 * s, 0.2, 0.3])
             for game in ("minimax", "non-saturating", "maximum-likelihood") for s in range(10)]
    assert _seed_group("minimax-seed3") == "minimax" and _seed_group("run seed 12") == "run"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a collapsing constrained layout warns
        png = curve_png("D(x)", "mean D(x)", lines)
    assert Image.open(BytesIO(png)).size[0] > 100
    ax = axes[-1]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "minimax (10 runs)", "non-saturating (10 runs)", "maximum-likelihood (10 runs)"]
    colours = [ln.get_color() for ln in ax.get_lines()]
    assert len(set(colours[:10])) == 1 and len(set(colours)) == 3
    curve_png("D(x)", "mean D(x)", lines[:3])  # few runs: a legend entry each
    assert len(axes[-1].get_legend().get_texts()) == 3


def test_data_uri_is_base64_of_the_bytes() -> None:
    assert data_uri(b"GAN", "image/png") == "data:image/png;base64,R0FO"
