"""Gradient methods (TorchJD aggregators) at the parameter and the feature level."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from test_gradnorm import SegTrunkNet
from weighting_toys import NoFeaturesNet, Problem

from mtdl_kit.weighting import available_weightings, build_weighting

pytestmark = [
    pytest.mark.filterwarnings("ignore:Nash-MTL. the ECOS solve:RuntimeWarning"),
    pytest.mark.filterwarnings("ignore:You are solving a parameterized problem that is not DPP"),
]

GRADIENT = ("upgrad", "mgda", "pcgrad", "cagrad", "imtl_g", "aligned_mtl", "nash_mtl")
# (level, pass the features to backward?)
ROUTES = [("parameters", True), ("parameters", False), ("features", True)]


def _all_routes():
    for name in available_weightings():
        if name in GRADIENT:
            for level, feats in ROUTES:
                yield name, level, feats
        else:
            yield name, "parameters", True


def _options(name, tasks):
    return {"weights": dict.fromkeys(tasks, 1.0)} if name == "fixed" else {}


def _run(p: Problem, w, features: bool) -> tuple[dict[str, float], dict[str, torch.Tensor], tuple[torch.Tensor, ...]]:
    p.model.zero_grad()
    losses, feats = p.forward()
    weights = w.backward(losses, features=feats if features else None)
    return weights, losses, feats


def _own_gradients(p: Problem) -> dict[str, list[torch.Tensor]]:
    """Gradient of each task's loss on its own head, by plain autograd (a fresh forward)."""
    losses, _ = p.forward()
    return {
        t: list(torch.autograd.grad(losses[t], list(p.model.task_parameters(t)), retain_graph=True)) for t in p.tasks
    }


# ---------------------------------------------------------------------------------------- properties
matrices = st.integers(2, 5).flatmap(
    lambda t: st.integers(1, 8).flatmap(
        lambda d: arrays(np.float64, (t, d), elements=st.floats(-10, 10, allow_nan=False, width=32))
    )
)


@pytest.mark.parametrize("name", ["upgrad", "mgda"])
@settings(max_examples=60, deadline=None)
@given(matrix=matrices)
def test_aggregate_never_conflicts_with_a_task(name, matrix):
    """Every task gradient has a dot product >= -tol with the update (TorchJD's non-conflicting property).

    Same criterion as TorchJD's ``assert_non_conflicting``: the negative part of ``J @ update`` is
    negligible, ``| ||(J d)_+|| - ||J d|| | <= atol + rtol ||J d||``; it tolerates the regularisation
    of the QP on exactly degenerate Jacobians (e.g. two opposite collinear rows) that hypothesis finds.
    """
    jacobian = torch.as_tensor(matrix, dtype=torch.float32)
    w = build_weighting(name, [f"t{i}" for i in range(len(jacobian))], model=Problem().model)
    update = w.aggregator(jacobian)
    assert update.shape == (jacobian.shape[1],) and bool(update.isfinite().all())
    products = jacobian @ update
    scale = float(jacobian.norm()) ** 2
    positive = products.clamp_min(0.0)
    assert float(products.norm() - positive.norm()) <= 4e-4 * scale + 4e-4 * float(products.norm()), products.tolist()


@pytest.mark.parametrize("name", ["upgrad", "mgda"])
@pytest.mark.parametrize("level", ["parameters", "features"])
def test_update_on_a_network_never_conflicts(name, level):
    p = Problem()
    w = build_weighting(name, p.tasks, model=p.model, level=level)
    losses, feats = p.forward()
    shared = list(p.model.shared_parameters())
    wrt = shared if level == "parameters" else list(feats)
    rows = [torch.cat([g.reshape(-1) for g in torch.autograd.grad(losses[t], wrt, retain_graph=True)]) for t in p.tasks]
    jacobian = torch.stack(rows)
    p.model.zero_grad()
    w.backward(losses, features=feats)
    if level == "parameters":
        update = torch.cat([q.grad.reshape(-1) for q in shared])
    else:  # the aggregated feature gradient: recover it from the reported weights
        update = torch.tensor(list(w.last_weights.values())) @ jacobian
    assert bool((jacobian @ update >= -1e-6 * float(jacobian.norm()) ** 2).all())


