"""Shared pieces of the file readers: limits, accepted formats, :class:`DataError`, file names,
content sniffing and the :class:`RawImage` every reader returns."""

from __future__ import annotations

import io
import os
import struct
import unicodedata
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

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


def format_bytes(n: int) -> str:
    """A byte count for people (``"20 MB"``, ``"3.5 kB"``, ``"10 bytes"``)."""
    if n >= 2**20:
        return f"{n / 2**20:.1f} MB".replace(".0 MB", " MB")
    return f"{n / 1024:.1f} kB" if n >= 1024 else f"{n} bytes"


def error_text(exc: BaseException) -> str:
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
class Source:
    """A file on disk or bytes in memory, with the first bytes for sniffing."""

    name: str
    path: Path | None
    data: bytes | None
    size: int

    @classmethod
    def of(cls, source: str | os.PathLike[str] | bytes, name: str | None) -> Source:
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
DECODE_ERRORS = (
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


def check_pixels(name: str, h: int, w: int, max_pixels: int, what: str = "image") -> None:
    """Raise :class:`DataError` for an ``h`` x ``w`` plane above ``max_pixels`` (checked from the header)."""
    if h * w > max_pixels:
        raise DataError(
            name,
            f"the {what} is {h}x{w} = {h * w / 1e6:.1f} megapixels, above the {max_pixels / 1e6:.0f}-megapixel limit",
            "Downscale or tile it first (this limit also guards against decompression bombs).",
        )
