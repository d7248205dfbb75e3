"""Honest evaluation: per-case records, metrics on any subset of cases, and Δm with a bootstrap CI.

Three steps, each a function:

1. :func:`collect_predictions` runs a model once over a test loader and keeps **per-case**
   quantities (:class:`Records`): Dice and HD95 per case and class, class probabilities and labels,
   regression predictions and targets, landmark radial errors, reconstruction errors. Every metric
   can be recomputed from them on any subset of cases, with repeats — what a bootstrap needs.
2. :func:`compute_metrics` turns records (optionally a resample of case indices) into numbers
   (:data:`~mtdl_kit.metrics.METRICS`).
3. :func:`delta_m` compares a multi-task model with single-task baselines over several training
   seeds: the multi-task performance Δm of Maninis et al. (CVPR 2019) and Vandenhende et al.
   (TPAMI 2021), with a paired hierarchical bootstrap CI over seeds and test cases.

Why the fuss: published Δm values are often computed against a baseline that is not a trained
single-task model (LibMTL's default is the multi-task model's own epoch-0 result), from one seed,
without an interval. :func:`delta_m` refuses to run without a single-task baseline for every task
and every seed, with fewer than three seeds, or on mismatched test sets.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import torch

from mtdl_kit.metrics import (
    COUNT_KEYS,
    METRICS,
    brier_score,
    classification_confusion,
    confusion_rate,
    expected_calibration_error,
    higher_is_better,
    kind_metrics,
    landmark_radial_errors,
    predictions,
    primary_metric,
    roc_auc,
    segmentation_case_metrics,
)
from mtdl_kit.regions.base import TaskSpec

if TYPE_CHECKING:
    import pandas as pd

#: per-case arrays stored for each task kind (first axis = labelled cases of the task).
RECORD_KEYS: dict[str, tuple[str, ...]] = {
    "segmentation": ("dice", "hd95_mm", "pred_empty", "true_empty"),
    "classification": ("probs", "labels"),
    "regression": ("pred", "target"),
    "landmarks": ("radial_error_mm",),
    "reconstruction": ("mae",),
}

MIN_SEEDS = 3


# --------------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------------


@dataclass(eq=False)
class TaskRecords:
    """Per-case quantities of one task.

    Attributes:
        task: the task's spec.
        cases: int64 (n,) positions in :attr:`Records.case_ids` of the cases labelled for the task
            (strictly increasing).
        values: per-case arrays, first axis n, keys :data:`RECORD_KEYS` of the task kind:
            segmentation ``dice`` and ``hd95_mm`` float (n, K-1), ``pred_empty`` and ``true_empty`` bool
            (n, K-1); classification ``probs`` float (n, K) and ``labels`` int (n,); regression ``pred``
            and ``target`` float (n, outputs) in the task's units; landmarks ``radial_error_mm`` float
            (n, points); reconstruction ``mae`` float (n,).
    """

    task: TaskSpec
    cases: np.ndarray
    values: dict[str, np.ndarray]

    def __post_init__(self) -> None:
        self.cases = np.asarray(self.cases, dtype=np.int64).reshape(-1)
        if self.cases.size > 1 and not np.all(np.diff(self.cases) > 0):
            raise ValueError(f"{self.task.name}: cases must be strictly increasing case positions.")
        wanted = RECORD_KEYS[self.task.kind]
        if set(self.values) != set(wanted):
            raise ValueError(
                f"{self.task.name} ({self.task.kind}) records need exactly the arrays {wanted}, "
                f"got {sorted(self.values)}."
            )
        self.values = {k: np.asarray(v) for k, v in self.values.items()}
        width = {
            "segmentation": self.task.num_outputs - 1,
            "classification": self.task.num_outputs,
            "regression": self.task.num_outputs,
            "landmarks": self.task.num_outputs,
        }.get(self.task.kind)
        for k, v in self.values.items():
            if v.shape[:1] != (self.cases.size,):
                raise ValueError(
                    f"{self.task.name}: array {k!r} has {v.shape[0] if v.ndim else 0} rows for {self.cases.size} cases."
                )
            if width is not None and k != "labels" and (v.ndim != 2 or v.shape[1] != width):
                raise ValueError(f"{self.task.name}: array {k!r} must have shape (n, {width}), got {v.shape}.")

    def __len__(self) -> int:
        return int(self.cases.size)

    def __repr__(self) -> str:
        return f"TaskRecords({self.task.name!r}, {self.task.kind}, {len(self)} cases)"


@dataclass(eq=False)
class Records:
    """Per-case predictions of one model on one test set (the output of :func:`collect_predictions`).

    Attributes:
        case_ids: one identifier per test case in loader order (the batch's ``case_id`` entries, else
            a sha1 digest of the image): used to check that two models saw the same test set.
        tasks: task name -> :class:`TaskRecords` (only labelled cases are recorded).
        spacing_mm: pixel spacing used for mm quantities (HD95, radial error).
    """

    case_ids: tuple[str, ...]
    tasks: dict[str, TaskRecords]
    spacing_mm: float = 1.0
    _row_of_case: dict[str, np.ndarray] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.case_ids = tuple(str(c) for c in self.case_ids)
        self.tasks = dict(self.tasks)
        for name, tr in self.tasks.items():
            if tr.task.name != name:
                raise ValueError(f"Records: key {name!r} holds records of task {tr.task.name!r}.")
            if tr.cases.size and (tr.cases[0] < 0 or tr.cases[-1] >= len(self.case_ids)):
                raise ValueError(f"{name}: case positions must lie in [0, {len(self.case_ids)}).")

    @property
    def n_cases(self) -> int:
        """Number of test cases (labelled for any task or not)."""
        return len(self.case_ids)

    def __len__(self) -> int:
        return self.n_cases

    def __repr__(self) -> str:
        labelled = ", ".join(f"{n}: {len(tr)}" for n, tr in self.tasks.items())
        return f"Records({self.n_cases} cases; labelled {labelled}; spacing {self.spacing_mm:g} mm)"

    def __getitem__(self, task: str | TaskSpec) -> TaskRecords:
        name = task.name if isinstance(task, TaskSpec) else task
        if name not in self.tasks:
            raise ValueError(
                f"These records have no task {name!r}; they hold {sorted(self.tasks)}. Evaluate a model that "
                f"outputs {name!r} with collect_predictions(..., tasks=[...]) including it."
            )
        return self.tasks[name]

    def rows(self, task: str | TaskSpec, indices: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        """Rows of the task's arrays for case positions ``indices`` (repeats kept, unlabelled cases dropped).

        ``indices=None`` means every labelled case once.
        """
        tr = self[task]
        if indices is None:
            return np.arange(len(tr))
        name = tr.task.name
        if name not in self._row_of_case:
            lookup = np.full(self.n_cases, -1, dtype=np.int64)
            lookup[tr.cases] = np.arange(len(tr))
            self._row_of_case[name] = lookup
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < 0 or idx.max() >= self.n_cases):
            raise ValueError(f"case indices must lie in [0, {self.n_cases}), got min {idx.min()} and max {idx.max()}.")
        rows = self._row_of_case[name][idx]
        return rows[rows >= 0]

    def to_frame(self, task: str | TaskSpec) -> pd.DataFrame:
        """One row per labelled case of a task: ``case``, ``case_id`` and the per-case quantities."""
        import pandas as pd

        tr = self[task]
        cols: dict[str, Any] = {"case": tr.cases, "case_id": [self.case_ids[i] for i in tr.cases]}
        for key, arr in tr.values.items():
            if arr.ndim == 1:
                cols[key] = arr
            else:
                names = _column_names(tr.task, arr.shape[1], key)
                for j, n in enumerate(names):
                    cols[f"{key}/{n}"] = arr[:, j]
        return pd.DataFrame(cols)

    def save(self, path: str | Path) -> Path:
        """Write the records to a ``.npz`` file (no pickle) that :meth:`load` reads back."""
        path = Path(path)
        meta = {
            "case_ids": list(self.case_ids),
            "spacing_mm": self.spacing_mm,
            "tasks": {n: asdict(tr.task) for n, tr in self.tasks.items()},
        }
        arrays: dict[str, np.ndarray] = {"__meta__": np.asarray(json.dumps(meta))}
        for n, tr in self.tasks.items():
            arrays[f"{n}::cases"] = tr.cases
            for k, v in tr.values.items():
                arrays[f"{n}::{k}"] = v
        with path.open("wb") as fh:
            np.savez_compressed(fh, **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Records:
        """Read records written by :meth:`save`."""
        with np.load(Path(path), allow_pickle=False) as z:
            meta = json.loads(str(z["__meta__"]))
            tasks = {}
            for n, spec in meta["tasks"].items():
                spec = {k: tuple(v) if isinstance(v, list) else v for k, v in spec.items()}
                ts = TaskSpec(**spec)
                values = {k: z[f"{n}::{k}"] for k in RECORD_KEYS[ts.kind]}
                tasks[n] = TaskRecords(ts, z[f"{n}::cases"], values)
        return cls(tuple(meta["case_ids"]), tasks, float(meta["spacing_mm"]))


def _column_names(task: TaskSpec, width: int, key: str) -> list[str]:
    """Names of the columns of a per-case array: foreground classes, classes, outputs or points."""
    if task.kind == "segmentation":
        names = list(task.class_names[1:]) if task.class_names else [str(c) for c in range(1, width + 1)]
    elif task.kind == "classification":
        names = list(task.class_names) if task.class_names else [str(c) for c in range(width)]
    else:
        names = list(task.output_names) if task.output_names else [str(c) for c in range(width)]
    if len(names) != width:
        names = [str(c) for c in range(width)]
    return names


# --------------------------------------------------------------------------------------------------
# collect_predictions
# --------------------------------------------------------------------------------------------------


def _case_ids(batch: Mapping[str, Any], image: torch.Tensor) -> list[str]:
    if "case_id" in batch:
        ids = batch["case_id"]
        ids = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
        if len(ids) != image.shape[0]:
            raise ValueError(f"batch['case_id'] has {len(ids)} entries for a batch of {image.shape[0]} images.")
        return [str(i) for i in ids]
    cpu = torch.as_tensor(image).detach().cpu().contiguous()
    return [hashlib.sha1(cpu[i].numpy().tobytes()).hexdigest()[:16] for i in range(cpu.shape[0])]


def _present(batch: Mapping[str, Any], task: TaskSpec, batch_size: int) -> torch.Tensor | None:
    """Boolean (B,) mask of labelled items, or None when the batch has no label for the task."""
    if task.name not in batch:
        return None
    key = f"{task.name}__present"
    if key not in batch:
        return torch.ones(batch_size, dtype=torch.bool)
    mask = torch.as_tensor(batch[key]).cpu()
    if mask.shape != (batch_size,) or (mask.dtype != torch.bool and not bool(((mask == 0) | (mask == 1)).all())):
        raise ValueError(
            f"batch[{key!r}] must be a boolean mask of shape ({batch_size},), got dtype {mask.dtype} and shape "
            f"{tuple(mask.shape)}."
        )
    return mask.bool()


def _check_output(task: TaskSpec, out: torch.Tensor, target: torch.Tensor) -> None:
    b, n = out.shape[0], task.num_outputs
    kind = task.kind
    ok = {
        "segmentation": out.ndim >= 3 and out.shape[1] == n and target.shape == (b, *out.shape[2:]),
        "classification": out.shape == (b, n) and target.shape == (b,),
        "regression": out.shape == (b, n) and target.shape == (b, n),
        "landmarks": out.ndim == 4 and out.shape[1] == n and target.shape == (b, n, 2),
        "reconstruction": out.shape == target.shape,
    }[kind]
    if not ok:
        expected = {
            "segmentation": f"logits (B, {n}, *spatial) and labels (B, *spatial)",
            "classification": f"logits (B, {n}) and labels (B,)",
            "regression": f"values (B, {n}) and targets (B, {n})",
            "landmarks": f"heatmap logits (B, {n}, H, W) and points (B, {n}, 2)",
            "reconstruction": "an output of the same shape as the target",
        }[kind]
        raise ValueError(
            f"Task {task.name!r} ({kind}): expected {expected}, got output {tuple(out.shape)} and target "
            f"{tuple(target.shape)}."
        )


def _case_values(task: TaskSpec, out: torch.Tensor, target: torch.Tensor, spacing_mm: float) -> dict[str, np.ndarray]:
    kind = task.kind
    if kind == "segmentation":
        return segmentation_case_metrics(predictions(task, out), target, task.num_outputs, spacing_mm=spacing_mm)
    if kind == "classification":
        return {"probs": predictions(task, out).double().numpy(), "labels": target.long().numpy()}
    if kind == "regression":
        return {"pred": out.double().numpy(), "target": target.double().numpy()}
    if kind == "landmarks":
        return {"radial_error_mm": landmark_radial_errors(out, target, spacing_mm=spacing_mm)}
    err = (out.double() - target.double()).abs().reshape(out.shape[0], -1).mean(1)
    return {"mae": err.numpy()}


def collect_predictions(
    model: Callable[[torch.Tensor], Mapping[str, torch.Tensor]],
    loader: Iterable[Mapping[str, Any]],
    tasks: Sequence[TaskSpec],
    *,
    device: str | torch.device = "cpu",
    spacing_mm: float = 1.0,
) -> Records:
    """Run a model over a test loader and keep per-case quantities for every task.

    The model runs under ``torch.inference_mode()`` (in ``eval()`` mode if it is an ``nn.Module``;
    its previous mode is restored). Each batch is a dict with ``"image"`` (B, C, *spatial) and one
    key per labelled task, as :class:`~mtdl_kit.data.phantom.PhantomDataset` gives through a
    ``DataLoader``. A task's label may be missing: absent key (nothing recorded for the batch), or a
    boolean ``"<task>__present"`` (B,) mask (only items with ``True`` are recorded). An optional
    ``"case_id"`` entry names the cases; otherwise a sha1 digest of each image is used. Evaluate with
    ``shuffle=False`` and no random augmentation, so the records of different models line up.

    Per-case quantities (see :class:`TaskRecords`): segmentation Dice and HD95 per foreground class
    (``monai.metrics``; empty-mask conventions in :mod:`mtdl_kit.metrics`), classification softmax
    probabilities and labels, regression predictions and targets in the task's units, landmark radial
    errors in mm from the heatmap arg-max, reconstruction mean absolute error per case.

    Args:
        model: callable ``x -> {task name: raw output}`` (logits, values, heatmap logits, images).
        loader: iterable of batch dicts (a ``DataLoader``), in a fixed order.
        tasks: the tasks to record; the model must output each of them.
        device: where the model runs; outputs are brought back to the CPU.
        spacing_mm: isotropic pixel spacing for HD95 and radial errors; for a phantom dataset use
            ``ds.region.spacing_mm(ds.size)``. With the default 1.0, "mm" means pixels.

    Returns:
        :class:`Records`.

    Raises:
        ValueError: if the model misses a task, an output or target has the wrong shape, or a
            ``__present`` mask is malformed.
    """
    tasks = tuple(tasks)
    if not tasks:
        raise ValueError("collect_predictions needs at least one TaskSpec in tasks.")
    if not all(isinstance(t, TaskSpec) for t in tasks):
        raise ValueError("tasks must be TaskSpec objects (e.g. region.tasks or region.select_tasks('a,b')).")
    if not spacing_mm > 0:
        raise ValueError(f"spacing_mm must be positive, got {spacing_mm!r}.")
    device = torch.device(device)
    case_ids: list[str] = []
    cases: dict[str, list[np.ndarray]] = {t.name: [] for t in tasks}
    values: dict[str, dict[str, list[np.ndarray]]] = {t.name: {k: [] for k in RECORD_KEYS[t.kind]} for t in tasks}
    was_training = model.training if isinstance(model, torch.nn.Module) else None
    if isinstance(model, torch.nn.Module):
        model.eval()
    try:
        with torch.inference_mode():
            for batch in loader:
                if "image" not in batch:
                    raise ValueError(f"Each batch needs an 'image' entry; got keys {sorted(batch)}.")
                image = torch.as_tensor(batch["image"])
                b = image.shape[0]
                offset = len(case_ids)
                case_ids.extend(_case_ids(batch, image))
                outputs = model(image.to(device))
                if not isinstance(outputs, Mapping):
                    raise ValueError(
                        f"The model must return a dict {{task name: tensor}}, got {type(outputs).__name__}."
                    )
                for t in tasks:
                    present = _present(batch, t, b)
                    if present is None or not bool(present.any()):
                        continue
                    if t.name not in outputs:
                        raise ValueError(
                            f"The model returned no output for task {t.name!r} (it returned {sorted(outputs)}); "
                            "evaluate only the tasks it was built with."
                        )
                    out = torch.as_tensor(outputs[t.name]).detach().float().cpu()
                    target = torch.as_tensor(batch[t.name]).cpu()
                    _check_output(t, out, target)
                    sel = present.nonzero().reshape(-1)
                    per_case = _case_values(t, out[sel], target[sel], spacing_mm)
                    cases[t.name].append(sel.numpy() + offset)
                    for k in RECORD_KEYS[t.kind]:
                        values[t.name][k].append(per_case[k])
    finally:
        if isinstance(model, torch.nn.Module) and was_training is not None:
            model.train(was_training)
    records = {}
    for t in tasks:
        if cases[t.name]:
            vals = {k: np.concatenate(v, axis=0) for k, v in values[t.name].items()}
            idx = np.concatenate(cases[t.name])
        else:
            vals = {k: _empty(t, k) for k in RECORD_KEYS[t.kind]}
            idx = np.zeros(0, dtype=np.int64)
        records[t.name] = TaskRecords(t, idx, vals)
    return Records(tuple(case_ids), records, float(spacing_mm))


def _empty(task: TaskSpec, key: str) -> np.ndarray:
    width = {"segmentation": task.num_outputs - 1}.get(task.kind, task.num_outputs)
    if key in ("labels",):
        return np.zeros(0, dtype=np.int64)
    if key in ("mae",):
        return np.zeros(0)
    return np.zeros((0, width), dtype=bool if key.endswith("_empty") else np.float64)


# --------------------------------------------------------------------------------------------------
# compute_metrics
# --------------------------------------------------------------------------------------------------


def _nanmean(x: np.ndarray, axis: int | None = None) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices give NaN, which is the intent
        return np.nanmean(x, axis=axis)


def _wants(names: set[str] | None, base: str) -> bool:
    return names is None or base in names


def _task_metrics(tr: TaskRecords, rows: np.ndarray, names: set[str] | None) -> dict[str, float]:
    task, v = tr.task, tr.values
    out: dict[str, float] = {"n_cases": float(rows.size)}
    kind = task.kind
    nan = float("nan")
    if kind == "segmentation":
        labels = _column_names(task, task.num_outputs - 1, "dice")
        dice = v["dice"][rows].astype(np.float64)
        per_class = dice.mean(0) if rows.size else np.full(len(labels), nan)
        if _wants(names, "dice"):
            out["dice"] = float(per_class.mean())
            out.update({f"dice/{n}": float(d) for n, d in zip(labels, per_class, strict=True)})
        if _wants(names, "hd95_mm"):
            hd = v["hd95_mm"][rows].astype(np.float64)
            hd_class = _nanmean(hd, axis=0) if rows.size else np.full(len(labels), nan)
            out["hd95_mm"] = float(_nanmean(hd_class))
            out.update({f"hd95_mm/{n}": float(h) for n, h in zip(labels, hd_class, strict=True)})
            out["hd95_undefined"] = float(np.isnan(hd).sum())
    elif kind == "classification":
        probs, labels = v["probs"][rows], v["labels"][rows]
        if _wants(names, "auc"):
            out["auc"] = roc_auc(probs, labels) if rows.size else nan
        if names is None or names & {"accuracy", "balanced_accuracy", "sensitivity", "specificity"}:
            conf = classification_confusion(probs, labels) if rows.size else np.full((task.num_outputs, 4), nan)
            tp = conf[:, 0]
            recall = confusion_rate(conf, "sensitivity")
            if _wants(names, "accuracy"):
                out["accuracy"] = float(tp.sum() / rows.size) if rows.size else nan
            if _wants(names, "balanced_accuracy"):
                out["balanced_accuracy"] = float(_nanmean(recall))
            if task.num_outputs == 2 and _wants(names, "sensitivity"):
                out["sensitivity"] = float(recall[1])
            if task.num_outputs == 2 and _wants(names, "specificity"):
                out["specificity"] = float(confusion_rate(conf, "specificity")[1])
        if _wants(names, "ece"):
            out["ece"] = expected_calibration_error(probs, labels, n_bins=10) if rows.size else nan
        if _wants(names, "brier"):
            out["brier"] = brier_score(probs, labels) if rows.size else nan
    elif kind == "regression":
        err = v["pred"][rows].astype(np.float64) - v["target"][rows].astype(np.float64)
        labels = _column_names(task, task.num_outputs, "pred")
        mae = np.abs(err).mean(0) if rows.size else np.full(len(labels), nan)
        rmse = np.sqrt((err**2).mean(0)) if rows.size else np.full(len(labels), nan)
        if _wants(names, "mae"):
            out["mae"] = float(mae.mean())
            out.update({f"mae/{n}": float(x) for n, x in zip(labels, mae, strict=True)})
        if _wants(names, "rmse"):
            out["rmse"] = float(rmse.mean())
            out.update({f"rmse/{n}": float(x) for n, x in zip(labels, rmse, strict=True)})
    elif kind == "landmarks":
        labels = _column_names(task, task.num_outputs, "radial_error_mm")
        re = v["radial_error_mm"][rows].astype(np.float64)
        per_point = _nanmean(re, axis=0) if rows.size else np.full(len(labels), nan)
        if _wants(names, "mre_mm"):
            out["mre_mm"] = float(_nanmean(per_point))
            out.update({f"mre_mm/{n}": float(x) for n, x in zip(labels, per_point, strict=True)})
    else:
        mae = v["mae"][rows].astype(np.float64)
        if _wants(names, "mae"):
            out["mae"] = float(mae.mean()) if rows.size else nan
    return out


def compute_metrics(
    task: str | TaskSpec, records: Records, indices: Sequence[int] | np.ndarray | None = None
) -> dict[str, float]:
    """All metrics of one task from per-case records, on all cases or on a (re)sample of them.

    Metrics by task kind (directions and citations in :data:`~mtdl_kit.metrics.METRICS`; the
    primary one first):

    - segmentation: ``dice`` (mean over foreground classes of the mean per-case Dice),
      ``dice/<class>``, ``hd95_mm`` and ``hd95_mm/<class>`` (NaN-aware means), ``hd95_undefined``
      (number of case-class pairs where exactly one of truth and prediction is empty);
    - classification: ``auc``, ``accuracy``, ``balanced_accuracy``, ``sensitivity`` and
      ``specificity`` (binary only), ``ece``, ``brier``;
    - regression: ``mae``, ``rmse`` (means over outputs) and ``mae/<output>``, ``rmse/<output>``;
    - landmarks: ``mre_mm`` and ``mre_mm/<point>``;
    - reconstruction: ``mae``.

    Every result also has ``n_cases``, the number of labelled cases used (repeats counted).

    Args:
        task: task name or spec.
        records: output of :func:`collect_predictions`.
        indices: case positions in ``records.case_ids`` (repeats allowed, e.g. a bootstrap resample);
            ``None`` = every case. Cases without a label for the task are skipped.

    Returns:
        metric name -> value (NaN where undefined, e.g. AUC with one class only).
    """
    tr = records[task]
    return _task_metrics(tr, records.rows(tr.task.name, indices), None)


def _metric_values(records: Records, task: str, names: Sequence[str], indices: np.ndarray | None) -> np.ndarray:
    tr = records[task]
    got = _task_metrics(tr, records.rows(task, indices), {n.split("/", 1)[0] for n in names})
    return np.array([got[n] for n in names], dtype=np.float64)


# --------------------------------------------------------------------------------------------------
# Δm
# --------------------------------------------------------------------------------------------------


class Estimate(NamedTuple):
    """A value with its percentile-bootstrap confidence interval (unpacks as ``value, ci_low, ci_high``)."""

    value: float
    ci_low: float
    ci_high: float

    @property
    def significant(self) -> bool:
        """True when the CI excludes 0."""
        return bool(self.ci_low > 0 or self.ci_high < 0)


def _signed(x: float, digits: int = 1) -> str:
    if not np.isfinite(x):
        return "nan"
    s = f"{x:+.{digits}f}"
    if float(s) == 0:
        s = f"{0.0:.{digits}f}"
    return s.replace("-", "\u2212")


@dataclass(frozen=True)
class DeltaM:
    """Multi-task performance Δm (in %) with a paired hierarchical bootstrap CI; see :func:`delta_m`.

    Attributes:
        value: Δm averaged over training seeds, on the full test set (positive = MTL better).
        ci_low: lower end of the CI.
        ci_high: upper end of the CI.
        per_task: task -> its own Δ (mean over its metrics) with CI.
        per_metric: (task, metric) -> sign-adjusted relative difference in % with CI.
        metric_values: (task, metric) -> (MTL value, baseline value), means over seeds.
        per_seed: training seed -> Δm of that seed on the full test set.
        n_seeds: number of training seeds.
        n_cases: number of test cases.
        metrics: task -> the metrics used.
        n_boot: bootstrap replicates.
        n_boot_invalid: replicates where a metric was undefined (e.g. AUC of a single-class resample);
            left out of the CI.
        confidence: CI level.
        boot_seed: seed of the bootstrap generator.
        meets_seed_standard: False when fewer than 3 seeds were allowed through ``min_seeds``.
    """

    value: float
    ci_low: float
    ci_high: float
    per_task: dict[str, Estimate]
    per_metric: dict[tuple[str, str], Estimate]
    metric_values: dict[tuple[str, str], tuple[float, float]]
    per_seed: dict[int, float]
    n_seeds: int
    n_cases: int
    metrics: dict[str, tuple[str, ...]]
    n_boot: int
    n_boot_invalid: int
    confidence: float
    boot_seed: int
    meets_seed_standard: bool

    @property
    def significant(self) -> bool:
        """True when the CI of Δm excludes 0."""
        return bool(self.ci_low > 0 or self.ci_high < 0)

    def summary(self) -> str:
        """One line, e.g. ``Δm = +3.1 % (95 % CI −0.8 to +7.0; 3 seeds × 200 cases; not significant)``."""
        level = f"{100 * self.confidence:g}"
        seeds = f"{self.n_seeds} seed{'s' if self.n_seeds != 1 else ''}"
        verdict = "significant" if self.significant else "not significant"
        extra = "" if self.meets_seed_standard else f"; below the {MIN_SEEDS}-seed standard"
        return (
            f"\u0394m = {_signed(self.value)} % ({level} % CI {_signed(self.ci_low)} to {_signed(self.ci_high)}; "
            f"{seeds} \u00d7 {self.n_cases} cases; {verdict}{extra})"
        )

    def to_frame(self) -> pd.DataFrame:
        """Tidy table: one row for Δm, one per task, one per (task, metric), with MTL and baseline values."""
        import pandas as pd

        def row(level: str, task: str, metric: str, est: Estimate, hib: Any = np.nan, values: Any = None) -> dict:
            mtl_v, stl_v = values if values is not None else (np.nan, np.nan)
            return {
                "level": level,
                "task": task,
                "metric": metric,
                "higher_is_better": hib,
                "mtl": mtl_v,
                "baseline": stl_v,
                "delta_pct": est.value,
                "ci_low": est.ci_low,
                "ci_high": est.ci_high,
                "significant": est.significant,
            }

        rows = [row("overall", "", "", Estimate(self.value, self.ci_low, self.ci_high))]
        rows += [row("task", t, ", ".join(self.metrics[t]), est) for t, est in self.per_task.items()]
        rows += [
            row("metric", t, m, est, higher_is_better(m), self.metric_values[(t, m)])
            for (t, m), est in self.per_metric.items()
        ]
        frame = pd.DataFrame(rows)
        frame.attrs["n_seeds"] = self.n_seeds
        frame.attrs["n_cases"] = self.n_cases
        return frame


def _relative(mtl_v: np.ndarray, stl_v: np.ndarray, sign: np.ndarray) -> np.ndarray:
    """(-1)^l (M_mtl - M_stl) / M_stl * 100, defined as exactly 0 where the two values are equal."""
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = sign * (mtl_v - stl_v) / stl_v * 100.0
    return np.where(mtl_v == stl_v, 0.0, rel)


def _check_test_sets(reference: Records, ref_name: str, other: Records, other_name: str) -> None:
    if other.case_ids == reference.case_ids:
        return
    if other.n_cases != reference.n_cases:
        problem = f"{other.n_cases} test cases instead of {reference.n_cases}"
    elif sorted(other.case_ids) == sorted(reference.case_ids):
        problem = "the same test cases in a different order"
    else:
        n_diff = len(set(other.case_ids) ^ set(reference.case_ids))
        problem = f"different test cases ({n_diff} case ids differ)"
    raise ValueError(
        f"{other_name} has {problem} compared with {ref_name}. Δm pairs cases, so every model must be evaluated "
        "on the same test set in the same order: use one test dataset, a DataLoader with shuffle=False and no random "
        "augmentation for every call of collect_predictions."
    )


def _resolve_metrics(
    tasks: Sequence[TaskSpec], metrics: Mapping[str, str | Sequence[str]] | None
) -> dict[str, tuple[str, ...]]:
    names = [t.name for t in tasks]
    if metrics is None:
        return {t.name: (primary_metric(t),) for t in tasks}
    unknown = sorted(set(metrics) - set(names))
    if unknown:
        raise ValueError(f"metrics names tasks {unknown} that are not in tasks {names}.")
    out = {}
    for t in tasks:
        chosen = metrics.get(t.name, (primary_metric(t),))
        chosen = (chosen,) if isinstance(chosen, str) else tuple(chosen)
        if not chosen:
            raise ValueError(
                f"metrics[{t.name!r}] is empty; give at least one metric or leave the task out of metrics."
            )
        for m in chosen:
            higher_is_better(m)  # raises for unknown names and counts
            if m.split("/", 1)[0] not in kind_metrics(t.kind):
                raise ValueError(
                    f"Metric {m!r} does not apply to {t.kind} task {t.name!r}; choose from {kind_metrics(t.kind)} "
                    "(optionally with '/<class or output>')."
                )
        if len(set(chosen)) != len(chosen):
            raise ValueError(f"metrics[{t.name!r}] lists a metric twice: {chosen}.")
        out[t.name] = chosen
    return out


def delta_m(
    mtl: Mapping[int, Records],
    baselines: Mapping[str, Mapping[int, Records]],
    tasks: Sequence[TaskSpec | str],
    *,
    metrics: Mapping[str, str | Sequence[str]] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    min_seeds: int = MIN_SEEDS,
    confidence: float = 0.95,
) -> DeltaM:
    r"""Multi-task performance Δm against single-task baselines, with a paired hierarchical bootstrap CI.

    .. math::

        \Delta_m = \frac{1}{T} \sum_{t=1}^{T} \frac{1}{|M_t|} \sum_{m \in M_t}
                   (-1)^{l_m} \frac{M_{mtl,m} - M_{stl,m}}{M_{stl,m}} \times 100\,\%

    with :math:`l_m = 1` when lower is better (Maninis et al., "Attentive single-tasking of multiple
    tasks", CVPR 2019; Vandenhende et al., "Multi-task learning for dense prediction tasks: a
    survey", TPAMI 44(7), 2021). Positive = the multi-task model is better. Each task weighs the
    same whatever its number of metrics. Where the two values are equal the term is 0 (also when
    both are 0).

    **Baselines.** ``baselines[task][seed]`` must be a *single-task* model for that task, trained
    with the same budget (epochs, data, augmentation, model size per task, tuning effort) and the
    same training seed as the multi-task model ``mtl[seed]``. A weaker or untrained baseline (such as
    the multi-task model's own epoch-0 result, LibMTL's default) inflates Δm. Seeds are paired:
    Δm of seed s compares ``mtl[s]`` with ``baselines[t][s]``.

    **Point estimate.** Δm per seed on the full test set, averaged over seeds (``per_seed`` holds
    the individual values).

    **CI.** Paired hierarchical bootstrap: each replicate resamples training seeds with replacement
    and test cases with replacement. The test cases are crossed with the seeds (every model sees the
    same test set), so one case resample per replicate is shared by all seeds and by the multi-task
    model and its baselines (paired); metrics are recomputed on the resample, Δm is averaged over the
    resampled seeds, and the CI is the percentile interval of the replicates (Efron & Tibshirani, An
    Introduction to the Bootstrap, 1993). With 3 seeds the seed level has only 10 distinct resamples,
    so report ``per_seed`` too.

    Args:
        mtl: training seed -> records of the multi-task model (:func:`collect_predictions`).
        baselines: task name -> training seed -> records of that task's single-task model.
        tasks: the tasks in Δm (specs or names).
        metrics: task name -> metric name or names (see :data:`~mtdl_kit.metrics.METRICS`; suffixes
            such as ``"dice/cup"`` allowed); tasks not listed use :func:`~mtdl_kit.metrics.primary_metric`.
        n_boot: bootstrap replicates (0 skips the CI: it is then NaN).
        seed: seed of the bootstrap's random generator (fixed seed = same CI).
        min_seeds: minimum number of training seeds; below 3 is allowed for demos and tests only and
            marks the result ``meets_seed_standard=False``.
        confidence: CI level in (0, 1).

    Returns:
        :class:`DeltaM`.

    Raises:
        ValueError: when a baseline is missing for a task or seed, fewer than ``min_seeds`` seeds are
            given, records were computed on different test sets or lack a task, a metric does not
            apply, or a metric is undefined or its baseline value is 0 on the full test set.
    """
    if isinstance(min_seeds, bool) or not isinstance(min_seeds, int) or min_seeds < 1:
        raise ValueError(f"min_seeds must be a positive integer, got {min_seeds!r}.")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 0:
        raise ValueError(f"n_boot must be a non-negative integer, got {n_boot!r}.")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}.")
    if not tasks:
        raise ValueError("delta_m needs at least one task.")
    if not mtl:
        raise ValueError("mtl is empty: pass {training seed: collect_predictions(mtl_model, test_loader, tasks)}.")
    seeds = sorted(mtl)
    if len(seeds) < min_seeds:
        raise ValueError(
            f"Δm needs results from at least {min_seeds} training seeds, got {len(seeds)} ({seeds}). Train the "
            f"multi-task model and every single-task baseline with {MIN_SEEDS} or more seeds; for a quick demo pass "
            f"min_seeds={len(seeds)} (the result is then marked as below the {MIN_SEEDS}-seed standard)."
        )
    first = mtl[seeds[0]]
    specs = [first[t].task for t in tasks]  # raises if the multi-task records lack a task
    for given, spec in zip(tasks, specs, strict=True):
        if isinstance(given, TaskSpec) and (given.kind, given.num_outputs) != (spec.kind, spec.num_outputs):
            raise ValueError(
                f"Task {given.name!r} is {given.kind} with {given.num_outputs} outputs in tasks but "
                f"{spec.kind} with {spec.num_outputs} in the records."
            )
    names = [t.name for t in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"tasks lists a task twice: {names}.")

    # --- every baseline present, every record on the same test set --------------------------------
    for name in names:
        if name not in baselines:
            raise ValueError(
                f"No single-task baseline for task {name!r}. Train a single-task model for {name!r} with the same "
                f"budget and seeds {seeds} as the multi-task model and pass baselines[{name!r}] = "
                "{seed: collect_predictions(stl_model, test_loader, [task])}. Δm without a trained single-task "
                "baseline is not meaningful."
            )
        missing = [s for s in seeds if s not in baselines[name]]
        if missing:
            raise ValueError(
                f"The single-task baseline for task {name!r} lacks training seeds {missing} (it has "
                f"{sorted(baselines[name])}; the multi-task model has {seeds}). Train the baseline with the same seeds."
            )
    for s in seeds:
        _check_test_sets(first, f"mtl[{seeds[0]}]", mtl[s], f"mtl[{s}]")
        for name in names:
            _check_test_sets(first, f"mtl[{seeds[0]}]", baselines[name][s], f"baselines[{name!r}][{s}]")
            m_tr, b_tr = mtl[s][name], baselines[name][s][name]
            if m_tr.task.kind != b_tr.task.kind or m_tr.task.num_outputs != b_tr.task.num_outputs:
                raise ValueError(
                    f"Task {name!r} differs between mtl[{s}] and its baseline: {m_tr.task} vs {b_tr.task}."
                )
            if not np.array_equal(m_tr.cases, b_tr.cases):
                raise ValueError(
                    f"Task {name!r}: mtl[{s}] and baselines[{name!r}][{s}] have labels on different cases "
                    f"({len(m_tr)} vs {len(b_tr)}); evaluate both with the same test loader and label masks."
                )
    chosen = _resolve_metrics(specs, metrics)
    for name in names:
        available = compute_metrics(name, first)
        absent = [m for m in chosen[name] if m not in available]
        if absent:
            raise ValueError(
                f"Task {name!r} has no metric {absent}; available: "
                f"{sorted(k for k in available if k not in COUNT_KEYS)}."
            )

    flat = [(t, m) for t in names for m in chosen[t]]
    sign = np.array([1.0 if higher_is_better(m) else -1.0 for _, m in flat])
    task_of = np.array([names.index(t) for t, _ in flat])
    n_metrics = np.bincount(task_of, minlength=len(names)).astype(np.float64)

    def per_seed_relative(s: int, indices: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        m_vals = np.concatenate([_metric_values(mtl[s], t, chosen[t], indices) for t in names])
        b_vals = np.concatenate([_metric_values(baselines[t][s], t, chosen[t], indices) for t in names])
        return _relative(m_vals, b_vals, sign), m_vals, b_vals

    def task_means(rel: np.ndarray) -> np.ndarray:
        return np.bincount(task_of, weights=rel, minlength=len(names)) / n_metrics

    # --- point estimate ---------------------------------------------------------------------------
    rel_seed = np.empty((len(seeds), len(flat)))
    m_seed = np.empty_like(rel_seed)
    b_seed = np.empty_like(rel_seed)
    for i, s in enumerate(seeds):
        rel_seed[i], m_seed[i], b_seed[i] = per_seed_relative(s, None)
        for j, (t, m) in enumerate(flat):
            if not np.isfinite(m_seed[i, j]) or not np.isfinite(b_seed[i, j]):
                raise ValueError(
                    f"Metric {m!r} of task {t!r} is undefined for seed {s} on the full test set (MTL {m_seed[i, j]}, "
                    f"baseline {b_seed[i, j]}), e.g. an AUC with one class only; choose another metric or a test set "
                    "with every class."
                )
            if not np.isfinite(rel_seed[i, j]):
                raise ValueError(
                    f"Metric {m!r} of task {t!r}: the baseline value for seed {s} is 0, so the relative change is "
                    "undefined; choose a metric whose baseline value is not 0."
                )
    task_seed = np.stack([task_means(r) for r in rel_seed])
    dm_seed = task_seed.mean(1)
    value = float(dm_seed.mean())

    # --- paired hierarchical bootstrap ------------------------------------------------------------
    rng = np.random.default_rng(seed)
    n_cases = first.n_cases
    boot_all = np.full(n_boot, np.nan)
    boot_task = np.full((n_boot, len(names)), np.nan)
    boot_metric = np.full((n_boot, len(flat)), np.nan)
    for b in range(n_boot):
        seed_draw = rng.integers(len(seeds), size=len(seeds))
        case_draw = rng.integers(n_cases, size=n_cases)
        picked, counts = np.unique(seed_draw, return_counts=True)
        rel = np.stack([per_seed_relative(seeds[i], case_draw)[0] for i in picked])
        weights = counts / counts.sum()
        metric_mean = weights @ rel  # NaN propagates: an undefined metric invalidates the replicate
        boot_metric[b] = metric_mean
        boot_task[b] = task_means(metric_mean)
        boot_all[b] = boot_task[b].mean()
    invalid = int((~np.isfinite(boot_all)).sum())
    if n_boot and invalid:
        warnings.warn(
            f"delta_m: {invalid} of {n_boot} bootstrap replicates had an undefined metric (e.g. a single-class "
            "resample for AUC) and were left out of the CI.",
            RuntimeWarning,
            stacklevel=2,
        )
    alpha = 100.0 * (1.0 - confidence) / 2.0

    def ci(samples: np.ndarray) -> tuple[float, float]:
        finite = samples[np.isfinite(samples)]
        if finite.size == 0:
            return float("nan"), float("nan")
        lo, hi = np.percentile(finite, [alpha, 100.0 - alpha])
        return float(lo), float(hi)

    lo, hi = ci(boot_all)
    per_task = {}
    for k, t in enumerate(names):
        t_lo, t_hi = ci(boot_task[:, k])
        per_task[t] = Estimate(float(task_seed[:, k].mean()), t_lo, t_hi)
    per_metric, metric_values = {}, {}
    for j, key in enumerate(flat):
        m_lo, m_hi = ci(boot_metric[:, j])
        per_metric[key] = Estimate(float(rel_seed[:, j].mean()), m_lo, m_hi)
        metric_values[key] = (float(m_seed[:, j].mean()), float(b_seed[:, j].mean()))
    return DeltaM(
        value=value,
        ci_low=lo,
        ci_high=hi,
        per_task=per_task,
        per_metric=per_metric,
        metric_values=metric_values,
        per_seed={int(s): float(d) for s, d in zip(seeds, dm_seed, strict=True)},
        n_seeds=len(seeds),
        n_cases=n_cases,
        metrics=chosen,
        n_boot=n_boot,
        n_boot_invalid=invalid,
        confidence=confidence,
        boot_seed=seed,
        meets_seed_standard=len(seeds) >= MIN_SEEDS,
    )


def non_dominated(points: Sequence[Sequence[float]], higher_is_better: Sequence[bool]) -> list[bool]:
    """Pareto mask: which points no other point dominates (at least as good in every metric, better in one).

    Args:
        points: one metric vector per model.
        higher_is_better: per metric, whether higher is better.

    NaN counts as the worst value.
    """
    signs = np.array([1.0 if h else -1.0 for h in higher_is_better])
    scored = np.array([[float(v) for v in p] for p in points], dtype=float).reshape(len(points), len(signs)) * signs
    scored[np.isnan(scored)] = -np.inf
    front = []
    for i, a in enumerate(scored):
        others = np.delete(scored, i, axis=0)
        dominated = bool(np.any(np.all(others >= a, axis=1) & np.any(others > a, axis=1)))
        front.append(not dominated)
    return front


__all__ = [
    "METRICS",
    "RECORD_KEYS",
    "DeltaM",
    "Estimate",
    "Records",
    "TaskRecords",
    "collect_predictions",
    "compute_metrics",
    "delta_m",
    "non_dominated",
]
