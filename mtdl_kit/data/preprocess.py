"""From a raw plane to the model input: intensities to [0, 1] (CT windows, VOI, percentiles), channels,
square size, and the :class:`Geometry` that maps pixel coordinates across."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from mtdl_kit.data.readers.common import (
    INTENSITY_MODES,
    LUMINANCE,
    WINDOW_PRESETS,
    RawImage,
    box_reduce,
    reduction_factor,
)
from mtdl_kit.regions.base import Region


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

    The padded canvas is never built: :meth:`image` and :meth:`mask` compute each output pixel from
    the plane directly (separable weights), so an extreme aspect ratio costs no more than a square.
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

    def spacing_mm(self, original: tuple[float, float] | None, fallback: float) -> float:
        """Pixel spacing of the output in mm: the original (row, col) spacing over the scale, averaged;
        ``fallback`` when the file does not say (``original`` is ``None``)."""
        if original is None:
            return float(fallback)
        return float(np.mean([s / g for s, g in zip(original, self.scale, strict=True)]))

    def _source(self, axis: int) -> tuple[np.ndarray, np.ndarray]:
        """For each output pixel along ``axis``: its centre in original pixel coordinates, and whether
        it falls on the plane (not on the padding)."""
        old = (np.arange(self.size) + 0.5) / self.scale[axis] - self.offset[axis] - 0.5
        return old, (old >= -0.5) & (old <= self.shape[axis] - 0.5)

    def _weights(self, axis: int, n: int, reduction: int) -> np.ndarray:
        """(size, n) weights from the ``n`` samples of the (``reduction``-times box-reduced) plane along ``axis``
        to the output: a Gaussian of sigma ``(1 / s - 1) / 2`` when shrinking by ``s``, then linear
        interpolation, edges repeated, zero on the padding (as ``skimage.transform.resize`` with
        ``anti_aliasing=True``, ``order=1``, ``mode="edge"`` does on the padded canvas)."""
        old, inside = self._source(axis)
        pos = np.clip((old + 0.5) / reduction - 0.5, 0.0, n - 1.0)
        low = np.floor(pos).astype(np.int64)
        frac = pos - low
        high = np.minimum(low + 1, n - 1)
        step = self.scale[axis] * reduction  # output pixels per input sample
        sigma = max(0.0, (1.0 / step - 1.0) / 2.0)
        radius = int(4.0 * sigma + 0.5)  # scipy.ndimage.gaussian_filter's truncate=4
        taps = np.arange(-radius, radius + 1)
        kernel = np.exp(-0.5 * (taps / sigma) ** 2) if sigma > 0 else np.ones(1)
        kernel /= kernel.sum()
        weights = np.zeros((self.size, n), dtype=np.float64)
        rows = np.repeat(np.arange(self.size), taps.size)
        for centre, amount in ((low, 1.0 - frac), (high, frac)):
            cols = np.clip(centre[:, None] + taps[None, :], 0, n - 1)  # "nearest" boundary
            np.add.at(weights, (rows, cols.ravel()), (amount[:, None] * kernel[None, :]).ravel())
        weights[~inside] = 0.0
        return weights

    def image(self, chw: np.ndarray, reduction: int = 1) -> np.ndarray:
        """Resize a (C, H, W) float image: bilinear, anti-aliased when shrinking (``skimage.transform.resize``).

        Args:
            chw: the plane, or the plane box-reduced by ``reduction`` (:attr:`RawImage.reduction`).
            reduction: the integer factor ``chw`` was box-averaged by, relative to :attr:`shape`.
        """
        if self.identity and reduction == 1:
            return chw.astype(np.float32)
        rows = self._weights(0, chw.shape[-2], reduction).astype(np.float32)
        cols = self._weights(1, chw.shape[-1], reduction).astype(np.float32)
        cols_first = chw.shape[-2] > chw.shape[-1]  # shrink the longer side first: fewer multiplications
        out = np.stack(
            [
                rows @ (np.asarray(c, dtype=np.float32) @ cols.T) if cols_first else (rows @ c) @ cols.T
                for c in chw.astype(np.float32, copy=False)
            ]
        )
        return np.clip(out, 0.0, 1.0).astype(np.float32)

    def mask(self, mask: np.ndarray) -> np.ndarray:
        """Resize an (H, W) class-index mask of the original plane (nearest neighbour, no smoothing)."""
        if self.identity:
            return mask.astype(np.int64)
        picks = []
        for axis in (0, 1):
            old, inside = self._source(axis)
            picks.append((np.clip(np.floor(old + 0.5).astype(np.int64), 0, mask.shape[axis] - 1), inside))
        (r, r_in), (c, c_in) = picks
        out = np.asarray(mask)[np.ix_(r, c)].astype(np.int64)
        out[~(r_in[:, None] & c_in[None, :])] = 0
        return out


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
        raw: the plane from :func:`read_raw` (possibly reduced while decoding: :attr:`RawImage.reduction`;
            the :class:`Geometry` always refers to the file's plane, :attr:`RawImage.original_shape`).
        channels: 1 (grey) or 3 (RGB), e.g. ``region.in_channels``.
        size: output side in pixels.
        intensity: ``"auto"``, ``"percentile"`` (1st-99th), ``"minmax"``, ``"dtype"`` (divide by the integer
            type's maximum), a CT preset of :data:`WINDOW_PRESETS` or a (level, width) pair in the
            file's units (see :func:`resolve_intensity`).
        rgba: ``"composite"`` (on black) or ``"drop"`` for images with an alpha channel.
        fit: ``"pad"`` (keep the aspect ratio, pad with black) or ``"stretch"``.
        region_window: CT preset used by ``"auto"`` for HU data (:func:`default_window`).
    """
    h, w = raw.shape2d
    if h * w > (8 * size) ** 2:  # far more pixels than the output needs: box-average first (bounded memory)
        factor = reduction_factor(h, w, 2 * size)
        raw = replace(
            raw, array=box_reduce(raw.array, factor), reduction=raw.reduction * factor, file_shape=raw.original_shape
        )
    values = normalise_intensity(raw, intensity, region_window=region_window)
    alpha = None
    if raw.array.ndim == 3 and raw.array.shape[-1] in (2, 4):
        a = raw.array[..., -1].astype(np.float32)
        alpha = a / float(np.iinfo(raw.array.dtype).max) if raw.array.dtype.kind in "ui" else np.clip(a, 0.0, 1.0)
    chw = to_channels(values, channels, alpha, rgba)
    geometry = Geometry.fit(raw.original_shape, size, fit)
    return geometry.image(chw, raw.reduction), geometry
