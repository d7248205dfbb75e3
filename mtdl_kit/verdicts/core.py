"""The verdict rule and the tables it reads: :func:`verdict` (an interval in words), :func:`verdicts` and
:func:`verdict_of` (every or one row of a results table), :func:`shares_layers` (:mod:`mtdl_kit.verdicts`)."""

from __future__ import annotations

import math
import re
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


def load_verdict_table(table: str, root: str | Path | None) -> tuple[Any, tuple[str, ...]]:
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

    frame, keys = load_verdict_table(table, root)
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
    frame, keys = load_verdict_table(table, root)
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
