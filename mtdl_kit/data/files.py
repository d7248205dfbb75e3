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

Step 1 lives in :mod:`mtdl_kit.data.readers` (``common``, ``raster``, ``dicom``, ``nifti``, ``raw``),
step 2 in :mod:`mtdl_kit.data.preprocess`, masks in :mod:`mtdl_kit.data.masks` and task/label
handling in :mod:`mtdl_kit.data.tasks`; this module holds step 3. Import the public names from
:mod:`mtdl_kit.data`.

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
MONOCHROME1, orientation, frame selection) these modules make explicit and tests.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mtdl_kit.data.masks import check_same_plane, read_mask
from mtdl_kit.data.preprocess import default_window, prepare_image, resolve_intensity
from mtdl_kit.data.readers.common import (
    LABEL_KINDS,
    MAX_DECODED_BYTES,
    MAX_FILE_BYTES,
    MAX_UPLOAD_DECODED_BYTES,
    DataError,
    RawImage,
    check_file_name,
    display_name,
    format_bytes,
    sniff_format,
)
from mtdl_kit.data.readers.raw import plane_choices, read_raw
from mtdl_kit.data.tasks import label_target, resolve_tasks
from mtdl_kit.regions.base import Region, Sample, TaskSpec


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
    max_decoded: int = MAX_DECODED_BYTES,
) -> Sample:
    """Read an image (and optional masks and labels) into a :class:`Sample` at the region's size and channels.

    A large image is reduced while it is decoded (``read_raw(..., reduce_to=2 * size)``), so the
    cost of a file is bounded by its header; landmarks and masks still refer to the file's pixels.
    ``sample.meta`` holds, besides the header facts, ``"notes"`` (which frame, slice or volume of
    several is shown) and ``"warnings"`` (e.g. a constant, blank image): sentences to show the user.

    Args:
        image: path or bytes of the image.
        region: region name/object (or ``None`` with a custom ``tasks`` list and ``channels``).
        tasks: see :func:`~mtdl_kit.data.tasks.resolve_tasks`.
        channels: input channels (default: the region's).
        masks: segmentation task name -> mask path/bytes (same plane size as the image).
        labels: task name -> target for non-dense tasks: class index, regression values, or
            landmark (K, 2) (row, col) coordinates in the original image's pixels.
        name: display name when ``image`` is bytes.
        size: output side (default: the region's ``default_size``, else 128).
        intensity, rgba, fit: see :func:`prepare_image`.
        mask_values: remapping of stored mask values to class indices (see :func:`read_mask`).
        frame, slice_index, axis, volume, max_bytes, max_decoded: see :func:`read_raw`.

    Raises:
        DataError: for any problem with the files or labels.
    """
    reg, specs, ch = resolve_tasks(region, tasks, channels)
    size = int(size if size is not None else (reg.default_size if reg is not None else 128))
    plane = {"frame": frame, "slice_index": slice_index, "axis": axis, "volume": volume, "max_bytes": max_bytes}
    raw = read_raw(image, name=name, reduce_to=2 * size, max_decoded=max_decoded, **plane)
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
        spacing_mm=geometry.spacing_mm(raw.spacing_mm, fallback),
        meta={
            "source": raw.name,
            "format": raw.format,
            "original_shape": raw.original_shape,
            "reduction": raw.reduction,
            "intensity": resolve_intensity(raw, intensity, region_window=default_window(reg)),
            "geometry": geometry,
            "spacing_from_file": raw.spacing_mm is not None,  # else spacing_mm is the region's, assumed
            **{k: v for k, v in raw.meta.items() if k != "palette_indices"},
            "notes": list(raw.notes),
            "warnings": list(raw.warnings) + _sequence_warnings(reg, raw),
        },
    )


def _sequence_warnings(region: Region | None, raw: RawImage) -> list[str]:
    """A warning when one grey plane feeds a region whose channels are separate sequences (brain: FLAIR, T1, T1c)."""
    if region is None or not region.channel_names:
        return []
    planes = raw.array.shape[-1] if raw.array.ndim == 3 else 1
    if planes >= len(region.channel_names):
        return []
    names = ", ".join(region.channel_names)
    return [
        f"The {region.name} models read {len(region.channel_names)} sequences as channels ({names}); this image has "
        f"one, repeated into all of them, so what needs the others (e.g. enhancement, T1c - T1) is not in it. "
        f"For faithful predictions give a {len(region.channel_names)}-channel image in that order."
    ]


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
    undecodable codec — raises :class:`DataError` whose message can be shown to the user as is.

    Its cost is decided from the header before anything is decoded (plane size, aspect ratio and
    memory; a NIfTI volume's decoded size, at most :data:`MAX_UPLOAD_DECODED_BYTES`), and a large
    image is reduced while decoding, so any upload is answered in seconds with bounded memory.
    A 4-D NIfTI without ``volume`` shows its first volume (and a volume whose axial slices are too
    small, a slice along another axis); ``sample.meta["notes"]`` says which frame, slice or volume
    is shown (:func:`plane_choices` lists the choices) and ``sample.meta["warnings"]`` what looks
    wrong (a blank image, an assumed orientation).

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
        raise DataError(shown, f"expected the uploaded bytes, got {type(data).__name__}", "Pass the file's bytes.")
    if len(data) > MAX_FILE_BYTES:
        raise DataError(
            shown,
            f"the upload is {format_bytes(len(data))}, above the limit of {format_bytes(MAX_FILE_BYTES)}",
            "Downscale the image or export a single slice.",
        )
    data = bytes(data)
    if len(data) and sniff_format(data[:4096], shown) == "NIfTI":  # the header says what can be shown
        choices = plane_choices(data, name=shown, max_bytes=MAX_FILE_BYTES)
        if volume is None:
            volume = choices.default.get("volume")
        if axis == "axial" and slice_index is None and choices.slices and "axial" not in choices.slices:
            axis = choices.default["axis"]  # axial slices too small or thin: the first axis that can be shown
    try:
        return read_sample(
            data,
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
            max_decoded=MAX_UPLOAD_DECODED_BYTES,
        )
    except DataError:
        raise
    except ValueError as exc:  # bad option values (intensity, axis): still the user's choice, still one message
        raise DataError(shown, str(exc).rstrip("."), "Choose one of the values the message lists.") from None
