"""Files for the bad-input tests, the dashboard's upload tests and ``benchmarks/bench_bad_inputs.py``.

Everything is written here, from arrays (no downloads), except the sample files that ship with the
pinned pydicom and nibabel wheels (:func:`real_files`), which are read where they are installed.

- :class:`Writers`: PNG/JPEG/TIFF (Pillow), DICOM (pydicom), NIfTI (nibabel) files and dataset
  folders (the ``files`` fixture of ``tests/data``).
- :func:`png_header_only`: a tiny PNG whose header declares any size (the shape of a decompression bomb).
- :func:`corpus`: every kind of malformed or edge-case upload, each with the outcome
  :func:`mtdl_kit.data.read_upload` must give (accepted, with the note or warning it must carry,
  or refused with a message fragment).
- :func:`real_files`: the pydicom and nibabel sample files with the outcome each must give.

Not collected by pytest (the name does not start with ``test_``).
"""

from __future__ import annotations

import bz2
import csv
import fnmatch
import gzip
import io
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


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


# --------------------------------------------------------------------------------------------------
# Byte-level builders
# --------------------------------------------------------------------------------------------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that declares a ``width`` x ``height`` grey image in its header (and holds no pixels)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"")) + _chunk(b"IEND", b"")


def png_bytes(array: np.ndarray, mode: str | None = None, **save: Any) -> bytes:
    """``array`` saved as PNG by Pillow."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(array), mode=mode).save(buf, format="PNG", **save)
    return buf.getvalue()


def jpeg_bytes(array: np.ndarray, **save: Any) -> bytes:
    """``array`` saved as JPEG (quality 95) by Pillow."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(array)).save(buf, format="JPEG", **{"quality": 95, **save})
    return buf.getvalue()


def _pillow(image: Any, fmt: str, **save: Any) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **save)
    return buf.getvalue()


def _pages(arrays: Sequence[np.ndarray], fmt: str = "TIFF", **save: Any) -> bytes:
    from PIL import Image

    images = [Image.fromarray(a) for a in arrays]
    return _pillow(images[0], fmt, save_all=True, append_images=images[1:], **save)


def _tiff_header_only(width: int, height: int) -> bytes:
    """A little-endian TIFF whose one IFD declares a ``width`` x ``height`` 8-bit grey strip (no pixels)."""
    entries = [(256, 4, width), (257, 4, height), (258, 3, 8), (259, 3, 1), (262, 3, 1), (273, 4, 8), (278, 4, height)]
    entries.append((279, 4, width * height))
    ifd = struct.pack("<H", len(entries))
    for tag, kind, value in entries:
        ifd += struct.pack("<HHI", tag, kind, 1) + (
            struct.pack("<I", value) if kind == 4 else struct.pack("<HH", value, 0)
        )
    return b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0)


def _bmp_header_only(width: int, height: int) -> bytes:
    """A 24-bit BMP whose header declares ``width`` x ``height`` pixels (and holds none)."""
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + len(info), 0, 0, 14 + len(info)) + info


