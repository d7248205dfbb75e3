"""What the transfer lab found, in plain words, for the top of the For clinicians page.

The transfer lab's experiment C (the relatedness crossover, :mod:`mtdl_kit.lab.crossover`) asks
whether an auxiliary segmentation helps a label *because it outlines the feature the label
follows*, or merely because it is there. Its committed results are
``benchmarks/results/transfer_c_<region>_<run>_summary.csv`` (``run``: ``headline``, then
``replication`` on fresh seeds) with the runs behind them in ``..._runs.csv``.

:func:`crossover_findings` reads those tables for one region and turns every interval into a
verdict through the one rule, :func:`mtdl_kit.verdicts.verdict` (above 0: higher, below 0:
lower, containing 0: no detectable difference); :func:`clinician_summary` writes the section's
sentences and caveats for every region the crossover applies to (those whose coupling has a second
outlined feature, :attr:`mtdl_kit.regions.base.Coupling.other_segmentation`). A region whose table is
missing is said to be not run — nothing is invented for it. No number in the sentences is written
by hand: each comes from the CSVs.

Research and teaching use only — not for clinical use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mtdl_kit.verdicts import BETTER, NULL, WORSE, Verdict, verdict

#: the runs of the crossover, in the order they were made (``replication``: fresh seeds fixed before the run)
RUNS: tuple[str, ...] = ("headline", "replication")
#: the summary's contrast rows this page reads
INTERACTION = "interaction"
DIFFICULTY = "difficulty: none B - none A"
RULES: tuple[str, ...] = ("A", "B")
#: where the protocol and its limits are written up
NOTES = 'benchmarks/RESULTS.md, sections "crossover" and "crossover-notes"'

#: a verdict word as it reads for "the main label's ROC-AUC" in a sentence
_WORDS = {BETTER: "higher", WORSE: "lower", NULL: "no detectable difference"}


@dataclass(frozen=True)
class CrossoverFinding:
    """One run (``headline`` or ``replication``) of the crossover on one region at one label budget.

    Attributes:
        region: the region (``"eye"``).
        run: ``"headline"`` or ``"replication"``.
        budget: labelled training cases of the main task.
        task: the main task (``"glaucoma"``).
        metric: its metric in the table (``"auc"``).
        seeds: the training seeds behind the intervals (from ``..._runs.csv``; empty when that file is missing).
        interaction: related − unrelated auxiliary task, averaged over the two label rules.
        per_rule: ``"A"``/``"B"`` -> related − unrelated under that rule.
        difficulty: single-task difficulty, rule B − rule A (no auxiliary task under either).
        means: ``(rule, arm)`` -> the arm's mean metric over seeds (``arm``: none, related, unrelated, shuffled).
        unrelated_vs_none: ``"A"``/``"B"`` -> unrelated − none under that rule (empty for a summary
            written before the crossover reported it).
    """

    region: str
    run: str
    budget: int
    task: str
    metric: str
    seeds: tuple[int, ...]
    interaction: Verdict
    per_rule: dict[str, Verdict]
    difficulty: Verdict
    means: dict[tuple[str, str], float] = field(default_factory=dict)
    unrelated_vs_none: dict[str, Verdict] = field(default_factory=dict)


@dataclass(frozen=True)
class TransferSummary:
    """The section's content: ``findings`` (markdown bullets), ``caveats`` (plain lines), ``missing`` regions."""

    findings: list[str]
    caveats: list[str]
    missing: list[str]


def crossover_regions() -> list[str]:
    """The regions the crossover applies to: a second feature with its own outline (eye, chest)."""
    from mtdl_kit.regions import all_regions

    return [r.name for r in all_regions().values() if r.coupling.other_segmentation]


def summary_path(region: str, run: str, root: str | Path | None = None) -> Path:
    """``<root>/transfer_c_<region>_<run>_summary.csv`` (root: :func:`mtdl_kit.results.results_dir`)."""
    from mtdl_kit.results import results_dir

    return Path(root or results_dir()) / f"transfer_c_{region}_{run}_summary.csv"


