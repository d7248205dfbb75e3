"""Experiment C (the relatedness crossover) read seed by seed: :func:`crossover_seeds`, a seed-level
bootstrap of any weighted contrast (:func:`seed_contrast`) and the lab's own contrasts in words
(:mod:`mtdl_kit.verdicts`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mtdl_kit.verdicts.core import Verdict, load_verdict_table, metric_unit, verdict

# ------------------------------------------------------------------ experiment C: the crossover
#: the two label rules of the crossover and its arms (:mod:`mtdl_kit.lab.crossover`)
CROSSOVER_RULES: tuple[str, ...] = ("A", "B")
CROSSOVER_ARMS: tuple[str, ...] = ("none", "related", "unrelated", "shuffled")
#: contrasts of the crossover as weights on the ``"rule:arm"`` columns of :func:`crossover_seeds`;
#: the first four are the rows of ``transfer_c_<region>_<run>_summary.csv`` (same names, same weights)
CROSSOVER_CONTRASTS: dict[str, dict[str, float]] = {
    "interaction": {"A:related": 0.5, "A:unrelated": -0.5, "B:related": 0.5, "B:unrelated": -0.5},
    "A: related - unrelated": {"A:related": 1.0, "A:unrelated": -1.0},
    "B: related - unrelated": {"B:related": 1.0, "B:unrelated": -1.0},
    "difficulty: none B - none A": {"B:none": 1.0, "A:none": -1.0},
    "A: shuffled - none": {"A:shuffled": 1.0, "A:none": -1.0},
    "B: shuffled - none": {"B:shuffled": 1.0, "B:none": -1.0},
    "A: unrelated - none": {"A:unrelated": 1.0, "A:none": -1.0},
    "B: unrelated - none": {"B:unrelated": 1.0, "B:none": -1.0},
}


def _crossover_runs(run: str, root: str | Path | None) -> Any:
    from mtdl_kit.results import load_transfer

    try:
        return load_transfer("runs", experiment="c", run=run, root=root)
    except FileNotFoundError as err:
        raise FileNotFoundError(f"{err} (the crossover: benchmarks/bench_crossover.py)") from None


def crossover_seeds(
    run: str = "eye_headline",
    *,
    budget: int | None = None,
    task: str | None = None,
    metric: str = "auc",
    root: str | Path | None = None,
) -> Any:
    """The crossover's per-seed results: one row per seed, one column per ``"rule:arm"``.

    Args:
        run: ``<region>_<run>`` of ``benchmarks/results/transfer_c_<region>_<run>_runs.csv``.
        budget: main-task labels (default: the table's only budget).
        task: the main task (default: the task every arm reports, e.g. ``glaucoma``).
        metric: its metric (default ROC-AUC, the lab's primary metric of a binary label).
        root: folder of the CSVs (default: the bundled ``benchmarks/results/``).

    Returns:
        A DataFrame indexed by ``seed`` with columns ``A:none``, ``A:related``, ... ``B:shuffled``;
        ``attrs`` holds ``run``, ``budget``, ``task`` and ``metric``.

    Raises:
        ValueError: several budgets and none chosen, or a seed that lacks an arm (a partial run:
            the pairing needs every arm of every seed); FileNotFoundError: no such table.
    """
    frame = _crossover_runs(run, root)
    budgets = sorted(frame["budget"].unique())
    if budget is None:
        if len(budgets) != 1:
            raise ValueError(f"transfer_c_{run} has budgets {budgets}; choose one with budget=.")
        budget = int(budgets[0])
    if task is None:
        per_arm = frame.groupby(["rule", "arm"])["task"].apply(set)
        common = set.intersection(*per_arm)
        if len(common) != 1:
            raise ValueError(f"transfer_c_{run}: the arms share the tasks {sorted(common)}; choose one with task=.")
        (task,) = common
    rows = frame[(frame["budget"] == budget) & (frame["task"] == task) & (frame["metric"] == metric)]
    if rows.empty:
        raise ValueError(f"transfer_c_{run} has no {task} {metric} at budget {budget}.")
    table = rows.assign(column=rows["rule"] + ":" + rows["arm"]).pivot(index="seed", columns="column", values="value")
    wanted = [f"{rule}:{arm}" for rule in CROSSOVER_RULES for arm in CROSSOVER_ARMS]
    absent = [c for c in wanted if c not in table.columns]
    gaps = table.reindex(columns=wanted).isna()
    if absent or gaps.to_numpy().any():
        seeds = sorted(table.index[gaps.any(axis=1)].tolist())
        raise ValueError(
            f"transfer_c_{run} is partial (missing arms {absent}, incomplete seeds {seeds}); a paired reading "
            "needs every arm of every seed."
        )
    table = table[wanted].sort_index()
    table.columns.name = None
    table.attrs.update(run=run, budget=int(budget), task=task, metric=metric)
    return table


def seed_bootstrap(
    values: Any, *, n_boot: int = 2000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """Mean of per-seed values with a percentile bootstrap CI that resamples seeds.

    The values are one number per training seed (e.g. a per-seed difference of two arms, paired by
    seed). The test cases are fixed here: :func:`~mtdl_kit.evaluation.paired_contrast`, which the lab
    uses, resamples them too (a hierarchical bootstrap), so the lab's interval is the one to quote.

    Returns:
        ``(mean, ci_low, ci_high)``.

    Raises:
        ValueError: fewer than two values, or a value that is not finite.
    """
    x = np.asarray(values, dtype=float).ravel()
    if x.size < 2 or not np.isfinite(x).all():
        raise ValueError(f"seed_bootstrap needs at least two finite per-seed values, got {x.tolist()}.")
    rng = np.random.default_rng(seed)
    means = x[rng.integers(x.size, size=(n_boot, x.size))].mean(axis=1)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return float(x.mean()), float(low), float(high)


def seed_contrast(
    table: Any,
    weights: dict[str, float],
    *,
    n_boot: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    what: str = "",
) -> Verdict:
    """A weighted contrast of the columns of :func:`crossover_seeds`, paired by seed, with its verdict.

    ``d_s = Σ_arm weight · table[arm]_s`` for every seed ``s``, then :func:`seed_bootstrap` of the
    ``d_s``. Positive means the positively weighted arms are better (ROC-AUC: higher is better).

    Args:
        table: :func:`crossover_seeds` (or any seed × arm table of one metric).
        weights: column -> coefficient, e.g. :data:`CROSSOVER_CONTRASTS` ``["interaction"]``.

    Raises:
        ValueError: no weights, or a weight on a column the table lacks.
    """
    names = [k for k, w in weights.items() if w != 0]
    unknown = [k for k in names if k not in table.columns]
    if not names or unknown:
        raise ValueError(f"weights name columns {unknown or list(weights)}; the table has {list(table.columns)}.")
    per_seed = sum(float(weights[k]) * table[k].to_numpy(dtype=float) for k in names)
    value, low, high = seed_bootstrap(per_seed, n_boot=n_boot, confidence=confidence, seed=seed)
    unit = str(table.attrs.get("metric", "")).upper() or "units"
    return verdict(value, low, high, unit=unit, n_seeds=len(table), what=what or _weights_text(weights))


def _weights_text(weights: dict[str, float]) -> str:
    terms = [f"{'+' if w > 0 else '−'} {abs(w):g}·{k}" for k, w in weights.items() if w != 0]
    return " ".join(terms).lstrip("+ ")


def crossover_arms(run: str = "eye_headline", *, root: str | Path | None = None) -> Any:
    """Per rule and arm: its auxiliary task, median auxiliary Dice, mean main-task metric, seeds.

    The auxiliary Dice shows whether an arm learnt its own mask: an unrelated arm that segments its
    feature well and still does not help the label separates "relatedness" from "segmentation quality".
    """
    import pandas as pd

    frame = _crossover_runs(run, root)
    table = crossover_seeds(run, root=root)
    main, metric, budget = table.attrs["task"], table.attrs["metric"], table.attrs["budget"]
    frame = frame[frame["budget"] == budget]
    rows = []
    for rule in CROSSOVER_RULES:
        for arm in CROSSOVER_ARMS:
            these = frame[(frame["rule"] == rule) & (frame["arm"] == arm)]
            aux = sorted(set(these["task"]) - {main})
            dice = these[(these["task"].isin(aux)) & (these["metric"] == "dice")]["value"]
            rows.append(
                {
                    "rule": rule,
                    "arm": arm,
                    "auxiliary task": ", ".join(aux) or "–",
                    "median aux Dice": float(dice.median()) if len(dice) else float("nan"),
                    f"mean {main} {metric}": float(table[f"{rule}:{arm}"].mean()),
                    "seeds": len(table),
                }
            )
    return pd.DataFrame(rows)


def crossover_table_reading(
    run: str = "eye_headline", *, root: str | Path | None = None, matched_within: float = 0.03
) -> str:
    """Markdown bullets for the crossover's summary (``transfer_c_<region>_<run>_summary.csv``), per budget.

    The interaction, each rule's related − unrelated, and the single-task difficulty of the two rules
    (the ``none`` arms' means and their paired difference), each with the lab's interval and verdict.
    """
    from mtdl_kit.regions import get_region

    table = f"transfer_c_{run}"
    frame, _ = load_verdict_table(table, root)
    seeds = crossover_seeds(run, root=root).index.tolist()
    coupling = get_region(run.split("_", 1)[0]).coupling
    rules = {"A": coupling.rule, "B": coupling.other_rule}
    lines = []
    for budget in sorted(frame["budget"].unique()):
        rows = frame[frame["budget"] == budget].set_index("contrast")

        def text(name: str, rows: Any = rows) -> str:
            r = rows.loc[name]
            return str(verdict(r["value"], r["ci_low"], r["ci_high"], unit=metric_unit(r["metric"])))

        none_a, none_b = float(rows.loc["mean A: none", "value"]), float(rows.loc["mean B: none", "value"])
        matched = abs(none_b - none_a) <= matched_within
        at_chance = str(rows["metric"].iloc[0]) == "auc" and max(abs(none_a - 0.5), abs(none_b - 0.5)) <= 0.05
        chance = " — both at chance level (ROC-AUC 0.5 ± 0.05)" if at_chance else ""
        lines += [
            f"- {budget} main-task labels, {len(seeds)} seeds ({seeds[0]}–{seeds[-1]}):",
            f"  - **interaction** ½[(related − unrelated) under A + (related − unrelated) under B]: "
            f"{text('interaction')}",
            f"  - rule A ({rules['A']}), related − unrelated: {text('A: related - unrelated')}",
            f"  - rule B ({rules['B']}), related − unrelated: {text('B: related - unrelated')}",
            f"  - single-task difficulty: {none_a:.3f} under A, {none_b:.3f} under B; B − A: "
            f"{text('difficulty: none B - none A')}; {'matched' if matched else 'NOT matched'} within "
            f"±{matched_within}{chance}",
        ]
    return "\n".join(lines)
