"""Is this image like the phantoms the zoo models were trained on? An out-of-distribution check, and what
was done to an image before the models saw it.

The zoo models were trained on one region's phantoms at relatedness 1, without nuisance, at one
size (:attr:`~mtdl_kit.zoo.ZooEntry.image_size`). Whatever else they are shown — a photo, a
grey gradient, a scan from a real scanner — they still answer, confidently. :func:`ood_check`
says when an image is unlike their training data:

1. :func:`image_features`: simple image statistics of the image, resized to
   :data:`FEATURE_SIZE` px: grey-level mean, spread and percentiles, the share of black and white
   pixels, edge and fine-detail energy, the border against the centre, a 4 × 4 grid of mean
   brightness (the layout), and for colour regions the channel means and the colour spread.
2. :func:`fit_reference`: the mean and (ridge-regularised) covariance of these features over
   phantoms of the training split (what the models were trained on), and the **threshold**: 1.5 ×
   the 99th percentile of the Mahalanobis distance over *held-out* phantoms (the validation split,
   at every size the dashboard offers), so held-out phantoms are rarely flagged.
3. :func:`ood_check`: the distance of one image and whether it is above the threshold.

A distance on image statistics catches images of another kind (photos, gradients, other
anatomy, another modality); it cannot tell a label shift (relatedness below 1), which only the
note that the models saw relatedness 1 covers. Mahalanobis distance: Mahalanobis (1936); as an
out-of-distribution score: Lee et al., NeurIPS 2018 (there on network features).

:func:`processing_notes` lists, in plain sentences, what was done to an upload (format, frame,
colour conversion, letterbox, resize, assumed pixel spacing). Research and teaching use only —
not for clinical use.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from mtdl_kit.regions.base import Region, Sample

#: percentile of the held-out phantoms' distances the threshold is built on.
OOD_PERCENTILE = 99.0
#: the threshold is this many times that percentile: image statistics have heavier tails than a
#: Gaussian, and ~100 held-out phantoms pin a 99th percentile down only roughly; non-medical images
#: lie 3-100× above the percentile (measured on every region; tests/services/test_ood.py).
OOD_MARGIN = 1.5
#: phantoms of the training split behind the reference statistics, per region.
N_REFERENCE = 96
#: held-out phantoms (validation split) behind the threshold, per size in :data:`CALIBRATION_SIZES`.
N_CALIBRATION = 32
#: side (px) the image statistics are computed at: coarse enough that the statistics describe the
#: image's kind, not its fine detail, whatever size the image or the models have.
FEATURE_SIZE = 64
#: sizes the reference phantoms are generated at, in turn: the shipped zoo's first size and the dashboard's.
REFERENCE_SIZES = (64, 128)
#: sizes the held-out phantoms are generated at: every size the dashboard offers.
CALIBRATION_SIZES = (64, 128, 256)
#: what the zoo models were trained on, in words (every zoo model: relatedness 1, no nuisance).
TRAINED_ON = "phantoms of this region at relatedness 1, without nuisance"


def _to_size(image: np.ndarray, size: int) -> np.ndarray:
    """(C, H, W) float in [0, 1] resized to (C, size, size): block means when H is a multiple, else bilinear."""
    c, h, w = image.shape
    if (h, w) == (size, size):
        return image.astype(np.float32, copy=False)
    if h == w and h % size == 0:
        f = h // size
        return image.reshape(c, size, f, size, f).mean(axis=(2, 4)).astype(np.float32)
    from PIL import Image

    out = [
        np.asarray(Image.fromarray(ch.astype(np.float32), mode="F").resize((size, size), Image.BILINEAR))
        for ch in image
    ]
    return np.stack(out).astype(np.float32)


def image_features(image: np.ndarray, *, size: int = FEATURE_SIZE) -> np.ndarray:
    """Image statistics of a (C, H, W) image in [0, 1] resized to ``size`` px.

    Returns:
        float64 vector: grey mean, std, 1/10/50/90/99th percentiles, share below 0.05 and above
        0.95, mean absolute gradient and Laplacian, border mean, centre mean, border std, the 16
        means of a 4 × 4 grid; for 3 channels also the three channel means and the colour spread.

    Raises:
        ValueError: not a (C, H, W) array with 1 or 3 channels.
    """
    img = np.asarray(image, dtype=np.float32)
    if img.ndim != 3 or img.shape[0] not in (1, 3):
        raise ValueError(f"image must be (C, H, W) with 1 or 3 channels, got shape {img.shape}.")
    img = np.clip(_to_size(img, size), 0.0, 1.0)
    grey = img.mean(axis=0)
    gy, gx = np.abs(np.diff(grey, axis=0)), np.abs(np.diff(grey, axis=1))
    lap = np.abs(4 * grey[1:-1, 1:-1] - grey[:-2, 1:-1] - grey[2:, 1:-1] - grey[1:-1, :-2] - grey[1:-1, 2:])
    b = max(1, size // 16)
    frame = np.ones_like(grey, dtype=bool)
    frame[b:-b, b:-b] = False
    q = size // 4
    centre = grey[q:-q, q:-q]
    grid = grey[: 4 * q, : 4 * q].reshape(4, q, 4, q).mean(axis=(1, 3)).ravel()
    feats = [
        grey.mean(),
        grey.std(),
        *np.percentile(grey, [1, 10, 50, 90, 99]),
        (grey < 0.05).mean(),
        (grey > 0.95).mean(),
        0.5 * (gy.mean() + gx.mean()),
        lap.mean(),
        grey[frame].mean(),
        centre.mean(),
        grey[frame].std(),
        *grid,
    ]
    if img.shape[0] == 3:
        feats += [*img.mean(axis=(1, 2)), (img - grey[None]).std()]
    return np.asarray(feats, dtype=np.float64)


@dataclass(frozen=True)
class OODReference:
    """Reference statistics of one region: feature mean, inverse covariance and the calibrated threshold.

    Attributes:
        region: region name.
        mean: mean feature vector over the training-split phantoms.
        precision: inverse of the ridge-regularised feature covariance.
        threshold: :data:`OOD_MARGIN` × the :data:`OOD_PERCENTILE` th percentile of held-out phantoms' distances.
        n_reference: training-split phantoms behind ``mean`` and ``precision``.
        n_calibration: held-out phantoms behind ``threshold``.
    """

    region: str
    mean: np.ndarray
    precision: np.ndarray
    threshold: float
    n_reference: int
    n_calibration: int

    def distance(self, image: np.ndarray) -> float:
        """Mahalanobis distance of an image's :func:`image_features` to the reference."""
        d = image_features(image) - self.mean
        return float(np.sqrt(max(0.0, d @ self.precision @ d)))


