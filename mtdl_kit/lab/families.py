"""Experiment G of the transfer lab: the four families against single-task networks, under the lab's protocol.

Table 1 of the wave-1 results compared the review's four architecture families (Zhao et al.,
"Multi-task deep learning for medical image computing and analysis: a review", Comput Biol Med 153,
106496, 2023: cascaded, parallel, interacted, hybrid) with single-task networks at a fixed budget of
400 steps on 3 seeds — a comparison of how fast each family learns, not of what it reaches. This
experiment repeats it under the lab's protocol (:class:`~mtdl_kit.lab.protocol.LabProtocol`): every
network, multi-task or single-task, trains until its validation metrics stop improving (the same
rule for all, the best checkpoint restored), on the same training subset per seed, from the same
initialisation seed, and is scored on one fixed test split; the steps each run used and its
validation curve are recorded.

**Two capacity rules** (issue 12, point 1), because "multi-task beats single-task" depends on what is
held equal:

- ``params`` — *equal total parameters*: the cascaded and interacted networks shrink their per-task
  sub-networks so the whole network has the parallel network's parameters (``match_params=True``),
  and each single-task baseline is sized like the parallel network of the whole task set
  (``capacity_of``; :func:`~mtdl_kit.models.build_baselines` with ``matched=True``). Sharing then
  buys width: the question is whether one shared network uses a fixed budget better than T.
- ``width`` — *equal per-task width*: every task gets sub-networks at the nominal width (cascaded
  and interacted at ``match_params=False``, about T times the encoder parameters; single-task
  baselines at the nominal width). The question is then whether tasks gain from each other when
  none is short of capacity.

The parallel and hybrid networks are the same under both rules (one shared trunk at the nominal
width) and are trained once; a single-task network that both rules build alike (a segmentation
baseline: width 8 either way) is trained once too (runs are cached by the network they build).

**Contrasts** (paired hierarchical bootstrap over seeds and test cases,
:func:`~mtdl_kit.evaluation.paired_contrast` and :func:`~mtdl_kit.evaluation.delta_m`): per rule and
family, each task's primary metric against the rule's single-task network of that task (signed so
that positive = the family is better; MAE flipped), and Δm over all tasks in % (Maninis et al., CVPR
2019); across rules, ``<family>@width − <family>@params`` per task (what giving each task its own
full-width sub-network changes). A cascade shares no layer, so a cascade that loses is error
propagation or a harder problem, not negative transfer (:func:`mtdl_kit.verdicts.shares_layers`).

Loss weighting is equal weighting (EW), as in table 1; regression targets are standardised (the
library's default). Research and teaching use only — not for clinical use.
"""

from __future__ import annotations

import hashlib
import json
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mtdl_kit.lab.protocol import QUICK_PROTOCOL, TRAINING_CASES, LabProtocol
from mtdl_kit.lab.transfer import _verdict_word

#: the capacity rules (see the module docstring)
CAPACITY_RULES: tuple[str, ...] = ("params", "width")
#: families whose networks differ between the two rules ("single": the baselines)
RULE_DEPENDENT: tuple[str, ...] = ("cascaded", "interacted", "single")
#: the cascade's hand-over: detached, as the zoo trains it, so its stages share no layer (an end-to-end
#: cascade back-propagates the downstream losses into the source network, which is then shared)
CASCADE_MODE = "two_stage"
#: the ``rule`` of the summary rows that compare an arm's two rules
ACROSS = "width vs params"
#: the metric name of Δm rows in the summary
DELTA_M = "delta_m"


def arm_name(family: str, rule: str) -> str:
    """``("cascaded", "width") -> "cascaded@width"``; ``("parallel", ...) -> "parallel"`` (rule-free)."""
    return f"{family}@{rule}" if family in RULE_DEPENDENT else family


