"""The HTML report: reading run folders, evaluation files and comparisons; the page is
self-contained; and, in headless Chromium, it loads cleanly and shows the run's numbers."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from reliability_support import one_line_error, png_bomb, small_run

from gankit.cli import main
from gankit.data.idx import write_idx
from gankit.errors import GankitError
from gankit.log import read_metrics
from gankit.report.figures import fmt
from gankit.report.page import try_write_report, write_report
from gankit.report.read import markdown_table, read_eval, read_run, read_tables

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def blob_idx(folder: Path, n: int = 192) -> Path:
    """A folder of MNIST-named IDX files of n blurred-blob 'digits' (no MNIST needed)."""
    gen = torch.Generator().manual_seed(123)
    yy, xx = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    centres = torch.randint(6, 22, (n, 2), generator=gen).float()
    d2 = (yy - centres[:, 0, None, None]) ** 2 + (xx - centres[:, 1, None, None]) ** 2
    pics = (torch.exp(-d2 / 18.0) * 255).round().to(torch.uint8).numpy()
    folder.mkdir(parents=True, exist_ok=True)
    write_idx(folder / "train-images-idx3-ubyte", pics)
    write_idx(folder / "train-labels-idx1-ubyte", (np.arange(n) % 10).astype(np.uint8))
    return folder


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`gankit train --preset smoke` on a tiny IDX folder, through the real CLI."""
    root = tmp_path_factory.mktemp("report")
    out = root / "run"
    code = main(["train", "--preset", "smoke", "--set", "data.dataset=idx", "--data-dir",
                 str(blob_idx(root / "idx")), "--out", str(out), "--epochs", "2",
                 "--device", "cpu"])
    assert code == 0
    return out


def test_train_writes_report_and_gif(smoke_run: Path) -> None:
    assert (smoke_run / "report.html").is_file()
    grids = sorted((smoke_run / "samples").glob("epoch_*.png"))
    assert len(grids) == 2
    with Image.open(smoke_run / "progress.gif") as gif:
        assert gif.n_frames == len(grids)


def test_page_is_self_contained(smoke_run: Path) -> None:
    page = (smoke_run / "report.html").read_text(encoding="utf-8")
    srcs = re.findall(r'\b(?:src|href)="([^"]*)"', page)
    assert srcs and all(s.startswith("data:") for s in srcs)
    assert page.count("<img") == len(srcs)
    assert "<script" not in page and "@import" not in page and "url(" not in page
    assert 'name="viewport"' in page
    last = read_metrics(smoke_run / "metrics.jsonl")[-1]
    assert fmt(last["loss_d"]) in page and fmt(last["d_fake"]) in page
    # the config is shown as tables: the smoke preset's hidden widths
    assert "g_hidden" in page and "32, 64" in page


def test_read_run(smoke_run: Path) -> None:
    run = read_run(smoke_run)
    assert run.config["train"]["epochs"] == 2
    assert [r["epoch"] for r in run.metrics] == [1, 2]
    assert [g.name for g in run.grids] == ["epoch_0001.png", "epoch_0002.png"]
    assert run.evals == []


def test_read_eval_tolerates_shapes(tmp_path: Path) -> None:
    f = tmp_path / "eval.json"
    f.write_text(json.dumps({
        "fid": 12.5, "kid": {"value": 0.02, "floor": 0.001}, "is": None,
        "metrics": {"modes": 10}, "floor": {"fid": 0.75},
        "pr": {"precision": 0.7, "recall": 0.5},
        "checkpoint": "runs/x/checkpoints/epoch_0030.pt", "n": [10000, 10000], "ok": True,
    }))
    ev = read_eval(f)
    assert ev.source == "eval.json"
    assert ev.values == {"modes": 10.0, "fid": 12.5, "kid": 0.02, "is": None,
                         "pr.precision": 0.7, "pr.recall": 0.5}
    assert ev.floor == {"fid": 0.75, "kid": 0.001}
    assert ev.info["checkpoint"].endswith(".pt") and ev.info["n"] == "[10000, 10000]"
    assert ev.info["ok"] == "true"


@pytest.mark.parametrize("text", ["[1, 2]", "not json"])
def test_read_eval_rejects_non_objects(tmp_path: Path, text: str) -> None:
    f = tmp_path / "eval_bad.json"
    f.write_text(text)
    with pytest.raises(GankitError, match="eval_bad.json"):
        read_eval(f)


