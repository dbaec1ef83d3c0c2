"""The notes' claims as small experiments: saturation, maximum-likelihood's variance, KL asymmetry.

Each experiment is a function that measures and returns numbers (numpy arrays), and a
drawing function that draws them; `gankit lesson ...` runs one, prints its summary and
writes its figure. All run on a CPU in seconds; docs/theory.md quotes what they measured.

- `saturation`: G held fixed as initialised (its samples far from the data), D trained
  towards optimal; after every few D steps, the norm of G's parameter gradient under each
  game (as in Arjovsky & Bottou 2017, figures 2-3). Minimax and maximum likelihood send
  back D(G(z)) and D/(1-D) per sample, both vanish as D gets sure; non-saturating sends 1 - D.
- `concentration`: a toy GAN trained with each game; at regular iterations, the share of
  G's gradient carried by the 1% of samples with the largest per-sample gradient (computed
  exactly with torch.func). Maximum likelihood's weight D/(1-D) = exp(l) lets a few samples
  dominate a minibatch.
- `kl_fits`: one Gaussian fitted to a two-mode 1-D mixture by minimising KL(p||q)
  (mean-seeking, closed form: moment matching) and KL(q||p) (mode-seeking, numerical),
  with numerical quadrature and scipy.optimize.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from gankit.core.losses import GENERATOR_GAMES, d_loss_bce, get_game
from gankit.core.models import ToyDiscriminator, ToyGenerator
from gankit.data.toy import get_toy
from gankit.errors import ConfigError, short
from gankit.seeds import lesson_seed, weights_seed

TOP_SHARE = 0.01
"""The top fraction of samples whose share of the gradient `concentration` measures."""

Z_DIM = 4
"""Noise size of the lessons' toy generators."""


MAX_SEEDS = 100
"""Most seeds a lesson runs (the defaults: 10 and 5)."""

MAX_STEPS = 100_000
"""Most D steps (saturation) or training iterations (variance) of a lesson (default 1000 and
1500, seconds each; the maximum is minutes a seed)."""


def _check_positive(name: str, value: int, flag: str, high: int = MAX_STEPS) -> None:
    """`value` a whole number in 1..high (the CLI and the Python API share these checks)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be a whole number, got {short(value, 40)}; pass {flag} N")
    if not 1 <= value <= high:
        raise ConfigError(f"{name} must be in 1..{high:,}, got {short(value, 40)}; pass "
                          f"{flag} N with 1 <= N <= {high:,}")


def _toy_models(seed: int, dim: int, g_hidden: tuple[int, ...], d_hidden: tuple[int, ...]
                ) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(weights_seed(seed))
    return ToyGenerator(Z_DIM, g_hidden, dim), ToyDiscriminator(dim, d_hidden)


def measure_steps(last: int, points: int = 16) -> np.ndarray:
    """0 and about `points` log-spaced integers up to `last` (the D steps at which we measure)."""
    steps = np.unique(np.geomspace(1, max(last, 1), points).round().astype(int))
    return np.concatenate([[0], steps[steps <= last]])


# --- 1. saturation -------------------------------------------------------------------------


@dataclass(frozen=True)
class SaturationResult:
    """G's gradient norm under each game while D trains against a fixed G."""

    steps: np.ndarray
    """(T,) D steps taken before each measurement."""
    grad_norm: dict[str, np.ndarray]
    """game -> (S, T): ||dJ/dtheta_G|| for each seed and measurement."""
    d_fake: np.ndarray
    """(S, T): mean D(G(z)) on the measurement batch."""
    seeds: tuple[int, ...]

    def holds(self, below_ns: float = 100.0, below_start: float = 10.0) -> np.ndarray:
        """(S,) bool, the claim per seed: at the last step the minimax gradient is `below_ns`
        times smaller than the non-saturating one and `below_start` times below its own
        start, while the non-saturating gradient has not shrunk."""
        mm, ns = self.grad_norm["minimax"], self.grad_norm["non-saturating"]
        return ((mm[:, -1] * below_ns < ns[:, -1]) & (mm[:, -1] * below_start < mm[:, 0])
                & (ns[:, -1] >= ns[:, 0]))


