"""The pretrained zoo: every region × family (and single-task baselines), trained with the library.

Layout (``data_samples/weights/``, or ``$MTDL_KIT_ZOO``)::

    manifest.json                   one :class:`ZooEntry` per model (config, seed, metrics, sha256, ...)
    <region>-<family>.pt            a multi-task model on all of the region's tasks (fp16 weights)
    <region>-<family>-<tasks>.pt    a model on a task subset (tasks joined by ``+``)
    <region>-single-<task>.pt       a single-task baseline

- :func:`train_zoo` trains the models with :func:`mtdl_kit.experiments.train_run`, stores the
  floating-point weights in half precision and records the held-out metrics **of the stored
  (fp16-rounded) model**, evaluated after the save/load round trip; the manifest is rewritten after
  every model, so an interrupted run keeps what it finished.
- :func:`load_pretrained` verifies the sha256 and loads with ``torch.load(weights_only=True)``
  (:mod:`mtdl_kit.checkpoint`); a missing or tampered file raises :class:`ZooError` with the
  command that rebuilds it.
- :func:`verify_zoo` recomputes every held-out metric on the same fixed phantom test set (the
  test seeds are a function of the recorded config) and compares it with the manifest.

Research and teaching use only — not for clinical use.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mtdl_kit.experiments import RunConfig
    from mtdl_kit.models.base import MultiTaskNet

MANIFEST = "manifest.json"
ZOO_FORMAT = "mtdl-kit-zoo/1"
ZOO_FAMILIES: tuple[str, ...] = ("parallel", "cascaded", "interacted", "hybrid", "single")

#: Training defaults of the zoo (see docs/zoo.md for the measured budget on a 2-core CPU).
DEFAULT_STEPS = 1500
DEFAULT_SIZE = 64
DEFAULT_BATCH_SIZE = 8
DEFAULT_N_TRAIN = 512
DEFAULT_N_TEST = 128
DEFAULT_SEED = 0
DEFAULT_WEIGHTING = "ew"
#: Build options per family. The cascaded zoo models use the detached (``two_stage``) hand-over:
#: trained end to end, the eye's cascade lost its segmentation entirely (disc/cup Dice 0.00 after
#: 1500 steps, vs 0.85 two-stage after 600) because the glaucoma and CDR losses, reaching the
#: narrow source network through the soft map, out-pull its own Dice + CE loss. The end-to-end
#: behaviour stays available (``model_options={"cascade_mode": "end_to_end"}``) and is measured in
#: ``benchmarks/RESULTS.md``.
ZOO_MODEL_OPTIONS: dict[str, dict[str, Any]] = {"cascaded": {"cascade_mode": "two_stage"}}
#: Loss weighting of the multi-task models per region where it is not :data:`DEFAULT_WEIGHTING`.
#: Musculoskeletal: with equal weighting the landmark heatmap loss (a small MSE) is starved by the
#: bone segmentation on the shared decoder — mean radial error 21.9 mm for the parallel network vs
#: 5.2 mm single-task; uncertainty weighting (Kendall et al., CVPR 2018) gives 2.4 mm (1500 steps,
#: seed 0, the zoo's test set).
ZOO_REGION_WEIGHTING: dict[str, str] = {"musculoskeletal": "uw"}
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
        missing = [n for n in names if n not in data]
        if missing:
            raise ValueError(f"Zoo manifest entry {data.get('file', '?')!r} lacks the fields {missing}.")
        return cls(**{**{n: data[n] for n in names}, "tasks": tuple(data["tasks"])})

    def run_config(self) -> RunConfig:
        """The :class:`~mtdl_kit.experiments.RunConfig` the model was trained with."""
        from mtdl_kit.experiments import RunConfig

        cfg = dict(self.config)
        if cfg.get("tasks") is not None:
            cfg["tasks"] = tuple(cfg["tasks"])
        return RunConfig(**cfg)

    def rebuild_command(self) -> str:
        """The command line that re-trains this model."""
        return rebuild_command(self.region, self.family)


def rebuild_command(region: str, family: str) -> str:
    """``mtdl-kit zoo train --region R --family F``."""
    return f"mtdl-kit zoo train --region {region} --family {family}"


def default_root() -> Path:
    """``$MTDL_KIT_ZOO`` if set, else ``data_samples/weights/`` at the repository root."""
    env = os.environ.get("MTDL_KIT_ZOO")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "data_samples" / "weights"


def model_file(region: str, family: str, tasks: Sequence[str], all_tasks: Sequence[str]) -> str:
    """File name of a zoo model (see the module docstring)."""
    if family == "single":
        return f"{region}-single-{tasks[0]}.pt"
    if tuple(tasks) == tuple(all_tasks):
        return f"{region}-{family}.pt"
    return f"{region}-{family}-{'+'.join(tasks)}.pt"


# --------------------------------------------------------------------------------------------------
# Manifest
# --------------------------------------------------------------------------------------------------


def read_manifest(root: str | Path | None = None) -> dict[str, ZooEntry]:
    """The zoo's entries by key; an empty dict when there is no manifest yet."""
    path = Path(root or default_root()) / MANIFEST
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    if data.get("format") != ZOO_FORMAT:
        raise ZooError(f"{path}: not a zoo manifest (format {data.get('format')!r}, expected {ZOO_FORMAT}).")
    return {k: ZooEntry.from_json(v) for k, v in data.get("entries", {}).items()}


