"""Every family on every region: outputs, gradients, task toggles, parameter partition, seeds."""

from __future__ import annotations

import pytest
import torch
from model_test_utils import BATCH, SIZE, WIDTH, expected_shape, subset, toy_loss

from mtdl_kit.models import FAMILIES, MULTI_TASK_FAMILIES, build_for_region, build_model
from mtdl_kit.models.base import module_key

PARTITIONED = ("parallel", "hybrid", "interacted", "cascaded", "single")


def _check_model(model, tasks, in_channels):
    x = torch.rand(BATCH, in_channels, SIZE, SIZE)
    out = model(x)
    assert list(out) == [t.name for t in tasks]
    for t in tasks:
        assert out[t.name].shape == expected_shape(t), (t.name, out[t.name].shape)
        assert torch.isfinite(out[t.name]).all()
    # per task: its loss reaches all of its own parameters, and only shared + dependent ones
    params = list(model.parameters())
    shared = {id(p) for p in model.shared_parameters()}
    out = model(x)
    losses = toy_loss(out)
    for t in tasks:
        grads = torch.autograd.grad(losses[t.name], params, allow_unused=True, retain_graph=True)
        reached = {id(p) for p, g in zip(params, grads, strict=True) if g is not None}
        own = {id(p) for p in model.task_parameters(t.name)}
        dependent = {id(p) for p in model.dependent_parameters(t.name)}
        assert own, f"task {t.name} has no parameters"
        assert own <= reached, f"{t.name}: some of its own parameters get no gradient"
        assert reached - shared == dependent, f"{t.name}: dependent_parameters disagrees with autograd"
    # the summed loss reaches every parameter of the model
    sum(losses.values()).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, f"parameters without gradient: {missing[:5]}"


@pytest.mark.parametrize("family", MULTI_TASK_FAMILIES)
def test_full_task_set(region, family):
    model = build_model(family, region.tasks, region.in_channels, width=WIDTH)
    assert model.family == family
    assert model.task_names == region.task_names
    _check_model(model, region.tasks, region.in_channels)


@pytest.mark.parametrize("family", MULTI_TASK_FAMILIES)
def test_subset_has_only_its_heads(region, family):
    tasks = subset(region.tasks)
    disabled = [t.name for t in region.tasks if t not in tasks]
    model = build_model(family, tasks, region.in_channels, width=WIDTH)
    _check_model(model, tasks, region.in_channels)
    names = [n for n, _ in model.named_parameters()]
    for d in disabled:
        assert not any(f".{module_key(d)}." in f".{n}" for n in names), f"disabled task {d} has parameters"
        with pytest.raises(ValueError, match="not enabled"):
            list(model.task_parameters(d))
    full = (
        build_model(family, region.tasks, region.in_channels, width=WIDTH, match_params=False)
        if family
        in (
            "cascaded",
            "interacted",
        )
        else build_model(family, region.tasks, region.in_channels, width=WIDTH)
    )
    small = (
        build_model(family, tasks, region.in_channels, width=WIDTH, match_params=False)
        if family
        in (
            "cascaded",
            "interacted",
        )
        else model
    )
    assert small.parameter_count()["total"] < full.parameter_count()["total"]


def test_single_every_task(region):
    for t in region.tasks:
        model = build_model("single", [t], region.in_channels, width=WIDTH)
        _check_model(model, [t], region.in_channels)
        assert list(model.shared_parameters()) == []
        _, feats = model.forward_with_features(torch.rand(1, region.in_channels, SIZE, SIZE))
        assert feats == ()


@pytest.mark.parametrize("family", PARTITIONED)
def test_partition_covers_every_parameter_once(family):
    from mtdl_kit.regions import get_region

    region = get_region("musculoskeletal")  # segmentation + landmarks + classification + regression
    tasks = region.tasks[:1] if family == "single" else region.tasks
    model = build_model(family, tasks, region.in_channels, width=WIDTH)
    ids = [id(p) for p in model.shared_parameters()]
    for t in model.task_names:
        ids += [id(p) for p in model.task_parameters(t)]
    assert len(ids) == len(set(ids)), "a parameter is listed twice"
    assert set(ids) == {id(p) for p in model.parameters()}
    counts = model.parameter_count()
    assert counts["shared"] + sum(counts[t] for t in model.task_names) == counts["total"]
    if family == "cascaded":
        assert counts["shared"] == 0
    elif family != "single":
        assert counts["shared"] > 0


