"""Validation-based stopping: the rule itself, and fit() stopping, restoring and reporting."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mtdl_kit.data import PhantomDataset
from mtdl_kit.models import build_model
from mtdl_kit.regions import get_region
from mtdl_kit.stopping import ValidationStopping
from mtdl_kit.train import fit

EYE = get_region("eye")


class _Tiny(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))


def test_rule_keeps_the_best_and_stops_after_patience() -> None:
    rule = ValidationStopping(["glaucoma/auc", "cdr/mae"], patience=2)
    model = _Tiny()
    trace = [(0.70, 0.10), (0.80, 0.08), (0.79, 0.09), (0.80, 0.08), (0.75, 0.2)]
    stops = []
    for step, (auc, mae) in enumerate(trace):
        with torch.no_grad():
            model.w.fill_(step)
        stops.append(rule.update(step * 10, {"glaucoma/auc": auc, "cdr/mae": mae, "other": 1.0}, model))
    # step 10 improves both; step 20 is worse, step 30 equal (no improvement): patience 2 runs out there
    assert stops == [False, False, False, True, True]
    assert rule.best_step == 10 and rule.best_values == {"glaucoma/auc": 0.80, "cdr/mae": 0.08}
    rule.restore_best(model)
    assert float(model.w.detach()) == 1.0
    assert rule.summary()["stopped_early"] is True


def test_improvement_is_signed_and_scale_free() -> None:
    rule = ValidationStopping(["cdr/mae"], patience=1)
    rule.update(0, {"cdr/mae": 0.10}, _Tiny())
    assert rule.improvement({"cdr/mae": 0.05}) == pytest.approx(0.5)  # lower MAE is better
    assert rule.improvement({"cdr/mae": 0.20}) == pytest.approx(-1.0)
    assert rule.improvement({"cdr/mae": math.nan}) == 0.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"monitor": []}, "task/metric"),
        ({"monitor": "auc"}, "task/metric"),
        ({"monitor": "a/b", "patience": 0}, "patience"),
    ],
)
def test_bad_arguments(kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        ValidationStopping(**kwargs)


def test_a_missing_metric_names_what_is_there() -> None:
    with pytest.raises(ValueError, match="available"):
        ValidationStopping("tumour/dice").update(0, {"glaucoma/auc": 0.5}, _Tiny())


def test_fit_stops_restores_the_best_and_records_it() -> None:
    train = PhantomDataset("eye", 16, size=32, tasks=["glaucoma"])
    val = PhantomDataset("eye", 16, split="val", size=32, tasks=["glaucoma"])
    model = build_model("single", EYE.select_tasks(["glaucoma"]), EYE.in_channels, width=4, seed=0)
    # lr 0: the validation metric never changes, so patience 2 stops after the third evaluation
    rule = ValidationStopping("glaucoma/auc", patience=2)
    history = fit(
        model,
        train,
        steps=50,
        batch_size=8,
        lr=1e-12,
        eval_data=val,
        eval_every=5,
        stopping=rule,
        progress=False,
        device="cpu",
        cosine_every=0,
    )
    assert history.config["steps_run"] == 15 and history.config["best_step"] == 5
    assert history.config["stopped_early"] is True
    assert [s for s, _ in history.series("metric", "glaucoma/auc")] == [5, 10, 15]


def test_fit_refuses_stopping_without_validation_data() -> None:
    model = build_model("single", EYE.select_tasks(["glaucoma"]), EYE.in_channels, width=4, seed=0)
    with pytest.raises(ValueError, match="eval_data"):
        fit(
            model,
            PhantomDataset("eye", 8, size=32, tasks=["glaucoma"]),
            steps=2,
            stopping=ValidationStopping("glaucoma/auc"),
        )


def test_a_lucky_warmup_evaluation_is_not_a_bar_later_evaluations_must_clear() -> None:
    """The transfer lab's failure: a high early AUC beside a low Dice outvoted every later, better network."""
    trace = [(0.90, 0.70), (0.62, 0.80), (0.64, 0.84), (0.66, 0.86), (0.65, 0.85), (0.64, 0.85)]

    def run(warmup: int) -> ValidationStopping:
        rule = ValidationStopping(["glaucoma/auc", "disc_cup/dice"], patience=2, warmup=warmup)
        model = _Tiny()
        for step, (auc, dice) in enumerate(trace):
            with torch.no_grad():
                model.w.fill_(step)
            if rule.update(step * 50, {"glaucoma/auc": auc, "disc_cup/dice": dice}, model):
                break
        rule.restore_best(model)
        assert float(model.w.detach()) * 50 == rule.best_step
        return rule

    # the original rule keeps step 0: every later evaluation is a mean relative change below 0 against it
    assert run(0).best_step == 0
    # one warm-up evaluation: step 0 cannot be selected; step 150 (AUC 0.66, Dice 0.86) is the best after it
    warm = run(1)
    assert warm.best_step == 150 and warm.summary()["warmup"] == 1
    # patience counts after the warm-up: two evaluations without improvement after step 150 stop the run
    assert warm.evaluations == 6 and warm.stopped_early


