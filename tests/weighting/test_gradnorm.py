"""GradNorm: analytic weight gradient, renormalisation, direction of the update, last shared layer."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from weighting_toys import Problem, ToyNet

from mtdl_kit.weighting import build_weighting, gradnorm_loss, gradnorm_weight_gradient


class LinearToy(nn.Module):
    """One shared weight W (1 x 2); task a reads W[0, 0], task b reads W[0, 1]."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.ones(1, 2))

    def shared_parameters(self):
        return iter([self.w])

    def task_parameters(self, name):
        return iter(())


def _losses(model: LinearToy, scale=(1.0, 1.0), offset=(0.0, 0.0)) -> dict[str, torch.Tensor]:
    return {
        "a": scale[0] * model.w[0, 0] + offset[0],
        "b": scale[1] * model.w[0, 1] + offset[1],
    }


def test_analytic_gradient_matches_autograd():
    g = torch.Generator().manual_seed(0)
    for _ in range(5):
        w = (torch.rand(4, generator=g) + 0.5).requires_grad_()
        norms, ratios = torch.rand(4, generator=g) + 0.1, torch.rand(4, generator=g) + 0.2
        (auto,) = torch.autograd.grad(gradnorm_loss(w, norms, ratios, 1.5), w)
        torch.testing.assert_close(gradnorm_weight_gradient(w.detach(), norms, ratios, 1.5), auto)


def test_slow_task_is_up_weighted():
    """Equal gradient norms; task a's loss has not moved, task b's halved: a's weight goes up."""
    model = LinearToy()
    w = build_weighting("gradnorm", ["a", "b"], model=model, alpha=1.5, lr=0.1)
    assert w.backward(_losses(model)) == {"a": 1.0, "b": 1.0}  # records L(0) = (1, 1)
    torch.testing.assert_close(w.weights, torch.ones(2))  # balanced: L_grad is at its minimum
    w.backward(_losses(model, offset=(0.0, -0.5)))  # ratios (1, 0.5)
    assert float(w.weights[0]) > 1.0 > float(w.weights[1])
    assert float(w.weights.sum()) == pytest.approx(2.0)
    assert w.layer_name == "w"


def test_task_with_larger_gradients_is_down_weighted():
    """Equal training rates; task a's gradient norm on W is twice task b's: a's weight goes down."""
    model = LinearToy()
    w = build_weighting("gradnorm", ["a", "b"], model=model, alpha=1.5, lr=0.1)
    w.backward(_losses(model, scale=(2.0, 1.0)))
    w.backward(_losses(model, scale=(2.0, 1.0)))
    assert float(w.weights[0]) < 1.0 < float(w.weights[1])
    model.w.grad = None
    reported = w.backward(_losses(model, scale=(2.0, 1.0)))
    # the network gradient is that of sum_i w_i L_i with the reported (pre-update) weights
    torch.testing.assert_close(model.w.grad, torch.tensor([[2.0 * reported["a"], reported["b"]]]))


@pytest.mark.parametrize("features", [True, False])
def test_weights_sum_to_the_number_of_tasks_after_every_update(features):
    p = Problem()
    w = build_weighting("gradnorm", p.tasks, model=p.model, lr=0.2)
    for _ in range(6):
        p.model.zero_grad()
        losses, feats = p.forward()
        w.backward(losses, features=feats if features else None)
        assert float(w.weights.sum()) == pytest.approx(3.0, rel=1e-6)
        assert bool((w.weights > 0).all())
    assert not torch.allclose(w.weights, torch.ones(3))  # it did move
    assert list(w.parameters()) == []  # updated by GradNorm's own optimizer, not the trainer's
    assert "weights" in w.state_dict()


def test_feature_and_plain_routes_agree():
    a, b = Problem(), Problem()
    wa = build_weighting("gradnorm", a.tasks, model=a.model)
    wb = build_weighting("gradnorm", b.tasks, model=b.model)
    for _ in range(3):
        for prob, wt, feats in ((a, wa, True), (b, wb, False)):
            prob.model.zero_grad()
            losses, f = prob.forward()
            wt.backward(losses, features=f if feats else None)
        torch.testing.assert_close(wa.weights, wb.weights)
        for pa, pb in zip(a.model.parameters(), b.model.parameters(), strict=True):
            torch.testing.assert_close(pa.grad, pb.grad, rtol=1e-5, atol=1e-6)


class SegTrunkNet(ToyNet):
    """A shared layer registered last but used by the segmentation task only."""

    def __init__(self, tasks=("seg", "cls", "reg"), handover=False):
        super().__init__(tasks, handover=handover)
        self.seg_trunk = nn.Conv2d(6, 6, 1)

    def shared_parameters(self):
        yield from self.encoder.parameters()
        yield from self.seg_trunk.parameters()

    def run(self, x):
        f = self.encoder(x)
        feat = f.view_as(f)
        seg_in = self.seg_trunk(f).view_as(f)
        pooled = feat.mean((2, 3))
        out = {"seg": self.heads["seg"](seg_in), "cls": self.heads["cls"](pooled), "reg": self.heads["reg"](pooled)}
        return out, (feat, seg_in)


def test_last_shared_layer_is_the_last_weight_every_task_reaches():
    p = Problem(cls=SegTrunkNet)
    w = build_weighting("gradnorm", p.tasks, model=p.model)
    losses, feats = p.forward()
    w.backward(losses, features=feats)
    assert w.layer_name == "encoder.2.weight"  # not seg_trunk (seg only), not a bias
    p2 = Problem(cls=SegTrunkNet)
    w2 = build_weighting("gradnorm", p2.tasks, model=p2.model, layer="encoder.0.weight")
    losses, feats = p2.forward()
    w2.backward(losses, features=feats)
    assert w2.layer_name == "encoder.0.weight"


@pytest.mark.parametrize("features", [True, False])
def test_non_finite_gradient_norm_raises_and_leaves_the_weights_alone(features):
    p = Problem()
    w = build_weighting("gradnorm", p.tasks, model=p.model)
    losses, feats = p.forward()
    w.backward(losses, features=feats)
    before = w.weights.clone()
    p.model.zero_grad()
    losses, feats = p.forward()
    f = feats[0]
    losses["reg"] = losses["reg"] + torch.sqrt((f - f.detach()).abs().sum())  # value unchanged, gradient NaN
    with pytest.raises(
        FloatingPointError, match=r"Non-finite gradient on the last shared layer encoder.2.weight.*'reg'"
    ):
        w.backward(losses, features=feats if features else None)
    torch.testing.assert_close(w.weights, before)
    assert all(q.grad is None for q in p.model.shared_parameters())