@dataclass(frozen=True)
class FamiliesConfig(LabProtocol):
    """Everything that defines a run of experiment G (recorded with every result).

    Attributes:
        region: region name.
        tasks: the region's tasks in the comparison (``()``: all of them).
        families: multi-task families compared with the single-task networks.
        rules: capacity rules (:data:`CAPACITY_RULES`).
        weighting: loss weighting of the multi-task networks (EW, as in table 1).
        seeds: training seeds (each fixes a training subset and the initial weights).
        max_steps: a higher cap than experiments A–E (2,000 steps): every network trains every task.
        select_after_warmup: on (the protocol's field): warm-up evaluations cannot be selected.
        chance_guard: on (the protocol's field): a network stops only once every task has beaten its
            validation chance level. Adopted on 2026-12-05, after its replay on the committed curves changed
            none of the eye's, chest's, heart's or skin's 592 networks and 39 of the knee's 112 (RESULTS
            "families-lab-guard"); the results trained before it say so where they are summarised.
    """

    region: str = "eye"
    tasks: tuple[str, ...] = ()
    families: tuple[str, ...] = ("parallel", "cascaded", "interacted", "hybrid")
    rules: tuple[str, ...] = CAPACITY_RULES
    weighting: str = "ew"
    seeds: tuple[int, ...] = tuple(range(8))
    max_steps: int = 2000
    select_after_warmup: bool = True
    chance_guard: bool = True

    def task_names(self) -> tuple[str, ...]:
        """The tasks compared: :attr:`tasks`, or every task of the region."""
        from mtdl_kit.regions import get_region

        return self.tasks or get_region(self.region).task_names

    def arms(self) -> tuple[str, ...]:
        """Every arm: the single-task networks of each rule, then each family (once if rule-free)."""
        names = [arm_name("single", r) for r in self.rules]
        names += [arm_name(f, r) for f in self.families for r in self.rules]
        return tuple(dict.fromkeys(names))

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad field."""
        from mtdl_kit.models import MULTI_TASK_FAMILIES
        from mtdl_kit.regions import get_region
        from mtdl_kit.weighting import available_weightings

        region = get_region(self.region)
        names = self.task_names()
        unknown = [t for t in names if t not in region.task_names]
        if unknown:
            raise ValueError(f"tasks {unknown} are not tasks of {self.region}; its tasks are {region.task_names}.")
        if len(names) < 2 or len(set(names)) != len(names):
            raise ValueError(f"tasks must name at least two distinct tasks (a multi-task network), got {names}.")
        bad = [f for f in self.families if f not in MULTI_TASK_FAMILIES]
        if bad or not self.families or len(set(self.families)) != len(self.families):
            raise ValueError(f"families must be distinct names of {MULTI_TASK_FAMILIES}, got {self.families}.")
        if not self.rules or len(set(self.rules)) != len(self.rules) or set(self.rules) - set(CAPACITY_RULES):
            raise ValueError(f"rules must be distinct values of {CAPACITY_RULES}, got {self.rules}.")
        if self.weighting not in available_weightings():
            raise ValueError(f"unknown weighting {self.weighting!r}; available: {available_weightings()}.")
        self.validate_protocol(self.seeds)
        region.check_arguments(0, size=self.size, relatedness=1.0, nuisance=None, label_noise=0.0)

    def key(self) -> str:
        """Digest of what changes a run's result (not seeds, families, rules, n_boot), with the generator version."""
        return self.digest("families", ("seeds", "families", "rules", "n_boot", "tasks"))


#: a small, fast configuration for tests and a first look (eye: 10 networks × 2 seeds, ~2 min on one thread)
QUICK_FAMILIES = FamiliesConfig(seeds=(0, 1), **QUICK_PROTOCOL)

#: image size of the quick mode where its 32 px cannot grade a task: the knee's joint space at 32 px is too few
#: pixels wide for the JSN grade (the quick test split has grades 0, 3 and 4 only); at 48 px it has all five.
QUICK_SIZES: dict[str, int] = {"musculoskeletal": 48}


def default_families_config(region: str = "eye", *, quick: bool = False, **changes: Any) -> FamiliesConfig:
    """The experiment's configuration for ``region``, validated (``None`` values in ``changes`` are ignored).

    The full experiment runs at the region's :attr:`~mtdl_kit.regions.base.Region.resolving_size` where
    64 px does not resolve its structures (the brain's necrotic core and pathology's nuclei: 128 px; the
    abdomen's enhancing rim: 256 px; fixed before any run of these regions; about four times the cost per
    doubling), else at the protocol's 64 px; the quick mode runs at 32 px, or :data:`QUICK_SIZES` where 32 px
    cannot grade a task; ``size=`` overrides it. It trains on :data:`~mtdl_kit.lab.protocol.TRAINING_CASES` where
    the protocol's 256 cases leave a task at chance (the knee: 1,024); ``n_train=`` overrides it.

    Raises:
        ValueError: an unknown region or a bad field.
    """
    changes = {k: v for k, v in changes.items() if v is not None}
    from mtdl_kit.regions import REGION_NAMES, get_region

    base = QUICK_FAMILIES if quick else FamiliesConfig()
    if quick:
        changes.setdefault("size", QUICK_SIZES.get(region, base.size))
    elif region in REGION_NAMES:
        changes.setdefault("size", max(base.size, get_region(region).resolving_size))
        changes.setdefault("n_train", TRAINING_CASES.get(region, base.n_train))
    cfg = replace(base, region=region, **changes)
    cfg.validate()
    return cfg


def config_of_runs(region: str, runs: Any) -> FamiliesConfig:
    """The configuration a committed runs table (:attr:`FamiliesResult.runs_frame`) was trained under: the
    region's default with the table's seeds and training cases (``budget``), the chance guard off when the
    table has no ``chance_guard`` column (it was trained before the guard was adopted) and the CPU when it has
    no ``device`` column (every table written before the field).

    Raises:
        ValueError: the table mixes training-set sizes, guard settings or devices.
    """
    budgets = sorted({int(b) for b in runs["budget"]})
    guards = sorted({bool(g) for g in runs["chance_guard"]}) if "chance_guard" in runs else [False]
    devices = sorted({str(d) for d in runs["device"]}) if "device" in runs else ["cpu"]
    if len(budgets) != 1 or len(guards) != 1 or len(devices) != 1:
        raise ValueError(
            f"a runs table holds one configuration; got budgets {budgets}, chance guards {guards} "
            f"and devices {devices}."
        )
    seeds = tuple(sorted(int(s) for s in runs["seed"].unique()))
    return default_families_config(region, seeds=seeds, n_train=budgets[0], chance_guard=guards[0], device=devices[0])


