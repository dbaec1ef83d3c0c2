"""The GAN costs, as pure functions of discriminator logits, behind a name registry.

Conventions: docs/theory.md, section 2 (equation numbers are the guide's).
D(x) = sigmoid(l(x)), l the logit.
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

Games beyond the notes (here l is D's raw output, no sigmoid; D's "logit" is its score):
- least squares (LSGAN, Mao et al. 2017, eq. 2, labels a = 0 fake, b = 1 real, c = 1 the
  value G wants D to give fakes; the paper's factor 1/2 is kept):
  L_D = 1/2 E (l_real - b)^2 + 1/2 E (l_fake - a)^2,  J = 1/2 E (l_fake - c)^2,  dJ/dl = l - c.
  `real_label` is b (0.9 = the soft real target).
- Wasserstein with gradient penalty (WGAN-GP, Gulrajani et al. 2017, Algorithm 1, lambda 10):
  L_D = E l_fake - E l_real + lambda E (||grad_x l(x_hat)||_2 - 1)^2,
  x_hat = eps x + (1 - eps) G(z), eps ~ U[0, 1] drawn once per sample;
  J = -E l_fake, dJ/dl = -1. The penalty needs D and the samples, not only logits: the game
  owns it as `Game.penalty` (`wgan_gp_penalty`), which the training step calls with them.
- hinge (Lim & Ye 2017; Miyato et al. 2018):
  L_D = E relu(1 - l_real) + E relu(1 + l_fake),  J = -E l_fake,  dJ/dl = -1.
WGAN-GP and hinge have no labels: `real_label` is ignored by them.
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
    """Original minimax game, (8) (review: (1)), per sample: log(1 - D(G(z))) = -softplus(l)."""
    return -F.softplus(fake_logits)


def g_cost_non_saturating(fake_logits: Tensor) -> Tensor:
    """Non-saturating game, (9) (review: (7)), per sample: -log D(G(z)) = softplus(-l)."""
    return F.softplus(-fake_logits)


def g_cost_maximum_likelihood(fake_logits: Tensor, cap: float = ML_LOGIT_CAP) -> Tensor:
    """Maximum-likelihood game, (10) (review: (13)), per sample: -exp(sigmoid^-1(D(G(z)))).

    Above `cap` exp(l) is continued linearly, exp(cap) * (1 + l - cap): value and slope
    match at the cap, so the cost and its gradient stay finite.
    """
    clipped = fake_logits.clamp(max=cap)
    linear = math.exp(cap) * (1.0 + fake_logits - cap)
    return -torch.where(fake_logits > cap, linear, torch.exp(clipped))


LSGAN_A, LSGAN_B, LSGAN_C = 0.0, 1.0, 1.0
"""LSGAN's targets: a for fakes in D's cost, b for reals, c what G wants D(G(z)) to be."""

WGAN_GP_LAMBDA = 10.0
"""Weight of WGAN-GP's gradient penalty (Gulrajani et al. 2017)."""


def d_loss_least_squares(
    real_logits: Tensor, fake_logits: Tensor, real_target: float = LSGAN_B
) -> Tensor:
    """LSGAN's D cost 1/2 E (l_real - b)^2 + 1/2 E (l_fake - a)^2, with b = `real_target`."""
    return 0.5 * ((real_logits - real_target) ** 2).mean() + 0.5 * (
        (fake_logits - LSGAN_A) ** 2
    ).mean()


def g_cost_least_squares(fake_logits: Tensor) -> Tensor:
    """LSGAN's G cost per sample: 1/2 (l - c)^2."""
    return 0.5 * (fake_logits - LSGAN_C) ** 2


def d_loss_wasserstein(
    real_logits: Tensor, fake_logits: Tensor, real_target: float = 1.0
) -> Tensor:
    """The critic's cost E l_fake - E l_real (without the penalty); `real_target` unused."""
    del real_target
    return fake_logits.mean() - real_logits.mean()


def d_loss_hinge(real_logits: Tensor, fake_logits: Tensor, real_target: float = 1.0) -> Tensor:
    """Hinge D cost E relu(1 - l_real) + E relu(1 + l_fake); `real_target` unused."""
    del real_target
    return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()


def g_cost_negative_score(fake_logits: Tensor) -> Tensor:
    """WGAN's and hinge's G cost per sample: -l."""
    return -fake_logits


