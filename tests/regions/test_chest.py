"""Chest radiograph phantom: CTR measurement, anatomy layout, class balance, opacity and nuisances."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from mtdl_kit.regions import get_region
from mtdl_kit.regions.base import score_to_class


@pytest.fixture(scope="module")
def chest():
    return get_region("chest")


@pytest.fixture(scope="module")
def samples(chest):
    return [chest.sample(seed, size=64) for seed in range(120)]


def test_ctr_on_a_hand_made_mask(chest):
    mask = np.zeros((100, 100), dtype=np.int64)
    mask[20:70, 10:40] = 1  # right lung, columns 10..39
    mask[20:70, 60:90] = 1  # left lung, columns 60..89 -> thoracic width 80 px
    mask[50:80, 35:75] = 2  # heart, columns 35..74 -> 40 px (overwrites lung pixels)
    m = chest.measure(mask, spacing_mm=2.0)
    assert m["thoracic_width_mm"] == pytest.approx(160.0)
    assert m["heart_width_mm"] == pytest.approx(80.0)
    assert m["ctr"] == pytest.approx(0.5)
    # exactly at the threshold is still normal; one more heart column is cardiomegaly
    assert score_to_class(chest.anatomy_score(m["ctr"]), 2) == 0
    mask[60, 75] = 2
    assert score_to_class(chest.anatomy_score(chest.measure(mask, 2.0)["ctr"]), 2) == 1


def test_anatomy_layout(samples):
    """Lungs on both sides of the midline, heart centre on the patient's left (image right)."""
    for s in samples[:30]:
        mask = s.targets["lungs_heart"]
        half = mask.shape[1] // 2
        assert (mask[:, :half] == 1).sum() > 0.5 * (mask[:, half:] == 1).sum()
        assert (mask[:, half:] == 1).sum() > 0.5 * (mask[:, :half] == 1).sum()
        cols = np.nonzero(mask == 2)[1]
        assert cols.mean() > half - 0.5
        # a radiograph: lungs (air) darker than the heart silhouette
        img = s.image[0]
        assert np.median(img[mask == 1]) < np.median(img[mask == 2]) - 0.05


def test_ctr_range_and_class_balance(samples):
    ctr = np.array([s.latents["ctr"] for s in samples])
    labels = np.array([int(s.targets["cardiomegaly"]) for s in samples])
    assert ctr.min() > 0.3 and ctr.max() < 0.72
    assert 0.35 <= labels.mean() <= 0.65, "cardiomegaly should be roughly balanced at r=1"
    np.testing.assert_array_equal(labels, (ctr > 0.5).astype(int))


def test_opacity_is_visible_in_the_lungs(samples):
    """Bright tail of the lung intensities (relative to the heart contrast) grows with the opacity latent."""
    tails, opacity = [], []
    for s in samples[:80]:
        img, mask = s.image[0], s.targets["lungs_heart"]
        lung = img[mask == 1]
        med = np.median(lung)
        tails.append((np.percentile(lung, 95) - med) / (np.median(img[mask == 2]) - med))
        opacity.append(s.latents["opacity"])
    assert stats.spearmanr(opacity, tails).statistic > 0.5


def test_exposure_darkens_the_film(samples):
    exposure = [s.latents["exposure"] for s in samples]
    brightness = [float(s.image.mean()) for s in samples]
    assert stats.spearmanr(exposure, brightness).statistic < -0.8


def test_marker_corner_follows_latent(samples):
    for s in samples[:20]:
        img = s.image[0]
        n = img.shape[1]
        top = img[: n // 8]
        left, right = top[:, : n // 6].max(), top[:, -n // 6 :].max()
        if s.latents["marker"] == 1.0:
            assert right >= 0.96
        else:
            assert left >= 0.96
