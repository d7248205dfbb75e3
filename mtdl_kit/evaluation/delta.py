"""Multi-task performance Δm against single-task baselines, with a paired hierarchical bootstrap CI.

:func:`delta_m` compares a multi-task model with single-task baselines over several training seeds:
the Δm of Maninis et al. (CVPR 2019) and Vandenhende et al. (TPAMI 2021), with a paired hierarchical
bootstrap CI over seeds and test cases.

Why the fuss: published Δm values are often computed against a baseline that is not a trained
single-task model (LibMTL's default is the multi-task model's own epoch-0 result), from one seed,
without an interval. :func:`delta_m` refuses to run without a single-task baseline for every task
and every seed, with fewer than three seeds, or on mismatched test sets.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from mtdl_kit.evaluation.records import Records, _task_metrics, compute_metrics
from mtdl_kit.metrics import (
    COUNT_KEYS,
    higher_is_better,
    kind_metrics,
    primary_metric,
)
from mtdl_kit.regions.base import TaskSpec

if TYPE_CHECKING:
    import pandas as pd


#: the fewest training seeds a Δm claim is made from (below it the result is marked).
MIN_SEEDS = 3


def _metric_values(records: Records, task: str, names: Sequence[str], indices: np.ndarray | None) -> np.ndarray:
    tr = records[task]
    got = _task_metrics(tr, records.rows(task, indices), {n.split("/", 1)[0] for n in names})
    return np.array([got[n] for n in names], dtype=np.float64)


# --------------------------------------------------------------------------------------------------
# Δm
# --------------------------------------------------------------------------------------------------


class Estimate(NamedTuple):
    """A value with its percentile-bootstrap confidence interval (unpacks as ``value, ci_low, ci_high``)."""

    value: float
    ci_low: float
    ci_high: float

    @property
    def significant(self) -> bool:
        """True when the CI excludes 0."""
        return bool(self.ci_low > 0 or self.ci_high < 0)


def _signed(x: float, digits: int = 1) -> str:
    if not np.isfinite(x):
        return "nan"
    s = f"{x:+.{digits}f}"
    if float(s) == 0:
        s = f"{0.0:.{digits}f}"
    return s.replace("-", "\u2212")


@dataclass(frozen=True)
class DeltaM:
    """Multi-task performance Δm (in %) with a paired hierarchical bootstrap CI; see :func:`delta_m`.

    Attributes:
        value: Δm averaged over training seeds, on the full test set (positive = MTL better).
        ci_low: lower end of the CI.
        ci_high: upper end of the CI.
        per_task: task -> its own Δ (mean over its metrics) with CI.
        per_metric: (task, metric) -> sign-adjusted relative difference in % with CI.
        metric_values: (task, metric) -> (MTL value, baseline value), means over seeds.
        per_seed: training seed -> Δm of that seed on the full test set.
        n_seeds: number of training seeds.
        n_cases: number of test cases.
        metrics: task -> the metrics used.
        n_boot: bootstrap replicates.
        n_boot_invalid: replicates where a metric was undefined (e.g. AUC of a single-class resample);
            left out of the CI.
        confidence: CI level.
        boot_seed: seed of the bootstrap generator.
        meets_seed_standard: False when fewer than 3 seeds were allowed through ``min_seeds``.
    """

    value: float
    ci_low: float
    ci_high: float
    per_task: dict[str, Estimate]
    per_metric: dict[tuple[str, str], Estimate]
    metric_values: dict[tuple[str, str], tuple[float, float]]
    per_seed: dict[int, float]
    n_seeds: int
    n_cases: int
    metrics: dict[str, tuple[str, ...]]
    n_boot: int
    n_boot_invalid: int
    confidence: float
    boot_seed: int
    meets_seed_standard: bool

    @property
    def significant(self) -> bool:
        """True when the CI of Δm excludes 0."""
        return bool(self.ci_low > 0 or self.ci_high < 0)

    def summary(self) -> str:
        """One line, e.g. ``Δm = +3.1 % (95 % CI −0.8 to +7.0; 3 seeds × 200 cases; not significant)``."""
        level = f"{100 * self.confidence:g}"
        seeds = f"{self.n_seeds} seed{'s' if self.n_seeds != 1 else ''}"
        verdict = "significant" if self.significant else "not significant"
        extra = "" if self.meets_seed_standard else f"; below the {MIN_SEEDS}-seed standard"
        return (
            f"\u0394m = {_signed(self.value)} % ({level} % CI {_signed(self.ci_low)} to {_signed(self.ci_high)}; "
            f"{seeds} \u00d7 {self.n_cases} cases; {verdict}{extra})"
        )

    def to_frame(self) -> pd.DataFrame:
        """Tidy table: one row for Δm, one per task, one per (task, metric), with MTL and baseline values."""
        import pandas as pd

        def row(level: str, task: str, metric: str, est: Estimate, hib: Any = np.nan, values: Any = None) -> dict:
            mtl_v, stl_v = values if values is not None else (np.nan, np.nan)
            return {
                "level": level,
                "task": task,
                "metric": metric,
                "higher_is_better": hib,
                "mtl": mtl_v,
                "baseline": stl_v,
                "delta_pct": est.value,
                "ci_low": est.ci_low,
                "ci_high": est.ci_high,
                "significant": est.significant,
            }

        rows = [row("overall", "", "", Estimate(self.value, self.ci_low, self.ci_high))]
        rows += [row("task", t, ", ".join(self.metrics[t]), est) for t, est in self.per_task.items()]
        rows += [
            row("metric", t, m, est, higher_is_better(m), self.metric_values[(t, m)])
            for (t, m), est in self.per_metric.items()
        ]
        frame = pd.DataFrame(rows)
        frame.attrs["n_seeds"] = self.n_seeds
        frame.attrs["n_cases"] = self.n_cases
        return frame


def relative_change(mtl_v: np.ndarray, stl_v: np.ndarray, sign: np.ndarray) -> np.ndarray:
    """(-1)^l (M_mtl - M_stl) / M_stl * 100, defined as exactly 0 where the two values are equal."""
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = sign * (mtl_v - stl_v) / stl_v * 100.0
    return np.where(mtl_v == stl_v, 0.0, rel)


def _check_test_sets(reference: Records, ref_name: str, other: Records, other_name: str) -> None:
    if other.case_ids == reference.case_ids:
        return
    if other.n_cases != reference.n_cases:
        problem = f"{other.n_cases} test cases instead of {reference.n_cases}"
    elif sorted(other.case_ids) == sorted(reference.case_ids):
        problem = "the same test cases in a different order"
    else:
        n_diff = len(set(other.case_ids) ^ set(reference.case_ids))
        problem = f"different test cases ({n_diff} case ids differ)"
    raise ValueError(
        f"{other_name} has {problem} compared with {ref_name}. Δm pairs cases, so every model must be evaluated "
        "on the same test set in the same order: use one test dataset, a DataLoader with shuffle=False and no random "
        "augmentation for every call of collect_predictions."
    )


def _resolve_metrics(
    tasks: Sequence[TaskSpec], metrics: Mapping[str, str | Sequence[str]] | None
) -> dict[str, tuple[str, ...]]:
    names = [t.name for t in tasks]
    if metrics is None:
        return {t.name: (primary_metric(t),) for t in tasks}
    unknown = sorted(set(metrics) - set(names))
    if unknown:
        raise ValueError(f"metrics names tasks {unknown} that are not in tasks {names}.")
    out = {}
    for t in tasks:
        chosen = metrics.get(t.name, (primary_metric(t),))
        chosen = (chosen,) if isinstance(chosen, str) else tuple(chosen)
        if not chosen:
            raise ValueError(
                f"metrics[{t.name!r}] is empty; give at least one metric or leave the task out of metrics."
            )
        for m in chosen:
            higher_is_better(m)  # raises for unknown names and counts
            if m.split("/", 1)[0] not in kind_metrics(t.kind):
                raise ValueError(
                    f"Metric {m!r} does not apply to {t.kind} task {t.name!r}; choose from {kind_metrics(t.kind)} "
                    "(optionally with '/<class or output>')."
                )
        if len(set(chosen)) != len(chosen):
            raise ValueError(f"metrics[{t.name!r}] lists a metric twice: {chosen}.")
        out[t.name] = chosen
    return out


def delta_m(
    mtl: Mapping[int, Records],
    baselines: Mapping[str, Mapping[int, Records]],
    tasks: Sequence[TaskSpec | str],
    *,
    metrics: Mapping[str, str | Sequence[str]] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    min_seeds: int = MIN_SEEDS,
    confidence: float = 0.95,
) -> DeltaM:
    r"""Multi-task performance Δm against single-task baselines, with a paired hierarchical bootstrap CI.

    .. math::

        \Delta_m = \frac{1}{T} \sum_{t=1}^{T} \frac{1}{|M_t|} \sum_{m \in M_t}
                   (-1)^{l_m} \frac{M_{mtl,m} - M_{stl,m}}{M_{stl,m}} \times 100\,\%

    with :math:`l_m = 1` when lower is better (Maninis et al., "Attentive single-tasking of multiple
    tasks", CVPR 2019; Vandenhende et al., "Multi-task learning for dense prediction tasks: a
    survey", TPAMI 44(7), 2021). Positive = the multi-task model is better. Each task weighs the
    same whatever its number of metrics. Where the two values are equal the term is 0 (also when
    both are 0).

    **Baselines.** ``baselines[task][seed]`` must be a *single-task* model for that task, trained
    with the same budget (epochs, data, augmentation, model size per task, tuning effort) and the
    same training seed as the multi-task model ``mtl[seed]``. A weaker or untrained baseline (such as
    the multi-task model's own epoch-0 result, LibMTL's default) inflates Δm. Seeds are paired:
    Δm of seed s compares ``mtl[s]`` with ``baselines[t][s]``.

    **Point estimate.** Δm per seed on the full test set, averaged over seeds (``per_seed`` holds
    the individual values).

    **CI.** Paired hierarchical bootstrap: each replicate resamples training seeds with replacement
    and test cases with replacement. The test cases are crossed with the seeds (every model sees the
    same test set), so one case resample per replicate is shared by all seeds and by the multi-task
    model and its baselines (paired); metrics are recomputed on the resample, Δm is averaged over the
    resampled seeds, and the CI is the percentile interval of the replicates (Efron & Tibshirani, An
    Introduction to the Bootstrap, 1993). With 3 seeds the seed level has only 10 distinct resamples,
    so report ``per_seed`` too.

    Args:
        mtl: training seed -> records of the multi-task model (:func:`collect_predictions`).
        baselines: task name -> training seed -> records of that task's single-task model.
        tasks: the tasks in Δm (specs or names).
        metrics: task name -> metric name or names (see :data:`~mtdl_kit.metrics.METRICS`; suffixes
            such as ``"dice/cup"`` allowed); tasks not listed use :func:`~mtdl_kit.metrics.primary_metric`.
        n_boot: bootstrap replicates (0 skips the CI: it is then NaN).
        seed: seed of the bootstrap's random generator (fixed seed = same CI).
        min_seeds: minimum number of training seeds; below 3 is allowed for demos and tests only and
            marks the result ``meets_seed_standard=False``.
        confidence: CI level in (0, 1).

    Returns:
        :class:`DeltaM`.

    Raises:
        ValueError: when a baseline is missing for a task or seed, fewer than ``min_seeds`` seeds are
            given, records were computed on different test sets or lack a task, a metric does not
            apply, or a metric is undefined or its baseline value is 0 on the full test set.
    """
    if isinstance(min_seeds, bool) or not isinstance(min_seeds, int) or min_seeds < 1:
        raise ValueError(f"min_seeds must be a positive integer, got {min_seeds!r}.")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 0:
        raise ValueError(f"n_boot must be a non-negative integer, got {n_boot!r}.")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}.")
    if not tasks:
        raise ValueError("delta_m needs at least one task.")
    if not mtl:
        raise ValueError("mtl is empty: pass {training seed: collect_predictions(mtl_model, test_loader, tasks)}.")
    seeds = sorted(mtl)
    if len(seeds) < min_seeds:
        raise ValueError(
            f"Δm needs results from at least {min_seeds} training seeds, got {len(seeds)} ({seeds}). Train the "
            f"multi-task model and every single-task baseline with {MIN_SEEDS} or more seeds; for a quick demo pass "
            f"min_seeds={len(seeds)} (the result is then marked as below the {MIN_SEEDS}-seed standard)."
        )
    first = mtl[seeds[0]]
    specs = [first[t].task for t in tasks]  # raises if the multi-task records lack a task
    for given, spec in zip(tasks, specs, strict=True):
        if isinstance(given, TaskSpec) and (given.kind, given.num_outputs) != (spec.kind, spec.num_outputs):
            raise ValueError(
                f"Task {given.name!r} is {given.kind} with {given.num_outputs} outputs in tasks but "
                f"{spec.kind} with {spec.num_outputs} in the records."
            )
    names = [t.name for t in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"tasks lists a task twice: {names}.")

    # --- every baseline present, every record on the same test set --------------------------------
    for name in names:
        if name not in baselines:
            raise ValueError(
                f"No single-task baseline for task {name!r}. Train a single-task model for {name!r} with the same "
                f"budget and seeds {seeds} as the multi-task model and pass baselines[{name!r}] = "
                "{seed: collect_predictions(stl_model, test_loader, [task])}. Δm without a trained single-task "
                "baseline is not meaningful."
            )
        missing = [s for s in seeds if s not in baselines[name]]
        if missing:
            raise ValueError(
                f"The single-task baseline for task {name!r} lacks training seeds {missing} (it has "
                f"{sorted(baselines[name])}; the multi-task model has {seeds}). Train the baseline with the same seeds."
            )
    for s in seeds:
        _check_test_sets(first, f"mtl[{seeds[0]}]", mtl[s], f"mtl[{s}]")
        for name in names:
            _check_test_sets(first, f"mtl[{seeds[0]}]", baselines[name][s], f"baselines[{name!r}][{s}]")
            m_tr, b_tr = mtl[s][name], baselines[name][s][name]
            if m_tr.task.kind != b_tr.task.kind or m_tr.task.num_outputs != b_tr.task.num_outputs:
                raise ValueError(
                    f"Task {name!r} differs between mtl[{s}] and its baseline: {m_tr.task} vs {b_tr.task}."
                )
            if not np.array_equal(m_tr.cases, b_tr.cases):
                raise ValueError(
                    f"Task {name!r}: mtl[{s}] and baselines[{name!r}][{s}] have labels on different cases "
                    f"({len(m_tr)} vs {len(b_tr)}); evaluate both with the same test loader and label masks."
                )
    chosen = _resolve_metrics(specs, metrics)
    for name in names:
        available = compute_metrics(name, first)
        absent = [m for m in chosen[name] if m not in available]
        if absent:
            raise ValueError(
                f"Task {name!r} has no metric {absent}; available: "
                f"{sorted(k for k in available if k not in COUNT_KEYS)}."
            )

    flat = [(t, m) for t in names for m in chosen[t]]
    sign = np.array([1.0 if higher_is_better(m) else -1.0 for _, m in flat])
    task_of = np.array([names.index(t) for t, _ in flat])
    n_metrics = np.bincount(task_of, minlength=len(names)).astype(np.float64)

    def per_seed_relative(s: int, indices: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        m_vals = np.concatenate([_metric_values(mtl[s], t, chosen[t], indices) for t in names])
        b_vals = np.concatenate([_metric_values(baselines[t][s], t, chosen[t], indices) for t in names])
        return relative_change(m_vals, b_vals, sign), m_vals, b_vals

    def task_means(rel: np.ndarray) -> np.ndarray:
        return np.bincount(task_of, weights=rel, minlength=len(names)) / n_metrics

    # --- point estimate ---------------------------------------------------------------------------
    rel_seed = np.empty((len(seeds), len(flat)))
    m_seed = np.empty_like(rel_seed)
    b_seed = np.empty_like(rel_seed)
    for i, s in enumerate(seeds):
        rel_seed[i], m_seed[i], b_seed[i] = per_seed_relative(s, None)
        for j, (t, m) in enumerate(flat):
            if not np.isfinite(m_seed[i, j]) or not np.isfinite(b_seed[i, j]):
                raise ValueError(
                    f"Metric {m!r} of task {t!r} is undefined for seed {s} on the full test set (MTL {m_seed[i, j]}, "
                    f"baseline {b_seed[i, j]}), e.g. an AUC with one class only; choose another metric or a test set "
                    "with every class."
                )
            if not np.isfinite(rel_seed[i, j]):
                raise ValueError(
                    f"Metric {m!r} of task {t!r}: the baseline value for seed {s} is 0, so the relative change is "
                    "undefined; choose a metric whose baseline value is not 0."
                )
    task_seed = np.stack([task_means(r) for r in rel_seed])
    dm_seed = task_seed.mean(1)
    value = float(dm_seed.mean())

    # --- paired hierarchical bootstrap ------------------------------------------------------------
    rng = np.random.default_rng(seed)
    n_cases = first.n_cases
    boot_all = np.full(n_boot, np.nan)
    boot_task = np.full((n_boot, len(names)), np.nan)
    boot_metric = np.full((n_boot, len(flat)), np.nan)
    for b in range(n_boot):
        seed_draw = rng.integers(len(seeds), size=len(seeds))
        case_draw = rng.integers(n_cases, size=n_cases)
        picked, counts = np.unique(seed_draw, return_counts=True)
        rel = np.stack([per_seed_relative(seeds[i], case_draw)[0] for i in picked])
        weights = counts / counts.sum()
        metric_mean = weights @ rel  # NaN propagates: an undefined metric invalidates the replicate
        boot_metric[b] = metric_mean
        boot_task[b] = task_means(metric_mean)
        boot_all[b] = boot_task[b].mean()
    invalid = int((~np.isfinite(boot_all)).sum())
    if n_boot and invalid:
        warnings.warn(
            f"delta_m: {invalid} of {n_boot} bootstrap replicates had an undefined metric (e.g. a single-class "
            "resample for AUC) and were left out of the CI.",
            RuntimeWarning,
            stacklevel=2,
        )
    alpha = 100.0 * (1.0 - confidence) / 2.0

    def ci(samples: np.ndarray) -> tuple[float, float]:
        finite = samples[np.isfinite(samples)]
        if finite.size == 0:
            return float("nan"), float("nan")
        lo, hi = np.percentile(finite, [alpha, 100.0 - alpha])
        return float(lo), float(hi)

    lo, hi = ci(boot_all)
    per_task = {}
    for k, t in enumerate(names):
        t_lo, t_hi = ci(boot_task[:, k])
        per_task[t] = Estimate(float(task_seed[:, k].mean()), t_lo, t_hi)
    per_metric, metric_values = {}, {}
    for j, key in enumerate(flat):
        m_lo, m_hi = ci(boot_metric[:, j])
        per_metric[key] = Estimate(float(rel_seed[:, j].mean()), m_lo, m_hi)
        metric_values[key] = (float(m_seed[:, j].mean()), float(b_seed[:, j].mean()))
    return DeltaM(
        value=value,
        ci_low=lo,
        ci_high=hi,
        per_task=per_task,
        per_metric=per_metric,
        metric_values=metric_values,
        per_seed={int(s): float(d) for s, d in zip(seeds, dm_seed, strict=True)},
        n_seeds=len(seeds),
        n_cases=n_cases,
        metrics=chosen,
        n_boot=n_boot,
        n_boot_invalid=invalid,
        confidence=confidence,
        boot_seed=seed,
        meets_seed_standard=len(seeds) >= MIN_SEEDS,
    )
