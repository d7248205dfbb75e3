"""Bring your own data: three dataset layouts read into the same items as :class:`PhantomDataset`.

Layouts (:func:`open_dataset` detects which):

1. **folder + CSV** (the layout of the bundled ``data_samples/<region>/``)::

       root/images/<case_id>.<png|jpg|tif|bmp|dcm|nii|nii.gz>
       root/masks/<case_id>.png          optional; class indices (one folder per segmentation task:
                                         ``masks/`` when there is one, ``masks_<task>/`` otherwise)
       root/labels.csv                   case_id, one column per classification/regression output
                                         (names of :func:`mtdl_kit.data.samples.label_columns`), and
                                         optional ``image``, ``mask`` / ``mask__<task>``, ``split``

   An empty cell (or NA, NaN, null, none) is a missing label. A ``mask`` cell holds a path
   (relative to ``root`` or ``masks/``), ``yes``/``1`` (``masks/<case_id>.png``) or nothing / ``no``.

2. **Medical Segmentation Decathlon ``dataset.json``** (Antonelli et al., "The Medical Segmentation
   Decathlon", Nat. Commun. 13:4128, 2022) extended with task keys::

       {"labels": {"0": "background", "1": "liver", "2": "lesion"}, "modality": {"0": "CT"},
        "training": [{"image": "./imagesTr/a.nii.gz", "label": "./labelsTr/a.nii.gz",
                      "malignancy": 1, "lesion_diameter": 23.5, "slice": 40, "split": "train"}]}

3. **MedMNIST ``.npz``** (Yang et al., "MedMNIST v2", Sci. Data 10:41, 2023): ``train_images``
   (N, H, W[, 3]) uint8 and ``train_labels`` (N, L), likewise ``val_*`` and ``test_*``; read with
   ``numpy.load(allow_pickle=False)`` (the ``medmnist`` package's classes assert the official sample
   counts). Classification only; label column ``j`` is called ``label_<j>`` (``label`` if L = 1).

Tasks come from a region (all of them or a subset) or from a custom list of :class:`TaskSpec`.
``task_map`` renames the user's columns / JSON keys to the toolkit's names, e.g.
``{"diagnosis": "melanoma", "image_id": "case_id"}``.

Items are dicts of tensors exactly as :func:`~mtdl_kit.data.phantom.sample_to_tensors` makes them,
plus ``"case_id"`` and a boolean ``"<task>__present"`` per task. A missing target is filled with
zeros and flagged ``False`` (``fill_missing=True``, so the default DataLoader collation works);
with ``fill_missing=False`` it is left out and :func:`collate` fills it. The trainer's masked
losses (:func:`mtdl_kit.train.compute_losses`) and :func:`mtdl_kit.evaluation.collect_predictions`
skip unlabelled cases.

Structural problems (missing files, bad labels, duplicate ids) raise :class:`DataError` when a
dataset is opened; file contents are decoded on access. :func:`check_dataset` decodes everything
and lists *all* problems.
"""

from __future__ import annotations

import csv
import io
import json
import os
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from mtdl_kit.data.formats import (
    EXTENSIONS,
    LABEL_KINDS,
    MAX_DECODED_BYTES,
    DataError,
    Geometry,
    RawImage,
    _why,
    check_file_name,
    check_same_plane,
    default_window,
    display_name,
    label_target,
    prepare_image,
    read_mask,
    read_raw,
    resolve_tasks,
    strip_extension,
)
from mtdl_kit.data.phantom import sample_to_tensors
from mtdl_kit.data.samples import label_columns
from mtdl_kit.regions.base import Region, Sample, TaskSpec

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
_YES, _NO = frozenset({"1", "yes", "y", "true"}), frozenset({"0", "no", "n", "false"})
LAYOUT_HINT = (
    "Expected a folder with images/ (+ masks/, labels.csv), a folder with dataset.json (Decathlon style), "
    "or a MedMNIST-style .npz file; see docs/bring_your_own_data.md."
)


# --------------------------------------------------------------------------------------------------
# Problem collection: raise the first (opening a dataset) or collect them all (check_dataset)
# --------------------------------------------------------------------------------------------------


class _Report:
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


def _seg_key(task: TaskSpec, seg_tasks: Sequence[TaskSpec], base: str) -> str:
    return base if len(seg_tasks) == 1 else f"{base}__{task.name}"


def _check_task_map(task_map: Mapping[str, str] | None, tasks: Sequence[TaskSpec], reserved: Sequence[str]) -> None:
    if not task_map:
        return
    allowed = set(label_columns(tasks)) | {t.name for t in tasks} | set(reserved)
    seg = [t for t in tasks if t.kind == "segmentation"]
    allowed |= {_seg_key(t, seg, "mask") for t in seg} | {_seg_key(t, seg, "label") for t in seg}
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


def _rename(keys: Sequence[str], task_map: Mapping[str, str] | None) -> list[str]:
    return [task_map.get(k, k) for k in keys] if task_map else list(keys)


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip().lower() in MISSING)


