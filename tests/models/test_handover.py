"""Cascaded and hybrid hand-overs: differentiable end to end, detached in two stages."""

from __future__ import annotations

import pytest
import torch
from model_test_utils import SIZE, WIDTH

from mtdl_kit.models import build_model
from mtdl_kit.models.heads import soft_map
from mtdl_kit.regions import get_region


def _source_grads(model, downstream: str) -> list[torch.Tensor | None]:
    x = torch.rand(2, model.in_channels, SIZE, SIZE)
    out = model(x)
    loss = out[downstream].float().square().mean()
    src = list(model.task_parameters(model.source))
    return list(torch.autograd.grad(loss, src, allow_unused=True))


@pytest.mark.parametrize("family", ["cascaded", "hybrid"])
def test_end_to_end_handover_is_differentiable(family):
    eye = get_region("eye")
    model = build_model(family, eye.tasks, 3, width=WIDTH, cascade_mode="end_to_end")
    assert model.source == "disc_cup"
    grads = _source_grads(model, "glaucoma")
    assert all(g is not None for g in grads)
    assert any(g.abs().sum() > 0 for g in grads), "downstream loss must reach the source network"
    deps = {id(p) for p in model.dependent_parameters("glaucoma")}
    assert {id(p) for p in model.task_parameters("disc_cup")} <= deps


@pytest.mark.parametrize("family", ["cascaded", "hybrid"])
def test_two_stage_handover_is_detached(family):
    eye = get_region("eye")
    model = build_model(family, eye.tasks, 3, width=WIDTH, cascade_mode="two_stage")
    grads = _source_grads(model, "glaucoma")
    assert all(g is None for g in grads), "two-stage: no downstream gradient into the source network"
    deps = {id(p) for p in model.dependent_parameters("glaucoma")}
    assert deps == {id(p) for p in model.task_parameters("glaucoma")}
    edges = [e for e in model.describe().edges if e.kind == "handover"]
    assert edges and all(e.detached for e in edges)


def test_cascaded_downstream_sees_image_and_soft_map():
    eye = get_region("eye")
    model = build_model("cascaded", eye.tasks, 3, width=WIDTH)
    # downstream encoders take image channels + (K - 1) foreground probabilities
    assert model.encoders["glaucoma"].stages[0].conv[0].conv.in_channels == 3 + 2
    assert model.encoders["disc_cup"].stages[0].conv[0].conv.in_channels == 3
    x = torch.rand(1, 3, SIZE, SIZE)
    out = model(x)
    guide = model.handover(out["disc_cup"])
    torch.testing.assert_close(guide, soft_map(eye.tasks[0], out["disc_cup"]))
    assert guide.shape == (1, 2, SIZE, SIZE) and float(guide.detach().sum(1).max()) <= 1.0 + 1e-5


def test_two_stage_recipe_stage_parameters():
    eye = get_region("eye")
    model = build_model("cascaded", eye.tasks, 3, width=WIDTH, cascade_mode="two_stage")
    s1 = {id(p) for p in model.stage_parameters(1)}
    s2 = {id(p) for p in model.stage_parameters(2)}
    assert s1 == {id(p) for p in model.task_parameters("disc_cup")}
    assert not s1 & s2 and s1 | s2 == {id(p) for p in model.parameters()}
    # stage 2 step with the source frozen leaves the source network unchanged
    model.requires_grad_(False)
    for p in model.stage_parameters(2):
        p.requires_grad_(True)
    before = [p.clone() for p in model.stage_parameters(1)]
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    out = model(torch.rand(2, 3, SIZE, SIZE))
    (out["glaucoma"].square().mean() + out["cdr"].square().mean()).backward()
    opt.step()
    assert all(torch.equal(a, b) for a, b in zip(before, model.stage_parameters(1), strict=True))
    with pytest.raises(ValueError, match="stage must be 1"):
        list(model.stage_parameters(3))


@pytest.mark.parametrize("family", ["cascaded", "hybrid"])
def test_explicit_source(family):
    brain = get_region("brain")
    dense = [t.name for t in brain.tasks if t.kind in ("segmentation", "reconstruction")]
    model = build_model(family, brain.tasks, 1, width=WIDTH, source=dense[-1])
    assert model.source == dense[-1]
    out = model(torch.rand(1, 1, SIZE, SIZE))
    assert set(out) == set(brain.task_names)


def test_hybrid_guided_heads_use_the_mask():
    """Changing only the source output changes the guided classifier's output."""
    eye = get_region("eye")
    model = build_model("hybrid", eye.tasks, 3, width=WIDTH).eval()
    head = model.heads["glaucoma"]
    feats = torch.rand(1, 8 * WIDTH, 4, 4)
    g1 = torch.zeros(1, 2, SIZE, SIZE)
    g2 = torch.zeros(1, 2, SIZE, SIZE)
    g2[:, 1, :16, :16] = 1.0
    assert not torch.allclose(head(feats, g1), head(feats, g2))
