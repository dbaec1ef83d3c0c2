"""Offline evaluation of generated MNIST digits in the feature space of a shipped classifier.

- `gankit.metrics.features`: the extractor CNN, its training, SHA256-checked loading;
- `gankit.metrics.scores`: FID, KID, classifier score, mode coverage, precision/recall,
  density/coverage, confidence, as pure functions of feature and probability arrays;
- `gankit.metrics.images`: reading .npy / .npz / PNG samples of any usual layout and range;
- `gankit.metrics.evaluate`: images or a generator -> metrics dict; the real-data floor.

For a training loop: `gankit.metrics.evaluate.evaluate_generator(g, z_dim, n, device, seed)`.
"""
