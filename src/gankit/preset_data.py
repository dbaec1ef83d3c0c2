"""The named starting configs (`--preset`): dotted config keys -> values, over the defaults
of gankit.config's dataclasses. Plain data: this module imports nothing of gankit.
"""

from __future__ import annotations

from typing import Any

PRESETS: dict[str, dict[str, Any]] = {
    "seed": {
        "model.init": "keras",
        "train.epochs": 400,
        "train.batch_size": 256,
        "train.sample_every": 50,
        "train.checkpoint_every": 10,
    },
    # The first run (`make demo`): the notes' MLP G and D and game, with the recipe that
    # learns on every seed and numeric path measured (README, "The default recipe"):
    # Keras's initialisation (PyTorch's let D win on some seeds), batch 128, D at lr 4e-4
    # and G at 1e-3 (the notes: 256 at 2e-4; 128 costs less per image on a CPU than 64; G at
    # 1e-3 as the notes' Keras code has it: FID 49-53 on seeds 0-4 where 4e-4 gave 61-65),
    # EMA of G.
    "default": {
        "model.init": "keras",
        "train.epochs": 12,
        "train.batch_size": 128,
        "train.lr_d": 4e-4,
        "train.lr_g": 1e-3,
        "train.precision": "auto",
        "train.ema": 0.999,
        "train.sample_every": 4,
        "train.checkpoint_every": 4,
    },
    "toy": {
        "data.dataset": "ring2d",
        "model.name": "toy-mlp",
        "model.z_dim": 16,
        "model.g_hidden": [128, 128],
        "model.d_hidden": [128, 128],
        "model.dropout": 0.0,
        "loss.real_label": 1.0,
        "train.epochs": 60,
        "train.batch_size": 256,
        "train.lr_d": 1e-3,
        "train.lr_g": 1e-3,
        "train.sample_every": 10,
        "train.checkpoint_every": 1000,
        "train.progress": False,
    },
    # `gankit compare --data ring2d`'s budget: 20 seeds x 3 games in about a minute on a CPU
    # core (batched, gankit.runs.batched): narrower nets and smaller batches than `toy`.
    "toy-ring": {
        "data.dataset": "ring2d",
        "model.name": "toy-mlp",
        "model.z_dim": 16,
        "model.g_hidden": [64, 64],
        "model.d_hidden": [64, 64],
        "model.dropout": 0.0,
        "loss.real_label": 1.0,
        "train.epochs": 20,
        "train.batch_size": 64,
        "train.lr_d": 1e-3,
        "train.lr_g": 1e-3,
        "train.sample_every": 5,
        "train.checkpoint_every": 1000,
        "train.progress": False,
    },
    # `gankit compare --data grid2d`'s budget: the 25-mode grid needs a deeper net and more
    # steps than the ring (tuned with the batched runner; results in docs/theory.md, section 6).
    "toy-grid": {
        "data.dataset": "grid2d",
        "model.name": "toy-mlp",
        "model.z_dim": 16,
        "model.g_hidden": [64, 64, 64],
        "model.d_hidden": [64, 64, 64],
        "model.dropout": 0.0,
        "loss.real_label": 1.0,
        "train.epochs": 40,
        "train.batch_size": 64,
        "train.lr_d": 2e-3,
        "train.lr_g": 2e-3,
        "train.sample_every": 10,
        "train.checkpoint_every": 1000,
        "train.progress": False,
    },
    "smoke": {
        "data.limit": 512,
        "model.g_hidden": [32, 64],
        "model.d_hidden": [64, 32],
        "train.epochs": 2,
        "train.batch_size": 64,
        "train.sample_every": 1,
        "train.checkpoint_every": 1,
        "train.progress": False,
    },
}
"""Named starting points. `seed` is the notes' run: 400 epochs at batch 256."""

# toy-grid's nets with instance noise (train.instance_noise): the grid's modes found where the
# plain games settle on a few (docs/theory.md, section 6).
PRESETS["toy-grid-noise"] = {**PRESETS["toy-grid"], "train.epochs": 200, "train.lr_d": 1e-3,
                             "train.lr_g": 1e-3, "train.instance_noise": 1.0,
                             "train.sample_every": 20}

PRESET_HELP = {
    "seed": "the notes' Example 2: 400 epochs at batch 256 (hours on a laptop CPU)",
    "default": "the notes' models, about 5 minutes on 2 CPU cores",
    "smoke": "tiny models on 512 images, 2 epochs: seconds, for tests",
    "toy": "small vector MLPs on a toy set (default ring2d), 60 epochs: under a minute on a CPU",
    "toy-ring": "compare's ring2d budget: 64-wide MLPs, batch 64, 20 epochs (20 seeds x 3 "
                "games batched in about a minute)",
    "toy-grid": "compare's grid2d budget: 3 x 64 MLPs, batch 64, lr 2e-3, 40 epochs (20 seeds x "
                "3 games batched in a few minutes)",
    "toy-grid-noise": "toy-grid's nets with instance noise (sigma 1 decaying to 0), lr 1e-3, 200 "
                      "epochs: most of grid2d's 25 modes (a run about 1.5 min on a CPU core)",
}