def _row_targets(
    row: Mapping[str, Any], tasks: Sequence[TaskSpec], where: str, report: _Report
) -> dict[str, np.ndarray] | None:
    """Targets of the non-dense tasks in one CSV row / JSON entry; ``None`` after a reported problem."""
    out: dict[str, np.ndarray] = {}
    ok = True
    for t in tasks:
        if t.kind not in LABEL_KINDS:
            continue
        cols = task_columns(t)
        if t.name in row and t.name not in cols:  # JSON: a list under the task name
            values: Any = row[t.name]
            if _is_missing(values) or (isinstance(values, list) and all(_is_missing(v) for v in values)):
                continue
        else:
            cells = [row.get(c) for c in cols]
            missing = [_is_missing(c) for c in cells]
            if all(missing):
                continue
            if any(missing):
                gaps = [c for c, m in zip(cols, missing, strict=True) if m]
                report.add(
                    DataError(where, f"task {t.name!r} is only partly filled (empty: {gaps})", "Fill all or none.")
                )
                ok = False
                continue
            values = cells[0] if len(cells) == 1 else cells
            if isinstance(values, str):
                values = values.strip()
        try:
            out[t.name] = label_target(t, _numbers(values, t), where)
        except DataError as exc:
            report.add(exc)
            ok = False
    return out if ok else None


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


def _plane(row: Mapping[str, Any], where: str, report: _Report) -> dict[str, Any]:
    plane: dict[str, Any] = {}
    for key in PLANE_KEYS:
        value = row.get(key)
        if _is_missing(value):
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


def _split_value(value: Any, where: str, report: _Report) -> str | None:
    if _is_missing(value):
        return None
    split = SPLIT_ALIASES.get(str(value).strip().lower())
    if split is None:
        report.add(DataError(where, f"split {value!r} is not one of train, val, test"))
    return split


# --------------------------------------------------------------------------------------------------
# Layout 1: folder + CSV
# --------------------------------------------------------------------------------------------------


def _list_files(folder: Path, allowed: Sequence[str], report: _Report, what: str) -> list[Path]:
    files = []
    for entry in sorted(os.scandir(folder), key=lambda e: os.fsencode(e.name)):
        if entry.name.startswith(".") or entry.name in ("Thumbs.db", "desktop.ini"):
            continue
        path = Path(entry.path)
        try:
            check_file_name(entry.name)
        except DataError as exc:
            report.add(exc)
            continue
        if entry.is_dir():
            report.add(DataError(path, f"unexpected sub-folder in {folder.name}/", f"Put {what} files directly there."))
            continue
        low = entry.name.lower()
        if "." in entry.name and not any(low.endswith(e) for e in allowed) and not _numeric_suffix(entry.name):
            report.add(DataError(path, f"unsupported {what} file type", f"Accepted endings: {', '.join(allowed)}."))
            continue
        files.append(path)
    return files


def _numeric_suffix(name: str) -> bool:
    """DICOM files are often named by UID (``1.2.840.10008.5``): a numeric last part is no extension."""
    return name.rsplit(".", 1)[-1].isdigit()


def _read_csv(path: Path, report: _Report) -> tuple[list[str], list[tuple[int, list[str]]]] | None:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        report.add(
            DataError(
                path, f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at position {exc.start})", "Save it as CSV UTF-8."
            )
        )
        return None
    if not text.strip():
        report.add(DataError(path, "the file is empty", "The first line names the columns, starting with case_id."))
        return None
    first = text.lstrip().splitlines()[0]
    delimiter = max(",;\t", key=first.count)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = [h.strip() for h in next(reader)]
    if any(not h for h in header) or len(set(header)) != len(header):
        dup = sorted({h for h in header if header.count(h) > 1})
        report.add(DataError(path, f"the header has empty or duplicate column names {dup or header}"))
        return None
    rows = []
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            report.add(
                DataError(f"{path} line {reader.line_num}", f"{len(row)} fields, but the header has {len(header)}")
            )
            continue
        rows.append((reader.line_num, [cell.strip() for cell in row]))
    return header, rows


