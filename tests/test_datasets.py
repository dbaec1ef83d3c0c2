"""The data-set registry: one entry (plus its loader) is all a new data set needs, and every
list of data sets a user sees (the CLI's --data, the config docs, errors) is the registry's."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import gankit
from gankit import datasets
from gankit.cli import build_parser
from gankit.commands.train import data_overrides
from gankit.config import DataConfig, build_config
from gankit.config_docs import field_docs
from gankit.data import load_dataset
from gankit.data.toy import ToyDistribution, get_toy
from gankit.errors import ConfigError
from gankit.runs.compare import default_preset


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch):
    """Register DataSpecs for one test only."""
    monkeypatch.setattr(datasets, "DATASETS", dict(datasets.DATASETS))
    return datasets.register


def _stripes(cfg: DataConfig, log=None):  # noqa: ANN001, ARG001
    """A throwaway image set: 40 12 x 12 RGB images, vertical stripes of 4 widths (4 classes)."""
    labels = np.arange(40, dtype=np.int64) % 4
    cols = np.arange(12)
    images = np.stack([np.broadcast_to(((cols // (k + 1)) % 2 * 255)[None, :, None], (12, 12, 3))
                       for k in labels]).astype(np.uint8)
    return images, labels


def test_a_new_image_set_is_one_entry_and_trains_through_the_public_api(registered, tmp_path):
    registered(datasets.DataSpec("stripes", "image", "stripes", load=_stripes, channels=3,
                                 image_size=12, n_train=40))
    data = load_dataset(DataConfig(dataset="stripes", limit=8))
    assert data.samples.shape == (8, 3, 12, 12) and data.labels.tolist() == [0, 1, 2, 3] * 2
    assert set(data.samples.unique().tolist()) == {-1.0, 1.0}  # 0 and 255 scaled to [-1, 1]
    assert data_overrides("stripes") == {"data.dataset": "stripes"}
    run = gankit.train("smoke", tmp_path / "run", log=lambda s: None,
                       **{"data.dataset": "stripes", "train.epochs": 1, "train.threads": 1,
                          "data.limit": None, "train.batch_size": 8})
    assert [m["epoch"] for m in run.metrics] == [1]
    assert run.config.data.dataset == "stripes"
    assert run.checkpoints and (tmp_path / "run" / "samples").is_dir()


def test_a_new_toy_set_is_one_entry_with_its_metrics_and_compare(registered, tmp_path):
    def two_points() -> ToyDistribution:
        return ToyDistribution("two", torch.tensor([[-1.0, 0.0], [1.0, 0.0]]), 0.1, "two modes")

    registered(datasets.DataSpec("two", "toy", "two Gaussians", toy=two_points))
    assert datasets.is_toy("two") and get_toy("two").num_modes == 2
    assert gankit.toy_datasets()[-1] == "two" and default_preset("two") == "toy"
    run = gankit.train("toy", tmp_path / "run", log=lambda s: None,
                       **{"data.dataset": "two", "train.epochs": 1, "train.threads": 1,
                          "data.toy_samples": 512, "model.g_hidden": [8],
                          "model.d_hidden": [8]})
    (last,) = run.metrics
    assert last["num_modes"] == 2 and 0 <= last["modes_covered"] <= 2  # scored against it
    # a toy set must not train an image model, as for the built-in ones
    with pytest.raises(ConfigError, match="toy-mlp"):
        build_config("default", overrides={"data.dataset": "two"})


def test_names_are_unique_and_unknown_names_list_the_registry(registered):
    with pytest.raises(ConfigError, match="registered already"):
        registered(datasets.DataSpec("mnist", "image", "again", load=_stripes))
    with pytest.raises(ConfigError, match="choose one of: " + ", ".join(datasets.DATASETS)):
        build_config("default", overrides={"data.dataset": "moons"})
    with pytest.raises(ConfigError, match="folder:PATH"):
        data_overrides("moons")
    with pytest.raises(ConfigError, match="needs a folder of IDX files"):
        build_config("default", overrides={"data.dataset": "idx"})


def _help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit):
        build_parser().parse_args([*argv, "--help"])
    return " ".join(capsys.readouterr().out.split())


def test_cli_help_and_config_docs_list_exactly_the_registry(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "1000")  # no wrapping inside a name
    shown = _help(["train"], capsys)
    train_help = re.search(r"--data SOURCE data set \(default mnist\): (.*?) --image-size",
                           shown).group(1)
    assert train_help == ", ".join(s.cli_form for s in datasets.DATASETS.values())
    compare_help = re.search(r"--data NAME data set: (.*?) --seeds", _help(["compare"], capsys))
    assert compare_help.group(1) == ", ".join(datasets.DATASETS)
    doc = field_docs(DataConfig)["dataset"]
    assert set(re.findall(r"`([a-z0-9]+)`", doc)) == set(datasets.DATASETS)


def test_the_memory_estimate_reads_the_shape_from_the_registry():
    from gankit.validation import memory_estimate

    ring, grid = build_config("toy"), build_config("toy", overrides={"data.dataset": "grid2d"})
    assert datasets.get("gaussian1d").sample_shape(ring.data) == (1,)
    assert datasets.get("folder").sample_shape(DataConfig("folder")) == (3, 32, 32)
    assert datasets.get("mnist").sample_shape(DataConfig(image_size=64)) == (1, 64, 64)
    assert memory_estimate(ring) == memory_estimate(grid)  # both 2-D, same nets and size