def _write_manifest(root: Path, entries: dict[str, ZooEntry]) -> None:
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


# --------------------------------------------------------------------------------------------------
# Evaluation on the fixed held-out test set
# --------------------------------------------------------------------------------------------------


def _clean(value: float) -> float | None:
    return None if not math.isfinite(value) else float(value)


def evaluate(model: MultiTaskNet, cfg: RunConfig) -> dict[str, dict[str, float | None]]:
    """Held-out metrics of ``model`` on the fixed phantom test set of ``cfg`` (on the CPU).

    The test set is ``PhantomDataset(region, cfg.n_test, split="test", size=cfg.size, ...)``: its
    seeds do not depend on the training seed, so every zoo model of a region and size is scored on
    the same cases.
    """

    from mtdl_kit.data.phantom import PhantomDataset
    from mtdl_kit.evaluation import evaluate as evaluate_model
    from mtdl_kit.regions import get_region

    region = get_region(cfg.region)
    tasks = tuple(model.tasks)
    test = PhantomDataset(
        cfg.region,
        cfg.n_test,
        split="test",
        size=cfg.size,
        relatedness=cfg.relatedness,
        nuisance=cfg.nuisance,
        tasks=[t.name for t in tasks],
    )
    scored = evaluate_model(model.to("cpu"), test, tasks=tasks, region=region, batch_size=cfg.batch_size)
    return {name: {k: _clean(v) for k, v in metrics.items()} for name, metrics in scored.metrics.items()}


# --------------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------------


def _plan(regions: Sequence[str], families: Sequence[str]) -> list[tuple[str, str, tuple[str, ...]]]:
    from mtdl_kit.regions import get_region

    plan = []
    for r in regions:
        names = get_region(r).task_names
        for fam in families:
            if fam == "single":
                plan += [(r, "single", (t,)) for t in names]
            else:
                plan.append((r, fam, names))
    return plan


def _check_names(regions: Sequence[str], families: Sequence[str]) -> None:
    from mtdl_kit.regions import REGION_NAMES

    bad_r = [r for r in regions if r not in REGION_NAMES]
    if bad_r or not regions:
        raise ValueError(f"Unknown or no regions {bad_r or list(regions)}; allowed regions are {REGION_NAMES}.")
    bad_f = [f for f in families if f not in ZOO_FAMILIES]
    if bad_f or not families:
        raise ValueError(f"Unknown or no families {bad_f or list(families)}; allowed families are {ZOO_FAMILIES}.")


