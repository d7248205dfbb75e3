"""Chance level: the image-blind predictor (evaluation.chance) and the lab's per-seed levels (lab.chance)."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mtdl_kit.data import PhantomDataset
from mtdl_kit.evaluation import evaluate
from mtdl_kit.evaluation.chance import PRIOR_WORDS, CopyInput, TrainingPrior, chance_level, copy_input_level
from mtdl_kit.lab.chance import (
    CHANCE_COLUMNS,
    COPY_INPUT_COLUMNS,
    chance_frame,
    chance_reading,
    copy_input_frame,
    copy_input_reading,
    replay_chance_guard,
    runs_against_copy_input,
    runs_beating_chance,
)
from mtdl_kit.lab.families import QUICK_FAMILIES
from mtdl_kit.models import build_model
from mtdl_kit.regions import get_region
from mtdl_kit.regions.base import TaskSpec

SEG = TaskSpec("mask", "segmentation", 3, "a mask")
CLS = TaskSpec("label", "classification", 3, "a label")
REG = TaskSpec("size", "regression", 2, "two sizes")
LMK = TaskSpec("points", "landmarks", 2, "two points")
REC = TaskSpec("clean", "reconstruction", 1, "the clean image")


def _case(mask: list[list[int]], label: int, size: tuple[float, float], points, clean: float, **extra) -> dict:
    return {
        "image": torch.zeros(1, 2, 2),
        "mask": torch.tensor(mask),
        "label": torch.tensor(label),
        "size": torch.tensor(size),
        "points": torch.tensor(points, dtype=torch.float32),
        "clean": torch.full((1, 2, 2), clean),
        **extra,
    }


TRAIN = [
    _case([[0, 1], [2, 2]], 0, (1.0, 10.0), [[0.0, 0.0], [1.0, 1.0]], 0.0),
    _case([[0, 1], [2, 1]], 1, (2.0, 20.0), [[0.0, 1.0], [1.0, 1.0]], 1.0),
    _case([[0, 2], [2, 1]], 1, (9.0, 30.0), [[0.0, 1.0], [1.0, 0.0]], 2.0),
]


def test_the_prior_predicts_what_the_training_labels_say_without_the_image() -> None:
    prior = TrainingPrior([SEG, CLS, REG, LMK, REC], TRAIN)
    out = prior(torch.randn(4, 1, 2, 2))
    assert all(v.shape[0] == 4 for v in out.values())
    assert torch.equal(out["mask"][0].argmax(0), torch.tensor([[0, 1], [2, 1]]))  # each pixel's majority class
    assert torch.allclose(torch.softmax(out["label"][0], 0), torch.tensor([1 / 3, 2 / 3, 0.0]), atol=1e-5)
    assert torch.equal(out["size"][0], torch.tensor([2.0, 20.0]))  # the median, not the mean (4.0)
    maps = out["points"][0]
    peaks = [divmod(int(m.argmax()), 2) for m in maps]
    assert peaks == [(0, 1), (1, 1)]  # rounded mean positions (0, 0.67) and (1, 0.67)
    assert torch.allclose(out["clean"][0], torch.full((1, 2, 2), 1.0))
    assert torch.equal(out["size"][1], out["size"][3])  # the same for every image


def test_partial_labels_are_skipped_and_a_task_without_labels_is_refused() -> None:
    unlabelled = _case([[1, 1], [1, 1]], 2, (100.0, 100.0), [[1.0, 1.0], [1.0, 1.0]], 5.0, size__present=False)
    prior = TrainingPrior([REG], [*TRAIN, unlabelled])
    assert torch.equal(prior(torch.zeros(1, 1, 2, 2))["size"][0], torch.tensor([2.0, 20.0]))
    with pytest.raises(ValueError, match="no training case labels 'size'"):
        TrainingPrior([REG], [unlabelled])
    with pytest.raises(ValueError, match="at least one TaskSpec"):
        TrainingPrior([], TRAIN)


def test_a_prior_asked_for_another_image_size_names_the_fix() -> None:
    prior = TrainingPrior([SEG], TRAIN)
    with pytest.raises(ValueError, match="fit it on training cases of the test set's size"):
        prior(torch.zeros(1, 1, 4, 4))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-100, 100, allow_nan=False), min_size=1, max_size=15), st.floats(-100, 100))
def test_the_regression_prior_has_the_least_absolute_error_of_any_constant(values: list[float], other: float) -> None:
    cases = [{"image": torch.zeros(1, 2, 2), "size": torch.tensor([v])} for v in values]
    task = TaskSpec("size", "regression", 1, "a size")
    guess = float(TrainingPrior([task], cases)(torch.zeros(1, 1, 2, 2))["size"][0, 0])
    error = sum(abs(v - guess) for v in values)
    assert error <= sum(abs(v - other) for v in values) + 1e-3 * (1 + error)


@pytest.fixture(scope="module")
def knee():
    region = get_region("musculoskeletal")
    train = PhantomDataset("musculoskeletal", 24, split="train", size=64)
    test = PhantomDataset("musculoskeletal", 80, split="test", size=64)
    return region, train, test


def test_chance_level_goes_through_the_one_evaluation_path(knee) -> None:
    region, train, test = knee
    chance = chance_level(region.tasks, train, test, region=region)
    network = evaluate(build_model("parallel", region.tasks, region.in_channels, width=4, seed=0), test, region=region)
    assert chance.metrics.keys() == network.metrics.keys()
    for task in chance.metrics:
        assert chance.metrics[task].keys() == network.metrics[task].keys()
    assert chance.metrics["kl_grade"]["auc"] == pytest.approx(0.5)
    assert chance.metrics["kl_grade"]["kappa_quadratic"] == pytest.approx(0.0)
    assert 0.5 < chance.metrics["bones"]["dice"] < 1.0  # the knee hardly moves: the mean anatomy overlaps well
    assert math.isfinite(chance.metrics["landmarks"]["mre_mm"]) and chance.metrics["landmarks"]["mre_mm"] > 0


def test_chance_frame_fits_each_seeds_training_subset() -> None:
    cfg = QUICK_FAMILIES
    frame = chance_frame(cfg, cfg.region, cfg.task_names(), (0, 1))
    assert tuple(frame.columns) == CHANCE_COLUMNS
    assert set(frame["seed"]) == {0, 1}
    assert frame.groupby(["seed", "task"])["primary"].sum().eq(1).all()  # one headline metric per task
    assert set(frame["prior"]) <= set(PRIOR_WORDS.values())
    dice = frame[(frame["metric"] == "dice")].set_index("seed")["value"]
    assert dice[0] != dice[1]  # another training subset, another mean anatomy


def test_the_guards_levels_are_the_validation_chance_of_each_tasks_primary_metric() -> None:
    from mtdl_kit.lab.chance import validation_chance

    cfg = QUICK_FAMILIES
    region = get_region(cfg.region)
    train, val, _ = cfg.splits(cfg.region, cfg.task_names(), 1)
    levels = validation_chance(region.select_tasks(list(cfg.task_names())), train, val, region=region)
    frame = chance_frame(cfg, cfg.region, cfg.task_names(), (1,), split="val")
    primary = frame[frame["primary"]].set_index("task")["value"]
    assert levels == pytest.approx(primary.to_dict())
    assert set(levels) == set(cfg.task_names())


def _chance() -> pd.DataFrame:
    rows = [(seed, "mask", "dice", 0.8, True, PRIOR_WORDS["segmentation"]) for seed in (0, 1)] + [
        (seed, "size", "mae", 2.0, True, PRIOR_WORDS["regression"]) for seed in (0, 1)
    ]
    rows += [(0, "size", "rmse", 3.0, False, PRIOR_WORDS["regression"])]
    return pd.DataFrame(rows, columns=list(CHANCE_COLUMNS))


def _runs() -> pd.DataFrame:
    rows = [
        ("single", 0, "mask", "dice", 0.9),
        ("single", 1, "mask", "dice", 0.7),
        ("single", 0, "size", "mae", 1.5),
        ("single", 1, "size", "mae", 2.5),
        ("parallel", 0, "mask", "dice", 0.95),
        ("parallel", 1, "mask", "dice", 0.85),
        ("parallel", 0, "size", "mae", 1.0),
        ("parallel", 1, "size", "mae", 1.9),
        ("parallel", 0, "size", "rmse", 9.0),
    ]
    return pd.DataFrame(rows, columns=["arm", "seed", "task", "metric", "value"])


def test_runs_are_set_against_their_seeds_chance_on_the_primary_metric_with_its_sign() -> None:
    paired = runs_beating_chance(_runs(), _chance())
    assert len(paired) == 8  # the rmse row is not a primary metric
    beats = paired.set_index(["arm", "seed", "task"])["beats"]
    assert bool(beats[("single", 0, "mask")]) and not bool(beats[("single", 1, "mask")])
    assert bool(beats[("single", 0, "size")]) and not bool(beats[("single", 1, "size")])  # lower MAE beats
    assert beats.xs("parallel").all()


def test_chance_reading_counts_the_runs_that_do_not_beat_chance() -> None:
    lines = chance_reading(_runs(), _chance())
    assert lines[0].startswith("Chance level on the test split") and "mask dice 0.800" in lines[0]
    assert "size mae 2.000 (the training median)" in lines[0]
    assert lines[1] == "mask: runs that do not beat chance — single 1 of 2."
    assert lines[2] == "size: runs that do not beat chance — single 1 of 2."
    better = _runs().assign(value=lambda f: f["value"].where(f["metric"] != "dice", 0.99))
    assert chance_reading(better, _chance())[1] == "mask: every run beats chance."


def test_runs_of_a_seed_without_a_chance_level_are_refused() -> None:
    with pytest.raises(ValueError, match=r"no level for seeds \[7\]"):
        runs_beating_chance(_runs().assign(seed=7), _chance())


def test_replaying_the_guard_flags_runs_that_stopped_while_a_task_was_at_chance() -> None:
    from dataclasses import replace

    from mtdl_kit.lab.families import FamiliesConfig

    cfg = replace(
        FamiliesConfig(region="musculoskeletal"), patience=2, min_evaluations=2, max_steps=500, chance_guard=False
    )
    steps = [50, 100, 150, 200, 250]
    curves = [
        ("single@params", 0, "landmarks", s, v) for s, v in zip(steps, [60.0, 21.0, 21.0, 21.0, 21.0], strict=True)
    ]
    curves += [("single@params", 0, "bones", s, v) for s, v in zip(steps, [0.9, 0.95, 0.94, 0.94, 0.94], strict=True)]
    curves += [("single@params", 1, "landmarks", s, v) for s, v in zip(steps, [60.0, 3.0, 2.0, 2.0, 2.0], strict=True)]
    curves = pd.DataFrame(curves, columns=["arm", "seed", "task", "step", "value"])
    runs = pd.DataFrame(
        [
            ("single@params", 0, "landmarks", 250),
            ("single@params", 0, "bones", 250),
            ("single@params", 1, "landmarks", 250),
        ],
        columns=["arm", "seed", "task", "steps_run"],
    )
    levels = [
        (s, t, m, v, True, "p") for s in (0, 1) for t, m, v in (("landmarks", "mre_mm", 4.0), ("bones", "dice", 0.9))
    ]
    val_chance = pd.DataFrame(levels, columns=list(CHANCE_COLUMNS))
    replay = replay_chance_guard(cfg, curves, runs, val_chance).set_index(["seed", "network"])
    assert replay["replay_matches"].all(), "the plain rule's replay reproduces the recorded stops"
    blank = replay.loc[(0, "landmarks")]
    assert blank["changed"] and math.isnan(blank["guarded"]) and blank["at_chance"] == "landmarks"
    assert not replay.loc[(0, "bones")]["changed"], "a task above chance from the start: the guard changes nothing"
    assert not replay.loc[(1, "landmarks")]["changed"]
    assert (replay["changed_margin"] == replay["changed"]).all(), "no AUC here: the margin guard is the same guard"


def test_a_guard_trained_run_whose_validation_auc_stayed_within_noise_is_flagged_by_the_margin_guard() -> None:
    from dataclasses import replace

    from mtdl_kit.lab.families import FamiliesConfig

    cfg = replace(FamiliesConfig(region="eye"), patience=2, min_evaluations=2, max_steps=500)
    assert cfg.chance_guard  # trained under the protocol's guard
    glaucoma = get_region("eye").select_tasks(["glaucoma"])
    steps = [50, 100, 150, 200, 250, 300]
    noisy = [0.5, 0.56, 0.56, 0.56, 0.56, 0.56]  # above 0.5, but well inside a 64-case AUC's noise
    learnt = [0.5, 0.8, 0.9, 0.9, 0.9, 0.9]
    evaluations = [(s, {"glaucoma/auc": v}) for s, v in zip(steps, noisy, strict=True)]
    stop = cfg.stopping_rule(glaucoma, chance={"glaucoma": 0.5}).replay(evaluations)
    assert stop is not None and stop < 300
    curves = pd.DataFrame(
        [("single@params", 0, "glaucoma", s, v) for s, v in zip(steps, noisy, strict=True)]
        + [("single@params", 1, "glaucoma", s, v) for s, v in zip(steps, learnt, strict=True)],
        columns=["arm", "seed", "task", "step", "value"],
    )
    learnt_stop = cfg.stopping_rule(glaucoma, chance={"glaucoma": 0.5}).replay(
        [(s, {"glaucoma/auc": v}) for s, v in zip(steps, learnt, strict=True)]
    )
    runs = pd.DataFrame(
        [("single@params", 0, "glaucoma", stop), ("single@params", 1, "glaucoma", learnt_stop)],
        columns=["arm", "seed", "task", "steps_run"],
    )
    val_chance = pd.DataFrame(
        [r for seed in (0, 1) for r in _counted((32, 32), seed=seed, task="glaucoma")], columns=list(CHANCE_COLUMNS)
    )
    replay = replay_chance_guard(cfg, curves, runs, val_chance).set_index("seed")
    assert replay["replay_matches"].all(), "the guarded rule it ran under reproduces the recorded stops"
    assert not replay["changed"].any(), "replayed under its own guard, nothing changes"
    assert replay.loc[0, "changed_margin"] and math.isnan(replay.loc[0, "guarded_margin"])
    assert replay.loc[0, "at_chance_margin"] == "glaucoma"
    assert not replay.loc[1, "changed_margin"], "an AUC of 0.9 clears the margin (about 0.12 on 64 cases)"


def test_the_auc_null_sd_is_the_mann_whitney_null_variance() -> None:
    from mtdl_kit.lab.chance import auc_null_sd

    assert auc_null_sd(116, 140) == pytest.approx(math.sqrt(257 / (12 * 116 * 140)))
    assert auc_null_sd(3, 5) == auc_null_sd(5, 3)
    with pytest.raises(ValueError, match="needs cases of both classes"):
        auc_null_sd(0, 64)


def _counted(counts: tuple[int, ...], *, seed: int = 0, task: str = "label") -> list[tuple]:
    """A classification task's chance rows: its AUC and its test split's class counts."""
    rows = [(seed, task, "auc", 0.5, True, "the training class frequencies")]
    prior = "the training class frequencies"
    rows += [(seed, task, f"n_cases/{k}", float(c), False, prior) for k, c in enumerate(counts)]
    return rows


@settings(max_examples=40, deadline=None)
@given(st.integers(8, 2000), st.floats(0.05, 0.95))
def test_the_auc_margin_shrinks_with_the_test_set_and_ignores_which_class_is_positive(n: int, share: float) -> None:
    from mtdl_kit.lab.chance import AUC_MARGIN_Z, chance_margins

    def margin(counts: tuple[int, ...]) -> float:
        return chance_margins(pd.DataFrame(_counted(counts), columns=list(CHANCE_COLUMNS)))[(0, "label", "auc")]

    positive = round(share * n)
    if positive in (0, n):
        return
    assert margin((n - positive, positive)) == pytest.approx(margin((positive, n - positive)))
    assert margin((n - positive, positive)) == pytest.approx(
        AUC_MARGIN_Z * math.sqrt((n + 1) / (12 * positive * (n - positive)))
    )
    assert margin((4 * (n - positive), 4 * positive)) < margin((n - positive, positive))


@pytest.mark.parametrize("counts", [(85, 86, 85), (120, 60, 40, 20, 16), (20, 30, 14)])
def test_a_multi_class_auc_null_is_simulated_between_independent_and_identical_one_vs_rest_terms(counts) -> None:
    import numpy as np

    from mtdl_kit.lab.chance import auc_null_sd, auc_null_sd_classes
    from mtdl_kit.metrics import roc_auc

    n, k = sum(counts), len(counts)
    per_class = [auc_null_sd(c, n - c) for c in counts]
    sd = auc_null_sd_classes(counts)
    assert math.sqrt(sum(v**2 for v in per_class)) / k < sd < sum(per_class) / k
    assert auc_null_sd_classes(list(counts)) == sd  # fixed generator: the same number on every call
    # an independent simulation (another generator, uninformative scores of another scale) agrees within its noise
    rng = np.random.default_rng(12345)
    labels = np.repeat(np.arange(k), counts)
    values = []
    for _ in range(2000):
        scores = np.exp(3.0 * rng.standard_normal((n, k)))
        values.append(roc_auc(scores / scores.sum(axis=1, keepdims=True), labels))
    assert np.std(values, ddof=1) == pytest.approx(sd, rel=0.08)


def test_an_auc_margin_needs_every_class_and_the_class_counts() -> None:
    from mtdl_kit.lab.chance import auc_null_sd_classes, chance_margins

    with pytest.raises(ValueError, match="needs cases of every class"):
        auc_null_sd_classes((40, 0, 12))
    with pytest.raises(ValueError, match="needs cases of every class"):
        auc_null_sd_classes((40,))
    absent = chance_margins(pd.DataFrame(_counted((40, 0, 12)), columns=list(CHANCE_COLUMNS)))
    assert math.isnan(absent[(0, "label", "auc")])  # the runs' AUC is undefined there too
    old = pd.DataFrame(_counted((40, 12))[:1], columns=list(CHANCE_COLUMNS))  # written before the counts
    with pytest.raises(ValueError, match=r"no class counts .* compute it again with mtdl_kit\.lab\.chance"):
        chance_margins(old)


def test_the_margin_reads_the_test_splits_class_counts_from_the_chance_predictor() -> None:
    from mtdl_kit.lab.chance import AUC_MARGIN_Z, auc_null_sd, chance_margins

    cfg = QUICK_FAMILIES  # the eye: glaucoma is binary, the CDR a regression, the disc and cup a segmentation
    _, _, test = cfg.splits(cfg.region, cfg.task_names(), 0)
    positives = sum(int(case["glaucoma"]) for case in test)
    frame = chance_frame(cfg, cfg.region, cfg.task_names(), (0,))
    counts = frame[frame["metric"].str.startswith("n_cases/")].set_index("metric")["value"]
    assert counts.to_dict() == {"n_cases/0": len(test) - positives, "n_cases/1": positives}
    assert not frame[frame["metric"].str.startswith("n_cases/")]["primary"].any()
    margins = chance_margins(frame)
    expected = AUC_MARGIN_Z * auc_null_sd(positives, len(test) - positives)
    assert margins[(0, "glaucoma", "auc")] == pytest.approx(expected)
    assert margins[(0, "cdr", "mae")] == 0.0 and margins[(0, "disc_cup", "dice")] == 0.0
    # the predictor predicts the majority class for every case, so its accuracy is that class's share
    accuracy = frame[frame["metric"] == "accuracy"]["value"].iloc[0]
    assert accuracy == pytest.approx(max(positives, len(test) - positives) / len(test))


def test_an_auc_within_noise_of_chance_does_not_beat_it() -> None:
    rows = [row for s in (0, 1) for row in _counted((115, 141), seed=s)]
    chance = pd.DataFrame(rows, columns=list(CHANCE_COLUMNS))
    runs = pd.DataFrame(
        [
            ("single", 0, "label", "auc", 0.52),
            ("single", 1, "label", "auc", 0.45),
            ("parallel", 0, "label", "auc", 0.7),
            ("parallel", 1, "label", "auc", 0.9),
        ],
        columns=["arm", "seed", "task", "metric", "value"],
    )
    paired = runs_beating_chance(runs, chance).set_index(["arm", "seed"])
    assert paired["margin"].iloc[0] == pytest.approx(1.645 * math.sqrt(257 / (12 * 141 * 115)), abs=1e-9)
    assert paired["beats"].to_dict() == {
        ("single", 0): False,
        ("single", 1): False,
        ("parallel", 0): True,
        ("parallel", 1): True,
    }
    line = chance_reading(runs, chance)[1]
    assert line == (
        "label: runs that do not beat chance by more than 0.060 (1.645 null standard deviations of the AUC on these "
        "test cases) — single 2 of 2 (1 above it by less)."
    )
    assert "parallel" not in line


def test_the_chance_count_exercise_accepts_the_runs_beating_their_own_seeds_level_only(tmp_path) -> None:
    """The learner counts, per arm, the runs better than their own seed's image-blind level (lower MAE; an AUC by
    more than its margin): the complement, a missing arm and a count against another seed's level are refused."""
    from mtdl_kit.exercises import ExerciseError, check_runs_beating_chance

    chance = [(s, "size", "mae", level, True, "the training median") for s, level in ((0, 8.0), (1, 6.0))]
    chance += [row for s in (0, 1) for row in _counted((115, 141), seed=s)]
    pd.DataFrame(chance, columns=list(CHANCE_COLUMNS)).to_csv(tmp_path / "transfer_g_x_t_chance.csv", index=False)
    runs = [
        ("single@params", 0, "size", "mae", 7.0),  # beats 8.0
        ("single@params", 1, "size", "mae", 7.0),  # not 6.0: beats the other seed's level only
        ("cascaded@width", 0, "size", "mae", 2.5),
        ("cascaded@width", 1, "size", "mae", 3.0),
        ("single@params", 0, "label", "auc", 0.55),  # above 0.5 by less than its margin (0.060)
        ("single@params", 1, "label", "auc", 0.70),
        ("cascaded@width", 0, "label", "auc", 0.45),
        ("cascaded@width", 1, "label", "auc", 0.58),
    ]
    pd.DataFrame(runs, columns=["arm", "seed", "task", "metric", "value"]).to_csv(
        tmp_path / "transfer_g_x_t_runs.csv", index=False
    )

    def check(answer, task: str = "size") -> dict:
        return check_runs_beating_chance(answer, "x_t", task, root=tmp_path)

    assert check({"single@params": 1, "cascaded@width": 2}) == {"single@params": 1, "cascaded@width": 2}
    assert check({"single@params": 1, "cascaded@width": 1}, "label") == {"single@params": 1, "cascaded@width": 1}
    with pytest.raises(ExerciseError, match="the runs that do not beat chance"):
        check({"single@params": 1, "cascaded@width": 0})
    with pytest.raises(ExerciseError, match=r"chance level of its own seed.*lower is better"):
        check({"single@params": 2, "cascaded@width": 2})  # each run against the lowest level, not its own
    with pytest.raises(ExerciseError, match="by more than its margin"):
        check({"single@params": 2, "cascaded@width": 1}, "label")  # any AUC above 0.5 counted
    with pytest.raises(ExerciseError, match="are not the runs table's"):
        check({"cascaded@width": 2})
    with pytest.raises(ExerciseError, match="whole number"):
        check({"single@params": 1.0, "cascaded@width": 2})
    with pytest.raises(ValueError, match="no task 'diameter'"):
        check({}, "diameter")


