"""Per-task losses and metrics, chosen from the task kind (MONAI losses and metrics where they exist).

Losses (one per :class:`~mtdl_kit.regions.base.TaskSpec` kind):

- segmentation: ``monai.losses.DiceCELoss`` (softmax, one-hot targets) — Dice: Milletari et al.,
  V-Net, 3DV 2016; the Dice + cross-entropy compound is the nnU-Net default (Isensee et al., Nature
  Methods 2021).
- classification: cross-entropy.
- regression: mean squared error on standardised targets (``scale`` per output), so tasks measured in
  mm² and in ratios contribute comparable magnitudes before any weighting method acts.
- landmarks: mean squared error between predicted heatmaps and Gaussian target heatmaps
  (Payer et al., "Integrating spatial configuration into heatmap regression based CNNs for landmark
  localization", MedIA 2019).
- reconstruction: mean squared error (the auxiliary VAE-style branch of Myronenko, BrainLes 2018).

Every loss accepts a boolean ``present`` mask over the batch: samples without a label for the task
(partially labelled cases) contribute nothing, and a batch with no labelled sample gives an exact
zero that keeps the graph connected.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from mtdl_kit.regions.base import TaskSpec


def landmark_heatmaps(points: torch.Tensor, size: tuple[int, int], sigma: float) -> torch.Tensor:
    """Gaussian heatmaps (B, K, H, W) with peak 1 at (row, col) points of shape (B, K, 2)."""
    h, w = size
    rows = torch.arange(h, device=points.device, dtype=torch.float32).view(1, 1, h, 1)
    cols = torch.arange(w, device=points.device, dtype=torch.float32).view(1, 1, 1, w)
    pr = points[..., 0].float().unsqueeze(-1).unsqueeze(-1)
    pc = points[..., 1].float().unsqueeze(-1).unsqueeze(-1)
    return torch.exp(-((rows - pr) ** 2 + (cols - pc) ** 2) / (2.0 * sigma * sigma))


def heatmap_argmax(heatmaps: torch.Tensor) -> torch.Tensor:
    """(B, K, H, W) heatmaps -> (B, K, 2) (row, col) of each map's maximum."""
    b, k, _, w = heatmaps.shape
    idx = heatmaps.reshape(b, k, -1).argmax(-1)
    return torch.stack([idx // w, idx % w], dim=-1).float()


class TaskLoss(torch.nn.Module):
    """The loss of one task, with masking of unlabelled samples.

    Args:
        task: the task's spec; the loss follows from ``task.kind``.
        regression_scale: per-output standard deviation used to standardise regression targets.
        landmark_sigma: Gaussian width in pixels of landmark target heatmaps.
    """

    def __init__(
        self, task: TaskSpec, *, regression_scale: Sequence[float] | None = None, landmark_sigma: float = 2.0
    ) -> None:
        super().__init__()
        self.task = task
        if task.kind == "segmentation":
            from monai.losses import DiceCELoss

            self.dice_ce = DiceCELoss(to_onehot_y=True, softmax=True, include_background=False)
        scale = torch.ones(task.num_outputs) if regression_scale is None else torch.as_tensor(regression_scale)
        if task.kind == "regression" and scale.shape != (task.num_outputs,):
            raise ValueError(
                f"{task.name}: regression_scale needs {task.num_outputs} values, got {tuple(scale.shape)}."
            )
        self.register_buffer("scale", scale.float(), persistent=False)
        self.landmark_sigma = landmark_sigma

    def forward(self, output: torch.Tensor, target: torch.Tensor, present: torch.Tensor | None = None) -> torch.Tensor:
        """Mean loss over the labelled samples of the batch."""
        if present is not None:
            if not bool(present.any()):
                return output.sum() * 0.0
            if not bool(present.all()):
                output, target = output[present], target[present]
        kind = self.task.kind
        if kind == "segmentation":
            return self.dice_ce(output.float(), target.unsqueeze(1).long())
        if kind == "classification":
            return F.cross_entropy(output.float(), target.long())
        if kind == "regression":
            return F.mse_loss(output.float() / self.scale, target.float() / self.scale)
        if kind == "landmarks":
            heat = landmark_heatmaps(target, tuple(output.shape[-2:]), self.landmark_sigma)
            return F.mse_loss(torch.sigmoid(output.float()), heat) * 10.0
        return F.mse_loss(output.float(), target.float())


def predictions(task: TaskSpec, output: torch.Tensor) -> torch.Tensor:
    """Model output -> prediction: class map, class probabilities, values, points or image."""
    if task.kind == "segmentation":
        return output.argmax(1)
    if task.kind == "classification":
        return torch.softmax(output.float(), dim=1)
    if task.kind == "landmarks":
        return heatmap_argmax(output)
    return output.float()


def summarise(values: np.ndarray) -> float:
    """Mean over finite values (NaN if none), for metrics that can be undefined on a case."""
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else float("nan")