def _device_name(model: Any) -> str:
    import torch

    dev = next(model.parameters()).device
    if dev.type == "cuda":
        return f"{dev} ({torch.cuda.get_device_name(dev)})"
    return str(dev)


def train_zoo(
    regions: Sequence[str] | None = None,
    families: Sequence[str] | None = None,
    *,
    root: str | Path | None = None,
    steps: int = DEFAULT_STEPS,
    size: int = DEFAULT_SIZE,
    batch_size: int = DEFAULT_BATCH_SIZE,
    n_train: int = DEFAULT_N_TRAIN,
    n_test: int = DEFAULT_N_TEST,
    width: int | None = None,
    seed: int = DEFAULT_SEED,
    weighting: str | None = None,
    device: str = "auto",
    skip_existing: bool = False,
    progress: bool = True,
    on_model: Callable[[ZooEntry], None] | None = None,
) -> list[ZooEntry]:
    """Train every region × family (all of the region's tasks) and, with ``"single"``, one baseline per task.

    Each model is trained with :func:`~mtdl_kit.experiments.train_run` (relatedness 1, no
    nuisance), saved with fp16 weights, reloaded, evaluated on the fixed test set
    and added to the manifest right away.

    Args:
        regions: region names (default: all eight).
        families: among :data:`ZOO_FAMILIES` (default: all, i.e. the four families + single-task baselines).
        root: zoo folder (default :func:`default_root`).
        steps: optimisation steps per model.
        size: image size in pixels (multiple of 16).
        batch_size: batch size.
        n_train: training phantoms (seeds ``seed * n_train ...``).
        n_test: held-out phantoms (fixed test seeds).
        width: backbone width (default: the library's default width).
        seed: training seed.
        weighting: loss weighting of the multi-task models (:func:`mtdl_kit.weighting.available_weightings`;
            single-task baselines always use ``"ew"``); default: :data:`ZOO_REGION_WEIGHTING` for the
            region, else :data:`DEFAULT_WEIGHTING`.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``...
        skip_existing: keep models already in the manifest whose file verifies, instead of re-training.
        progress: tqdm bars (one over models, one per training run).
        on_model: called with each new :class:`ZooEntry` (e.g. to print a line).

    Returns:
        The entries trained (or kept) by this call.
    """
    import torch

    from mtdl_kit import __version__
    from mtdl_kit.checkpoint import rebuild_model, save_checkpoint, sha256_file
    from mtdl_kit.experiments import RunConfig, train_run
    from mtdl_kit.regions import REGION_NAMES, get_region

    regions = list(regions or REGION_NAMES)
    families = list(families or ZOO_FAMILIES)
    _check_names(regions, families)
    from mtdl_kit.weighting import available_weightings

    if weighting is not None and weighting not in available_weightings():
        raise ValueError(f"Unknown weighting {weighting!r}; available: {sorted(available_weightings())}.")
    root = Path(root or default_root())
    plan = _plan(regions, families)
    configs = []
    for r, fam, tasks in plan:
        cfg = RunConfig(
            region=r,
            family=fam,
            tasks=tasks,
            weighting="ew" if fam == "single" else (weighting or ZOO_REGION_WEIGHTING.get(r, DEFAULT_WEIGHTING)),
            model_options=dict(ZOO_MODEL_OPTIONS.get(fam, {})),
            steps=steps,
            batch_size=batch_size,
            size=size,
            n_train=n_train,
            n_test=n_test,
            width=width,
            seed=seed,
            device=device,
        )
        cfg.validate()  # fail before the first model trains
        configs.append(cfg)
    entries = read_manifest(root)
    done: list[ZooEntry] = []
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(plan), desc="zoo", unit="model")
    for cfg in configs:
        tasks = tuple(cfg.tasks or ())
        name = model_file(cfg.region, cfg.family, tasks, get_region(cfg.region).task_names)
        key = name.removesuffix(".pt")
        if bar is not None:
            bar.set_postfix_str(key)
        old = entries.get(key)
        if (
            skip_existing
            and old is not None
            and old.config == json.loads(json.dumps(asdict(cfg)))
            and _file_ok(root, old)
        ):
            done.append(old)
        else:
            t0 = time.perf_counter()
            result = train_run(cfg, progress=progress)
            seconds = time.perf_counter() - t0
            path = root / name
            save_checkpoint(
                result.model,
                path,
                meta={"zoo_key": key, "config": asdict(cfg), "library_version": __version__},
                dtype=torch.float16,
            )
            stored = rebuild_model(path)  # metrics of what ships: the fp16-rounded weights
            entry = ZooEntry(
                region=cfg.region,
                family=cfg.family,
                tasks=tasks,
                config=asdict(cfg),
                seed=cfg.seed,
                library_version=__version__,
                metrics=evaluate(stored, cfg),
                file=name,
                sha256=sha256_file(path),
                size_bytes=path.stat().st_size,
                train_seconds=round(seconds, 2),
                device=_device_name(result.model),
            )
            entries[key] = entry
            _write_manifest(root, entries)
            done.append(entry)
            if on_model is not None:
                on_model(entry)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return done


