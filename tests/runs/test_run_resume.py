"""gankit.runs.resume: which folder and checkpoint --resume takes, and the command it prints."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

from reliability_support import (
    checkpoint_epochs,
    make_idx_dir,
    one_line_error,
    small_config,
    small_run,
)

from gankit.cli import main
from gankit.runs import checkpoint as ckpt
from gankit.runs.loop import train
from gankit.runs.resume import resume_command, run_id_of


def _run(tmp_path: Path, name: str = "run", epochs: int = 2) -> Path:
    cfg = small_config(make_idx_dir(tmp_path / "idx"), **{"train.epochs": epochs})
    return train(cfg, tmp_path / name, log=lambda _: None)


def test_resume_out_a_checkpoint_outside_a_run_folder_touches_nothing(tmp_path, capsys):
    run = _run(tmp_path)
    home = tmp_path / "home"
    (home / "Downloads").mkdir(parents=True)
    for name in ("report.html", "metrics.jsonl"):
        (home / name).write_text("the user's own file\n")
    model = home / "Downloads" / "model.pt"
    shutil.copy(run / "checkpoints" / "epoch_0002.pt", model)
    assert main(["train", "--resume", "--out", str(model), "--epochs", "3"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "give the run folder" in err
    assert sorted(p.name for p in home.iterdir()) == ["Downloads", "metrics.jsonl", "report.html"]
    assert (home / "report.html").read_text() == "the user's own file\n"


def test_resume_out_a_checkpoint_in_its_run_folder_continues_that_run(tmp_path, capsys):
    run = _run(tmp_path)
    ckpt = run / "checkpoints" / "epoch_0002.pt"
    assert main(["train", "--resume", "--out", str(ckpt), "--epochs", "3"]) == 0
    assert (run / "checkpoints" / "epoch_0003.pt").is_file()


def test_the_printed_resume_command_pastes_into_a_shell(tmp_path):
    out = tmp_path / "my runs" / "Größe $HOME; rm -rf"
    command = resume_command(out)
    assert shlex.split(command) == ["gankit", "train", "--resume", "--out", str(out)]


def test_damaged_metrics_lines_never_stop_a_resume(tmp_path, capsys):
    run = _run(tmp_path)
    with open(run / "metrics.jsonl", "a") as fh:
        fh.write('{"epoch": "two", "loss_d": 1.0}\n{"epoch": null}\n')
        fh.write('{"epoch": 2, "loss_d": ' + "7" * 5000 + "}\n")
    assert main(["train", "--resume", "--out", str(run), "--epochs", "3"]) == 0
    from gankit.log import read_metrics

    assert [r["epoch"] for r in read_metrics(run / "metrics.jsonl")] == [1, 2, 3]
    assert main(["report", str(run)]) == 0


def test_a_checkpoint_without_run_id_from_another_run_is_not_blamed_on_an_edit(tmp_path,
                                                                               capsys):
    from gankit.runs import checkpoint as ckpt

    data = make_idx_dir(tmp_path / "idx")
    run = train(small_config(data, **{"train.epochs": 2}), tmp_path / "run", log=lambda _: None)
    other = train(small_config(data, **{"train.epochs": 3, "model.d_hidden": [64]}),
                  tmp_path / "other", log=lambda _: None)
    state = ckpt.load(other / "checkpoints" / "epoch_0003.pt")
    del state["run_id"]  # as a checkpoint of gankit before run ids
    ckpt.save_atomic(state, run / "checkpoints" / "epoch_0003.pt")
    assert main(["train", "--resume", "--out", str(run), "--epochs", "4"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "carries no run id" in err and "move it out" in err
    assert "model.d_hidden" in err


def test_a_flag_beats_an_edit_of_config_yaml_and_the_log_says_so(tmp_path, capsys):
    run = _run(tmp_path, epochs=3)
    path = run / "config.yaml"
    path.write_text(path.read_text().replace("epochs: 3", "epochs: 5"))
    assert main(["train", "--resume", "--out", str(run), "--epochs", "4"]) == 0
    out = capsys.readouterr().out
    assert "edit applied" not in out
    assert "config.yaml edit of train.epochs (5) not applied: the command line sets 4" in out
    assert (run / "checkpoints" / "epoch_0004.pt").is_file()
    assert not (run / "checkpoints" / "epoch_0005.pt").exists()


def test_a_resume_checks_the_checkpoint_once(tmp_path, monkeypatch):
    from gankit.core import state as state_mod
    from gankit.core import trainer as trainer_mod
    from gankit.runs import checkpoint as ckpt_mod

    run = _run(tmp_path)
    checked: list[str] = []
    real = state_mod.validate_state

    def counting(state, where="checkpoint"):  # noqa: ANN001, ANN202
        if not isinstance(state, state_mod.ValidState):
            checked.append(where)
        return real(state, where)

    monkeypatch.setattr(ckpt_mod, "validate_state", counting)
    monkeypatch.setattr(trainer_mod, "validate_state", counting)
    restored = []
    monkeypatch.setattr(trainer_mod.Trainer, "load_state_dict",
                        lambda self, s, real=trainer_mod.Trainer.load_state_dict: (
                            restored.append(type(s)), real(self, s))[1])
    train(None, run, resume=True, resume_overrides={"train.epochs": 3}, log=lambda _: None)
    assert restored == [state_mod.ValidState]  # handed on checked, not checked again
    resumed_from = [w for w in checked if "epoch_0002.pt" in w]
    assert len(resumed_from) == 1 and "checkpoint" not in checked  # the Trainer's own check
    # a plain dict handed to the Trainer (not read by gankit) is still checked
    assert isinstance(real(dict(ckpt_mod.load(run / "checkpoints" / "epoch_0003.pt"))),
                      state_mod.ValidState)


def test_a_checkpoint_of_another_run_or_renamed_is_never_resumed(tmp_path, capsys):
    mine = small_run(tmp_path, "mine", epochs=2)
    other = small_run(tmp_path, "other", epochs=2, **{"model.g_hidden": [64]})
    shutil.copy(other / "checkpoints" / "epoch_0002.pt", mine / "checkpoints" / "epoch_0009.pt")
    shutil.copy(mine / "checkpoints" / "epoch_0001.pt", mine / "checkpoints" / "epoch_0008.pt")
    assert main(["train", "--resume", "--out", str(mine), "--epochs", "4"]) == 0
    out = capsys.readouterr().out
    assert "epoch_0009.pt" in out and "belongs to another run" in out
    assert "named for epoch 8 but holds epoch 1" in out
    assert "g_hidden:\n  - 128\n  - 128" in (mine / "config.yaml").read_text()
    assert checkpoint_epochs(mine) == [2, 3, 4, 8, 9]  # the strangers: neither used nor counted
    assert ckpt.latest_valid(mine, run_id=run_id_of(mine))[1]["config"]["model"]["g_hidden"] == [
        128, 128]


def test_hand_edits_of_config_yaml_on_resume(tmp_path, capsys):
    run = small_run(tmp_path, epochs=1)
    text = (run / "config.yaml").read_text()
    (run / "config.yaml").write_text(text.replace("z_dim: 16", "z_dim: 8"))
    rc = main(["train", "--resume", "--out", str(run)])
    one_line_error(capsys, rc, "model.z_dim changed", "undo")
    assert checkpoint_epochs(run) == [1]
    (run / "config.yaml").write_text(text.replace("  epochs: 1\n", "  epochs: 3\n"))
    assert main(["train", "--resume", "--out", str(run)]) == 0  # an overridable key: applied
    assert "config.yaml edit applied: train.epochs 1 -> 3" in capsys.readouterr().out
    assert checkpoint_epochs(run) == [1, 2, 3] and "epochs: 3" in (run / "config.yaml").read_text()
