"""Checkpoints: atomic writes, safe loading, clear errors, pruning."""

from __future__ import annotations

import io
import os
import struct
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from reliability_support import (
    FAST,
    JUNK_VALUES,
    examples,
    final_tensors,
    make_idx_dir,
    one_line_error,
    outcome,
    scratch_folder,
    small_config,
    small_run,
)

from gankit.cli import main
from gankit.config import build_config
from gankit.core.trainer import Trainer
from gankit.errors import CheckpointError, GankitError
from gankit.runs import checkpoint as ckpt
from gankit.runs.checkpoint import load_generator
from gankit.runs.loop import train


def _trainer(toy_images):
    cfg = build_config("smoke", overrides={"model.g_hidden": [16], "model.d_hidden": [16],
                                           "train.batch_size": 64})
    return Trainer(cfg, toy_images)


def test_state_round_trips_through_a_file(tmp_path, toy_images):
    t = _trainer(toy_images)
    t.train_epoch()
    path = ckpt.save_atomic(t.state_dict(), tmp_path / "checkpoints" / ckpt.checkpoint_name(1))
    state = ckpt.load(path)
    assert state["epoch"] == 1 and state["gankit_version"]
    assert state["config"]["model"]["g_hidden"] == [16]
    assert not list(tmp_path.glob("checkpoints/.*tmp"))  # no temp file left behind
    g, cfg = load_generator(tmp_path)  # a run folder resolves to its newest checkpoint
    z = torch.randn(4, cfg.model.z_dim)
    t.g.eval()
    assert torch.equal(g(z), t.g(z))


def test_truncated_checkpoint_is_a_clear_error(tmp_path, toy_images):
    path = ckpt.save_atomic(_trainer(toy_images).state_dict(), tmp_path / "c.pt")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        ckpt.load(path)


def test_non_gankit_file_is_refused(tmp_path):
    path = tmp_path / "w.pt"
    torch.save({"weight": torch.zeros(2)}, path)
    with pytest.raises(CheckpointError, match="not a gankit checkpoint"):
        ckpt.load(path)


class _Evil:
    def __reduce__(self):
        import os

        return (os.system, ("touch /tmp/gankit-pwned-by-checkpoint",))


def test_code_in_a_pickle_is_never_run(tmp_path):
    import os

    marker = "/tmp/gankit-pwned-by-checkpoint"
    if os.path.exists(marker):
        os.remove(marker)
    path = tmp_path / "evil.pt"
    torch.save({"format": 1, "x": _Evil()}, path)
    with pytest.raises(CheckpointError, match=r"refused by the safe loader.*posix.system"):
        ckpt.load(path)
    assert not os.path.exists(marker)


def test_incompatible_format(tmp_path, toy_images):
    state = _trainer(toy_images).state_dict()
    state["format"] = 99
    path = ckpt.save_atomic(state, tmp_path / "checkpoints" / "epoch_0001.pt")
    with pytest.raises(CheckpointError, match="format 99 is not supported"):
        load_generator(path)


def test_prune_keeps_the_newest(tmp_path, toy_images):
    state = _trainer(toy_images).state_dict()
    for e in (1, 2, 3, 10):
        ckpt.save_atomic({**state, "epoch": e}, tmp_path / "checkpoints" / ckpt.checkpoint_name(e))
    ckpt.prune(tmp_path, 2)
    assert [p.name for p in ckpt.list_checkpoints(tmp_path)] == ["epoch_0003.pt", "epoch_0010.pt"]


def test_missing_paths(tmp_path):
    with pytest.raises(CheckpointError, match="has no checkpoints"):
        ckpt.resolve_checkpoint(tmp_path)
    with pytest.raises(CheckpointError, match="does not exist"):
        ckpt.resolve_checkpoint(tmp_path / "nope.pt")


def test_a_checkpoint_copied_in_under_the_next_epochs_name_is_kept(tmp_path, capsys):
    from reliability_support import make_idx_dir, small_config

    from gankit.cli import main

    data = make_idx_dir(tmp_path / "idx")
    other = train(small_config(data, **{"train.epochs": 3}), tmp_path / "other", log=print)
    run = train(small_config(data, **{"train.epochs": 2}), tmp_path / "run", log=print)
    foreign = (other / "checkpoints" / "epoch_0003.pt").read_bytes()
    (run / "checkpoints" / "epoch_0003.pt").write_bytes(foreign)
    assert main(["train", "--resume", "--out", str(run), "--epochs", "3"]) == 0
    assert "kept it as epoch_0003.pt.kept" in capsys.readouterr().out
    assert (run / "checkpoints" / "epoch_0003.pt.kept").read_bytes() == foreign
    own = ckpt.load_valid(run / "checkpoints" / "epoch_0003.pt")
    assert own["run_id"] == ckpt.load_valid(run / "checkpoints" / "epoch_0002.pt")["run_id"]


