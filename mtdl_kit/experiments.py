"""Experiments the CLI, notebooks and dashboard share: one training run, and a Δm comparison.

- :func:`train_run` trains one family with one weighting method on a region's phantoms (or on the
  user's own data, ``data_dir``: :func:`mtdl_kit.data.open_dataset`) and can write a run folder (config,
  History, checkpoint, metrics, an HTML report).
- :func:`compare` trains single-task baselines and multi-task models over several seeds with the
  same budget and reports Δm with bootstrap confidence intervals (:func:`mtdl_kit.evaluation.delta_m`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mtdl_kit.history import to_json
from mtdl_kit.models.families import FAMILIES, MULTI_TASK_FAMILIES


@dataclass
class RunConfig:
    """Everything that defines a training run on phantoms (JSON-serialisable).

    With ``data_dir`` the run uses the user's dataset there instead (folder + CSV, Decathlon
    ``dataset.json`` or MedMNIST ``.npz``; :func:`mtdl_kit.data.open_dataset`), with
    ``task_map`` renaming its columns and ``mask_values`` remapping stored mask values to class
    indices (e.g. ``{255: 1}`` for masks saved as 0/255); ``n_train``, ``n_test``, ``relatedness``, ``nuisance`` and
    ``label_noise`` then do not apply. Train/test follow the data's ``split`` values if it has
    any, else a shuffle of the case ids with a fixed seed (the same test set for every run seed).

    With ``n_val > 0`` (phantoms only) the run follows the transfer lab's stopping rule
    (:class:`~mtdl_kit.stopping.ValidationStopping`): ``steps`` becomes an upper bound, every task's
    primary metric is validated on ``n_val`` phantoms of the fixed validation split every ``eval_every``
    steps, the first ``min_evaluations`` evaluations are a warm-up that cannot be selected, training stops
    after ``patience`` evaluations without improvement, and the best evaluation's weights are kept.
    """

    region: str
    family: str = "parallel"
    tasks: tuple[str, ...] | None = None
    weighting: str = "ew"
    level: str = "parameters"
    steps: int = 300
    batch_size: int = 16
    lr: float = 2e-3
    lr_schedule: str = "constant"
    size: int = 64
    n_train: int = 512
    n_test: int = 128
    relatedness: float = 1.0
    nuisance: str | None = None
    label_noise: float = 0.0
    width: int | None = None
    seed: int = 0
    device: str = "auto"
    model_options: dict[str, Any] = field(default_factory=dict)
    data_dir: str | None = None
    task_map: dict[str, str] | None = None
    mask_values: dict[int, int] | None = None
    n_val: int = 0
    eval_every: int = 100
    patience: int = 8
    min_evaluations: int = 6

    def __post_init__(self) -> None:
        # a config read back from config.json has string keys ({"255": 1}); restore the integers
        if isinstance(self.mask_values, dict) and all(
            isinstance(k, str) and k.strip().lstrip("-").isdigit() for k in self.mask_values
        ):
            self.mask_values = {int(k): v for k, v in self.mask_values.items()}

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad field (before any training starts)."""
        from mtdl_kit.regions import get_region

        region = get_region(self.region)
        region.select_tasks(self.tasks)
        region.check_arguments(
            0, size=self.size, relatedness=self.relatedness, nuisance=self.nuisance, label_noise=self.label_noise
        )
        if self.family not in FAMILIES:
            raise ValueError(f"Unknown family {self.family!r}; allowed families are {FAMILIES}.")
        for name in ("steps", "batch_size", "n_train", "n_test"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}.")
        if isinstance(self.n_val, bool) or not isinstance(self.n_val, int) or self.n_val < 0:
            raise ValueError(f"n_val must be an integer >= 0 (0: no validation stopping), got {self.n_val!r}.")
        if self.n_val:
            for name, low, words in (
                ("eval_every", 1, "a positive integer"),
                ("patience", 1, "a positive integer"),
                ("min_evaluations", 0, "an integer >= 0"),
            ):
                value = getattr(self, name)
                if isinstance(value, bool) or not isinstance(value, int) or value < low:
                    raise ValueError(f"{name} must be {words}, got {value!r}.")
            if self.data_dir is not None:
                raise ValueError(
                    "n_val (validation stopping) needs the phantoms' validation split; with data_dir set n_val=0 "
                    "and choose the number of steps."
                )
        from mtdl_kit.train import LR_SCHEDULES

        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}.")
        if self.data_dir is not None and not Path(self.data_dir).exists():
            raise ValueError(f"data_dir {self.data_dir!r} does not exist.")
        if self.task_map is not None and not all(
            isinstance(k, str) and isinstance(v, str) for k, v in dict(self.task_map).items()
        ):
            raise ValueError(f"task_map must map column names to task columns (str -> str), got {self.task_map!r}.")
        if self.mask_values is not None:

            def is_int(x: Any) -> bool:
                return isinstance(x, int) and not isinstance(x, bool)

            items = list(self.mask_values.items()) if isinstance(self.mask_values, dict) else []
            if not items or not all(is_int(k) and is_int(v) and v >= 0 for k, v in items):
                raise ValueError(
                    "mask_values must map stored mask values to class indices (int -> non-negative int), "
                    f"e.g. {{255: 1}}; got {self.mask_values!r}."
                )
            if self.data_dir is None:
                raise ValueError("mask_values applies to a user's dataset only: set data_dir as well.")


