"""What the layout parsers share: constants, the problem report, :class:`Case`, task columns, path
cells and label parsing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mtdl_kit.data.readers.common import EXTENSIONS, LABEL_KINDS, DataError
from mtdl_kit.data.samples import label_columns
from mtdl_kit.data.tasks import label_target
from mtdl_kit.regions.base import TaskSpec

LAYOUTS = ("csv", "decathlon", "medmnist")
MISSING = frozenset({"", "na", "n/a", "nan", "null", "none"})
SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "test": "test",
}
PLANE_KEYS = ("frame", "slice", "axis", "volume")
IMAGE_EXTENSIONS = tuple(e for f in ("PNG", "JPEG", "TIFF", "BMP", "DICOM", "NIfTI") for e in EXTENSIONS[f])
MASK_EXTENSIONS = (".png", ".tif", ".tiff", ".bmp", ".nii", ".nii.gz", ".dcm")
LAYOUT_HINT = (
    "Expected a folder with images/ (+ masks/, labels.csv), a folder with dataset.json (Decathlon style), "
    "or a MedMNIST-style .npz file; see docs/bring_your_own_data.md."
)


# --------------------------------------------------------------------------------------------------
# Problem collection: raise the first (opening a dataset) or collect them all (check_dataset)
# --------------------------------------------------------------------------------------------------


class ProblemReport:
    """Problems found while opening a dataset: ``strict`` raises the first, else :attr:`problems` lists all."""

    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.problems: list[str] = []

    def add(self, error: DataError) -> None:
        if self.strict:
            raise error
        self.problems.append(str(error))


# --------------------------------------------------------------------------------------------------
# Cases and task columns
# --------------------------------------------------------------------------------------------------


@dataclass
class Case:
    """One case of a dataset before decoding.

    Attributes:
        case_id: unique identifier.
        image: image file (``None`` for MedMNIST arrays).
        masks: segmentation task -> mask file.
        targets: non-dense task -> target (landmarks in the original image's pixel coordinates).
        split: ``"train"``, ``"val"``, ``"test"`` or ``None``.
        plane: per-case ``frame`` / ``slice_index`` / ``axis`` / ``volume`` for :func:`read_raw`.
        pixels: image array for MedMNIST cases.
        where: where the case is declared (for messages).
    """

    case_id: str
    image: Path | None
    masks: dict[str, Path] = field(default_factory=dict)
    targets: dict[str, np.ndarray] = field(default_factory=dict)
    split: str | None = None
    plane: dict[str, Any] = field(default_factory=dict)
    pixels: np.ndarray | None = None
    where: str = ""


def task_columns(task: TaskSpec) -> list[str]:
    """The label columns of one non-dense task (as :func:`~mtdl_kit.data.samples.label_columns` names them)."""
    return label_columns([task])


def folder_name(task: TaskSpec, seg_tasks: Sequence[TaskSpec]) -> str:
    """Mask folder of a segmentation task: ``masks`` when it is the only one, else ``masks_<task>``."""
    return "masks" if len(seg_tasks) == 1 else f"masks_{task.name}"


def seg_key(task: TaskSpec, seg_tasks: Sequence[TaskSpec], base: str) -> str:
    """Column / JSON key of a segmentation task: ``base`` when it is the only one, else ``<base>__<task>``."""
    return base if len(seg_tasks) == 1 else f"{base}__{task.name}"


def check_task_map(task_map: Mapping[str, str] | None, tasks: Sequence[TaskSpec], reserved: Sequence[str]) -> None:
    """Raise ``ValueError`` unless ``task_map`` maps names to distinct task columns or ``reserved`` names."""
    if not task_map:
        return
    allowed = set(label_columns(tasks)) | {t.name for t in tasks} | set(reserved)
    seg = [t for t in tasks if t.kind == "segmentation"]
    allowed |= {seg_key(t, seg, "mask") for t in seg} | {seg_key(t, seg, "label") for t in seg}
    for source, target in task_map.items():
        if not isinstance(source, str) or not isinstance(target, str):
            raise ValueError(f"task_map must map column names to names (str -> str), got {source!r}: {target!r}.")
        if target not in allowed:
            raise ValueError(
                f"task_map: {source!r} -> {target!r}: {target!r} is not a task column; allowed targets are "
                f"{sorted(allowed)}."
            )
    targets = list(task_map.values())
    if len(set(targets)) != len(targets):
        raise ValueError(f"task_map maps several columns to the same name: {task_map}.")


def rename_keys(keys: Sequence[str], task_map: Mapping[str, str] | None) -> list[str]:
    """Column names / JSON keys after ``task_map`` (names it does not list are kept)."""
    return [task_map.get(k, k) for k in keys] if task_map else list(keys)


def is_missing(value: Any) -> bool:
    """True for ``None`` and the empty / NA cells of :data:`MISSING` (a missing label)."""
    return value is None or (isinstance(value, str) and value.strip().lower() in MISSING)


def resolve_path(root: Path, folder: Path, value: str) -> Path | None:
    """The existing file a path cell names, relative to ``root`` or else ``folder``; ``None`` if missing."""
    if is_missing(value):
        return None
    for base in (root, folder):
        path = (base / value).resolve()
        if path.is_file():
            return path
    return None


def row_targets(
    row: Mapping[str, Any], tasks: Sequence[TaskSpec], where: str, report: ProblemReport
) -> dict[str, np.ndarray]:
    """Targets of the non-dense tasks in one CSV row / JSON entry.

    A bad cell is reported (a strict report raises it) and its task left out; the other tasks' targets
    are kept, so that :func:`~mtdl_kit.data.folders.check_dataset` goes on to decode the case's image
    and mask and lists *their* problems too (every problem of a case in one pass).
    """
    out: dict[str, np.ndarray] = {}
    for t in tasks:
        if t.kind not in LABEL_KINDS:
            continue
        cols = task_columns(t)
        if t.name in row and t.name not in cols:  # JSON: a list under the task name
            values: Any = row[t.name]
            if is_missing(values) or (isinstance(values, list) and all(is_missing(v) for v in values)):
                continue
        else:
            cells = [row.get(c) for c in cols]
            missing = [is_missing(c) for c in cells]
            if all(missing):
                continue
            if any(missing):
                gaps = [c for c, m in zip(cols, missing, strict=True) if m]
                report.add(
                    DataError(where, f"task {t.name!r} is only partly filled (empty: {gaps})", "Fill all or none.")
                )
                continue
            values = cells[0] if len(cells) == 1 else cells
            if isinstance(values, str):
                values = values.strip()
        try:
            out[t.name] = label_target(t, _numbers(values, t), where)
        except DataError as exc:
            report.add(exc)
    return out


def _numbers(values: Any, task: TaskSpec) -> Any:
    if task.kind == "classification" or not isinstance(values, list):
        return values
    flat: list[Any] = []
    for v in values:
        flat.extend(v if isinstance(v, (list, tuple)) else [v])
    try:
        return [float(v) for v in flat]
    except (TypeError, ValueError):
        return values if len(values) != 1 else values[0]


def row_plane(row: Mapping[str, Any], where: str, report: ProblemReport) -> dict[str, Any]:
    """The ``frame`` / ``slice`` / ``axis`` / ``volume`` cells of a row as :func:`read_raw` keywords."""
    plane: dict[str, Any] = {}
    for key in PLANE_KEYS:
        value = row.get(key)
        if is_missing(value):
            continue
        target = "slice_index" if key == "slice" else key
        if key == "axis":
            plane[target] = value if not str(value).isdigit() else int(value)
            continue
        try:
            number = float(value)
            if number != int(number) or number < 0:
                raise ValueError
            plane[target] = int(number)
        except (TypeError, ValueError):
            report.add(DataError(where, f"{key} {value!r} is not a non-negative integer"))
    return plane


def split_value(value: Any, where: str, report: ProblemReport) -> str | None:
    """A ``split`` cell as ``"train"``, ``"val"``, ``"test"`` (aliases of :data:`SPLIT_ALIASES`) or ``None``."""
    if is_missing(value):
        return None
    split = SPLIT_ALIASES.get(str(value).strip().lower())
    if split is None:
        report.add(DataError(where, f"split {value!r} is not one of train, val, test"))
    return split
