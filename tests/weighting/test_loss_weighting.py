"""Loss-based methods: the documented weights are the weights the code uses."""

from __future__ import annotations

import math

import pytest
import torch
from weighting_toys import TASKS4, Problem

from mtdl_kit.weighting import build_weighting, dwa_weights


def _grads(model: torch.nn.Module) -> list[torch.Tensor]:
    return [p.grad.clone() if p.grad is not None else torch.zeros_like(p) for p in model.parameters()]


def _reference(problem: Problem, weights: dict[str, float]) -> list[torch.Tensor]:
    """Gradients of sum_i w_i L_i by plain autograd."""
    problem.model.zero_grad()
    losses, _ = problem.forward()
    sum(weights[t] * losses[t] for t in losses).backward()
    out = _grads(problem.model)
    problem.model.zero_grad()
    return out


def _step(problem: Problem, weighting, features: bool = True) -> dict[str, float]:
    problem.model.zero_grad()
    losses, feats = problem.forward()
    return weighting.backward(losses, features=feats if features else None)


def test_ew_weights_are_exactly_one_and_match_the_plain_sum():
    p = Problem()
    w = build_weighting("ew", p.tasks, model=p.model)
    assert "exactly 1" in type(w).__doc__ or "exactly **1**" in type(w).__doc__
    expected = _reference(p, dict.fromkeys(p.tasks, 1.0))
    weights = _step(p, w)
    assert weights == dict.fromkeys(p.tasks, 1.0)
    for got, ref in zip(_grads(p.model), expected, strict=True):
        torch.testing.assert_close(got, ref)


def test_fixed_weights_are_used():
    p = Problem()
    chosen = {"seg": 2.0, "cls": 0.5, "reg": 0.0}
    w = build_weighting("fixed", p.tasks, model=p.model, weights=chosen)
    expected = _reference(p, chosen)
    assert _step(p, w) == chosen
    for got, ref in zip(_grads(p.model), expected, strict=True):
        torch.testing.assert_close(got, ref)


def test_uncertainty_weights_are_learnable_parameters():
    p = Problem()
    w = build_weighting("uw", p.tasks, model=p.model)
    params = list(w.parameters())
    assert len(params) == 1 and isinstance(params[0], torch.nn.Parameter) and params[0].shape == (3,)
    before = params[0].detach().clone()
    opt = torch.optim.Adam([*p.model.parameters(), *params], lr=0.1)
    opt.zero_grad()
    weights = _step(p, w)
    assert weights == pytest.approx(dict.fromkeys(p.tasks, 1.0))  # exp(-0)
    assert params[0].grad is not None and params[0].grad.abs().min() > 0
    # d/ds [exp(-s) L + s] = 1 - exp(-s) L at s = 0
    losses = p.losses_now()
    torch.testing.assert_close(params[0].grad, torch.tensor([1 - losses[t] for t in p.tasks]), rtol=1e-4, atol=1e-5)
    opt.step()
    assert not torch.equal(params[0].detach(), before)
    opt.zero_grad()
    weights = _step(p, w)
    assert weights == pytest.approx({t: math.exp(-float(s)) for t, s in zip(p.tasks, params[0].detach(), strict=True)})


def test_uncertainty_weighting_network_gradient():
    p = Problem()
    w = build_weighting("uw", p.tasks, model=p.model, init_log_var=math.log(2.0))
    expected = _reference(p, dict.fromkeys(p.tasks, 0.5))
    _step(p, w)
    for got, ref in zip(_grads(p.model), expected, strict=True):
        torch.testing.assert_close(got, ref)


