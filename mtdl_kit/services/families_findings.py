"""What the transfer lab's experiment G found for one region, in plain words, for the For clinicians page.

Experiment G (:mod:`mtdl_kit.lab.families`) trains each multi-task family and one single-task network
per task until their validation metrics stop improving, over 8 seeds, and compares them task by task
with paired bootstrap intervals. Its committed results are
``benchmarks/results/transfer_g_<region>_<run>_summary.csv`` (``run``: ``headline``, then
``replication`` on fresh seeds), with the runs and each seed's image-blind chance level beside them.

:func:`family_findings` reads one seed set under the equal-total-parameters rule (every network, each
single-task network included, has about the weights of the shared-encoder network) and turns every interval into a
verdict through the one rule, :func:`mtdl_kit.verdicts.verdict`; :func:`rule_changes` names the verdicts the
other rule (a full-width sub-network per task) changes; :func:`families_summary` writes the page's sentences and
caveats. A region without a table is said to be not run — nothing is invented for
it, and no number in a sentence is written by hand.

Research and teaching use only — not for clinical use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mtdl_kit.services.transfer_findings import results_stamp as transfer_results_stamp
from mtdl_kit.services.transfer_findings import seed_words
from mtdl_kit.verdicts import BETTER, NULL, WORSE, Verdict, verdict

#: the seed sets of experiment G, in the order they were made (``replication``: fresh seeds fixed before the run)
RUNS: tuple[str, ...] = ("headline", "replication")
#: the multi-task arms the page compares, all at equal total parameters, against :data:`BASELINE`
ARMS: tuple[str, ...] = ("parallel", "cascaded@params", "interacted@params", "hybrid")
BASELINE = "single@params"
#: the capacity rules of experiment G: rule -> (its multi-task arms, in :data:`ARMS` order; its single-task arm)
RULE_ARMS: dict[str, tuple[tuple[str, ...], str]] = {
    "params": (ARMS, BASELINE),
    "width": (("parallel", "cascaded@width", "interacted@width", "hybrid"), "single@width"),
}
#: each family in a clinician's words (the review's taxonomy, Zhao et al. 2023)
FAMILY_WORDS: dict[str, str] = {
    "parallel": "One shared image encoder with an output head per task (parallel)",
    "cascaded@params": "A chain: a segmentation network hands its outline to the networks of the other tasks "
    "(cascaded)",
    "interacted@params": "One small network per task, exchanging features as they go (interacted)",
    "hybrid": "A shared encoder whose other heads also read the predicted outline (hybrid)",
}
#: where the protocol, the other capacity rule and the limits are written up
NOTES = 'benchmarks/RESULTS.md, sections "families-lab" and "families-lab-notes"'

_WORDS = {BETTER: "better", WORSE: "worse", NULL: "no detectable difference"}


@dataclass(frozen=True)
class FamilyFinding:
    """One multi-task family against one single-task network per task, on one seed set of one region.

    Attributes:
        region: the region (``"cardiac"``).
        run: ``"headline"`` or ``"replication"``.
        arm: the family's arm (``"hybrid"``, ``"cascaded@params"`` …).
        seeds: the training seeds behind the intervals.
        tasks: task -> its primary metric's verdict (positive = the family is better; errors sign-flipped).
        metrics: task -> the metric of that verdict (``"dice"``, ``"mae"`` …).
        at_chance: task -> ``(runs that do not beat the image-blind chance level, runs)`` of the family,
            for the tasks where that count is above 0.
        worse_than_copy: reconstruction task -> ``(runs whose error is above the noisy input returned unchanged,
            runs)`` of the family (:func:`mtdl_kit.lab.chance.copy_input_frame`), where that count is above 0.
    """

    region: str
    run: str
    arm: str
    seeds: tuple[int, ...]
    tasks: dict[str, Verdict]
    metrics: dict[str, str]
    at_chance: dict[str, tuple[int, int]]
    worse_than_copy: dict[str, tuple[int, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class FamiliesSummary:
    """The section's content: ``findings`` (markdown bullets), ``caveats`` (plain lines), ``ran`` (seed sets found)."""

    findings: list[str]
    caveats: list[str]
    ran: tuple[str, ...]


