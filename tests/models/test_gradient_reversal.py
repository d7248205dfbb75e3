"""Gradient reversal (adversarial heads): the head learns its task, the trunk is pushed to hide it."""

from __future__ import annotations

import math

import pytest
import torch

from mtdl_kit.checkpoint import rebuild_model, save_checkpoint
from mtdl_kit.lab.adversarial import CAMERA_TASK
from mtdl_kit.models import build_model
from mtdl_kit.models.heads import confusion_loss, reverse_gradient
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


# ------------------------------------------------------------------ the confusion objective


def test_confusion_loss_is_log_k_at_chance_and_larger_otherwise() -> None:
    uniform = torch.zeros(5, 3)
    assert confusion_loss(uniform).item() == pytest.approx(math.log(3))
    confident = torch.tensor([[4.0, -4.0, 0.0]])
    assert confusion_loss(confident).item() > math.log(3) + 1.0
    logits = torch.zeros(4, 2, requires_grad=True)
    confusion_loss(logits).backward()
    assert torch.allclose(logits.grad, torch.zeros(4, 2)), "no pull once the classifier is at chance"
    for bad in (torch.zeros(4), torch.zeros(4, 1), torch.zeros(2, 2, 2)):
        with pytest.raises(ValueError, match="logits"):
            confusion_loss(bad)


def test_confusion_head_learns_on_detached_features_and_pushes_the_trunk_to_chance() -> None:
    x = torch.rand(4, 3, 32, 32)
    y = torch.tensor([0, 1, 1, 0])
    net = build_model(
        "parallel", TASKS, 3, width=4, seed=2, adversarial={"camera": 3.0}, adversarial_objective="confusion"
    )
    plain = build_model("parallel", TASKS, 3, width=4, seed=2)
    assert net.options["adversarial_objective"] == "confusion"
    assert net.parameter_count()["total"] == plain.parameter_count()["total"]
    with torch.no_grad():
        assert all(torch.equal(a, b) for a, b in zip(plain(x).values(), net(x).values(), strict=True))
        net(x)
    assert net.take_regularisers() == {}, "evaluation adds nothing to any loss"
    net.train()
    net.zero_grad()
    out = net(x)
    terms = net.take_regularisers()
    assert set(terms) == {"camera"} and net.take_regularisers() == {}, "read once, then cleared"
    # the classification loss alone reaches the head, never the trunk
    torch.nn.functional.cross_entropy(out["camera"], y).backward(retain_graph=True)
    assert all(p.grad is None for p in net.encoder.parameters())
    head_grad = [p.grad.clone() for p in net.heads["camera"].parameters()]
    # the confusion term reaches the trunk, never the head, and equals 3 x the trunk's gradient of confusion_loss
    terms["camera"].backward()
    assert all(torch.equal(p.grad, g) for p, g in zip(net.heads["camera"].parameters(), head_grad, strict=True))
    trunk = torch.cat([p.grad.flatten() for p in net.encoder.parameters()])
    plain.train()
    plain.zero_grad()
    (3.0 * confusion_loss(plain(x)["camera"])).backward()
    expected = torch.cat([p.grad.flatten() for p in plain.encoder.parameters()])
    assert torch.allclose(trunk, expected, atol=1e-6)


def test_fit_adds_the_confusion_term_to_the_adversarys_loss() -> None:
    from mtdl_kit.data import PhantomDataset
    from mtdl_kit.lab.adversarial import TwoCameraView
    from mtdl_kit.train import fit

    view = TwoCameraView(PhantomDataset("eye", 8, size=32, tasks=["glaucoma"]), "glaucoma", 0.9)
    losses = {}
    for objective in ("reversal", "confusion"):
        net = build_model(
            "parallel", TASKS, 3, width=4, seed=0, adversarial={"camera": 5.0}, adversarial_objective=objective
        )
        history = fit(net, view, steps=1, batch_size=8, seed=0, progress=False, device="cpu")
        losses[objective] = history.last("loss", "camera")
    # the same first batch and weights: the confusion adds 5 x (a cross-entropy >= log 2) to the camera loss
    assert losses["confusion"] >= losses["reversal"] + 5.0 * math.log(2) - 1e-4


def test_confusion_objective_is_recorded_rebuilt_and_checked(tmp_path) -> None:
    net = build_model("parallel", TASKS, 3, width=4, adversarial={"camera": 1.5}, adversarial_objective="confusion")
    head = next(b for b in net.blocks if b.name == "heads.camera")
    assert head.inputs[0].label == "confusion × 1.5"
    path = tmp_path / "m.pt"
    save_checkpoint(net, path)
    again = rebuild_model(path)
    assert again.options["adversarial_objective"] == "confusion" and again.adversarial_objective == "confusion"
    assert "adversarial_objective" not in build_model("parallel", TASKS, 3, width=4, adversarial={"camera": 1}).options
    with pytest.raises(ValueError, match="Unknown adversarial_objective"):
        build_model("parallel", TASKS, 3, width=4, adversarial={"camera": 1.0}, adversarial_objective="flip")
    with pytest.raises(ValueError, match="needs adversarial"):
        build_model("parallel", TASKS, 3, width=4, adversarial_objective="confusion")
    with pytest.raises(ValueError, match="does not apply to the single family"):
        build_model("single", TASKS[:1], 3, width=4, adversarial_objective="confusion")
