"""The GAN itself: the training algorithm (Trainer), the EMA of G, the per-step diagnostics."""
