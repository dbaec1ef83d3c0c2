"""gankit.core.sampling: the sample grid's fixed latents (one row per class when
conditional), sampling in eval mode, and the EMA G as the sampler."""

from __future__ import annotations

import torch

from gankit.core.trainer import Trainer


def test_unconditional_grid_is_the_fixed_latents(make_config, toy_images) -> None:
    t = Trainer(make_config(small=True), toy_images)
    z, labels = t.fixed_grid()
    assert labels is None and z is t.fixed_z and z.shape == (100, 4)
    t.g.train()
    images = t.sample()
    assert images.shape == (100, 1, 28, 28) and images.dtype == torch.float32
    assert t.g.training  # sampling leaves G's mode as it was


def test_conditional_grid_has_one_row_per_class_sharing_latents(make_config,
                                                                labelled_images) -> None:
    images, labels = labelled_images
    t = Trainer(make_config(small=True, **{"model.conditional": True}), images,
                labels=labels)
    z, grid_labels = t.fixed_grid()
    assert z.shape == (100, 4)
    assert grid_labels.tolist() == [k for k in range(10) for _ in range(10)]
    for k in range(10):  # column j uses fixed_z[j] in every row
        torch.testing.assert_close(z[10 * k : 10 * k + 10], t.fixed_z[:10])


def test_the_sampler_is_g_or_its_average(make_config, toy_images) -> None:
    plain = Trainer(make_config(small=True), toy_images)
    assert plain.sampler is plain.g
    averaged = Trainer(make_config(small=True, **{"train.ema": 0.9}), toy_images)
    assert averaged.sampler is averaged.ema.model and averaged.sampler is not averaged.g