def fit_reference(
    region: Region,
    *,
    n_reference: int = N_REFERENCE,
    n_calibration: int = N_CALIBRATION,
    percentile: float = OOD_PERCENTILE,
) -> OODReference:
    """Fit the reference on training-split phantoms and calibrate the threshold on validation-split phantoms.

    Training split: seeds ``0 ...`` at :data:`REFERENCE_SIZES` in turn (every image's statistics
    are taken at :data:`FEATURE_SIZE`), relatedness 1, no nuisance, as the zoo was trained. Held
    out: validation-split seeds at each of :data:`CALIBRATION_SIZES`; the threshold is
    :data:`OOD_MARGIN` × their distances' ``percentile``.

    Raises:
        ValueError: too few phantoms for the number of features, or a percentile outside (0, 100].
    """
    from mtdl_kit.data.phantom import SPLIT_OFFSETS

    if not 0 < percentile <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {percentile!r}.")
    train = SPLIT_OFFSETS["train"]
    sizes = REFERENCE_SIZES
    ref = np.stack(
        [image_features(region.sample(train + i, size=sizes[i % len(sizes)]).image) for i in range(n_reference)]
    )
    if n_reference < 2 * ref.shape[1]:
        raise ValueError(
            f"n_reference={n_reference} is too few for {ref.shape[1]} features; use at least {2 * ref.shape[1]}."
        )
    mean = ref.mean(axis=0)
    cov = np.cov(ref, rowvar=False)
    ridge = 1e-3 * np.trace(cov) / cov.shape[0] + 1e-9
    precision = np.linalg.inv(cov + ridge * np.eye(cov.shape[0]))
    reference = OODReference(region.name, mean, precision, np.inf, n_reference, 0)
    held_out = [
        reference.distance(region.sample(SPLIT_OFFSETS["val"] + i, size=s).image)
        for s in CALIBRATION_SIZES
        for i in range(n_calibration)
    ]
    threshold = OOD_MARGIN * float(np.percentile(held_out, percentile))
    return OODReference(region.name, mean, precision, threshold, n_reference, len(held_out))


_LOCK = threading.Lock()


@functools.lru_cache(maxsize=16)
def _cached_reference(region_name: str) -> OODReference:
    from mtdl_kit.regions import get_region

    return fit_reference(get_region(region_name))


def reference_for(region_name: str) -> OODReference:
    """The fitted :class:`OODReference` of a region, computed once per process (a few seconds) and shared."""
    with _LOCK:  # two sessions asking at once fit it once
        return _cached_reference(region_name)


