"""The lessons' experiments: the numbers docs/theory.md relies on, on tiny settings."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gankit import lesson
from gankit.cli import main as cli_main
from gankit.core.losses import get_game
from gankit.core.models import ToyDiscriminator, ToyGenerator
from gankit.errors import ConfigError

# --- KL asymmetry ----------------------------------------------------------------------------


def test_quadrature_matches_the_closed_form_kl_of_two_gaussians():
    x = np.linspace(-15, 15, 20001)
    m1, s1, m2, s2 = 0.3, 0.7, -1.1, 1.9
    closed = math.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - 0.5
    got = lesson.kl_quadrature(lesson.normal_logpdf(x, m1, s1),
                               lesson.normal_logpdf(x, m2, s2), x)
    assert got == pytest.approx(closed, rel=1e-8)


def test_mean_seeking_fit_matches_the_moments_of_the_mixture():
    res = lesson.kl_fits()
    mean, std = res.mixture.moments()
    assert (mean, std) == pytest.approx((0.0, math.sqrt(0.25 + 4.0)))
    assert res.mean_seeking.mean == pytest.approx(mean, abs=1e-3)
    assert res.mean_seeking.std == pytest.approx(std, rel=1e-3)
    # the mean-seeking Gaussian puts its peak between the modes, where p has almost nothing
    assert math.exp(res.mixture.log_density(np.array([0.0]))[0]) < 1e-3


def test_mode_seeking_fit_locks_onto_one_mode():
    res = lesson.kl_fits()
    means = sorted(f.mean for f in res.mode_seeking)
    assert means == pytest.approx([-2.0, 2.0], abs=1e-2)
    for f in res.mode_seeking:
        assert f.std == pytest.approx(0.5, rel=1e-2)
        # q is one of two well separated halves of p: KL(q||p) = log 2
        assert f.kl_qp == pytest.approx(math.log(2.0), abs=1e-3)
        # and the other direction punishes the missed mode hard
        assert f.kl_pq > 10 * res.mean_seeking.kl_pq
    assert res.mean_seeking.kl_qp > res.mode_seeking[0].kl_qp


def test_unequal_mixture_mode_seeking_prefers_the_heavier_mode():
    mix = lesson.Mixture1D(means=(-3.0, 0.0, 3.0), std=0.4)
    res = lesson.kl_fits(mix)
    assert res.mean_seeking.mean == pytest.approx(0.0, abs=1e-3)
    assert {round(f.mean) for f in res.mode_seeking} <= {-3, 0, 3}


# --- concentration ---------------------------------------------------------------------------


def test_top_share_of_equal_and_of_one_dominant_value():
    assert lesson.top_share(np.ones(1000)) == pytest.approx(0.01)
    v = np.ones(1000)
    v[7] = 1e6
    assert lesson.top_share(v) > 0.99
    assert lesson.top_share(torch.ones(50)) == pytest.approx(1 / 50)  # at least one sample


def test_per_sample_gradient_norms_are_each_samples_own():
    torch.manual_seed(0)
    g, d = ToyGenerator(lesson.Z_DIM, (8,), 2), ToyDiscriminator(2, (8,))
    z = torch.randn(16, lesson.Z_DIM)
    for game in ("minimax", "non-saturating", "maximum-likelihood"):
        norms = lesson.per_sample_grad_norms(g, d, z, game)
        assert norms.shape == (16,) and torch.all(norms >= 0)
        # one sample's norm equals the norm of the gradient of that sample's cost alone
        cost = get_game(game).g_cost(d(g(z[3:4]))).sum()
        grads = torch.autograd.grad(cost, list(g.parameters()))
        alone = torch.linalg.vector_norm(torch.cat([gr.ravel() for gr in grads]))
        assert float(norms[3]) == pytest.approx(float(alone), rel=1e-5)


def test_concentration_runs_and_reports_shares_in_range():
    res = lesson.concentration(seeds=(0,), iterations=20, every=10, n_measure=200,
                               g_hidden=(8,), d_hidden=(8,))
    assert res.iterations.tolist() == [0, 10, 20]
    for name, share in res.share.items():
        assert share.shape == (1, 3)
        assert np.all((share >= 0.01 - 1e-12) & (share <= 1.0)), name
    # before training the three games start from the same G and D
    np.testing.assert_allclose(res.d_fake["minimax"][:, 0], res.d_fake["non-saturating"][:, 0])


# --- saturation ------------------------------------------------------------------------------


def test_minimax_gradient_vanishes_while_non_saturating_keeps_it():
    res = lesson.saturation(seeds=(0, 1), d_steps=300, g_hidden=(8,), d_hidden=(32, 32),
                            lr=3e-3)
    mm, ns, ml = (res.grad_norm[n] for n in ("minimax", "non-saturating", "maximum-likelihood"))
    assert res.steps[0] == 0 and res.steps[-1] == 300
    # D becomes sure the (fixed, far away) fakes are fake
    assert np.all(res.d_fake[:, -1] < 1e-2)
    assert np.all(mm[:, -1] < mm[:, 0] / 10)
    assert np.all(ns[:, -1] > 30 * mm[:, -1])
    assert np.all(ns[:, -1] >= ns[:, 0])
    # with D(G(z)) small, D/(1-D) ~ D: maximum likelihood saturates like minimax
    np.testing.assert_allclose(ml[:, -1], mm[:, -1], rtol=0.05)


def test_saturation_refuses_a_two_dimensional_toy():
    with pytest.raises(ConfigError, match="ring2d"):
        lesson.saturation(seeds=(0,), d_steps=1, data="ring2d")


# --- the command -----------------------------------------------------------------------------


def test_lesson_kl_command_writes_its_figure(tmp_path, capsys):
    out = tmp_path / "kl.png"
    assert cli_main(["lesson", "kl", "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = capsys.readouterr().out
    assert "argmin KL(p||q): N(0.000, 2.062^2)" in text
    assert "N(2.000, 0.500^2)" in text


def test_lesson_saturation_command_tiny(tmp_path, capsys):
    out = tmp_path / "sat.svg"
    assert cli_main(["lesson", "saturation", "--out", str(out), "--seeds", "1",
                     "--d-steps", "3"]) == 0
    assert b"<svg" in out.read_bytes()[:4000]
    assert "minimax" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["lesson", "saturation", "--out", "x.png", "--seeds", "0"], "--seeds"),
        (["lesson", "variance", "--out", "x.png", "--iterations", "0"], "--iterations"),
        (["lesson", "kl", "--out", "x.jpg"], ".jpg"),
    ],
)
def test_lesson_bad_input_is_one_line_and_exit_2(argv, needle, capsys, tmp_path,
                                                 monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli_main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and needle in err


@pytest.mark.parametrize(("call", "match"), [
    (lambda: lesson.saturation(seeds=range(10**6)), "number of seeds must be in 1..100"),
    (lambda: lesson.saturation(seeds=(0,), d_steps=10**9), "D steps must be in 1..100,000"),
    (lambda: lesson.concentration(seeds=(0,), iterations=10**9), "iterations must be in"),
    (lambda: lesson.concentration(seeds=(0,), iterations=10, every=20), "--every 20 is more"),
    (lambda: lesson.saturation(seeds=(0,), d_steps=2.5), "whole number, got 2.5"),
])
def test_lesson_sizes_are_bounded_through_the_api(call, match):
    with pytest.raises(ConfigError, match=match):
        call()


@pytest.mark.parametrize("argv", [
    ["saturation", "--d-steps", "1000000000"], ["saturation", "--seeds", "1000000"],
    ["variance", "--iterations", "1000000000"], ["variance", "--seeds", "1000000"],
    ["variance", "--every", "20", "--iterations", "10", "--seeds", "1"],
])
def test_lesson_flags_are_bounded(tmp_path, capsys, argv):
    from gankit.cli import main

    assert main(["lesson", *argv, "--out", str(tmp_path / "f.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and ("must be" in err or "more than" in err)