@dataclass(frozen=True)
class Network:
    """What one training run builds: a multi-task family on every task, or a single-task network of one task.

    Attributes:
        family: ``"single"`` or a multi-task family.
        tasks: the tasks it trains.
        options: further :func:`~mtdl_kit.models.build_model` arguments the capacity rule sets.
    """

    family: str
    tasks: tuple[str, ...]
    options: tuple[tuple[str, Any], ...] = ()


def networks_of(cfg: FamiliesConfig, arm: str) -> dict[str, Network]:
    """The networks an arm trains: ``{"all": Network}`` for a family, ``{task: Network}`` for the single-task arm.

    Raises:
        ValueError: an arm that is not one of :meth:`FamiliesConfig.arms`.
    """
    if arm not in cfg.arms():
        raise ValueError(f"arm {arm!r} is not one of this configuration's {cfg.arms()}.")
    family, _, rule = arm.partition("@")
    tasks = cfg.task_names()
    if family == "single":
        if rule == "params":
            return {t: Network("single", (t,), (("capacity_of", tasks),)) for t in tasks}
        return {t: Network("single", (t,)) for t in tasks}
    options: tuple[tuple[str, Any], ...] = ()
    if family in RULE_DEPENDENT:
        options = (("match_params", rule == "params"),)
    if family == "cascaded":
        options += (("cascade_mode", CASCADE_MODE),)
    return {"all": Network(family, tasks, options)}


def network_digest(cfg: FamiliesConfig, network: Network) -> str:
    """A short name of what ``network`` builds: its family, tasks and every parameter's name and shape.

    Two arms whose rules build the same network (a segmentation baseline has width 8 under both
    rules) get the same digest, so the cache trains it once per seed.
    """
    model = build_network(cfg, network, seed=0)
    shapes = [[name, list(p.shape)] for name, p in model.state_dict().items()]
    text = json.dumps([network.family, list(network.tasks), dict(network.options).get("cascade_mode"), shapes])
    return hashlib.sha1(text.encode()).hexdigest()[:8]


def build_network(cfg: FamiliesConfig, network: Network, seed: int) -> Any:
    """The network of one run, initialised by ``seed``, regression heads standardised (the library default)."""
    from mtdl_kit.models import build_model
    from mtdl_kit.regions import get_region

    region = get_region(cfg.region)
    tasks = region.select_tasks(list(network.tasks))
    options = dict(network.options)
    if "capacity_of" in options:
        options["capacity_of"] = region.select_tasks(list(options["capacity_of"]))
    model = build_model(
        network.family, tasks, region.in_channels, width=cfg.width, seed=seed, region=region.name, **options
    )
    model.set_regression_scaling(region.regression_stats(tasks))
    return model


@dataclass
class FamilyRun:
    """One trained network: what the tables report, its validation curve and its test records.

    Attributes:
        network: the :func:`network_digest` of what was trained.
        family: ``"single"`` or the multi-task family.
        trained: the tasks it trained, comma-joined.
        seed: training seed.
        metrics: task -> metric -> value on the test split.
        best_step: the step of the restored checkpoint.
        steps_run: steps trained before stopping.
        seconds: training time.
        parameters: parameters of the network.
        curve: task -> ``{step: primary validation metric}`` (the learning curve the stopping rule watched).
        records: per-case test records (:class:`~mtdl_kit.evaluation.Records`).
    """

    network: str
    family: str
    trained: str
    seed: int
    metrics: dict[str, dict[str, float]]
    best_step: int
    steps_run: int
    seconds: float
    parameters: int
    curve: dict[str, dict[str, float]] = field(default_factory=dict)
    records: Any = field(repr=False, default=None)


def _datasets(cfg: FamiliesConfig, seed: int) -> tuple[Any, Any, Any]:
    return cfg.splits(cfg.region, cfg.task_names(), seed)


def train_network(cfg: FamiliesConfig, network: Network, seed: int, *, datasets: tuple | None = None) -> FamilyRun:
    """Train ``network`` under the protocol and score it on the test split (deterministic on a CPU)."""
    from mtdl_kit.evaluation import evaluate
    from mtdl_kit.metrics import primary_metric
    from mtdl_kit.regions import get_region

    region = get_region(cfg.region)
    model = build_network(cfg, network, seed)
    digest = network_digest(cfg, network)
    train, val, test = datasets or _datasets(cfg, seed)
    tasks = model.tasks
    weighting = cfg.weighting if len(tasks) > 1 else "ew"
    rule = cfg.rule_for(tasks, train, val, region=region)
    history, seconds = cfg.train(model, train, val, seed=seed, region=region, rule=rule, weighting=weighting)
    scored = evaluate(model, test, tasks=tasks, region=region, batch_size=64)
    curve = {
        t.name: {str(s): float(v) for s, v in history.series("metric", f"{t.name}/{primary_metric(t)}")} for t in tasks
    }
    return FamilyRun(
        network=digest,
        family=network.family,
        trained=",".join(network.tasks),
        seed=seed,
        metrics={t: {k: float(v) for k, v in m.items()} for t, m in scored.metrics.items()},
        best_step=int(history.config["best_step"]),
        steps_run=int(history.config["steps_run"]),
        seconds=seconds,
        parameters=int(model.parameter_count()["total"]),
        curve=curve,
        records=scored.records,
    )


