"""Config: presets, file + flag overrides, validation that reports every problem at once."""

from __future__ import annotations

import json

import pytest

from gankit.config import PRESETS, Config, build_config, dump_yaml, from_preset, read_config_file
from gankit.errors import ConfigError


def test_seed_preset_is_the_notes_run():
    cfg = from_preset("seed")
    assert (cfg.train.epochs, cfg.train.batch_size, cfg.train.sample_every) == (400, 256, 50)
    assert cfg.model.g_hidden == [256, 512, 1024] and cfg.model.d_hidden == [1024, 512, 256]
    assert (cfg.model.z_dim, cfg.model.dropout) == (100, 0.3)
    assert (cfg.train.lr_d, cfg.train.lr_g, cfg.train.beta1_d, cfg.train.beta1_g) == (
        2e-4, 2e-4, 0.5, 0.5)
    assert cfg.loss.game == "non-saturating" and cfg.loss.real_label == 0.9


def test_every_preset_validates():
    for name in PRESETS:
        assert build_config(name).preset == name


def test_flag_strings_are_coerced():
    cfg = build_config("smoke", overrides={"train.epochs": "7", "train.lr_d": "1e-3",
                                           "model.g_hidden": "[8, 16]", "train.progress": "true"})
    assert cfg.train.epochs == 7 and cfg.train.lr_d == 1e-3
    assert cfg.model.g_hidden == [8, 16] and cfg.train.progress is True


def test_all_problems_reported_at_once():
    with pytest.raises(ConfigError) as err:
        build_config("smoke", overrides={"train.epochs": 0, "train.batch_size": -3,
                                         "loss.game": "wasserstein-ish"})
    msg = str(err.value)
    assert "train.epochs=0" in msg and "train.batch_size=-3" in msg
    assert "'wasserstein-ish'" in msg and "non-saturating" in msg
    assert "\n" not in msg


@pytest.mark.parametrize("key", ["train.nope", "nope.epochs"])
def test_unknown_keys_raise(key):
    with pytest.raises(ConfigError, match="unknown config"):
        build_config("smoke", overrides={key: 1})


def test_wrong_types_raise():
    with pytest.raises(ConfigError, match="not an integer"):
        build_config("smoke", overrides={"train.epochs": "three"})


def test_unknown_preset():
    with pytest.raises(ConfigError, match="unknown preset 'fast'.*seed"):
        build_config("fast")


def test_file_then_flags(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"preset": "smoke", "train": {"epochs": 5, "seed": 3}}))
    cfg = build_config(None, path, {"train.epochs": 6})  # the file names the preset
    assert cfg.preset == "smoke" and cfg.train.seed == 3 and cfg.train.epochs == 6
    assert cfg.data.limit == 512  # from the smoke preset named in the file


def test_yaml_round_trip(tmp_path):
    cfg = build_config("smoke", overrides={"loss.game": "minimax"})
    path = tmp_path / "config.yaml"
    path.write_text(dump_yaml(cfg))
    again = Config.from_dict(read_config_file(path))
    assert again == cfg


@pytest.mark.parametrize("text", ["[1, 2]", "train: {epochs: [", "\x00\x01"])
def test_bad_files_are_one_line_errors(tmp_path, text):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        build_config("smoke", path)
    assert "\n" not in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        read_config_file(tmp_path / "nope.yaml")
