"""gankit.core.layers: gankit's Dropout (keep rate 1 - p from random bits; the fused fp32 mask
is bit-identical) and PacGAN's packing of D's inputs."""

from __future__ import annotations

import pytest
import torch

from gankit.core.layers import Dropout, keep_mask, pack_samples


def _reference(x: torch.Tensor, p: float) -> torch.Tensor:
    """x * keep * (1 / (1 - p)) with the same keep mask, in x's dtype."""
    keep = keep_mask(x.shape, p, x.device)
    return x * keep * (1.0 / (1.0 - p))


def test_keep_mask_keep_rate_is_within_2_to_minus_17_of_1_minus_p() -> None:
    """P(keep) = P(I16 >= t) = (2^15 - t) / 2^16: counted exactly over all 2^16 values."""
    values = torch.arange(-(2**15), 2**15, dtype=torch.int32)
    for p in (0.3, 0.5, 0.1, 0.9, 0.0001):
        t = round(p * 2**16) - 2**15
        kept = int((values >= t).sum())
        assert abs(kept / 2**16 - (1 - p)) <= 2**-17


def test_keep_mask_rate_shape_and_independence() -> None:
    torch.manual_seed(0)
    keep = keep_mask((301, 1001), 0.3, torch.device("cpu"))  # odd size: half an int64 unused
    assert keep.shape == (301, 1001) and keep.dtype == torch.bool
    rate = keep.float().mean().item()
    assert abs(rate - 0.7) < 4 * (0.21 / keep.numel()) ** 0.5
    # neighbours (the four lanes of one 64-bit draw) are uncorrelated
    flat = keep.flatten()[: keep.numel() // 4 * 4].view(-1, 4).float()
    for i in range(4):
        for j in range(i + 1, 4):
            assert abs((flat[:, i] * flat[:, j]).mean().item() - 0.49) < 0.01


def test_fp32_mask_is_bit_identical_forward_and_backward() -> None:
    x = torch.randn(64, 300, requires_grad=True)
    g = torch.randn(64, 300)
    torch.manual_seed(3)
    y = Dropout(0.3)(x)
    after = torch.rand(3)
    (gx,) = torch.autograd.grad(y, x, g)
    x2 = x.detach().clone().requires_grad_(True)
    torch.manual_seed(3)
    y2 = _reference(x2, 0.3)
    assert torch.equal(after, torch.rand(3))  # the same draws consumed
    (gx2,) = torch.autograd.grad(y2, x2, g)
    assert torch.equal(y, y2)
    assert torch.equal(gx, gx2)


def test_bf16_input_keeps_dtype() -> None:
    x = torch.randn(32, 100).to(torch.bfloat16)
    torch.manual_seed(5)
    y = Dropout(0.3)(x)
    torch.manual_seed(5)
    assert y.dtype == torch.bfloat16
    assert torch.equal(y, _reference(x, 0.3))


def test_gankit_dropout_is_inverted_dropout() -> None:
    """Keep rate 1 - p, kept values scaled by 1 / (1 - p), gradient = mask / (1 - p)."""
    torch.manual_seed(0)
    drop = Dropout(0.3)
    x = torch.ones(200_000, requires_grad=True)
    y = drop(x)
    kept = y != 0
    assert abs(kept.float().mean().item() - 0.7) < 0.005
    torch.testing.assert_close(y[kept], torch.full_like(y[kept], 1 / 0.7))
    y.sum().backward()
    torch.testing.assert_close(x.grad, kept.float() / 0.7)
    drop.eval()
    assert torch.equal(drop(x), x)
    assert torch.equal(Dropout(0.0)(x), x)


def test_pack_samples_joins_consecutive_samples():
    x = torch.arange(24.0).reshape(6, 2, 2)  # six samples of four numbers
    packed = pack_samples(x, 3)
    assert packed.shape == (2, 12)
    assert torch.equal(packed[1], torch.cat([x[3].flatten(), x[4].flatten(), x[5].flatten()]))
    assert torch.equal(pack_samples(x, 1), x.flatten(1))
    with pytest.raises(ValueError, match=r"model.pack=4.*multiple of 4, got 6"):
        pack_samples(x, 4)
