"""Exercise checks on the transfer lab's tables (experiments C-G): contrasts computed by hand from the runs,
the starved task's loss weights, the conflict-transfer correlation, the crossover's interaction."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mtdl_kit.exercises.base import _fail, _ok, three_numbers


def check_mean_weight(
    answer: float, run: str, condition: str, task: str, *, root: Any = None, tolerance: float = 1e-6
) -> float:
    """Check a task's training-averaged loss weight under one condition of experiment E, averaged over seeds.

    Args:
        answer: the learner's number.
        run: ``<region>_<run>`` of the starved task's tables, e.g. ``"eye_headline"``.
        condition: e.g. ``"gradnorm-raw"``.
        task: e.g. ``"cdr"``.
        root: folder of the CSVs (default: the bundled ``benchmarks/results/``).
        tolerance: accepted absolute difference.

    Returns:
        The reference value: the mean over seeds of the runs' ``weight_mean`` for ``task``.

    Raises:
        ExerciseError: not a number, or a different value.
    """
    from mtdl_kit.results import load_starved

    region, _, which = run.rpartition("_")
    runs = load_starved("runs", region=region, run=which, root=root)
    rows = runs[(runs["condition"] == condition) & (runs["task"] == task)].drop_duplicates("seed")
    if rows.empty:
        raise ValueError(f"No runs of condition {condition!r} with task {task!r} in starved_{run}_runs.csv.")
    want = float(rows["weight_mean"].mean())
    if isinstance(answer, bool) or not isinstance(answer, (int, float)) or not math.isfinite(answer):
        raise _fail(f"answer must be a finite number, got {answer!r}.", "average the column weight_mean over seeds.")
    if abs(float(answer) - want) > tolerance:
        raise _fail(
            f"you computed {answer:.4f}, the runs give {want:.4f}.",
            f"keep one row per seed (the runs table has one row per metric) for condition {condition!r} and "
            f"task {task!r}, then average weight_mean.",
        )
    _ok(f"{task}'s training-averaged weight under {condition}, {run.replace('_', ' ')} seeds: {want:.3f}.")
    return want


def check_cascade_contrast(answer: float, run: str, contrast: str, budget: int, *, root: Any = None) -> float:
    """Check a contrast of experiment D (the cascade in stages) computed by hand from its runs table.

    The learner takes ``transfer_d_<run>_runs.csv``, keeps the main task's primary metric at ``budget``,
    and averages over seeds the per-seed difference of the two arms the contrast names (e.g.
    ``"mask_only@dice_0.70 - mask_only@true"``: the classifier reading the mask alone, scored on masks
    degraded to Dice 0.70, minus the same classifier on the reference masks). The lab's point estimate
    is that mean, so it must match the summary's ``value``.

    Args:
        answer: the learner's number (metric units, e.g. AUC points).
        run: ``<region>_<run>``, e.g. ``"eye_headline"``.
        contrast: a two-arm contrast of the summary, ``"<arm>@<input> - <arm>@<input>"`` or ``"... - direct"``.
        budget: the main-task label budget.
        root: folder of the CSVs (default: the bundled ``benchmarks/results/``).

    Returns:
        The reference value.

    Raises:
        ExerciseError: not a number, or a different value (naming the likely slip).
    """
    from mtdl_kit.results import load_transfer

    summary = load_transfer("summary", experiment="d", run=run, root=root)
    rows = summary[(summary["contrast"] == contrast) & (summary["budget"] == budget)]
    if rows.empty or " - " not in contrast:
        two_arm = sorted(c for c in summary["contrast"].unique() if " - " in c)
        raise ValueError(f"No two-arm contrast {contrast!r} at budget {budget}; the contrasts are {two_arm}.")
    return _check_mean_difference(
        answer,
        float(rows["value"].iloc[0]),
        f"{contrast} at {budget} labels",
        "the sign is reversed: first arm minus second.",
        f"keep budget == {budget}, the main task's primary metric (not n_cases), the two (stage, input) pairs "
        "the contrast names, one value per seed; then average the per-seed differences.",
    )


def _check_mean_difference(answer: Any, want: float, label: str, reversed_hint: str, slip_hint: str) -> float:
    """The shared end of the lab's by-hand contrast checks: ``answer`` must be the lab's mean of per-seed
    differences ``want`` (to 1e-6); a reversed sign and any other slip get their own hint."""
    if isinstance(answer, bool) or not isinstance(answer, (int, float)) or not math.isfinite(answer):
        raise _fail(f"answer must be a finite number, got {answer!r}.", "a mean of per-seed differences.")
    tolerance = 1e-6
    if abs(float(answer) - want) <= tolerance:
        _ok(f"{label}: {want:+.4f} (mean over seeds of the paired differences).")
        return want
    if abs(float(answer) + want) <= tolerance:
        raise _fail(f"you computed {answer:+.4f}, the lab gives {want:+.4f}.", reversed_hint)
    raise _fail(f"you computed {answer:+.4f}, the lab gives {want:+.4f}.", slip_hint)


def check_families_contrast(
    answer: float, run: str, contrast: str, task: str, *, metric: str | None = None, root: Any = None
) -> float:
    """Check a per-task contrast of experiment G (the families under the lab's protocol) computed by hand.

    The learner takes ``transfer_g_<run>_runs.csv``, keeps ``task``'s primary metric, takes per seed the
    first arm's value minus the second's (``"hybrid - single@params"``), flips the sign when lower is
    better (MAE: a positive contrast always means the first arm is better), and averages over seeds.
    The lab's point estimate is that mean, so it must match the summary's ``value``. For another metric
    of the runs table (``metric``, e.g. the quadratic weighted κ of an ordinal grade beside its AUC), the
    summary has no row, and the reference is the same mean of per-seed differences computed from the runs.

    Args:
        answer: the learner's number (metric units).
        run: ``<region>_<run>``, e.g. ``"eye_headline"``.
        contrast: a two-arm contrast of the summary, ``"<arm> - <arm>"``.
        task: the task (not ``delta_m``: Δm is a ratio of means, not a mean of differences).
        metric: a metric of the runs table (default: the task's metric in the summary, its primary one).
        root: folder of the CSVs (default: the bundled ``benchmarks/results/``).

    Returns:
        The reference value.

    Raises:
        ExerciseError: not a number, or a different value (naming the likely slip).
    """
    from mtdl_kit.metrics import higher_is_better
    from mtdl_kit.results import load_transfer

    summary = load_transfer("summary", experiment="g", run=run, root=root)
    rows = summary[(summary["contrast"] == contrast) & (summary["task"] == task)]
    if rows.empty or task == "delta_m":
        named = sorted(c for c in summary["contrast"].unique() if " - " in c)
        raise ValueError(f"No contrast {contrast!r} for task {task!r}; the contrasts are {named}.")
    want, primary = float(rows["value"].iloc[0]), str(rows["metric"].iloc[0])
    if metric is not None and metric != primary:
        want = _runs_mean_difference(load_transfer("runs", experiment="g", run=run, root=root), contrast, task, metric)
    metric = metric or primary
    flip = " (for a lower-is-better metric such as MAE, flip it)" if not higher_is_better(metric) else ""
    return _check_mean_difference(
        answer,
        want,
        f"{contrast}, {task} {metric} (+ = better)",
        f"the sign is reversed: first arm minus second{flip}, so that a positive value means better.",
        f"keep task == {task!r} and metric == {metric!r}, the two arms the contrast names, one value per seed; "
        "then average the per-seed differences (sign flipped when lower is better).",
    )


def check_variant_gain(
    answer: float, region: str, label: str, task: str, *, networks: str = "all", root: Any = None
) -> float:
    """Check the mean gain a diagnostic's change gives the networks it retrained, computed by hand.

    The learner takes the diagnostic's table (:func:`~mtdl_kit.results.load_families_variant`: one row per
    network, arm and seed, with its ``headline`` value as trained and its ``variant`` value with the change),
    keeps ``task``, takes per row ``variant - headline``, flips the sign when lower is better (MAE: a positive
    gain always means the change helped), and averages over the rows — over every network, or only the
    single-task ones (arms ``single@...``) or only the multi-task ones, when the table holds both. A network listed
    under two arms (the segmentation baseline serves both capacity rules) counts once
    (:func:`~mtdl_kit.lab.families.distinct_networks`).

    Args:
        answer: the learner's number (metric units).
        region: region name.
        label: the diagnostic's label (``"n_train1024"``, ``"focus_crop64"``: ``bench_families.py --retrain-with``).
        task: a task of the table.
        networks: ``"all"``, ``"single-task"`` or ``"multi-task"``: the rows averaged.
        root: folder of the CSVs (default: the bundled ``benchmarks/results/``).

    Returns:
        The reference value.

    Raises:
        ValueError: a task the table does not hold, an unknown ``networks``, or no network of that kind.
        ExerciseError: not a number, or a different value (naming the likely slip).
    """
    from mtdl_kit.lab.families import distinct_networks, rows_of_networks
    from mtdl_kit.metrics import higher_is_better
    from mtdl_kit.results import load_families_variant

    table = load_families_variant(region, label, root=root)
    rows = table[table["task"] == task]
    if rows.empty:
        raise ValueError(
            f"The {label} table of {region} has no task {task!r}; it has {sorted(table['task'].unique())}."
        )
    rows = distinct_networks(rows_of_networks(rows, networks))
    if rows.empty:
        raise ValueError(
            f"The {label} table of {region} has no {networks} network of {task!r}; its arms are "
            f"{sorted(table['arm'].unique())}. Use networks='all'."
        )
    which = "" if networks == "all" else f"{networks} "
    metric = str(rows["metric"].iloc[0])
    sign = 1.0 if higher_is_better(metric) else -1.0
    want = float((sign * (rows["variant"] - rows["headline"])).mean())
    flip = " (for a lower-is-better metric such as MAE, flip it)" if sign < 0 else ""
    return _check_mean_difference(
        answer,
        want,
        f"{label} on {region}'s {task} {metric} (+ = the change helped), over {len(rows)} {which}networks",
        f"the sign is reversed: with the change minus as trained{flip}, so that a positive value means it helped.",
        f"keep task == {task!r}"
        + ("" if networks == "all" else f" and only the {networks} arms (single-task: arm starting with 'single')")
        + ", one row per network (arm and seed; a single-task network listed under both capacity rules with the "
        "same values counts once); take variant - headline per row (sign flipped when lower is better) and average.",
    )


def check_runs_beating_chance(answer: Mapping[str, int], run: str, task: str, *, root: Any = None) -> dict[str, int]:
    """Check, per arm of experiment G, how many runs beat their seed's image-blind predictor on ``task``.

    The learner pairs each run's primary metric (``transfer_g_<run>_runs.csv``) with the chance level of the
    same seed and task (``..._chance.csv``, ``primary`` rows: what a predictor that never sees the image scores,
    :func:`mtdl_kit.lab.chance.chance_frame`) and counts, per arm, the runs that are better than it — lower for
    an MAE, higher for a Dice or an AUC; an AUC must clear it by a margin (:func:`mtdl_kit.lab.chance.chance_margins`),
    every other metric by 0. A contrast between two arms whose runs do not beat chance compares two ways of
    learning nothing (Zhao et al. 2023 review the families; the chance check is this toolkit's).

    Args:
        answer: ``{arm: number of runs that beat chance}``, one entry per arm of the runs table.
        run: ``<region>_<run>``, e.g. ``"abdomen_headline"``.
        task: a task of the runs table.
        root: folder of the CSVs (default: the bundled ``benchmarks/results/``).

    Returns:
        The reference counts.

    Raises:
        ValueError: a task the tables do not hold.
        ExerciseError: not a mapping of arms to whole numbers, other arms, or other counts (naming the likely slip).
    """
    from mtdl_kit.lab.chance import runs_beating_chance
    from mtdl_kit.metrics import higher_is_better
    from mtdl_kit.results import load_transfer

    runs = load_transfer("runs", experiment="g", run=run, root=root)
    chance = load_transfer("chance", experiment="g", run=run, root=root)
    if task not in set(runs["task"]):
        raise ValueError(f"The runs of {run} have no task {task!r}; they have {sorted(runs['task'].unique())}.")
    paired = runs_beating_chance(runs[runs["task"] == task], chance)
    beats = paired.groupby("arm", sort=False)["beats"]
    want = {str(arm): int(n) for arm, n in beats.sum().items()}
    totals = {str(arm): int(n) for arm, n in beats.count().items()}
    if not isinstance(answer, Mapping) or not all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in answer.values()
    ):
        raise _fail(
            f"answer must map each arm to a whole number of runs, got {answer!r}.",
            "e.g. {'single@params': 0, 'parallel': 3, ...}: per arm, the runs better than their seed's chance level.",
        )
    got = {str(k): int(v) for k, v in answer.items()}
    if set(got) != set(want):
        raise _fail(
            f"your arms {sorted(got)} are not the runs table's {sorted(want)}.",
            "one entry per arm of the runs table (both capacity rules' single-task arms included).",
        )
    if got == want:
        listed = ", ".join(f"{arm} {n} of {totals[arm]}" for arm, n in want.items())
        _ok(f"{task}: runs that beat chance — {listed}.")
        return want
    metric = str(paired["metric"].iloc[0])
    if got == {arm: totals[arm] - n for arm, n in want.items()}:
        raise _fail(
            f"you counted {got}, the lab counts {want}.",
            "you counted the runs that do not beat chance; count the others.",
        )
    has_margin = bool((paired["margin"] > 0).any())  # an AUC's (chance_margins); every other metric's is 0
    margin = " by more than its margin (mtdl_kit.lab.chance.chance_margins)" if has_margin else ""
    raise _fail(
        f"you counted {got}, the lab counts {want}.",
        f"keep task == {task!r} and metric == {metric!r} in both tables (the chance table's primary row), pair each "
        f"run with the chance level of its own seed, and count the runs better than it ({metric}: "
        f"{'higher' if higher_is_better(metric) else 'lower'} is better){margin}.",
    )


def _runs_mean_difference(runs: Any, contrast: str, task: str, metric: str) -> float:
    """The mean over seeds of ``first - second`` arm on ``task``'s ``metric`` (sign flipped when lower is better)."""
    from mtdl_kit.metrics import higher_is_better

    first, _, second = contrast.partition(" - ")
    values = runs[(runs["task"] == task) & (runs["metric"] == metric)]
    if values.empty:
        known = sorted(runs.loc[runs["task"] == task, "metric"].unique())
        raise ValueError(f"The runs table has no metric {metric!r} for task {task!r}; it has {known}.")
    per_seed = values.pivot_table(index="seed", columns="arm", values="value")
    sign = 1.0 if higher_is_better(metric) else -1.0
    return float((sign * (per_seed[first] - per_seed[second])).mean())


def check_condition_rho(answer: float, runs: Any, predictor: str = "cosine", *, tolerance: float = 1e-9) -> float:
    """Check Spearman's ρ between each condition's mean early ``predictor`` and its mean final Δ (experiment F).

    Args:
        answer: the learner's ρ.
        runs: experiment F's runs table (``load_transfer(experiment="f")``: one row per region, rule,
            arm and seed, with ``delta`` and the early means).
        predictor: the early measurement (``"cosine"`` or ``"affinity_aux_to_main"``).

    Returns:
        The reference ρ.

    Raises:
        ExerciseError: a value that is not a number, or a different ρ.
    """
    from mtdl_kit.lab.conflict import conditions_rho

    want = conditions_rho(runs, predictor)
    try:
        got = float(answer)
    except (TypeError, ValueError):
        raise _fail(f"answer must be a number, got {answer!r}.", "scipy.stats.spearmanr(x, y).statistic") from None
    if not math.isclose(got, want, abs_tol=tolerance):
        n = runs.groupby(["region", "rule", "arm"]).ngroups
        raise _fail(
            f"your ρ is {got:+.4f}; over the {n} conditions' means it is {want:+.4f}.",
            "average the runs of each (region, rule, arm) first — one point per condition, not per run — then "
            "rank-correlate the mean predictor with the mean delta.",
        )
    _ok(f"ρ = {want:+.3f} over the conditions' means.")
    return want


def check_crossover_interaction(
    answer: Sequence[float], run: str = "eye_headline", *, root: Any = None, tolerance: float = 1e-6
) -> Any:
    """Check ``(interaction, ci_low, ci_high)`` computed by hand from the crossover's runs table.

    The reference value is the lab's own (``transfer_c_<run>_summary.csv``, row ``interaction``:
    the mean over seeds of ½[(related − unrelated)_A + (related − unrelated)_B]); the reference
    interval is :func:`mtdl_kit.verdicts.seed_bootstrap` (default arguments) of the per-seed
    interactions, paired by seed.

    Args:
        answer: the learner's ``(mean, ci_low, ci_high)``.
        run: ``<region>_<run>`` of the crossover's tables.
        root: folder of the CSVs (default: the bundled ``benchmarks/results/``).
        tolerance: absolute tolerance.

    Returns:
        The :class:`~mtdl_kit.verdicts.Verdict` of the seed-level interval.

    Raises:
        ExerciseError: a wrong value (with the likely mistake: no ½, a reversed sign, one rule only)
            or a wrong interval (unpaired seeds, another interval).
    """
    from mtdl_kit.verdicts import CROSSOVER_CONTRASTS, crossover_seeds, seed_bootstrap, seed_contrast, verdict_of

    table = crossover_seeds(run, root=root)
    weights = CROSSOVER_CONTRASTS["interaction"]
    lab = verdict_of(f"transfer_c_{run}", root=root, budget=table.attrs["budget"], contrast="interaction")
    per_seed = sum(w * table[k] for k, w in weights.items())
    mean, low, high = seed_bootstrap(per_seed)
    if not np.isclose(mean, lab.value, atol=1e-9):  # the runs table and the summary disagree: not the learner's fault
        raise ValueError(f"transfer_c_{run}: runs give {mean}, the summary {lab.value}; regenerate the tables.")
    got = three_numbers(answer, "(interaction, ci_low, ci_high)", "a tuple of three numbers.")
    if not np.isclose(got[0], mean, atol=tolerance):
        one_rule = {r: float((table[f"{r}:related"] - table[f"{r}:unrelated"]).mean()) for r in ("A", "B")}
        if np.isclose(got[0], 2 * mean, atol=tolerance):
            hint = "the interaction is the *average* of the two rules' differences: multiply their sum by ½."
        elif np.isclose(got[0], -mean, atol=tolerance):
            hint = "the sign: related − unrelated, so that a positive value means the related task helps more."
        elif any(np.isclose(got[0], v, atol=tolerance) for v in one_rule.values()):
            hint = "that is one rule's related − unrelated; average it with the other rule's."
        else:
            hint = (
                "per seed: ½ · [(A:related − A:unrelated) + (B:related − B:unrelated)], the same seed in every "
                "column; then the mean over seeds."
            )
        raise _fail(f"The interaction is {mean:+.4f} (the lab's value), you have {got[0]:+.4f}.", hint)
    if not np.allclose(got[1:], (low, high), atol=tolerance):
        hierarchical = np.allclose(got[1:], (lab.ci_low, lab.ci_high), atol=tolerance)
        hint = (
            "that is the lab's hierarchical interval (it also resamples the test cases); here, bootstrap the "
            "seeds only: seed_bootstrap(per_seed)."
            if hierarchical
            else "pass the per-seed interactions (one number per seed, computed row by row, i.e. paired) to "
            "seed_bootstrap with its default arguments (2000 resamples, seed 0)."
        )
        raise _fail(
            f"The seed-level interval is [{low:+.4f}, {high:+.4f}], you have [{got[1]:+.4f}, {got[2]:+.4f}].", hint
        )
    result = seed_contrast(table, weights, what="interaction")
    _ok(
        f"Interaction {mean:+.4f} [{low:+.4f}, {high:+.4f}] over {len(table)} seeds (seeds resampled): "
        f"{result.word}. The lab's interval, which also resamples the test cases: {lab.interval()}."
    )
    return result


def check_contrast_weights(answer: Mapping[str, float], question: str) -> dict[str, float]:
    """Check contrast weights on the crossover's ``"rule:arm"`` columns for a named comparison.

    Args:
        answer: column -> weight, e.g. ``{"B:shuffled": 1, "B:none": -1}``; zero weights may be left out.
        question: a key of :data:`mtdl_kit.verdicts.CROSSOVER_CONTRASTS`, e.g. ``"interaction"`` or
            ``"B: shuffled - none"`` (the first-named arm's weights are positive).

    Returns:
        The weights (floats, zeros dropped), ready for :func:`mtdl_kit.verdicts.seed_contrast`.

    Raises:
        ExerciseError: an unknown arm, a reversed sign, a wrong scale or another comparison.
        ValueError: an unknown question.
    """
    from mtdl_kit.verdicts import CROSSOVER_ARMS, CROSSOVER_CONTRASTS, CROSSOVER_RULES

    if question not in CROSSOVER_CONTRASTS:
        raise ValueError(f"Unknown question {question!r}; the questions are {list(CROSSOVER_CONTRASTS)}.")
    want = CROSSOVER_CONTRASTS[question]
    columns = [f"{r}:{a}" for r in CROSSOVER_RULES for a in CROSSOVER_ARMS]
    if not isinstance(answer, Mapping) or not answer:
        raise _fail(f"answer must be a dict {{arm: weight}}, got {answer!r}.", f"the arms are {columns}.")
    unknown = [k for k in answer if k not in columns]
    if unknown:
        raise _fail(f"{unknown} are not arms of the crossover.", f"write 'rule:arm', one of {columns}.")
    try:
        got = {k: float(v) for k, v in answer.items() if float(v) != 0.0}
    except (TypeError, ValueError):
        raise _fail(f"weights must be numbers, got {answer!r}.", "e.g. {'A:related': 1, 'A:unrelated': -1}.") from None

    def vec(w: Mapping[str, float]) -> np.ndarray:
        return np.array([float(w.get(c, 0.0)) for c in columns])

    g, w = vec(got), vec(want)
    if np.allclose(g, w):
        _ok(f"{question}: {' '.join(f'{v:+g}·{k}' for k, v in got.items())} — the right contrast.")
        return got
    if np.allclose(g, -w):
        hint = f"reverse the signs: a positive value should mean that {question.split(' - ')[0]!r} is the better side."
    elif not np.isclose(g.sum(), 0.0):
        hint = f"a comparison's weights sum to 0 (each arm's + is balanced by another's −); yours sum to {g.sum():+g}."
    elif np.count_nonzero(g) == np.count_nonzero(w) and (g != 0).tolist() == (w != 0).tolist():
        ratio = g[w != 0] / w[w != 0]
        if not (np.allclose(ratio, ratio[0]) and ratio[0] > 0):
            hint = "the right arms, but not with these weights: write each difference as (+1, −1), then combine."
        elif question == "interaction":
            hint = (
                "the right arms and signs, the wrong scale: the interaction *averages* the two rules' differences "
                "(½ each), so it is in ROC-AUC points like each difference."
            )
        else:
            hint = "the right arms and signs, the wrong scale: a difference of two arms is +1 and −1."
    else:
        used = sorted(k for k, v in got.items())
        hint = (
            f"you compare {used}; name the arms of '{question}' (rule A or B, arm none/related/unrelated/shuffled) "
            "and give the first +, the second −."
        )
    raise _fail(f"These weights do not compute '{question}'.", hint)
