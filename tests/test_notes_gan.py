"""examples/notes_gan.py (the notes' Keras program in plain PyTorch): its models are the `seed`
preset's, and the program trains end to end and writes the notes' grid."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent / "metrics"))
from digits import render_digits  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "notes_gan.py"


@pytest.fixture(scope="module")
def notes_gan():
    spec = importlib.util.spec_from_file_location("notes_gan", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _shapes(module: torch.nn.Module) -> list[tuple[int, ...]]:
    return [tuple(p.shape) for p in module.parameters()]


def test_models_are_the_seed_presets(notes_gan) -> None:
    from gankit.config import build_config
    from gankit.core.models import build_models

    m = build_config("seed").model
    g, d = build_models(m, (1, 28, 28))
    g_notes, d_notes = notes_gan.create_generator(), notes_gan.create_discriminator()
    assert _shapes(g_notes) == _shapes(g) and _shapes(d_notes) == _shapes(d)
    assert sum(p.numel() for p in g_notes.parameters()) == 1_486_352  # the notes' summary()
    assert sum(p.numel() for p in d_notes.parameters()) == 1_460_225
    dropouts = [x.p for x in d_notes.modules() if isinstance(x, torch.nn.Dropout)]
    assert dropouts == [m.dropout, m.dropout] == [0.3, 0.3]


def test_layers_start_as_keras_initialises_them(notes_gan) -> None:
    for layer in notes_gan.create_discriminator().modules():
        if isinstance(layer, torch.nn.Linear):
            fan_out, fan_in = layer.weight.shape
            limit = math.sqrt(6 / (fan_in + fan_out))  # glorot_uniform
            assert layer.bias.abs().max() == 0
            assert limit * 0.95 < layer.weight.abs().max() <= limit


def test_the_program_trains_and_writes_the_epoch_1_grid(notes_gan, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    digits = render_digits(64, seed=3)  # stands in for MNIST: 64 images -> 4 batches of 16
    monkeypatch.setattr(notes_gan, "load_mnist", lambda split: digits)
    torch.manual_seed(0)
    before = notes_gan.create_generator().state_dict()
    monkeypatch.setattr(sys, "argv", ["notes_gan.py", "--epochs", "1", "--batch-size", "16",
                                      "--out", str(tmp_path)])
    notes_gan.main()
    grid = tmp_path / "gan_generated_image 1.png"
    with Image.open(grid) as im:
        assert im.size == (1000, 1000)  # figsize (10, 10) at 100 dpi
    monkeypatch.setattr(notes_gan, "plot_generated_images", lambda *a: None)  # drawn above
    torch.manual_seed(0)  # G starts at `before`; 4 iterations move every layer
    g = notes_gan.training(1, 16, tmp_path, iterations=4)
    assert all(not torch.equal(p, before[k]) for k, p in g.state_dict().items())


def test_g_step_is_the_non_saturating_game(notes_gan) -> None:
    from gankit.core.losses import get_game

    logits = torch.linspace(-6, 6, 13).unsqueeze(1)
    target_one = notes_gan.bce(logits, torch.ones(13))
    assert torch.allclose(target_one, get_game("non-saturating").g_loss(logits.squeeze(1)))