@pytest.mark.parametrize(
    ("family", "options"),
    [
        ("parallel", {}),
        ("parallel", {"dense_decoder": "per_task"}),
        ("hybrid", {}),
        ("hybrid", {"cascade_mode": "two_stage", "dense_decoder": "per_task"}),
        ("interacted", {}),
        ("interacted", {"interaction": "attention"}),
    ],
)
def test_shared_features_are_a_cut_for_torchjd(family, options):
    """mtl_backward with the model's features finds exactly the shared parameters, no overlap."""
    from torchjd.autojac import mtl_backward

    from mtdl_kit.regions import get_region

    region = get_region("musculoskeletal")
    model = build_model(family, region.tasks, region.in_channels, width=WIDTH, **options)
    out, feats = model.forward_with_features(torch.rand(BATCH, region.in_channels, SIZE, SIZE))
    assert feats and all(f.requires_grad for f in feats)
    # a differentiable hand-over path belongs to two tasks' graphs: keep it for the second task
    retain = model.differentiable_handover
    assert retain == (family == "hybrid" and options.get("cascade_mode") != "two_stage")
    mtl_backward(list(toy_loss(out).values()), features=feats, retain_graph=retain)
    with_jac = {id(p) for p in model.parameters() if getattr(p, "jac", None) is not None}
    assert with_jac == {id(p) for p in model.shared_parameters()}
    for p in model.shared_parameters():
        assert p.jac.shape[0] == len(model.tasks)
    for t in model.task_names:
        assert all(p.grad is not None for p in model.task_parameters(t))


def test_parallel_with_one_task_equals_single():
    from mtdl_kit.regions import get_region

    t = get_region("eye").tasks[1]
    a = build_model("parallel", [t], 3, seed=3)
    b = build_model("single", [t], 3, seed=3)
    x = torch.rand(2, 3, SIZE, SIZE)
    b.load_state_dict(a.state_dict())
    torch.testing.assert_close(a(x)[t.name], b(x)[t.name])


@pytest.mark.parametrize("family", FAMILIES)
def test_same_seed_same_weights(family):
    from mtdl_kit.regions import get_region

    eye = get_region("eye")
    tasks = eye.tasks[:1] if family == "single" else eye.tasks
    rng_before = torch.get_rng_state()
    a = build_model(family, tasks, 3, width=WIDTH, seed=7)
    assert torch.equal(torch.get_rng_state(), rng_before), "building must not disturb the global RNG"
    b = build_model(family, tasks, 3, width=WIDTH, seed=7)
    c = build_model(family, tasks, 3, width=WIDTH, seed=8)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert any(not torch.equal(sa[k], sc[k]) for k in sa)


def test_build_for_region_and_reserved_task_names():
    model = build_for_region("eye", "parallel", tasks="disc_cup,cdr", width=WIDTH)
    assert model.task_names == ("disc_cup", "cdr") and model.region == "eye"
    from mtdl_kit.regions.base import TaskSpec

    odd = (TaskSpec("type", "segmentation", 3, "clashes with nn.Module.type"), TaskSpec("keys", "regression", 1, "x"))
    for family in MULTI_TASK_FAMILIES:
        m = build_model(family, odd, 1, width=WIDTH)
        out = m(torch.rand(1, 1, SIZE, SIZE))
        assert out["type"].shape == (1, 3, SIZE, SIZE) and out["keys"].shape == (1, 1)


@pytest.mark.parametrize("family", FAMILIES)
def test_three_d_smoke(family):
    from mtdl_kit.regions import get_region

    tasks = get_region("brain").tasks
    tasks = tasks[:1] if family == "single" else tasks
    model = build_model(family, tasks, 1, width=2, spatial_dims=3)
    out = model(torch.rand(1, 1, 32, 32, 32))
    for t in tasks:
        assert out[t.name].shape == expected_shape(t, batch=1, size=32, dims=3)
    sum(toy_loss(out).values()).backward()
    assert all(p.grad is not None for p in model.parameters())


def test_inference_mode_and_eval():
    from mtdl_kit.regions import get_region

    eye = get_region("eye")
    model = build_model("hybrid", eye.tasks, 3).eval()
    with torch.inference_mode():
        out = model(torch.rand(1, 3, 128, 128))
    assert out["disc_cup"].shape == (1, 3, 128, 128)
