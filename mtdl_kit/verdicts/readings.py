"""Markdown readings of the results tables, computed by the one verdict rule: a region's families and
negative-transfer rows, the tables with rows for a region, a transfer-lab summary and the starved task
(:mod:`mtdl_kit.verdicts`)."""

from __future__ import annotations

from pathlib import Path

from mtdl_kit.results import load_results
from mtdl_kit.verdicts.core import (
    BETTER,
    KEYS,
    WORSE,
    load_verdict_table,
    metric_unit,
    shares_layers,
    verdict,
    verdicts,
)


def family_reading(region: str, *, root: str | Path | None = None) -> list[str]:
    """Markdown bullets for one region's ``families`` rows: each family's verdict, and which leads.

    The closing line names the family with the highest Δm only as *highest*; it says whether any
    family is better than the single-task baselines, and whether the leader's interval overlaps
    the runner-up's (then the ranking is not established by these seeds).
    """
    table = verdicts("families", root=root, region=region).sort_values("value", ascending=False)
    if table.empty:
        raise LookupError(f"The families table has no rows for region {region!r}.")
    lines = []
    for _, r in table.iterrows():
        seeds = f" over {r['n_seeds']} seeds" if r["n_seeds"] else ""
        note = ""
        if r["verdict"] == WORSE:
            note = (
                " — a cascade shares no layers, so this is not negative transfer"
                if not shares_layers(r["family"])
                else " — this table has no control, so it does not say why (shared capacity, training budget or "
                "conflicting tasks)"
            )
        lines.append(f"- **{r['family']}**: {r['text']}{seeds}{note}.")
    first, second = table.iloc[0], table.iloc[1] if len(table) > 1 else None
    better = table[table["verdict"] == BETTER]["family"].tolist()
    lines.append("")
    lead = f"Highest Δm: **{first['family']}** ({first['value']:+.1f} %)"
    if second is not None and first["ci_low"] <= second["ci_high"]:
        lead += f"; its interval overlaps that of {second['family']}, so these seeds do not rank the two"
    lines.append(lead + ".")
    lines.append(
        f"Better than the single-task baselines: {', '.join(better)}."
        if better
        else "No family is better than the single-task baselines on this region."
    )
    return lines


def negative_transfer_reading(region: str, *, root: str | Path | None = None) -> list[str]:
    """Sentences on the ``negative_transfer`` table for one region, with the control.

    The table trains the main task with an auxiliary task whose label follows a nuisance (the row
    with a nuisance) and, as the control, with the related auxiliary task (``none (related)``).
    Negative transfer *caused by the conflicting task* is claimed only when the nuisance row is
    worse than the single-task baseline **and** its interval lies below the control's (a
    conservative reading: the table has no paired difference of the two rows).
    """
    table = verdicts("negative_transfer", root=root, region=region)
    if table.empty:
        return []
    control = table[table["nuisance"].astype(str).str.startswith("none")]
    out = []
    for _, r in table[~table.index.isin(control.index)].iterrows():
        text = f"{r['main_task']} with the auxiliary {r['aux_task']} driven by {r['nuisance']}: {r['text']}"
        if control.empty:
            out.append(text + "; no control row, so no causal reading.")
            continue
        c = control.iloc[0]
        text += f"; with the related auxiliary task (control): {c['text']}"
        if r["verdict"] == WORSE and r["ci_high"] < c["ci_low"]:
            out.append(text + " — negative transfer from the conflicting task: it costs more than the control.")
        elif r["verdict"] == WORSE:
            out.append(
                text + " — both cost the main task and their intervals overlap: the conflicting task costs no "
                "detectably more than the related one, so this does not show negative transfer from the conflict."
            )
        else:
            out.append(text + ".")
    return out


#: what each of tables 2-6 compares, for :func:`region_reading`
_TABLE_TITLES: dict[str, str] = {
    "relatedness": "Relatedness (table 2): the parallel network vs single-task baselines as the label's coupling "
    "to the mask varies",
    "data_size": "Training-set size (table 3): the parallel network vs single-task baselines",
    "cascade": "Cascades (table 5): the classification task of each design vs a direct single-task classifier",
    "weighting": "Loss weighting (table 6): the parallel network under each method vs single-task baselines",
}


def quality_generator_note(region: str, *, root: str | Path | None = None) -> str:
    """A caveat when the quality tables' rows of ``region`` were measured on an older phantom generator; else ``""``.

    ``benchmarks/bench_quality.py`` records each region's generator version with the tables
    (``quality_generators.csv``); a region whose generator changed since (e.g. the brain's and the abdomen's
    medical corrections, version 2) still has rows that describe the old phantom until the tables are rerun.
    """
    from mtdl_kit.regions import get_region

    measured = load_results("quality_generators", root=root, region=region)
    if measured.empty:
        return ""
    then, now = str(measured["generator_version"].iloc[0]), get_region(region).generator_version
    if then == now:
        return ""
    return (
        f"*Caveat: the quality tables' {region} rows (tables 1-6) were measured on generator version {then}; the "
        f"{region} phantom is now version {now} (see `mtdl_kit/regions/{region}.py`), so these rows describe the "
        f"older phantom until `benchmarks/bench_quality.py` is rerun.*"
    )


