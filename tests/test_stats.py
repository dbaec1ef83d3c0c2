"""gankit.stats: the table of logged statistics and the labels it gives each kind of game."""

from __future__ import annotations

from gankit import stats


def test_the_derived_tables_follow_the_stats() -> None:
    assert stats.STAT_NAMES == ("loss_d", "loss_g", "d_real", "d_fake", "js_hat",
                                "g_grad_norm", "dj_dl")
    assert stats.G_STAT_NAMES == ("loss_g", "g_grad_norm", "dj_dl")
    assert stats.LOG_SCALE == ("g_grad_norm", "dj_dl")
    assert set(stats.TB_TAGS) == set(stats.BY_KEY)
    assert len(set(stats.TB_TAGS.values())) == len(stats.TB_TAGS)  # one panel per curve


def test_score_games_get_score_labels() -> None:
    assert stats.d_labels(True) == ("D(x)", "D(G(z))")
    assert stats.d_labels(False) == ("D score(x)", "D score(G(z))")
    loss = stats.BY_KEY["loss_d"]
    assert loss.label_for(True) == loss.label_for(False) == "D loss"  # no score label
