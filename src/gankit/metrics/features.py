"""The MNIST feature extractor: a small CNN, its training, and loading its shipped weights.

Every metric in `gankit.metrics` is computed in this network's feature space: the 128-d
penultimate layer (for FID, KID, precision/recall, density/coverage) and the 10-class
softmax (for the classifier score, mode coverage and confidence). Inception weights suit
28 x 28 digits badly and cannot be downloaded offline; the field's advice is a classifier
trained on MNIST (docs/theory.md, section 8). Figures from different extractors are not comparable.

Images enter as float tensors (B, 1, 28, 28) in [-1, 1], the range a generator emits.
The weights ship as `gankit/assets/mnist_extractor.safetensors`, with a json beside it that
records their SHA256, test accuracy, seed, command, torch version, outlier kinds and
augmentation; `load_extractor` checks the SHA256 before it reads a byte of the weights, and
loads older extractors too (`--extractor PATH`; a ten-class head without "not a digit").

Extractors are judged on a ladder of degradations (gankit.metrics.degrade,
benchmarks/ladder.py): blurred, noisy, warped, thinned and thickened digits must score worse
with each degradation's strength but better than any one-class set, and non-digits worse than
every set of digits. The shipped extractor fails it (its outlier exposure includes averages of
digits, so digits blurred by 1 px read as non-digits). `train_extractor(augment=True,
outlier_kinds=LADDER_KINDS)` trains candidates that pass the FID rules for ten-class sets but
let held-out Gaussian noise score precision 0.3 and fewer-class sets beat non-digits; with
`feature_norm` (the objectosphere cost) every non-digit scores worse than every set of digits,
but blank images land in the k-NN balls of the few real digits the extractor gives short
features (precision 1.0). `displacement` and `non_digit_margin` grade the feature space
instead: degraded digits a bounded, severity-graded distance from their clean selves,
non-digits a margin away from the nearest digit; they hold every rule but one (precision at
the mildest blur, 0.5 px). None is shipped yet (benchmarks/results/ladder-*.md).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.errors import CheckpointError
from gankit.fileio import sha256_file
from gankit.metrics.degrade import TRAINED
from gankit.metrics.outliers import KINDS as OUTLIER_KINDS

DIGITS = 10
"""Classes of the head before its "not a digit" class."""

FEATURE_DIM = 128
"""Size of the penultimate layer: the feature space of FID, KID and precision/recall."""

OUTLIER_WEIGHT = 0.5
"""Weight of the outlier-exposure cost ("not a digit" cross-entropy) beside the digits' own."""

ASSET_NAME = "mnist_extractor.safetensors"


