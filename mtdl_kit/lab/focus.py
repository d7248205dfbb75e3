"""Inputs cropped around the finding: a diagnostic that tells "where to look" from "what it is".

A case-level label (the abdomen's cyst or metastasis, the lesion's diameter) describes a finding that may
cover a few hundred of an image's 65,536 pixels. A single-task network sees the label and the whole image;
a network trained beside the finding's mask is also told where the finding is. When the first stays at an
image-blind guess and the second learns, the gap may be *localisation* (the label alone does not tell the
encoder where to look) or the label may simply not be readable at this resolution. Training the same
single-task network on a window centred on the finding — an oracle for "where", taken from the ground-truth
mask of every split — separates the two: if it learns, the whole image hid the finding.

The region names its finding (:attr:`~mtdl_kit.regions.base.Region.finding_mask`: a segmentation task and the
classes that make up the finding); :class:`FocusCrop` crops every case's image and dense targets to a square
window centred on the centroid of those classes, shifted inside the image at its borders. Experiment G uses it
through :attr:`~mtdl_kit.lab.families.FamiliesConfig.focus_crop` (``bench_families.py --retrain-with
focus_crop=64``). Research and teaching use only — not for clinical use.

References:
    Zhao Y, et al. Multi-task deep learning for medical image computing and analysis: a review. Comput Biol Med
    153:106496 (2023) — the hybrid designs that localise before they classify.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

#: task kinds whose targets are images of the input's size: cropped with it
_DENSE_KINDS = ("segmentation",)
#: task kinds whose targets are positions or images in pixel units: a crop would need to move or rescale them
_UNSUPPORTED_KINDS = ("landmarks", "reconstruction")


def finding_centre(mask: np.ndarray, classes: Sequence[int]) -> tuple[int, int]:
    """The (row, column) centroid, rounded, of the pixels of ``mask`` in ``classes``.

    Raises:
        ValueError: no pixel of ``mask`` is in ``classes`` (the case has no finding to centre on).
    """
    rows, cols = np.nonzero(np.isin(np.asarray(mask), list(classes)))
    if rows.size == 0:
        raise ValueError(
            f"the mask has no pixel of classes {list(classes)}: there is no finding to crop around; "
            "use a region whose every case holds the finding (Region.finding_mask)."
        )
    return round(float(rows.mean())), round(float(cols.mean()))


def crop_window(centre: tuple[int, int], crop: int, size: tuple[int, int]) -> tuple[int, int]:
    """The top-left corner of the ``crop`` × ``crop`` window centred on ``centre``, shifted to lie inside an
    image of ``size`` (rows, columns).

    Raises:
        ValueError: ``crop`` is not positive or larger than the image.
    """
    height, width = size
    if crop <= 0 or crop > min(height, width):
        raise ValueError(f"crop must be between 1 and the image's side ({min(height, width)} px), got {crop}.")
    top = min(max(centre[0] - crop // 2, 0), height - crop)
    left = min(max(centre[1] - crop // 2, 0), width - crop)
    return top, left


class FocusCrop(torch.utils.data.Dataset):
    """A view of ``cases`` in which every image and dense target is cropped to ``crop`` px around the finding.

    Args:
        cases: a dataset of the trainer's dicts (``"image"`` and task targets), holding the finding's mask.
        tasks: the :class:`~mtdl_kit.regions.base.TaskSpec` s of ``cases``' targets.
        finding: ``(segmentation task, classes)`` (:attr:`~mtdl_kit.regions.base.Region.finding_mask`).
        crop: the window's side in pixels.

    Raises:
        ValueError: a target kind the crop cannot carry (landmarks, reconstruction), or a finding task that is
            not one of ``tasks``.
    """

    def __init__(self, cases: Any, tasks: Sequence[Any], finding: tuple[str, tuple[int, ...]], crop: int) -> None:
        unsupported = [t.name for t in tasks if t.kind in _UNSUPPORTED_KINDS]
        if unsupported:
            raise ValueError(
                f"a focus crop cannot carry the targets of {unsupported} (positions or images in pixel units); "
                "give the view classification, regression and segmentation tasks only."
            )
        if finding[0] not in {t.name for t in tasks}:
            raise ValueError(
                f"the finding's mask {finding[0]!r} is not one of the cases' tasks {[t.name for t in tasks]}."
            )
        self.cases = cases
        self.crop = int(crop)
        self.finding = finding
        self.dense = tuple(t.name for t in tasks if t.kind in _DENSE_KINDS)

    def __len__(self) -> int:
        return len(self.cases)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        item = dict(self.cases[index])
        name, classes = self.finding
        if name not in item:
            raise ValueError(f"case {index} has no {name!r} mask to find the finding in (a partially labelled case).")
        image = item["image"]
        top, left = crop_window(finding_centre(item[name].numpy(), classes), self.crop, tuple(image.shape[-2:]))
        window = (slice(top, top + self.crop), slice(left, left + self.crop))
        item["image"] = image[(..., *window)].contiguous()
        for dense in self.dense:
            if dense in item:
                item[dense] = item[dense][window].contiguous()
        return item
