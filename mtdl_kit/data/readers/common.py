"""Shared pieces of the file readers: limits, accepted formats, :class:`DataError`, file names,
content sniffing, the header checks that bound a file's decoding cost, the :class:`RawImage` every
reader returns and the :class:`PlaneChoices` a file offers."""

from __future__ import annotations

import io
import os
import re
import struct
import unicodedata
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

#: refuse images with more pixels than this (decompression bombs); checked from the header.
MAX_PIXELS = 64_000_000
#: refuse planes whose longer side is above this many pixels (checked from the header).
MAX_SIDE = 20_000
#: refuse planes whose longer side is more than this many times the shorter one (checked from the header):
#: padded to the model's square, a thinner strip would be a few pixels high.
MAX_ASPECT = 10
#: refuse planes whose decoded samples (all channels, at the decoder's sample size) need more memory than this.
MAX_PLANE_BYTES = 256 * 1024 * 1024
#: refuse PNG/JPEG/TIFF/BMP files larger than this, and every upload.
MAX_FILE_BYTES = 20 * 1024 * 1024
#: refuse DICOM/NIfTI files in a dataset folder larger than this (CT volumes are big).
MAX_VOLUME_FILE_BYTES = 1024 * 1024 * 1024
#: refuse volumes whose decoded voxels would need more memory than this.
MAX_DECODED_BYTES = 1024 * 1024 * 1024
#: the same limit for uploads (:func:`~mtdl_kit.data.files.read_upload`): a NIfTI upload is decompressed
#: once in full to verify it (gzip CRC), so this bounds an upload's time as well.
MAX_UPLOAD_DECODED_BYTES = 256 * 1024 * 1024
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
    (0, b"BZh", "bzip2-compressed", "decompress it first (bunzip2)"),
    (0, b"\xfd7zXZ\x00", "xz-compressed", "decompress it first (unxz)"),
    (0, b"Rar!", "RAR archive", "unpack it first"),
    (0, b"7z\xbc\xaf\x27\x1c", "7-Zip archive", "unpack it first"),
)
#: file endings of formats that are not read: extension -> (what, advice).
_UNSUPPORTED_EXT: dict[str, tuple[str, str]] = {
    ".gif": ("GIF", "save it as PNG"),
    ".jp2": ("JPEG 2000", "save it as PNG or TIFF"),
    ".j2k": ("JPEG 2000", "save it as PNG or TIFF"),
    ".webp": ("WebP", "save it as PNG"),
    ".nrrd": ("NRRD", "convert it to NIfTI with SimpleITK"),
    ".mha": ("MetaImage", "convert it to NIfTI with SimpleITK"),
    ".mhd": ("MetaImage", "convert it to NIfTI with SimpleITK"),
    ".hdr": ("Analyze/NIfTI pair header", "convert the pair to one .nii.gz with nibabel"),
    ".img": ("raw or Analyze image", "convert it to NIfTI with nibabel"),
    ".npy": ("NumPy array", "save it as PNG, or use a MedMNIST-style .npz dataset"),
    ".zip": ("ZIP archive", "unpack it first"),
    ".svs": ("whole-slide image", "export a region as PNG or TIFF"),
    ".mgz": ("FreeSurfer MGH/MGZ", "convert it with nibabel: nibabel.save(nibabel.load(path), 'x.nii.gz')"),
    ".mgh": ("FreeSurfer MGH/MGZ", "convert it with nibabel: nibabel.save(nibabel.load(path), 'x.nii.gz')"),
    ".mnc": ("MINC", "convert it with nibabel: nibabel.save(nibabel.load(path), 'x.nii.gz')"),
    ".par": ("Philips PAR/REC", "convert it with nibabel (parrec2nii) to NIfTI"),
    ".rec": ("Philips PAR/REC", "convert it with nibabel (parrec2nii) to NIfTI"),
    ".head": ("AFNI BRIK/HEAD", "convert it with AFNI 3dAFNItoNIFTI or nibabel to NIfTI"),
    ".brik": ("AFNI BRIK/HEAD", "convert it with AFNI 3dAFNItoNIFTI or nibabel to NIfTI"),
    ".v": ("ECAT", "convert it with nibabel to NIfTI"),
    ".trk": ("TrackVis streamline (tractography, not an image)", "upload an image instead"),
    ".tck": ("MRtrix streamline (tractography, not an image)", "upload an image instead"),
    ".gii": ("GIFTI surface (not an image)", "upload a volume (NIfTI) or an image instead"),
    ".nc": ("NetCDF", "export the image as NIfTI or PNG"),
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


_OBJECT_REPR = re.compile(r"\s*<[^<>]*\bobject at 0x[0-9a-fA-F]+>")


def error_text(exc: BaseException) -> str:
    """A decoder's exception as one short line for a message (object reprs such as Pillow's
    ``<_io.BytesIO object at 0x...>`` removed: they mean nothing to the reader)."""
    text = " ".join(_OBJECT_REPR.sub("", str(exc)).split()) or type(exc).__name__
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
        if size == 348 and head[344:348] == b"n+1\x00":
            return "NIfTI"
        if size == 540 and head[4:8] == b"n+2\x00":
            return "NIfTI"
        dims = (
            struct.unpack(endian + "h", head[40:42])[0] if size == 348 else struct.unpack(endian + "q", head[16:24])[0]
        )
        if size in (348, 540) and 1 <= dims <= 7:  # Analyze 7.5 / a NIfTI .hdr: dim[0] holds 1..7 dimensions
            return "pair"
    return None


_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def _unsupported(name: str, what: str, advice: str) -> DataError:
    return DataError(name, f"{what} files are not supported", f"{advice[0].upper()}{advice[1:]}. {ACCEPTED}")


def sniff_format(head: bytes, name: str = "<bytes>") -> str:
    """The format of a file from its first bytes (magic numbers), checked against its extension.

    The DICOM Part-10 marker ``DICM`` at byte 128 is tested first: the 128-byte preamble before it
    is free for other applications and may hold, e.g., a TIFF header (DICOM PS3.10 section 7.1;
    pydicom's ``CT_small.dcm`` is such a file). A file with both is read as DICOM, also when its
    name ends in ``.tif``.

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
    suffix = _suffix(name)
    fmt: str | None = None
    if head[128:132] == b"DICM":
        fmt = "DICOM"
    elif head.startswith(b"\x89PNG\r\n\x1a\n"):
        fmt = "PNG"
    elif head.startswith(b"\xff\xd8\xff"):
        fmt = "JPEG"
    elif head[:4] in _TIFF_MAGIC:
        fmt = "TIFF"
    elif head.startswith(b"BM") and len(head) >= 26:
        fmt = "BMP"
    elif head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        raise DataError(name, "WebP images are not supported", "Save it as PNG. " + ACCEPTED)
    else:
        inner = _gunzip_head(head) if head.startswith(b"\x1f\x8b") else head
        kind = _nifti_kind(inner) if inner[128:132] != b"DICM" else None
        if kind == "NIfTI":
            fmt = "NIfTI"
        elif kind == "pair":
            raise DataError(
                name,
                "this is an Analyze or NIfTI .hdr/.img pair header",
                "Convert the pair to a single .nii or .nii.gz file, e.g. nibabel.save(nibabel.load(hdr), 'x.nii.gz').",
            )
        elif head.startswith(b"\x1f\x8b"):
            _refuse_gzip(name, suffix, inner)
    if fmt is None:
        if suffix in _UNSUPPORTED_EXT:  # the name is more specific than a container's magic (MINC-2 is HDF5)
            raise _unsupported(name, *_UNSUPPORTED_EXT[suffix])
        for offset, magic, what, advice in _UNSUPPORTED_MAGIC:
            if head[offset : offset + len(magic)] == magic:
                raise _unsupported(name, what, advice)
        if len(head) >= 132 and head[:128].strip(b"\x00") == b"" and head[128:132] != b"DICM":
            raise DataError(
                name,
                "looks like a DICOM file without the 'DICM' marker (or a truncated one)",
                "Re-save it as DICOM Part 10 (with preamble), e.g. ds.save_as(path, enforce_file_format=True).",
            )
        if suffix in EXTENSIONS["DICOM"]:
            raise DataError(
                name,
                "no 'DICM' marker at byte 128: not a DICOM Part-10 file (or a truncated one)",
                "Re-save it as DICOM Part 10 (with preamble), e.g. ds.save_as(path, enforce_file_format=True).",
            )
        raise DataError(name, "unknown or corrupt file format (no known magic bytes)", ACCEPTED)
    owner = next((f for f, exts in EXTENSIONS.items() if suffix in exts), None)
    dual = fmt == "DICOM" and owner == "TIFF" and head[:4] in _TIFF_MAGIC  # PS3.10 7.1: TIFF header in the preamble
    if owner is not None and owner != fmt and not dual:
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


def _refuse_gzip(name: str, suffix: str, inner: bytes) -> None:
    """Raise the :class:`DataError` for a gzip file that holds no NIfTI image (``inner``: its first bytes)."""
    inner_suffix = _suffix(name[:-3]) if name.lower().endswith(".gz") else ""
    for ending in (suffix, inner_suffix):
        if ending in _UNSUPPORTED_EXT:
            raise _unsupported(name, *_UNSUPPORTED_EXT[ending])
    if inner[128:132] == b"DICM":
        raise DataError(name, "a gzip-compressed DICOM file", "Decompress it first (gunzip) and use the .dcm inside.")
    if inner.startswith((b"\x89PNG", b"\xff\xd8\xff", *_TIFF_MAGIC)):
        raise DataError(name, "a gzip-compressed image", "Decompress it first (gunzip) and use the file inside.")
    if len(inner) < 348:
        raise DataError(
            name,
            "a truncated or corrupt gzip file (no NIfTI header could be decompressed)",
            "Upload the complete file again; gzip -t tests a copy.",
        )
    raise DataError(name, "a gzip file that does not contain a NIfTI image", ACCEPTED)


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
        spacing_mm: (row, column) pixel spacing in mm of the file's plane, if the header says.
        meta: more header facts (frames, slice, transfer syntax, volume shape, ...).
        notes: facts a person should know about what is shown, as sentences (which frame, slice or
            volume of several was chosen; an orientation that had to be assumed).
        warnings: signs that the image is not what its owner meant, as sentences (a constant image).
        reduction: the plane was box-averaged by this integer factor while decoding (``read_raw(...,
            reduce_to=...)``): pixel ``i`` of ``array`` covers pixels ``i*f .. i*f+f-1`` of the file.
        file_shape: (H, W) of the plane in the file (before the reduction); ``None``: ``array``'s.
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
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    reduction: int = 1
    file_shape: tuple[int, int] | None = None

    @property
    def shape2d(self) -> tuple[int, int]:
        """(H, W) of the plane held in :attr:`array`."""
        return int(self.array.shape[0]), int(self.array.shape[1])

    @property
    def original_shape(self) -> tuple[int, int]:
        """(H, W) of the plane in the file: pixel coordinates (landmarks, masks) refer to this grid."""
        return self.file_shape if self.file_shape is not None else self.shape2d


@dataclass(frozen=True)
class PlaneChoices:
    """Which 2-D planes a file offers, from its header alone (:func:`~mtdl_kit.data.readers.raw.plane_choices`).

    Attributes:
        format: one of :data:`FORMATS`.
        shape: the file's image shape: (H, W) of a 2-D file, (frames, H, W) of a multi-frame DICOM
            or multi-page TIFF, the NIfTI data shape (trailing 1s dropped).
        frames: frames (DICOM) or pages (TIFF) to choose from with ``frame=``; 1 when there is no choice.
        volumes: volumes of a 4-D NIfTI to choose from with ``volume=``; 1 otherwise.
        slices: NIfTI slices along each anatomical axis after reorientation to RAS+
            (``{"axial": nz, "coronal": ny, "sagittal": nx}``) for a 3-D or 4-D image whose planes
            can be chosen with ``axis=`` and ``slice_index=``; only axes whose slices pass the
            size checks are listed; empty for 2-D images.
        default: the plane read when nothing is chosen (``frame`` / ``axis``, ``slice_index``, ``volume``).
    """

    format: str
    shape: tuple[int, ...]
    frames: int = 1
    volumes: int = 1
    slices: dict[str, int] = field(default_factory=dict)
    default: dict[str, Any] = field(default_factory=dict)

    @property
    def choosable(self) -> bool:
        """Whether there is more than one plane to choose from."""
        return self.frames > 1 or self.volumes > 1 or bool(self.slices)


def check_plane(
    name: str,
    h: int,
    w: int,
    *,
    channels: int = 1,
    itemsize: int = 1,
    max_pixels: int = MAX_PIXELS,
    what: str = "image",
) -> None:
    """Refuse a plane from its header, before anything is decoded: no pixels, a side below
    :data:`MIN_SIDE` or above :data:`MAX_SIDE`, an aspect ratio above :data:`MAX_ASPECT`, more
    than ``max_pixels`` pixels (decompression bombs), or more than :data:`MAX_PLANE_BYTES` of
    decoded samples (``channels`` x ``itemsize`` bytes per pixel as the decoder holds them).

    Raises:
        DataError: the message gives the size and the limit.
    """
    if h < 1 or w < 1:
        raise DataError(name, f"the header declares a {what} of {h}x{w} pixels (no pixels)", "The file is corrupt.")
    if min(h, w) < MIN_SIDE:
        raise DataError(
            name, f"the {what} is only {h}x{w} pixels", f"The smallest accepted size is {MIN_SIDE}x{MIN_SIDE}."
        )
    if max(h, w) > MAX_SIDE:
        raise DataError(
            name,
            f"the {what} is {h}x{w} pixels, longer than the {MAX_SIDE}-pixel limit on a side",
            "Downscale or crop it first.",
        )
    if max(h, w) > MAX_ASPECT * min(h, w):
        raise DataError(
            name,
            f"the {what} is {h}x{w} pixels, an aspect ratio of {max(h, w) / min(h, w):.0f}:1 (at most "
            f"{MAX_ASPECT}:1 is accepted)",
            "Crop it to the region of interest: padded to the model's square, a strip this thin would be only a "
            "few pixels high.",
        )
    if h * w > max_pixels:
        raise DataError(
            name,
            f"the {what} is {h}x{w} = {h * w / 1e6:.1f} megapixels, above the {max_pixels / 1e6:.0f}-megapixel limit",
            "Downscale or tile it first (this limit also guards against decompression bombs).",
        )
    nbytes = h * w * channels * itemsize
    if nbytes > MAX_PLANE_BYTES:
        raise DataError(
            name,
            f"decoding the {h}x{w} {what} ({channels} channel(s) of {itemsize} byte(s)) would need "
            f"{format_bytes(nbytes)}, above the {format_bytes(MAX_PLANE_BYTES)} limit",
            "Downscale it, or save it with fewer channels or 8 bits per sample.",
        )


def reduction_factor(h: int, w: int, reduce_to: int | None) -> int:
    """The integer box-reduction factor that keeps both sides of an ``h`` x ``w`` plane >= ``reduce_to`` (1: none)."""
    if not reduce_to or reduce_to <= 0:
        return 1
    return max(1, min(h, w) // int(reduce_to))


def box_reduce(array: np.ndarray, factor: int) -> np.ndarray:
    """Mean over ``factor`` x ``factor`` boxes of an (H, W[, C]) array (the last partial boxes over what they hold).

    Integer data is rounded back to its type. The sums are accumulated in float64 a band of rows
    at a time (at most about 32 MB), so the extra memory stays small even for huge planes.
    """
    if factor <= 1:
        return array
    h, w = array.shape[:2]
    per_pixel = int(np.prod(array.shape[2:], dtype=np.int64)) * 8
    band = factor * max(1, (32 * 2**20) // max(1, w * per_pixel * factor))  # rows per band, a multiple of factor
    cols = np.arange(0, w, factor)
    col_counts = np.minimum(factor, w - cols)
    parts = []
    for start in range(0, h, band):
        chunk = array[start : start + band]
        rows = np.arange(0, chunk.shape[0], factor)
        summed = np.add.reduceat(np.add.reduceat(chunk, rows, axis=0, dtype=np.float64), cols, axis=1)
        counts = np.minimum(factor, chunk.shape[0] - rows)[:, None] * col_counts[None, :]
        parts.append(summed / (counts[..., None] if array.ndim == 3 else counts))
    mean = np.concatenate(parts, axis=0)
    if array.dtype.kind in "ui":
        info = np.iinfo(array.dtype)
        return np.clip(np.rint(mean), info.min, info.max).astype(array.dtype)
    if array.dtype.kind == "b":
        return mean >= 0.5
    return mean.astype(array.dtype)


def as_float32(name: str, array: np.ndarray) -> np.ndarray:
    """Floating-point samples as float32, refusing finite values beyond its range (they would become inf)."""
    if array.dtype.kind != "f" or array.dtype == np.float32:
        return array
    if array.dtype.itemsize > 4:
        finite = array[np.isfinite(array)]
        big = float(np.abs(finite).max()) if finite.size else 0.0
        if big > float(np.finfo(np.float32).max):
            raise DataError(
                name,
                f"the image holds values up to {big:.3g}, beyond the float32 range (about 3.4e38) the toolkit "
                "computes in",
                "Rescale the values before saving (e.g. to Hounsfield units, or to 0..1).",
            )
    return array.astype(np.float32)


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
