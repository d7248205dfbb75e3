"""Deliberately degraded masks: a reference label map warped until its Dice with the reference is a chosen value.

Experiment D of the transfer lab (:mod:`.cascade`) asks how a cascade's errors propagate: what the
downstream classifier loses when the mask it is handed is wrong by a known amount. A segmenter's
errors are mostly boundary errors, so the degradation moves every boundary a little: a smooth random
elastic deformation (Gaussian offsets on a coarse grid of control points, upsampled to a smooth
displacement field; Simard P.Y. et al., "Best practices for convolutional neural networks applied to
visual document analysis", ICDAR 2003) applied to the label map's one-hot channels with bilinear
sampling, the label being their arg-max (so boundaries move by fractions of a pixel and Dice changes
smoothly with the magnitude). Why not MONAI's ``Rand2DElastic``: its control grid does not align
with the image, so even a magnitude of 1e-6 rescales the map (measured on a 64-px eye phantom: Dice
0.785 with control points every 16 px), which swamps the small errors this experiment needs. Per
case the direction of the field is fixed by a seed and its magnitude is bisected until the mean
foreground Dice — the library's Dice, :func:`mtdl_kit.metrics.segmentation_case_metrics` — lies
within a tolerance of the target. The same seed at every target makes the levels nested: the mask at
Dice 0.70 is the one at 0.85 pushed further along the same field.

What this does not model: missed or invented structures (a segmenter that drops a small lesion), and
errors that are systematic rather than random (a segmenter that always draws the cup too large
shifts the cup-to-disc ratio in one direction). Research and teaching use only — not for clinical
use.
"""

from __future__ import annotations

import numpy as np
import torch

#: control points every this fraction of the image width (a smooth field, a few bulges per structure)
CONTROL_SPACING = 0.25
#: bisection steps per field before another field is tried
_ITERATIONS = 24
#: fields tried per case before the closest mask is returned
_ATTEMPTS = 4


def mask_dice(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> np.ndarray:
    """Mean foreground Dice per case of label maps, as the evaluation computes it.

    Args:
        pred: (B, H, W) or (H, W) class indices.
        target: the reference, same shape.
        num_classes: K including background.

    Returns:
        float64 (B,) — the mean over the K − 1 foreground classes of each case.
    """
    from mtdl_kit.metrics import segmentation_case_metrics

    if pred.ndim == 2:
        pred, target = pred[None], target[None]
    dice = segmentation_case_metrics(pred, target, num_classes)["dice"]
    return dice.mean(axis=1)


def warp_mask(mask: torch.Tensor, magnitude: float, seed: int) -> torch.Tensor:
    """``mask`` (H, W) warped by the smooth random field of ``seed`` scaled to ``magnitude`` pixels.

    The field: standard normal offsets (in pixels, both axes) on a grid of control points every
    :data:`CONTROL_SPACING` of the width, upsampled bicubically to every pixel and multiplied by
    ``magnitude``. The field's direction depends only on ``seed``, so a larger magnitude pushes the
    same boundaries further; magnitude 0 is the identity exactly.
    """
    import torch.nn.functional as F

    if mask.ndim != 2:
        raise ValueError(f"warp_mask needs one 2-D label map (H, W), got shape {tuple(mask.shape)}.")
    if magnitude <= 0:
        return mask.clone()
    height, width = mask.shape
    points = round(1 / CONTROL_SPACING) + 1
    generator = torch.Generator().manual_seed(int(seed))
    offsets = torch.randn(1, 2, points, points, generator=generator, dtype=torch.float64)
    field = F.interpolate(offsets, size=(height, width), mode="bicubic", align_corners=True)[0] * magnitude
    # sampling positions in grid_sample's normalised coordinates (align_corners: -1 and 1 are pixel centres)
    ys = torch.linspace(-1, 1, height, dtype=torch.float64)[:, None].expand(height, width)
    xs = torch.linspace(-1, 1, width, dtype=torch.float64)[None, :].expand(height, width)
    grid = torch.stack((xs + field[0] * 2 / (width - 1), ys + field[1] * 2 / (height - 1)), dim=-1)
    # the one-hot channels are warped smoothly and the label is their arg-max, so a boundary can move by
    # a fraction of a pixel (nearest-neighbour sampling moves it in whole pixels: Dice then jumps)
    num_classes = int(mask.max()) + 1
    one_hot = F.one_hot(mask.long(), num_classes).permute(2, 0, 1)[None].double()
    out = F.grid_sample(one_hot, grid[None], mode="bilinear", padding_mode="border", align_corners=True)
    return out[0].argmax(0).to(mask.dtype)


def degrade_mask(
    mask: torch.Tensor, num_classes: int, target_dice: float, *, seed: int, tolerance: float = 0.015
) -> tuple[torch.Tensor, float]:
    """A warped copy of ``mask`` whose mean foreground Dice with ``mask`` is ``target_dice`` ± ``tolerance``.

    The magnitude is bisected on the field of ``seed``; if Dice is not monotone enough on that field
    to land in the tolerance, up to three further fields are tried, and the closest mask found is
    returned with its Dice (so a miss is reported, never hidden).

    Args:
        mask: (H, W) reference class indices (at least one foreground pixel).
        num_classes: K including background.
        target_dice: in (0, 1]; 1 returns the reference itself.
        seed: fixes the field (use the case's index: the same field at every target).
        tolerance: accepted distance to ``target_dice``.

    Returns:
        ``(degraded mask, its Dice)``.

    Raises:
        ValueError: a target outside (0, 1], a non-positive tolerance or an empty reference mask.
    """
    if not 0 < target_dice <= 1:
        raise ValueError(f"target_dice must lie in (0, 1], got {target_dice}.")
    if not tolerance > 0:
        raise ValueError(f"tolerance must be positive, got {tolerance}.")
    if not bool((mask > 0).any()):
        raise ValueError("The reference mask has no foreground pixel: there is nothing to degrade.")
    if target_dice == 1:
        return mask.clone(), 1.0
    best, best_dice = mask, 1.0
    for attempt in range(_ATTEMPTS):
        field_seed = seed + attempt * 1_000_003

        def dice_at(magnitude: float, field_seed: int = field_seed) -> tuple[torch.Tensor, float]:
            warped = warp_mask(mask, magnitude, field_seed)
            return warped, float(mask_dice(warped, mask, num_classes)[0])

        low, high = 0.0, float(mask.shape[-1]) / 4
        warped, dice = dice_at(high)
        while dice > target_dice and high < 4 * mask.shape[-1]:
            low, high = high, 2 * high
            warped, dice = dice_at(high)
        for _ in range(_ITERATIONS):
            if abs(dice - target_dice) < abs(best_dice - target_dice):
                best, best_dice = warped, dice
            if abs(best_dice - target_dice) <= tolerance:
                return best, best_dice
            middle = (low + high) / 2
            warped, dice = dice_at(middle)
            if dice > target_dice:
                low = middle
            else:
                high = middle
    return best, best_dice


def degrade_masks(
    masks: torch.Tensor, num_classes: int, target_dice: float, *, tolerance: float = 0.015
) -> tuple[torch.Tensor, np.ndarray]:
    """:func:`degrade_mask` on every case of ``masks`` (N, H, W), case ``i`` on the field of seed ``i``.

    Returns:
        ``(degraded masks (N, H, W), their Dice (N,))``.
    """
    out, dice = [], []
    for i in range(masks.shape[0]):
        warped, d = degrade_mask(masks[i], num_classes, target_dice, seed=i, tolerance=tolerance)
        out.append(warped)
        dice.append(d)
    return torch.stack(out), np.asarray(dice)
