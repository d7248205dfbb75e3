"""Brain phantom: tumour measurements, grade balance, reconstruction target and MRI nuisances."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage, stats

from mtdl_kit.regions import get_region
from mtdl_kit.regions.base import score_to_class

BRAIN = get_region("brain")


def _samples(n: int, size: int = 64, **kw):
    return [BRAIN.sample(seed, size=size, **kw) for seed in range(n)]


def test_measure_on_a_hand_made_mask():
    mask = np.zeros((40, 40), dtype=np.int64)
    mask[10:30, 10:30] = 1  # 400 px of tumour
    mask[15:25, 15:25] = 2  # 100 px of core inside -> 300 px of oedema
    m = BRAIN.measure(mask, spacing_mm=2.0)
    assert m["oedema_fraction"] == pytest.approx(0.75)
    assert m["whole_tumour_area_mm2"] == pytest.approx(400 * 4.0)
    assert m["core_area_mm2"] == pytest.approx(100 * 4.0)
    assert m["oedema_area_mm2"] == pytest.approx(300 * 4.0)
    assert BRAIN.measure(np.zeros((8, 8), dtype=np.int64), 1.0)["oedema_fraction"] == 0.0


def test_measure_labels_use_the_label_columns_of_the_docs():
    """The names a user writes in labels.csv (docs table: tumour_area__0, tumour_area__1) come out of measure_labels."""
    from mtdl_kit.data import label_columns

    mask = np.zeros((40, 40), dtype=np.int64)
    mask[10:30, 10:30] = 1
    mask[15:25, 15:25] = 2
    labels = BRAIN.measure_labels(mask, spacing_mm=2.0)
    assert labels == {"tumour_area__0": pytest.approx(1600.0), "tumour_area__1": pytest.approx(400.0)}
    assert set(labels) <= set(label_columns(BRAIN.tasks)) and BRAIN.task("tumour_area").label_columns == tuple(labels)
    s = BRAIN.sample(3, size=64)  # and they are the phantom's own targets
    got = BRAIN.measure_labels(s.targets["tumour"], s.spacing_mm)
    np.testing.assert_allclose([got["tumour_area__0"], got["tumour_area__1"]], s.targets["tumour_area"], atol=1e-2)


def test_grade_rule_threshold():
    assert score_to_class(BRAIN.anatomy_score(0.45), 2) == 0  # little oedema -> LGG
    assert score_to_class(BRAIN.anatomy_score(0.55), 2) == 1  # oedema dominates -> HGG
    assert BRAIN.anatomy_score(0.5) == pytest.approx(0.5)


def test_grade_classes_balanced_at_relatedness_one():
    y = np.array([int(s.targets["grade"]) for s in _samples(200)])
    assert 0.35 <= y.mean() <= 0.65, f"HGG fraction {y.mean():.2f}"


def test_tumour_lies_in_brain_and_core_is_surrounded_by_tissue():
    for s in _samples(20, size=96):
        mask, clean = s.targets["tumour"], s.targets["reconstruction"][0]
        assert (mask == 2).any() and (mask == 1).any()
        # Oedema is hyperintense on FLAIR: brighter than the normal-appearing brain on the clean image.
        brain = (clean > 0.3) & (mask == 0)
        assert clean[mask == 1].mean() > clean[brain].mean() + 0.15


def test_reconstruction_target_is_clean_image():
    s = BRAIN.sample(4, size=128)
    clean, img = s.targets["reconstruction"][0], s.image[0]
    assert s.targets["reconstruction"].shape == (1, 128, 128)
    corner = (slice(0, 12), slice(0, 12))  # air outside the head
    assert clean[corner].max() < 1e-3, "the clean target has no noise floor"
    assert img[corner].mean() > 0.005, "the input has a Rician noise floor"
    assert stats.pearsonr(clean.ravel(), img.ravel()).statistic > 0.8


def test_necrosis_darkens_the_core_but_not_the_mask():
    rows = []
    for s in _samples(60, size=96):
        core = s.targets["tumour"] == 2
        inner = ndimage.binary_erosion(core)  # away from partial volume with neighbouring tissue
        rows.append((s.latents["necrosis"], (s.targets["reconstruction"][0][inner] < 0.4).mean()))
    nec, dark_fraction = np.array(rows).T
    assert stats.spearmanr(nec, dark_fraction).statistic > 0.7


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
    for key in ("core_radius_mm", "necrosis", "oedema_extent", "bias_field", "noise"):
        assert a.latents[key] == b.latents[key]
    assert abs(a.latents["oedema_fraction"] - b.latents["oedema_fraction"]) < 0.2
