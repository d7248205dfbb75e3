"""The lab's chance levels: each seed's image-blind predictor on the test split, and which runs beat it.

:func:`chance_frame` fits :class:`~mtdl_kit.evaluation.chance.TrainingPrior` on each seed's training
subset (the same cases the seed's networks train on, :meth:`~mtdl_kit.lab.protocol.LabProtocol.splits`)
and scores it on the experiment's test split; :func:`runs_beating_chance` pairs every run with its
seed's chance level; :func:`chance_reading` says it in sentences. A contrast between two arms that both
sit at chance compares two ways of learning nothing (RESULTS "families-lab-notes": the knee's landmarks).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

#: columns of :func:`chance_frame`
CHANCE_COLUMNS = ("seed", "task", "metric", "value", "primary", "prior")


def chance_frame(cfg: Any, region: str, tasks: Sequence[str], seeds: Sequence[int], *, split: str = "test") -> Any:
    """One row per seed, task and metric: the metric of the image-blind predictor fit on the seed's training subset.

    Args:
        cfg: the experiment's :class:`~mtdl_kit.lab.protocol.LabProtocol` (its splits and image size).
        region: region name.
        tasks: task names.
        seeds: training seeds.
        split: where it is scored: ``"test"`` (beside the runs' test metrics) or ``"val"`` (the split the
            stopping rule watches; :func:`replay_chance_guard`).

    Returns:
        A DataFrame with :data:`CHANCE_COLUMNS` (``primary``: the task's headline metric; ``prior``: what the
        predictor predicts, in words).
    """
    import pandas as pd

    from mtdl_kit.evaluation.chance import PRIOR_WORDS, chance_level
    from mtdl_kit.metrics import primary_metric
    from mtdl_kit.regions import get_region

    spec = get_region(region)
    specs = spec.select_tasks(list(tasks))
    if split not in ("test", "val"):
        raise ValueError(f"split must be 'test' or 'val', got {split!r}.")
    rows = []
    for seed in seeds:
        train, val, test = cfg.splits(region, tasks, seed)
        metrics = chance_level(specs, train, test if split == "test" else val, region=spec).metrics
        for task in specs:
            for metric, value in metrics[task.name].items():
                rows.append(
                    {
                        "seed": seed,
                        "task": task.name,
                        "metric": metric,
                        "value": value,
                        "primary": metric == primary_metric(task),
                        "prior": PRIOR_WORDS[task.kind],
                    }
                )
    return pd.DataFrame(rows, columns=list(CHANCE_COLUMNS))


def validation_chance(tasks: Sequence[Any], train: Any, val: Any, *, region: Any) -> dict[str, float]:
    """Each task's primary metric on the validation split for the image-blind predictor fit on ``train``: the
    levels :meth:`~mtdl_kit.lab.protocol.LabProtocol.stopping_rule` guards with when ``chance_guard`` is on.

    Args:
        tasks: the network's :class:`~mtdl_kit.regions.base.TaskSpec` s.
        train: the seed's training subset (its labels fit the predictor).
        val: the validation split the stopping rule watches.
        region: the :class:`~mtdl_kit.regions.base.Region` (spacing for millimetre metrics).

    Returns:
        task name -> chance level, in the units the rule sees.
    """
    from mtdl_kit.evaluation.chance import chance_level
    from mtdl_kit.metrics import primary_metric

    metrics = chance_level(tasks, train, val, region=region).metrics
    return {t.name: float(metrics[t.name][primary_metric(t)]) for t in tasks}


def runs_beating_chance(runs: Any, chance: Any, *, group: str = "arm") -> Any:
    """Each run's primary metric beside its seed's chance level.

    Args:
        runs: a lab runs frame (``seed, <group>, task, metric, value`` …), e.g. ``transfer_g_*_runs.csv``.
        chance: :func:`chance_frame` for the same seeds and tasks.
        group: the column that names the arm (``"arm"`` in experiment G, ``"condition"`` in E).

    Returns:
        One row per ``group``, seed and task of the chance frame's metrics: ``value``, ``chance``, ``beats``.

    Raises:
        ValueError: a seed or task of ``runs`` has no chance level.
    """
    from mtdl_kit.metrics import higher_is_better

    missing = set(runs["seed"]) - set(chance["seed"])
    if missing:
        raise ValueError(f"chance has no level for seeds {sorted(missing)}; compute chance_frame for the runs' seeds.")
    levels = chance[chance["primary"].astype(bool)][["seed", "task", "metric", "value"]]
    merged = runs.merge(levels, on=["seed", "task", "metric"], suffixes=("", "_c"))
    if merged.empty:
        raise ValueError("runs and chance share no task and primary metric; pass the chance frame of these runs.")
    sign = merged["metric"].map(lambda m: 1.0 if higher_is_better(m) else -1.0)
    out = merged[[group, "seed", "task", "metric", "value"]].copy()
    out["chance"] = merged["value_c"].to_numpy()
    out["beats"] = (sign * (merged["value"] - merged["value_c"]) > 0).to_numpy()
    return out.reset_index(drop=True)


def chance_reading(runs: Any, chance: Any, *, group: str = "arm") -> list[str]:
    """Sentences computed from the runs and the chance levels: each task's chance level, then, per task, the arms
    with runs that do not beat it (or that every run beats it).

    Args:
        runs, chance, group: as :func:`runs_beating_chance`.
    """
    import statistics

    paired = runs_beating_chance(runs, chance, group=group)
    levels = []
    for task, rows in paired.groupby("task", sort=False):
        metric = rows["metric"].iloc[0]
        prior = chance[(chance["task"] == task)]["prior"].iloc[0]
        level = statistics.fmean(chance[(chance["task"] == task) & (chance["metric"] == metric)]["value"])
        levels.append(f"{task} {metric} {level:.3f} ({prior})")
    out = [
        "Chance level on the test split (a predictor that never sees the image, fit on each seed's training labels; "
        f"mean over seeds): {'; '.join(levels)}."
    ]
    for task, rows in paired.groupby("task", sort=False):
        counts = rows.groupby(group, sort=False)["beats"].agg(["sum", "count"])
        short = [
            f"{arm} {int(c['count'] - c['sum'])} of {int(c['count'])}"
            for arm, c in counts.iterrows()
            if c["sum"] < c["count"]
        ]
        if short:
            out.append(f"{task}: runs that do not beat chance — {'; '.join(short)}.")
        else:
            out.append(f"{task}: every run beats chance.")
    return out


def replay_chance_guard(cfg: Any, curves: Any, runs: Any, val_chance: Any) -> Any:
    """Which of experiment G's runs the chance guard of :class:`~mtdl_kit.stopping.ValidationStopping` would
    have changed, from their committed validation curves alone (nothing is trained).

    Each network's curve is fed through the unguarded rule (``cfg``'s :meth:`stopping_rule` with ``chance_guard``
    off) and through the same rule with ``chance`` set to its seed's validation chance levels. The first replay
    should reproduce the recorded stop (the curves are rounded to 4 decimals, so a run whose last improvements were
    below that can replay earlier; ``replay_matches`` says whether it did). Where the guarded replay parts from
    the plain one, the guard would have kept the run training (``changed``) and its result is not known without
    training it. A run the plain replay takes to the cap is never changed: the guard only delays stops.

    Args:
        cfg: the :class:`~mtdl_kit.lab.families.FamiliesConfig` the runs were trained under.
        curves: ``transfer_g_<region>_<run>_curves.csv`` (``arm, seed, task, step, value``).
        runs: ``transfer_g_<region>_<run>_runs.csv`` (for each network's ``steps_run``).
        val_chance: :func:`chance_frame` with ``split="val"`` for the runs' seeds.

    Returns:
        One row per arm, seed and network (``"all"`` or the task of a single-task network): ``steps_run``,
        ``replayed`` (the plain rule's stop, the cap when it never stops), ``replay_matches``, ``guarded``
        (the guarded rule's stop within the recorded curve, NaN when it would go on), ``at_chance`` (the tasks
        still at chance at the recorded stop) and ``changed``.
    """
    import pandas as pd

    from mtdl_kit.metrics import primary_metric
    from mtdl_kit.regions import get_region

    region = get_region(cfg.region)
    levels = val_chance[val_chance["primary"].astype(bool)].set_index(["seed", "task"])["value"]
    steps = runs.drop_duplicates(["arm", "seed", "task"]).set_index(["arm", "seed", "task"])["steps_run"]
    rows = []
    for (arm, seed), part in curves.groupby(["arm", "seed"], sort=False):
        groups = [[t] for t in part["task"].unique()] if arm.startswith("single") else [list(part["task"].unique())]
        for names in groups:
            tasks = region.select_tasks(names)
            monitor = {t.name: f"{t.name}/{primary_metric(t)}" for t in tasks}
            wide = part[part["task"].isin(names)].pivot(index="step", columns="task", values="value").sort_index()
            evaluations = [(int(step), {monitor[t]: float(v) for t, v in row.items()}) for step, row in wide.iterrows()]
            plain = replace(cfg, chance_guard=False).stopping_rule(tasks)
            replayed = plain.replay(evaluations)
            guard = {t.name: float(levels[(seed, t.name)]) for t in tasks}
            guarded_rule = _guarded(cfg, tasks, guard)
            guarded = guarded_rule.replay(evaluations)
            recorded = int(steps[(arm, seed, names[0])])
            rows.append(
                {
                    "arm": arm,
                    "seed": seed,
                    "network": "all" if len(names) > 1 or not arm.startswith("single") else names[0],
                    "steps_run": recorded,
                    "replayed": cfg.max_steps if replayed is None else replayed,
                    "replay_matches": (cfg.max_steps if replayed is None else replayed) == recorded,
                    "guarded": float("nan") if guarded is None else guarded,
                    "at_chance": ", ".join(m.split("/")[0] for m in guarded_rule.at_chance),
                    "changed": replayed is not None and guarded != replayed,
                }
            )
    return pd.DataFrame(rows)


def _guarded(cfg: Any, tasks: Sequence[Any], chance: dict[str, float]) -> Any:
    """``cfg``'s stopping rule for ``tasks`` with the chance guard (task name -> validation chance level)."""
    return replace(cfg, chance_guard=True).stopping_rule(tasks, chance=chance)
