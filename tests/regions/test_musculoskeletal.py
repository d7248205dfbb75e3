"""Knee radiograph phantom: JSW measurement, KL binning, landmarks, class balance, sclerosis, nuisances."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from mtdl_kit.regions import get_region
from mtdl_kit.regions.base import score_to_class
from mtdl_kit.regions.musculoskeletal import JSW_REFERENCE_MM


@pytest.fixture(scope="module")
def knee():
    return get_region("musculoskeletal")


@pytest.fixture(scope="module")
def samples(knee):
    return [knee.sample(seed, size=96) for seed in range(100)]


def _box_knee(gap_lateral: int, gap_medial: int) -> np.ndarray:
    """Femur above, tibia below, columns 10..89; lateral half (image left) and medial half gaps."""
    mask = np.zeros((100, 100), dtype=np.int64)
    mask[:40, 10:90] = 1
    mask[40 + gap_lateral :, 10:50] = 2
    mask[40 + gap_medial :, 50:90] = 2
    return mask


def test_jsw_on_a_hand_made_mask(knee):
    m = knee.measure(_box_knee(gap_lateral=5, gap_medial=3), spacing_mm=0.5)
    assert m["jsw_lateral"] == pytest.approx(2.5)
    assert m["jsw_medial"] == pytest.approx(1.5)
    assert m["medial_jsn_mm"] == pytest.approx(JSW_REFERENCE_MM - 1.5)


def test_jsw_is_a_sliding_window_minimum(knee):
    """A 4-column notch of width 1 inside a 3-px medial gap: 8-mm window = 16 columns at 0.5 mm."""
    mask = _box_knee(gap_lateral=4, gap_medial=3)
    mask[41:43, 70:74] = 2  # gap 1 px over 4 columns
    m = knee.measure(mask, spacing_mm=0.5)
    expected_px = (12 * 3 + 4 * 1) / 16
    assert m["jsw_medial"] == pytest.approx(expected_px * 0.5)
    assert m["jsw_lateral"] == pytest.approx(2.0)


@pytest.mark.parametrize(("jsw", "grade"), [(6.0, 0), (4.6, 0), (4.0, 1), (3.0, 2), (2.0, 3), (1.4, 4), (0.0, 4)])
def test_kl_binning_of_medial_jsw(knee, jsw, grade):
    assert score_to_class(knee.anatomy_score(JSW_REFERENCE_MM - jsw), 5) == grade


def test_landmarks_lie_on_the_bone_surfaces(knee, samples):
    for s in samples[:30]:
        mask, pts = s.targets["bones"], s.targets["landmarks"].round().astype(int)
        centre = np.flatnonzero((mask == 2).any(axis=0)).mean()
        for k, (row, col) in enumerate(pts):
            if k < 2:  # femoral condyle lowest points: femur pixel with no femur below
                assert mask[row, col] == 1 and not (mask[row + 1 :, col] == 1).any()
            else:  # plateau points: highest tibia pixel of the column
                assert mask[row, col] == 2 and not (mask[:row, col] == 2).any()
        assert pts[0, 1] > centre > pts[1, 1], "medial compartment on the image right (right knee)"
        assert pts[0, 0] < pts[2, 0] and pts[1, 0] < pts[3, 0], "femur above tibia"


def test_measured_jsw_tracks_the_drawn_width(knee, samples):
    err = np.array([s.latents["jsw_medial"] - s.latents["jsw_medial_target"] for s in samples])
    assert abs(err.mean()) < 0.6 and err.std() < 0.8


def test_every_grade_is_frequent_at_relatedness_one(samples):
    counts = np.bincount([int(s.targets["kl_grade"]) for s in samples], minlength=5)
    assert (counts >= 7).all(), counts


def test_sclerosis_brightens_the_subchondral_band(samples):
    contrast, sclerosis = [], []
    rows = np.arange(96)[:, None]
    for s in samples[:60]:
        img, mask = s.image[0], s.targets["bones"]
        top = np.where(mask == 2, rows, 96).min(axis=0)
        cols = np.flatnonzero(top < 96)
        mid, width = 0.5 * (cols[0] + cols[-1]), cols[-1] - cols[0]
        medial = cols[(cols > mid + 0.15 * width) & (cols < mid + 0.4 * width)]
        band = np.mean([img[top[c] : top[c] + 3, c].mean() for c in medial])
        deep = np.mean([img[top[c] + 8 : top[c] + 14, c].mean() for c in medial])
        contrast.append(band - deep)
        sclerosis.append(s.latents["sclerosis"])
    assert stats.spearmanr(sclerosis, contrast).statistic > 0.6


def test_nuisances_change_the_image(samples):
    noise = [s.latents["noise"] for s in samples]
    grain = [float(np.std(np.diff(s.image[0], axis=1))) for s in samples]
    assert stats.spearmanr(noise, grain).statistic > 0.8
    exposure = [s.latents["exposure"] for s in samples]
    brightness = [float(s.image.mean()) for s in samples]
    assert stats.spearmanr(exposure, brightness).statistic < -0.7
