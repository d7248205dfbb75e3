"""Experiment G's tables and reading: runs, validation curves, the paired contrasts with their intervals
(per task and Δm, per capacity rule, and across rules) and the sentences computed from them
(:mod:`mtdl_kit.lab.families`).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mtdl_kit.lab.families.config import (
    ACROSS,
    CAPACITY_RULES,
    DELTA_M,
    RULE_DEPENDENT,
    FamiliesConfig,
    arm_name,
    rule_of,
)
from mtdl_kit.lab.families.runs import FamilyRun, train_families
from mtdl_kit.lab.outputs import verdict_word


@dataclass
class FamiliesResult:
    """All runs of experiment G and their contrasts.

    Attributes:
        config: the configuration.
        runs: arm -> seed -> network key (``"all"`` or a task) -> :class:`FamilyRun`.
        runs_frame: one row per arm, seed, task and metric (``budget, seed, arm, family, rule, task,
            metric, value, best_step, steps_run, seconds, parameters, at_cap, chance_guard``).
        summary: per rule: ``mean`` rows (per arm and task: mean metric, median steps, parameters),
            ``<arm> - single@<rule>`` per task (metric units, positive = the family is better) and for Δm
            (``task`` = ``metric`` = ``delta_m``, in %), and ``<family>@width - <family>@params`` per task.
        curves: one row per arm, seed, task and validation step (``arm, seed, task, step, value``).
    """

    config: FamiliesConfig
    runs: dict[str, dict[int, dict[str, FamilyRun]]]
    runs_frame: Any
    summary: Any
    curves: Any


def runs_frame(cfg: FamiliesConfig, runs: dict[str, dict[int, dict[str, FamilyRun]]]) -> Any:
    """One row per arm, seed, task and metric (see :class:`FamiliesResult`)."""
    import pandas as pd

    rows = []
    for arm, by_seed in runs.items():
        for seed, nets in by_seed.items():
            for run in nets.values():
                for task, metrics in run.metrics.items():
                    for metric, value in metrics.items():
                        rows.append(
                            {
                                "budget": cfg.n_train,
                                "seed": seed,
                                "arm": arm,
                                "family": run.family,
                                "rule": rule_of(arm),
                                "task": task,
                                "metric": metric,
                                "value": value,
                                "best_step": run.best_step,
                                "steps_run": run.steps_run,
                                "seconds": round(run.seconds, 2),
                                "parameters": run.parameters,
                                "at_cap": run.steps_run >= cfg.max_steps,
                                "chance_guard": cfg.chance_guard,
                                "device": cfg.device,
                            }
                        )
    return pd.DataFrame(rows)


def curves_frame(runs: dict[str, dict[int, dict[str, FamilyRun]]]) -> Any:
    """The validation curves of every run, long format (see :class:`FamiliesResult`)."""
    import pandas as pd

    rows = [
        {"arm": arm, "seed": seed, "task": task, "step": int(step), "value": round(value, 4)}
        for arm, by_seed in runs.items()
        for seed, nets in by_seed.items()
        for run in nets.values()
        for task, points in run.curve.items()
        for step, value in points.items()
    ]
    return pd.DataFrame(rows, columns=["arm", "seed", "task", "step", "value"])


def _run_of(runs: dict[str, dict[int, dict[str, FamilyRun]]], arm: str, seed: int, task: str) -> FamilyRun:
    nets = runs[arm][seed]
    return nets["all"] if "all" in nets else nets[task]


def _records(runs: dict[str, dict[int, dict[str, FamilyRun]]], arm: str, task: str) -> dict[int, Any]:
    """seed -> the records of ``task`` in ``arm`` (its own single-task network for the single-task arm)."""
    return {seed: _run_of(runs, arm, seed, task).records for seed in runs[arm]}


def summarise(cfg: FamiliesConfig, runs: dict[str, dict[int, dict[str, FamilyRun]]]) -> Any:
    """Means, per-task contrasts and Δm with paired hierarchical bootstrap CIs (see :class:`FamiliesResult`)."""
    import pandas as pd

    from mtdl_kit.evaluation import delta_m, paired_contrast
    from mtdl_kit.lab.outputs import summary_row
    from mtdl_kit.metrics import primary_metric
    from mtdl_kit.regions import get_region

    region = get_region(cfg.region)
    tasks = region.select_tasks(list(cfg.task_names()))
    rows: list[dict[str, Any]] = []

    def add(row: dict[str, Any], n: int, **extra: Any) -> None:
        row.update(n_seeds=n, **extra)
        row["verdict"] = verdict_word(row) if row["contrast"] != "mean" else ""
        rows.append(row)

    for arm in cfg.arms():
        for task in tasks:
            metric = primary_metric(task)
            nets = [_run_of(runs, arm, seed, task.name) for seed in runs[arm]]
            value = statistics.fmean(r.metrics[task.name][metric] for r in nets)
            row = summary_row("mean", task.name, metric, value, budget=cfg.n_train, rule=rule_of(arm), arm=arm)
            add(
                row,
                len(nets),
                median_steps_run=statistics.median(r.steps_run for r in nets),
                runs_at_cap=sum(r.steps_run >= cfg.max_steps for r in nets),
                max_steps=cfg.max_steps,
                parameters=int(statistics.median(r.parameters for r in nets)),
            )
    for rule in cfg.rules:
        single = arm_name("single", rule)
        for family in cfg.families:
            arm = arm_name(family, rule)
            for task in tasks:
                metric = primary_metric(task)
                arms = {arm: _records(runs, arm, task.name), single: _records(runs, single, task.name)}
                est = paired_contrast(arms, {arm: 1.0, single: -1.0}, task.name, metric, n_boot=cfg.n_boot, seed=0)
                contrast = f"{arm} - {single}"
                row = summary_row(contrast, task.name, metric, est.value, est.ci_low, est.ci_high, budget=cfg.n_train)
                add(row, len(cfg.seeds), rule=rule, arm=arm)
            dm = delta_m(
                _records(runs, arm, tasks[0].name),
                {t.name: _records(runs, single, t.name) for t in tasks},
                tasks,
                n_boot=cfg.n_boot,
                seed=0,
                min_seeds=2,
            )
            contrast = f"{arm} - {single}"
            row = summary_row(contrast, DELTA_M, DELTA_M, dm.value, dm.ci_low, dm.ci_high, budget=cfg.n_train)
            add(row, len(cfg.seeds), rule=rule, arm=arm)
    if set(CAPACITY_RULES) <= set(cfg.rules):
        for family in [f for f in ("single", *cfg.families) if f in RULE_DEPENDENT]:
            wide, matched = arm_name(family, "width"), arm_name(family, "params")
            for task in tasks:
                first = cfg.seeds[0]
                if _run_of(runs, wide, first, task.name).network == _run_of(runs, matched, first, task.name).network:
                    continue  # both rules build this network alike: nothing to compare
                metric = primary_metric(task)
                arms = {wide: _records(runs, wide, task.name), matched: _records(runs, matched, task.name)}
                est = paired_contrast(arms, {wide: 1.0, matched: -1.0}, task.name, metric, n_boot=cfg.n_boot, seed=0)
                row = summary_row(
                    f"{wide} - {matched}", task.name, metric, est.value, est.ci_low, est.ci_high, budget=cfg.n_train
                )
                add(row, len(cfg.seeds), rule=ACROSS, arm=wide)
    columns = ["budget", "rule", "arm", "contrast", "task", "metric", "value", "ci_low", "ci_high", "significant"]
    columns += ["verdict", "n_seeds", "median_steps_run", "runs_at_cap", "max_steps", "parameters"]
    return pd.DataFrame(rows).reindex(columns=columns)


def run_families(
    cfg: FamiliesConfig,
    *,
    cache: str | Path | None = None,
    on_run: Callable[[str, FamilyRun], None] | None = None,
) -> FamiliesResult:
    """Run experiment G: every arm × seed (:func:`train_families`, resumable through ``cache``), then the contrasts."""
    runs = train_families(cfg, cache=cache, on_run=on_run)
    return FamiliesResult(cfg, runs, runs_frame(cfg, runs), summarise(cfg, runs), curves_frame(runs))


def _interval(row: Any) -> str:
    unit = " %" if row["metric"] == DELTA_M else ""
    digits = 1 if row["metric"] == DELTA_M else 3
    return f"{row['value']:+.{digits}f}{unit} [{row['ci_low']:+.{digits}f}, {row['ci_high']:+.{digits}f}]"


RULE_WORDS = {"params": "equal total parameters", "width": "equal per-task width"}


def families_reading(result: FamiliesResult) -> list[str]:
    """Plain sentences computed from the intervals (:func:`summary_reading` of the result's summary)."""
    return summary_reading(result.summary)


def summary_reading(summary: Any) -> list[str]:
    """Plain sentences computed from a summary's intervals (no fixed claims): per rule, the families' Δm
    and per-task verdicts; then what the capacity rule changes; then how many networks reached the step
    cap. Works on the committed ``transfer_g_<region>_<run>_summary.csv`` alone, so lessons quote it.
    """
    from mtdl_kit.verdicts import shares_layers

    frame = summary.fillna({"rule": "", "verdict": ""})
    out = []
    rules = [r for r in CAPACITY_RULES if r in set(frame["rule"])]
    for rule in rules:
        dm = frame[(frame["rule"] == rule) & (frame["task"] == DELTA_M)]
        if dm.empty:
            continue
        parts = []
        for _, r in dm.iterrows():
            same = (frame["arm"] == r["arm"]) & (frame["contrast"] == r["contrast"])
            tasks = frame[same & (frame["task"] != DELTA_M)]
            better = ", ".join(tasks[tasks["verdict"] == "better"]["task"]) or "none"
            worse = ", ".join(tasks[tasks["verdict"] == "worse"]["task"]) or "none"
            parts.append(f"{r['arm']} Δm {_interval(r)} ({r['verdict']}; tasks better: {better}; worse: {worse})")
        head = f"Under {RULE_WORDS[rule]} ({int(dm['n_seeds'].iloc[0])} seeds), against single-task networks"
        out.append(f"{head}: {'; '.join(parts)}.")
        losers = [r["arm"] for _, r in dm.iterrows() if r["verdict"] == "worse"]
        shared = [a for a in losers if shares_layers(a.partition("@")[0])]
        cascades = [a for a in losers if not shares_layers(a.partition("@")[0])]
        if cascades:
            out.append(
                f"{', '.join(cascades)}: the stages share no layer (a detached hand-over), so losing there is error "
                "propagation or a harder problem, not negative transfer."
            )
        if shared:
            out.append(
                f"{', '.join(shared)} share layers and lose; this table has no control that says why (shared "
                "capacity, optimisation or a conflict between tasks; experiments A and B have those controls)."
            )
    across = frame[frame["rule"] == ACROSS]
    for _, rows in across.groupby("arm", sort=False):
        listed = "; ".join(f"{r['task']} {_interval(r)} ({r['verdict']})" for _, r in rows.iterrows())
        out.append(
            f"A full-width sub-network per task instead of a matched one ({rows.iloc[0]['contrast']}): {listed}."
        )
    means = frame[frame["contrast"] == "mean"]
    if len(means):
        capped, total = [], 0
        for arm, rows in means.groupby("arm", sort=False):
            networks = rows if arm.startswith("single") else rows.iloc[:1]  # a family trains one network per seed
            n, of = int(networks["runs_at_cap"].sum()), int(networks["n_seeds"].sum())
            total += of
            if n:
                capped.append(f"{arm} {n} of {of}")
        cap = int(means["max_steps"].iloc[0])
        listed = "; ".join(capped) if capped else f"none of {total}"
        out.append(
            f"Networks that reached the {cap}-step cap (ended by the cap, not by the rule: still improving, or, "
            f"under the chance guard, a task never above its validation chance level): {listed}."
        )
    return out


def write_families_outputs(result: FamiliesResult, out: str | Path) -> list[Path]:
    """``runs.csv``, ``summary.csv``, ``summary.md`` and ``curves.csv`` (validation curves) into ``out``."""
    from mtdl_kit.lab.outputs import write_lab_outputs

    cfg = result.config
    paths = write_lab_outputs(
        out,
        result.runs_frame,
        result.summary,
        title=f"Transfer lab, experiment G (the families under the lab's protocol) — {cfg.region}",
        configs={"Config": cfg},
        reading=families_reading(result),
    )
    curves = Path(out) / "curves.csv"
    result.curves.to_csv(curves, index=False)
    return [*paths, curves]
