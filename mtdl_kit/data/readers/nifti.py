"""NIfTI-1/2 through nibabel: one 2-D plane of a volume, reoriented to RAS+ and shown radiologically.

Before a voxel is read, the header decides the cost and the file's integrity: the data shape
(``dim``, NIfTI-1 header field 40) and type give the decoded size, refused above the caller's limit;
the file (or, for ``.nii.gz``, the whole gzip stream, whose CRC-32 is checked: RFC 1952 section
2.3.1) must hold ``vox_offset`` + that many bytes. Only then is the requested plane read, in
slabs of whole axial slices (contiguous in the file's Fortran order), so any axis costs one pass.

A degenerate orientation (an all-zero sform, e.g.) falls back to the qform, then to the voxel
axes scaled by ``pixdim`` ("method 1" of the NIfTI-1 header, ``nifti1.h``), with a warning.
RGB24/RGBA32 voxels (``datatype`` 128 / 2304) are read as 3 / 4 colour channels.
"""

from __future__ import annotations

import contextlib
import gzip
import struct
import zlib
from collections.abc import Iterator
from typing import Any, BinaryIO

import numpy as np

from mtdl_kit.data.readers.common import (
    DECODE_ERRORS,
    MAX_DECODED_BYTES,
    DataError,
    PlaneChoices,
    RawImage,
    Source,
    as_float32,
    box_reduce,
    check_plane,
    error_text,
    format_bytes,
    reduction_factor,
)

AXES = {"sagittal": 0, "coronal": 1, "axial": 2}
#: decompressed bytes beyond ``vox_offset`` + the voxel data that are tolerated (padding, a stray trailer).
_TRAILING_SLACK = 1024 * 1024
#: bytes of voxels read at once when a plane is gathered from slabs of axial slices.
_SLAB_BYTES = 16 * 1024 * 1024
_CHUNK = 1024 * 1024


def _axis_number(axis: str | int, name: str) -> int:
    if isinstance(axis, str) and axis in AXES:
        return AXES[axis]
    if isinstance(axis, int) and not isinstance(axis, bool) and axis in (0, 1, 2):
        return axis
    raise DataError(name, f"unknown slicing axis {axis!r}", f"Choose one of {tuple(AXES)} or 0, 1, 2.")


def _errors() -> tuple[type[BaseException], ...]:
    from nibabel.filebasedimages import ImageFileError
    from nibabel.spatialimages import HeaderDataError, ImageDataError
    from nibabel.wrapstruct import WrapStructError

    return (*DECODE_ERRORS, ImageFileError, HeaderDataError, ImageDataError, WrapStructError)


@contextlib.contextmanager
def _stream(src: Source) -> Iterator[tuple[BinaryIO, bool]]:
    """The file's bytes as a stream (gunzipped for .nii.gz) and whether it is gzipped."""
    with contextlib.ExitStack() as stack:
        fileobj = stack.enter_context(src.open())
        gz = fileobj.read(2) == b"\x1f\x8b"
        fileobj.seek(0)
        yield (stack.enter_context(gzip.GzipFile(fileobj=fileobj, mode="rb")) if gz else fileobj), gz


def _load(src: Source, stream: BinaryIO) -> Any:
    """The nibabel image of ``stream`` (header parsed; voxels behind a proxy, not read)."""
    import nibabel as nib
    from nibabel.fileholders import FileHolder

    try:
        first = stream.read(4)
        stream.seek(0)
        is2 = 540 in (struct.unpack("<i", first)[0], struct.unpack(">i", first)[0])
        klass = nib.Nifti2Image if is2 else nib.Nifti1Image
        holder = FileHolder(fileobj=stream)
        img = klass.from_file_map({"header": holder, "image": holder})
        img.header.get_data_shape()
        img.header.get_data_dtype()
    except _errors() as exc:
        raise DataError(
            src.name, f"cannot read the NIfTI header ({error_text(exc)})", "The file is corrupt or truncated."
        ) from None
    return img