@dataclass
class RunResult:
    """A trained model with its History, test metrics and per-case test records.

    ``stopping``: with validation stopping (``n_val > 0``), how the run ended —
    :meth:`~mtdl_kit.stopping.ValidationStopping.summary` plus ``steps_run``; ``None`` otherwise.
    """

    config: RunConfig
    model: Any
    history: Any
    metrics: dict[str, dict[str, float]]
    records: Any
    folder: Path | None = None
    stopping: dict[str, Any] | None = None


#: seed of the train/test shuffle of a user's dataset: fixed, so every run sees the same test set.
DATA_SPLIT_SEED = 0


def run_datasets(cfg: RunConfig, tasks: Sequence[str]) -> tuple[Any, Any]:
    """The ``(train, test)`` datasets of a run: the seed's training subset and the fixed test split of the
    phantoms (or a user's folder, split once with :data:`DATA_SPLIT_SEED`), with the labels of ``tasks``."""
    from mtdl_kit.data import PhantomDataset

    if cfg.data_dir is not None:
        from mtdl_kit.data import open_dataset

        data = open_dataset(
            cfg.data_dir,
            cfg.region,
            tasks=cfg.tasks,
            task_map=cfg.task_map,
            mask_values=cfg.mask_values,
            size=cfg.size,
            cache=True,
        )
        train, test = data.split(seed=DATA_SPLIT_SEED)
        problems = train.check() + test.check()  # decode everything once (cached) and fail before training
        if problems:
            from mtdl_kit.data import DataError

            raise DataError(cfg.data_dir, f"{len(problems)} problem(s), the first: {problems[0]}")
        return train, test

    common = _phantom_settings(cfg, tasks)
    # the training set depends on the seed; the test set is fixed so runs are comparable (paired Δm)
    train = PhantomDataset(
        cfg.region,
        cfg.n_train,
        split="train",
        base_seed=cfg.seed * cfg.n_train,
        label_noise=cfg.label_noise,
        cache=True,
        **common,
    )
    test = PhantomDataset(cfg.region, cfg.n_test, split="test", cache=True, **common)
    return train, test


def validation_set(cfg: RunConfig, tasks: Sequence[str]) -> Any:
    """The ``n_val`` phantoms of the fixed validation split (seeds disjoint from training and test), or ``None``."""
    from mtdl_kit.data import PhantomDataset

    if not cfg.n_val:
        return None
    return PhantomDataset(cfg.region, cfg.n_val, split="val", cache=True, **_phantom_settings(cfg, tasks))


def _phantom_settings(cfg: RunConfig, tasks: Sequence[str]) -> dict[str, Any]:
    """What every phantom split of a run shares: size, relatedness, nuisance and the tasks' labels."""
    return {"size": cfg.size, "relatedness": cfg.relatedness, "nuisance": cfg.nuisance, "tasks": list(tasks)}


