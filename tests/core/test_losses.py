"""The three games' costs and gradients against their closed forms in D.

The formulas: docs/theory.md, sections 2 and 5.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from gankit.core.losses import GAMES, GENERATOR_GAMES, ML_LOGIT_CAP, d_loss_bce, get_game
from gankit.errors import ConfigError

D_VALUES = torch.tensor([0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99], dtype=torch.float64)
LOGITS = torch.log(D_VALUES) - torch.log1p(-D_VALUES)

CLOSED_FORM_COST = {
    "minimax": lambda d: torch.log(1 - d),
    "non-saturating": lambda d: -torch.log(d),
    "maximum-likelihood": lambda d: -d / (1 - d),
}
CLOSED_FORM_DJ_DL = {
    "minimax": lambda d: -d,
    "non-saturating": lambda d: -(1 - d),
    "maximum-likelihood": lambda d: -d / (1 - d),
}


def test_registry_holds_the_three_games_in_the_figure_order():
    assert GENERATOR_GAMES == ("minimax", "non-saturating", "maximum-likelihood")
    assert set(GENERATOR_GAMES) <= set(GAMES)


@pytest.mark.parametrize("name", GENERATOR_GAMES)
def test_per_sample_cost_matches_closed_form_in_d(name):
    cost = get_game(name).g_cost(LOGITS)
    torch.testing.assert_close(cost, CLOSED_FORM_COST[name](D_VALUES), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", GENERATOR_GAMES)
def test_g_loss_is_the_batch_mean(name):
    game = get_game(name)
    expected = CLOSED_FORM_COST[name](D_VALUES).mean().item()
    assert game.g_loss(LOGITS).item() == pytest.approx(expected)


@pytest.mark.parametrize("name", GENERATOR_GAMES)
def test_dj_dlogit_matches_closed_form_and_autograd(name):
    game = get_game(name)
    logits = LOGITS.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(game.g_cost(logits).sum(), logits)
    torch.testing.assert_close(grad, CLOSED_FORM_DJ_DL[name](D_VALUES), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(game.dj_dlogit(LOGITS), grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("minimax", (0.01, 0.5, 0.99)),
        ("non-saturating", (0.99, 0.5, 0.01)),
        ("maximum-likelihood", (0.0101, 1.0, 99.0)),
    ],
)
def test_abs_dj_dl_table_of_theory(name, expected):
    d = torch.tensor([0.01, 0.5, 0.99], dtype=torch.float64)
    got = get_game(name).dj_dlogit(torch.log(d) - torch.log1p(-d)).abs()
    assert got.tolist() == pytest.approx(list(expected), rel=1e-3)


def test_maximum_likelihood_cost_stays_finite_and_continuous_past_the_cap():
    game = get_game("maximum-likelihood")
    logits = torch.tensor([ML_LOGIT_CAP - 1e-6, ML_LOGIT_CAP + 1e-6, 1e3, 1e6], requires_grad=True,
                          dtype=torch.float64)
    cost = game.g_cost(logits)
    (grad,) = torch.autograd.grad(cost.sum(), logits)
    assert torch.isfinite(cost).all() and torch.isfinite(grad).all()
    assert cost[0].item() == pytest.approx(cost[1].item(), rel=1e-5)
    assert grad.tolist() == pytest.approx([-math.exp(ML_LOGIT_CAP)] * 4, rel=1e-5)
    assert torch.isfinite(game.dj_dlogit(logits.detach())).all()


def test_d_loss_is_bce_and_stable_at_extreme_logits():
    real = torch.tensor([-2.0, 0.0, 3.0], dtype=torch.float64)
    fake = torch.tensor([-1.0, 0.5], dtype=torch.float64)
    expected = F.binary_cross_entropy(torch.sigmoid(real), torch.ones(3, dtype=torch.float64)) + \
        F.binary_cross_entropy(torch.sigmoid(fake), torch.zeros(2, dtype=torch.float64))
    assert d_loss_bce(real, fake).item() == pytest.approx(expected.item(), rel=1e-12)
    # -E log D(x) - E log(1 - D(G(z))) written in D
    by_hand = -torch.log(torch.sigmoid(real)).mean() - torch.log(1 - torch.sigmoid(fake)).mean()
    assert d_loss_bce(real, fake).item() == pytest.approx(by_hand.item(), rel=1e-12)
    extreme = d_loss_bce(torch.tensor([-200.0]), torch.tensor([200.0]))
    assert extreme.item() == pytest.approx(400.0, rel=1e-6)


def test_one_sided_label_smoothing_uses_target_point_nine():
    real = torch.tensor([1.5, -0.5], dtype=torch.float64)
    fake = torch.tensor([0.2], dtype=torch.float64)
    target = torch.full((2,), 0.9, dtype=torch.float64)
    expected = F.binary_cross_entropy(torch.sigmoid(real), target)
    expected = expected + F.softplus(fake).mean()
    got = d_loss_bce(real, fake, real_target=0.9).item()
    assert got == pytest.approx(expected.item(), rel=1e-12)


def test_unknown_game_is_a_config_error_naming_it():
    with pytest.raises(ConfigError, match="wasserstein"):
        get_game("wasserstein")


def test_the_game_lists_users_read_are_the_registry(capsys, monkeypatch):
    """`gankit train --help` and the config docs list the games by hand (the parser is built
    without torch): a game added to GAMES must be added there, and this says where."""
    import re

    from gankit.cli import build_parser
    from gankit.config import LossConfig
    from gankit.config_docs import field_docs

    monkeypatch.setenv("COLUMNS", "1000")  # no wrapping inside a hyphenated name
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    listed = re.search(r"--loss GAME game: (.*?)( \(default[^)]*\))? --model", shown).group(1)
    assert listed.split(", ") == list(GAMES), "update --loss's help in gankit/commands/train.py"
    doc = field_docs(LossConfig)["game"]
    assert re.findall(r"`([a-z-]+)`", doc) == list(GAMES), "update LossConfig.game's doc"
