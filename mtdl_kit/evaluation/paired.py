"""Paired comparisons of training arms: per-task differences and interactions with a hierarchical CI.

An *arm* is one way of training (e.g. "glaucoma alone", "glaucoma + disc/cup segmentation",
"glaucoma + shuffled masks"), run once per training seed; a seed fixes the training subset and the
initial weights of what the arms share, and every arm is scored on the same test cases. The unit of
analysis is then the per-seed difference. :func:`paired_contrast` estimates any linear contrast of
arms in a metric's own units — a difference (``{"a": 1, "b": -1}``) or an interaction such as
(related − none) − (shuffled − none) — with a percentile CI from a paired hierarchical bootstrap:
seeds are resampled, and one resample of the test cases is shared by every arm and seed, so both
sources of variation enter the interval (Efron & Tibshirani, "An Introduction to the Bootstrap",
1993, ch. 13; the same scheme as :func:`~mtdl_kit.evaluation.delta_m`).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np

from mtdl_kit.evaluation.delta import Estimate
from mtdl_kit.evaluation.records import Records, _task_metrics
from mtdl_kit.metrics import higher_is_better, primary_metric


def _value(records: Records, task: str, metric: str, indices: np.ndarray | None) -> float:
    got = _task_metrics(records[task], records.rows(task, indices), {metric.split("/", 1)[0]})
    if metric not in got:
        raise ValueError(f"Task {task!r} has no metric {metric!r}; it has {sorted(got)}.")
    return float(got[metric])


def paired_contrast(
    arms: Mapping[str, Mapping[int, Records]],
    weights: Mapping[str, float],
    task: str,
    metric: str | None = None,
    *,
    n_boot: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    better_is_positive: bool = True,
) -> Estimate:
    """A linear contrast of arms on one task's metric, averaged over paired seeds, with a bootstrap CI.

    Args:
        arms: arm name -> training seed -> records of that arm's model on the shared test set.
        weights: arm name -> coefficient; e.g. ``{"related": 1, "none": -1}`` for a difference or
            ``{"related": 1, "none": -1, "shuffled": -1, "none2": 1}`` style sums for interactions.
            Only the named arms are used; every one of them needs every seed of the others.
        task: the task whose metric is compared.
        metric: the metric (default: the task's primary metric).
        n_boot: bootstrap replicates.
        confidence: CI level.
        seed: bootstrap random seed.
        better_is_positive: flip the sign of lower-is-better metrics (MAE, HD95) so that a positive
            contrast always means "the positively weighted arms are better".

    Returns:
        :class:`~mtdl_kit.evaluation.Estimate` (value, ci_low, ci_high) in the metric's units.

    Raises:
        ValueError: unknown arms, seeds that differ between arms, fewer than two seeds, test sets
            that differ, or an unknown metric.
    """
    names = [a for a in weights if weights[a] != 0]
    unknown = [a for a in names if a not in arms]
    if unknown or not names:
        raise ValueError(f"weights name arms {unknown or list(weights)} that are not in arms {sorted(arms)}.")
    seeds = sorted(arms[names[0]])
    for a in names:
        if sorted(arms[a]) != seeds:
            raise ValueError(
                f"Arm {a!r} has seeds {sorted(arms[a])}, arm {names[0]!r} has {seeds}: a paired contrast needs "
                "every arm trained on the same seeds."
            )
    if len(seeds) < 2:
        raise ValueError(f"A paired contrast needs at least 2 seeds for an interval, got {seeds}.")
    first = arms[names[0]][seeds[0]]
    for a in names:
        for s in seeds:
            if arms[a][s].case_ids != first.case_ids:
                raise ValueError(f"Arm {a!r}, seed {s} was scored on other test cases than arm {names[0]!r}.")
    spec = first[task].task
    metric = metric or primary_metric(spec)
    sign = 1.0 if (higher_is_better(metric) or not better_is_positive) else -1.0
    coef = np.array([float(weights[a]) for a in names])

    def contrast(seed_idx: np.ndarray, cases: np.ndarray | None) -> float:
        per_seed = [
            sum(c * _value(arms[a][seeds[i]], task, metric, cases) for c, a in zip(coef, names, strict=True))
            for i in seed_idx
        ]
        return sign * float(np.mean(per_seed))

    value = contrast(np.arange(len(seeds)), None)
    rng = np.random.default_rng(seed)
    boots = np.empty(n_boot)
    for b in range(n_boot):
        boots[b] = contrast(rng.integers(len(seeds), size=len(seeds)), rng.integers(first.n_cases, size=first.n_cases))
    finite = boots[np.isfinite(boots)]
    if finite.size < n_boot:
        warnings.warn(
            f"paired_contrast: {n_boot - finite.size} of {n_boot} bootstrap replicates had an undefined "
            f"{metric} (e.g. a single-class resample for AUC) and were left out of the CI.",
            RuntimeWarning,
            stacklevel=2,
        )
    if finite.size == 0:
        return Estimate(value, float("nan"), float("nan"))
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(finite, [alpha, 1.0 - alpha])
    return Estimate(value, float(low), float(high))


def seed_bootstrap_mean(
    per_seed: Sequence[float], *, n_boot: int = 4000, confidence: float = 0.95, seed: int = 0
) -> Estimate:
    """The mean of per-seed values (e.g. paired differences of two arms) with a percentile CI over seeds only.

    Coarser than :func:`paired_contrast`: the test cases stay fixed, so the interval carries the seeds'
    variation but not the test set's, and with few seeds a percentile interval is a little too narrow
    (Efron & Tibshirani 1993, ch. 13). It is for contrasts whose per-case records are no longer at hand — a
    committed runs CSV holds each network's metric, not its records — and should be read beside a
    :func:`paired_contrast` of the same seeds where one exists, to see how much narrower it comes out.

    Args:
        per_seed: one value per training seed.
        n_boot: bootstrap replicates.
        confidence: CI level.
        seed: bootstrap random seed.

    Returns:
        :class:`~mtdl_kit.evaluation.Estimate` (mean, ci_low, ci_high).

    Raises:
        ValueError: fewer than two values, or a value that is not finite.
    """
    values = np.asarray(per_seed, dtype=float)
    if values.ndim != 1 or values.size < 2:
        raise ValueError(f"seed_bootstrap_mean needs at least 2 per-seed values for an interval, got {values.size}.")
    if not np.isfinite(values).all():
        raise ValueError(f"seed_bootstrap_mean got a value that is not finite: {values.tolist()}.")
    rng = np.random.default_rng(seed)
    boots = values[rng.integers(values.size, size=(n_boot, values.size))].mean(axis=1)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(boots, [alpha, 1.0 - alpha])
    return Estimate(float(values.mean()), float(low), float(high))
