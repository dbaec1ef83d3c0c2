"""Checkpoints: atomic writes, safe loading, clear errors, pruning."""

from __future__ import annotations

import pytest
import torch

from gankit.config import build_config
from gankit.core.trainer import Trainer
from gankit.errors import CheckpointError
from gankit.runs import checkpoint as ckpt
from gankit.runs.checkpoint import load_generator


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
    from gankit.runs.loop import train

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
