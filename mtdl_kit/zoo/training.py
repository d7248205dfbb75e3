"""Training the zoo: the recorded defaults, the fixed held-out test set, and :func:`train_zoo`."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mtdl_kit.models import FAMILIES
from mtdl_kit.zoo.manifest import ZooEntry, add_entry, default_root, read_manifest
from mtdl_kit.zoo.naming import check_names, model_file

if TYPE_CHECKING:
    from mtdl_kit.experiments import RunConfig
    from mtdl_kit.models.base import MultiTaskNet

#: The fixed-budget recipe of wave 1 (issue 5: 1500 steps at 64 px), kept to reproduce its numbers;
#: the shipped zoo is trained with :data:`LAB_RECIPE` (docs/zoo.md has the measured budgets).
DEFAULT_STEPS = 1500
DEFAULT_SIZE = 64
DEFAULT_BATCH_SIZE = 8
DEFAULT_N_TRAIN = 512
DEFAULT_N_TEST = 128
DEFAULT_SEED = 0
DEFAULT_WEIGHTING = "ew"


def patience_to_cap(steps: int, eval_every: int) -> int:
    """A patience longer than a run of ``steps`` evaluated every ``eval_every``: the run never stops early."""
    return steps // eval_every + 1


@dataclass(frozen=True)
class ZooRecipe:
    """How every zoo model is trained: size, data, and a fixed budget or the lab's validation stopping.

    Attributes:
        steps: optimisation steps (an upper bound when ``n_val`` > 0).
        size: image size in pixels (multiple of 16).
        batch_size: batch size.
        n_train: training phantoms (seeds ``seed * n_train ...`` of the training split).
        n_test: held-out phantoms (the fixed test split).
        n_val: validation phantoms (the fixed validation split); 0 trains exactly ``steps`` steps.
        eval_every: validation interval in steps.
        patience: evaluations without improvement before stopping; ``None``: never stop early (every run
            goes to ``steps`` and keeps its best validation evaluation's weights).
        min_evaluations: warm-up evaluations that are never selected (and before which no run stops).
        at_region_size: train each region at the larger of ``size`` and its
            :attr:`~mtdl_kit.regions.base.Region.default_size` (the abdomen's 256 px); :meth:`size_for`
            reads it. ``False``: every region at ``size``.
    """

    steps: int
    size: int
    batch_size: int = DEFAULT_BATCH_SIZE
    n_train: int = DEFAULT_N_TRAIN
    n_test: int = DEFAULT_N_TEST
    n_val: int = 0
    eval_every: int = 100
    patience: int | None = 8
    min_evaluations: int = 6
    at_region_size: bool = False

    @property
    def run_patience(self) -> int:
        """The patience a run records: :attr:`patience`, or for ``None`` one longer than the run."""
        return self.patience if self.patience is not None else patience_to_cap(self.steps, self.eval_every)

    def size_for(self, region: str) -> int:
        """The image size ``region``'s models are trained at under this recipe."""
        if not self.at_region_size:
            return self.size
        from mtdl_kit.regions import get_region

        return max(self.size, get_region(region).default_size)


#: wave 1's fixed budget: 1500 steps at 64 px, no validation split (issue 5; the zoo shipped until 2026-12-02).
FIXED_RECIPE = ZooRecipe(steps=DEFAULT_STEPS, size=DEFAULT_SIZE)
#: the transfer lab's protocol (issue #14): each region at its ``default_size`` -- 128 px, the size at
#: which the brain's and the pathology's structures are resolved, and 256 px for the abdomen, whose
#: lesion's enhancing rim at the label's threshold is 1-2 pixels at 128 px (liver/lesion Dice 0.731
#: single-task at 128 px, 0.866 at 256 px; seed 0, docs/zoo.md); every model stops by the lab's
#: validation rule (every task's primary metric on 64 validation phantoms every 100 steps, 6 warm-up
#: evaluations, patience 8), with at most 4,000 steps on 1,024 training phantoms. The dashboard shows
#: each region at its models' size.
LAB_RECIPE = ZooRecipe(steps=4000, size=128, n_train=1024, n_val=64, at_region_size=True)
#: the lab recipe without its early stop: every model trains to the 4,000-step cap and keeps its best
#: validation evaluation (the checkpoint selection of the lab's rule without the stop). Measured reason
#: (`bench_zoo.py --unstopped`, RESULTS "zoo-unstopped"): a network whose validation metric sits near
#: chance past a noisy early best is stopped by the patience window before it learns -- the brain's
#: single-task grade classifier had validation AUC 0.55 at step 1,000, 0.74 at 1,400 and 0.93 at 2,000,
#: and the rule stopped it at 1,600 (test AUC 0.445 shipped, 0.938 trained to the cap).
LAB_TO_CAP_RECIPE = replace(LAB_RECIPE, patience=None)
RECIPES: dict[str, ZooRecipe] = {"lab": LAB_RECIPE, "lab-to-cap": LAB_TO_CAP_RECIPE, "fixed": FIXED_RECIPE}


def recipe_of(region: str, config: Mapping[str, Any]) -> str | None:
    """The name in :data:`RECIPES` whose settings a model's recorded ``config`` shows, else ``None``."""
    for name, recipe in RECIPES.items():
        patience = recipe.run_patience
        wanted = {
            "steps": recipe.steps,
            "size": recipe.size_for(region),
            "batch_size": recipe.batch_size,
            "n_train": recipe.n_train,
            "n_test": recipe.n_test,
            "n_val": recipe.n_val,
        }
        if recipe.n_val:
            wanted |= {"eval_every": recipe.eval_every, "patience": patience, "min_evaluations": recipe.min_evaluations}
        if all(config.get(k) == v for k, v in wanted.items()):
            return name
    return None


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


def _clean(value: float) -> float | None:
    return None if not math.isfinite(value) else float(value)


def held_out_test_set(cfg: RunConfig, tasks: Sequence[str] | None = None) -> Any:
    """The fixed phantom test set of a zoo model trained with ``cfg``.

    ``PhantomDataset(region, cfg.n_test, split="test", size=cfg.size, ...)``: its seeds do not depend
    on the training seed, so every zoo model of a region and size is scored on the same cases.
    """
    from mtdl_kit.data.phantom import PhantomDataset

    return PhantomDataset(
        cfg.region,
        cfg.n_test,
        split="test",
        size=cfg.size,
        relatedness=cfg.relatedness,
        nuisance=cfg.nuisance,
        tasks=None if tasks is None else list(tasks),
    )


def held_out_metrics(model: MultiTaskNet, cfg: RunConfig) -> dict[str, dict[str, float | None]]:
    """Metrics of ``model`` on :func:`held_out_test_set` (on the CPU), NaN written as ``None`` for JSON."""
    from mtdl_kit.evaluation import evaluate

    test = held_out_test_set(cfg, [t.name for t in model.tasks])
    scored = evaluate(model.to("cpu"), test, batch_size=cfg.batch_size)
    return {name: {k: _clean(v) for k, v in metrics.items()} for name, metrics in scored.metrics.items()}


def zoo_plan(regions: Sequence[str], families: Sequence[str]) -> list[tuple[str, str, tuple[str, ...]]]:
    """The models a zoo of ``regions`` × ``families`` holds: ``(region, family, tasks)``, one per single task."""
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
    recipe: str | ZooRecipe = "lab",
    steps: int | None = None,
    size: int | None = None,
    batch_size: int | None = None,
    n_train: int | None = None,
    n_test: int | None = None,
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
        families: among :data:`FAMILIES` (default: all, i.e. the four families + single-task baselines).
        root: zoo folder (default :func:`default_root`).
        recipe: a :class:`ZooRecipe` or a name of :data:`RECIPES` (``"lab"``, the shipped zoo's: the transfer
            lab's validation stopping at 128 px, 256 px for the abdomen; ``"fixed"``: wave 1's 1500 steps at
            64 px); the arguments below override it (an explicit ``size`` holds for every region).
        steps: optimisation steps per model (an upper bound under validation stopping).
        size: image size in pixels (multiple of 16), for every region.
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
    from mtdl_kit.regions import REGION_NAMES

    if isinstance(recipe, str):
        if recipe not in RECIPES:
            raise ValueError(f"Unknown zoo recipe {recipe!r}; the recipes are {sorted(RECIPES)}.")
        recipe = RECIPES[recipe]
    overrides = {"steps": steps, "size": size, "batch_size": batch_size, "n_train": n_train, "n_test": n_test}
    recipe = replace(recipe, **{k: v for k, v in overrides.items() if v is not None})
    if size is not None:  # an explicit size holds for every region
        recipe = replace(recipe, at_region_size=False)
    regions = list(regions or REGION_NAMES)
    families = list(families or FAMILIES)
    check_names(regions, families)
    from mtdl_kit.weighting import available_weightings

    if weighting is not None and weighting not in available_weightings():
        raise ValueError(f"Unknown weighting {weighting!r}; available: {sorted(available_weightings())}.")
    root = Path(root or default_root())
    plan = zoo_plan(regions, families)
    configs = []
    for r, fam, tasks in plan:
        cfg = RunConfig(
            region=r,
            family=fam,
            tasks=tasks,
            weighting="ew" if fam == "single" else (weighting or ZOO_REGION_WEIGHTING.get(r, DEFAULT_WEIGHTING)),
            model_options=dict(ZOO_MODEL_OPTIONS.get(fam, {})),
            steps=recipe.steps,
            batch_size=recipe.batch_size,
            size=recipe.size_for(r),
            n_train=recipe.n_train,
            n_test=recipe.n_test,
            n_val=recipe.n_val,
            eval_every=recipe.eval_every,
            patience=recipe.run_patience,
            min_evaluations=recipe.min_evaluations,
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
        name = model_file(cfg.region, cfg.family, tasks)
        key = name.removesuffix(".pt")
        if bar is not None:
            bar.set_postfix_str(key)
        old = entries.get(key)
        if skip_existing and old is not None and _same_config(old.config, cfg) and _file_ok(root, old):
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
                metrics=held_out_metrics(stored, cfg),
                file=name,
                sha256=sha256_file(path),
                size_bytes=path.stat().st_size,
                train_seconds=round(seconds, 2),
                device=_device_name(result.model),
                training=_how_it_ended(result.stopping),
            )
            entries = add_entry(root, entry)  # re-read under a lock: other processes may share the folder
            done.append(entry)
            if on_model is not None:
                on_model(entry)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return done


def unstopped_run(key: str, root: str | Path | None = None, *, device: str = "cpu") -> dict[str, Any]:
    """Retrain the zoo model ``key`` from its recorded config without the early stop: does the rule cut it off?

    The same data, seed and validation evaluations as the shipped model, but patience longer than the
    step cap, so the run goes to its cap and keeps the best validation evaluation's weights (the
    checkpoint selection of the lab's rule without its stop). A network whose validation metric stays
    at chance through the warm-up and the patience window is stopped there by the rule; if it reaches
    the bar later, the miss is the rule's, not the task's.

    Returns:
        ``key``, ``steps_run``, ``best_step``, ``seconds``, ``metrics`` (held-out test set, the same
        cases as the shipped model) and ``curve``: the validation evaluations as ``(step, "task/metric",
        value)``.

    Raises:
        KeyError: ``key`` is not in the zoo's manifest.
        ValueError: the model was trained without a validation split (nothing to select on).
    """
    from mtdl_kit.experiments import RunConfig, train_run
    from mtdl_kit.zoo.manifest import read_manifest

    entries = read_manifest(root)
    if key not in entries:
        raise KeyError(f"No zoo model {key!r}; the models are {sorted(entries)}.")
    stored = entries[key].config
    if not stored.get("n_val"):
        raise ValueError(f"{key} was trained for a fixed number of steps (n_val=0): there is no stop to remove.")
    cfg = RunConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in stored.items()})
    cfg = replace(cfg, patience=patience_to_cap(cfg.steps, cfg.eval_every), device=device)
    t0 = time.perf_counter()
    result = train_run(cfg, progress=False)
    return {
        "key": key,
        "steps_run": result.history.config.get("steps_run", cfg.steps),
        "best_step": result.history.config.get("best_step"),
        "seconds": time.perf_counter() - t0,
        "metrics": result.metrics,
        "curve": [(row[0], row[3], row[4]) for row in result.history.rows if row[2] == "metric"],
    }


def _how_it_ended(stopping: dict[str, Any] | None) -> dict[str, Any] | None:
    """The manifest's record of a validation-stopped run (the best values are in the metrics already)."""
    if stopping is None:
        return None
    return {k: stopping[k] for k in ("steps_run", "best_step", "evaluations", "stopped_early")}


def _same_config(stored: dict[str, Any], cfg: Any) -> bool:
    """Whether a manifest's stored config is ``cfg``, fields added to RunConfig since taking their defaults."""
    from mtdl_kit.experiments import RunConfig

    try:
        before = RunConfig(**stored)
    except TypeError:  # a field RunConfig no longer has: a different config
        return False
    return json.loads(json.dumps(asdict(before))) == json.loads(json.dumps(asdict(cfg)))


def _file_ok(root: Path, entry: ZooEntry) -> bool:
    from mtdl_kit.checkpoint import sha256_file

    path = root / entry.file
    return path.exists() and sha256_file(path) == entry.sha256
