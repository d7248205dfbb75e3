"""The lab's chance levels: each seed's image-blind predictor on the test split, and which runs beat it.

:func:`chance_frame` fits :class:`~mtdl_kit.evaluation.chance.TrainingPrior` on each seed's training
subset (the same cases the seed's networks train on, :meth:`~mtdl_kit.lab.protocol.LabProtocol.splits`)
and scores it on the experiment's test split; :func:`runs_beating_chance` pairs every run with its
seed's chance level; :func:`chance_reading` says it in sentences. A contrast between two arms that both
sit at chance compares two ways of learning nothing (RESULTS "families-lab-notes": the knee's landmarks).

A ROC-AUC beats chance only by a detectable margin (:func:`chance_margins`): on 256 test cases a binary
classifier that learnt nothing scores anywhere in about 0.5 ± 0.07, so "0.501 beats 0.500" is noise (the brain's
grade networks on 256 training cases, RESULTS "families-lab-n_train1024-brain"); a multi-class (macro one-vs-rest)
AUC's noise is smaller but not zero (:func:`auc_null_sd_classes`). The margin needs the test split's class counts,
which :func:`chance_frame` records as ``n_cases/<class>`` rows. Other metrics are compared as they are: their
per-case values, which a margin would need, are not in the runs tables.

A reconstruction (denoising) task has no image-blind predictor worth the name; its floor is the noisy input
returned unchanged (:func:`~mtdl_kit.evaluation.copy_input_level`): :func:`copy_input_frame` scores it on the
test split, :func:`runs_against_copy_input` pairs every reconstruction run with it, and
:func:`copy_input_reading` says it in sentences (RESULTS "families-lab-notes": the brain's shared trunks).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from functools import lru_cache
from typing import Any

#: columns of :func:`chance_frame`
CHANCE_COLUMNS = ("seed", "task", "metric", "value", "primary", "prior")
#: columns of :func:`copy_input_frame`
COPY_INPUT_COLUMNS = ("task", "metric", "value", "n_cases")
#: what :func:`copy_input_frame`'s floor predicts, in words
COPY_INPUT_WORDS = "the noisy input returned unchanged"
#: one-sided normal quantile (5 %) of the margin by which a ROC-AUC must beat chance (in null SDs)
AUC_MARGIN_Z = 1.645
#: draws of the simulated null of a multi-class AUC (:func:`auc_null_sd_classes`); its SD is within about 1 %
AUC_NULL_DRAWS = 4000
#: the simulation's fixed generator seed, so a margin is the same number on every machine and every call
AUC_NULL_SEED = 0


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
        evaluation = chance_level(specs, train, test if split == "test" else val, region=spec)
        for task in specs:
            values = dict(evaluation.metrics[task.name])
            if task.kind == "classification":
                values.update(class_count_rows(task, evaluation.records[task.name].values["labels"]))
            for metric, value in values.items():
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


def class_count_rows(task: Any, labels: Any) -> dict[str, float]:
    """``{"n_cases/0": 140.0, "n_cases/1": 116.0}``: how many of the scored cases have each class of ``task``
    (class indices; the counts :func:`chance_margins` needs)."""
    import numpy as np

    counts = np.bincount(np.asarray(labels, dtype=np.int64).reshape(-1), minlength=task.num_outputs)
    return {f"n_cases/{k}": float(c) for k, c in enumerate(counts)}


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


def auc_null_sd(n_positive: int, n_negative: int) -> float:
    """The standard deviation of the ROC-AUC of scores that carry no information about the label, on a test set
    of ``n_positive`` and ``n_negative`` cases: the Mann-Whitney statistic's null variance
    ``(n₁ + n₀ + 1) / (12 n₁ n₀)`` (Hanley JA, McNeil BJ. Radiology 143:29-36, 1982).

    Raises:
        ValueError: a class without cases.
    """
    if n_positive < 1 or n_negative < 1:
        raise ValueError(f"an AUC needs cases of both classes; got {n_positive} positive and {n_negative} negative.")
    return math.sqrt((n_positive + n_negative + 1) / (12 * n_positive * n_negative))


def auc_null_sd_classes(counts: Sequence[int]) -> float:
    """The standard deviation of :func:`mtdl_kit.metrics.roc_auc` for predictions that carry no information about
    the label, on a test set with ``counts[k]`` cases of class ``k``.

    Two classes: :func:`auc_null_sd`, exact. More: the macro average of one-vs-rest AUCs, whose terms are
    correlated through the softmax (each class's probability falls when another's rises), so its null spread has
    no simple closed form; it is simulated — :data:`AUC_NULL_DRAWS` draws of softmax outputs of independent
    standard normal logits, a fixed generator (:data:`AUC_NULL_SEED`). The logits' scale hardly matters (rank
    statistics; checked at 0.01 to 10 times). In the cases ``tests/test_chance.py`` checks, the spread lies between
    that of independent one-vs-rest terms, ``sqrt(Σ var_k) / K``, and their mean SD (perfectly correlated terms).

    Raises:
        ValueError: fewer than two classes, or a class without cases (its one-vs-rest AUC is undefined).
    """
    counts = tuple(int(c) for c in counts)
    if len(counts) < 2 or min(counts) < 1:
        raise ValueError(f"an AUC needs cases of every class (at least two classes); got class counts {counts}.")
    if len(counts) == 2:
        return auc_null_sd(counts[1], counts[0])
    return _simulated_auc_null_sd(counts)


@lru_cache(maxsize=64)
def _simulated_auc_null_sd(counts: tuple[int, ...]) -> float:
    import numpy as np

    from mtdl_kit.metrics import roc_auc

    rng = np.random.default_rng(AUC_NULL_SEED)
    labels = np.repeat(np.arange(len(counts)), counts)
    values = []
    for _ in range(AUC_NULL_DRAWS):
        logits = rng.standard_normal((labels.size, len(counts)))
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        values.append(roc_auc(probs / probs.sum(axis=1, keepdims=True), labels))
    return float(np.std(values, ddof=1))


def chance_margins(chance: Any) -> Any:
    """Per seed and task, the margin by which a run's primary metric must beat its chance level.

    A ROC-AUC must clear chance by :data:`AUC_MARGIN_Z` times :func:`auc_null_sd_classes` of the test split's
    class counts, read from the frame's ``n_cases/<class>`` rows (:func:`chance_frame` writes them); every other
    metric has margin 0. Where a class has no test case the run's AUC is undefined and so is the margin (NaN).

    Args:
        chance: :func:`chance_frame` rows.

    Returns:
        A Series indexed by ``(seed, task, metric)`` of the primary metrics: the margin (0 where none applies).

    Raises:
        ValueError: an AUC task without its class counts (a frame written before they were recorded; compute it
            again with :func:`chance_frame`).
    """
    import pandas as pd

    counted = chance[chance["metric"].astype(str).str.startswith("n_cases/")]
    counted = counted.assign(k=counted["metric"].str.split("/").str[1].astype(int)).sort_values("k")
    class_counts = {key: [round(float(v)) for v in part["value"]] for key, part in counted.groupby(["seed", "task"])}
    out = {}
    for (seed, task, metric), _ in chance[chance["primary"].astype(bool)].groupby(["seed", "task", "metric"]):
        margin = 0.0
        if metric == "auc":
            if (seed, task) not in class_counts:
                raise ValueError(
                    f"the chance frame has no class counts (n_cases/<class> rows) for task {task!r}, seed {seed}; "
                    "compute it again with mtdl_kit.lab.chance.chance_frame."
                )
            counts = class_counts[(seed, task)]
            margin = AUC_MARGIN_Z * auc_null_sd_classes(counts) if min(counts) > 0 else math.nan
        out[(seed, task, metric)] = margin
    index = pd.MultiIndex.from_tuples(list(out), names=["seed", "task", "metric"])
    return pd.Series(list(out.values()), index=index, name="margin", dtype=float)


def with_chance_columns(table: Any, cfg: Any, region: str, name: str) -> Any:
    """``table`` (rows of ``seed, task, metric``: primary metrics of runs trained under ``cfg``) with each row's
    chance level and margin, as ``chance_<name>`` and ``margin_<name>`` (:func:`chance_frame` on the test split,
    :func:`chance_margins`); ``bench_families.py --retrain-with`` writes them for both configurations it compares.

    Raises:
        KeyError: a row whose seed, task or metric has no primary chance level under ``cfg``.
    """
    frame = chance_frame(cfg, region, cfg.task_names(), sorted({int(s) for s in table["seed"]}))
    levels = frame.set_index(["seed", "task", "metric"])["value"]
    margins = chance_margins(frame)
    keys = list(zip(table["seed"], table["task"], table["metric"], strict=True))
    return table.assign(**{f"chance_{name}": [levels[k] for k in keys], f"margin_{name}": [margins[k] for k in keys]})


def beats_chance(value: float, level: float, metric: str, margin: float = 0.0) -> bool:
    """Whether ``value`` of ``metric`` is better than its chance ``level`` by more than ``margin``
    (:func:`chance_margins`; ``False`` if either is NaN)."""
    from mtdl_kit.metrics import higher_is_better

    sign = 1.0 if higher_is_better(metric) else -1.0
    return bool(sign * (value - level) > margin)


def runs_beating_chance(runs: Any, chance: Any, *, group: str = "arm") -> Any:
    """Each run's primary metric beside its seed's chance level.

    Args:
        runs: a lab runs frame (``seed, <group>, task, metric, value`` …), e.g. ``transfer_g_*_runs.csv``.
        chance: :func:`chance_frame` for the same seeds and tasks.
        group: the column that names the arm (``"arm"`` in experiment G, ``"condition"`` in E).

    Returns:
        One row per ``group``, seed and task of the chance frame's metrics: ``value``, ``chance``, ``margin``
        (:func:`chance_margins`), ``excess`` (how much better than chance, in the metric's units, positive when
        better) and ``beats`` (``excess`` above the margin).

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
    margins = chance_margins(chance)
    out["margin"] = [margins[key] for key in zip(out["seed"], out["task"], out["metric"], strict=True)]
    out["excess"] = (sign * (merged["value"] - merged["value_c"])).to_numpy()
    out["beats"] = out["excess"] > out["margin"]
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
        rows = rows.assign(within=(rows["excess"] > 0) & ~rows["beats"])
        counts = rows.groupby(group, sort=False).agg(
            sum=("beats", "sum"), count=("beats", "count"), within=("within", "sum")
        )
        margin = rows["margin"].max()
        short = [
            f"{arm} {int(c['count'] - c['sum'])} of {int(c['count'])}"
            + (f" ({int(c['within'])} above it by less)" if c["within"] else "")
            for arm, c in counts.iterrows()
            if c["sum"] < c["count"]
        ]
        by = (
            f" by more than {margin:.3f} ({AUC_MARGIN_Z} null standard deviations of the AUC on these test cases)"
            if rows["within"].any()
            else ""
        )
        if short:
            out.append(f"{task}: runs that do not beat chance{by} — {'; '.join(short)}.")
        else:
            out.append(f"{task}: every run beats chance.")
    return out


