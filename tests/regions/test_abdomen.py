"""Abdomen CT phantom (generator v2): HU realism, cyst vs metastasis, lesion measurements, coupling, nuisances."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage, stats

from mtdl_kit.regions import _draw as d
from mtdl_kit.regions import get_region
from mtdl_kit.regions.abdomen import SOLID_SHARE_THRESHOLD, WINDOW_LEVEL, WINDOW_WIDTH

REGION = get_region("abdomen")


def test_measure_on_a_hand_made_mask():
    mask = np.zeros((100, 100), dtype=np.int64)
    yy, xx = np.mgrid[:100, :100]
    mask[(yy - 50) ** 2 + (xx - 40) ** 2 <= 30**2] = 1
    lesion = (yy - 50) ** 2 + (xx - 45) ** 2 <= 10**2
    mask[lesion] = 3  # enhancing component ...
    mask[(yy - 50) ** 2 + (xx - 45) ** 2 <= 6**2] = 2  # ... around a non-enhancing centre
    m = REGION.measure(mask, spacing_mm=0.5)
    area_px = int(lesion.sum())
    assert m["solid_share"] == pytest.approx(np.count_nonzero(mask == 3) / area_px)
    assert m["lesion_diameter_mm"] == pytest.approx(2.0 * np.sqrt(area_px / np.pi) * 0.5)
    assert m["lesion_diameter_mm"] == pytest.approx(10.0, abs=0.2)  # a 10 px radius disc at 0.5 mm/px, both parts
    assert m["lesion_extent_mm"] == pytest.approx(21 * 0.5)
    assert m["liver_area_cm2"] == pytest.approx(np.count_nonzero(mask) * 0.25 / 100.0)
    empty = REGION.measure(np.zeros((8, 8), dtype=np.int64), 1.0)
    assert empty["lesion_diameter_mm"] == 0.0 and empty["solid_share"] == 0.0


def test_rule_threshold_is_half_the_lesion_enhancing():
    assert REGION.anatomy_score(SOLID_SHARE_THRESHOLD) == pytest.approx(0.5)
    assert REGION.anatomy_score(0.45) < 0.5 < REGION.anatomy_score(0.55)
    assert REGION.task("malignancy").class_names == ("cyst", "metastasis")
    assert "HCC" in REGION.task("malignancy").description  # the population is named: no HCC risk


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
        lesion = mask >= 2
        assert lesion.any()
        ring = ndimage.binary_dilation(lesion) & ~lesion
        assert (mask[ring] == 1).all(), f"seed {seed}: the lesion touches the background"


def test_lesion_is_resolvable_at_128_px():
    """Issue #12: 16-48 mm lesions span 5-15 pixels at 128 px (v1: 3-4 pixels at 64 px)."""
    diameters = [REGION.sample(seed, size=128).latents["lesion_diameter_drawn_mm"] for seed in range(60)]
    spacing = REGION.spacing_mm(128)
    assert min(diameters) / spacing >= 5.0 and max(diameters) <= 48.0


def test_cysts_are_water_like_and_the_enhancing_component_is_bright():
    """The other latent (density) sets the non-enhancing part's HU; the enhancing part is brighter than the liver."""
    density, centre_hu = [], []
    for seed in range(40):
        s = REGION.sample(seed, size=128)
        hu = REGION.hu_slice(seed, size=128)
        mask = s.targets["liver_lesion"]
        liver = ndimage.binary_erosion(mask == 1, iterations=2)
        centre = ndimage.binary_erosion(mask == 2)  # away from partial volume
        if centre.sum() >= 5:
            density.append(s.latents["density"])
            centre_hu.append(np.median(hu[centre]))
            assert centre_hu[-1] < np.median(hu[liver]) - 10.0, f"seed {seed}: the non-enhancing part is hypodense"
        rim = ndimage.binary_erosion(mask == 3)
        if rim.sum() >= 5:
            assert np.median(hu[rim]) > np.median(hu[liver]) + 25.0, f"seed {seed}: the component enhances"
    assert len(density) >= 20
    assert stats.spearmanr(density, centre_hu).statistic > 0.6, "cysts water-like, metastases denser (under noise)"


def test_the_enhancing_share_is_in_the_mask_and_the_density_is_not():
    rows = []
    for seed in range(60):
        s = REGION.sample(seed, size=128)
        rows.append((s.latents["solid"], s.latents["solid_share"], s.latents["density"]))
    solid, share, density = np.array(rows).T
    assert stats.spearmanr(solid, share).statistic > 0.9
    assert abs(stats.spearmanr(density, share).statistic) < 0.3


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
