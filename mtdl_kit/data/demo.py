"""Write small "bring your own data" demo datasets from phantoms (notebook 22, the docs, tests).

Nothing is downloaded: every file is made from a phantom, so each round trip can be checked
against known values.

- :func:`write_phantom_folder` writes a folder + CSV dataset (``images/``, ``masks/``,
  ``labels.csv``), optionally *partially labelled*: some cases with a mask only, some with labels only.
- :func:`break_copy` copies such a folder and plants known problems in it, for
  :func:`~mtdl_kit.data.folders.check_dataset` to find.
- :func:`write_ct_dicom` stores a slice in Hounsfield units as a DICOM file with a rescale slope
  and intercept (stored value ``v`` means ``HU = slope * v + intercept``, DICOM PS3.3 C.11.1);
  :func:`write_nifti` stores a volume with its voxel spacing.
"""

from __future__ import annotations

import csv
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mtdl_kit.data.samples import label_columns, label_values, png_bytes, quantise_image, select_seeds
from mtdl_kit.regions.base import Region, get_region

__all__ = ["PLANTED_PROBLEMS", "break_copy", "stored_to_hu", "write_ct_dicom", "write_nifti", "write_phantom_folder"]


def write_phantom_folder(
    root: str | os.PathLike[str],
    region: Region | str = "eye",
    n: int = 24,
    size: int = 64,
    *,
    mask_only: Sequence[int] = (),
    labels_only: Sequence[int] = (),
    unlisted: Sequence[int] = (),
    splits: bool = False,
) -> Path:
    """Write ``n`` phantoms of ``region`` as a folder + CSV dataset under ``root``.

    Cases are named ``<region>_000`` ... and cover every class of every classification task
    (:func:`~mtdl_kit.data.samples.select_seeds`). Cases whose index is in ``mask_only`` get a
    mask but empty label cells; those in ``labels_only`` get labels but no mask file; those in
    ``unlisted`` an image and a mask but no ``labels.csv`` row.
    With ``splits`` the CSV has a ``split`` column (every fifth case ``test``).

    Returns:
        The dataset folder ``root``.
    """
    reg = get_region(region) if isinstance(region, str) else region
    out = Path(root)
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    seg = reg.coupling.segmentation
    columns = label_columns(reg.tasks)
    rows = []
    for i, seed in enumerate(select_seeds(reg, n, size)):
        case = f"{reg.name}_{i:03d}"
        s = reg.sample(seed, size=size)
        (out / "images" / f"{case}.png").write_bytes(png_bytes(quantise_image(s.image)))
        if i not in labels_only:
            (out / "masks" / f"{case}.png").write_bytes(png_bytes(s.targets[seg].astype(np.uint8)))
        if i in unlisted:
            continue
        values = [""] * len(columns) if i in mask_only else label_values(s, reg.tasks)
        rows.append([case, *values, *(["test" if i % 5 == 4 else "train"] if splits else [])])
    with open(out / "labels.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["case_id", *columns, *(["split"] if splits else [])])
        w.writerows(rows)
    return out


#: what :func:`break_copy` plants, one line per problem (the order of its return value).
PLANTED_PROBLEMS = (
    "an empty image file (a download that stopped)",
    "a mask saved for display with values 0/255 instead of class indices",
    "a mask without an image (a stray file)",
    "a class index out of range in labels.csv",
    "a non-numeric regression value in labels.csv",
)


def break_copy(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> list[str]:
    """Copy a folder + CSV dataset written by :func:`write_phantom_folder` and plant known problems.

    The problems (:data:`PLANTED_PROBLEMS`) go into the first cases that have a mask; the first
    classification and regression columns of ``labels.csv`` get the bad values.

    Returns:
        One line per planted problem, naming the file or case.
    """
    src, dst = Path(src), Path(dst)
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
    with open(dst / "labels.csv", newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    with_mask = [r[0] for r in body if (dst / "masks" / f"{r[0]}.png").is_file()]
    empty, display, bad_class, bad_value = with_mask[:4]
    (dst / "images" / f"{empty}.png").write_bytes(b"")
    from PIL import Image

    mask = np.asarray(Image.open(dst / "masks" / f"{display}.png"))
    Image.fromarray(np.where(mask > 0, 255, 0).astype(np.uint8)).save(dst / "masks" / f"{display}.png")
    shutil.copy(dst / "masks" / f"{bad_class}.png", dst / "masks" / "stray_case.png")
    numeric = [j for j, name in enumerate(header) if j > 0 and name != "split"]
    cls_col, reg_col = numeric[0], numeric[-1]
    for r in body:
        if r[0] == bad_class:
            r[cls_col] = "7"
        if r[0] == bad_value:
            r[reg_col] = "large"
    with open(dst / "labels.csv", "w", newline="") as f:
        csv.writer(f).writerows([header, *body])
    return [
        f"images/{empty}.png: {PLANTED_PROBLEMS[0]}",
        f"masks/{display}.png: {PLANTED_PROBLEMS[1]}",
        f"masks/stray_case.png: {PLANTED_PROBLEMS[2]}",
        f"labels.csv, {bad_class}: {header[cls_col]} = 7, {PLANTED_PROBLEMS[3]}",
        f"labels.csv, {bad_value}: {header[reg_col]} = 'large', {PLANTED_PROBLEMS[4]}",
    ]


def stored_to_hu(stored: np.ndarray | float, slope: float = 1.0, intercept: float = 0.0) -> np.ndarray | float:
    """DICOM Modality LUT: ``HU = slope * stored + intercept`` (``RescaleSlope``, ``RescaleIntercept``)."""
    hu = np.asarray(stored, dtype=np.float64) * slope + intercept
    return hu if hu.ndim else float(hu)


def write_ct_dicom(
    path: str | os.PathLike[str],
    hu: np.ndarray,
    *,
    slope: float = 0.5,
    intercept: float = -1024.0,
    spacing_mm: tuple[float, float] = (0.7, 0.7),
) -> Path:
    """Store a 2-D slice in HU as a CT DICOM file: ``stored = round((HU - intercept) / slope)`` as int16.

    Raises:
        ValueError: if the HU values do not fit int16 with this slope and intercept.
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    hu = np.asarray(hu, dtype=np.float64)
    if hu.ndim != 2:
        raise ValueError(f"write_ct_dicom writes one 2-D slice, got shape {hu.shape}.")
    stored = np.round((hu - intercept) / slope)
    if stored.min() < -32768 or stored.max() > 32767:
        raise ValueError("HU values do not fit int16 with this slope and intercept.")
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "CT"
    ds.PatientName = "Phantom^Demo"
    ds.Rows, ds.Columns = hu.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.RescaleSlope = slope
    ds.RescaleIntercept = intercept
    ds.PixelSpacing = [float(s) for s in spacing_mm]
    ds.PixelData = stored.astype("<i2").tobytes()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(out, enforce_file_format=True)
    return out


def write_nifti(
    path: str | os.PathLike[str], volume: np.ndarray, spacing_mm: tuple[float, float, float] = (1.0, 1.0, 1.0)
) -> Path:
    """Store a (X, Y, Z) volume as NIfTI-1 with a diagonal (RAS+) affine of the given voxel spacing."""
    import nibabel as nib

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.asarray(volume), np.diag([*map(float, spacing_mm), 1.0])), out)
    return out
