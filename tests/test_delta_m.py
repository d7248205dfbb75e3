"""Δm (Maninis et al. CVPR 2019; Vandenhende et al. TPAMI 2021) and its paired hierarchical bootstrap."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader

from mtdl_kit.data import PhantomDataset
from mtdl_kit.evaluation import DeltaM, Records, TaskRecords, collect_predictions, delta_m
from mtdl_kit.regions.base import TaskSpec

SEG = TaskSpec("seg", "segmentation", 2, "toy")
REG = TaskSpec("reg", "regression", 1, "toy")
CLS = TaskSpec("cls", "classification", 2, "toy")


def _ids(n: int) -> tuple[str, ...]:
    return tuple(f"case{i}" for i in range(n))


def seg_records(dice: list[float] | np.ndarray, ids: tuple[str, ...] | None = None) -> Records:
    dice = np.asarray(dice, dtype=np.float64).reshape(-1, 1)
    n = dice.shape[0]
    values = {
        "dice": dice,
        "hd95_mm": 10.0 * (1.0 - dice),
        "pred_empty": np.zeros((n, 1), bool),
        "true_empty": np.zeros((n, 1), bool),
    }
    return Records(ids or _ids(n), {"seg": TaskRecords(SEG, np.arange(n), values)})


def reg_records(abs_err: list[float] | np.ndarray, ids: tuple[str, ...] | None = None) -> Records:
    err = np.asarray(abs_err, dtype=np.float64).reshape(-1, 1)
    n = err.shape[0]
    values = {"pred": err + 5.0, "target": np.full((n, 1), 5.0)}
    return Records(ids or _ids(n), {"reg": TaskRecords(REG, np.arange(n), values)})


def merge(*records: Records) -> Records:
    tasks = {}
    for r in records:
        tasks.update(r.tasks)
    return Records(records[0].case_ids, tasks)


# Hand example: two tasks, three seeds, four cases. Dice is higher-better, MAE lower-better.
#   seed 0: Dice 0.80 vs 0.75 -> +6.667 %;  MAE 2 vs 2.5 -> +20 %;  Δm_0 = +13.333 %
#   seed 1: Dice 0.90 vs 0.90 ->  0 %;      MAE 3 vs 2   -> -50 %;  Δm_1 = -25 %
#   seed 2: Dice 0.60 vs 0.80 -> -25 %;     MAE 1 vs 2   -> +50 %;  Δm_2 = +12.5 %
#   Δm = (13.333 - 25 + 12.5) / 3 = 0.2778 %; per task: seg -6.111 %, reg +6.667 %.
MTL_DICE = {0: [0.7, 0.9, 0.8, 0.8], 1: [0.9, 0.9, 0.9, 0.9], 2: [0.5, 0.7, 0.6, 0.6]}
STL_DICE = {0: [0.75, 0.75, 0.7, 0.8], 1: [0.8, 1.0, 0.9, 0.9], 2: [0.8, 0.8, 0.8, 0.8]}
MTL_ERR = {0: [1, 3, 2, 2], 1: [3, 3, 3, 3], 2: [0, 2, 1, 1]}
STL_ERR = {0: [2.5, 2.5, 2.5, 2.5], 1: [1, 3, 2, 2], 2: [2, 2, 2, 2]}


def hand_example() -> tuple[dict[int, Records], dict[str, dict[int, Records]]]:
    mtl = {s: merge(seg_records(MTL_DICE[s]), reg_records(MTL_ERR[s])) for s in range(3)}
    baselines = {
        "seg": {s: seg_records(STL_DICE[s]) for s in range(3)},
        "reg": {s: reg_records(STL_ERR[s]) for s in range(3)},
    }
    return mtl, baselines


def test_delta_m_matches_hand_computation():
    mtl, baselines = hand_example()
    d = delta_m(mtl, baselines, [SEG, REG], n_boot=200)
    assert d.per_seed[0] == pytest.approx((100 * 0.05 / 0.75 + 20.0) / 2)
    assert d.per_seed[1] == pytest.approx(-25.0)
    assert d.per_seed[2] == pytest.approx(12.5)
    assert d.value == pytest.approx((40 / 3 - 25.0 + 12.5) / 3)
    assert d.per_task["seg"].value == pytest.approx((100 * 0.05 / 0.75 + 0.0 - 25.0) / 3)
    assert d.per_task["reg"].value == pytest.approx(20 / 3)
    assert d.metric_values[("seg", "dice")] == pytest.approx(((0.8 + 0.9 + 0.6) / 3, (0.75 + 0.9 + 0.8) / 3))
    assert d.metric_values[("reg", "mae")] == pytest.approx((2.0, 13 / 6))
    assert d.n_seeds == 3 and d.n_cases == 4 and d.meets_seed_standard
    assert d.metrics == {"seg": ("dice",), "reg": ("mae",)}


def test_tasks_weigh_the_same_whatever_their_number_of_metrics():
    mtl, baselines = hand_example()
    # HD95 = 10 (1 - Dice) here, lower is better: seed 0: 2.0 vs 2.5 -> +20 %; seed 1: 1.0 vs 1.0 -> 0 %;
    # seed 2: 4.0 vs 2.0 -> -100 %. The seg task of seed 0 is the mean of its two metrics.
    d = delta_m(mtl, baselines, ["seg", "reg"], metrics={"seg": ["dice", "hd95_mm"]}, n_boot=0)
    seg0 = (100 * 0.05 / 0.75 + 20.0) / 2
    assert d.per_metric[("seg", "hd95_mm")].value == pytest.approx(np.mean([20.0, 0.0, -100.0]))
    assert d.per_seed[0] == pytest.approx((seg0 + 20.0) / 2)
    assert np.isnan(d.ci_low) and np.isnan(d.ci_high)  # n_boot = 0: no interval


@pytest.mark.parametrize(
    "mtl_err, stl_err, expected",
    [(1.0, 2.0, 50.0), (2.0, 1.0, -100.0), (2.0, 2.0, 0.0)],
    ids=["lower-is-better-improves", "lower-is-better-worsens", "equal"],
)
def test_sign_awareness_lower_is_better(mtl_err, stl_err, expected):
    mtl = {s: reg_records([mtl_err] * 5) for s in range(3)}
    base = {"reg": {s: reg_records([stl_err] * 5) for s in range(3)}}
    assert delta_m(mtl, base, [REG], n_boot=20).value == pytest.approx(expected)


@pytest.mark.parametrize(
    "mtl_dice, stl_dice, expected", [(0.9, 0.6, 50.0), (0.6, 0.9, -100 / 3)], ids=["improves", "worsens"]
)
def test_sign_awareness_higher_is_better(mtl_dice, stl_dice, expected):
    mtl = {s: seg_records([mtl_dice] * 5) for s in range(3)}
    base = {"seg": {s: seg_records([stl_dice] * 5) for s in range(3)}}
    assert delta_m(mtl, base, [SEG], n_boot=20).value == pytest.approx(expected)


# --------------------------------------------------------------------------------------------------
# refusals
# --------------------------------------------------------------------------------------------------


def test_refuses_without_baselines():
    mtl, baselines = hand_example()
    with pytest.raises(ValueError, match="No single-task baseline for task 'reg'"):
        delta_m(mtl, {"seg": baselines["seg"]}, [SEG, REG])
    with pytest.raises(ValueError, match=r"lacks training seeds \[2\]"):
        delta_m(mtl, {"seg": baselines["seg"], "reg": {0: baselines["reg"][0], 1: baselines["reg"][1]}}, [SEG, REG])
    with pytest.raises(ValueError, match="mtl is empty"):
        delta_m({}, baselines, [SEG, REG])
    with pytest.raises(ValueError, match="no task 'reg'"):  # the "baseline" is a model of another task
        delta_m(mtl, {"seg": baselines["seg"], "reg": baselines["seg"]}, [SEG, REG])


def test_refuses_two_seeds_unless_overridden():
    mtl, baselines = hand_example()
    two = {s: mtl[s] for s in (0, 1)}
    with pytest.raises(ValueError, match=r"at least 3 training seeds, got 2.*min_seeds=2"):
        delta_m(two, baselines, [SEG, REG])
    d = delta_m(two, baselines, [SEG, REG], min_seeds=2, n_boot=50)
    assert not d.meets_seed_standard and d.n_seeds == 2
    assert "below the 3-seed standard" in d.summary()
    with pytest.raises(ValueError, match="min_seeds must be a positive integer"):
        delta_m(mtl, baselines, [SEG, REG], min_seeds=0)


def test_refuses_mismatched_test_sets():
    mtl, baselines = hand_example()
    fewer = dict(baselines, reg={**baselines["reg"], 1: reg_records([1, 2, 3])})
    with pytest.raises(ValueError, match=r"baselines\['reg'\]\[1\] has 3 test cases instead of 4"):
        delta_m(mtl, fewer, [SEG, REG])
    shuffled = dict(baselines, seg={**baselines["seg"], 2: seg_records([0.8] * 4, ids=_ids(4)[::-1])})
    with pytest.raises(ValueError, match=r"same test cases in a different order.*shuffle=False"):
        delta_m(mtl, shuffled, [SEG, REG])
    other = {
        **mtl,
        1: merge(seg_records([0.8] * 4, ids=("a", "b", "c", "d")), reg_records([1] * 4, ("a", "b", "c", "d"))),
    }
    with pytest.raises(ValueError, match=r"mtl\[1\] has different test cases \(8 case ids differ\)"):
        delta_m(other, baselines, [SEG, REG])
    # same cases, but the baseline had labels on fewer of them
    values = {"pred": np.full((2, 1), 6.0), "target": np.full((2, 1), 5.0)}
    partial = Records(_ids(4), {"reg": TaskRecords(REG, [0, 2], values)})
    with pytest.raises(ValueError, match="labels on different cases"):
        delta_m(mtl, dict(baselines, reg={**baselines["reg"], 0: partial}), [SEG, REG])


def test_refuses_bad_metrics_and_undefined_values():
    mtl, baselines = hand_example()
    with pytest.raises(ValueError, match="does not apply to segmentation task 'seg'"):
        delta_m(mtl, baselines, [SEG, REG], metrics={"seg": "auc"})
    with pytest.raises(ValueError, match="is a count"):
        delta_m(mtl, baselines, [SEG, REG], metrics={"seg": "hd95_undefined"})
    with pytest.raises(ValueError, match="not in tasks"):
        delta_m(mtl, baselines, [SEG, REG], metrics={"cls": "auc"})
    with pytest.raises(ValueError, match=r"has no metric \['dice/cup'\]"):
        delta_m(mtl, baselines, [SEG, REG], metrics={"seg": "dice/cup"})
    zero = {s: reg_records([0.0] * 4) for s in range(3)}
    with pytest.raises(ValueError, match="baseline value for seed 0 is 0"):
        delta_m({s: reg_records([1.0] * 4) for s in range(3)}, {"reg": zero}, [REG])

    def one_class(p1: float) -> Records:
        values = {"probs": np.array([[1 - p1, p1]] * 4), "labels": np.ones(4, dtype=np.int64)}
        return Records(_ids(4), {"cls": TaskRecords(CLS, np.arange(4), values)})

    with pytest.raises(ValueError, match="undefined for seed 0 on the full test set"):
        delta_m({s: one_class(0.7) for s in range(3)}, {"cls": {s: one_class(0.6) for s in range(3)}}, [CLS])


# --------------------------------------------------------------------------------------------------
# bootstrap
# --------------------------------------------------------------------------------------------------


def noisy_example(n_cases: int, *, mtl_scale: float = 1.0, stl_scale: float = 1.2, data_seed: int = 0):
    """MTL and STL regressors with Gaussian errors of different spread, one test set, three seeds."""
    rng = np.random.default_rng(data_seed)
    mtl = {s: reg_records(np.abs(rng.normal(0, mtl_scale, n_cases))) for s in range(3)}
    stl = {s: reg_records(np.abs(rng.normal(0, stl_scale, n_cases))) for s in range(3)}
    return mtl, {"reg": stl}


def test_bootstrap_ci_contains_estimate_and_is_deterministic():
    mtl, base = noisy_example(200)
    a = delta_m(mtl, base, [REG], n_boot=300, seed=7)
    b = delta_m(mtl, base, [REG], n_boot=300, seed=7)
    c = delta_m(mtl, base, [REG], n_boot=300, seed=8)
    assert a.ci_low < a.value < a.ci_high
    assert (a.ci_low, a.ci_high) == (b.ci_low, b.ci_high)
    assert (a.ci_low, a.ci_high) != (c.ci_low, c.ci_high)
    assert a.per_task["reg"] == a.per_metric[("reg", "mae")]  # one metric: the same estimate
    assert a.value > 0 and a.n_boot_invalid == 0
    clear = delta_m(*noisy_example(200, stl_scale=2.0), [REG], n_boot=300)
    assert clear.significant and clear.ci_low > 0 and "; significant)" in clear.summary()


def test_bootstrap_ci_shrinks_with_more_cases():
    small = delta_m(*noisy_example(40), [REG], n_boot=300)
    large = delta_m(*noisy_example(640), [REG], n_boot=300)
    assert (large.ci_high - large.ci_low) < 0.5 * (small.ci_high - small.ci_low)


def test_summary_and_frame():
    mtl, base = noisy_example(100)
    d = delta_m(mtl, base, [REG], n_boot=100)
    assert isinstance(d, DeltaM)
    pattern = r"Δm = [+−]\d+\.\d % \(95 % CI [+−]?\d+\.\d to [+−]?\d+\.\d; 3 seeds × 100 cases; (not )?significant\)"
    assert re.fullmatch(pattern, d.summary()), d.summary()
    frame = d.to_frame()
    assert list(frame["level"]) == ["overall", "task", "metric"]
    assert frame.loc[0, "delta_pct"] == pytest.approx(d.value)
    row = frame.iloc[2]
    assert row["metric"] == "mae" and not row["higher_is_better"]
    assert row["mtl"] == pytest.approx(d.metric_values[("reg", "mae")][0])


@settings(max_examples=15, deadline=None)
@given(
    dice=st.lists(st.floats(0.0, 1.0), min_size=3, max_size=12),
    err=st.floats(0.0, 50.0),
    n_seeds=st.integers(3, 4),
    boot_seed=st.integers(0, 2**16),
)
def test_identical_models_give_zero_with_zero_width_ci(dice, err, n_seeds, boot_seed):
    n = len(dice)
    errors = np.linspace(0.0, err, n)
    records = {s: merge(seg_records(np.roll(dice, s)), reg_records(errors + s)) for s in range(n_seeds)}
    baselines = {"seg": records, "reg": records}
    d = delta_m(records, baselines, [SEG, REG], metrics={"seg": ["dice", "hd95_mm"]}, n_boot=30, seed=boot_seed)
    assert d.value == 0.0 and d.ci_low == 0.0 and d.ci_high == 0.0
    assert all(v == 0.0 for v in d.per_seed.values())
    assert not d.significant


def test_end_to_end_with_phantom_records():
    ds = PhantomDataset("eye", 6, size=64, split="test")
    spacing = ds.region.spacing_mm(ds.size)
    loader = DataLoader(ds, batch_size=6)

    def model(offset: float):
        def forward(x):
            g = x.mean(1, keepdim=True)
            m = x.mean((1, 2, 3))
            return {
                "disc_cup": torch.cat([0.5 - g, g - 0.3 - offset, g - 0.6], 1) * 10.0,
                "glaucoma": torch.stack([-m, m + offset], 1),
                "cdr": (0.5 + m + offset).unsqueeze(1),
            }

        return forward

    mtl = {s: collect_predictions(model(0.01 * s), loader, ds.tasks, spacing_mm=spacing) for s in range(3)}
    cdr = ds.region.task("cdr")
    base = {
        "cdr": {s: collect_predictions(model(0.05 + 0.01 * s), loader, [cdr], spacing_mm=spacing) for s in range(3)}
    }
    d = delta_m(mtl, base, [cdr], n_boot=50)
    assert d.n_cases == 6 and np.isfinite(d.value)
    with pytest.raises(ValueError, match="No single-task baseline for task 'disc_cup'"):
        delta_m(mtl, base, ds.tasks)


def test_estimates_unpack_as_value_and_interval():
    mtl, baselines = hand_example()
    d = delta_m(mtl, baselines, [SEG, REG], n_boot=50)
    for task, (value, lo, hi) in d.per_task.items():
        assert value == d.per_task[task].value and lo <= hi
