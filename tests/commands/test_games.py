"""`gankit games plot`: the games figure written where --out says."""

from __future__ import annotations


def test_games_plot_command(tmp_path, capsys):
    import argparse

    from gankit.commands import games

    parser = argparse.ArgumentParser()
    games.add_parser(parser.add_subparsers())
    args = parser.parse_args(["games", "plot", "--out", str(tmp_path / "fig.svg")])
    assert args.func(args) == 0
    assert (tmp_path / "fig.svg").stat().st_size > 1000
    assert "fig.svg" in capsys.readouterr().out
