"""The zoo models the dashboard pages show: which model answers a task subset, loading it shared and frozen.

- :func:`resolve_model`: for a region, family and the tasks a user toggled on, the zoo model to
  use — the model trained for exactly that task subset when the manifest has one (a single task:
  the single-task baseline), otherwise the region's full model with the other heads hidden, or
  ``None`` with a message while the model is not trained yet.
- :func:`available_families`: the multi-task families of a region the zoo has.
- :func:`manifest_stamp` / :func:`read_manifest_or_empty`: the manifest file and its version (the
  zoo may still be training: a page re-reads it when it changes), read without ever raising.
- :func:`region_model_size`: the image size a region's zoo models were trained at (from the manifest:
  one size per region, because a page compares its models on the same cases).
- :func:`load_shared_model`: a zoo model loaded once for every session — eval mode, on the best
  device, every parameter frozen (sessions only read it; live training builds its own models).

Research and teaching use only — not for clinical use.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mtdl_kit.models import MULTI_TASK_FAMILIES
from mtdl_kit.zoo import LAB_RECIPE, zoo_key

if TYPE_CHECKING:
    from mtdl_kit.zoo import ZooEntry

#: regions in the order the zoo job trains them (for the "not trained yet" message).
ZOO_ORDER_NOTE = "the zoo is trained region by region (brain, eye, chest, cardiac, …)"


@dataclass(frozen=True)
class ModelChoice:
    """Which zoo model answers ``shown`` tasks for ``family``.

    ``how`` is ``"exact"`` (a zoo model trained on exactly these tasks: the full set, a subset or a
    single-task baseline), ``"hidden"`` (the full model with the ``hidden`` heads not shown) or
    ``"missing"``; ``note`` says it in words for the UI; ``baseline`` is true when the model is the
    single-task baseline standing in for ``family``.
    """

    family: str
    key: str | None
    model_tasks: tuple[str, ...]
    shown: tuple[str, ...]
    hidden: tuple[str, ...]
    how: str
    note: str
    baseline: bool = False

    @property
    def label(self) -> str:
        """How the model's outputs are labelled: the family, or ``family→key`` for a stand-in baseline."""
        return f"{self.family}→{self.key}" if self.baseline else self.family


def resolve_model(region: str, family: str, tasks: Sequence[str], manifest: Mapping[str, ZooEntry]) -> ModelChoice:
    """The zoo model for ``tasks`` of ``region`` in ``family`` (see :class:`ModelChoice`).

    Raises:
        ValueError: no task, or an unknown task or family name.
    """
    from mtdl_kit.regions import get_region
    from mtdl_kit.zoo import rebuild_command

    reg = get_region(region)
    if not tasks:
        raise ValueError(f"Select at least one of the {region} tasks {reg.task_names}.")
    picked = {t.name for t in reg.select_tasks(list(tasks))}
    shown = tuple(n for n in reg.task_names if n in picked)  # the region's order
    for key, e in manifest.items():
        if e.region == region and e.family == family and set(e.tasks) == set(shown):
            what = (
                "these tasks (all the region's)" if shown == reg.task_names else f"these tasks only: {', '.join(shown)}"
            )
            return ModelChoice(family, key, tuple(e.tasks), shown, (), "exact", f"zoo model trained on {what}")
    if len(shown) == 1:
        e = manifest.get(zoo_key(region, "single", shown))
        if e is not None:
            return ModelChoice(
                family,
                e.key,
                tuple(e.tasks),
                shown,
                (),
                "exact",
                f"single-task zoo baseline for {shown[0]}: a model trained on this task alone "
                f"(the zoo has no {family} model for one task)",
                baseline=True,
            )
    full = manifest.get(zoo_key(region, family))
    if full is not None:
        hidden = tuple(t for t in full.tasks if t not in shown)
        return ModelChoice(
            family,
            full.key,
            tuple(full.tasks),
            shown,
            hidden,
            "hidden",
            f"head(s) hidden, same model: the full {family} model, trained on all {len(full.tasks)} tasks, "
            f"with the {', '.join(hidden)} head(s) hidden (no zoo model was trained on this subset)",
        )
    return ModelChoice(
        family,
        None,
        (),
        shown,
        (),
        "missing",
        f"The {family} model of the {region} region is not in the zoo yet ({ZOO_ORDER_NOTE}; "
        f"it appears when its training finishes). To train it yourself: `{rebuild_command(region, family)}`.",
    )


def available_families(region: str, manifest: Mapping[str, Any]) -> list[str]:
    """The multi-task families (:data:`~mtdl_kit.models.MULTI_TASK_FAMILIES` order) with a full ``region`` model."""
    return [f for f in MULTI_TASK_FAMILIES if zoo_key(region, f) in manifest]