def cache_stem(cfg: FamiliesConfig, network: Network, seed: int, cache: str | Path) -> Path:
    """Where a run is cached (``<stem>.json`` with the metrics and curve, ``<stem>.npz`` with the records)."""
    return Path(cache) / f"{cfg.key()}-{network.family}-{network_digest(cfg, network)}-s{seed}"


def cached_count(cfg: FamiliesConfig, cache: str | Path) -> tuple[int, int]:
    """(distinct networks of ``cfg`` already in ``cache``, distinct networks it needs)."""
    stems = {
        cache_stem(cfg, network, seed, cache)
        for seed in cfg.seeds
        for arm in cfg.arms()
        for network in networks_of(cfg, arm).values()
    }
    return sum(s.with_suffix(".json").exists() for s in stems), len(stems)


def pending_networks(cfg: FamiliesConfig, cache: str | Path) -> list[tuple[int, str, Network]]:
    """Every ``(seed, arm, network)`` of ``cfg`` not yet in ``cache``, each network once per seed (a network two
    arms share, e.g. a segmentation baseline under both rules, is listed under the first), seeds in order."""
    pending: dict[Path, tuple[int, str, Network]] = {}
    for seed in cfg.seeds:
        for arm in cfg.arms():
            for network in networks_of(cfg, arm).values():
                stem = cache_stem(cfg, network, seed, cache)
                if not stem.with_suffix(".json").exists():
                    pending.setdefault(stem, (seed, arm, network))
    return list(pending.values())


def _train_pending(job: tuple[FamiliesConfig, int, Network, str, int]) -> FamilyRun:
    """Worker of :func:`fill_cache`: one network on ``threads`` CPU threads, into the cache."""
    import torch

    cfg, seed, network, cache, threads = job
    torch.set_num_threads(threads)
    return cached_run(cfg, network, seed, cache)


def fill_cache(
    cfg: FamiliesConfig,
    cache: str | Path,
    *,
    jobs: int,
    threads: int = 1,
    on_run: Callable[[str, FamilyRun], None] | None = None,
) -> int:
    """Train every network :func:`pending_networks` lists in ``jobs`` processes (one network each at a time, on
    ``threads`` CPU threads, on ``cfg.device``): the many small networks of experiment G keep two CPU cores, or
    one GPU fed by several processes, busy. What :func:`run_families` then summarises is read from the cache.

    Each process generates its seed's phantoms (seconds); a killed fill loses only the networks in flight. The
    processes are spawned, so each imports the caller's main script as multiprocessing does: call this from a
    script under ``if __name__ == "__main__":`` (as ``benchmarks/bench_families.py``) or from a notebook.

    Args:
        cfg: the configuration (its :attr:`~LabProtocol.device` included).
        cache: the folder :func:`run_families` reads.
        jobs: processes (``1`` trains in this process).
        threads: CPU threads per process.
        on_run: called with the arm and the run as each network finishes (in finishing order).

    Returns:
        The number of networks trained.

    Raises:
        ValueError: a bad configuration, ``jobs`` or ``threads`` below 1, or a device that is not here.
    """
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    cfg.validate()
    if jobs < 1 or threads < 1:
        raise ValueError(f"jobs and threads must be at least 1, got jobs={jobs}, threads={threads}.")
    pending = pending_networks(cfg, cache)
    if pending:
        check_test_classes(cfg, _datasets(cfg, cfg.seeds[0])[2])  # refused before any network trains
    work = [(cfg, seed, network, str(cache), threads) for seed, _, network in pending]
    if jobs == 1:
        for (_, arm, _), job in zip(pending, work, strict=True):
            run = _train_pending(job)
            if on_run is not None:
                on_run(arm, run)
        return len(work)
    with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn")) as pool:
        futures = {pool.submit(_train_pending, job): arm for (_, arm, _), job in zip(pending, work, strict=True)}
        try:
            for future in as_completed(futures):
                run = future.result()
                if on_run is not None:
                    on_run(futures[future], run)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)  # a failed network stops the fill, not only itself
            raise
    return len(work)


def cached_run(
    cfg: FamiliesConfig, network: Network, seed: int, cache: str | Path | None, datasets: Any = None
) -> FamilyRun:
    """:func:`train_network`, read from ``cache`` when it is there and written to it when not."""
    from mtdl_kit.lab.cache import cached_lab_run

    stem = cache_stem(cfg, network, seed, cache) if cache is not None else None
    return cached_lab_run(
        stem,
        lambda: train_network(cfg, network, seed, datasets=datasets),
        FamilyRun,
        ("network", "family", "trained", "seed", "best_step", "steps_run", "seconds", "parameters"),
        tables=("metrics", "curve"),
    )


