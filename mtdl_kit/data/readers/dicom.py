"""DICOM Part-10 through pydicom: Modality LUT (slope/intercept), VOI window, MONOCHROME1, frames."""

from __future__ import annotations

from typing import Any

import numpy as np

from mtdl_kit.data.readers.common import (
    ACCEPTED,
    DECODE_ERRORS,
    DataError,
    RawImage,
    Source,
    check_pixels,
    error_text,
)


def _first(value: Any) -> float | None:
    """First value of a possibly multi-valued DICOM number."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return float(value[0]) if len(value) else None
    return float(value)


def _functional(ds: Any, frame: int, sequence: str, keyword: str) -> Any:
    """A value from the enhanced multi-frame functional groups (per-frame first, then shared)."""
    for groups, index in (("PerFrameFunctionalGroupsSequence", frame), ("SharedFunctionalGroupsSequence", 0)):
        seq = ds.get(groups)
        if seq is not None and len(seq) > index:
            inner = seq[index].get(sequence)
            if inner is not None and len(inner) and keyword in inner[0]:
                return inner[0].get(keyword)
    return None


def read_dicom(src: Source, frame: int | None, max_pixels: int) -> RawImage:
    """One frame of a DICOM Part-10 file (pydicom) through its Modality LUT (HU for CT), with its VOI window."""
    import pydicom
    from pydicom.errors import BytesLengthException, InvalidDicomError
    from pydicom.pixels import apply_modality_lut, get_decoder, pixel_array

    try:
        with src.open() as f:
            ds = pydicom.dcmread(f)
            ds.get("PixelData")  # deferred elements are read now, inside the error handling
    except InvalidDicomError as exc:
        raise DataError(src.name, f"not a readable DICOM file ({error_text(exc)})", ACCEPTED) from None
    except (*DECODE_ERRORS, BytesLengthException) as exc:
        raise DataError(
            src.name, f"cannot parse this DICOM file ({error_text(exc)})", "The file is corrupt or truncated."
        ) from None
    if not any(k in ds for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        sop = str(ds.get("SOPClassUID", "")) and getattr(ds.SOPClassUID, "name", str(ds.SOPClassUID))
        raise DataError(
            src.name,
            "this DICOM file has no pixel data" + (f" (it is a {sop} object)" if sop else ""),
            "Use an image object (CT, MR, CR, DX, US, secondary capture, ...); structured reports, RT structures and "
            "presentation states carry no image.",
        )
    ts = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
    if ts is not None and ts.is_compressed:
        decoder = get_decoder(ts)
        if decoder is None or not decoder.is_available:
            raise DataError(
                src.name,
                f"the pixel data is compressed as {ts.name} ({ts}) and no installed decoder handles it",
                "Decompress the file first (dcmtk `dcmdjpls`/`dcmdjpeg`, gdcm `gdcmconv --raw`), or install a decoder "
                "plugin for pydicom (pylibjpeg with pylibjpeg-libjpeg/-openjpeg, or python-gdcm).",
            )
    try:
        rows, cols = int(ds.Rows), int(ds.Columns)
        n_frames = int(ds.get("NumberOfFrames", 1) or 1)
    except (AttributeError, TypeError, ValueError) as exc:
        raise DataError(src.name, f"the DICOM header lacks a valid image size ({error_text(exc)})") from None
    check_pixels(src.name, rows, cols, max_pixels)
    index = n_frames // 2 if frame is None else int(frame)
    if not 0 <= index < n_frames:
        raise DataError(
            src.name, f"frame {frame} does not exist", f"This file has {n_frames} frame(s): choose 0..{n_frames - 1}."
        )
    try:
        arr = pixel_array(ds, index=index if n_frames > 1 else None)
    except (*DECODE_ERRORS, BytesLengthException) as exc:
        raise DataError(
            src.name, f"cannot decode the pixel data ({error_text(exc)})", "The file is corrupt or truncated."
        ) from None
    if n_frames > 1 and arr.ndim >= 3 and arr.shape[0] == n_frames and arr.shape[1:3] == (rows, cols):
        arr = arr[index]
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    modality = str(ds.get("Modality", "") or "")
    meta: dict[str, Any] = {
        "frames": n_frames,
        "frame": index,
        "photometric": photometric,
        "transfer_syntax": getattr(ts, "name", str(ts)) if ts is not None else "",
    }
    units, window, bits = "", None, int(ds.get("BitsAllocated", 16) or 16)
    if samples == 1 and arr.ndim == 2:
        if photometric == "PALETTE COLOR":
            from pydicom.pixels import apply_color_lut

            arr = apply_color_lut(arr, ds)
            bits = 16 if arr.dtype.itemsize == 2 else 8
        else:
            slope = ds.get("RescaleSlope", _functional(ds, index, "PixelValueTransformationSequence", "RescaleSlope"))
            intercept = ds.get(
                "RescaleIntercept", _functional(ds, index, "PixelValueTransformationSequence", "RescaleIntercept")
            )
            if ds.get("ModalityLUTSequence"):
                arr = apply_modality_lut(arr, ds).astype(np.float32)
                bits = None
            elif slope is not None or intercept is not None:
                s = _first(slope) if slope is not None else 1.0
                b = _first(intercept) if intercept is not None else 0.0
                arr = arr.astype(np.float64) * s + b
                bits = None
                meta["rescale"] = (s, b)
            rescale_type = str(ds.get("RescaleType", "") or "").upper()
            if modality == "CT" or rescale_type == "HU":
                units = "HU"
            center = ds.get("WindowCenter", _functional(ds, index, "FrameVOILUTSequence", "WindowCenter"))
            width = ds.get("WindowWidth", _functional(ds, index, "FrameVOILUTSequence", "WindowWidth"))
            c, w = _first(center), _first(width)
            if c is not None and w is not None and w > 0:
                window = (c, w)
    elif arr.ndim != 3 or arr.shape[-1] != 3:
        raise DataError(src.name, f"unsupported DICOM pixel layout {arr.shape} ({photometric}, {samples} samples)")
    if arr.dtype.kind == "f":
        arr = arr.astype(np.float32)
    spacing = ds.get("PixelSpacing") or ds.get("ImagerPixelSpacing")
    if spacing is None:
        spacing = _functional(ds, index, "PixelMeasuresSequence", "PixelSpacing")
    spacing_mm = (float(spacing[0]), float(spacing[1])) if spacing is not None and len(spacing) == 2 else None
    return RawImage(
        array=np.ascontiguousarray(arr),
        format="DICOM",
        name=src.name,
        bits=bits if arr.dtype.kind in "ui" else None,
        units=units,
        window=window,
        invert=photometric == "MONOCHROME1",
        modality=modality,
        spacing_mm=spacing_mm,
        meta=meta,
    )
