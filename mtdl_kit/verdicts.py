"""Verdicts computed from the results tables: what a comparison's interval says, in words.

Every sentence of the lessons, the README or the dashboard that states an effect (helps, hurts,
best, worse) is meant to come from here, so that the text follows the numbers in
``benchmarks/results/*.csv`` when they are regenerated. The rule is the usual reading of a 95 %
confidence interval of a difference (Altman & Bland, "Absence of evidence is not evidence of
absence", *BMJ* 311:485, 1995):

- the interval lies above 0 → **better** (``"better: +4.1 % [+1.2, +7.0]"``);
- it lies below 0 → **worse**;
- it contains 0 → **no detectable difference** (not "no difference": the data cannot tell).

Tables: the six of :mod:`mtdl_kit.results` (Δm in %, ``delta_m``/``ci_low``/``ci_high``) and the
transfer lab's summaries ``transfer_<experiment>_<run>`` (``benchmarks/results/
transfer_a_headline_summary.csv``: paired contrasts in the metric's own units, ``value``/``ci_low``/
``ci_high``; the relatedness crossover's ``transfer_c_<region>_<run>``), and the starved task's
``starved_<region>_<run>`` (experiment E: each condition minus EW on raw targets, per task, signed so
that + is better). Rows without an interval (the reference row of ``cascade``, the arm means of the
transfer summaries) get no verdict.

The crossover (experiment C, :mod:`mtdl_kit.lab.crossover`) is also read seed by seed from its runs
table: :func:`crossover_seeds` gives one row per seed and one column per ``rule:arm``,
:func:`seed_contrast` any weighted contrast of those columns with a seed-level percentile bootstrap
(:func:`seed_bootstrap`), and :func:`crossover_table_reading` the lab's own contrasts in words.

"Negative transfer" is a causal claim: a shared representation made a task worse *because* of the
other task. :func:`negative_transfer_reading` uses the words only where something is shared and the
control row of ``negative_transfer`` supports it; a family that is merely worse than the
single-task baselines is called worse, nothing more (:func:`shares_layers`).

Fixed prose may state a verdict when it carries a machine-readable claim next to it, e.g.
``<!-- verdict families region=eye family=hybrid: worse -->``; :func:`check_claims` recomputes each
claim and ``tests/test_verdicts.py`` fails when one no longer holds. Values with spaces or colons are
quoted: ``<!-- verdict transfer_c_eye_headline budget=16 contrast="A: related - unrelated": better -->``.

Research and teaching use only — not for clinical use.
"""

from __future__ import annotations

import math
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mtdl_kit.results import TABLES, load_results

BETTER = "better"
WORSE = "worse"
NULL = "no detectable difference"
WORDS: tuple[str, ...] = (BETTER, WORSE, NULL)

#: columns that name one row of each table (a verdict's "what")
KEYS: dict[str, tuple[str, ...]] = {
    "families": ("region", "family"),
    "relatedness": ("region", "relatedness", "family"),
    "data_size": ("region", "n_train", "family"),
    "negative_transfer": ("region", "main_task", "aux_task", "nuisance"),
    "cascade": ("region", "model"),
    "weighting": ("region", "family", "weighting"),
}
#: ``transfer_a_headline``; the crossover's runs name their region: ``transfer_c_eye_headline``
_TRANSFER = re.compile(r"^transfer_(?P<experiment>[a-z])_(?P<run>[a-z0-9]+(?:_[a-z0-9]+)*)$")
_TRANSFER_KEYS = ("budget", "contrast", "task", "metric")
#: the benchmark that writes each experiment's tables (A is bench_transfer.py)
_TRANSFER_BENCH = {"b": "adversarial", "c": "crossover", "d": "cascade", "f": "conflict", "g": "families"}
#: the starved task (experiment E): ``starved_musculoskeletal_headline``
_STARVED = re.compile(r"^starved_(?P<region>[a-z]+)_(?P<run>[a-z0-9]+(?:_[a-z0-9]+)*)$")
_STARVED_KEYS = ("condition", "contrast", "task", "metric")

