"""gankit.runtime.cpu: reading the CPU's flags, and the warning for emulated bf16."""

from __future__ import annotations

import pytest

from gankit.runtime import cpu


@pytest.fixture
def fake_cpu(monkeypatch):
    """Pretend to be a CPU with the given flags."""
    original = cpu._cpuinfo

    def make(*flags: str) -> None:
        monkeypatch.setattr(cpu, "_cpuinfo", lambda: ("Test CPU 9000", frozenset(flags)))

    yield make
    original.cache_clear()


def test_kinds_follow_the_flags(fake_cpu):
    fake_cpu("sse2", "avx2")
    assert cpu.cpu_kind() == "AVX2" and not cpu.has_native_bf16()
    assert cpu.cpu_summary() == "Test CPU 9000 (AVX2: avx2)"
    fake_cpu("avx2", "avx512f")
    assert cpu.cpu_kind() == "AVX-512" and not cpu.has_native_bf16()
    fake_cpu("avx2", "avx512f", "avx512_bf16")
    assert cpu.cpu_kind() == "AVX-512 BF16" and cpu.has_native_bf16()
    fake_cpu("avx2", "amx_bf16")
    assert cpu.has_native_bf16()
    fake_cpu()
    assert cpu.cpu_kind() == "no AVX2"
    assert cpu.cpu_flags() == {f: False for f in cpu.FLAGS}


def test_this_machine_reads_without_error():
    cpu._cpuinfo.cache_clear()
    assert cpu.cpu_kind() in ("AVX-512 BF16", "AVX-512", "AVX2", "no AVX2")
    assert set(cpu.cpu_flags()) == set(cpu.FLAGS)


def test_auto_picks_fp32_and_bf16_warns_where_bf16_is_emulated(fake_cpu, tmp_path, toy_images,
                                                                monkeypatch):
    import torch

    from gankit.runtime.device import resolve_precision

    fake_cpu("avx2")
    assert resolve_precision("auto", torch.device("cpu")) == "fp32"
    from gankit.config import apply_overrides, from_preset
    from gankit.runs.loop import train

    cfg = apply_overrides(from_preset("toy"), {"train.epochs": 1, "data.toy_samples": 512,
                                               "train.precision": "bf16"})
    lines: list[str] = []
    train(cfg, tmp_path / "run", log=lines.append)
    warned = [x for x in lines if x.startswith("warning: --precision bf16")]
    assert len(warned) == 1 and "emulates" in warned[0] and "--precision fp32" in warned[0]
    fake_cpu("avx2", "avx512f", "avx512_bf16")
    lines.clear()
    train(apply_overrides(cfg, {}), tmp_path / "run2", log=lines.append)
    assert not any(x.startswith("warning: --precision bf16") for x in lines)
