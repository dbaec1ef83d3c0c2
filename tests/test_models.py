"""The notes' MLP models: exact layer sizes, activations, dropout, output ranges."""

from __future__ import annotations

import torch
from torch import nn

from gankit.models import MLPDiscriminator, MLPGenerator, build_models, count_parameters


def _linear_shapes(module: nn.Module) -> list[tuple[int, int]]:
    return [(m.in_features, m.out_features) for m in module.modules() if isinstance(m, nn.Linear)]


def test_generator_is_the_notes_mlp():
    g = MLPGenerator()
    assert _linear_shapes(g) == [(100, 256), (256, 512), (512, 1024), (1024, 784)]
    acts = [m for m in g.net if not isinstance(m, nn.Linear)]
    assert [type(a) for a in acts] == [nn.LeakyReLU] * 3 + [nn.Tanh]
    assert all(a.negative_slope == 0.2 for a in acts[:3])
    x = g(torch.randn(5, 100) * 50)
    assert x.shape == (5, 1, 28, 28) and x.abs().max() <= 1.0


def test_discriminator_is_the_notes_mlp_and_returns_logits():
    d = MLPDiscriminator()
    assert _linear_shapes(d) == [(784, 1024), (1024, 512), (512, 256), (256, 1)]
    kinds = [type(m).__name__ for m in d.net]
    assert kinds == ["Linear", "LeakyReLU", "Dropout", "Linear", "LeakyReLU", "Dropout",
                     "Linear", "LeakyReLU", "Linear"]
    assert all(m.p == 0.3 for m in d.net if isinstance(m, nn.Dropout))
    d.eval()
    out = d(torch.randn(7, 1, 28, 28) * 100)
    assert out.shape == (7,)
    assert out.abs().max() > 1.0  # a logit, not a probability


def test_parameter_counts():
    g, d = build_models("mlp", 100, (1, 28, 28))
    assert count_parameters(g) == 100 * 256 + 256 + 256 * 512 + 512 + 512 * 1024 + 1024 \
        + 1024 * 784 + 784
    assert count_parameters(d) == 784 * 1024 + 1024 + 1024 * 512 + 512 + 512 * 256 + 256 \
        + 256 + 1
