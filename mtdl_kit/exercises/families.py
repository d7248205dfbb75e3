"""Exercise checks on the four families (Zhao et al., Comput Biol Med 2023): Δm (Maninis et al., CVPR
2019), the shared-parameter fraction, which family is best on a table, Δm from a quick run."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from mtdl_kit.exercises.base import _fail, _ok


def reference_delta_m(mtl: Mapping[str, float], baseline: Mapping[str, float]) -> float:
    """Δm in % with one metric per task: mean over tasks of ``(-1)^l (M_mtl - M_stl) / M_stl × 100``.

    ``l = 1`` when lower is better (:func:`mtdl_kit.metrics.higher_is_better`); the same per-metric
    formula as :func:`mtdl_kit.metrics.delta_m` (Maninis et al. 2019; Vandenhende et al. 2021).
    """
    from mtdl_kit.evaluation import relative_change
    from mtdl_kit.metrics import higher_is_better

    names = list(mtl)
    m = np.array([mtl[n] for n in names], dtype=float)
    b = np.array([baseline[n] for n in names], dtype=float)
    sign = np.array([1.0 if higher_is_better(n) else -1.0 for n in names])
    return float(np.mean(relative_change(m, b, sign)))


#: the hand example of :func:`check_delta_m`: metric name -> (multi-task value, single-task value)
DELTA_M_EXAMPLES: tuple[tuple[dict[str, float], dict[str, float]], ...] = (
    ({"dice": 0.84, "auc": 0.90, "mae": 0.050}, {"dice": 0.80, "auc": 0.92, "mae": 0.040}),
    ({"dice": 0.70, "auc": 0.75}, {"dice": 0.70, "auc": 0.60}),
    ({"hd95_mm": 3.0, "accuracy": 0.81}, {"hd95_mm": 4.0, "accuracy": 0.90}),
)


def check_delta_m(fn: Callable[[Mapping[str, float], Mapping[str, float]], float]) -> None:
    """Check a learner's ``fn(mtl, baseline) -> Δm in %`` (dicts metric name -> value, one per task).

    Raises:
        ExerciseError: with the example, both values and a hint.
    """
    from mtdl_kit.metrics import higher_is_better

    for mtl, base in DELTA_M_EXAMPLES:
        want = reference_delta_m(mtl, base)
        got = float(fn(dict(mtl), dict(base)))
        if not np.isclose(got, want, atol=1e-6):
            lower = [n for n in mtl if not higher_is_better(n)]
            if np.isclose(got, want / 100, atol=1e-6):
                hint = "Δm is a percentage: multiply the relative differences by 100."
            elif lower:
                hint = (
                    f"for metrics where lower is better ({', '.join(lower)}) flip the sign, so a smaller error "
                    "counts as an improvement; use mtdl_kit.metrics.higher_is_better(name)."
                )
            else:
                hint = "divide each difference by the single-task value (the baseline), then average over tasks."
            raise _fail(f"For mtl={mtl}, baseline={base} you return {got:.3f} %, the reference is {want:.3f} %.", hint)
    _ok(f"Your Δm matches the reference on {len(DELTA_M_EXAMPLES)} hand examples.")


def check_family_parameter_share(
    answer: Mapping[str, float], *, region: str = "eye", width: int | None = None, tolerance: float = 0.01
) -> None:
    """Check the learner's fraction of *shared* parameters for each family (``{family: fraction}``).

    The reference is ``parameter_count()["shared"] / parameter_count()["total"]`` of
    ``build_model(family, region.tasks, region.in_channels)`` (at ``width`` if given).

    Raises:
        ExerciseError: naming the first family that differs, with a hint.
    """
    from mtdl_kit.models import MULTI_TASK_FAMILIES, build_model
    from mtdl_kit.regions import get_region

    reg = get_region(region)
    if not isinstance(answer, Mapping) or not answer:
        raise _fail(
            "answer must be a dict {family: fraction of shared parameters}.",
            f"families: {MULTI_TASK_FAMILIES}",
        )
    options = {} if width is None else {"width": width}
    for family, value in answer.items():
        if family not in MULTI_TASK_FAMILIES:
            raise _fail(f"Unknown family {family!r}.", f"choose from {MULTI_TASK_FAMILIES}.")
        counts = build_model(family, reg.tasks, reg.in_channels, **options).parameter_count()
        want = counts["shared"] / counts["total"]
        if not np.isclose(float(value), want, atol=tolerance):
            hint = (
                "use model.parameter_count(): the share is counts['shared'] / counts['total'] (a fraction in [0, 1])."
            )
            if float(value) > 1:
                hint = "give a fraction in [0, 1], not a percentage."
            raise _fail(
                f"{family}: you say {float(value):.3f}, the model has {want:.3f} of its parameters shared.",
                hint,
            )
    missing = [f for f in MULTI_TASK_FAMILIES if f not in answer]
    extra = f" (not answered: {', '.join(missing)})" if missing else ""
    _ok(f"Shared-parameter fractions are right for {', '.join(answer)}{extra}.")


def check_best_family(prediction: str | None, results: Any) -> bool:
    """Compare a predicted winning family with the benchmark's ``families`` table of one region.

    Prints the verdict and whether the winner's 95 % CI overlaps the runner-up's (a wrong guess is
    not an error: it is a prompt to look again).

    Args:
        prediction: the learner's family.
        results: ``load_results("families", region=...)`` (one row per family: ``family``,
            ``delta_m``, ``ci_low``, ``ci_high``).

    Returns:
        True when the prediction is the family with the highest Δm.

    Raises:
        ValueError: ``results`` is not one region's families table.
        ExerciseError: ``prediction`` is not one of the families in the table.
    """
    needed = ("family", "delta_m", "ci_low", "ci_high")
    if not hasattr(results, "columns") or any(c not in results.columns for c in needed) or len(results) == 0:
        raise ValueError(f"results must be load_results('families', region=...) with the columns {needed}.")
    if "region" in results.columns and results["region"].nunique() > 1:
        raise ValueError("results holds several regions; filter it: load_results('families', region=...).")
    ranked = results.sort_values("delta_m", ascending=False).reset_index(drop=True)
    options = list(ranked["family"])
    if prediction not in options:
        raise _fail(f"Your prediction {prediction!r} is not one of the families.", f"set it to one of {options}.")
    best = ranked.iloc[0]
    matched = prediction == best["family"]
    if matched:
        _ok(f"Your prediction {prediction!r} has the highest Δm here ({best['delta_m']:+.1f} %).")
    else:
        mine = ranked[ranked["family"] == prediction].iloc[0]
        print(
            f"\U0001f914 You predicted {prediction!r} (Δm {mine['delta_m']:+.1f} %); "
            f"{best['family']!r} has the highest Δm ({best['delta_m']:+.1f} %). Worth a second look."
        )
    if len(ranked) > 1:
        second = ranked.iloc[1]
        if best["ci_low"] <= second["ci_high"]:
            print(
                f"The 95 % intervals of {best['family']} [{best['ci_low']:+.1f}, {best['ci_high']:+.1f}] and "
                f"{second['family']} [{second['ci_low']:+.1f}, {second['ci_high']:+.1f}] overlap: the ranking "
                "of the top two is not settled by these seeds."
            )
        else:
            print(f"{best['family']}'s interval lies above {second['family']}'s: a clear winner on this benchmark.")
    return bool(matched)


def check_quick_delta_m(answer: Mapping[str, float], frame: Any, *, tolerance: float = 1e-6) -> None:
    """Check the learner's one-seed Δm per model against :func:`mtdl_kit.inference.quick_delta_m`.

    Args:
        answer: model name -> Δm in % (every multi-task model of ``frame``).
        frame: the output of :func:`mtdl_kit.inference.evaluate_models` (with single-task baselines).
        tolerance: absolute tolerance in percentage points.

    Raises:
        ExerciseError: a missing model or a value that differs, with a hint.
    """
    from mtdl_kit.inference import quick_delta_m

    want = quick_delta_m(frame)
    if not isinstance(answer, Mapping) or not answer:
        raise _fail("answer must be a dict {model name: Δm in %}.", f"the models are {list(want.index)}.")
    missing = [m for m in want.index if m not in answer]
    if missing:
        raise _fail(f"No Δm for {missing}.", f"give one value per multi-task model: {list(want.index)}.")
    for model, value in want.items():
        got = float(answer[model])
        if np.isfinite(value) and not np.isclose(got, value, atol=tolerance):
            if np.isclose(got, value / 100, atol=tolerance):
                hint = "Δm is a percentage: multiply the relative differences by 100."
            else:
                hint = (
                    "for each task divide (model - baseline) by the baseline, flip the sign where lower is "
                    "better (metrics.higher_is_better), average over the tasks, × 100; skip NaN terms."
                )
            raise _fail(f"{model}: you have {got:.3f} %, the reference is {value:.3f} %.", hint)
    _ok(f"Your Δm matches for {', '.join(want.index)}.")