def replay_chance_guard(cfg: Any, curves: Any, runs: Any, val_chance: Any) -> Any:
    """Which of experiment G's runs the chance guard of :class:`~mtdl_kit.stopping.ValidationStopping` would
    have changed, from their committed validation curves alone (nothing is trained).

    Each network's curve is fed through the rule it ran under (``cfg``'s :meth:`stopping_rule`: unguarded, or
    guarded by its seed's validation chance levels where ``cfg.chance_guard`` is on) and through two guarded rules:
    patience counts once every task beats its validation chance level (``guarded``), or beats it by the level's
    margin (``guarded_margin``: an AUC by :func:`chance_margins` of the validation split, 0.09–0.14 on its
    64 cases; other metrics as they are — the guard of a run trained with it compares its AUC with the level
    alone, so a noisy validation AUC above 0.5 lets patience start). The first replay should reproduce the
    recorded stop (the curves are rounded to 4 decimals, so a run whose last improvements were below that can
    replay earlier; ``replay_matches`` says whether it did). Where a guarded replay parts from the first one, that
    guard would have kept the run training (``changed``, ``changed_margin``) and its result is not known without
    training it. A run the first replay takes to the cap is never changed: a guard only delays stops.

    Args:
        cfg: the :class:`~mtdl_kit.lab.families.FamiliesConfig` the runs were trained under.
        curves: ``transfer_g_<region>_<run>_curves.csv`` (``arm, seed, task, step, value``).
        runs: ``transfer_g_<region>_<run>_runs.csv`` (for each network's ``steps_run``).
        val_chance: :func:`chance_frame` with ``split="val"`` for the runs' seeds.

    Returns:
        One row per arm, seed and network (``"all"`` or the task of a single-task network): ``steps_run``,
        ``replayed`` (the stop of the rule it ran under, the cap when it never stops), ``replay_matches``, then per
        guard (suffix ``""`` or ``"_margin"``): ``guarded`` (its stop within the recorded curve, NaN when it would
        go on), ``at_chance`` (the tasks not yet past the guard's level at the recorded stop) and ``changed``.
    """
    import pandas as pd

    from mtdl_kit.metrics import higher_is_better, primary_metric
    from mtdl_kit.regions import get_region

    region = get_region(cfg.region)
    levels = val_chance[val_chance["primary"].astype(bool)].set_index(["seed", "task"])["value"]
    margins = chance_margins(val_chance).reset_index(level="metric", drop=True)
    steps = runs.drop_duplicates(["arm", "seed", "task"]).set_index(["arm", "seed", "task"])["steps_run"]
    rows = []
    for (arm, seed), part in curves.groupby(["arm", "seed"], sort=False):
        groups = [[t] for t in part["task"].unique()] if arm.startswith("single") else [list(part["task"].unique())]
        for names in groups:
            tasks = region.select_tasks(names)
            monitor = {t.name: f"{t.name}/{primary_metric(t)}" for t in tasks}
            wide = part[part["task"].isin(names)].pivot(index="step", columns="task", values="value").sort_index()
            evaluations = [(int(step), {monitor[t]: float(v) for t, v in row.items()}) for step, row in wide.iterrows()]
            guard = {t.name: float(levels[(seed, t.name)]) for t in tasks}
            sign = {t.name: 1.0 if higher_is_better(primary_metric(t)) else -1.0 for t in tasks}
            strict = {name: level + sign[name] * float(margins[(seed, name)]) for name, level in guard.items()}
            ran = cfg.stopping_rule(tasks, chance=guard)  # the levels are ignored where cfg.chance_guard is off
            replayed = ran.replay(evaluations)
            recorded = int(steps[(arm, seed, names[0])])
            row = {
                "arm": arm,
                "seed": seed,
                "network": "all" if len(names) > 1 or not arm.startswith("single") else names[0],
                "steps_run": recorded,
                "replayed": cfg.max_steps if replayed is None else replayed,
                "replay_matches": (cfg.max_steps if replayed is None else replayed) == recorded,
            }
            for suffix, bar in (("", guard), ("_margin", strict)):
                rule = _guarded(cfg, tasks, bar)
                stop = rule.replay(evaluations)
                row[f"guarded{suffix}"] = float("nan") if stop is None else stop
                row[f"at_chance{suffix}"] = ", ".join(m.split("/")[0] for m in rule.at_chance)
                row[f"changed{suffix}"] = replayed is not None and stop != replayed
            rows.append(row)
    return pd.DataFrame(rows)