def summary_path(region: str, run: str, root: str | Path | None = None) -> Path:
    """``<root>/transfer_g_<region>_<run>_summary.csv`` (root: :func:`mtdl_kit.results.results_dir`)."""
    from mtdl_kit.results import results_dir

    return Path(root or results_dir()) / f"transfer_g_{region}_{run}_summary.csv"


def results_stamp(root: str | Path | None = None) -> tuple[tuple[str, int], ...]:
    """``(file name, modification time in ns)`` of every experiment-G CSV: a cache key that changes with the tables."""
    return transfer_results_stamp(root, "transfer_g_*.csv")


def _table(kind: str, region: str, run: str, root: str | Path | None) -> Any:
    """One experiment-G table of ``region`` (:func:`mtdl_kit.results.load_transfer`), or ``None`` if not written."""
    from mtdl_kit.results import load_transfer

    try:
        return load_transfer(kind, experiment="g", run=f"{region}_{run}", root=root)
    except FileNotFoundError:
        return None


def _at_chance(runs: Any, chance: Any) -> dict[tuple[str, str], tuple[int, int]]:
    """``(arm, task) -> (runs not beating chance, runs)`` (empty when either table is missing)."""
    from mtdl_kit.lab.chance import runs_beating_chance

    if runs is None or chance is None:
        return {}
    counts = runs_beating_chance(runs, chance).groupby(["arm", "task"])["beats"].agg(["sum", "count"])
    return {key: (int(c["count"] - c["sum"]), int(c["count"])) for key, c in counts.iterrows()}


def _worse_than_copy(runs: Any, floor: Any) -> dict[tuple[str, str], tuple[int, int]]:
    """``(arm, task) -> (reconstruction runs worse than the noisy input returned unchanged, runs)`` (empty when
    either table is missing)."""
    from mtdl_kit.lab.chance import runs_against_copy_input

    if runs is None or floor is None or floor.empty:
        return {}
    counts = runs_against_copy_input(runs, floor).groupby(["arm", "task"])["worse"].agg(["sum", "count"])
    return {key: (int(c["sum"]), int(c["count"])) for key, c in counts.iterrows()}


def family_findings(
    region: str, run: str = "headline", *, rule: str = "params", root: str | Path | None = None
) -> list[FamilyFinding]:
    """Every multi-task family against the single-task networks on one seed set of ``region``, under one rule.

    Args:
        region: a region name.
        run: ``"headline"`` or ``"replication"``.
        rule: the capacity rule (:data:`RULE_ARMS`): ``"params"`` (the page's; every network has about the
            shared-encoder network's weights) or ``"width"`` (a full-width sub-network per task; the single-task
            networks have the shared network's width).
        root: folder of the CSVs (default: the bundled ``benchmarks/results/``).

    Returns:
        One :class:`FamilyFinding` per arm of the rule, in :data:`ARMS` order; an empty list when the summary CSV
        does not exist (experiment G was not run there).

    Raises:
        ValueError: the CSV lacks a column or an arm's contrast rows (regenerate it with
            ``benchmarks/bench_families.py``), an interval is missing, or ``rule`` is not one of :data:`RULE_ARMS`.
    """
    import pandas as pd

    from mtdl_kit.lab.families import DELTA_M

    if rule not in RULE_ARMS:
        raise ValueError(f"rule {rule!r} is not one of {list(RULE_ARMS)}.")
    arms, baseline = RULE_ARMS[rule]
    path = summary_path(region, run, root)
    if not path.exists():
        return []
    frame = pd.read_csv(path)
    needed = ["contrast", "task", "metric", "value", "ci_low", "ci_high"]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ValueError(f"{path} lacks the columns {missing}; regenerate it with benchmarks/bench_families.py.")
    runs = _table("runs", region, run, root)
    seeds = () if runs is None else tuple(sorted(int(x) for x in runs["seed"].unique()))
    chance = _at_chance(runs, _table("chance", region, run, root))
    copied = _worse_than_copy(runs, _table("copyinput", region, run, root))
    out = []
    for arm in arms:
        rows = frame[(frame["contrast"] == f"{arm} - {baseline}") & (frame["task"] != DELTA_M)]
        if rows.empty:
            raise ValueError(
                f"{path} has no rows '{arm} - {baseline}'; regenerate it with benchmarks/bench_families.py."
            )
        tasks, metrics = {}, {}
        for r in rows.itertuples():
            what = f"{region} {run}: {arm} - {baseline}, {r.task}"
            tasks[str(r.task)] = verdict(
                r.value, r.ci_low, r.ci_high, unit=str(r.metric), n_seeds=len(seeds), what=what
            )
            metrics[str(r.task)] = str(r.metric)
        at_chance = {t: chance[(arm, t)] for t in tasks if chance.get((arm, t), (0, 0))[0] > 0}
        worse = {t: copied[(arm, t)] for t in tasks if copied.get((arm, t), (0, 0))[0] > 0}
        out.append(FamilyFinding(region, run, arm, seeds, tasks, metrics, at_chance, worse))
    return out


