"""Property-based attacks on every input a user hands gankit: checkpoints, configs, metrics
logs, evaluation JSON and image inputs. Each input ends in a result or one GankitError line
(bounded length); any other exception, a traceback, fails the test.

Example counts are modest so the default run stays quick; a longer fuzz pass multiplies
them: GANKIT_FUZZ_EXAMPLES=2000 OMP_NUM_THREADS=1 pytest tests/test_hostile_fuzz.py
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_support import make_idx_dir, small_config

from gankit.config import SECTIONS, Config, build_config
from gankit.errors import MAX_MESSAGE, GankitError
from gankit.metrics.images import load_images
from gankit.report.page import render_run
from gankit.report.read import read_eval, read_run
from gankit.runs import checkpoint as ckpt
from gankit.runs.checkpoint import load_generator

N = int(os.environ.get("GANKIT_FUZZ_EXAMPLES", "0"))


def examples(default: int) -> settings:
    """`default` examples (GANKIT_FUZZ_EXAMPLES overrides), no deadline, fixtures allowed."""
    return settings(max_examples=N or default, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow, HealthCheck.data_too_large])


def _outcome(fn, *args, **kwargs):
    """fn(...)'s result, or None after a one-line, bounded GankitError; others propagate."""
    try:
        return fn(*args, **kwargs)
    except GankitError as err:
        text = str(err)
        assert text and "\n" not in text and len(text) <= MAX_MESSAGE
        return None


def _folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="gankit-fuzz-"))


# --------------------------------------------------------------------------- junk values
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
    st.sampled_from([0, -1, 1, 2**63, 10**12, "", "abc", [], {}, [1, -3], [10**9] * 3]),
)
JUNK = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12)
TENSORS = st.builds(
    lambda shape, dtype, fill: torch.full(shape, fill).to(dtype),
    st.lists(st.integers(0, 5), max_size=3).map(tuple),
    st.sampled_from([torch.float32, torch.float64, torch.uint8, torch.int64, torch.bool]),
    st.sampled_from([0.0, 1.0, float("nan"), float("inf")]),
)
VALUES = st.one_of(JUNK, TENSORS)


# --------------------------------------------------------------------------- checkpoints
@pytest.fixture(scope="module")
def state():
    tmp = _folder()
    from gankit.runs.loop import train

    cfg = small_config(make_idx_dir(tmp / "idx"), **{"train.epochs": 1, "train.ema": 0.9})
    run = train(cfg, tmp / "run", log=lambda _: None)
    return ckpt.load(run / "checkpoints" / "epoch_0001.pt")


def _paths(tree, prefix=()):
    """Every key path of a nested dict (weights and optimiser states included)."""
    for key, value in tree.items():
        yield (*prefix, key)
        if isinstance(value, dict) and len(prefix) < 3:
            yield from _paths(value, (*prefix, key))


def _replace(tree, path, value):
    if not isinstance(tree, dict):
        raise KeyError(path[0])  # a parent already replaced by a non-mapping
    out = dict(tree)
    if len(path) == 1:
        out[path[0]] = value
    else:
        out[path[0]] = _replace(tree[path[0]], path[1:], value)
    return out


@examples(40)
@given(data=st.data())
def test_checkpoint_fields_replaced_by_junk(state, data):
    paths = sorted(_paths(state), key=str)
    changes = data.draw(st.lists(st.tuples(st.sampled_from(paths), VALUES), min_size=1,
                                 max_size=3))
    crafted = state
    for path, value in changes:
        try:
            crafted = _replace(crafted, path, value)
        except KeyError:
            continue
    path = ckpt.save_atomic(crafted, _folder() / "checkpoints" / "epoch_0001.pt")
    got = _outcome(ckpt.load_valid, path)
    g = _outcome(load_generator, path)
    if got is None:
        assert g is None  # what validation refuses, no command uses
    if g is not None:
        z = torch.randn(2, g[1].model.z_dim)
        with torch.no_grad():
            from gankit.core.models import generate

            labels = torch.zeros(2, dtype=torch.long) if getattr(g[0], "n_classes", 0) else None
            assert torch.isfinite(generate(g[0], z, labels)).all()


@examples(30)
@given(cut=st.integers(0, 10**7), flips=st.lists(st.integers(0, 10**7), max_size=4))
def test_checkpoint_bytes_cut_and_flipped(state, cut, flips):
    folder = _folder()
    path = ckpt.save_atomic(state, folder / "checkpoints" / "epoch_0001.pt")
    raw = bytearray(path.read_bytes())
    for f in flips:
        raw[f % len(raw)] ^= 0xFF
    path.write_bytes(bytes(raw[: cut % (len(raw) + 1)]))
    _outcome(ckpt.load_valid, path)
    _outcome(load_generator, folder)


