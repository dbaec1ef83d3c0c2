"""gankit's Dropout: the fused fp32 mask gives nn.Dropout's formula bit for bit, same draws."""

from __future__ import annotations

import torch

from gankit.models import Dropout


def _reference(x: torch.Tensor, p: float) -> torch.Tensor:
    """x * 1{U >= p} * 1/(1 - p), U = torch.rand in fp32 (the draws gankit has always made)."""
    keep = torch.rand(x.shape) >= p
    return x * keep * (1.0 / (1.0 - p))


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


def test_bf16_input_keeps_dtype_and_draws() -> None:
    x = torch.randn(32, 100).to(torch.bfloat16)
    torch.manual_seed(5)
    y = Dropout(0.3)(x)
    torch.manual_seed(5)
    assert y.dtype == torch.bfloat16
    assert torch.equal(y, _reference(x, 0.3))
