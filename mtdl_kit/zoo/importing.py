"""Swap a region's models trained in another folder into a zoo (``mtdl-kit zoo import``).

A zoo is retrained region by region into a folder of its own (``mtdl-kit zoo train --root DIR``,
resumable across sessions); when a region is complete there, :func:`import_region` copies its
verified files into the zoo and replaces that region's manifest entries in one locked write. A
running dashboard re-reads the manifest when it changes; between the copy of the files and that
write (milliseconds) a page loading one of the region's models gets the checkpoint's clear
sha256 error, so import while no class is using the region.

Research and teaching use only — not for clinical use.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from mtdl_kit.zoo.manifest import ZooEntry, ZooError, manifest_lock, read_manifest, write_manifest


def import_region(source: str | Path, target: str | Path, region: str) -> list[ZooEntry]:
    """Copy ``region``'s complete model set from the zoo folder ``source`` into ``target``.

    Every model of the region's plan (the four families on all tasks and one single-task network per
    task) must be in ``source``'s manifest with a file whose sha256 matches, all trained at one image
    size. ``target``'s entries of the region are replaced (entries of task subsets it had are removed:
    they came from the old recipe); the other regions stay as they are.

    Returns:
        The imported entries.

    Raises:
        ZooError: the region is incomplete in ``source``, a file is missing or damaged, or its models
            were trained at different sizes (the message says which and how to finish them).
    """
    from mtdl_kit.checkpoint import sha256_file
    from mtdl_kit.models import FAMILIES
    from mtdl_kit.zoo.naming import check_names, zoo_key
    from mtdl_kit.zoo.training import zoo_plan

    check_names([region], list(FAMILIES))
    source, target = Path(source), Path(target)
    if source.resolve() == target.resolve():
        raise ZooError(f"{source}: the source and the target zoo are the same folder.")
    available = read_manifest(source)
    wanted = [
        zoo_key(r, family, tasks if family == "single" else None) for r, family, tasks in zoo_plan([region], FAMILIES)
    ]
    missing = [k for k in wanted if k not in available]
    if missing:
        raise ZooError(
            f"{source}: the {region} models {missing} are not trained yet; finish them with "
            f"`mtdl-kit zoo train --region {region} --root {source} --skip-existing` (with the same --recipe)."
        )
    entries = [available[k] for k in wanted]
    for e in entries:
        path = source / e.file
        if not path.exists() or sha256_file(path) != e.sha256:
            raise ZooError(f"{path}: missing or not the file the manifest records; retrain it in {source}.")
    sizes = {e.image_size for e in entries}
    if len(sizes) > 1:
        raise ZooError(f"{source}: the {region} models were trained at different sizes {sorted(sizes)}; retrain them.")
    with manifest_lock(target):
        for e in entries:  # files first: the old manifest never points at a file that is not there yet
            for name in (e.file, f"{e.file}.sha256"):
                if (source / name).exists():
                    shutil.copy2(source / name, target / f".{name}.importing")
                    (target / f".{name}.importing").replace(target / name)
        current = {k: v for k, v in read_manifest(target).items() if v.region != region}
        current.update({e.key: e for e in entries})
        write_manifest(target, current)
    return entries


__all__ = ["import_region"]
