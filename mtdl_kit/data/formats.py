"""Read the user's own image files — PNG/JPEG/TIFF/BMP, DICOM, NIfTI — into :class:`Sample` objects.

Three steps, each a function, so notebooks can show them one at a time:

1. :func:`read_raw` sniffs the format from the file's *content* (magic bytes), refuses what it
   cannot read safely (empty, truncated, oversized, decompression bombs, unsupported codecs) and
   returns a :class:`RawImage`: one 2-D plane in the file's own units (HU for CT) with what the
   header says about it (VOI window, MONOCHROME1, pixel spacing, ...).
2. :func:`prepare_image` turns the plane into the model input: intensities to [0, 1] (CT window
   presets, the file's VOI window, 8-bit scaling or 1st-99th percentile normalisation), the
   region's channel count (grey <-> RGB), and the region's square size (aspect ratio kept by
   padding, or stretched), returning the :class:`Geometry` that maps pixel coordinates across.
3. :func:`read_sample` and :func:`read_upload` put an image (and optionally its mask and labels)
   into the same :class:`~mtdl_kit.regions.base.Sample` the phantoms produce.

Every problem raises :class:`DataError` (a ``ValueError``) whose message names the file, the
problem, and what is accepted. Nothing here downloads anything.

Conventions, with their sources:

- DICOM: grey levels go through the Modality LUT (``RescaleSlope``/``RescaleIntercept`` -> HU for
  CT), then a linear VOI window, then MONOCHROME1 is inverted (DICOM PS3.3 C.11.1, C.11.2,
  C.7.6.3.1.2; pydicom, Mason et al., SoftwareX 2020). Multi-valued window centre/width: the first
  value is used. Non-linear VOI LUT sequences are ignored.
- CT windows (level/width, HU): soft tissue 40/400, lung -600/1500, bone 400/1800, brain 40/80
  (common radiology presets, e.g. Hounsfield-unit windowing as in the LiTS and RSNA challenges).
  The window maps ``[L - W/2, L + W/2]`` linearly to [0, 1] and clips.
- NIfTI: voxel axes are reoriented to the closest RAS+ orientation exactly as
  ``nibabel.as_closest_canonical`` does (Brett et al., nibabel), but only the requested slice is
  read. A 2-D slice is shown in the radiological convention: for axial slices anterior up and the
  patient's right on the image's left; coronal: superior up, right on the left; sagittal:
  superior up, anterior on the left.
- PNG/JPEG: RGBA is alpha-composited on black by default (``rgba="composite"``) or the alpha is
  dropped (``rgba="drop"``); EXIF orientation is applied. Pillow reads 16-bit RGB PNGs as 8-bit.
- Grey from RGB uses the ITU-R BT.601 luminance weights (0.299, 0.587, 0.114), as Pillow does.

MONAI's ``LoadImage`` is not used for reading: it hides exactly the choices (rescale, VOI,
MONOCHROME1, orientation, frame selection) this module makes explicit and tests.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import struct
import unicodedata
import warnings
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from mtdl_kit.regions.base import Region, Sample, TaskSpec, get_region

#: refuse images with more pixels than this (decompression bombs); checked from the header.
MAX_PIXELS = 64_000_000
#: refuse PNG/JPEG/TIFF/BMP files larger than this, and every upload.
MAX_FILE_BYTES = 20 * 1024 * 1024
#: refuse DICOM/NIfTI files in a dataset folder larger than this (CT volumes are big).
MAX_VOLUME_FILE_BYTES = 1024 * 1024 * 1024
#: refuse volumes whose decoded voxels would need more memory than this.
MAX_DECODED_BYTES = 1024 * 1024 * 1024
#: smallest accepted image side in pixels.
MIN_SIDE = 16

#: CT window presets: name -> (level, width) in HU.
WINDOW_PRESETS: dict[str, tuple[float, float]] = {
    "soft_tissue": (40.0, 400.0),
    "lung": (-600.0, 1500.0),
    "bone": (400.0, 1800.0),
    "brain": (40.0, 80.0),
}
#: intensity normalisation modes accepted besides a preset name or a (level, width) pair.
INTENSITY_MODES = ("auto", "percentile", "minmax", "dtype")
LUMINANCE = (0.299, 0.587, 0.114)
#: task kinds whose targets are label values (CSV columns / JSON keys) rather than images.
LABEL_KINDS = ("classification", "regression", "landmarks")

RASTER_FORMATS = ("PNG", "JPEG", "TIFF", "BMP")
FORMATS = (*RASTER_FORMATS, "DICOM", "NIfTI")
#: file-name endings of each supported format (content decides; these must not contradict it).
EXTENSIONS: dict[str, tuple[str, ...]] = {
    "PNG": (".png",),
    "JPEG": (".jpg", ".jpeg", ".jpe", ".jfif"),
    "TIFF": (".tif", ".tiff"),
    "BMP": (".bmp",),
    "DICOM": (".dcm", ".dicom", ".ima"),
    "NIfTI": (".nii", ".nii.gz"),
}
ACCEPTED = (
    "Accepted: PNG, JPEG, TIFF, BMP (8/16-bit grey, RGB, RGBA), DICOM Part-10 files (.dcm) "
    "and NIfTI-1/2 (.nii, .nii.gz)."
)
#: formats recognised by content but not read, with advice.
_UNSUPPORTED_MAGIC: tuple[tuple[int, bytes, str, str], ...] = (
    (0, b"GIF8", "GIF", "save it as PNG"),
    (0, b"\x00\x00\x00\x0cjP  ", "JPEG 2000 (.jp2)", "save it as PNG or TIFF"),
    (0, b"\xffO\xffQ", "JPEG 2000 codestream (.j2k)", "save it as PNG or TIFF"),
    (0, b"NRRD", "NRRD", "convert it to NIfTI, e.g. SimpleITK.WriteImage(SimpleITK.ReadImage(path), 'x.nii.gz')"),
    (0, b"ObjectType", "MetaImage (.mha/.mhd)", "convert it to NIfTI with SimpleITK"),
    (0, b"PK\x03\x04", "ZIP archive", "unpack it first"),
    (0, b"%PDF", "PDF document", "export the image as PNG"),
    (0, b"\x93NUMPY", "NumPy .npy array", "save it as PNG, or use a MedMNIST-style .npz dataset"),
    (0, b"\x89HDF\r\n\x1a\n", "HDF5", "export the images as PNG or NIfTI"),
    (0, b"8BPS", "Photoshop (.psd)", "export it as PNG"),
)
_UNSUPPORTED_EXT = {
    ".gif": "GIF",
    ".jp2": "JPEG 2000",
    ".j2k": "JPEG 2000",
    ".webp": "WebP",
    ".nrrd": "NRRD",
    ".mha": "MetaImage",
    ".mhd": "MetaImage",
    ".hdr": "Analyze/NIfTI pair header",
    ".img": "raw or Analyze image",
    ".npy": "NumPy array",
    ".zip": "ZIP archive",
    ".svs": "whole-slide image",
}


class DataError(ValueError):
    """A file or dataset the toolkit cannot use, with a message for the person who supplied it.

    The message has the form ``"<file>: <problem>. <what is accepted or how to fix it>"``.

    Attributes:
        file: the file (or dataset) concerned, as displayed.
        problem: what is wrong.
        hint: what is accepted or how to fix it (may be empty).
    """

    def __init__(self, file: str | os.PathLike[str], problem: str, hint: str = "") -> None:
        self.file = display_name(file)
        self.problem = problem.rstrip(".")
        self.hint = hint
        super().__init__(f"{self.file}: {self.problem}." + (f" {hint}" if hint else ""))


def _bytes(n: int) -> str:
    """A byte count for people (``"20 MB"``, ``"3.5 kB"``, ``"10 bytes"``)."""
    if n >= 2**20:
        return f"{n / 2**20:.1f} MB".replace(".0 MB", " MB")
    return f"{n / 1024:.1f} kB" if n >= 1024 else f"{n} bytes"


def _why(exc: BaseException) -> str:
    """A decoder's exception as one short line for a message."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 240 else text[:237] + "..."


