# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # GANs from the notes, in Python
#
# This notebook walks through the study notes with gankit's Python API: the three generator
# games, a toy GAN (the notes' Example 1), the notes' MNIST MLP GAN (Example 2) and its
# evaluation. It is kept as a text notebook (jupytext's percent format): open it in Jupyter
# with jupytext installed, or run it as a plain script,
#
#     .venv/bin/python docs/notebook.py
#
# `GANKIT_NOTEBOOK_SMALL=1` picks tiny settings (the test suite runs it that way, so it
# cannot rot); `GANKIT_NOTEBOOK_OUT=DIR` chooses where the runs go.

# %%
import os
import time
from pathlib import Path

import gankit

try:  # in Jupyter, objects show as pictures and tables; as a script, as text
    from IPython.display import display
except ImportError:
    display = print

SMALL = os.environ.get("GANKIT_NOTEBOOK_SMALL", "") not in ("", "0")
OUT = Path(os.environ.get("GANKIT_NOTEBOOK_OUT", f"runs/notebook-{time.strftime('%Y%m%d-%H%M%S')}"))

# %% [markdown]
# ## 1. The three generator games
#
# D's output on a fake sample, D(G(z)), runs along the x axis. The minimax game's cost
# log(1 - D(G(z))) is flat where G is bad (D(G(z)) near 0), so its gradient vanishes just
# when G needs it; the non-saturating game, -log D(G(z)), is steep there; the
# maximum-likelihood game's gradient is large only once G already fools D.
#
# To watch it live while the three games train side by side, run `gankit lab` in a
# terminal (docs/lab.md).

# %%
display(gankit.games_plot())

# %% [markdown]
# ## 2. A toy GAN: eight Gaussians on a ring
#
# The data are a mixture of 8 Gaussians; a healthy G covers all 8 modes, a collapsed one a few.
# Every run is a folder (config, metrics per epoch, snapshots, checkpoints, report);
# `gankit.train` returns it as a `Run`, which shows its newest snapshot.

# %%
display(gankit.toy_data("ring2d", 2000))
toy = gankit.train("toy", OUT / "toy", epochs=4 if SMALL else 60,
                   toy_samples=1000 if SMALL else 10_000)
display(toy)
last = toy.metrics[-1]
print(f"epoch {last['epoch']}: {last['modes_covered']} of {last['num_modes']} modes covered, "
      f"{last['hq_share']:.0%} of samples within 3 std of a mode")

# %% [markdown]
# Any setting is a keyword (`gankit config keys` lists them): here the minimax game, whose
# vanishing gradient the figure above predicts.

# %%
minimax = gankit.train("toy", OUT / "toy-minimax", loss="minimax", epochs=4 if SMALL else 60,
                       toy_samples=1000 if SMALL else 10_000)
print("minimax:", minimax.metrics[-1]["modes_covered"], "modes;",
      "non-saturating:", toy.metrics[-1]["modes_covered"], "modes")
display(minimax.generator("cpu").sample(2000, seed=0))

# %% [markdown]
# ## 3. The notes' MNIST GAN
#
# The `default` preset is the notes' MLP G and D with a recipe that learns on every seed
# (about 5 minutes on two CPU cores); `seed` is the notes' own 400-epoch run. The grid shows
# the same 100 fixed latents after each epoch, so grids of different epochs compare.

# %%
mnist = gankit.train("smoke" if SMALL else "default", OUT / "mnist",
                     epochs=1 if SMALL else 12, progress=False)
display(mnist)
for m in mnist.metrics:
    print(f"epoch {m['epoch']}: D loss {m['loss_d']:.3f}, G loss {m['loss_g']:.3f}, "
          f"D(x) {m['d_real']:.2f}, D(G(z)) {m['d_fake']:.2f}")

# %% [markdown]
# The generator samples on its own (no data needed). A seed fixes the latents: the same
# seed gives the same digits here and with `gankit sample --seed`. `interpolate` walks
# from one latent to another along the sphere: the digits change smoothly.

# %%
g = mnist.generator("cpu")
display(g.sample(64, seed=0))
display(g.interpolate(n=4, steps=8, seed=1))

# %% [markdown]
# ## 4. Evaluation
#
# FID, KID, a classifier score like the Inception Score, classes covered, precision /
# recall and the mean classifier confidence, all in the feature space of gankit's own MNIST
# classifier, each beside the real-data floor (real training digits against the test set).
# Reported figures use n = 10,000 samples.

# %%
scores = gankit.evaluate(g, n=500 if SMALL else 10_000, device="cpu")
print(scores.table())
print(f"FID {scores['fid']:.1f} (real data: {scores.floor['fid']:.1f}), "
      f"{scores['classes_covered']:.0f} classes covered")
