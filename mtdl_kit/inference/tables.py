"""Scoring models on the same phantom test cases and reshaping the scores: :func:`evaluate_models`,
:func:`metrics_table`, :func:`relative_to_single`, :func:`quick_delta_m`, :func:`delta_m_summary` and
:func:`mask_measurements` (:mod:`mtdl_kit.inference`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from mtdl_kit.metrics import COUNT_KEYS, higher_is_better, primary_metric
from mtdl_kit.regions.base import Region

if TYPE_CHECKING:
    import pandas as pd

from mtdl_kit.inference.checks import as_region, check_model_for_region, model_tasks
from mtdl_kit.inference.predict import predict_sample

#: Columns of the frame returned by :func:`evaluate_models`.
FRAME_COLUMNS: tuple[str, ...] = ("model", "family", "task", "metric", "value", "primary", "higher_is_better")
#: Label of the combined single-task baseline in :func:`tradeoff_figure` and :func:`metrics_table`.
SINGLE_LABEL = "single-task baselines"


def evaluate_models(
    models: Mapping[str, torch.nn.Module],
    region: str | Region,
    *,
    n_cases: int = 32,
    size: int = 64,
    seed: int = 0,
    batch_size: int = 16,
    relatedness: float = 1.0,
    nuisance: str | None = None,
) -> pd.DataFrame:
    """Score several models on the same phantom test cases; one row per model, task and metric.

    The cases are ``PhantomDataset(region, n_cases, split="test", base_seed=seed, size=size, ...)``
    — with ``seed=0`` and ``size=64`` the first ``n_cases`` of the zoo's own held-out test set.
    They are generated once and given to every model in the same order
    (:func:`~mtdl_kit.evaluation.evaluate`).

    Args:
        models: display name -> model (e.g. ``{"parallel": ..., "single:tumour": ...}``).
        region: region name or object; every model must predict tasks of this region.
        n_cases: number of test cases.
        size: image size in pixels (divisible by 16).
        seed: offset of the cases inside the test split.
        batch_size: evaluation batch size.
        relatedness: coupling of the class label to the anatomy, in [0, 1].
        nuisance: ``None`` or one of the region's nuisances.

    Returns:
        A DataFrame with the columns :data:`FRAME_COLUMNS`: ``model``, ``family`` (the model's
        family, ``single`` for baselines), ``task``, ``metric``, ``value``, ``primary`` (the
        task's primary metric, :func:`~mtdl_kit.metrics.primary_metric`) and ``higher_is_better``.

    Raises:
        ValueError: no models, a model for another region, or invalid data arguments.
    """
    import pandas as pd

    from mtdl_kit.data import PhantomDataset
    from mtdl_kit.evaluation import evaluate

    reg = as_region(region)
    if not isinstance(models, Mapping) or not models:
        raise ValueError("models must be a non-empty dict {name: model}.")
    for name, model in models.items():
        check_model_for_region(model, reg, f"model {name!r}")
    if isinstance(n_cases, bool) or not isinstance(n_cases, int) or n_cases < 2:
        raise ValueError(f"n_cases must be an integer >= 2 (AUC needs cases of both classes), got {n_cases!r}.")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    if isinstance(size, bool) or not isinstance(size, int) or size % 16:
        raise ValueError(f"size must be an integer divisible by 16 (the models' total stride), got {size!r}.")
    needed = {t.name for m in models.values() for t in m.tasks}
    tasks = [n for n in reg.task_names if n in needed]
    test = PhantomDataset(
        reg, n_cases, split="test", base_seed=seed, size=size, relatedness=relatedness, nuisance=nuisance, tasks=tasks
    )
    batches = list(torch.utils.data.DataLoader(test, batch_size=batch_size, shuffle=False))
    rows: list[dict[str, Any]] = []
    for name, model in models.items():
        scored = evaluate(model, batches, spacing_mm=reg.spacing_mm(size))
        for t in model.tasks:
            primary = primary_metric(t)
            for metric, value in scored.metrics[t.name].items():
                if metric == "n_cases" or metric in COUNT_KEYS:
                    continue  # counts (cases, undefined HD95 pairs) are not performance metrics
                rows.append(
                    {
                        "model": str(name),
                        "family": getattr(model, "family", "") or "unknown",
                        "task": t.name,
                        "metric": metric,
                        "value": float(value),
                        "primary": metric == primary,
                        "higher_is_better": higher_is_better(metric),
                    }
                )
    return pd.DataFrame(rows, columns=list(FRAME_COLUMNS))


def check_frame(frame: Any) -> None:
    """Raise ``ValueError`` unless ``frame`` is a table of :func:`evaluate_models` (its columns included)."""
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"frame must be the DataFrame of evaluate_models, got {type(frame).__name__}.")
    missing = [c for c in FRAME_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks the columns {missing}; pass the output of evaluate_models().")
    if frame.empty:
        raise ValueError("frame is empty; evaluate at least one model.")


def primary_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of each task's primary metric (``frame`` checked first)."""
    check_frame(frame)
    return frame[frame["primary"].astype(bool)]


def metrics_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Primary metric of every task (columns ``"<task> <metric>"``) per model (rows).

    Single-task baselines (family ``single``) are merged into one row, :data:`SINGLE_LABEL`; a
    task a model does not predict is NaN.

    Raises:
        ValueError: not a frame of :func:`evaluate_models`.
    """
    prim = primary_rows(frame).copy()
    prim["row"] = np.where(prim["family"] == "single", SINGLE_LABEL, prim["model"])
    prim["column"] = prim["task"] + " " + prim["metric"]
    order_rows = list(dict.fromkeys(prim["row"]))
    order_cols = list(dict.fromkeys(prim["column"]))
    table = prim.pivot_table(index="row", columns="column", values="value", aggfunc="mean")
    table = table.reindex(index=order_rows, columns=order_cols)
    table.index.name = "model"
    table.columns.name = None
    return table


def relative_to_single(frame: pd.DataFrame) -> pd.DataFrame:
    """Relative change of each multi-task model's primary metric against the single-task baseline.

    ``relative_pct = (-1)^l (M_mtl - M_stl) / M_stl × 100`` with ``l = 1`` when lower is better
    (positive = better than the baseline); 0 where the two values are equal.

    Returns:
        One row per multi-task model and task that has a baseline: ``model``, ``family``,
        ``task``, ``metric``, ``value``, ``single``, ``relative_pct``.

    Raises:
        ValueError: not a frame of :func:`evaluate_models`, or no single-task baseline in it.
    """
    import pandas as pd

    prim = primary_rows(frame)
    single = prim[prim["family"] == "single"].groupby("task")["value"].mean()
    if single.empty:
        raise ValueError("frame has no single-task baseline (family 'single'); evaluate one per task.")
    rows = []
    for _, r in prim[prim["family"] != "single"].iterrows():
        if r["task"] not in single.index:
            continue
        base = float(single[r["task"]])
        value = float(r["value"])
        sign = 1.0 if r["higher_is_better"] else -1.0
        rel = 0.0 if value == base else sign * (value - base) / base * 100.0
        rows.append(
            {**{k: r[k] for k in ("model", "family", "task", "metric", "value")}, "single": base, "relative_pct": rel}
        )
    return pd.DataFrame(rows, columns=["model", "family", "task", "metric", "value", "single", "relative_pct"])


def quick_delta_m(frame: pd.DataFrame) -> pd.Series:
    """One-seed Δm (%) of every multi-task model on the evaluated cases: the mean of :func:`relative_to_single`.

    A quick look only — one training seed, a few test cases and no interval; the benchmark's
    ``families`` table has Δm over seeds with a 95 % CI.

    Raises:
        ValueError: as :func:`relative_to_single`.
    """
    rel = relative_to_single(frame)
    order = list(dict.fromkeys(rel["model"]))
    return rel.groupby("model")["relative_pct"].mean().reindex(order).rename("delta_m_pct")


def relative_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Wide view of :func:`relative_to_single`: models as rows, tasks as columns (%), plus the one-seed Δm.

    Rows keep the order of the models in ``frame``, columns the order of the tasks; the last column,
    ``"Δm (one seed)"``, is :func:`quick_delta_m`.

    Raises:
        ValueError: as :func:`relative_to_single`.
    """
    rel = relative_to_single(frame)
    models = list(dict.fromkeys(rel["model"]))
    tasks = list(dict.fromkeys(rel["task"]))
    table = rel.pivot(index="model", columns="task", values="relative_pct").reindex(index=models, columns=tasks)
    table["Δm (one seed)"] = quick_delta_m(frame)
    table.columns.name = None
    return table


def mask_measurements(
    models: Mapping[str, torch.nn.Module],
    region: str | Region,
    key: str,
    *,
    measure: Any = None,
    n_cases: int = 8,
    size: int = 64,
    seed: int = 0,
) -> pd.DataFrame:
    """A clinical measurement taken on each model's *predicted* mask, next to the same on the truth.

    Args:
        models: name -> model; models without the region's segmentation task are skipped.
        region: region name or object.
        key: a key of ``region.measure(mask, spacing_mm)`` (e.g. ``"cdr"``), used when ``measure``
            is None and as the column label.
        measure: optional ``fn(mask, spacing_mm) -> float`` (e.g. the learner's own function).
        n_cases: test cases (``PhantomDataset(..., split="test", base_seed=seed)``).
        size: image size.
        seed: offset in the test split.

    Returns:
        One row per model and case: ``model``, ``case``, ``truth``, ``predicted``, ``abs_error``.

    Raises:
        ValueError: no model with the segmentation task, or an unknown ``key``.
    """
    import pandas as pd

    from mtdl_kit.data import PhantomDataset

    reg = as_region(region)
    seg = reg.coupling.segmentation
    chosen = {n: m for n, m in models.items() if seg in {t.name for t in model_tasks(m, f"model {n!r}")}}
    if not chosen:
        raise ValueError(f"No model predicts the segmentation {seg!r}; nothing to measure on.")

    def default(mask: np.ndarray, spacing: float) -> float:
        values = reg.measure(mask, spacing)
        if key not in values:
            raise ValueError(f"{reg.name}.measure() returns no {key!r}; its keys are {sorted(values)}.")
        return float(values[key])

    fn = measure or default
    test = PhantomDataset(reg, n_cases, split="test", base_seed=seed, size=size)
    rows = []
    for i in range(n_cases):
        s = test.sample(i)
        truth = float(fn(np.asarray(s.targets[seg]), s.spacing_mm))
        for name, model in chosen.items():
            pred = float(fn(predict_sample(model, s)[seg], s.spacing_mm))
            rows.append({"model": name, "case": i, "truth": truth, "predicted": pred, "abs_error": abs(pred - truth)})
    return pd.DataFrame(rows, columns=["model", "case", "truth", "predicted", "abs_error"])


def delta_m_summary(results: pd.DataFrame) -> str:
    """Markdown sentences about one region's ``families`` results table, every number read from it.

    Each family's verdict comes from :func:`mtdl_kit.verdicts.verdict` (better / worse / no
    detectable difference, from the 95 % CI). A worse family is called worse, not "negative
    transfer": this table has no control that tells why, and a cascade shares no layers at all
    (:func:`mtdl_kit.verdicts.shares_layers`).

    Args:
        results: ``load_results("families", region=...)``: ``family``, ``delta_m``, ``ci_low``,
            ``ci_high``, ``n_seeds`` (and optionally ``params``, ``infer_ms``).

    Returns:
        A bullet per family (Δm with its 95 % CI and its verdict) and closing lines naming the
        family with the highest Δm, whether its interval overlaps the runner-up's, and which
        families (if any) are better than the single-task baselines.

    Raises:
        ValueError: the table lacks the columns or is empty.
    """
    from mtdl_kit.verdicts import BETTER, WORSE, shares_layers, verdict

    needed = ("family", "delta_m", "ci_low", "ci_high", "n_seeds")
    if not hasattr(results, "columns") or any(c not in results.columns for c in needed) or len(results) == 0:
        raise ValueError(f"results must be load_results('families', region=...) with the columns {needed}.")
    ranked = results.sort_values("delta_m", ascending=False)
    lines = []
    better = []
    for _, r in ranked.iterrows():
        v = verdict(r["delta_m"], r["ci_low"], r["ci_high"], n_seeds=int(r["n_seeds"]))
        if v.word == BETTER:
            better.append(str(r["family"]))
            reading = "better than the single-task baselines (the interval excludes 0)"
        elif v.word == WORSE:
            why = (
                "a cascade shares no layers, so this is not negative transfer"
                if not shares_layers(str(r["family"]))
                else "this table has no control, so it does not say why"
            )
            reading = f"worse than the single-task baselines (the interval excludes 0; {why})"
        else:
            reading = "no detectable difference from the single-task baselines (the interval contains 0)"
        extra = ""
        if "params" in r and "infer_ms" in r and np.isfinite(r["params"]) and np.isfinite(r["infer_ms"]):
            extra = f"; {int(r['params']):,} parameters, {r['infer_ms']:.1f} ms per image"
        lines.append(f"- **{r['family']}**: Δm {v.interval()} over {v.n_seeds} seeds — {reading}{extra}.")
    best = ranked.iloc[0]
    lines.append("")
    if len(ranked) > 1 and best["ci_low"] <= ranked.iloc[1]["ci_high"]:
        lines.append(
            f"The intervals of **{best['family']}** and **{ranked.iloc[1]['family']}** overlap: these seeds do not "
            "rank them."
        )
    lines.append(
        f"Better than the single-task baselines: {', '.join(better)}."
        if better
        else "No family is better than the single-task baselines here."
    )
    lines.append(f"Highest Δm: **{best['family']}** ({best['delta_m']:+.1f} %).")
    return "\n".join(lines)
