"""Experiment B of the transfer lab: an auxiliary task that conflicts with the main task, and its controls.

**The pitfall.** Multi-site studies often add a *site-adversarial* auxiliary task: a head that
predicts which scanner or camera took the image, read through a gradient reversal layer, so that the
shared features become site-invariant (domain-adversarial training; Ganin Y., Lempitsky V.,
"Unsupervised domain adaptation by backpropagation", ICML 2015). When the sites also differ in disease
prevalence — a referral centre sees more glaucoma than a screening programme — the site can be
predicted from the *disease* features too, and hiding the site then means hiding the disease (Zhao H.
et al., "On learning invariant representations for domain adaptation", ICML 2019). The auxiliary
task pulls the shared features away from what the main task needs: negative transfer with a stated
mechanism.

**The phantom.** Eye fundus phantoms (:mod:`mtdl_kit.regions.eye`), each assigned to one of two
fundus cameras. Camera B renders the photograph with another colour balance (the red channel
times :data:`CAMERA_GAINS`, a bluer image), as two camera models' white balance differ. With
``site_agreement`` = *q* the camera equals the case's glaucoma label with probability *q* (the other
camera otherwise): *q* = 0.5 makes the camera independent of the disease, *q* = 0.9 gives camera B
nine times the glaucoma prevalence of camera A. The camera is drawn from a generator of its own
(the case seed and :data:`CAMERA_STREAM`), so the phantom itself is the region's, unchanged.

**Arms** (one training run each, per training seed; the main task's labels on every training case):

- ``none``: the main task alone (a single-task network), cameras coupled to the disease (*q*);
- ``adversary``: main task + the camera task through a gradient reversal of ``strength``, the same data;
- ``shuffled``: the same network and data, the camera labels permuted across cases (a derangement:
  the same label statistics and loss scale, no information about the case) — what an adversary costs
  by itself (capacity, steps, noise in the trunk's gradient);
- ``none_independent`` and ``adversary_independent``: the two first arms on data whose cameras are
  independent of the disease (*q* = 0.5): the adversary can then hide only the colour balance.

``adversary − none`` is the harm; ``adversary − shuffled`` the part of it due to what the camera
label says about the case; the interaction (``adversary − none``) − (``adversary_independent −
none_independent``) the part due to the camera's coupling to the disease, the stated mechanism.

**Two adversaries** (``objective``). ``"reversal"``: the camera head reads the trunk through a
gradient reversal (Ganin & Lempitsky 2015). Its objective is unbounded — once the head is at chance
the reversed gradient still pushes the trunk to make the head *wrong* — and the pilots
(``benchmarks/RESULTS.md``, "adversarial-pilot") saw it wreck the trunk even when the camera was
independent of the disease. ``"confusion"``: the head learns the camera on detached features and the
trunk makes its prediction uniform (Tzeng et al., ICCV 2015; Alvi et al., ECCV Workshops 2018;
:func:`~mtdl_kit.models.heads.confusion_loss`): bounded, and silent once the head is at chance, so
with independent cameras it should cost little and any harm is the coupling's.

**Protocol** (:class:`~mtdl_kit.lab.protocol.LabProtocol`, as experiments A, C and E): a seed fixes
the training subset and the initial weights of every arm; every arm stops by the same rule, the main
task's primary validation metric (the adversary's own accuracy is not a goal); validation and test
sets come from the same two cameras with the same coupling as the arm's training set; all arms are
compared per seed with the paired hierarchical bootstrap (:func:`~mtdl_kit.evaluation.paired_contrast`).

Research and teaching use only — not for clinical use.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from mtdl_kit.lab.outputs import runs_frame as runs_frame_of
from mtdl_kit.lab.outputs import summary_row
from mtdl_kit.lab.protocol import SUBSET_STRIDE, LabProtocol
from mtdl_kit.regions.base import TaskSpec

#: the auxiliary task: which of the two cameras took the photograph.
CAMERA_TASK = TaskSpec(
    "camera",
    "classification",
    2,
    "Which of two fundus cameras took the photograph (transfer-lab experiment B; not a clinical task).",
    class_names=("camera A", "camera B"),
)
#: per-channel (R, G, B) gains of each camera's colour balance; camera A renders the phantom as drawn.
CAMERA_GAINS: tuple[tuple[float, float, float], ...] = ((1.0, 1.0, 1.0), (0.82, 1.0, 1.25))
#: second seed component of the camera draw (a stream apart from the phantom's own).
CAMERA_STREAM = 0xB5
#: how camera B's photographs differ from camera A's: ``"colour"`` (its colour balance, :data:`CAMERA_GAINS`)
#: or ``"pattern"`` (a faint fixed-pattern sensor noise, :data:`PATTERN_AMPLITUDE`, on every channel: a
#: signature that shares no channel ratio and no spatial scale with the optic cup's contrast).
CAMERA_SIGNATURES: tuple[str, ...] = ("colour", "pattern")
#: amplitude of camera B's fixed pattern: a 2-px checkerboard, ±this on every channel.
PATTERN_AMPLITUDE = 0.03
STRENGTH_SCHEDULES: tuple[str, ...] = ("constant", "ganin")
#: how the adversary pushes the trunk (:data:`mtdl_kit.models.heads.ADVERSARIAL_OBJECTIVES`).
ADVERSARY_OBJECTIVES: tuple[str, ...] = ("reversal", "confusion")
ADVERSARIAL_ARMS: tuple[str, ...] = ("none", "adversary", "shuffled", "none_independent", "adversary_independent")
#: contrasts: name -> arm weights (a positive value: the first arm is better on the main task).
ADVERSARIAL_CONTRASTS: dict[str, dict[str, float]] = {
    "adversary - none": {"adversary": 1.0, "none": -1.0},
    "adversary - shuffled": {"adversary": 1.0, "shuffled": -1.0},
    "shuffled - none": {"shuffled": 1.0, "none": -1.0},
    "independent: adversary - none": {"adversary_independent": 1.0, "none_independent": -1.0},
    "coupling interaction": {
        "adversary": 1.0,
        "none": -1.0,
        "adversary_independent": -1.0,
        "none_independent": 1.0,
    },
}


@dataclass(frozen=True)
class AdversarialConfig(LabProtocol):
    """Everything that defines a run of experiment B (see the module docstring).

    Attributes:
        region: the region (the eye: the colour balance needs an RGB photograph).
        main: the main task (its labels on every training case).
        site_agreement: probability that the camera equals the main label (0.5: independent).
        strength: the gradient reversal's strength (the adversary's pull on the trunk).
        strength_schedule: ``"constant"``, or ``"ganin"``: the strength rises from 0 to ``strength`` as
            ``2 / (1 + exp(-10 p)) - 1`` of the training progress ``p`` (Ganin & Lempitsky 2015, §5),
            so the adversary pulls only once the main task has started to learn.
        camera_signature: what tells the cameras apart (:data:`CAMERA_SIGNATURES`).
        objective: how the adversary pushes the trunk: ``"reversal"`` (a gradient reversal, Ganin &
            Lempitsky 2015) or ``"confusion"`` (the camera head learns on detached features and the
            trunk makes its prediction uniform, Tzeng et al. 2015; Alvi et al. 2018;
            :func:`~mtdl_kit.models.heads.confusion_loss`).
        seeds: training seeds.
    """

    region: str = "eye"
    main: str = "glaucoma"
    site_agreement: float = 0.9
    strength: float = 1.0
    strength_schedule: str = "constant"
    camera_signature: str = "colour"
    objective: str = "reversal"
    seeds: tuple[int, ...] = tuple(range(8))

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad field."""
        from mtdl_kit.regions import get_region

        region = get_region(self.region)
        if region.in_channels != 3 or region.channel_names:  # the brain's three channels are MRI sequences
            raise ValueError(f"Experiment B needs an RGB region (a camera's colour balance); {self.region} is not.")
        task = region.task(self.main) if self.main in region.task_names else None
        if task is None or task.kind != "classification" or task.num_outputs != 2:
            raise ValueError(f"main must be a two-class classification task of {self.region}, got {self.main!r}.")
        if not 0.5 <= self.site_agreement < 1.0:
            raise ValueError(f"site_agreement must lie in [0.5, 1), got {self.site_agreement!r}.")
        if self.camera_signature not in CAMERA_SIGNATURES:
            raise ValueError(f"camera_signature must be one of {CAMERA_SIGNATURES}, got {self.camera_signature!r}.")
        if self.objective not in ADVERSARY_OBJECTIVES:
            raise ValueError(f"objective must be one of {ADVERSARY_OBJECTIVES}, got {self.objective!r}.")
        if self.strength_schedule not in STRENGTH_SCHEDULES:
            raise ValueError(f"strength_schedule must be one of {STRENGTH_SCHEDULES}, got {self.strength_schedule!r}.")
        if not 0.0 < self.strength < float("inf"):
            raise ValueError(f"strength must be a positive finite number, got {self.strength!r}.")
        self.validate_protocol(self.seeds)

    def key(self) -> str:
        """Short digest of what changes a run's result (not seeds or n_boot), with the generator version."""
        from mtdl_kit.regions import get_region

        fields = self.key_fields({k: v for k, v in asdict(self).items() if k not in ("seeds", "n_boot")})
        for name, first in _ADDED_FIELDS.items():
            if fields[name] == first:
                del fields[name]  # added after the first pilot: its cache stays valid
        fields["generator_version"] = get_region(self.region).generator_version
        fields["camera"] = [CAMERA_GAINS, CAMERA_STREAM]
        if self.camera_signature == "pattern":
            fields["camera"].append(PATTERN_AMPLITUDE)
        return hashlib.sha1(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:10]

    def arm_agreement(self, arm: str) -> float:
        """The camera-disease agreement of an arm's data."""
        if arm not in ADVERSARIAL_ARMS:
            raise ValueError(f"Unknown arm {arm!r}; the arms are {ADVERSARIAL_ARMS}.")
        return 0.5 if arm.endswith("_independent") else self.site_agreement


