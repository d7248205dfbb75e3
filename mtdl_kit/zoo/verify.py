"""Re-scoring zoo models on their fixed held-out test sets and comparing with the manifest.

:func:`verify_zoo` re-scores every model (about a minute for the 59 shipped models on two CPU cores);
:func:`verify_zoo_quick` (``mtdl-kit zoo verify --quick``) checks every file's sha256 and size but
re-scores only one model per region, :data:`QUICK_FAMILY`, on its full held-out test set.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from mtdl_kit.zoo.loading import load_entry
from mtdl_kit.zoo.manifest import DEFAULT_TOLERANCE, MANIFEST, ZooEntry, ZooError, default_root, read_manifest
from mtdl_kit.zoo.training import held_out_metrics

#: the family :func:`verify_zoo_quick` re-scores in each region (its model on all the region's tasks)
QUICK_FAMILY = "parallel"


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


def verify_files(root: str | Path | None = None, *, regions: Sequence[str] | None = None) -> list[str]:
    """Check that every model file of the manifest exists with the recorded size and sha256 (no model is loaded).

    Args:
        root: zoo folder.
        regions: only these regions' models.

    Returns:
        One line per problem (empty: every file is intact).
    """
    root = Path(root or default_root())
    return [p for p in (_file_problem(root, e) for e in _selected(root, regions)) if p is not None]


def _file_problem(root: Path, e: ZooEntry) -> str | None:
    from mtdl_kit.checkpoint import sha256_file

    path = root / e.file
    if not path.is_file():
        return f"{path} is missing. Rebuild it with `{e.rebuild_command()} --root {root}`."
    if path.stat().st_size != e.size_bytes:
        return f"{e.file}: {path.stat().st_size} bytes, the manifest says {e.size_bytes}."
    if sha256_file(path) != e.sha256:
        return (
            f"{e.file}: sha256 differs from the manifest (tampered or truncated); rebuild it with "
            f"`{e.rebuild_command()} --root {root}`."
        )
    return None


def quick_keys(root: str | Path | None = None, *, regions: Sequence[str] | None = None) -> list[str]:
    """The models :func:`verify_zoo_quick` re-scores: per region, the :data:`QUICK_FAMILY` model on all its tasks."""
    from mtdl_kit.regions import get_region

    root = Path(root or default_root())
    return [
        e.key
        for e in _selected(root, regions)
        if e.family == QUICK_FAMILY and e.tasks == tuple(get_region(e.region).task_names)
    ]


def verify_zoo_quick(
    root: str | Path | None = None,
    *,
    regions: Sequence[str] | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    progress: bool = False,
) -> list[str]:
    """The quick check: every file's size and sha256, and one re-scored model per region.

    The re-scored models (:func:`quick_keys`) are evaluated exactly as in :func:`verify_zoo`, on
    their full fixed held-out test set, so their metrics are compared with the manifest at the same
    tolerance; the other models are only hash-checked. A region without a :data:`QUICK_FAMILY`
    model is a problem.

    Returns:
        One line per problem (empty: the quick check passes).
    """
    root = Path(root or default_root())
    if not (root / MANIFEST).exists():
        return [f"{root / MANIFEST} does not exist; train the zoo with `mtdl-kit zoo train --root {root}`."]
    manifest = read_manifest(root)
    problems = verify_files(root, regions=regions)
    keys = quick_keys(root, regions=regions)
    covered = {manifest[k].region for k in keys}
    wanted = {e.region for e in _selected(root, regions)}
    keys = [k for k in keys if _file_problem(root, manifest[k]) is None]  # a broken file is reported once
    problems += [
        f"{root / MANIFEST} has no {QUICK_FAMILY} model of region {r!r} on all its tasks for the quick check; "
        f"train it with `mtdl-kit zoo train --region {r} --family {QUICK_FAMILY} --root {root}`."
        for r in sorted(wanted - covered)
    ]
    if keys:
        problems += verify_zoo(root, keys=keys, tolerance=tolerance, progress=progress)
    return problems


def _selected(root: Path, regions: Sequence[str] | None) -> list[ZooEntry]:
    return [e for e in read_manifest(root).values() if regions is None or e.region in regions]
