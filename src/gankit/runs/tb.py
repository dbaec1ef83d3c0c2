"""Optional TensorBoard logging: a second `MetricsLogger` beside metrics.jsonl.

Needs the `tensorboard` package (`pip install 'gankit[tensorboard]'`); it is imported only
when a `TensorBoardLogger` is made, so gankit works without it.
"""

from __future__ import annotations

from numbers import Real
from pathlib import Path
from typing import Any

from torch import Tensor

from gankit.errors import GankitError
from gankit.stats import TB_TAGS

SCALAR_GROUPS = TB_TAGS
"""Record keys -> TensorBoard tags (grouped so related curves share a panel section)."""


MISSING = ("TensorBoard logging needs the tensorboard package: pip install "
           "'gankit[tensorboard]' (or drop --tensorboard)")


def require_tensorboard() -> None:
    """Raise GankitError now (before a run starts) when tensorboard is not installed."""
    import importlib.util

    if importlib.util.find_spec("tensorboard") is None:
        raise GankitError(MISSING)


class TensorBoardLogger:
    """Writes each epoch record's numbers as scalars (step = epoch) and sample grids."""

    def __init__(self, log_dir: str | Path) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise GankitError(MISSING) from None
        self.log_dir = Path(log_dir)
        self.writer = SummaryWriter(log_dir=str(self.log_dir))

    def log(self, record: dict[str, Any]) -> None:
        step = int(record.get("epoch", 0))
        for key, value in record.items():
            if key in ("epoch", "iteration") or isinstance(value, bool):
                continue
            if isinstance(value, Real):
                self.writer.add_scalar(SCALAR_GROUPS.get(key, f"other/{key}"), float(value),
                                       step)
        self.writer.flush()

    def log_images(self, tag: str, images: Tensor, step: int, nrow: int = 10) -> None:
        """A grid of (B, C, H, W) images in [-1, 1]."""
        from gankit.viz.images import make_grid

        grid = make_grid(images, nrow)  # uint8 (H, W) or (H, W, C)
        self.writer.add_image(tag, grid, step, dataformats="HW" if grid.ndim == 2 else "HWC")
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
