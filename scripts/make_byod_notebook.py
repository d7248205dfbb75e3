"""Generate ``notebooks/22_bring_your_own_data.ipynb`` (stored without outputs).

Uses the cell helpers of ``make_notebooks.py``; run ``python scripts/make_byod_notebook.py``.
"""

# ruff: noqa: E501  (the markdown recipe table has one row per line)

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_notebooks import ROOT, code, header, md, notebook, references

NAME = "22_bring_your_own_data.ipynb"

DATA_REFS = [
    "Orlando JI, et al. REFUGE Challenge: a unified framework for evaluating automated methods for glaucoma "
    "assessment from fundus photographs. *Med. Image Anal.* 59:101570 (2020).",
    "Codella NCF, et al. Skin lesion analysis toward melanoma detection: a challenge at the 2017 ISBI, hosted by "
    "the International Skin Imaging Collaboration (ISIC). ISBI 2018; arXiv:1710.05006.",
    "Al-Dhabyani W, Gomaa M, Khaled H, Fahmy A. Dataset of breast ultrasound images. *Data in Brief* 28:104863 (2020).",
    "Shiraishi J, et al. Development of a digital image database for chest radiographs with and without a lung "
    "nodule. *AJR* 174:71–74 (2000); van Ginneken B, Stegmann MB, Loog M. Segmentation of anatomical structures "
    "in chest radiographs using supervised methods. *Med. Image Anal.* 10:19–40 (2006).",
    "Jaeger S, et al. Two public chest X-ray datasets for computer-aided screening of pulmonary diseases. "
    "*Quant. Imaging Med. Surg.* 4(6):475–477 (2014).",
    "Bernard O, et al. Deep learning techniques for automatic MRI cardiac multi-structures segmentation and "
    "diagnosis: is the problem solved? *IEEE Trans. Med. Imaging* 37(11):2514–2525 (2018) — ACDC.",
    "Bilic P, et al. The Liver Tumor Segmentation Benchmark (LiTS). *Med. Image Anal.* 84:102680 (2023).",
    "Kumar N, et al. A dataset and a technique for generalized nuclear segmentation for computational pathology. "
    "*IEEE Trans. Med. Imaging* 36(7):1550–1560 (2017); Kumar N, et al. A multi-organ nucleus segmentation "
    "challenge. *IEEE Trans. Med. Imaging* 39(5):1380–1391 (2020) — MoNuSeg.",
    "Graham S, et al. HoVer-Net: simultaneous segmentation and classification of nuclei in multi-tissue "
    "histology images. *Med. Image Anal.* 58:101563 (2019) — CoNSeP.",
    "Antonelli M, et al. The Medical Segmentation Decathlon. *Nat. Commun.* 13:4128 (2022) — `dataset.json`.",
    "Yang J, et al. MedMNIST v2: a large-scale lightweight benchmark for 2D and 3D biomedical image "
    "classification. *Sci. Data* 10:41 (2023) — `.npz` layout.",
    "DICOM PS3.3, C.11.1 Modality LUT (RescaleSlope, RescaleIntercept); Mason D, et al. pydicom. *SoftwareX* "
    "(2020); Brett M, et al. nibabel.",
]