@dataclass(frozen=True)
class OODResult:
    """The check of one image: its distance, the threshold and the verdict.

    Attributes:
        distance: Mahalanobis distance of the image's statistics to the training phantoms'.
        threshold: the region's calibrated threshold.
        out_of_distribution: ``distance > threshold``.
        message: one plain sentence for the page.
    """

    distance: float
    threshold: float
    out_of_distribution: bool
    message: str


def ood_check(region: Region, sample: Sample, reference: OODReference | None = None) -> OODResult:
    """Whether ``sample``'s image is unlike the phantoms the region's zoo models were trained on.

    Args:
        region: the region whose models will see the image.
        sample: the image (any size; resized to :data:`FEATURE_SIZE` for the statistics).
        reference: a fitted reference (default: :func:`reference_for` the region).
    """
    ref = reference or reference_for(region.name)
    dist = ref.distance(sample.image)
    ood = dist > ref.threshold
    ratio = dist / ref.threshold
    if ood:
        message = (
            f"This image is unlike the {region.name} phantoms the models were trained on "
            f"(distance {dist:.0f}, {ratio:.0f}× the threshold calibrated on held-out phantoms). The models produce "
            "numbers for any image; here they would mean nothing, so they are withheld."
        )
    else:
        message = (
            f"Image statistics are within the range of held-out {region.name} phantoms "
            f"(distance {dist:.1f}, threshold {ref.threshold:.1f}). This does not check the labels' relation: "
            f"the models were trained on {TRAINED_ON}."
        )
    return OODResult(dist, ref.threshold, bool(ood), message)


def processing_notes(region: Region, sample: Sample, *, model_size: int) -> list[str]:
    """What was done to an upload before the models saw it, one plain sentence each.

    Format and original size; a grey/colour conversion to the region's channels; a letterbox
    (padding) to a square; the resize for display and to the models' ``model_size``; the pixel
    spacing behind millimetres (from the file, or assumed); and what the models were trained on.
    A phantom (no ``geometry`` in ``sample.meta``) gets only the last two sentences.
    """
    meta = sample.meta or {}
    notes: list[str] = []
    geometry = meta.get("geometry")
    size = sample.image.shape[-1]
    if geometry is not None:
        h, w = geometry.shape
        mode = meta.get("mode")
        notes.append(f"Read as {meta.get('format', 'an image')}, {w} × {h} pixels" + (f" ({mode})." if mode else "."))
        colour_in = mode in ("RGB", "RGBA", "P", "CMYK", "YCbCr") if mode else None
        sequences = ", ".join(region.channel_names)
        if region.channel_names and colour_in:
            notes.append(
                f"Its three colour channels were read as the sequences {sequences}, in that order: right only for "
                "an image stacked from those sequences, not for a colour picture."
            )
        elif region.channel_names and colour_in is False:
            notes.append(f"The grey image was copied into all three sequence channels ({sequences}).")
        elif region.in_channels == 1 and colour_in:
            notes.append("Converted from colour to grey (luminance), because these models take one grey channel.")
        elif region.in_channels == 3 and colour_in is False:
            notes.append("The grey image was copied into three colour channels, because these models take colour.")
        if mode == "RGBA":
            notes.append("Transparency was composited onto black.")
        pad_r, pad_c = geometry.offset
        if pad_r or pad_c:
            side = "top and bottom" if pad_r else "left and right"
            notes.append(
                f"Letterboxed to a square: {max(pad_r, pad_c)} black rows/columns of padding added {side} "
                "(the aspect ratio is kept)."
            )
        canvas = geometry.canvas[0]
        notes.append(
            f"Resized from {canvas} × {canvas} to {size} × {size} px for display and to {model_size} × {model_size} px "
            "for the models (the size they were trained at)."
        )
        if meta.get("spacing_from_file"):
            notes.append(f"Pixel spacing from the file's header: {sample.spacing_mm:.3g} mm per displayed pixel.")
        else:
            notes.append(
                f"The file gives no pixel spacing: millimetres assume the phantoms' {sample.spacing_mm:.3g} mm per "
                "displayed pixel, so lengths and areas in mm are not real measurements."
            )
    elif size != model_size:
        notes.append(f"Resized from {size} × {size} to {model_size} × {model_size} px for the models.")
    notes.append(f"The models were trained on {TRAINED_ON}; other images or label relations are outside what they saw.")
    return notes


__all__ = [
    "CALIBRATION_SIZES",
    "FEATURE_SIZE",
    "N_CALIBRATION",
    "N_REFERENCE",
    "OOD_MARGIN",
    "OOD_PERCENTILE",
    "REFERENCE_SIZES",
    "TRAINED_ON",
    "OODReference",
    "OODResult",
    "fit_reference",
    "image_features",
    "ood_check",
    "processing_notes",
    "reference_for",
]
