"""Per-case records of a model on a test set, and metrics on any subset of those cases.

:func:`collect_predictions` runs a model once over a test loader and keeps **per-case** quantities
(:class:`Records`): Dice and HD95 per case and class, class probabilities and labels, regression
predictions and targets, landmark radial errors, reconstruction errors. :func:`compute_metrics` turns
records (optionally a resample of case indices, with repeats — what a bootstrap needs) into numbers
(:data:`~mtdl_kit.metrics.METRICS`). Most callers want :func:`mtdl_kit.evaluation.evaluate`, which
does both for a model and a dataset.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from mtdl_kit.metrics import (
    brier_score,
    classification_confusion,
    confusion_rate,
    expected_calibration_error,
    is_ordinal,
    landmark_radial_errors,
    predictions,
    quadratic_weighted_kappa,
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
        if _wants(names, "kappa_quadratic") and is_ordinal(task):
            out["kappa_quadratic"] = (
                quadratic_weighted_kappa(labels, probs.argmax(1), task.num_outputs) if rows.size else nan
            )
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
      ``specificity`` (binary only), ``kappa_quadratic`` (ordinal tasks only, see
      :func:`~mtdl_kit.metrics.is_ordinal`), ``ece``, ``brier``;
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
