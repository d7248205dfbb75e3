"""Argument checks shared by :mod:`mtdl_kit.inference`: a region by name or object, a model's tasks, a model
that fits a region, the device a model lives on (fail fast, naming the fix)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch

from mtdl_kit.regions.base import Region, TaskSpec


def as_region(region: str | Region) -> Region:
    """``region`` as a :class:`~mtdl_kit.regions.base.Region` (a name is looked up); ``ValueError`` otherwise."""
    if isinstance(region, Region):
        return region
    if not isinstance(region, str):
        raise ValueError(f"region must be a region name or a Region, got {type(region).__name__}.")
    from mtdl_kit.regions import get_region

    return get_region(region)


def model_tasks(model: Any, name: str = "model") -> tuple[TaskSpec, ...]:
    """The tasks of a mtdl_kit network; ``ValueError`` naming ``name`` for anything else or a network without tasks."""
    if not isinstance(model, torch.nn.Module) or not isinstance(getattr(model, "tasks", None), tuple):
        raise ValueError(
            f"{name} must be a mtdl_kit MultiTaskNet (an nn.Module with a .tasks tuple), got {type(model).__name__}."
        )
    if not model.tasks:
        raise ValueError(f"{name} has no tasks.")
    return model.tasks


def check_model_for_region(model: Any, region: Region, name: str) -> None:
    """Raise ``ValueError`` when ``model`` predicts a task ``region`` lacks or defines otherwise, or expects
    another number of input channels."""
    for t in model_tasks(model, name):
        if t.name not in region.task_names:
            raise ValueError(
                f"{name} predicts task {t.name!r}, which region {region.name!r} does not have "
                f"(its tasks are {region.task_names}). Use a model trained on this region."
            )
        # the description is prose (it may be reworded); what the model computes must match
        if replace(t, description=region.task(t.name).description) != region.task(t.name):
            raise ValueError(f"{name}: task {t.name!r} differs from region {region.name!r}'s definition of it.")
    channels = getattr(model, "in_channels", region.in_channels)
    if channels != region.in_channels:
        raise ValueError(
            f"{name} expects {channels} input channel(s); region {region.name!r} images have {region.in_channels}."
        )


def model_device(model: torch.nn.Module) -> torch.device:
    """The device of ``model``'s first parameter (the CPU for a network without parameters)."""
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")
