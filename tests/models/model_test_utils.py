"""Helpers for the model tests: small inputs, region task sets and subsets."""

from __future__ import annotations

import torch

from mtdl_kit.models.heads import is_dense
from mtdl_kit.regions.base import TaskSpec

SIZE = 64
BATCH = 2
WIDTH = 4


def subset(tasks: tuple[TaskSpec, ...]) -> tuple[TaskSpec, ...]:
    """A two-task subset every multi-task family accepts: the first dense task and the last other task."""
    dense = next(t for t in tasks if is_dense(t))
    other = next(t for t in reversed(tasks) if t.name != dense.name)
    return tuple(t for t in tasks if t.name in (dense.name, other.name))


def expected_shape(task: TaskSpec, batch: int = BATCH, size: int = SIZE, dims: int = 2) -> tuple[int, ...]:
    if is_dense(task):
        return (batch, task.num_outputs, *([size] * dims))
    return (batch, task.num_outputs)


def toy_loss(outputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """One scalar per task that depends on every output element."""
    return {k: v.float().square().mean() for k, v in outputs.items()}
