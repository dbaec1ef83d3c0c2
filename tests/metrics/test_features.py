"""The shipped MNIST extractor: integrity checks, outputs, and what its features measure."""

from __future__ import annotations

import io
import json
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from digits import render_digits
from hypothesis import example, given
from hypothesis import strategies as st
from PIL import Image, ImageFilter
from reliability_support import FAST, outcome, scratch_folder

from gankit.errors import CheckpointError, GankitError
from gankit.metrics import scores
from gankit.metrics.features import (
    FEATURE_DIM,
    default_weights,
    extract,
    extractor_record,
    load_extractor,
    save_extractor,
    sha256_file,
    to_model_input,
    train_extractor,
)


@pytest.fixture(scope="module")
def extractor() -> torch.nn.Module:
    return load_extractor()


def test_shipped_weights_are_small_and_match_their_record() -> None:
    weights = default_weights()
    record = extractor_record()
    assert weights.stat().st_size < 2_000_000
    assert sha256_file(weights) == record["sha256"]
    assert record["test_accuracy"] >= 0.993
    assert {"seed", "command", "torch_version"} <= set(record)


def test_tampered_or_missing_weights_are_refused(tmp_path: Path) -> None:
    copy = tmp_path / "x.safetensors"
    shutil.copy(default_weights(), copy)
    shutil.copy(default_weights().with_suffix(".json"), copy.with_suffix(".json"))
    load_extractor(copy)  # an intact copy loads
    data = bytearray(copy.read_bytes())
    data[-1] ^= 0xFF
    copy.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="SHA256"):
        load_extractor(copy)
    with pytest.raises(CheckpointError, match="not found"):
        load_extractor(tmp_path / "missing.safetensors")


def test_extract_gives_features_and_probabilities(extractor) -> None:
    images, _ = render_digits(20)
    feats, probs = extract(extractor, to_model_input(images), batch_size=7)
    assert feats.shape == (20, FEATURE_DIM) and probs.shape == (20, 10)
    assert feats.dtype == np.float64 and (feats >= 0).all()  # post-ReLU
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-12)
    again, _ = extract(extractor, to_model_input(images), batch_size=20)
    np.testing.assert_allclose(feats, again, rtol=1e-5, atol=1e-6)


def _degrade(images: np.ndarray, noise: float = 0.0, blur: float = 0.0) -> torch.Tensor:
    if blur > 0:
        kernel = ImageFilter.GaussianBlur(blur)
        images = np.stack([np.asarray(Image.fromarray(im).filter(kernel)) for im in images])
    x = to_model_input(images)
    if noise > 0:
        x = x + noise * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    return x.clamp(-1, 1)


def test_fid_rises_steadily_with_noise_and_with_blur(extractor) -> None:
    reference, _ = extract(extractor, to_model_input(render_digits(400, seed=0)[0]))
    samples = render_digits(400, seed=1)[0]
    for kind, levels in (("noise", (0.0, 0.2, 0.4, 0.8)), ("blur", (0.0, 0.8, 1.5, 2.5))):
        fids = [scores.fid(reference, extract(extractor, _degrade(samples, **{kind: v}))[0])
                for v in levels]  # fmt: skip
        assert all(a < b for a, b in zip(fids, fids[1:], strict=False)), (kind, fids)


def test_samples_of_a_single_digit_cover_one_class(extractor) -> None:
    images, _ = render_digits(300, seed=2, digits=(0,))
    _, probs = extract(extractor, to_model_input(images))
    coverage = scores.mode_coverage(probs)
    assert coverage.classes_covered == 1 and np.argmax(coverage.histogram) == 0
    # near 1 (one class); the few renders read as "not a digit" (a uniform prediction) add a
    # little, as a uniform conditional sits far from a one-class marginal
    assert scores.classifier_score(probs) < 1.3


def test_training_is_reproducible_and_round_trips(tmp_path: Path) -> None:
    x, y = render_digits(128, seed=3)
    runs = [train_extractor(x, y, x[:64], y[:64], epochs=1, seed=5, batch_size=64, log=False)
            for _ in range(2)]  # fmt: skip
    a, b = (r.model.state_dict() for r in runs)
    assert all(torch.equal(a[k], b[k]) for k in a)
    out = tmp_path / "ex.safetensors"
    record = save_extractor(runs[0], out, "test")
    assert json.loads(out.with_suffix(".json").read_text())["sha256"] == record["sha256"]
    # identical weights give an identical file: the recorded SHA256 is reproducible
    again = save_extractor(runs[1], tmp_path / "again.safetensors", "test")
    assert again["sha256"] == record["sha256"]
    loaded = load_extractor(out)
    images = to_model_input(x[:8])
    runs[0].model.eval()
    torch.testing.assert_close(loaded(images)[1], runs[0].model(images)[1])


