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


def mapping_bomb(levels: int = 9, width: int = 9) -> str:
    """A YAML file of a few hundred bytes whose nested mapping aliases unfold to width**levels
    values (the 621-byte bomb of the hostile-use round: 9 x 9 is 387 million)."""
    keys = [f"k{i}" for i in range(width)]
    lines = ["a0: &a0 {" + ", ".join(f"{k}: 1" for k in keys) + "}"]
    for level in range(1, levels):
        lines.append(f"a{level}: &a{level} {{"
                     + ", ".join(f"{k}: *a{level - 1}" for k in keys) + "}")
    return "\n".join(lines) + f"\ntrain: {{epochs: 2, extra: *a{levels - 1}}}\n"


def test_a_mapping_alias_bomb_is_refused_at_once(tmp_path, capsys):
    import time

    from gankit.cli import main

    path = tmp_path / "bomb.yaml"
    path.write_text(mapping_bomb())
    assert len(path.read_bytes()) < 1000
    start = time.perf_counter()
    with pytest.raises(ConfigError, match="expands .* aliases"):
        build_config(None, path)
    assert main(["config", "show", "--config", str(path)]) == 2
    assert main(["train", "--config", str(path), "--out", str(tmp_path / "run")]) == 2
    with pytest.raises(ConfigError, match="train.epochs: .*expands"):
        build_config(overrides={"train.epochs": "&a [1, *a]"})  # an alias loop in --set
    assert time.perf_counter() - start < 10
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all("expands" in line and "bomb.yaml" in line for line in err)
    assert not (tmp_path / "run").exists()


def test_aliases_of_a_real_config_still_load(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("hidden: &h [64, 64]\nmodel: {g_hidden: *h, d_hidden: *h}\n")
    data = read_config_file(path)
    assert data["model"] == {"g_hidden": [64, 64], "d_hidden": [64, 64]}


@pytest.mark.parametrize("item", ["epochs=3", "train.epochs=3", "train__epochs=3",
                                  " train.epochs = 3 "])
def test_config_show_and_train_read_set_alike(item, capsys):
    from gankit.cli import main

    assert main(["config", "show", "--set", item]) == 0
    assert "  epochs: 3 " in capsys.readouterr().out
    from gankit.api import make_config
    from gankit.commands.train import parse_sets

    assert make_config(None, None, parse_sets([item])).train.epochs == 3  # what train builds


@pytest.mark.parametrize("device", ["cudafoo", "cuda:x", "mps", "meta"])
def test_train_device_is_checked_as_sample_and_eval_check_theirs(device):
    """One rule (validation.known_device) for train.device and sample/eval --device: a name
    that merely starts with "cuda" is refused up front, not deep inside the run."""
    with pytest.raises(ConfigError, match=f"train.device='{device}' is unknown"):
        build_config("smoke", overrides={"train.device": device})
    assert build_config("smoke", overrides={"train.device": "cuda:1"}).train.device == "cuda:1"
