"""Regression heads predict standardised values around the region's typical centre and spread."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mtdl_kit.models import build_for_region, build_model
from mtdl_kit.models.base import module_key
from mtdl_kit.regions import REGION_NAMES, get_region


@pytest.mark.parametrize("region", REGION_NAMES)
def test_untrained_regression_output_starts_near_the_typical_value(region: str) -> None:
    reg = get_region(region)
    model = build_for_region(region, "parallel", width=4).eval()
    x = torch.randn(4, reg.in_channels, 32, 32)
    with torch.no_grad():
        out = model(x)
    for t in reg.tasks:
        if t.kind != "regression":
            continue
        centre, spread = reg.regression_stats([t])[t.name]
        z = (out[t.name].numpy() - centre) / spread
        # an untrained MLP outputs O(1) standardised values, not O(centre / spread)
        assert np.all(np.abs(z) < 3.0), (t.name, z)
        targets = np.stack([reg.sample(seed=s, size=64).targets[t.name] for s in range(40)])
        assert np.all(np.abs(targets.mean(0) - centre) < 0.5 * targets.std(0) + 1e-6), (t.name, targets.mean(0), centre)


def test_scaling_is_stored_in_the_state_dict_and_applied() -> None:
    reg = get_region("cardiac")
    model = build_for_region(reg, "hybrid", width=4)
    head = model.heads[module_key("lv_indices")]
    state = model.state_dict()
    key = next(k for k in state if k.endswith("out_shift"))
    assert torch.allclose(state[key], torch.as_tensor(reg.regression_centre(reg.task("lv_indices"))))
    plain = build_model("hybrid", reg.tasks, reg.in_channels, width=4)
    plain.load_state_dict(state)  # same keys: rebuilt checkpoints carry the scaling
    x = torch.randn(2, reg.in_channels, 32, 32)
    model.eval()
    with torch.no_grad():
        before = model(x)["lv_indices"]
        centre, spread = reg.regression_stats()["lv_indices"]
        model.set_regression_scaling({"lv_indices": (centre + 10.0, 2.0 * spread)})
        after = model(x)["lv_indices"]
    # y = z * scale + shift: doubling the scale doubles the offset from the centre, then +10
    expected = (before - torch.as_tensor(centre)) * 2.0 + torch.as_tensor(centre) + 10.0
    assert torch.allclose(after, expected, rtol=1e-4, atol=1e-2)
    assert torch.allclose(head.out_scale, torch.as_tensor(2.0 * spread))


def test_bad_scaling_fails_clearly() -> None:
    model = build_for_region("eye", "parallel", width=4)
    with pytest.raises(ValueError, match="not a regression task"):
        model.set_regression_scaling({"glaucoma": ([0.0], [1.0])})
    with pytest.raises(ValueError, match="positive scales"):
        model.set_regression_scaling({"cdr": ([0.5], [0.0])})
    with pytest.raises(ValueError, match="needs 1 shift"):
        model.set_regression_scaling({"cdr": ([0.5, 0.1], [1.0, 1.0])})
    with pytest.raises(ValueError, match="standardised=False"):
        model.heads[module_key("glaucoma")].set_output_scaling([0.0, 0.0], [1.0, 1.0])
