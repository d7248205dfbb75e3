"""Per-task losses, chosen from the task kind (MONAI losses where they exist).

One loss per :class:`~mtdl_kit.regions.base.TaskSpec` kind (:class:`TaskLoss`; :func:`make_losses` builds them
for a task list, :func:`compute_losses` applies them to a batch):

- segmentation: ``monai.losses.DiceCELoss`` (softmax, one-hot targets) — Dice: Milletari et al.,
  V-Net, 3DV 2016; the Dice + cross-entropy compound is the nnU-Net default (Isensee et al., Nature
  Methods 2021).
- classification: cross-entropy.
- regression: mean squared error on standardised targets (``scale`` per output), so tasks measured in
  mm² and in ratios contribute comparable magnitudes before any weighting method acts. The one
  switch away from this is ``make_losses(..., regression_targets="raw")``: the MSE in the task's own
  units (a cup-to-disc ratio's squared error, ~0.01, next to a Dice + CE loss of ~0.5), the "starved
  task" of the transfer lab's experiment E (:mod:`mtdl_kit.lab.starved`).
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
from typing import Any

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


#: how regression targets enter their loss: ``"standardised"`` (the default) or ``"raw"``
REGRESSION_TARGETS: tuple[str, ...] = ("standardised", "raw")


def make_losses(
    tasks: Sequence[TaskSpec], region: Any = None, *, regression_targets: str = "standardised"
) -> dict[str, TaskLoss]:
    """One :class:`TaskLoss` per task.

    Args:
        tasks: the tasks.
        region: the region whose :meth:`~mtdl_kit.regions.base.Region.regression_spread` standardises
            regression targets (``None``: no standardisation).
        regression_targets: ``"standardised"`` (default): regression targets and predictions divided by
            the region's spread of each output; ``"raw"``: the MSE in the task's own units, whatever
            the region (only regression losses change).

    Raises:
        ValueError: an unknown ``regression_targets``.
    """
    if regression_targets not in REGRESSION_TARGETS:
        raise ValueError(f"regression_targets must be one of {REGRESSION_TARGETS}, got {regression_targets!r}.")
    standardise = regression_targets == "standardised" and region is not None
    losses = {}
    for t in tasks:
        scale = region.regression_spread(t) if (standardise and t.kind == "regression") else None
        losses[t.name] = TaskLoss(t, regression_scale=None if scale is None else [float(s) for s in scale])
    return losses


def compute_losses(
    losses: dict[str, TaskLoss], outputs: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """Per-task losses of a batch; a task absent from the batch or masked by ``<task>__present`` is masked."""
    out = {}
    for name, loss_fn in losses.items():
        if name not in batch:
            out[name] = outputs[name].sum() * 0.0
            continue
        present = batch.get(f"{name}__present")
        out[name] = loss_fn(outputs[name], batch[name], present)
    return out