@pytest.mark.parametrize("n_tasks", [2, 3, 4])
def test_dwa_any_number_of_tasks(n_tasks):
    p = Problem(TASKS4[:n_tasks])
    w = build_weighting("dwa", p.tasks, model=p.model)
    assert _step(p, w) == dict.fromkeys(p.tasks, 1.0)  # epoch 1
    w.end_epoch(dict.fromkeys(p.tasks, 1.0))
    assert _step(p, w) == dict.fromkeys(p.tasks, 1.0)  # epoch 2: one epoch of history is not enough
    # epoch 3: the first task's loss did not go down, the others halved
    w.end_epoch({t: (1.0 if i == 0 else 0.5) for i, t in enumerate(p.tasks)})
    weights = _step(p, w)
    assert sum(weights.values()) == pytest.approx(n_tasks)
    slow, *fast = (weights[t] for t in p.tasks)
    assert all(slow > f for f in fast)
    ratios = torch.tensor([1.0] + [0.5] * (n_tasks - 1))
    expected = n_tasks * torch.softmax(ratios / 2.0, 0)
    assert list(weights.values()) == pytest.approx(expected.tolist(), rel=1e-6)
    # the weights change only at end_epoch, and the history keeps the last two epochs
    assert _step(p, w) == weights
    w.end_epoch(dict.fromkeys(p.tasks, 0.5))  # now the first task halved and the others stayed
    ratios = torch.tensor([0.5] + [1.0] * (n_tasks - 1))
    assert list(_step(p, w).values()) == pytest.approx((n_tasks * torch.softmax(ratios / 2.0, 0)).tolist(), rel=1e-6)


def test_dwa_functional_twin_and_bad_history():
    assert dwa_weights([]).numel() == 0
    assert dwa_weights([[1.0, 2.0]]).tolist() == [1.0, 1.0]
    w = build_weighting("dwa", ["a", "b"], model=None)
    with pytest.raises(KeyError, match="'b'"):
        w.end_epoch({"a": 1.0})
    with pytest.raises(ValueError, match="finite and > 0"):
        w.end_epoch({"a": 1.0, "b": float("nan")})


def test_dwa_history_survives_a_state_dict_round_trip():
    w = build_weighting("dwa", ["a", "b"], model=None)
    w.end_epoch({"a": 1.0, "b": 1.0})
    w.end_epoch({"a": 1.0, "b": 0.5})
    clone = build_weighting("dwa", ["a", "b"], model=None)
    clone.load_state_dict(w.state_dict())
    assert clone.history == w.history
    torch.testing.assert_close(clone.weights, w.weights)


def test_rlw_weights_are_random_positive_and_sum_to_the_number_of_tasks():
    p = Problem(TASKS4)
    w = build_weighting("rlw", p.tasks, model=p.model, seed=3)
    seen = [_step(p, w) for _ in range(5)]
    for weights in seen:
        assert sum(weights.values()) == pytest.approx(4.0, rel=1e-6)
        assert all(v > 0 for v in weights.values())
    assert len({tuple(s.values()) for s in seen}) == 5  # fresh weights every step
    again = build_weighting("rlw", p.tasks, model=p.model, seed=3)
    assert [_step(p, again) for _ in range(5)] == seen  # its own generator: repeatable
    state = torch.get_rng_state()
    _step(p, w)
    assert torch.equal(state, torch.get_rng_state())  # the global random stream is untouched


@pytest.mark.parametrize("name", ["ew", "uw", "dwa", "rlw", "gradnorm"])
def test_non_finite_loss_raises_naming_the_task(name):
    p = Problem()
    w = build_weighting(name, p.tasks, model=p.model)
    losses, feats = p.forward()
    losses["cls"] = losses["cls"] * float("nan")
    with pytest.raises(FloatingPointError, match=r"Non-finite loss for task\(s\) \['cls'\]"):
        w.backward(losses, features=feats)
    assert all(q.grad is None for q in p.model.parameters())  # nothing was backpropagated


def test_missing_or_extra_losses_are_reported():
    p = Problem()
    w = build_weighting("ew", p.tasks, model=p.model)
    losses, _ = p.forward()
    with pytest.raises(KeyError, match="'reg'"):
        w.backward({k: v for k, v in losses.items() if k != "reg"})
    with pytest.raises(ValueError, match="unknown task"):
        w.backward({**losses, "extra": losses["reg"]})
    with pytest.raises(ValueError, match="scalar"):
        w.backward({**losses, "reg": torch.stack([losses["reg"], losses["reg"]])})
