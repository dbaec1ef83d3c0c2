"""What this CPU computes fast: its name and the instruction-set flags gankit's speed depends on.

bf16 matmuls run natively only with AVX-512 BF16 or AMX; on an AVX2-only CPU PyTorch
emulates them, several times slower than fp32 (gankit's `auto` precision picks fp32 there,
and an explicit `--precision bf16` is warned about). Reads /proc/cpuinfo (Linux); elsewhere
every flag reads as absent.
"""

from __future__ import annotations

import platform
from functools import lru_cache
from pathlib import Path

FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")
"""The flags that decide gankit's CPU speed, in the order they are reported."""

BF16_EMULATED_SLOWDOWN = "5-20"
"""How many times slower bf16 autocast trains than fp32 where bf16 is emulated: about 5x
reported on a 2-core AVX2-only EPYC; 20x measured on an AVX-512 BF16 EPYC with PyTorch's,
MKL's and oneDNN's kernels restricted to AVX2 (`benchmarks/throughput.py`, batch 128:
fp32 2,982 img/s, bf16 150 img/s)."""


@lru_cache(maxsize=1)
def _cpuinfo() -> tuple[str, frozenset[str]]:
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return platform.processor() or "unknown CPU", frozenset()
    name, flags = "unknown CPU", frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and name == "unknown CPU":
            name = value.strip()
        elif key.strip() == "flags" and not flags:
            flags = frozenset(value.split())
    return name, flags


def cpu_name() -> str:
    """The CPU's model name, e.g. 'AMD EPYC 9B14'."""
    return _cpuinfo()[0]


def cpu_flags() -> dict[str, bool]:
    """{flag: present} for each of FLAGS."""
    present = _cpuinfo()[1]
    return {flag: flag in present for flag in FLAGS}


def has_native_bf16() -> bool:
    """True when this CPU computes bf16 matmuls in hardware (AVX-512 BF16 or AMX)."""
    flags = cpu_flags()
    return flags["avx512_bf16"] or flags["amx_bf16"]


def cpu_kind() -> str:
    """A short label for figures: 'AVX-512 BF16', 'AVX-512', 'AVX2' or 'no AVX2'."""
    flags = cpu_flags()
    if flags["avx512_bf16"] or flags["amx_bf16"]:
        return "AVX-512 BF16"
    if flags["avx512f"]:
        return "AVX-512"
    return "AVX2" if flags["avx2"] else "no AVX2"


def cpu_summary() -> str:
    """One line: name, kind and flags, e.g. 'AMD EPYC (AVX-512 BF16: avx2 avx512f avx512_bf16)'."""
    shown = " ".join(f for f, on in cpu_flags().items() if on) or "none of " + ", ".join(FLAGS)
    return f"{cpu_name()} ({cpu_kind()}: {shown})"
