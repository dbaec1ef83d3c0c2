"""DCGAN shapes (28 grayscale natively, 32/64 colour), conditioning, generate()."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gankit.config import ModelConfig
from gankit.core.dcgan import dcgan_plan
from gankit.core.models import MODELS, build_models, class_grid_labels, generate
from gankit.errors import ConfigError


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (3, 64, 64), (1, 64, 64)])
@pytest.mark.parametrize("n_classes", [0, 10])
def test_dcgan_shapes(shape: tuple[int, int, int], n_classes: int) -> None:
    g, d = build_models(ModelConfig("dcgan", 8, width=4), shape, n_classes)
    z = torch.randn(3, 8)
    y = torch.tensor([0, 4, 9]) if n_classes else None
    x = g(z) if y is None else g(z, y)
    assert x.shape == (3, *shape)
    assert x.min() >= -1 and x.max() <= 1  # tanh
    logits = d(x) if y is None else d(x, y)
    assert logits.shape == (3,)


def test_dcgan_28_upsamples_7_14_28_without_resizing() -> None:
    assert dcgan_plan((1, 28, 28), 64) == (7, [128, 64])
    assert dcgan_plan((3, 64, 64), 64) == (4, [512, 256, 128, 64])
    g, d = build_models(ModelConfig("dcgan", 100), (1, 28, 28))
    convs = [m for m in g.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [(c.in_channels, c.out_channels, c.stride) for c in convs] == [
        (128, 64, (2, 2)), (64, 1, (2, 2))]
    assert not any(isinstance(m, nn.Upsample) for m in g.modules())


def test_dcgan_refuses_other_sizes() -> None:
    with pytest.raises(ConfigError, match="28, 32, 64"):
        build_models(ModelConfig("dcgan", 8), (1, 30, 30))
    with pytest.raises(ConfigError, match="mlp, dcgan"):
        build_models(ModelConfig("resnet", 8), (1, 28, 28))
    assert MODELS[:2] == ("mlp", "dcgan")  # mlp stays the default, first


def test_dcgan_discriminator_has_no_batchnorm_and_scores_each_sample_alone() -> None:
    _, d = build_models(ModelConfig("dcgan", 8, width=4), (1, 28, 28), 10)
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in d.modules())
    d.train()
    x, y = torch.randn(6, 1, 28, 28), torch.arange(6)
    together = d(x, y)
    alone = torch.stack([d(x[i : i + 1], y[i : i + 1])[0] for i in range(6)])
    assert torch.allclose(together, alone, atol=1e-5)


@pytest.mark.parametrize("name", ["mlp", "dcgan"])
def test_conditioning_reaches_g_and_d(name: str) -> None:
    torch.manual_seed(0)
    g, d = build_models(ModelConfig(name, 8, [16], [16], width=4), (1, 28, 28), 3)
    g.eval()
    z = torch.randn(1, 8).repeat(3, 1)
    x = g(z, torch.arange(3))
    assert not torch.allclose(x[0], x[1])  # the same z, other classes -> other images
    same = x[:1].repeat(3, 1, 1, 1)
    d.eval()
    scores = d(same, torch.arange(3))
    assert not torch.allclose(scores[0], scores[1])  # the projection term differs


def test_unconditional_models_are_unchanged_by_the_labels_argument() -> None:
    g, d = build_models(ModelConfig("mlp", 8, [16], [16]), (1, 28, 28))
    assert not any(isinstance(m, nn.Embedding) for m in [*g.modules(), *d.modules()])
    assert "net.0.weight" in g.state_dict()  # the notes' layout, as before


def test_generate_checks_labels() -> None:
    g, _ = build_models(ModelConfig("mlp", 8, [16], [16]), (1, 28, 28), 10)
    z = torch.randn(4, 8)
    out = generate(g, z, torch.full((4,), 7))
    assert out.shape == (4, 1, 28, 28)
    assert g.training  # mode restored
    torch.manual_seed(0)
    cycled = generate(g, torch.randn(1, 8).repeat(12, 1))  # no labels: classes 0..9, 0, 1
    assert torch.allclose(cycled[0], cycled[10]) and not torch.allclose(cycled[0], cycled[1])
    with pytest.raises(ConfigError, match="0..9"):
        generate(g, z, torch.full((4,), 10))
    g0, _ = build_models(ModelConfig("mlp", 8, [16], [16]), (1, 28, 28))
    with pytest.raises(ConfigError, match="not conditional"):
        generate(g0, z, torch.zeros(4))


def test_class_grid_labels_one_row_per_class() -> None:
    labels = class_grid_labels(10, 10)
    assert labels.view(10, 10).tolist() == [[k] * 10 for k in range(10)]
