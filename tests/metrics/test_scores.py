"""The metrics as math: closed forms, identities and limits on synthetic feature arrays."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import linalg

from gankit.metrics import scores


def _gauss(n: int, d: int, seed: int, mean: float = 0.0, scale: float = 1.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(mean, scale, size=(n, d))


# ------------------------------------------------------------------------- FID


def test_fid_of_a_set_against_itself_is_zero() -> None:
    x = _gauss(400, 16, 0) @ np.random.default_rng(1).normal(size=(16, 16))
    assert scores.fid(x, x) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_matches_the_closed_form_for_diagonal_gaussians() -> None:
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    v1, v2 = rng.uniform(0.1, 3.0, size=6), rng.uniform(0.1, 3.0, size=6)
    closed = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(v1) - np.sqrt(v2)) ** 2).sum()
    got = scores.frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2))
    assert got == pytest.approx(closed, rel=1e-10)


def test_frechet_distance_matches_scipy_sqrtm_for_full_covariances() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(8, 8)), rng.normal(size=(8, 8))
    c1, c2 = a @ a.T + 0.1 * np.eye(8), b @ b.T + 0.1 * np.eye(8)
    mu1, mu2 = rng.normal(size=8), rng.normal(size=8)
    covmean = linalg.sqrtm(c1 @ c2).real
    reference = ((mu1 - mu2) ** 2).sum() + np.trace(c1 + c2 - 2 * covmean)
    assert scores.frechet_distance(mu1, c1, mu2, c2) == pytest.approx(reference, rel=1e-8)


def test_frechet_distance_is_finite_and_nonnegative_for_singular_covariances() -> None:
    x = _gauss(50, 3, 0) @ np.random.default_rng(2).normal(size=(3, 10))  # rank 3 in 10-d
    y = _gauss(50, 3, 1) @ np.random.default_rng(3).normal(size=(3, 10))
    value = scores.fid(x, y)
    assert np.isfinite(value) and value > 0
    assert scores.fid(x, x) == pytest.approx(0.0, abs=1e-8)


def test_fid_of_samples_approaches_the_closed_form() -> None:
    x, y = _gauss(20000, 4, 0), _gauss(20000, 4, 1, mean=0.5, scale=2.0)
    closed = 4 * 0.5**2 + 4 * (1.0 - 2.0) ** 2  # = 5
    assert scores.fid(x, y) == pytest.approx(closed, rel=0.03)


# ------------------------------------------------------------------------- KID


def test_mmd2_unbiased_matches_a_direct_double_sum() -> None:
    x, y = _gauss(5, 3, 0), _gauss(4, 3, 1, mean=1.0)

    def k(a: np.ndarray, b: np.ndarray) -> float:
        return (a @ b / 3 + 1) ** 3

    xx = sum(k(x[i], x[j]) for i in range(5) for j in range(5) if i != j) / 20
    yy = sum(k(y[i], y[j]) for i in range(4) for j in range(4) if i != j) / 12
    xy = sum(k(x[i], y[j]) for i in range(5) for j in range(4)) / 20
    assert scores.mmd2_unbiased(x, y) == pytest.approx(xx + yy - 2 * xy, rel=1e-12)


def test_kid_is_unbiased_on_identical_distributions() -> None:
    # mean over many independent pairs of samples of one distribution -> 0 within its error
    values = [scores.mmd2_unbiased(_gauss(50, 8, 2 * s), _gauss(50, 8, 2 * s + 1))
              for s in range(400)]  # fmt: skip
    mean, sem = np.mean(values), np.std(values) / np.sqrt(len(values))
    assert abs(mean) < 4 * sem
    # whereas the subset estimate separates a shifted distribution by many std
    x, y = _gauss(2000, 8, 0), _gauss(2000, 8, 1)
    same_mean, same_std = scores.kid(x, y, subsets=20, subset_size=500)
    shifted_mean, _ = scores.kid(x, y + 0.5, subsets=20, subset_size=500)
    assert abs(same_mean) < 3 * same_std
    assert shifted_mean > 10 * same_std


def test_kid_subset_size_shrinks_to_the_smaller_set() -> None:
    mean, std = scores.kid(_gauss(30, 4, 0), _gauss(80, 4, 1), subsets=5)
    assert np.isfinite(mean) and np.isfinite(std)


# ------------------------------------------------------------ classifier outputs


def test_classifier_score_limits() -> None:
    one_hot = np.eye(10)[np.arange(1000) % 10]
    assert scores.classifier_score(one_hot) == pytest.approx(10.0, rel=1e-6)
    single = np.eye(10)[np.full(100, 3)]
    assert scores.classifier_score(single) == pytest.approx(1.0, rel=1e-6)
    uniform = np.full((100, 10), 0.1)  # confident of nothing: also 1
    assert scores.classifier_score(uniform) == pytest.approx(1.0, rel=1e-6)
    rand = np.random.default_rng(0).dirichlet(np.full(10, 0.3), size=500)
    assert 1.0 <= scores.classifier_score(rand) <= 10.0
    # near-identical rows close to uniform (the folded "not a digit" answer to every sample):
    # the mean KL rounds to a hair below 0 (a real smoke run gave 0.9999999999999916)
    r = np.random.default_rng(0)
    row = np.exp(r.normal(0, 0.01, 10))
    near = np.tile(row / row.sum(), (500, 1)) + r.normal(0, 1e-12, (500, 10))
    assert scores.classifier_score(near) >= 1.0


def test_mode_coverage_of_one_class_and_of_all() -> None:
    single = scores.mode_coverage(np.eye(10)[np.full(500, 7)])
    assert single.classes_covered == 1
    assert single.histogram[7] == 1.0
    assert single.kl_to_uniform == pytest.approx(np.log(10))
    even = scores.mode_coverage(np.eye(10)[np.arange(1000) % 10])
    assert even.classes_covered == 10 and even.kl_to_uniform == pytest.approx(0.0, abs=1e-12)


def test_mode_coverage_ignores_stray_predictions_below_the_threshold() -> None:
    labels = np.full(1000, 2)
    labels[:3] = 5  # 0.3% of samples: below the default 1% share
    labels[3:30] = 8  # 2.7%: covered
    cov = scores.mode_coverage(np.eye(10)[labels])
    assert cov.classes_covered == 2
    assert scores.mode_coverage(np.eye(10)[labels], min_share=0.0).classes_covered == 3


def test_samples_read_as_no_digit_are_their_own_bucket_never_a_class() -> None:
    """The extractor answers "not a digit" with the uniform 1/10, whose argmax is 0: a first
    epoch's blurs must not count as a covered class "0"."""
    blurs = np.full((1000, 10), 0.1)
    cov = scores.mode_coverage(blurs)
    assert cov.classes_covered == 0 and cov.not_digit == 1.0
    assert cov.histogram == (0.0,) * 10
    assert cov.kl_to_uniform == pytest.approx(np.log(10))  # nothing read: as bad as one class
    # half the samples sure threes, half unsure (top probability 0.3, on class 0)
    unsure = np.full((500, 10), 0.7 / 9)
    unsure[:, 0] = 0.3
    mixed = scores.mode_coverage(np.vstack([np.eye(10)[np.full(500, 3)], unsure]))
    assert mixed.histogram[3] == 0.5 and mixed.histogram[0] == 0.0
    assert mixed.not_digit == 0.5 and sum(mixed.histogram) + mixed.not_digit == 1.0
    assert mixed.classes_covered == 1
    assert mixed.kl_to_uniform == pytest.approx(np.log(10))  # the digits read: all threes
    # "sure" is the top probability reaching DIGIT_CONFIDENCE
    edge = np.full((2, 10), (1 - scores.DIGIT_CONFIDENCE) / 9)
    edge[:, 4] = scores.DIGIT_CONFIDENCE
    assert scores.mode_coverage(edge).histogram[4] == 1.0


