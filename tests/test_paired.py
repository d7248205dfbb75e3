"""paired_contrast: differences and interactions of training arms on paired seeds, with a CI."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mtdl_kit.evaluation import Records, TaskRecords, paired_contrast
from mtdl_kit.regions.base import TaskSpec

CDR = TaskSpec("cdr", "regression", 1, "cup-to-disc ratio")
N = 40


def _records(errors: np.ndarray) -> Records:
    target = np.linspace(0.2, 0.8, N).reshape(N, 1)
    values = {"pred": target + errors.reshape(N, 1), "target": target}
    return Records(tuple(f"c{i}" for i in range(N)), {"cdr": TaskRecords(CDR, np.arange(N), values)})


def _arm(scale: float, seeds=(0, 1, 2, 3)) -> dict[int, Records]:
    return {s: _records(np.random.default_rng(100 + s).normal(0, scale, N)) for s in seeds}


def test_difference_in_metric_units_with_sign_for_lower_is_better() -> None:
    arms = {"good": _arm(0.01), "bad": _arm(0.05)}
    maes = {
        a: np.mean([np.abs(r["cdr"].values["pred"] - r["cdr"].values["target"]).mean() for r in arms[a].values()])
        for a in arms
    }
    est = paired_contrast(arms, {"good": 1, "bad": -1}, "cdr", n_boot=300)
    # MAE is lower-is-better: "good - bad" is reported as an improvement (positive)
    assert est.value == pytest.approx(maes["bad"] - maes["good"])
    assert est.ci_low <= est.value <= est.ci_high and est.significant and est.value > 0
    raw = paired_contrast(arms, {"good": 1, "bad": -1}, "cdr", n_boot=50, better_is_positive=False)
    assert raw.value == pytest.approx(-est.value)


def test_interaction_of_two_identical_differences_is_zero_with_an_interval_around_it() -> None:
    arms = {"a": _arm(0.01), "b": _arm(0.05), "c": _arm(0.01), "d": _arm(0.05)}
    est = paired_contrast(arms, {"a": 1, "b": -1, "c": -1, "d": 1}, "cdr", n_boot=200)
    assert est.value == pytest.approx(0.0, abs=1e-12)
    assert est.ci_low <= 0 <= est.ci_high and not est.significant


def test_refusals() -> None:
    arms = {"a": _arm(0.01), "b": _arm(0.02, seeds=(0, 1, 2))}
    with pytest.raises(ValueError, match="same seeds"):
        paired_contrast(arms, {"a": 1, "b": -1}, "cdr")
    with pytest.raises(ValueError, match="not in arms"):
        paired_contrast(arms, {"a": 1, "z": -1}, "cdr")
    with pytest.raises(ValueError, match="at least 2 seeds"):
        paired_contrast({"a": _arm(0.01, seeds=(0,)), "b": _arm(0.02, seeds=(0,))}, {"a": 1, "b": -1}, "cdr")
    with pytest.raises(ValueError, match="no metric"):
        paired_contrast({"a": _arm(0.01), "b": _arm(0.02)}, {"a": 1, "b": -1}, "cdr", "auc")


def test_seed_bootstrap_mean_is_the_mean_with_an_interval_inside_the_values() -> None:
    from mtdl_kit.evaluation import seed_bootstrap_mean

    values = [0.10, 0.05, -0.02, 0.12, 0.08, 0.03, 0.11, 0.07]
    est = seed_bootstrap_mean(values)
    assert est.value == pytest.approx(np.mean(values))
    assert min(values) < est.ci_low < est.value < est.ci_high < max(values)
    assert seed_bootstrap_mean(values, seed=0) == est  # a fixed generator: the same interval twice
    flat = seed_bootstrap_mean([0.2] * 5)
    assert flat == (pytest.approx(0.2), pytest.approx(0.2), pytest.approx(0.2))


@pytest.mark.parametrize("bad", [[0.1], [], [0.1, float("nan")], [0.1, float("inf")]])
def test_seed_bootstrap_mean_refuses_what_has_no_interval(bad: list[float]) -> None:
    from mtdl_kit.evaluation import seed_bootstrap_mean

    with pytest.raises(ValueError, match="seed_bootstrap_mean"):
        seed_bootstrap_mean(bad)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1, 1, allow_nan=False), min_size=2, max_size=12), st.floats(-5, 5))
def test_seed_bootstrap_mean_moves_with_a_shift(values: list[float], shift: float) -> None:
    """Adding a constant to every seed shifts the mean and both bounds by that constant."""
    from mtdl_kit.evaluation import seed_bootstrap_mean

    a = seed_bootstrap_mean(values, n_boot=300)
    b = seed_bootstrap_mean([v + shift for v in values], n_boot=300)
    assert np.allclose(np.array(b) - np.array(a), shift, atol=1e-9)
