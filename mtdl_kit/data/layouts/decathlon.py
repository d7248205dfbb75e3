"""Layout 2: a Medical Segmentation Decathlon ``dataset.json`` extended with task keys."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from mtdl_kit.data.layouts.common import (
    LAYOUT_HINT,
    Case,
    ProblemReport,
    is_missing,
    rename_keys,
    resolve_path,
    row_plane,
    row_targets,
    seg_key,
    split_value,
    task_columns,
)
from mtdl_kit.data.readers.common import DataError, strip_extension
from mtdl_kit.regions.base import TaskSpec


def parse_decathlon(path: Path, tasks: Sequence[TaskSpec], task_map: Mapping[str, str] | None, report: ProblemReport):
    """(cases sorted by id, ``"CT"`` if its modality says so else ``""``) of a Decathlon ``dataset.json``.

    Problems go to ``report``.
    """
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
        dict(zip(rename_keys(list(e), task_map), e.values(), strict=True)) if isinstance(e, dict) else e
        for e in doc["training"]
    ]
    usable = []
    for t in tasks:
        keys = [seg_key(t, seg, "label")] if t.kind == "segmentation" else [t.name, *task_columns(t)]
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
        image = resolve_path(root, root, entry["image"])
        cid = str(entry.get("case_id") or strip_extension(os.path.basename(entry["image"])))
        if image is None:
            report.add(DataError(where, f"case {cid!r}: image {entry['image']!r} not found"))
            continue
        if cid in cases:
            report.add(
                DataError(where, f"duplicate case id {cid!r} (also {cases[cid].where})", "Case ids must be unique.")
            )
            continue
        targets = row_targets(entry, usable, f"{where} (case {cid!r})", report)
        case = Case(cid, image, split=split_value(entry.get("split"), where, report), where=where)
        case.plane = row_plane(entry, where, report)
        for t in seg:
            value = entry.get(seg_key(t, seg, "label"))
            if is_missing(value):
                continue
            mask = resolve_path(root, root, str(value))
            if mask is None:
                report.add(DataError(where, f"missing mask: case {cid!r} names label {value!r}, which does not exist"))
            else:
                case.masks[t.name] = mask
        # after a reported problem the case is kept (only a check gets here): its files are still decoded
        case.targets = targets
        cases[cid] = case
    return [cases[k] for k in sorted(cases)], hint
