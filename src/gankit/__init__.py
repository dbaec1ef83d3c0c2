"""gankit: train, compare and evaluate Generative Adversarial Networks.

The package is import-safe: importing any module touches no device, network or disk. The
Python API (`gankit.train`, `gankit.load`, `gankit.evaluate`, ...; see gankit.api) loads on
first use, so `import gankit` and `gankit --help` stay light (no torch, no numpy).
"""

from typing import Any

__version__ = "0.1.0"

_API = (
    "Comparison", "Evaluation", "Generator", "Run", "Samples", "compare", "evaluate",
    "games_plot", "load", "make_config", "presets", "toy_data", "toy_distribution",
    "toy_datasets", "train",
)
"""Names of gankit.api re-exported here on first use."""


def __getattr__(name: str) -> Any:
    if name in _API:
        from gankit import api

        return getattr(api, name)
    raise AttributeError(f"module 'gankit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
