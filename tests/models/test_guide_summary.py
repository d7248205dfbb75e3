"""Mask-guided heads: what they read of the guide map ("area" vs "composition")."""

from __future__ import annotations

import pytest
import torch

from mtdl_kit.checkpoint import rebuild_model, save_checkpoint
from mtdl_kit.models import build_model
from mtdl_kit.models.heads import GlobalHead
from mtdl_kit.regions import get_region

EYE = get_region("eye")


def test_composition_is_each_channels_share_and_the_log_foreground() -> None:
    head = GlobalHead(4, 2, hidden=3, guide_channels=2, guide_summary="composition")
    seen = {}
    head.mlp.register_forward_pre_hook(lambda _m, args: seen.setdefault("x", args[0]))
    guide = torch.zeros(1, 2, 8, 8)
    guide[0, 0, :2, :4] = 1.0  # rim: 8 px
    guide[0, 1, 2:4, :2] = 1.0  # cup: 4 px
    head(torch.randn(1, 4, 2, 2), guide)
    x = seen["x"][0]
    assert x.shape == (4 + 4 + 2 + 1,)
    assert x[8:10].tolist() == pytest.approx([8 / 12, 4 / 12], abs=1e-4)
    assert float(x[10]) == pytest.approx(torch.log10(torch.tensor(12 / 64)).item(), abs=1e-4)
    area = GlobalHead(4, 2, hidden=3, guide_channels=2)
    assert area.mlp(torch.zeros(1, 10)).shape == (1, 2)  # the default reads G area fractions


def test_hybrid_option_is_recorded_and_rebuilt(tmp_path) -> None:
    model = build_model("hybrid", EYE.tasks, EYE.in_channels, width=4, guide_summary="composition")
    assert model.options["guide_summary"] == "composition"
    assert "guide_summary" not in build_model("hybrid", EYE.tasks, EYE.in_channels, width=4).options
    path = tmp_path / "m.pt"
    save_checkpoint(model, path)
    again = rebuild_model(path)
    x = torch.rand(1, 3, 32, 32)
    model.eval(), again.eval()
    assert torch.allclose(model(x)["glaucoma"], again(x)["glaucoma"])


def test_refused_where_it_does_not_apply() -> None:
    with pytest.raises(ValueError, match="does not apply to the parallel family"):
        build_model("parallel", EYE.tasks, EYE.in_channels, width=4, guide_summary="composition")
    with pytest.raises(ValueError, match="guide_summary"):
        build_model("hybrid", EYE.tasks, EYE.in_channels, width=4, guide_summary="volume")


def test_mask_only_heads_see_nothing_but_the_guides_composition() -> None:
    head = GlobalHead(4, 2, hidden=3, guide_channels=2, guide_summary="mask_only")
    guide = torch.zeros(2, 2, 8, 8)
    guide[:, 0, :2, :4] = 1.0
    guide[:, 1, 2:4, :2] = 1.0
    features = torch.randn(2, 4, 2, 2)
    out = head(features, guide)
    assert torch.allclose(out[0], out[1])  # different image features, same mask: same output
    assert head.mlp(torch.zeros(1, 3)).shape == (1, 2)
