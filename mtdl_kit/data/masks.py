"""Segmentation masks of class indices: ``read_mask`` (value remapping, refusals, range checks) and
``check_same_plane`` (a mask matches its image)."""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np

from mtdl_kit.data.readers.common import (
    DataError,
    RawImage,
)
from mtdl_kit.data.readers.raw import (
    read_raw,
)


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
            binary mask saved as 0/255, or ``{255: 0, 128: 1, 0: 2}`` for disc/cup masks stored as
            255 background, 128 rim, 0 cup. Stored values not in the mapping keep their value.
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
        # stored values not in the mapping keep their value (so {255: 1} maps a 0/255 mask to 0/1);
        # what is still out of range after the mapping is reported below
        mapped = arr.copy()
        for stored, cls in values.items():
            mapped[arr == int(stored)] = int(cls)
        arr = mapped
    found = np.unique(arr)
    bad = found[(found < 0) | (found >= num_classes)]
    if bad.size:
        hint = f"The segmentation task has {num_classes} classes: indices 0..{num_classes - 1}."
        if set(found.tolist()) <= {0, 255} or set(found.tolist()) <= {0, 1, 255}:
            hint += " Values 0/255 look like a binary mask saved for display: map them with values={255: 1}."
        after = f" after the value mapping {dict(values)}" if values else ""
        raise DataError(
            src_name,
            f"class index {bad[:10].tolist()} out of range (values found{after}: {found[:12].tolist()})",
            hint,
        )
    raw.array = arr
    raw.meta.pop("palette_indices", None)
    return raw


def check_same_plane(image: RawImage, mask: RawImage) -> None:
    """Raise :class:`DataError` unless a mask's plane (and volume, if any) matches its image's."""
    vi, vm = image.meta.get("volume_shape"), mask.meta.get("volume_shape")
    if vi is not None and vm is not None and tuple(vi[:3]) != tuple(vm[:3]):
        raise DataError(
            mask.name, f"the mask volume is {tuple(vm)} but its image {image.name} is {tuple(vi)}", "They must match."
        )
    if image.original_shape != mask.original_shape:
        h, w = mask.original_shape
        hi, wi = image.original_shape
        raise DataError(
            mask.name,
            f"the mask is {h}x{w} pixels but its image {image.name} is {hi}x{wi}",
            "A mask must have exactly the size of its image.",
        )
