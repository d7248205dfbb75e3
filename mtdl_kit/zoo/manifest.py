"""The zoo manifest: one :class:`ZooEntry` per pretrained model (config, seed, metrics, sha256, ...)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mtdl_kit.zoo.naming import rebuild_command

if TYPE_CHECKING:
    from mtdl_kit.experiments import RunConfig

MANIFEST = "manifest.json"
ZOO_FORMAT = "mtdl-kit-zoo/1"
#: ``verify_zoo`` accepts ``|recomputed - recorded| <= tolerance * max(1, |recorded|)`` for every
#: task's primary metric (Dice and ROC-AUC in [0, 1]: absolute; MAE / radial error: relative).
DEFAULT_TOLERANCE = 0.01


class ZooError(ValueError):
    """A zoo model is missing, tampered with, or not in the manifest.

    A ``ValueError`` (like :class:`~mtdl_kit.checkpoint.CheckpointError`), so the command line
    prints it as a one-line error.
    """


@dataclass
class ZooEntry:
    """One pretrained model as recorded in the zoo manifest.

    Attributes:
        region: region name.
        family: ``parallel``, ``cascaded``, ``interacted``, ``hybrid`` or ``single``.
        tasks: the model's tasks, in the region's declaration order.
        config: the :class:`~mtdl_kit.experiments.RunConfig` fields it was trained with.
        seed: training seed (initial weights and data order; the test set does not depend on it).
        library_version: ``mtdl_kit.__version__`` at training time.
        metrics: task -> metric -> value on the fixed held-out phantom test set, measured on the
            stored fp16 weights (NaN written as ``null``).
        file: file name inside the zoo folder.
        sha256: digest of the file.
        size_bytes: file size.
        train_seconds: wall-clock training time (without the evaluation).
        device: the device it was trained on (e.g. ``cpu``, ``cuda:0 (NVIDIA H100)``).
        training: how a run under validation stopping ended: ``steps_run``, ``best_step`` (the
            evaluation whose weights were kept), ``evaluations``, ``stopped_early`` (``False``: it ran
            to the step cap); ``None`` for a fixed-step recipe.
    """

    region: str
    family: str
    tasks: tuple[str, ...]
    config: dict[str, Any]
    seed: int
    library_version: str
    metrics: dict[str, dict[str, float | None]]
    file: str
    sha256: str
    size_bytes: int
    train_seconds: float
    device: str
    training: dict[str, Any] | None = None

    @property
    def key(self) -> str:
        """Manifest key: the file name without ``.pt``."""
        return self.file.removesuffix(".pt")

    def to_json(self) -> dict[str, Any]:
        """JSON-friendly dict (tasks as a list)."""
        d = asdict(self)
        d["tasks"] = list(self.tasks)
        return d

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ZooEntry:
        """Inverse of :meth:`to_json`; raises ``ValueError`` naming missing fields."""
        names = [f.name for f in fields(cls)]
        optional = {f.name for f in fields(cls) if f.default is not MISSING}
        missing = [n for n in names if n not in data and n not in optional]
        if missing:
            raise ValueError(f"Zoo manifest entry {data.get('file', '?')!r} lacks the fields {missing}.")
        return cls(**{**{n: data[n] for n in names if n in data}, "tasks": tuple(data["tasks"])})

    @property
    def image_size(self) -> int:
        """The image side (px) the model was trained at: what it must be shown (``config["size"]``)."""
        return int(self.config["size"])

    def run_config(self) -> RunConfig:
        """The :class:`~mtdl_kit.experiments.RunConfig` the model was trained with."""
        from mtdl_kit.experiments import RunConfig

        cfg = dict(self.config)
        if cfg.get("tasks") is not None:
            cfg["tasks"] = tuple(cfg["tasks"])
        return RunConfig(**cfg)

    def phantom_seeds(self) -> dict[str, range]:
        """The phantom seeds this model was trained, validated and scored on, by split, from its recorded config.

        ``train``: ``seed * n_train ...`` of the training split (:func:`mtdl_kit.experiments.train_run`);
        ``test``: the fixed held-out test set (:func:`~mtdl_kit.zoo.training.held_out_test_set`);
        ``val``: only when the config records ``n_val``. Empty for a model trained on a folder
        dataset (``data_dir``). Demos must stay outside every range (the bundled samples do).
        """
        from mtdl_kit.data.phantom import SPLIT_OFFSETS

        cfg = self.config
        if cfg.get("data_dir") is not None:
            return {}
        start = SPLIT_OFFSETS["train"] + int(cfg["seed"]) * int(cfg["n_train"])
        seeds = {
            "train": range(start, start + int(cfg["n_train"])),
            "test": range(SPLIT_OFFSETS["test"], SPLIT_OFFSETS["test"] + int(cfg["n_test"])),
        }
        if cfg.get("n_val"):
            seeds["val"] = range(SPLIT_OFFSETS["val"], SPLIT_OFFSETS["val"] + int(cfg["n_val"]))
        return seeds

    @property
    def trained_to_cap(self) -> bool:
        """Whether the model was trained without the early stop: validation evaluations, and a patience
        longer than the run (every run reaches its step cap; e.g. the ``lab-to-cap`` recipe)."""
        cfg = self.config
        if not cfg.get("n_val"):
            return False
        return int(cfg["patience"]) * int(cfg["eval_every"]) > int(cfg["steps"])

    def rebuild_command(self) -> str:
        """The command line that re-trains this model: with the named recipe whose settings its config records."""
        from mtdl_kit.zoo.training import recipe_of

        return rebuild_command(self.region, self.family, recipe_of(self.region, self.config))


def default_root() -> Path:
    """``$MTDL_KIT_ZOO`` if set, else the bundled ``data_samples/weights/`` (:mod:`mtdl_kit.resources`)."""
    from mtdl_kit.resources import weights_dir

    return weights_dir()


def read_manifest(root: str | Path | None = None) -> dict[str, ZooEntry]:
    """The zoo's entries by key; an empty dict when there is no manifest yet."""
    path = Path(root or default_root()) / MANIFEST
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    if data.get("format") != ZOO_FORMAT:
        raise ZooError(f"{path}: not a zoo manifest (format {data.get('format')!r}, expected {ZOO_FORMAT}).")
    return {k: ZooEntry.from_json(v) for k, v in data.get("entries", {}).items()}


