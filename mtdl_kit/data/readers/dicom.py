"""DICOM Part-10 through pydicom: Modality LUT (slope/intercept), VOI window, MONOCHROME1, frames.

Before any pixel is decoded, the header is checked: a file without pixel data is told apart as a
non-image object (structured report, RT plan, DICOMDIR, ...), an image object whose pixel data
was removed, or a truncated file; a transfer syntax no installed decoder reads (private, JPEG-LS,
12-bit JPEG with Pillow) is named as such; the plane's size and memory are checked
(:func:`~mtdl_kit.data.readers.common.check_plane`); and uncompressed pixel data must have the
length Rows x Columns x Samples x Bits Allocated x Number of Frames gives (DICOM PS3.5 section 8.1.1,
PS3.3 C.7.6.3).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mtdl_kit.data.readers.common import (
    ACCEPTED,
    DECODE_ERRORS,
    DataError,
    PlaneChoices,
    RawImage,
    Source,
    as_float32,
    box_reduce,
    check_plane,
    error_text,
    reduction_factor,
)

_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
#: SOP classes without "Image" in their name whose objects still carry pixel data.
_PIXEL_SOP_NAMES = ("RT Dose Storage", "Segmentation Storage", "Parametric Map Storage")
#: bytes a sample the compressed-pixel decoders hold besides the decoded frame (OpenJPEG and libjpeg
#: decode into 32-bit component buffers): part of the memory a compressed frame is checked against.
_DECODER_BYTES = 4
#: how to get pixel data that no installed decoder reads.
_DECODER_HINT = (
    "Decompress the file first (dcmtk `dcmdjpeg`/`dcmdjpls`/`dcmdjp2k`, gdcm `gdcmconv --raw`), or install a "
    "decoder plugin for pydicom (pylibjpeg with pylibjpeg-libjpeg/-openjpeg, or python-gdcm)."
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


def _read_dataset(src: Source, *, header_only: bool = False) -> Any:
    """The pydicom dataset of ``src`` (all of it, or up to the pixel data), every parse failure a :class:`DataError`."""
    import pydicom
    from pydicom.errors import BytesLengthException, InvalidDicomError

    try:
        with src.open() as f:
            ds = pydicom.dcmread(f, stop_before_pixels=header_only)
            if not header_only:
                ds.get("PixelData")  # deferred elements are read now, inside the error handling
    except InvalidDicomError as exc:
        raise DataError(src.name, f"not a readable DICOM file ({error_text(exc)})", ACCEPTED) from None
    except (*DECODE_ERRORS, BytesLengthException) as exc:
        raise DataError(
            src.name, f"cannot parse this DICOM file ({error_text(exc)})", "The file is corrupt or truncated."
        ) from None
    return ds


def _sop_class(ds: Any) -> tuple[str, str]:
    """(UID, name) of the object's SOP class (the data set's, else the file meta's); ("", "") if neither says."""
    meta = getattr(ds, "file_meta", None)
    uid = ds.get("SOPClassUID") or (meta.get("MediaStorageSOPClassUID") if meta is not None else None)
    if not uid:
        return "", ""
    return str(uid), str(getattr(uid, "name", uid))


def _meta_truncated(src: Source, ds: Any) -> bool:
    """Whether the file ends before the end of its file meta information (group 0002 length, PS3.10 7.1)."""
    meta = getattr(ds, "file_meta", None)
    length = meta.get("FileMetaInformationGroupLength") if meta is not None else None
    try:
        return length is not None and src.size < 128 + 4 + 12 + int(length)
    except (TypeError, ValueError):
        return False


def _refuse_without_pixels(src: Source, ds: Any) -> None:
    """Raise the :class:`DataError` that says why a file without pixel data has none."""
    uid, sop = _sop_class(ds)
    if _meta_truncated(src, ds):
        raise DataError(
            src.name,
            "the file ends inside its DICOM file meta information (truncated)",
            "Copy or export the complete file again.",
        )
    if uid == "1.2.840.10008.1.3.10":  # Media Storage Directory Storage (PS3.10 section 8)
        raise DataError(
            src.name,
            "this is a DICOMDIR, the index of a DICOM medium: it lists image files but holds no image",
            "Upload one of the image files it lists (in the folders next to it).",
        )
    if sop and ("Image" in sop or sop in _PIXEL_SOP_NAMES):
        raise DataError(
            src.name,
            f"this {sop} file has no pixel data (7FE0,0010): it was cut short or its pixels were removed",
            "Export or copy the complete image file again.",
        )
    if sop:
        raise DataError(
            src.name,
            f"this DICOM file is a {sop} object, which carries no image (no pixel data)",
            "Use an image object (CT, MR, CR, DX, US, secondary capture, ...); structured reports, RT plans and "
            "structures, waveforms and presentation states carry no image.",
        )
    raise DataError(
        src.name,
        "this DICOM file has no pixel data and names no SOP class: it is cut short, or not an image object",
        "Export or copy the complete image file again; structured reports and other non-image objects carry no image.",
    )


