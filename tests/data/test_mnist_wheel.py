"""gankit.data.mnist_wheel: the restricted unpickler, the exact conversion of the classic
mnist.pkl.gz to uint8 and the checks on the wheel holding it."""

from __future__ import annotations

import gzip
import io
import pickle
from pathlib import Path

import numpy as np
import pytest
from mnist_support import classic_pickle, fake_arrays, fake_wheel, py2_pickle_gz

from gankit.data import mnist, mnist_wheel
from gankit.errors import DataError


def test_restricted_unpickler_refuses_os_system(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = f"cos\nsystem\n(S'touch {marker}'\ntR.".encode()
    with pytest.raises(DataError, match="os.system, which is not allowed"):
        mnist_wheel.RestrictedUnpickler(io.BytesIO(evil), encoding="latin1").load()
    with pytest.raises(DataError, match="not allowed"):
        mnist_wheel.arrays_from_pickle(gzip.compress(evil))
    assert not marker.exists()
    # the same bytes through the standard unpickler do run the command: the test is real
    pickle.loads(evil)
    assert marker.exists()


def test_restricted_unpickler_refuses_other_numpy_globals() -> None:
    sneaky = b"cnumpy\nload\n."
    with pytest.raises(DataError, match="numpy.load"):
        mnist_wheel.RestrictedUnpickler(io.BytesIO(sneaky)).load()


def test_classic_pickle_converts_exactly_to_uint8() -> None:
    arrays = fake_arrays()
    arrays["train_images"][0, 0, :3] = [0, 1, 255]  # the extremes survive
    converted = mnist_wheel.arrays_from_pickle(classic_pickle(arrays))
    for key in mnist.KEYS:
        assert converted[key].dtype == np.uint8
        np.testing.assert_array_equal(converted[key], arrays[key])  # train = train + valid


def test_classic_pickle_with_inexact_pixels_is_refused() -> None:
    x = np.full((2, 784), 0.3, dtype=np.float32)
    y = np.zeros(2, dtype=np.int64)
    with pytest.raises(DataError, match="not exact multiples of 1/256"):
        mnist_wheel.arrays_from_pickle(py2_pickle_gz(((x, y), (x, y), (x, y))))


def test_classic_pickle_with_bad_labels_is_refused() -> None:
    x = np.zeros((2, 784), dtype=np.float32)
    y = np.array([3, 10], dtype=np.int64)
    with pytest.raises(DataError, match="labels outside 0..9"):
        mnist_wheel.arrays_from_pickle(py2_pickle_gz(((x, y), (x, y), (x, y))))


def test_wheel_with_wrong_checksum_is_refused(tmp_path: Path) -> None:
    arrays = fake_arrays()
    wheel = fake_wheel(tmp_path / "fake.whl", classic_pickle(arrays))
    tampered = mnist.WheelSource(
        sha256="0" * 64, member_sha256=wheel.member_sha256, path=wheel.path
    )
    with pytest.raises(DataError, match="is not the pinned 0000"):
        mnist_wheel.arrays_from_wheel(wheel.path, tampered)
    wrong_member = mnist.WheelSource(sha256=wheel.sha256, member_sha256="1" * 64, path=wheel.path)
    with pytest.raises(DataError, match="mnist.pkl.gz: SHA256"):
        mnist_wheel.arrays_from_wheel(wheel.path, wrong_member)
    with pytest.raises(DataError, match="no such wheel file"):
        mnist_wheel.arrays_from_wheel(tmp_path / "absent.whl", wheel)
