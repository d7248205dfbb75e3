"""Names in the pretrained zoo: the one zoo key of a model, its file, and the command that rebuilds it.

Keys (the manifest's keys; the file is the key + ``.pt``)::

    <region>-<family>               a multi-task model on all of the region's tasks
    <region>-<family>-<tasks>       a model on a task subset (tasks joined by ``+``, region order)
    <region>-single-<task>          a single-task baseline
"""

from __future__ import annotations

from collections.abc import Sequence

from mtdl_kit.models import FAMILIES
from mtdl_kit.regions import REGION_NAMES, get_region


def zoo_key(region: str, family: str, tasks: Sequence[str] | None = None) -> str:
    """The manifest key of the zoo model of ``family`` on ``tasks`` of ``region``.

    Args:
        region: region name.
        family: one of :data:`~mtdl_kit.models.FAMILIES` (``single`` for a single-task baseline).
        tasks: the model's tasks; ``None`` = all of the region's tasks (for ``single``: exactly one).

    Raises:
        ValueError: unknown region, family or task, or ``single`` without exactly one task.
    """
    if family not in FAMILIES:
        raise ValueError(f"Unknown family {family!r}; allowed families are {FAMILIES}.")
    reg = get_region(region)
    names = reg.task_names if tasks is None else tuple(t.name for t in reg.select_tasks(list(tasks)))
    if family == "single":
        if len(names) != 1:
            raise ValueError(f"A single-task zoo model has exactly one task; got {list(names)}.")
        return f"{region}-single-{names[0]}"
    if set(names) == set(reg.task_names):
        return f"{region}-{family}"
    ordered = [n for n in reg.task_names if n in names]
    return f"{region}-{family}-{'+'.join(ordered)}"


def model_file(region: str, family: str, tasks: Sequence[str] | None = None) -> str:
    """File name of a zoo model: :func:`zoo_key` + ``.pt``."""
    return f"{zoo_key(region, family, tasks)}.pt"


def rebuild_command(region: str, family: str, recipe: str | None = None) -> str:
    """``mtdl-kit zoo train --region R --family F`` (with ``--recipe NAME`` for another than the default)."""
    chosen = f"--recipe {recipe} " if recipe is not None and recipe != "lab" else ""
    return f"mtdl-kit zoo train {chosen}--region {region} --family {family}"


def check_names(regions: Sequence[str], families: Sequence[str]) -> None:
    """Raise ``ValueError`` naming the allowed values if a region or family is unknown (or none is given)."""
    bad_r = [r for r in regions if r not in REGION_NAMES]
    if bad_r or not regions:
        raise ValueError(f"Unknown or no regions {bad_r or list(regions)}; allowed regions are {REGION_NAMES}.")
    bad_f = [f for f in families if f not in FAMILIES]
    if bad_f or not families:
        raise ValueError(f"Unknown or no families {bad_f or list(families)}; allowed families are {FAMILIES}.")
