"""``read_raw``: sniff a file's format from its content and dispatch to the matching reader;
``plane_choices``: which frames, slices and volumes a file offers, from its header alone."""

from __future__ import annotations

import os

import numpy as np

from mtdl_kit.data.readers.common import (
    ACCEPTED,
    DECODE_ERRORS,
    MAX_DECODED_BYTES,
    MAX_FILE_BYTES,
    MAX_PIXELS,
    MAX_VOLUME_FILE_BYTES,
    MIN_SIDE,
    RASTER_FORMATS,
    DataError,
    PlaneChoices,
    RawImage,
    Source,
    error_text,
    format_bytes,
    sniff_format,
)
from mtdl_kit.data.readers.dicom import (
    dicom_choices,
    read_dicom,
)
from mtdl_kit.data.readers.nifti import (
    nifti_choices,
    read_nifti,
)
from mtdl_kit.data.readers.raster import (
    pillow_choices,
    read_pillow,
)


def _sniffed(source: str | os.PathLike[str] | bytes, name: str | None, max_bytes: int | None) -> tuple[Source, str]:
    """The source and its format, after the size limits (:func:`read_raw`'s ``max_bytes``)."""
    src = Source.of(source, name)
    if src.size == 0:
        raise DataError(src.name, "the file is empty (0 bytes)", ACCEPTED)
    hard_cap = max_bytes if max_bytes is not None else max(MAX_FILE_BYTES, MAX_VOLUME_FILE_BYTES)
    if src.size > hard_cap:
        raise DataError(
            src.name,
            f"the file is {format_bytes(src.size)}, above the limit of {format_bytes(hard_cap)}",
            "Downscale or crop it first.",
        )
    fmt = sniff_format(src.head(), src.name)
    cap = max_bytes if max_bytes is not None else (MAX_FILE_BYTES if fmt in RASTER_FORMATS else MAX_VOLUME_FILE_BYTES)
    if src.size > cap:
        raise DataError(
            src.name,
            f"the file is {format_bytes(src.size)}, above the limit of {format_bytes(cap)} for {fmt} files",
            "Downscale or crop it first.",
        )
    return src, fmt


def plane_choices(
    source: str | os.PathLike[str] | bytes, *, name: str | None = None, max_bytes: int | None = None
) -> PlaneChoices:
    """Which 2-D planes a file offers (frames, pages, slices per axis, volumes), from its header alone.

    Cheap: nothing is decoded (DICOM is parsed up to its pixel data, NIfTI and raster files only
    to the end of the header; a TIFF's pages are counted by walking its directory chain). Use it
    to offer a choice before calling :func:`read_raw` with ``frame=``, ``axis=``/``slice_index=``
    or ``volume=``.

    Raises:
        DataError: as :func:`read_raw` for a file whose header cannot be read.
    """
    src, fmt = _sniffed(source, name, max_bytes)
    try:
        if fmt in RASTER_FORMATS:
            return pillow_choices(src, fmt)
        if fmt == "DICOM":
            return dicom_choices(src)
        return nifti_choices(src)
    except DataError:
        raise
    except DECODE_ERRORS as exc:
        raise DataError(
            src.name, f"cannot read the header of this {fmt} file ({error_text(exc)})", "The file is corrupt."
        ) from None


def _constant_warning(raw: RawImage) -> str | None:
    """A warning when every pixel of the plane (each colour channel; alpha excluded) has one value."""
    values = raw.array
    if values.ndim == 3 and values.shape[-1] in (2, 4):
        values = values[..., :-1]
    if values.size == 0:
        return None
    first = values.reshape(-1, values.shape[-1] if values.ndim == 3 else 1)[0]
    if not np.all(values == (first if values.ndim == 3 else first[0])):
        return None
    shown = ", ".join(f"{float(v):g}" for v in first)
    what = "this slice" if raw.format == "NIfTI" else ("this frame" if raw.meta.get("frames", 1) > 1 else "the image")
    return (
        f"Every pixel of {what} has the value {shown}: it is blank, so there is nothing to see, segment or classify "
        "(an empty slice, or a file saved without its pixels?)."
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
    reduce_to: int | None = None,
    max_decoded: int = MAX_DECODED_BYTES,
) -> RawImage:
    """Read one 2-D plane of a PNG/JPEG/TIFF/BMP, DICOM or NIfTI file, validating it on the way.

    The cost of a file is decided from its header before anything is decoded: the plane's sides,
    aspect ratio, pixels and decoded bytes (:func:`~mtdl_kit.data.readers.common.check_plane`), a
    NIfTI volume's decoded bytes (``max_decoded``); a ``.nii.gz`` is decompressed in full once so
    that its CRC is checked.

    Args:
        source: a path, or the file's bytes (then give ``name`` for the extension check and messages).
        name: display name (default: the path).
        frame: DICOM multi-frame (or multi-page TIFF) frame, default the middle one.
        slice_index: NIfTI slice along ``axis`` after reorientation to RAS, default the middle one.
        axis: NIfTI slicing axis: ``"axial"`` (2), ``"coronal"`` (1) or ``"sagittal"`` (0).
        volume: which volume of a 4-D NIfTI (e.g. a modality of a BraTS file); required for 4-D,
            ignored for 2-D and 3-D images. :func:`plane_choices` says how many there are.
        max_bytes: largest accepted file size (default :data:`MAX_FILE_BYTES` for raster formats,
            :data:`MAX_VOLUME_FILE_BYTES` for DICOM and NIfTI).
        max_pixels: largest accepted plane, in pixels (decompression-bomb guard).
        reduce_to: shrink a large plane while decoding, by the largest integer factor (box average;
            JPEG: DCT scaling) that keeps both sides >= this; the result records the factor in
            :attr:`RawImage.reduction` and the file's size in :attr:`RawImage.file_shape`.
            ``None`` (default): full resolution. :func:`read_sample` passes twice its output size.
        max_decoded: largest accepted NIfTI volume in decoded bytes.

    Returns:
        The plane, with :attr:`RawImage.notes` (which frame, slice or volume of several is shown)
        and :attr:`RawImage.warnings` (a constant image, an orientation that had to be assumed).

    Raises:
        DataError: for anything the file cannot give (see the module docstring).
    """
    src, fmt = _sniffed(source, name, max_bytes)
    try:
        if fmt in RASTER_FORMATS:
            raw = read_pillow(src, fmt, frame, max_pixels, reduce_to)
        elif fmt == "DICOM":
            raw = read_dicom(src, frame, max_pixels, reduce_to)
        else:
            raw = read_nifti(src, slice_index, axis, volume, max_pixels, reduce_to, max_decoded)
    except DataError:
        raise
    except DECODE_ERRORS as exc:  # corrupt headers surface anywhere in the decoders
        raise DataError(
            src.name, f"cannot read this {fmt} file ({error_text(exc)})", "The file is corrupt or truncated."
        ) from None
    h, w = raw.original_shape
    if min(h, w) < MIN_SIDE:
        raise DataError(
            src.name, f"the image is only {h}x{w} pixels", f"The smallest accepted size is {MIN_SIDE}x{MIN_SIDE}."
        )
    if raw.array.dtype.kind not in "uifb":
        raise DataError(
            src.name, f"the pixel values are of type {raw.array.dtype}, not numbers", "Save a grey or RGB image."
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
    warning = _constant_warning(raw)
    if warning:
        raw.warnings.append(warning)
    return raw
