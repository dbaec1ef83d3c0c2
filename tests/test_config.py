"""Config: presets, file + flag overrides, validation that reports every problem at once."""

from __future__ import annotations

import json
import math
import time
import tracemalloc
from pathlib import Path

import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st
from reliability_support import (
    FAST,
    JUNK,
    NAMES,
    examples,
    one_line_error,
    outcome,
    scratch_folder,
    small_run,
)

from gankit.cli import main
from gankit.config import (
    PRESETS,
    SECTIONS,
    Config,
    build_config,
    dump_yaml,
    from_preset,
    read_config_file,
    validate,
)
from gankit.errors import ConfigError
from gankit.report.page import render_run
from gankit.report.read import read_run


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


def _config_keys() -> list[str]:
    base = Config().to_dict()
    return [f"{s}.{k}" for s in SECTIONS for k in base[s]]


@examples(60)
@given(pairs=st.lists(st.tuples(st.one_of(st.sampled_from(_config_keys()), st.text(max_size=12)),
                                JUNK), max_size=6),
       preset=st.one_of(st.none(), st.sampled_from(["smoke", "toy", "nope"]), JUNK),
       as_json=st.booleans())
def test_config_files_of_junk(pairs, preset, as_json):
    tree: dict = {}
    for key, value in pairs:
        section, _, attr = key.partition(".")
        if attr:
            node = tree.setdefault(section, {})
            if isinstance(node, dict):
                node[attr] = value
        else:
            tree[section] = value
    if preset is not None:
        tree["preset"] = preset
    path = scratch_folder() / ("c.json" if as_json else "c.yaml")
    path.write_text(json.dumps(tree) if as_json else yaml.safe_dump(tree))
    outcome(build_config, None, path)


@examples(30)
@given(depth=st.integers(1, 12), width=st.integers(1, 12),
       where=st.sampled_from(["train.epochs", "model.g_hidden", "data.dataset", "loss.game",
                              "nowhere.x", "preset"]))
def test_config_alias_bombs(depth, width, where):
    lines = ["x:", "  - &a0 [1, 1, 1]"]
    for i in range(1, depth):
        lines.append(f"  - &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    section, _, attr = where.partition(".")
    lines += [f"{section}:", f"  {attr}: *a{depth - 1}"] if attr else [f"{section}: *a{depth - 1}"]
    path = scratch_folder() / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    assert outcome(build_config, None, path) is None


@examples(30)
@given(depth=st.integers(2, 12), width=st.integers(2, 12), flow=st.booleans(),
       where=st.sampled_from(["train", "model", "top", "preset", "train.epochs"]),
       kind=st.sampled_from(["config", "report", "set"]))
def test_mapping_alias_bombs(depth, width, flow, where, kind):
    """Nested mapping aliases (`a1: &a1 {k0: *a0, k1: *a0, ...}`): refused (or small enough to
    unfold) in a config file, a --set value and a run folder's config.yaml, never unfolded."""
    keys = [f"k{i}" for i in range(width)]
    if flow:
        lines = ["a0: &a0 {" + ", ".join(f"{k}: 1" for k in keys) + "}"]
        lines += [f"a{d}: &a{d} {{" + ", ".join(f"{k}: *a{d - 1}" for k in keys) + "}"
                  for d in range(1, depth)]
    else:
        lines = ["a0: &a0", *[f"  {k}: 1" for k in keys]]
        for d in range(1, depth):
            lines += [f"a{d}: &a{d}", *[f"  {k}: *a{d - 1}" for k in keys]]
    top = f"*a{depth - 1}"
    section, _, attr = where.partition(".")
    lines.append(f"{section}: {{{attr}: {top}}}" if attr else f"{section}: {top}")
    text = "\n".join(lines) + "\n"
    folder = scratch_folder()
    if kind == "config":
        (folder / "bomb.yaml").write_text(text)
        assert outcome(build_config, None, folder / "bomb.yaml") is None
    elif kind == "set":
        flat = "{" + ", ".join(f"{k}: [1, 2]" for k in keys) + "}"
        value = f"[&a {flat}" + "".join(f", &b{d} [*a, *a]" for d in range(depth)) + "]"
        outcome(build_config, None, None, {"model.g_hidden": value})
    else:
        (folder / "config.yaml").write_text(text)
        (folder / "metrics.jsonl").write_text('{"epoch": 1, "loss_d": 1.0}\n')
        run = read_run(folder)
        assert run.config is None or isinstance(run.config, dict)
        render_run(run, folder)


@examples(40)
@given(raw=st.binary(max_size=400))
def test_config_files_of_random_bytes(raw):
    path = scratch_folder() / "c.yaml"
    path.write_bytes(raw)
    outcome(build_config, None, path)


CONFIG_SCALARS = (st.none() | st.booleans() | st.integers(-(2**70), 2**70)
                  | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12))


CONFIG_KEYS = NAMES | st.sampled_from(["data", "model", "loss", "train", "preset", "epochs", "seed",
                                       "g_hidden", "lr_d", "dataset", "limit", "dropout", "device"])


