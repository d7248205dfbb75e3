"""Skin dermoscopy phantom ("other" region): ABCD measurements, coupling, nuisances, appearance."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from mtdl_kit.regions import _draw as d
from mtdl_kit.regions import get_region
from mtdl_kit.regions.other import COLOURS, SHAPE_THRESHOLD, TDS_MELANOMA

SIZE = 128
SPACING = 20.0 / SIZE


@pytest.fixture(scope="module")
def skin():
    return get_region("other")


def _disc(cy: float, cx: float, radius: float, size: int = SIZE) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2


@pytest.fixture(scope="module")
def samples(skin):
    return [skin.sample(seed, size=64) for seed in range(200)]


def test_disc_is_symmetric_smooth_and_its_diameter_matches_hand_computation(skin):
    m = skin.measure(_disc(64, 64, 20).astype(np.int64), SPACING)
    # 41 pixels across (centre row -20..20), 0.15625 mm each -> 6.41 mm -> D = 3 (> 4 and > 6 mm).
    assert m["diameter_mm"] == pytest.approx(41 * SPACING, abs=SPACING)
    assert m["diameter_score"] == 3.0
    assert m["asymmetry"] == 0.0 and m["border"] == 0.0
    assert m["shape_score"] == pytest.approx(0.5 * 3)
    assert m["area_mm2"] == pytest.approx(np.pi * 20**2 * SPACING**2, rel=0.02)


def test_feret_diameter_of_a_rectangle_is_its_diagonal(skin):
    mask = np.zeros((SIZE, SIZE), dtype=np.int64)
    mask[30:50, 20:80] = 1  # 20 x 60 pixels
    m = skin.measure(mask, 1.0)
    assert m["diameter_mm"] == pytest.approx(np.hypot(59, 19) + 1, rel=0.01)
    assert m["asymmetry"] == 0.0  # a rectangle is symmetric about both of its axes


def test_asymmetry_counts_axes(skin):
    half = _disc(50, 64, 30) & (np.mgrid[:SIZE, :SIZE][0] >= 50)  # half disc: one symmetry axis
    assert skin.measure(half.astype(np.int64), SPACING)["asymmetry"] == 1.0
    blob = _disc(64, 64, 20) | _disc(64, 88, 14) | _disc(42, 52, 8)  # no symmetry axis at all
    assert skin.measure(blob.astype(np.int64), SPACING)["asymmetry"] == 2.0


def test_border_counts_notched_eighths(skin):
    smooth = d.radial_shape(SIZE, 0.0, 0.0, 0.4, np.array([0.0, 0.12], np.float32), np.zeros(2, np.float32))
    assert skin.measure(smooth.astype(np.int64), SPACING)["border"] == 0.0
    amps = np.zeros(12, np.float32)
    amps[11] = 0.08  # k = 12 notches all round
    notched = d.radial_shape(SIZE, 0.0, 0.0, 0.4, amps, np.zeros(12, np.float32))
    assert skin.measure(notched.astype(np.int64), SPACING)["border"] == 8.0


def test_empty_mask_is_benign_minimum(skin):
    m = skin.measure(np.zeros((64, 64), dtype=np.int64), SPACING)
    assert (m["asymmetry"], m["border"], m["diameter_score"], m["diameter_mm"]) == (0.0, 0.0, 1.0, 0.0)
    assert m["shape_score"] == 0.5


def test_tds_decomposes_and_c_is_the_colour_latent(samples):
    for s in samples[:60]:
        lat = s.latents
        assert 0 <= lat["asymmetry"] <= 2 and 0 <= lat["border"] <= 8
        assert 1 <= lat["colours"] <= len(COLOURS) and 1 <= lat["diameter_score"] <= 5
        shape = 1.3 * lat["asymmetry"] + 0.1 * lat["border"] + 0.5 * lat["diameter_score"]
        assert lat["shape_score"] == pytest.approx(shape)
        assert float(s.targets["abcd"][0]) == pytest.approx(shape + 0.5 * lat["colours"], abs=1e-5)
        assert lat["colours"] == min(1 + int(lat["colour_variegation"] * 6), 6)
    assert pytest.approx(TDS_MELANOMA - 0.5 * 3) == SHAPE_THRESHOLD


def test_class_balance_and_tds_agreement_at_relatedness_one(samples):
    y = np.array([int(s.targets["melanoma"]) for s in samples])
    assert 0.2 <= y.mean() <= 0.6, f"melanoma fraction {y.mean():.2f}"
    tds = np.array([float(s.targets["abcd"][0]) for s in samples])
    # The label follows the mask part of the TDS; the full TDS (with colours) still separates the classes.
    assert stats.mannwhitneyu(tds[y == 1], tds[y == 0]).pvalue < 1e-6
    assert np.mean((tds > TDS_MELANOMA) == (y == 1)) > 0.65


def test_label_follows_colour_count_at_relatedness_zero(skin):
    for seed in range(60):
        s = skin.sample(seed, size=48, relatedness=0.0)
        assert int(s.targets["melanoma"]) == int(s.latents["colour_variegation"] > 0.5)
        assert (s.latents["colours"] >= 4) == (s.latents["colour_variegation"] >= 0.5)


def _field_stats(s):
    """Median skin colour and the fraction of skin pixels much darker than their neighbourhood."""
    img = s.image
    yy, xx = d.grid(img.shape[-1])
    near_lesion = d.blur((s.targets["lesion"] == 1).astype(np.float32), 2.0) > 0.01
    skin_px = (np.hypot(yy, xx) < 0.85) & ~near_lesion
    med = np.median(img[:, skin_px], axis=1)
    lum = img.mean(0)
    dark = np.mean(lum[skin_px] < 0.8 * d.blur(lum, 3.0)[skin_px])
    return med, dark


def test_nuisances_are_visible(samples):
    ill = [s.latents["illumination"] for s in samples]
    hair = [s.latents["hair"] for s in samples]
    meds, darks = zip(*(_field_stats(s) for s in samples), strict=True)
    meds = np.array(meds)
    assert stats.spearmanr(ill, meds.mean(1)).statistic > 0.7  # brighter dermoscope
    assert stats.spearmanr(ill, meds[:, 2] / meds[:, 0]).statistic > 0.7  # cooler (bluer) light
    assert stats.spearmanr(hair, darks).statistic > 0.7  # more dark hair pixels on the skin


def test_lesion_is_darker_than_skin_and_field_corners_dark(samples):
    yy, xx = d.grid(64)
    in_field = np.hypot(yy, xx) < 0.85
    for s in samples[:30]:
        lum = s.image.mean(0)
        les = s.targets["lesion"] == 1
        assert np.median(lum[les]) < np.median(lum[~les & in_field])
        assert lum[:3, :3].mean() < 0.1 and lum[-3:, -3:].mean() < 0.1
