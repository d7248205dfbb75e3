"""Experiment A of the transfer lab: does a cheaply labelled auxiliary task help a label-starved main task?

The common medical situation: an expensive label (a diagnosis) exists for few cases, a cheaper one
(a segmentation) for many. Caruana ("Multitask Learning", Machine Learning 28, 1997) predicts that a
*related* auxiliary task helps as an inductive bias, most where the main task has least data.

**Arms** (one training run each, per training seed and label budget):

- ``none``: the main task alone, a single-task network trained on the ``budget`` labelled cases;
- ``related``: main + auxiliary task in one network (``family``, default the hybrid network whose
  heads read the predicted masks), the auxiliary labels on all ``n_train`` cases, the main labels on
  the first ``budget`` of them (partial labels: ``<main>__present``);
- ``shuffled``: the same network and data, with the auxiliary targets permuted across cases — the same
  label statistics and loss scale, no information about the case. ``related − shuffled`` is the
  effect of the auxiliary *information*; ``shuffled − none`` is what sharing costs or gives by itself
  (architecture, capacity, optimisation);
- ``unrelated`` (when ``TransferConfig.unrelated`` names a task): the same network with a *real*
  auxiliary task about another feature of the case, one the main label does not follow.

**Experiment C, the relatedness crossover** (:func:`run_crossover`): the main label follows feature
A (the region's anatomy rule, relatedness 1) or feature B (its other sign, relatedness 0), and each
feature has its own segmentation (:attr:`~mtdl_kit.regions.base.Coupling.segmentation` and
:attr:`~mtdl_kit.regions.base.Coupling.other_segmentation`). Under rule A the related auxiliary task
is the segmentation of A and the unrelated one that of B; under rule B the roles swap. The
interaction — (related − unrelated), averaged over the two rules — isolates relatedness: the same
two auxiliary tasks, the same images and networks, only which one the label follows changes; and the
single-task (``none``) difficulty of the two rules is shown beside it.

**Protocol.** A seed fixes the training subset (phantom seeds ``10_000 · seed + i`` of the training
split) and the initial weights of every arm (``build_model(seed=seed)``: the two multi-task arms
start identical). Every arm stops by the same rule: :class:`~mtdl_kit.stopping.ValidationStopping`
on the primary validation metric of every task the network trains (the main task alone for
``none``) over a fixed validation split (disjoint seeds), keeping the best checkpoint; the steps
each run used are reported. All arms are scored on one fixed test split and compared per seed
(:func:`~mtdl_kit.evaluation.paired_contrast`: a paired hierarchical bootstrap over seeds and
test cases).

Research and teaching use only — not for clinical use.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from mtdl_kit.lab.outputs import runs_frame as runs_frame_of
from mtdl_kit.lab.outputs import summary_row, verdict_word
from mtdl_kit.lab.protocol import SUBSET_STRIDE, LabProtocol

ARMS: tuple[str, ...] = ("none", "related", "shuffled")
#: contrasts reported per budget: name -> arm weights (a positive value: the first arm is better)
CONTRASTS: dict[str, dict[str, float]] = {
    "related - none": {"related": 1.0, "none": -1.0},
    "shuffled - none": {"shuffled": 1.0, "none": -1.0},
    "related - shuffled": {"related": 1.0, "shuffled": -1.0},
}
#: across budgets, at each budget above the smallest: (related − none) at the smallest budget minus
#: (related − none) at this one — positive when the gain shrinks as main-task labels grow
SHRINKAGE = "shrinkage: gain at the smallest budget - gain here"
#: the extra contrasts when the configuration has an ``unrelated`` arm
UNRELATED_CONTRASTS: dict[str, dict[str, float]] = {
    "unrelated - none": {"unrelated": 1.0, "none": -1.0},
    "related - unrelated": {"related": 1.0, "unrelated": -1.0},
}


@dataclass(frozen=True)
class TransferConfig(LabProtocol):
    """Everything that defines a run of experiment A (recorded with every result).

    The split sizes, network size and stopping settings are the lab's protocol
    (:class:`~mtdl_kit.lab.protocol.LabProtocol`, whose fields this configuration has too).

    Attributes:
        region: region name.
        main: the label-starved main task.
        auxiliary: the cheaply labelled auxiliary task (labelled on every training case).
        unrelated: optional second auxiliary task about a feature the main label does not follow (a
            region task or a lab task such as the eye's ``rnfl_defect``); adds the ``unrelated`` arm.
        family: the multi-task family of the ``related`` and ``shuffled`` arms.
        guide_summary: for the hybrid family, what its mask-guided heads read of the predicted mask
            (:class:`~mtdl_kit.models.heads.GlobalHead`): ``"mask_only"`` (default: the mask's
            composition alone, a head that can use only what the auxiliary task learned),
            ``"composition"`` (that plus pooled image features) or ``"area"`` (the zoo's setting).
        budgets: numbers of training cases with a main-task label (each ≤ ``n_train``; nested per seed).
        seeds: training seeds (each fixes a training subset and the initial weights).
        relatedness: coupling of the main label to the anatomy (1 = the clinical rule).
        label_noise: probability that a main-task label of a training or validation case is replaced
            by another class (:meth:`~mtdl_kit.regions.base.Region.sample`); the test labels stay
            clean, as an adjudicated reference standard would be. The crossover uses it to match
            the single-task difficulty of its two rules (:attr:`~mtdl_kit.regions.base.Coupling.anatomy_label_noise`).

    Every training case carries the auxiliary label; validation cases are labelled for the main
    task; the single-task arm uses a batch of at most ``budget``.
    """

    region: str = "eye"
    main: str = "glaucoma"
    auxiliary: str = "disc_cup"
    unrelated: str | None = None
    family: str = "hybrid"
    guide_summary: str = "mask_only"
    budgets: tuple[int, ...] = (16, 32, 64, 256)
    seeds: tuple[int, ...] = tuple(range(8))
    relatedness: float = 1.0
    label_noise: float = 0.0

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad field."""
        from mtdl_kit.models import MULTI_TASK_FAMILIES
        from mtdl_kit.regions import get_region

        region = get_region(self.region)
        names = region.task_names + tuple(t.name for t in region.lab_tasks)
        roles = [("main", self.main), ("auxiliary", self.auxiliary)]
        if self.unrelated is not None:
            roles.append(("unrelated", self.unrelated))
        for role, task in roles:
            if task not in names:
                raise ValueError(f"{role} task {task!r} is not a task of {self.region}; its tasks are {names}.")
        if len({t for _, t in roles}) != len(roles):
            raise ValueError(f"main, auxiliary and unrelated must be different tasks, got {[t for _, t in roles]}.")
        if self.family not in MULTI_TASK_FAMILIES:
            raise ValueError(f"family must be one of {MULTI_TASK_FAMILIES}, got {self.family!r}.")
        if not self.budgets or any(not 2 <= b <= self.n_train for b in self.budgets):
            raise ValueError(f"budgets must lie in [2, n_train={self.n_train}], got {self.budgets}.")
        self.validate_protocol(self.seeds)
        region.check_arguments(
            0, size=self.size, relatedness=self.relatedness, nuisance=None, label_noise=self.label_noise
        )

    @property
    def arms(self) -> tuple[str, ...]:
        """The arms this configuration trains (``unrelated`` only when an unrelated task is named)."""
        return ARMS + (("unrelated",) if self.unrelated is not None else ())

    @property
    def contrasts(self) -> dict[str, dict[str, float]]:
        """The contrasts reported per budget."""
        return {**CONTRASTS, **(UNRELATED_CONTRASTS if self.unrelated is not None else {})}

    def key(self) -> str:
        """Short digest of what changes a run's result (not seeds, budgets, n_boot), with the generator version."""
        from mtdl_kit.regions import get_region

        fields = {k: v for k, v in asdict(self).items() if k not in ("seeds", "budgets", "n_boot", "unrelated")}
        if fields["label_noise"] == 0.0:
            del fields["label_noise"]  # a field added later, left out at its default so earlier caches stay valid
        fields = self.key_fields(fields)
        fields["generator_version"] = get_region(self.region).generator_version
        return hashlib.sha1(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:10]

    def arm_tasks(self, arm: str) -> tuple[str, ...]:
        """The tasks an arm's network trains (auxiliary first)."""
        if arm == "none":
            return (self.main,)
        if arm == "unrelated":
            if self.unrelated is None:
                raise ValueError("This configuration has no unrelated task; set TransferConfig.unrelated.")
            return (self.unrelated, self.main)
        if arm in ("related", "shuffled"):
            return (self.auxiliary, self.main)
        raise ValueError(f"Unknown arm {arm!r}; the arms are {self.arms}.")


#: a small, fast configuration for tests and a first look (a few minutes on a 2-core CPU)
QUICK = TransferConfig(
    budgets=(16,),
    seeds=(0, 1, 2),
    n_train=48,
    n_val=32,
    n_test=64,
    size=32,
    width=4,
    max_steps=90,
    eval_every=15,
    patience=3,
    min_evaluations=2,
    batch_size=8,
    n_boot=200,
)


class _LabView:
    """A training set seen by one arm: the main label on the first ``budget`` cases, aux targets maybe permuted."""

    def __init__(self, base: Any, main: str, budget: int, shuffle: str | None, seed: int) -> None:
        import numpy as np

        self.base, self.main, self.budget, self.shuffle = base, main, budget, shuffle
        self.region = base.region
        self.size = base.size
        n = len(base)
        # a derangement: no case keeps its own target
        perm = np.random.default_rng(seed).permutation(n)
        self.perm = np.roll(perm, 1)[np.argsort(perm)] if n > 1 else perm

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> dict[str, Any]:
        import torch

        item = dict(self.base[index])
        item[f"{self.main}__present"] = torch.tensor(index < self.budget)
        if self.shuffle is not None:
            item[self.shuffle] = self.base[int(self.perm[index])][self.shuffle]
        return item


def _datasets(cfg: TransferConfig, seed: int) -> tuple[Any, Any, Any]:
    from mtdl_kit.data import PhantomDataset

    tasks = [cfg.auxiliary, cfg.main] + ([cfg.unrelated] if cfg.unrelated is not None else [])
    common = {"size": cfg.size, "relatedness": cfg.relatedness, "tasks": tasks, "cache": True}
    noisy = {**common, "label_noise": cfg.label_noise}
    train = PhantomDataset(cfg.region, cfg.n_train, split="train", base_seed=SUBSET_STRIDE * seed, **noisy)
    val = PhantomDataset(cfg.region, cfg.n_val, split="val", **noisy)
    test = PhantomDataset(cfg.region, cfg.n_test, split="test", **common)
    return train, val, test


@dataclass
class ArmRun:
    """One trained arm: what the tables report, and the test records the contrasts are computed from."""

    arm: str
    budget: int
    seed: int
    metrics: dict[str, dict[str, float]]
    best_step: int
    steps_run: int
    seconds: float
    parameters: int
    records: Any = field(repr=False, default=None)
    model: Any = field(repr=False, default=None)


def build_arm(cfg: TransferConfig, arm: str, budget: int, seed: int, train: Any) -> tuple[Any, Any, Any, int]:
    """The network an arm trains and the training data it sees, before any step.

    Args:
        train: the seed's training split (``_datasets(cfg, seed)[0]``).

    Returns:
        ``(model, tasks, data, batch_size)``: a freshly initialised network (seeded by ``seed``), its
        :class:`~mtdl_kit.regions.base.TaskSpec` s, the arm's view of ``train`` (the main label on the
        first ``budget`` cases; the auxiliary masks permuted in the ``shuffled`` arm; only the labelled
        cases for ``none``) and the batch size.
    """
    import torch

    from mtdl_kit.models import build_model
    from mtdl_kit.regions import get_region

    if arm not in cfg.arms:
        raise ValueError(f"Unknown arm {arm!r}; the arms of this configuration are {cfg.arms}.")
    region = get_region(cfg.region)
    tasks = region.select_tasks(list(cfg.arm_tasks(arm)))
    if arm == "none":
        model = build_model("single", tasks, region.in_channels, width=cfg.width, seed=seed, region=region.name)
        data = torch.utils.data.Subset(_LabView(train, cfg.main, budget, None, seed), range(budget))
        batch_size = min(cfg.batch_size, budget)
    else:
        options = {"guide_summary": cfg.guide_summary} if cfg.family == "hybrid" else {}
        model = build_model(
            cfg.family, tasks, region.in_channels, width=cfg.width, seed=seed, region=region.name, **options
        )
        data = _LabView(train, cfg.main, budget, cfg.auxiliary if arm == "shuffled" else None, seed)
        batch_size = cfg.batch_size
    model.set_regression_scaling(region.regression_stats(tasks))
    return model, tasks, data, batch_size


def run_arm(
    cfg: TransferConfig, arm: str, budget: int, seed: int, *, datasets: tuple | None = None, keep_model: bool = False
) -> ArmRun:
    """Train and test one arm (see the module docstring); deterministic given the arguments and thread count on a CPU.

    ``keep_model=True`` keeps the trained network on the result (for diagnostics).
    """
    from mtdl_kit.evaluation import evaluate
    from mtdl_kit.regions import get_region

    region = get_region(cfg.region)
    train, val, test = datasets or _datasets(cfg, seed)
    model, tasks, data, batch_size = build_arm(cfg, arm, budget, seed, train)
    # the same rule for every arm: every task the network trains, by its primary validation metric
    rule = cfg.stopping_rule(tasks)
    history, seconds = cfg.train(model, data, val, seed=seed, region=region, rule=rule, batch_size=batch_size)
    scored = evaluate(model, test, tasks=tasks, region=region, batch_size=64)
    return ArmRun(
        arm=arm,
        budget=budget,
        seed=seed,
        metrics={t: {k: float(v) for k, v in m.items()} for t, m in scored.metrics.items()},
        best_step=int(history.config["best_step"]),
        steps_run=int(history.config["steps_run"]),
        seconds=seconds,
        parameters=int(model.parameter_count()["total"]),
        records=scored.records,
        model=model if keep_model else None,
    )


def _cached(cfg: TransferConfig, arm: str, budget: int, seed: int, cache: Path | None, datasets: Any) -> ArmRun:
    from mtdl_kit.lab.cache import cached_lab_run

    name = f"unrelated-{cfg.unrelated}" if arm == "unrelated" else arm
    stem = cache / f"{cfg.key()}-{name}-b{budget}-s{seed}" if cache is not None else None
    return cached_lab_run(
        stem,
        lambda: run_arm(cfg, arm, budget, seed, datasets=datasets),
        ArmRun,
        ("arm", "budget", "seed", "best_step", "steps_run", "seconds", "parameters"),
    )


@dataclass
class TransferResult:
    """All runs of experiment A and its contrasts.

    Attributes:
        config: the configuration.
        runs: every :class:`ArmRun`.
        runs_frame: one row per run and metric (``budget, seed, arm, task, metric, value, best_step,
            steps_run, seconds, parameters``).
        summary: one row per budget and contrast (``budget, contrast, task, metric, value, ci_low,
            ci_high, significant, n_seeds``), plus per-arm means (``contrast`` = ``"mean: <arm>"``).
    """

    config: TransferConfig
    runs: list[ArmRun]
    runs_frame: Any
    summary: Any


def run_transfer(
    cfg: TransferConfig,
    *,
    cache: str | Path | None = None,
    on_run: Callable[[ArmRun], None] | None = None,
) -> TransferResult:
    """Run experiment A: every arm × budget × seed (resumable through ``cache``), then the contrasts.

    Args:
        cfg: the configuration (:data:`QUICK` for a first look).
        cache: folder for finished runs (records + metrics); a rerun skips what is there.
        on_run: called after each run (progress reports).
    """
    import pandas as pd

    from mtdl_kit.evaluation import paired_contrast
    from mtdl_kit.metrics import primary_metric
    from mtdl_kit.regions import get_region

    cfg.validate()
    cache_dir = Path(cache) if cache is not None else None
    runs: list[ArmRun] = []
    for seed in cfg.seeds:
        datasets = _datasets(cfg, seed)
        for budget in cfg.budgets:
            for arm in cfg.arms:
                run = _cached(cfg, arm, budget, seed, cache_dir, datasets)
                runs.append(run)
                if on_run is not None:
                    on_run(run)
    runs_frame = runs_frame_of(runs, ("budget", "seed", "arm"))
    main_metric = primary_metric(get_region(cfg.region).task(cfg.main))
    summary = []
    for budget in cfg.budgets:
        arms = {a: {r.seed: r.records for r in runs if r.arm == a and r.budget == budget} for a in cfg.arms}
        for arm in cfg.arms:
            values = [r.metrics[cfg.main][main_metric] for r in runs if r.arm == arm and r.budget == budget]
            summary.append(_row(budget, f"mean: {arm}", cfg.main, main_metric, float(sum(values) / len(values))))
        for name, weights in cfg.contrasts.items():
            est = paired_contrast(arms, weights, cfg.main, main_metric, n_boot=cfg.n_boot, seed=budget)
            summary.append(_row(budget, name, cfg.main, main_metric, est.value, est.ci_low, est.ci_high))
    # the same seeds (nested label subsets) and test cases at every budget: budgets pair like arms
    by_budget = {
        f"{r.budget}:{r.arm}": {x.seed: x.records for x in runs if x.arm == r.arm and x.budget == r.budget}
        for r in runs
        if r.arm in ("related", "none")
    }
    smallest = min(cfg.budgets)
    for budget in sorted(b for b in cfg.budgets if b != smallest):
        weights = {
            f"{smallest}:related": 1.0,
            f"{smallest}:none": -1.0,
            f"{budget}:related": -1.0,
            f"{budget}:none": 1.0,
        }
        est = paired_contrast(by_budget, weights, cfg.main, main_metric, n_boot=cfg.n_boot, seed=budget + 1)
        summary.append(_row(budget, SHRINKAGE, cfg.main, main_metric, est.value, est.ci_low, est.ci_high))
    return TransferResult(cfg, runs, runs_frame, pd.DataFrame(summary))


def _row(
    budget: int, contrast: str, task: str, metric: str, value: float, low: float = math.nan, high: float = math.nan
) -> dict[str, Any]:
    return summary_row(contrast, task, metric, value, low, high, budget=budget)


def interval_text(row: Any) -> str:
    """``"+0.440 [+0.359, +0.502] (better)"``: a summary row's value, 95 % CI and verdict word."""
    return f"{row['value']:+.3f} [{row['ci_low']:+.3f}, {row['ci_high']:+.3f}] ({verdict_word(row)})"


def reading(result: TransferResult) -> list[str]:
    """Plain sentences computed from the contrasts and their intervals (no fixed claims)."""
    cfg = result.config
    out = []
    frame = result.summary
    for budget in cfg.budgets:
        rows = frame[frame["budget"] == budget].set_index("contrast")
        means = ", ".join(f"{a} {rows.loc[f'mean: {a}', 'value']:.3f}" for a in cfg.arms)
        metric = rows.iloc[0]["metric"]
        parts = [f"{budget} main-task labels ({cfg.main} {metric}, mean over {len(cfg.seeds)} seeds: {means}):"]
        for name in cfg.contrasts:
            parts.append(f"{name} {interval_text(rows.loc[name])}")
        out.append(" ".join(parts[:1]) + " " + "; ".join(parts[1:]) + ".")
    smallest = min(cfg.budgets)
    for budget in sorted(b for b in cfg.budgets if b != smallest):
        row = frame[(frame["budget"] == budget) & (frame["contrast"] == SHRINKAGE)].iloc[0]
        trend = (
            "the gain shrinks"
            if row["ci_low"] > 0
            else "the gain grows"
            if row["ci_high"] < 0
            else "no detectable change"
        )
        out.append(
            f"Gain (related − none) at {smallest} labels minus at {budget}: {interval_text(row)} — {trend} "
            f"from {smallest} to {budget} main-task labels."
        )
    return out


def write_outputs(result: TransferResult, out: str | Path) -> list[Path]:
    """``runs.csv`` (one row per run and metric), ``summary.csv`` and ``summary.md`` into ``out``."""
    from mtdl_kit.lab.outputs import write_lab_outputs

    cfg = result.config
    return write_lab_outputs(
        out,
        result.runs_frame,
        result.summary,
        title=f"Transfer lab, experiment A — {cfg.region}: {cfg.main} with {cfg.auxiliary} as auxiliary task",
        configs={"Config": cfg},
        reading=reading(result),
    )


def parse_seeds(text: str) -> tuple[int, ...]:
    """``"100-107"`` or ``"1,2,5"`` -> seeds.

    Raises:
        ValueError: not a range or comma list of non-negative integers.
    """
    try:
        if "-" in text:
            lo, hi = (int(x) for x in text.split("-", 1))
            seeds = tuple(range(lo, hi + 1))
        else:
            seeds = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise ValueError(f"seeds must look like 100-107 or 1,2,5; got {text!r}.") from None
    if not seeds or min(seeds) < 0:
        raise ValueError(f"seeds must be non-negative integers, got {text!r}.")
    return seeds


def configure(base: TransferConfig, **changes: Any) -> TransferConfig:
    """``base`` with the given fields replaced (``None`` values are ignored), validated."""
    cfg = replace(base, **{k: v for k, v in changes.items() if v is not None})
    cfg.validate()
    return cfg
