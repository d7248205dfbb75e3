"""The shared steps of the region lessons (``notebooks/10_brain.py`` ... ``17_other.py``).

The eight region lessons follow one template: the phantoms and the relatedness knob, the zoo's
pretrained models, their joint outputs and trade-offs, a clinical measurement on predicted masks,
the region's label rule, and the benchmark's verdicts. The code of those steps lives here, once;
each lesson keeps its region's prose, its exercises and one call per step, so a lesson reads as
what it teaches and a fix here reaches all eight. Models, training and metrics come from
:mod:`mtdl_kit.zoo`, :mod:`mtdl_kit.experiments` and :mod:`mtdl_kit.inference`; verdicts from
:mod:`mtdl_kit.verdicts`, the one rule.

Nothing here imports a UI toolkit: the widgets stay in the notebooks, which call
:func:`show_relatedness_case` and :func:`show_tasks` from their callbacks.

Research and teaching use only — not for clinical use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd
    import plotly.graph_objects as go

    from mtdl_kit.models.base import MultiTaskNet
    from mtdl_kit.regions.base import Region, Sample

#: default image size (px) of the lessons' pictures; the evaluations use :func:`lesson_size`
LESSON_SIZE = 64
#: held-out test phantoms evaluated in quick mode and in a full run
QUICK_CASES = 32
FULL_CASES = 128


def _region(region: str | Region) -> Region:
    from mtdl_kit.regions import get_region

    return get_region(region) if isinstance(region, str) else region


def lesson_size(region: str | Region) -> int:
    """The image size (px) a lesson evaluates ``region``'s zoo models at: the size they were trained at.

    Read from the zoo manifest (:func:`mtdl_kit.services.zoo_models.region_model_size`), so a lesson
    follows the zoo when it is retrained at another size.

    Raises:
        ValueError: the region's zoo models were trained at different sizes.
    """
    from mtdl_kit.services.zoo_models import region_model_size
    from mtdl_kit.zoo import read_manifest

    return region_model_size(_region(region).name, read_manifest())


def n_test_cases(quick: bool) -> int:
    """How many held-out phantoms a lesson evaluates: :data:`QUICK_CASES` in quick mode, else :data:`FULL_CASES`.

    Args:
        quick: the lesson's ``QUICK`` parameter.

    Returns:
        The number of test cases.
    """
    return QUICK_CASES if quick else FULL_CASES


def phantom_gallery(
    region: str | Region, *, seeds: Iterable[int] = range(4), size: int = LESSON_SIZE
) -> tuple[go.Figure, pd.DataFrame]:
    """A gallery of phantoms with their ground truth, and the hidden variables that generated them.

    Args:
        region: region name or object.
        seeds: one phantom per seed.
        size: image size in pixels.

    Returns:
        ``(figure, latents)``: the gallery (outlines in Okabe-Ito colours, labels underneath) and one
        row of latents per phantom, rounded to 3 decimals.
    """
    import pandas as pd

    from mtdl_kit.viz import gallery_figure

    reg = _region(region)
    seeds = list(seeds)
    samples = [reg.sample(seed, size=size) for seed in seeds]
    title = f"{reg.title} (seeds {seeds[0]}-{seeds[-1]})" if len(seeds) > 1 else f"{reg.title} (seed {seeds[0]})"
    figure = gallery_figure([(reg, s) for s in samples], columns=len(samples), title=title)
    latents = pd.DataFrame([s.latents for s in samples], index=pd.Index(seeds, name="seed")).round(3)
    return figure, latents


def relatedness_case(region: str | Region, relatedness: float, *, seed: int = 3, size: int = LESSON_SIZE) -> tuple:
    """One phantom at a given relatedness: its figure and, in words, its targets and the two latents.

    Args:
        region: region name or object.
        relatedness: in [0, 1]; at 1 the label follows the rule measured on the mask, at 0 the other latent.
        seed: the phantom (the mask is the same at every relatedness).
        size: image size in pixels.

    Returns:
        ``(figure, lines)``: the sample figure and the text lines (targets, then the anatomy and
        the other latent).
    """
    from mtdl_kit.viz import describe_targets, sample_figure

    reg = _region(region)
    s = reg.sample(seed, size=size, relatedness=relatedness)
    c = reg.coupling
    lines = [
        "; ".join(describe_targets(reg, s)),
        f"{c.anatomy_latent} = {s.latents[c.anatomy_latent]:.3g}, {c.other_latent} = {s.latents[c.other_latent]:.3g}",
    ]
    return sample_figure(reg, s, height=300), lines


def show_relatedness_case(region: str | Region, relatedness: float, *, seed: int = 3, size: int = LESSON_SIZE) -> None:
    """Draw :func:`relatedness_case` and print its lines (what a lesson's relatedness slider calls)."""
    figure, lines = relatedness_case(region, relatedness, seed=seed, size=size)
    figure.show()
    print("\n".join(lines))


def region_models(
    region: str | Region, *, retrain: bool = False, verbose: bool = True
) -> tuple[dict[str, MultiTaskNet], dict[str, MultiTaskNet]]:
    """The zoo's four multi-task families of a region and its single-task baselines, loaded or retrained.

    Every model is the zoo's (``load_pretrained`` checks each file's sha256); with ``retrain`` each is
    trained again with the zoo's recorded configuration (:func:`mtdl_kit.experiments.train_run`).

    Args:
        region: region name or object.
        retrain: train instead of load (minutes per model on a CPU).
        verbose: print how many zoo models the region has and how long the zoo's training took.

    Returns:
        ``(families, baselines)``: family -> model, and ``"single:<task>"`` -> that task's model.
    """
    from mtdl_kit.experiments import train_run
    from mtdl_kit.models import MULTI_TASK_FAMILIES
    from mtdl_kit.zoo import find_entry, load_pretrained, read_manifest

    reg = _region(region)
    if verbose:
        entries = [e for e in read_manifest().values() if e.region == reg.name]
        minutes = sum(e.train_seconds for e in entries) / 60
        devices = sorted({e.device for e in entries})
        print(f"{len(entries)} zoo models for {reg.name}; training them took {minutes:.1f} min on {devices}")

    def get(family: str, tasks: str | None = None) -> MultiTaskNet:
        if retrain:
            config = find_entry(reg.name, family, tasks).run_config()
            return train_run(config, progress=False).model.cpu().eval()
        return load_pretrained(reg.name, family, tasks=tasks)

    families = {family: get(family) for family in MULTI_TASK_FAMILIES}
    baselines = {f"single:{t}": get("single", t) for t in reg.task_names}
    return families, baselines


def parameter_table(models: Mapping[str, MultiTaskNet]) -> pd.DataFrame:
    """Total and shared parameters per model (rows), from ``model.parameter_count()``."""
    import pandas as pd

    return pd.DataFrame({name: net.parameter_count() for name, net in models.items()}).T[["total", "shared"]]


def case_outputs(
    models: Mapping[str, MultiTaskNet], region: str | Region, *, index: int = 0, size: int = LESSON_SIZE
) -> tuple[Sample, dict[str, dict[str, np.ndarray]]]:
    """One held-out test phantom and every model's prediction on it (for the joint-outputs figure).

    Args:
        models: name -> model.
        region: region name or object.
        index: which test case (``PhantomDataset(region, index + 1, split="test")``).
        size: image size in pixels.

    Returns:
        ``(case, outputs)`` with ``outputs[name]`` = :func:`mtdl_kit.inference.predict_sample`.
    """
    from mtdl_kit.data import PhantomDataset
    from mtdl_kit.inference import predict_sample

    reg = _region(region)
    case = PhantomDataset(reg, index + 1, split="test", size=size).sample(index)
    return case, {name: predict_sample(net, case) for name, net in models.items()}


def show_tasks(
    region: str | Region, case: Sample, outputs: Mapping[str, Mapping[str, np.ndarray]], chosen: Sequence[str]
) -> None:
    """Draw the joint outputs with only the ``chosen`` tasks' heads shown (what the task toggles call).

    The shared layers and the other heads do not change when a task is hidden, so what stays is
    exactly what the same network predicts for the tasks still shown.
    """
    from mtdl_kit.inference import joint_outputs_figure

    reg = _region(region)
    shown = {name: {t: v for t, v in out.items() if t in chosen} for name, out in outputs.items()}
    joint_outputs_figure(reg, case, shown, title=f"{reg.name}: tasks shown {list(chosen)}").show()


def measurement_errors(
    models: Mapping[str, MultiTaskNet],
    region: str | Region,
    key: str,
    measure: Callable[[np.ndarray, float], float] | None = None,
    *,
    n_cases: int = 8,
    size: int = LESSON_SIZE,
) -> pd.DataFrame:
    """Mean and largest error of a clinical measurement taken on each model's predicted masks.

    Args:
        models: name -> model (those without the region's segmentation task are skipped).
        region: region name or object.
        key: the measurement, a key of ``region.measure`` (the column label).
        measure: ``fn(mask, spacing_mm) -> float`` (the learner's own); default ``region.measure(...)[key]``.
        n_cases: held-out test cases.
        size: image size in pixels.

    Returns:
        One row per model: ``mean |error| of <key>`` and ``max |error|``, rounded to 3 decimals
        (from :func:`mtdl_kit.inference.mask_measurements`).
    """
    from mtdl_kit.inference import mask_measurements

    measured = mask_measurements(models, region, key, measure=measure, n_cases=n_cases, size=size)
    table = measured.groupby("model", sort=False)["abs_error"].agg(["mean", "max"])
    return table.rename(columns={"mean": f"mean |error| of {key}", "max": "max |error|"}).round(3)


def rule_agreement(
    rule: Callable[[Mapping[str, float]], int],
    region: str | Region,
    *,
    relatedness: Sequence[float] = (1.0, 0.5, 0.0),
    n_cases: int = 64,
    size: int = LESSON_SIZE,
) -> pd.DataFrame:
    """How often a label rule applied to the mask's measurements gives the phantom's label, per relatedness.

    Args:
        rule: ``fn(measured) -> class index``, ``measured`` being ``region.measure(mask, spacing_mm)``
            on the ground-truth mask (the learner's rule, or the region's own).
        region: region name or object.
        relatedness: the values of the knob to try.
        n_cases: phantoms per value (seeds ``0 .. n_cases - 1``; the masks are the same at every value).
        size: image size in pixels.

    Returns:
        One row per relatedness: ``relatedness``, ``agreement`` (fraction of phantoms whose label the
        rule gives) and ``majority class`` (the fraction a constant guess of the commonest label gets,
        the floor to compare with).
    """
    import pandas as pd

    reg = _region(region)
    c = reg.coupling
    rows = []
    for r in relatedness:
        hits, labels = 0, []
        for seed in range(n_cases):
            s = reg.sample(seed, size=size, relatedness=float(r))
            label = int(np.asarray(s.targets[c.classification]))
            labels.append(label)
            hits += int(rule(reg.measure(np.asarray(s.targets[c.segmentation]), s.spacing_mm))) == label
        majority = np.bincount(labels).max() / n_cases
        rows.append({"relatedness": float(r), "agreement": hits / n_cases, "majority class": float(majority)})
    return pd.DataFrame(rows, columns=["relatedness", "agreement", "majority class"]).round(3)


def families_results(region: str) -> pd.DataFrame:
    """The benchmark's ``families`` rows of one region (table 1), best Δm first (not rounded: verdicts read it).

    Columns: ``family``, ``delta_m``, ``ci_low``, ``ci_high`` (95 % CI), ``n_seeds``, ``params``,
    ``infer_ms``; the verdicts of these intervals are :func:`mtdl_kit.verdicts.family_reading`'s.
    """
    from mtdl_kit.results import load_results

    results = load_results("families", region=region)
    columns = ["family", "delta_m", "ci_low", "ci_high", "n_seeds", "params", "infer_ms"]
    return results[columns].sort_values("delta_m", ascending=False).reset_index(drop=True)


def per_task_results(region: str) -> pd.DataFrame:
    """The benchmark's per-task means of one region (``families_tasks``): families as rows, (task, metric) columns."""
    from mtdl_kit.results import load_results

    per_task = load_results("families_tasks", region=region)
    return per_task.pivot_table(index="family", columns=["task", "metric"], values="mean").round(3)


def retrained_baselines(region: str) -> str:
    """Markdown: the region's single-task baselines that were retrained without the early stop, and what it changed.

    Read from the results table ``zoo_unstopped`` (``benchmarks/bench_zoo.py --unstopped``): the shipped
    baseline's metric and the same network's trained to its step cap (the best validation evaluation
    kept). Where the retrained network meets the quality bar and the shipped one does not, the shipped
    baseline was stopped before it learned, and a relative change against it credits the other tasks with
    part of what the stopping rule did. Empty when none of the region's baselines was retrained.
    """
    from mtdl_kit.services.zoo_models import unstopped_baselines
    from mtdl_kit.zoo import quality_floors

    reg = _region(region)
    rows = unstopped_baselines(reg.name)
    lines = []
    for r in rows.itertuples():
        floor = next(f for f in quality_floors(reg.task(r.task)) if f.metric == r.metric)
        shipped_meets = floor.met_by(r.shipped)
        retrained_meets = floor.met_by(r.unstopped)
        bar = floor.bar
        text = (
            f"- **{r.task}**: the single-task network's {r.metric} is {r.shipped:.3f} as shipped and "
            f"{r.unstopped:.3f} when the same network is retrained to its step cap (best validation evaluation "
            f"at step {r.unstopped_best_step}; bar {bar}). "
        )
        if retrained_meets and not shipped_meets:
            text += (
                "The shipped baseline was stopped by the validation rule before it reached the bar: a change "
                "against it credits the other tasks with part of what the stopping rule did."
            )
        elif not retrained_meets:
            text += "Trained to the cap it still misses the bar: the task is hard to learn alone at this budget."
        lines.append(text)
    if not lines:
        return ""
    return (
        "**A caution on the single-task baselines** (`benchmarks/bench_zoo.py --unstopped`, RESULTS.md "
        '"zoo-unstopped"; one training seed each):\n\n' + "\n".join(lines)
    )


def families_lab_table(region: str, run: str = "headline") -> pd.DataFrame:
    """Experiment G's contrasts for ``region`` (the families under the lab's protocol), one row per rule and arm.

    Columns: ``rule``, ``arm``, then per task ``Δ <task>`` and ``Δm`` as interval texts with their verdict
    (``"+0.012 [-0.004, +0.027] (no detectable difference)"``), read from the committed
    ``transfer_g_<region>_<run>_summary.csv``.
    """
    import pandas as pd

    from mtdl_kit.lab.families import DELTA_M
    from mtdl_kit.results import load_transfer
    from mtdl_kit.verdicts import metric_unit, verdict

    summary = load_transfer("summary", experiment="g", run=f"{region}_{run}")
    contrasts = summary[summary["rule"].isin(("params", "width")) & (summary["contrast"] != "mean")]
    rows = []
    for (rule, arm), part in contrasts.groupby(["rule", "arm"], sort=False):
        row = {"rule": rule, "arm": arm}
        for _, r in part.iterrows():
            unit = metric_unit(str(r["metric"]))
            label = "Δm" if r["task"] == DELTA_M else f"Δ {r['task']} {r['metric']}"
            row[label] = str(verdict(r["value"], r["ci_low"], r["ci_high"], unit=unit))
        rows.append(row)
    return pd.DataFrame(rows)


def families_lab_unstopped_reading(region: str, run: str = "headline", *, root: str | Path | None = None) -> str:
    """Markdown bullets: experiment G's early-stopped runs of one task trained again to the cap, per arm.

    Reads ``transfer_g_<region>_<run>_unstopped.csv`` (``benchmarks/bench_families.py --unstopped TASK``):
    per arm the metric's median as stopped and trained to the cap, and how many runs meet the zoo's quality
    bar for the task (:func:`mtdl_kit.zoo.quality_floors`) each way — a bar fixed before these runs, so
    "learnt" is not a threshold picked from them — and, where the seed set's ``..._chance.csv`` exists, how
    many beat their seed's image-blind predictor (:mod:`mtdl_kit.lab.chance`), the bar below which nothing
    was learnt from the image.
    """
    from mtdl_kit.results import load_transfer
    from mtdl_kit.zoo import quality_floors

    table = load_transfer("unstopped", experiment="g", run=f"{region}_{run}", root=root)
    try:
        chance = load_transfer("chance", experiment="g", run=f"{region}_{run}", root=root)
    except FileNotFoundError:
        chance = None  # written since the chance levels exist; an older results folder lacks it
    reg = _region(region)
    lines = []
    for (task, metric), rows in table.groupby(["task", "metric"], sort=False):
        floor = next((f for f in quality_floors(reg.task(task)) if f.metric == metric), None)
        for arm, part in rows.groupby("arm", sort=False):
            runs = f"{len(part)} run{'s' if len(part) != 1 else ''}"
            text = (
                f"- **{arm}**, {task}: {runs} stopped early; {metric} median {part['stopped'].median():.3g} "
                f"as stopped, {part['unstopped'].median():.3g} trained to the cap"
            )
            if floor is not None:
                before = sum(bool(floor.met_by(v)) for v in part["stopped"])
                after = sum(bool(floor.met_by(v)) for v in part["unstopped"])
                text += f"; meeting the zoo's bar ({floor.bar}): {before} of {len(part)} as stopped, {after} to the cap"
            if chance is not None:
                text += _beating_chance(part, chance, task, metric)
            lines.append(text + ".")
    return "\n".join(lines)


def families_lab_substituted(region: str, run: str = "headline", *, root: str | Path | None = None) -> Any:
    """:func:`mtdl_kit.lab.substituted_baseline` of a committed seed set, with the summary's hierarchical interval
    of each "as stopped" row beside it (``hier_low``, ``hier_high``; NaN for "to the cap", which has none).

    Reads ``transfer_g_<region>_<run>_{runs,unstopped,summary}.csv``; the task and metric are the unstopped
    table's.
    """
    from mtdl_kit.lab import substituted_baseline
    from mtdl_kit.results import load_transfer

    stem = f"{region}_{run}"
    runs = load_transfer("runs", experiment="g", run=stem, root=root)
    unstopped = load_transfer("unstopped", experiment="g", run=stem, root=root)
    summary = load_transfer("summary", experiment="g", run=stem, root=root)
    (task, metric), *more = unstopped[["task", "metric"]].drop_duplicates().itertuples(index=False)
    if more:
        raise ValueError(f"{stem}'s unstopped table holds more than one task; substitute one at a time.")
    table = substituted_baseline(runs, unstopped, task, metric)
    contrasts = (summary["task"] == task) & (summary["metric"] == metric) & (summary["contrast"] != "mean")
    hier = summary[contrasts].set_index("contrast")  # one row per contrast (the "mean" rows are per arm)
    stopped = table["baseline"] == "as stopped"
    contrast = table["arm"] + " - " + table["single"]
    table["hier_low"] = contrast.map(hier["ci_low"]).where(stopped)  # NaN where the summary has no such contrast
    table["hier_high"] = contrast.map(hier["ci_high"]).where(stopped)
    table.insert(2, "task", task)
    table.insert(3, "metric", metric)
    return table


def families_lab_substituted_reading(table: Any) -> str:
    """Markdown bullets from :func:`families_lab_substituted`: how much narrower the seed-level interval comes out
    than the hierarchical one on the stopped baseline, and for each family the hierarchical interval called
    better there, whether its gain survives the single-task networks trained to the cap.

    The rule (fixed before reading the numbers): with ``excess`` the largest amount by which a seed-level lower
    bound exceeds its hierarchical one on the stopped baseline, a to-cap lower bound above ``excess`` reads
    "still better", one in (0, ``excess``] "undecided" (a hierarchical interval would likely reach 0), one at or
    below 0 "no longer detectable".
    """
    stopped = table[table["baseline"] == "as stopped"].dropna(subset=["hier_low"])
    if stopped.empty:
        raise ValueError("the table has no stopped row with a hierarchical interval to calibrate against.")
    gap = stopped["ci_low"] - stopped["hier_low"]
    excess = float(max(gap.max(), 0.0))
    task, metric = table["task"].iloc[0], table["metric"].iloc[0]
    lines = [
        f"- **Calibration**: against the single-task networks as stopped, the seed-level interval's lower bound "
        f"lies {gap.min():+.3f} to {gap.max():+.3f} {metric} above the hierarchical one of the same seeds "
        f"({len(stopped)} contrasts; positive: the seed-level interval is the narrower, as it leaves out the test "
        f"cases' variation). A to-cap bound is read against the largest of these, {excess:.3f}."
    ]
    capped = table[table["baseline"] == "to the cap"].set_index(["rule", "arm"])
    for r in stopped.itertuples():
        if r.hier_low <= 0:
            continue
        c = capped.loc[(r.rule, r.arm)]
        if c.ci_low > excess:
            word = "still better"
        elif c.ci_low > 0:
            word = "undecided (its lower bound clears 0 by less than the calibration gap)"
        else:
            word = "no longer detectable"
        lines.append(
            f"- **{r.arm}** − {r.single}, {task}: as stopped {r.value:+.3f} (hierarchical [{r.hier_low:+.3f}, "
            f"{r.hier_high:+.3f}], seed-level [{r.ci_low:+.3f}, {r.ci_high:+.3f}]); against {c.substituted} of "
            f"{c.n_seeds} single-task networks trained to the cap {c.value:+.3f} (seed-level [{c.ci_low:+.3f}, "
            f"{c.ci_high:+.3f}], better in {c.positive} of {c.n_seeds} seeds): **{word}**."
        )
    quiet = [r.arm + " − " + r.single for r in stopped.itertuples() if r.hier_low <= 0]
    if quiet:
        lines.append(
            f"- Without a detectable {task} gain as stopped (hierarchical interval reaching 0), so not asked again: "
            + ", ".join(quiet)
            + "."
        )
    return "\n".join(lines)


def _beating_chance(part: Any, chance: Any, task: str, metric: str) -> str:
    """``"; beating chance (4.22 mm, the image-blind predictor): 0 of 3 as stopped, 2 to the cap"`` for the
    unstopped rows ``part`` (each against its own seed's chance level)."""
    from mtdl_kit.lab.chance import beats_chance, chance_margins

    levels = chance[(chance["task"] == task) & (chance["metric"] == metric)].set_index("seed")["value"]
    margins = chance_margins(chance)
    before = sum(
        beats_chance(r["stopped"], levels[r["seed"]], metric, margins[(r["seed"], task, metric)])
        for _, r in part.iterrows()
    )
    after = sum(
        beats_chance(r["unstopped"], levels[r["seed"]], metric, margins[(r["seed"], task, metric)])
        for _, r in part.iterrows()
    )
    mean = levels[list(part["seed"])].mean()
    counts = f"{before} of {len(part)} as stopped, {after} to the cap"
    return f"; beating chance ({mean:.3g}, the image-blind predictor): {counts}"


def families_lab_variant_reading(
    region: str, label: str, run: str = "headline", *, networks: str = "all", root: str | Path | None = None
) -> str:
    """Markdown bullets: experiment G's networks trained again with one configuration change (e.g. 1,024 training
    cases), per arm and task: how many beat their seed's image-blind predictor each way, with the medians — of
    every network of the table, or only of its single-task or multi-task ones (``networks``,
    :func:`mtdl_kit.lab.families.rows_of_networks`).

    Reads ``transfer_g_<region>_<run>_<label>.csv`` (:func:`mtdl_kit.results.load_families_variant`). A network
    that does not beat chance learnt nothing from the image; a comparison with it says nothing about sharing.
    "Beating" is by more than the table's ``margin_headline`` / ``margin_variant``
    (:func:`mtdl_kit.lab.chance.chance_margins`: an AUC's noise on the test split); a table written before
    those columns is read with a margin of 0, exact for the committed ones (no AUC task among them).
    """
    from mtdl_kit.lab.chance import beats_chance
    from mtdl_kit.lab.families import change_words, rows_of_networks
    from mtdl_kit.results import load_families_variant

    table = load_families_variant(region, label, run=run, root=root)
    table = rows_of_networks(table, networks)
    if table.empty:
        raise ValueError(f"The {label} diagnostic of {region} ({run}) has no {networks} network.")
    for column in ("margin_headline", "margin_variant"):
        if column not in table:
            table[column] = 0.0
    lines = []
    for (arm, task, metric), part in table.groupby(["arm", "task", "metric"], sort=False):
        before = sum(
            beats_chance(r["headline"], r["chance_headline"], metric, r["margin_headline"]) for _, r in part.iterrows()
        )
        after = sum(
            beats_chance(r["variant"], r["chance_variant"], metric, r["margin_variant"]) for _, r in part.iterrows()
        )
        n = len(part)
        lines.append(
            f"- **{arm}**, {task} ({metric}; chance {part['chance_headline'].median():.3g}): beating chance "
            f"{before} of {n} as trained (median {part['headline'].median():.3g}), {after} of {n} with "
            f"{change_words(label)} (median {part['variant'].median():.3g})."
        )
    return "\n".join(lines)


def families_lab_change_reading(
    region: str, label: str, run: str = "headline", *, root: str | Path | None = None
) -> str:
    """Markdown bullets: what one configuration change (``bench_families.py --retrain-with``, e.g. the loss
    weighting) does to experiment G's networks, per arm and task, seed by seed, beside the single-task network.

    Per arm and task: the metric's median as trained and with the change, the seeds on which the change made it
    better (paired: same network, seed and data), and the median of the seed set's ``single@params`` network of
    that task on the same seeds (the baseline the families table compares with). Reads
    ``transfer_g_<region>_<run>_<label>.csv`` and ``transfer_g_<region>_<run>_runs.csv``.
    """
    from mtdl_kit.lab.families import change_words
    from mtdl_kit.metrics import higher_is_better
    from mtdl_kit.results import load_families_variant, load_transfer

    table = load_families_variant(region, label, run=run, root=root)
    runs = load_transfer("runs", experiment="g", run=f"{region}_{run}", root=root)
    words = change_words(label)
    lines = []
    for (arm, task, metric), part in table.groupby(["arm", "task", "metric"], sort=False):
        sign = 1.0 if higher_is_better(metric) else -1.0
        better = int((sign * (part["variant"] - part["headline"]) > 0).sum())
        single = runs[
            (runs["arm"] == "single@params")
            & (runs["task"] == task)
            & (runs["metric"] == metric)
            & runs["seed"].isin(part["seed"])
        ]
        reference = f"; single-task network {single['value'].median():.3g}" if len(single) else ""
        lines.append(
            f"- **{arm}**, {task} ({metric}, {'higher' if sign > 0 else 'lower'} is better): median "
            f"{part['headline'].median():.3g} as trained, {part['variant'].median():.3g} with {words}; better with "
            f"it on {better} of {len(part)} seeds{reference}."
        )
    return "\n".join(lines)


def families_lab_copy_input_reading(region: str, run: str = "headline", *, root: str | Path | None = None) -> str:
    """Markdown bullets: experiment G's reconstruction runs of ``region`` against the noisy input returned unchanged.

    A denoising network has a floor that needs no training (:func:`mtdl_kit.lab.chance.copy_input_frame`, scored on
    the seed set's own test split when the seed set was summarised). Per arm: the runs whose error is above it, with
    the arm's median (:func:`mtdl_kit.lab.chance.copy_input_reading`). Reads ``transfer_g_<region>_<run>_runs.csv``
    and ``..._copyinput.csv``.

    Raises:
        ValueError: ``region`` has no reconstruction task in the table.
        FileNotFoundError: the copy-input table was not written (with the command that writes it).
    """
    from mtdl_kit.lab.chance import copy_input_reading
    from mtdl_kit.regions import get_region
    from mtdl_kit.results import load_transfer

    runs = load_transfer("runs", experiment="g", run=f"{region}_{run}", root=root)
    tasks = get_region(region).select_tasks(list(dict.fromkeys(runs["task"])))
    if not any(t.kind == "reconstruction" for t in tasks):
        raise ValueError(f"the {region} runs table has no reconstruction task; a copy of the input is no floor there.")
    floor = load_transfer("copyinput", experiment="g", run=f"{region}_{run}", root=root)
    return "\n".join(f"- {line}" for line in copy_input_reading(runs, floor))


def families_lab_chance_reading(region: str, run: str = "headline", *, root: str | Path | None = None) -> str:
    """Markdown bullets: experiment G's chance levels for ``region`` and, per task, the runs that do not beat them.

    Reads the committed ``transfer_g_<region>_<run>_runs.csv`` and ``..._chance.csv``
    (:func:`mtdl_kit.lab.chance.chance_reading`): a contrast between runs that sit at chance compares two
    ways of learning nothing.
    """
    from mtdl_kit.lab.chance import chance_reading
    from mtdl_kit.results import load_transfer

    runs = load_transfer("runs", experiment="g", run=f"{region}_{run}", root=root)
    chance = load_transfer("chance", experiment="g", run=f"{region}_{run}", root=root)
    return "\n".join(f"- {line}" for line in chance_reading(runs, chance))


def starved_chance_reading(region: str, run: str = "headline", *, root: str | Path | None = None) -> str:
    """Markdown bullets: experiment E's runs of ``region`` against each seed's image-blind predictor.

    Reads the committed ``starved_<region>_<run>_runs.csv`` and ``..._chance.csv``
    (:func:`mtdl_kit.lab.chance.chance_reading`, one group per condition).
    """
    from mtdl_kit.lab.chance import chance_reading
    from mtdl_kit.results import load_starved

    runs = load_starved("runs", region=region, run=run, root=root)
    chance = load_starved("chance", region=region, run=run, root=root)
    return "\n".join(f"- {line}" for line in chance_reading(runs, chance, group="condition"))


def _seed_set_readings(
    experiment: str, reading: Callable[[pd.DataFrame], list[str]], region: str, runs: Sequence[str]
) -> str:
    """Markdown: ``reading`` of each seed set's committed ``transfer_<experiment>_<region>_<run>_summary.csv``."""
    from mtdl_kit.results import load_transfer

    parts = []
    for run in runs:
        lines = reading(load_transfer("summary", experiment=experiment, run=f"{region}_{run}"))
        parts.append(f"**{region}, {run} seeds**\n\n" + "\n".join(f"- {line}" for line in lines))
    return "\n\n".join(parts)


def families_lab_reading(region: str, runs: Sequence[str] = ("headline",)) -> str:
    """Markdown: experiment G's reading (:func:`mtdl_kit.lab.families.summary_reading`) per seed set of ``region``."""
    from mtdl_kit.lab.families import summary_reading

    return _seed_set_readings("g", summary_reading, region, runs)


def cascade_readings(region: str, runs: Sequence[str] = ("headline", "replication")) -> str:
    """Markdown: experiment D's reading (:func:`mtdl_kit.lab.cascade.summary_reading`) for each seed set of ``region``.

    Read from the committed ``transfer_d_<region>_<run>_summary.csv``, so the lesson's text follows the
    numbers when the benchmark is rerun.
    """
    from mtdl_kit.lab.cascade import summary_reading

    return _seed_set_readings("d", summary_reading, region, runs)


__all__ = [
    "FULL_CASES",
    "LESSON_SIZE",
    "QUICK_CASES",
    "cascade_readings",
    "case_outputs",
    "families_lab_chance_reading",
    "families_lab_reading",
    "families_lab_table",
    "families_lab_unstopped_reading",
    "families_results",
    "lesson_size",
    "measurement_errors",
    "n_test_cases",
    "parameter_table",
    "per_task_results",
    "phantom_gallery",
    "region_models",
    "relatedness_case",
    "rule_agreement",
    "show_relatedness_case",
    "show_tasks",
    "starved_chance_reading",
]
