"""The new options' validation and the train command's new flags."""

from __future__ import annotations

import argparse

import pytest

from gankit.commands import train as train_cmd
from gankit.config import build_config
from gankit.errors import ConfigError


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    train_cmd.add_parser(parser.add_subparsers())
    return parser.parse_args(["train", *argv])


def test_new_flags_become_config_keys() -> None:
    args = _args("--model", "dcgan", "--conditional", "--ema", "0.999", "--n-critic", "5",
                 "--loss", "wgan-gp", "--data", "folder:/tmp/pics", "--image-size", "64")
    cfg = build_config("smoke", overrides=train_cmd.overrides_from_args(args))
    assert (cfg.model.name, cfg.model.conditional, cfg.train.ema, cfg.train.n_critic) == (
        "dcgan", True, 0.999, 5)
    assert (cfg.data.dataset, cfg.data.data_dir, cfg.data.image_size) == (
        "folder", "/tmp/pics", 64)
    assert cfg.loss.game == "wgan-gp"
    assert "model.conditional" not in train_cmd.overrides_from_args(_args())


@pytest.mark.parametrize("source, match", [
    ("folder", "needs a path"),
    ("folder:", "needs a path"),
    ("cifar", "mnist, idx"),
])
def test_bad_data_sources(source: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        train_cmd.overrides_from_args(_args("--data", source))


@pytest.mark.parametrize("overrides, match", [
    ({"model.name": "resnet"}, "mlp, dcgan"),
    ({"loss.game": "wgan"}, "least-squares, wgan-gp, hinge"),
    ({"train.n_critic": 0}, "n_critic=0"),
    ({"train.ema": 1.0}, "train.ema=1.0"),
    ({"train.ema": -0.5}, "train.ema=-0.5"),
    ({"model.width": 0}, "model.width=0"),
    ({"data.image_size": 0}, "image_size=0"),
    ({"model.name": "dcgan", "data.image_size": 48}, "28, 32, 64"),
    ({"data.dataset": "idx"}, "--data-dir"),
    ({"data.dataset": "folder"}, "folder:PATH"),
    ({"data.dataset": "cifar"}, "mnist, idx, folder"),
    ({"model.conditional": "maybe"}, "true/false"),
])
def test_bad_values_are_clear_errors(overrides: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        build_config("smoke", overrides=overrides)


def test_ema_zero_is_off() -> None:
    assert build_config("smoke", overrides={"train.ema": 0}).train.ema == 0.0


@pytest.mark.parametrize(("overrides", "match"), [
    ({"train.adam_eps": 0.0}, r"train.adam_eps=0.0 must be in \(0, 1\]"),
    ({"train.real_batches": "bootstrap"}, "train.real_batches='bootstrap' is unknown; choose "
                                          "one of: shuffle, replacement"),
])
def test_keras_difference_options_refuse_bad_values(overrides: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        build_config("smoke", overrides=overrides)


def test_real_batches_with_replacement_are_seeded_draws_with_repeats() -> None:
    from gankit.core.trainer import epoch_permutation

    n = 1000
    shuffle = epoch_permutation(n, 3, 1)
    assert torch_sorted(shuffle) == list(range(n))  # every index once
    drawn = epoch_permutation(n, 3, 1, "replacement")
    assert drawn.shape == (n,) and 0 <= int(drawn.min()) and int(drawn.max()) < n
    assert drawn.equal(epoch_permutation(n, 3, 1, "replacement"))  # resume draws them again
    assert not drawn.equal(epoch_permutation(n, 3, 2, "replacement"))  # a new epoch, new draws
    # with replacement about 1 - 1/e of the images appear in an epoch (63.2%)
    assert 0.58 < len(set(drawn.tolist())) / n < 0.68


def torch_sorted(t) -> list[int]:  # noqa: ANN001
    return sorted(t.tolist())