def region_reading(region: str, *, root: str | Path | None = None) -> str:
    """Markdown with every verdict of tables 2-6 that has rows for ``region`` (the families are table 1).

    Regions without rows in a table are named once at the end, so a learner sees what was not measured.
    """
    parts, absent = [], []
    if note := quality_generator_note(region, root=root):
        parts += [note, ""]
    for table in ("relatedness", "data_size", "negative_transfer", "cascade", "weighting"):
        try:
            rows = verdicts(table, root=root, region=region)
        except FileNotFoundError:
            rows = None
        if rows is None or rows.empty:
            absent.append(table)
            continue
        if table == "negative_transfer":
            parts.append("**Negative transfer (table 4)** — the main task trained beside an auxiliary task, Δm of "
                         "the main task:\n")  # fmt: skip
            parts += [f"- {line}" for line in negative_transfer_reading(region, root=root)]
            parts.append("")
            continue
        keys = [k for k in KEYS[table] if k != "region"]
        parts.append(f"**{_TABLE_TITLES[table]}** (Δm):\n")
        for _, r in rows.iterrows():
            label = ", ".join(f"{k} {r[k]}" for k in keys)
            seeds = f" ({r['n_seeds']} seeds)" if r["n_seeds"] else ""
            parts.append(f"- {label}: {r['text']}{seeds}")
        parts.append("")
    if absent:
        parts.append(f"No rows for {region} in: {', '.join(absent)}.")
    return "\n".join(parts)


def transfer_reading(table: str = "transfer_a_headline", *, root: str | Path | None = None) -> str:
    """Markdown bullets for the transfer lab's paired contrasts (``transfer_<experiment>_<run>``), per budget."""
    rows = verdicts(table, root=root)
    lines = []
    for _, r in rows.iterrows():
        lines.append(f"- {r['budget']} main-task labels, {r['contrast']} ({r['task']}): {r['text']}")
    return "\n".join(lines)


# ------------------------------------------------------------------ experiment E: the starved task
#: the reference condition of experiment E (:data:`mtdl_kit.lab.starved.REFERENCE`): EW on raw targets
STARVED_REFERENCE = "ew-raw"


def starved_table_reading(run: str = "musculoskeletal_headline", *, root: str | Path | None = None) -> str:
    """Markdown bullets for the starved task's summary (``starved_<region>_<run>_summary.csv``), per task.

    Per task: the reference (EW on raw targets) and every other condition's mean, with its contrast
    against the reference (+ = better, errors flipped) read by the one verdict rule; then, from
    ``..._runs.csv``, each task's training loss under the reference (first evaluation and last
    steps) and how many runs of each condition were still improving when they stopped (best
    checkpoint = the last evaluation): a comparison there is at a budget, not at a plateau.
    """
    import pandas as pd

    from mtdl_kit.results import results_dir

    table = f"starved_{run}"
    frame, _ = load_verdict_table(table, root)
    runs_path = Path(root or results_dir()) / f"{table}_runs.csv"
    runs = pd.read_csv(runs_path) if runs_path.exists() else None
    lines = []
    for task in dict.fromkeys(frame["task"]):
        rows = frame[frame["task"] == task]
        metric = str(rows["metric"].iloc[0])
        means = rows[rows["contrast"] == "mean"].set_index("condition")
        n = int(means["n_seeds"].max())
        lines.append(
            f"- **{task}** ({metric}, {n} seeds): {STARVED_REFERENCE} {means.loc[STARVED_REFERENCE, 'value']:.3f}"
        )
        for _, r in rows[rows["contrast"] != "mean"].iterrows():
            v = verdict(r["value"], r["ci_low"], r["ci_high"], unit=metric_unit(metric))
            lines.append(f"  - {r['condition']} {means.loc[r['condition'], 'value']:.3f}: {v}")
    if runs is not None and {"loss_early", "loss_late"} <= set(runs.columns):
        ref = runs[runs["condition"] == STARVED_REFERENCE].drop_duplicates(["seed", "task"])
        early, late = ref.groupby("task")["loss_early"].median(), ref.groupby("task")["loss_late"].median()
        tasks = ", ".join(f"{t} {early[t]:.3g} → {late[t]:.3g}" for t in early.index)
        lines.append(
            f"- training loss under {STARVED_REFERENCE} (median over seeds; first evaluation → last steps): {tasks}"
        )
    if runs is not None:
        per_run = runs.drop_duplicates(["seed", "condition"])
        open_ended = per_run[per_run["best_step"] >= per_run["steps_run"]].groupby("condition").size()
        total = per_run.groupby("condition").size()
        parts = [f"{c} {int(open_ended.get(c, 0))} of {int(total[c])}" for c in total.index]
        lines.append(
            "- still improving when they stopped (best checkpoint at the last evaluation): " + ", ".join(parts)
        )
    return "\n".join(lines)