def _parse_csv_folder(root: Path, tasks: Sequence[TaskSpec], task_map: Mapping[str, str] | None, report: _Report):
    images_dir = root / "images"
    labels_path = root / "labels.csv"
    seg = [t for t in tasks if t.kind == "segmentation"]
    header: list[str] = []
    rows: list[tuple[int, list[str]]] = []
    if labels_path.exists():
        parsed = _read_csv(labels_path, report)
        if parsed is not None:
            header, rows = parsed
            header = _rename(header, task_map)
            if "case_id" not in header:
                report.add(
                    DataError(
                        labels_path,
                        f"no case_id column (columns: {header})",
                        "Name the identifier column case_id, or map yours with task_map={'your_column': 'case_id'}.",
                    )
                )
                header, rows = [], []
    has_image_column = "image" in header
    if not has_image_column and not images_dir.is_dir():
        report.add(DataError(root, "no images/ folder", LAYOUT_HINT))
        return []
    # --- images -> cases
    image_of: dict[str, Path] = {}
    if images_dir.is_dir():
        files = _list_files(images_dir, IMAGE_EXTENSIONS, report, "image")
        if not files and not has_image_column:
            report.add(DataError(images_dir, "the folder is empty (no image files)", LAYOUT_HINT))
            return []
        if not has_image_column:
            for f in files:
                cid = strip_extension(f.name)
                if cid in image_of:
                    report.add(
                        DataError(
                            f,
                            f"duplicate case id {cid!r} (also {image_of[cid].name})",
                            "Each case needs exactly one image; rename or remove one.",
                        )
                    )
                    continue
                image_of[cid] = f
    # --- masks folders
    mask_dirs: dict[str, Path] = {}
    mask_index: dict[str, dict[str, list[Path]]] = {}
    for t in seg:
        folder = root / folder_name(t, seg)
        if folder.is_dir():
            mask_dirs[t.name] = folder
            index: dict[str, list[Path]] = {}
            for f in _list_files(folder, MASK_EXTENSIONS, report, "mask"):
                index.setdefault(strip_extension(f.name), []).append(f)
            for cid, found in index.items():
                if len(found) > 1:
                    report.add(DataError(found[1], f"several masks for case {cid!r}: {[p.name for p in found]}"))
            mask_index[t.name] = index
    # --- required columns (a task without them is reported, then left out so the other checks go on)
    absent_tasks: set[str] = set()
    for t in tasks:
        if t.kind == "segmentation":
            col = _seg_key(t, seg, "mask")
            if t.name not in mask_dirs and col not in header:
                report.add(
                    DataError(
                        root,
                        f"no {folder_name(t, seg)}/ folder for segmentation task {t.name!r}",
                        "Add the masks, or choose tasks without it (e.g. tasks=[...] / --tasks).",
                    )
                )
        elif t.kind in LABEL_KINDS:
            absent = [c for c in task_columns(t) if c not in header]
            if absent:
                shown = f"labels.csv has no column {absent[0]!r}" if labels_path.exists() else "there is no labels.csv"
                report.add(
                    DataError(
                        labels_path,
                        f"{shown} for {t.kind} task {t.name!r} (columns found: {header})",
                        f"Add it, map yours with task_map={{'your_column': {absent[0]!r}}}, or choose tasks without "
                        f"{t.name!r}.",
                    )
                )
                absent_tasks.add(t.name)
    row_tasks = [t for t in tasks if t.name not in absent_tasks]
    # --- rows
    cases: dict[str, Case] = {}
    row_of: dict[str, int] = {}
    for line, cells in rows:
        row = dict(zip(header, cells, strict=True))
        cid = row["case_id"]
        where = f"{labels_path} line {line}"
        if not cid:
            report.add(DataError(where, "empty case_id"))
            continue
        if cid in row_of:
            report.add(
                DataError(where, f"duplicate case id {cid!r} (also line {row_of[cid]})", "Case ids must be unique.")
            )
            continue
        row_of[cid] = line
        if has_image_column:
            image = _resolve(root, images_dir, row.get("image", ""))
            if image is None:
                report.add(DataError(where, f"case {cid!r}: image {row.get('image', '')!r} not found"))
                continue
        else:
            image = image_of.get(cid)
            if image is None:
                report.add(
                    DataError(where, f"case {cid!r} has no image in images/", "Image files are named <case_id>.<ext>.")
                )
                continue
        targets = _row_targets(row, row_tasks, f"{where} (case {cid!r})", report)
        split = _split_value(row.get("split"), where, report)
        case = Case(cid, image, targets=targets or {}, split=split, plane=_plane(row, where, report), where=where)
        for t in seg:
            path = _row_mask(root, t, seg, row, cid, where, mask_dirs, mask_index, report)
            if path is not None:
                case.masks[t.name] = path
        if targets is not None:
            cases[cid] = case
    for cid, image in image_of.items():
        if cid not in row_of:
            case = Case(cid, image, where=str(image))
            for t in seg:
                found = mask_index.get(t.name, {}).get(cid)
                if found:
                    case.masks[t.name] = found[0]
            cases[cid] = case
    # --- masks without image
    used = {p for c in cases.values() for p in c.masks.values()}
    for t in seg:
        for cid, found in mask_index.get(t.name, {}).items():
            for f in found[:1]:
                if f not in used and cid not in image_of and cid not in row_of:
                    report.add(DataError(f, f"mask without image: no case {cid!r}", "Remove it or add the image."))
                elif f not in used and cid in cases and not has_image_column:
                    report.add(
                        DataError(f, f"labels.csv says case {cid!r} has no mask, but this mask exists", "Fix one.")
                    )
    return [cases[k] for k in sorted(cases)]


def _resolve(root: Path, folder: Path, value: str) -> Path | None:
    if _is_missing(value):
        return None
    for base in (root, folder):
        path = (base / value).resolve()
        if path.is_file():
            return path
    return None


