from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from mtdl_kit.regions import get_region
from mtdl_kit.regions._draw import ellipse

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
    assert small.latents["haemorrhage_count"] == large.latents["haemorrhage_count"]
    assert small.targets["glaucoma"] == large.targets["glaucoma"] or abs(small.latents["cdr"] - 0.6) < 0.1


def test_disc_is_bright_and_fov_is_dark():
    s = EYE.sample(2, size=128)
    disc = s.targets["disc_cup"] >= 1
    red = s.image[0]
    assert red[disc].mean() > red[~disc & (red > 0.05)].mean() + 0.15
    assert s.image[:, 0, 0].max() < 0.02  # outside the circular field of view


def test_haemorrhages_darken_the_retina_outside_the_disc():
    burden, green = [], []
    for seed in range(60):
        s = EYE.sample(seed, size=96)
        keep = ~ellipse(96, 0, 0, 2, 2) | (s.targets["disc_cup"] == 0)
        burden.append(s.latents["haemorrhage_burden"])
        green.append(float(np.percentile(s.image[1][keep & (s.image[0] > 0.2)], 2)))
    assert stats.spearmanr(burden, green).statistic < -0.3


def test_illumination_nuisance_is_visible():
    lum, mean = [], []
    for seed in range(40):
        s = EYE.sample(seed, size=64)
        lum.append(s.latents["illumination"])
        mean.append(float(s.image.mean()))
    assert stats.spearmanr(lum, mean).statistic > 0.8