def _gradient(h: int, w: int, channels: int = 0) -> np.ndarray:
    """A compressible uint8 test picture (so that huge images still make small files)."""
    base = ((np.arange(h)[:, None] // 8 + np.arange(w)[None, :] // 8) % 256).astype(np.uint8)
    return base if not channels else np.stack([base, base[::-1], np.flipud(base)[:, ::-1]][:channels], axis=-1)


def _via_writers(make: Callable[[Writers], Path]) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        return make(Writers(Path(tmp))).read_bytes()


def _dicom(array: np.ndarray | None, **kw: Any) -> bytes:
    """A DICOM file written by :meth:`Writers.dicom`."""
    return _via_writers(lambda f: f.dicom("x.dcm", array, **kw))


def _edit_dicom(data: bytes, edit: Callable[[Any], None], **write: Any) -> bytes:
    """``data`` parsed by pydicom, changed by ``edit(ds)`` and written again (Part 10)."""
    import pydicom

    ds = pydicom.dcmread(io.BytesIO(data))
    edit(ds)
    buf = io.BytesIO()
    pydicom.dcmwrite(buf, ds, enforce_file_format=True, **write)
    return buf.getvalue()


def _dicom_object(sop_class: str, **elements: Any) -> bytes:
    """A DICOM Part-10 object of ``sop_class`` with ``elements`` (keyword -> value), explicit VR little endian."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    for keyword, value in elements.items():
        setattr(ds, keyword, value)
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def _meta_end(data: bytes) -> int:
    """Offset of the first byte after a Part-10 file's meta information (group 0002)."""
    length = struct.unpack("<I", data[140:144])[0]  # (0002,0000) UL, explicit VR: tag 4 + VR 2 + len 2
    return 144 + length


def _nifti(
    array: np.ndarray, affine: np.ndarray | None = None, *, gz: bool = False, edit: Callable | None = None
) -> bytes:
    """A NIfTI-1 file (``edit(img)`` may change the image's header first), gzipped if ``gz``."""
    import nibabel as nib

    img = nib.Nifti1Image(np.asarray(array), np.eye(4) if affine is None else affine)
    if edit is not None:
        edit(img)
    data = img.to_bytes()
    return gzip.compress(data, 6) if gz else data


def _nifti_header_only(shape: tuple[int, ...], dtype: Any = np.float32) -> bytes:
    """A .nii file whose header declares ``shape`` voxels of ``dtype`` and holds none of them."""
    import nibabel as nib

    header = nib.Nifti1Header()
    header.set_data_shape(shape)
    header.set_data_dtype(dtype)
    header.set_sform(np.eye(4), code=1)
    return header.binaryblock + b"\x00" * 4


def _set_header_int16(data: bytes, offset: int, value: int) -> bytes:
    out = bytearray(data)
    out[offset : offset + 2] = struct.pack("<h", value)
    return bytes(out)


def _gzip_with_trailing_zeros(data: bytes, extra: int) -> bytes:
    """``data`` followed by ``extra`` zero bytes, gzipped as it streams (never ``extra`` bytes in memory)."""
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=1) as out:
        out.write(data)
        block = bytes(1024 * 1024)
        for _ in range(extra // len(block)):
            out.write(block)
    return buf.getvalue()


def _flip_middle(data: bytes, count: int = 8) -> bytes:
    out = bytearray(data)
    middle = len(out) // 2
    for i in range(count):
        out[middle + 7 * i] ^= 0xA5
    return bytes(out)


def _pydicom_file(name: str) -> bytes | None:
    """A sample file of the installed pydicom wheel (never downloaded), or ``None`` if the wheel lacks it."""
    try:
        from pydicom.data import get_testdata_file

        path = get_testdata_file(name, download=False)
    except Exception:  # an older pydicom without the keyword, or no such file
        return None
    return Path(path).read_bytes() if path and Path(path).is_file() else None


def unreadable_transfer_syntax() -> str | None:
    """A compressed DICOM transfer syntax none of the installed pixel decoders can read (None if all can)."""
    from dicom_helpers import unreadable_transfer_syntax as find

    return find()


# --------------------------------------------------------------------------------------------------
# The corpus of uploads
# --------------------------------------------------------------------------------------------------

ACCEPTED = "accepted"


@dataclass(frozen=True)
class Case:
    """One kind of upload and the outcome :func:`mtdl_kit.data.read_upload` must give.

    Attributes:
        kind: short identifier.
        group: what it exercises (``"raster"``, ``"DICOM"``, ``"NIfTI"``, ``"container"``, ``"name"``).
        what: one line for the tables.
        name: the upload's file name.
        make: builds the bytes (lazily: the heavy ones take seconds).
        expect: :data:`ACCEPTED`, or a fragment of the refusal's message.
        says: for accepted files, a fragment the notes or warnings must hold (``""``: none required).
        options: keyword arguments of ``read_upload`` (``frame``, ``volume``, ``axis``, ``slice_index``).
        heavy: tens of megapixels or hundreds of megabytes decoded: the benchmark runs it, unit tests skip it.
    """

    kind: str
    group: str
    what: str
    name: str
    make: Callable[[], bytes | None]
    expect: str
    says: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    heavy: bool = False


def _rng() -> np.random.Generator:
    return np.random.default_rng(15)


GREY = _gradient(64, 64)
VOLUME = (np.arange(20 * 24 * 18).reshape(20, 24, 18) % 97).astype(np.int16)


def _cases() -> Iterator[Case]:
    rng = _rng()
    c = Case
    # ---- names, sizes, containers
    yield c("empty", "name", "0 bytes", "empty.png", lambda: b"", "empty (0 bytes)")
    yield c(
        "too_large",
        "name",
        "20 MB + 8 bytes",
        "huge.png",
        lambda: b"\x89PNG\r\n\x1a\n" + bytes(20 * 1024 * 1024),
        "above the limit of 20 MB",
    )
    yield c("non_utf8_name", "name", "name with byte 0xE9", "caf\udce9.png", lambda: png_bytes(GREY), "not valid UTF-8")
    yield c("control_char_name", "name", "name with BEL", "scan\x07.png", lambda: png_bytes(GREY), "control characters")
    yield c("text_as_png", "name", "text named .png", "notes.png", lambda: b"not an image\n" * 40, "unknown or corrupt")
    yield c("random_bytes", "name", "4 kB of noise", "noise.dat", lambda: rng.bytes(4096), "unknown or corrupt")
    yield c(
        "html_as_jpeg",
        "name",
        "a web page named .jpg",
        "page.jpg",
        lambda: b"<!DOCTYPE html><html>" + bytes(300),
        "unknown or corrupt",
    )
    yield c(
        "jpeg_as_png",
        "name",
        "JPEG named .png",
        "photo.png",
        lambda: jpeg_bytes(np.stack([GREY] * 3, -1)),
        "the content is JPEG but the extension '.png' says PNG",
    )
    yield c(
        "dicom_as_png",
        "name",
        "DICOM named .png",
        "scan.png",
        lambda: _dicom(VOLUME[..., 0]),
        "the content is DICOM but the extension '.png' says PNG",
    )
    yield c(
        "nifti_as_dcm",
        "name",
        "NIfTI named .dcm",
        "vol.dcm",
        lambda: _nifti(VOLUME),
        "the content is NIfTI but the extension '.dcm' says DICOM",
    )
    yield c("gif", "container", "GIF", "anim.gif", lambda: _gif(), "GIF files are not supported")
    yield c("webp", "container", "WebP header", "a.webp", lambda: b"RIFF\x00\x01\x00\x00WEBPVP8 " + bytes(64), "WebP")
    yield c(
        "jp2",
        "container",
        "JPEG 2000 (.jp2)",
        "a.jp2",
        lambda: b"\x00\x00\x00\x0cjP  \r\n\x87\n" + bytes(64),
        "JPEG 2000 files are not supported",
    )
    yield c("psd", "container", "Photoshop", "a.psd", lambda: b"8BPS\x00\x01" + bytes(64), "Photoshop")
    yield c("pdf", "container", "PDF", "scan.pdf", lambda: b"%PDF-1.4\n%" + bytes(64), "PDF document")
    yield c("zip", "container", "ZIP of a PNG", "images.zip", lambda: _zip(png_bytes(GREY)), "ZIP archive")
    yield c("npy", "container", "NumPy .npy", "a.npy", lambda: _npy(GREY), "NumPy array files are not supported")
    yield c("hdf5", "container", "HDF5", "a.h5", lambda: b"\x89HDF\r\n\x1a\n" + bytes(64), "HDF5")
    yield c("bz2_png", "container", "bzip2 of a PNG", "a.png.bz2", lambda: bz2.compress(png_bytes(GREY)), "bzip2")
    yield c("mgz", "container", "FreeSurfer .mgz", "brain.mgz", lambda: gzip.compress(bytes(300)), "FreeSurfer MGH")
    yield c(
        "gzip_text",
        "container",
        "gzip of text",
        "notes.nii.gz",
        lambda: gzip.compress(b"hello " * 200),
        "a gzip file that does not contain a NIfTI image",
    )
    yield c(
        "gzip_dicom",
        "container",
        "gzipped DICOM",
        "scan.dcm.gz",
        lambda: gzip.compress(_dicom(VOLUME[..., 0])),
        "a gzip-compressed DICOM file",
    )
    yield c(
        "gzip_cut",
        "container",
        "gzip header only",
        "v.nii.gz",
        lambda: b"\x1f\x8b\x08\x00" + bytes(6),
        "truncated or corrupt gzip",
    )
    # ---- PNG
    png = png_bytes(rng.integers(0, 256, (64, 64), dtype=np.uint8))
    yield c("png_truncated", "raster", "PNG cut at 200 bytes", "cut.png", lambda: png[:200], "corrupt or truncated")
    yield c(
        "png_corrupt_idat", "raster", "PNG, bytes flipped in IDAT", "flip.png", lambda: _flip_middle(png), "corrupt"
    )
    yield c(
        "png_bomb_72mp",
        "raster",
        "909-byte PNG declaring 9000x8000",
        "bomb.png",
        lambda: png_header_only(9_000, 8_000),
        "above the 64-megapixel limit",
    )
    yield c(
        "png_bomb_huge",
        "raster",
        "PNG declaring 100000x100000",
        "huge.png",
        lambda: png_header_only(100_000, 100_000),
        "decompression bomb",
    )
    yield c(
        "png_16x20000",
        "raster",
        "16x20000 PNG (909 bytes)",
        "strip.png",
        lambda: png_bytes(_gradient(16, 20000)),
        "aspect ratio of 1250:1",
    )
    yield c(
        "png_20000x16",
        "raster",
        "20000x16 PNG",
        "strip.png",
        lambda: png_bytes(_gradient(20000, 16)),
        "aspect ratio of 1250:1",
    )
    yield c(
        "png_16x100000",
        "raster",
        "16x100000 PNG (header)",
        "strip.png",
        lambda: png_header_only(100_000, 16),
        "longer than the 20000-pixel limit",
    )
    yield c(
        "png_aspect_10",
        "raster",
        "32x320 PNG (10:1, the limit)",
        "wide.png",
        lambda: png_bytes(_gradient(32, 320)),
        ACCEPTED,
    )
    yield c("png_1x1", "raster", "1x1 PNG", "dot.png", lambda: png_bytes(np.zeros((1, 1), np.uint8)), "only 1x1 pixels")
    yield c("png_15x15", "raster", "15x15 PNG", "small.png", lambda: png_bytes(_gradient(15, 15)), "only 15x15 pixels")
    yield c(
        "png_16x16", "raster", "16x16 PNG (the smallest)", "small.png", lambda: png_bytes(_gradient(16, 16)), ACCEPTED
    )
    yield c(
        "png_all_zero",
        "raster",
        "all-zero PNG",
        "black.png",
        lambda: png_bytes(np.zeros((64, 64), np.uint8)),
        ACCEPTED,
        says="has the value 0: it is blank",
    )
    yield c(
        "png_constant",
        "raster",
        "constant grey PNG",
        "grey.png",
        lambda: png_bytes(np.full((64, 64), 128, np.uint8)),
        ACCEPTED,
        says="has the value 128",
    )
    yield c(
        "png_constant_rgb",
        "raster",
        "constant red RGB PNG",
        "red.png",
        lambda: png_bytes(np.tile(np.array([200, 0, 0], np.uint8), (64, 64, 1))),
        ACCEPTED,
        says="200, 0, 0",
    )
    yield c(
        "png_16bit",
        "raster",
        "16-bit grey PNG",
        "g16.png",
        lambda: png_bytes((rng.random((96, 80)) * 65535).astype(np.uint16)),
        ACCEPTED,
    )
    yield c(
        "png_rgba",
        "raster",
        "RGBA PNG",
        "rgba.png",
        lambda: png_bytes(np.dstack([_gradient(64, 64, 3), np.full((64, 64), 200, np.uint8)]), mode="RGBA"),
        ACCEPTED,
    )
    yield c("png_palette", "raster", "palette PNG", "pal.png", lambda: _palette_png(), ACCEPTED)
    yield c("png_1bit", "raster", "1-bit PNG", "bits.png", lambda: _one_bit_png(), ACCEPTED)
    yield c(
        "png_grey_alpha",
        "raster",
        "grey + alpha PNG",
        "la.png",
        lambda: png_bytes(np.dstack([GREY, np.full((64, 64), 255, np.uint8)]), mode="LA"),
        ACCEPTED,
    )
    yield c(
        "apng",
        "raster",
        "animated PNG, 3 frames",
        "anim.png",
        lambda: _pages([GREY, GREY // 2, GREY // 3], "PNG"),
        ACCEPTED,
        says="animated PNG with 3 frames",
    )
    yield c(
        "apng_frame_1",
        "raster",
        "animated PNG, frame=1",
        "anim.png",
        lambda: _pages([GREY, GREY // 2, GREY // 3], "PNG"),
        "cannot be chosen",
        options={"frame": 1},
    )
    yield c("png_text_bomb", "raster", "PNG with a 64 MB zTXt chunk", "text.png", lambda: _png_text_bomb(), "too large")
    yield c(
        "png_8000x7999_rgb",
        "raster",
        "8000x7999 RGB PNG (in limit)",
        "big.png",
        lambda: png_bytes(_gradient(8000, 7999, 3), compress_level=9),
        ACCEPTED,
        heavy=True,
    )
    # ---- JPEG
    yield c(
        "jpeg_truncated",
        "raster",
        "JPEG cut in half",
        "cut.jpg",
        lambda: (lambda d: d[: len(d) // 2])(jpeg_bytes(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))),
        "corrupt or truncated",
    )
    yield c(
        "jpeg_garbage",
        "raster",
        "JPEG marker then noise",
        "noise.jpg",
        lambda: b"\xff\xd8\xff\xe0" + rng.bytes(500),
        "corrupt",
    )
    yield c("jpeg_grey", "raster", "grey JPEG", "g.jpg", lambda: jpeg_bytes(GREY), ACCEPTED)
    yield c("jpeg_cmyk", "raster", "CMYK JPEG", "cmyk.jpg", lambda: _cmyk_jpeg(), ACCEPTED)
    yield c(
        "jpeg_progressive",
        "raster",
        "progressive JPEG",
        "p.jpg",
        lambda: jpeg_bytes(_gradient(64, 64, 3), progressive=True),
        ACCEPTED,
    )
    yield c("jpeg_exif_rotated", "raster", "JPEG with EXIF orientation 6", "rot.jpg", lambda: _rotated_jpeg(), ACCEPTED)
    yield c(
        "jpeg_8000x8000",
        "raster",
        "8000x8000 JPEG (64 MP)",
        "big.jpg",
        lambda: jpeg_bytes(_gradient(8000, 8000, 3), quality=50),
        ACCEPTED,
        heavy=True,
    )
    # ---- TIFF / BMP
    yield c(
        "tiff_pages",
        "raster",
        "5-page TIFF",
        "stack.tif",
        lambda: _pages([GREY + k for k in range(5)]),
        ACCEPTED,
        says="frame 2 is shown",
    )
    yield c(
        "tiff_page_4",
        "raster",
        "5-page TIFF, frame=4",
        "stack.tif",
        lambda: _pages([GREY + k for k in range(5)]),
        ACCEPTED,
        says="frame 4 is shown",
        options={"frame": 4},
    )
    yield c(
        "tiff_page_9",
        "raster",
        "5-page TIFF, frame=9",
        "stack.tif",
        lambda: _pages([GREY + k for k in range(5)]),
        "frame 9 does not exist",
        options={"frame": 9},
    )
    yield c(
        "tiff_2049_pages",
        "raster",
        "TIFF with 2049 pages",
        "many.tif",
        lambda: _pages([np.full((16, 16), k % 256, np.uint8) for k in range(2049)]),
        "more than 2048 pages",
    )
    yield c(
        "tiff_16bit",
        "raster",
        "16-bit TIFF",
        "g16.tif",
        lambda: _pillow_array((GREY.astype(np.uint16) * 200), "TIFF"),
        ACCEPTED,
    )
    yield c(
        "tiff_float",
        "raster",
        "float32 TIFF",
        "f.tif",
        lambda: _pillow_array(GREY.astype(np.float32) / 7, "TIFF"),
        ACCEPTED,
    )
    yield c(
        "tiff_float_nan",
        "raster",
        "float32 TIFF with NaN",
        "nan.tif",
        lambda: _pillow_array(_with_nan(), "TIFF"),
        "NaN",
    )
    yield c(
        "tiff_lzw",
        "raster",
        "LZW-compressed TIFF",
        "lzw.tif",
        lambda: _pillow_array(_gradient(64, 64, 3), "TIFF", compression="tiff_lzw"),
        ACCEPTED,
    )
    yield c(
        "tiff_truncated",
        "raster",
        "TIFF cut in half",
        "cut.tif",
        lambda: (lambda d: d[: len(d) // 2])(_pillow_array(rng.integers(0, 256, (64, 64), dtype=np.uint8), "TIFF")),
        "corrupt or truncated",
    )
    yield c(
        "tiff_30000_wide",
        "raster",
        "TIFF declaring 30000x3000",
        "wide.tif",
        lambda: _tiff_header_only(30000, 3000),
        "longer than the 20000-pixel limit",
    )
    yield c("bmp", "raster", "BMP", "a.bmp", lambda: _pillow_array(_gradient(64, 64, 3), "BMP"), ACCEPTED)
    yield c(
        "bmp_truncated",
        "raster",
        "BMP cut in half",
        "cut.bmp",
        lambda: (lambda d: d[: len(d) // 2])(_pillow_array(_gradient(64, 64, 3), "BMP")),
        "corrupt or truncated",
    )
    yield c(
        "bmp_30000x2000",
        "raster",
        "BMP declaring 30000x2000",
        "wide.bmp",
        lambda: _bmp_header_only(30000, 2000),
        "longer than the 20000-pixel limit",
    )
    yield c(
        "bmp_8000x7999_empty",
        "raster",
        "BMP declaring 8000x7999, no pixels",
        "empty.bmp",
        lambda: _bmp_header_only(8000, 7999),
        "corrupt or truncated",
    )
    # ---- DICOM
    ct = VOLUME[..., 0].astype(np.int16) * 4 - 500
    yield c(
        "dicom_ct", "DICOM", "CT slice with rescale", "ct.dcm", lambda: _dicom(ct, slope=1, intercept=-1024), ACCEPTED
    )
    yield c(
        "dicom_tiff_preamble",
        "DICOM",
        "DICOM with a TIFF header in its preamble",
        "dual.dcm",
        lambda: _tiff_preamble(_dicom(ct)),
        ACCEPTED,
    )
    yield c(
        "dicom_tiff_preamble_tif",
        "DICOM",
        "the same, named .tif",
        "dual.tif",
        lambda: _tiff_preamble(_dicom(ct)),
        ACCEPTED,
    )
    yield c(
        "pydicom_ct_small",
        "DICOM",
        "pydicom's CT_small.dcm",
        "CT_small.dcm",
        lambda: _pydicom_file("CT_small.dcm"),
        ACCEPTED,
    )
    yield c(
        "pydicom_mr_small",
        "DICOM",
        "pydicom's MR_small.dcm",
        "MR_small.dcm",
        lambda: _pydicom_file("MR_small.dcm"),
        ACCEPTED,
    )
    yield c(
        "pydicom_ct_small_tif",
        "DICOM",
        "CT_small.dcm renamed .tif",
        "CT_small.tif",
        lambda: _pydicom_file("CT_small.dcm"),
        ACCEPTED,
    )
    frames = np.stack([np.full((32, 32), 10 * k, np.uint16) for k in range(5)])
    yield c(
        "dicom_multiframe",
        "DICOM",
        "5-frame MR",
        "mf.dcm",
        lambda: _dicom(frames + _gradient(32, 32), modality="MR"),
        ACCEPTED,
        says="frame 2 is shown",
    )
    yield c(
        "dicom_frame_4",
        "DICOM",
        "5-frame MR, frame=4",
        "mf.dcm",
        lambda: _dicom(frames + _gradient(32, 32), modality="MR"),
        ACCEPTED,
        says="frame 4 is shown",
        options={"frame": 4},
    )
    yield c(
        "dicom_frame_7",
        "DICOM",
        "5-frame MR, frame=7",
        "mf.dcm",
        lambda: _dicom(frames, modality="MR"),
        "frame 7 does not exist",
        options={"frame": 7},
    )
    yield c(
        "dicom_constant",
        "DICOM",
        "CT slice, all -1024 HU",
        "air.dcm",
        lambda: _dicom(np.zeros((64, 64), np.int16), slope=1, intercept=-1024),
        ACCEPTED,
        says="-1024",
    )
    yield c(
        "dicom_monochrome1",
        "DICOM",
        "MONOCHROME1 CR",
        "cr.dcm",
        lambda: _dicom(_gradient(64, 64).astype(np.uint16), modality="CR", photometric="MONOCHROME1"),
        ACCEPTED,
    )
    yield c("dicom_rgb", "DICOM", "RGB secondary capture", "rgb.dcm", lambda: _dicom_rgb(), ACCEPTED)
    yield c(
        "dicom_no_pixels",
        "DICOM",
        "CT image object without pixel data",
        "stripped.dcm",
        lambda: _dicom(None),
        "has no pixel data (7FE0,0010)",
    )
    yield c(
        "dicom_sr",
        "DICOM",
        "structured report",
        "report.dcm",
        lambda: _dicom_object("1.2.840.10008.5.1.4.1.1.88.11", Modality="SR"),
        "carries no image",
    )
    yield c(
        "dicomdir",
        "DICOM",
        "DICOMDIR-like index",
        "DICOMDIR",
        lambda: _dicom_object("1.2.840.10008.1.3.10"),
        "this is a DICOMDIR",
    )
    yield c(
        "dicom_cut_in_meta",
        "DICOM",
        "cut inside the file meta",
        "cut.dcm",
        lambda: (lambda d: d[: _meta_end(d) - 10])(_dicom(ct)),
        "truncated",
    )
    yield c(
        "dicom_cut_in_header",
        "DICOM",
        "cut inside the data set, before the pixels",
        "cut.dcm",
        lambda: (lambda d: d[: _meta_end(d) + 60])(_dicom(ct)),
        "cut short",
    )
    yield c(
        "dicom_cut_in_pixels",
        "DICOM",
        "cut inside the pixel data",
        "cut.dcm",
        lambda: (lambda d: d[: len(d) - 300])(_dicom(ct, slope=1, intercept=0)),
        "corrupt or truncated",
    )
    yield c(
        "dicom_preamble_only",
        "DICOM",
        "preamble and 'DICM', nothing else",
        "empty.dcm",
        lambda: bytes(128) + b"DICM",
        "DICOM",
    )
    yield c(
        "dicom_without_marker",
        "DICOM",
        "data set without preamble",
        "raw.dcm",
        lambda: b"\x08\x00\x05\x00CS\x0a\x00ISO_IR 100" + bytes(200),
        "'DICM' marker",
    )
    yield c(
        "dicom_pixels_too_long",
        "DICOM",
        "4 frames of pixels, no NumberOfFrames",
        "long.dcm",
        lambda: _edit_dicom(_dicom(np.zeros((4, 32, 32), np.int16)), lambda ds: delattr(ds, "NumberOfFrames")),
        "4 frames' worth",
    )
    yield c(
        "dicom_frames_claimed",
        "DICOM",
        "NumberOfFrames 1000000, one frame of pixels",
        "frames.dcm",
        lambda: _edit_dicom(_dicom(np.zeros((32, 32), np.int16)), lambda ds: setattr(ds, "NumberOfFrames", 1000000)),
        "corrupt or truncated",
    )
    yield c(
        "dicom_rows_60000",
        "DICOM",
        "Rows = Columns = 60000, tiny pixel data",
        "huge.dcm",
        lambda: _edit_dicom(_dicom(np.zeros((32, 32), np.int16)), _huge_rows),
        "longer than the 20000-pixel limit",
    )
    yield c(
        "dicom_no_rows",
        "DICOM",
        "pixel data without Rows",
        "norows.dcm",
        lambda: _edit_dicom(_dicom(np.zeros((32, 32), np.int16)), lambda ds: delattr(ds, "Rows")),
        "lacks a valid image size",
    )
    yield c(
        "dicom_private_ts",
        "DICOM",
        "private transfer syntax",
        "private.dcm",
        lambda: _private_ts(),
        "private or unknown",
    )
    yield c(
        "dicom_no_decoder",
        "DICOM",
        "JPEG-LS without a decoder",
        "jls.dcm",
        lambda: _no_decoder(),
        "no installed decoder handles it",
    )
    yield c(
        "dicom_12bit_jpeg",
        "DICOM",
        "12-bit JPEG (pydicom's JPGExtended.dcm)",
        "JPGExtended.dcm",
        lambda: _pydicom_file("JPGExtended.dcm"),
        "cannot decode this variant",
    )
    yield c(
        "dicom_corrupt_j2k",
        "DICOM",
        "JPEG 2000 pixel data of zeros",
        "j2k.dcm",
        lambda: _corrupt_j2k(),
        "cannot decode the pixel data",
    )
    yield c(
        "dicom_float64_huge",
        "DICOM",
        "Double Float Pixel Data of 1e300",
        "f64.dcm",
        lambda: _dicom_float64(),
        "beyond the float32 range",
    )
    yield c(
        "dicom_j2k_36mp",
        "DICOM",
        "6000x6000 16-bit JPEG 2000 (36 MP)",
        "big.dcm",
        lambda: _big_j2k(6000),
        ACCEPTED,
        heavy=True,
    )
    yield c(
        "dicom_j2k_64mp",
        "DICOM",
        "8000x8000 16-bit JPEG 2000 (64 MP, 200 kB)",
        "big.dcm",
        lambda: _big_j2k(8000),
        "would need 366.2 MB, above the 256 MB limit",
        heavy=True,
    )
    # ---- NIfTI
    yield c(
        "nifti_3d",
        "NIfTI",
        "3-D volume",
        "v.nii.gz",
        lambda: _nifti(VOLUME, gz=True),
        ACCEPTED,
        says="axial slice 9 (of 0-17) is shown",
    )
    yield c(
        "nifti_sagittal",
        "NIfTI",
        "3-D, axis=sagittal, slice 3",
        "v.nii.gz",
        lambda: _nifti(VOLUME, gz=True),
        ACCEPTED,
        says="sagittal slice 3",
        options={"axis": "sagittal", "slice_index": 3},
    )
    yield c(
        "nifti_thin_axial",
        "NIfTI",
        "6x40x30: axial slices 6 px high",
        "thin.nii",
        lambda: _nifti(VOLUME.reshape(-1)[: 6 * 40 * 30].reshape(6, 40, 30)),
        ACCEPTED,
        says="sagittal slice 3 (of 0-5)",
    )
    yield c("nifti_2d", "NIfTI", "2-D image", "p.nii", lambda: _nifti(VOLUME[..., 0]), ACCEPTED)
    four = np.stack([VOLUME + 50 * v for v in range(5)], axis=-1)
    yield c(
        "nifti_4d",
        "NIfTI",
        "4-D, 5 volumes",
        "bold.nii.gz",
        lambda: _nifti(four, gz=True),
        ACCEPTED,
        says="volume 0 (of 0-4)",
    )
    yield c(
        "nifti_4d_volume_2",
        "NIfTI",
        "4-D, volume=2",
        "bold.nii.gz",
        lambda: _nifti(four, gz=True),
        ACCEPTED,
        says="volume 2 (of 0-4)",
        options={"volume": 2},
    )
    yield c(
        "nifti_volume_9",
        "NIfTI",
        "4-D, volume=9",
        "bold.nii.gz",
        lambda: _nifti(four, gz=True),
        "volume 9 does not exist",
        options={"volume": 9},
    )
    yield c(
        "nifti_slice_99",
        "NIfTI",
        "3-D, slice_index=99",
        "v.nii",
        lambda: _nifti(VOLUME),
        "slice 99 does not exist",
        options={"slice_index": 99},
    )
    yield c(
        "nifti_bad_axis",
        "NIfTI",
        "3-D, axis='oblique'",
        "v.nii",
        lambda: _nifti(VOLUME),
        "unknown slicing axis",
        options={"axis": "oblique"},
    )
    yield c("nifti_rgb24", "NIfTI", "RGB24 voxels", "rgb.nii", lambda: _nifti(_rgb24()), ACCEPTED)
    yield c(
        "nifti_zero_sform",
        "NIfTI",
        "all-zero sform, no qform",
        "z.nii",
        lambda: _nifti(VOLUME, edit=_zero_sform),
        ACCEPTED,
        says="degenerate",
    )
    yield c("nifti_scaled", "NIfTI", "int16 with scl_slope 2", "s.nii", lambda: _nifti(VOLUME, edit=_slope2), ACCEPTED)
    yield c(
        "nifti_constant",
        "NIfTI",
        "all-zero volume",
        "zero.nii",
        lambda: _nifti(np.zeros((20, 20, 5), np.int16)),
        ACCEPTED,
        says="has the value 0",
    )
    yield c("nifti2", "NIfTI", "NIfTI-2", "v2.nii", lambda: _nifti2(VOLUME), ACCEPTED)
    yield c(
        "nifti_f64_huge",
        "NIfTI",
        "float64 values of 1e300",
        "big.nii",
        lambda: _nifti(np.full((20, 20, 5), 1e300)),
        "beyond the float32 range",
    )
    yield c(
        "nifti_dim0",
        "NIfTI",
        "dim[0] = 0",
        "d0.nii",
        lambda: _set_header_int16(_nifti(VOLUME), 40, 0),
        "declares no dimensions (dim[0] = 0)",
    )
    yield c(
        "nifti_dim_zero",
        "NIfTI",
        "dim[2] = 0",
        "d2.nii",
        lambda: _set_header_int16(_nifti(VOLUME), 44, 0),
        "dimension of size 0",
    )
    yield c("nifti_nan", "NIfTI", "NaN voxel in the slice", "nan.nii", lambda: _nifti(_with_nan_volume()), "1 NaN")
    yield c("nifti_inf", "NIfTI", "inf voxel in the slice", "inf.nii", lambda: _nifti(_with_inf_volume()), "1 infinite")
    yield c(
        "nifti_complex",
        "NIfTI",
        "complex64 voxels",
        "k.nii",
        lambda: _nifti(VOLUME.astype(np.complex64)),
        "complex numbers",
    )
    yield c(
        "nifti_5d",
        "NIfTI",
        "5-D (10, 10, 5, 2, 3)",
        "five.nii",
        lambda: _nifti(np.zeros((10, 10, 5, 2, 3), np.int16)),
        "5 dimensions",
    )
    yield c(
        "nifti_1d",
        "NIfTI",
        "1-D (100,)",
        "line.nii",
        lambda: _nifti(np.arange(100, dtype=np.int16)),
        "pixels. The smallest accepted size",
    )
    yield c(
        "nifti_strip",
        "NIfTI",
        "slices of 16x400",
        "strip.nii",
        lambda: _nifti(np.ones((16, 400, 3), np.int16)),
        "aspect ratio of 25:1",
    )
    yield c("nifti_cifti", "NIfTI", "CIFTI-2 dense connectivity", "x.dconn.nii", lambda: _cifti(), "CIFTI-2")
    yield c("nifti_pair", "NIfTI", "Analyze/NIfTI pair header", "pair.hdr", lambda: _pair_header(), ".hdr/.img pair")
    yield c(
        "nifti_header_32gb",
        "NIfTI",
        "header declaring 2000^3 float32, no voxels",
        "claim.nii",
        lambda: _nifti_header_only((2000, 2000, 2000)),
        "above the 256 MB limit",
    )
    yield c(
        "nifti_header_300mb",
        "NIfTI",
        "header declaring 300 MB, no voxels",
        "claim.nii",
        lambda: _nifti_header_only((640, 640, 384), np.int16),
        "above the 256 MB limit",
    )
    cut = _nifti(np.random.default_rng(3).normal(size=(40, 40, 40)).astype(np.float32), gz=True)
    yield c(
        "nifti_gz_cut_2_3", "NIfTI", ".nii.gz cut at 2/3", "cut.nii.gz", lambda: cut[: len(cut) * 2 // 3], "truncated"
    )
    yield c(
        "nifti_gz_cut_half", "NIfTI", ".nii.gz cut in half", "cut.nii.gz", lambda: cut[: len(cut) // 2], "truncated"
    )
    yield c(
        "nifti_gz_corrupt",
        "NIfTI",
        ".nii.gz, bytes flipped mid-stream",
        "flip.nii.gz",
        lambda: _flip_middle(cut),
        "gzip data is corrupt",
    )
    yield c("nifti_gz_bad_crc", "NIfTI", ".nii.gz with a wrong CRC-32", "crc.nii.gz", lambda: _bad_crc(cut), "CRC")
    yield c(
        "nifti_gz_trailing_300mb",
        "NIfTI",
        ".nii.gz with 300 MB of zeros after the voxels",
        "bomb.nii.gz",
        lambda: _gzip_with_trailing_zeros(_nifti(VOLUME), 300 * 1024 * 1024),
        "longer than",
    )
    yield c(
        "nifti_cut_plain",
        "NIfTI",
        ".nii cut at 2/3",
        "cut.nii",
        lambda: (lambda d: d[: len(d) * 2 // 3])(_nifti(VOLUME)),
        "truncated",
    )
    yield c(
        "nifti_512x512x480",
        "NIfTI",
        "512x512x480 int16 CT .nii.gz (240 MB decoded)",
        "ct.nii.gz",
        lambda: _big_volume((512, 512, 480)),
        ACCEPTED,
        says="axial slice 240",
        heavy=True,
    )
    yield c(
        "nifti_512x512x480_sagittal",
        "NIfTI",
        "the same, sagittal slice",
        "ct.nii.gz",
        lambda: _big_volume((512, 512, 480)),
        ACCEPTED,
        says="sagittal slice",
        options={"axis": "sagittal"},
        heavy=True,
    )


# ---- builders of single cases


def _gif() -> bytes:
    from PIL import Image

    return _pillow(Image.fromarray(GREY), "GIF")


def _zip(member: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.png", member)
    return buf.getvalue()


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def _pillow_array(array: np.ndarray, fmt: str, **save: Any) -> bytes:
    from PIL import Image

    return _pillow(Image.fromarray(np.asarray(array)), fmt, **save)


def _palette_png() -> bytes:
    from PIL import Image

    return _pillow(Image.fromarray(_gradient(64, 64, 3)).convert("P"), "PNG")


def _one_bit_png() -> bytes:
    from PIL import Image

    return _pillow(Image.fromarray(GREY > 7), "PNG")


def _png_text_bomb() -> bytes:
    """A valid 64x64 PNG with a zTXt chunk that inflates to 64 MB."""
    text = b"comment\x00\x00" + zlib.compress(bytes(64 * 1024 * 1024), 9)
    data = png_bytes(GREY)
    return data[:33] + _chunk(b"zTXt", text) + data[33:]


def _cmyk_jpeg() -> bytes:
    from PIL import Image

    return _pillow(Image.fromarray(_gradient(64, 64, 3)).convert("CMYK"), "JPEG")


def _rotated_jpeg() -> bytes:
    from PIL import Image

    image = Image.fromarray(_gradient(48, 64, 3))
    exif = image.getexif()
    exif[0x0112] = 6
    return _pillow(image, "JPEG", exif=exif)


def _with_nan() -> np.ndarray:
    a = GREY.astype(np.float32)
    a[3, 3] = np.nan
    return a


def _with_nan_volume() -> np.ndarray:
    v = np.zeros((20, 20, 5), np.float32)
    v[3, 3, 2] = np.nan
    return v


def _with_inf_volume() -> np.ndarray:
    v = np.zeros((20, 20, 5), np.float32)
    v[3, 3, 2] = np.inf
    return v


def _tiff_preamble(data: bytes) -> bytes:
    """The DICOM file with a little-endian TIFF header at the start of its 128-byte preamble (PS3.10 7.1)."""
    return b"II*\x00" + struct.pack("<I", 8) + data[8:]


def _dicom_rgb() -> bytes:
    from pydicom.uid import SecondaryCaptureImageStorage

    rgb = _gradient(48, 64, 3)
    return _dicom_object(
        SecondaryCaptureImageStorage,
        Modality="OT",
        Rows=48,
        Columns=64,
        SamplesPerPixel=3,
        PhotometricInterpretation="RGB",
        PlanarConfiguration=0,
        BitsAllocated=8,
        BitsStored=8,
        HighBit=7,
        PixelRepresentation=0,
        PixelData=rgb.tobytes(),
    )


def _dicom_float64() -> bytes:
    from pydicom.uid import SecondaryCaptureImageStorage

    return _dicom_object(
        SecondaryCaptureImageStorage,
        Modality="OT",
        Rows=32,
        Columns=32,
        SamplesPerPixel=1,
        PhotometricInterpretation="MONOCHROME2",
        BitsAllocated=64,
        DoubleFloatPixelData=np.full((32, 32), 1e300).tobytes(),
    )


def _huge_rows(ds: Any) -> None:
    ds.Rows = 60000
    ds.Columns = 60000


def _private_ts() -> bytes:
    def edit(ds: Any) -> None:
        ds.file_meta.TransferSyntaxUID = "1.2.826.0.1.3680043.9.9999.1"  # a private UID, no DICOM transfer syntax

    return _edit_dicom(_dicom(np.zeros((32, 32), np.int16)), edit, implicit_vr=False, little_endian=True)


def _no_decoder() -> bytes | None:
    ts = unreadable_transfer_syntax()
    if ts is None:
        return None
    return _dicom(np.zeros((32, 32), np.int16), transfer_syntax=ts, encapsulated=b"\xff\xd8\xff\xf7" + bytes(64))


def _corrupt_j2k() -> bytes:
    from pydicom.uid import JPEG2000Lossless

    return _dicom(np.zeros((32, 32), np.int16), transfer_syntax=JPEG2000Lossless, encapsulated=bytes(64))


def _big_j2k(side: int) -> bytes:
    """A ``side`` x ``side`` 16-bit MR frame compressed as lossless JPEG 2000 (Pillow/OpenJPEG), in DICOM."""
    from PIL import Image
    from pydicom.uid import JPEG2000Lossless

    pixels = ((np.arange(side)[:, None] + np.arange(side)[None, :]) % 4096).astype(np.uint16)
    stream = _pillow(Image.fromarray(pixels), "JPEG2000", irreversible=False, no_jp2=True)
    return _dicom(pixels, modality="MR", transfer_syntax=JPEG2000Lossless, encapsulated=stream)


def _rgb24() -> np.ndarray:
    rgb = np.zeros((20, 24, 5), dtype=[("R", "u1"), ("G", "u1"), ("B", "u1")])
    rgb["R"] = VOLUME[..., :5] % 256
    rgb["G"] = 255 - VOLUME[..., :5] % 256
    return rgb


def _zero_sform(img: Any) -> None:
    img.set_sform(np.zeros((4, 4)), code=1)
    img.set_qform(None, code=0)


def _slope2(img: Any) -> None:
    img.header.set_slope_inter(2.0, -10.0)


def _nifti2(array: np.ndarray) -> bytes:
    import nibabel as nib

    return nib.Nifti2Image(array, np.eye(4)).to_bytes()


def _cifti() -> bytes:
    def edit(img: Any) -> None:
        img.header["intent_code"] = 3001  # NIFTI_INTENT_CONNECTIVITY_DENSE

    return _nifti(np.zeros((1, 1, 1, 1, 10, 10), np.float32), edit=edit)


def _pair_header() -> bytes:
    import nibabel as nib

    return nib.Nifti1Pair(np.zeros((20, 20, 3), np.int16), np.eye(4)).header.binaryblock


def _bad_crc(gz: bytes) -> bytes:
    out = bytearray(gz)
    out[-8:-4] = struct.pack("<I", zlib.crc32(b"other") & 0xFFFFFFFF)
    return bytes(out)


def _big_volume(shape: tuple[int, int, int]) -> bytes:
    """A CT-like int16 volume (air around a body of soft tissue) as .nii.gz, written slice by slice."""
    import nibabel as nib

    header = nib.Nifti1Header()
    header.set_data_shape(shape)
    header.set_data_dtype(np.int16)
    header.set_sform(np.eye(4), code=1)
    header.set_qform(np.eye(4), code=1)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    body = np.where((yy - shape[0] / 2) ** 2 + (xx - shape[1] / 2) ** 2 < (shape[0] / 3) ** 2, 40, -1000)
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=1) as out:
        out.write(header.binaryblock + b"\x00" * 4)
        for z in range(shape[2]):
            out.write((body + (z % 50)).astype("<i2").T.tobytes())  # Fortran order: x fastest
    return buf.getvalue()


def corpus(*, heavy: bool = True) -> list[Case]:
    """Every kind of malformed or edge-case upload (:class:`Case`), the heavy ones only if ``heavy``."""
    cases = [case for case in _cases() if heavy or not case.heavy]
    kinds = [case.kind for case in cases]
    assert len(kinds) == len(set(kinds)), "case kinds must be unique"
    return cases


# --------------------------------------------------------------------------------------------------
# The sample files that ship with pydicom and nibabel
# --------------------------------------------------------------------------------------------------

#: (glob on the path relative to the package's data folder, fragment of the refusal); files no pattern
#: matches hold an image and must be accepted. The first matching pattern counts.
REAL_FILE_REFUSALS: tuple[tuple[str, str], ...] = (
    # pydicom: objects without pixel data, or whose pixels were removed for the tests
    ("*DICOMDIR*", "this is a DICOMDIR"),
    ("*dicomdirtests/*/IM*", "has no pixel data (7FE0,0010)"),
    ("*UN_sequence.dcm", "has no pixel data (7FE0,0010)"),
    ("*no_meta_group_length.dcm", "has no pixel data (7FE0,0010)"),
    ("test_files/priv_SQ.dcm", "has no pixel data (7FE0,0010)"),
    ("*csa_slice_norm.dcm", "has no pixel data (7FE0,0010)"),
    ("charset_files/chrJapMulti*.dcm", "has no pixel data (7FE0,0010)"),
    ("charset_files/chrKoreanMulti.dcm", "has no pixel data (7FE0,0010)"),
    ("charset_files/chrSQEncoding*.dcm", "has no pixel data (7FE0,0010)"),
    ("palettes/*.dcm", "carries no image"),  # Color Palette Storage: a colour lookup table
    ("*nested_priv_SQ.dcm", "lacks a valid image size"),
    ("*meta_missing_tsyntax.dcm", "lacks a valid image size"),
    ("*badVR.dcm", "lacks a valid image size"),
    ("*empty_charset_LEI.dcm", "names no SOP class"),
    ("*reportsi*.dcm", "carries no image"),
    ("*rtplan*.dcm", "carries no image"),
    ("*test-SR.dcm", "carries no image"),
    ("*waveform_ecg.dcm", "carries no image"),
    ("*ExplVR_*NoMeta.dcm", "'DICM' marker"),
    ("*no_meta.dcm", "'DICM' marker"),
    ("*rtstruct.dcm", "'DICM' marker"),
    # pydicom: images the installed decoders cannot decode (no JPEG-LS / 12-bit JPEG plugin here)
    ("*JPEGLSNearLossless_*.dcm", "no installed decoder handles it"),
    ("*jpeg_ls*.dcm", "no installed decoder handles it"),
    ("*SC_rgb_jls_*.dcm", "no installed decoder handles it"),
    ("*SC_rgb_jpeg_gdcm.dcm", "no installed decoder handles it"),
    ("*JPEG-lossy.dcm", "cannot decode this variant"),
    ("*JPGExtended.dcm", "cannot decode this variant"),
    ("*GDCMJ2K_TextGBR.dcm", "cannot decode the pixel data"),
    ("*JPEG2000-embedded-sequence-delimiter.dcm", "cannot decode the pixel data"),
    # pydicom: files that are broken or too small on purpose
    ("*MR_truncated.dcm", "corrupt or truncated"),
    ("*SC_rgb_small_odd*.dcm", "only 3x3 pixels"),
    ("*rtdose*.dcm", "only 10x10 pixels"),
    ("*zipMR.gz", "gzip-compressed DICOM"),
    ("*.dcm.gz", "gzip-compressed DICOM"),
    ("*crayons.icc", "unknown or corrupt file format"),
    # nibabel: formats the toolkit does not read, with the conversion to use
    ("*.PAR", "PAR/REC files are not supported"),
    ("*.REC", "PAR/REC files are not supported"),
    ("*.mnc", "MINC files are not supported"),
    ("*.HEAD", "AFNI BRIK/HEAD files are not supported"),
    ("*.BRIK*", "AFNI BRIK/HEAD files are not supported"),
    ("*.trk", "streamline"),
    ("*.tck", "streamline"),
    ("*.gii.bz2", "bzip2-compressed"),
    ("*.gii*", "GIFTI surface"),
    ("*.hdr", ".hdr/.img pair"),
    ("*.mgz", "FreeSurfer MGH/MGZ"),
    ("*.v", "ECAT"),
    ("*.nc", "NetCDF"),
    ("*.bin", "unknown or corrupt file format"),
    ("*.bin.gz", "a gzip file that does not contain a NIfTI image"),
    ("*.dat", "unknown or corrupt file format"),
    ("*.dconn.nii", "CIFTI-2"),
    ("*standard.nii.gz", "only 4x5 pixels"),
    ("*resampled_anat_moved.nii", "40 NaN"),  # NaN outside the resampled field of view: NaN is refused
)
#: file endings that are source code or documentation, not sample data.
_NOT_DATA = (".py", ".pyc", ".m", ".rst", ".txt", ".md", ".json", ".dump", ".gitignore", ".sh")


def real_files() -> list[tuple[str, str, Path, str]]:
    """``(package, relative path, path, expected)`` for each sample data file of the installed pydicom and
    nibabel (``expected``: :data:`ACCEPTED` or a refusal fragment of :data:`REAL_FILE_REFUSALS`); the
    path is relative to ``pydicom/data`` or to the ``nibabel`` package.

    pydicom: ``pydicom/data/test_files`` (recursively), ``charset_files`` and ``palettes``;
    nibabel: every ``tests/data`` folder. nilearn is not a dependency, so its data are not listed.
    """
    import nibabel
    import pydicom

    packages = {"pydicom": Path(pydicom.__file__).parent, "nibabel": Path(nibabel.__file__).parent}
    roots = [("pydicom", packages["pydicom"] / "data" / d) for d in ("test_files", "charset_files", "palettes")]
    roots += [("nibabel", p) for p in sorted(packages["nibabel"].glob("**/tests/data"))]
    out = []
    for package, root in roots:
        base = packages[package] / "data" if package == "pydicom" else packages[package]
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(base).as_posix()
            if not path.is_file() or "__pycache__" in rel or path.name.lower().startswith("readme"):
                continue
            if path.name.lower().endswith(_NOT_DATA):
                continue
            expected = next((frag for pattern, frag in REAL_FILE_REFUSALS if fnmatch.fnmatch(rel, pattern)), ACCEPTED)
            out.append((package, rel, path, expected))
    return out