def display_name(name: str | os.PathLike[str] | bytes) -> str:
    """A printable form of a file name, even one that is not valid UTF-8 (undecodable bytes as ``\\xNN``)."""
    raw = name if isinstance(name, bytes) else os.fsencode(name)
    text = raw.decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() or c == " " else ascii(c)[1:-1] for c in text)


def check_file_name(name: str | os.PathLike[str] | bytes) -> None:
    """Raise :class:`DataError` for a file name that is not valid UTF-8 or contains control characters."""
    raw = name if isinstance(name, bytes) else os.fsencode(name)
    base = raw.replace(b"\\", b"/").rsplit(b"/", 1)[-1]
    try:
        text = base.decode("utf-8")
    except UnicodeDecodeError:
        raise DataError(
            name, "the file name is not valid UTF-8", "Rename the file using UTF-8 characters (letters, digits, '_-.')."
        ) from None
    if any(unicodedata.category(c) == "Cc" for c in text):
        raise DataError(name, "the file name contains control characters", "Rename the file.")


# --------------------------------------------------------------------------------------------------
# Sources and format sniffing
# --------------------------------------------------------------------------------------------------


@dataclass
class _Source:
    """A file on disk or bytes in memory, with the first bytes for sniffing."""

    name: str
    path: Path | None
    data: bytes | None
    size: int

    @classmethod
    def of(cls, source: str | os.PathLike[str] | bytes, name: str | None) -> _Source:
        if isinstance(source, (bytes, bytearray, memoryview)):
            data = bytes(source)
            return cls(name or "<bytes>", None, data, len(data))
        path = Path(source)
        shown = name or str(path)
        check_file_name(path.name)
        if not path.exists():
            raise DataError(shown, "file not found")
        if path.is_dir():
            raise DataError(shown, "is a folder, not an image file")
        return cls(shown, path, None, path.stat().st_size)

    def open(self) -> BinaryIO:
        return io.BytesIO(self.data) if self.data is not None else open(self.path, "rb")

    def head(self, n: int = 4096) -> bytes:
        if self.data is not None:
            return self.data[:n]
        with open(self.path, "rb") as f:
            return f.read(n)

    def read(self) -> bytes:
        return self.data if self.data is not None else self.path.read_bytes()


def _suffix(name: str) -> str:
    low = name.lower()
    if low.endswith(".nii.gz"):
        return ".nii.gz"
    return os.path.splitext(low)[1]


def strip_extension(name: str) -> str:
    """File name without a known image extension (``case.nii.gz`` -> ``case``; ``1.2.840.5`` unchanged)."""
    suffix = _suffix(name)
    known = {e for exts in EXTENSIONS.values() for e in exts} | set(_UNSUPPORTED_EXT)
    return name[: -len(suffix)] if suffix in known else name


def _gunzip_head(head: bytes, n: int = 1024) -> bytes:
    try:
        return zlib.decompressobj(wbits=31).decompress(head, n)
    except zlib.error:
        return b""


def _nifti_kind(head: bytes) -> str | None:
    """``"NIfTI"``, ``"pair"`` (header of a .hdr/.img pair or Analyze) or ``None`` from the first 544 bytes."""
    if len(head) < 348:
        return None
    for endian in "<>":
        size = struct.unpack(endian + "i", head[:4])[0]
        if size == 348:
            return "NIfTI" if head[344:348] == b"n+1\x00" else "pair"
        if size == 540 and head[4:8] == b"n+2\x00":
            return "NIfTI"
        if size == 540:
            return "pair"
    return None


def sniff_format(head: bytes, name: str = "<bytes>") -> str:
    """The format of a file from its first bytes (magic numbers), checked against its extension.

    Args:
        head: the first bytes of the file (at least 544 for NIfTI; 4096 is plenty).
        name: file name, used for the extension check and messages.

    Returns:
        One of :data:`FORMATS`.

    Raises:
        DataError: empty content, an unsupported or unknown format, or an extension that names a
            different format than the content (e.g. a JPEG saved as ``.png``).
    """
    if not head:
        raise DataError(name, "the file is empty (0 bytes)", ACCEPTED)
    fmt: str | None = None
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        fmt = "PNG"
    elif head.startswith(b"\xff\xd8\xff"):
        fmt = "JPEG"
    elif head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        fmt = "TIFF"
    elif head.startswith(b"BM") and len(head) >= 26:
        fmt = "BMP"
    elif head[128:132] == b"DICM":
        fmt = "DICOM"
    elif head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        raise DataError(name, "WebP images are not supported", "Save it as PNG. " + ACCEPTED)
    else:
        inner = _gunzip_head(head) if head.startswith(b"\x1f\x8b") else head
        kind = _nifti_kind(inner)
        if kind == "NIfTI":
            fmt = "NIfTI"
        elif kind == "pair":
            raise DataError(
                name,
                "this is an Analyze or NIfTI .hdr/.img pair header",
                "Convert the pair to a single .nii or .nii.gz file, e.g. nibabel.save(nibabel.load(hdr), 'x.nii.gz').",
            )
        elif head.startswith(b"\x1f\x8b") and len(inner) < 348:
            raise DataError(name, "a truncated or corrupt gzip file (no NIfTI header could be decompressed)")
        elif head.startswith(b"\x1f\x8b"):
            raise DataError(name, "a gzip file that does not contain a NIfTI image", ACCEPTED)
    if fmt is None:
        for offset, magic, what, advice in _UNSUPPORTED_MAGIC:
            if head[offset : offset + len(magic)] == magic:
                raise DataError(name, f"{what} files are not supported", f"{advice[0].upper()}{advice[1:]}. {ACCEPTED}")
        if len(head) >= 132 and head[:128].strip(b"\x00") == b"" and head[128:132] != b"DICM":
            raise DataError(name, "looks like a DICOM file without the 'DICM' marker", "Re-save it as DICOM Part 10.")
        suffix = _suffix(name)
        if suffix in EXTENSIONS["DICOM"]:
            raise DataError(
                name,
                "no 'DICM' marker at byte 128: not a DICOM Part-10 file (or a truncated one)",
                "Re-save it as DICOM Part 10 (with preamble), e.g. ds.save_as(path, enforce_file_format=True).",
            )
        what = _UNSUPPORTED_EXT.get(suffix)
        problem = f"{what} files are not supported" if what else "unknown or corrupt file format (no known magic bytes)"
        raise DataError(name, problem, ACCEPTED)
    suffix = _suffix(name)
    owner = next((f for f, exts in EXTENSIONS.items() if suffix in exts), None)
    if owner is not None and owner != fmt:
        raise DataError(
            name,
            f"the content is {fmt} but the extension {suffix!r} says {owner}",
            f"Rename the file to {EXTENSIONS[fmt][0]} (or re-save it in the format its name says).",
        )
    if suffix in _UNSUPPORTED_EXT and owner is None:
        raise DataError(
            name, f"the content is {fmt} but the extension is {suffix!r}", f"Rename it to {EXTENSIONS[fmt][0]}."
        )
    return fmt