def test_loading_the_extractor_leaves_the_global_rng_alone():
    """--eval-every loads it mid-training: the run's noise and dropout must not shift."""
    before = torch.get_rng_state()
    load_extractor()
    assert torch.equal(before, torch.get_rng_state())


def _copy_extractor(tmp_path, edit_record=None, edit_weights=None):
    """The shipped extractor copied to tmp_path, its record and weights edited."""
    import json

    from safetensors.torch import load_file, save_file

    from gankit.fileio import sha256_file
    from gankit.metrics.features import default_weights

    src = default_weights()
    out = tmp_path / "ex.safetensors"
    state = load_file(str(src))
    if edit_weights is not None:
        edit_weights(state)
    save_file(state, str(out))
    record = json.loads(src.with_suffix(".json").read_text())
    record["sha256"] = sha256_file(out)
    if edit_record is not None:
        edit_record(record)
    out.with_suffix(".json").write_text(json.dumps(record))
    return out


def test_an_extractor_record_without_a_key_eval_reads_is_refused_at_load(tmp_path):
    from gankit.errors import CheckpointError
    from gankit.metrics.features import load_extractor

    path = _copy_extractor(tmp_path, edit_record=lambda r: r.pop("test_accuracy"))
    with pytest.raises(CheckpointError, match="lacks test_accuracy"):
        load_extractor(path)


def test_extractor_weights_with_nan_are_refused_before_scoring(tmp_path):
    from gankit.errors import CheckpointError
    from gankit.metrics.features import load_extractor

    def poison(state):
        key = next(k for k, v in state.items() if v.is_floating_point())
        state[key] = state[key].clone()
        state[key].view(-1)[0] = float("nan")

    with pytest.raises(CheckpointError, match="NaN, infinite or complex"):
        load_extractor(_copy_extractor(tmp_path, edit_weights=poison))


def _weights_copy(data: bytes, record: bytes | None = None) -> Path:
    """The extractor's weights file holding `data`, beside a json record whose SHA256 matches
    (so the safetensors parser itself meets the bytes), unless `record` is given."""
    import hashlib
    import json

    from gankit.metrics.features import default_weights

    folder = scratch_folder()
    path = folder / default_weights().name
    path.write_bytes(data)
    if record is None:
        meta = json.loads(default_weights().with_suffix(".json").read_text())
        meta["sha256"] = hashlib.sha256(data).hexdigest()
        record = json.dumps(meta).encode()
    path.with_suffix(".json").write_bytes(record)
    return path


@pytest.fixture(scope="module")
def shipped() -> bytes:
    from gankit.metrics.features import default_weights

    return default_weights().read_bytes()


def test_shipped_weights_load_and_a_pickle_in_their_place_is_refused(tmp_path, shipped):
    from gankit.metrics.features import load_extractor

    assert load_extractor() is not None  # the shipped asset, SHA256-checked
    marker = tmp_path / "marker"
    buf = io.BytesIO()

    class _Marker:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    torch.save({"conv.weight": _Marker()}, buf)
    with pytest.raises(GankitError):
        load_extractor(_weights_copy(buf.getvalue()))
    assert not marker.exists()


@FAST
@given(cut=st.integers(0, 10**7), flips=st.lists(st.tuples(st.integers(0, 10**7),
                                                            st.integers(1, 255)), max_size=3),
       header=st.one_of(st.none(), st.integers(0, 2**64 - 1)))
@example(cut=10**7, flips=[], header=2**63).via("header length beyond the file")
def test_safetensors_weights_damaged(shipped, cut, flips, header):
    from gankit.metrics.features import load_extractor

    data = bytearray(shipped[: cut % (len(shipped) + 1)])
    for pos, xor in flips:
        if data:
            data[pos % len(data)] ^= xor
    if header is not None and len(data) >= 8:
        data[:8] = struct.pack("<Q", header)
    outcome(load_extractor, _weights_copy(bytes(data)))


@FAST
@given(record=st.binary(max_size=80) | st.sampled_from([b"[]", b"null", b"{}", b'"x"',
                                                          b'{"sha256": 5}']))
def test_extractor_record_of_random_bytes(shipped, record):
    from gankit.metrics.features import load_extractor

    assert outcome(load_extractor, _weights_copy(shipped, record)) is None


