"""Checkpoints: atomic save, sha256 sidecar, safe loading (``torch.load(weights_only=True)``).

A checkpoint holds ``{"format", "config", "state_dict", "meta"}``. ``config`` is what
:func:`mtdl_kit.models.build_model` needs to rebuild the architecture, so a checkpoint can be
loaded without knowing how it was made, and a mismatch with a given model is reported by name.
Every file gets a ``<file>.sha256`` sidecar; loading verifies it (or an explicit digest) before
unpickling anything.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

FORMAT = "mtdl-kit-checkpoint/1"
#: build_model options recorded in a checkpoint that rebuild_model passes back (the rest is derived).
_BUILD_OPTIONS = (
    "cascade_mode",
    "source",
    "interaction",
    "dense_decoder",
    "guide_summary",
    "adversarial",
    "adversarial_objective",
)


class CheckpointError(ValueError):
    """A checkpoint is missing, truncated, tampered with or does not fit the model."""


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def model_config(model: nn.Module) -> dict[str, Any]:
    """The build arguments of a :class:`~mtdl_kit.models.base.MultiTaskNet` (JSON-friendly)."""
    model = getattr(model, "module", model)  # unwrap DistributedDataParallel
    missing = [a for a in ("family", "tasks", "in_channels", "width", "spatial_dims") if not hasattr(model, a)]
    if missing:
        raise CheckpointError(f"{type(model).__name__} is not an mtdl-kit MultiTaskNet (missing {missing}).")
    return {
        "family": model.family,
        "tasks": [dataclasses.asdict(t) for t in model.tasks],
        "in_channels": int(model.in_channels),
        "width": int(model.width),
        "spatial_dims": int(model.spatial_dims),
        "region": getattr(model, "region", None),
        # the initialisation seed is not part of the architecture: weights replace it on load
        "options": {k: v for k, v in getattr(model, "options", {}).items() if k != "seed"},
    }


def save_checkpoint(
    model: nn.Module, path: str | Path, *, meta: dict[str, Any] | None = None, dtype: torch.dtype | None = None
) -> str:
    """Save ``model`` atomically (write a temporary file, then rename) and write ``<path>.sha256``.

    Args:
        model: the network (a DDP wrapper is unwrapped).
        path: checkpoint file.
        meta: JSON-friendly extra information stored with the weights.
        dtype: store the floating-point tensors in this dtype (e.g. ``torch.float16`` halves the
            file, as the pretrained zoo does); :func:`load_checkpoint` restores ``float32``.

    Returns:
        The sha256 of the written file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    net = getattr(model, "module", model)
    payload = {
        "format": FORMAT,
        "config": model_config(net),
        "state_dict": {k: _stored(v.detach().cpu(), dtype) for k, v in net.state_dict().items()},
        "meta": dict(meta or {}),
    }
    return _save_with_digest(payload, path)