#: families whose tasks share layers (trunk, columns exchanging features); a cascade passes only
#: one task's output to the next and shares no layer
SHARING_FAMILIES: frozenset[str] = frozenset({"parallel", "interacted", "hybrid"})


@dataclass(frozen=True)
class Verdict:
    """What one interval says.

    Attributes:
        word: ``"better"``, ``"worse"`` or ``"no detectable difference"``.
        value: the point estimate (Δm in %, or a contrast in the metric's units).
        ci_low: lower end of the 95 % CI.
        ci_high: upper end.
        unit: ``"%"`` for Δm, else the metric's name (``"AUC"``).
        n_seeds: training seeds behind the interval, when the table records them.
        what: the comparison, e.g. ``"eye hybrid vs single-task baselines (Δm)"``.
    """

    word: str
    value: float
    ci_low: float
    ci_high: float
    unit: str = "%"
    n_seeds: int | None = None
    what: str = ""

    @property
    def detectable(self) -> bool:
        """The interval excludes 0."""
        return self.word != NULL

    def interval(self) -> str:
        """``"+4.1 % [+1.2, +7.0]"`` (Δm) or ``"+0.440 AUC [+0.359, +0.502]"`` (metric units)."""
        digits = 1 if self.unit == "%" else 3
        unit = " %" if self.unit == "%" else f" {self.unit}"
        return f"{self.value:+.{digits}f}{unit} [{self.ci_low:+.{digits}f}, {self.ci_high:+.{digits}f}]"

    def __str__(self) -> str:
        return f"{self.word}: {self.interval()}"


def verdict(
    value: float,
    ci_low: float,
    ci_high: float,
    *,
    unit: str = "%",
    n_seeds: int | None = None,
    what: str = "",
) -> Verdict:
    """The verdict of one difference (positive = better) from its 95 % confidence interval.

    Args:
        value: point estimate of the difference; positive means the compared arm is better
            (Δm and the transfer lab's contrasts are signed that way).
        ci_low: lower end of its CI.
        ci_high: upper end.
        unit: ``"%"`` for Δm, else the metric's name.
        n_seeds: seeds behind the interval (shown by :func:`sentence`).
        what: the comparison, for sentences.

    Returns:
        ``better`` when ``ci_low > 0``, ``worse`` when ``ci_high < 0``, else ``no detectable difference``.

    Raises:
        ValueError: a missing (NaN) or reversed interval.
    """
    low, high = float(ci_low), float(ci_high)
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"{what or 'this comparison'} has no confidence interval ({ci_low}, {ci_high}).")
    if low > high:
        raise ValueError(f"{what or 'this comparison'}: ci_low {low} is above ci_high {high}.")
    word = BETTER if low > 0 else WORSE if high < 0 else NULL
    return Verdict(word, float(value), low, high, unit, n_seeds, what)


def _load(table: str, root: str | Path | None) -> tuple[Any, tuple[str, ...]]:
    """(the table as a DataFrame with ``value``, ``ci_low``, ``ci_high``, ``unit`` columns, its key columns)."""
    import pandas as pd

    from mtdl_kit.results import results_dir

    if table in TABLES:
        frame = load_results(table, root=root)
        return frame.assign(value=frame["delta_m"], unit="%"), KEYS[table]
    transfer, starved = _TRANSFER.match(table), _STARVED.match(table)
    if transfer:
        keys = _TRANSFER_KEYS
        bench = f"benchmarks/bench_{_TRANSFER_BENCH.get(transfer.group('experiment'), 'transfer')}.py"
    elif starved:
        keys, bench = _STARVED_KEYS, "benchmarks/bench_starved.py"
    else:
        known = [
            *TABLES,
            "transfer_<experiment>_<run> (e.g. transfer_a_headline)",
            "starved_<region>_<run> (e.g. starved_musculoskeletal_headline)",
        ]
        raise ValueError(f"Unknown results table {table!r}; the tables are {known}.")
    path = Path(root or results_dir()) / f"{table}_summary.csv"
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist yet; run the transfer lab ({bench}).")
    frame = pd.read_csv(path)
    missing = [c for c in (*keys, "value", "ci_low", "ci_high") if c not in frame.columns]
    if missing:
        raise ValueError(f"{path} lacks the columns {missing}; regenerate it with {bench}.")
    return frame.assign(unit=frame["metric"].map(metric_unit)), keys


