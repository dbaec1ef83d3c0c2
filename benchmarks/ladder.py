"""The extractor's calibration ladder: degraded digits, fewer classes and non-digits, scored.

Every rung (gankit.metrics.degrade.ladder) is n MNIST training images, degraded or picked,
scored against the 10,000 MNIST test images in the extractor's feature space: FID, precision
and recall (k = 3), the classifier's mean confidence, the classes covered and the share read
as "not a digit". The ladder holds when

- FID rises and precision falls with each degradation's strength (recall, with fewer classes);
- every set with all ten classes legible scores a better FID than any one-class set;
- every non-digit set scores a worse FID than every set of digits: ten classes degraded,
  class subsets, single classes (averages of 4 digits, "ghosts", the blur of an untrained
  generator, are shown but in no rule);
- blank, noise and scribbles keep precision ~0 (below 0.01).

    python benchmarks/ladder.py                               # the shipped extractor
    python benchmarks/ladder.py --extractor old.safetensors   # another one, to compare
    python benchmarks/ladder.py --n 5000 --out benchmarks/results/ladder-avx-512-bf16

writes OUT.md (the table and the checks) and OUT.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

K = 3
"""Neighbours of precision and recall, as gankit's evaluation (scores.precision_recall)."""

PRECISION_ZERO = ("constant", "uniform", "sparse", "scribbles", "gaussian")
"""Non-digit sets that must keep precision ~0 (blank, noise, scribbles)."""


def score_rungs(model, digits: torch.Tensor, labels: torch.Tensor, reference: np.ndarray,
                n: int, seed: int = 0, families: tuple[str, ...] | None = None,
                with_precision: bool = True, record: dict | None = None,
                manifold: np.ndarray | None = None) -> list[dict]:
    """Each rung's figures against the reference features (N, 128): FID against all of them,
    precision and recall against `manifold` (M, 128), the reference images the extractor is
    sure are digits (scores.digit_manifold, as gankit's evaluation; default: the reference).
    With the extractor's `record` (its json), 'trained' says what its own training saw."""
    from gankit.metrics import scores
    from gankit.metrics.degrade import ladder
    from gankit.metrics.features import DIGITS, fold_other
    from gankit.metrics.scores import _inside_any_ball, _kth_nn_radii

    # precision_recall(manifold, feats) with the manifold's k-NN radii computed once
    manifold = reference if manifold is None else manifold
    radii = _kth_nn_radii(manifold, K) if with_precision else None
    rows = []
    for rung in ladder(digits, labels, n, seed, families):
        feats, raw = [], []
        with torch.no_grad():
            for i in range(0, len(rung.images), 1000):
                f, r = model.raw(rung.images[i : i + 1000])  # (b, 128), (b, 11) or (b, 10)
                feats.append(f.double())
                raw.append(r.double())
        feats, raw = torch.cat(feats), torch.cat(raw)
        folded = fold_other(raw) if raw.shape[1] > DIGITS else raw  # as gankit's extract()
        probs = torch.softmax(folded, dim=1).numpy()
        feats = feats.numpy()
        other = float((raw.argmax(1) == DIGITS).double().mean()) if raw.shape[1] > DIGITS else 0.0
        row = {"family": rung.family, "label": rung.label, "strength": rung.strength,
               "trained": _seen(rung, record or {}),
               "legible": rung.legible, "n": len(rung.images),
               "fid": scores.fid(reference, feats),
               "confidence": scores.mean_confidence(probs),
               "classes": scores.mode_coverage(probs).classes_covered,
               "not_a_digit": other}  # fmt: skip
        if with_precision:
            row["precision"] = float(_inside_any_ball(feats, manifold, radii).mean())
            own = _kth_nn_radii(feats, K)
            row["recall"] = float(_inside_any_ball(manifold, feats, own).mean())
        rows.append(row)
    return rows


def _seen(rung, record: dict) -> bool:
    """Whether the extractor that `record` describes saw this rung's kind and strength."""
    if rung.family in ("non-digit", "blend"):
        return rung.label in (record.get("outlier_exposure") or {}).get("kinds", [])
    if rung.family in ("clean", "classes", "one class"):
        return True
    top = ((record.get("augmentation") or {}).get("max_strength") or {}).get(rung.family)
    return top is not None and rung.strength <= top


