"""Per-epoch health checks of a training run: D winning, mode collapse, a stalled G.

After every epoch `HealthMonitor.check` probes G on a fixed set of latents (its own seeded
generator: the run's random streams and exact resume are untouched) and reads the epoch's
record. Three conditions are detected, each with a one-line explanation in the notes' terms:

- `d_wins` (games whose D outputs a probability): the epoch's mean D(G(z)) is below
  `D_WINS_BELOW`. D tells the fakes from the data almost always: the minimax game's gradient
  saturates there, and the non-saturating game's G chases whatever fools this D, the usual
  road into mode collapse.
- `mode_collapse`: G's samples cover too little of the data.
  MNIST: the shipped classifier (gankit.metrics) reads the probe's samples as fewer than
  `MIN_CLASSES` classes (a class counts with >= 1% of them read as it with confidence >=
  `DIGIT_CONFIDENCE`; judged only once at least `MIN_DIGIT_SHARE` of them read as digits:
  the blurs of a first epoch are "not a digit" to it, not a collapse), or their diversity (mean
  pairwise distance of the classifier's features, as a share of the same for real training
  images) is below `MIN_DIVERSITY`. Other 28 x 28 grayscale data: the feature diversity.
  Other images: the same ratio in pixel space. Toy sets: at most a quarter of the modes
  covered while at least half of the samples sit on a mode (G found a few modes and stays).
- `stalled`: G's outputs on the probe latents moved less than `STALL_BELOW` (mean absolute
  change per pixel or coordinate, relative to the data's spread) since the last epoch.

The thresholds were set from healthy and collapsed runs of the default preset (see the
README's recipe table): healthy runs never come near them, collapsed ones cross them in the
epoch they collapse. `train.on_collapse` decides what a detection does: `warn` (a line in
the log, a mark in metrics.jsonl, in the next progress bar and in the report) or `stop`
(the same, then a checkpoint and exit status 3). Nothing here reads or writes files.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

PROBE_N = 1000
"""Latents G is probed with after every epoch."""

PROBE_SEED = 4_242
"""Seed of the probe latents and of the real reference images (own generators)."""

D_WINS_BELOW = 0.05
"""`d_wins` when the epoch's mean D(G(z)) is below this."""

MIN_CLASSES = 7
"""`mode_collapse` (MNIST) when the probe's samples show fewer classes than this."""

DIGIT_CONFIDENCE = 0.5
"""A probe sample counts as a digit when the classifier's top probability reaches this (the
shipped extractor answers non-digits with the uniform 0.1)."""

MIN_DIGIT_SHARE = 0.5
"""The class count is judged only when at least this share of the probe reads as digits."""

MIN_DIVERSITY = 0.15
"""`mode_collapse` when the probe's diversity is below this share of the real data's. A G
that draws one glyph is near 0; the default preset's healthy runs are at 0.57-0.60 after
their first epoch (the EMA's samples are still blurred averages) and rise from there."""

STALL_BELOW = 1e-3
"""`stalled` when G's outputs moved less than this (relative to the data's spread)."""

KINDS = ("d_wins", "mode_collapse", "stalled")
"""The conditions `check` reports, in this order."""


@dataclass(frozen=True)
class Alarm:
    """A detected condition: its kind (one of KINDS) and the line shown to the user."""

    kind: str
    message: str


def mean_pairwise_distance(x: Tensor) -> float:
    """Mean Euclidean distance over all pairs i != j of the rows of x (n, d), n >= 2."""
    x = x.double().flatten(1)
    n = x.shape[0]
    assert n >= 2, "need two rows"
    d = torch.cdist(x, x)
    return float(d.sum() / (n * (n - 1)))


def classes_present(probs: np.ndarray, min_share: float = 0.01,
                    confidence: float = 0.0) -> int:
    """Classes the classifier assigns at least `min_share` of all the samples to (argmax),
    counting only samples whose top probability is at least `confidence`."""
    sure = probs.max(axis=1) >= confidence
    counts = np.bincount(probs[sure].argmax(axis=1), minlength=probs.shape[1])
    return int((counts >= min_share * probs.shape[0]).sum())


def _advice(cfg: Any) -> str:
    """What to try, for the MNIST MLP and in general."""
    hints = []
    if cfg.model.init != "keras":
        hints.append("--set model.init=keras")
    hints.append(f"a lower D learning rate (--lr-d {cfg.train.lr_d / 2:g})")
    if not cfg.train.ema:
        hints.append("--ema 0.999")
    hints.append("another --seed")
    return "try " + ", ".join(hints)