def _transfer_syntax(src: Source, ds: Any) -> Any:
    """The transfer syntax UID (``None`` if the file meta lacks it); refuses private and undecodable ones."""
    from pydicom.pixels import get_decoder

    ts = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
    if ts is None:
        return None
    if not ts.is_transfer_syntax:
        raise DataError(
            src.name,
            f"the pixel data is encoded with the transfer syntax {ts}, which is private or unknown (not in DICOM "
            "PS3.6), so no installed decoder reads it",
            "Convert the file to a standard transfer syntax (e.g. Explicit VR Little Endian: dcmtk `dcmconv +te`, "
            "gdcm `gdcmconv --raw`) with the software that wrote it.",
        )
    if ts.is_compressed:
        decoder = get_decoder(ts)
        if decoder is None or not decoder.is_available:
            raise DataError(
                src.name,
                f"the pixel data is compressed as {ts.name} ({ts}) and no installed decoder handles it",
                _DECODER_HINT,
            )
    return ts


def _image_size(src: Source, ds: Any) -> tuple[int, int, int, int, int]:
    """(rows, columns, samples per pixel, bits allocated, frames) from the Image Pixel module (PS3.3 C.7.6.3)."""
    try:
        rows, cols = int(ds.Rows), int(ds.Columns)
        samples = int(ds.get("SamplesPerPixel", 1) or 1)
        bits = int(ds.get("BitsAllocated", 16) or 16)
        n_frames = int(ds.get("NumberOfFrames", 1) or 1)
    except (AttributeError, TypeError, ValueError) as exc:
        raise DataError(
            src.name,
            f"the DICOM header lacks a valid image size ({error_text(exc)})",
            "Rows, Columns, Samples per Pixel or Number of Frames (group 0028) is missing or invalid: the file is "
            "corrupt, or not an image object.",
        ) from None
    if n_frames < 1:
        raise DataError(src.name, f"the header declares {n_frames} frames", "The file is corrupt.")
    return rows, cols, samples, bits, n_frames


def _check_native_length(src: Source, ds: Any, size: tuple[int, int, int, int, int]) -> None:
    """Uncompressed Pixel Data must hold what the header declares (PS3.5 8.1.1; odd lengths padded by one byte)."""
    rows, cols, samples, bits, n_frames = size
    element = ds.get("PixelData")
    if element is None or not isinstance(element, (bytes, bytearray)):
        return
    per_pixel = samples
    if str(ds.get("PhotometricInterpretation", "")).upper() == "YBR_FULL_422":
        per_pixel = 2  # two samples a pixel on average (PS3.3 C.7.6.3.1.2)
    frame_bytes = math.ceil(rows * cols * per_pixel * bits / 8)
    actual = len(element)
    expected = frame_bytes * n_frames
    if actual < expected:
        raise DataError(
            src.name,
            f"the pixel data holds {actual} bytes, but {n_frames} frame(s) of {rows}x{cols} x {samples} sample(s) "
            f"x {bits} bits need {expected} bytes: the file is corrupt or truncated",
            "Copy or export the complete file again (or correct Rows, Columns and Bits Allocated if they are wrong).",
        )
    if frame_bytes and actual >= expected + frame_bytes:
        extra = actual // frame_bytes
        raise DataError(
            src.name,
            f"the pixel data holds {actual} bytes, {extra} frames' worth, but the header declares "
            f"{n_frames} frame(s) of {rows}x{cols} x {samples} sample(s) x {bits} bits ({expected} bytes)",
            f"If the file holds {extra} frames, set Number of Frames (0028,0008) to {extra}; otherwise the header "
            "(Rows, Columns, Bits Allocated) is wrong: export the image again.",
        )


def _decode_error(src: Source, ts: Any, bits: int, exc: BaseException) -> DataError:
    """A failed decode, as a missing-decoder message (valid file) or a corrupt-file message."""
    reason = error_text(exc)
    if ts is None or not ts.is_compressed:
        return DataError(src.name, f"cannot decode the pixel data ({reason})", "The file is corrupt or truncated.")
    if any(k in reason for k in ("does not support", "precision", "not supported", "no plugins", "unavailable")):
        return DataError(
            src.name,
            f"the pixel data is compressed as {ts.name} ({bits}-bit) and the installed decoders cannot decode this "
            f"variant ({reason})",
            _DECODER_HINT,
        )
    return DataError(
        src.name,
        f"cannot decode the pixel data, compressed as {ts.name} ({reason})",
        "The file is corrupt or truncated, or uses a variant the installed decoder (Pillow) does not handle; if "
        "another viewer shows it: " + _DECODER_HINT,
    )