#: the metrics' names in a sentence
_METRIC_WORDS = {"dice": "Dice", "auc": "ROC-AUC", "kappa_quadratic": "quadratic-weighted κ"}


def _difference(v: Verdict, region: str, task: str, metric: str) -> str:
    """``"Dice -0.022 [-0.026, -0.019]"``, ``"error -28.1 [-38.5, -18.0] mm²"``: the family's value minus the
    single-task network's, in the metric's units (the summary flips errors so that positive is better; the page
    shows the plain difference, so a smaller error reads as a negative number, as a clinician would write it)."""
    from mtdl_kit.metrics import higher_is_better
    from mtdl_kit.regions import get_region
    from mtdl_kit.services.clinicians import measure_words

    _, unit, digits = measure_words(get_region(region), task, metric)
    digits += 1  # differences are about a tenth of the values they compare
    sign = 1.0 if higher_is_better(metric) else -1.0
    low, high = sorted((sign * v.ci_low, sign * v.ci_high))
    name = _METRIC_WORDS.get(metric, "error" if sign < 0 else metric)
    text = f"{name} {sign * v.value:+.{digits}f} [{low:+.{digits}f}, {high:+.{digits}f}]"
    return f"{text} {unit}".rstrip()


def _task_clause(f: FamilyFinding, task: str) -> str:
    from mtdl_kit.regions import get_region
    from mtdl_kit.services.clinicians import task_words

    v = f.tasks[task]
    words = task_words(get_region(f.region), task)
    text = f"{words}: **{_WORDS[v.word]}** ({_difference(v, f.region, task, f.metrics[task])})"
    if task in f.at_chance:
        short, n = f.at_chance[task]
        text += f", in {short} of {n} runs no better than a guess that never sees the image"
    if task in f.worse_than_copy:
        worse, n = f.worse_than_copy[task]
        text += f", in {worse} of {n} runs worse than handing back the noisy image unchanged"
    return text


def _replication_words(head: FamilyFinding, rep: FamilyFinding | None) -> str:
    if rep is None:
        return "Not yet repeated on fresh seeds."
    changed = [t for t in head.tasks if t in rep.tasks and rep.tasks[t].word != head.tasks[t].word]
    seeds = seed_words(rep.seeds)
    if not changed:
        return f"Repeated on fresh seeds ({seeds}): the same verdict on every task."
    from mtdl_kit.regions import get_region
    from mtdl_kit.services.clinicians import task_words

    region = get_region(head.region)
    parts = [f"{task_words(region, t)}: {_WORDS[head.tasks[t].word]} → {_WORDS[rep.tasks[t].word]}" for t in changed]
    verdicts = "one verdict" if len(changed) == 1 else f"{len(changed)} verdicts"
    return (
        f"Repeated on fresh seeds ({seeds}): {verdicts} changed ({'; '.join(parts)}); a verdict seen on one seed "
        "set only is not a finding."
    )


