from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from mtdl_kit.regions import get_region

EYE = get_region("eye")


def test_cdr_on_a_hand_made_mask():
    mask = np.zeros((100, 100), np.int64)
    mask[30:70, 40:60] = 1  # disc: 40 px tall
    mask[40:64, 45:55] = 2  # cup: 24 px tall
    m = EYE.measure(mask, spacing_mm=0.1)
    assert m["cdr"] == pytest.approx(24 / 40)
    assert m["disc_diameter_mm"] == pytest.approx(4.0)
    assert EYE.measure(np.zeros((10, 10), np.int64), 1.0)["cdr"] == 0.0


def test_threshold_is_strict():
    from mtdl_kit.regions.base import score_to_class

    assert score_to_class(EYE.anatomy_score(0.6), 2) == 0
    assert score_to_class(EYE.anatomy_score(0.61), 2) == 1


def test_same_case_at_every_size():
    small, large = EYE.sample(5, size=64), EYE.sample(5, size=256)
    assert small.latents["severity"] == large.latents["severity"]
    assert small.latents["rnfl_defect_width_deg"] == large.latents["rnfl_defect_width_deg"]
    assert small.targets["glaucoma"] == large.targets["glaucoma"] or abs(small.latents["cdr"] - 0.6) < 0.1


def test_disc_is_bright_and_fov_is_dark():
    s = EYE.sample(2, size=128)
    disc = s.targets["disc_cup"] >= 1
    red = s.image[0]
    assert red[disc].mean() > red[~disc & (red > 0.05)].mean() + 0.15
    assert s.image[:, 0, 0].max() < 0.02  # outside the circular field of view


def test_rnfl_defect_is_a_dark_wedge_at_the_disc_whose_mask_grows_with_its_width():
    """The second glaucoma sign: darker than the same ring of retina outside it, mask area ~ width."""
    widths, areas, darker = [], [], []
    for seed in range(40):
        s = EYE.sample(seed, size=96)
        wedge = s.targets["rnfl_defect"].astype(bool)
        widths.append(s.latents["rnfl_defect_width_deg"])
        areas.append(int(wedge.sum()))
        assert not (wedge & (s.targets["disc_cup"] >= 1)).any()  # the defect lies outside the disc
        if wedge.sum() > 30:
            # compare with the mirrored wedge (same distance from the disc, other arcade)
            mirrored = wedge[::-1, :] & ~wedge
            if mirrored.sum() > 30:
                darker.append(float(s.image[1][mirrored].mean() - s.image[1][wedge].mean()))
    assert stats.spearmanr(widths, areas).statistic > 0.95
    assert np.median(darker) > 0
    assert min(areas) == 0 or min(widths) >= 2.0


def test_label_at_relatedness_0_follows_the_rnfl_defect_and_not_the_cdr():
    for seed in range(30):
        s = EYE.sample(seed, size=64, relatedness=0.0)
        assert int(s.targets["glaucoma"]) == int(s.latents["rnfl_defect"] > 0.5)
    assert EYE.coupling.other_segmentation == "rnfl_defect"
    assert "rnfl_defect" not in EYE.task_names  # a lab task: not part of the zoo's task set
    assert EYE.task("rnfl_defect").kind == "segmentation"


def test_illumination_nuisance_is_visible():
    lum, mean = [], []
    for seed in range(40):
        s = EYE.sample(seed, size=64)
        lum.append(s.latents["illumination"])
        mean.append(float(s.image.mean()))
    assert stats.spearmanr(lum, mean).statistic > 0.8
