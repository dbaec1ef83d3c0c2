"""gankit.results: what the Python API hands back (`Samples`, `Evaluation`) and how they
turn into arrays, files and the notebook's displays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.errors import GankitError
from gankit.results import Evaluation, Samples, label_rows


def test_samples_of_images_become_uint8_and_files(tmp_path: Path) -> None:
    x = torch.tensor([-1.0, 0.0, 1.0]).reshape(1, 1, 1, 3).repeat(4, 1, 3, 1)  # (4, 1, 3, 3)
    s = Samples(x, nrow=2)
    assert repr(s) == "Samples(4 images of shape (1, 3, 3))" and len(s) == 4
    arr = s.numpy()
    assert arr.shape == (4, 3, 3) and arr.dtype == np.uint8
    assert arr[0, 0, 0] == 0 and arr[0, 0, 2] == 255
    np.testing.assert_array_equal(np.load(s.save(tmp_path / "s.npy")), arr)
    assert s.image(scale=1).size == (12, 12)  # 2 x 2 tiles of 3 px, 2 px borders
    assert s.image().size == (24, 24)  # twice that by default
    with Image.open(s.save(tmp_path / "s.png")) as saved:
        assert saved.format == "PNG" and saved.size[0] % 12 == 0
    with pytest.raises(GankitError, match="must end in .png"):
        s.save(tmp_path / "s.jpg")
    with pytest.raises(GankitError, match="it is a folder"):
        s.save(tmp_path)


def test_points_stay_float_and_label_rows_adds_a_margin() -> None:
    points = Samples(torch.zeros(5, 2, dtype=torch.float64))
    assert points.is_points and repr(points) == "Samples(5 points of shape (2,))"
    assert points.numpy().dtype == np.float32
    img = Image.new("L", (40, 20), 128)
    labelled = label_rows(img, ["a", "b"], width=24)
    assert labelled.size == (64, 20) and labelled.mode == "L"
    assert labelled.getpixel((30, 10)) == 128  # the grid, shifted right by the margin


def test_evaluation_is_the_metrics_dict_and_shows_the_table() -> None:
    ev = Evaluation({"n": 10.0, "fid": 3.0}, [0.1] * 10, {"fid": 1.0}, "<G>", ["few samples"])
    assert dict(ev) == {"n": 10.0, "fid": 3.0} and ev.warnings == ["few samples"]
    assert ev.table().startswith("eval of <G>")
    assert ev._repr_html_().startswith("<pre>eval of &lt;G&gt;")