RECIPES = """
## Recipes for public datasets (layout and column names only)

Nothing is downloaded here: get each set from its official source under its own licence and terms
(several need a registration and forbid redistribution), then arrange it as below. The full
recipes, with conversion snippets, are in `docs/bring_your_own_data.md`, section 3. The file
names, label values and folder structures in this table come from the datasets' papers and
releases as we understand them — **check the dataset's own documentation** before you convert.

| dataset | region / tasks | layout | images, masks | label columns (`labels.csv` / JSON keys) | options |
|---|---|---|---|---|---|
| REFUGE (Orlando 2020) | `eye`: disc_cup, glaucoma, cdr | folder + CSV | fundus images; disc/cup masks | `case_id, glaucoma, cdr, split` | `mask_values` for the masks' stored values (docs: 255 background, 128 rim, 0 cup) |
| ISIC 2017 (Codella 2018) | `other`: lesion, melanoma | folder + CSV with a `mask` column | dermoscopy JPEGs; binary masks 0/255 | `image_id, melanoma, seborrheic_keratosis, mask` | `task_map={"image_id": "case_id"}`, `mask_values={255: 1}`, `tasks=["lesion", "melanoma"]` |
| BUSI (Al-Dhabyani 2020) | custom: lesion (2 classes), pathology (normal / benign / malignant) | folder + CSV | ultrasound PNGs; masks 0/255 | `case_id, pathology` (class names work) | custom `TaskSpec` list, `channels=1`, `mask_values={255: 1}` |
| JSRT + SCR masks (Shiraishi 2000; van Ginneken 2006) | `chest`: lungs_heart, ctr, cardiomegaly | folder + CSV | raw images converted to 16-bit PNG; lung and heart masks combined into one class-index PNG | `case_id, ctr, cardiomegaly` (derived from the masks, not clinical labels) | — |
| Shenzhen (Jaeger 2014) | custom: lungs (2 classes), tb | folder + CSV | PNGs | `case_id, tb` | `mask_values={255: 1}` |
| ACDC (Bernard 2018) | `cardiac`: ventricles, diagnosis | Decathlon `dataset.json` | NIfTI short-axis frames and their label maps | `case_id, image, label, diagnosis, slice` | `mask_values` to reorder the label values to the region's classes |
| LiTS (Bilic 2023) / Decathlon Task03_Liver | `abdomen`: liver_lesion | Decathlon `dataset.json` | CT NIfTI volumes and label maps | `image, label, slice` (+ `malignancy`, `lesion_diameter` if you have them) | `"modality": {"0": "CT"}`, `--tasks liver_lesion` |
| MoNuSeg / CoNSeP (Kumar 2017, 2020; Graham 2019) | `pathology`: nuclei, nuclei_count | folder + CSV | H&E tiles cut into patches; instance maps turned into interior 1 / contour 2 | `case_id, nuclei_count, grade` (grade empty) | `--tasks nuclei,nuclei_count` |
| MedMNIST v2 (Yang 2023) | a region's classification task | `.npz` | `train_images`, `train_labels`, `val_*`, `test_*` | `label` or `label_<j>` | `task_map={"label_0": "<task>"}` |
"""


