"""PacGAN packing (model.pack): D reads `pack` samples joined into one input.

What a packed D computes (its logit of a pack is the plain MLP on the joined samples, each
logit depending on its own pack only), the models that take it, the configs refused with
the fix, and runs that train and draw with it.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gankit.config import ModelConfig, build_config
from gankit.core.models import MLPDiscriminator, ToyDiscriminator, build_models, summary
from gankit.data.toy import get_toy
from gankit.errors import ConfigError
from gankit.log import read_metrics
from gankit.runs.checkpoint import load, resolve_checkpoint
from gankit.runs.loop import train
from gankit.runs.toy import discriminator_on_grid
from gankit.validation import validate


def test_a_packed_toy_d_is_the_mlp_on_the_joined_samples():
    torch.manual_seed(0)
    d = ToyDiscriminator(2, (8, 8), pack=3)
    first = [m for m in d.modules() if isinstance(m, nn.Linear)][0]
    assert first.in_features == 6
    x = torch.randn(9, 2)
    logits = d(x)
    assert logits.shape == (3,)
    torch.testing.assert_close(logits, d.net(x.reshape(3, 6)).squeeze(1))
    # each logit depends on its own pack's three samples only: the Jacobian is block-diagonal
    jac = torch.autograd.functional.jacobian(d, x)  # (3, 9, 2)
    for k in range(3):
        own = jac[k, 3 * k:3 * k + 3]
        others = torch.cat([jac[k, :3 * k], jac[k, 3 * k + 3:]])
        assert own.abs().sum() > 0 and others.abs().sum() == 0


def test_a_packed_mlp_d_reads_pack_images():
    d = MLPDiscriminator(hidden=(32, 16), pack=2, dropout=0.0)
    first = [m for m in d.modules() if isinstance(m, nn.Linear)][0]
    assert first.in_features == 2 * 784
    assert d(torch.randn(6, 1, 28, 28)).shape == (3,)
    g, dd = build_models(ModelConfig("mlp", 8, [16], [32], 0.0, pack=2), (1, 28, 28))
    assert dd(g(torch.randn(4, 8))).shape == (2,)
    # the summary runs one pack of zeros per row and shows the wide first layer
    table = summary(dd, (1, 28, 28), "D")
    assert "(32,)" in table and f"{2 * 784 * 32 + 32:,}" in table


@pytest.mark.parametrize(("over", "words"), [
    ({"model.pack": 0}, "model.pack=0 must be in 1..64"),
    ({"model.pack": 3}, "train.batch_size=256 is not a multiple of model.pack=3"),
    ({"model.pack": 2, "loss.game": "wgan-gp"}, "model.pack=2 is not combined with wgan-gp"),
])
def test_bad_packing_is_refused_with_the_fix(over, words):
    with pytest.raises(ConfigError, match=words):
        validate(build_config("toy", None, over))


def test_packing_is_refused_where_the_model_cannot_pack():
    with pytest.raises(ConfigError, match="model.pack=2 works with models mlp, toy-mlp, not "
                                          "'dcgan'"):
        validate(build_config("default", None, {"model.name": "dcgan", "model.pack": 2}))
    with pytest.raises(ConfigError, match="conditional"):
        validate(build_config("default", None, {"model.conditional": True, "model.pack": 2}))
    with pytest.raises(ConfigError, match="conditional"):
        build_models(ModelConfig("mlp", 8, [16], [32], pack=2), (1, 28, 28), 10)


def test_a_packed_run_trains_resumes_and_draws_its_d_map(tmp_path):
    cfg = build_config("toy", None, {"data.dataset": "grid2d", "data.toy_samples": 512,
                                     "model.pack": 4, "train.batch_size": 64,
                                     "train.epochs": 2, "train.sample_every": 1,
                                     "train.checkpoint_every": 1})
    out = train(cfg, tmp_path / "run", log=lambda _: None)
    assert (out / "samples" / "epoch_0002.png").is_file()
    train(None, out, resume=True, resume_overrides={"train.epochs": 3}, log=lambda _: None)
    records = read_metrics(out / "metrics.jsonl")
    assert [r["epoch"] for r in records] == [1, 2, 3]
    state = load(resolve_checkpoint(out))
    assert state["config"]["model"]["pack"] == 4
    assert state["d"]["net.0.weight"].shape == (128, 8)  # 4 samples of 2 numbers
    # D's map of a packed D: its score of a pack of copies of each point, in (0, 1)
    d = ToyDiscriminator(2, (16, 16), pack=4)
    gx, _, prob = discriminator_on_grid(d, get_toy("grid2d"), -5, 5, 7)
    assert prob.shape == gx.shape == (7, 7) and ((prob > 0) & (prob < 1)).all()