Critic = Callable[[Tensor], Tensor]
"""D as a regulariser sees it: samples (*runs, B, ...) -> scores (*runs, B)."""


def gradient_penalty(
    d: Critic, real: Tensor, fake: Tensor, eps: Tensor, batch_dim: int = 0
) -> Tensor:
    """WGAN-GP's E (||grad_x d(x_hat)||_2 - 1)^2 at x_hat = eps real + (1 - eps) fake.

    `d` maps (B, ...) samples to (B,) scores; `eps` is (B, 1, ..., 1), one weight per sample.
    With `batch_dim=1` the tensors hold S runs along a leading axis (S, B, ...) and the
    penalty is one per run, (S,). The result keeps its graph so that it can be
    backpropagated into D's weights (a double backward).
    """
    lead = real.shape[: batch_dim + 1]
    assert eps.shape == lead + (1,) * (real.ndim - batch_dim - 1), eps.shape
    x_hat = (eps * real.detach() + (1.0 - eps) * fake.detach()).requires_grad_(True)
    scores = d(x_hat)  # (*runs, B)
    (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
    norms = grad.flatten(batch_dim + 1).norm(2, dim=batch_dim + 1)  # (*runs, B)
    return ((norms - 1.0) ** 2).mean(batch_dim)


def wgan_gp_penalty(
    d: Critic, real: Tensor, fake: Tensor, uniform: Callable[[], Tensor], batch_dim: int = 0
) -> Tensor:
    """WGAN-GP's regulariser of D's cost: lambda * `gradient_penalty`, with eps ~ U[0, 1]
    drawn once per sample by `uniform()` (the run's noise stream), lambda = WGAN_GP_LAMBDA."""
    return WGAN_GP_LAMBDA * gradient_penalty(d, real, fake, uniform(), batch_dim)


Penalty = Callable[[Critic, Tensor, Tensor, Callable[[], Tensor], int], Tensor]
"""A game's regulariser of D's cost: penalty(d, real, fake, uniform, batch_dim) -> the
weighted term added to D's cost (per run). It sees D and the (noised) samples of D's step;
`uniform()` draws eps ~ U[0, 1], (*runs, B, 1, ..., 1), from the run's noise stream (call it
only if the penalty needs it: the draw advances the stream)."""


@dataclass(frozen=True)
class Game:
    """One GAN game: its D cost, its per-sample G cost and the closed-form dJ/dl."""

    name: str
    d_loss: Callable[..., Tensor]
    g_cost: Callable[[Tensor], Tensor]
    dj_dlogit: Callable[[Tensor], Tensor]
    summary: str
    penalty: Penalty | None = None
    """The game's regulariser of D's cost (`Penalty`), e.g. WGAN-GP's gradient penalty; the
    trainers add it to D's cost; None = none."""
    probabilistic: bool = True
    """D's output is the logit of P(real) (the BCE games): D(x) = sigmoid(logit) is a
    probability and the JS estimate applies. False for the games whose D outputs a score
    (least squares, Wasserstein, hinge): diagnostics report the mean score instead."""

    def g_loss(self, fake_logits: Tensor, batch_dim: int = 0) -> Tensor:
        """The generator cost J(G): the per-sample cost averaged over the batch (axis
        `batch_dim`: 1 when a leading axis holds several runs, one cost each)."""
        return self.g_cost(fake_logits).mean(batch_dim)


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
    "least-squares": Game(
        "least-squares",
        d_loss_least_squares,
        g_cost_least_squares,
        lambda logit: logit - LSGAN_C,
        "LSGAN: D and G minimise squared distances to the targets a=0, b=1, c=1",
        probabilistic=False,
    ),
    "wgan-gp": Game(
        "wgan-gp",
        d_loss_wasserstein,
        g_cost_negative_score,
        lambda logit: -torch.ones_like(logit),
        "Wasserstein GAN with gradient penalty (lambda 10); use with --n-critic 5",
        penalty=wgan_gp_penalty,
        probabilistic=False,
    ),
    "hinge": Game(
        "hinge",
        d_loss_hinge,
        g_cost_negative_score,
        lambda logit: -torch.ones_like(logit),
        "hinge loss: D minimises E relu(1 - l_real) + E relu(1 + l_fake), G -E l_fake",
        probabilistic=False,
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