def results_stamp(root: str | Path | None = None, pattern: str = "transfer_c_*.csv") -> tuple[tuple[str, int], ...]:
    """``(file name, modification time in ns)`` of every CSV matching ``pattern`` (default: the crossover's): a
    cache key that changes with the tables."""
    from mtdl_kit.results import results_dir

    folder = Path(root or results_dir())
    return tuple(sorted((p.name, p.stat().st_mtime_ns) for p in folder.glob(pattern)))


def _seeds(path: Path) -> tuple[int, ...]:
    import pandas as pd

    if not path.exists():
        return ()
    runs = pd.read_csv(path)
    return tuple(sorted(int(s) for s in runs["seed"].unique())) if "seed" in runs.columns else ()


def _contrast(rows: Any, name: str, unit: str, n_seeds: int | None, what: str, path: Path) -> Verdict:
    if name not in rows.index:
        raise ValueError(f"{path} has no row {name!r}; regenerate it with benchmarks/bench_crossover.py.")
    r = rows.loc[name]
    return verdict(r["value"], r["ci_low"], r["ci_high"], unit=unit, n_seeds=n_seeds, what=what)


def crossover_findings(region: str, run: str = "headline", *, root: str | Path | None = None) -> list[CrossoverFinding]:
    """Every label budget of one run of the crossover on ``region``, each interval with its verdict.

    Args:
        region: a region name.
        run: ``"headline"`` or ``"replication"``.
        root: folder of the CSVs (default: the bundled ``benchmarks/results/``).

    Returns:
        One :class:`CrossoverFinding` per budget in the summary, in budget order; an empty list when
        the summary CSV does not exist (the crossover was not run there).

    Raises:
        ValueError: the CSV lacks a column or one of the contrast rows, or an interval is missing.
    """
    import pandas as pd

    path = summary_path(region, run, root)
    if not path.exists():
        return []
    frame = pd.read_csv(path)
    needed = ["budget", "contrast", "task", "metric", "value", "ci_low", "ci_high"]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ValueError(f"{path} lacks the columns {missing}; regenerate it with benchmarks/bench_crossover.py.")
    seeds = _seeds(path.with_name(path.name.replace("_summary.csv", "_runs.csv")))
    n = len(seeds) or None
    out = []
    for budget in sorted(frame["budget"].unique()):
        rows = frame[frame["budget"] == budget].set_index("contrast")
        task, metric = str(rows.iloc[0]["task"]), str(rows.iloc[0]["metric"])
        unit = metric.upper()
        label = f"{region} {run}, {budget} labels"
        means = {}
        for rule in RULES:
            for arm in ("none", "related", "unrelated", "shuffled"):
                key = f"mean {rule}: {arm}"
                if key in rows.index:
                    means[(rule, arm)] = float(rows.loc[key, "value"])
        out.append(
            CrossoverFinding(
                region=region,
                run=run,
                budget=int(budget),
                task=task,
                metric=metric,
                seeds=seeds,
                interaction=_contrast(rows, INTERACTION, unit, n, f"{label}: interaction", path),
                per_rule={
                    rule: _contrast(
                        rows, f"{rule}: related - unrelated", unit, n, f"{label}: rule {rule} related - unrelated", path
                    )
                    for rule in RULES
                },
                difficulty=_contrast(rows, DIFFICULTY, unit, n, f"{label}: difficulty B - A", path),
                means=means,
                unrelated_vs_none={
                    rule: _contrast(
                        rows, f"{rule}: unrelated - none", unit, n, f"{label}: rule {rule} unrelated - none", path
                    )
                    for rule in RULES
                    if f"{rule}: unrelated - none" in rows.index
                },
            )
        )
    return out


def _num(x: float, v: Verdict | None = None) -> str:
    """Two decimals (the intervals are ~0.1 wide); three when two would show a bound as 0 that is not 0."""
    text = f"{x:+.2f}"
    if v is not None and v.word != NULL and "0.00" in (f"{v.ci_low:+.2f}" + f"{v.ci_high:+.2f}"):
        text = f"{x:+.3f}"
    return text


