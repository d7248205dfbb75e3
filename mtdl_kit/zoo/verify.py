"""Re-scoring every zoo model on its fixed held-out test set and comparing with the manifest."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from mtdl_kit.zoo.loading import load_entry
from mtdl_kit.zoo.manifest import DEFAULT_TOLERANCE, MANIFEST, ZooError, default_root, read_manifest
from mtdl_kit.zoo.training import held_out_metrics


def verify_zoo(
    root: str | Path | None = None,
    *,
    regions: Sequence[str] | None = None,
    keys: Sequence[str] | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    progress: bool = False,
) -> list[str]:
    """Check every zoo model: file present, sha256 and size as recorded, held-out metrics reproduced.

    Each model is loaded and re-evaluated on the same fixed test set (recorded config); every
    task's primary metric (:func:`~mtdl_kit.metrics.primary_metric`) must lie within
    ``tolerance * max(1, |recorded|)`` of the manifest value.

    Args:
        root: zoo folder.
        regions: only these regions' models.
        keys: only these models (manifest keys, e.g. ``"eye-parallel"``).
        tolerance: relative tolerance (absolute for metrics in [0, 1]).
        progress: tqdm bar.

    Returns:
        One line per problem (empty: the zoo verifies).
    """
    from mtdl_kit.metrics import primary_metric
    from mtdl_kit.regions import get_region

    if tolerance < 0 or not math.isfinite(tolerance):
        raise ValueError(f"tolerance must be a non-negative number, got {tolerance!r}.")
    root = Path(root or default_root())
    if not (root / MANIFEST).exists():
        return [f"{root / MANIFEST} does not exist; train the zoo with `mtdl-kit zoo train --root {root}`."]
    manifest = read_manifest(root)
    unknown = [k for k in keys or () if k not in manifest]
    if unknown:
        return [f"{root / MANIFEST} has no models {unknown}; its keys are {sorted(manifest)}."]
    entries = [
        e for e in manifest.values() if (regions is None or e.region in regions) and (keys is None or e.key in keys)
    ]
    if not entries:
        return [f"{root / MANIFEST} has no models for regions {list(regions or [])}."]
    problems: list[str] = []
    items = entries
    if progress:
        from tqdm.auto import tqdm

        items = tqdm(entries, desc="verify", unit="model")
    for e in items:
        try:
            model = load_entry(e, root=root)
        except ZooError as exc:
            problems.append(str(exc))
            continue
        size = (root / e.file).stat().st_size
        if size != e.size_bytes:
            problems.append(f"{e.file}: {size} bytes, the manifest says {e.size_bytes}.")
        got = held_out_metrics(model, e.run_config())
        reg = get_region(e.region)
        for task in e.tasks:
            name = primary_metric(reg.task(task))
            want = e.metrics.get(task, {}).get(name)
            have = got[task].get(name)
            if want is None or have is None:
                if want != have:
                    problems.append(f"{e.file}: {task} {name} recomputed {have}, manifest {want}.")
                continue
            if abs(have - want) > tolerance * max(1.0, abs(want)):
                problems.append(
                    f"{e.file}: {task} {name} recomputed {have:.4f}, manifest {want:.4f} "
                    f"(tolerance {tolerance:g}). Rebuild with `{e.rebuild_command()} --root {root}`."
                )
    return problems