def test_a_run_that_ends_inside_the_warmup_keeps_its_latest_weights() -> None:
    rule = ValidationStopping("glaucoma/auc", patience=1, warmup=5)
    model = _Tiny()
    for step, auc in enumerate([0.9, 0.6, 0.5]):
        with torch.no_grad():
            model.w.fill_(step)
        assert rule.update(step, {"glaucoma/auc": auc}, model) is False  # no stop during the warm-up
    rule.restore_best(model)
    assert rule.best_step == 2 and float(model.w.detach()) == 2.0


@pytest.mark.parametrize("warmup", [-1, 1.5, True])
def test_bad_warmup_is_refused(warmup) -> None:
    with pytest.raises(ValueError, match="warmup must be an integer"):
        ValidationStopping("glaucoma/auc", warmup=warmup)


def _decisions(rule: ValidationStopping, trace: list[float], name: str = "landmarks/mre_mm") -> list[bool]:
    model = _Tiny()
    return [rule.update(50 * (i + 1), {name: value}, model) for i, value in enumerate(trace)]


def test_patience_waits_while_a_task_is_still_at_chance() -> None:
    plateau = [60.0, 21.0, 21.0, 21.0, 21.0, 21.0, 3.0, 2.9, 2.9, 2.9]  # a blank heat map, then the peaks
    plain = _decisions(ValidationStopping("landmarks/mre_mm", patience=2), plateau)
    assert plain.index(True) == 3, "the plain rule ends the run on the blank-map plateau"
    guarded = ValidationStopping("landmarks/mre_mm", patience=2, chance={"landmarks/mre_mm": 4.2})
    decisions = _decisions(guarded, plateau)
    assert decisions.index(True) == 9 and guarded.best_step == 400  # learnt, then patience ran out
    assert guarded.at_chance == [] and guarded.summary()["at_chance"] == []
    stuck = ValidationStopping("landmarks/mre_mm", patience=2, chance={"landmarks/mre_mm": 4.2})
    assert not any(_decisions(stuck, [21.0] * 30)), "a task that never leaves chance trains to the cap"
    assert stuck.at_chance == ["landmarks/mre_mm"]
    assert "at_chance" not in ValidationStopping("a/auc").summary(), "no guard, the summary as before"


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(0.01, 1.0), min_size=1, max_size=25),
    st.floats(0.0, 1.0),
    st.integers(1, 4),
    st.integers(0, 3),
)
def test_the_guard_only_ever_delays_a_stop(trace: list[float], level: float, patience: int, warmup: int) -> None:
    plain = _decisions(ValidationStopping("g/auc", patience=patience, warmup=warmup), trace, "g/auc")
    guarded = ValidationStopping("g/auc", patience=patience, warmup=warmup, chance={"g/auc": level})
    delayed = _decisions(guarded, trace, "g/auc")
    first = plain.index(True) if True in plain else len(trace)
    assert (delayed.index(True) if True in delayed else len(trace)) >= first
    if all(v > level for v in trace):  # above chance from the first evaluation: the guard changes nothing
        assert delayed == plain


@pytest.mark.parametrize(
    ("chance", "match"),
    [({"other/auc": 0.5}, "not watched"), ({"g/auc": math.nan}, "finite"), ({"g/auc": "0.5"}, "finite")],
)
def test_bad_chance_levels_fail_fast(chance, match) -> None:
    with pytest.raises(ValueError, match=match):
        ValidationStopping("g/auc", chance=chance)


def test_the_primary_metric_rule_takes_chance_by_task() -> None:
    from mtdl_kit.regions import get_region

    tasks = get_region("musculoskeletal").tasks
    rule = ValidationStopping.on_primary_metrics(tasks, patience=2, min_evaluations=1, chance={"landmarks": 4.2})
    assert rule.chance == {"landmarks/mre_mm": 4.2} and rule.at_chance == ["landmarks/mre_mm"]


def test_replay_makes_the_same_decisions_as_training_would() -> None:
    trace = [0.6, 0.7, 0.69, 0.68, 0.71, 0.70, 0.70]
    decisions = _decisions(ValidationStopping("g/auc", patience=2), trace, "g/auc")
    replayed = ValidationStopping("g/auc", patience=2).replay(
        [(50 * (i + 1), {"g/auc": v}) for i, v in enumerate(trace)]
    )
    assert replayed == 50 * (decisions.index(True) + 1) == 200
    assert ValidationStopping("g/auc", patience=9).replay([(50, {"g/auc": 0.5})]) is None
