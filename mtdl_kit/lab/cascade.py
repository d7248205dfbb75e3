"""Experiment D of the transfer lab: a cascade trained in real stages, and how its errors propagate.

The cascaded family (the review's Fig. 1; :mod:`mtdl_kit.models.cascaded`) hands one task's result to
the next task's network — detect, then classify (Ozdemir O. et al., "A 3D probabilistic deep learning
system for detection and diagnosis of lung cancer using low-dose CT scans", IEEE TMI 2020). Its
promise is an explicit prior: a diagnosis that is a *measurement of a shape* (the cup-to-disc ratio,
the cardiothoracic ratio) is easy to read off a mask and hard to learn from few labelled images. Its
cost is **error propagation**: the classifier sees only what the first stage drew.

**Stages, as a cascade is built in practice.**

1. *Source network*: a single-task segmentation network for ``source`` (the region's coupled
   segmentation: eye disc/cup, chest lungs/heart), trained on every training case to its validation
   plateau — the lab's stopping rule on its validation Dice, with a step cap
   (:attr:`CascadeConfig.source_max_steps`) well above the lab's so that the plateau, not the cap,
   ends it (the steps used are reported). Then frozen.
2. *Classifier* for the main task (the region's coupled label), trained on the ``budget`` labelled
   cases under the lab's rule, in three arms that share the seed (training subset and initial weights):

   - ``direct``: the image alone (a single-task classifier; experiment A's ``none``);
   - ``mask_only``: the source network's predicted mask alone (its foreground classes one-hot);
   - ``image_mask``: the image and that mask as extra channels (the cascaded family's hand-over,
     :class:`~mtdl_kit.models.cascaded.CascadedNet` in ``two_stage`` mode, with a hard mask).

   The classifier's training and validation inputs carry the source network's *predictions*, so it
   learns on the masks it will be handed.

**Test inputs** of the two cascade arms, all on the lab's fixed test split: ``predicted`` (the source
network's masks: the cascade as deployed), ``true`` (the reference masks: a perfect first stage), and
``dice_<d>`` (the reference masks deliberately degraded to Dice ``d`` by a smooth random warp,
:mod:`.degrade`; the same degraded masks for every seed).

**Contrasts** on the main task's primary metric, paired by seed and test case
(:func:`~mtdl_kit.evaluation.paired_contrast`):

- ``mask_only@predicted - direct`` and ``image_mask@predicted - direct``: does the cascade beat a
  direct classifier with the same labels?
- ``image_mask@predicted - mask_only@predicted``: does the image add to the mask?
- ``<arm>@<input> - <arm>@true`` for ``predicted`` and each degraded level: what the hand-over's
  errors cost (error propagation);
- ``robustness@<input>`` = (``image_mask@<input>`` − ``image_mask@true``) − (``mask_only@<input>`` −
  ``mask_only@true``): does reading the image protect the classifier from a wrong mask?
- ``<arm>@<level> - direct`` for each degraded level: is a cascade handed masks of that quality
  still better than no cascade at all?

Research and teaching use only — not for clinical use.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

from torch.utils.data import Dataset

from mtdl_kit.lab.outputs import summary_row
from mtdl_kit.lab.protocol import SUBSET_STRIDE, LabProtocol

#: the classifier's arms
CASCADE_ARMS: tuple[str, ...] = ("direct", "mask_only", "image_mask")
#: the arms that read a mask
MASK_ARMS: tuple[str, ...] = ("mask_only", "image_mask")
#: what each arm's network reads
ARM_INPUTS: dict[str, str] = {"direct": "image", "mask_only": "mask", "image_mask": "image + mask"}


@dataclass(frozen=True)
class CascadeConfig(LabProtocol):
    """Everything that defines a run of experiment D (recorded with every result).

    Attributes:
        region: a 2-D region with a coupled segmentation and classification
            (:class:`~mtdl_kit.regions.base.Coupling`).
        budgets: main-task labels per seed (each ≤ ``n_train``; nested per seed).
        seeds: training seeds (each fixes a training subset and the initial weights).
        dice_levels: Dice of the deliberately degraded test masks (each in (0, 1)).
        dice_tolerance: accepted distance of a degraded mask's Dice to its level.
        source_max_steps: step cap of the source network (its validation plateau should end it first).
    """

    region: str = "eye"
    budgets: tuple[int, ...] = (16, 256)
    seeds: tuple[int, ...] = tuple(range(8))
    dice_levels: tuple[float, ...] = (0.95, 0.85, 0.70)
    dice_tolerance: float = 0.015
    source_max_steps: int = 4000
    select_after_warmup: bool = True

    @property
    def source(self) -> str:
        """The source (segmentation) task: the region's coupled segmentation."""
        from mtdl_kit.regions import get_region

        return get_region(self.region).coupling.segmentation

    @property
    def main(self) -> str:
        """The main (classification) task: the region's coupled label."""
        from mtdl_kit.regions import get_region

        return get_region(self.region).coupling.classification

    @property
    def inputs(self) -> tuple[str, ...]:
        """The test inputs of the mask-reading arms."""
        return ("predicted", "true", *(level_name(d) for d in self.dice_levels))

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad field."""
        from mtdl_kit.regions import all_regions, get_region

        region = get_region(self.region)

        def usable(r: Any) -> bool:
            names = {t.name: t.kind for t in r.tasks}
            return names.get(r.coupling.segmentation) == "segmentation" and names.get(r.coupling.classification) == (
                "classification"
            )

        if not usable(region):
            regions = [n for n, r in all_regions().items() if usable(r)]
            raise ValueError(
                f"Experiment D needs a region whose coupled label is read off a segmentation; {self.region!r} has "
                f"none. Use one of {regions}."
            )
        if not self.budgets or any(not 2 <= b <= self.n_train for b in self.budgets):
            raise ValueError(f"budgets must lie in [2, n_train={self.n_train}], got {self.budgets}.")
        if not self.dice_levels or any(not 0 < d < 1 for d in self.dice_levels):
            raise ValueError(f"dice_levels must lie in (0, 1), got {self.dice_levels}.")
        if len(set(self.dice_levels)) != len(self.dice_levels):
            raise ValueError(f"dice_levels must be distinct, got {self.dice_levels}.")
        if not 0 < self.dice_tolerance < 0.1:
            raise ValueError(f"dice_tolerance must lie in (0, 0.1), got {self.dice_tolerance}.")
        if isinstance(self.source_max_steps, bool) or self.source_max_steps < self.max_steps:
            raise ValueError(
                f"source_max_steps ({self.source_max_steps}) must be at least max_steps ({self.max_steps}): the "
                "source network trains to its plateau."
            )
        self.validate_protocol(self.seeds)
        region.check_arguments(0, size=self.size, relatedness=1.0, nuisance=None, label_noise=0.0)

    def key(self, stage: str) -> str:
        """Short digest of what changes a ``stage`` (``"source"``, ``"classifier"``, ``"degraded"``) result."""
        from mtdl_kit.regions import get_region

        fields = {k: v for k, v in asdict(self).items() if k not in ("seeds", "budgets", "n_boot")}
        if stage != "degraded":
            del fields["dice_levels"], fields["dice_tolerance"]
        if stage != "source":
            del fields["source_max_steps"]
        fields["stage"] = stage
        fields["generator_version"] = get_region(self.region).generator_version
        return hashlib.sha1(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:10]


def level_name(dice: float) -> str:
    """``0.85`` -> ``"dice_0.85"``: the name of a degraded test input."""
    return f"dice_{dice:.2f}"


#: a small, fast configuration for tests and a first look (about two minutes on a 2-core CPU)
QUICK_CASCADE = CascadeConfig(
    budgets=(16,),
    seeds=(0, 1),
    n_train=48,
    n_val=32,
    n_test=48,
    size=32,
    width=4,
    max_steps=60,
    source_max_steps=90,
    eval_every=15,
    patience=2,
    min_evaluations=2,
    batch_size=8,
    n_boot=200,
    dice_levels=(0.85,),
    dice_tolerance=0.03,
)


def default_cascade_config(region: str = "eye", *, quick: bool = False, **changes: Any) -> CascadeConfig:
    """Experiment D's headline configuration for ``region`` (``quick``: :data:`QUICK_CASCADE`), validated.

    Args:
        changes: fields to replace (``None`` values are ignored), e.g. ``seeds=(100, 101)``.
    """
    base = QUICK_CASCADE if quick else CascadeConfig()
    cfg = replace(base, region=region, **{k: v for k, v in changes.items() if v is not None})
    cfg.validate()
    return cfg


class HandOverView(Dataset):
    """A split as one classifier arm sees it: the image, a mask's foreground one-hot, or both, and the main label.

    Every item carries ``case_id`` = ``"<split>-<index>"``, so the records of arms that read different
    inputs line up case by case in a paired comparison.

    Args:
        base: a :class:`~mtdl_kit.data.PhantomDataset` with the source and main tasks.
        reads: ``"image"``, ``"mask"`` or ``"image + mask"`` (:data:`ARM_INPUTS`).
        main: the main task's name.
        masks: (N, H, W) class indices handed over (needed unless ``reads == "image"``).
        num_classes: classes of the source task, background included.
        split: the split's name (for ``case_id``).
    """

    def __init__(
        self, base: Any, reads: str, main: str, masks: Any = None, *, num_classes: int = 0, split: str = "test"
    ) -> None:
        if reads not in ARM_INPUTS.values():
            raise ValueError(f"reads must be one of {tuple(ARM_INPUTS.values())}, got {reads!r}.")
        if reads != "image" and (masks is None or len(masks) != len(base)):
            raise ValueError(f"An arm that reads a mask needs one mask per case ({len(base)}), got {masks!r:.60}.")
        self.base, self.reads, self.main, self.masks = base, reads, main, masks
        self.num_classes, self.split = num_classes, split
        self.region, self.size = base.region, base.size

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> dict[str, Any]:
        import torch

        item = self.base[index]
        image = item["image"]
        if self.reads != "image":
            mask = torch.as_tensor(self.masks[index]).long()
            one_hot = torch.nn.functional.one_hot(mask, self.num_classes).permute(2, 0, 1)[1:].float()
            image = one_hot if self.reads == "mask" else torch.cat([image, one_hot])
        return {"image": image, self.main: item[self.main], "case_id": f"{self.split}-{index}"}


def _datasets(cfg: CascadeConfig, seed: int) -> tuple[Any, Any, Any]:
    from mtdl_kit.data import PhantomDataset

    common = {"size": cfg.size, "tasks": [cfg.source, cfg.main], "cache": True}
    train = PhantomDataset(cfg.region, cfg.n_train, split="train", base_seed=SUBSET_STRIDE * seed, **common)
    val = PhantomDataset(cfg.region, cfg.n_val, split="val", **common)
    test = PhantomDataset(cfg.region, cfg.n_test, split="test", **common)
    return train, val, test


def predicted_masks(model: Any, data: Any, task: str, *, batch_size: int = 64) -> Any:
    """The class-index masks (N, H, W) a segmentation network predicts for every case of ``data``."""
    import torch

    from mtdl_kit.metrics import predictions

    spec = next(t for t in model.tasks if t.name == task)
    loader = torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=False)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            masks = [predictions(spec, model(batch["image"])[task]) for batch in loader]
    finally:
        model.train(was_training)
    return torch.cat(masks).to(torch.int64)


def reference_masks(data: Any, task: str) -> Any:
    """The reference masks (N, H, W) of every case of ``data``."""
    import torch

    return torch.stack([torch.as_tensor(data[i][task]) for i in range(len(data))]).to(torch.int64)


@dataclass
class StageRun:
    """One trained network of the cascade (the source network or a classifier arm) and how it trained.

    Attributes:
        stage: ``"source"`` or the classifier arm.
        budget: main-task labels (0 for the source network, which uses every training case).
        seed: training seed.
        best_step: step of the selected checkpoint.
        steps_run: steps trained.
        seconds: training wall time.
        parameters: the network's parameters.
        model: the trained network.
    """

    stage: str
    budget: int
    seed: int
    best_step: int
    steps_run: int
    seconds: float
    parameters: int
    model: Any = None


def _train_stage(cfg: CascadeConfig, stage: str, budget: int, seed: int, train: Any, val: Any) -> StageRun:
    import torch

    from mtdl_kit.models import build_model
    from mtdl_kit.regions import get_region

    region = get_region(cfg.region)
    task = cfg.source if stage == "source" else cfg.main
    tasks = region.select_tasks([task])
    in_channels = train[0]["image"].shape[0]
    model = build_model("single", tasks, in_channels, width=cfg.width, seed=seed, region=region.name)
    data = train if stage == "source" else torch.utils.data.Subset(train, range(budget))
    batch_size = cfg.batch_size if stage == "source" else min(cfg.batch_size, budget)
    protocol = replace(cfg, max_steps=cfg.source_max_steps) if stage == "source" else cfg
    history, seconds = protocol.train(
        model, data, val, seed=seed, region=region, rule=cfg.stopping_rule(tasks), batch_size=batch_size
    )
    return StageRun(
        stage=stage,
        budget=budget,
        seed=seed,
        best_step=int(history.config["best_step"]),
        steps_run=int(history.config["steps_run"]),
        seconds=seconds,
        parameters=int(model.parameter_count()["total"]),
        model=model,
    )


def _cached_stage(stem: Path | None, train: Callable[[], StageRun]) -> StageRun:
    from mtdl_kit.lab.cache import cached_network

    fields = ("stage", "budget", "seed", "best_step", "steps_run", "seconds", "parameters")

    def compute() -> tuple[Any, dict[str, Any]]:
        run = train()
        return run.model, {k: getattr(run, k) for k in fields}

    model, meta = cached_network(stem, compute)
    return StageRun(**{k: meta[k] for k in fields}, model=model)


def degraded_test_masks(cfg: CascadeConfig, test: Any, cache: Path | None = None) -> dict[str, tuple[Any, Any]]:
    """Level name -> (degraded reference masks (N, H, W), their Dice (N,)) for every ``cfg.dice_levels``.

    The same for every seed (the test split is fixed); stored in ``cache`` when given.
    """
    import numpy as np
    import torch

    from mtdl_kit.lab.degrade import degrade_masks
    from mtdl_kit.regions import get_region

    num_classes = get_region(cfg.region).task(cfg.source).num_outputs
    truth = reference_masks(test, cfg.source)
    out = {}
    for level in cfg.dice_levels:
        path = cache / f"{cfg.key('degraded')}-{level_name(level)}.npz" if cache is not None else None
        if path is not None and path.exists():
            with np.load(path) as stored:
                out[level_name(level)] = (torch.from_numpy(stored["masks"]).long(), stored["dice"])
            continue
        masks, dice = degrade_masks(truth, num_classes, level, tolerance=cfg.dice_tolerance)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp.npz")
            np.savez_compressed(tmp, masks=masks.numpy().astype(np.int8), dice=dice)
            tmp.replace(path)
        out[level_name(level)] = (masks, dice)
    return out


def handover_errors(region: Any, reference: Any, masks: Any, size: int) -> tuple[float, float]:
    """What a set of handed-over masks gets wrong about the quantity the label follows.

    The diagnostic beside Dice: the region's clinical measurement (its
    :attr:`~mtdl_kit.regions.base.Coupling.anatomy_latent`: the eye's vertical CDR, the chest's CTR)
    on each mask against the same measurement on the reference mask, and how often the rule at
    relatedness 1 gives another class.

    Args:
        region: the :class:`~mtdl_kit.regions.base.Region`.
        reference: (N, H, W) reference class indices.
        masks: (N, H, W) the masks handed over.
        size: image size in pixels (for the spacing).

    Returns:
        ``(mean absolute error of the measurement, fraction of cases whose rule class changes)``.
    """
    import numpy as np

    from mtdl_kit.regions.base import score_to_class

    latent = region.coupling.anatomy_latent
    classes = region.task(region.coupling.classification).num_outputs
    spacing = region.spacing_mm(size)
    errors, flips = [], []
    for truth, mask in zip(np.asarray(reference), np.asarray(masks), strict=True):
        want = region.measure(truth, spacing)[latent]
        got = region.measure(mask, spacing)[latent]
        errors.append(abs(got - want))
        rule = (score_to_class(region.anatomy_score(v), classes) for v in (want, got))
        flips.append(len(set(rule)) > 1)
    return float(np.mean(errors)), float(np.mean(flips))


@dataclass
class CascadeResult:
    """All stages of experiment D, the scores on every test input, and the contrasts.

    Attributes:
        config: the configuration.
        stages: every :class:`StageRun` (source networks and classifier arms; the networks dropped).
        records: ``(budget, "<arm>@<input>")`` -> seed -> test records of the main task
            (``direct`` has one input, the image: key ``"direct"``).
        mask_dice: seed -> input -> mean Dice of the masks handed over on the test split (the degraded
            levels are the same for every seed).
        degraded_range: degraded input -> (lowest, highest) Dice of its test cases.
        runs_frame: one row per stage run and scored input (``budget, seed, stage, input, task, metric,
            value, best_step, steps_run, seconds, parameters``; the source network's rows score its own
            segmentation on the test split).
        summary: one row per budget and contrast (``budget, contrast, task, metric, value, ci_low, ci_high,
            significant, n_seeds``), plus arm means (``"mean: <arm>@<input>"``) and the Dice of the masks
            handed over (``"mean dice: <input>"``, budget 0, task = the source task; ``dice_min`` and
            ``dice_max`` give a degraded input's range over the test cases), the error of the clinical
            measurement on those masks (``"measurement error: <input>"``, metric ``<latent>_mae``) and how
            often the rule at relatedness 1 gives another class on them (``"rule flips: <input>"``)
            (:func:`handover_errors`).
    """

    config: CascadeConfig
    stages: list[StageRun]
    records: dict[tuple[int, str], dict[int, Any]]
    mask_dice: dict[int, dict[str, float]]
    degraded_range: dict[str, tuple[float, float]]
    runs_frame: Any
    summary: Any


def contrasts(cfg: CascadeConfig) -> dict[str, dict[str, float]]:
    """Name -> weights over ``"<arm>@<input>"`` (and ``"direct"``) of every contrast experiment D reports."""
    out: dict[str, dict[str, float]] = {
        "mask_only@predicted - direct": {"mask_only@predicted": 1.0, "direct": -1.0},
        "image_mask@predicted - direct": {"image_mask@predicted": 1.0, "direct": -1.0},
        "image_mask@predicted - mask_only@predicted": {"image_mask@predicted": 1.0, "mask_only@predicted": -1.0},
    }
    for inp in (i for i in cfg.inputs if i != "true"):
        for arm in MASK_ARMS:
            out[f"{arm}@{inp} - {arm}@true"] = {f"{arm}@{inp}": 1.0, f"{arm}@true": -1.0}
            if inp != "predicted":
                out[f"{arm}@{inp} - direct"] = {f"{arm}@{inp}": 1.0, "direct": -1.0}
        out[f"robustness@{inp}"] = {
            f"image_mask@{inp}": 1.0,
            "image_mask@true": -1.0,
            f"mask_only@{inp}": -1.0,
            "mask_only@true": 1.0,
        }
    return out


def run_cascade(
    cfg: CascadeConfig,
    *,
    cache: str | Path | None = None,
    on_run: Callable[[StageRun], None] | None = None,
) -> CascadeResult:
    """Run experiment D: per seed the source network, then every classifier arm per budget (resumable
    through ``cache``: trained networks are stored as verified checkpoints), then every arm on every test
    input and the contrasts.

    Args:
        cfg: the configuration (:data:`QUICK_CASCADE` for a first look).
        cache: folder for trained networks and the degraded test masks; a rerun skips what is there.
        on_run: called after each stage run (progress reports).
    """
    import pandas as pd

    from mtdl_kit.evaluation import evaluate
    from mtdl_kit.lab.degrade import mask_dice
    from mtdl_kit.regions import get_region

    cfg.validate()
    cache_dir = Path(cache) if cache is not None else None
    region = get_region(cfg.region)
    source_spec, main_spec = region.task(cfg.source), region.task(cfg.main)
    k = source_spec.num_outputs
    stages: list[StageRun] = []
    records: dict[tuple[int, str], dict[int, Any]] = {}
    dice_by_seed: dict[int, dict[str, float]] = {}
    rows: list[dict[str, Any]] = []
    degraded: dict[str, tuple[Any, Any]] | None = None
    errors_by_seed: dict[int, dict[str, tuple[float, float]]] = {}
    fixed_errors: dict[str, tuple[float, float]] = {}  # the reference and degraded masks: the same every seed

    def stem(name: str, budget: int, seed: int, stage_key: str) -> Path | None:
        return cache_dir / f"{cfg.key(stage_key)}-{name}-b{budget}-s{seed}" if cache_dir is not None else None

    def add_rows(run: StageRun, inp: str, task: str, metrics: dict[str, float]) -> None:
        for metric, value in metrics.items():
            rows.append(
                {
                    "budget": run.budget,
                    "seed": run.seed,
                    "stage": run.stage,
                    "input": inp,
                    "task": task,
                    "metric": metric,
                    "value": float(value),
                    "best_step": run.best_step,
                    "steps_run": run.steps_run,
                    "seconds": round(run.seconds, 2),
                    "parameters": run.parameters,
                }
            )

    for seed in cfg.seeds:
        train, val, test = _datasets(cfg, seed)
        if degraded is None:
            degraded = degraded_test_masks(cfg, test, cache_dir)
        source = _cached_stage(
            stem("source", 0, seed, "source"), partial(_train_stage, cfg, "source", 0, seed, train, val)
        )
        if on_run is not None:
            on_run(source)
        scored = evaluate(source.model, test, tasks=[source_spec], region=region, batch_size=64)
        add_rows(source, "image", cfg.source, scored.metrics[cfg.source])
        splits = (("train", train), ("val", val), ("test", test))
        predicted = {name: predicted_masks(source.model, data, cfg.source) for name, data in splits}
        truth = reference_masks(test, cfg.source)
        test_masks = {"predicted": predicted["test"], "true": truth, **{n: m for n, (m, _) in degraded.items()}}
        dice_by_seed[seed] = {n: float(mask_dice(m, truth, k).mean()) for n, m in test_masks.items()}
        for name, masks in test_masks.items():
            if name == "predicted" or name not in fixed_errors:
                fixed_errors[name] = handover_errors(region, truth, masks, cfg.size)
            errors_by_seed.setdefault(seed, {})[name] = fixed_errors[name]
        del fixed_errors["predicted"]
        source.model = None
        stages.append(source)
        for budget in cfg.budgets:
            for arm in CASCADE_ARMS:
                reads = ARM_INPUTS[arm]
                arm_train = HandOverView(train, reads, cfg.main, predicted["train"], num_classes=k, split="train")
                arm_val = HandOverView(val, reads, cfg.main, predicted["val"], num_classes=k, split="val")
                train_arm = partial(_train_stage, cfg, arm, budget, seed, arm_train, arm_val)
                run = _cached_stage(stem(arm, budget, seed, "classifier"), train_arm)
                if on_run is not None:
                    on_run(run)
                for inp in ("image",) if arm == "direct" else tuple(test_masks):
                    view = HandOverView(test, reads, cfg.main, test_masks.get(inp), num_classes=k)
                    scored = evaluate(run.model, view, tasks=[main_spec], region=region, batch_size=64)
                    key = "direct" if arm == "direct" else f"{arm}@{inp}"
                    records.setdefault((budget, key), {})[seed] = scored.records
                    add_rows(run, inp, cfg.main, scored.metrics[cfg.main])
                run.model = None
                stages.append(run)
    runs_frame = pd.DataFrame(rows)
    ranges = {name: (float(dice.min()), float(dice.max())) for name, (_, dice) in (degraded or {}).items()}
    summary = _summary(cfg, records, runs_frame, dice_by_seed, ranges, errors_by_seed)
    return CascadeResult(cfg, stages, records, dice_by_seed, ranges, runs_frame, summary)


def _summary(
    cfg: CascadeConfig,
    records: dict[tuple[int, str], dict[int, Any]],
    runs_frame: Any,
    dice_by_seed: dict[int, dict[str, float]],
    degraded_range: dict[str, tuple[float, float]],
    errors_by_seed: dict[int, dict[str, tuple[float, float]]],
) -> Any:
    import numpy as np
    import pandas as pd

    from mtdl_kit.evaluation import paired_contrast
    from mtdl_kit.metrics import primary_metric
    from mtdl_kit.regions import get_region

    metric = primary_metric(get_region(cfg.region).task(cfg.main))
    out = []
    for inp in cfg.inputs:
        values = [d[inp] for d in dice_by_seed.values()]
        row = summary_row(f"mean dice: {inp}", cfg.source, "dice", float(np.mean(values)), budget=0)
        low, high = degraded_range.get(inp, (math.nan, math.nan))
        out.append({**row, "dice_min": low, "dice_max": high})
    latent = get_region(cfg.region).coupling.anatomy_latent
    for inp in cfg.inputs:
        error = float(np.mean([e[inp][0] for e in errors_by_seed.values()]))
        flips = float(np.mean([e[inp][1] for e in errors_by_seed.values()]))
        out.append(summary_row(f"measurement error: {inp}", cfg.source, f"{latent}_mae", error, budget=0))
        out.append(summary_row(f"rule flips: {inp}", cfg.source, "fraction", flips, budget=0))
    for budget in cfg.budgets:
        arms = {key: by_seed for (b, key), by_seed in records.items() if b == budget}
        scores = runs_frame[
            (runs_frame["budget"] == budget) & (runs_frame["task"] == cfg.main) & (runs_frame["metric"] == metric)
        ]
        for (stage, inp), group in scores.groupby(["stage", "input"], sort=False):
            key = "direct" if stage == "direct" else f"{stage}@{inp}"
            out.append(summary_row(f"mean: {key}", cfg.main, metric, float(group["value"].mean()), budget=budget))
        for name, weights in contrasts(cfg).items():
            est = paired_contrast(arms, weights, cfg.main, metric, n_boot=cfg.n_boot, seed=budget)
            out.append(summary_row(name, cfg.main, metric, est.value, est.ci_low, est.ci_high, budget=budget))
    return pd.DataFrame(out).assign(n_seeds=len(cfg.seeds))


def _interval(row: Any) -> str:
    from mtdl_kit.lab.transfer import interval_text

    return interval_text(row)


def cascade_reading(result: CascadeResult) -> list[str]:
    """Plain sentences computed from the contrasts and their intervals (no fixed claims)."""
    return summary_reading(result.summary)


def summary_reading(summary: Any) -> list[str]:
    """:func:`cascade_reading` from a summary table alone (``transfer_d_<region>_<run>_summary.csv``).

    The lessons call this on the committed tables, so their text follows the numbers.
    """
    frame = summary
    dice = frame[frame["contrast"].str.startswith("mean dice: ")]
    source = str(dice["task"].iloc[0])

    def handed_text(row: Any) -> str:
        name = row["contrast"].removeprefix("mean dice: ")
        spread = f" (cases {row['dice_min']:.3f}–{row['dice_max']:.3f})" if math.isfinite(row["dice_min"]) else ""
        return f"{name} {row['value']:.3f}{spread}"

    handed = ", ".join(handed_text(r) for _, r in dice.iterrows())
    out = [f"Mean Dice of the {source} masks handed to the classifier on the test split: {handed}."]
    errors = frame[frame["contrast"].str.startswith("measurement error: ")]
    flips = frame[frame["contrast"].str.startswith("rule flips: ")].set_index("contrast")["value"]
    if not errors.empty:
        latent = str(errors["metric"].iloc[0]).removesuffix("_mae")
        parts = [
            f"{r['contrast'].removeprefix('measurement error: ')} {r['value']:.3f} "
            f"({flips[r['contrast'].replace('measurement error: ', 'rule flips: ')]:.0%} of cases change class)"
            for _, r in errors.iterrows()
        ]
        out.append(
            f"What those masks get wrong about the measurement the label follows — mean absolute {latent} error "
            f"against the reference mask, and how often the rule at relatedness 1 then gives another class: "
            f"{', '.join(parts)}."
        )
    inputs = [str(c).removeprefix("mean dice: ") for c in dice["contrast"]]
    for budget in sorted(b for b in frame["budget"].unique() if b > 0):
        rows = frame[frame["budget"] == budget].set_index("contrast")
        main, metric, n_seeds = rows.iloc[0]["task"], rows.iloc[0]["metric"], int(rows.iloc[0]["n_seeds"])
        means = ", ".join(
            f"{c.removeprefix('mean: ')} {rows.loc[c, 'value']:.3f}"
            for c in rows.index
            if c.startswith("mean: ") and (c == "mean: direct" or c.endswith(("@predicted", "@true")))
        )
        out.append(f"{budget} main-task labels ({main} {metric}, mean over {n_seeds} seeds): {means}.")
        out.append(
            "The cascade against a direct classifier: mask alone "
            f"{_interval(rows.loc['mask_only@predicted - direct'])}; image + mask "
            f"{_interval(rows.loc['image_mask@predicted - direct'])}; image + mask against mask alone "
            f"{_interval(rows.loc['image_mask@predicted - mask_only@predicted'])}."
        )
        for inp in (i for i in inputs if i != "true"):
            what = "the source network's own masks" if inp == "predicted" else f"masks degraded to Dice {inp[5:]}"
            sentence = (
                f"Error propagation, {what} against the reference masks: mask alone "
                f"{_interval(rows.loc[f'mask_only@{inp} - mask_only@true'])}; image + mask "
                f"{_interval(rows.loc[f'image_mask@{inp} - image_mask@true'])}; the image's protection "
                f"(robustness) {_interval(rows.loc[f'robustness@{inp}'])}."
            )
            if inp != "predicted" and f"mask_only@{inp} - direct" in rows.index:
                sentence += (
                    " Against the direct classifier: mask alone "
                    f"{_interval(rows.loc[f'mask_only@{inp} - direct'])}; image + mask "
                    f"{_interval(rows.loc[f'image_mask@{inp} - direct'])}."
                )
            out.append(sentence)
    return out


def write_cascade_outputs(result: CascadeResult, out: str | Path) -> list[Path]:
    """``runs.csv``, ``summary.csv`` and ``summary.md`` into ``out``."""
    from mtdl_kit.lab.outputs import write_lab_outputs

    cfg = result.config
    return write_lab_outputs(
        out,
        result.runs_frame,
        result.summary,
        title=f"Transfer lab, experiment D — {cfg.region}: {cfg.source} -> {cfg.main}, a cascade in stages",
        configs={"Config": cfg},
        reading=cascade_reading(result),
    )
