"""Parameter fairness: families and single-task baselines stay within ±25 % at the same width."""

from __future__ import annotations

import pytest
import torch

from mtdl_kit.models import DEFAULT_WIDTH, MULTI_TASK_FAMILIES, build_baselines, build_model
from mtdl_kit.models.build import _count

TOLERANCE = 0.25


def _total(model) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("width", [DEFAULT_WIDTH])
def test_families_and_baselines_match_parallel(region, width):
    tasks, c = region.tasks, region.in_channels
    counts = {f: _total(build_model(f, tasks, c, width=width)) for f in MULTI_TASK_FAMILIES}
    for name, m in build_baselines(tasks, c, width=width).items():
        counts[f"single:{name}"] = _total(m)
    ref = counts["parallel"]
    for name, n in counts.items():
        assert abs(n / ref - 1) <= TOLERANCE, f"{region.name}: {name} has {n} params vs parallel {ref}"
    assert max(counts.values()) / min(counts.values()) <= 1 + TOLERANCE, counts


@pytest.mark.parametrize("family", ["cascaded", "interacted"])
def test_matching_shrinks_sub_networks_and_is_documented(family):
    from mtdl_kit.regions import get_region

    eye = get_region("eye")
    matched = build_model(family, eye.tasks, 3)
    unmatched = build_model(family, eye.tasks, 3, match_params=False)
    assert matched.sub_width < DEFAULT_WIDTH == unmatched.sub_width
    assert _total(unmatched) > 1.5 * _total(build_model("parallel", eye.tasks, 3))
    assert "matched_to" in matched.options and "sub_width" in matched.describe().text


def test_matching_polynomial_is_exact():
    """The fitted parameter polynomial predicts the built model's count exactly."""
    from mtdl_kit.models.cascaded import CascadedNet
    from mtdl_kit.regions import get_region

    eye = get_region("eye")

    def factory(w, h):
        return CascadedNet(eye.tasks, 3, width=8, sub_width=w, source="disc_cup", hidden=h)

    model = build_model("cascaded", eye.tasks, 3, seed=0)
    w, h = model.options["sub_width"], model.options["hidden"]
    assert _count(factory, w, h) == _total(model)
    assert _count(factory, 7, 50) == _total(factory(7, 50))


def test_unmatched_single_keeps_nominal_width():
    from mtdl_kit.regions import get_region

    eye = get_region("eye")
    plain = build_baselines(eye.tasks, 3, matched=False)
    assert all(m.width == DEFAULT_WIDTH and "sub_width" not in m.options for m in plain.values())
    x = torch.rand(1, 3, 64, 64)
    assert plain["glaucoma"](x)["glaucoma"].shape == (1, 2)