def g_grad_norm(g: nn.Module, d: nn.Module, z: Tensor, game: str) -> float:
    """||d J_game / d theta_G|| at noise z; D is only read (its weights get no gradient)."""
    logits = d(g(z))  # (B,)
    params = [p for p in g.parameters()]
    grads = torch.autograd.grad(get_game(game).g_loss(logits), params)
    return float(torch.linalg.vector_norm(torch.stack([gr.norm() for gr in grads])))


def saturation(
    seeds: Sequence[int] = tuple(range(10)),
    d_steps: int = 1000,
    batch: int = 256,
    lr: float = 1e-3,
    data: str = "gaussian1d",
    g_hidden: tuple[int, ...] = (16, 16),
    d_hidden: tuple[int, ...] = (64, 64),
    n_measure: int = 1024,
) -> SaturationResult:
    """Train D alone against a G frozen at its initialisation; measure G's gradient per game.

    The toy must be 1-D (`gaussian1d`: N(4, 0.5^2); an initialised G emits values near 0, so
    its samples and the data hardly overlap: the state early in training the review means).
    """
    _check_positive("the number of seeds", len(seeds), "--seeds", MAX_SEEDS)
    _check_positive("the number of D steps", d_steps, "--d-steps")
    dist = get_toy(data)
    if dist.dim != 1:
        raise ConfigError(f"the saturation lesson needs a 1-D toy, got {data!r}; use gaussian1d")
    steps = measure_steps(d_steps)
    norms = {name: np.zeros((len(seeds), len(steps))) for name in GENERATOR_GAMES}
    d_fake = np.zeros((len(seeds), len(steps)))
    for i, seed in enumerate(seeds):
        g, d = _toy_models(seed, dist.dim, g_hidden, d_hidden)
        g.requires_grad_(False)  # G is held fixed; only its gradient is read
        gen = torch.Generator().manual_seed(lesson_seed(seed))
        z_measure = torch.randn(n_measure, Z_DIM, generator=gen)
        opt = torch.optim.Adam(d.parameters(), lr=lr, betas=(0.5, 0.999))
        done = 0
        for j, target in enumerate(steps):
            for _ in range(int(target) - done):
                real = dist.sample(batch, gen)  # (B, 1)
                with torch.no_grad():
                    fake = g(torch.randn(batch, Z_DIM, generator=gen))  # (B, 1)
                loss = d_loss_bce(d(real), d(fake))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            done = int(target)
            g.requires_grad_(True)
            for name in GENERATOR_GAMES:
                norms[name][i, j] = g_grad_norm(g, d, z_measure, name)
            g.requires_grad_(False)
            with torch.no_grad():
                d_fake[i, j] = float(torch.sigmoid(d(g(z_measure))).mean())
    return SaturationResult(steps, norms, d_fake, tuple(seeds))


# --- 2. concentration of the gradient on few samples -----------------------------------------


def top_share(values: Tensor | np.ndarray, fraction: float = TOP_SHARE) -> float:
    """Share of sum(values) carried by the ceil(fraction * n) largest values (values >= 0)."""
    if isinstance(values, Tensor):
        values = values.detach().cpu().numpy()
    v = np.sort(np.asarray(values, dtype=np.float64).ravel())[::-1]
    k = max(1, math.ceil(fraction * v.size))
    total = v.sum()
    return float(v[:k].sum() / total) if total > 0 else float("nan")


def per_sample_grad_norms(g: nn.Module, d: nn.Module, z: Tensor, game: str) -> Tensor:
    """(B,) ||d J_i / d theta_G|| of each sample's cost J_i, exactly (torch.func.vmap)."""
    from torch.func import functional_call, grad, vmap

    params = {k: v.detach() for k, v in g.named_parameters()}
    cost = get_game(game).g_cost

    def one(p: dict[str, Tensor], zi: Tensor) -> Tensor:
        x = functional_call(g, p, (zi[None],))  # (1, V)
        return cost(d(x)).sum()

    grads = vmap(grad(one), in_dims=(None, 0))(params, z)  # name -> (B, *shape)
    flat = torch.cat([gr.reshape(z.shape[0], -1) for gr in grads.values()], dim=1)
    return torch.linalg.vector_norm(flat, dim=1).detach()


