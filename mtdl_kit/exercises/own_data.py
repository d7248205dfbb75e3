"""Exercise checks of notebook 22 (bring your own data): HU conversion and a ``labels.csv`` row."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from mtdl_kit.exercises.base import _fail, _ok

#: (stored value(s), RescaleSlope, RescaleIntercept) examples of :func:`check_hu_conversion`.
HU_EXAMPLES: tuple[tuple[Any, float, float], ...] = (
    (1024, 1.0, -1024.0),
    (0, 1.0, -1024.0),
    (2048, 0.5, -1024.0),
    ([[100, 2000], [3000, -50]], 2.0, -1000.0),
)


def check_hu_conversion(fn: Callable[[Any, float, float], Any]) -> None:
    """Check a learner's ``fn(stored, slope, intercept) -> HU`` (the DICOM Modality LUT).

    The reference is ``slope * stored + intercept`` (DICOM PS3.3 C.11.1,
    :func:`mtdl_kit.data.stored_to_hu`), on hand examples and on a CT DICOM written with a
    rescale slope of 0.5 and intercept of -1024 and read back by
    :func:`mtdl_kit.data.read_raw`.

    Raises:
        ExerciseError: with the example, both values and a hint.
    """
    import tempfile
    from pathlib import Path

    from mtdl_kit.data import read_raw, stored_to_hu, write_ct_dicom

    for stored, slope, intercept in HU_EXAMPLES:
        want = np.asarray(stored_to_hu(stored, slope, intercept), dtype=float)
        got = np.asarray(fn(np.asarray(stored), slope, intercept), dtype=float)
        if got.shape != want.shape or not np.allclose(got, want, atol=1e-6):
            s = np.asarray(stored, dtype=float)
            if got.shape == want.shape and np.allclose(got, (s - intercept) / slope, atol=1e-6):
                hint = "that is the way back (HU -> stored value); the file stores v, the HU are slope * v + intercept."
            elif got.shape == want.shape and np.allclose(got, (s + intercept) * slope, atol=1e-6):
                hint = "multiply the stored value by the slope first, then add the intercept: slope * v + intercept."
            else:
                hint = "HU = RescaleSlope * stored value + RescaleIntercept (a straight line)."
            raise _fail(
                f"stored={stored}, slope={slope}, intercept={intercept}: you return {got.tolist()}, "
                f"the reference is {want.tolist()}.",
                hint,
            )
    with tempfile.TemporaryDirectory() as tmp:
        hu = np.linspace(-1000.0, 1500.0, 256).reshape(16, 16)
        path = write_ct_dicom(Path(tmp) / "ct.dcm", hu, slope=0.5, intercept=-1024.0)
        import pydicom

        stored = pydicom.dcmread(path).pixel_array
        got = np.asarray(fn(stored, 0.5, -1024.0), dtype=float)
        if not np.allclose(got, read_raw(path).array, atol=1e-3):
            raise _fail("On a real DICOM file your HU differ from what read_raw() returns.", "do not round or clip.")
    _ok(f"Your conversion matches the Modality LUT on {len(HU_EXAMPLES)} examples and on a DICOM file read back.")


def check_labels_row(row: Mapping[str, Any], root: Any, *, region: str = "eye", tolerance: float = 0.02) -> None:
    """Check a learner's new ``labels.csv`` row (``{column: value}``) for a case of a folder dataset.

    The row is appended to a copy of ``root/labels.csv``; the copy must pass
    :func:`~mtdl_kit.data.check_dataset` with no problem, the case must then be labelled
    for every classification and regression task, and each regression value that is a mask
    measurement must agree with ``region.measure`` on the case's mask (within ``tolerance``),
    with the classification following the region's rule for it where there is one (eye:
    glaucoma ⇔ CDR > 0.6).

    Raises:
        ExerciseError: naming the problem, with a hint.
    """
    import csv
    import shutil
    import tempfile
    from pathlib import Path

    from PIL import Image

    from mtdl_kit.data import check_dataset, open_dataset
    from mtdl_kit.regions import get_region

    reg = get_region(region)
    if not isinstance(row, Mapping) or "case_id" not in row:
        raise _fail("row must be a dict {column: value} with a 'case_id'.", "e.g. {'case_id': 'eye_new', ...}.")
    root = Path(root)
    with open(root / "labels.csv", newline="") as f:
        header = next(csv.reader(f))
    extra = [k for k in row if k not in header]
    if extra:
        raise _fail(f"labels.csv has no column(s) {extra}.", f"use the columns of the file: {header}.")
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / root.name
        shutil.copytree(root, copy)
        with open(copy / "labels.csv", "a", newline="") as f:
            csv.writer(f).writerow(["" if row.get(c) is None else row.get(c, "") for c in header])
        problems = check_dataset(copy, reg)
        if problems:
            raise _fail(
                f"check_dataset reports {len(problems)} problem(s):\n  " + "\n  ".join(problems),
                "read the message: it names the file, the problem and what is accepted.",
            )
        ds = open_dataset(copy, reg)
        case_id = str(row["case_id"]).strip()
        case = next(c for c in ds.cases if c.case_id == case_id)
        unlabelled = [
            t.name for t in ds.tasks if t.kind in ("classification", "regression") and t.name not in case.targets
        ]
        if unlabelled:
            raise _fail(f"The case is not labelled for {unlabelled}.", "fill in every label column of the row.")
        if not case.masks:
            raise _fail(
                f"Case {case_id!r} has no mask, so the labels cannot be checked against it.", "pick the new case."
            )
        mask = np.asarray(Image.open(next(iter(case.masks.values()))))
        measured = reg.measure(mask, reg.spacing_mm(mask.shape[0]))
        for t in ds.tasks:
            if t.kind == "regression" and t.num_outputs == 1 and t.name in measured:
                got = float(np.asarray(case.targets[t.name]).ravel()[0])
                if abs(got - measured[t.name]) > tolerance:
                    raise _fail(
                        f"{t.name} = {got:.3f}, but the case's mask measures {measured[t.name]:.3f}.",
                        f"measure it: get_region({region!r}).measure(mask, spacing)[{t.name!r}].",
                    )
        if region == "eye":
            want = int(measured["cdr"] > 0.6)
            if int(case.targets["glaucoma"]) != want:
                raise _fail(
                    f"glaucoma = {int(case.targets['glaucoma'])}, but the rule glaucoma ⇔ CDR > 0.6 gives {want}.",
                    "the label should follow the mask here (relatedness 1).",
                )
    _ok(f"check_dataset finds no problem and the labels of {case_id!r} agree with its mask.")