def _save_with_digest(payload: dict[str, Any], path: Path) -> str:
    """``torch.save`` through a temporary file renamed into place, then the ``<path>.sha256`` sidecar."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    digest = sha256_file(path)
    Path(f"{path}.sha256").write_text(f"{digest}  {path.name}\n")
    return digest


def _verified_load(path: Path, sha256: str | None, what: str, remedy: str) -> Any:
    """``torch.load(weights_only=True)`` of ``path`` once its bytes match the expected digest."""
    if not path.exists():
        raise CheckpointError(f"{what.capitalize()} {path} does not exist.")
    expected = _expected_digest(path, sha256)
    actual = sha256_file(path)
    if actual != expected:
        raise CheckpointError(
            f"{path}: sha256 {actual[:12]}… does not match the expected {expected[:12]}… — the file was modified or "
            f"truncated. {remedy}"
        )
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt archives
        raise CheckpointError(f"{path}: cannot be read as a {what} ({type(exc).__name__}: {exc}).") from exc


def _stored(tensor: torch.Tensor, dtype: torch.dtype | None) -> torch.Tensor:
    return tensor.to(dtype) if dtype is not None and tensor.is_floating_point() else tensor


def _expected_digest(path: Path, sha256: str | None) -> str:
    if sha256 is not None:
        return sha256
    sidecar = Path(f"{path}.sha256")
    if not sidecar.exists():
        raise CheckpointError(
            f"{path}: no sha256 given and no sidecar {sidecar.name}; pass sha256=... or re-save the checkpoint "
            "with mtdl_kit.checkpoint.save_checkpoint."
        )
    return sidecar.read_text().split()[0]


def load_checkpoint(path: str | Path, model: nn.Module | None = None, *, sha256: str | None = None) -> dict[str, Any]:
    """Verify and load a checkpoint; optionally load its weights into ``model``.

    Args:
        path: checkpoint file.
        model: if given, its architecture must match the checkpoint's config and its weights are
            replaced (strict).
        sha256: expected digest; default: the ``<path>.sha256`` sidecar.

    Returns:
        The checkpoint dict (``config``, ``state_dict``, ``meta``).

    Raises:
        CheckpointError: missing file, digest mismatch (tampered or truncated), unreadable file, or
            a model whose architecture differs (the message names what differs).
    """
    path = Path(path)
    ckpt = _verified_load(path, sha256, "checkpoint", "Re-create it (e.g. `mtdl-kit zoo train`) instead of loading it.")
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an mtdl-kit checkpoint (format {ckpt.get('format')!r}, expected {FORMAT}).")
    # weights stored in half precision (save_checkpoint(dtype=torch.float16)) come back as float32
    ckpt["state_dict"] = {
        k: v.float() if v.dtype in (torch.float16, torch.bfloat16) else v for k, v in ckpt["state_dict"].items()
    }
    if model is not None:
        net = getattr(model, "module", model)
        mine, theirs = model_config(net), ckpt["config"]
        diffs = [k for k in mine if mine[k] != theirs.get(k)]
        if diffs:
            detail = "; ".join(f"{k}: model {mine[k]!r} vs checkpoint {theirs.get(k)!r}" for k in diffs)
            raise CheckpointError(f"{path} was saved from a different architecture — {detail}.")
        try:
            net.load_state_dict(ckpt["state_dict"], strict=True)
        except RuntimeError as exc:
            raise CheckpointError(f"{path}: weights do not fit the model ({exc}).") from exc
    return ckpt


def rebuild_model(path: str | Path, *, sha256: str | None = None) -> nn.Module:
    """Build the architecture recorded in a checkpoint and load its weights."""
    from mtdl_kit.models import build_model
    from mtdl_kit.regions.base import TaskSpec

    ckpt = load_checkpoint(path, sha256=sha256)
    cfg = ckpt["config"]
    tasks = [
        TaskSpec(**{**t, "class_names": tuple(t["class_names"]), "output_names": tuple(t["output_names"])})
        for t in cfg["tasks"]
    ]
    recorded = dict(cfg["options"])
    if cfg["family"] == "single" and "sub_width" in recorded:
        raise CheckpointError(
            f"{path}: a capacity-matched single-task baseline ({recorded.get('matched_to')}) cannot be rebuilt from "
            "its config alone; build it with build_model(..., capacity_of=...) and call load_checkpoint(path, model)."
        )
    # parameter matching (cascaded / interacted) recomputes sub_width and hidden from the build options
    options = {k: v for k, v in recorded.items() if k in _BUILD_OPTIONS}
    model = build_model(
        cfg["family"],
        tasks,
        cfg["in_channels"],
        width=cfg["width"],
        spatial_dims=cfg["spatial_dims"],
        region=cfg["region"],
        **options,
    )
    derived = {k: v for k, v in model.options.items() if k in ("sub_width", "hidden")}
    if any(recorded.get(k) != v for k, v in derived.items()):
        raise CheckpointError(
            f"{path}: rebuilding gives {derived}, the checkpoint was saved with "
            f"{ {k: recorded.get(k) for k in derived} }; build the model as it was built and call "
            "load_checkpoint(path, model)."
        )
    try:
        model.load_state_dict(ckpt["state_dict"], strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not fit the rebuilt model ({exc}).") from exc
    return model


SNAPSHOT_FORMAT = "mtdl-kit-snapshot/1"


def save_snapshot(state: dict[str, Any], path: str | Path) -> str:
    """Save a training snapshot (what :func:`mtdl_kit.train.fit` needs to continue a run: weights, optimizer,
    generators, history …; tensors, numbers, strings and containers of them only) atomically, with its
    ``<path>.sha256`` sidecar. Returns the sha256."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return _save_with_digest({"format": SNAPSHOT_FORMAT, **state}, path)


def load_snapshot(path: str | Path) -> dict[str, Any]:
    """Verify (sha256 sidecar) and load a snapshot written by :func:`save_snapshot` with ``weights_only=True``.

    Raises:
        CheckpointError: missing, modified, truncated or not a snapshot (the message says to delete it: the run
            then starts again from its first step).
    """
    path = Path(path)
    remedy = f"Delete {path.name} (and its .sha256): the run then starts from its first step."
    state = _verified_load(path, None, "training snapshot", remedy)
    if not isinstance(state, dict) or state.get("format") != SNAPSHOT_FORMAT:
        raise CheckpointError(f"{path}: not an mtdl-kit training snapshot (expected {SNAPSHOT_FORMAT}). {remedy}")
    return state


def delete_snapshot(path: str | Path) -> None:
    """Remove a snapshot and its sidecar (a finished run no longer needs them)."""
    for file in (Path(path), Path(f"{path}.sha256")):
        file.unlink(missing_ok=True)
