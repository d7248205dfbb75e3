"""Abdomen CT phantom: Hounsfield-unit realism, lesion measurements, coupling and nuisances."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage, stats

from mtdl_kit.regions import _draw as d
from mtdl_kit.regions import get_region
from mtdl_kit.regions.abdomen import DIAMETER_THRESHOLD_MM, WINDOW_LEVEL, WINDOW_WIDTH

REGION = get_region("abdomen")


def test_measure_on_a_hand_made_mask():
    mask = np.zeros((100, 100), dtype=np.int64)
    yy, xx = np.mgrid[:100, :100]
    mask[(yy - 50) ** 2 + (xx - 40) ** 2 <= 30**2] = 1
    lesion = (yy - 50) ** 2 + (xx - 45) ** 2 <= 10**2
    mask[lesion] = 2
    m = REGION.measure(mask, spacing_mm=0.5)
    area_px = int(lesion.sum())
    assert m["lesion_diameter_mm"] == pytest.approx(2.0 * np.sqrt(area_px / np.pi) * 0.5)
    assert m["lesion_diameter_mm"] == pytest.approx(10.0, abs=0.2)  # a 10 px radius disc at 0.5 mm/px
    assert m["lesion_extent_mm"] == pytest.approx(21 * 0.5)
    assert m["liver_area_cm2"] == pytest.approx(np.count_nonzero(mask) * 0.25 / 100.0)
    assert REGION.measure(np.zeros((8, 8), dtype=np.int64), 1.0)["lesion_diameter_mm"] == 0.0


def test_rule_threshold_is_twenty_mm():
    assert REGION.anatomy_score(DIAMETER_THRESHOLD_MM) == pytest.approx(0.5)
    assert REGION.anatomy_score(19.0) < 0.5 < REGION.anatomy_score(21.0)


def test_hu_slice_is_the_sample_before_windowing():
    s = REGION.sample(5, size=96, relatedness=0.3)
    hu = REGION.hu_slice(5, size=96)
    np.testing.assert_allclose(d.window(hu, WINDOW_LEVEL, WINDOW_WIDTH), s.image[0], atol=1e-6)


def test_hounsfield_units_are_realistic():
    for seed in range(6):
        s = REGION.sample(seed, size=128)
        hu = REGION.hu_slice(seed, size=128)
        mask = s.targets["liver_lesion"]
        liver = ndimage.binary_erosion(mask == 1, iterations=2)
        assert 40.0 < np.median(hu[liver]) < 140.0, "contrast-enhanced liver"
        assert abs(hu[:16, :16].mean() + 1000.0) < 25.0, "air outside the patient"
        assert hu.max() > 500.0, "cortical bone"
        body = hu > -500.0
        fat = (hu[body] > -160.0) & (hu[body] < -40.0)
        assert fat.mean() > 0.1, "subcutaneous and visceral fat"


def test_lesion_lies_inside_the_liver():
    for seed in range(30):
        mask = REGION.sample(seed, size=128).targets["liver_lesion"]
        lesion = mask == 2
        assert lesion.any()
        ring = ndimage.binary_dilation(lesion) & ~lesion
        assert (mask[ring] == 1).all(), f"seed {seed}: the lesion touches the background"


def test_lesion_appearance_follows_rim_enhancement():
    rim, core_hu = [], []
    for seed in range(40):
        s = REGION.sample(seed, size=128)
        hu = REGION.hu_slice(seed, size=128)
        mask = s.targets["liver_lesion"]
        core = ndimage.binary_erosion(mask == 2)  # away from partial volume with the liver
        if core.sum() >= 5:
            rim.append(s.latents["rim_enhancement"])
            core_hu.append(np.median(hu[core]))
            liver = ndimage.binary_erosion(mask == 1, iterations=2)
            assert core_hu[-1] < np.median(hu[liver]) - 10.0, f"seed {seed}: the lesion is hypodense"
    assert len(rim) >= 20
    assert stats.spearmanr(rim, core_hu).statistic > 0.6, "cysts are water-like, metastases denser"


def test_class_balance_at_relatedness_one():
    labels = [int(REGION.sample(seed, size=64).targets["malignancy"]) for seed in range(200)]
    assert 0.35 <= np.mean(labels) <= 0.7


def test_nuisances_visibly_change_the_image():
    noise, sd_air, phase, liver_hu = [], [], [], []
    for seed in range(40):
        s = REGION.sample(seed, size=96)
        hu = REGION.hu_slice(seed, size=96)
        noise.append(s.latents["noise"])
        sd_air.append(hu[:10, :10].std())  # air corner: pure noise (the streaks cross the body only)
        phase.append(s.latents["contrast_phase"])
        liver_hu.append(np.median(hu[s.targets["liver_lesion"] == 1]))
    assert stats.spearmanr(noise, sd_air).statistic > 0.9
    assert stats.spearmanr(phase, liver_hu).statistic > 0.8
