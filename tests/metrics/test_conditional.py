"""conditional_accuracy: the share of samples classified as the class asked for."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gankit.metrics.conditional import conditional_accuracy


def test_per_class_and_overall_by_hand() -> None:
    asked = [0, 0, 1, 1, 1, 2]
    # argmax:  0  1  1  1  0  2 -> class 0: 1/2, class 1: 2/3, class 2: 1/1; overall 4/6
    probs = np.eye(4)[[0, 1, 1, 1, 0, 2]] * 0.7 + 0.075
    result = conditional_accuracy(probs, asked)
    assert result["overall"] == pytest.approx(4 / 6)
    assert result["per_class"][:3] == pytest.approx([0.5, 2 / 3, 1.0])
    assert result["per_class"][3] is None  # class 3 never asked for
    assert result["counts"] == [2, 3, 1, 0]


def test_accepts_tensors_and_logits() -> None:
    logits = torch.tensor([[5.0, -1.0], [0.0, 2.0]])
    assert conditional_accuracy(logits, torch.tensor([0, 0]))["overall"] == 0.5


def test_format_accuracy_lines() -> None:
    from gankit.metrics.conditional import format_accuracy

    text = format_accuracy({"overall": 0.5, "per_class": [1.0, None], "counts": [1, 0]})
    assert "50.0%" in text and "0: 100.0%" in text and "1: -" in text