def dicom_choices(src: Source) -> PlaneChoices:
    """The frames of a DICOM file, from its header (the pixel data is not read)."""
    ds = _read_dataset(src, header_only=True)
    rows, cols, _, _, n_frames = _image_size(src, ds)
    return PlaneChoices(
        format="DICOM",
        shape=(n_frames, rows, cols) if n_frames > 1 else (rows, cols),
        frames=n_frames,
        default={"frame": n_frames // 2} if n_frames > 1 else {},
    )


def read_dicom(src: Source, frame: int | None, max_pixels: int, reduce_to: int | None = None) -> RawImage:
    """One frame of a DICOM Part-10 file (pydicom) through its Modality LUT (HU for CT), with its VOI window.

    Args:
        src: the file.
        frame: which frame of a multi-frame file (default the middle one).
        max_pixels: largest accepted plane.
        reduce_to: box-average a large frame by the largest integer factor that keeps both sides
            >= this, before the rescale (``None``: full resolution).
    """
    from pydicom.errors import BytesLengthException
    from pydicom.pixels import apply_modality_lut, pixel_array

    ds = _read_dataset(src)
    if not any(k in ds for k in _PIXEL_KEYWORDS):
        _refuse_without_pixels(src, ds)
    ts = _transfer_syntax(src, ds)
    size = _image_size(src, ds)
    rows, cols, samples, bits_allocated, n_frames = size
    itemsize = max(1, bits_allocated // 8)
    if ts is not None and ts.is_compressed:
        itemsize += _DECODER_BYTES  # the decoder's working copy, besides the decoded frame
    check_plane(src.name, rows, cols, channels=samples, itemsize=itemsize, max_pixels=max_pixels)
    if ts is not None and not ts.is_compressed:
        _check_native_length(src, ds, size)
    index = n_frames // 2 if frame is None else int(frame)
    if not 0 <= index < n_frames:
        raise DataError(
            src.name, f"frame {frame} does not exist", f"This file has {n_frames} frame(s): choose 0..{n_frames - 1}."
        )
    try:
        arr = pixel_array(ds, index=index if n_frames > 1 else None)
    except (*DECODE_ERRORS, BytesLengthException) as exc:
        raise _decode_error(src, ts, int(ds.get("BitsStored", bits_allocated) or bits_allocated), exc) from None
    if n_frames > 1 and arr.ndim >= 3 and arr.shape[0] == n_frames and arr.shape[1:3] == (rows, cols):
        arr = arr[index]
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    modality = str(ds.get("Modality", "") or "")
    meta: dict[str, Any] = {
        "frames": n_frames,
        "frame": index,
        "photometric": photometric,
        "transfer_syntax": getattr(ts, "name", str(ts)) if ts is not None else "",
    }
    notes = []
    if n_frames > 1:
        notes.append(f"This DICOM file has {n_frames} frames (0-{n_frames - 1}); frame {index} is shown.")
    factor = reduction_factor(rows, cols, reduce_to)
    units, window, bits = "", None, bits_allocated
    if samples == 1 and arr.ndim == 2:
        if photometric == "PALETTE COLOR":
            from pydicom.pixels import apply_color_lut

            arr = box_reduce(apply_color_lut(arr, ds), factor)  # colours are averaged, never palette indices
            bits = 16 if arr.dtype.itemsize == 2 else 8
        else:
            slope = ds.get("RescaleSlope", _functional(ds, index, "PixelValueTransformationSequence", "RescaleSlope"))
            intercept = ds.get(
                "RescaleIntercept", _functional(ds, index, "PixelValueTransformationSequence", "RescaleIntercept")
            )
            if ds.get("ModalityLUTSequence"):
                arr = box_reduce(apply_modality_lut(arr, ds).astype(np.float32), factor)
                bits = None
                slope = intercept = None
            else:
                arr = box_reduce(arr, factor)  # before the rescale: a linear map commutes with the box mean
            if slope is not None or intercept is not None:
                s = _first(slope) if slope is not None else 1.0
                b = _first(intercept) if intercept is not None else 0.0
                arr = arr.astype(np.float32)
                arr *= np.float32(s)
                arr += np.float32(b)
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
    elif arr.ndim == 3 and arr.shape[-1] == 3:
        arr = box_reduce(arr, factor)
    else:
        raise DataError(
            src.name,
            f"unsupported DICOM pixel layout {arr.shape} ({photometric}, {samples} samples per pixel)",
            "Only grey-scale (1 sample) and colour (3 samples) images are read; export the image as grey or RGB.",
        )
    arr = as_float32(src.name, arr)
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
        notes=notes,
        reduction=factor,
        file_shape=(rows, cols) if factor > 1 else None,
    )
