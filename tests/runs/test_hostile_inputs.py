"""Hostile inputs, property-based: every input ends in a correct result or one GankitError line.

Covered: the IDX reader (random, truncated and gzipped bytes, huge declared sizes, unicode
paths), the `idx` data set folder, the config loader (random bytes, random nested values,
wrong types, unknown keys, unicode paths, --set strings), the checkpoint loader (random
truncations and byte flips of a real checkpoint) and the shipped safetensors extractor
weights (damaged bytes, a pickle in their place, a broken json record). Any other exception
fails the test.
"""

from __future__ import annotations

import gzip
import io
import math
import struct
import tempfile
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from reliability_support import final_tensors

from gankit.config import Config, DataConfig, build_config, dump_yaml
from gankit.data import load_dataset
from gankit.data.idx import DTYPES, read_idx, write_idx
from gankit.errors import GankitError
from gankit.runs import checkpoint as ckpt

FAST = settings(max_examples=60, deadline=2000,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

NAMES = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\"),
                min_size=1, max_size=20).filter(lambda s: s not in (".", ".."))
"""File names: any printable unicode (no separators, no surrogates)."""


def _outcome(fn, *args, **kwargs):
    """fn(...)'s result, or None after a one-line GankitError; anything else propagates."""
    try:
        return fn(*args, **kwargs)
    except GankitError as err:
        assert "\n" not in str(err) and str(err)
        return None


def _folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="gankit-hostile-"))