def family_sentences(region: str, *, root: str | Path | None = None) -> list[str]:
    """Markdown bullets for one region: each family's per-task verdicts on the headline seeds and whether they
    came back on fresh seeds. Empty when the region's headline summary is missing."""
    head = family_findings(region, "headline", root=root)
    if not head:
        return []
    rep = {f.arm: f for f in family_findings(region, "replication", root=root)}
    out = []
    for f in head:
        clauses = "; ".join(_task_clause(f, t) for t in f.tasks)
        out.append(
            f"**{FAMILY_WORDS[f.arm]}**, against one network per task ({seed_words(f.seeds)}). {clauses}. "
            + _replication_words(f, rep.get(f.arm))
        )
    return out


def rule_changes(region: str, run: str = "headline", *, root: str | Path | None = None) -> tuple[list[str], int]:
    """The verdicts that differ between the two capacity rules on one seed set: each family against one network
    per task at equal total parameters (the page's rule) and with a full-width sub-network per task.

    Returns:
        ``(changes, n)``: one ``"<family in words>, <task in words>: <params verdict> → <width verdict>"`` per
        differing verdict, and the number of verdicts compared (0 when the summary CSV does not exist).
    """
    from mtdl_kit.regions import get_region
    from mtdl_kit.services.clinicians import task_words

    params = family_findings(region, run, rule="params", root=root)
    width = family_findings(region, run, rule="width", root=root)
    reg = get_region(region) if params else None
    changes, n = [], 0
    for p, w in zip(params, width, strict=True):
        for task, v in p.tasks.items():
            n += 1
            if w.tasks[task].word != v.word:
                family = FAMILY_WORDS[p.arm].rsplit("(", 1)[-1].rstrip(")")
                changes.append(f"{family}, {task_words(reg, task)}: {_WORDS[v.word]} → {_WORDS[w.tasks[task].word]}")
    return changes, n


def rule_changes_sentence(region: str, *, root: str | Path | None = None) -> str:
    """One sentence for the page's caveats: how many headline verdicts the other capacity rule changes, and which
    (empty when the region has no results)."""
    changes, n = rule_changes(region, root=root)
    other = (
        "Under the lab's other rule (the cascaded and interacted networks get a full-width sub-network per task, and "
        "each single-task network has the shared network's width)"
    )
    if n == 0:
        return ""
    if not changes:
        return f"{other}, every one of the {n} verdicts is the same."
    verb = "differs" if len(changes) == 1 else "differ"
    return f"{other}, {len(changes)} of the {n} verdicts {verb}: " + "; ".join(changes) + "."


def at_cap_sentence(region: str, run: str = "headline", *, root: str | Path | None = None) -> str:
    """One sentence for the page's caveats: how many of the page's networks ended at the step cap ("" if none).

    The stopping rule ends a network when its validation results stop improving *or* at the step cap; a network
    ended by the cap was still improving (or, under the chance guard, had a task still at chance), so its result
    is what the cap allowed. Counted from the summary's ``mean`` rows of the equal-parameter arms
    (:data:`RULE_ARMS`): one network per task for the single-task arm, one network per family (its largest
    per-task count: the tasks of a multi-task network stop together).
    """
    summary = _table("summary", region, run, root)
    if summary is None or "runs_at_cap" not in summary.columns:
        return ""
    arms, baseline = RULE_ARMS["params"]
    means = summary[summary["contrast"] == "mean"]
    single = means[means["arm"] == baseline]
    single_cap, single_n = int(single["runs_at_cap"].sum()), int(single["n_seeds"].sum())
    multi = means[means["arm"].isin(arms)].groupby("arm")[["runs_at_cap", "n_seeds"]].max()
    multi_cap, multi_n = int(multi["runs_at_cap"].sum()), int(multi["n_seeds"].sum())
    if single_cap + multi_cap == 0:
        return ""
    cap = int(summary["max_steps"].dropna().iloc[0])
    return (
        f"Not every network reached that point: {single_cap + multi_cap} of {single_n + multi_n} networks on this "
        f"page ({single_cap} of {single_n} single-task, {multi_cap} of {multi_n} multi-task) ended at the "
        f"{cap:,}-step cap before the rule stopped them, so their results are what the cap allowed, not "
        "necessarily what they would reach."
    )