def regression_stats(data: Any, tasks: Sequence[Any], region: Any) -> dict[str, tuple[Any, Any]]:
    """(centre, spread) per regression task: the region's for phantoms, the labelled cases' for a folder dataset.

    A folder dataset's own labels (mean and standard deviation over labelled cases) are used
    because a user's measurements need not match the phantoms' units or range; a task with fewer
    than two labelled cases keeps the region's values.
    """
    import numpy as np

    stats = region.regression_stats(tasks)
    cases = getattr(data, "cases", None)
    if cases is None:
        return stats
    for t in tasks:
        if t.kind != "regression":
            continue
        values = [np.asarray(c.targets[t.name], dtype=np.float64) for c in cases if t.name in c.targets]
        values = [v for v in values if np.all(np.isfinite(v))]
        if len(values) >= 2:
            arr = np.stack(values).reshape(len(values), -1)
            spread = arr.std(0)
            spread = np.where(spread > 0, spread, np.maximum(np.abs(arr.mean(0)), 1.0))
            stats[t.name] = (arr.mean(0), spread)
    return stats


def train_run(cfg: RunConfig, *, out: str | Path | None = None, progress: bool = True, callbacks=()) -> RunResult:
    """Train one model on phantoms (or ``cfg.data_dir``) and evaluate it on the fixed test set.

    Args:
        cfg: the run configuration.
        out: optional run folder: ``config.json``, ``history.json``, ``metrics.json``, ``model.pt``
            (+ ``.sha256``) and ``report.html`` are written there.
        progress: tqdm progress bar.
        callbacks: passed to :func:`mtdl_kit.train.fit`.
    """

    from mtdl_kit.evaluation import evaluate
    from mtdl_kit.models import build_model
    from mtdl_kit.regions import get_region
    from mtdl_kit.train import fit

    cfg.validate()
    region = get_region(cfg.region)
    tasks = region.select_tasks(cfg.tasks)
    options = dict(cfg.model_options)
    if cfg.width is not None:
        options["width"] = cfg.width
    train, test = run_datasets(cfg, [t.name for t in tasks])
    tasks = tuple(getattr(train, "tasks", tasks))  # a MedMNIST file keeps the region's classification tasks
    model = build_model(cfg.family, tasks, region.in_channels, seed=cfg.seed, region=region.name, **options)
    model.set_regression_scaling(regression_stats(train, tasks, region))
    folder = Path(out) if out is not None else None
    val = validation_set(cfg, [t.name for t in tasks])
    stopping = None
    if val is not None:
        from mtdl_kit.stopping import ValidationStopping

        stopping = ValidationStopping.on_primary_metrics(
            tasks, patience=cfg.patience, min_evaluations=cfg.min_evaluations, warmup=cfg.min_evaluations
        )
    history = fit(
        model,
        train,
        weighting=cfg.weighting,
        level=cfg.level,
        steps=cfg.steps,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        lr_schedule=cfg.lr_schedule,
        device=cfg.device,
        seed=cfg.seed,
        progress=progress,
        callbacks=callbacks,
        region=region,
        checkpoint=folder / "model.pt" if folder else None,
        eval_data=val,
        eval_every=cfg.eval_every if val is not None else None,
        stopping=stopping,
        cosine_every=10 if val is None else 0,
    )
    scored = evaluate(model, test, tasks=tasks, batch_size=cfg.batch_size, spacing_mm=region.spacing_mm(cfg.size))
    metrics, records = scored.metrics, scored.records
    ended = None if stopping is None else {**stopping.summary(), "steps_run": history.steps}
    result = RunResult(cfg, model, history, metrics, records, folder, stopping=ended)
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        # strict JSON: an undefined metric (e.g. the AUC of a one-class test set) is null, never NaN
        (folder / "config.json").write_text(to_json(asdict(cfg), indent=1))
        history.save(folder / "history.json")
        (folder / "metrics.json").write_text(to_json(metrics, indent=1))
        from mtdl_kit.viz import run_report_html

        (folder / "report.html").write_text(run_report_html(result))
    return result


@dataclass
class Comparison:
    """Δm of each (family, weighting) against single-task baselines, with the raw results."""

    table: Any  # pandas DataFrame
    delta_m: dict[tuple[str, str], Any]
    baselines: dict[str, dict[int, Any]]

    def to_markdown(self) -> str:
        """The table as markdown (numbers with their confidence intervals)."""
        return frame_to_markdown(self.table)