# --------------------------------------------------------------------------------------------------
# Raw planes
# --------------------------------------------------------------------------------------------------


@dataclass
class RawImage:
    """One 2-D plane of an image file in the file's own units, with what its header says.

    Attributes:
        array: (H, W) or (H, W, C) numeric array, C in {2 (grey+alpha), 3 (RGB), 4 (RGBA)}.
        format: one of :data:`FORMATS`.
        name: the file name (for messages).
        bits: bits per sample of integer data (8, 16, 32), ``None`` for floats or rescaled data.
        units: ``"HU"`` for CT data after the DICOM rescale, else ``""``.
        window: the file's VOI window (level, width), if any.
        invert: True for DICOM MONOCHROME1 (high values are dark).
        modality: DICOM ``Modality`` (``"CT"``, ``"MR"``, ...) or ``""``.
        spacing_mm: (row, column) pixel spacing in mm, if the header says.
        meta: more header facts (frames, slice, transfer syntax, volume shape, ...).
    """

    array: np.ndarray
    format: str
    name: str
    bits: int | None = None
    units: str = ""
    window: tuple[float, float] | None = None
    invert: bool = False
    modality: str = ""
    spacing_mm: tuple[float, float] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def shape2d(self) -> tuple[int, int]:
        """(H, W) of the plane."""
        return int(self.array.shape[0]), int(self.array.shape[1])