class MNISTExtractor(nn.Module):
    """image (B, 1, 28, 28) in [-1, 1] -> (features (B, 128), logits (B, 10)).

    conv5(32)-BN-ReLU-pool -> conv5(64)-BN-ReLU-pool -> 1024 -> 128 (ReLU) -> 11.
    Shapes: 28 -> 24 -> 12 -> 8 -> 4; 64 x 4 x 4 = 1024. About 185k parameters.
    The head has an eleventh class, "not a digit", learnt from non-digit images (outlier
    exposure, gankit.metrics.outliers); `forward` folds it into the ten digits as a uniform
    share (`fold_other`), so its logits describe a distribution over the digits that is
    uniform for what is not a digit. `raw` gives the eleven logits.
    """

    def __init__(self, feature_dim: int = FEATURE_DIM, dropout: float = 0.3,
                 other_class: bool = True) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 5, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 5, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * 4 * 4, feature_dim), nn.ReLU(),
        )  # fmt: skip
        self.dropout = nn.Dropout(dropout)
        # other_class=False: the ten-class head of extractors trained before outlier exposure
        self.head = nn.Linear(feature_dim, DIGITS + int(other_class))

    def raw(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(features (B, 128), logits (B, 11)): the ten digits, then "not a digit" (an older
        extractor without that class: (B, 10))."""
        feats = self.body(x)  # (B, F)
        return feats, self.head(self.dropout(feats))  # (B, 11)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        feats, raw = self.raw(x)
        if raw.shape[1] == DIGITS:  # an extractor without the "not a digit" class
            return feats, raw
        return feats, fold_other(raw)  # (B, 10)


def fold_other(raw: Tensor) -> Tensor:
    """logits (B, 11) -> log-probabilities (B, 10): p(digit c) + p(not a digit) / 10.

    Log-probabilities are logits (softmax gives the probabilities back); a confident "not a
    digit" becomes the uniform prediction, confidence 0.1 and a classifier score of 1.
    """
    logp = F.log_softmax(raw, dim=1)  # (B, 11)
    return torch.logaddexp(logp[:, :DIGITS], logp[:, DIGITS:] - math.log(DIGITS))


def to_model_input(images: np.ndarray) -> Tensor:
    """uint8 images (N, 28, 28) in [0, 255] -> float (N, 1, 28, 28) in [-1, 1]."""
    assert images.dtype == np.uint8 and images.shape[1:] == (28, 28), images.shape
    return torch.from_numpy(images).float().div_(127.5).sub_(1.0).unsqueeze(1)


@dataclass(frozen=True)
class TrainResult:
    """What `train_extractor` returns: the trained model and its measured figures."""

    model: MNISTExtractor
    test_accuracy: float
    seconds: float
    epochs: int
    seed: int
    outlier_weight: float = 0.0
    augment: bool = False
    outlier_kinds: tuple[str, ...] = OUTLIER_KINDS
    feature_norm: float = 0.0
    displacement: float = 0.0
    non_digit_margin: float = 0.0


def train_extractor(
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    test_y: np.ndarray,
    epochs: int = 4,
    seed: int = 0,
    batch_size: int = 128,
    lr: float = 3e-3,
    log: bool = True,
    outlier_weight: float = OUTLIER_WEIGHT,
    augment: bool = False,
    outlier_kinds: tuple[str, ...] = OUTLIER_KINDS,
    feature_norm: float = 0.0,
    displacement: float = 0.0,
    non_digit_margin: float = 0.0,
) -> TrainResult:
    """Train the extractor on uint8 MNIST arrays; deterministic for a given seed and thread count.

    Adam with a one-cycle learning-rate schedule and random shifts of up to 2 pixels. With
    `outlier_weight` > 0 (outlier exposure) every batch also carries batch_size / 2 non-digit
    images (gankit.metrics.outliers) labelled "not a digit" (the head's eleventh class), their
    cross-entropy weighted by `outlier_weight`, drawn from `outlier_kinds`. With `augment`,
    the digits themselves are shown blurred, noisy and eroded at mild strengths
    (gankit.metrics.degrade.augment), labelled as their digit. With `feature_norm` (xi) > 0,
    the objectosphere cost (Dhamija, Guenther & Boult, "Reducing Network Agnostophobia",
    NeurIPS 2018) pulls the non-digits' features toward 0 and pushes the digits' to a norm of
    at least xi, (||f|| / xi)^2 and (max(xi - ||f||, 0) / xi)^2, weighted as the outliers'
    cross-entropy: non-digits then sit far from every digit in the feature space.

    Two costs grade the feature space by the images' quality, both in units of the spread R of
    clean digits' features (the root mean square distance from their mean, in the batch):

    - `displacement` (a, with `augment`): each of a quarter of the batch's digits is also shown
      clean, and its degraded image's features must lie a * sqrt(severity) * R from its clean
      image's, severity being how strong its degradation was (1 at the strongest legible rung,
      gankit.metrics.degrade.graded_augment): `graded_displacement`. Degraded digits stay
      their digit for the head, but leave the clean digits' neighbourhoods as the
      degradation grows, by a bounded amount (a R at the legible limit).
    - `non_digit_margin` (M, with outlier exposure): every non-digit's features must lie at
      least M * R from those of every digit of the batch, degraded ones included (R their
      spread): `margin_cost`.

    Returns the model in eval mode and its accuracy on (test_x, test_y).
    """
    from gankit.metrics.degrade import graded_augment
    from gankit.metrics.outliers import outlier_batch

    assert displacement >= 0 and non_digit_margin >= 0, (displacement, non_digit_margin)
    assert augment or not displacement, "displacement grades augmented digits: set augment"
    assert outlier_weight > 0 or not non_digit_margin, "non_digit_margin needs outlier exposure"
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = MNISTExtractor()
    x_all = to_model_input(train_x)
    y_all = torch.from_numpy(train_y.astype(np.int64))
    steps_per_epoch = (len(x_all) + batch_size - 1) // batch_size
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=lr, total_steps=epochs * steps_per_epoch, pct_start=0.2
    )
    start = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(x_all), generator=gen)
        total = 0.0
        for i in range(steps_per_epoch):
            idx = order[i * batch_size : (i + 1) * batch_size]
            x = _random_shift(x_all[idx], 2, gen)  # (B, 1, 28, 28)
            clean = x
            if augment:  # blurred / noisy digits, still their digit
                x, severity = graded_augment(x, gen)  # (B, 1, 28, 28), (B,)
            if outlier_weight > 0:
                b = len(idx)
                odd = outlier_batch(b // 2, clean, gen, outlier_kinds)  # (B/2, 1, 28, 28)
                pairs = b // 4 if displacement > 0 else 0  # digits also shown clean
                # (B + B/2 + P, 128), (B + B/2 + P, 11): digits, non-digits, clean digits
                feats, logits = model.raw(torch.cat([x, odd, clean[:pairs]]))
                other = torch.full((len(odd),), DIGITS, dtype=torch.long)
                loss = (F.cross_entropy(logits[:b], y_all[idx])
                        + outlier_weight * F.cross_entropy(logits[b : b + len(odd)], other))
                if feature_norm > 0:
                    loss = loss + outlier_weight * objectosphere(feats[: b + len(odd)], b,
                                                                 feature_norm)
                if displacement > 0:
                    loss = loss + graded_displacement(feats[b + len(odd):], feats[:pairs],
                                                      severity[:pairs], displacement)
                if non_digit_margin > 0:  # every digit row: degraded, and clean if any
                    digit_rows = torch.cat([feats[:b], feats[b + len(odd):]])
                    loss = loss + margin_cost(digit_rows, feats[b : b + len(odd)],
                                              non_digit_margin)
            else:
                _, logits = model.raw(x)
                loss = F.cross_entropy(logits, y_all[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item()
        if log:
            acc = accuracy(model, test_x, test_y)
            elapsed = time.perf_counter() - start
            print(f"epoch {epoch + 1}/{epochs}  loss {total / steps_per_epoch:.4f}  "
                  f"test acc {acc:.4%}  {elapsed:.0f}s", flush=True)  # fmt: skip
    model.eval()
    acc = accuracy(model, test_x, test_y)
    return TrainResult(model, acc, time.perf_counter() - start, epochs, seed,
                       outlier_weight, augment, tuple(outlier_kinds), feature_norm,
                       displacement, non_digit_margin)


def objectosphere(feats: Tensor, n_digits: int, xi: float) -> Tensor:
    """The objectosphere cost of features (B, F) whose first `n_digits` rows are digits and the
    rest non-digits: mean (max(xi - ||f||, 0) / xi)^2 over digits + mean (||f|| / xi)^2 over
    non-digits; 0 when every digit's feature norm is >= xi and every non-digit's is 0."""
    norm = feats.norm(dim=1) / xi  # (B,)
    return (1 - norm[:n_digits]).clamp_min(0).pow(2).mean() + norm[n_digits:].pow(2).mean()


SPREAD_FLOOR = 1e-3
"""Least spread R the costs divide by: a network whose features all died (all 0) would
otherwise turn any nonzero distance into an overflow."""


def feature_spread(feats: Tensor) -> Tensor:
    """The spread R of features (B, F): root mean square distance from their mean, detached
    (a unit for the costs below, not something to train)."""
    f = feats.detach()
    return (f - f.mean(dim=0)).pow(2).sum(dim=1).mean().sqrt()


def graded_displacement(clean: Tensor, degraded: Tensor, severity: Tensor,
                        scale: float) -> Tensor:
    """Mean over pairs of (||f(degraded) - f(clean)|| / R - scale * sqrt(severity))^2:
    features (P, F) of clean digits and of the same digits degraded, each pair's severity (P,),
    R the clean features' spread (`feature_spread`). 0 when every degraded digit lies exactly
    scale * sqrt(severity) * R from its clean self (an undegraded one, severity 0, on it).
    The square root makes a squared distance, as FID is, grow in proportion to the severity,
    and moves even mild degradations out of the clean digits' k-NN balls."""
    assert clean.shape == degraded.shape and severity.shape == clean.shape[:1], (
        clean.shape, degraded.shape, severity.shape)
    dist = ((degraded - clean).pow(2).sum(dim=1) + 1e-12).sqrt()  # (P,); smooth at 0
    spread = feature_spread(clean).clamp_min(SPREAD_FLOOR)
    return (dist / spread - scale * severity.sqrt()).pow(2).mean()


def margin_cost(digits: Tensor, odd: Tensor, margin: float) -> Tensor:
    """Mean over non-digits (N, F) of (max(margin - d / R, 0))^2, d the distance to the
    nearest of the digits (D, F) (clean and degraded), R their spread (detached): 0 when every
    non-digit lies at least margin * R from every digit. Near, not centre: odd digits far from
    the centre, whose k-NN balls are wide, must not reach the non-digits either."""
    spread = feature_spread(digits).clamp_min(SPREAD_FLOOR)
    sq = (odd.unsqueeze(1) - digits.unsqueeze(0)).pow(2).sum(dim=2)  # (N, D)
    nearest = (sq.min(dim=1).values + 1e-12).sqrt() / spread  # (N,)
    return (margin - nearest).clamp_min(0).pow(2).mean()


def _random_shift(x: Tensor, max_shift: int, gen: torch.Generator) -> Tensor:
    """Shift the whole batch by one random (dy, dx) in [-max_shift, max_shift], padding with -1."""
    dy, dx = torch.randint(-max_shift, max_shift + 1, (2,), generator=gen).tolist()
    if dy == 0 and dx == 0:
        return x
    m = max_shift
    padded = F.pad(x, (m, m, m, m), value=-1.0)  # (B, 1, 28 + 2m, 28 + 2m)
    return padded[:, :, m + dy : m + dy + 28, m + dx : m + dx + 28]


@torch.no_grad()
def accuracy(model: MNISTExtractor, images: np.ndarray, labels: np.ndarray) -> float:
    """Share of uint8 images (N, 28, 28) the model classifies as their label."""
    was_training = model.training
    model.eval()
    correct = 0
    for i in range(0, len(images), 1000):
        _, logits = model(to_model_input(images[i : i + 1000]))
        correct += int((logits.argmax(1).numpy() == labels[i : i + 1000]).sum())
    model.train(was_training)
    return correct / len(images)


@torch.no_grad()
def extract(
    model: MNISTExtractor, images: Tensor, batch_size: int = 500, device: str | torch.device = "cpu"
) -> tuple[np.ndarray, np.ndarray]:
    """images (N, 1, 28, 28) in [-1, 1] -> (features (N, 128) float64, probs (N, 10) float64)."""
    assert images.ndim == 4 and images.shape[1:] == (1, 28, 28), tuple(images.shape)
    model.eval()
    feats, probs = [], []
    for i in range(0, images.shape[0], batch_size):
        x = images[i : i + batch_size].to(device=device, dtype=torch.float32)
        f, logits = model(x)
        feats.append(f.double().cpu().numpy())
        probs.append(torch.softmax(logits.double(), dim=1).cpu().numpy())
    return np.concatenate(feats), np.concatenate(probs)


def save_extractor(result: TrainResult, out: Path, command: str) -> dict:
    """Write the weights (safetensors) to `out` and the record json beside it; return the record."""
    from safetensors.torch import save_file

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in result.model.state_dict().items()}
    # no metadata: safetensors writes a metadata dict in arbitrary key order, which would
    # make the file's SHA256 differ between two runs with bit-identical weights
    save_file(state, str(out))
    record = {
        "file": out.name,
        "sha256": sha256_file(out),
        "test_accuracy": round(result.test_accuracy, 6),
        "test_set": "MNIST test (10,000 images)",
        "epochs": result.epochs,
        "seed": result.seed,
        "train_seconds": round(result.seconds, 1),
        "threads": torch.get_num_threads(),
        "command": command,
        "torch_version": torch.__version__,
        "feature_dim": FEATURE_DIM,
        "outlier_exposure": {"weight": result.outlier_weight,
                             "kinds": list(result.outlier_kinds) if result.outlier_weight else []},
        "augmentation": ({"share": 0.5, "max_strength": dict(TRAINED)} if result.augment
                         else None),
        "objectosphere_xi": result.feature_norm or None,
        "displacement": result.displacement or None,
        "non_digit_margin": result.non_digit_margin or None,
        "input": "float (B, 1, 28, 28) in [-1, 1]",
    }
    out.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")
    return record


