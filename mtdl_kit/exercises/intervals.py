"""Exercise checks on reading intervals: verdicts from a CI, replication on fresh seeds, a paired
bootstrap interval by hand, and what a null result can and cannot exclude."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mtdl_kit.exercises.base import _fail, _ok, three_numbers


def check_verdicts(answer: Mapping[str, str], table: str = "families", *, by: str = "family", **where: Any) -> None:
    """Check the learner's verdict per row of a results table against :mod:`mtdl_kit.verdicts`.

    Args:
        answer: row name (the ``by`` column, e.g. the family) -> ``"better"``, ``"worse"`` or
            ``"no detectable difference"``.
        table: the results table (:func:`mtdl_kit.verdicts.verdicts`).
        by: the column that names a row once ``where`` is applied.
        **where: filters, e.g. ``region="eye"``.

    Raises:
        ExerciseError: a missing row, an unknown word, or a verdict the interval does not give.
    """
    from mtdl_kit.verdicts import WORDS, verdicts

    want = verdicts(table, **where).set_index(by)
    if not isinstance(answer, Mapping) or not answer:
        raise _fail(f"answer must be a dict {{{by}: verdict}}.", f"the rows are {list(want.index)}.")
    missing = [k for k in want.index if k not in answer]
    if missing:
        raise _fail(f"No verdict for {missing}.", f"give one word per row: {list(want.index)}.")
    for name, row in want.iterrows():
        got = answer[name]
        if got not in WORDS:
            raise _fail(f"{name}: {got!r} is not a verdict.", f"use one of {list(WORDS)}.")
        if got != row["verdict"]:
            raise _fail(
                f"{name}: you wrote {got!r}, but its interval [{row['ci_low']:+.3g}, {row['ci_high']:+.3g}] says "
                f"{row['verdict']!r}.",
                "an interval entirely above 0 is 'better', entirely below 0 'worse'; one that contains 0 is "
                "'no detectable difference' — the seeds cannot tell, which is not the same as 'equal'.",
            )
    _ok(f"Every verdict matches its interval ({', '.join(f'{k}: {answer[k]}' for k in want.index)}).")


def check_replicated(
    answer: Any,
    runs: Sequence[str],
    *,
    task: str,
    word: str = "better",
    table: str = "starved",
    by: str = "condition",
    root: Any = None,
) -> set[str]:
    """Check the set of conditions whose verdict is ``word`` in *every* one of ``runs`` (a claim that replicates).

    For experiment E: ``runs = ("musculoskeletal_headline", "musculoskeletal_replication")``, the
    rows of ``starved_<run>_summary.csv`` for ``task`` (each condition minus EW on raw targets). For
    experiment G: ``table="transfer_g"``, ``by="contrast"``, ``runs = ("other_headline", "other_replication")``,
    the rows of ``transfer_g_<run>_summary.csv`` for ``task`` (``"delta_m"`` for Δm).

    Args:
        answer: the learner's conditions (a set, list or tuple of names; empty when none).
        runs: the seed sets, ``<region>_<run>`` of the tables.
        task: the task whose contrasts are read.
        word: the verdict that must hold in every run.
        table: the tables' prefix (``<table>_<run>_summary.csv``): ``"starved"`` or ``"transfer_g"``.
        by: the column that names a condition (``"condition"`` for E, ``"contrast"`` for G).
        root: folder of the CSVs (default: the bundled ``benchmarks/results/``).

    Returns:
        The reference set.

    Raises:
        ExerciseError: a condition listed that does not replicate (saying in which run it fails), or
            one missing.
    """
    from mtdl_kit.verdicts import WORDS, verdicts

    if word not in WORDS:
        raise ValueError(f"word must be one of {list(WORDS)}, got {word!r}.")
    tables = {run: verdicts(f"{table}_{run}", root=root, task=task).set_index(by) for run in runs}
    conditions = sorted(set.intersection(*(set(t.index) for t in tables.values())))
    want = {c for c in conditions if all(t.loc[c, "verdict"] == word for t in tables.values())}
    if isinstance(answer, str) or not isinstance(answer, (set, frozenset, list, tuple)):
        raise _fail(f"answer must be a set of condition names, got {answer!r}.", f"the conditions are {conditions}.")
    got = {str(a) for a in answer}
    unknown = sorted(got - set(conditions))
    if unknown:
        raise _fail(f"{unknown} are not conditions of these runs.", f"the conditions are {conditions}.")

    def where(condition: str) -> str:
        return "; ".join(f"{run}: {t.loc[condition, 'text']}" for run, t in tables.items())

    extra, missing = sorted(got - want), sorted(want - got)
    if extra:
        raise _fail(
            f"{extra[0]} is not {word!r} in every run ({where(extra[0])}).",
            "a claim replicates only if each seed set's own interval gives the verdict; "
            "one significant run is not enough.",
        )
    if missing:
        raise _fail(f"{missing[0]} is {word!r} in every run ({where(missing[0])}).", "read every condition's rows.")
    _ok(f"{sorted(want) or 'none'}: {word} on every seed set ({', '.join(runs)}).")
    return want


def reference_paired_interval(a: Sequence[float], b: Sequence[float], *, confidence: float = 0.95) -> tuple:
    """Mean of the per-seed differences ``a - b`` with a paired t interval over seeds.

    ``d_s = a_s - b_s`` for each seed ``s``; mean ``d̄``; interval ``d̄ ± t(1-α/2, n-1) · sd(d) / √n``
    (Student's paired t; sd with ``ddof=1``). Seeds are the units: the test cases are shared, so
    the interval leaves their sampling variation out (``mtdl_kit.evaluation.paired_contrast``'s
    hierarchical bootstrap includes it, and is wider).

    Returns:
        ``(mean, ci_low, ci_high)``.

    Raises:
        ValueError: unequal lengths or fewer than two seeds.
    """
    from scipy import stats

    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape or x.ndim != 1 or x.size < 2:
        raise ValueError(f"Need two equal-length series of at least 2 seeds, got {x.shape} and {y.shape}.")
    d = x - y
    half = float(stats.t.ppf(0.5 + confidence / 2, d.size - 1) * d.std(ddof=1) / np.sqrt(d.size))
    return float(d.mean()), float(d.mean() - half), float(d.mean() + half)


def check_paired_interval(
    answer: Sequence[float], a: Sequence[float], b: Sequence[float], *, tolerance: float = 1e-6
) -> str:
    """Check ``(mean, ci_low, ci_high)`` of the per-seed differences ``a - b`` (paired t interval).

    Args:
        answer: the learner's ``(mean, ci_low, ci_high)``.
        a: per-seed values of the first arm, in seed order.
        b: per-seed values of the second arm, the same seeds in the same order.
        tolerance: absolute tolerance.

    Returns:
        The verdict of the interval (``"better"``, ``"worse"``, ``"no detectable difference"``).

    Raises:
        ExerciseError: a wrong mean or interval, with a hint naming the likely mistake.
    """
    from mtdl_kit.verdicts import verdict

    want = reference_paired_interval(a, b)
    got = three_numbers(answer, "(mean, ci_low, ci_high)", "return a tuple of three numbers.")
    if not np.isclose(got[0], want[0], atol=tolerance):
        raise _fail(
            f"The mean difference is {want[0]:+.4f}, you have {got[0]:+.4f}.",
            "subtract seed by seed (the same seed in both arms), then average the differences.",
        )
    if not np.allclose(got[1:], want[1:], atol=tolerance):
        raise _fail(
            f"The interval is [{want[1]:+.4f}, {want[2]:+.4f}], you have [{got[1]:+.4f}, {got[2]:+.4f}].",
            "use the standard deviation of the per-seed differences (ddof=1), not of each arm (that is the "
            "unpaired interval); half-width = t · sd / √n with t = scipy.stats.t.ppf(0.975, n - 1).",
        )
    word = verdict(*want, unit="").word
    _ok(f"Mean difference {want[0]:+.4f} [{want[1]:+.4f}, {want[2]:+.4f}] over {len(a)} seeds: {word}.")
    return word


def _check_largest_open(answer: Any, low: float, high: float, name: str, tolerance: float) -> float:
    """Fail unless ``answer`` is the largest effect in size an interval containing 0 leaves open; return it."""
    want = max(abs(low), abs(high))
    try:
        got = float(answer)
    except (TypeError, ValueError):
        raise _fail(f"{name} must be a number, got {answer!r}.", "max(|ci_low|, |ci_high|).") from None
    if not np.isclose(got, want, atol=tolerance):
        raise _fail(
            f"The largest effect left open is {want:.4f}, you have {got:.4f}.",
            "an interval [low, high] that contains 0 leaves open every effect between low and high: the largest "
            "in size is max(|low|, |high|).",
        )
    return want


def check_null_bound(answer: float, a: Sequence[float], b: Sequence[float], *, tolerance: float = 1e-6) -> None:
    """Check the largest effect a null result leaves open: ``max(|ci_low|, |ci_high|)`` of ``a - b``.

    An interval that contains 0 does not say "no effect"; it says that effects larger than this
    bound (in either direction) are unlikely under these seeds, and smaller ones are not ruled out
    (Altman & Bland, *BMJ* 311:485, 1995). Uses :func:`reference_paired_interval`.

    Raises:
        ExerciseError: the interval excludes 0 (not a null result), or a different number.
    """
    from mtdl_kit.verdicts import NULL, verdict

    mean, low, high = reference_paired_interval(a, b)
    if verdict(mean, low, high, unit="").word != NULL:
        raise _fail(
            f"This interval [{low:+.4f}, {high:+.4f}] excludes 0: it is not a null result.",
            "pick the contrast whose interval contains 0.",
        )
    want = _check_largest_open(answer, low, high, "answer", tolerance)
    _ok(
        f"No detectable difference, but effects up to {want:.3f} in size are not ruled out by "
        f"{len(a)} seeds — absence of evidence is not evidence of absence."
    )


def check_null_reading(word: str, largest_open: float | None, estimate: Any, *, tolerance: float = 1e-6) -> None:
    """Check the reading of one interval: its verdict word and, for a null result, the largest effect left open.

    Args:
        word: ``"better"``, ``"worse"`` or ``"no detectable difference"``.
        largest_open: for a null result, ``max(|ci_low|, |ci_high|)``: the largest effect in size the
            interval does not rule out (None when the interval excludes 0).
        estimate: the :class:`~mtdl_kit.verdicts.Verdict` read (e.g. from
            :func:`mtdl_kit.verdicts.seed_contrast`).

    Raises:
        ExerciseError: a wrong word, or a wrong bound.
    """
    from mtdl_kit.verdicts import NULL, WORDS

    if word not in WORDS:
        raise _fail(f"{word!r} is not a verdict.", f"use one of {list(WORDS)}.")
    if word != estimate.word:
        raise _fail(
            f"You wrote {word!r}; the interval [{estimate.ci_low:+.4f}, {estimate.ci_high:+.4f}] says "
            f"{estimate.word!r}.",
            "an interval entirely above 0 is 'better', entirely below 0 'worse'; one that contains 0 is "
            "'no detectable difference'.",
        )
    if estimate.word != NULL:
        _ok(f"{estimate.word}: the interval excludes 0, so there is no null result to bound.")
        return
    want = _check_largest_open(largest_open, estimate.ci_low, estimate.ci_high, "largest_open", tolerance)
    _ok(
        f"No detectable difference — and effects up to {want:.3f} in size are not ruled out by these "
        f"{estimate.n_seeds or 'few'} seeds: absence of evidence is not evidence of absence."
    )
