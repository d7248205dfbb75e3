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
``ci_high``). Rows without an interval (the reference row of ``cascade``, the arm means of the
transfer summaries) get no verdict.

"Negative transfer" is a causal claim: a shared representation made a task worse *because* of the
other task. :func:`negative_transfer_reading` uses the words only where something is shared and the
control row of ``negative_transfer`` supports it; a family that is merely worse than the
single-task baselines is called worse, nothing more (:func:`shares_layers`).

Fixed prose may state a verdict when it carries a machine-readable claim next to it, e.g.
``<!-- verdict families region=eye family=hybrid: worse -->``; :func:`check_claims` recomputes each
claim and ``tests/test_verdicts.py`` fails when one no longer holds.

Research and teaching use only — not for clinical use.
"""

from __future__ import annotations

import math
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
_TRANSFER = re.compile(r"^transfer_(?P<experiment>[a-z])_(?P<run>[a-z0-9]+)$")
_TRANSFER_KEYS = ("budget", "contrast", "task", "metric")

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
    match = _TRANSFER.match(table)
    if not match:
        known = [*TABLES, "transfer_<experiment>_<run> (e.g. transfer_a_headline)"]
        raise ValueError(f"Unknown results table {table!r}; the tables are {known}.")
    path = Path(root or results_dir()) / f"{table}_summary.csv"
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist yet; run the transfer lab (benchmarks/bench_transfer.py).")
    frame = pd.read_csv(path)
    missing = [c for c in (*_TRANSFER_KEYS, "value", "ci_low", "ci_high") if c not in frame.columns]
    if missing:
        raise ValueError(f"{path} lacks the columns {missing}; regenerate it with benchmarks/bench_transfer.py.")
    return frame.assign(unit=frame["metric"].str.upper()), _TRANSFER_KEYS


def _matches(frame: Any, where: dict[str, Any]) -> Any:
    for column, wanted in where.items():
        if column not in frame.columns:
            raise ValueError(f"No column {column!r}; the columns are {list(frame.columns)}.")
        column_values = frame[column]
        try:
            mask = column_values.astype(float) == float(wanted)
        except (TypeError, ValueError):
            mask = column_values.astype(str) == str(wanted)
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
        **where: ``column=value`` filters (numbers compare as numbers: ``relatedness=1``).

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


def region_reading(region: str, *, root: str | Path | None = None) -> str:
    """Markdown with every verdict of tables 2-6 that has rows for ``region`` (the families are table 1).

    Regions without rows in a table are named once at the end, so a learner sees what was not measured.
    """
    parts, absent = [], []
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


_CLAIM = re.compile(
    r"<!--\s*verdict\s+(?P<table>[a-z0-9_]+)\s+(?P<where>[^:>]*?):\s*(?P<word>better|worse|no detectable difference)"
    r"\s*-->"
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
    "NULL",
    "SHARING_FAMILIES",
    "WORDS",
    "WORSE",
    "Claim",
    "Verdict",
    "check_claims",
    "family_reading",
    "find_claims",
    "negative_transfer_reading",
    "region_reading",
    "sentence",
    "shares_layers",
    "transfer_reading",
    "verdict",
    "verdict_of",
    "verdicts",
]
