"""Training diagnostics as pure functions: what the trainer logs besides the losses.

- `js_hat(d_cost)`: the running divergence estimate JS_hat = (log 4 - L_D) / 2 with L_D
  the discriminator cost -E log D(x) - E log(1 - D(G(z))) (no factor 1/2, see
  gankit.core.losses). At the optimal D, L_D = log 4 - 2 JS, so JS_hat = JS; for any other D it is
  a lower bound in expectation. It is only meaningful with the plain real target 1 (with
  label smoothing L_D is a different cost), so `js_hat_from_logits` recomputes it unsmoothed.
- `mean_abs_dj_dlogit(game, fake_logits)`: mean |dJ/dl| over fakes, the per-sample gradient
  the game sends back through D's logit (docs/theory.md, section 5).
- `d_means(real_logits, fake_logits)`: mean D(x) and mean D(G(z)).
- `grad_norm(params)`: the L2 norm of all the parameters' gradients.

Each returns a detached 0-dim tensor on the inputs' device (no host sync: the trainer
accumulates them and reads them back rarely); call float() on it for a number. With
`batch_dim=1` the inputs hold S runs along a leading axis (gankit.core.step's batched
trainer) and each returns one value per run, (S,).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import Tensor

from gankit.core.losses import Game, d_loss_bce

LOG4 = math.log(4.0)


def js_hat(d_cost: float | Tensor) -> Tensor:
    """JS_hat = (log 4 - L_D) / 2 from the (unsmoothed) discriminator cost L_D, in nats."""
    return (LOG4 - torch.as_tensor(d_cost).detach()) / 2.0


def plain_d_cost(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """L_D with the plain target 1 for real samples (the cost JS_hat is read from)."""
    return d_loss_bce(real_logits, fake_logits, real_target=1.0)


@torch.no_grad()
def js_hat_from_logits(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """JS_hat computed from D's logits with the plain target 1 for real samples."""
    return js_hat(plain_d_cost(real_logits, fake_logits))


@torch.no_grad()
def mean_abs_dj_dlogit(game: Game, fake_logits: Tensor, batch_dim: int = 0) -> Tensor:
    """Mean over fakes of |dJ/dl|, the game's per-sample gradient at D's logit."""
    return game.dj_dlogit(fake_logits.detach()).abs().mean(batch_dim)


@torch.no_grad()
def d_means(real_logits: Tensor, fake_logits: Tensor, batch_dim: int = 0
            ) -> tuple[Tensor, Tensor]:
    """(mean D(x) over real samples, mean D(G(z)) over fakes)."""
    return (torch.sigmoid(real_logits).mean(batch_dim),
            torch.sigmoid(fake_logits).mean(batch_dim))


@torch.no_grad()
def grad_norm(params: Iterable[Tensor], batch_dim: int = 0) -> Tensor:
    """L2 norm of the gradients of `params`, sqrt(sum of their squares); 0 if none has a
    gradient. `batch_dim=1`: each tensor holds S runs' along its first axis, one norm each."""
    params = list(params)
    grads = [p.grad.detach() for p in params if p.grad is not None]
    if not grads:
        return torch.zeros((), device=params[0].device if params else None)
    return torch.sqrt(sum(g.pow(2).flatten(batch_dim).sum(batch_dim) for g in grads))
