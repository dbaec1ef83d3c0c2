"""The GAN itself: the games (losses), the networks (models, layers, dcgan), the training
algorithm (step, Trainer), the EMA of G, the per-step diagnostics, the state dict."""
