"""gankit.errors: what a user reads when something is wrong."""

from __future__ import annotations

import time

from gankit.errors import short


def test_short_quotes_a_bounded_prefix():
    nested: list = [1]
    for _ in range(40):
        nested = [nested] * 9
    for value in (nested, "x" * 10**7, 10**10000, {"k" * 100: list(range(10**5))}):
        start = time.perf_counter()
        assert len(short(value)) <= 80
        assert time.perf_counter() - start < 0.5