# ---------------------------------------------------------------------------------- what gets a grad
@pytest.mark.parametrize(("name", "level", "features"), list(_all_routes()))
def test_shared_encoder_always_gets_a_gradient(name, level, features):
    """LibMTL's rep_grad bug: the encoder must be trained under every method and level."""
    p = Problem()
    w = build_weighting(name, p.tasks, model=p.model, level=level, **_options(name, p.tasks))
    weights, _, _ = _run(p, w, features)
    for q in p.model.shared_parameters():
        assert q.grad is not None and float(q.grad.abs().sum()) > 0
    assert all(np.isfinite(v) for v in weights.values())
    assert list(weights) == list(p.tasks)


@pytest.mark.parametrize(("name", "level", "features"), [r for r in _all_routes() if r[0] in GRADIENT])
def test_heads_get_exactly_their_own_gradient(name, level, features):
    p = Problem()
    w = build_weighting(name, p.tasks, model=p.model, level=level)
    expected = _own_gradients(p)
    _run(p, w, features)
    for t in p.tasks:
        for q, ref in zip(p.model.task_parameters(t), expected[t], strict=True):
            torch.testing.assert_close(q.grad, ref)


@pytest.mark.parametrize(("level", "features"), ROUTES)
def test_parameters_used_by_several_tasks_get_the_summed_gradient(level, features):
    """Hand-over: the segmentation head also feeds the classifier; it is not shared, its gradient is the sum."""
    p = Problem(handover=True)
    w = build_weighting("upgrad", p.tasks, model=p.model, level=level)
    losses, _ = p.forward()
    seg_head = list(p.model.task_parameters("seg"))
    expected = torch.autograd.grad(losses["seg"] + losses["cls"], seg_head, retain_graph=True)
    own_cls = torch.autograd.grad(losses["cls"], list(p.model.task_parameters("cls")))
    _run(p, w, features)
    for q, ref in zip(seg_head, expected, strict=True):
        torch.testing.assert_close(q.grad, ref)
    for q, ref in zip(p.model.task_parameters("cls"), own_cls, strict=True):
        torch.testing.assert_close(q.grad, ref)