def test_a_variant_table_gets_each_rows_chance_level_and_margin() -> None:
    from mtdl_kit.lab.chance import chance_margins, with_chance_columns

    cfg = QUICK_FAMILIES
    table = pd.DataFrame(
        [(1, "glaucoma", "auc", 0.7), (0, "glaucoma", "auc", 0.6), (0, "cdr", "mae", 0.1)],
        columns=["seed", "task", "metric", "variant"],
    )
    out = with_chance_columns(table, cfg, cfg.region, "variant")
    frame = chance_frame(cfg, cfg.region, cfg.task_names(), (0, 1))
    levels = frame.set_index(["seed", "task", "metric"])["value"]
    margins = chance_margins(frame)
    for r in out.itertuples():
        assert r.chance_variant == levels[(r.seed, r.task, r.metric)]
        assert r.margin_variant == margins[(r.seed, r.task, r.metric)]
    assert out["margin_variant"].tolist()[2] == 0.0 and out["margin_variant"].tolist()[0] > 0.1  # 64 test cases
    with pytest.raises(KeyError):
        with_chance_columns(table.assign(metric="rmse"), cfg, cfg.region, "variant")


def test_a_multi_class_auc_within_its_own_noise_of_chance_does_not_beat_it() -> None:
    from mtdl_kit.lab.chance import AUC_MARGIN_Z, auc_null_sd_classes

    chance = pd.DataFrame(_counted((85, 86, 85), task="grade"), columns=list(CHANCE_COLUMNS))
    runs = pd.DataFrame(
        [("single", 0, "grade", "auc", 0.52), ("parallel", 0, "grade", "auc", 0.6)],
        columns=["arm", "seed", "task", "metric", "value"],
    )
    margin = AUC_MARGIN_Z * auc_null_sd_classes((85, 86, 85))
    assert 0.52 - 0.5 < margin < 0.6 - 0.5 and margin < 1.645 * math.sqrt(257 / (12 * 128 * 128))
    assert runs_beating_chance(runs, chance).set_index("arm")["beats"].to_dict() == {"single": False, "parallel": True}
    assert chance_reading(runs, chance)[1] == (
        f"grade: runs that do not beat chance by more than {margin:.3f} (1.645 null standard deviations of the AUC on "
        "these test cases) — single 1 of 1 (1 above it by less)."
    )


