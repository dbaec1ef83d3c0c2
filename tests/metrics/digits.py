"""Deterministic digit-like test images: digits rendered with Pillow's default font at 28x28.

Not MNIST, but close enough for the shipped extractor to read them, and available offline.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont


def render_digits(
    n: int, seed: int = 0, digits: tuple[int, ...] = tuple(range(10))
) -> tuple[np.ndarray, np.ndarray]:
    """n uint8 images (n, 28, 28), white on black, and their labels, with varied size,
    stroke, position and slant; `digits` cycles through the classes to draw."""
    rng = np.random.default_rng(seed)
    fonts = {size: ImageFont.load_default(size=size) for size in (18, 20, 22)}
    images, labels = [], []
    for i in range(n):
        digit = digits[i % len(digits)]
        im = Image.new("L", (28, 28), 0)
        draw = ImageDraw.Draw(im)
        centre = (14 + int(rng.integers(-1, 2)), 14 + int(rng.integers(-1, 2)))
        font = fonts[int(rng.choice(list(fonts)))]
        draw.text(centre, str(digit), fill=255, font=font, anchor="mm",
                  stroke_width=int(rng.integers(0, 2)), stroke_fill=255)  # fmt: skip
        im = im.rotate(float(rng.uniform(-12, 12)), resample=Image.BILINEAR)
        images.append(np.asarray(im.filter(ImageFilter.GaussianBlur(0.5))))
        labels.append(digit)
    return np.stack(images), np.array(labels, dtype=np.uint8)
