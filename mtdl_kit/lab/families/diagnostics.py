"""Did the early stop decide a comparison of experiment G? Which runs of a task the rule ended before the
step cap, and each family's gain against single-task networks trained to the cap instead
(:mod:`mtdl_kit.lab.families`).
"""

from __future__ import annotations

from typing import Any

from mtdl_kit.lab.families.config import rule_of


def stop_outcomes(runs: Any, task: str, metric: str) -> Any:
    """Per arm: ``task``'s runs that the stopping rule ended before the step cap against those that reached it.

    A task that learns late — a landmark heat map that stays blank for hundreds of steps — loses runs to
    a patience rule: the validation metric does not move on the plateau, patience runs out, and the best
    (blank) checkpoint is kept. This table shows whether an arm's poor mean comes from such runs.

    Args:
        runs: a runs table of experiment G (:attr:`FamiliesResult.runs_frame`, or its committed CSV).
        task: the task.
        metric: one of its metrics in the table.

    Returns:
        One row per arm: ``runs``, ``stopped_early`` (runs that ended before the cap), ``median_stopped`` and
        ``median_at_cap`` (the metric's median over each group; NaN for an empty group), ``latest_best_stopped``
        (the latest best step among the early-stopped runs) and ``earliest_best_at_cap``.

    Raises:
        ValueError: no rows for ``task`` and ``metric``.
    """
    import pandas as pd

    rows = runs[(runs["task"] == task) & (runs["metric"] == metric)]
    if rows.empty:
        raise ValueError(
            f"no runs of task {task!r} with metric {metric!r}; the table's tasks are {sorted(runs['task'].unique())}."
        )
    out = []
    for arm, part in rows.groupby("arm", sort=False):
        capped = part["at_cap"].astype(bool)
        early, full = part[~capped], part[capped]
        out.append(
            {
                "arm": arm,
                "runs": len(part),
                "stopped_early": len(early),
                "median_stopped": early["value"].median() if len(early) else float("nan"),
                "median_at_cap": full["value"].median() if len(full) else float("nan"),
                "latest_best_stopped": early["best_step"].max() if len(early) else float("nan"),
                "earliest_best_at_cap": full["best_step"].min() if len(full) else float("nan"),
            }
        )
    return pd.DataFrame(out)


def substituted_baseline(
    runs: Any, unstopped: Any, task: str, metric: str, *, n_boot: int = 4000, seed: int = 0
) -> Any:
    """Each family's per-seed ``task`` difference from its rule's single-task network, against the single-task
    networks as the rule stopped them and with those it stopped early replaced by their runs to the cap.

    The question is whether a family's gain survives a stronger baseline: the early stop could have cut the
    single-task networks short (:func:`unstopped_run`). The committed CSVs hold each network's metric but
    not its per-case records, so the interval is over seeds alone (:func:`~mtdl_kit.evaluation.seed_bootstrap_mean`,
    the same bootstrap generator for both baselines); read it beside the hierarchical interval of the seed
    set's summary, which also resamples test cases.

    Args:
        runs: the seed set's runs table (``transfer_g_<region>_<run>_runs.csv``).
        unstopped: its ``..._unstopped.csv`` (``benchmarks/bench_families.py --unstopped``).
        task: the task compared.
        metric: its metric (in both tables).

    Returns:
        One row per rule, family arm and baseline (``"as stopped"``, ``"to the cap"``): ``rule``, ``arm``,
        ``single``, ``baseline``, ``value`` (mean over seeds, positive = the family is better), ``ci_low``,
        ``ci_high``, ``positive`` (seeds where the family is better), ``n_seeds``, ``substituted`` (seeds whose
        single-task network was replaced; 0 for ``"as stopped"``).

    Raises:
        ValueError: no runs or no unstopped rows of ``task`` and ``metric``, or unstopped rows of seeds or
            arms the runs table lacks.
    """
    import pandas as pd

    from mtdl_kit.evaluation import seed_bootstrap_mean
    from mtdl_kit.metrics import higher_is_better

    rows = runs[(runs["task"] == task) & (runs["metric"] == metric)]
    capped = unstopped[(unstopped["task"] == task) & (unstopped["metric"] == metric)]
    if rows.empty or capped.empty:
        raise ValueError(
            f"no {'runs' if rows.empty else 'unstopped runs'} of task {task!r} with metric {metric!r}: train them "
            "(benchmarks/bench_families.py, --unstopped TASK) first."
        )
    wide = rows.pivot(index="seed", columns="arm", values="value")
    to_cap = capped.set_index(["arm", "seed"])["unstopped"]
    foreign = [key for key in to_cap.index if key[0] not in wide.columns or key[1] not in wide.index]
    if foreign:
        raise ValueError(f"unstopped runs {foreign} are not networks of the runs table (another seed set?).")
    sign = 1.0 if higher_is_better(metric) else -1.0
    out = []
    for rule in sorted({rule_of(a) for a in wide.columns if a.startswith("single@")}):
        single = f"single@{rule}"
        stronger = wide[single].copy()
        swapped = [s for s in stronger.index if (single, s) in to_cap.index]
        for s in swapped:
            stronger[s] = to_cap[(single, s)]
        families = [a for a in wide.columns if not a.startswith("single") and rule_of(a) in ("", rule)]
        for arm in families:
            for baseline, base, n_swapped in (("as stopped", wide[single], 0), ("to the cap", stronger, len(swapped))):
                diff = sign * (wide[arm] - base)
                est = seed_bootstrap_mean(diff.to_numpy(), n_boot=n_boot, seed=seed)
                out.append(
                    {
                        "rule": rule,
                        "arm": arm,
                        "single": single,
                        "baseline": baseline,
                        "value": est.value,
                        "ci_low": est.ci_low,
                        "ci_high": est.ci_high,
                        "positive": int((diff > 0).sum()),
                        "n_seeds": len(diff),
                        "substituted": n_swapped,
                    }
                )
    return pd.DataFrame(out)