def metric_unit(metric: str) -> str:
    """How a contrast in ``metric`` is labelled: ``"auc"`` → ``"AUC"``, ``"mre_mm"`` → ``"mm"`` (its physical unit),
    ``"rho"`` → ``"ρ"`` (experiment F's rank correlations), ``"delta_m"`` → ``"%"`` (experiment G's Δm)."""
    if metric == "rho":
        return "ρ"
    if metric == "delta_m":  # experiment G's Δm rows
        return "%"
    return "mm" if str(metric).endswith("_mm") else str(metric).upper()


def _matches(frame: Any, where: dict[str, Any]) -> Any:
    for column, wanted in where.items():
        if column not in frame.columns:
            raise ValueError(f"No column {column!r}; the columns are {list(frame.columns)}.")
        column_values = frame[column]
        choices = list(wanted) if isinstance(wanted, (list, tuple, set, frozenset)) else [wanted]
        try:
            mask = column_values.astype(float).isin([float(w) for w in choices])
        except (TypeError, ValueError):
            mask = column_values.astype(str).isin([str(w) for w in choices])
        frame = frame[mask]
    return frame


def _what(table: str, row: Any, keys: tuple[str, ...]) -> str:
    label = ", ".join(f"{k} {row[k]}" for k in keys)
    if table == "families":
        return f"{row['region']} {row['family']} vs the single-task baselines (Δm)"
    return f"{table}: {label}"


def verdicts(table: str, *, root: str | Path | None = None, **where: Any) -> Any:
    """Every row of a results table with an interval, with its verdict.

    Args:
        table: one of :data:`mtdl_kit.results.TABLES` or ``transfer_<experiment>_<run>``.
        root: folder of the CSVs (default: the bundled ``benchmarks/results/``).
        **where: ``column=value`` filters (numbers compare as numbers: ``relatedness=1``); a list or
            tuple of values keeps the rows matching any of them.

    Returns:
        A DataFrame: the table's key columns, ``value``, ``ci_low``, ``ci_high``, ``n_seeds`` (when
        recorded), ``verdict`` (the word) and ``text`` (``"worse: -15.3 % [-28.4, -2.9]"``).

    Raises:
        ValueError: unknown table or column; FileNotFoundError: the table was not generated.
    """
    import pandas as pd

    frame, keys = _load(table, root)
    frame = _matches(frame, where)
    frame = frame[frame["ci_low"].notna() & frame["ci_high"].notna() & (frame["ci_low"] != frame["ci_high"])]
    rows = []
    for _, r in frame.iterrows():
        v = _row_verdict(table, r, keys)
        rows.append(
            {
                **{k: r[k] for k in keys},
                "value": v.value,
                "ci_low": v.ci_low,
                "ci_high": v.ci_high,
                "n_seeds": v.n_seeds,
                "verdict": v.word,
                "text": str(v),
            }
        )
    return pd.DataFrame(rows, columns=[*keys, "value", "ci_low", "ci_high", "n_seeds", "verdict", "text"])


def _row_verdict(table: str, r: Any, keys: tuple[str, ...]) -> Verdict:
    n = int(r["n_seeds"]) if "n_seeds" in r and r["n_seeds"] == r["n_seeds"] else None
    return verdict(r["value"], r["ci_low"], r["ci_high"], unit=r["unit"], n_seeds=n, what=_what(table, r, keys))


def verdict_of(table: str, *, root: str | Path | None = None, **where: Any) -> Verdict:
    """The verdict of the one row ``where`` selects: ``verdict_of("families", region="eye", family="hybrid")``.

    Raises:
        LookupError: no row, or several rows, match (the message lists the candidates).
    """
    frame, keys = _load(table, root)
    chosen = _matches(frame, where)
    if len(chosen) != 1:
        options = frame[list(keys)].drop_duplicates().to_dict("records")
        raise LookupError(f"{table} {where} selects {len(chosen)} rows, not one; its rows are {options}.")
    return _row_verdict(table, chosen.iloc[0], keys)


