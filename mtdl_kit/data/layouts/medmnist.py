"""Layout 3: a MedMNIST-style ``.npz`` file (classification only)."""

from __future__ import annotations

import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mtdl_kit.data.layouts.common import Case, ProblemReport
from mtdl_kit.data.readers.common import MAX_DECODED_BYTES, DataError, error_text
from mtdl_kit.regions.base import Region, TaskSpec


def _medmnist_arrays(path: Path, report: ProblemReport) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    try:
        npz = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        report.add(
            DataError(path, f"not a readable .npz file ({error_text(exc)})", "Save it with numpy.savez_compressed.")
        )
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
                report.add(DataError(path, f"cannot read {ik}/{lk} ({error_text(exc)})"))
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


def parse_medmnist(
    path: Path,
    region: Region | None,
    tasks_arg: Any,
    specs: Sequence[TaskSpec],
    task_map: Mapping[str, str] | None,
    report: ProblemReport,
    split: str | None,
) -> tuple[list[Case], tuple[TaskSpec, ...]]:
    """(cases, the classification tasks they are labelled for) of a MedMNIST ``.npz``; problems go to ``report``."""
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
