"""Brain phantom (generator v2): BraTS sub-regions, grade rule, sequences, reconstruction target, MRI nuisances."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage, stats

from mtdl_kit.regions import get_region
from mtdl_kit.regions.base import score_to_class

BRAIN = get_region("brain")


def _samples(n: int, size: int = 64, **kw):
    return [BRAIN.sample(seed, size=size, **kw) for seed in range(n)]


def _hand_mask() -> np.ndarray:
    mask = np.zeros((40, 40), dtype=np.int64)
    mask[10:30, 10:30] = 2  # 400 px of tumour, oedema where nothing else is drawn
    mask[14:26, 14:26] = 3  # 144 px of core: enhancing rim ...
    mask[17:23, 17:23] = 1  # ... around 36 px of necrosis -> ET 108 px, ED 256 px
    return mask


def test_measure_on_a_hand_made_mask():
    m = BRAIN.measure(_hand_mask(), spacing_mm=2.0)
    assert m["necrotic_share"] == pytest.approx(36 / 144)
    assert m["whole_tumour_area_mm2"] == pytest.approx(400 * 4.0)
    assert m["tumour_core_area_mm2"] == pytest.approx(144 * 4.0)
    assert m["enhancing_tumour_area_mm2"] == pytest.approx(108 * 4.0)
    assert m["oedema_area_mm2"] == pytest.approx(256 * 4.0)
    assert m["oedema_fraction"] == pytest.approx(256 / 400)
    empty = BRAIN.measure(np.zeros((8, 8), dtype=np.int64), 1.0)
    assert empty["necrotic_share"] == 0.0 and empty["oedema_fraction"] == 0.0


def test_classes_mirror_the_brats_labels():
    """NCR, ED, ET in BraTS's label order (1, 2, 4 -> class 1, 2, 3); the areas are the BraTS regions WT, TC, ET."""
    spec = BRAIN.task("tumour")
    assert spec.class_names == ("background", "necrotic core", "oedema", "enhancing tumour")
    assert BRAIN.task("tumour_area").output_names == ("whole-tumour area", "tumour-core area", "enhancing-tumour area")
    assert BRAIN.in_channels == 3 and BRAIN.channel_names == ("FLAIR", "T1", "T1c")
    assert BRAIN.task("reconstruction").num_outputs == BRAIN.in_channels
    assert "self-supervised" not in BRAIN.task("reconstruction").description


def test_measure_labels_use_the_label_columns_of_the_docs():
    """The names a user writes in labels.csv (tumour_area__0..2) come out of measure_labels."""
    from mtdl_kit.data import label_columns

    labels = BRAIN.measure_labels(_hand_mask(), spacing_mm=2.0)
    assert labels == {
        "tumour_area__0": pytest.approx(1600.0),
        "tumour_area__1": pytest.approx(576.0),
        "tumour_area__2": pytest.approx(432.0),
    }
    assert set(labels) <= set(label_columns(BRAIN.tasks)) and BRAIN.task("tumour_area").label_columns == tuple(labels)
    s = BRAIN.sample(3, size=64)  # and they are the phantom's own targets
    got = BRAIN.measure_labels(s.targets["tumour"], s.spacing_mm)
    np.testing.assert_allclose([got[f"tumour_area__{i}"] for i in range(3)], s.targets["tumour_area"], atol=1e-2)


def test_grade_rule_threshold():
    assert score_to_class(BRAIN.anatomy_score(0.15), 2) == 0  # little necrosis -> LGG
    assert score_to_class(BRAIN.anatomy_score(0.25), 2) == 1  # necrosis inside the rim -> HGG
    assert BRAIN.anatomy_score(0.2) == pytest.approx(0.5)


def test_grade_classes_balanced_at_relatedness_one():
    y = np.array([int(s.targets["grade"]) for s in _samples(200)])
    assert 0.35 <= y.mean() <= 0.65, f"HGG fraction {y.mean():.2f}"