def _random_rng(state):
    gen = torch.Generator().manual_seed(5)
    state["rng"]["torch"] = torch.randint(0, 256, state["rng"]["torch"].shape, generator=gen,
                                          dtype=torch.uint8)


def _lr_text(state):
    state["opt_d"]["param_groups"][0]["lr"] = "abc"


def _moment_shape(state):
    entry = state["opt_g"]["state"][0]
    entry["exp_avg"] = torch.zeros(3, 3)


def _sparse_weight(state):
    key = next(iter(state["g"]))
    state["g"][key] = state["g"][key].to_sparse()


def _complex_weight(state):
    key = next(iter(state["d"]))
    state["d"][key] = state["d"][key].to(torch.complex64)


@pytest.mark.parametrize(("damage", "match"), [
    (_random_rng, "rng.torch.*not a valid random-generator state"),
    (_lr_text, "optimiser state opt_d is invalid \\(lr 'abc'"),
    (_moment_shape, "exp_avg of parameter 0 is \\(3, 3\\)"),
    (_sparse_weight, "sparse, quantized or complex"),
    (_complex_weight, "sparse, quantized or complex"),
])
def test_a_crafted_newest_checkpoint_is_refused_at_load_and_skipped(tmp_path, toy_images,
                                                                    damage, match):
    t = _trainer(toy_images)
    t.train_epoch()
    ckpt.save_atomic(t.state_dict(), tmp_path / "checkpoints" / ckpt.checkpoint_name(1))
    t.train_epoch()
    state = t.state_dict()
    damage(state)
    newest = ckpt.save_atomic(state, tmp_path / "checkpoints" / ckpt.checkpoint_name(2))
    with pytest.raises(CheckpointError, match=match):
        ckpt.load_valid(newest)
    warned = []
    path, good = ckpt.latest_valid(tmp_path, warn=warned.append)
    assert good["epoch"] == 1 and path.name == "epoch_0001.pt"
    assert len(warned) == 1 and "epoch_0002.pt" in warned[0]
    fresh = _trainer(toy_images)
    fresh.load_state_dict(good)
    fresh.train_epoch()  # the older checkpoint trains on


@pytest.fixture(scope="module")
def state():
    tmp = scratch_folder()

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
    changes = data.draw(st.lists(st.tuples(st.sampled_from(paths), JUNK_VALUES), min_size=1,
                                 max_size=3))
    crafted = state
    for path, value in changes:
        try:
            crafted = _replace(crafted, path, value)
        except KeyError:
            continue
    path = ckpt.save_atomic(crafted, scratch_folder() / "checkpoints" / "epoch_0001.pt")
    got = outcome(ckpt.load_valid, path)
    g = outcome(load_generator, path)
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
    folder = scratch_folder()
    path = ckpt.save_atomic(state, folder / "checkpoints" / "epoch_0001.pt")
    raw = bytearray(path.read_bytes())
    for f in flips:
        raw[f % len(raw)] ^= 0xFF
    path.write_bytes(bytes(raw[: cut % (len(raw) + 1)]))
    outcome(ckpt.load_valid, path)
    outcome(load_generator, folder)


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
    path = scratch_folder() / "epoch_0001.pt"
    path.write_bytes(bytes(data))
    got = outcome(ckpt.load, path)
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


