"""Small pieces the networks share: class conditioning (G's embedding, D's projection),
PacGAN's packing of D's inputs and gankit's faster Dropout. Shapes: B = batch, Z = latent
size, E = class embedding size, F = D's feature size before its last layer.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

CLASS_EMBED_DIM = 32
"""E: size of the class embedding a conditional G concatenates to z."""


def _join_labels(embed: nn.Embedding | None, z: Tensor, labels: Tensor | None) -> Tensor:
    """z (B, Z) -> (B, Z + E) with the labels' embedding when conditional; checks the call.

    A conditional G called without labels draws the classes 0, 1, ..., K-1, 0, ... in turn
    (so code that only knows g(z), e.g. an evaluation, gets a balanced sample).
    """
    if embed is None:
        assert labels is None, "labels given to an unconditional generator"
        return z
    if labels is None:
        labels = torch.arange(z.shape[0], device=z.device) % embed.num_embeddings
    return torch.cat([z, embed(labels)], dim=1)  # (B, Z + E)


def _project(embed: nn.Embedding | None, features: Tensor, labels: Tensor | None) -> Tensor:
    """The projection term <embed(y), phi(x)> (B,), or 0 for an unconditional D."""
    if embed is None:
        assert labels is None, "labels given to an unconditional discriminator"
        return features.new_zeros(())
    assert labels is not None, "a conditional discriminator needs labels"
    return (embed(labels) * features).sum(dim=1)  # (B, F) . (B, F) -> (B,)


def pack_samples(x: Tensor, pack: int) -> Tensor:
    """PacGAN's packing (Lin et al. 2018): (B, ...) samples -> (B / pack, pack * F), each row
    `pack` consecutive samples flattened and joined, so D judges `pack` samples at once.

    Raises ValueError naming the sizes when B is not a multiple of `pack`.
    """
    flat = x.flatten(1)  # (B, F)
    if pack == 1:
        return flat
    if flat.shape[0] % pack:
        raise ValueError(f"a packed discriminator (model.pack={pack}) needs a batch that is a "
                         f"multiple of {pack}, got {flat.shape[0]} samples; pick a batch size "
                         f"divisible by {pack}")
    return flat.reshape(flat.shape[0] // pack, pack * flat.shape[1])  # (B / pack, pack F)


def keep_mask(shape: tuple[int, ...] | torch.Size, p: float, device: torch.device) -> Tensor:
    """Bool mask, each entry True with probability 1 - p, independently (the global RNG).

    Each entry compares 16 uniform random bits with a threshold: P(True) = 1 - round(p *
    2^16) / 2^16, within 2^-17 of 1 - p (p = 0.3: 0.69999695; torch.rand(...) >= p is
    within 2^-24). The bits are drawn 64 at a time, four entries per int64 random_ over its
    whole range: on the CPU cheaper than torch.rand's floats or 32 bits per entry (see
    benchmarks/throughput.py, gankit-*-rand-dropout and gankit-*-32bit-dropout).
    """
    n = 1
    for side in shape:
        n *= side
    threshold = round(p * 2**16) - 2**15  # U16 >= round(p 2^16)  <=>  I16 >= this
    bits = torch.empty((n + 3) // 4, dtype=torch.int64, device=device).random_(-(2**63), None)
    return bits.view(torch.int16)[:n].view(shape) >= threshold


class Dropout(nn.Dropout):
    """nn.Dropout's math, x * keep / (1 - p) with P(keep) = 1 - p, with a faster mask.

    The keep mask comes from `keep_mask` (random bits and a comparison) instead of
    bernoulli_ (faster on the CPU; see benchmarks/throughput.py). For fp32 inputs the mask
    is the fp32 tensor keep / (1 - p), so forward and backward are one multiplication each
    with no bool -> float conversion (bit-identical to x * keep * (1 / (1 - p))).
    On GPUs it is torch's own fused dropout (one kernel, CUDA-graph safe).
    Identity in eval mode or at p = 0.
    """

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        if x.device.type != "cpu":  # GPUs: torch's fused dropout kernel (one launch)
            return nn.functional.dropout(x, self.p, training=True)
        keep = keep_mask(x.shape, self.p, x.device)
        scale = 1.0 / (1.0 - self.p)
        if x.dtype == torch.float32:
            return x * torch.where(keep, scale, 0.0)
        # bf16/fp16 (autocast): a low-precision scaled mask would round 1 / (1 - p)
        return x * keep * scale