def _row_mask(
    root: Path,
    task: TaskSpec,
    seg: Sequence[TaskSpec],
    row: Mapping[str, str],
    cid: str,
    where: str,
    mask_dirs: Mapping[str, Path],
    mask_index: Mapping[str, Mapping[str, list[Path]]],
    report: _Report,
) -> Path | None:
    col = _seg_key(task, seg, "mask")
    folder = mask_dirs.get(task.name, root / folder_name(task, seg))
    found = mask_index.get(task.name, {}).get(cid)
    if col not in row:
        return found[0] if found else None
    value = row[col].strip()
    if _is_missing(value) or value.lower() in _NO:
        return None
    if value.lower() in _YES:
        if not found:
            report.add(
                DataError(
                    where,
                    f"missing mask: the {col} column says case {cid!r} has a mask, but {folder.name}/{cid}.png "
                    "does not exist",
                    "Add the mask or clear the cell.",
                )
            )
            return None
        return found[0]
    path = _resolve(root, folder, value)
    if path is None:
        report.add(DataError(where, f"missing mask: case {cid!r} names mask {value!r}, which does not exist"))
    return path


# --------------------------------------------------------------------------------------------------
# Layout 2: Decathlon dataset.json
# --------------------------------------------------------------------------------------------------


def _parse_decathlon(path: Path, tasks: Sequence[TaskSpec], task_map: Mapping[str, str] | None, report: _Report):
    root = path.parent
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError:
        report.add(DataError(path, "not UTF-8 text", "Save it as UTF-8 JSON."))
        return [], ""
    except json.JSONDecodeError as exc:
        report.add(DataError(path, f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"))
        return [], ""
    if not isinstance(doc, dict) or not isinstance(doc.get("training"), list):
        report.add(DataError(path, "no 'training' list", 'Expected {"training": [{"image": ..., "label": ...}, ...]}.'))
        return [], ""
    if not doc["training"]:
        report.add(DataError(path, "the 'training' list is empty", LAYOUT_HINT))
        return [], ""
    modality = doc.get("modality", {})
    hint = "CT" if isinstance(modality, dict) and "CT" in {str(v).upper() for v in modality.values()} else ""
    seg = [t for t in tasks if t.kind == "segmentation"]
    labels = doc.get("labels")
    if isinstance(labels, dict) and len(seg) == 1 and len(labels) != seg[0].num_outputs:
        report.add(
            DataError(
                path,
                f"'labels' lists {len(labels)} classes {list(labels.values())} but segmentation task {seg[0].name!r} "
                f"has {seg[0].num_outputs} {list(seg[0].class_names)}",
                "Use a region or task set whose classes match.",
            )
        )
    entries = [
        dict(zip(_rename(list(e), task_map), e.values(), strict=True)) if isinstance(e, dict) else e
        for e in doc["training"]
    ]
    usable = []
    for t in tasks:
        keys = [_seg_key(t, seg, "label")] if t.kind == "segmentation" else [t.name, *task_columns(t)]
        if t.kind != "reconstruction" and not any(isinstance(e, dict) and any(k in e for k in keys) for e in entries):
            report.add(
                DataError(
                    path,
                    f"no training entry has a {keys[0]!r} key for {t.kind} task {t.name!r}",
                    f"Add it, map yours with task_map={{'your_key': {keys[0]!r}}}, or choose tasks without {t.name!r}.",
                )
            )
        else:
            usable.append(t)
    cases: dict[str, Case] = {}
    for i, entry in enumerate(entries):
        where = f"{path} training[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("image"), str):
            report.add(DataError(where, "an entry needs an 'image' path", 'E.g. {"image": "./imagesTr/a.nii.gz"}.'))
            continue
        image = _resolve(root, root, entry["image"])
        cid = str(entry.get("case_id") or strip_extension(os.path.basename(entry["image"])))
        if image is None:
            report.add(DataError(where, f"case {cid!r}: image {entry['image']!r} not found"))
            continue
        if cid in cases:
            report.add(
                DataError(where, f"duplicate case id {cid!r} (also {cases[cid].where})", "Case ids must be unique.")
            )
            continue
        targets = _row_targets(entry, usable, f"{where} (case {cid!r})", report)
        case = Case(cid, image, split=_split_value(entry.get("split"), where, report), where=where)
        case.plane = _plane(entry, where, report)
        for t in seg:
            value = entry.get(_seg_key(t, seg, "label"))
            if _is_missing(value):
                continue
            mask = _resolve(root, root, str(value))
            if mask is None:
                report.add(DataError(where, f"missing mask: case {cid!r} names label {value!r}, which does not exist"))
                targets = None
            else:
                case.masks[t.name] = mask
        if targets is not None:
            case.targets = targets
            cases[cid] = case
    return [cases[k] for k in sorted(cases)], hint


# --------------------------------------------------------------------------------------------------
# Layout 3: MedMNIST npz
# --------------------------------------------------------------------------------------------------


def _medmnist_arrays(path: Path, report: _Report) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    try:
        npz = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        report.add(DataError(path, f"not a readable .npz file ({_why(exc)})", "Save it with numpy.savez_compressed."))
        return {}
    out = {}
    with npz:
        for key in npz.files:
            info = npz.zip.getinfo(key + ".npy") if npz.zip is not None else None
            if info is not None and info.file_size > MAX_DECODED_BYTES:
                report.add(DataError(path, f"array {key!r} is {info.file_size / 2**30:.1f} GiB, above the limit"))
                return {}
        for split in ("train", "val", "test"):
            ik, lk = f"{split}_images", f"{split}_labels"
            if ik not in npz.files and lk not in npz.files:
                continue
            if ik not in npz.files or lk not in npz.files:
                report.add(DataError(path, f"has {ik if ik in npz.files else lk!r} but not its partner array"))
                continue
            try:
                images, labels = npz[ik], npz[lk]
            except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
                report.add(DataError(path, f"cannot read {ik}/{lk} ({_why(exc)})"))
                continue
            if images.ndim == 4 and images.shape[-1] == 1:
                images = images[..., 0]
            if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[-1] != 3):
                report.add(DataError(path, f"{ik} has shape {images.shape}", "Expected (N, H, W) or (N, H, W, 3)."))
                continue
            if images.dtype.kind not in "uif":
                report.add(DataError(path, f"{ik} has dtype {images.dtype}", "Expected uint8 pixels."))
                continue
            labels = labels.reshape(len(labels), -1) if labels.ndim <= 2 else labels
            if labels.ndim != 2 or labels.dtype.kind not in "uif" or len(labels) != len(images):
                report.add(
                    DataError(
                        path,
                        f"{lk} has shape {labels.shape} ({labels.dtype}) for {len(images)} images",
                        "Expected (N, L) integers.",
                    )
                )
                continue
            out[split] = (images, labels)
    if not out:
        report.add(DataError(path, "no {train,val,test}_images / _labels arrays", "This is the MedMNIST .npz format."))
    return out


def _parse_medmnist(
    path: Path,
    region: Region | None,
    tasks_arg: Any,
    specs: Sequence[TaskSpec],
    task_map: Mapping[str, str] | None,
    report: _Report,
    split: str | None,
) -> tuple[list[Case], tuple[TaskSpec, ...]]:
    arrays = _medmnist_arrays(path, report)
    if not arrays:
        return [], tuple(specs)
    n_labels = next(iter(arrays.values()))[1].shape[1]
    columns = [f"label_{j}" for j in range(n_labels)]
    aliases = {"label": "label_0"} if n_labels == 1 else {}
    mapping = {aliases.get(k, k): v for k, v in (task_map or {}).items()}
    unknown = [k for k in mapping if k not in columns]
    if unknown:
        raise ValueError(f"task_map keys {unknown} are not label columns of {path.name}; they are {columns}.")
    classification = [t for t in specs if t.kind == "classification"]
    if tasks_arg is None and region is not None:
        chosen = [t for t in classification if t.name in mapping.values()] or classification
        specs = tuple(chosen)
    others = [t.name for t in specs if t.kind != "classification"]
    if others:
        raise DataError(
            path,
            f"MedMNIST files have classification labels only, but tasks {others} were asked for",
            f"Choose classification tasks, e.g. tasks={[t.name for t in classification]}.",
        )
    if not mapping:
        if n_labels == 1 and len(specs) == 1:
            mapping = {"label_0": specs[0].name}
        else:
            raise ValueError(
                f"{path.name} has {n_labels} label column(s) {columns} for tasks {[t.name for t in specs]}: "
                "say which is which with task_map={'label_0': 'task', ...}."
            )
    missing = [t.name for t in specs if t.name not in mapping.values()]
    if missing:
        raise ValueError(f"task_map {mapping} gives no label column to tasks {missing}.")
    by_name = {t.name: t for t in specs}
    cases = []
    for name, (images, labels) in arrays.items():
        if split is not None and name != split:
            continue
        for col, task_name in mapping.items():
            t = by_name[task_name]
            values = labels[:, columns.index(col)]
            bad = np.unique(values[(values < 0) | (values >= t.num_outputs) | (values != np.round(values))])
            if bad.size:
                report.add(
                    DataError(
                        path,
                        f"{name}_labels column {col}: class {bad[:5].tolist()} out of range for task {t.name!r}",
                        f"The task has {t.num_outputs} classes 0..{t.num_outputs - 1}.",
                    )
                )
                return [], tuple(specs)
        for i in range(len(images)):
            targets = {
                task: np.asarray(int(labels[i, columns.index(col)]), dtype=np.int64) for col, task in mapping.items()
            }
            cases.append(
                Case(
                    f"{name}_{i:05d}", None, targets=targets, split=name, pixels=images[i], where=f"{path} {name}[{i}]"
                )
            )
    if not cases:
        report.add(DataError(path, f"no cases in split {split!r}", f"Splits present: {sorted(arrays)}."))
    return cases, tuple(specs)


# --------------------------------------------------------------------------------------------------
# The dataset
# --------------------------------------------------------------------------------------------------


def _zeros(task: TaskSpec, size: int, channels: int) -> torch.Tensor:
    if task.kind == "segmentation":
        return torch.zeros((size, size), dtype=torch.int64)
    if task.kind == "classification":
        return torch.zeros((), dtype=torch.int64)
    if task.kind == "regression":
        return torch.zeros((task.num_outputs,), dtype=torch.float32)
    if task.kind == "landmarks":
        return torch.zeros((task.num_outputs, 2), dtype=torch.float32)
    return torch.zeros((channels, size, size), dtype=torch.float32)


class FolderDataset(Dataset):
    """Cases of a user's dataset as items the models and the trainer consume (see the module docstring).

    Build it with :func:`open_dataset`. ``ds.sample(i)`` gives the :class:`Sample`; ``ds[i]`` the item
    dict; :meth:`split` a train/test pair; :meth:`check` decodes every case and lists problems.

    Attributes:
        root: the dataset path.
        layout: ``"csv"``, ``"decathlon"`` or ``"medmnist"``.
        region: the region (``None`` for a custom task set).
        tasks: the task specs items carry.
        channels: image channels.
        size: image side in pixels.
        cases: the :class:`Case` list.
    """

    def __init__(
        self,
        cases: Sequence[Case],
        *,
        root: Path,
        layout: str,
        region: Region | None,
        tasks: Sequence[TaskSpec],
        channels: int,
        size: int,
        intensity: str | tuple[float, float] = "auto",
        rgba: str = "composite",
        fit: str = "pad",
        mask_values: Mapping[int, int] | None = None,
        region_window: str | None = None,
        cache: bool = False,
        transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        fill_missing: bool = True,
        _cache: dict[str, Sample] | None = None,
    ) -> None:
        self.cases = list(cases)
        self.root = root
        self.layout = layout
        self.region = region
        self.tasks = tuple(tasks)
        self.channels = channels
        self.size = size
        self.intensity = intensity
        self.rgba = rgba
        self.fit = fit
        self.mask_values = dict(mask_values) if mask_values else None
        self.region_window = region_window
        self.transform = transform
        self.fill_missing = fill_missing
        self._cache = _cache if _cache is not None else ({} if cache else None)

    # ---- access
    def __len__(self) -> int:
        return len(self.cases)

    @property
    def case_ids(self) -> list[str]:
        """Case identifiers in item order."""
        return [c.case_id for c in self.cases]

    def _raw(self, case: Case) -> RawImage:
        if case.pixels is not None:
            pixels = np.asarray(case.pixels)
            return RawImage(pixels, "NumPy", case.where, bits=8 if pixels.dtype == np.uint8 else None)
        return read_raw(case.image, **case.plane)

    def sample(self, index: int) -> Sample:
        """The decoded :class:`Sample` of case ``index`` (targets only for labelled tasks).

        Raises:
            DataError: for a corrupt image or mask, a mask whose size differs from the image's, or a
                mask class index out of range.
        """
        case = self.cases[index]
        if self._cache is not None and case.case_id in self._cache:
            return self._cache[case.case_id]
        raw = self._raw(case)
        image, geometry = prepare_image(
            raw,
            channels=self.channels,
            size=self.size,
            intensity=self.intensity,
            rgba=self.rgba,
            fit=self.fit,
            region_window=self.region_window,
        )
        targets: dict[str, np.ndarray] = {}
        by_name = {t.name: t for t in self.tasks}
        for name, path in case.masks.items():
            mask = read_mask(path, num_classes=by_name[name].num_outputs, values=self.mask_values, **case.plane)
            check_same_plane(raw, mask)
            targets[name] = geometry.mask(mask.array)
        for name, value in case.targets.items():
            targets[name] = geometry.points(value) if by_name[name].kind == "landmarks" else value
        for t in self.tasks:
            if t.kind == "reconstruction":
                targets[t.name] = image.copy()
        sample = Sample(
            image=image,
            targets=targets,
            latents={},
            region=self.region.name if self.region is not None else "custom",
            seed=None,
            spacing_mm=_spacing_mm(raw, geometry, self.region, self.size),
            meta={"case_id": case.case_id, "source": raw.name, "format": raw.format, "split": case.split},
        )
        if self._cache is not None:
            self._cache[case.case_id] = sample
        return sample

    def __getitem__(self, index: int) -> dict[str, Any]:
        item: dict[str, Any] = sample_to_tensors(self.sample(index), self.tasks)
        for t in self.tasks:
            present = t.name in item
            item[f"{t.name}__present"] = torch.tensor(present)
            if not present and self.fill_missing:
                item[t.name] = _zeros(t, self.size, self.channels)
        item["case_id"] = self.cases[index].case_id
        return self.transform(item) if self.transform is not None else item

    # ---- views
    def subset(self, indices: Sequence[int]) -> FolderDataset:
        """A dataset of some cases (same options, shared cache)."""
        out = FolderDataset.__new__(FolderDataset)
        out.__dict__.update(self.__dict__)
        out.cases = [self.cases[i] for i in indices]
        return out

    def split(self, test_fraction: float = 0.2, seed: int = 0) -> tuple[FolderDataset, FolderDataset]:
        """(train, test): by the cases' ``split`` values if any, else a seeded shuffle of the sorted case ids.

        With split values: ``train`` (and unassigned cases) train; ``test`` cases test, or ``val``
        cases when there is no ``test``. Without: ``round(test_fraction * n)`` cases (at least one)
        chosen by ``numpy.random.default_rng(seed)`` test, the rest train. The default seed is fixed,
        so every run (and every training seed of a comparison) sees the same test set.

        Raises:
            DataError: when one side would be empty.
        """
        splits = [c.split for c in self.cases]
        if any(s is not None for s in splits):
            test_name = "test" if "test" in splits else "val"
            train = [i for i, s in enumerate(splits) if s in (None, "train")]
            test = [i for i, s in enumerate(splits) if s == test_name]
        else:
            if not 0.0 < test_fraction < 1.0:
                raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}.")
            order = sorted(range(len(self.cases)), key=lambda i: self.cases[i].case_id)
            perm = np.random.default_rng(seed).permutation(len(order))
            n_test = min(max(1, round(test_fraction * len(order))), len(order) - 1)
            test = sorted(order[j] for j in perm[:n_test])
            train = sorted(order[j] for j in perm[n_test:])
        if not train or not test:
            raise DataError(
                self.root,
                f"the split leaves {len(train)} training and {len(test)} test cases",
                "Give both train and test cases (split column), or at least two cases.",
            )
        return self.subset(train), self.subset(test)

    # ---- reports
    def label_counts(self) -> dict[str, int]:
        """Number of cases labelled for each task (before decoding)."""
        counts = {}
        for t in self.tasks:
            if t.kind == "segmentation":
                counts[t.name] = sum(t.name in c.masks for c in self.cases)
            elif t.kind == "reconstruction":
                counts[t.name] = len(self.cases)
            else:
                counts[t.name] = sum(t.name in c.targets for c in self.cases)
        return counts

    def describe(self) -> str:
        """One-paragraph summary: layout, cases, labelled cases per task, splits."""
        counts = ", ".join(f"{k} {v}" for k, v in self.label_counts().items())
        splits = {s: sum(c.split == s for c in self.cases) for s in ("train", "val", "test")}
        split_text = ", ".join(f"{k} {v}" for k, v in splits.items() if v) or "none (seeded shuffle)"
        where = self.region.name if self.region is not None else "custom tasks"
        return (
            f"{display_name(self.root)}: {self.layout} layout, {len(self)} cases for {where}, "
            f"{self.channels} channel(s) at {self.size} px; labelled cases per task: {counts}; splits: {split_text}."
        )

    def check(self) -> list[str]:
        """Decode every case; return one message per problem (empty = all good)."""
        problems = []
        for i in range(len(self)):
            try:
                self.sample(i)
            except DataError as exc:
                problems.append(str(exc))
        return problems