def _file_ok(root: Path, entry: ZooEntry) -> bool:
    from mtdl_kit.checkpoint import sha256_file

    path = root / entry.file
    return path.exists() and sha256_file(path) == entry.sha256


# --------------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------------


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

    _check_names([region], [family])
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


# --------------------------------------------------------------------------------------------------
# Verification
# --------------------------------------------------------------------------------------------------


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
        got = evaluate(model, e.run_config())
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


# --------------------------------------------------------------------------------------------------
# Quality floor (issue 5)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Floor:
    """A minimum quality for one metric of a task on the held-out phantoms.

    Attributes:
        metric: metric key in the manifest (``"dice"``, ``"auc"``, ``"mae/vertical CDR"``, ...).
        threshold: the bar.
        higher_is_better: ``True``: value >= threshold passes; ``False``: value <= threshold.
        why: where the bar comes from.
    """

    metric: str
    threshold: float
    higher_is_better: bool
    why: str


_SEG_FLOOR = Floor("dice", 0.85, True, "issue 5: main segmentation structures Dice >= 0.85")
_CLS_FLOOR = Floor("auc", 0.90, True, "issue 5: classification ROC-AUC >= 0.90")

#: Regression / landmark / reconstruction bars per task, in the task's units. The zoo runs at 64 px,
#: so the pixel spacing (region.spacing_mm(64)) bounds what a mask-based measurement can resolve.
REGRESSION_FLOORS: dict[str, tuple[Floor, ...]] = {
    "tumour_area": (
        Floor(
            "mae/whole-tumour area",
            175.0,
            False,
            "20 % of the typical whole-tumour area (875 mm²); RANO calls a 25 % size increase progression",
        ),
        Floor("mae/core area", 85.0, False, "20 % of the typical core area (420 mm²)"),
    ),
    "reconstruction": (Floor("mae", 0.05, False, "5 % of the intensity range (auxiliary task, not clinical)"),),
    "cdr": (Floor("mae", 0.10, False, "inter-grader variability of the vertical CDR is about 0.1"),),
    "ctr": (Floor("mae", 0.03, False, "readers' CTR measurements differ by about 0.02-0.03 around the 0.5 cut-off"),),
    "lv_indices": (
        Floor("mae/LV cavity area (mm²)", 250.0, False, "about 13 % of the typical LV cavity area (1950 mm²)"),
        Floor(
            "mae/mean wall thickness (mm)",
            1.5,
            False,
            "1.5 mm, half a 64-px pixel (3.1 mm); hypertrophy starts about 3 mm above normal",
        ),
    ),
    "lesion_diameter": (
        Floor("mae", 6.25, False, "one pixel at 64 px (6.25 mm); RECIST progression needs +5 mm and +20 %"),
    ),
    "jsw": (
        Floor("mae/medial JSW", 0.7, False, "0.7 mm, a third of a 64-px pixel; KL grades differ by about 1 mm of JSW"),
        Floor("mae/lateral JSW", 0.7, False, "as medial"),
    ),
    "landmarks": (Floor("mre_mm", 4.7, False, "two pixels at 64 px (2.34 mm each)"),),
    "nuclei_count": (Floor("mae", 5.0, False, "about 15 % of the typical 37 nuclei per tile"),),
    "abcd": (Floor("mae", 0.5, False, "the TDS bands (benign < 4.75 <= suspicious < 5.45) are 0.7 apart"),),
    "diameter": (Floor("mae", 1.0, False, "1 mm around the 6 mm 'D' criterion"),),
}