def checks(rows: list[dict], precision: bool = True) -> dict[str, tuple[bool, str]]:
    """The ladder's rules: name -> (holds, what was measured)."""
    from gankit.metrics.degrade import DEGRADATIONS
    out: dict[str, tuple[bool, str]] = {}
    clean = next(r for r in rows if r["family"] == "clean")
    families = sorted({r["family"] for r in rows} - {"clean", "one class", "non-digit", "blend"})
    for fam in families:
        seq = [clean] + [r for r in rows if r["family"] == fam]
        if fam == "classes":  # 10, 7, 5, 3, 2 classes: fewer is worse
            seq = [clean] + sorted(seq[1:], key=lambda r: -r["strength"])
        fids = [r["fid"] for r in seq]
        out[f"FID rises with {fam}"] = (all(a < b for a, b in zip(fids, fids[1:], strict=False)),
                                        " < ".join(f"{v:.2f}" for v in fids))
        if precision:  # fewer classes: real digits all the same, so recall is what falls
            key = "recall" if fam == "classes" else "precision"
            ps = [r[key] for r in seq]
            out[f"{key} falls with {fam}"] = (
                all(a >= b for a, b in zip(ps, ps[1:], strict=False)),
                " >= ".join(f"{v:.3f}" for v in ps))
    legible = [r for r in rows if r["legible"]]
    one = [r for r in rows if r["family"] == "one class"]
    if legible and one:
        worst = max(legible, key=lambda r: r["fid"])
        best = min(one, key=lambda r: r["fid"])
        out["ten legible classes beat one class"] = (
            worst["fid"] < best["fid"],
            f"worst ten-class {worst['label']} {worst['fid']:.2f} < best one-class "
            f"{best['label']} {best['fid']:.2f}")
    odd = [r for r in rows if r["family"] == "non-digit"]
    groups = {"set of ten classes": [r for r in rows if r["family"] in ("clean", *DEGRADATIONS)],
              "class subset": [r for r in rows if r["family"] == "classes"],
              "one-class set": one}
    for name, digits in groups.items():
        if digits and odd:
            worst = max(digits, key=lambda r: r["fid"])
            best = min(odd, key=lambda r: r["fid"])
            out[f"non-digits worse than every {name}"] = (
                best["fid"] > worst["fid"],
                f"best non-digit {best['label']} {best['fid']:.2f} > worst {worst['label']} "
                f"{worst['fid']:.2f}")
    if precision:
        zero = [r for r in odd if r["label"] in PRECISION_ZERO]
        if zero:
            top = max(zero, key=lambda r: r["precision"])
            out["blank / noise / scribbles precision ~0"] = (
                top["precision"] < 0.01, f"highest {top['label']} {top['precision']:.4f}")
    return out


def table(rows: list[dict], held: dict[str, tuple[bool, str]], header: str) -> str:
    lines = [header, "",
             "| rung | n | seen in training | FID | precision | recall | confidence | classes "
             "| not a digit |", "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        seen = "yes" if r["trained"] else "**held out**"
        lines.append(f"| {r['label']} | {r['n']:,} | {seen} | {r['fid']:.2f} | "
                     f"{r['precision']:.3f} | {r['recall']:.3f} | {r['confidence']:.3f} | "
                     f"{r['classes']} | {r['not_a_digit']:.3f} |")
    lines += ["", "| rule | holds | measured |", "|---|---|---|"]
    lines += [f"| {k} | {'yes' if ok else '**NO**'} | {v} |" for k, (ok, v) in held.items()]
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--extractor", help="extractor weights (default: the shipped ones)")
    p.add_argument("--n", type=int, default=5000, help="images per rung (default 5000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="write OUT.md and OUT.json")
    a = p.parse_args()
    from gankit.data.mnist import load_mnist
    from gankit.metrics.features import extract, extractor_record, load_extractor, to_model_input
    from gankit.metrics.scores import digit_manifold
    from gankit.runtime.cpu import cpu_summary

    start = time.perf_counter()
    model = load_extractor(a.extractor)
    record = extractor_record(a.extractor)
    train_x, train_y = load_mnist("train")
    test_x, _ = load_mnist("test")
    reference, probs = extract(model, to_model_input(test_x))
    manifold = digit_manifold(reference, probs)
    rows = score_rungs(model, to_model_input(train_x), torch.from_numpy(train_y.astype(np.int64)),
                       reference, a.n, a.seed, record=record, manifold=manifold)
    held = checks(rows)
    header = (f"extractor sha256 {record['sha256'][:16]}... (`{record.get('command')}`), "
              f"test accuracy {record.get('test_accuracy')}; outlier kinds "
              f"{record.get('outlier_exposure', {}).get('kinds')}; augmentation "
              f"{record.get('augmentation')}.\n\nEach rung: n MNIST training images against "
              f"the 10,000 MNIST test images (precision and recall: the {len(manifold):,} of "
              f"them the extractor is sure are digits); seed {a.seed}; CPU {cpu_summary()}; "
              f"{time.perf_counter() - start:.0f} s on a shared machine. 'seen in training': "
              "the kind (and strength) was in this extractor's training.")
    text = table(rows, held, header)
    print(text)
    if a.out:
        Path(a.out + ".md").write_text(text)
        Path(a.out + ".json").write_text(json.dumps(
            {"extractor": record, "n": a.n, "seed": a.seed, "rows": rows,
             "checks": {k: {"holds": ok, "measured": v} for k, (ok, v) in held.items()}},
            indent=1) + "\n")
    return 0 if all(ok for ok, _ in held.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
