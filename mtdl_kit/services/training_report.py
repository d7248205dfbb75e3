"""Live training's results for the page: the session's runs, same-budget baselines and the trade-off.

- :func:`run_table`, :func:`baseline_comparison`: the session's runs, and a run against single-task
  baselines trained under the same budget (:meth:`~mtdl_kit.services.training_workers.TrainingPool.baseline`),
  never against the zoo's longer-trained ones.
- :func:`live_recipe_note`: what the page's recipe reaches and in how long, read from the benchmark.
- :func:`session_tradeoff` and :func:`pareto_figure`: the trade-off of a session's finished runs
  on two tasks, the Pareto-optimal runs marked (:func:`mtdl_kit.evaluation.non_dominated`).

Research and teaching use only — not for clinical use.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mtdl_kit.palette import OKABE_ITO
from mtdl_kit.services.training import CPU_RECIPE, GPU_RECIPE, LiveRun, live_recipe

if TYPE_CHECKING:
    import plotly.graph_objects as go


def run_table(runs: Sequence[LiveRun]) -> list[dict[str, Any]]:
    """One row per run for the session table: id, configuration, state, steps, seconds (training, and
    waiting in the queue), device, primary metrics."""
    from mtdl_kit.metrics import primary_metric
    from mtdl_kit.regions import get_region

    rows = []
    for run in runs:
        snap = run.snapshot()
        region = get_region(run.region)
        row: dict[str, Any] = {
            "run": snap.run_id,
            "region": run.region,
            "family": run.family,
            "weighting": run.weighting if run.family != "single" else "ew",
            "tasks": "+".join(run.tasks),
            "state": snap.state,
            "steps": f"{snap.step}/{snap.total_steps}",
            "seconds": round(snap.seconds, 1),
            "waited s": round(snap.waited, 1),
            "device": snap.device,
        }
        for task, values in snap.metrics.items():
            name = primary_metric(region.task(task))
            row[f"{task} {name}"] = values.get(name, math.nan)
        rows.append(row)
    return rows


def baseline_comparison(
    run: LiveRun, metrics: Mapping[str, Mapping[str, float]], baselines: Mapping[str, LiveRun | None]
) -> list[dict[str, Any]]:
    """Per task: the run's primary metric next to its single-task baseline under the same budget.

    ``baselines`` maps each task to its baseline run
    (:meth:`~mtdl_kit.services.training_workers.TrainingPool.baseline`) or ``None`` when not requested;
    the baseline's value is ``None`` until it is done, and its state says why.
    ``delta`` is signed so that positive means the multi-task run is better.
    """
    from mtdl_kit.metrics import higher_is_better, primary_metric
    from mtdl_kit.regions import get_region

    reg = get_region(run.region)
    rows = []
    for task, values in metrics.items():
        name = primary_metric(reg.task(task))
        base_run = baselines.get(task)
        snap = base_run.snapshot() if base_run is not None else None
        base = snap.metrics.get(task, {}).get(name) if snap is not None and snap.state == "done" else None
        value = values.get(name)
        delta = None
        if base is not None and value is not None and math.isfinite(value) and math.isfinite(base):
            delta = (value - base) if higher_is_better(name) else (base - value)
        rows.append(
            {
                "task": task,
                "metric": name,
                "this run": value,
                "single-task, same budget": base,
                "baseline": "not trained" if snap is None else snap.state,
                "delta": delta,
            }
        )
    return rows


def live_recipe_note(root: str | Path | None = None, device_type: str | None = None) -> str:
    """The live recipe of ``device_type`` in words, with its measured time to the eye target.

    ``device_type`` is where the runs train (default: where ``device="auto"`` points here). The
    seconds and metrics are read from ``benchmarks/results/live.csv`` (the CPU recipe) and
    ``live_gpu.csv`` (the GPU recipe, on a CUDA card) written by ``benchmarks/bench_live.py``, never
    typed in: a rerun of the benchmark changes the sentence. The device's own recipe comes first; the
    other device's follows when it was measured.
    """
    from mtdl_kit.results import load_results

    on_gpu = live_recipe(device_type) is GPU_RECIPE
    here, there = (GPU_RECIPE, CPU_RECIPE) if on_gpu else (CPU_RECIPE, GPU_RECIPE)
    tables = [("live_gpu", "live-gpu"), ("live", "live")]
    if not on_gpu:
        tables.reverse()
    measured: list[str | None] = []
    for table, section in tables:
        try:
            measured.append(_time_to_quality(load_results(table, root=root, region="eye", family="parallel"), section))
        except (FileNotFoundError, ValueError):
            measured.append(None)
    text = (
        f"Defaults on this server's {'GPU' if on_gpu else 'CPU'} (the live recipe): {here.text()}; metrics on "
        "held-out phantoms no run trains on."
    )
    if measured[0] is None:
        text += " Its time to quality has not been measured on this installation (benchmarks/bench_live.py)."
    else:
        text += f" Measured on {measured[0]}"
    if measured[1] is not None:
        text += f" On a {'CPU' if on_gpu else 'GPU'} the recipe is {there.text()}; measured on {measured[1]}"
    return text


def _time_to_quality(frame: Any, section: str) -> str | None:
    """``"<device>, <when>: the eye's parallel network met the target … (RESULTS.md)."`` from a live table."""
    runs = frame.groupby("seed").agg(seconds=("seconds", "first"), met=("met", "all"))
    if runs.empty:
        return None
    targeted = frame[frame["target"].notna()]
    targets = ", ".join(
        f"{task} {grp['metric'].iloc[0]} ≥ {grp['target'].iloc[0]:g} (lowest {grp['value'].min():.2f})"
        for task, grp in targeted.groupby("task", sort=False)
    )
    verdict = (
        f"met the target in all {len(runs)} runs"
        if bool(runs["met"].all())
        else f"met the target in {int(runs['met'].sum())} of {len(runs)} runs"
    )
    seconds = runs["seconds"].median()
    median = f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"
    return (
        f"{frame['device'].iloc[0]}, {frame['measured'].iloc[0]}: the eye's parallel network {verdict} — "
        f'{targets} — in a median of {median} from Train to metrics (benchmarks/RESULTS.md, "{section}").'
    )


def session_tradeoff(runs: Sequence[LiveRun], region: str) -> dict[str, Any] | None:
    """The finished runs of ``region`` on the first two tasks they all share, the Pareto-optimal ones marked.

    Returns:
        ``None`` when no run of ``region`` is done or the done runs share fewer than two tasks; else
        ``x_task``, ``y_task``, ``x_metric``, ``y_metric`` (the tasks' primary metrics),
        ``higher_is_better`` (per axis) and ``runs``: one dict per run with ``run``, ``name``, ``x``,
        ``y`` (NaN when the run has no value) and ``pareto`` (:func:`~mtdl_kit.evaluation.non_dominated`).
    """
    from mtdl_kit.evaluation import non_dominated
    from mtdl_kit.metrics import higher_is_better, primary_metric
    from mtdl_kit.regions import get_region

    reg = get_region(region)
    done = [r for r in runs if r.region == region and r.snapshot().state == "done"]
    common = [t for t in reg.task_names if all(t in r.tasks for r in done)]
    if not done or len(common) < 2:
        return None
    tx, ty = common[0], common[1]
    mx, my = primary_metric(reg.task(tx)), primary_metric(reg.task(ty))
    better = (higher_is_better(mx), higher_is_better(my))
    values = [r.primary_metrics() for r in done]
    points = [(float(v.get(tx, math.nan)), float(v.get(ty, math.nan))) for v in values]
    front = non_dominated(points, better)
    return {
        "x_task": tx,
        "y_task": ty,
        "x_metric": mx,
        "y_metric": my,
        "higher_is_better": better,
        "runs": [
            {"run": r.run_id, "name": f"{r.family}/{r.weighting} {r.run_id}", "x": x, "y": y, "pareto": keep}
            for r, (x, y), keep in zip(done, points, front, strict=True)
        ],
    }


#: metrics whose values lie in [0, 1] by definition (Dice, ROC-AUC, accuracies, recalls, ECE)
UNIT_INTERVAL_METRICS: frozenset[str] = frozenset(
    {"dice", "auc", "accuracy", "balanced_accuracy", "sensitivity", "specificity", "ece"}
)


#: share of the span added on either side, so a star on the domain's edge and its label stay inside
AXIS_PAD = 0.06


def axis_range(metric: str, values: Sequence[float]) -> list[float]:
    """A fixed axis range for ``metric``: its domain, not the points' spread, so the axes do not jump.

    Metrics in [0, 1] by definition (:data:`UNIT_INTERVAL_METRICS`; the Brier score when every point is
    at most 1) get [0, 1]; errors and distances (MAE, RMSE, mm) get [0, the largest of ``values``],
    the candidate points (every finished run of the session), or [0, 1] without one. Padded by
    :data:`AXIS_PAD` of the span on each side.
    """
    from mtdl_kit.metrics import metric_base

    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    base = metric_base(metric)
    if base in UNIT_INTERVAL_METRICS or (base == "brier" and all(v <= 1 for v in finite)):
        high = 1.0
    else:
        high = max([v for v in finite if v > 0], default=1.0)
    pad = AXIS_PAD * high
    return [-pad, high + pad]


def pareto_figure(tradeoff: dict[str, Any]) -> go.Figure:
    """Scatter of :func:`session_tradeoff`'s runs; the Pareto-optimal ones are large stars.

    The axes' ranges are fixed by :func:`axis_range` (a metric's domain, e.g. [0, 1] for Dice and
    ROC-AUC), so one run does not get axes of -0.5 to 1.5 and adding a run does not rescale them;
    each axis title says which direction is better.
    """
    import plotly.graph_objects as go

    fig = go.Figure()
    for i, row in enumerate(tradeoff["runs"]):
        on_front = bool(row["pareto"])
        fig.add_trace(
            go.Scatter(
                x=[row["x"]],
                y=[row["y"]],
                mode="markers+text",
                text=[row["run"]],
                textposition="top center",
                name=row["name"],
                marker={
                    "size": 14 if on_front else 9,
                    "color": OKABE_ITO[i % 7],
                    "symbol": "star" if on_front else "circle",
                },
            )
        )
    better = tradeoff["higher_is_better"]
    fig.update_layout(
        title="Trade-off of this session's runs (stars: Pareto-optimal)",
        xaxis_title=f"{tradeoff['x_task']} {tradeoff['x_metric']} ({'higher' if better[0] else 'lower'} is better)",
        yaxis_title=f"{tradeoff['y_task']} {tradeoff['y_metric']} ({'higher' if better[1] else 'lower'} is better)",
        height=380,
    )
    runs = tradeoff["runs"]
    fig.update_xaxes(range=axis_range(tradeoff["x_metric"], [r["x"] for r in runs]), autorange=False)
    fig.update_yaxes(range=axis_range(tradeoff["y_metric"], [r["y"] for r in runs]), autorange=False)
    return fig


__all__ = ["axis_range", "baseline_comparison", "live_recipe_note", "pareto_figure", "run_table", "session_tradeoff"]