def baseline_at_chance_sentence(region: str, run: str = "headline", *, root: str | Path | None = None) -> str:
    """A caveat for the tasks on which the page's single-task networks (:data:`BASELINE`) do not beat the
    image-blind chance level in some runs, with the counts; ``""`` when they beat it in every run (or a table is
    missing). There a family's "better" means it learnt, with the other tasks' help, what one network per task did
    not learn on those runs, not that it estimates the same thing better (the abdomen's malignancy and diameter)."""
    from mtdl_kit.regions import get_region
    from mtdl_kit.services.clinicians import task_words

    runs = _table("runs", region, run, root)
    counts = _at_chance(runs, _table("chance", region, run, root))
    short = {task: c for (arm, task), c in counts.items() if arm == BASELINE and c[0] > 0}
    if not short:
        return ""
    spec = get_region(region)
    parts = [f"{task_words(spec, t)} ({short[t][0]} of {short[t][1]} runs)" for t in spec.task_names if t in short]
    return (
        f"The single-task networks themselves are no better than a guess that never sees the image on "
        f"{'; '.join(parts)}: there a family's 'better' means it learnt, with the other tasks' help, what one "
        "network per task did not learn in those runs, not that it estimates the same thing more accurately."
    )


def families_summary(region: str, *, root: str | Path | None = None) -> FamiliesSummary:
    """The section "one network for all tasks, or one per task?" of the For clinicians page, from the CSVs.

    Args:
        region: the page's region.
        root: folder of the CSVs (default: the bundled ``benchmarks/results/``).

    Returns:
        :class:`FamiliesSummary`: ``findings`` (one markdown bullet per family, or one line saying the
        experiment was not run on this region), ``caveats`` (what the results do not show) and ``ran``.
    """
    findings = family_sentences(region, root=root)
    ran = tuple(run for run in RUNS if summary_path(region, run, root).exists())
    if not findings:
        findings = [
            f"Experiment G has not been run on the {region} phantoms yet "
            f"(no {summary_path(region, 'headline', root).name}), so nothing is claimed for this region."
        ]
    caveats = [
        "Synthetic phantoms, not patients: the features and the labels follow rules written into the generator.",
        (
            "Every network trained until its validation results stopped improving or a step cap (the same rule for "
            "all), on the same training cases per seed. " + at_cap_sentence(region, root=root)
        ).rstrip(),
        "Each difference is the multi-task network's value minus the single-task network's, per task (for an error, "
        "negative means a smaller error), with its 95 % interval over seeds and test cases; better or worse only "
        "when the interval excludes 0.",
        (
            "Equal total parameters: every network compared here, each single-task network included, has about the "
            "weights of the shared-encoder network. " + rule_changes_sentence(region, root=root)
        ).rstrip(),
        f"Protocol, the other capacity rule and the limits: {NOTES}; the region's lesson reads the same tables.",
    ]
    head = family_findings(region, root=root)
    if any(f.worse_than_copy for f in head):
        caveats.insert(
            2,
            "Where a family's cleaned images are worse than the noisy image handed back unchanged, the network has "
            "not learnt even to pass the image through: using it would be worse than using no network; the region's "
            "lesson tests two causes.",
        )
    baseline = baseline_at_chance_sentence(region, root=root)
    if baseline:
        caveats.insert(2, baseline)
    if any(f.at_chance for f in head):
        caveats.insert(
            2,
            "Where a family's runs are no better than a guess that never sees the image, its 'worse' means it learnt "
            "nothing on that task before training stopped, not that it learnt something wrong; the region's lesson "
            "shows why.",
        )
    return FamiliesSummary(findings, caveats, ran)


__all__ = [
    "ARMS",
    "BASELINE",
    "FAMILY_WORDS",
    "RULE_ARMS",
    "RUNS",
    "FamiliesSummary",
    "FamilyFinding",
    "at_cap_sentence",
    "baseline_at_chance_sentence",
    "families_summary",
    "family_findings",
    "family_sentences",
    "results_stamp",
    "rule_changes",
    "rule_changes_sentence",
    "summary_path",
]
