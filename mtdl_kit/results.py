"""The measured results table (``benchmarks/results/*.csv``) that notebooks and the dashboard quote.

``python benchmarks/bench_quality.py`` (or ``make quality``) trains the runs of the six experiments
of issue 5 and writes one CSV per experiment; the prose in ``benchmarks/RESULTS.md`` and in the
notebooks reads its numbers from these files rather than typing them in.

========================= ==================================================================================
table                      columns
========================= ==================================================================================
``families``               region, family, delta_m, ci_low, ci_high, significant, n_seeds, steps, size,
                           params, infer_ms (Δm in %, vs single-task baselines; 95 % CI)
``families_tasks``         region, family (incl. ``single``), task, metric, mean, sd, n_seeds
``relatedness``            region, relatedness, family, delta_m, ci_low, ci_high, significant, n_seeds
``data_size``              region, n_train, family, delta_m, ci_low, ci_high, significant, n_seeds
``negative_transfer``      region, main_task, aux_task, nuisance, delta_m, ci_low, ci_high, significant,
                           n_seeds (Δm of the main task only)
``cascade``                region, model, task, metric, mean, sd, delta_m, ci_low, ci_high, significant,
                           n_seeds (the classification task: cascades vs a direct classifier)
``weighting``              region, family, weighting, delta_m, ci_low, ci_high, significant, n_seeds,
                           step_ms, step_ratio (step time relative to EW)
``live``                   measured, device, region, family, tasks, seed, steps, batch_size, lr,
                           lr_schedule, size, seconds (Train pressed to metrics shown), train_seconds,
                           waited, task, metric, value, target, met (``benchmarks/bench_live.py``: the
                           live recipe through the dashboard's worker pool; ``family == "single"`` rows
                           are the same-budget baselines)
``live_gpu``               the same columns, measured on a CUDA GPU (the same benchmark on a machine
                           with one; the ``device`` column names the card)
``zoo_unstopped``          key, task, metric, shipped, unstopped, unstopped_best_step, meets_bar_unstopped
                           (``benchmarks/bench_zoo.py --unstopped``: zoo models retrained without the
                           early stop)
========================= ==================================================================================

Research and teaching use only — not for clinical use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: The tables :func:`load_results` knows, with their required columns.
TABLES: dict[str, tuple[str, ...]] = {
    #: the generator version of each region when the quality tables (1-6) were measured
    "quality_generators": ("region", "generator_version"),
    "families": ("region", "family", "delta_m", "ci_low", "ci_high", "significant", "n_seeds", "params", "infer_ms"),
    "families_tasks": ("region", "family", "task", "metric", "mean", "sd", "n_seeds"),
    "relatedness": ("region", "relatedness", "family", "delta_m", "ci_low", "ci_high", "significant", "n_seeds"),
    "data_size": ("region", "n_train", "family", "delta_m", "ci_low", "ci_high", "significant", "n_seeds"),
    "negative_transfer": ("region", "main_task", "aux_task", "nuisance", "delta_m", "ci_low", "ci_high", "significant"),
    "cascade": ("region", "model", "task", "metric", "mean", "sd", "delta_m", "ci_low", "ci_high", "significant"),
    "weighting": (
        "region",
        "family",
        "weighting",
        "delta_m",
        "ci_low",
        "ci_high",
        "significant",
        "step_ms",
        "step_ratio",
    ),
    "live": (
        "measured",
        "device",
        "region",
        "family",
        "seed",
        "steps",
        "seconds",
        "task",
        "metric",
        "value",
        "target",
        "met",
    ),
}
TABLES["live_gpu"] = TABLES["live"]
TABLES["zoo_unstopped"] = (
    "key",
    "task",
    "metric",
    "shipped",
    "unstopped",
    "unstopped_best_step",
    "meets_bar_unstopped",
)

REBUILD = "python benchmarks/bench_quality.py  (or: make quality; --quick for a smoke run)"
#: tables written by another benchmark than :data:`REBUILD`'s.
REBUILD_FOR = {
    "live": "python benchmarks/bench_live.py",
    "live_gpu": "python benchmarks/bench_live.py  (on a machine with a CUDA GPU)",
    "zoo_unstopped": "python benchmarks/bench_zoo.py --unstopped KEY,KEY,...",
}


def results_dir() -> Path:
    """``$MTDL_KIT_RESULTS`` if set, else the bundled ``benchmarks/results/`` (:mod:`mtdl_kit.resources`)."""
    from mtdl_kit.resources import results_dir as located

    return located()


def load_results(table: str, *, root: str | Path | None = None, **where: Any) -> Any:
    """One results table as a pandas DataFrame, optionally filtered by column values.

    Args:
        table: one of :data:`TABLES`.
        root: folder of the CSVs (default :func:`results_dir`).
        **where: ``column=value`` filters, e.g. ``region="eye"``.

    Raises:
        ValueError: unknown table or filter column (the message lists the allowed names).
        FileNotFoundError: the CSV has not been generated; the message gives the command.
    """
    import pandas as pd

    if table not in TABLES:
        raise ValueError(f"Unknown results table {table!r}; the tables are {sorted(TABLES)}.")
    path = Path(root or results_dir()) / f"{table}.csv"
    if not path.exists():
        raise FileNotFoundError(
            f"{path} does not exist yet; regenerate the results with: {REBUILD_FOR.get(table, REBUILD)}"
        )
    frame = pd.read_csv(path)
    missing = [c for c in TABLES[table] if c not in frame.columns]
    if missing:
        raise ValueError(f"{path} lacks the columns {missing}; regenerate it with: {REBUILD_FOR.get(table, REBUILD)}")
    for column, value in where.items():
        if column not in frame.columns:
            raise ValueError(f"{table} has no column {column!r}; its columns are {list(frame.columns)}.")
        frame = frame[frame[column] == value]
    return frame.reset_index(drop=True)


def format_delta(row: Any) -> str:
    """``"+3.1 % [+0.4, +5.9]"`` from a row with ``delta_m``, ``ci_low``, ``ci_high``."""
    return f"{row['delta_m']:+.1f} % [{row['ci_low']:+.1f}, {row['ci_high']:+.1f}]"


def load_transfer(
    kind: str = "runs", *, experiment: str = "a", run: str = "headline", root: str | Path | None = None
) -> Any:
    """A table of the transfer lab (issue 12): ``transfer_<experiment>_<run>_<kind>.csv``.

    Args:
        kind: ``"runs"`` (one row per seed, arm, task and metric: ``budget``, ``seed``, ``arm``,
            ``task``, ``metric``, ``value``, ``best_step``, ``steps_run``, ...) or ``"summary"`` (the
            paired contrasts with their CIs: ``budget``, ``contrast``, ``value``, ``ci_low``, ``ci_high``) or
            ``"curves"`` (experiment G: each run's validation curve, ``arm``, ``seed``, ``task``, ``step``, ``value``)
            or ``"unstopped"`` (experiment G: runs the stopping rule ended early, trained again to the step cap,
            ``benchmarks/bench_families.py --unstopped``) or ``"chance"`` (experiment G: each seed's image-blind
            predictor on the test split, :func:`mtdl_kit.lab.chance.chance_frame`) or ``"copyinput"`` (experiment G,
            a region with a reconstruction: the noisy input returned unchanged on the test split,
            :func:`mtdl_kit.lab.chance.copy_input_frame`) or ``"substituted"``
            (experiment G: the families' gains against single-task networks trained to the cap,
            :func:`mtdl_kit.services.lessons.families_lab_substituted`, ``bench_families.py --substituted``).
        experiment: the experiment's letter (``"a"``: positive transfer; ``"g"``: the families).
        run: ``"headline"`` or ``"replication"`` (fresh seeds).
        root: folder of the CSVs (default :func:`results_dir`).

    Raises:
        ValueError: an unknown kind; FileNotFoundError: the table was not generated (with the command).
    """
    script = _LAB_SCRIPTS.get(experiment, "bench_transfer.py")
    return _lab_table(f"transfer_{experiment}_{run}", kind, root, f"the transfer lab: python benchmarks/{script}")


def load_families_variant(region: str, label: str, *, run: str = "headline", root: str | Path | None = None) -> Any:
    """Experiment G's networks of one seed set trained again with a changed configuration:
    ``transfer_g_<region>_<run>_<label>.csv`` (``benchmarks/bench_families.py --retrain-with``; ``label`` e.g.
    ``"n_train1024"``, ``"size128"``): ``arm``, ``seed``, ``task``, ``metric``, ``headline`` and ``variant`` (the
    metric each way), ``chance_headline`` and ``chance_variant`` (each seed's image-blind level each way),
    ``best_step``, ``steps_run``.

    Raises:
        FileNotFoundError: the table was not generated (with the command).
    """
    command = f"python benchmarks/bench_families.py --regions {region} --retrain-with ..."
    return _results_csv(f"transfer_g_{region}_{run}_{label}", root, command)


def load_starved(
    kind: str = "runs", *, region: str = "musculoskeletal", run: str = "headline", root: str | Path | None = None
) -> Any:
    """A table of the transfer lab's starved-task experiment (E): ``starved_<region>_<run>_<kind>.csv``.

    Args:
        kind: ``"runs"`` (one row per seed, condition, task and metric, with each run's diagnostics
            ``loss_early``, ``loss_late`` and ``weight_mean``, the task's training-averaged weight) or
            ``"summary"`` (each condition minus EW on raw targets, with its CI) or ``"chance"`` (each seed's
            image-blind predictor on the test split, ``benchmarks/bench_starved.py --chance-only``).
        region: ``"musculoskeletal"`` or ``"eye"``.
        run: ``"headline"`` or ``"replication"`` (fresh seeds); with the suffix ``"_adopted"`` the same seeds
            under the lab's adopted protocol (``bench_starved.py --adopted``: chance guard, the region's
            training cases).
        root: folder of the CSVs (default :func:`results_dir`).

    Raises:
        ValueError: an unknown kind; FileNotFoundError: the table was not generated (with the command).
    """
    command = "the starved-task experiment: python benchmarks/bench_starved.py"
    return _lab_table(f"starved_{region}_{run}", kind, root, command)


#: the benchmark that writes each experiment's tables (``transfer_<letter>_...``)
_LAB_SCRIPTS = {
    "a": "bench_transfer.py",
    "b": "bench_adversarial.py",
    "c": "bench_crossover.py",
    "d": "bench_cascade.py",
    "f": "bench_conflict.py",
    "g": "bench_families.py",
}

#: the kinds of a lab table (``curves``: experiment G's validation curves)
LAB_KINDS: tuple[str, ...] = ("runs", "summary", "curves", "unstopped", "chance", "copyinput", "substituted")


def _lab_table(stem: str, kind: str, root: str | Path | None, command: str) -> Any:
    """``<stem>_<kind>.csv`` of the results folder; ``command`` is what the missing-file error says to run."""
    if kind not in LAB_KINDS:
        raise ValueError(f"kind must be one of {LAB_KINDS}, got {kind!r}.")
    return _results_csv(f"{stem}_{kind}", root, command)


def _results_csv(name: str, root: str | Path | None, command: str) -> Any:
    """``<name>.csv`` of the results folder; ``command`` is what the missing-file error says to run."""
    import pandas as pd

    path = Path(root or results_dir()) / f"{name}.csv"
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist yet; run {command}")
    return pd.read_csv(path)