def test_sub_regions_look_like_brats_on_their_sequences():
    """Oedema bright on FLAIR; necrosis dark on T1 and T1c; enhancement = T1c - T1, only in the ET class."""
    for s in _samples(20, size=96):
        mask, clean = s.targets["tumour"], s.targets["reconstruction"]
        flair, t1, t1c = clean
        assert (mask == 3).any() and (mask == 2).any()
        normal = (flair > 0.3) & (mask == 0)
        assert flair[mask == 2].mean() > flair[normal].mean() + 0.15
        inner_et = ndimage.binary_erosion(mask == 3)  # away from partial volume with neighbouring tissue
        if inner_et.any():
            assert (t1c - t1)[inner_et].mean() > 0.08
        far = ndimage.binary_erosion(mask == 0, iterations=3)
        assert np.abs(t1c - t1)[far].max() < 1e-6, "no enhancement outside the enhancing tumour"
        inner_ncr = ndimage.binary_erosion(mask == 1)
        if inner_ncr.any() and inner_et.any():
            assert t1c[inner_ncr].mean() < t1c[inner_et].mean() - 0.2


def test_reconstruction_target_is_clean_image():
    s = BRAIN.sample(4, size=128)
    clean, img = s.targets["reconstruction"], s.image
    assert clean.shape == img.shape == (3, 128, 128)
    corner = (slice(None), slice(0, 12), slice(0, 12))  # air outside the head
    assert clean[corner].max() < 1e-3, "the clean target has no noise floor"
    assert img[corner].mean() > 0.005, "the input has a Rician noise floor"
    for c in range(3):
        assert stats.pearsonr(clean[c].ravel(), img[c].ravel()).statistic > 0.8


def test_necrosis_is_in_the_mask_and_enhancement_is_not():
    """The anatomy latent (necrosis) changes the mask; the other latent (enhancement) only the T1c signal."""
    rows = []
    for s in _samples(60, size=96):
        mask, (_, t1, t1c) = s.targets["tumour"], s.targets["reconstruction"]
        inner_et = ndimage.binary_erosion(mask == 3)
        rise = float((t1c - t1)[inner_et].mean()) if inner_et.any() else np.nan
        rows.append((s.latents["necrosis"], s.latents["necrotic_share"], s.latents["enhancement"], rise))
    nec, share, enh, rise = np.array(rows).T
    ok = ~np.isnan(rise)
    assert stats.spearmanr(nec, share).statistic > 0.8
    assert stats.spearmanr(enh[ok], rise[ok]).statistic > 0.9
    assert abs(stats.spearmanr(enh, share).statistic) < 0.3


def test_display_image_is_the_t1c_channel():
    s = BRAIN.sample(2, size=64)
    shown = BRAIN.display_image(s.image)
    assert shown.shape == (1, 64, 64) and np.array_equal(shown[0], s.image[2])
    eye = get_region("eye").sample(2, size=64)
    assert get_region("eye").display_image(eye.image) is eye.image


def test_nuisances_are_visible():
    samples = _samples(60, size=64)
    noise = [s.latents["noise"] for s in samples]
    floor = [s.image[0][:8, :8].std() for s in samples]
    assert stats.spearmanr(noise, floor).statistic > 0.8
    bias = [s.latents["bias_field"] for s in samples]
    spread = []
    for s in samples:
        clean = s.targets["reconstruction"][0]
        brain = clean > 0.3
        ratio = ndimage.uniform_filter(s.image[0], 5) / np.maximum(ndimage.uniform_filter(clean, 5), 1e-3)
        spread.append(np.percentile(ratio[brain], 95) - np.percentile(ratio[brain], 5))
    assert stats.spearmanr(bias, spread).statistic > 0.7


def test_same_case_at_every_size():
    a, b = BRAIN.sample(9, size=64), BRAIN.sample(9, size=160)
    for key in ("core_radius_mm", "necrosis", "enhancement", "oedema_extent", "bias_field", "noise"):
        assert a.latents[key] == b.latents[key]
    assert abs(a.latents["necrotic_share"] - b.latents["necrotic_share"]) < 0.15
