"""Demo datasets of :mod:`mtdl_kit.data.demo` and the bring-your-own-data exercises (notebook 22)."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from mtdl_kit import exercises
from mtdl_kit.data import (
    PLANTED_PROBLEMS,
    break_copy,
    check_dataset,
    open_dataset,
    read_raw,
    stored_to_hu,
    write_ct_dicom,
    write_nifti,
)
from mtdl_kit.data import write_phantom_folder as write_folder


@pytest.fixture(scope="module")
def eye_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo") / "eye"
    return write_folder(root, "eye", n=10, size=32, mask_only=(1,), labels_only=(2,), unlisted=(9,))


def test_partially_labelled_folder(eye_root):
    assert check_dataset(eye_root, "eye") == []
    ds = open_dataset(eye_root, "eye", size=32)
    assert len(ds) == 10 and ds.label_counts() == {"disc_cup": 9, "glaucoma": 8, "cdr": 8}
    with open(eye_root / "labels.csv", newline="") as f:
        ids = [row["case_id"] for row in csv.DictReader(f)]
    assert "eye_009" not in ids and len(ids) == 9


def test_break_copy_plants_what_check_dataset_finds(eye_root, tmp_path):
    planted = break_copy(eye_root, tmp_path / "broken")
    assert len(planted) == len(PLANTED_PROBLEMS) == 5
    problems = check_dataset(tmp_path / "broken", "eye")
    assert len(problems) == 5
    text = "\n".join(problems)
    assert "the file is empty" in text and "mask without image" in text and "out of range" in text
    assert "is not numeric" in text and "class 7" in text
    assert check_dataset(eye_root, "eye") == []  # the source is untouched


def test_ct_dicom_and_nifti_round_trip(tmp_path):
    hu = np.linspace(-1000.0, 1000.0, 32 * 32).reshape(32, 32)
    path = write_ct_dicom(tmp_path / "ct.dcm", hu, slope=0.5, intercept=-1024.0)
    assert np.allclose(read_raw(path).array, hu, atol=0.25)  # stored with a 0.5 HU step
    assert stored_to_hu(2048, 0.5, -1024.0) == 0.0
    with pytest.raises(ValueError, match="int16"):
        write_ct_dicom(tmp_path / "bad.dcm", hu * 100, slope=0.5, intercept=-1024.0)
    vol = np.random.default_rng(0).random((20, 24, 5)).astype(np.float32)
    raw = read_raw(write_nifti(tmp_path / "v.nii.gz", vol, spacing_mm=(1.0, 1.0, 3.0)), slice_index=2)
    assert raw.format == "NIfTI" and raw.array.shape == (24, 20)


def test_hu_exercise(capsys):
    exercises.check_hu_conversion(lambda v, s, i: np.asarray(v, dtype=float) * s + i)
    assert "\u2705" in capsys.readouterr().out
    with pytest.raises(exercises.ExerciseError, match="way back"):
        exercises.check_hu_conversion(lambda v, s, i: (np.asarray(v, dtype=float) - i) / s)
    with pytest.raises(exercises.ExerciseError, match="slope first"):
        exercises.check_hu_conversion(lambda v, s, i: (np.asarray(v, dtype=float) + i) * s)


def test_labels_row_exercise(eye_root, capsys):
    from PIL import Image

    from mtdl_kit import get_region

    eye = get_region("eye")
    mask = np.asarray(Image.open(eye_root / "masks" / "eye_009.png"))
    cdr = eye.measure(mask, 1.0)["cdr"]
    exercises.check_labels_row({"case_id": "eye_009", "glaucoma": int(cdr > 0.6), "cdr": cdr}, eye_root)
    assert "\u2705" in capsys.readouterr().out
    bad_rows = [
        ({"case_id": "eye_009", "glaucoma": "yes", "cdr": cdr}, "problem"),
        ({"case_id": "eye_009", "glaucoma": int(cdr > 0.6)}, "not labelled"),
        ({"case_id": "eye_009", "glaucoma": int(cdr > 0.6), "cdr": cdr + 0.2}, "measures"),
        ({"case_id": "eye_009", "glaucoma": 1 - int(cdr > 0.6), "cdr": cdr}, "rule"),
        ({"case_id": "eye_009", "diagnosis": 1}, "no column"),
        ({"glaucoma": 1}, "case_id"),
    ]
    for row, match in bad_rows:
        with pytest.raises(exercises.ExerciseError, match=match):
            exercises.check_labels_row(row, eye_root)