CONFIG_VALUES = st.recursive(CONFIG_SCALARS, lambda kids: st.lists(kids, max_size=4)
                             | st.dictionaries(CONFIG_KEYS, kids, max_size=5), max_leaves=12)


def _check_config(got) -> None:
    if got is not None:
        assert isinstance(got, Config)
        Config.from_dict(got.to_dict())  # a validated config always round-trips
        for section in (got.data, got.model, got.loss, got.train):
            for value in vars(section).values():
                assert not isinstance(value, float) or math.isfinite(value)


@FAST
@given(data=st.binary(max_size=300), suffix=st.sampled_from([".yaml", ".json", ".yml", ""]),
       name=NAMES)
@example(data=b"train: {lr_d: 1e400}", suffix=".yaml", name="c").via("float overflow")
@example(data=b"train: {lr_d: 1.0e+400}", suffix=".yaml", name="c").via("inf learning rate")
@example(data=b"train: {lr_g: " + b"9" * 400 + b"}", suffix=".yaml", name="c").via("huge int")
@example(data=b'{"train": {"epochs": 1e400}}', suffix=".json", name="c").via("int overflow")
@example(data=b"!!python/object/apply:os.system ['true']", suffix=".yaml", name="c")
def test_config_file_of_random_bytes(data, suffix, name):
    path = scratch_folder() / (name + suffix)
    path.write_bytes(data)
    _check_config(outcome(build_config, "smoke", path))


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
@pytest.mark.parametrize("text", ["[" * 1500, "{a: " * 1500, '{"a": ' * 1500])
def test_deeply_nested_config_is_one_error_not_a_recursion_error(tmp_path, suffix, text):
    path = tmp_path / f"deep{suffix}"
    path.write_text(text)
    assert outcome(build_config, "smoke", path) is None


@FAST
@given(tree=st.dictionaries(CONFIG_KEYS, CONFIG_VALUES, max_size=6), as_json=st.booleans())
def test_config_file_of_random_structures(tree, as_json):
    import json

    import yaml

    path = scratch_folder() / ("c.json" if as_json else "c.yaml")
    try:
        text = json.dumps(tree) if as_json else yaml.safe_dump(tree)
    except (ValueError, yaml.YAMLError):
        return
    path.write_text(text, encoding="utf-8")
    _check_config(outcome(build_config, "smoke", path))


@FAST
@given(key=st.sampled_from(["train.epochs", "train.lr_d", "model.g_hidden", "model.dropout",
                            "train.progress", "data.limit", "train.device", "loss.game",
                            "train.nan_retries", "nonsense", "train.nope", ""]) | NAMES,
       value=st.text(max_size=30))
@example(key="train.lr_d", value="1e400").via("float overflow")
@example(key="train.epochs", value="1e400").via("int from a huge float")
@example(key="train.epochs", value=".inf").via("inf epochs")
@example(key="train.lr_d", value=".inf").via("inf learning rate")
@example(key="train.lr_d", value="9" * 400).via("int too big for a float")
def test_set_overrides_of_random_strings(key, value):
    _check_config(outcome(build_config, "smoke", None, {key: value}))


@FAST
@given(name=NAMES)
def test_config_round_trips_under_a_unicode_path(name):
    cfg = build_config("smoke", overrides={"data.data_dir": name})
    path = scratch_folder() / (name + ".yaml")
    path.write_text(dump_yaml(cfg), encoding="utf-8")
    assert build_config("smoke", path) == cfg


def test_alias_bombs_give_a_short_message_in_bounded_memory(tmp_path):
    lines = ["train:", "  epochs:", "    - &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    for i in range(1, 9):  # level i refers 9 times to level i - 1: 9**9 leaves by reference
        lines.append(f"    - &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    tracemalloc.start()
    try:
        with pytest.raises(ConfigError) as err:
            build_config(None, path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(str(err.value)) < 600 and "expands" in str(err.value)  # refused as it loads
    assert peak < 20 << 20


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_config_from_an_endless_stream_or_a_huge_file(tmp_path):
    with pytest.raises(ConfigError, match="larger than 1 MiB"):
        read_config_file("/dev/zero")
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * (1 << 20) + "\n")
    with pytest.raises(ConfigError, match="larger than 1 MiB"):
        read_config_file(big)


def test_preset_in_the_config_file_and_on_the_command_line(tmp_path, capsys):
    path = tmp_path / "c.yaml"
    path.write_text("preset: toy\n")
    rc = main(["train", "--preset", "smoke", "--config", str(path)])
    one_line_error(capsys, rc, "--preset 'smoke' conflicts with preset: 'toy'")
    assert build_config(None, path).preset == "toy"
    assert build_config("toy", path).preset == "toy"


def test_config_yaml_with_run_id_reads_as_a_config(tmp_path):
    run = small_run(tmp_path, epochs=1)
    cfg = Config.from_dict(read_config_file(run / "config.yaml"))
    assert validate(cfg).model.z_dim == 16
    assert build_config(None, run / "config.yaml").preset == "smoke"
