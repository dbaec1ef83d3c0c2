"""Toy distributions and their metrics: sampling, mode coverage, the 1-D JS estimate."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from gankit.data.toy import get_toy, make_toy
from gankit.datasets import names
from gankit.errors import DataError
from gankit.metrics.toy import js_divergence_discrete, js_divergence_hist, mode_report, toy_metrics


def test_the_three_toy_sets_as_documented():
    g1, ring, grid = get_toy("gaussian1d"), get_toy("ring2d"), get_toy("grid2d")
    assert (g1.num_modes, g1.dim, g1.std) == (1, 1, 0.5) and g1.centres.item() == 4.0
    assert (ring.num_modes, ring.dim, ring.std) == (8, 2, 0.02)
    torch.testing.assert_close(ring.centres.norm(dim=1), torch.full((8,), 2.0))
    assert (grid.num_modes, grid.dim, grid.std) == (25, 2, 0.05)
    assert sorted(set(grid.centres[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]


@pytest.mark.parametrize("name", names("toy"))
def test_sampling_is_seeded_and_matches_the_mixture(name):
    dist = get_toy(name)
    x = make_toy(name, 20000, seed=3)
    assert x.shape == (20000, dist.dim) and x.dtype == torch.float32
    torch.testing.assert_close(x, make_toy(name, 20000, seed=3))
    assert not torch.equal(x, make_toy(name, 20000, seed=4))
    report = mode_report(x, dist)
    assert report.modes_covered == dist.num_modes
    expected_share = 0.9973 if dist.dim == 1 else 1 - math.exp(-4.5)
    assert report.high_quality_share == pytest.approx(expected_share, abs=0.005)
    # mixture mean and per-coordinate std within a mode
    torch.testing.assert_close(x.mean(0), dist.centres.mean(0), atol=0.05, rtol=0)
    nearest = torch.cdist(x, dist.centres).argmin(1)
    resid = x - dist.centres[nearest]
    assert resid.std().item() == pytest.approx(dist.std, rel=0.03)


def test_log_density_integrates_to_one_in_1d():
    dist = get_toy("gaussian1d")
    xs = torch.linspace(0, 8, 4001, dtype=torch.float64)[:, None]
    mass = torch.trapezoid(dist.log_density(xs).exp(), xs[:, 0]).item()
    assert mass == pytest.approx(1.0, abs=1e-6)


def test_collapsed_samples_cover_one_mode():
    ring = get_toy("ring2d")
    g = torch.Generator().manual_seed(0)
    collapsed = ring.centres[2] + ring.std * torch.randn(1000, 2, generator=g)
    report = mode_report(collapsed, ring)
    assert report.modes_covered == 1 and report.counts[2] > 980
    off = torch.zeros(500, 2)  # the ring's centre: far from every mode
    assert mode_report(off, ring).high_quality_share == 0.0
    assert mode_report(off, ring).modes_covered == 0


def test_a_mode_needs_a_fifth_of_its_fair_share():
    ring = get_toy("ring2d")
    n = 800  # fair share 100 per mode -> threshold 20
    x = torch.cat([ring.centres[0].repeat(n - 19, 1), ring.centres[1].repeat(19, 1)])
    assert mode_report(x, ring).modes_covered == 1
    x = torch.cat([ring.centres[0].repeat(n - 20, 1), ring.centres[1].repeat(20, 1)])
    assert mode_report(x, ring).modes_covered == 2


def _js_two_gaussians(m1, s1, m2, s2):
    p, q = stats.norm(m1, s1), stats.norm(m2, s2)

    def integrand(x):
        a, b = p.pdf(x), q.pdf(x)
        m = (a + b) / 2
        out = 0.0
        if a > 0:
            out += 0.5 * a * math.log(a / m)
        if b > 0:
            out += 0.5 * b * math.log(b / m)
        return out

    return integrate.quad(integrand, -20, 20, limit=200)[0]


@pytest.mark.parametrize(("m2", "s2"), [(1.0, 1.0), (0.0, 2.0), (3.0, 0.5)])
def test_histogram_js_matches_numerical_integral(m2, s2):
    rng = np.random.default_rng(0)
    a = rng.normal(0.0, 1.0, 200_000)
    b = rng.normal(m2, s2, 200_000)
    exact = _js_two_gaussians(0.0, 1.0, m2, s2)
    assert 0.02 < exact < math.log(2)
    assert js_divergence_hist(a, b) == pytest.approx(exact, abs=0.005)


def test_histogram_js_limits():
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, 50_000), rng.normal(0, 1, 50_000)
    assert 0.0 <= js_divergence_hist(a, b) < 0.005
    assert js_divergence_hist(a, b + 100.0) == pytest.approx(math.log(2), abs=1e-9)
    assert math.isnan(js_divergence_hist(a, np.array([np.inf])))
    assert js_divergence_discrete(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(
        math.log(2))


def test_toy_metrics_keys():
    g1 = get_toy("gaussian1d")
    fake = g1.sample(5000, torch.Generator().manual_seed(9))
    m = toy_metrics(fake, g1)
    assert set(m) == {"modes_covered", "num_modes", "hq_share", "js_hist"}
    assert m["js_hist"] < 0.01 and m["modes_covered"] == 1
    assert "js_hist" not in toy_metrics(get_toy("ring2d").sample(100), get_toy("ring2d"))


def test_unknown_toy_set_is_a_data_error():
    with pytest.raises(DataError, match="moons"):
        get_toy("moons")
    with pytest.raises(DataError, match="0"):
        make_toy("ring2d", 0)