def _checked_shape(src: Source, img: Any) -> tuple[tuple[int, ...], np.dtype]:
    """The data shape (trailing 1s beyond 3-D dropped) and voxel type, refused when they cannot be an image."""
    header = img.header
    ndim = int(header["dim"][0])
    shape = tuple(int(d) for d in header.get_data_shape())
    dtype = header.get_data_dtype()
    if ndim == 0 or not shape:
        raise DataError(
            src.name,
            "the NIfTI header declares no dimensions (dim[0] = 0)",
            "The header is corrupt: save the image again with its data shape, e.g. "
            "nibabel.save(nibabel.Nifti1Image(data, affine), 'x.nii.gz').",
        )
    if any(d <= 0 for d in shape):
        raise DataError(
            src.name,
            f"the NIfTI header declares a dimension of size 0 (shape {shape})",
            "The header is corrupt or the image is empty: save it again with its data shape.",
        )
    intent = int(header["intent_code"])
    if 3000 <= intent < 3100:  # NIFTI_INTENT_CONNECTIVITY_*: CIFTI-2 (grayordinates, matrices)
        raise DataError(
            src.name,
            f"a CIFTI-2 file ({header.get_intent()[0]}: a matrix over brain surface and volume points), not an image",
            "Use a volumetric NIfTI image, or map the CIFTI data to a volume first (e.g. wb_command -cifti-separate).",
        )
    if dtype.kind == "c":
        raise DataError(
            src.name,
            f"the voxels are complex numbers ({dtype})",
            "Save a real-valued image, e.g. the magnitude: nibabel.Nifti1Image(numpy.abs(data), affine).",
        )
    if dtype.fields is not None and set(dtype.names or ()) - {"R", "G", "B", "A"}:
        raise DataError(src.name, f"unsupported structured voxel type {dtype}", "Save grey values or RGB24.")
    while len(shape) > 3 and shape[-1] == 1:
        shape = shape[:-1]
    if len(shape) > 4:
        raise DataError(
            src.name, f"the image has {len(shape)} dimensions {shape}", "Only 2-D, 3-D and 4-D NIfTI are read."
        )
    return shape, dtype


def _check_cost(src: Source, shape: tuple[int, ...], dtype: np.dtype, max_decoded: int) -> int:
    """Refuse a volume whose voxels would need more than ``max_decoded`` bytes; the bytes it needs."""
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if nbytes > max_decoded:
        raise DataError(
            src.name,
            f"the volume {shape} ({dtype}) would need {format_bytes(nbytes)} decoded, above the "
            f"{format_bytes(max_decoded)} limit",
            "Crop or downsample it first, or save only the volume or slices you need.",
        )
    return nbytes


def _check_complete(src: Source, img: Any, gz: bool, nbytes: int) -> None:
    """The file must hold ``vox_offset`` + ``nbytes``; a gzip stream is decompressed in full (CRC-32 checked)."""
    offset = int(getattr(img.dataobj, "offset", 0) or img.header.get_data_offset())  # vox_offset, as read
    expected = offset + nbytes
    if not gz:
        if src.size < expected:
            raise DataError(
                src.name,
                f"the file holds {src.size} bytes but its header declares {expected} ({offset} of header + "
                f"{nbytes} of voxels): it is truncated",
                "Copy or export the complete file again.",
            )
        return
    total = 0
    try:
        with src.open() as raw, gzip.GzipFile(fileobj=raw, mode="rb") as stream:
            while chunk := stream.read(_CHUNK):
                total += len(chunk)
                if total > expected + _TRAILING_SLACK:
                    raise DataError(
                        src.name,
                        f"the decompressed file is longer than the {expected} bytes its header declares",
                        "The header does not describe the data: save the image again with nibabel.",
                    )
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        cut = isinstance(exc, EOFError)
        raise DataError(
            src.name,
            "the gzip data is truncated (it ends before its end-of-stream marker)"
            if cut
            else f"the gzip data is corrupt ({error_text(exc)})",
            "The file was damaged or cut short in transfer: copy or export it again (`gzip -t file.nii.gz` tests a "
            "copy).",
        ) from None
    if total < expected:
        raise DataError(
            src.name,
            f"the decompressed file holds {total} bytes but its header declares {expected} ({offset} of header + "
            f"{nbytes} of voxels): it is truncated",
            "Copy or export the complete file again.",
        )


