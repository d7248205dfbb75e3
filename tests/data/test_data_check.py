"""`check_dataset` / `mtdl-kit data check`: every problem of every case in one pass, never a traceback.

Issue 15 ("Real files and bad input"), dataset half: a relative dataset path with a ``mask`` column,
several problems in one case, cases without a mask, an id column with another name, and a file that
breaks a reader in an unforeseen way. Every test writes the files it checks.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from mtdl_kit import cli
from mtdl_kit.data import DataError, DatasetCheck, check_dataset, open_dataset


def _mask_column_csv(files, name: str = "eye_ds") -> None:
    rows = [[f"case{i:02d}", i % 2, 0.3 + 0.1 * i, f"masks/case{i:02d}.png"] for i in range(4)]
    files.csv(f"{name}/labels.csv", ["case_id", "glaucoma", "cdr", "mask"], rows)


def test_mask_column_with_a_relative_dataset_path_gives_no_false_problem(files, monkeypatch):
    """The mask cell resolves to an absolute path, the folder listing stays relative: compare them resolved."""
    root = files.eye_folder(n=4)
    _mask_column_csv(files)
    monkeypatch.chdir(files.root)
    assert check_dataset("eye_ds", "eye") == []
    assert check_dataset(root, "eye") == []
    assert open_dataset("eye_ds", "eye").label_counts()["disc_cup"] == 4
    # a case whose cell says "no" while its mask exists is still reported, with a relative path too
    rows = [[f"case{i:02d}", i % 2, 0.5, "no" if i == 1 else "yes"] for i in range(4)]
    files.csv("eye_ds/labels.csv", ["case_id", "glaucoma", "cdr", "mask"], rows)
    problems = check_dataset("eye_ds", "eye")
    assert len(problems) == 1 and "case01.png" in problems[0] and "has no mask, but this mask exists" in problems[0]


def test_every_problem_of_one_case_is_listed(files):
    """A wrong-size mask and a non-numeric label in the same case: both, not just the label."""
    files.eye_folder(n=4)
    files.png("eye_ds/masks/case02.png", np.zeros((20, 20), np.uint8))
    rows = [[f"case{i:02d}", i % 2, "abc" if i == 2 else 0.5] for i in range(4)]
    files.csv("eye_ds/labels.csv", ["case_id", "glaucoma", "cdr"], rows)
    problems = check_dataset(files.root / "eye_ds", "eye")
    assert len(problems) == 2, problems
    assert "line 4 (case 'case02'): task 'cdr': 'abc' is not numeric" in problems[0]
    assert "case02.png: the mask is 20x20 pixels but its image" in problems[1]
    with pytest.raises(DataError, match="'abc' is not numeric"):  # opening still stops at the first
        open_dataset(files.root / "eye_ds", "eye")


def test_every_problem_of_one_decathlon_entry_is_listed(files):
    files.nifti("msd/imagesTr/a.nii.gz", np.zeros((32, 32, 3), np.int16))
    files.nifti("msd/labelsTr/a.nii.gz", np.zeros((20, 20, 3), np.uint8))
    files.nifti("msd/imagesTr/b.nii.gz", np.zeros((32, 32, 3), np.int16))
    entries = [
        {"image": "./imagesTr/a.nii.gz", "label": "./labelsTr/a.nii.gz", "malignancy": "x", "lesion_diameter": 3},
        {"image": "./imagesTr/b.nii.gz", "label": "./labelsTr/missing.nii.gz", "malignancy": 1},
    ]
    files.path("msd/dataset.json").write_text(json.dumps({"training": entries}))
    problems = check_dataset(files.root / "msd", "abdomen", size=32)
    text = "\n".join(problems)
    assert len(problems) == 3, problems
    assert "'x'" in text and "missing mask: case 'b'" in text and "a.nii.gz: the mask" in text


def test_cases_without_a_mask_are_summarised_as_unlabelled(files, capsys):
    root = files.eye_folder(n=6, without_mask=(1, 4), without_class=(2,))
    result = check_dataset(root, "eye")
    assert isinstance(result, DatasetCheck) and result == []
    assert result.notes == [
        "2 of 6 cases without a disc_cup mask: treated as unlabelled for disc_cup",
        "1 of 6 cases without a glaucoma label: treated as unlabelled for glaucoma",
    ]
    assert "6 cases for eye" in result.summary
    assert cli.main(["data", "check", str(root), "--region", "eye"]) == 0
    out = capsys.readouterr().out
    assert "NOTE 2 of 6 cases without a disc_cup mask: treated as unlabelled" in out and "OK " in out
    # with problems the summary of what is unlabelled is printed as well
    files.png("eye_ds/masks/case00.png", np.zeros((20, 20), np.uint8))
    assert cli.main(["data", "check", str(root), "--region", "eye"]) == 1
    out = capsys.readouterr().out
    assert "PROBLEM " in out and "NOTE 2 of 6 cases without a disc_cup mask" in out and "1 problem(s)" in out


def test_an_id_column_with_another_name_is_named_in_the_fix(files):
    """No false "no column 'glaucoma' ... (columns found: [])" when the id column is called ``case``."""
    root = files.eye_folder(n=3)
    files.csv("eye_ds/labels.csv", ["case", "glaucoma", "cdr"], [[f"case{i:02d}", 0, 0.4] for i in range(3)])
    result = check_dataset(root, "eye")
    assert len(result) == 1, list(result)
    assert "no case_id column (columns: ['case', 'glaucoma', 'cdr'])" in result[0]
    assert "task_map={'case': 'case_id'}" in result[0] and "--task-map case=case_id" in result[0]
    assert "3 of 3 cases without a glaucoma label: treated as unlabelled for glaucoma" in result.notes
    assert check_dataset(root, "eye", task_map={"case": "case_id"}) == []


def test_an_unforeseen_reader_failure_is_listed_for_its_case(files, monkeypatch, capsys):
    """Any exception while decoding a case becomes that case's problem; the other cases are still checked."""
    import mtdl_kit.data.folders as folders

    root = files.eye_folder(n=4)
    files.png("eye_ds/masks/case03.png", np.zeros((20, 20), np.uint8))
    real = folders.prepare_image

    def fragile(raw, **kwargs):
        if "case01" in str(raw.name):
            raise TypeError("Cannot cast array data from dtype([('R', 'u1')]) to dtype('float32')")
        return real(raw, **kwargs)

    monkeypatch.setattr(folders, "prepare_image", fragile)
    problems = check_dataset(root, "eye")
    assert len(problems) == 2, problems
    assert "case01.png: could not be read (Cannot cast array data" in problems[0]
    assert "Convert it" in problems[0] and "Traceback" not in problems[0]
    assert "case03.png: the mask is 20x20" in problems[1]
    assert cli.main(["data", "check", str(root), "--region", "eye"]) == 1
    assert "PROBLEM " in capsys.readouterr().out
    ds = open_dataset(root, "eye")
    with pytest.raises(DataError, match=r"case01\.png: could not be read") as info:  # training gets a message too
        ds.sample(1)
    assert isinstance(info.value.__cause__, TypeError)  # the cause stays chained for whoever debugs it


def test_an_rgb24_nifti_is_a_listed_problem_or_read(files):
    """An RGB24 NIfTI (structured voxels) must never abort the check, whatever the reader makes of it."""
    import nibabel as nib

    root = files.eye_folder(n=3)
    (root / "images" / "case01.png").unlink()
    voxels = np.zeros((32, 32, 1), dtype=[("R", "u1"), ("G", "u1"), ("B", "u1")])
    nib.save(nib.Nifti1Image(voxels, np.eye(4)), root / "images" / "case01.nii")
    problems = check_dataset(root, "eye")
    assert all("case01.nii" in p for p in problems), problems


def test_an_unreadable_labels_csv_is_a_problem_not_a_traceback(files):
    root = files.eye_folder(n=2)
    (root / "labels.csv").unlink()
    (root / "labels.csv").mkdir()
    problems = check_dataset(root, "eye")
    assert len(problems) == 1 and "labels.csv: could not be read (" in problems[0], problems
