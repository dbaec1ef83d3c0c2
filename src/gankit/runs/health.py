"""Per-epoch health checks of a training run: D winning, mode collapse, a stalled G, a dead run.

After every epoch `HealthMonitor.check` probes G on a fixed set of latents (its own seeded
generator: the run's random streams and exact resume are untouched) and reads the epoch's
record. Each condition comes with a line in the notes' terms (their comparison figure of the
three games: (a) near D(G(z)) = 0 the minimax and maximum-likelihood costs are flat, G's
gradient vanishes; (b) the maximum-likelihood cost takes its gradient from a few samples, high
variance; (c) the non-saturating cost keeps a gradient with low variance, but trades
KL(p_g || p_data), which punishes missing modes lightly: mode collapse):

- `d_wins` (games whose D outputs a probability): the epoch's mean D(G(z)) is below
  `D_WINS_BELOW`.
- `mode_collapse`: G's samples cover too little of the data. Every threshold is calibrated
  on the run's own data, measured the same way as the probe, never on one preset:
  * pixels (every image run, from epoch 1): the probe's diversity (mean pairwise distance)
    below `FLOOR_SHARE` of the least diverse class of the real data (G draws nearly one image
    for every z), or below `DROP_SHARE` of the most the run showed in an earlier epoch (G lost
    its variety);
  * digits (when the real data reads as digits to the shipped classifier, judged only once at
    least `MIN_DIGIT_SHARE` of the probe reads as digits: the blurs of a first epoch are "not
    a digit" to it, not a collapse): fewer classes than `MIN_CLASSES` (or than the real data
    shows, if fewer), or the digits' feature diversity below `DIGIT_FLOOR_SHARE` of the real
    data's least diverse class;
  * toy sets: at most a quarter of the modes covered while at least half of the samples sit
    on a mode (G found a few modes and stays).
- `stalled`: G's outputs on the probe latents moved less than `STALL_BELOW` (mean absolute
  change per pixel or coordinate, relative to the data's spread) since the last epoch.
- `dead`: D wins and, in the same epoch, G collapsed or stalled (or, in the minimax and
  maximum-likelihood games, D won two epochs running or so clearly that G's gradient is
  under 1% of its size, `DEAD_BELOW`): the line says the run will not recover, so resuming or
  sampling it gives nothing, and what to start instead.
- `narrow_data` (epoch 1, digits): the training data itself reads as fewer than
  `MIN_CLASSES` digits: whatever G learns, the evaluation against MNIST shows dropped modes.

`train.on_collapse` decides what a detection does: `warn` (a line in the log, a mark in
metrics.jsonl, in the next progress bar and in the report) or `stop` (the same, then a
checkpoint and exit status 3). Nothing here reads or writes files.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from gankit.metrics.scores import DIGIT_CONFIDENCE, is_digit

PROBE_N = 1000
"""Latents G is probed with after every epoch."""

PROBE_SEED = 4_242
"""Seed of the probe latents and of the real reference images (own generators)."""

D_WINS_BELOW = 0.05
"""`d_wins` when the epoch's mean D(G(z)) is below this."""

DEAD_BELOW = 0.005
"""In the minimax and maximum-likelihood games G's gradient through a fake's logit is
D(G(z)) (minimax) or D/(1 - D) / 2 (maximum likelihood): with the epoch's mean D(G(z)) below
this it is under 1% of its size at D(G(z)) = 0.5, the flat end of the notes' figure."""

MIN_CLASSES = 7
"""`mode_collapse` (MNIST) when the probe's samples show fewer classes than this."""

MIN_DIGIT_SHARE = 0.5
"""The digit checks (classes, feature diversity) are judged only when at least this share of
the probe reads as digits (top probability >= gankit.metrics.scores.DIGIT_CONFIDENCE)."""

REAL_DIGIT_SHARE = 0.5
"""The data counts as digits (and gets the digit checks) when most of it reads as digits
(MNIST: all but a few images; Fashion-MNIST and other images: few)."""

FLOOR_SHARE = 0.1
"""`mode_collapse` when the probe's pixel diversity is below this share of the least diverse
real class's (MNIST: the ones, 0.64 of the whole set): G draws nearly the same image for every
z. Healthy MNIST runs' first-epoch probes measured 0.17 to 0.63 of the whole set (0.17-0.18
the default recipe at lr_d 1e-4 or x 50: its EMA's blurred averages; 0.23-0.30 the seed
preset; 0.59-0.63 the default preset): 2.6 to 10 times above it (benchmarks/health_matrix.py)."""