#: fields added after the first pilot, with their first value: left out of the key at that value.
_ADDED_FIELDS = {"strength_schedule": "constant", "camera_signature": "colour", "objective": "reversal"}


def ganin_ramp(progress: float) -> float:
    """Ganin & Lempitsky's (ICML 2015) ramp of the reversal strength: 0 at the start, about 1 from mid-training."""
    return 2.0 / (1.0 + math.exp(-10.0 * progress)) - 1.0


def camera_of(case_seed: int, label: int, agreement: float) -> int:
    """The camera (0 = A, 1 = B) of a case: its label with probability ``agreement``, else the other one."""
    import numpy as np

    draw = float(np.random.default_rng([int(case_seed), CAMERA_STREAM]).random())
    return int(label) if draw < agreement else 1 - int(label)


class TwoCameraView:
    """A phantom dataset seen through two cameras: each image in its camera's colour balance, and a ``camera`` target.

    Args:
        base: a :class:`~mtdl_kit.data.PhantomDataset` of an RGB region that returns ``main``.
        main: the two-class label the camera is coupled to.
        agreement: probability that the camera equals the label.
        shuffle_seed: if given, the ``camera`` *targets* are a derangement of the true ones (the
            images keep their camera): the information-free control.
    """

    def __init__(
        self, base: Any, main: str, agreement: float, shuffle_seed: int | None = None, signature: str = "colour"
    ) -> None:
        import numpy as np

        if signature not in CAMERA_SIGNATURES:
            raise ValueError(f"signature must be one of {CAMERA_SIGNATURES}, got {signature!r}.")
        self.base, self.main, self.signature = base, main, signature
        self.region, self.size = base.region, base.size
        self.cameras = np.array(
            [camera_of(base.seed_of(i), int(base.sample(i).targets[main]), agreement) for i in range(len(base))]
        )
        self.targets = self.cameras
        if shuffle_seed is not None and len(base) > 1:
            perm = np.random.default_rng(shuffle_seed).permutation(len(base))
            self.targets = self.cameras[np.roll(perm, 1)[np.argsort(perm)]]

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> dict[str, Any]:
        import torch

        item = dict(self.base[index])
        camera = int(self.cameras[index])
        if self.signature == "colour":
            gains = torch.tensor(CAMERA_GAINS[camera], dtype=item["image"].dtype)
            item["image"] = (item["image"] * gains[:, None, None]).clamp(0.0, 1.0)
        elif camera == 1:
            h, w = item["image"].shape[-2:]
            yy, xx = torch.meshgrid(torch.arange(h) // 2, torch.arange(w) // 2, indexing="ij")
            pattern = PATTERN_AMPLITUDE * (1.0 - 2.0 * ((yy + xx) % 2)).to(item["image"].dtype)
            item["image"] = (item["image"] + pattern).clamp(0.0, 1.0)
        item["camera"] = torch.tensor(int(self.targets[index]))
        # the phantom, not the picture: the same case under either camera pairs across the arms' test sets
        item["case_id"] = f"{self.base.split}-{self.base.seed_of(index)}"
        return item


def datasets(cfg: AdversarialConfig, arm: str, seed: int) -> tuple[TwoCameraView, TwoCameraView, TwoCameraView]:
    """(train, validation, test) of an arm: the lab's splits seen through the arm's two cameras."""
    from mtdl_kit.data import PhantomDataset

    q = cfg.arm_agreement(arm)
    common = {"size": cfg.size, "tasks": [cfg.main], "cache": True}
    train = PhantomDataset(cfg.region, cfg.n_train, split="train", base_seed=SUBSET_STRIDE * seed, **common)
    val = PhantomDataset(cfg.region, cfg.n_val, split="val", **common)
    test = PhantomDataset(cfg.region, cfg.n_test, split="test", **common)
    shuffle = seed if arm == "shuffled" else None
    sig = cfg.camera_signature
    return (
        TwoCameraView(train, cfg.main, q, shuffle, signature=sig),
        TwoCameraView(val, cfg.main, q, signature=sig),
        TwoCameraView(test, cfg.main, q, signature=sig),
    )


@dataclass
class AdversarialRun:
    """One trained arm of experiment B."""

    arm: str
    seed: int
    metrics: dict[str, dict[str, float]]
    best_step: int
    steps_run: int
    seconds: float
    parameters: int
    validation: dict[str, list[list[float]]] = field(default_factory=dict)
    records: Any = None


def run_adversarial_arm(cfg: AdversarialConfig, arm: str, seed: int) -> AdversarialRun:
    """Train and test one arm of experiment B (see the module docstring)."""
    from mtdl_kit.evaluation import evaluate
    from mtdl_kit.models import build_model
    from mtdl_kit.regions import get_region

    cfg.validate()
    region = get_region(cfg.region)
    train, val_view, test_view = datasets(cfg, arm, seed)
    val = [val_view[i] for i in range(len(val_view))]  # cases, materialised once (evaluated many times)
    test = [test_view[i] for i in range(len(test_view))]
    main = region.task(cfg.main)
    if arm.startswith("none"):
        tasks: tuple[TaskSpec, ...] = (main,)
        model = build_model("single", tasks, region.in_channels, width=cfg.width, seed=seed, region=region.name)
    else:
        tasks = (main, CAMERA_TASK)
        model = build_model(
            "parallel",
            tasks,
            region.in_channels,
            width=cfg.width,
            seed=seed,
            region=region.name,
            adversarial={CAMERA_TASK.name: cfg.strength},
            adversarial_objective=cfg.objective,
        )
    rule = cfg.stopping_rule((main,))  # the main task decides; the adversary's accuracy is not a goal
    callbacks = []
    if cfg.strength_schedule == "ganin" and not arm.startswith("none"):

        def ramp(history: Any, event: str) -> None:
            if event == "step":
                progress = min(1.0, history.steps / cfg.max_steps)
                model.adversarial[CAMERA_TASK.name] = cfg.strength * ganin_ramp(progress)

        model.adversarial[CAMERA_TASK.name] = 0.0
        callbacks.append(ramp)
    history, seconds = cfg.train(model, train, val, seed=seed, region=region, rule=rule, callbacks=callbacks)
    scored = evaluate(model, test, tasks=tasks, region=region, batch_size=64)
    return AdversarialRun(
        arm=arm,
        seed=seed,
        metrics={t: {k: float(v) for k, v in m.items()} for t, m in scored.metrics.items()},
        best_step=int(history.config["best_step"]),
        steps_run=int(history.config["steps_run"]),
        seconds=seconds,
        parameters=int(model.parameter_count()["total"]),
        validation={
            name: [[float(step), float(value)] for step, value in history.series("metric", name)]
            for name in history.names("metric")
            if name.endswith("/auc")
        },
        records=scored.records,
    )


@dataclass
class AdversarialResult:
    """All runs of experiment B and its contrasts.

    Attributes:
        config: the configuration.
        runs: every :class:`AdversarialRun`.
        runs_frame: one row per run, task and metric (``seed, arm, task, metric, value, best_step,
            steps_run, seconds, parameters``).
        summary: per arm a ``mean: <arm>`` row of the main task's primary metric, and per contrast of
            :data:`ADVERSARIAL_CONTRASTS` its value with the paired bootstrap CI (``significant``); the
            ``budget`` column is the number of main-task labels (every training case), as in experiment A.
    """

    config: AdversarialConfig
    runs: list[AdversarialRun]
    runs_frame: Any
    summary: Any


_RUN_FIELDS = ("arm", "seed", "best_step", "steps_run", "seconds", "parameters", "validation")


def run_adversarial(
    cfg: AdversarialConfig,
    *,
    arms: tuple[str, ...] = ADVERSARIAL_ARMS,
    cache: str | Path | None = None,
    on_run: Callable[[AdversarialRun], None] | None = None,
) -> AdversarialResult:
    """Run experiment B: every arm × seed (resumable through ``cache``), then the contrasts whose arms ran.

    Args:
        cfg: the configuration.
        arms: the arms to train (default all; a contrast is reported when all its arms ran).
        cache: folder for finished runs (records + metrics); a rerun skips what is there.
        on_run: called after each run (progress reports).
    """
    import pandas as pd

    from mtdl_kit.evaluation import paired_contrast
    from mtdl_kit.lab.cache import cached_lab_run
    from mtdl_kit.metrics import primary_metric
    from mtdl_kit.regions import get_region

    cfg.validate()
    unknown = [a for a in arms if a not in ADVERSARIAL_ARMS]
    if unknown or not arms:
        raise ValueError(f"arms must be among {ADVERSARIAL_ARMS}, got {arms}.")
    folder = Path(cache) if cache is not None else None
    runs: list[AdversarialRun] = []
    for seed in cfg.seeds:
        for arm in arms:
            stem = folder / f"{cfg.key()}-{arm}-s{seed}" if folder is not None else None
            run = cached_lab_run(
                stem, lambda arm=arm, seed=seed: run_adversarial_arm(cfg, arm, seed), AdversarialRun, _RUN_FIELDS
            )
            runs.append(run)
            if on_run is not None:
                on_run(run)
    runs_frame = runs_frame_of(runs, ("seed", "arm"))
    metric = primary_metric(get_region(cfg.region).task(cfg.main))
    rows = []
    for arm in arms:
        values = [r.metrics[cfg.main][metric] for r in runs if r.arm == arm]
        rows.append(summary_row(f"mean: {arm}", cfg.main, metric, sum(values) / len(values), budget=cfg.n_train))
    records = {a: {r.seed: r.records for r in runs if r.arm == a} for a in arms}
    for name, weights in ADVERSARIAL_CONTRASTS.items():
        if all(a in arms for a in weights):
            est = paired_contrast(records, weights, cfg.main, metric, n_boot=cfg.n_boot, seed=0)
            rows.append(summary_row(name, cfg.main, metric, est.value, est.ci_low, est.ci_high, budget=cfg.n_train))
    return AdversarialResult(cfg, runs, runs_frame, pd.DataFrame(rows))


#: the design chosen on the pilot seeds 0–3 before the headline (``benchmarks/RESULTS.md``, "adversarial-pilot"):
#: the bounded confusion objective, at the strength of the dose sweep (1, 3, 10, 30) where it first bit.
HEADLINE_DESIGN: dict[str, Any] = {"n_train": 1024, "objective": "confusion", "strength": 30.0}


def default_adversarial_config(*, quick: bool = False, seeds: tuple[int, ...] | None = None) -> AdversarialConfig:
    """Experiment B's headline configuration (:data:`HEADLINE_DESIGN`), or a quick one (a minute on a CPU).

    Args:
        quick: small images, few cases and steps: a smoke run, not a result.
        seeds: training seeds (default 0–7; quick: 0–1).
    """
    if quick:
        cfg = AdversarialConfig(
            n_train=32,
            n_val=16,
            n_test=32,
            size=32,
            width=4,
            max_steps=20,
            eval_every=10,
            patience=2,
            min_evaluations=1,
            batch_size=8,
            objective="confusion",
            strength=HEADLINE_DESIGN["strength"],
            seeds=(0, 1),
            n_boot=200,
        )
    else:
        cfg = AdversarialConfig(**HEADLINE_DESIGN)
    return replace(cfg, seeds=tuple(seeds)) if seeds is not None else cfg


def adversarial_reading(result: AdversarialResult) -> list[str]:
    """Plain sentences computed from the contrasts and their intervals (no fixed claims)."""
    from mtdl_kit.lab.transfer import interval_text

    cfg = result.config
    rows = result.summary.set_index("contrast")
    arms = [r[len("mean: ") :] for r in rows.index if r.startswith("mean: ")]
    metric = rows.iloc[0]["metric"]
    means = ", ".join(f"{a} {rows.loc[f'mean: {a}', 'value']:.3f}" for a in arms)
    out = [f"{cfg.main} {metric}, mean over {len(cfg.seeds)} seeds: {means}."]
    for name in ADVERSARIAL_CONTRASTS:
        if name in rows.index:
            out.append(f"{name}: {interval_text(rows.loc[name])}.")
    frame = result.runs_frame
    camera = frame[(frame["task"] == CAMERA_TASK.name) & (frame["metric"] == "auc")]
    for arm, group in camera.groupby("arm", sort=False):
        low, high = group["value"].min(), group["value"].max()
        out.append(f"The {arm} arm's camera head on the test set: ROC-AUC {low:.2f}–{high:.2f} (0.5: cameras hidden).")
    return out


def write_adversarial_outputs(result: AdversarialResult, out: str | Path) -> list[Path]:
    """``runs.csv`` (one row per run and metric), ``summary.csv`` and ``summary.md`` into ``out``."""
    from mtdl_kit.lab.outputs import write_lab_outputs

    cfg = result.config
    return write_lab_outputs(
        out,
        result.runs_frame,
        result.summary,
        title=f"Transfer lab, experiment B — {cfg.region}: {cfg.main} with a camera adversary ({cfg.objective})",
        configs={"Config": cfg},
        reading=adversarial_reading(result),
    )
