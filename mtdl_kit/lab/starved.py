"""Experiment E of the transfer lab: the starved task — does a weighting method rescue a small-loss task?

A multi-task network sums its tasks' losses on a shared trunk. A task whose loss is small in its
own units (a cup-to-disc ratio's squared error of ~0.01 next to a Dice + cross-entropy of ~0.5)
sends a small gradient into the trunk under equal weighting (EW): the trunk learns for the other
tasks and the small task is *starved*. The usual remedies, each a method of
:mod:`mtdl_kit.weighting`:

- standardising the targets (the library's default for regression tasks,
  :func:`~mtdl_kit.losses.make_losses`), so every regression loss is of order 1;
- uncertainty weighting, ``uw`` (Kendall, Gal & Cipolla, "Multi-task learning using uncertainty to
  weigh losses for scene geometry and semantics", CVPR 2018): learned log-variances rescale each loss;
- GradNorm, ``gradnorm`` (Chen, Badrinarayanan, Lee & Rabinovich, "GradNorm: gradient normalization
  for adaptive loss balancing in deep multitask networks", ICML 2018): learned weights that equalise
  the tasks' gradient norms on the last shared layer at rates set by their training progress;
- dynamic weight average, ``dwa`` (Liu, Johns & Davison, "End-to-end multi-task learning with
  attention", CVPR 2019): weights from each loss's descent rate over the last two epochs (a ratio,
  so the loss's own scale cancels);
- UPGrad on the shared features, ``upgrad`` (Quinton & Rey, "Jacobian descent for multi-objective
  optimization", arXiv:2406.16232, 2024; TorchJD): each task's gradient projected onto the dual cone
  of all of them, so no task's loss increases to first order, whatever its scale.

**Conditions** = weighting method × targets, one network per condition and seed (family
``parallel``: a shared encoder-decoder trunk and one head per task):

- ``raw``: the regression loss in the task's own units (``fit(..., regression_targets="raw")``) and
  the regression head *not* standardised (no
  :meth:`~mtdl_kit.models.base.MultiTaskNet.set_regression_scaling`: it predicts the CDR directly,
  starting near 0). The starved situation the issue asks about;
- ``standardised``: today's behaviour — targets and predictions divided by the region's spread
  (eye CDR: 0.15, so the loss is ~44× the raw one) and the head predicting around the region's centre.

**Regions.** Eye: the starved task is ``cdr`` (regression), trained with ``disc_cup`` (segmentation)
and ``glaucoma`` (classification). Musculoskeletal: the starved task is ``landmarks``, trained with
``bones`` (segmentation). *Landmarks have no raw/standardised pair.* Their target is a unit-peak
Gaussian heatmap per point (σ = 2 px, :func:`~mtdl_kit.losses.landmark_heatmaps`), which has no units
and no spread to divide by; the loss, the MSE between the sigmoid of the logits and the heatmaps
times a fixed factor 10, is small by construction because almost every pixel is background (a
blank prediction scores 10·πσ²/S² ≈ 0.03 at S = 64 px, 0.12 at 32 px, next to a Dice + CE of ~0.5).
The only knob would be that constant, which is not a standardisation of targets. So the
musculoskeletal experiment runs the weighting axis alone, on the library's loss as it is (its single
targets level is called ``raw``: nothing in that network is standardised, and the reference is EW on
it). This is the situation of the zoo's musculoskeletal note
(:data:`mtdl_kit.zoo.training.ZOO_REGION_WEIGHTING`: EW starved the landmarks, UW rescued them).

**Protocol** (that of experiment A, :mod:`mtdl_kit.lab.transfer`). A seed fixes the training subset
(phantom seeds ``10_000 · seed + i`` of the training split) and the initial weights
(``build_model(seed=seed)``: every condition of a seed starts from the same network and sees the same
batches). Every run stops by the same rule: :class:`~mtdl_kit.stopping.ValidationStopping` on the
primary validation metric of every task (Dice, AUC, MAE, mean radial error) over a fixed validation
split, restoring the best checkpoint; the steps each run used are reported. All runs are scored on
one fixed test split. Each condition is compared with **EW on raw targets** per task with
:func:`~mtdl_kit.evaluation.paired_contrast` (paired hierarchical bootstrap over seeds and test
cases), signed so that a positive value means *better than EW-raw* (for MAE and mean radial error the
sign is flipped: a positive value is a smaller error), and worded by :func:`mtdl_kit.verdicts.verdict`.
Runs are cached, keyed by a digest of the configuration with the region's generator version.

**Cost** (2-core CPU, one thread, other benchmarks beside it; ``benchmarks/bench_starved.py`` has the
details): a full-size run (64 px, width 8, batch 16, 400–1500 steps) takes ~100 s for the eye and
30–100 s for the knee, so the headline and replication seeds of both regions (150 runs) take about
3.3–4.2 h; :data:`QUICK` runs a condition in ~5 s.

Research and teaching use only — not for clinical use.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mtdl_kit.lab.outputs import verdict_word
from mtdl_kit.lab.protocol import QUICK_PROTOCOL, TRAINING_CASES, LabProtocol

#: the weighting methods of the experiment (registry names of :mod:`mtdl_kit.weighting`)
METHODS: tuple[str, ...] = ("ew", "uw", "gradnorm", "dwa", "upgrad")
#: how the regression targets enter the loss (see the module docstring)
TARGETS: tuple[str, ...] = ("raw", "standardised")
#: the condition every other one is compared with: (method, targets)
REFERENCE: tuple[str, str] = ("ew", "raw")
#: region -> (the starved task, the tasks it is trained with)
REGION_TASKS: dict[str, tuple[str, tuple[str, ...]]] = {
    "eye": ("cdr", ("disc_cup", "glaucoma")),
    "musculoskeletal": ("landmarks", ("bones",)),
}
#: task kinds a starved task may have
STARVED_KINDS: tuple[str, ...] = ("regression", "landmarks")


def condition_name(method: str, targets: str) -> str:
    """``("ew", "raw") -> "ew-raw"``."""
    return f"{method}-{targets}"


@dataclass(frozen=True)
class StarvedConfig(LabProtocol):
    """Everything that defines a run of experiment E (recorded with every result).

    The split sizes, network size and stopping settings are the lab's protocol
    (:class:`~mtdl_kit.lab.protocol.LabProtocol`, whose fields this configuration has too).

    Attributes:
        region: region name.
        starved: the small-loss task (a regression or landmarks task of the region).
        others: the tasks it is trained with (at least one; a segmentation task in the defaults).
        family: the multi-task family (default ``parallel``: one shared trunk).
        methods: weighting methods (registry names; must include ``"ew"``, the reference).
        targets: ``"raw"`` and/or ``"standardised"`` (must include ``"raw"``, the reference;
            ``"standardised"`` only when the network has a regression task).
        seeds: training seeds (each fixes a training subset and the initial weights).
        select_after_warmup: on here (the protocol's field): the warm-up evaluations cannot become
            the selected checkpoint, so a lucky early validation score cannot hide a slow recovery
            of the starved task.
    """

    region: str = "eye"
    starved: str = "cdr"
    others: tuple[str, ...] = ("disc_cup", "glaucoma")
    family: str = "parallel"
    methods: tuple[str, ...] = METHODS
    targets: tuple[str, ...] = TARGETS
    seeds: tuple[int, ...] = tuple(range(5))
    select_after_warmup: bool = True

    @property
    def tasks(self) -> tuple[str, ...]:
        """The network's tasks: the others first, the starved task last."""
        return (*self.others, self.starved)

    @property
    def conditions(self) -> tuple[tuple[str, str], ...]:
        """Every (method, targets) pair, the reference first."""
        pairs = [(m, t) for t in self.targets for m in self.methods]
        return (REFERENCE, *[p for p in pairs if p != REFERENCE])

    def level(self, method: str) -> str:
        """Where a gradient method acts: ``"features"`` where the method supports it, else ``"parameters"``."""
        from mtdl_kit.weighting import WEIGHTING_INFO

        return "features" if "features" in WEIGHTING_INFO[method].levels else "parameters"

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad field."""
        from mtdl_kit.models import MULTI_TASK_FAMILIES
        from mtdl_kit.regions import get_region
        from mtdl_kit.weighting import available_weightings

        region = get_region(self.region)
        names = region.task_names
        for task in self.tasks:
            if task not in names:
                raise ValueError(f"task {task!r} is not a task of {self.region}; its tasks are {names}.")
        if not self.others:
            raise ValueError("others must name at least one task trained beside the starved task.")
        if len(set(self.tasks)) != len(self.tasks):
            raise ValueError(f"the starved task and the others must be different tasks, got {self.tasks}.")
        kind = region.task(self.starved).kind
        if kind not in STARVED_KINDS:
            raise ValueError(
                f"the starved task must be a regression or landmarks task; {self.starved!r} is a {kind} task "
                f"(the {self.region} tasks of those kinds: "
                f"{[t.name for t in region.tasks if t.kind in STARVED_KINDS]})."
            )
        if self.family not in MULTI_TASK_FAMILIES:
            raise ValueError(f"family must be one of {MULTI_TASK_FAMILIES}, got {self.family!r}.")
        unknown = [m for m in self.methods if m not in available_weightings()]
        if unknown:
            raise ValueError(f"unknown weighting method(s) {unknown}; available: {available_weightings()}.")
        if len(set(self.methods)) != len(self.methods) or REFERENCE[0] not in self.methods:
            raise ValueError(
                f"methods must be distinct and include the reference {REFERENCE[0]!r}, got {self.methods}."
            )
        bad = [t for t in self.targets if t not in TARGETS]
        if bad or len(set(self.targets)) != len(self.targets) or REFERENCE[1] not in self.targets:
            raise ValueError(
                f"targets must be distinct values of {TARGETS} including {REFERENCE[1]!r}, got {self.targets}."
            )
        has_regression = any(region.task(t).kind == "regression" for t in self.tasks)
        if "standardised" in self.targets and not has_regression:
            raise ValueError(
                f"targets 'standardised' changes only regression losses, and none of {self.tasks} is a regression "
                "task (landmarks have no raw/standardised pair: see mtdl_kit.lab.starved); use targets=('raw',)."
            )
        self.validate_protocol(self.seeds)
        region.check_arguments(0, size=self.size, relatedness=1.0, nuisance=None, label_noise=0.0)

    def key(self) -> str:
        """Digest of what changes a run's result (not seeds, methods, targets, n_boot), with the generator version."""
        return self.digest("starved", ("seeds", "methods", "targets", "n_boot"))


#: a small, fast configuration for tests and a first look (eye: 10 conditions × 2 seeds, about 5 s a run, ~2 min
#: on one CPU thread; musculoskeletal: 5 conditions)
QUICK = StarvedConfig(seeds=(0, 1), **QUICK_PROTOCOL)


def default_starved_config(
    region: str = "eye", *, quick: bool = False, adopted: bool = False, **changes: Any
) -> StarvedConfig:
    """The experiment's configuration for ``region`` (its starved task, its targets levels), validated.

    Args:
        region: a region of :data:`REGION_TASKS` (other regions: name ``starved`` and ``others``).
        quick: start from :data:`QUICK` instead of the full-size defaults.
        adopted: the lab's adopted protocol (that of experiment G): the chance guard on and, in the full
            experiment, the region's :data:`~mtdl_kit.lab.protocol.TRAINING_CASES` (the knee: 1,024). Off by
            default: the committed headline and replication of experiment E were trained before it.
        **changes: fields to replace (``None`` values are ignored).

    Raises:
        ValueError: an unknown region without explicit tasks, or a bad field.
    """
    from mtdl_kit.regions import get_region

    changes = {k: v for k, v in changes.items() if v is not None}
    if adopted:
        changes.setdefault("chance_guard", True)
        if not quick:
            changes.setdefault("n_train", TRAINING_CASES.get(region, StarvedConfig.n_train))
    fields: dict[str, Any] = {"region": region}
    if region in REGION_TASKS:
        starved, others = REGION_TASKS[region]
        fields.update(starved=starved, others=others)
    elif "starved" not in changes or "others" not in changes:
        get_region(region)  # an unknown region is named as such
        raise ValueError(f"no default starved task for {region!r}; defaults exist for {tuple(REGION_TASKS)}.")
    fields.update(changes)
    cfg = replace(QUICK if quick else StarvedConfig(), **fields)
    if "targets" not in changes:
        reg = get_region(cfg.region)
        if not any(reg.task(t).kind == "regression" for t in cfg.tasks if t in reg.task_names):
            cfg = replace(cfg, targets=("raw",))
    cfg.validate()
    return cfg


def _datasets(cfg: StarvedConfig, seed: int) -> tuple[Any, Any, Any]:
    return cfg.splits(cfg.region, cfg.tasks, seed)


def build_network(cfg: StarvedConfig, targets: str, seed: int) -> Any:
    """The network of one run: seeded by ``seed``; regression heads standardised only for ``"standardised"``.

    Raises:
        ValueError: ``targets`` not in the configuration's targets.
    """
    from mtdl_kit.models import build_model
    from mtdl_kit.regions import get_region

    if targets not in cfg.targets:
        raise ValueError(f"targets {targets!r} is not one of this configuration's {cfg.targets}.")
    region = get_region(cfg.region)
    tasks = region.select_tasks(list(cfg.tasks))
    model = build_model(cfg.family, tasks, region.in_channels, width=cfg.width, seed=seed, region=region.name)
    if targets == "standardised":
        model.set_regression_scaling(region.regression_stats(tasks))
    return model


@dataclass
class StarvedRun:
    """One trained condition: what the tables report, and the test records the contrasts come from.

    Attributes:
        method: weighting method.
        targets: ``"raw"`` or ``"standardised"``.
        seed: training seed.
        metrics: task -> metric -> value on the test split.
        best_step: the step of the restored checkpoint.
        steps_run: steps trained before stopping.
        seconds: training time.
        parameters: parameters of the network (the weighting method's own not included).
        diagnostics: task -> ``loss_early`` (mean training loss over the first ``eval_every`` steps),
            ``loss_late`` (over the last ``eval_every`` steps run), ``weight_mean`` (mean task weight
            the method applied; for UPGrad the weights of its aggregation).
        records: per-case test records (:class:`~mtdl_kit.evaluation.Records`).
        model: the trained network when asked for (``keep_model=True``).
    """

    method: str
    targets: str
    seed: int
    metrics: dict[str, dict[str, float]]
    best_step: int
    steps_run: int
    seconds: float
    parameters: int
    diagnostics: dict[str, dict[str, float]] = field(default_factory=dict)
    records: Any = field(repr=False, default=None)
    model: Any = field(repr=False, default=None)

    @property
    def condition(self) -> str:
        """``"<method>-<targets>"``."""
        return condition_name(self.method, self.targets)


def _diagnostics(history: Any, tasks: Sequence[str], window: int) -> dict[str, dict[str, float]]:
    out = {}
    for name in tasks:
        losses = [v for _, v in history.series("loss", name)]
        weights = [v for _, v in history.series("weight", name)]
        out[name] = {
            "loss_early": float(statistics.fmean(losses[:window])) if losses else math.nan,
            "loss_late": float(statistics.fmean(losses[-window:])) if losses else math.nan,
            "weight_mean": float(statistics.fmean(weights)) if weights else math.nan,
        }
    return out


def run_condition(
    cfg: StarvedConfig,
    method: str,
    targets: str,
    seed: int,
    *,
    datasets: tuple | None = None,
    keep_model: bool = False,
) -> StarvedRun:
    """Train and test one condition (see the module docstring); deterministic given the arguments on a CPU.

    Raises:
        ValueError: a method or targets value outside the configuration.
    """
    from mtdl_kit.evaluation import evaluate
    from mtdl_kit.regions import get_region

    if method not in cfg.methods:
        raise ValueError(f"method {method!r} is not one of this configuration's {cfg.methods}.")
    region = get_region(cfg.region)
    model = build_network(cfg, targets, seed)
    train, val, test = datasets or _datasets(cfg, seed)
    tasks = model.tasks
    rule = cfg.rule_for(tasks, train, val, region=region)
    history, seconds = cfg.train(
        model,
        train,
        val,
        seed=seed,
        region=region,
        rule=rule,
        weighting=method,
        level=cfg.level(method),
        regression_targets="raw" if targets == "raw" else "standardised",
    )
    scored = evaluate(model, test, tasks=tasks, region=region, batch_size=64)
    return StarvedRun(
        method=method,
        targets=targets,
        seed=seed,
        metrics={t: {k: float(v) for k, v in m.items()} for t, m in scored.metrics.items()},
        best_step=int(history.config["best_step"]),
        steps_run=int(history.config["steps_run"]),
        seconds=seconds,
        parameters=int(model.parameter_count()["total"]),
        diagnostics=_diagnostics(history, [t.name for t in tasks], cfg.eval_every),
        records=scored.records,
        model=model if keep_model else None,
    )


def cache_stem(cfg: StarvedConfig, method: str, targets: str, seed: int, cache: Path) -> Path:
    """Where a run is cached (``<stem>.json`` with the metrics, ``<stem>.npz`` with the records)."""
    return cache / f"{cfg.key()}-{condition_name(method, targets)}-s{seed}"


def cached_run(
    cfg: StarvedConfig, method: str, targets: str, seed: int, cache: str | Path | None, datasets: Any = None
) -> StarvedRun:
    """:func:`run_condition`, read from ``cache`` when it is there and written to it when not."""
    from mtdl_kit.lab.cache import cached_lab_run

    stem = cache_stem(cfg, method, targets, seed, Path(cache)) if cache is not None else None
    return cached_lab_run(
        stem,
        lambda: run_condition(cfg, method, targets, seed, datasets=datasets),
        StarvedRun,
        ("method", "targets", "seed", "best_step", "steps_run", "seconds", "parameters"),
        tables=("metrics", "diagnostics"),
    )


@dataclass
class StarvedResult:
    """All runs of experiment E and their contrasts against EW-raw.

    Attributes:
        config: the configuration.
        runs: every :class:`StarvedRun`.
        runs_frame: one row per run, task and metric (``seed, method, targets, condition, task, metric,
            value, best_step, steps_run, seconds, parameters, loss_early, loss_late, weight_mean``).
        summary: per condition and task: a ``mean`` row (the mean metric over seeds and the median
            steps) and, for every condition but the reference, a contrast row ``<condition> - ew-raw``
            (value positive = better than EW-raw, CI, ``significant``, ``verdict``).
    """

    config: StarvedConfig
    runs: list[StarvedRun]
    runs_frame: Any
    summary: Any


def runs_frame(runs: Sequence[StarvedRun]) -> Any:
    """One row per run, task and metric (see :class:`StarvedResult`)."""
    from mtdl_kit.lab.outputs import runs_frame as runs_frame_of

    diagnostics = ("loss_early", "loss_late", "weight_mean")
    return runs_frame_of(
        runs,
        ("seed", "method", "targets", "condition"),
        extra=lambda r, task: {k: r.diagnostics.get(task, {}).get(k, math.nan) for k in diagnostics},
    )


def summarise(cfg: StarvedConfig, runs: Sequence[StarvedRun]) -> Any:
    """Per-task means and contrasts against EW-raw (paired hierarchical bootstrap) of ``runs``.

    Raises:
        ValueError: a condition of ``cfg`` without runs on every seed (from the paired contrast).
    """
    import pandas as pd

    from mtdl_kit.evaluation import paired_contrast
    from mtdl_kit.metrics import primary_metric
    from mtdl_kit.regions import get_region

    region = get_region(cfg.region)
    reference = condition_name(*REFERENCE)
    by_condition: dict[str, dict[int, Any]] = {condition_name(m, t): {} for m, t in cfg.conditions}
    for r in runs:
        if r.condition in by_condition and r.seed in cfg.seeds:
            by_condition[r.condition][r.seed] = r
    rows = []
    for task in cfg.tasks:
        metric = primary_metric(region.task(task))
        for (method, targets), name in ((c, condition_name(*c)) for c in cfg.conditions):
            chosen = by_condition[name]
            values = [chosen[s].metrics[task][metric] for s in sorted(chosen)]
            base = {"condition": name, "method": method, "targets": targets, "task": task, "metric": metric}
            rows.append(
                {
                    **base,
                    "contrast": "mean",
                    "value": float(sum(values) / len(values)) if values else math.nan,
                    "ci_low": math.nan,
                    "ci_high": math.nan,
                    "significant": None,
                    "verdict": "",
                    "n_seeds": len(values),
                    "median_best_step": statistics.median(chosen[s].best_step for s in chosen) if chosen else math.nan,
                    "median_steps_run": statistics.median(chosen[s].steps_run for s in chosen) if chosen else math.nan,
                }
            )
            if name == reference:
                continue
            arms = {n: {s: r.records for s, r in by_condition[n].items()} for n in (name, reference)}
            est = paired_contrast(arms, {name: 1.0, reference: -1.0}, task, metric, n_boot=cfg.n_boot, seed=0)
            row = {
                **base,
                "contrast": f"{name} - {reference}",
                "value": est.value,
                "ci_low": est.ci_low,
                "ci_high": est.ci_high,
                "n_seeds": len(chosen),
                "median_best_step": math.nan,
                "median_steps_run": math.nan,
            }
            finite = math.isfinite(est.ci_low) and math.isfinite(est.ci_high)
            row["significant"] = bool(est.ci_low > 0 or est.ci_high < 0) if finite else None
            row["verdict"] = verdict_word(row)
            rows.append(row)
    return pd.DataFrame(rows)


def run_starved(
    cfg: StarvedConfig,
    *,
    cache: str | Path | None = None,
    on_run: Callable[[StarvedRun], None] | None = None,
) -> StarvedResult:
    """Run experiment E: every condition × seed (resumable through ``cache``), then the contrasts.

    Args:
        cfg: the configuration (:data:`QUICK` or :func:`default_starved_config` for a first look).
        cache: folder for finished runs (records + metrics); a rerun skips what is there.
        on_run: called after each run (progress reports).
    """
    cfg.validate()
    runs: list[StarvedRun] = []
    for seed in cfg.seeds:
        datasets = _datasets(cfg, seed)
        for method, targets in cfg.conditions:
            run = cached_run(cfg, method, targets, seed, cache, datasets)
            runs.append(run)
            if on_run is not None:
                on_run(run)
    return StarvedResult(cfg, runs, runs_frame(runs), summarise(cfg, runs))


def starved_reading(result: StarvedResult) -> list[str]:
    """Plain sentences computed from the intervals (no fixed claims): the starved task first, then the others."""
    from mtdl_kit.metrics import higher_is_better

    cfg = result.config
    frame = result.summary
    reference = condition_name(*REFERENCE)
    out = []
    loss = result.runs_frame
    ref_runs = loss[(loss["condition"] == reference)].drop_duplicates(["seed", "task"])
    if set(cfg.tasks) <= set(ref_runs["task"]):
        parts = []
        for column, when in (("loss_early", f"first {cfg.eval_every} steps"), ("loss_late", "last steps run")):
            median = ref_runs.groupby("task")[column].median()
            others = ", ".join(f"{t} {median[t]:.3g}" for t in cfg.others)
            parts.append(f"over the {when}: {cfg.starved} {median[cfg.starved]:.3g} against {others}")
        out.append(f"Loss scale under {reference} (median training loss) {'; '.join(parts)}.")
    for task in cfg.tasks:
        rows = frame[frame["task"] == task]
        metric = rows.iloc[0]["metric"]
        means = rows[rows["contrast"] == "mean"].set_index("condition")
        direction = "higher is better" if higher_is_better(metric) else "lower is better"
        ref_mean = means.loc[reference]
        head = (
            f"{'Starved task ' if task == cfg.starved else ''}{task} ({metric}, {direction}; {len(cfg.seeds)} seeds): "
            f"{reference} {ref_mean['value']:.3f} (median {ref_mean['median_steps_run']:.0f} steps)."
        )
        contrasts = rows[rows["contrast"] != "mean"]
        better = contrasts[contrasts["verdict"] == "better"]
        worse = contrasts[contrasts["verdict"] == "worse"]

        def listed(part: Any, means: Any = means) -> str:
            return "; ".join(
                f"{r['condition']} {means.loc[r['condition'], 'value']:.3f}, "
                f"{r['value']:+.3f} [{r['ci_low']:+.3f}, {r['ci_high']:+.3f}]"
                for _, r in part.iterrows()
            )

        if task == cfg.starved:
            verdict = (
                f"Recovered against {reference} (CI excludes 0, positive = better): {listed(better)}."
                if len(better)
                else f"No condition is better than {reference} with a CI excluding 0 under these seeds."
            )
        else:
            verdict = f"Better than {reference}: {listed(better)}." if len(better) else f"None better than {reference}."
        tail = f" Worse than {reference}: {listed(worse)}." if len(worse) else ""
        nulls = len(contrasts) - len(better) - len(worse)
        out.append(f"{head} {verdict}{tail} No detectable difference: {nulls} of {len(contrasts)} conditions.")
    return out


def write_starved_outputs(result: StarvedResult, out: str | Path) -> list[Path]:
    """``runs.csv`` (one row per run, task and metric), ``summary.csv`` and ``summary.md`` into ``out``."""
    from mtdl_kit.lab.outputs import write_lab_outputs

    cfg = result.config
    return write_lab_outputs(
        out,
        result.runs_frame,
        result.summary,
        title=f"Transfer lab, experiment E (the starved task) — {cfg.region}: {cfg.starved} "
        f"with {', '.join(cfg.others)}",
        configs={"Config": cfg},
        reading=starved_reading(result),
    )