DROP_SHARE = 0.5
"""`mode_collapse` when the probe's pixel diversity fell below this share of the most it was
in an earlier epoch of the run: G lost half its variety."""

DIGIT_FLOOR_SHARE = 0.5
"""`mode_collapse` when the feature diversity of the probe's digits is below this share of the
real data's least diverse class (read by the classifier): less variety than half of one digit."""

MIN_CLASS_IMAGES = 20
"""Real images a class needs in the reference to calibrate the least diverse class."""

STALL_BELOW = 1e-3
"""`stalled` when G's outputs moved less than this (relative to the data's spread)."""

KINDS = ("d_wins", "mode_collapse", "stalled", "dead", "narrow_data")
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


GAME_NOTES = {
    "minimax": ("the minimax cost log(1 - D(G(z))) is flat near D(G(z)) = 0, so G's gradient "
                "vanishes (the notes' comparison figure, observation (a))"),
    "maximum-likelihood": (
        "the maximum-likelihood cost is flat near D(G(z)) = 0 and takes what gradient it has "
        "from the few samples D is unsure of, with high variance (the notes' comparison "
        "figure, observations (a) and (b): the hardest of the three games to train)"),
    "non-saturating": ("G's non-saturating cost still has a gradient there (the notes' "
                       "observation (c)), but it chases whatever fools this D, the road into "
                       "mode collapse"),
}
"""Why D winning matters in each probabilistic game, in the notes' terms."""

COLLAPSE_NOTE = ("the notes: G puts its mass on a few modes of the data, which "
                 "KL(p_g || p_data) in the non-saturating game punishes lightly")


def _game_note(game: str) -> str:
    return GAME_NOTES.get(game, "D tells the fakes from the data almost always: a saturating D")


def _start_over(cfg: Any) -> str:
    """What to start instead of a dead run."""
    if cfg.loss.game != "non-saturating":
        return ("start a new run with --game non-saturating (the notes' choice: G keeps its "
                "gradient when D wins, observation (c))")
    return "start a new run: " + _advice(cfg)