def _results_chance_blocks(text: str) -> list[tuple[str, ...]]:
    """The bullet blocks under every "Chance (computed ...):" line of RESULTS.md."""
    lines, blocks = text.splitlines(), []
    for i, line in enumerate(lines):
        if line.startswith("Chance (computed from the runs and each seed's image-blind predictor):"):
            block, j = [], i + 2
            while j < len(lines) and lines[j].startswith("- "):
                block.append(lines[j])
                j += 1
            blocks.append(tuple(block))
    return blocks


def test_every_chance_reading_in_results_is_what_the_committed_csvs_give() -> None:
    """RESULTS.md's chance bullets follow the committed runs and chance tables (margins included): a bullet written
    before a change of :mod:`mtdl_kit.lab.chance` that the CSVs no longer give fails here."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "benchmarks"
    computed = set()
    for chance_csv in sorted((root / "results").glob("*_chance.csv")):
        runs_csv = chance_csv.with_name(chance_csv.name.replace("_chance.csv", "_runs.csv"))
        if not runs_csv.exists():
            continue  # the zoo's chance table has no runs table beside it
        group = "condition" if chance_csv.name.startswith("starved_") else "arm"
        reading = chance_reading(pd.read_csv(runs_csv), pd.read_csv(chance_csv), group=group)
        computed.add(tuple(f"- {line}" for line in reading))
    written = _results_chance_blocks((root / "RESULTS.md").read_text())
    assert len(written) >= 17
    stale = [block for block in written if block not in computed]
    assert not stale, f"chance bullets the committed CSVs do not give (rerun the bench's summary): {stale[:1]}"


def test_the_committed_guard_replays_are_what_results_says_and_the_margin_only_delays() -> None:
    """``transfer_g_<region>_<run>_guard.csv`` (``bench_families.py --replay-guard``): the stricter guard stops no
    network earlier than the plain one, a seed set trained with the guard replays itself unchanged, and the counts
    in RESULTS "families-lab-guard" are the CSVs'."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "benchmarks"
    text = (root / "RESULTS.md").read_text()
    section = text[text.index("<!-- BEGIN families-lab-guard -->") : text.index("<!-- END families-lab-guard -->")]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 10 and cells[3].isdigit():
            rows[(cells[0], cells[1])] = cells
    guards = sorted((root / "results").glob("transfer_g_*_guard.csv"))
    assert len(guards) == len(rows) >= 10
    for path in guards:
        region, run = re.fullmatch(r"transfer_g_([a-z]+)_(.+)_guard\.csv", path.name).groups()
        replay = pd.read_csv(path)
        cells = rows[(region, run)]
        assert int(cells[3]) == len(replay) and int(cells[4]) == int(replay["replay_matches"].sum())
        assert int(cells[5]) == int(replay["changed"].sum()) and int(cells[8]) == int(replay["changed_margin"].sum())
        if cells[2] == "yes":
            assert not replay["changed"].any(), path.name
        later = replay["guarded_margin"].fillna(float("inf")) >= replay["guarded"].fillna(float("inf"))
        assert later.all(), path.name
        assert (replay["changed_margin"] | ~replay["changed"]).all(), path.name


