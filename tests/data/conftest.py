"""Writers of tiny image files and datasets for the bring-your-own-data tests (no downloads).

Each test writes the files it reads, so every round trip is checked against known values.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest


class Writers:
    """Write PNG/JPEG/TIFF (Pillow), DICOM (pydicom), NIfTI (nibabel) files and dataset folders."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, name: str) -> Path:
        p = self.root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    # ---- raster
    def png(self, name: str, array: np.ndarray, mode: str | None = None) -> Path:
        from PIL import Image

        p = self.path(name)
        Image.fromarray(np.asarray(array), mode=mode).save(p, format="PNG")
        return p

    def jpeg(self, name: str, array: np.ndarray, quality: int = 95) -> Path:
        from PIL import Image

        p = self.path(name)
        Image.fromarray(np.asarray(array)).save(p, format="JPEG", quality=quality)
        return p

    def tiff(self, name: str, array: np.ndarray) -> Path:
        from PIL import Image

        p = self.path(name)
        Image.fromarray(np.asarray(array)).save(p, format="TIFF")
        return p

    # ---- DICOM
    def dicom(
        self,
        name: str,
        array: np.ndarray | None,
        *,
        modality: str = "CT",
        slope: float | None = None,
        intercept: float | None = None,
        photometric: str = "MONOCHROME2",
        window: tuple[object, object] | None = None,
        transfer_syntax: str | None = None,
        encapsulated: bytes | None = None,
        spacing: tuple[float, float] | None = None,
    ) -> Path:
        """A DICOM Part-10 file; ``array`` (H, W) or (frames, H, W) int16/uint16, or None for no pixel data."""
        from pydicom.dataset import Dataset, FileMetaDataset
        from pydicom.encaps import encapsulate
        from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = transfer_syntax or ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.Modality = modality
        ds.PatientName = "Phantom^Test"
        if array is not None:
            arr = np.asarray(array)
            frames = arr.shape[0] if arr.ndim == 3 else 1
            ds.Rows, ds.Columns = arr.shape[-2:]
            if frames > 1:
                ds.NumberOfFrames = frames
            ds.SamplesPerPixel = 1
            ds.PhotometricInterpretation = photometric
            ds.BitsAllocated = 16
            ds.BitsStored = 16
            ds.HighBit = 15
            ds.PixelRepresentation = 1 if arr.dtype.kind == "i" else 0
            if slope is not None:
                ds.RescaleSlope = slope
            if intercept is not None:
                ds.RescaleIntercept = intercept
            if window is not None:
                ds.WindowCenter, ds.WindowWidth = window
            if spacing is not None:
                ds.PixelSpacing = list(spacing)
            if encapsulated is not None:
                ds.PixelData = encapsulate([encapsulated])
                ds["PixelData"].VR = "OB"
                ds["PixelData"].is_undefined_length = True
            else:
                ds.PixelData = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
        p = self.path(name)
        ds.save_as(p, enforce_file_format=True)
        return p

    # ---- NIfTI
    def nifti(self, name: str, array: np.ndarray, affine: np.ndarray | None = None) -> Path:
        import nibabel as nib

        p = self.path(name)
        nib.save(nib.Nifti1Image(np.asarray(array), np.eye(4) if affine is None else affine), p)
        return p

    # ---- datasets
    def csv(self, name: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> Path:
        p = self.path(name)
        with open(p, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(header)
            w.writerows(rows)
        return p

    def eye_folder(
        self,
        name: str = "eye_ds",
        n: int = 6,
        size: int = 32,
        *,
        without_mask: Sequence[int] = (),
        without_class: Sequence[int] = (),
        seed: int = 0,
    ) -> Path:
        """A folder + CSV dataset for the eye region: RGB PNGs, 3-class masks, glaucoma and cdr labels.

        The mask disc grows with the cdr label, so the tasks are learnable; cases in
        ``without_mask`` have no mask file, cases in ``without_class`` an empty glaucoma cell.
        """
        rng = np.random.default_rng(seed)
        root = self.root / name
        rows = []
        yy, xx = np.mgrid[:size, :size]
        for i in range(n):
            cid = f"case{i:02d}"
            cdr = 0.3 + 0.5 * i / max(n - 1, 1)
            r = np.hypot(yy - size / 2, xx - size / 2)
            mask = np.where(r < size * 0.35, 1, 0) + np.where(r < size * 0.35 * cdr, 1, 0)
            img = (rng.random((size, size, 3)) * 60 + mask[..., None] * 80).astype(np.uint8)
            self.png(f"{name}/images/{cid}.png", img)
            if i not in without_mask:
                self.png(f"{name}/masks/{cid}.png", mask.astype(np.uint8))
            rows.append([cid, "" if i in without_class else int(cdr > 0.6), f"{cdr:.3f}"])
        self.csv(f"{name}/labels.csv", ["case_id", "glaucoma", "cdr"], rows)
        return root


@pytest.fixture
def files(tmp_path) -> Writers:
    """Writers rooted in the test's temporary folder."""
    return Writers(tmp_path)