@contextmanager
def manifest_lock(root: str | Path) -> Iterator[Path]:
    """Hold the zoo folder's exclusive manifest lock (a ``flock`` on ``.manifest.json.lock``); yields the folder.

    Every read-modify-write of a manifest that other processes may share goes under it.
    """
    import fcntl

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f".{MANIFEST}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield root
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def add_entry(root: str | Path, entry: ZooEntry) -> dict[str, ZooEntry]:
    """Add (or replace) one entry in the manifest under an exclusive lock, and return the manifest.

    The manifest is read again under the lock, so several ``mtdl-kit zoo train`` processes working on
    different models in one folder (e.g. one per core) never overwrite each other's entries.
    """
    with manifest_lock(root) as folder:
        entries = read_manifest(folder)
        entries[entry.key] = entry
        write_manifest(folder, entries)
    return entries


def write_manifest(root: Path, entries: dict[str, ZooEntry]) -> None:
    """Write the whole manifest atomically (a temporary file, then a rename)."""
    from mtdl_kit import __version__

    payload = {
        "format": ZOO_FORMAT,
        "library_version": __version__,
        "tolerance": DEFAULT_TOLERANCE,
        "note": "Pretrained on synthetic phantoms. Research and teaching use only — not for clinical use.",
        "entries": {k: entries[k].to_json() for k in sorted(entries)},
    }
    root.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=root, prefix=f".{MANIFEST}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(payload, indent=1, allow_nan=False) + "\n")
        os.replace(tmp, root / MANIFEST)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
