"""Pathology H&E phantom: nuclei rasterisation, contour class, mask measurements, coupling and stain."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from mtdl_kit.regions import get_region
from mtdl_kit.regions.pathology import AREA_THRESHOLDS_UM2, instance_contours, rasterise_nuclei

REGION = get_region("pathology")


def _discs(size, centres, radius):
    n = len(centres)
    cy, cx = (np.array(c, dtype=np.float64) for c in zip(*centres, strict=True))
    r = np.full(n, float(radius))
    return rasterise_nuclei(size, cy, cx, r, r, np.zeros(n), np.zeros((n, 3)), np.zeros((n, 3)))


def test_field_of_view_is_half_a_micrometre_per_pixel_at_128():
    assert REGION.spacing_mm(128) * 1000.0 == pytest.approx(0.5)


def test_rasterised_disc_has_the_right_area():
    inst = _discs(64, [(32.0, 32.0)], 10.0)
    assert set(np.unique(inst).tolist()) == {0, 1}
    assert (inst == 1).sum() == pytest.approx(np.pi * 10.0**2, rel=0.03)


def test_touching_nuclei_split_by_the_contour_class():
    inst = _discs(64, [(32.0, 22.0), (32.0, 38.0)], 9.0)  # overlapping discs: the pixels split between them
    assert set(np.unique(inst).tolist()) == {0, 1, 2}
    # Pixel i spans [i, i + 1): the bisector x = 30 runs between pixel columns 29 and 30.
    assert (inst[:, :30] != 2).all() and (inst[:, 30:] != 1).all()
    mask = np.where(inst > 0, 1, 0)
    mask[instance_contours(inst)] = 2
    assert mask[32, 28] == 1 and mask[32, 29] == 2 and mask[32, 30] == 2 and mask[32, 31] == 1
    m = REGION.measure(mask, spacing_mm=0.0005)
    assert m["nuclei_count"] == 2.0
    assert m["mean_nuclear_area_um2"] == pytest.approx(np.count_nonzero(inst) * 0.25 / 2.0)


def test_interior_never_touches_background_or_another_nucleus():
    for seed in range(10):
        mask = REGION.sample(seed, size=128).targets["nuclei"]
        interior = mask == 1
        p = np.pad(mask, 1, mode="edge")
        for nb in (p[:-2, 1:-1], p[2:, 1:-1], p[1:-1, :-2], p[1:-1, 2:]):
            assert (nb[interior] != 0).all(), f"seed {seed}: interior next to background"


def test_count_target_matches_the_drawn_nuclei():
    same = 0
    for seed in range(40):
        s = REGION.sample(seed, size=128)
        same += s.latents["nuclei_drawn"] == s.targets["nuclei_count"][0]
        assert 3 <= s.targets["nuclei_count"][0] <= 150
    assert same >= 30, "nuclei are placed so that (almost) every drawn nucleus is one mask component"


def test_grade_thresholds_and_class_balance():
    assert REGION.anatomy_score(AREA_THRESHOLDS_UM2[0]) == pytest.approx(1.0 / 3.0)
    assert REGION.anatomy_score(AREA_THRESHOLDS_UM2[1]) == pytest.approx(2.0 / 3.0)
    labels = np.array([int(REGION.sample(seed, size=64).targets["grade"]) for seed in range(200)])
    fractions = np.bincount(labels, minlength=3) / len(labels)
    assert (fractions > 0.2).all() and (fractions < 0.5).all(), fractions


def test_hyperchromasia_darkens_nuclei_and_stain_shifts_the_colour():
    hyper, stain, nuclear_od, background_blue = [], [], [], []
    for seed in range(50):
        s = REGION.sample(seed, size=96)
        mask = s.targets["nuclei"]
        od = -np.log10(np.clip(s.image, 1e-3, 1.0))  # Beer-Lambert: optical density per channel
        hyper.append(s.latents["hyperchromasia"])
        stain.append(s.latents["stain"])
        nuclear_od.append(od[:, mask == 1].sum(axis=0).mean())
        rgb = s.image[:, mask == 0]
        background_blue.append((rgb[2] - rgb[0]).mean())
    assert stats.spearmanr(hyper, nuclear_od).statistic > 0.8
    assert stats.spearmanr(stain, background_blue).statistic > 0.8
    assert abs(stats.spearmanr(hyper, background_blue).statistic) < 0.3, "hyperchromasia leaves the stroma alone"