def _spacing_mm(raw: RawImage, geometry: Geometry, region: Region | None, size: int) -> float:
    if raw.spacing_mm is not None:
        return float(np.mean([s / g for s, g in zip(raw.spacing_mm, geometry.scale, strict=True)]))
    return float(region.spacing_mm(size)) if region is not None else 1.0


def detect_layout(path: str | os.PathLike[str]) -> str:
    """``"csv"``, ``"decathlon"`` or ``"medmnist"`` for a dataset path.

    Raises:
        DataError: if the path does not exist or matches no layout.
    """
    p = Path(path)
    check_file_name(p.name)
    if not p.exists():
        raise DataError(p, "does not exist", LAYOUT_HINT)
    if p.is_file():
        if p.suffix.lower() == ".npz":
            return "medmnist"
        if p.suffix.lower() == ".json":
            return "decathlon"
        raise DataError(p, "is a file but not a .npz or dataset .json", LAYOUT_HINT)
    if (p / "dataset.json").is_file():
        return "decathlon"
    if (p / "images").is_dir() or (p / "labels.csv").is_file():
        return "csv"
    if not any(not e.name.startswith(".") for e in os.scandir(p)):
        raise DataError(p, "the folder is empty", LAYOUT_HINT)
    raise DataError(p, "no recognised dataset layout (no images/, labels.csv or dataset.json)", LAYOUT_HINT)