def test_mean_confidence() -> None:
    probs = np.array([[0.9, 0.1], [0.4, 0.6]])
    assert scores.mean_confidence(probs) == pytest.approx(0.75)


# ------------------------------------------------------- precision, recall, ...


def test_precision_recall_density_coverage_of_a_set_against_itself() -> None:
    x = _gauss(300, 5, 0)
    assert scores.precision_recall(x, x) == (1.0, 1.0)
    density, coverage = scores.density_coverage(x, x)
    assert coverage == 1.0
    assert density >= 1.0  # every point lies in its own ball and in its k neighbours' too (about)


def test_precision_recall_of_two_samples_of_one_distribution_are_high_but_below_one() -> None:
    x, y = _gauss(1000, 5, 0), _gauss(1000, 5, 1)
    precision, recall = scores.precision_recall(x, y)
    density, coverage = scores.density_coverage(x, y)
    assert 0.6 < precision < 1.0 and 0.6 < recall < 1.0
    assert 0.7 < density < 1.3 and 0.8 < coverage < 1.0


def test_precision_recall_of_disjoint_sets_are_zero() -> None:
    x, y = _gauss(200, 5, 0), _gauss(200, 5, 1, mean=100.0)
    assert scores.precision_recall(x, y) == (0.0, 0.0)
    assert scores.density_coverage(x, y) == (0.0, 0.0)


def test_a_collapsed_generator_keeps_precision_but_loses_recall() -> None:
    real = _gauss(1000, 4, 0)
    collapsed = _gauss(1000, 4, 1, scale=0.2)  # all samples near the mode
    precision, recall = scores.precision_recall(real, collapsed)
    assert precision > 0.9 and recall < 0.3


def test_a_real_outlier_lets_blank_images_in_unless_the_manifold_keeps_sure_digits_only() -> None:
    # real digits: two tight clusters far from the origin; one real outlier the classifier
    # reads as no digit sits near the origin, where blank images' features lie
    rng = np.random.default_rng(0)
    digits = np.concatenate([rng.normal(10, 0.5, size=(200, 4)), rng.normal(-10, 0.5, (200, 4))])
    outliers = rng.normal(0, 0.5, size=(2, 4))
    real = np.concatenate([digits, outliers])
    probs = np.full((len(real), 10), 0.01)
    probs[: len(digits), 3] = 0.91  # sure digits
    probs[len(digits):] = 0.1  # uniform: not a digit
    blank = rng.normal(0, 0.1, size=(100, 4))
    # the outliers' k-NN balls reach out to the digits and swallow every blank image
    assert scores.precision_recall(real, blank)[0] == 1.0
    manifold = scores.digit_manifold(real, probs)
    np.testing.assert_array_equal(manifold, digits)
    assert scores.precision_recall(manifold, blank)[0] == 0.0
    assert scores.density_coverage(manifold, blank)[0] == 0.0
    # digits themselves are as precise against the manifold as against every real image
    assert scores.precision_recall(manifold, digits[::2])[0] == 1.0
