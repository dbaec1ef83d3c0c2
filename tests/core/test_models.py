"""The notes' MLP models: exact layer sizes, activations, dropout, output ranges."""

from __future__ import annotations

import torch
from torch import nn

from gankit.config import ModelConfig
from gankit.core.models import (
    MLPDiscriminator,
    MLPGenerator,
    build_models,
    count_parameters,
    summary,
)


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
    g, d = build_models(ModelConfig("mlp", 100), (1, 28, 28))
    assert count_parameters(g) == 100 * 256 + 256 + 256 * 512 + 512 + 512 * 1024 + 1024 \
        + 1024 * 784 + 784
    assert count_parameters(d) == 784 * 1024 + 1024 + 1024 * 512 + 512 + 512 * 256 + 256 \
        + 256 + 1


def test_summary_lists_the_notes_layers_with_keras_parameter_counts():
    """The notes' Keras code prints these totals: G 1,486,352 and D 1,460,225 parameters."""
    g, d = build_models(ModelConfig("mlp", 100), (1, 28, 28))
    g_text, d_text = summary(g, (100,), "G"), summary(d, (1, 28, 28), "D")
    # Dense(256) on z: 100 * 256 + 256; ... ; Dense(784): 1024 * 784 + 784
    assert 100 * 256 + 256 + 256 * 512 + 512 + 512 * 1024 + 1024 + 1024 * 784 + 784 == 1_486_352
    assert "total params: 1,486,352" in g_text and "total params: 1,460,225" in d_text
    assert "(784,)" in g_text and "(1,)" in d_text and "Dropout" in d_text
    assert g_text.count("Linear") == 4 and d_text.count("Linear") == 4
    assert g.training  # put back in its mode