def _open(
    path: str | os.PathLike[str],
    region: Region | str | None,
    report: _Report,
    *,
    tasks: Sequence[TaskSpec] | Sequence[str] | str | None = None,
    task_map: Mapping[str, str] | None = None,
    channels: int | None = None,
    layout: str | None = None,
    split: str | None = None,
    size: int | None = None,
    **options: Any,
) -> FolderDataset | None:
    reg, specs, ch = resolve_tasks(region, tasks, channels)
    root = Path(path)
    layout = layout or detect_layout(root)
    if layout not in LAYOUTS:
        raise ValueError(f"Unknown layout {layout!r}; allowed layouts are {LAYOUTS}.")
    if split is not None and split not in ("train", "val", "test"):
        raise ValueError(f"split must be None, 'train', 'val' or 'test', got {split!r}.")
    reserved = ("case_id", "image", "split", *PLANE_KEYS)
    hint = ""
    if layout == "medmnist":
        cases, specs = _parse_medmnist(root, reg, tasks, specs, task_map, report, split)
    else:
        _check_task_map(task_map, specs, reserved)
        if layout == "csv":
            cases = _parse_csv_folder(root, specs, task_map, report)
        else:
            json_path = root / "dataset.json" if root.is_dir() else root
            cases, hint = _parse_decathlon(json_path, specs, task_map, report)
            root = json_path
        if split is not None:
            cases = [c for c in cases if c.split == split]
    if not cases:
        if report.strict or not report.problems:
            report.add(DataError(root, "no usable cases", LAYOUT_HINT))
        return None
    region_window = default_window(reg) or ("soft_tissue" if hint == "CT" else None)
    size = int(size if size is not None else (reg.default_size if reg is not None else 128))
    return FolderDataset(
        cases,
        root=root,
        layout=layout,
        region=reg,
        tasks=specs,
        channels=ch,
        size=size,
        region_window=region_window,
        **options,
    )


