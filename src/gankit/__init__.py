"""gankit: train, compare and evaluate Generative Adversarial Networks.

The package is import-safe: importing any module touches no device, network or disk.
"""

__version__ = "0.1.0"