@dataclass(frozen=True)
class ConcentrationResult:
    """Share of G's gradient carried by the top 1% of samples, per game, over training."""

    iterations: np.ndarray
    """(T,) training iterations at which the share was measured."""
    share: dict[str, np.ndarray]
    """game -> (S, T): share of the summed per-sample gradient norms held by the top 1%."""
    weight_share: dict[str, np.ndarray]
    """game -> (S, T): the same share of the per-sample weights |dJ/dl|."""
    d_fake: dict[str, np.ndarray]
    """game -> (S, T): mean D(G(z)) on the measurement batch."""
    seeds: tuple[int, ...]


def concentration(
    seeds: Sequence[int] = tuple(range(5)),
    iterations: int = 1500,
    every: int = 100,
    batch: int = 128,
    lr: float = 1e-3,
    data: str = "ring2d",
    g_hidden: tuple[int, ...] = (64, 64),
    d_hidden: tuple[int, ...] = (64, 64),
    n_measure: int = 1000,
) -> ConcentrationResult:
    """Train a toy GAN with each game (one D step, one G step per iteration); every `every`
    iterations, measure how much of G's gradient the top 1% of samples carry.

    On ring2d D's verdicts on the fakes spread widely (samples on a mode look real, samples
    between modes fake), which is where the games' per-sample weights differ."""
    _check_positive("the number of seeds", len(seeds), "--seeds", MAX_SEEDS)
    _check_positive("the number of iterations", iterations, "--iterations")
    _check_positive("the measuring interval", every, "--every")
    if every > iterations:
        raise ConfigError(f"--every {every} is more than --iterations {iterations}: nothing "
                          "would be measured after the start; use --every <= --iterations")
    dist = get_toy(data)
    its = np.arange(0, iterations + 1, every)
    shape = (len(seeds), len(its))
    share = {n: np.zeros(shape) for n in GENERATOR_GAMES}
    wshare = {n: np.zeros(shape) for n in GENERATOR_GAMES}
    d_fake = {n: np.zeros(shape) for n in GENERATOR_GAMES}
    for name in GENERATOR_GAMES:
        game = get_game(name)
        for i, seed in enumerate(seeds):
            g, d = _toy_models(seed, dist.dim, g_hidden, d_hidden)
            gen = torch.Generator().manual_seed(lesson_seed(seed))
            z_measure = torch.randn(n_measure, Z_DIM, generator=gen)
            opt_g = torch.optim.Adam(g.parameters(), lr=lr, betas=(0.5, 0.999))
            opt_d = torch.optim.Adam(d.parameters(), lr=lr, betas=(0.5, 0.999))
            j = 0
            for it in range(iterations + 1):
                if it == its[j]:
                    with torch.no_grad():
                        logits = d(g(z_measure))
                    norms = per_sample_grad_norms(g, d, z_measure, name)
                    share[name][i, j] = top_share(norms)
                    wshare[name][i, j] = top_share(game.dj_dlogit(logits).abs())
                    d_fake[name][i, j] = float(torch.sigmoid(logits).mean())
                    j += 1
                if it == iterations:
                    break
                # (1) D step on a real and a fake batch
                real = dist.sample(batch, gen)
                fake = g(torch.randn(batch, Z_DIM, generator=gen))
                loss_d = d_loss_bce(d(real), d(fake.detach()))
                opt_d.zero_grad(set_to_none=True)
                loss_d.backward()
                opt_d.step()
                # (2) G step through the frozen D, on fresh noise
                d.requires_grad_(False)
                loss_g = game.g_loss(d(g(torch.randn(batch, Z_DIM, generator=gen))))
                opt_g.zero_grad(set_to_none=True)
                loss_g.backward()
                opt_g.step()
                d.requires_grad_(True)
    return ConcentrationResult(its, share, wshare, d_fake, tuple(seeds))


# --- 3. KL asymmetry -------------------------------------------------------------------------