# ------------------------------------------------------------------------- IDX reader
def _idx_bytes(code: int, shape: tuple[int, ...], body: bytes) -> bytes:
    return bytes([0, 0, code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape) + body


@FAST
@given(data=st.binary(max_size=300), gz=st.booleans(), name=NAMES)
@example(data=b"", gz=False, name="x").via("empty file")
@example(data=b"\x00\x00\x08\x01", gz=False, name="x").via("header without sizes")
def test_idx_reader_on_random_bytes(data, gz, name):
    path = _folder() / (name + (".gz" if gz else ""))
    path.write_bytes(data)
    got = _outcome(read_idx, path)
    if got is not None:  # only a self-consistent file reads: header + exactly its data
        assert data[:2] == b"\0\0" and got.size * got.dtype.itemsize == len(data) - 4 - 4 * got.ndim


@FAST
@given(code=st.sampled_from(sorted(DTYPES)),
       shape=st.lists(st.integers(0, 6), min_size=1, max_size=4).map(tuple),
       cut=st.integers(0, 400), gz=st.booleans(), name=NAMES)
def test_idx_reader_on_truncated_and_padded_files(code, shape, cut, gz, name):
    rng = np.random.default_rng(0)
    dtype = DTYPES[code]
    array = (rng.integers(0, 100, shape)).astype(dtype)
    full = _idx_bytes(code, shape, array.tobytes())
    data = full[:cut] if cut < len(full) else full + b"\x01" * (cut - len(full))
    path = _folder() / (name + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(data) if gz else data)
    got = _outcome(read_idx, path)
    if data == full:
        np.testing.assert_array_equal(got, array.astype(dtype.newbyteorder("=")))
    else:
        assert got is None


@settings(max_examples=40, deadline=2000)
@given(shape=st.lists(st.integers(1, 2**32 - 1), min_size=1, max_size=16),
       code=st.sampled_from(sorted(DTYPES)), gz=st.booleans(), tail=st.binary(max_size=64))
def test_idx_huge_declared_sizes_are_refused_without_allocating(shape, code, gz, tail):
    n = math.prod(shape) * DTYPES[code].itemsize
    path = _folder() / ("big.gz" if gz else "big")
    data = _idx_bytes(code, tuple(shape), tail)
    path.write_bytes(gzip.compress(data) if gz else data)
    tracemalloc.start()
    try:
        got = _outcome(read_idx, path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert got is None or n == len(tail)
    assert peak < 8 << 20  # never anything like the declared size


@FAST
@given(array=st.integers(1, 3).flatmap(lambda nd: st.lists(
    st.integers(0, 255), min_size=1, max_size=60)).map(lambda v: np.array(v, np.uint8)),
    name=NAMES, gz=st.booleans())
def test_idx_round_trip_under_unicode_names(array, name, gz):
    path = write_idx(_folder() / (name + (".gz" if gz else "")), array)
    np.testing.assert_array_equal(read_idx(path), array)


@FAST
@given(images=st.binary(max_size=200), labels=st.binary(max_size=40), name=NAMES,
       valid_images=st.booleans())
def test_idx_data_set_folder_with_hostile_files(images, labels, name, valid_images):
    folder = _folder() / name
    folder.mkdir()
    if valid_images:
        n = len(labels)
        images = _idx_bytes(8, (n, 2, 2), bytes(4 * n))
        labels = _idx_bytes(8, (n,), labels)
    (folder / "train-images-idx3-ubyte").write_bytes(images)
    (folder / "train-labels-idx1-ubyte").write_bytes(labels)
    got = _outcome(load_dataset, DataConfig(dataset="idx", data_dir=str(folder)))
    if got is not None:
        assert got.samples.dtype == torch.float32 and got.samples.shape[1:] == (1, 2, 2)
        assert len(got) > 0 and got.samples.abs().max() <= 1


# ------------------------------------------------------------------------- config loader
SCALARS = (st.none() | st.booleans() | st.integers(-(2**70), 2**70)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12))
KEYS = NAMES | st.sampled_from(["data", "model", "loss", "train", "preset", "epochs", "seed",
                                 "g_hidden", "lr_d", "dataset", "limit", "dropout", "device"])
VALUES = st.recursive(SCALARS, lambda kids: st.lists(kids, max_size=4)
                      | st.dictionaries(KEYS, kids, max_size=5), max_leaves=12)


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
    path = _folder() / (name + suffix)
    path.write_bytes(data)
    _check_config(_outcome(build_config, "smoke", path))


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
@pytest.mark.parametrize("text", ["[" * 1500, "{a: " * 1500, '{"a": ' * 1500])
def test_deeply_nested_config_is_one_error_not_a_recursion_error(tmp_path, suffix, text):
    path = tmp_path / f"deep{suffix}"
    path.write_text(text)
    assert _outcome(build_config, "smoke", path) is None


@FAST
@given(tree=st.dictionaries(KEYS, VALUES, max_size=6), as_json=st.booleans())
def test_config_file_of_random_structures(tree, as_json):
    import json

    import yaml

    path = _folder() / ("c.json" if as_json else "c.yaml")
    try:
        text = json.dumps(tree) if as_json else yaml.safe_dump(tree)
    except (ValueError, yaml.YAMLError):
        return
    path.write_text(text, encoding="utf-8")
    _check_config(_outcome(build_config, "smoke", path))


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
    _check_config(_outcome(build_config, "smoke", None, {key: value}))


@FAST
@given(name=NAMES)
def test_config_round_trips_under_a_unicode_path(name):
    cfg = build_config("smoke", overrides={"data.data_dir": name})
    path = _folder() / (name + ".yaml")
    path.write_text(dump_yaml(cfg), encoding="utf-8")
    assert build_config("smoke", path) == cfg


# ------------------------------------------------------------------------- checkpoints
@pytest.fixture(scope="module")
def checkpoint_state() -> dict:
    from gankit.core.trainer import Trainer

    cfg = build_config("smoke", overrides={"model.g_hidden": [4], "model.d_hidden": [4],
                                           "model.z_dim": 2, "train.batch_size": 2})
    return Trainer(cfg, torch.zeros(4, 1, 2, 2)).state_dict()


@pytest.fixture(scope="module")
def checkpoint_bytes(checkpoint_state) -> bytes:
    buf = io.BytesIO()
    torch.save(checkpoint_state, buf)
    return buf.getvalue()


@FAST
@given(cut=st.integers(0, 10**6), flips=st.lists(st.tuples(st.integers(0, 10**6),
                                                            st.integers(1, 255)), max_size=4))
def test_checkpoint_loader_on_damaged_files(checkpoint_state, checkpoint_bytes, cut, flips):
    data = bytearray(checkpoint_bytes[: cut % (len(checkpoint_bytes) + 1)])
    for pos, xor in flips:
        if data:
            data[pos % len(data)] ^= xor
    path = _folder() / "epoch_0001.pt"
    path.write_bytes(bytes(data))
    got = _outcome(ckpt.load, path)
    if got is not None:  # a damage that loads must be harmless: never silently wrong weights
        want, have = final_tensors(checkpoint_state), final_tensors(got)
        assert want.keys() == have.keys() and all(torch.equal(want[k], have[k]) for k in want)


def test_a_flipped_bit_in_the_weights_is_caught(tmp_path, checkpoint_bytes):
    import zipfile

    data = bytearray(checkpoint_bytes)
    with zipfile.ZipFile(io.BytesIO(checkpoint_bytes)) as archive:
        info = next(i for i in archive.infolist() if "/data/" in i.filename)
    name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26:
                                                    info.header_offset + 30])
    data[info.header_offset + 30 + name_len + extra_len + 1] ^= 0x10  # a weight's byte
    path = tmp_path / "epoch_0001.pt"
    path.write_bytes(bytes(data))
    with pytest.raises(GankitError, match="CRC mismatch in .*data/"):
        ckpt.load(path)


