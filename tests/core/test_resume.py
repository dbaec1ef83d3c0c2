"""Resume equals uninterrupted: 1 epoch, state dict through a new trainer, 1 epoch == 2 epochs,
bit for bit, over the games, EMA, n_critic, conditional runs, dropout and fused Adam."""

from __future__ import annotations

import pytest
import torch

from gankit.core.trainer import Trainer

MLP = {"model.g_hidden": [16], "model.d_hidden": [32, 16], "train.batch_size": 32,
       "train.epochs": 2}
CASES = {  # name: (data, config overrides)
    "minimax": ("blobs", {**MLP, "loss.game": "minimax"}),
    "non-saturating": ("blobs", {**MLP, "loss.game": "non-saturating"}),
    "maximum-likelihood": ("blobs", {**MLP, "loss.game": "maximum-likelihood"}),
    "dropout, fused Adam": ("noise", {"train.batch_size": 16, "train.device": "cpu"}),
    "ema": ("labelled", {"train.ema": 0.9}),
    "n_critic": ("labelled", {"train.n_critic": 2}),
    "conditional": ("labelled", {"model.conditional": True}),
    "conditional, ema, n_critic 3, wgan-gp": ("labelled", {
        "model.conditional": True, "train.ema": 0.9, "train.n_critic": 3,
        "loss.game": "wgan-gp"}),
    "instance noise, packed D": ("blobs", {**MLP, "train.instance_noise": 0.5,
                                           "model.pack": 2}),
    "learning rates decaying, two rates": ("blobs", {**MLP, "train.lr_end": 0.1,
                                                      "train.lr_g": 1e-3}),
}


@pytest.mark.parametrize("case", CASES)
def test_resume_equals_uninterrupted(case, make_config, toy_images, labelled_images) -> None:
    kind, overrides = CASES[case]
    cfg = make_config(small=kind == "labelled", **overrides)  # labelled: the tiniest trainers
    data, labels = {
        "blobs": (toy_images, None),
        "noise": (torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(3)) * 2 - 1,
                  None),
        "labelled": labelled_images,
    }[kind]

    def trainer() -> Trainer:
        return Trainer(cfg, data, "cpu", labels=labels)

    whole = trainer()
    whole.train_epoch()
    whole.train_epoch()
    first = trainer()
    first.train_epoch()
    state = first.state_dict()
    torch.manual_seed(999)  # the global RNG is disturbed between the sessions
    resumed = trainer()
    resumed.load_state_dict(state)
    resumed.train_epoch()

    assert resumed.epoch == 2 and resumed.iteration == whole.iteration
    assert resumed.g_steps == whole.g_steps == whole.iteration // cfg.train.n_critic
    for net in ("g", "d"):
        a, b = getattr(whole, net).state_dict(), getattr(resumed, net).state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a), (net, [k for k in a
                                                               if not torch.equal(a[k], b[k])])
    sa, sb = whole.opt_g.state_dict()["state"], resumed.opt_g.state_dict()["state"]
    assert all(torch.equal(sa[k]["exp_avg"], sb[k]["exp_avg"]) for k in sa)
    assert resumed.opt_g.param_groups[0]["fused"] == whole.opt_g.param_groups[0]["fused"]
    if whole.ema is not None:
        assert resumed.ema.updates == whole.ema.updates
    assert torch.equal(whole.sample(), resumed.sample())