def sentence(v: Verdict) -> str:
    """``"eye hybrid vs the single-task baselines (Δm): worse, -15.3 % [-28.4, -2.9] over 3 seeds."``"""
    seeds = f" over {v.n_seeds} seeds" if v.n_seeds else ""
    return f"{v.what}: **{v.word}**, {v.interval()}{seeds}."


def shares_layers(family_or_model: str) -> bool:
    """Whether the tasks of this family (or ``cascade`` model name) share layers.

    Negative transfer needs something shared: a two-stage cascade shares nothing, so a cascade
    that is worse shows error propagation or a harder problem, not negative transfer.
    """
    name = family_or_model.lower()
    return any(f in name for f in SHARING_FAMILIES) and "two-stage" not in name


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
    from mtdl_kit.results import load_results

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
    frame, _ = _load(table, root)
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
    frame, _ = _load(table, root)
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


_CLAIM = re.compile(
    r"<!--\s*verdict\s+(?P<table>[a-z0-9_]+)\s+"
    r'(?P<where>(?:"[^"]*"|[^:>"])*?):\s*'
    r"(?P<word>better|worse|no detectable difference)\s*-->"
)


@dataclass(frozen=True)
class Claim:
    """One machine-readable claim in fixed prose: ``<!-- verdict TABLE col=value ...: WORD -->``."""

    table: str
    where: dict[str, str]
    word: str
    line: int


def find_claims(text: str) -> list[Claim]:
    """Every ``<!-- verdict ... -->`` claim in ``text`` (values with spaces are quoted: ``contrast="a - b"``)."""
    claims = []
    for m in _CLAIM.finditer(text):
        pairs = [p.split("=", 1) for p in shlex.split(m.group("where"))]
        if any(len(p) != 2 for p in pairs):
            raise ValueError(f"Malformed claim {m.group(0)!r}: write column=value pairs.")
        claims.append(Claim(m.group("table"), dict(pairs), m.group("word"), text.count("\n", 0, m.start()) + 1))
    return claims


def check_claims(text: str, *, source: str = "text", root: str | Path | None = None) -> list[str]:
    """The claims in ``text`` that the results tables contradict; empty when all hold.

    Args:
        text: prose (markdown, a notebook's percent-format source, the README).
        source: a name for messages (the file).
        root: folder of the CSVs (default: the bundled ``benchmarks/results/``).

    Returns:
        One message per claim that does not hold or selects no single row.
    """
    problems = []
    for claim in find_claims(text):
        try:
            got = verdict_of(claim.table, root=root, **claim.where)
        except (LookupError, ValueError, FileNotFoundError) as err:
            problems.append(f"{source}:{claim.line}: claim on {claim.table} {claim.where} cannot be checked: {err}")
            continue
        if got.word != claim.word:
            problems.append(
                f"{source}:{claim.line}: the prose says {claim.word!r} for {claim.table} {claim.where}, "
                f"the numbers say {got}"
            )
    return problems


__all__ = [
    "BETTER",
    "CROSSOVER_ARMS",
    "CROSSOVER_CONTRASTS",
    "CROSSOVER_RULES",
    "NULL",
    "SHARING_FAMILIES",
    "STARVED_REFERENCE",
    "WORDS",
    "WORSE",
    "Claim",
    "Verdict",
    "check_claims",
    "crossover_arms",
    "crossover_seeds",
    "crossover_table_reading",
    "family_reading",
    "find_claims",
    "metric_unit",
    "negative_transfer_reading",
    "region_reading",
    "seed_bootstrap",
    "seed_contrast",
    "sentence",
    "shares_layers",
    "starved_table_reading",
    "transfer_reading",
    "verdict",
    "verdict_of",
    "verdicts",
]
