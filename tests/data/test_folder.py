"""`--data folder:PATH`: PNG/JPEG, grayscale or colour, resized, broken files skipped."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gankit.config import DataConfig
from gankit.data import load_dataset, resize_images
from gankit.data.folder import load_folder
from gankit.errors import DataError


def _save(path: Path, mode: str, size: tuple[int, int], value: int = 200) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    shape = (size[1], size[0]) if mode == "L" else (size[1], size[0], 3)
    Image.fromarray(np.full(shape, value, np.uint8), mode).save(path)


def test_grayscale_folder_is_one_channel_and_resized(tmp_path: Path) -> None:
    _save(tmp_path / "a.png", "L", (40, 30))
    _save(tmp_path / "b.JPG", "L", (10, 10), value=0)
    images, labels, classes = load_folder(tmp_path, 16)
    assert images.shape == (2, 16, 16) and images.dtype == np.uint8
    assert labels is None and classes == []
    assert images[0].min() >= 195 and images[1].max() <= 5


def test_mixed_folder_becomes_rgb(tmp_path: Path) -> None:
    _save(tmp_path / "a.png", "L", (20, 20))
    _save(tmp_path / "b.jpeg", "RGB", (64, 48))
    images, _, _ = load_folder(tmp_path, 32)
    assert images.shape == (2, 32, 32, 3)


def test_subfolders_are_classes(tmp_path: Path) -> None:
    _save(tmp_path / "dogs" / "1.png", "RGB", (8, 8))
    _save(tmp_path / "cats" / "1.png", "RGB", (8, 8))
    _save(tmp_path / "cats" / "2.png", "RGB", (8, 8))
    _, labels, classes = load_folder(tmp_path, 8)
    assert classes == ["cats", "dogs"] and labels.tolist() == [0, 0, 1]


def test_broken_files_are_skipped_with_a_warning_naming_them(tmp_path: Path) -> None:
    _save(tmp_path / "good.png", "L", (8, 8))
    (tmp_path / "bad.png").write_bytes(b"not an image")
    good = (tmp_path / "good.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(good[: len(good) // 2])
    messages: list[str] = []
    images, _, _ = load_folder(tmp_path, 8, log=messages.append)
    assert images.shape[0] == 1
    assert len(messages) == 1 and "bad.png" in messages[0] and "cut.png" in messages[0]


def test_empty_or_all_broken_folders_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no .png/.jpg/.jpeg"):
        load_folder(tmp_path, 8)
    (tmp_path / "x.jpg").write_bytes(b"junk")
    with pytest.raises(DataError, match="all broken"):
        load_folder(tmp_path, 8)
    with pytest.raises(DataError, match="not a folder"):
        load_folder(tmp_path / "missing", 8)


def test_load_dataset_folder_scales_to_minus_one_one(tmp_path: Path) -> None:
    _save(tmp_path / "a.png", "RGB", (20, 20), value=255)
    data = load_dataset(DataConfig(dataset="folder", data_dir=str(tmp_path)))
    assert data.sample_shape == (3, 32, 32)  # the folder default size
    assert data.samples.max().item() == 1.0 and data.labels is None
    data = load_dataset(DataConfig(dataset="folder", data_dir=str(tmp_path), image_size=64))
    assert data.sample_shape == (3, 64, 64)


def test_resize_images_keeps_range_and_skips_same_size() -> None:
    import torch

    x = torch.rand(2, 1, 28, 28) * 2 - 1
    assert resize_images(x, 28) is x
    y = resize_images(x, 32)
    assert y.shape == (2, 1, 32, 32) and y.min() >= -1 and y.max() <= 1


def test_idx_dataset_reads_any_idx_folder(tmp_path: Path) -> None:
    idx = pytest.importorskip("gankit.data.idx")
    rng = np.random.default_rng(0)
    idx.write_idx(tmp_path / "train-images-idx3-ubyte",
                  rng.integers(0, 256, (12, 28, 28), dtype=np.uint8))
    idx.write_idx(tmp_path / "train-labels-idx1-ubyte",
                  rng.integers(0, 10, (12,), dtype=np.uint8))
    data = load_dataset(DataConfig(dataset="idx", data_dir=str(tmp_path), limit=10))
    assert data.sample_shape == (1, 28, 28) and len(data) == 10
    assert data.labels.dtype.is_floating_point is False


def test_mnist_and_idx_resize_only_when_asked(tmp_path: Path) -> None:
    idx = pytest.importorskip("gankit.data.idx")
    idx.write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((3, 5, 5), np.uint8))
    idx.write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros((3,), np.uint8))
    assert load_dataset(DataConfig(dataset="idx", data_dir=str(tmp_path))).sample_shape == (
        1, 5, 5)  # native size by default
    assert load_dataset(DataConfig(dataset="idx", data_dir=str(tmp_path),
                                   image_size=32)).sample_shape == (1, 32, 32)