def _affine(img: Any) -> tuple[np.ndarray, str | None]:
    """A usable voxel-to-world affine and, if the header's best one was degenerate, a warning."""
    affine = np.asarray(img.affine, dtype=np.float64)

    def usable(a: np.ndarray | None) -> bool:
        return a is not None and bool(np.isfinite(a).all()) and np.linalg.matrix_rank(a[:3, :3]) == 3

    if usable(affine):
        return affine, None
    header = img.header
    form = "sform" if int(header["sform_code"]) > 0 else "qform"
    qform = header.get_qform() if int(header["qform_code"]) > 0 else None
    if form == "sform" and usable(qform):
        return np.asarray(qform, np.float64), (
            "The header's sform (orientation) is degenerate; its qform was used to orient the image."
        )
    zooms = [float(z) if np.isfinite(z) and z > 0 else 1.0 for z in header.get_zooms()[:3]]
    zooms += [1.0] * (3 - len(zooms))
    return np.diag([*zooms, 1.0]), (
        f"The header's {form} (orientation) is degenerate, e.g. all zero; the voxel axes are shown as stored, so "
        "left/right and the view may be wrong."
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


def _canonical_axes(affine: np.ndarray) -> tuple[np.ndarray, dict[int, tuple[int, bool]]]:
    """nibabel's orientation of ``affine`` and canonical axis -> (input axis, flipped)."""
    from nibabel.orientations import io_orientation

    ornt = _orientation(io_orientation(affine))
    return ornt, {int(out): (i, ornt[i, 1] < 0) for i, (out, _) in enumerate(ornt)}


def nifti_choices(src: Source) -> PlaneChoices:
    """The slices (per anatomical axis) and volumes of a NIfTI file, from its header."""
    with _stream(src) as (stream, _):
        img = _load(src, stream)
        shape, _ = _checked_shape(src, img)
        affine, _ = _affine(img)
    spatial = shape[:3] + (1,) * (3 - len(shape[:3]))
    _, to_input = _canonical_axes(affine)
    slices: dict[str, int] = {}
    if not any(spatial[a] == 1 for a in range(3)):
        for label in ("axial", "coronal", "sagittal"):  # only axes whose slices can be read
            in_axis = to_input[AXES[label]][0]
            in_plane = [spatial[a] for a in range(3) if a != in_axis]
            try:
                check_plane(src.name, in_plane[0], in_plane[1], itemsize=1, what="slice")
            except DataError:
                continue
            slices[label] = spatial[in_axis]
    volumes = shape[3] if len(shape) == 4 else 1
    default: dict[str, Any] = {}
    if slices:
        axis = next(iter(slices))
        default.update(axis=axis, slice_index=slices[axis] // 2)
    if volumes > 1:
        default["volume"] = 0
    return PlaneChoices(format="NIfTI", shape=shape, volumes=volumes, slices=slices, default=default)


def _read_block(img: Any, shape: tuple[int, ...], in_axis: int, idx: int, volume: int | None) -> np.ndarray:
    """The voxels of slice ``idx`` along input axis ``in_axis`` as a 3-D block (size 1 along that axis).

    Slices along the last spatial axis are contiguous in the file (Fortran order): read at once.
    Others are gathered from slabs of whole slices along that axis, so the file is read once, in
    order, and at most :data:`_SLAB_BYTES` of voxels are held at a time.
    """
    spatial = shape[:3] + (1,) * (3 - len(shape[:3]))
    tail: tuple[Any, ...] = (volume,) if len(shape) == 4 else ()
    if len(shape) < 3:
        return np.asanyarray(img.dataobj[(slice(None),) * len(shape)]).reshape(spatial)
    if in_axis == 2:
        block = np.asanyarray(img.dataobj[(slice(None), slice(None), slice(idx, idx + 1), *tail)])
        return block.reshape((spatial[0], spatial[1], 1))
    per_slice = spatial[0] * spatial[1] * img.header.get_data_dtype().itemsize
    step = max(1, _SLAB_BYTES // max(1, per_slice))
    parts = []
    for z0 in range(0, spatial[2], step):
        slab = np.asanyarray(img.dataobj[(slice(None), slice(None), slice(z0, z0 + step), *tail)])
        parts.append(np.take(slab, [idx], axis=in_axis))
    return np.concatenate(parts, axis=2)


def _plane_values(src: Source, plane: np.ndarray) -> tuple[np.ndarray, int | None]:
    """RGB(A) structured voxels as channels, floats as float32 (refused beyond its range); bits of integer data."""
    if plane.dtype.fields is not None:
        names = [n for n in ("R", "G", "B", "A") if n in (plane.dtype.names or ())]
        return np.stack([np.asarray(plane[n]) for n in names], axis=-1).astype(np.uint8), 8
    if plane.dtype.kind == "f":
        return as_float32(src.name, plane), None
    bits = {1: 8, 2: 16, 4: 32}.get(plane.dtype.itemsize) if plane.dtype.kind in "ui" else None
    return plane, bits


def read_nifti(
    src: Source,
    slice_index: int | None,
    axis: str | int,
    volume: int | None,
    max_pixels: int,
    reduce_to: int | None = None,
    max_decoded: int = MAX_DECODED_BYTES,
) -> RawImage:
    """One 2-D slice of a NIfTI-1/2 file (nibabel, plain or gzipped), in the closest RAS+ orientation.

    Args:
        src: the file.
        slice_index: slice along ``axis`` after reorientation (default the middle one).
        axis: ``"axial"``, ``"coronal"``, ``"sagittal"`` (or 2, 1, 0).
        volume: volume of a 4-D image (required for 4-D; ignored otherwise).
        max_pixels: largest accepted plane.
        reduce_to: box-average a large plane by the largest integer factor that keeps both sides >= this.
        max_decoded: largest accepted volume, in decoded bytes (checked from the header).
    """
    import nibabel as nib

    with _stream(src) as (stream, gz):
        img = _load(src, stream)
        shape, dtype = _checked_shape(src, img)
        nbytes = _check_cost(src, shape, dtype, max_decoded)
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
        affine, warning = _affine(img)
        ornt, to_input = _canonical_axes(affine)
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
        rgb = dtype.fields is not None
        check_plane(
            src.name,
            in_plane[0],
            in_plane[1],
            channels=len(dtype.names or ()) if rgb else 1,
            itemsize=1 if rgb else 8,  # nibabel scales a slice to float64 at worst
            max_pixels=max_pixels,
            what="slice",
        )
        _check_complete(src, img, gz, nbytes)
        idx = n - 1 - k if flipped else k
        try:
            block = _read_block(img, shape, in_axis, idx, volume)
        except _errors() as exc:
            raise DataError(
                src.name, f"cannot read the voxel data ({error_text(exc)})", "The file is corrupt or truncated."
            ) from None
    from nibabel.orientations import apply_orientation

    canonical = apply_orientation(block, ornt)
    plane = np.take(canonical, 0, axis=canonical_axis)
    plane = np.ascontiguousarray(np.flip(plane.T, (0, 1)))
    plane, bits = _plane_values(src, plane)
    factor = reduction_factor(plane.shape[0], plane.shape[1], reduce_to)
    file_shape = (int(plane.shape[0]), int(plane.shape[1]))
    plane = box_reduce(plane, factor)
    zooms = [float(z) for z in img.header.get_zooms()[:3]] + [1.0] * (3 - len(shape[:3]))
    canon_zooms = [zooms[to_input[a][0]] for a in range(3)]
    rest = [a for a in range(3) if a != canonical_axis]
    spacing = (canon_zooms[rest[1]], canon_zooms[rest[0]])
    label = _axis_label(canonical_axis)
    notes = []
    dims = "x".join(str(d) for d in spatial)
    if len(shape) == 4:
        where = f"volume {volume} (of 0-{shape[3] - 1})" + ("" if singleton else f", {label} slice {k} (of 0-{n - 1})")
        notes.append(f"This 4-D image has {shape[3]} volumes of {dims} voxels; {where} is shown.")
    elif not singleton:
        notes.append(f"This volume is {dims} voxels; {label} slice {k} (of 0-{n - 1}) is shown.")
    return RawImage(
        array=plane,
        format="NIfTI",
        name=src.name,
        bits=bits,
        spacing_mm=spacing if all(s > 0 for s in spacing) else None,
        meta={
            "volume_shape": shape,
            "axis": label,
            "slice": k,
            "volume": volume,
            "orientation": "".join(c or "?" for c in nib.aff2axcodes(affine)),
        },
        notes=notes,
        warnings=[warning] if warning else [],
        reduction=factor,
        file_shape=file_shape if factor > 1 else None,
    )
