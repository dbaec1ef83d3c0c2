"""The games figure: its numbers (not its pixels), and that it writes PNG and SVG."""

from __future__ import annotations

import numpy as np
import pytest

from gankit.cli import main as cli_main  # noqa: F401  (the CLI imports cleanly)
from gankit.errors import ConfigError
from gankit.viz.plots import COST_YLIM, games_curves, plot_games


def _at(curves, name, d, which="grad"):
    values = getattr(curves, which)[name]
    return float(np.interp(d, curves.d, values))


def test_curves_are_the_closed_forms():
    c = games_curves(num=1001)
    d = c.d
    assert d[0] > 0 and d[-1] < 1 and np.all(np.diff(d) > 0)
    np.testing.assert_allclose(c.cost["minimax"], np.log1p(-d), rtol=1e-9)
    np.testing.assert_allclose(c.cost["non-saturating"], -np.log(d), rtol=1e-9)
    np.testing.assert_allclose(c.cost["maximum-likelihood"], -d / (1 - d), rtol=1e-9)


def test_maximum_likelihood_curve_leaves_the_bottom_at_twenty_over_twenty_one():
    c = games_curves(num=20001)
    ml = c.cost["maximum-likelihood"]
    crossing = c.d[np.argmax(ml < COST_YLIM[0])]
    assert crossing == pytest.approx(20 / 21, abs=1e-4)
    assert COST_YLIM == (-20.0, 5.0)
    # no curve stops in mid-air: minimax leaves the bottom (at D = 1 - exp(-20)), the
    # non-saturating curve leaves the top, both before the grid ends
    assert c.cost["minimax"].min() < COST_YLIM[0]
    assert c.cost["non-saturating"].max() > COST_YLIM[1]
    leaves = c.d[np.argmax(c.cost["minimax"] < COST_YLIM[0])]
    assert 1 - leaves == pytest.approx(np.exp(-20.0), rel=0.3)


def test_every_gradient_curve_leaves_the_log_panel_or_reaches_its_limit():
    c = games_curves()
    lo, hi = 1e-4, 1e4  # the panel's y range
    assert c.grad["minimax"][0] < lo and c.grad["non-saturating"][-1] < lo
    assert c.grad["maximum-likelihood"][0] < lo and c.grad["maximum-likelihood"][-1] > hi
    assert c.grad["minimax"][-1] == pytest.approx(1.0) == c.grad["non-saturating"][0]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("minimax", (0.01, 0.5, 0.99)),
        ("non-saturating", (0.99, 0.5, 0.01)),
        ("maximum-likelihood", (0.0101, 1.0, 99.0)),
    ],
)
def test_gradient_panel_matches_theory_table(name, expected):
    c = games_curves(num=100001)
    got = [_at(c, name, d) for d in (0.01, 0.5, 0.99)]
    assert got == pytest.approx(list(expected), rel=2e-3)


def test_observations_can_be_read_off_the_gradient_panel():
    c = games_curves()
    left = c.d < 0.05
    # 1. vanishing gradient at the left end for minimax and ML, steep non-saturating
    assert c.grad["minimax"][left].max() < 0.06
    assert c.grad["maximum-likelihood"][left].max() < 0.06
    assert c.grad["non-saturating"][left].min() > 0.94
    # 2. ML takes most of its gradient from the right end: the top 5% of D holds most of it
    ml = c.grad["maximum-likelihood"]
    assert ml[c.d > 0.95].sum() > 0.5 * ml.sum()


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_plot_games_writes_the_requested_format(tmp_path, suffix):
    out = plot_games(tmp_path / f"games{suffix}")
    data = out.read_bytes()
    if suffix == ".png":
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
    else:
        assert b"<svg" in data[:4000]


def test_plot_games_refuses_an_unknown_suffix(tmp_path):
    with pytest.raises(ConfigError, match=r"\.jpg"):
        plot_games(tmp_path / "games.jpg")


def test_histogram_hides_nothing_outside_its_range() -> None:
    """Fakes beyond the data's range are counted at the edges, not piled into the edge bins:
    the bars' area is the share inside, the labels carry the shares below and above."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gankit.viz.plots import hist_with_overflow

    values = np.concatenate([np.full(30, -5.0), np.linspace(0.0, 1.0, 60), np.full(10, 7.0),
                             [np.nan]])
    edges = np.linspace(0.0, 1.0, 11)
    fig, ax = plt.subplots()
    hist_with_overflow(ax, values, edges, color="tab:green")
    area = sum(p.get_height() * p.get_width() for p in ax.patches)
    assert area == pytest.approx(60 / 101)
    heights = [p.get_height() for p in ax.patches]
    assert max(heights) == pytest.approx(6 / (101 * 0.1))  # no spike in the edge bins
    labels = sorted(t.get_text() for t in ax.texts)
    assert labels == ["0.99% not finite", "9.9% > 1 ▶", "◀ 29.7% < 0"]
    plt.close(fig)