def test_the_objectosphere_cost_is_zero_only_for_long_digits_and_null_non_digits() -> None:
    from gankit.metrics.features import objectosphere

    xi = 4.0
    digits = torch.tensor([[3.0, 4.0], [0.0, 6.0]])  # norms 5 and 6, both >= xi
    odd = torch.zeros(3, 2)
    assert float(objectosphere(torch.cat([digits, odd]), 2, xi)) == 0.0
    # a digit of norm 2 (half xi) costs (1 - 1/2)^2 / 2 digits; a non-digit of norm 4 (xi)
    # costs 1 / 3 non-digits
    short = torch.tensor([[0.0, 2.0], [0.0, 6.0]])
    one_odd = torch.tensor([[4.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    cost = objectosphere(torch.cat([short, one_odd]), 2, xi)
    assert float(cost) == pytest.approx(0.25 / 2 + 1.0 / 3)


def test_training_with_the_objectosphere_cost_shrinks_non_digit_features() -> None:
    from gankit.metrics.outliers import outlier_batch

    x, y = render_digits(512, seed=4)
    runs = {xi: train_extractor(x, y, x[:64], y[:64], epochs=3, seed=0, batch_size=64,
                                log=False, feature_norm=xi).model for xi in (0.0, 10.0)}
    odd = outlier_batch(64, to_model_input(x[:64]), torch.Generator().manual_seed(1))
    digits = to_model_input(x[256:])  # digits not in the batch the outliers were made from
    with torch.no_grad():
        ratio = {xi: float(m.raw(odd)[0].norm(dim=1).mean() / m.raw(digits)[0].norm(dim=1).mean())
                 for xi, m in runs.items()}  # fmt: skip
    # without the cost non-digits' features are as long as digits' (here longer); with it,
    # far shorter
    assert ratio[10.0] < 0.5 * ratio[0.0] and ratio[10.0] < 1.0, ratio


def test_the_graded_displacement_cost_is_zero_when_distances_meet_their_targets() -> None:
    from gankit.metrics.features import feature_spread, graded_displacement

    clean = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0]])
    spread = float(feature_spread(clean))
    assert spread == pytest.approx(2**0.5)  # every point sqrt(2) from the centre (1, 1)
    severity = torch.tensor([0.0, 1.0, 0.25, 4.0])
    a = 0.5  # targets a * sqrt(severity) * R: 0, R / 2, R / 4, R
    step = torch.tensor([[0.0, 0.0], [0.6, 0.8], [0.0, 1.0], [-0.8, 0.6]])  # unit vectors
    degraded = clean + step * (a * severity.sqrt() * spread).unsqueeze(1)
    assert float(graded_displacement(clean, degraded, severity, a)) == pytest.approx(0, abs=1e-9)
    # each degraded digit one R too far: cost 1 per pair, whatever its direction
    further = degraded + step * spread
    further[0] = clean[0] + torch.tensor([spread, 0.0])
    assert float(graded_displacement(clean, further, severity, a)) == pytest.approx(1.0)
    # untouched pairs cost nothing, and pull nothing (no NaN from the norm at 0)
    same = clean.clone().requires_grad_()
    cost = graded_displacement(clean, same, torch.zeros(4), a)
    cost.backward()
    assert float(cost.detach()) == pytest.approx(0, abs=1e-9) and torch.isfinite(same.grad).all()


def test_the_margin_cost_keeps_non_digits_away_from_the_nearest_digit() -> None:
    from gankit.metrics.features import margin_cost

    digits = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])  # R = 1
    far = torch.tensor([[4.0, 0.0], [0.0, -5.0]])  # 3 and 4 R from their nearest digits
    assert float(margin_cost(digits, far, 3.0)) == pytest.approx(0, abs=1e-9)
    # one non-digit 1 R from the digit (1, 0), though 2 R from the centre: (3 - 1)^2 over 2
    near = torch.tensor([[2.0, 0.0], [0.0, -5.0]])
    assert float(margin_cost(digits, near, 3.0)) == pytest.approx(4 / 2)
    # the digits' spread is the unit: the same picture twice as large costs the same
    assert float(margin_cost(2 * digits, 2 * near, 3.0)) == pytest.approx(4 / 2)


def test_training_with_a_larger_displacement_moves_blurred_digits_further() -> None:
    from gankit.metrics.degrade import blur
    from gankit.metrics.features import feature_spread

    x, y = render_digits(512, seed=4)
    runs = {a: train_extractor(x, y, x[:64], y[:64], epochs=3, seed=0, batch_size=64, log=False,
                               augment=True, displacement=a).model for a in (0.25, 1.5)}
    digits = to_model_input(x[256:])  # (256, 1, 28, 28)
    moved = {}
    with torch.no_grad():
        for a, m in runs.items():
            clean = m.raw(digits)[0]  # (256, 128)
            spread = feature_spread(clean)
            moved[a] = [float((m.raw(blur(digits, s))[0] - clean).norm(dim=1).mean() / spread)
                        for s in (0.5, 1.0, 1.5)]
    # distances in units of the clean digits' spread: further with more blur, and (past the
    # mildest blur, which a few steps barely tell apart) further with the larger target
    assert moved[1.5][0] < moved[1.5][1] < moved[1.5][2], moved
    assert moved[1.5][1] > moved[0.25][1] and moved[1.5][2] > moved[0.25][2], moved