def open_dataset(
    path: str | os.PathLike[str],
    region: Region | str | None = None,
    *,
    tasks: Sequence[TaskSpec] | Sequence[str] | str | None = None,
    task_map: Mapping[str, str] | None = None,
    channels: int | None = None,
    layout: str | None = None,
    split: str | None = None,
    size: int | None = None,
    intensity: str | tuple[float, float] = "auto",
    rgba: str = "composite",
    fit: str = "pad",
    mask_values: Mapping[int, int] | None = None,
    cache: bool = False,
    transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    fill_missing: bool = True,
) -> FolderDataset:
    """Open a user's dataset (folder + CSV, Decathlon ``dataset.json`` or MedMNIST ``.npz``).

    Args:
        path: dataset folder, ``dataset.json`` or ``.npz`` file.
        region: region name/object whose tasks, channels and size the data should fit; ``None``
            with a custom ``tasks`` list of :class:`TaskSpec` and ``channels``.
        tasks: ``None`` (all the region's tasks; for MedMNIST its classification tasks), a subset of
            task names, or custom :class:`TaskSpec` objects.
        task_map: the user's column / key names -> the toolkit's (task columns of
            :func:`~mtdl_kit.data.samples.label_columns`, ``case_id``, ``image``, ``mask``, ``split``;
            for MedMNIST ``label_<j>`` -> task name).
        channels: image channels (default: the region's).
        layout: force ``"csv"``, ``"decathlon"`` or ``"medmnist"`` (default: detected).
        split: keep only cases of this split (``"train"``, ``"val"``, ``"test"``).
        size: image side (default: the region's ``default_size``).
        intensity, rgba, fit: see :func:`mtdl_kit.data.formats.prepare_image`.
        mask_values: remap stored mask values to class indices, e.g. ``{255: 1}``.
        cache: keep decoded samples in memory.
        transform: applied to each item dict (e.g. :func:`~mtdl_kit.data.phantom.default_augmentation`).
        fill_missing: give unlabelled tasks zero targets (with ``<task>__present`` False).

    Raises:
        DataError: for the first structural problem (use :func:`check_dataset` to see them all).
        ValueError: for bad arguments (unknown region, task names or options).
    """
    ds = _open(
        path,
        region,
        _Report(strict=True),
        tasks=tasks,
        task_map=task_map,
        channels=channels,
        layout=layout,
        split=split,
        size=size,
        intensity=intensity,
        rgba=rgba,
        fit=fit,
        mask_values=mask_values,
        cache=cache,
        transform=transform,
        fill_missing=fill_missing,
    )
    assert ds is not None  # strict mode raises instead
    return ds


