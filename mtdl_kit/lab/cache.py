"""A finished lab run on disk: ``<stem>.json`` (its numbers) beside ``<stem>.npz`` (its test records).

Experiments are resumable: a rerun reads the runs already there instead of training them again. The
json is written last, through a temporary file, so a run interrupted while it is saved counts as not
done. NaN metrics (e.g. the AUC of a one-class test set) are stored as ``null``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

Run = TypeVar("Run")


def _finite(metrics: dict[str, dict[str, float]]) -> dict[str, dict[str, float | None]]:
    return {t: {k: v if math.isfinite(v) else None for k, v in m.items()} for t, m in metrics.items()}


def _unnan(metrics: dict[str, dict[str, Any]]) -> dict[str, dict[str, float]]:
    return {t: {k: math.nan if v is None else v for k, v in m.items()} for t, m in metrics.items()}


def cached_lab_run(
    stem: Path | None,
    compute: Callable[[], Run],
    build: Callable[..., Run],
    fields: Sequence[str],
    tables: Sequence[str] = ("metrics",),
    records: bool = True,
) -> Run:
    """The run stored at ``stem``, else ``compute()`` stored there (no cache when ``stem`` is ``None``).

    Args:
        stem: path without suffix, e.g. ``cache / f"{cfg.key()}-{arm}-s{seed}"``.
        compute: trains the run; the result has the attributes ``fields``, ``tables`` and ``records``.
        build: rebuilds a run from the stored ``fields``, ``tables`` and ``records`` (its class).
        fields: the run's plain JSON attributes.
        tables: its ``{task: {name: number}}`` attributes, whose NaNs are stored as ``null``.
        records: whether the run has test ``records`` (stored beside the json as ``<stem>.npz``).
    """
    from mtdl_kit.evaluation import Records

    done = stem is not None and stem.with_suffix(".json").exists()
    if done and (not records or stem.with_suffix(".npz").exists()):
        meta = json.loads(stem.with_suffix(".json").read_text())
        for name in tables:
            meta[name] = _unnan(meta[name])
        if records:
            meta["records"] = Records.load(stem.with_suffix(".npz"))
        return build(**meta)
    run = compute()
    if stem is not None:
        stem.parent.mkdir(parents=True, exist_ok=True)
        if records:
            run.records.save(stem.with_suffix(".npz"))  # type: ignore[attr-defined]
        meta = {name: getattr(run, name) for name in fields}
        for name in tables:
            meta[name] = _finite(getattr(run, name))
        tmp = stem.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(meta, allow_nan=False))
        tmp.replace(stem.with_suffix(".json"))
    return run


def cached_network(stem: Path | None, compute: Callable[[], tuple[Any, dict[str, Any]]]) -> tuple[Any, dict[str, Any]]:
    """The trained network stored at ``<stem>.pt`` with its record ``<stem>.json``, else ``compute()`` stored there.

    For experiments whose networks are scored again later on new inputs (experiment D scores each
    classifier on masks of several qualities): the network is kept, not only its test records. It is
    saved with :func:`~mtdl_kit.checkpoint.save_checkpoint` and rebuilt with
    :func:`~mtdl_kit.checkpoint.rebuild_model`, which verifies the sha256 recorded in the json before
    loading with ``weights_only=True``. The json is written last, through a temporary file.

    Args:
        stem: path without suffix; ``None`` for no cache.
        compute: trains the network; returns ``(model, record)`` with a JSON-friendly record.

    Returns:
        ``(model, record)``.
    """
    from mtdl_kit.checkpoint import rebuild_model, save_checkpoint

    if stem is not None and stem.with_suffix(".json").exists() and stem.with_suffix(".pt").exists():
        record = json.loads(stem.with_suffix(".json").read_text())
        model = rebuild_model(stem.with_suffix(".pt"), sha256=record.pop("sha256"))
        return model, record
    model, record = compute()
    if stem is not None:
        digest = save_checkpoint(model, stem.with_suffix(".pt"))
        tmp = stem.with_suffix(".json.tmp")
        tmp.write_text(json.dumps({**record, "sha256": digest}, allow_nan=False))
        tmp.replace(stem.with_suffix(".json"))
    return model, record
