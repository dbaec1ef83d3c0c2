"""Does a conditional G draw the class it was asked for? Accuracy under a classifier.

`conditional_accuracy(probs, asked)`: the share of samples whose classifier argmax equals
the class that was asked for, per asked class and overall. A pure function of arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def conditional_accuracy(classifier_probs: Any, asked_labels: Any,
                         confidence: float = 0.0) -> dict[str, Any]:
    """Accuracy of the classifier's argmax against the asked-for labels.

    classifier_probs: (N, K) class probabilities (or logits: only the argmax counts, with
    `confidence` 0); a sample whose top probability is below `confidence` reads as no digit
    and is never right;
    asked_labels: (N,) ints in [0, K). Returns {"overall": share of all N samples right,
    "per_class": [share right among samples asked for class k, or None if none were],
    "counts": [samples asked for class k]}.
    """
    probs = _numpy(classifier_probs)
    asked = _numpy(asked_labels).astype(np.int64)
    assert probs.ndim == 2 and asked.shape == (probs.shape[0],), (probs.shape, asked.shape)
    k = probs.shape[1]
    assert asked.size == 0 or (asked.min() >= 0 and asked.max() < k), "label out of range"
    right = (probs.argmax(axis=1) == asked) & (probs.max(axis=1) >= confidence)  # (N,)
    counts = np.bincount(asked, minlength=k)
    hits = np.bincount(asked, weights=right.astype(np.float64), minlength=k)
    per_class = [float(h / c) if c else None for h, c in zip(hits, counts, strict=True)]
    overall = float(right.mean()) if right.size else float("nan")
    return {"overall": overall, "per_class": per_class, "counts": counts.tolist()}


def format_accuracy(result: dict[str, Any]) -> str:
    """Two lines for `gankit eval`: the asked-for-class accuracy overall and per class."""
    cells = "  ".join(f"{k}: {'-' if a is None else f'{100 * a:.1f}%'}"
                      for k, a in enumerate(result["per_class"]))
    return (f"asked-for class accuracy (conditional G): {100 * result['overall']:.1f}%\n"
            f"  per class  {cells}")


def _numpy(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)
