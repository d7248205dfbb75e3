"""Every method on the real parallel and hybrid families (eye region: segmentation, classification, regression)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mtdl_kit.weighting import WEIGHTING_INFO, available_weightings, build_weighting

models = pytest.importorskip("mtdl_kit.models")
losses = pytest.importorskip("mtdl_kit.losses")
regions = pytest.importorskip("mtdl_kit.regions")

pytestmark = [
    pytest.mark.filterwarnings("ignore:Nash-MTL. the ECOS solve:RuntimeWarning"),
    pytest.mark.filterwarnings("ignore:You are solving a parameterized problem that is not DPP"),
    pytest.mark.filterwarnings("ignore:Solution may be inaccurate"),
]

SIZE, BATCH = 32, 2
ROUTES = [
    (name, level, feats)
    for name in available_weightings()
    for level in WEIGHTING_INFO[name].levels
    for feats in ((True, False) if (WEIGHTING_INFO[name].kind == "gradient" and level == "parameters") else (True,))
] + [("upgrad", "parameters", "per_task"), ("mgda", "parameters", "per_task")]


@pytest.fixture(scope="module")
def eye():
    region = regions.get_region("eye")
    samples = [region.sample(i, size=SIZE) for i in range(BATCH)]
    x = torch.stack([torch.from_numpy(s.image) for s in samples]).float()
    y = {t.name: torch.stack([torch.from_numpy(np.array(s.targets[t.name])) for s in samples]) for t in region.tasks}
    loss_fns = {t.name: losses.TaskLoss(t) for t in region.tasks}
    return region, x, y, loss_fns


@pytest.fixture(scope="module", params=["parallel", "hybrid"])
def family(request):
    return request.param


def _forward(model, eye):
    _, x, y, loss_fns = eye
    out, feats = model.forward_with_features(x)
    return {k: loss_fns[k](out[k], y[k]) for k in out}, feats


@pytest.mark.parametrize(("name", "level", "features"), ROUTES)
def test_method_on_a_real_family(family, eye, name, level, features):
    region = eye[0]
    names = [t.name for t in region.tasks]
    model = models.build_model(family, region.tasks, in_channels=region.in_channels, seed=0)
    shared = list(model.shared_parameters())
    shared_ids = {id(p) for p in shared}
    others = [p for p in model.parameters() if id(p) not in shared_ids]
    options = {"weights": dict.fromkeys(names, 1.0)} if name == "fixed" else {}
    if features == "per_task":  # the pruned per-task Jacobian instead of mtl_backward
        options["jacobian"] = "per_task"
    w = build_weighting(name, names, model=model, level=level, **options)

    losses, _ = _forward(model, eye)
    plain = torch.autograd.grad(sum(losses.values()), others, allow_unused=True)

    model.zero_grad()
    losses, feats = _forward(model, eye)
    weights = w.backward(losses, features=feats if features else None)
    assert list(weights) == names and all(np.isfinite(v) for v in weights.values())
    encoder = [p for n, p in model.named_parameters() if n.startswith("encoder.")]
    assert all(p.grad is not None for p in encoder)
    assert sum(float(p.grad.abs().sum()) for p in encoder) > 0  # the shared encoder is trained
    if WEIGHTING_INFO[name].kind == "gradient":
        # non-shared parameters get the plain gradient of the losses that use them (summed over tasks
        # for the hybrid's source branch, whose soft mask guides the other heads)
        for p, ref in zip(others, plain, strict=True):
            if ref is None:
                assert p.grad is None or float(p.grad.abs().sum()) == 0
            else:
                torch.testing.assert_close(p.grad, ref, rtol=1e-4, atol=1e-6)
    if name == "gradnorm":
        # W = the last shared weight that every task's loss reaches (the encoder's last stage here: a
        # shared decoder trunk that only the dense task uses does not qualify)
        layer = dict(model.named_parameters())[w.layer_name]
        assert layer.ndim >= 2 and any(layer is p for p in shared)
        losses, _ = _forward(model, eye)
        for loss in losses.values():
            assert torch.autograd.grad(loss, layer, retain_graph=True, allow_unused=True)[0] is not None
        assert w.layer_name.startswith(("encoder.stages.3.", "decoder.")), w.layer_name


def test_cascaded_family_is_refused_by_gradient_methods(eye):
    region = eye[0]
    model = models.build_model("cascaded", region.tasks, in_channels=region.in_channels)
    names = [t.name for t in region.tasks]
    with pytest.raises(ValueError, match=r"upgrad is a gradient method.*cascaded.*'uw'"):
        build_weighting("upgrad", names, model=model)
    w = build_weighting("uw", names, model=model)
    model.zero_grad()
    losses, feats = _forward(model, eye)
    w.backward(losses, features=feats)
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