def quality_floors(task: Any) -> tuple[Floor, ...]:
    """The bars of a task: Dice for segmentation, ROC-AUC for classification, :data:`REGRESSION_FLOORS` otherwise.

    Raises:
        ValueError: for a non-segmentation, non-classification task without a stated bar.
    """
    if task.kind == "segmentation":
        return (_SEG_FLOOR,)
    if task.kind == "classification":
        return (_CLS_FLOOR,)
    if task.name not in REGRESSION_FLOORS:
        raise ValueError(f"No quality floor is stated for task {task.name!r}; add it to REGRESSION_FLOORS.")
    return REGRESSION_FLOORS[task.name]


def quality_report(root: str | Path | None = None) -> list[dict[str, Any]]:
    """One row per zoo model, task and floor: value, threshold, passed (``None`` when the metric is undefined)."""
    from mtdl_kit.regions import get_region

    rows = []
    for key, e in sorted(read_manifest(root).items()):
        reg = get_region(e.region)
        for t in e.tasks:
            for floor in quality_floors(reg.task(t)):
                value = e.metrics.get(t, {}).get(floor.metric)
                passed = None
                if value is not None:
                    passed = value >= floor.threshold if floor.higher_is_better else value <= floor.threshold
                rows.append(
                    {
                        "key": key,
                        "region": e.region,
                        "family": e.family,
                        "task": t,
                        "metric": floor.metric,
                        "value": value,
                        "threshold": floor.threshold,
                        "higher_is_better": floor.higher_is_better,
                        "passed": passed,
                        "why": floor.why,
                    }
                )
    return rows


def zoo_table(root: str | Path | None = None) -> list[dict[str, Any]]:
    """One row per zoo model: key, tasks, primary metrics, size and training time (for ``zoo list``)."""
    from mtdl_kit.metrics import primary_metric
    from mtdl_kit.regions import get_region

    rows = []
    for key, e in sorted(read_manifest(root).items()):
        reg = get_region(e.region)
        scores = {}
        for t in e.tasks:
            name = primary_metric(reg.task(t))
            scores[f"{t} {name}"] = e.metrics.get(t, {}).get(name)
        rows.append(
            {
                "key": key,
                "tasks": ",".join(e.tasks),
                "metrics": scores,
                "size_kb": e.size_bytes / 1024,
                "train_s": e.train_seconds,
                "device": e.device,
            }
        )
    return rows


__all__ = [
    "DEFAULT_TOLERANCE",
    "REGRESSION_FLOORS",
    "ZOO_FAMILIES",
    "ZOO_REGION_WEIGHTING",
    "Floor",
    "ZooEntry",
    "ZooError",
    "default_root",
    "evaluate",
    "find_entry",
    "load_entry",
    "load_pretrained",
    "quality_floors",
    "quality_report",
    "read_manifest",
    "train_zoo",
    "verify_zoo",
    "zoo_table",
]
