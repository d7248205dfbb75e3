"""Gradient reversal (adversarial heads): the head learns its task, the trunk is pushed to hide it."""

from __future__ import annotations

import pytest
import torch

from mtdl_kit.checkpoint import rebuild_model, save_checkpoint
from mtdl_kit.lab.adversarial import CAMERA_TASK
from mtdl_kit.models import build_model
from mtdl_kit.models.heads import reverse_gradient
from mtdl_kit.regions import get_region

EYE = get_region("eye")
TASKS = (EYE.task("glaucoma"), CAMERA_TASK)


def test_reverse_gradient_is_identity_forward_and_negated_backward() -> None:
    x = torch.randn(3, 4, requires_grad=True)
    y = reverse_gradient(x, 0.5)
    assert torch.equal(y, x)
    (y * torch.arange(4.0)).sum().backward()
    assert torch.allclose(x.grad, -0.5 * torch.arange(4.0).expand(3, 4))
    for bad in (-1.0, float("inf"), float("nan"), True, "1"):
        with pytest.raises(ValueError, match="strength"):
            reverse_gradient(x, bad)


def _grads(model, x):
    model.zero_grad()
    out = model(x)
    out["camera"].sum().backward()
    trunk = torch.cat([p.grad.flatten() for p in model.encoder.parameters() if p.grad is not None])
    head = torch.cat([p.grad.flatten() for p in model.heads["camera"].parameters() if p.grad is not None])
    return trunk, head


def test_adversarial_head_reverses_only_the_trunks_gradient() -> None:
    x = torch.rand(2, 3, 32, 32)
    plain = build_model("parallel", TASKS, 3, width=4, seed=1)
    adv = build_model("parallel", TASKS, 3, width=4, seed=1, adversarial={"camera": 2.0})
    assert adv.options["adversarial"] == {"camera": 2.0} and "adversarial" not in plain.options
    assert adv.parameter_count()["total"] == plain.parameter_count()["total"], "the reversal has no parameters"
    with torch.no_grad():
        assert all(torch.equal(a, b) for a, b in zip(plain(x).values(), adv(x).values(), strict=True))
    trunk_plain, head_plain = _grads(plain, x)
    trunk_adv, head_adv = _grads(adv, x)
    assert torch.allclose(head_adv, head_plain), "the head learns its task as usual"
    assert torch.allclose(trunk_adv, -2.0 * trunk_plain, atol=1e-6), "the trunk gets the reversed, scaled gradient"
    # the main task's own gradient is untouched
    for model in (plain, adv):
        model.zero_grad()
        model(x)["glaucoma"].sum().backward()
    main_plain = torch.cat([p.grad.flatten() for p in plain.encoder.parameters()])
    main_adv = torch.cat([p.grad.flatten() for p in adv.encoder.parameters()])
    assert torch.allclose(main_plain, main_adv)


def test_adversarial_option_is_drawn_recorded_and_rebuilt(tmp_path) -> None:
    adv = build_model("parallel", TASKS, 3, width=4, adversarial={"camera": 1.0})
    head = next(b for b in adv.blocks if b.name == "heads.camera")
    assert head.label.startswith("adversarial") and head.inputs[0].label == "gradient × −1"
    assert head.inputs[0].kind == "feature"
    path = tmp_path / "m.pt"
    save_checkpoint(adv, path)
    again = rebuild_model(path)
    assert again.options["adversarial"] == {"camera": 1.0}


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"nope": 1.0}, "not one of the network's tasks"),
        ({"camera": 0.0}, "positive finite"),
        ({"camera": float("inf")}, "positive finite"),
        ({"camera": 1.0, "glaucoma": 1.0}, "Every task is adversarial"),
    ],
)
def test_bad_adversarial_options_fail_clearly(options, words) -> None:
    with pytest.raises(ValueError, match=words):
        build_model("parallel", TASKS, 3, width=4, adversarial=options)


def test_adversarial_needs_a_global_task_of_a_parallel_network() -> None:
    with pytest.raises(ValueError, match="segmentation task"):
        build_model("parallel", EYE.tasks, 3, width=4, adversarial={"disc_cup": 1.0})
    with pytest.raises(ValueError, match="does not apply to the hybrid family"):
        build_model("hybrid", EYE.tasks, 3, width=4, adversarial={"glaucoma": 1.0})
