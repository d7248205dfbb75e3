"""Training edge cases of issue 15: tiny Jacobians, NaN gradients of finite losses, a trunk frozen after the build.

TorchJD 0.18's UPGrad (``QuadprogProjector``) and CAGrad (``CAGradWeighting``) normalise the Gramian with
``torchjd._linalg.normalize(G, norm_eps=1e-4)``, which gives the zero matrix when ``trace(G) < 1e-4``:
UPGrad then returns the plain mean and CAGrad zero weights. The toolkit trace-normalises the Gramian of
every scale-invariant method first (``mtdl_kit.weighting.gradient.normalised_gramian``).
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torchjd.aggregation import CAGrad, UPGrad
from weighting_toys import Problem

from mtdl_kit.weighting import build_weighting
from mtdl_kit.weighting.gradient import normalised_gramian

pytestmark = [
    pytest.mark.filterwarnings("ignore:Nash-MTL. the ECOS solve:RuntimeWarning"),
    pytest.mark.filterwarnings("ignore:You are solving a parameterized problem that is not DPP"),
]

SCALE_INVARIANT = ("upgrad", "mgda", "pcgrad", "cagrad", "imtl_g", "aligned_mtl")
LOSS_BASED = ("ew", "fixed", "uw", "dwa", "rlw", "gradnorm")


def _conflicting_jacobian() -> torch.Tensor:
    """Three task gradients, two of them conflicting (so UPGrad's weights are not the mean)."""
    g = torch.Generator().manual_seed(3)
    jacobian = torch.randn(3, 40, generator=g)
    jacobian[1] = -0.8 * jacobian[0] + 0.3 * jacobian[1]
    return jacobian


def _feature_jacobian(p: Problem, losses, feats) -> torch.Tensor:
    rows = [torch.autograd.grad(losses[t], feats, retain_graph=True) for t in p.tasks]
    return torch.stack([torch.cat([g.reshape(-1) for g in row]) for row in rows])


def _options(name: str, tasks) -> dict:
    return {"weights": dict.fromkeys(tasks, 1.0)} if name == "fixed" else {}


# ------------------------------------------------------------------------------------ tiny Jacobians
@pytest.mark.parametrize(("name", "plain"), [("upgrad", UPGrad()), ("cagrad", CAGrad(c=0.4))])
def test_a_tiny_jacobian_is_aggregated_like_its_rescaled_copy(name, plain):
    jacobian = _conflicting_jacobian()
    s = float(jacobian.norm()) / 3e-3  # trace(J J^T) of jacobian / s is 9e-6 < norm_eps = 1e-4
    tiny = jacobian / s
    assert float((tiny @ tiny.T).trace()) < 1e-4
    # what TorchJD alone does below norm_eps: the plain mean (UPGrad) or no update at all (CAGrad)
    lost = plain.gramian_weighting(tiny @ tiny.T)
    expected_lost = torch.full((3,), 1 / 3) if name == "upgrad" else torch.zeros(3)
    torch.testing.assert_close(lost, expected_lost)
    w = build_weighting(name, ["a", "b", "c"], model=Problem().model)
    weights = w.gramian_aggregator().gramian_weighting(tiny @ tiny.T)
    reference = plain.gramian_weighting(jacobian @ jacobian.T)  # the same Jacobian at a normal scale
    torch.testing.assert_close(weights, reference, rtol=1e-4, atol=1e-6)
    update, rescaled_update = weights @ tiny, reference @ jacobian
    torch.testing.assert_close(update * s, rescaled_update, rtol=1e-4, atol=1e-6)  # s x (update of J / s)
    assert float((weights - expected_lost).abs().max()) > 0.05  # neither the mean nor zero


@pytest.mark.parametrize("name", SCALE_INVARIANT)
def test_a_normal_jacobian_gets_torchjds_own_weights(name):
    jacobian = _conflicting_jacobian()
    w = build_weighting(name, ["a", "b", "c"], model=Problem().model)
    gram = jacobian @ jacobian.T
    torch.manual_seed(0)  # PCGrad draws its order from the global generator
    ours = w.gramian_aggregator().gramian_weighting(gram)
    torch.manual_seed(0)
    plain = w.aggregator.gramian_weighting(gram)
    torch.testing.assert_close(ours, plain, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(normalised_gramian(gram).trace(), torch.tensor(3.0))
    torch.testing.assert_close(normalised_gramian(torch.zeros(3, 3)), torch.zeros(3, 3))


def test_nash_mtl_is_not_normalised():
    """Its weights scale as 1/s and its update is clipped to max_norm: a rescaled Gramian would change it."""
    w = build_weighting("nash_mtl", ["a", "b", "c"], model=Problem().model)
    assert w.gramian_aggregator() is w.aggregator and not w.scale_invariant


@pytest.mark.parametrize("name", ["upgrad", "cagrad"])
@pytest.mark.parametrize("level", ["features", "parameters"])
def test_small_losses_give_the_weights_of_large_ones(name, level):
    """Scaling every loss by c scales J by c: the weights must not change, the update must scale by c."""
    c = 1e-3
    runs = {}
    for factor in (1.0, c):
        p = Problem(seed=0)
        w = build_weighting(name, p.tasks, model=p.model, level=level)
        p.model.zero_grad()
        losses, feats = p.forward()
        losses = {t: loss * factor for t, loss in losses.items()}
        if factor == c and level == "features":
            jacobian = _feature_jacobian(p, losses, feats)
            assert float((jacobian @ jacobian.T).trace()) < 1e-4  # below TorchJD's norm_eps
        weights = w.backward(losses, features=feats)
        runs[factor] = (weights, [q.grad.clone() for q in p.model.shared_parameters()])
    assert runs[c][0] == pytest.approx(runs[1.0][0], rel=1e-3, abs=1e-5)
    if name == "upgrad":  # the toy's feature gradients conflict: UPGrad's weights are not the mean
        assert max(abs(v - 1 / 3) for v in runs[c][0].values()) > 0.05
    for small, large in zip(runs[c][1], runs[1.0][1], strict=True):
        torch.testing.assert_close(small / c, large, rtol=1e-3, atol=1e-6)


# ------------------------------------------------------------------- NaN gradient of a finite loss
@pytest.mark.parametrize("name", LOSS_BASED)
def test_a_finite_loss_with_a_nan_gradient_raises(name):
    p = Problem()
    w = build_weighting(name, p.tasks, model=p.model, **_options(name, p.tasks))
    p.model.zero_grad()
    losses, feats = p.forward()
    f = feats[0]
    losses["cls"] = losses["cls"] + torch.sqrt((f - f.detach()).abs().sum())  # value unchanged, gradient NaN
    assert bool(torch.isfinite(losses["cls"]))
    match = r"non-finite gradient \(NaN or inf\) although every loss is finite, in the shared parameters"
    if name == "gradnorm":  # GradNorm meets it on its last shared layer first, naming the task
        match = r"Non-finite gradient on the last shared layer .*'cls'"
    with pytest.raises(FloatingPointError, match=match):
        w.backward(losses, features=feats)
    assert all(q.grad is None for q in p.model.parameters())  # nothing left for an optimizer step


@pytest.mark.parametrize("name", [*LOSS_BASED, "upgrad"])
def test_a_nan_gradient_in_a_head_names_its_task(name):
    p = Problem()
    w = build_weighting(name, p.tasks, model=p.model, **_options(name, p.tasks))
    p.model.zero_grad()
    losses, feats = p.forward()
    head = next(iter(p.model.task_parameters("reg")))
    losses["reg"] = losses["reg"] + torch.sqrt((head - head.detach()).abs().sum())
    with pytest.raises(FloatingPointError, match=r"the parameters of task\(s\) \['reg'\] \(heads\.reg\.weight\)"):
        w.backward(losses, features=feats)


def test_a_nan_gradient_without_a_model_is_still_caught():
    x = torch.ones(3, requires_grad=True)
    w = build_weighting("ew", ["a", "b"], model=None)
    losses = {"a": (x * 2).sum(), "b": torch.sqrt((x - x.detach()).abs().sum())}
    with pytest.raises(FloatingPointError, match=r"a tensor of shape \(3,\)"):
        w.backward(losses)
    assert x.grad is None


# ------------------------------------------------------------------ a trunk frozen after the build
@pytest.mark.parametrize(
    ("name", "level"),
    [("upgrad", "parameters"), ("upgrad", "features"), ("mgda", "parameters"), ("gradnorm", "parameters")],
)
def test_freezing_the_whole_trunk_after_the_build_is_a_clear_error(name, level):
    p = Problem()
    w = build_weighting(name, p.tasks, model=p.model, level=level)
    for q in p.model.shared_parameters():
        q.requires_grad_(False)
    losses, feats = p.forward()
    with pytest.raises(ValueError, match=r"(frozen now|is frozen).*[Uu]nfreeze"):
        w.backward(losses, features=feats)
    with pytest.raises(ValueError, match=r"every shared parameter .* is frozen"):
        build_weighting(name, p.tasks, model=p.model, level=level)


@pytest.mark.parametrize("name", ["upgrad", "cagrad", "gradnorm"])
def test_freezing_part_of_the_trunk_after_the_build_trains_the_rest(name):
    p = Problem()
    w = build_weighting(name, p.tasks, model=p.model)
    first, *rest = list(p.model.encoder[0].parameters())
    for q in (first, *rest):
        q.requires_grad_(False)
    p.model.zero_grad()
    losses, feats = p.forward()
    w.backward(losses, features=feats)
    assert first.grad is None and all(q.grad is None for q in rest)
    assert all(q.grad is not None for q in p.model.encoder[2].parameters())


@settings(max_examples=60, deadline=None)
@given(
    shapes=st.lists(st.lists(st.integers(1, 5), min_size=0, max_size=3), min_size=1, max_size=6),
    planted=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 124), st.sampled_from(["nan", "inf", "-inf"]))),
    scale=st.sampled_from([1e-30, 1.0, 1e30, 3e38]),
)
def test_the_fused_gradient_check_agrees_with_isfinite_per_tensor(shapes, planted, scale):
    """check_gradients' fused test (norm of 0 * g) flags exactly the tensors that hold NaN or ±inf,
    also when finite values are huge (a plain norm would overflow to inf there) or tiny."""
    params = [torch.nn.Parameter(torch.zeros(s)) for s in shapes]
    for p in params:
        p.grad = torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())) * scale
    for which, pos, value in planted:
        grad = params[which % len(params)].grad.view(-1)
        grad[pos % grad.numel()] = float(value)
    w = build_weighting("ew", ["a", "b"], model=None)
    expected_bad = [p for p in params if not bool(torch.isfinite(p.grad).all())]
    if not expected_bad:
        w.check_gradients(params)
        assert all(p.grad is not None for p in params), "a finite step keeps its gradients"
        return
    with pytest.raises(FloatingPointError, match="non-finite gradient"):
        w.check_gradients(params)
    assert all(p.grad is None for p in params)
