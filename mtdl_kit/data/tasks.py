"""The tasks a user's data is read for, and label values as their targets.

:func:`resolve_tasks` turns a region and/or a custom task list into task specs and input channels;
:func:`label_target` turns one label value (a CSV cell, a JSON value, a ``labels=`` entry) into the
target array of its task. :func:`~mtdl_kit.data.files.read_sample` and the dataset layouts
(:mod:`mtdl_kit.data.layouts`) share both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mtdl_kit.data.preprocess import Geometry
from mtdl_kit.data.readers.common import DataError
from mtdl_kit.regions.base import Region, TaskSpec, get_region


def resolve_tasks(
    region: Region | str | None, tasks: Sequence[TaskSpec] | Sequence[str] | str | None, channels: int | None
) -> tuple[Region | None, tuple[TaskSpec, ...], int]:
    """(region object or None, task specs, input channels) from a region and/or a custom task list.

    Args:
        region: a region name/object, or ``None`` for custom data.
        tasks: ``None`` (the region's tasks), task names of the region, or :class:`TaskSpec` objects
            (a custom task set; with a region, they replace its tasks).
        channels: input channels (default: the region's; required without a region).
    """
    reg = get_region(region) if isinstance(region, str) else region
    if tasks is not None and not isinstance(tasks, str) and len(tasks) == 0:
        specs: tuple[TaskSpec, ...] = ()
    elif tasks is not None and not isinstance(tasks, str) and all(isinstance(t, TaskSpec) for t in tasks):
        specs = tuple(tasks)  # type: ignore[arg-type]
        names = [t.name for t in specs]
        if len(set(names)) != len(names):
            raise ValueError(f"Duplicate task names in {names}.")
    elif reg is not None:
        specs = reg.select_tasks(tasks)  # type: ignore[arg-type]
    else:
        raise ValueError("Without a region, pass tasks as a list of TaskSpec objects (a custom task set).")
    ch = channels if channels is not None else (reg.in_channels if reg is not None else None)
    if ch not in (1, 3):
        raise ValueError(f"channels must be 1 or 3 (give channels=... for custom tasks), got {ch!r}.")
    return reg, specs, int(ch)


def label_target(task: TaskSpec, value: Any, where: str, geometry: Geometry | None = None) -> np.ndarray:
    """A label value as the target array of ``task`` (class index, regression vector, landmark points).

    Raises:
        DataError: for a value of the wrong type, shape or range (the message names ``where``).
    """
    if task.kind == "classification":
        if isinstance(value, str) and task.class_names:
            lowered = [c.lower() for c in task.class_names]
            if value.strip().lower() in lowered:
                return np.asarray(lowered.index(value.strip().lower()), dtype=np.int64)
        try:
            if isinstance(value, bool) or float(value) != int(float(value)):
                raise ValueError
            k = int(float(value))
        except (TypeError, ValueError):
            names = f" or a class name {task.class_names}" if task.class_names else ""
            raise DataError(
                where,
                f"task {task.name!r}: {value!r} is not an integer class index",
                f"Use 0..{task.num_outputs - 1}{names}; leave the cell empty for a missing label.",
            ) from None
        if not 0 <= k < task.num_outputs:
            names = f" ({', '.join(task.class_names)})" if task.class_names else ""
            raise DataError(
                where,
                f"task {task.name!r}: class {k} is out of range",
                f"The task has {task.num_outputs} classes 0..{task.num_outputs - 1}{names}.",
            )
        return np.asarray(k, dtype=np.int64)
    try:
        arr = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError):
        raise DataError(
            where,
            f"task {task.name!r}: {value!r} is not numeric",
            "Regression and landmark labels are numbers; leave the cell empty for a missing label.",
        ) from None
    if task.kind == "regression":
        arr = arr.reshape(-1)
        if arr.size != task.num_outputs:
            raise DataError(where, f"task {task.name!r}: {arr.size} value(s) for {task.num_outputs} output(s)")
    elif task.kind == "landmarks":
        if arr.size != 2 * task.num_outputs:
            raise DataError(where, f"task {task.name!r}: {arr.size} numbers for {task.num_outputs} (row, col) points")
        arr = arr.reshape(task.num_outputs, 2)
        if geometry is not None:
            arr = geometry.points(arr)
    else:
        raise DataError(where, f"task {task.name!r} ({task.kind}) takes no label value")
    if not np.all(np.isfinite(arr)):
        raise DataError(where, f"task {task.name!r}: non-finite value {value!r}")
    return arr.astype(np.float32)
