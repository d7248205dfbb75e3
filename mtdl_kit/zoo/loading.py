"""Loading pretrained zoo models: sha256 verified, then ``torch.load(weights_only=True)``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mtdl_kit.zoo.manifest import ZooEntry, ZooError, default_root, read_manifest
from mtdl_kit.zoo.naming import check_names, rebuild_command

if TYPE_CHECKING:
    from mtdl_kit.models.base import MultiTaskNet


def find_entry(
    region: str, family: str, tasks: str | Sequence[str] | None = None, *, root: str | Path | None = None
) -> ZooEntry:
    """The manifest entry of ``region``/``family`` for exactly ``tasks`` (default: all the region's tasks).

    Raises:
        ValueError: unknown region, family or task, or no zoo model for that task subset (the
            message lists the task subsets available for the region and family).
        ZooError: the region/family has no zoo model at all (the message says how to train it).
    """
    from mtdl_kit.regions import get_region

    check_names([region], [family])
    reg = get_region(region)
    if tasks is None and family == "single":
        raise ValueError(f"family 'single' needs one task: tasks=... one of {reg.task_names}.")
    wanted = {t.name for t in reg.select_tasks(tasks)}
    root = Path(root or default_root())
    entries = [e for e in read_manifest(root).values() if e.region == region and e.family == family]
    if not entries:
        raise ZooError(
            f"The zoo in {root} has no {family} model for region {region!r}. Train it with "
            f"`{rebuild_command(region, family)} --root {root}`."
        )
    for e in entries:
        if set(e.tasks) == wanted:
            return e
    available = sorted(",".join(e.tasks) for e in entries)
    ordered = [n for n in reg.task_names if n in wanted]
    raise ValueError(
        f"No zoo {family} model of region {region!r} for exactly the tasks {ordered}; available task sets: "
        f"{available}. Load one of those (and ignore the extra heads) or train the subset with "
        f"`mtdl-kit train --region {region} --family {family} --tasks {','.join(ordered)}`."
    )


def load_entry(entry: ZooEntry, *, root: str | Path | None = None) -> MultiTaskNet:
    """Verify a zoo file against its manifest sha256 and load it (float32, eval mode).

    Raises:
        ZooError: the file is missing, its sha256 differs from the manifest (tampered or
            truncated) or it cannot be read; the message names the file and the rebuild command.
    """
    from mtdl_kit.checkpoint import CheckpointError, rebuild_model

    path = Path(root or default_root()) / entry.file
    if not path.exists():
        raise ZooError(f"Zoo file {path} is missing. Rebuild it with `{entry.rebuild_command()} --root {path.parent}`.")
    try:
        model = rebuild_model(path, sha256=entry.sha256)
    except CheckpointError as exc:
        raise ZooError(
            f"Zoo file {path} failed verification ({exc}). Do not use it; rebuild it with "
            f"`{entry.rebuild_command()} --root {path.parent}`."
        ) from exc
    return model.eval()


def load_pretrained(
    region: str, family: str, tasks: str | Sequence[str] | None = None, *, root: str | Path | None = None
) -> MultiTaskNet:
    """The pretrained zoo model of ``region`` and ``family`` (sha256 checked, ``weights_only`` load).

    Args:
        region: region name.
        family: ``parallel``, ``cascaded``, ``interacted``, ``hybrid`` or ``single``.
        tasks: ``None`` (all the region's tasks), or a task subset (list or comma string); the
            model for exactly that subset is returned. ``single`` needs exactly one task.
        root: zoo folder (default :func:`default_root`).

    Returns:
        A float32 :class:`~mtdl_kit.models.base.MultiTaskNet` in eval mode on the CPU.

    Raises:
        ValueError: unknown names, or no model for that task subset (lists what is available).
        ZooError: the model is not in the zoo, or its file is missing or tampered (says how to rebuild).
    """
    return load_entry(find_entry(region, family, tasks, root=root), root=root)