def _truncate_copy(src: Path, dst: Path) -> None:
    dst.write_bytes(src.read_bytes()[: src.stat().st_size // 2])


def test_corrupt_newer_checkpoints_never_push_good_ones_out(tmp_path, capsys):
    run = small_run(tmp_path, epochs=3)
    good = run / "checkpoints" / "epoch_0003.pt"
    for e in (7, 8, 9):
        _truncate_copy(good, run / "checkpoints" / ckpt.checkpoint_name(e))
    assert main(["train", "--resume", "--out", str(run), "--epochs", "5"]) == 0
    assert "skipping checkpoint epoch_0009.pt" in capsys.readouterr().out
    valid = [p for p in ckpt.list_checkpoints(run) if ckpt.is_valid(p)]
    assert [ckpt.epoch_of_name(p) for p in valid] == [3, 4, 5]  # keep_checkpoints=3 good ones
    assert ckpt.latest_valid(run)[1]["epoch"] == 5


def test_one_corrupt_file_with_keep_checkpoints_1(tmp_path):
    run = small_run(tmp_path, epochs=2, **{"train.keep_checkpoints": 1})
    _truncate_copy(run / "checkpoints" / "epoch_0002.pt", run / "checkpoints" / "epoch_0005.pt")
    assert main(["train", "--resume", "--out", str(run), "--epochs", "3"]) == 0
    assert ckpt.latest_valid(run)[1]["epoch"] == 3
    assert ckpt.load_valid(run / "checkpoints" / "epoch_0003.pt")["epoch"] == 3


@pytest.fixture(scope="module")
def good_state(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("good")
    run = small_run(tmp, epochs=1)
    return ckpt.load(run / "checkpoints" / "epoch_0001.pt")


CRAFTED = {
    "config": [1, 2], "g": [1], "ema": [1], "n_classes": "abc", "sample_shape": "x",
    "epoch": "two", "opt_g": [1], "rng": [1], "iteration": -1, "format": "1",
    "fixed_z": torch.zeros(100, 3), "elapsed": float("nan"), "run_id": 5,
}


@pytest.mark.parametrize("field, value", [
    *CRAFTED.items(), ("n_classes", -3), ("n_classes", 10**9), ("sample_shape", [1, -8, 8]),
    ("sample_shape", [10**6, 10**6]), ("config", {"model": {"z_dim": 10**12}}),
    ("config", {"model": {"g_hidden": "big"}}), ("fixed_z", [[0.0]]),
    ("rng", {"torch": torch.zeros(3, dtype=torch.uint8)}), ("d", {"w": "x"}),
    ("opt_d", {"state": [], "param_groups": 1}),
])
def test_crafted_checkpoint_fields_are_one_checkpoint_error(good_state, field, value,
                                                                tmp_path, capsys):
    state = {**good_state, field: value}
    path = ckpt.save_atomic(state, tmp_path / "checkpoints" / "epoch_0001.pt")
    with pytest.raises(CheckpointError) as err:
        ckpt.load_valid(path)
    assert field in str(err.value) or "checkpoint" in str(err.value)
    for argv in (["sample", "--checkpoint", str(path), "--out", str(tmp_path / "s.png")],
                 ["export", "--checkpoint", str(path), "--out", str(tmp_path / "g.pt")],
                 ["train", "--resume", "--out", str(tmp_path)]):
        one_line_error(capsys, main(argv), "checkpoint")


def test_a_checkpoint_that_does_not_fit_names_the_key_and_shapes(good_state, tmp_path,
                                                                    capsys):
    g = dict(good_state["g"])
    key = next(k for k, v in g.items() if v.ndim == 2)
    g[key] = torch.zeros(3, 3)
    path = ckpt.save_atomic({**good_state, "g": g, "ema": None}, tmp_path / "x.pt")
    rc = main(["sample", "--checkpoint", str(path), "--out", str(tmp_path / "s.png")])
    one_line_error(capsys, rc, f"MLPGenerator.{key} has shape (3, 3) in the file")


def test_nan_weights_are_an_error(good_state, tmp_path, capsys):
    g = {k: torch.full_like(v, float("nan")) for k, v in good_state["g"].items()}
    path = ckpt.save_atomic({**good_state, "g": g}, tmp_path / "nan.pt")
    rc = main(["sample", "--checkpoint", str(path), "--out", str(tmp_path / "s.png")])
    one_line_error(capsys, rc, "NaN or infinity", "earlier checkpoint")
    assert not (tmp_path / "s.png").exists()


def test_torchscript_file_and_random_bytes(tmp_path, capsys):
    script = tmp_path / "g.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), script)
    rc = main(["sample", "--checkpoint", str(script)])
    err = one_line_error(capsys, rc, "TorchScript", "not a training checkpoint")
    assert "weights_only" not in err and "Warning" not in err
    noise = tmp_path / "noise.npy"
    noise.write_bytes(b"\x93NUMPY\x01\x00v\x00{'descr': '|O', 'fortran_order': False, "
                      b"'shape': (3,), }" + b" " * 50 + b"\n" + bytes(range(64)))
    err = one_line_error(capsys, main(["eval", "--images", str(noise)]), "--images")
    assert "allow_pickle" not in err
    noise.write_bytes(b"\x93NUMPY\x01\x00\x10\x00{'descr': ((((\n" + bytes(range(64)))
    err = one_line_error(capsys, main(["eval", "--images", str(noise)]), "not a readable")


def test_checkpoints_get_the_mode_of_other_outputs(tmp_path):
    old = os.umask(0o022)
    try:
        run = small_run(tmp_path, epochs=1)
    finally:
        os.umask(old)
    mode = (run / "checkpoints" / "epoch_0001.pt").stat().st_mode & 0o777
    assert mode == (run / "config.yaml").stat().st_mode & 0o777 == 0o644