def to_cap(cfg: FamiliesConfig) -> FamiliesConfig:
    """``cfg`` without the early stop: a patience longer than the run, so every network trains to the step
    cap and keeps its best validation evaluation (the diagnostic for a task that learns late; the zoo's
    ``lab-to-cap`` recipe is the same idea). Its :meth:`~FamiliesConfig.key` differs, so its runs are cached apart.
    """
    return replace(cfg, patience=cfg.max_steps // cfg.eval_every + 1)


def unstopped_run(cfg: FamiliesConfig, arm: str, seed: int, task: str, cache: str | Path | None = None) -> FamilyRun:
    """The network that trained ``task`` in ``arm`` on ``seed``, trained again under :func:`to_cap` (same data,
    initialisation and validation evaluations; only the stop differs).

    Raises:
        ValueError: an arm or task that is not in ``cfg``.
    """
    if task not in cfg.task_names():
        raise ValueError(f"task {task!r} is not one of {cfg.task_names()}.")
    nets = networks_of(cfg, arm)
    uncapped = to_cap(cfg)
    return cached_run(uncapped, nets["all"] if "all" in nets else nets[task], seed, cache)


def stop_outcomes(runs: Any, task: str, metric: str) -> Any:
    """Per arm: ``task``'s runs that the stopping rule ended before the step cap against those that reached it.

    A task that learns late — a landmark heat map that stays blank for hundreds of steps — loses runs to
    a patience rule: the validation metric does not move on the plateau, patience runs out, and the best
    (blank) checkpoint is kept. This table shows whether an arm's poor mean comes from such runs.

    Args:
        runs: a runs table of experiment G (:attr:`FamiliesResult.runs_frame`, or its committed CSV).
        task: the task.
        metric: one of its metrics in the table.

    Returns:
        One row per arm: ``runs``, ``stopped_early`` (runs that ended before the cap), ``median_stopped`` and
        ``median_at_cap`` (the metric's median over each group; NaN for an empty group), ``latest_best_stopped``
        (the latest best step among the early-stopped runs) and ``earliest_best_at_cap``.

    Raises:
        ValueError: no rows for ``task`` and ``metric``.
    """
    import pandas as pd

    rows = runs[(runs["task"] == task) & (runs["metric"] == metric)]
    if rows.empty:
        raise ValueError(
            f"no runs of task {task!r} with metric {metric!r}; the table's tasks are {sorted(runs['task'].unique())}."
        )
    out = []
    for arm, part in rows.groupby("arm", sort=False):
        capped = part["at_cap"].astype(bool)
        early, full = part[~capped], part[capped]
        out.append(
            {
                "arm": arm,
                "runs": len(part),
                "stopped_early": len(early),
                "median_stopped": early["value"].median() if len(early) else float("nan"),
                "median_at_cap": full["value"].median() if len(full) else float("nan"),
                "latest_best_stopped": early["best_step"].max() if len(early) else float("nan"),
                "earliest_best_at_cap": full["best_step"].min() if len(full) else float("nan"),
            }
        )
    return pd.DataFrame(out)


def substituted_baseline(
    runs: Any, unstopped: Any, task: str, metric: str, *, n_boot: int = 4000, seed: int = 0
) -> Any:
    """Each family's per-seed ``task`` difference from its rule's single-task network, against the single-task
    networks as the rule stopped them and with those it stopped early replaced by their runs to the cap.

    The question is whether a family's gain survives a stronger baseline: the early stop could have cut the
    single-task networks short (:func:`unstopped_run`). The committed CSVs hold each network's metric but
    not its per-case records, so the interval is over seeds alone (:func:`~mtdl_kit.evaluation.seed_bootstrap_mean`,
    the same bootstrap generator for both baselines); read it beside the hierarchical interval of the seed
    set's summary, which also resamples test cases.

    Args:
        runs: the seed set's runs table (``transfer_g_<region>_<run>_runs.csv``).
        unstopped: its ``..._unstopped.csv`` (``benchmarks/bench_families.py --unstopped``).
        task: the task compared.
        metric: its metric (in both tables).

    Returns:
        One row per rule, family arm and baseline (``"as stopped"``, ``"to the cap"``): ``rule``, ``arm``,
        ``single``, ``baseline``, ``value`` (mean over seeds, positive = the family is better), ``ci_low``,
        ``ci_high``, ``positive`` (seeds where the family is better), ``n_seeds``, ``substituted`` (seeds whose
        single-task network was replaced; 0 for ``"as stopped"``).

    Raises:
        ValueError: no runs or no unstopped rows of ``task`` and ``metric``, or unstopped rows of seeds or
            arms the runs table lacks.
    """
    import pandas as pd

    from mtdl_kit.evaluation import seed_bootstrap_mean
    from mtdl_kit.metrics import higher_is_better

    rows = runs[(runs["task"] == task) & (runs["metric"] == metric)]
    capped = unstopped[(unstopped["task"] == task) & (unstopped["metric"] == metric)]
    if rows.empty or capped.empty:
        raise ValueError(
            f"no {'runs' if rows.empty else 'unstopped runs'} of task {task!r} with metric {metric!r}: train them "
            "(benchmarks/bench_families.py, --unstopped TASK) first."
        )
    wide = rows.pivot(index="seed", columns="arm", values="value")
    to_cap = capped.set_index(["arm", "seed"])["unstopped"]
    foreign = [key for key in to_cap.index if key[0] not in wide.columns or key[1] not in wide.index]
    if foreign:
        raise ValueError(f"unstopped runs {foreign} are not networks of the runs table (another seed set?).")
    sign = 1.0 if higher_is_better(metric) else -1.0
    out = []
    for rule in sorted({_rule_of(a) for a in wide.columns if a.startswith("single@")}):
        single = f"single@{rule}"
        stronger = wide[single].copy()
        swapped = [s for s in stronger.index if (single, s) in to_cap.index]
        for s in swapped:
            stronger[s] = to_cap[(single, s)]
        families = [a for a in wide.columns if not a.startswith("single") and _rule_of(a) in ("", rule)]
        for arm in families:
            for baseline, base, n_swapped in (("as stopped", wide[single], 0), ("to the cap", stronger, len(swapped))):
                diff = sign * (wide[arm] - base)
                est = seed_bootstrap_mean(diff.to_numpy(), n_boot=n_boot, seed=seed)
                out.append(
                    {
                        "rule": rule,
                        "arm": arm,
                        "single": single,
                        "baseline": baseline,
                        "value": est.value,
                        "ci_low": est.ci_low,
                        "ci_high": est.ci_high,
                        "positive": int((diff > 0).sum()),
                        "n_seeds": len(diff),
                        "substituted": n_swapped,
                    }
                )
    return pd.DataFrame(out)


@dataclass
class FamiliesResult:
    """All runs of experiment G and their contrasts.

    Attributes:
        config: the configuration.
        runs: arm -> seed -> network key (``"all"`` or a task) -> :class:`FamilyRun`.
        runs_frame: one row per arm, seed, task and metric (``budget, seed, arm, family, rule, task,
            metric, value, best_step, steps_run, seconds, parameters, at_cap, chance_guard``).
        summary: per rule: ``mean`` rows (per arm and task: mean metric, median steps, parameters),
            ``<arm> - single@<rule>`` per task (metric units, positive = the family is better) and for Δm
            (``task`` = ``metric`` = ``delta_m``, in %), and ``<family>@width - <family>@params`` per task.
        curves: one row per arm, seed, task and validation step (``arm, seed, task, step, value``).
    """

    config: FamiliesConfig
    runs: dict[str, dict[int, dict[str, FamilyRun]]]
    runs_frame: Any
    summary: Any
    curves: Any


def _rule_of(arm: str) -> str:
    return arm.partition("@")[2]


def runs_frame(cfg: FamiliesConfig, runs: dict[str, dict[int, dict[str, FamilyRun]]]) -> Any:
    """One row per arm, seed, task and metric (see :class:`FamiliesResult`)."""
    import pandas as pd

    rows = []
    for arm, by_seed in runs.items():
        for seed, nets in by_seed.items():
            for run in nets.values():
                for task, metrics in run.metrics.items():
                    for metric, value in metrics.items():
                        rows.append(
                            {
                                "budget": cfg.n_train,
                                "seed": seed,
                                "arm": arm,
                                "family": run.family,
                                "rule": _rule_of(arm),
                                "task": task,
                                "metric": metric,
                                "value": value,
                                "best_step": run.best_step,
                                "steps_run": run.steps_run,
                                "seconds": round(run.seconds, 2),
                                "parameters": run.parameters,
                                "at_cap": run.steps_run >= cfg.max_steps,
                                "chance_guard": cfg.chance_guard,
                                "device": cfg.device,
                            }
                        )
    return pd.DataFrame(rows)


def curves_frame(runs: dict[str, dict[int, dict[str, FamilyRun]]]) -> Any:
    """The validation curves of every run, long format (see :class:`FamiliesResult`)."""
    import pandas as pd

    rows = [
        {"arm": arm, "seed": seed, "task": task, "step": int(step), "value": round(value, 4)}
        for arm, by_seed in runs.items()
        for seed, nets in by_seed.items()
        for run in nets.values()
        for task, points in run.curve.items()
        for step, value in points.items()
    ]
    return pd.DataFrame(rows, columns=["arm", "seed", "task", "step", "value"])


def _run_of(runs: dict[str, dict[int, dict[str, FamilyRun]]], arm: str, seed: int, task: str) -> FamilyRun:
    nets = runs[arm][seed]
    return nets["all"] if "all" in nets else nets[task]


def _records(runs: dict[str, dict[int, dict[str, FamilyRun]]], arm: str, task: str) -> dict[int, Any]:
    """seed -> the records of ``task`` in ``arm`` (its own single-task network for the single-task arm)."""
    return {seed: _run_of(runs, arm, seed, task).records for seed in runs[arm]}


def summarise(cfg: FamiliesConfig, runs: dict[str, dict[int, dict[str, FamilyRun]]]) -> Any:
    """Means, per-task contrasts and Δm with paired hierarchical bootstrap CIs (see :class:`FamiliesResult`)."""
    import pandas as pd

    from mtdl_kit.evaluation import delta_m, paired_contrast
    from mtdl_kit.lab.outputs import summary_row
    from mtdl_kit.metrics import primary_metric
    from mtdl_kit.regions import get_region

    region = get_region(cfg.region)
    tasks = region.select_tasks(list(cfg.task_names()))
    rows: list[dict[str, Any]] = []

    def add(row: dict[str, Any], n: int, **extra: Any) -> None:
        row.update(n_seeds=n, **extra)
        row["verdict"] = _verdict_word(row) if row["contrast"] != "mean" else ""
        rows.append(row)

    for arm in cfg.arms():
        for task in tasks:
            metric = primary_metric(task)
            nets = [_run_of(runs, arm, seed, task.name) for seed in runs[arm]]
            value = statistics.fmean(r.metrics[task.name][metric] for r in nets)
            row = summary_row("mean", task.name, metric, value, budget=cfg.n_train, rule=_rule_of(arm), arm=arm)
            add(
                row,
                len(nets),
                median_steps_run=statistics.median(r.steps_run for r in nets),
                runs_at_cap=sum(r.steps_run >= cfg.max_steps for r in nets),
                max_steps=cfg.max_steps,
                parameters=int(statistics.median(r.parameters for r in nets)),
            )
    for rule in cfg.rules:
        single = arm_name("single", rule)
        for family in cfg.families:
            arm = arm_name(family, rule)
            for task in tasks:
                metric = primary_metric(task)
                arms = {arm: _records(runs, arm, task.name), single: _records(runs, single, task.name)}
                est = paired_contrast(arms, {arm: 1.0, single: -1.0}, task.name, metric, n_boot=cfg.n_boot, seed=0)
                contrast = f"{arm} - {single}"
                row = summary_row(contrast, task.name, metric, est.value, est.ci_low, est.ci_high, budget=cfg.n_train)
                add(row, len(cfg.seeds), rule=rule, arm=arm)
            dm = delta_m(
                _records(runs, arm, tasks[0].name),
                {t.name: _records(runs, single, t.name) for t in tasks},
                tasks,
                n_boot=cfg.n_boot,
                seed=0,
                min_seeds=2,
            )
            contrast = f"{arm} - {single}"
            row = summary_row(contrast, DELTA_M, DELTA_M, dm.value, dm.ci_low, dm.ci_high, budget=cfg.n_train)
            add(row, len(cfg.seeds), rule=rule, arm=arm)
    if set(CAPACITY_RULES) <= set(cfg.rules):
        for family in [f for f in ("single", *cfg.families) if f in RULE_DEPENDENT]:
            wide, matched = arm_name(family, "width"), arm_name(family, "params")
            for task in tasks:
                first = cfg.seeds[0]
                if _run_of(runs, wide, first, task.name).network == _run_of(runs, matched, first, task.name).network:
                    continue  # both rules build this network alike: nothing to compare
                metric = primary_metric(task)
                arms = {wide: _records(runs, wide, task.name), matched: _records(runs, matched, task.name)}
                est = paired_contrast(arms, {wide: 1.0, matched: -1.0}, task.name, metric, n_boot=cfg.n_boot, seed=0)
                row = summary_row(
                    f"{wide} - {matched}", task.name, metric, est.value, est.ci_low, est.ci_high, budget=cfg.n_train
                )
                add(row, len(cfg.seeds), rule=ACROSS, arm=wide)
    columns = ["budget", "rule", "arm", "contrast", "task", "metric", "value", "ci_low", "ci_high", "significant"]
    columns += ["verdict", "n_seeds", "median_steps_run", "runs_at_cap", "max_steps", "parameters"]
    return pd.DataFrame(rows).reindex(columns=columns)


def check_test_classes(cfg: FamiliesConfig, test: Any) -> None:
    """Raise ``ValueError`` when the test split ``test`` has no case of some class of a classification task: its macro
    AUC, and Δm with it, would be undefined — found before any network trains, not after (the knee's grade at
    32 px has only grades 0, 3 and 4: its joint space is too few pixels wide to grade).
    """
    from mtdl_kit.regions import get_region

    region = get_region(cfg.region)
    tasks = [t for t in region.select_tasks(list(cfg.task_names())) if t.kind == "classification"]
    for task in tasks:
        seen = {int(test[i][task.name]) for i in range(len(test))}
        missing = sorted(set(range(task.num_outputs)) - seen)
        if missing:
            raise ValueError(
                f"the test split ({cfg.n_test} cases at {cfg.size} px) has no case of {task.name} class(es) "
                f"{missing}, so its AUC and Δm are undefined; use a larger size or n_test (the full experiment "
                f"runs {cfg.region} at {default_families_config(cfg.region).size} px)."
            )


def train_families(
    cfg: FamiliesConfig,
    *,
    cache: str | Path | None = None,
    on_run: Callable[[str, FamilyRun], None] | None = None,
) -> dict[str, dict[int, dict[str, FamilyRun]]]:
    """Every arm × seed of experiment G, trained or read from ``cache``, without the contrasts (a process
    that only fills a shared cache needs no bootstrap). Returns arm -> seed -> network key -> run.

    Args:
        cfg: the configuration (:data:`QUICK_FAMILIES` or :func:`default_families_config`).
        cache: folder for finished runs (records + metrics + curve); a rerun skips what is there, and
            a network two arms share (e.g. a segmentation baseline under both rules) is trained once.
        on_run: called with the arm and the run after each network (progress reports).
    """
    cfg.validate()
    runs: dict[str, dict[int, dict[str, FamilyRun]]] = {arm: {} for arm in cfg.arms()}
    for seed in cfg.seeds:
        datasets = _datasets(cfg, seed)
        if seed == cfg.seeds[0]:
            check_test_classes(cfg, datasets[2])  # the test split is every seed's: checked once, before training
        for arm in cfg.arms():
            runs[arm][seed] = {}
            for key, network in networks_of(cfg, arm).items():
                run = cached_run(cfg, network, seed, cache, datasets)
                runs[arm][seed][key] = run
                if on_run is not None:
                    on_run(arm, run)
    return runs


def run_families(
    cfg: FamiliesConfig,
    *,
    cache: str | Path | None = None,
    on_run: Callable[[str, FamilyRun], None] | None = None,
) -> FamiliesResult:
    """Run experiment G: every arm × seed (:func:`train_families`, resumable through ``cache``), then the contrasts."""
    runs = train_families(cfg, cache=cache, on_run=on_run)
    return FamiliesResult(cfg, runs, runs_frame(cfg, runs), summarise(cfg, runs), curves_frame(runs))


def _interval(row: Any) -> str:
    unit = " %" if row["metric"] == DELTA_M else ""
    digits = 1 if row["metric"] == DELTA_M else 3
    return f"{row['value']:+.{digits}f}{unit} [{row['ci_low']:+.{digits}f}, {row['ci_high']:+.{digits}f}]"


RULE_WORDS = {"params": "equal total parameters", "width": "equal per-task width"}


def families_reading(result: FamiliesResult) -> list[str]:
    """Plain sentences computed from the intervals (:func:`summary_reading` of the result's summary)."""
    return summary_reading(result.summary)


def summary_reading(summary: Any) -> list[str]:
    """Plain sentences computed from a summary's intervals (no fixed claims): per rule, the families' Δm
    and per-task verdicts; then what the capacity rule changes; then how many networks reached the step
    cap. Works on the committed ``transfer_g_<region>_<run>_summary.csv`` alone, so lessons quote it.
    """
    from mtdl_kit.verdicts import shares_layers

    frame = summary.fillna({"rule": "", "verdict": ""})
    out = []
    rules = [r for r in CAPACITY_RULES if r in set(frame["rule"])]
    for rule in rules:
        dm = frame[(frame["rule"] == rule) & (frame["task"] == DELTA_M)]
        if dm.empty:
            continue
        parts = []
        for _, r in dm.iterrows():
            same = (frame["arm"] == r["arm"]) & (frame["contrast"] == r["contrast"])
            tasks = frame[same & (frame["task"] != DELTA_M)]
            better = ", ".join(tasks[tasks["verdict"] == "better"]["task"]) or "none"
            worse = ", ".join(tasks[tasks["verdict"] == "worse"]["task"]) or "none"
            parts.append(f"{r['arm']} Δm {_interval(r)} ({r['verdict']}; tasks better: {better}; worse: {worse})")
        head = f"Under {RULE_WORDS[rule]} ({int(dm['n_seeds'].iloc[0])} seeds), against single-task networks"
        out.append(f"{head}: {'; '.join(parts)}.")
        losers = [r["arm"] for _, r in dm.iterrows() if r["verdict"] == "worse"]
        shared = [a for a in losers if shares_layers(a.partition("@")[0])]
        cascades = [a for a in losers if not shares_layers(a.partition("@")[0])]
        if cascades:
            out.append(
                f"{', '.join(cascades)}: the stages share no layer (a detached hand-over), so losing there is error "
                "propagation or a harder problem, not negative transfer."
            )
        if shared:
            out.append(
                f"{', '.join(shared)} share layers and lose; this table has no control that says why (shared "
                "capacity, optimisation or a conflict between tasks; experiments A and B have those controls)."
            )
    across = frame[frame["rule"] == ACROSS]
    for _, rows in across.groupby("arm", sort=False):
        listed = "; ".join(f"{r['task']} {_interval(r)} ({r['verdict']})" for _, r in rows.iterrows())
        out.append(
            f"A full-width sub-network per task instead of a matched one ({rows.iloc[0]['contrast']}): {listed}."
        )
    means = frame[frame["contrast"] == "mean"]
    if len(means):
        capped, total = [], 0
        for arm, rows in means.groupby("arm", sort=False):
            networks = rows if arm.startswith("single") else rows.iloc[:1]  # a family trains one network per seed
            n, of = int(networks["runs_at_cap"].sum()), int(networks["n_seeds"].sum())
            total += of
            if n:
                capped.append(f"{arm} {n} of {of}")
        cap = int(means["max_steps"].iloc[0])
        listed = "; ".join(capped) if capped else f"none of {total}"
        out.append(
            f"Networks that reached the {cap}-step cap (ended by the cap, not by the rule: still improving, or, "
            f"under the chance guard, a task never above its validation chance level): {listed}."
        )
    return out


def write_families_outputs(result: FamiliesResult, out: str | Path) -> list[Path]:
    """``runs.csv``, ``summary.csv``, ``summary.md`` and ``curves.csv`` (validation curves) into ``out``."""
    from mtdl_kit.lab.outputs import write_lab_outputs

    cfg = result.config
    paths = write_lab_outputs(
        out,
        result.runs_frame,
        result.summary,
        title=f"Transfer lab, experiment G (the families under the lab's protocol) — {cfg.region}",
        configs={"Config": cfg},
        reading=families_reading(result),
    )
    curves = Path(out) / "curves.csv"
    result.curves.to_csv(curves, index=False)
    return [*paths, curves]
