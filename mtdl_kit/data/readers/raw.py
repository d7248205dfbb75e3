"""``read_raw``: sniff a file's format from its content and dispatch to the matching reader."""

from __future__ import annotations

import os

import numpy as np

from mtdl_kit.data.readers.common import (
    ACCEPTED,
    DECODE_ERRORS,
    MAX_FILE_BYTES,
    MAX_PIXELS,
    MAX_VOLUME_FILE_BYTES,
    MIN_SIDE,
    RASTER_FORMATS,
    DataError,
    RawImage,
    Source,
    error_text,
    format_bytes,
    sniff_format,
)
from mtdl_kit.data.readers.dicom import (
    read_dicom,
)
from mtdl_kit.data.readers.nifti import (
    read_nifti,
)
from mtdl_kit.data.readers.raster import (
    read_pillow,
)


def read_raw(
    source: str | os.PathLike[str] | bytes,
    *,
    name: str | None = None,
    frame: int | None = None,
    slice_index: int | None = None,
    axis: str | int = "axial",
    volume: int | None = None,
    max_bytes: int | None = None,
    max_pixels: int = MAX_PIXELS,
) -> RawImage:
    """Read one 2-D plane of a PNG/JPEG/TIFF/BMP, DICOM or NIfTI file, validating it on the way.

    Args:
        source: a path, or the file's bytes (then give ``name`` for the extension check and messages).
        name: display name (default: the path).
        frame: DICOM multi-frame (or multi-page TIFF) frame, default the middle one.
        slice_index: NIfTI slice along ``axis`` after reorientation to RAS, default the middle one.
        axis: NIfTI slicing axis: ``"axial"`` (2), ``"coronal"`` (1) or ``"sagittal"`` (0).
        volume: which volume of a 4-D NIfTI (e.g. a modality of a BraTS file); required for 4-D,
            ignored for 2-D and 3-D images.
        max_bytes: largest accepted file size (default :data:`MAX_FILE_BYTES` for raster formats,
            :data:`MAX_VOLUME_FILE_BYTES` for DICOM and NIfTI).
        max_pixels: largest accepted plane, in pixels (decompression-bomb guard).

    Raises:
        DataError: for anything the file cannot give (see the module docstring).
    """
    src = Source.of(source, name)
    if src.size == 0:
        raise DataError(src.name, "the file is empty (0 bytes)", ACCEPTED)
    hard_cap = max_bytes if max_bytes is not None else max(MAX_FILE_BYTES, MAX_VOLUME_FILE_BYTES)
    if src.size > hard_cap:
        raise DataError(src.name, f"the file is {format_bytes(src.size)}, above the limit of {format_bytes(hard_cap)}")
    fmt = sniff_format(src.head(), src.name)
    cap = max_bytes if max_bytes is not None else (MAX_FILE_BYTES if fmt in RASTER_FORMATS else MAX_VOLUME_FILE_BYTES)
    if src.size > cap:
        raise DataError(
            src.name,
            f"the file is {format_bytes(src.size)}, above the limit of {format_bytes(cap)} for {fmt} files",
            "Downscale or crop it first.",
        )
    try:
        if fmt in RASTER_FORMATS:
            raw = read_pillow(src, fmt, frame, max_pixels)
        elif fmt == "DICOM":
            raw = read_dicom(src, frame, max_pixels)
        else:
            raw = read_nifti(src, slice_index, axis, volume, max_pixels)
    except DataError:
        raise
    except DECODE_ERRORS as exc:  # corrupt headers surface anywhere in the decoders
        raise DataError(
            src.name, f"cannot read this {fmt} file ({error_text(exc)})", "The file is corrupt or truncated."
        ) from None
    h, w = raw.shape2d
    if min(h, w) < MIN_SIDE:
        raise DataError(
            src.name, f"the image is only {h}x{w} pixels", f"The smallest accepted size is {MIN_SIDE}x{MIN_SIDE}."
        )
    if raw.array.dtype.kind == "f":
        bad = ~np.isfinite(raw.array)
        if bad.any():
            n_nan = int(np.isnan(raw.array).sum())
            raise DataError(
                src.name,
                f"the image contains {n_nan} NaN and {int(bad.sum()) - n_nan} infinite values",
                "Replace them (e.g. numpy.nan_to_num) before saving.",
            )
    return raw