def interval_words(v: Verdict) -> str:
    """``"+0.45 [+0.39, +0.50]"``: the estimate and its 95 % interval, rounded to what they deserve."""
    return f"{_num(v.value, v)} [{_num(v.ci_low, v)}, {_num(v.ci_high, v)}]"


def seed_words(seeds: tuple[int, ...]) -> str:
    """``"8 seeds, 0–7"`` for a run of consecutive seeds, else ``"3 seeds: 1, 5, 9"``."""
    if not seeds:
        return "seeds not recorded"
    if list(seeds) == list(range(seeds[0], seeds[-1] + 1)) and len(seeds) > 2:
        return f"{len(seeds)} seeds, {seeds[0]}–{seeds[-1]}"
    return f"{len(seeds)} seeds: {', '.join(map(str, seeds))}"


def _effect(v: Verdict) -> str:
    """``"**higher**: +0.45 [+0.39, +0.50]"`` / ``"**no detectable difference**: ... (the interval includes 0)"``."""
    text = f"**{_WORDS[v.word]}**: {interval_words(v)}"
    return text + (" — the interval includes 0, so these seeds cannot tell" if v.word == NULL else "")


def _rule_words(rule: str) -> str:
    return rule.replace(" <=> ", " if ")


def finding_sentences(region: str, *, root: str | Path | None = None) -> list[str]:
    """Markdown bullets for one region: the headline, its replication, each rule, the unrelated arm, difficulty.

    Empty when the region's headline summary is missing (:func:`clinician_summary` says so).
    """
    from mtdl_kit.regions import get_region
    from mtdl_kit.services.clinicians import task_words

    reg = get_region(region)
    coupling = reg.coupling
    runs = {run: crossover_findings(region, run, root=root) for run in RUNS}
    if not runs["headline"]:
        return []
    replicated = {f.budget: f for f in runs["replication"]}
    label = task_words(reg, coupling.classification).lower()
    seg_a = task_words(reg, coupling.segmentation).lower()
    seg_b = task_words(reg, coupling.other_segmentation).lower()
    out = []
    for f in runs["headline"]:
        head = (
            f"**{reg.name.capitalize()}, {label}, {f.budget} labelled training cases.** When the auxiliary "
            "segmentation outlines the feature the label follows, rather than another feature of the same image, "
            f"the ROC-AUC for {label} (0.5 = a coin toss, 1 = perfect ranking) is {_effect(f.interaction)} over "
            f"{seed_words(f.seeds)}, averaged over the two label rules below (differences in ROC-AUC points, "
            "95 % intervals in brackets)."
        )
        rep = replicated.get(f.budget)
        if rep is None:
            head += " Not yet repeated on fresh seeds."
        elif rep.interaction.word == f.interaction.word:
            head += f" Repeated on fresh seeds ({seed_words(rep.seeds)}): {_effect(rep.interaction)} again."
        else:
            head += (
                f" Repeated on fresh seeds ({seed_words(rep.seeds)}) it did **not** reproduce: "
                f"{_effect(rep.interaction)}."
            )
        out.append(head)
        rules = {"A": (seg_a, coupling.rule), "B": (seg_b, coupling.other_rule)}
        parts = [
            f"rule {name}, label set by the {seg} ({_rule_words(rule)}): {_effect(f.per_rule[name])}"
            for name, (seg, rule) in rules.items()
        ]
        out.append("Under each rule, related minus unrelated outline: " + "; ".join(parts) + ".")
        if len(f.unrelated_vs_none) == len(RULES):
            out.append(
                "An auxiliary segmentation of the *other* feature, which the label does not follow, against no "
                "auxiliary task: " + "; ".join(f"rule {r}: {_effect(f.unrelated_vs_none[r])}" for r in RULES) + "."
            )
        elif all((r, a) in f.means for r in RULES for a in ("none", "unrelated")):
            means = ", ".join(
                f"{f.means[(r, 'unrelated')]:.2f} vs {f.means[(r, 'none')]:.2f} (rule {r})" for r in RULES
            )
            out.append(
                "An auxiliary segmentation of the *other* feature, which the label does not follow: mean ROC-AUC "
                f"with it vs with no auxiliary task {means}. Means only — this table gives no interval for that "
                "difference, so it is not a verdict."
            )
        diff = f.difficulty
        none_a, none_b = f.means.get(("A", "none")), f.means.get(("B", "none"))
        levels = f" (mean ROC-AUC {none_a:.2f} under A, {none_b:.2f} under B)" if none_a is not None else ""
        if diff.word == NULL:
            out.append(
                f"Without an auxiliary task the two rules show no detectable difference in difficulty{levels}: "
                f"B − A {interval_words(diff)}."
            )
        else:
            out.append(
                f"Without an auxiliary task the two rules are **not** equally hard{levels}: B − A "
                f"{interval_words(diff)} ({diff.word}), so part of the comparison reflects difficulty."
            )
    return out


