"""The non-digit images of outlier exposure, the "not a digit" class, and what the shipped extractor
makes of non-digits: every metric must rank real digits above blank and noise images."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.metrics.digits import render_digits

from gankit.metrics.features import extract, fold_other, load_extractor, to_model_input
from gankit.metrics.outliers import _MAKERS, KINDS, outlier_batch, outlier_images


@pytest.fixture(scope="module")
def digits() -> torch.Tensor:
    x, _ = render_digits(40, seed=3)
    return to_model_input(x)  # (40, 1, 28, 28) in [-1, 1]


@pytest.mark.parametrize("kind", list(_MAKERS))  # the trained mix and the held-out kinds
def test_each_kind_is_a_seeded_batch_of_images_in_range(kind: str, digits: torch.Tensor) -> None:
    a = outlier_images(kind, 12, digits, torch.Generator().manual_seed(0))
    b = outlier_images(kind, 12, digits, torch.Generator().manual_seed(0))
    assert a.shape == (12, 1, 28, 28) and a.dtype == torch.float32
    assert torch.equal(a, b)  # the generator alone decides the draw
    assert float(a.min()) >= -1.0 and float(a.max()) <= 1.0
    assert a.flatten(1).std(dim=0).sum() > 0 or kind == "constant"  # images differ


def test_kinds_are_what_they_say(digits: torch.Tensor) -> None:
    g = torch.Generator().manual_seed(1)
    const = outlier_images("constant", 8, digits, g)
    assert torch.equal(const.amin(dim=(1, 2, 3)), const.amax(dim=(1, 2, 3)))  # one level each
    sparse = outlier_images("sparse", 8, digits, g)
    assert set(sparse.unique().tolist()) <= {-1.0, 1.0}
    scribbles = outlier_images("scribbles", 8, digits, g)
    lit = (scribbles > 0).flatten(1).float().mean(dim=1)
    assert bool(((lit > 0.02) & (lit < 0.5)).all())  # strokes, not blank, not filled
    shuffled = outlier_images("shuffled", 8, digits, g)
    inverted = outlier_images("inverted", 8, digits, g)
    # a shuffled digit keeps its ink (the sorted pixel values of some digit) but not its shape
    pool = digits.flatten(1).sort(dim=1).values
    for img in shuffled.flatten(1).sort(dim=1).values:
        assert bool((pool == img).all(dim=1).any())
    assert bool(((-inverted).flatten(1).unsqueeze(1) == digits.flatten(1)).all(dim=2).any(1).all())
    ghosts = outlier_images("ghosts", 8, digits, g)
    assert float(ghosts.std()) < float(digits.std())  # averages of four digits are blurred
    letters = outlier_images("letters", 8, digits, g)
    lit = (letters > 0).flatten(1).float().mean(dim=1)
    assert bool(((lit > 0.03) & (lit < 0.4)).all())  # a glyph, white on black
    checks = outlier_images("checkerboards", 4, digits, g)
    assert set(checks.unique().tolist()) == {-1.0, 1.0}


def test_the_mix_holds_every_kind_in_equal_shares(digits: torch.Tensor) -> None:
    batch = outlier_batch(len(KINDS) * 3 + 2, digits, torch.Generator().manual_seed(0))
    assert batch.shape == (len(KINDS) * 3 + 2, 1, 28, 28)
    with pytest.raises(ValueError, match="unknown outlier kind 'moons'"):
        outlier_images("moons", 2, digits, torch.Generator())


def test_folding_not_a_digit_gives_a_distribution_over_digits() -> None:
    raw = torch.randn(7, 11, generator=torch.Generator().manual_seed(0))
    folded = fold_other(raw)
    probs = folded.softmax(dim=1)
    assert torch.allclose(probs.sum(dim=1), torch.ones(7, dtype=probs.dtype), atol=1e-6)
    p11 = raw.softmax(dim=1)
    # closed form: p(c) + p(other) / 10, and log-probabilities already (logsumexp = 0)
    assert torch.allclose(probs, p11[:, :10] + p11[:, 10:] / 10, atol=1e-6)
    assert torch.allclose(torch.logsumexp(folded, dim=1), torch.zeros(7), atol=1e-6)
    assert torch.equal(probs.argmax(dim=1), p11[:, :10].argmax(dim=1))  # same digit read
    # a certain "not a digit" is the uniform prediction: confidence 0.1
    sure = torch.tensor([[0.0] * 10 + [40.0]])
    assert torch.allclose(fold_other(sure).softmax(dim=1), torch.full((1, 10), 0.1), atol=1e-6)


def test_the_shipped_extractor_shrugs_at_non_digits(digits: torch.Tensor) -> None:
    """Trained with outlier exposure: confident on digits, near-uniform on blank and noise."""
    model = load_extractor()
    n = 64
    g = torch.Generator().manual_seed(5)
    sets = {
        "blank": -torch.ones(n, 1, 28, 28),
        "white": torch.ones(n, 1, 28, 28),
        "noise": torch.rand(n, 1, 28, 28, generator=g) * 2 - 1,
    }
    _, real_probs = extract(model, digits)
    real_conf = float(np.mean(real_probs.max(axis=1)))
    assert real_conf > 0.5  # printed, not handwritten: less sure than on MNIST (0.99)
    for name, x in sets.items():
        _, probs = extract(model, x)
        conf = float(np.mean(probs.max(axis=1)))
        assert conf < 0.15, (name, conf)  # uniform is 0.1; the old extractor gave 0.98 on blank


LOWER_IS_BETTER = ("fid", "kid", "kl_uniform", "not_digit")
HIGHER_IS_BETTER = ("classifier_score", "classes_covered", "precision", "recall", "density",
                    "coverage", "confidence")


@pytest.mark.network  # real MNIST: the reference set and real digits to compare with
def test_every_metric_ranks_real_digits_above_blank_and_noise() -> None:
    """The issue's check: blank, noise and real images through `evaluate_images`; on every
    metric the real digits come out best, and blank / noise sit far below the real floor."""
    import warnings

    from gankit.data.mnist import load_mnist
    from gankit.metrics.evaluate import METRICS, evaluate_images, load_context

    ctx = load_context("cpu")
    train_x, _ = load_mnist("train")
    n = 2000
    pick = np.random.default_rng(0).choice(len(train_x), n, replace=False)
    g = torch.Generator().manual_seed(0)
    sets = {
        "real": to_model_input(train_x[np.sort(pick)]),
        "blank": -torch.ones(n, 1, 28, 28),
        "noise": torch.rand(n, 1, 28, 28, generator=g) * 2 - 1,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # n < 10,000: FID's small-sample warning
        m = {name: evaluate_images(x, ctx)[0] for name, x in sets.items()}
    assert set(LOWER_IS_BETTER + HIGHER_IS_BETTER) == {k for k, _ in METRICS} - {"n", "kid_std"}
    for bad in ("blank", "noise"):
        for key in LOWER_IS_BETTER:
            assert m["real"][key] < m[bad][key], (bad, key, m["real"][key], m[bad][key])
        for key in HIGHER_IS_BETTER:
            assert m["real"][key] > m[bad][key], (bad, key, m["real"][key], m[bad][key])
        # far below the real data: no precision, confidence at the uniform guess
        assert m[bad]["precision"] < 0.05 and m[bad]["confidence"] < 0.2
    assert m["real"]["precision"] > 0.8 and m["real"]["confidence"] > 0.98


def test_an_extractor_without_the_other_class_still_loads(tmp_path) -> None:
    """Extractors trained before outlier exposure (a ten-class head) load and score as before."""
    from gankit.metrics.features import MNISTExtractor, TrainResult, save_extractor

    old = MNISTExtractor(other_class=False).eval()
    path = tmp_path / "old.safetensors"
    save_extractor(TrainResult(old, 0.99, 1.0, 1, 0), path, "test")
    loaded = load_extractor(path)
    assert loaded.head.out_features == 10
    x = torch.rand(4, 1, 28, 28) * 2 - 1
    with torch.no_grad():
        assert torch.equal(loaded(x)[1], old(x)[1])  # its own logits, nothing folded
    assert load_extractor().head.out_features == 11  # the shipped one: ten digits + other