def _guarded(cfg: Any, tasks: Sequence[Any], chance: dict[str, float]) -> Any:
    """``cfg``'s stopping rule for ``tasks`` with the chance guard (task name -> validation chance level)."""
    return replace(cfg, chance_guard=True).stopping_rule(tasks, chance=chance)


def copy_input_frame(cfg: Any, region: str, tasks: Sequence[str], *, seed: int = 0) -> Any:
    """One row per reconstruction task of ``tasks`` and metric: the noisy input returned unchanged, on the test split.

    A denoising network has a floor that needs no training (:func:`~mtdl_kit.evaluation.copy_input_level`, through
    the same evaluation as a network); a network above it has not learnt even to pass the image through.

    Args:
        cfg: the experiment's :class:`~mtdl_kit.lab.protocol.LabProtocol` (its splits and image size).
        region: region name.
        tasks: task names (those that are not reconstructions are left out).
        seed: the seed whose splits are built; the test split is the same for every seed.

    Returns:
        A DataFrame with :data:`COPY_INPUT_COLUMNS`; no rows when ``tasks`` has no reconstruction.
    """
    import pandas as pd

    from mtdl_kit.evaluation import copy_input_level
    from mtdl_kit.regions import get_region

    spec = get_region(region)
    specs = [t for t in spec.select_tasks(list(tasks)) if t.kind == "reconstruction"]
    rows = []
    if specs:
        test = cfg.splits(region, [t.name for t in specs], seed)[2]
        level = copy_input_level(specs, test, region=spec)
        for task in specs:
            for metric, value in level.metrics[task.name].items():
                if metric != "n_cases":  # a column here
                    rows.append({"task": task.name, "metric": metric, "value": float(value), "n_cases": len(test)})
    return pd.DataFrame(rows, columns=list(COPY_INPUT_COLUMNS))