def check_dataset(
    path: str | os.PathLike[str],
    region: Region | str | None = None,
    *,
    tasks: Sequence[TaskSpec] | Sequence[str] | str | None = None,
    task_map: Mapping[str, str] | None = None,
    channels: int | None = None,
    layout: str | None = None,
    mask_values: Mapping[int, int] | None = None,
    size: int | None = None,
) -> list[str]:
    """Every problem of a dataset at once: structure, labels, and each image and mask decoded.

    Same arguments as :func:`open_dataset`. Returns one ``"<file>: <problem>. <hint>"`` message per
    problem; an empty list means the dataset opens and every case decodes.
    """
    report = _Report(strict=False)
    try:
        ds = _open(
            path,
            region,
            report,
            tasks=tasks,
            task_map=task_map,
            channels=channels,
            layout=layout,
            size=size,
            mask_values=mask_values,
        )
    except ValueError as exc:  # DataError included: a problem that stops the structural pass
        return [*report.problems, str(exc)]
    if ds is None:
        return report.problems
    return report.problems + ds.check()


def collate(items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """DataLoader ``collate_fn`` for items that may lack some targets.

    Tensors are stacked; a target missing from some items is filled with zeros shaped like the
    others' and its ``<task>__present`` entry is ``False`` there (a target no item has stays absent,
    which the trainer also treats as unlabelled). Strings (``case_id``) become lists.
    """
    if not items:
        raise ValueError("collate needs at least one item.")
    keys: list[str] = []
    for it in items:
        keys += [k for k in it if k not in keys]
    out: dict[str, Any] = {}
    for key in keys:
        if key.endswith("__present"):
            continue
        values = [it.get(key) for it in items]
        template = next(v for v in values if v is not None)
        if not isinstance(template, torch.Tensor):
            out[key] = values
            continue
        out[key] = torch.stack([torch.as_tensor(v) if v is not None else torch.zeros_like(template) for v in values])
        if key != "image":
            flags = [
                (v is not None) and bool(it.get(f"{key}__present", True)) for v, it in zip(values, items, strict=True)
            ]
            if not all(flags) or any(f"{key}__present" in it for it in items):
                out[f"{key}__present"] = torch.tensor(flags, dtype=torch.bool)
    return out