def test_eval_metrics_and_floor_in_page(smoke_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(smoke_run, run)
    (run / "eval_epoch30.json").write_text(json.dumps({"fid": 23.456789,
                                                       "floor": {"fid": 0.87654}}))
    page = write_report(run, gif=False).read_text(encoding="utf-8")
    assert "Evaluation" in page and "real-data floor" in page
    assert re.search(r"fid</td><td[^>]*>23.46</td><td[^>]*>0.8765</td>", page)


def test_markdown_table() -> None:
    text = "# Compare\n\n| run | FID |\n|:---|---:|\n| a | 1.5 |\n| b | 2 |\n\nafter\n"
    assert markdown_table(text) == [{"run": "a", "FID": "1.5"}, {"run": "b", "FID": "2"}]
    assert markdown_table("no table here") == []


def test_comparison_folder(smoke_run: Path, tmp_path: Path) -> None:
    comp = tmp_path / "compare"
    for name, game in (("minimax", "minimax"), ("ns", "non-saturating")):
        shutil.copytree(smoke_run, comp / name)
        cfg = (comp / name / "config.yaml").read_text()
        (comp / name / "config.yaml").write_text(cfg.replace("non-saturating", game))
    (comp / "table.json").write_text(json.dumps([{"run": "minimax", "fid": 31.25},
                                                 {"run": "ns", "fid": 12.75}]))
    (comp / "table.md").write_text("| run | fid |\n|---|---|\n| minimax | 31.25 |\n")
    (comp / "notes.md").write_text("| game | verdict |\n|---|---|\n| ns | learns |\n")
    assert [name for name, _ in read_tables(comp)] == ["table.json", "notes.md"]
    out = write_report(comp)
    assert out == comp / "report.html"
    page = out.read_text(encoding="utf-8")
    assert "gankit comparison compare" in page
    assert "31.25" in page and "12.75" in page and "learns" in page
    assert "What differs" in page and "loss.game" in page
    # one overlaid panel per statistic, two final grids
    assert page.count('alt="D loss"') == 1 and page.count("final samples") == 2
    assert not (comp / "progress.gif").exists()


def test_write_report_errors(tmp_path: Path) -> None:
    with pytest.raises(GankitError, match="does not exist"):
        write_report(tmp_path / "nope")
    with pytest.raises(GankitError, match="no metrics.jsonl"):
        write_report(tmp_path)


def test_report_failure_is_a_warning(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import gankit.report.page as report

    def boom(*a: object, **k: object) -> Path:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(report, "write_report", boom)
    said: list[str] = []
    assert try_write_report(tmp_path, said.append) is None
    assert len(said) == 1 and said[0].startswith("warning:") and "disk on fire" in said[0]


# ------------------------------------------------------------------ in a real browser
def _browser():  # noqa: ANN202
    from chromium import Chromium, find_chromium

    if find_chromium() is None:
        pytest.skip("chromium is not installed: run scripts/install-browser.sh")
    return Chromium()


def test_report_in_headless_chromium(smoke_run: Path) -> None:
    last = read_metrics(smoke_run / "metrics.jsonl")[-1]
    with _browser() as browser:
        page = browser.open((smoke_run / "report.html").as_uri(), width=1280, height=800)
        images = page.evaluate("[...document.images].map(i => "
                               "({alt: i.alt, w: i.naturalWidth, h: i.naturalHeight, "
                               "done: i.complete}))")
        cards = page.evaluate("document.getElementById('final-metrics').innerText")
        table = page.evaluate("document.getElementById('metrics-table').innerText")
        overflow = page.evaluate("document.documentElement.scrollWidth - innerWidth")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(ARTIFACTS / "report.png")
        errors, requests = page.errors, page.requests
    assert errors == []
    assert all(u.startswith(("file:", "data:")) for u in requests), requests
    # final grid, GIF, 5 curve panels, 2 epoch grids
    assert len(images) == 9
    assert all(i["done"] and i["w"] > 0 and i["h"] > 0 for i in images), images
    assert fmt(last["loss_d"]) in cards.split() and fmt(last["loss_g"]) in cards.split()
    assert fmt(last["loss_d"]) in table.split()
    assert overflow <= 0  # nothing wider than a laptop screen
    with Image.open(ARTIFACTS / "report.png") as shot:
        assert shot.width == 1280 and shot.height > 800


def test_browser_check_catches_a_broken_page(tmp_path: Path) -> None:
    bad = tmp_path / "bad.html"
    bad.write_text('<html><body><img src="missing.png"><script>nope()</script></body></html>')
    with _browser() as browser:
        page = browser.open(bad.as_uri())
        widths = page.evaluate("[...document.images].map(i => i.naturalWidth)")
        errors = page.errors
    assert widths == [0]
    assert any("nope" in e for e in errors) and any("missing.png" in e or "failed" in e
                                                    for e in errors)


def test_compare_report_in_headless_chromium(tmp_path: Path) -> None:
    """A tiny batched `compare`: its report.html loads cleanly, shows the interval table and
    every figure, and fits a laptop screen."""
    from gankit.runs.compare import compare

    with _browser() as browser:  # skips before training when there is no Chromium
        result = compare("ring2d", tmp_path / "cmp", games=["minimax", "non-saturating"],
                         seeds=2, epochs=1, log=lambda _m: None,
                         overrides={"data.toy_samples": 512, "train.batch_size": 64,
                                    "model.g_hidden": [16], "model.d_hidden": [16]})
        page = browser.open((result.out / "report.html").as_uri(), width=1280, height=800)
        images = page.evaluate("[...document.images].map(i => "
                               "({alt: i.alt, w: i.naturalWidth, done: i.complete}))")
        text = page.evaluate("document.body.innerText")
        overflow = page.evaluate("document.documentElement.scrollWidth - innerWidth")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(ARTIFACTS / "compare-report.png")
        errors, requests = page.errors, page.requests
    assert errors == []
    assert all(u.startswith(("file:", "data:")) for u in requests), requests
    alts = [i["alt"] for i in images]
    assert any("final samples" in a for a in alts) and any("training curves" in a for a in alts)
    assert all(i["done"] and i["w"] > 0 for i in images), images
    assert "mean ± 95% t-interval, 2 seeds" in text
    for run in ("minimax-seed0", "minimax-seed1", "non-saturating-seed1"):
        assert run in text
    assert overflow <= 0


def test_report_on_a_damaged_run_folder(tmp_path, capsys):
    run = small_run(tmp_path, epochs=2)
    with open(run / "metrics.jsonl", "a") as fh:
        fh.write("[1, 2, 3]\n" + "[" * 100_000 + "\n" + '{"epoch": {"a": 1}}\n')
    png_bomb(run / "samples" / "epoch_0003.png")
    assert main(["report", str(run)]) == 0
    (run / "eval_deep.json").write_text("[" * 50_000 + "]" * 50_000)
    one_line_error(capsys, main(["report", str(run)]), "eval_deep.json")
    (run / "eval_deep.json").unlink()
    (run / "config.yaml").write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
    assert main(["report", str(run)]) == 0