@dataclass(frozen=True)
class Mixture1D:
    """An equal-weight mixture of 1-D Gaussians N(mean_k, std^2)."""

    means: tuple[float, ...] = (-2.0, 2.0)
    std: float = 0.5

    def log_density(self, x: np.ndarray) -> np.ndarray:
        """log p(x), stably (log-sum-exp over the components)."""
        x = np.asarray(x, dtype=np.float64)[..., None]
        comp = normal_logpdf(x, np.asarray(self.means), self.std)
        return np.logaddexp.reduce(comp, axis=-1) - math.log(len(self.means))

    def moments(self) -> tuple[float, float]:
        """(mean, std) of the mixture: what minimising KL(p||q) over Gaussians q matches."""
        m = np.asarray(self.means)
        mean = float(m.mean())
        var = float(self.std**2 + ((m - mean) ** 2).mean())
        return mean, math.sqrt(var)


def normal_logpdf(x: np.ndarray, mean: float | np.ndarray, std: float) -> np.ndarray:
    return -0.5 * ((x - mean) / std) ** 2 - math.log(std) - 0.5 * math.log(2 * math.pi)


def kl_quadrature(log_p: np.ndarray, log_q: np.ndarray, x: np.ndarray) -> float:
    """KL(p||q) = integral of p log(p/q) on the grid x (trapezoid rule), densities as logs."""
    integrand = np.exp(log_p) * (log_p - log_q)
    return float(np.trapezoid(integrand, x)) if hasattr(np, "trapezoid") else float(
        np.trapz(integrand, x))  # numpy < 2


@dataclass(frozen=True)
class GaussianFit:
    """A Gaussian q = N(mean, std^2) and both KL divergences between it and p."""

    mean: float
    std: float
    kl_pq: float
    """KL(p||q): large where p has mass that q misses."""
    kl_qp: float
    """KL(q||p): large where q puts mass that p does not have."""


@dataclass(frozen=True)
class KLResult:
    """One Gaussian fitted to a mixture p by minimising each direction of KL."""

    mixture: Mixture1D
    x: np.ndarray
    """The quadrature grid."""
    mean_seeking: GaussianFit
    """argmin_q KL(p||q) (the direction of maximum likelihood)."""
    mode_seeking: list[GaussianFit]
    """The local minima of KL(q||p) found from several starts, best first."""


def kl_fits(mixture: Mixture1D | None = None, lo: float = -12.0, hi: float = 12.0,
            points: int = 12001, starts: Sequence[float] = (-3.0, -1.0, 1.0, 3.0)
            ) -> KLResult:
    """Fit N(mean, std^2) to `mixture` by minimising KL(p||q) and KL(q||p) numerically.

    Both divergences are integrated on a fine grid; scipy's L-BFGS-B minimises them over
    (mean, log std) from each start in `starts` (the starting std is 1). Distinct local
    minima of the reverse direction are all returned.
    """
    from scipy.optimize import minimize

    mixture = mixture or Mixture1D()
    x = np.linspace(lo, hi, points)
    log_p = mixture.log_density(x)

    def fit(mean: float, std: float) -> GaussianFit:
        log_q = normal_logpdf(x, mean, std)
        return GaussianFit(mean, std, kl_quadrature(log_p, log_q, x),
                           kl_quadrature(log_q, log_p, x))

    def objective(theta: np.ndarray, forward: bool) -> float:
        f = fit(float(theta[0]), float(math.exp(theta[1])))
        return f.kl_pq if forward else f.kl_qp

    found: list[GaussianFit] = []
    best_forward: GaussianFit | None = None
    for start in starts:
        for forward in (True, False):
            res = minimize(objective, np.array([start, 0.0]), args=(forward,),
                           method="L-BFGS-B", bounds=[(lo / 2, hi / 2), (-5.0, 2.0)])
            f = fit(float(res.x[0]), float(math.exp(res.x[1])))
            if forward:
                if best_forward is None or f.kl_pq < best_forward.kl_pq:
                    best_forward = f
            elif all(abs(f.mean - o.mean) > 1e-2 for o in found):
                found.append(f)
    assert best_forward is not None
    found.sort(key=lambda f: f.kl_qp)
    return KLResult(mixture, x, best_forward, found)


# --- drawing ---------------------------------------------------------------------------------
