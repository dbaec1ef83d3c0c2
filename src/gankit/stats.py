"""The statistics a training run logs each epoch, described once.

Each `Stat` names one number of a metrics record: its key in metrics.jsonl, the label plots,
tables and progress lines show, the label for score games (least squares, WGAN-GP, hinge,
whose D outputs a score, not a probability), its TensorBoard tag, whether its curves use a
log scale, and whether it is averaged over G steps (else over D steps). The trainer, the
logs, TensorBoard, reports, comparisons and plots read this table.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Stat:
    """One logged statistic (see the module doc)."""

    key: str
    label: str
    tb_tag: str
    score_label: str | None = None
    log_scale: bool = False
    per_g_step: bool = False

    def label_for(self, probabilistic: bool) -> str:
        """The label for a game whose D outputs probabilities (True) or scores (False)."""
        return self.label if probabilistic or self.score_label is None else self.score_label


TRAINING_STATS = (
    Stat("loss_d", "D loss", "loss/D"),
    Stat("loss_g", "G loss", "loss/G", per_g_step=True),
    Stat("d_real", "D(x)", "D_output/real_D(x)", score_label="D score(x)"),
    Stat("d_fake", "D(G(z))", "D_output/fake_D(G(z))", score_label="D score(G(z))"),
    Stat("js_hat", "JS-hat", "diagnostics/js_hat"),
    Stat("g_grad_norm", "G grad norm", "diagnostics/g_grad_norm", log_scale=True,
         per_g_step=True),
    Stat("dj_dl", "|dJ/dl|", "diagnostics/dJ_dlogit", log_scale=True, per_g_step=True),
)
"""The per-iteration statistics, averaged per epoch, in the trainer's order."""

TIMING_STATS = (
    Stat("images_per_s", "images/s", "speed/images_per_s"),
    Stat("seconds", "epoch seconds", "speed/epoch_seconds"),
    Stat("elapsed", "train s", "other/elapsed"),
)
"""The per-epoch timings (`elapsed`: training seconds of the run so far)."""

TOY_STATS = (
    Stat("modes_covered", "modes covered", "other/modes_covered"),
    Stat("hq_share", "high-quality share", "other/hq_share"),
    Stat("js_hist", "JS (hist, nats)", "other/js_hist"),
)
"""A toy run's per-epoch metrics (gankit.runs.toy): modes covered, the share of samples
near a mode, and the histogram JS divergence of 1-D runs."""

BY_KEY = {s.key: s for s in TRAINING_STATS + TIMING_STATS + TOY_STATS}
"""Every logged statistic by its record key."""

STAT_NAMES = tuple(s.key for s in TRAINING_STATS)
"""The keys of TRAINING_STATS, in order."""

G_STAT_NAMES = tuple(s.key for s in TRAINING_STATS if s.per_g_step)
"""The keys of the statistics of G steps."""

LOG_SCALE = tuple(s.key for s in TRAINING_STATS if s.log_scale)
"""Keys whose curves are drawn on a log scale."""

TB_TAGS = {s.key: s.tb_tag for s in BY_KEY.values()}
"""Record keys -> TensorBoard tags (grouped so related curves share a panel section)."""


def d_labels(probabilistic: bool) -> tuple[str, str]:
    """Names of the logged D outputs: probabilities D(x), D(G(z)) or mean scores."""
    return BY_KEY["d_real"].label_for(probabilistic), BY_KEY["d_fake"].label_for(probabilistic)