class HealthMonitor:
    """Checks a run after every epoch; keeps what it needs between epochs (the last probe, the
    most diverse probe so far, whether D won the epoch before)."""

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
        self.best_pixels = 0.0
        """The most pixel diversity (share of the real data's) a probe of this run showed."""
        self.d_won = False
        self.first = True
        self.extractor: nn.Module | None = None
        self.real_pixels = 0.0
        self.pixel_floor = 0.0
        """Pixel diversity of the real data's least diverse class, as a share of all of it."""
        self.real_features = 0.0
        self.digit_floor = 0.0
        """Feature diversity of the real data's least diverse class, as a share of all of it."""
        self.real_classes = 0
        self.digits = False
        """The data reads as digits to the shipped classifier: the digit checks apply."""
        if toy is None:
            self._calibrate(real)

    def _calibrate(self, real: Tensor) -> None:
        """The real data's diversity, overall and of its least diverse class, in pixels and
        (28 x 28 grayscale data that reads as digits) in the classifier's features."""
        self.real_pixels = mean_pairwise_distance(real) or 1.0
        groups = None
        if tuple(real.shape[1:]) == (1, 28, 28):
            from gankit.metrics.features import extract, load_extractor

            self.extractor = load_extractor(None, device="cpu")
            feats, probs = extract(self.extractor, real)
            sure = is_digit(probs)
            self.digits = bool(sure.mean() >= REAL_DIGIT_SHARE)
            if self.digits:
                labels = np.where(sure, probs.argmax(axis=1), -1)
                groups = [labels == c for c in range(probs.shape[1])
                          if (labels == c).sum() >= MIN_CLASS_IMAGES]
                self.real_classes = classes_present(probs, confidence=DIGIT_CONFIDENCE)
                f = torch.from_numpy(feats)
                self.real_features = mean_pairwise_distance(f[torch.from_numpy(sure)]) or 1.0
                self.digit_floor = min(
                    mean_pairwise_distance(f[torch.from_numpy(g)]) for g in groups
                ) / self.real_features
        if groups:
            self.pixel_floor = min(mean_pairwise_distance(real[torch.from_numpy(g)])
                                   for g in groups) / self.real_pixels
        else:  # no classes to read: the whole data is its own least diverse "class"
            self.pixel_floor = 1.0

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
        game = self.cfg.loss.game
        d_wins = self.probabilistic and record.get("d_fake", 1.0) < D_WINS_BELOW
        if d_wins:
            alarms.append(Alarm("d_wins", (
                f"epoch {epoch}: D is winning: mean D(G(z)) = {record['d_fake']:.3f} over the "
                f"epoch (D(x) = {record.get('d_real', float('nan')):.2f}, G's gradient norm "
                f"{record.get('g_grad_norm', float('nan')):.2g}): D tells the fakes from the "
                f"data almost always; {_game_note(game)}; {_advice(self.cfg)}")))
        collapse = ""
        if finite:
            collapse = self._collapse(out, record)
            if collapse:
                alarms.append(Alarm("mode_collapse", f"epoch {epoch}: mode collapse: {collapse}"
                                    f" ({COLLAPSE_NOTE}); {_advice(self.cfg)}"))
        stalled = False
        if self.previous is not None and finite:
            change = float((out - self.previous).abs().mean()) / self.spread
            record["g_change"] = change
            if change < STALL_BELOW:
                stalled = True
                alarms.append(Alarm("stalled", (
                    f"epoch {epoch}: G has stalled: its samples moved {change:.1e} of the "
                    f"data's spread since the last epoch (G's gradient norm "
                    f"{record.get('g_grad_norm', float('nan')):.2g}); D gives G no useful "
                    f"gradient any more; {_advice(self.cfg)}")))
        flat = game in ("minimax", "maximum-likelihood") and d_wins and (
            self.d_won or record["d_fake"] < DEAD_BELOW)
        if d_wins and (collapse or stalled or flat):
            how = ("G collapsed" if collapse else "G stopped moving" if stalled
                   else f"mean D(G(z)) is {record['d_fake']:.3f}, where G's cost is flat"
                   if record["d_fake"] < DEAD_BELOW else "D has won two epochs running")
            alarms.append(Alarm("dead", (
                f"epoch {epoch}: this run is dead: D wins and {how}; {_game_note(game)}; "
                f"from here G gets no gradient that leads back, so resuming this run or "
                f"sampling it gives nothing: {_start_over(self.cfg)}")))
        if self.first and epoch == 1 and self.digits and self.real_classes < MIN_CLASSES:
            alarms.append(Alarm("narrow_data", (
                f"epoch {epoch}: the training data itself reads as {self.real_classes} of 10 "
                f"digits: G cannot learn more, and gankit eval against all of MNIST will show "
                f"the others as dropped modes (mode dropping of the data, not of G); train on "
                f"data with every class to judge G's coverage")))
        self.d_won = d_wins
        self.first = False
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
        why = []
        ratio = mean_pairwise_distance(out) / self.real_pixels
        record["probe_diversity"] = ratio
        if ratio < FLOOR_SHARE * self.pixel_floor:
            why.append(f"their diversity is {ratio:.2f} of the real data's, a tenth of its "
                       f"least varied class's ({self.pixel_floor:.2f}): nearly one image for "
                       f"every z")
        elif ratio < DROP_SHARE * self.best_pixels:
            why.append(f"their diversity fell to {ratio:.2f} of the real data's from "
                       f"{self.best_pixels:.2f} in an earlier epoch")
        self.best_pixels = max(self.best_pixels, ratio)
        if self.extractor is not None and self.digits:
            why.extend(self._digit_collapse(out, record))
        return " and ".join(why)

    def _digit_collapse(self, out: Tensor, record: dict[str, Any]) -> list[str]:
        """The digit checks of a probe (judged once most of it reads as digits)."""
        from gankit.metrics.features import extract

        assert self.extractor is not None
        feats, probs = extract(self.extractor, out)
        sure = is_digit(probs)
        digits = float(sure.mean())
        classes = classes_present(probs, confidence=DIGIT_CONFIDENCE)
        record["probe_classes"] = classes
        record["probe_digits"] = digits
        if digits < MIN_DIGIT_SHARE:
            return []  # not digits yet (a first epoch's blurs): nothing to judge
        why = []
        wanted = min(MIN_CLASSES, self.real_classes)
        if classes < wanted:
            why.append(f"the classifier reads {PROBE_N} samples as {classes} of 10 digits")
        spread = mean_pairwise_distance(torch.from_numpy(feats[sure])) / self.real_features
        record["probe_digit_diversity"] = spread
        if spread < DIGIT_FLOOR_SHARE * self.digit_floor:
            why.append(f"the digits' variety is {spread:.2f} of the real digits', under half "
                       f"of one real digit's ({self.digit_floor:.2f})")
        return why
