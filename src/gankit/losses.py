"""The GAN costs, as pure functions of discriminator logits, behind a name registry.

Conventions (see ../shared/THEORY.md, section 2). D(x) = sigmoid(l(x)), l the logit.
We follow the review's convention (arXiv 2001.06937): no factor 1/2 on any cost.

- discriminator cost (all three games):
  L_D = BCE(l_real, target t) + BCE(l_fake, 0)
      = t * softplus(-l_real) + (1 - t) * softplus(l_real) + softplus(l_fake)
  with t = 1 the plain cost, t = 0.9 one-sided label smoothing (the notes' default).
- generator games:
  minimax             J = E log(1 - D(G(z)))   = -softplus(l).mean()   dJ/dl = -D
  non-saturating      J = -E log D(G(z))       =  softplus(-l).mean()  dJ/dl = -(1 - D)
  maximum-likelihood  J = -E D / (1 - D)       = -exp(l).mean()        dJ/dl = -D / (1 - D)

exp(l) overflows when D is very sure a fake is real. The maximum-likelihood cost therefore
continues exp linearly above `ML_LOGIT_CAP` (value and slope match at the cap), so its
gradient per sample is bounded by exp(ML_LOGIT_CAP) instead of becoming inf / NaN.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.errors import ConfigError

ML_LOGIT_CAP = 30.0
"""Above this logit the maximum-likelihood cost is continued linearly (exp(30) ~ 1.1e13)."""


def d_loss_bce(real_logits: Tensor, fake_logits: Tensor, real_target: float = 1.0) -> Tensor:
    """Discriminator cost -E log D(x) - E log(1 - D(G(z))), with a soft real target."""
    real = real_target * F.softplus(-real_logits) + (1.0 - real_target) * F.softplus(real_logits)
    return real.mean() + F.softplus(fake_logits).mean()


def g_cost_minimax(fake_logits: Tensor) -> Tensor:
    """Original minimax game, (1), per sample: log(1 - D(G(z))) = -softplus(l)."""
    return -F.softplus(fake_logits)


def g_cost_non_saturating(fake_logits: Tensor) -> Tensor:
    """Non-saturating game, (7), per sample: -log D(G(z)) = softplus(-l)."""
    return F.softplus(-fake_logits)


def g_cost_maximum_likelihood(fake_logits: Tensor, cap: float = ML_LOGIT_CAP) -> Tensor:
    """Maximum-likelihood game, (13), per sample: -exp(sigmoid^-1(D(G(z)))) = -exp(l).

    Above `cap` exp(l) is continued linearly, exp(cap) * (1 + l - cap): value and slope
    match at the cap, so the cost and its gradient stay finite.
    """
    clipped = fake_logits.clamp(max=cap)
    linear = math.exp(cap) * (1.0 + fake_logits - cap)
    return -torch.where(fake_logits > cap, linear, torch.exp(clipped))


@dataclass(frozen=True)
class Game:
    """One GAN game: its D cost, its per-sample G cost and the closed-form dJ/dl."""

    name: str
    d_loss: Callable[..., Tensor]
    g_cost: Callable[[Tensor], Tensor]
    dj_dlogit: Callable[[Tensor], Tensor]
    summary: str

    def g_loss(self, fake_logits: Tensor) -> Tensor:
        """The generator cost J(G): the per-sample cost averaged over the batch."""
        return self.g_cost(fake_logits).mean()


GAMES: dict[str, Game] = {
    "minimax": Game(
        "minimax",
        d_loss_bce,
        g_cost_minimax,
        lambda logit: -torch.sigmoid(logit),
        "original minimax game: G minimises E log(1 - D(G(z)))",
    ),
    "non-saturating": Game(
        "non-saturating",
        d_loss_bce,
        g_cost_non_saturating,
        lambda logit: -torch.sigmoid(-logit),
        "non-saturating game: G maximises E log D(G(z)) (what the notes' code trains)",
    ),
    "maximum-likelihood": Game(
        "maximum-likelihood",
        d_loss_bce,
        g_cost_maximum_likelihood,
        lambda logit: -torch.exp(logit.clamp(max=ML_LOGIT_CAP)),
        "maximum-likelihood game: G minimises -E D/(1-D); KL(p_data || p_g) at optimal D",
    ),
}

GENERATOR_GAMES = ("minimax", "non-saturating", "maximum-likelihood")
"""The three games of the notes, in the order of the review's figure."""


def get_game(name: str) -> Game:
    """Look up a game by name; an unknown name raises a one-line ConfigError."""
    try:
        return GAMES[name]
    except KeyError:
        raise ConfigError(
            f"unknown loss {name!r}; choose one of: {', '.join(GAMES)}"
        ) from None
