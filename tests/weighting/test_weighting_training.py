"""Every method trains: all task losses go down on a tiny problem, and runs are repeatable."""

from __future__ import annotations

import pytest
import torch
from weighting_toys import Problem

from mtdl_kit.weighting import WEIGHTING_INFO, available_weightings, build_weighting

pytestmark = [
    pytest.mark.filterwarnings("ignore:Nash-MTL. the ECOS solve:RuntimeWarning"),
    pytest.mark.filterwarnings("ignore:You are solving a parameterized problem that is not DPP"),
    pytest.mark.filterwarnings("ignore:Solution may be inaccurate"),
]

STEPS = 30
ROUTES = [(name, level) for name in available_weightings() for level in WEIGHTING_INFO[name].levels]


def _train(name: str, level: str, steps: int, seed: int = 0) -> tuple[Problem, list[dict[str, float]]]:
    torch.manual_seed(seed)
    p = Problem(seed=seed)
    options = {"weights": {"seg": 1.0, "cls": 2.0, "reg": 0.5}} if name == "fixed" else {}
    w = build_weighting(name, p.tasks, model=p.model, level=level, **options)
    opt = torch.optim.Adam([*p.model.parameters(), *w.parameters()], lr=0.01)
    history = []
    for step in range(steps):
        opt.zero_grad()
        losses, feats = p.forward()
        history.append(w.backward(losses, features=feats))
        opt.step()
        if step % 5 == 4:  # a 5-step "epoch" so that DWA's weights move
            w.end_epoch(p.losses_now())
    return p, history


@pytest.mark.parametrize(("name", "level"), ROUTES)
def test_every_task_loss_goes_down(name, level):
    torch.manual_seed(0)
    before = Problem().losses_now()
    p, history = _train(name, level, STEPS)
    after = p.losses_now()
    for task in p.tasks:
        assert after[task] < 0.9 * before[task], (task, before, after)
    assert all(all(v == v for v in h.values()) for h in history)  # weights never NaN


@pytest.mark.parametrize(("name", "level"), ROUTES)
def test_same_seed_same_updates(name, level):
    a, ha = _train(name, level, 4)
    b, hb = _train(name, level, 4)
    assert ha == hb
    for qa, qb in zip(a.model.parameters(), b.model.parameters(), strict=True):
        assert torch.equal(qa, qb)