def default_weights() -> Path:
    """Path of the weights shipped inside the package (gankit/assets)."""
    return Path(str(resources.files("gankit") / "assets" / ASSET_NAME))


def load_extractor(
    path: str | Path | None = None, device: str | torch.device = "cpu"
) -> MNISTExtractor:
    """The extractor in eval mode, from `path` (default: the shipped asset).

    The SHA256 recorded in the json beside the weights is checked first; a mismatch or a
    missing file raises CheckpointError.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    weights = Path(path) if path is not None else default_weights()
    record_path = weights.with_suffix(".json")
    if not weights.is_file() or not record_path.is_file():
        raise CheckpointError(
            f"extractor weights {weights} or their record {record_path.name} not found; "
            "run `gankit eval train-extractor --out PATH` or reinstall gankit"
        )
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise CheckpointError(f"extractor record {record_path} is unreadable ({type(err).__name__})"
                              "; reinstall gankit or retrain with `gankit eval "
                              "train-extractor`") from None
    if not isinstance(record, dict):
        raise CheckpointError(f"extractor record {record_path} is not a JSON object; reinstall "
                              "gankit or retrain with `gankit eval train-extractor`")
    missing = [k for k in ("sha256", "test_accuracy") if k not in record]  # eval reads both
    if missing:
        raise CheckpointError(f"extractor record {record_path} lacks {', '.join(missing)}; "
                              "retrain with `gankit eval train-extractor`, which writes it")
    actual = sha256_file(weights)
    if actual != record.get("sha256"):
        raise CheckpointError(
            f"extractor weights {weights} have SHA256 {actual[:12]}..., but {record_path.name} "
            f"records {str(record.get('sha256'))[:12]}...; the file is corrupt or replaced, "
            "retrain with `gankit eval train-extractor`"
        )
    try:
        state = load_file(str(weights))
    except SafetensorError as err:
        raise CheckpointError(f"extractor weights {weights} unreadable ({err})") from err
    damaged = [k for k, v in state.items() if v.is_complex()
               or (v.is_floating_point() and not bool(torch.isfinite(v).all()))]
    if damaged:  # checked before scoring: NaN features would fail after minutes of it
        raise CheckpointError(f"extractor weights {weights} hold NaN, infinite or complex "
                              f"values ({', '.join(damaged[:3])}); retrain with `gankit eval "
                              "train-extractor`")
    # Its random initial weights are overwritten at once: draw them from a forked RNG so
    # that loading the extractor (e.g. mid-training for --eval-every) leaves the
    # caller's random stream, and so its run, untouched.
    head = state.get("head.weight")
    other_class = head is None or head.shape[0] != DIGITS  # ten rows: an older extractor
    with torch.random.fork_rng(devices=[]):
        model = MNISTExtractor(other_class=other_class)
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise CheckpointError(
            f"extractor weights {weights} do not fit MNISTExtractor: {str(err).splitlines()[0]}"
        ) from err
    return model.to(device).eval()


def extractor_record(path: str | Path | None = None) -> dict:
    """The json record beside the extractor weights (SHA256, test accuracy, seed, ...)."""
    weights = Path(path) if path is not None else default_weights()
    return json.loads(weights.with_suffix(".json").read_text())
