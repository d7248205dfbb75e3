"""Cardiac phantom: LV indices on hand-made masks, diagnosis thresholds, anatomy and nuisances."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage, stats

from mtdl_kit.regions import get_region
from mtdl_kit.regions.base import score_to_class

CARDIAC = get_region("cardiac")


def _samples(n: int, size: int = 64, **kw):
    return [CARDIAC.sample(seed, size=size, **kw) for seed in range(n)]


def test_measure_equivalent_radii_by_hand():
    mask = np.zeros((50, 50), dtype=np.int64)
    mask[0:10, 0:10] = 1  # 100 px cavity
    mask[20:40, 0:15] = 2  # 300 px myocardium (shape does not matter for equivalent radii)
    mask[45:50, 0:10] = 3  # 50 px RV
    sp = 1.5
    m = CARDIAC.measure(mask, sp)
    r_cav = np.sqrt(100 * sp * sp / np.pi)
    r_epi = np.sqrt(400 * sp * sp / np.pi)
    assert m["lv_cavity_area_mm2"] == pytest.approx(100 * sp * sp)
    assert m["rv_cavity_area_mm2"] == pytest.approx(50 * sp * sp)
    assert m["wall_thickness_mm"] == pytest.approx(r_epi - r_cav)
    assert m["remodelling_index"] == pytest.approx(r_cav / (r_epi - r_cav))  # = 1 here: 10 px / 10 px


def test_measure_on_a_digital_annulus():
    yy, xx = np.mgrid[:200, :200] - 99.5
    r = np.hypot(yy, xx)
    mask = np.where(r < 50, 1, np.where(r < 70, 2, 0)).astype(np.int64)
    m = CARDIAC.measure(mask, spacing_mm=0.5)
    assert m["wall_thickness_mm"] == pytest.approx(10.0, abs=0.1)
    assert m["cavity_radius_mm"] == pytest.approx(25.0, abs=0.1)
    assert m["remodelling_index"] == pytest.approx(2.5, abs=0.05)


@pytest.mark.parametrize(("q", "label"), [(1.5, 0), (2.3, 0), (2.5, 1), (3.5, 1), (3.7, 2), (6.0, 2)])
def test_diagnosis_thresholds(q, label):
    assert score_to_class(CARDIAC.anatomy_score(q), 3) == label


def test_diagnosis_classes_balanced_at_relatedness_one():
    counts = np.bincount([int(s.targets["diagnosis"]) for s in _samples(200)], minlength=3) / 200
    assert (counts > 0.2).all() and (counts < 0.47).all(), counts


def test_lv_indices_in_physiological_ranges():
    for s in _samples(40, size=128):
        area, wall = s.targets["lv_indices"]
        assert 300.0 < area < 5000.0  # mm², cavity radius ~10-40 mm
        assert 3.0 < wall < 22.0  # mm


def test_anatomy_conventions():
    for s in _samples(15, size=128):
        mask = s.targets["ventricles"]
        cavity = mask == 1
        # Papillary muscles are dark in the image yet labelled cavity: the label has no holes.
        assert (ndimage.binary_fill_holes(cavity) == cavity).all()
        # The myocardium surrounds the cavity: the cavity never touches background or RV directly.
        touch = ndimage.binary_dilation(cavity) & ~cavity
        assert (mask[touch] == 2).all()
        # RV on the septal side (image left) and attached to the myocardium.
        cols = np.nonzero(mask == 3)[1].mean(), np.nonzero(cavity)[1].mean()
        assert cols[0] < cols[1]
        assert (ndimage.binary_dilation(mask == 3) & (mask == 2)).any()


def test_effusion_is_visible_outside_the_mask():
    rows = []
    for s in _samples(60, size=96):
        heart = s.targets["ventricles"] > 0
        ring = ndimage.binary_dilation(heart, iterations=4) & ~heart
        rows.append((s.latents["effusion"], s.image[0][ring].mean()))
    eff, brightness = np.array(rows).T
    assert stats.spearmanr(eff, brightness).statistic > 0.6


def test_noise_nuisance_is_visible():
    samples = _samples(60, size=64)
    rough = [np.abs(np.diff(s.image[0], axis=1)).mean() for s in samples]
    assert stats.spearmanr([s.latents["noise"] for s in samples], rough).statistic > 0.8
