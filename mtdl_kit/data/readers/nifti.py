"""NIfTI-1/2 through nibabel: one 2-D plane of a volume, reoriented to RAS+ and shown radiologically."""

from __future__ import annotations

import contextlib
import gzip
import struct
from typing import Any, BinaryIO

import numpy as np

from mtdl_kit.data.readers.common import (
    DECODE_ERRORS,
    MAX_DECODED_BYTES,
    DataError,
    RawImage,
    Source,
    check_pixels,
    error_text,
)

AXES = {"sagittal": 0, "coronal": 1, "axial": 2}


def _axis_number(axis: str | int, name: str) -> int:
    if isinstance(axis, str) and axis in AXES:
        return AXES[axis]
    if isinstance(axis, int) and not isinstance(axis, bool) and axis in (0, 1, 2):
        return axis
    raise DataError(name, f"unknown slicing axis {axis!r}", f"Choose one of {tuple(AXES)} or 0, 1, 2.")


def read_nifti(src: Source, slice_index: int | None, axis: str | int, volume: int | None, max_pixels: int) -> RawImage:
    """One 2-D slice of a NIfTI-1/2 file (nibabel, plain or gzipped), in the closest RAS+ orientation."""
    with contextlib.ExitStack() as stack:
        fileobj = stack.enter_context(src.open())
        gz = fileobj.read(2) == b"\x1f\x8b"
        fileobj.seek(0)
        stream: BinaryIO = stack.enter_context(gzip.GzipFile(fileobj=fileobj, mode="rb")) if gz else fileobj
        return _read_nifti_stream(src, stream, slice_index, axis, volume, max_pixels)


def _read_nifti_stream(
    src: Source, stream: BinaryIO, slice_index: int | None, axis: str | int, volume: int | None, max_pixels: int
) -> RawImage:
    import nibabel as nib
    from nibabel.filebasedimages import ImageFileError
    from nibabel.fileholders import FileHolder
    from nibabel.orientations import apply_orientation, io_orientation
    from nibabel.spatialimages import HeaderDataError, ImageDataError
    from nibabel.wrapstruct import WrapStructError

    errors = (*DECODE_ERRORS, ImageFileError, HeaderDataError, ImageDataError, WrapStructError)

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
            src.name, f"cannot read the NIfTI header ({error_text(exc)})", "The file is corrupt or truncated."
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
    check_pixels(src.name, in_plane[0], in_plane[1], max_pixels, "slice")
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
            src.name, f"cannot read the voxel data ({error_text(exc)})", "The file is corrupt or truncated."
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