def test_the_copy_of_the_input_scores_the_mean_absolute_noise_through_the_one_evaluation_path() -> None:
    """The brain's denoising floor: the noisy input as the prediction, scored by ``evaluate`` exactly as the mean over
    cases of each case's mean absolute difference between input and clean image."""
    brain = get_region("brain")
    tasks = brain.select_tasks(["reconstruction"])
    data = PhantomDataset("brain", 6, split="test", size=32, tasks=["reconstruction"])
    level = copy_input_level(tasks, data, region=brain).metrics["reconstruction"]["mae"]
    by_hand = [(torch.as_tensor(c["image"]) - torch.as_tensor(c["reconstruction"])).abs().mean() for c in data]
    assert level == pytest.approx(float(torch.stack(by_hand).double().mean()), rel=1e-6)
    assert 0 < level < 0.5  # noise and a bias field: not zero, far below the image's range
    clean = [{**c, "image": c["reconstruction"]} for c in data]  # nothing to remove: the copy is exact
    assert copy_input_level(tasks, clean, region=brain).metrics["reconstruction"]["mae"] == 0.0


def test_a_copy_of_the_input_predicts_reconstruction_tasks_only() -> None:
    with pytest.raises(ValueError, match=r"reconstruction tasks only.*grade"):
        CopyInput(get_region("brain").select_tasks(["reconstruction", "grade"]))
    with pytest.raises(ValueError, match="at least one"):
        CopyInput([])