# ------------------------------------------------------------------------- the update is J^T w
@pytest.mark.parametrize("name", GRADIENT)
@pytest.mark.parametrize("level", ["parameters", "features"])
def test_shared_gradient_is_the_jacobian_combined_with_the_reported_weights(name, level):
    p = Problem()
    w = build_weighting(name, p.tasks, model=p.model, level=level)
    losses, feats = p.forward()
    shared = list(p.model.shared_parameters())
    weights = None
    if level == "parameters":
        rows = [torch.autograd.grad(losses[t], shared, retain_graph=True) for t in p.tasks]
    else:
        rows = [torch.autograd.grad(losses[t], feats, retain_graph=True) for t in p.tasks]
    p.model.zero_grad()
    weights = torch.tensor(list(w.backward(losses, features=feats).values()))
    assert not bool(torch.isnan(weights).any())
    if level == "parameters":
        expected = [sum(wi * row[k] for wi, row in zip(weights, rows, strict=True)) for k in range(len(shared))]
    else:
        losses, feats = p.forward()  # recompute: the graph was freed
        direction = [sum(wi * row[k] for wi, row in zip(weights, rows, strict=True)) for k in range(len(feats))]
        expected = torch.autograd.grad(feats, shared, grad_outputs=direction)
    for q, ref in zip(shared, expected, strict=True):
        torch.testing.assert_close(q.grad, ref, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", ["upgrad", "mgda", "imtl_g", "aligned_mtl", "cagrad"])
def test_parameter_level_with_and_without_features_agree(name):
    a, b = Problem(), Problem()
    wa = build_weighting(name, a.tasks, model=a.model)
    wb = build_weighting(name, b.tasks, model=b.model)
    weights_a, _, _ = _run(a, wa, True)
    weights_b, _, _ = _run(b, wb, False)
    assert weights_a == pytest.approx(weights_b, rel=1e-4)
    for qa, qb in zip(a.model.parameters(), b.model.parameters(), strict=True):
        torch.testing.assert_close(qa.grad, qb.grad, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", ["upgrad", "mgda", "imtl_g", "nash_mtl"])
@pytest.mark.parametrize("kind", ["handover", "seg_trunk"])
def test_per_task_jacobian_matches_torchjd(name, kind):
    """``jacobian="per_task"`` (pruned per-task backward passes) gives what ``mtl_backward`` gives."""
    make = (lambda: Problem(handover=True)) if kind == "handover" else (lambda: Problem(cls=SegTrunkNet))
    a, b = make(), make()
    wa = build_weighting(name, a.tasks, model=a.model)
    wb = build_weighting(name, b.tasks, model=b.model, jacobian="per_task")
    for _ in range(2):
        assert _run(a, wa, True)[0] == pytest.approx(_run(b, wb, True)[0], rel=1e-4)
        for qa, qb in zip(a.model.parameters(), b.model.parameters(), strict=True):
            torch.testing.assert_close(qa.grad, qb.grad, rtol=1e-4, atol=1e-6)
    assert not any(hasattr(q, "jac") for q in b.model.parameters())


def test_feature_level_batched_and_sequential_agree():
    a, b = Problem(handover=True), Problem(handover=True)
    wa = build_weighting("upgrad", a.tasks, model=a.model, level="features")
    wb = build_weighting("upgrad", b.tasks, model=b.model, level="features", batched=True)
    assert _run(a, wa, True)[0] == pytest.approx(_run(b, wb, True)[0], rel=1e-5)
    for qa, qb in zip(a.model.parameters(), b.model.parameters(), strict=True):
        torch.testing.assert_close(qa.grad, qb.grad, rtol=1e-4, atol=1e-6)


# ------------------------------------------------------------------------------------- Nash-MTL
def test_nash_mtl_weights_are_not_uniform_on_a_non_trivial_jacobian():
    w = build_weighting("nash_mtl", ["a", "b", "c"], model=Problem().model)
    jacobian = torch.tensor([[4.0, 0.0, 1.0, 0.0], [-1.0, 1.0, 0.0, 0.5], [0.0, 0.2, 0.1, 0.0]])
    weights = w.aggregator.weighting(jacobian)
    normalised = weights / weights.sum()
    assert float((normalised - 1 / 3).abs().max()) > 0.05, weights
    # the bargaining solution: alpha_i * (G alpha)_i is the same for every task
    alpha = torch.as_tensor(w.aggregator.weighting.prvs_alpha, dtype=torch.float32)
    products = alpha * ((jacobian @ jacobian.T) @ alpha)
    torch.testing.assert_close(products, products.mean().expand(3), rtol=0.02, atol=0.0)
    assert w.solver_failures == 0


def test_nash_mtl_reports_a_failed_solve_instead_of_silently_using_equal_weights():
    """On the toy problem the cls/reg gradients conflict so much that the first solve is unbounded."""
    p = Problem()
    w = build_weighting("nash_mtl", p.tasks, model=p.model)
    with pytest.warns(RuntimeWarning, match="Nash-MTL: the ECOS solve ended with status 'unbounded'") as record:
        weights = _run(p, w, True)[0]
        for _ in range(3):
            _run(p, w, True)
    assert np.ptp(list(weights.values())) == 0.0  # torchjd kept its initial (equal) weights
    assert w.solver_failures >= 2  # every failed step is counted ...
    assert sum("Nash-MTL" in str(r.message) for r in record) == 1  # ... but warned about once


# ----------------------------------------------------------------------------------- guard rails
@pytest.mark.parametrize(("level", "features"), ROUTES)
@pytest.mark.parametrize("jacobian", ["torchjd", "per_task"])
def test_non_finite_task_gradient_raises_naming_the_task(level, features, jacobian):
    p = Problem()
    w = build_weighting("upgrad", p.tasks, model=p.model, level=level, jacobian=jacobian)
    p.model.zero_grad()
    losses, feats = p.forward()
    f = feats[0]
    losses["cls"] = losses["cls"] + torch.sqrt((f - f.detach()).abs().sum())  # value 0, gradient NaN
    assert bool(torch.isfinite(losses["cls"]))
    # (without features, torchjd vmaps all rows through the whole graph: 0 * inf turns every row NaN)
    with pytest.raises(FloatingPointError, match=r"Non-finite gradient on the shared .*'cls'"):
        w.backward(losses, features=feats if features else None)
    assert all(q.grad is None for q in p.model.shared_parameters())  # nothing aggregated
    assert not any(hasattr(q, "jac") for q in p.model.parameters())


@pytest.mark.parametrize("level", ["parameters", "features"])
def test_non_finite_loss_raises_before_any_backward(level):
    p = Problem()
    w = build_weighting("mgda", p.tasks, model=p.model, level=level)
    losses, feats = p.forward()
    losses["reg"] = losses["reg"] + float("inf")
    with pytest.raises(FloatingPointError, match=r"loss for task\(s\) \['reg'\] \(\{'reg': inf\}\)"):
        w.backward(losses, features=feats)


@pytest.mark.parametrize("name", ["upgrad", "gradnorm"])
def test_a_loss_outside_the_graph_is_explained(name):
    p = Problem()
    w = build_weighting(name, p.tasks, model=p.model)
    losses, feats = p.forward()
    losses["reg"] = torch.tensor(0.0)
    with pytest.raises(ValueError, match=r"loss of \['reg'\] does not require grad.*output.sum\(\) \* 0.0"):
        w.backward(losses, features=feats)


def test_feature_level_without_features_is_explained():
    p = Problem()
    w = build_weighting("upgrad", p.tasks, model=p.model, level="features")
    losses, _ = p.forward()
    with pytest.raises(ValueError, match="forward_with_features"):
        w.backward(losses)


@pytest.mark.parametrize(("level", "features"), [("parameters", True), ("features", True)])
@pytest.mark.parametrize("jacobian", ["torchjd", "per_task"])
def test_features_that_are_not_a_cut_are_refused(level, features, jacobian):
    p = Problem(cls=SegTrunkNet)
    w = build_weighting("upgrad", p.tasks, model=p.model, level=level, jacobian=jacobian)
    losses, feats = p.forward()
    with pytest.raises(ValueError, match="do not separate the shared parameters"):
        w.backward(losses, features=feats[:1])  # the segmentation's trunk output is missing


def test_parameter_level_works_on_a_model_without_features():
    p = Problem(cls=NoFeaturesNet)
    w = build_weighting("upgrad", p.tasks, model=p.model)
    losses, _ = p.forward()
    w.backward(losses)
    assert all(q.grad is not None for q in p.model.parameters())


@pytest.mark.parametrize("level", ["parameters", "features"])
def test_aggregation_runs_in_float32_under_autocast(level):
    p = Problem()
    w = build_weighting("upgrad", p.tasks, model=p.model, level=level)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        losses, feats = p.forward()
    assert feats[0].dtype == torch.bfloat16
    weights = w.backward(losses, features=feats)
    assert all(np.isfinite(v) for v in weights.values())
    for q in p.model.parameters():
        assert q.grad is not None and q.grad.dtype == torch.float32


def test_nash_mtl_reset():
    p = Problem(seed=1)
    w = build_weighting("nash_mtl", p.tasks, model=p.model)
    first = _run(p, w, True)[0]
    w.reset()
    assert _run(p, w, True)[0] == pytest.approx(first, rel=1e-4)