class HealthMonitor:
    """Checks a run after every epoch; keeps what it needs between epochs (the last probe)."""

    def __init__(self, cfg: Any, data: Tensor, probabilistic: bool, toy: Any = None) -> None:
        """`data`: the training samples (N, ...) on any device; `toy`: the ToyDistribution
        of a toy run, else None; `probabilistic`: D outputs the logit of a probability."""
        self.cfg = cfg
        self.probabilistic = probabilistic
        self.toy = toy
        gen = torch.Generator().manual_seed(PROBE_SEED)
        self.z = torch.randn(PROBE_N, cfg.model.z_dim, generator=gen)
        pick = torch.randperm(data.shape[0], generator=gen)[:PROBE_N]
        real = data[pick.to(data.device)].detach().float().cpu()
        self.spread = float(real.std()) or 1.0
        """The data's standard deviation: changes of G are measured against it."""
        self.previous: Tensor | None = None
        self.grayscale28 = tuple(real.shape[1:]) == (1, 28, 28)
        self.classify = cfg.data.dataset == "mnist" and self.grayscale28
        self.extractor: nn.Module | None = None
        self.real_diversity: float | None = None
        if toy is None:
            if self.grayscale28:
                from gankit.metrics.features import load_extractor

                self.extractor = load_extractor(None, device="cpu")
            self.real_diversity = self._diversity(real)[0]

    def _diversity(self, images: Tensor) -> tuple[float, np.ndarray | None]:
        """(mean pairwise distance in the extractor's feature space or in pixels, probs)."""
        if self.extractor is None:
            return mean_pairwise_distance(images), None
        from gankit.metrics.features import extract

        feats, probs = extract(self.extractor, images)
        return mean_pairwise_distance(torch.from_numpy(feats)), probs

    @torch.no_grad()
    def _probe(self, g: nn.Module) -> Tensor:
        device = next(g.parameters()).device
        was = g.training
        g.eval()
        try:
            out = torch.cat([g(z.to(device)).float().cpu() for z in self.z.split(500)])
        finally:
            g.train(was)
        return out

    def check(self, g: nn.Module, record: dict[str, Any]) -> list[Alarm]:
        """Probe `g` (the sampler: EMA G when on) after epoch `record["epoch"]`; adds the probe's
        figures and `alarms` (kinds) to `record` and returns the alarms."""
        epoch = record["epoch"]
        out = self._probe(g)
        finite = bool(torch.isfinite(out).all())
        alarms: list[Alarm] = []
        if self.probabilistic and record.get("d_fake", 1.0) < D_WINS_BELOW:
            alarms.append(Alarm("d_wins", (
                f"epoch {epoch}: D is winning: mean D(G(z)) = {record['d_fake']:.3f} over the "
                f"epoch (D(x) = {record.get('d_real', float('nan')):.2f}, G's gradient norm "
                f"{record.get('g_grad_norm', float('nan')):.2g}): D tells the fakes from the "
                "data almost always, so G learns only how to fool this D (the notes: a "
                f"saturating D, the road to mode collapse); {_advice(self.cfg)}")))
        if finite:
            collapse = self._collapse(out, record)
            if collapse:
                alarms.append(Alarm("mode_collapse", f"epoch {epoch}: mode collapse: {collapse}"
                                    f" (the notes: G puts its mass on a few modes of the data, "
                                    f"which KL(p_g || p_data) punishes lightly); "
                                    f"{_advice(self.cfg)}"))
        if self.previous is not None and finite:
            change = float((out - self.previous).abs().mean()) / self.spread
            record["g_change"] = change
            if change < STALL_BELOW:
                alarms.append(Alarm("stalled", (
                    f"epoch {epoch}: G has stalled: its samples moved {change:.1e} of the "
                    f"data's spread since the last epoch (G's gradient norm "
                    f"{record.get('g_grad_norm', float('nan')):.2g}); D gives G no useful "
                    f"gradient any more; {_advice(self.cfg)}")))
        self.previous = out
        record["alarms"] = [a.kind for a in alarms]
        return alarms

    def _collapse(self, out: Tensor, record: dict[str, Any]) -> str:
        """Why the probe's samples look collapsed ('' when they do not); fills the record."""
        if self.toy is not None:
            from gankit.metrics.toy import mode_report

            rep = mode_report(out, self.toy)
            m = rep.num_modes
            if m > 1 and rep.modes_covered <= max(1, m // 4) and rep.high_quality_share >= 0.5:
                return (f"{rep.modes_covered} of {m} modes covered while "
                        f"{rep.high_quality_share:.0%} of the samples sit on a mode")
            return ""
        diversity, probs = self._diversity(out)
        assert self.real_diversity is not None
        ratio = diversity / self.real_diversity if self.real_diversity > 0 else 1.0
        record["probe_diversity"] = ratio
        why = []
        if probs is not None and self.classify:
            classes = classes_present(probs, confidence=DIGIT_CONFIDENCE)
            digits = float((probs.max(axis=1) >= DIGIT_CONFIDENCE).mean())
            record["probe_classes"] = classes
            record["probe_digits"] = digits
            if classes < MIN_CLASSES and digits >= MIN_DIGIT_SHARE:
                why.append(f"the classifier reads {PROBE_N} samples as {classes} of 10 digits")
        if ratio < MIN_DIVERSITY:
            why.append(f"their diversity is {ratio:.2f} of the real data's")
        return " and ".join(why)