def byod() -> nbformat.NotebookNode:
    """22_bring_your_own_data.ipynb."""
    return notebook(
        [
            header(
                "22 · Bring your own data",
                [
                    "arrange your own images and labels in one of three layouts (folder + CSV, Decathlon "
                    "`dataset.json`, MedMNIST `.npz`)",
                    "find every problem of a dataset at once with `check_dataset` (or `mtdl-kit data check`)",
                    "open a partially labelled dataset, look at it and train and evaluate a multi-task model on it",
                    "map your column names with `task_map`, remap mask values with `mask_values`, and define "
                    "your own task set with `TaskSpec`",
                    "read DICOM (rescale slope/intercept to HU) and NIfTI files the way the toolkit does",
                ],
                "`00_start_here.ipynb` and `01_four_families.ipynb`.",
                "about 30 minutes; the code runs in well under a minute in quick mode.",
            ),
            code(
                """
# Run mode. QUICK = True: 32-pixel training images, 10 steps (CI and laptops, < 1 min on 2 CPU cores).
# QUICK = False: 64-pixel images, 400 steps (~3 min on a laptop CPU, seconds on a GPU).
QUICK = True
""",
                tags=["parameters"],
            ),
            md(
                """
## Three layouts

`open_dataset(path, region)` detects which one a path holds:

1. **Folder + CSV** — the simplest, and the layout of the bundled `data_samples/<region>/`:
   ```
   my_dataset/
     images/<case_id>.png        (.png .jpg .tif .bmp .dcm .nii .nii.gz)
     masks/<case_id>.png         optional, class indices 0, 1, 2, ...
     labels.csv                  case_id + one column per classification / regression output
   ```
2. **Medical Segmentation Decathlon `dataset.json`** (Antonelli et al. 2022) with one extra key
   per classification / regression task, e.g.
   `{"image": "./imagesTr/a.nii.gz", "label": "./labelsTr/a.nii.gz", "malignancy": 1, "slice": 40}`.
3. **MedMNIST `.npz`** (Yang et al. 2023): `train_images`, `train_labels`, `val_*`, `test_*`;
   classification only.

In every layout a **missing label is allowed**: an empty CSV cell, a missing JSON key or a case
without a mask. Such cases carry `<task>__present = False` and the trainer's masked losses skip
them — the *partially labelled* setting of many multi-task papers, where not every image has every
annotation. The rest of this notebook uses the folder + CSV layout; the docs
(`docs/bring_your_own_data.md`) describe the other two in full.
"""
            ),
            code(
                """
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from mtdl_kit import TaskSpec, exercises, get_region
from mtdl_kit.data import break_copy, check_dataset, open_dataset, write_ct_dicom, write_nifti, write_phantom_folder
from mtdl_kit.viz import gallery_figure, history_figure, sample_figure

SIZE = 32 if QUICK else 64
STEPS = 10 if QUICK else 400
WORK = Path(tempfile.mkdtemp(prefix="mtdl_byod_"))  # everything is written here, nothing is downloaded
eye = get_region("eye")
print("working folder:", WORK)
"""
            ),
            md(
                """
## A tiny partially labelled dataset

We play the user: 24 eye cases written from phantoms as RGB PNG images, class-index PNG masks
(0 background, 1 disc rim, 2 cup) and a `labels.csv` with the eye's label columns, `glaucoma` and
`cdr`. Three cases have a mask but empty label cells, three have labels but no mask, and one
(`eye_023`) has an image and a mask but no row in the CSV yet — you will write it in Exercise 1.
"""
            ),
            code(
                """
root = write_phantom_folder(
    WORK / "eye_ds", "eye", n=24, size=64, mask_only=(1, 6, 11), labels_only=(2, 7, 12), unlisted=(23,)
)
print(sorted(p.name for p in (root / "images").iterdir())[:5], "...")
pd.read_csv(root / "labels.csv", dtype=str, keep_default_na=False).head(8)
"""
            ),
            md(
                """
## Check before you train

`check_dataset` decodes every file and returns **all** problems at once, one
`<file>: <problem>. <how to fix it>` message each (the command line does the same:
`mtdl-kit data check PATH --region eye`, exit status 1 if any). Below, a copy of the dataset with
five planted problems.
"""
            ),
            code(
                """
planted = break_copy(root, WORK / "eye_broken")
print("planted:")
print("\\n".join(f"  - {p}" for p in planted))
problems = check_dataset(WORK / "eye_broken", "eye")
print(f"\\ncheck_dataset found {len(problems)} problem(s):")
print("\\n".join(f"  - {p.replace(str(WORK), '<WORK>')}" for p in problems))
"""
            ),
            md(
                """
Every planted problem is found, and each message says what to do. The 0/255 mask is a common
one: masks saved *for display* instead of as class indices. Either convert them once, or remap the
stored values when reading: `mask_values={255: 1}` in Python, `--mask-values 255:1` on the command
line (`mtdl-kit data check` and `mtdl-kit train`); values not in the mapping keep their value.
The clean dataset has no problem:
"""
            ),
            code(
                """
print("problems in the clean dataset:", check_dataset(root, "eye"))
ds = open_dataset(root, "eye", size=SIZE)
print(ds.describe())
item = ds[1]  # eye_001: a mask but no labels
print({k: (tuple(v.shape) if hasattr(v, "shape") else v) for k, v in item.items() if not k.endswith("__present")})
print({k: bool(v) for k, v in item.items() if k.endswith("__present")})
"""
            ),
            code(
                """
gallery_figure([(eye, ds.sample(i)) for i in range(4)], title="Your data, read like a phantom").show()
"""
            ),
            md(
                """
### Exercise 1 — a `labels.csv` row that passes the check

`eye_023` has an image and a mask but no CSV row. Write the row as a dict `{column: value}` with
the columns of `labels.csv`, so that `check_dataset` reports no problem and the labels agree with
the mask: the `cdr` is the vertical cup-to-disc ratio measured on it
(`eye.measure(mask, spacing_mm)["cdr"]`) and `glaucoma` follows the phantom's rule
(1 when CDR > 0.6, else 0). The check appends your row to a copy of the dataset.
"""
            ),
            code(
                """
# Exercise 1: the labels.csv row of eye_023
### BEGIN SOLUTION
# YOUR CODE HERE
mask = np.asarray(Image.open(root / "masks" / "eye_023.png"))
cdr = eye.measure(mask, eye.spacing_mm(mask.shape[0]))["cdr"]
row = {"case_id": "eye_023", "glaucoma": int(cdr > 0.6), "cdr": round(cdr, 4)}
### END SOLUTION
row
"""
            ),
            code("exercises.check_labels_row(row, root)"),
            md(
                """
## Train and evaluate on your data

`train_run` takes the same `RunConfig` as on phantoms plus `data_dir` (and optionally `task_map`
and `mask_values`). Train/test follow the data's `split` column if it has one, else a fixed
seeded shuffle (20 % test). The command line equivalent:
`mtdl-kit train --data-dir PATH --region eye --steps 400 --size 64`.
"""
            ),
            code(
                """
from mtdl_kit.experiments import RunConfig, train_run

cfg = RunConfig(region="eye", family="parallel", steps=STEPS, batch_size=8, size=SIZE, width=8, data_dir=str(root))
result = train_run(cfg, progress=False)
history_figure(result.history, "loss", title=f"parallel network on your data, {STEPS} steps").show()
pd.DataFrame(result.metrics).T
"""
            ),
            md(
                """
The metrics come from the test cases that carry each label: a case without a mask does not count
for `disc_cup`, one without a CDR not for `cdr`. With 5 test cases and a few steps the numbers
mean nothing — the point is that the whole pipeline runs on files you wrote. One test case with
its prediction:
"""
            ),
            code(
                """
import torch

from mtdl_kit.metrics import predictions

_, test = open_dataset(root, "eye", size=SIZE).split()
model = result.model.eval()
s = test.sample(0)
with torch.no_grad():
    out = model(torch.as_tensor(s.image)[None].to(next(model.parameters()).device))
pred = predictions(eye.task("disc_cup"), out["disc_cup"])[0].cpu().numpy()
sample_figure(eye, s, prediction=pred, height=280).show()
"""
            ),
            md(
                """
## Your column names: `task_map`

Real tables rarely use the toolkit's names. `task_map` renames *your* columns to the toolkit's
(`case_id`, task columns, `image`, `mask`, `split`); on the command line
`--task-map patient=case_id,diag=glaucoma,vertical_cdr=cdr`.
"""
            ),
            code(
                """
theirs = pd.read_csv(root / "labels.csv", dtype=str, keep_default_na=False)
theirs.columns = ["patient", "diag", "vertical_cdr"]
theirs.to_csv(root / "labels.csv", index=False)  # the same data under a hospital's column names
task_map = {"patient": "case_id", "diag": "glaucoma", "vertical_cdr": "cdr"}
print(check_dataset(root, "eye", task_map=task_map))
print(open_dataset(root, "eye", task_map=task_map, size=SIZE).describe())
"""
            ),
            md(
                """
## A task set of your own: `TaskSpec`

When your data fits no region, list the tasks yourself. Below: a *binary* cup segmentation
(the stored classes 1 rim and 2 cup are remapped with `mask_values`) and the glaucoma label —
the names must match the CSV columns (after `task_map`, which may only name these tasks'
columns), the segmentation reads `masks/`. Any family trains on it.
"""
            ),
            code(
                """
from mtdl_kit.models import build_model
from mtdl_kit.train import fit

custom = [
    TaskSpec("cup", "segmentation", 2, "optic cup", class_names=("not cup", "cup")),
    TaskSpec("glaucoma", "classification", 2, "glaucoma suspect", class_names=("normal", "suspect")),
]
custom_map = {"patient": "case_id", "diag": "glaucoma"}  # only columns of these tasks; vertical_cdr is ignored
ds_custom = open_dataset(root, tasks=custom, channels=3, size=SIZE, task_map=custom_map, mask_values={1: 0, 2: 1})
print(ds_custom.describe())
net = build_model("parallel", ds_custom.tasks, in_channels=3, width=8)
history = fit(net, ds_custom, steps=3 if QUICK else 200, batch_size=8, progress=False)
print("last losses:", {name: round(history.last("loss", name), 3) for name in history.names("loss")})
"""
            ),
            md(
                """
## DICOM and NIfTI

**DICOM** files store integers; the scanner's values (Hounsfield units for CT) are
`HU = RescaleSlope × stored + RescaleIntercept` (the Modality LUT, DICOM PS3.3 C.11.1). The
toolkit applies it, then a CT window (abdomen: soft tissue, level 40 / width 400). We write one
abdomen phantom slice as a CT file with slope 0.5 and intercept −1024.
"""
            ),
            code(
                """
import pydicom

from mtdl_kit.data import read_raw, read_sample

abdomen = get_region("abdomen")
phantom = abdomen.sample(0, size=64)
hu = phantom.image[0] * 400.0 - 160.0  # undo the soft-tissue window: [0, 1] -> [-160, 240] HU
dcm_path = write_ct_dicom(WORK / "ct_slice.dcm", hu, slope=0.5, intercept=-1024.0)
header = pydicom.dcmread(dcm_path)
stored = header.pixel_array
print(f"stored: {stored.min()} ... {stored.max()}; slope {header.RescaleSlope}, intercept {header.RescaleIntercept}")
raw = read_raw(dcm_path)
print(f"read_raw gives HU: {raw.array.min():.1f} ... {raw.array.max():.1f}; format {raw.format}")
sample = read_sample(dcm_path, "abdomen", size=64)
print(f"model input: {sample.image.min():.2f} ... {sample.image.max():.2f}; spacing {sample.spacing_mm:.2f} mm")
"""
            ),
            md(
                """
### Exercise 2 — stored values to Hounsfield units

Write `to_hu(stored, slope, intercept)` for a number or a NumPy array. The check compares it with
the Modality LUT on hand examples and on a DICOM file read back by `read_raw`. Before you run it:
with slope 0.5 and intercept −1024, which stored value is water (0 HU)?
"""
            ),
            code(
                """
def to_hu(stored, slope: float, intercept: float):
    # Exercise 2: Modality LUT
    ### BEGIN SOLUTION
    # YOUR CODE HERE
    return np.asarray(stored, dtype=float) * slope + intercept
    ### END SOLUTION
"""
            ),
            code("exercises.check_hu_conversion(to_hu)"),
            md(
                """
**NIfTI** volumes are reoriented to RAS+ (as `nibabel.as_closest_canonical` does) and one 2-D
plane is read: `axis` (`"axial"`, `"coronal"`, `"sagittal"`) and `slice_index` (default the middle
one) — per case in a dataset via the `slice`/`axis` columns or JSON keys. Below, a volume of five
brain phantom slices with 1 × 1 × 3 mm voxels.
"""
            ),
            code(
                """
brain = get_region("brain")
volume = np.stack([brain.sample(k, size=64).image[0].T for k in range(5)], axis=-1)  # (x, y, z)
nii_path = write_nifti(WORK / "brain.nii.gz", volume, spacing_mm=(1.0, 1.0, 3.0))
raw = read_raw(nii_path, slice_index=2)
print(raw.format, "plane", raw.array.shape, "spacing", raw.spacing_mm, {k: raw.meta[k] for k in list(raw.meta)[:3]})
sample_figure(brain, read_sample(nii_path, "brain", slice_index=2, size=64), height=260).show()
"""
            ),
            md(RECIPES),
            md(
                """
## Summary

- Three layouts cover most downloads: folder + CSV, a Decathlon `dataset.json` with task keys, and
  MedMNIST `.npz`. Missing labels are allowed everywhere and are skipped by the masked losses.
- `check_dataset` / `mtdl-kit data check` list every problem at once, with what to do about each;
  run it before every training run on new data.
- `task_map` maps your column names, `mask_values` your mask codes (`--mask-values 255:1`), and a
  list of `TaskSpec` any task set that fits no region.
- DICOM values pass through the Modality LUT (slope, intercept) and a window; NIfTI volumes are
  reoriented to RAS+ and one plane is read.
- A model trained on a few hundred of your own images is a teaching exercise, not a validated
  tool: it is **not for clinical use**.
"""
            ),
            references(DATA_REFS),
        ]
    )


def main() -> None:
    """Write ``notebooks/22_bring_your_own_data.ipynb``."""
    nb = byod()
    nbformat.validate(nb)
    out = ROOT / "notebooks" / NAME
    nbformat.write(nb, out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