# decoders raise many unrelated exception types on corrupt input; these are the ones we translate.
_DECODE_ERRORS = (
    OSError,
    ValueError,
    EOFError,
    SyntaxError,
    struct.error,
    zlib.error,
    RuntimeError,
    IndexError,
    KeyError,
    TypeError,
    AttributeError,
    NotImplementedError,
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
    src = _Source.of(source, name)
    if src.size == 0:
        raise DataError(src.name, "the file is empty (0 bytes)", ACCEPTED)
    hard_cap = max_bytes if max_bytes is not None else max(MAX_FILE_BYTES, MAX_VOLUME_FILE_BYTES)
    if src.size > hard_cap:
        raise DataError(src.name, f"the file is {_bytes(src.size)}, above the limit of {_bytes(hard_cap)}")
    fmt = sniff_format(src.head(), src.name)
    cap = max_bytes if max_bytes is not None else (MAX_FILE_BYTES if fmt in RASTER_FORMATS else MAX_VOLUME_FILE_BYTES)
    if src.size > cap:
        raise DataError(
            src.name,
            f"the file is {_bytes(src.size)}, above the limit of {_bytes(cap)} for {fmt} files",
            "Downscale or crop it first.",
        )
    try:
        if fmt in RASTER_FORMATS:
            raw = _read_pillow(src, fmt, frame, max_pixels)
        elif fmt == "DICOM":
            raw = _read_dicom(src, frame, max_pixels)
        else:
            raw = _read_nifti(src, slice_index, axis, volume, max_pixels)
    except DataError:
        raise
    except _DECODE_ERRORS as exc:  # corrupt headers surface anywhere in the decoders
        raise DataError(
            src.name, f"cannot read this {fmt} file ({_why(exc)})", "The file is corrupt or truncated."
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


def _check_pixels(name: str, h: int, w: int, max_pixels: int, what: str = "image") -> None:
    if h * w > max_pixels:
        raise DataError(
            name,
            f"the {what} is {h}x{w} = {h * w / 1e6:.1f} megapixels, above the {max_pixels / 1e6:.0f}-megapixel limit",
            "Downscale or tile it first (this limit also guards against decompression bombs).",
        )


def _read_pillow(src: _Source, fmt: str, frame: int | None, max_pixels: int) -> RawImage:
    from PIL import Image, ImageOps

    try:
        with warnings.catch_warnings():  # the size is checked below, with our own (lower) limit
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(src.read()), formats=[fmt])
    except Image.DecompressionBombError as exc:
        raise DataError(src.name, f"refused as a possible decompression bomb ({_why(exc)})") from None
    except _DECODE_ERRORS as exc:
        raise DataError(
            src.name, f"cannot read this {fmt} file ({_why(exc)})", "The file is corrupt or truncated."
        ) from None
    with im:
        w, h = im.size
        _check_pixels(src.name, h, w, max_pixels)
        n_frames = int(getattr(im, "n_frames", 1))
        meta: dict[str, Any] = {"mode": im.mode, "frames": n_frames}
        if n_frames > 1 or frame not in (None, 0):
            index = n_frames // 2 if frame is None else frame
            if not 0 <= index < n_frames:
                raise DataError(src.name, f"frame {frame} does not exist", f"Choose a frame in 0..{n_frames - 1}.")
            im.seek(index)
            meta["frame"] = index
        try:
            im.load()
            im = ImageOps.exif_transpose(im)
        except Image.DecompressionBombError as exc:
            raise DataError(src.name, f"refused as a possible decompression bomb ({_why(exc)})") from None
        except _DECODE_ERRORS as exc:
            raise DataError(
                src.name, f"cannot decode this {fmt} file ({_why(exc)})", "The file is corrupt or truncated."
            ) from None
        mode = im.mode
        if mode == "1":
            im = im.convert("L")
        elif mode in ("P", "PA"):
            meta["palette_indices"] = np.asarray(im.convert("P") if mode == "PA" else im).copy()
            im = im.convert("RGBA" if ("transparency" in im.info or mode == "PA") else "RGB")
        elif mode in ("CMYK", "YCbCr", "LAB", "HSV", "RGBX", "RGBa", "La"):
            im = im.convert("RGBA" if mode in ("RGBa",) else ("LA" if mode == "La" else "RGB"))
        array = np.asarray(im)
        array = np.array(array, dtype=array.dtype.newbyteorder("=") if array.dtype.itemsize > 1 else array.dtype)
    bits = {1: 8, 2: 16, 4: 32}.get(array.dtype.itemsize) if array.dtype.kind in "ui" else None
    return RawImage(array=array, format=fmt, name=src.name, bits=bits, meta=meta)


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


def _read_dicom(src: _Source, frame: int | None, max_pixels: int) -> RawImage:
    import pydicom
    from pydicom.errors import BytesLengthException, InvalidDicomError
    from pydicom.pixels import apply_modality_lut, get_decoder, pixel_array

    try:
        with src.open() as f:
            ds = pydicom.dcmread(f)
            ds.get("PixelData")  # deferred elements are read now, inside the error handling
    except InvalidDicomError as exc:
        raise DataError(src.name, f"not a readable DICOM file ({_why(exc)})", ACCEPTED) from None
    except (*_DECODE_ERRORS, BytesLengthException) as exc:
        raise DataError(
            src.name, f"cannot parse this DICOM file ({_why(exc)})", "The file is corrupt or truncated."
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
        raise DataError(src.name, f"the DICOM header lacks a valid image size ({_why(exc)})") from None
    _check_pixels(src.name, rows, cols, max_pixels)
    index = n_frames // 2 if frame is None else int(frame)
    if not 0 <= index < n_frames:
        raise DataError(
            src.name, f"frame {frame} does not exist", f"This file has {n_frames} frame(s): choose 0..{n_frames - 1}."
        )
    try:
        arr = pixel_array(ds, index=index if n_frames > 1 else None)
    except (*_DECODE_ERRORS, BytesLengthException) as exc:
        raise DataError(
            src.name, f"cannot decode the pixel data ({_why(exc)})", "The file is corrupt or truncated."
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


AXES = {"sagittal": 0, "coronal": 1, "axial": 2}


def _axis_number(axis: str | int, name: str) -> int:
    if isinstance(axis, str) and axis in AXES:
        return AXES[axis]
    if isinstance(axis, int) and not isinstance(axis, bool) and axis in (0, 1, 2):
        return axis
    raise DataError(name, f"unknown slicing axis {axis!r}", f"Choose one of {tuple(AXES)} or 0, 1, 2.")


def _read_nifti(
    src: _Source, slice_index: int | None, axis: str | int, volume: int | None, max_pixels: int
) -> RawImage:
    with contextlib.ExitStack() as stack:
        fileobj = stack.enter_context(src.open())
        gz = fileobj.read(2) == b"\x1f\x8b"
        fileobj.seek(0)
        stream: BinaryIO = stack.enter_context(gzip.GzipFile(fileobj=fileobj, mode="rb")) if gz else fileobj
        return _read_nifti_stream(src, stream, slice_index, axis, volume, max_pixels)


def _read_nifti_stream(
    src: _Source, stream: BinaryIO, slice_index: int | None, axis: str | int, volume: int | None, max_pixels: int
) -> RawImage:
    import nibabel as nib
    from nibabel.filebasedimages import ImageFileError
    from nibabel.fileholders import FileHolder
    from nibabel.orientations import apply_orientation, io_orientation
    from nibabel.spatialimages import HeaderDataError, ImageDataError
    from nibabel.wrapstruct import WrapStructError

    errors = (*_DECODE_ERRORS, ImageFileError, HeaderDataError, ImageDataError, WrapStructError)

    try:
        first = stream.read(4)
        stream.seek(0)
        is2 = 540 in (struct.unpack("<i", first)[0], struct.unpack(">i", first)[0])
        klass = nib.Nifti2Image if is2 else nib.Nifti1Image
        holder = FileHolder(fileobj=stream)
        img = klass.from_file_map({"header": holder, "image": holder})
        shape = tuple(int(d) for d in img.header.get_data_shape())
        dtype = img.header.get_data_dtype()
    except errors as exc:
        raise DataError(
            src.name, f"cannot read the NIfTI header ({_why(exc)})", "The file is corrupt or truncated."
        ) from None
    while len(shape) > 3 and shape[-1] == 1:
        shape = shape[:-1]
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if nbytes > MAX_DECODED_BYTES:
        raise DataError(
            src.name,
            f"the volume {shape} ({dtype}) would need {nbytes / 2**30:.1f} GiB, above the "
            f"{MAX_DECODED_BYTES / 2**30:.0f} GiB limit",
            "Crop or downsample it first.",
        )
    if len(shape) > 4:
        raise DataError(
            src.name, f"the image has {len(shape)} dimensions {shape}", "Only 2-D, 3-D and 4-D NIfTI are read."
        )
    if len(shape) == 4:
        if volume is None:
            raise DataError(
                src.name,
                f"the image is 4-D with shape {shape} ({shape[3]} volumes, e.g. modalities or time points)",
                f"Choose one with volume=<0..{shape[3] - 1}> (a 'volume' key in dataset.json), or split it with "
                "nibabel.four_to_three.",
            )
        if not 0 <= volume < shape[3]:
            raise DataError(src.name, f"volume {volume} does not exist", f"Choose volume in 0..{shape[3] - 1}.")
    else:
        volume = None  # 2-D/3-D: nothing to choose (a 3-D label of a 4-D multi-modal image gets its volume too)
    spatial = shape[:3] + (1,) * (3 - len(shape[:3]))
    ornt = _orientation(io_orientation(img.affine))
    # canonical axis -> (input axis, flipped)
    to_input = {int(out): (i, ornt[i, 1] < 0) for i, (out, _) in enumerate(ornt)}
    singleton = [a for a in range(3) if spatial[to_input[a][0]] == 1]
    want = _axis_number(axis, src.name)
    canonical_axis = singleton[0] if singleton and spatial[to_input[want][0]] != 1 else want
    in_axis, flipped = to_input[canonical_axis]
    n = spatial[in_axis]
    k = n // 2 if slice_index is None or singleton else int(slice_index)
    if slice_index is not None and not singleton and not 0 <= k < n:
        raise DataError(
            src.name,
            f"slice {slice_index} does not exist along the {_axis_label(canonical_axis)} axis",
            f"This volume has {n} slices there: choose 0..{n - 1}.",
        )
    in_plane = [spatial[a] for a in range(3) if a != in_axis]
    _check_pixels(src.name, in_plane[0], in_plane[1], max_pixels, "slice")
    idx = n - 1 - k if flipped else k
    slicer: list[Any] = [slice(None)] * len(shape)
    if len(shape) >= 3:
        slicer[in_axis] = slice(idx, idx + 1)
    if len(shape) == 4:
        slicer[3] = volume
    try:
        block = np.asanyarray(img.dataobj[tuple(slicer)])
    except errors as exc:
        raise DataError(
            src.name, f"cannot read the voxel data ({_why(exc)})", "The file is corrupt or truncated."
        ) from None
    block = block.reshape((*spatial[:in_axis], 1, *spatial[in_axis + 1 :])) if block.ndim != 3 else block
    canonical = apply_orientation(block, ornt)
    plane = np.take(canonical, 0, axis=canonical_axis)
    plane = np.ascontiguousarray(np.flip(plane.T, (0, 1)))
    zooms = [float(z) for z in img.header.get_zooms()[:3]] + [1.0] * (3 - len(shape[:3]))
    canon_zooms = [zooms[to_input[a][0]] for a in range(3)]
    rest = [a for a in range(3) if a != canonical_axis]
    spacing = (canon_zooms[rest[1]], canon_zooms[rest[0]])
    bits = {1: 8, 2: 16, 4: 32}.get(plane.dtype.itemsize) if plane.dtype.kind in "ui" else None
    if plane.dtype.kind == "f":
        with np.errstate(over="ignore"):  # out-of-range values become inf, reported below
            plane = plane.astype(np.float32)
    return RawImage(
        array=plane,
        format="NIfTI",
        name=src.name,
        bits=bits,
        spacing_mm=spacing if all(s > 0 for s in spacing) else None,
        meta={
            "volume_shape": shape,
            "axis": _axis_label(canonical_axis),
            "slice": k,
            "volume": volume,
            "orientation": "".join(nib.aff2axcodes(img.affine)),
        },
    )


def _orientation(ornt: np.ndarray) -> np.ndarray:
    """nibabel orientation with undetermined axes (NaN rows, e.g. a zero column) kept in place."""
    if not np.isnan(ornt).any():
        return ornt
    out = ornt.copy()
    free = [a for a in range(3) if a not in set(ornt[~np.isnan(ornt[:, 0]), 0].astype(int).tolist())]
    for i in range(3):
        if np.isnan(out[i, 0]):
            out[i] = (free.pop(0), 1.0)
    return out


def _axis_label(axis: int) -> str:
    return {v: k for k, v in AXES.items()}[axis]


# --------------------------------------------------------------------------------------------------
# Intensities, channels, geometry
# --------------------------------------------------------------------------------------------------


def apply_window(values: np.ndarray, level: float, width: float) -> np.ndarray:
    """Linear window: ``[level - width/2, level + width/2]`` -> [0, 1], clipped (DICOM PS3.3 C.11.2.1.2)."""
    if not width > 0:
        raise ValueError(f"window width must be positive, got {width!r}.")
    low = level - width / 2.0
    return np.clip((values.astype(np.float32) - np.float32(low)) / np.float32(width), 0.0, 1.0)


def percentile_normalise(values: np.ndarray, low: float = 1.0, high: float = 99.0) -> np.ndarray:
    """Map the ``low``-th..``high``-th percentile of all values to [0, 1] and clip (min-max if flat)."""
    v = values.astype(np.float32)
    lo, hi = (float(x) for x in np.percentile(v, [low, high]))
    if hi <= lo:
        lo, hi = float(v.min()), float(v.max())
    if hi <= lo:
        return np.zeros_like(v)
    return np.clip((v - lo) / (hi - lo), 0.0, 1.0)


def default_window(region: Region | None) -> str | None:
    """The CT window preset a region's model expects (abdomen: soft tissue), or ``None``."""
    if region is not None and region.modality.upper().startswith("CT"):
        return "soft_tissue"
    return None


def resolve_intensity(
    raw: RawImage, intensity: str | tuple[float, float] = "auto", *, region_window: str | None = None
) -> str | tuple[float, float]:
    """The normalisation :func:`normalise_intensity` applies: a (level, width) window or a mode name.

    ``"auto"`` picks, in order: for HU data (DICOM CT) the region's preset (``region_window``), else
    the file's VOI window, else soft tissue; for other data with a VOI window (DICOM MR, CR, ...)
    that window; for NIfTI data that looks like HU (minimum below -200) in a CT region, the
    region's preset; for 8-bit data division by 255 (``"dtype"``); otherwise the 1st-99th
    percentile (16-bit PNGs often hold 10-12-bit data, so dividing by 65535 would give a black image).
    """
    if isinstance(intensity, str):
        if intensity in WINDOW_PRESETS:
            return WINDOW_PRESETS[intensity]
        if intensity not in INTENSITY_MODES:
            raise ValueError(
                f"Unknown intensity {intensity!r}; use one of {INTENSITY_MODES}, a CT preset {tuple(WINDOW_PRESETS)} "
                "or a (level, width) pair."
            )
        if intensity != "auto":
            return intensity
    else:
        try:
            level, width = (float(x) for x in intensity)
        except (TypeError, ValueError):
            raise ValueError(f"intensity window must be a (level, width) pair, got {intensity!r}.") from None
        if not width > 0:
            raise ValueError(f"window width must be positive, got {width!r}.")
        return (level, width)
    if raw.units == "HU":
        if region_window is not None:
            return WINDOW_PRESETS[region_window]
        return raw.window or WINDOW_PRESETS["soft_tissue"]
    if raw.window is not None:
        return raw.window
    if raw.format == "NIfTI" and region_window is not None and float(raw.array.min()) < -200:
        return WINDOW_PRESETS[region_window]
    if raw.bits == 8 and raw.array.dtype == np.uint8:
        return "dtype"
    return "percentile"


def normalise_intensity(
    raw: RawImage, intensity: str | tuple[float, float] = "auto", *, region_window: str | None = None
) -> np.ndarray:
    """Values of ``raw`` (alpha channel excluded) mapped to [0, 1], MONOCHROME1 inverted; float32 (H, W[, C])."""
    mode = resolve_intensity(raw, intensity, region_window=region_window)
    values = raw.array
    if values.ndim == 3 and values.shape[-1] in (2, 4):
        values = values[..., :-1]
    if isinstance(mode, tuple):
        out = apply_window(values, *mode)
    elif mode == "percentile":
        out = percentile_normalise(values)
    elif mode == "minmax":
        out = percentile_normalise(values, 0.0, 100.0)
    else:  # dtype
        if values.dtype.kind not in "ub":
            raise ValueError(f"{raw.name}: intensity='dtype' needs unsigned integer data, got {values.dtype}.")
        out = values.astype(np.float32) / float(np.iinfo(values.dtype).max if values.dtype.kind == "u" else 1)
    if raw.invert:
        out = 1.0 - out
    return out.astype(np.float32)


def to_channels(
    image: np.ndarray, channels: int, alpha: np.ndarray | None = None, rgba: str = "composite"
) -> np.ndarray:
    """(H, W) or (H, W, 3) in [0, 1] -> (channels, H, W): grey repeated to RGB, RGB to BT.601 luminance.

    ``alpha`` in [0, 1] (H, W) is composited on black (``rgba="composite"``) or ignored (``"drop"``).
    """
    if rgba not in ("composite", "drop"):
        raise ValueError(f"rgba must be 'composite' or 'drop', got {rgba!r}.")
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels!r}.")
    img = image[..., None] if image.ndim == 2 else image
    if alpha is not None and rgba == "composite":
        img = img * alpha[..., None]
    if img.shape[-1] == 3 and channels == 1:
        img = (img @ np.asarray(LUMINANCE, dtype=np.float32))[..., None]
    elif img.shape[-1] == 1 and channels == 3:
        img = np.repeat(img, 3, axis=-1)
    return np.ascontiguousarray(img.transpose(2, 0, 1), dtype=np.float32)


@dataclass(frozen=True)
class Geometry:
    """How an (H, W) plane was mapped to a (size, size) square: ``new = (old + offset + 0.5) * scale - 0.5``.

    Attributes:
        shape: (H, W) of the original plane.
        size: output side in pixels.
        offset: (rows, cols) of zero padding added before scaling (``fit="pad"``).
        scale: (row, col) scale factors.
        canvas: (H, W) after padding, before scaling.
    """

    shape: tuple[int, int]
    size: int
    offset: tuple[int, int]
    scale: tuple[float, float]
    canvas: tuple[int, int]

    @classmethod
    def fit(cls, shape: tuple[int, int], size: int, mode: str = "pad") -> Geometry:
        """Geometry for ``fit="pad"`` (keep the aspect ratio, pad the short side) or ``"stretch"``."""
        h, w = shape
        if mode == "pad":
            side = max(h, w)
            return cls((h, w), size, ((side - h) // 2, (side - w) // 2), (size / side, size / side), (side, side))
        if mode == "stretch":
            return cls((h, w), size, (0, 0), (size / h, size / w), (h, w))
        raise ValueError(f"fit must be 'pad' or 'stretch', got {mode!r}.")

    @property
    def identity(self) -> bool:
        """True when nothing changes (already square at the right size)."""
        return self.shape == (self.size, self.size)

    def points(self, rc: np.ndarray) -> np.ndarray:
        """Map (K, 2) (row, col) pixel coordinates of the original plane to the output."""
        rc = np.asarray(rc, dtype=np.float32)
        off, sc = np.asarray(self.offset, np.float32), np.asarray(self.scale, np.float32)
        return ((rc + off + 0.5) * sc - 0.5).astype(np.float32)

    def _pad(self, array: np.ndarray) -> np.ndarray:
        h, w = self.shape
        if self.canvas == self.shape:
            return array
        out = np.zeros((*array.shape[:-2], *self.canvas), dtype=array.dtype)
        out[..., self.offset[0] : self.offset[0] + h, self.offset[1] : self.offset[1] + w] = array
        return out

    def image(self, chw: np.ndarray) -> np.ndarray:
        """Resize a (C, H, W) float image (bilinear, anti-aliased when shrinking; ``skimage.transform.resize``)."""
        if self.identity:
            return chw.astype(np.float32)
        from skimage.transform import resize

        padded = self._pad(chw)
        shrink = padded.shape[-1] > self.size or padded.shape[-2] > self.size
        out = resize(
            padded,
            (chw.shape[0], self.size, self.size),
            order=1,
            anti_aliasing=shrink,
            preserve_range=True,
            mode="edge",
        )
        return np.clip(out, 0.0, 1.0).astype(np.float32)

    def mask(self, mask: np.ndarray) -> np.ndarray:
        """Resize an (H, W) class-index mask (nearest neighbour, no smoothing)."""
        if self.identity:
            return mask.astype(np.int64)
        from skimage.transform import resize

        out = resize(
            self._pad(mask), (self.size, self.size), order=0, anti_aliasing=False, preserve_range=True, mode="edge"
        )
        return np.rint(out).astype(np.int64)


def prepare_image(
    raw: RawImage,
    *,
    channels: int,
    size: int,
    intensity: str | tuple[float, float] = "auto",
    rgba: str = "composite",
    fit: str = "pad",
    region_window: str | None = None,
) -> tuple[np.ndarray, Geometry]:
    """A :class:`RawImage` as model input: float32 (channels, size, size) in [0, 1], and its :class:`Geometry`.

    Args:
        raw: the plane from :func:`read_raw`.
        channels: 1 (grey) or 3 (RGB), e.g. ``region.in_channels``.
        size: output side in pixels.
        intensity: ``"auto"``, ``"percentile"`` (1st-99th), ``"minmax"``, ``"dtype"`` (divide by the integer
            type's maximum), a CT preset of :data:`WINDOW_PRESETS` or a (level, width) pair in the
            file's units (see :func:`resolve_intensity`).
        rgba: ``"composite"`` (on black) or ``"drop"`` for images with an alpha channel.
        fit: ``"pad"`` (keep the aspect ratio, pad with black) or ``"stretch"``.
        region_window: CT preset used by ``"auto"`` for HU data (:func:`default_window`).
    """
    values = normalise_intensity(raw, intensity, region_window=region_window)
    alpha = None
    if raw.array.ndim == 3 and raw.array.shape[-1] in (2, 4):
        a = raw.array[..., -1].astype(np.float32)
        alpha = a / float(np.iinfo(raw.array.dtype).max) if raw.array.dtype.kind in "ui" else np.clip(a, 0.0, 1.0)
    chw = to_channels(values, channels, alpha, rgba)
    geometry = Geometry.fit(raw.shape2d, size, fit)
    return geometry.image(chw), geometry


# --------------------------------------------------------------------------------------------------
# Masks
# --------------------------------------------------------------------------------------------------


def read_mask(
    source: str | os.PathLike[str] | bytes,
    *,
    num_classes: int,
    name: str | None = None,
    values: Mapping[int, int] | None = None,
    frame: int | None = None,
    slice_index: int | None = None,
    axis: str | int = "axial",
    volume: int | None = None,
    max_bytes: int | None = None,
) -> RawImage:
    """Read a segmentation mask of class indices (PNG/TIFF/BMP, or NIfTI/DICOM for volumes).

    Args:
        source: path or bytes.
        num_classes: the segmentation task's number of classes (background included).
        name: display name for bytes.
        values: optional remapping of stored values to class indices, e.g. ``{255: 1}`` for a
            binary mask saved as 0/255, or ``{255: 0, 128: 1, 0: 2}`` for REFUGE's disc/cup BMPs.
        frame, slice_index, axis, volume: plane selection as in :func:`read_raw` (use the image's).
        max_bytes: file size limit.

    Returns:
        A :class:`RawImage` whose ``array`` is int64 (H, W) class indices in ``0..num_classes-1``.

    Raises:
        DataError: JPEG masks (lossy), colour masks, non-integer values, or values out of range.
    """
    src_name = name or str(source if not isinstance(source, (bytes, bytearray)) else "<bytes>")
    raw = read_raw(
        source, name=name, frame=frame, slice_index=slice_index, axis=axis, volume=volume, max_bytes=max_bytes
    )
    if raw.format == "JPEG":
        raise DataError(
            src_name, "masks must not be JPEG: lossy compression changes class indices at edges", "Save masks as PNG."
        )
    arr = raw.meta.get("palette_indices", raw.array)
    if arr.ndim == 3:
        colour = arr[..., : 3 if arr.shape[-1] >= 3 else 1]
        if arr.shape[-1] in (2, 4) and not np.all(arr[..., -1] == arr[..., -1].flat[0]):
            raise DataError(src_name, "the mask has a varying alpha channel", "Save masks as single-channel PNG.")
        if not np.all(colour == colour[..., :1]):
            raise DataError(
                src_name,
                "the mask is a colour (RGB) image",
                "Masks must be single-channel class indices (0 = background, 1, 2, ...); convert colour-coded masks.",
            )
        arr = colour[..., 0]
    if arr.dtype.kind == "f" and not np.all(arr == np.round(arr)):
        raise DataError(src_name, "the mask has non-integer values", "Masks hold class indices 0, 1, 2, ...")
    arr = arr.astype(np.int64)
    if values:
        mapped = np.full(arr.shape, -1, dtype=np.int64)
        for stored, cls in values.items():
            mapped[arr == int(stored)] = int(cls)
        unmapped = np.unique(arr[mapped < 0])
        if unmapped.size:
            raise DataError(
                src_name,
                f"mask values {unmapped[:10].tolist()} are not in the value mapping {dict(values)}",
                "Add them to the mapping.",
            )
        arr = mapped
    found = np.unique(arr)
    bad = found[(found < 0) | (found >= num_classes)]
    if bad.size:
        hint = f"The segmentation task has {num_classes} classes: indices 0..{num_classes - 1}."
        if set(found.tolist()) <= {0, 255} or set(found.tolist()) <= {0, 1, 255}:
            hint += " Values 0/255 look like a binary mask saved for display: map them with values={255: 1}."
        raise DataError(
            src_name, f"class index {bad[:10].tolist()} out of range (values found: {found[:12].tolist()})", hint
        )
    raw.array = arr
    raw.meta.pop("palette_indices", None)
    return raw


# --------------------------------------------------------------------------------------------------
# Samples
# --------------------------------------------------------------------------------------------------


def resolve_tasks(
    region: Region | str | None, tasks: Sequence[TaskSpec] | Sequence[str] | str | None, channels: int | None
) -> tuple[Region | None, tuple[TaskSpec, ...], int]:
    """(region object or None, task specs, input channels) from a region and/or a custom task list.

    Args:
        region: a region name/object, or ``None`` for custom data.
        tasks: ``None`` (the region's tasks), task names of the region, or :class:`TaskSpec` objects
            (a custom task set; with a region, they replace its tasks).
        channels: input channels (default: the region's; required without a region).
    """
    reg = get_region(region) if isinstance(region, str) else region
    if tasks is not None and not isinstance(tasks, str) and len(tasks) == 0:
        specs: tuple[TaskSpec, ...] = ()
    elif tasks is not None and not isinstance(tasks, str) and all(isinstance(t, TaskSpec) for t in tasks):
        specs = tuple(tasks)  # type: ignore[arg-type]
        names = [t.name for t in specs]
        if len(set(names)) != len(names):
            raise ValueError(f"Duplicate task names in {names}.")
    elif reg is not None:
        specs = reg.select_tasks(tasks)  # type: ignore[arg-type]
    else:
        raise ValueError("Without a region, pass tasks as a list of TaskSpec objects (a custom task set).")
    ch = channels if channels is not None else (reg.in_channels if reg is not None else None)
    if ch not in (1, 3):
        raise ValueError(f"channels must be 1 or 3 (give channels=... for custom tasks), got {ch!r}.")
    return reg, specs, int(ch)


def _spacing(raw: RawImage, geometry: Geometry, fallback: float) -> float:
    if raw.spacing_mm is None:
        return fallback
    return float(np.mean([s / g for s, g in zip(raw.spacing_mm, geometry.scale, strict=True)]))


def read_sample(
    image: str | os.PathLike[str] | bytes,
    region: Region | str | None = None,
    *,
    tasks: Sequence[TaskSpec] | Sequence[str] | str | None = None,
    channels: int | None = None,
    masks: Mapping[str, str | os.PathLike[str] | bytes] | None = None,
    labels: Mapping[str, Any] | None = None,
    name: str | None = None,
    size: int | None = None,
    intensity: str | tuple[float, float] = "auto",
    rgba: str = "composite",
    fit: str = "pad",
    mask_values: Mapping[int, int] | None = None,
    frame: int | None = None,
    slice_index: int | None = None,
    axis: str | int = "axial",
    volume: int | None = None,
    max_bytes: int | None = None,
) -> Sample:
    """Read an image (and optional masks and labels) into a :class:`Sample` at the region's size and channels.

    Args:
        image: path or bytes of the image.
        region: region name/object (or ``None`` with a custom ``tasks`` list and ``channels``).
        tasks: see :func:`resolve_tasks`.
        channels: input channels (default: the region's).
        masks: segmentation task name -> mask path/bytes (same plane size as the image).
        labels: task name -> target for non-dense tasks: class index, regression values, or
            landmark (K, 2) (row, col) coordinates in the original image's pixels.
        name: display name when ``image`` is bytes.
        size: output side (default: the region's ``default_size``, else 128).
        intensity, rgba, fit: see :func:`prepare_image`.
        mask_values: remapping of stored mask values to class indices (see :func:`read_mask`).
        frame, slice_index, axis, volume, max_bytes: see :func:`read_raw`.

    Raises:
        DataError: for any problem with the files or labels.
    """
    reg, specs, ch = resolve_tasks(region, tasks, channels)
    size = int(size if size is not None else (reg.default_size if reg is not None else 128))
    plane = {"frame": frame, "slice_index": slice_index, "axis": axis, "volume": volume, "max_bytes": max_bytes}
    raw = read_raw(image, name=name, **plane)
    array, geometry = prepare_image(
        raw, channels=ch, size=size, intensity=intensity, rgba=rgba, fit=fit, region_window=default_window(reg)
    )
    by_name = {t.name: t for t in specs}
    targets: dict[str, np.ndarray] = {}
    for task_name, mask_source in (masks or {}).items():
        t = by_name.get(task_name)
        if t is None or t.kind != "segmentation":
            raise ValueError(f"masks: {task_name!r} is not a segmentation task of {[t.name for t in specs]}.")
        mask = read_mask(mask_source, num_classes=t.num_outputs, values=mask_values, **plane)
        check_same_plane(raw, mask)
        targets[task_name] = geometry.mask(mask.array)
    for task_name, value in (labels or {}).items():
        t = by_name.get(task_name)
        if t is None or t.kind not in LABEL_KINDS:
            raise ValueError(f"labels: {task_name!r} is not a classification/regression/landmark task of the set.")
        targets[task_name] = label_target(t, value, raw.name, geometry)
    for t in specs:
        if t.kind == "reconstruction":
            targets[t.name] = array.copy()
    fallback = reg.spacing_mm(size) if reg is not None else 1.0
    return Sample(
        image=array,
        targets=targets,
        latents={},
        region=reg.name if reg is not None else "custom",
        seed=None,
        spacing_mm=_spacing(raw, geometry, fallback),
        meta={
            "source": raw.name,
            "format": raw.format,
            "original_shape": raw.shape2d,
            "intensity": resolve_intensity(raw, intensity, region_window=default_window(reg)),
            "geometry": geometry,
            **{k: v for k, v in raw.meta.items() if k != "palette_indices"},
        },
    )


def check_same_plane(image: RawImage, mask: RawImage) -> None:
    """Raise :class:`DataError` unless a mask's plane (and volume, if any) matches its image's."""
    vi, vm = image.meta.get("volume_shape"), mask.meta.get("volume_shape")
    if vi is not None and vm is not None and tuple(vi[:3]) != tuple(vm[:3]):
        raise DataError(
            mask.name, f"the mask volume is {tuple(vm)} but its image {image.name} is {tuple(vi)}", "They must match."
        )
    if image.shape2d != mask.shape2d:
        h, w = mask.shape2d
        hi, wi = image.shape2d
        raise DataError(
            mask.name,
            f"the mask is {h}x{w} pixels but its image {image.name} is {hi}x{wi}",
            "A mask must have exactly the size of its image.",
        )


def label_target(task: TaskSpec, value: Any, where: str, geometry: Geometry | None = None) -> np.ndarray:
    """A label value as the target array of ``task`` (class index, regression vector, landmark points).

    Raises:
        DataError: for a value of the wrong type, shape or range (the message names ``where``).
    """
    if task.kind == "classification":
        if isinstance(value, str) and task.class_names:
            lowered = [c.lower() for c in task.class_names]
            if value.strip().lower() in lowered:
                return np.asarray(lowered.index(value.strip().lower()), dtype=np.int64)
        try:
            if isinstance(value, bool) or float(value) != int(float(value)):
                raise ValueError
            k = int(float(value))
        except (TypeError, ValueError):
            names = f" or a class name {task.class_names}" if task.class_names else ""
            raise DataError(
                where,
                f"task {task.name!r}: {value!r} is not an integer class index",
                f"Use 0..{task.num_outputs - 1}{names}; leave the cell empty for a missing label.",
            ) from None
        if not 0 <= k < task.num_outputs:
            names = f" ({', '.join(task.class_names)})" if task.class_names else ""
            raise DataError(
                where,
                f"task {task.name!r}: class {k} is out of range",
                f"The task has {task.num_outputs} classes 0..{task.num_outputs - 1}{names}.",
            )
        return np.asarray(k, dtype=np.int64)
    try:
        arr = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError):
        raise DataError(
            where,
            f"task {task.name!r}: {value!r} is not numeric",
            "Regression and landmark labels are numbers; leave the cell empty for a missing label.",
        ) from None
    if task.kind == "regression":
        arr = arr.reshape(-1)
        if arr.size != task.num_outputs:
            raise DataError(where, f"task {task.name!r}: {arr.size} value(s) for {task.num_outputs} output(s)")
    elif task.kind == "landmarks":
        if arr.size != 2 * task.num_outputs:
            raise DataError(where, f"task {task.name!r}: {arr.size} numbers for {task.num_outputs} (row, col) points")
        arr = arr.reshape(task.num_outputs, 2)
        if geometry is not None:
            arr = geometry.points(arr)
    else:
        raise DataError(where, f"task {task.name!r} ({task.kind}) takes no label value")
    if not np.all(np.isfinite(arr)):
        raise DataError(where, f"task {task.name!r}: non-finite value {value!r}")
    return arr.astype(np.float32)


def read_upload(
    name: str,
    data: bytes,
    region: Region | str,
    *,
    size: int | None = None,
    intensity: str | tuple[float, float] = "auto",
    frame: int | None = None,
    slice_index: int | None = None,
    axis: str | int = "axial",
    volume: int | None = None,
) -> Sample:
    """Read an uploaded file (dashboard, notebook widget) into an image-only :class:`Sample`.

    The one entry point a UI calls: every bad upload — empty, over :data:`MAX_FILE_BYTES`, a wrong
    or unsupported format, corrupt, too small or too large, a DICOM without pixel data or with an
    undecodable codec, a 4-D NIfTI without ``volume`` — raises :class:`DataError` whose message can
    be shown to the user as is.

    Args:
        name: the uploaded file's name (only its extension and display form are used).
        data: the file's bytes.
        region: region name/object: gives the channels, the size and the CT window preset.
        size: output side (default: the region's ``default_size``).
        intensity, frame, slice_index, axis, volume: see :func:`read_sample`.
    """
    base = os.path.basename(str(name).replace("\\", "/")) or "upload"
    check_file_name(base)
    shown = display_name(base)
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise DataError(shown, f"expected the uploaded bytes, got {type(data).__name__}")
    if len(data) > MAX_FILE_BYTES:
        raise DataError(
            shown,
            f"the upload is {_bytes(len(data))}, above the limit of {_bytes(MAX_FILE_BYTES)}",
            "Downscale the image or export a single slice.",
        )
    try:
        return read_sample(
            bytes(data),
            region,
            tasks=[],
            name=shown,
            size=size,
            intensity=intensity,
            frame=frame,
            slice_index=slice_index,
            axis=axis,
            volume=volume,
            max_bytes=MAX_FILE_BYTES,
        )
    except DataError:
        raise
    except ValueError as exc:  # bad option values (intensity, axis): still the user's choice, still one message
        raise DataError(shown, str(exc).rstrip(".")) from None