def frame_to_markdown(frame: Any, floatfmt: str = "{:+.2f}") -> str:
    """A small pandas DataFrame as a markdown table (no extra dependency)."""
    cols = list(frame.columns)
    lines = ["| " + " | ".join(map(str, cols)) + " |", "|" + "---|" * len(cols)]
    for _, row in frame.iterrows():
        cells = [floatfmt.format(v) if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def compare(
    base: RunConfig,
    *,
    families: Sequence[str] = MULTI_TASK_FAMILIES,
    weightings: Sequence[str] = ("ew",),
    seeds: Sequence[int] = (0, 1, 2),
    n_boot: int = 1000,
    min_seeds: int = 3,
    progress: bool = True,
) -> Comparison:
    """Train single-task baselines and multi-task models with the same budget; Δm with 95 % CI.

    Every model (baseline or multi-task) gets ``base.steps`` steps on the same training set of its
    seed and is evaluated on the same fixed test set, so Δm is a paired comparison.
    """
    import pandas as pd

    from mtdl_kit.evaluation import delta_m
    from mtdl_kit.regions import get_region

    base.validate()
    region = get_region(base.region)
    tasks = region.select_tasks(base.tasks)
    if len(tasks) < 2:
        raise ValueError("compare() needs at least two tasks: Δm compares multi-task models with single-task ones.")
    bad = [f for f in families if f not in MULTI_TASK_FAMILIES]
    if bad:
        raise ValueError(f"Unknown families {bad}; allowed families are {MULTI_TASK_FAMILIES}.")
    not_applicable = incompatible_pairs(base, families, weightings)
    if len(not_applicable) == len(families) * len(weightings):
        raise ValueError(f"No (family, weighting) pair can be trained: {not_applicable}.")
    baselines: dict[str, dict[int, Any]] = {t.name: {} for t in tasks}
    for t in tasks:
        for s in seeds:
            cfg = RunConfig(**{**asdict(base), "family": "single", "tasks": (t.name,), "weighting": "ew", "seed": s})
            baselines[t.name][s] = train_run(cfg, progress=progress).records
    rows, results = [], {}
    for fam in families:
        for w in weightings:
            if (fam, w) in not_applicable:
                # a documented incompatibility (e.g. a gradient method on a cascade, which shares nothing):
                # reported in the table, never trained
                rows.append(
                    {
                        "family": fam,
                        "weighting": w,
                        "delta_m_%": float("nan"),
                        "note": f"not applicable: {not_applicable[(fam, w)]}",
                    }
                )
                continue
            per_seed = {}
            for s in seeds:
                cfg = RunConfig(**{**asdict(base), "family": fam, "weighting": w, "seed": s})
                per_seed[s] = train_run(cfg, progress=progress).records
            dm = delta_m(per_seed, baselines, tasks, n_boot=n_boot, min_seeds=min_seeds)
            results[(fam, w)] = dm
            row = {
                "family": fam,
                "weighting": w,
                "delta_m_%": dm.value,
                "ci_low": dm.ci_low,
                "ci_high": dm.ci_high,
                "significant": dm.significant,
            }
            for task, (v, lo, hi) in dm.per_task.items():
                row[f"{task}_%"] = v
                row[f"{task}_ci"] = f"[{lo:+.1f}, {hi:+.1f}]"
            rows.append(row)
    return Comparison(pd.DataFrame(rows), results, baselines)


def incompatible_pairs(
    base: RunConfig, families: Sequence[str], weightings: Sequence[str]
) -> dict[tuple[str, str], str]:
    """(family, weighting) pairs that cannot be trained together, with the library's reason.

    Checked by building each model and weighting method once (no training), so :func:`compare`
    knows before the first step. Unknown weighting names still raise.
    """
    from mtdl_kit.models import build_model
    from mtdl_kit.regions import get_region
    from mtdl_kit.weighting import available_weightings, build_weighting

    unknown = [w for w in weightings if w.lower().replace("-", "_") not in available_weightings()]
    if unknown:
        raise ValueError(f"Unknown weighting(s) {unknown}; available: {available_weightings()}.")
    region = get_region(base.region)
    tasks = region.select_tasks(base.tasks)
    out = {}
    for fam in families:
        model = build_model(fam, tasks, region.in_channels, width=4, region=region.name)
        for w in weightings:
            try:
                build_weighting(w, [t.name for t in tasks], model=model, level=base.level)
            except ValueError as exc:
                out[(fam, w)] = str(exc).split(". ")[0]
    return out