# --------------------------------------------------------------------------- configs
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
    path = _folder() / ("c.json" if as_json else "c.yaml")
    path.write_text(json.dumps(tree) if as_json else yaml.safe_dump(tree))
    _outcome(build_config, None, path)


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
    path = _folder() / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    assert _outcome(build_config, None, path) is None


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
    folder = _folder()
    if kind == "config":
        (folder / "bomb.yaml").write_text(text)
        assert _outcome(build_config, None, folder / "bomb.yaml") is None
    elif kind == "set":
        flat = "{" + ", ".join(f"{k}: [1, 2]" for k in keys) + "}"
        value = f"[&a {flat}" + "".join(f", &b{d} [*a, *a]" for d in range(depth)) + "]"
        _outcome(build_config, None, None, {"model.g_hidden": value})
    else:
        (folder / "config.yaml").write_text(text)
        (folder / "metrics.jsonl").write_text('{"epoch": 1, "loss_d": 1.0}\n')
        run = read_run(folder)
        assert run.config is None or isinstance(run.config, dict)
        render_run(run, folder)


API_VALUES = st.one_of(st.integers(-(2**70), 2**70), st.floats(allow_nan=True),
                       st.text(max_size=5), st.none(), st.booleans(),
                       st.sampled_from([0, -1, 10.5, 10**11, 2**63, "x", [], {}, 1e308]))


@examples(60)
@given(method=st.sampled_from(["sample", "per_class", "interpolate", "latents", "toy_data",
                               "evaluate", "grid"]),
       args=st.dictionaries(st.sampled_from(["n", "seed", "digit", "nrow", "steps", "epoch",
                                             "batch_size"]), API_VALUES, max_size=3))
def test_api_arguments(api_generator, method, args):
    """The Python API's functions with junk arguments: a result or one GankitError line."""
    import gankit

    g, run = api_generator
    allowed = {"sample": {"n", "seed", "digit", "nrow"}, "per_class": {"n", "seed"},
               "interpolate": {"n", "steps", "seed"}, "latents": {"n", "seed"},
               "toy_data": {"n", "seed"}, "evaluate": {"n", "seed", "batch_size"},
               "grid": {"epoch"}}[method]
    kwargs = {k: v for k, v in args.items() if k in allowed}
    if method == "toy_data":
        _outcome(gankit.toy_data, "ring2d", **kwargs)
    elif method == "evaluate":  # only the argument checks: they come before any scoring
        if {"n", "seed", "batch_size"} - set(kwargs):
            kwargs.setdefault("n", 10**11)  # a valid call would score: make it fail its check
        _outcome(gankit.evaluate, g, device="cpu", **kwargs)
    elif method == "grid":
        _outcome(run.grid, **kwargs)
    else:
        n = kwargs.setdefault("n", 4)
        if isinstance(n, int) and not isinstance(n, bool) and 64 < n <= 100_000:
            kwargs["n"] = 64  # valid sizes stay small: the test checks refusals, not speed
        _outcome(getattr(g, method), **kwargs)


@pytest.fixture(scope="module")
def api_generator():
    import gankit

    tmp = _folder()
    run = gankit.train("toy", tmp / "run", log=lambda _: None, epochs=1, toy_samples=256,
                       sample_every=1)
    cfg = small_config(make_idx_dir(tmp / "idx"), **{"train.epochs": 1, "model.conditional": True})
    from gankit.runs.loop import train

    return gankit.load(train(cfg, tmp / "img", log=lambda _: None), "cpu"), run


@examples(40)
@given(raw=st.binary(max_size=400))
def test_config_files_of_random_bytes(raw):
    path = _folder() / "c.yaml"
    path.write_bytes(raw)
    _outcome(build_config, None, path)


# --------------------------------------------------------------------- metrics logs, eval JSON
@pytest.fixture(scope="module")
def run_folder():
    tmp = _folder()
    from gankit.runs.loop import train

    cfg = small_config(make_idx_dir(tmp / "idx"), **{"train.epochs": 2})
    return train(cfg, tmp / "run", log=lambda _: None)


JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**64), 2**64),
              st.floats(allow_nan=False), st.text(max_size=10)),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=10)
LINES = st.one_of(
    JSON_VALUES.map(json.dumps),
    st.dictionaries(st.sampled_from(["epoch", "loss_d", "loss_g", "d_real", "d_fake", "fid",
                                     "images_per_s", "iteration", "elapsed"]),
                    JSON_VALUES, max_size=6).map(json.dumps),
    st.text(max_size=40),
    st.integers(1, 3000).map(lambda d: "[" * d + "]" * d),
)