# ------------------------------------------------------------------------- shipped weights
def _weights_copy(data: bytes, record: bytes | None = None) -> Path:
    """The extractor's weights file holding `data`, beside a json record whose SHA256 matches
    (so the safetensors parser itself meets the bytes), unless `record` is given."""
    import hashlib
    import json

    from gankit.metrics.features import default_weights

    folder = _folder()
    path = folder / default_weights().name
    path.write_bytes(data)
    if record is None:
        meta = json.loads(default_weights().with_suffix(".json").read_text())
        meta["sha256"] = hashlib.sha256(data).hexdigest()
        record = json.dumps(meta).encode()
    path.with_suffix(".json").write_bytes(record)
    return path


@pytest.fixture(scope="module")
def shipped() -> bytes:
    from gankit.metrics.features import default_weights

    return default_weights().read_bytes()


def test_shipped_weights_load_and_a_pickle_in_their_place_is_refused(tmp_path, shipped):
    from gankit.metrics.features import load_extractor

    assert load_extractor() is not None  # the shipped asset, SHA256-checked
    marker = tmp_path / "marker"
    buf = io.BytesIO()

    class _Marker:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    torch.save({"conv.weight": _Marker()}, buf)
    with pytest.raises(GankitError):
        load_extractor(_weights_copy(buf.getvalue()))
    assert not marker.exists()


@FAST
@given(cut=st.integers(0, 10**7), flips=st.lists(st.tuples(st.integers(0, 10**7),
                                                            st.integers(1, 255)), max_size=3),
       header=st.one_of(st.none(), st.integers(0, 2**64 - 1)))
@example(cut=10**7, flips=[], header=2**63).via("header length beyond the file")
def test_safetensors_weights_damaged(shipped, cut, flips, header):
    from gankit.metrics.features import load_extractor

    data = bytearray(shipped[: cut % (len(shipped) + 1)])
    for pos, xor in flips:
        if data:
            data[pos % len(data)] ^= xor
    if header is not None and len(data) >= 8:
        data[:8] = struct.pack("<Q", header)
    _outcome(load_extractor, _weights_copy(bytes(data)))


@FAST
@given(record=st.binary(max_size=80) | st.sampled_from([b"[]", b"null", b"{}", b'"x"',
                                                          b'{"sha256": 5}']))
def test_extractor_record_of_random_bytes(shipped, record):
    from gankit.metrics.features import load_extractor

    assert _outcome(load_extractor, _weights_copy(shipped, record)) is None
