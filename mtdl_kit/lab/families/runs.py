"""Training experiment G's networks: one network under the protocol, the cache of finished runs, the
multi-process fill that keeps two cores (or one GPU) busy, and the to-the-cap rerun of one network
(:mod:`mtdl_kit.lab.families`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mtdl_kit.lab.families.config import (
    FamiliesConfig,
    Network,
    build_network,
    check_test_classes,
    network_digest,
    networks_of,
    seed_splits,
)


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


def train_network(
    cfg: FamiliesConfig, network: Network, seed: int, *, datasets: tuple | None = None, snapshot: Path | None = None
) -> FamilyRun:
    """Train ``network`` under the protocol and score it on the test split (deterministic on a CPU); with
    ``snapshot``, a run killed on the way continues from its last validation evaluation (:func:`mtdl_kit.train.fit`)
    to the same result."""
    from mtdl_kit.evaluation import evaluate
    from mtdl_kit.metrics import primary_metric
    from mtdl_kit.regions import get_region

    region = get_region(cfg.region)
    if cfg.focus_crop:
        dense = [
            t.name for t in region.select_tasks(list(network.tasks)) if t.kind not in ("classification", "regression")
        ]
        if dense:
            raise ValueError(
                f"focus_crop trains classification and regression networks only; {network.family} trains {dense}, "
                "whose millimetre metrics would read the crop's side as the image's."
            )
    model = build_network(cfg, network, seed)
    digest = network_digest(cfg, network)
    train, val, test = datasets or seed_splits(cfg, seed)
    tasks = model.tasks
    weighting = cfg.weighting if len(tasks) > 1 else "ew"
    rule = cfg.rule_for(tasks, train, val, region=region)
    history, seconds = cfg.train(
        model, train, val, seed=seed, region=region, rule=rule, weighting=weighting, snapshot=snapshot
    )
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


#: the sub-folder of a cache where a network in training keeps its snapshot (git-ignored; gone when it ends)
SNAPSHOTS = ".snapshots"


def snapshot_path(stem: Path) -> Path:
    """The training snapshot of the run cached at ``stem``: a fill killed at a session's end continues the
    network from its last validation evaluation instead of its first step."""
    return stem.parent / SNAPSHOTS / f"{stem.name}.pt"


def cached_count(cfg: FamiliesConfig, cache: str | Path) -> tuple[int, int]:
    """(distinct networks of ``cfg`` already in ``cache``, distinct networks it needs)."""
    stems = {
        cache_stem(cfg, network, seed, cache)
        for seed in cfg.seeds
        for arm in cfg.arms()
        for network in networks_of(cfg, arm).values()
    }
    return sum(s.with_suffix(".json").exists() for s in stems), len(stems)


def pending_networks(
    cfg: FamiliesConfig, cache: str | Path, arms: Sequence[str] | None = None
) -> list[tuple[int, str, Network]]:
    """Every ``(seed, arm, network)`` of ``cfg`` not yet in ``cache``, each network once per seed (a network two
    arms share, e.g. a segmentation baseline under both rules, is listed under the first), seeds in order;
    ``arms``: only these arms' networks (e.g. the single-task ones first, to check that they learn before the
    families train).

    Raises:
        ValueError: an arm that ``cfg`` does not have (naming its arms).
    """
    chosen = cfg.arms() if arms is None else tuple(arms)
    unknown = [a for a in chosen if a not in cfg.arms()]
    if unknown or not chosen:
        raise ValueError(f"arms must be some of {list(cfg.arms())}, got {list(chosen)}.")
    pending: dict[Path, tuple[int, str, Network]] = {}
    for seed in cfg.seeds:
        for arm in chosen:
            for network in networks_of(cfg, arm).values():
                stem = cache_stem(cfg, network, seed, cache)
                if not stem.with_suffix(".json").exists():
                    pending.setdefault(stem, (seed, arm, network))
    return list(pending.values())


def networks_in_training(
    cfg: FamiliesConfig, cache: str | Path, arms: Sequence[str] | None = None
) -> list[tuple[int, str, Network, int]]:
    """The :func:`pending_networks` that a fill has started: ``(seed, arm, network, step)`` for each one whose
    snapshot is in ``cache`` (:func:`snapshot_path`), ``step`` the step of its last validation evaluation, where the
    next fill continues it. How far a fill spread over several sessions has come, beside :func:`cached_count`.

    Raises:
        CheckpointError: a snapshot that does not verify (:func:`mtdl_kit.checkpoint.load_snapshot`: delete it,
            and that network starts again from its first step).
    """
    from mtdl_kit.checkpoint import load_snapshot

    started = []
    for seed, arm, network in pending_networks(cfg, cache, arms):
        path = snapshot_path(cache_stem(cfg, network, seed, cache))
        if path.exists():
            started.append((seed, arm, network, int(load_snapshot(path)["step"])))
    return started


#: a file in a cache folder that tells a running :func:`fill_cache` to start no further network: those in training
#: finish and are written, so a fill can be ended without losing one (``touch <cache>/.drain``)
DRAIN = ".drain"


def drain_requested(cache: str | Path) -> bool:
    """Whether ``cache`` holds the :data:`DRAIN` file."""
    return (Path(cache) / DRAIN).exists()


def _train_pending(job: tuple[FamiliesConfig, int, Network, str, int]) -> FamilyRun | None:
    """Worker of :func:`fill_cache`: one network on ``threads`` CPU threads, into the cache (``None``, untrained,
    once the fill is drained)."""
    import torch

    cfg, seed, network, cache, threads = job
    if drain_requested(cache):
        return None
    torch.set_num_threads(threads)
    return cached_run(cfg, network, seed, cache)


def fill_cache(
    cfg: FamiliesConfig,
    cache: str | Path,
    *,
    jobs: int,
    threads: int = 1,
    on_run: Callable[[str, FamilyRun], None] | None = None,
    arms: Sequence[str] | None = None,
) -> int:
    """Train every network :func:`pending_networks` lists in ``jobs`` processes (one network each at a time, on
    ``threads`` CPU threads, on ``cfg.device``): the many small networks of experiment G keep two CPU cores, or
    one GPU fed by several processes, busy. What :func:`run_families` then summarises is read from the cache.

    Each process generates its seed's phantoms (seconds). A killed fill loses only the steps of each network in
    training since its last validation evaluation: the next fill continues it from its snapshot
    (:func:`snapshot_path`). To end a fill without losing any, create ``<cache>/.drain`` (:data:`DRAIN`): no further
    network starts, those in training finish and are written, and the fill returns; delete the file to fill again.
    The processes are spawned, so each imports the caller's main script as multiprocessing does: call this from a
    script under ``if __name__ == "__main__":`` (as ``benchmarks/bench_families.py``) or from a notebook.

    Args:
        cfg: the configuration (its :attr:`~LabProtocol.device` included).
        cache: the folder :func:`run_families` reads.
        jobs: processes (``1`` trains in this process).
        threads: CPU threads per process.
        on_run: called with the arm and the run as each network finishes (in finishing order).
        arms: only these arms' networks (default: every arm of ``cfg``).

    Returns:
        The number of networks trained (fewer than were pending when the fill was drained).

    Raises:
        ValueError: a bad configuration, ``jobs`` or ``threads`` below 1, a device that is not here, or a
            :data:`DRAIN` file left in ``cache`` from an earlier fill.
    """
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    cfg.validate()
    if jobs < 1 or threads < 1:
        raise ValueError(f"jobs and threads must be at least 1, got jobs={jobs}, threads={threads}.")
    if drain_requested(cache):
        raise ValueError(
            f"{Path(cache) / DRAIN} is there: an earlier fill was told to stop starting networks. Delete it to fill."
        )
    pending = pending_networks(cfg, cache, arms)
    if pending:
        check_test_classes(cfg, seed_splits(cfg, cfg.seeds[0])[2])  # refused before any network trains
    work = [(cfg, seed, network, str(cache), threads) for seed, _, network in pending]
    trained = 0
    if jobs == 1:
        for (_, arm, _), job in zip(pending, work, strict=True):
            run = _train_pending(job)
            if run is None:
                break
            trained += 1
            if on_run is not None:
                on_run(arm, run)
        return trained
    with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn")) as pool:
        futures = {pool.submit(_train_pending, job): arm for (_, arm, _), job in zip(pending, work, strict=True)}
        try:
            for future in as_completed(futures):
                run = future.result()
                if run is None:
                    continue
                trained += 1
                if on_run is not None:
                    on_run(futures[future], run)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)  # a failed network stops the fill, not only itself
            raise
    return trained


def cached_run(
    cfg: FamiliesConfig, network: Network, seed: int, cache: str | Path | None, datasets: Any = None
) -> FamilyRun:
    """:func:`train_network`, read from ``cache`` when it is there and written to it when not (a network killed
    while it trained continues from its snapshot in ``cache/.snapshots``)."""
    from mtdl_kit.lab.cache import cached_lab_run

    stem = cache_stem(cfg, network, seed, cache) if cache is not None else None
    snapshot = snapshot_path(stem) if stem is not None else None
    return cached_lab_run(
        stem,
        lambda: train_network(cfg, network, seed, datasets=datasets, snapshot=snapshot),
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
        datasets = seed_splits(cfg, seed)
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