@examples(8)
@given(lines=st.lists(LINES, max_size=6), evals=st.lists(JSON_VALUES, max_size=2),
       deep=st.integers(0, 3000))
def test_report_of_damaged_metrics_and_eval_files(run_folder, lines, evals, deep):
    import shutil

    folder = _folder() / "run"
    shutil.copytree(run_folder, folder, ignore=shutil.ignore_patterns("checkpoints"))
    with open(folder / "metrics.jsonl", "a", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    for i, value in enumerate(evals):
        (folder / f"eval_{i}.json").write_text(json.dumps(value))
    if deep:
        (folder / "eval_deep.json").write_text("{\"a\": " * deep + "1" + "}" * deep)
    run = _outcome(read_run, folder)
    if run is not None:
        assert isinstance(render_run(run), str)


@examples(40)
@given(value=JSON_VALUES)
def test_eval_json_of_junk(value):
    path = _folder() / "eval.json"
    path.write_text(json.dumps(value))
    _outcome(read_eval, path)


# --------------------------------------------------------------------------- image inputs
DTYPES = ["|u1", "<f4", "<f8", "<i8", "|b1", "|O", "<c8", "|S3", "<U2", "|V4", ">f4"]


@examples(60)
@given(shape=st.lists(st.integers(0, 2**40), max_size=4).map(tuple),
       dtype=st.sampled_from(DTYPES), body=st.binary(max_size=2000),
       fill=st.one_of(st.none(), st.integers(0, 4)))
def test_npy_headers_and_bodies(shape, dtype, body, fill):
    path = _folder() / "x.npy"
    header = {"descr": dtype, "fortran_order": False, "shape": shape}
    with open(path, "wb") as fh:
        try:
            np.lib.format.write_array_header_1_0(fh, header)
        except ValueError:
            return
        if fill is not None and all(s < 64 for s in shape) and dtype in ("|u1", "<f4"):
            n = int(np.prod(shape)) * np.dtype(dtype).itemsize
            fh.write(bytes([fill]) * n)
        else:
            fh.write(body)
    got = _outcome(load_images, path)
    if got is not None:
        assert got.ndim == 4 and got.shape[1:] == (1, 28, 28)
        assert got.min() >= -1 and got.max() <= 1


@examples(60)
@given(header=st.one_of(st.binary(max_size=120), st.text(max_size=120).map(str.encode)),
       version=st.sampled_from([b"\x01\x00", b"\x02\x00", b"\x03\x00", b"\x09\x09"]),
       body=st.binary(max_size=200), suffix=st.sampled_from([".npy", ".npz"]))
def test_npy_raw_header_bytes(header, version, body, suffix):
    path = _folder() / f"x{suffix}"
    size = struct.pack("<H" if version == b"\x01\x00" else "<I", len(header))
    raw = b"\x93NUMPY" + version + size + header + body
    if suffix == ".npz":
        import zipfile

        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("images.npy", raw)
    else:
        path.write_bytes(raw)
    got = _outcome(load_images, path)
    assert got is None or got.shape[1:] == (1, 28, 28)


def _png(width: int, height: int, claim: tuple[int, int] | None = None) -> bytes:
    from io import BytesIO

    from PIL import Image

    buf = BytesIO()
    Image.new("L", (width, height), 128).save(buf, format="PNG")
    data = bytearray(buf.getvalue())
    if claim is not None:
        ihdr = struct.pack(">II", *claim) + bytes(data[24:29])
        data[16:29] = ihdr
        data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr) & 0xFFFFFFFF)
    return bytes(data)


@examples(30)
@given(files=st.lists(st.one_of(
    st.tuples(st.integers(1, 40), st.integers(1, 40)).map(lambda s: _png(*s)),
    st.tuples(st.integers(1, 10**5), st.integers(1, 10**5)).map(lambda c: _png(28, 28, c)),
    st.binary(max_size=300)), min_size=1, max_size=4), npz=st.booleans())
def test_png_folders_and_npz_archives(files, npz):
    folder = _folder() / "pngs"
    folder.mkdir()
    for i, data in enumerate(files):
        (folder / f"{i}.png").write_bytes(data)
    got = _outcome(load_images, folder)
    if got is not None:
        assert got.shape == (len(files), 1, 28, 28)
    if npz:
        path = folder.parent / "x.npz"
        path.write_bytes(b"PK\x03\x04" + files[0][:200])
        assert _outcome(load_images, path) is None