def region_model_size(region: str, manifest: Mapping[str, ZooEntry]) -> int:
    """The image side (px) ``region``'s zoo models were trained at, read from their manifest entries.

    A region without zoo models gets the size the zoo's recipe would train them at
    (:meth:`mtdl_kit.zoo.LAB_RECIPE.size_for <mtdl_kit.zoo.ZooRecipe.size_for>`; its pages show the
    "not trained yet" message anyway).

    Raises:
        ValueError: the region's models were trained at different sizes (a page compares them on the
            same cases, so one region's zoo must come from one recipe).
    """
    sizes: dict[int, list[str]] = {}
    for key, entry in manifest.items():
        if entry.region == region:
            sizes.setdefault(entry.image_size, []).append(key)
    if len(sizes) > 1:
        found = "; ".join(f"{s} px: {', '.join(sorted(keys))}" for s, keys in sorted(sizes.items()))
        raise ValueError(
            f"The {region} zoo models were trained at different image sizes ({found}); retrain the region with one "
            f"recipe, e.g. `mtdl-kit zoo train --region {region} --recipe lab`."
        )
    return next(iter(sizes), LAB_RECIPE.size_for(region))


def unstopped_baselines(region: str) -> Any:
    """The region's single-task baselines retrained without the early stop that the shipped zoo still holds stopped.

    Rows of the results table ``zoo_unstopped`` (``benchmarks/bench_zoo.py --unstopped``: ``key``, ``task``,
    ``metric``, ``shipped``, ``unstopped``, ``unstopped_best_step``, ...) whose model in the zoo's manifest
    is still the early-stopped one (a model since retrained to its cap, :attr:`ZooEntry.trained_to_cap`, is
    itself the retrained network: nothing to add). Empty when the table was not written.
    """
    import pandas as pd

    from mtdl_kit.results import load_results
    from mtdl_kit.zoo import read_manifest

    try:
        rows = load_results("zoo_unstopped")
    except FileNotFoundError:
        return pd.DataFrame(columns=["key", "task", "metric", "shipped", "unstopped", "unstopped_best_step"])
    manifest = read_manifest()
    keep = [
        str(key).startswith(f"{region}-single-") and key in manifest and not manifest[key].trained_to_cap
        for key in rows["key"]
    ]
    return rows[keep].reset_index(drop=True)


def manifest_stamp() -> tuple[str, int]:
    """``(path, modification time in ns)`` of the zoo manifest (0 while it does not exist): a cache key."""
    from mtdl_kit.zoo import MANIFEST, default_root

    path = Path(default_root()) / MANIFEST
    return str(path), path.stat().st_mtime_ns if path.exists() else 0


def read_manifest_or_empty(path: str | Path) -> dict[str, ZooEntry]:
    """The manifest at ``path`` (a file from :func:`manifest_stamp`); ``{}`` when it is missing or unreadable."""
    from mtdl_kit.zoo import ZooError, read_manifest

    try:
        return read_manifest(Path(path).parent)
    except (ZooError, ValueError, OSError):
        return {}


#: (file path, sha256) -> the shared model: one copy per process, whoever loads it first (the server's
#: warm-up, :mod:`mtdl_kit.services.warmup`, or a page), with one lock per file so it is built once.
_SHARED: dict[tuple[str, str], Any] = {}
_SHARED_LOCKS: dict[tuple[str, str], threading.Lock] = {}
_SHARED_GUARD = threading.Lock()


def load_shared_model(entry: ZooEntry) -> Any:
    """A zoo model to share read-only between sessions: verified, eval mode, on the best device, frozen.

    Loaded once per process and zoo file (the same object on every later call).

    Raises:
        ZooError: the file is missing or does not match the manifest (the message says how to rebuild it).
    """
    from mtdl_kit.device import pick_device
    from mtdl_kit.zoo import default_root, load_entry

    key = (str(Path(default_root()) / entry.file), entry.sha256)
    with _SHARED_GUARD:
        lock = _SHARED_LOCKS.setdefault(key, threading.Lock())
    with lock:
        if key not in _SHARED:
            model = load_entry(entry).to(pick_device("auto")).eval()
            for p in model.parameters():
                p.requires_grad_(False)
            _SHARED[key] = model
    return _SHARED[key]


def device_label() -> str:
    """Where the shared models run, in words: ``cuda (<GPU name>)`` or ``cpu (<n> thread(s) per forward pass)``."""
    import torch

    if torch.cuda.is_available():
        return f"cuda ({torch.cuda.get_device_name(0)})"
    return f"cpu ({torch.get_num_threads()} thread(s) per forward pass)"


__all__ = [
    "ZOO_ORDER_NOTE",
    "ModelChoice",
    "available_families",
    "device_label",
    "load_shared_model",
    "manifest_stamp",
    "read_manifest_or_empty",
    "region_model_size",
    "resolve_model",
]