def _mechanism(region: str) -> str:
    """The network the lab's crossover protocol trains on ``region`` (:func:`mtdl_kit.lab.default_crossover_config`)."""
    from mtdl_kit.lab.crossover import default_crossover_config

    cfg = default_crossover_config(region)
    name = region.capitalize()
    if cfg.family == "hybrid" and cfg.guide_summary == "mask_only":
        return (
            f"{name}: one mechanism only — the lab's hybrid network whose classification head reads nothing but the "
            "predicted auxiliary mask (mask-only head). A network sharing a trunk, where help must pass through "
            "shared features, is not run yet."
        )
    return f"{name}: one network family only ({cfg.family}, {cfg.guide_summary}); other families are not run yet."


def clinician_summary(region: str | None = None, *, root: str | Path | None = None) -> TransferSummary:
    """The section "What the transfer lab found" for the For clinicians page, computed from the CSVs.

    Args:
        region: the page's region; when the crossover does not apply to it, a line says so.
        root: folder of the CSVs (default: the bundled ``benchmarks/results/``).

    Returns:
        :class:`TransferSummary`: ``findings`` (markdown bullets, per region with results), ``caveats``
        (what the results do not show, from the tables and the lab's notes) and ``missing`` (regions the
        crossover applies to whose headline table does not exist).
    """
    regions = crossover_regions()
    findings, missing, done = [], [], []
    for name in regions:
        lines = finding_sentences(name, root=root)
        if lines:
            findings += lines
            done.append(name)
        else:
            missing.append(name)
    for name in missing:
        findings.append(
            f"**{name.capitalize()}:** the crossover has not been run yet "
            f"(no {summary_path(name, 'headline', root).name}), so nothing is claimed for it."
        )
    if region is not None and region not in regions:
        findings.append(
            f"The {region} phantom has no second outlined feature, so this experiment does not apply to it; the "
            f"results above are from {', '.join(r.capitalize() for r in done) or 'no region'}."
        )
    budgets = sorted({f.budget for r in done for f in crossover_findings(r, root=root)})
    caveats = [
        "Synthetic phantoms, not patients: the features and the labels follow rules written into the generator.",
    ]
    if budgets:
        caveats.append(
            f"Labelled training cases for the main task: {', '.join(map(str, budgets))} only; larger budgets are "
            "not run yet."
        )
    caveats += [
        *[_mechanism(r) for r in done],
        (
            f"Regions with results: {', '.join(r.capitalize() for r in done)}"
            + (f"; not run yet: {', '.join(r.capitalize() for r in missing)}" if missing else "")
            + "."
        )
        if done
        else "No region has results yet.",
        f"Protocol, calibration and the runs where the stopping rule failed: {NOTES}.",
    ]
    return TransferSummary(findings, caveats, missing)


__all__ = [
    "RUNS",
    "CrossoverFinding",
    "TransferSummary",
    "clinician_summary",
    "crossover_findings",
    "crossover_regions",
    "finding_sentences",
    "interval_words",
    "results_stamp",
    "seed_words",
    "summary_path",
]