def runs_against_copy_input(runs: Any, floor: Any, *, group: str = "arm") -> Any:
    """Each reconstruction run beside the noisy input's score (:func:`copy_input_frame`).

    Args:
        runs: a lab runs frame (``seed, <group>, task, metric, value`` …), e.g. ``transfer_g_*_runs.csv``.
        floor: :func:`copy_input_frame` of the same test split.
        group: the column that names the arm.

    Returns:
        One row per ``group``, seed, task and metric of ``floor``: ``value``, ``copy_input`` and ``worse`` (the run's
        error is above the copy's).

    Raises:
        ValueError: ``floor`` is empty, or ``runs`` has none of its tasks and metrics.
    """
    from mtdl_kit.metrics import higher_is_better

    if floor.empty:
        raise ValueError("the copy-input frame has no reconstruction task; a copy of the input is no floor here.")
    merged = runs.merge(floor[["task", "metric", "value"]], on=["task", "metric"], suffixes=("", "_c"))
    if merged.empty:
        raise ValueError("runs and the copy-input frame share no task and metric; pass the frame of these runs.")
    sign = merged["metric"].map(lambda m: 1.0 if higher_is_better(m) else -1.0)
    out = merged[[group, "seed", "task", "metric", "value"]].copy()
    out["copy_input"] = merged["value_c"].to_numpy()
    out["worse"] = (sign * (merged["value"] - merged["value_c"]) < 0).to_numpy()
    return out.reset_index(drop=True)


def copy_input_reading(runs: Any, floor: Any, *, group: str = "arm") -> list[str]:
    """Sentences computed from the runs and :func:`copy_input_frame`: per reconstruction task and metric, the copy's
    score and, per arm, the runs worse than it with the arm's median.

    Args:
        runs, floor, group: as :func:`runs_against_copy_input`.
    """
    paired = runs_against_copy_input(runs, floor, group=group)
    out = []
    for (task, metric), rows in paired.groupby(["task", "metric"], sort=False):
        level = rows["copy_input"].iloc[0]
        n_cases = int(floor[(floor["task"] == task) & (floor["metric"] == metric)]["n_cases"].iloc[0])
        parts = [
            f"{arm} {int(part['worse'].sum())} of {len(part)} (median {part['value'].median():.4f})"
            for arm, part in rows.groupby(group, sort=False)
        ]
        out.append(
            f"{task} ({metric}): {COPY_INPUT_WORDS} scores {level:.4f} on the same {n_cases} test cases. "
            f"Runs worse than that, per arm: {'; '.join(parts)}."
        )
    return out
