"""Layout 1: a folder with ``images/``, optional ``masks/`` (or ``masks_<task>/``) and ``labels.csv``."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from mtdl_kit.data.layouts.common import (
    IMAGE_EXTENSIONS,
    LAYOUT_HINT,
    MASK_EXTENSIONS,
    PLANE_KEYS,
    Case,
    ProblemReport,
    folder_name,
    is_missing,
    rename_keys,
    resolve_path,
    row_plane,
    row_targets,
    seg_key,
    split_value,
    task_columns,
)
from mtdl_kit.data.readers.common import LABEL_KINDS, DataError, check_file_name, strip_extension
from mtdl_kit.data.samples import label_columns
from mtdl_kit.regions.base import TaskSpec

#: ``mask`` cell values meaning "the case has its mask in the masks folder" / "no mask".
_YES, _NO = frozenset({"1", "yes", "y", "true"}), frozenset({"0", "no", "n", "false"})


def _list_files(folder: Path, allowed: Sequence[str], report: ProblemReport, what: str) -> list[Path]:
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


def _read_csv(path: Path, report: ProblemReport) -> tuple[list[str], list[tuple[int, list[str]]]] | None:
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


def parse_csv_folder(root: Path, tasks: Sequence[TaskSpec], task_map: Mapping[str, str] | None, report: ProblemReport):
    """The :class:`Case` list of a folder + CSV dataset (sorted by case id); problems go to ``report``."""
    images_dir = root / "images"
    labels_path = root / "labels.csv"
    seg = [t for t in tasks if t.kind == "segmentation"]
    header: list[str] = []
    columns: list[str] = []  # the CSV's columns (after task_map), even when its rows cannot be used
    rows: list[tuple[int, list[str]]] = []
    if labels_path.exists():
        parsed = _read_csv(labels_path, report)
        if parsed is not None:
            header, rows = parsed
            header = columns = rename_keys(header, task_map)
            if "case_id" not in header:
                report.add(_no_case_id(labels_path, header, tasks))
                header, rows = [], []  # rows cannot be matched to images: every image is an unlabelled case
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
            col = seg_key(t, seg, "mask")
            if t.name not in mask_dirs and col not in columns:
                report.add(
                    DataError(
                        root,
                        f"no {folder_name(t, seg)}/ folder for segmentation task {t.name!r}",
                        "Add the masks, or choose tasks without it (e.g. tasks=[...] / --tasks).",
                    )
                )
        elif t.kind in LABEL_KINDS:
            absent = [c for c in task_columns(t) if c not in columns]
            if absent:
                shown = f"labels.csv has no column {absent[0]!r}" if labels_path.exists() else "there is no labels.csv"
                report.add(
                    DataError(
                        labels_path,
                        f"{shown} for {t.kind} task {t.name!r} (columns found: {columns})",
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
            image = resolve_path(root, images_dir, row.get("image", ""))
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
        # a bad cell is reported and its task left out; the case stays, so a check still decodes its files
        targets = row_targets(row, row_tasks, f"{where} (case {cid!r})", report)
        split = split_value(row.get("split"), where, report)
        case = Case(cid, image, targets=targets, split=split, plane=row_plane(row, where, report), where=where)
        for t in seg:
            path = _row_mask(root, t, seg, row, cid, where, mask_dirs, mask_index, report)
            if path is not None:
                case.masks[t.name] = path
        cases[cid] = case
    for cid, image in image_of.items():
        if cid not in row_of:
            case = Case(cid, image, where=str(image))
            for t in seg:
                found = mask_index.get(t.name, {}).get(cid)
                if found:
                    case.masks[t.name] = found[0]
            cases[cid] = case
    # --- masks without image (compared as resolved paths: a mask cell names the file relative to the
    # dataset, the folder listing relative to the current directory, and either may go through a link)
    used = {p.resolve() for c in cases.values() for p in c.masks.values()}
    for t in seg:
        for cid, found in mask_index.get(t.name, {}).items():
            for f in found[:1]:
                unused = f.resolve() not in used
                if unused and cid not in image_of and cid not in row_of:
                    report.add(DataError(f, f"mask without image: no case {cid!r}", "Remove it or add the image."))
                elif unused and cid in cases and not has_image_column:
                    report.add(
                        DataError(f, f"labels.csv says case {cid!r} has no mask, but this mask exists", "Fix one.")
                    )
    return [cases[k] for k in sorted(cases)]


def _no_case_id(labels_path: Path, header: Sequence[str], tasks: Sequence[TaskSpec]) -> DataError:
    """The problem of a labels.csv without a ``case_id`` column, suggesting which of its columns to map."""
    known = {"image", "split", "mask", *PLANE_KEYS, *label_columns(tasks)} | {t.name for t in tasks}
    known |= {c for c in header if c.startswith("mask__")}
    candidates = [c for c in header if c not in known]
    # an identifier-like name first (image_id, case, patient, filename), else the first unknown column
    candidates.sort(key=lambda c: not any(w in c.lower() for w in ("id", "case", "patient", "subject", "name", "file")))
    if candidates:
        guess = candidates[0]
        fix = (
            f"Rename the column {guess!r} to case_id, or map it: task_map={{{guess!r}: 'case_id'}} "
            f"(on the command line --task-map {guess}=case_id)."
        )
    else:
        fix = "Add a case_id column (the image file name without its extension)."
    return DataError(labels_path, f"no case_id column (columns: {list(header)})", fix)


def _row_mask(
    root: Path,
    task: TaskSpec,
    seg: Sequence[TaskSpec],
    row: Mapping[str, str],
    cid: str,
    where: str,
    mask_dirs: Mapping[str, Path],
    mask_index: Mapping[str, Mapping[str, list[Path]]],
    report: ProblemReport,
) -> Path | None:
    col = seg_key(task, seg, "mask")
    folder = mask_dirs.get(task.name, root / folder_name(task, seg))
    found = mask_index.get(task.name, {}).get(cid)
    if col not in row:
        return found[0] if found else None
    value = row[col].strip()
    if is_missing(value) or value.lower() in _NO:
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
    path = resolve_path(root, folder, value)
    if path is None:
        report.add(DataError(where, f"missing mask: case {cid!r} names mask {value!r}, which does not exist"))
    return path