def test_the_copy_input_frame_scores_the_reconstruction_tasks_on_the_test_split_only() -> None:
    """One row per reconstruction task and metric, the level :func:`copy_input_level` gives on the protocol's test
    split, the same for every seed; a task list without a reconstruction gives an empty frame with the columns."""
    from mtdl_kit.lab.families import default_families_config

    cfg = default_families_config("brain", quick=True)
    frame = copy_input_frame(cfg, "brain", ["tumour", "reconstruction"])
    assert tuple(frame.columns) == COPY_INPUT_COLUMNS
    assert list(frame["task"]) == ["reconstruction"] and list(frame["metric"]) == ["mae"]
    brain = get_region("brain")
    test = cfg.splits("brain", ["reconstruction"], 0)[2]
    level = copy_input_level(brain.select_tasks(["reconstruction"]), test, region=brain).metrics["reconstruction"]
    assert frame["value"].iloc[0] == pytest.approx(level["mae"]) and frame["n_cases"].iloc[0] == len(test)
    assert copy_input_frame(cfg, "brain", ["tumour", "reconstruction"], seed=5).equals(frame)
    empty = copy_input_frame(cfg, "brain", ["tumour", "grade"])
    assert empty.empty and tuple(empty.columns) == COPY_INPUT_COLUMNS


