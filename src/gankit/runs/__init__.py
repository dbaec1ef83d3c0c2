"""A training run on disk: the run loop, its folder, checkpoints, logs and the NaN guard."""