def _copy_frame(level: float = 0.04) -> pd.DataFrame:
    return pd.DataFrame([("clean", "mae", level, 256)], columns=list(COPY_INPUT_COLUMNS))


def _recon_runs() -> pd.DataFrame:
    rows = [
        ("single", 0, "clean", "mae", 0.02),
        ("single", 1, "clean", "mae", 0.03),
        ("parallel", 0, "clean", "mae", 0.07),
        ("parallel", 1, "clean", "mae", 0.03),
        ("parallel", 0, "mask", "dice", 0.9),
    ]
    return pd.DataFrame(rows, columns=["arm", "seed", "task", "metric", "value"])


def test_reconstruction_runs_are_worse_than_the_copy_when_their_error_is_above_it() -> None:
    paired = runs_against_copy_input(_recon_runs(), _copy_frame())
    assert len(paired) == 4  # the dice row has no copy level
    worse = paired.set_index(["arm", "seed"])["worse"]
    assert worse.to_dict() == {
        ("single", 0): False,
        ("single", 1): False,
        ("parallel", 0): True,
        ("parallel", 1): False,
    }
    assert (paired["copy_input"] == 0.04).all()
    assert copy_input_reading(_recon_runs(), _copy_frame()) == [
        "clean (mae): the noisy input returned unchanged scores 0.0400 on the same 256 test cases. Runs worse than "
        "that, per arm: single 0 of 2 (median 0.0250); parallel 1 of 2 (median 0.0500)."
    ]
    at_floor = _recon_runs().assign(value=0.04)  # equal to the copy is not worse
    assert not runs_against_copy_input(at_floor, _copy_frame())["worse"].any()


def test_a_copy_input_frame_without_a_reconstruction_or_for_other_runs_is_refused() -> None:
    with pytest.raises(ValueError, match="no reconstruction task"):
        runs_against_copy_input(_recon_runs(), _copy_frame().iloc[0:0])
    with pytest.raises(ValueError, match="share no task and metric"):
        runs_against_copy_input(_recon_runs().assign(task="other"), _copy_frame())


def test_every_copy_input_reading_in_results_is_what_the_committed_csvs_give() -> None:
    """RESULTS.md's copy-input bullets follow the committed runs and copy-input tables, and every such table has its
    bullets there."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "benchmarks"
    text = (root / "RESULTS.md").read_text()
    tables = sorted((root / "results").glob("*_copyinput.csv"))
    assert tables, "no copy-input table: the brain's experiment-G seed sets have a reconstruction"
    for path in tables:
        runs = pd.read_csv(path.with_name(path.name.replace("_copyinput.csv", "_runs.csv")))
        block = "\n".join(f"- {line}" for line in copy_input_reading(runs, pd.read_csv(path)))
        assert block in text, f"{path.name}: RESULTS.md lacks its copy-input bullets (rerun the bench's summary)"
