"""Region, task and sample types shared by every body-region phantom.

A *region* (brain, eye, chest, ...) is one of the eight anatomical areas of the review by
Zhao et al., "Multi-task deep learning for medical image computing and analysis: A review",
Comput. Biol. Med. 153:106496 (2023). Each region declares its imaging modality, input channels
and a task set (:class:`TaskSpec`) modelled on the review's representative networks, and it
generates :class:`Sample` objects whose labels are coupled through hidden variables (latents).

Coupling (the ``relatedness`` knob, ``r`` in [0, 1]) works the same way in every region: the
classification label is decided by the score

    z = r * u_anatomy + (1 - r) * u_other

where ``u_anatomy`` in [0, 1] is a normalised quantity *measured on the generated segmentation
mask* (cup-to-disc ratio, cardiothoracic ratio, ...) and ``u_other`` in [0, 1] is a normalised
*different visible image feature* that the segmentation does not capture (an RNFL defect, texture,
...). Both are normalised so that the clinical threshold maps to 0.5, so at ``r = 1`` the label
follows its clinical rule exactly (e.g. glaucoma <=> CDR > 0.6), at ``r = 0`` it follows the
other feature only, and in between it is a mix. Regression targets are measurements of the
generated anatomy and always agree with the mask.

``nuisance`` makes the classification label follow a nuisance variable instead (illumination,
stain colour, bias field, ...), something the segmentation must ignore: the textbook recipe for
negative transfer.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import numpy as np

TaskKind = Literal["segmentation", "classification", "regression", "landmarks", "reconstruction"]
TASK_KINDS: tuple[str, ...] = ("segmentation", "classification", "regression", "landmarks", "reconstruction")
MIN_SIZE = 32
MAX_SIZE = 1024


@dataclass(frozen=True)
class TaskSpec:
    """One task of a region.

    Args:
        name: identifier used as dict key everywhere (``"disc_cup"``, ``"glaucoma"``).
        kind: one of :data:`TASK_KINDS`. The loss and metrics follow from it.
        num_outputs: segmentation: number of classes including background (exclusive labels);
            classification: number of classes; regression: number of values; landmarks: number of
            points; reconstruction: number of image channels.
        description: one line of clinical meaning.
        class_names: names of the classes (segmentation and classification).
        output_names: names of the regression values or landmarks.
        units: units of the regression values (one string for all values), e.g. ``"mm"``.
    """

    name: str
    kind: TaskKind
    num_outputs: int
    description: str
    class_names: tuple[str, ...] = ()
    output_names: tuple[str, ...] = ()
    units: str = ""

    def __post_init__(self) -> None:
        if self.kind not in TASK_KINDS:
            raise ValueError(f"TaskSpec {self.name!r}: unknown kind {self.kind!r}; allowed kinds are {TASK_KINDS}.")
        if not self.name.isidentifier():
            raise ValueError(f"TaskSpec name {self.name!r} must be a Python identifier (letters, digits, '_').")
        if self.num_outputs < 1:
            raise ValueError(f"TaskSpec {self.name!r}: num_outputs must be >= 1, got {self.num_outputs}.")
        if self.kind in ("segmentation", "classification") and self.num_outputs < 2:
            raise ValueError(f"TaskSpec {self.name!r}: a {self.kind} task needs >= 2 classes, got {self.num_outputs}.")
        if self.class_names and len(self.class_names) != self.num_outputs:
            raise ValueError(
                f"TaskSpec {self.name!r}: {len(self.class_names)} class_names for {self.num_outputs} outputs."
            )
        if self.output_names and len(self.output_names) != self.num_outputs:
            raise ValueError(
                f"TaskSpec {self.name!r}: {len(self.output_names)} output_names for {self.num_outputs} outputs."
            )

    @property
    def is_dense(self) -> bool:
        """True for tasks whose output is a map the size of the image."""
        return self.kind in ("segmentation", "landmarks", "reconstruction")

    @property
    def label_columns(self) -> tuple[str, ...]:
        """The ``labels.csv`` columns of this task (the one definition of those names).

        Classification and single-output regression: the task name; a regression with several
        outputs: ``<task>__0``, ``<task>__1``, ...; landmarks: ``<task>__<k>_row``, ``<task>__<k>_col``;
        segmentation and reconstruction: none (masks are files, the reconstruction target is the image).
        """
        if self.kind == "classification" or (self.kind == "regression" and self.num_outputs == 1):
            return (self.name,)
        if self.kind == "regression":
            return tuple(f"{self.name}__{i}" for i in range(self.num_outputs))
        if self.kind == "landmarks":
            return tuple(f"{self.name}__{k}_{axis}" for k in range(self.num_outputs) for axis in ("row", "col"))
        return ()


@dataclass(frozen=True)
class Reference:
    """A published network the review lists for a region (see ``docs/review.md`` for which are confirmed as cited)."""

    network: str
    citation: str
    family: str
    tasks: str


@dataclass
class Sample:
    """One generated (or loaded) case.

    Attributes:
        image: float32 array (C, H, W) with values in [0, 1].
        targets: task name -> target. segmentation: int64 (H, W) class indices; classification:
            int64 scalar array; regression: float32 (num_outputs,); landmarks: float32 (K, 2) as
            (row, col) pixel coordinates; reconstruction: float32 (C, H, W). A task may be missing
            (partially labelled case).
        latents: the hidden variables that generated the sample (what a teacher explains).
        region: region name.
        seed: generator seed (``None`` for loaded files).
        spacing_mm: pixel spacing in millimetres (isotropic).
    """

    image: np.ndarray
    targets: dict[str, np.ndarray]
    latents: dict[str, float]
    region: str
    seed: int | None = None
    spacing_mm: float = 1.0
    meta: dict[str, object] = field(default_factory=dict)

    def digest(self) -> str:
        """sha256 over image and targets (sorted by name): bitwise identity of a sample."""
        h = hashlib.sha256()
        h.update(np.ascontiguousarray(self.image).tobytes())
        for name in sorted(self.targets):
            h.update(name.encode())
            h.update(np.ascontiguousarray(self.targets[name]).tobytes())
        return h.hexdigest()


@dataclass(frozen=True)
class Coupling:
    """How a region's classification label relates to its segmentation (for tests and teaching).

    Attributes:
        segmentation: the segmentation task whose mask defines the anatomy.
        classification: the task whose label the ``relatedness`` knob controls.
        anatomy_latent: latent holding the mask-measured quantity (e.g. ``"cdr"``).
        other_latent: latent holding the other visible feature the label follows at r = 0.
        rule: human-readable rule at r = 1 (e.g. ``"glaucoma <=> CDR > 0.6"``).
        other_segmentation: the lab task (:attr:`Region.lab_tasks`) whose mask outlines the other
            feature, or ``""`` where the region has none; with it the transfer lab's crossover can
            make either feature the related auxiliary task.
        other_rule: human-readable rule at r = 0.
        anatomy_label_noise: label noise (:meth:`Region.sample`) on the training and validation
            labels of the transfer lab's crossover under the rule at r = 1; with
            ``other_label_noise`` (r = 0) it is the documented calibration that matches the two rules'
            single-task difficulty where salience alone cannot (see the region module).
        other_label_noise: the same under the rule at r = 0.
    """

    segmentation: str
    classification: str
    anatomy_latent: str
    other_latent: str
    rule: str
    other_segmentation: str = ""
    other_rule: str = ""
    anatomy_label_noise: float = 0.0
    other_label_noise: float = 0.0


class Region(ABC):
    """A body region of the review with a procedural phantom generator.

    Subclasses set the class attributes and implement :meth:`_generate` and :meth:`measure`.
    :meth:`sample` validates arguments, seeds the generator and applies label noise, so every
    region behaves the same way.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    modality: ClassVar[str]
    in_channels: ClassVar[int]
    tasks: ClassVar[tuple[TaskSpec, ...]]
    #: extra targets for the transfer lab (e.g. the mask of the feature the label follows at r = 0):
    #: generated with every sample and selectable by name, but not among :attr:`task_names`, so the
    #: zoo, the dashboard and the lessons keep the region's clinical task set.
    lab_tasks: ClassVar[tuple[TaskSpec, ...]] = ()
    #: classification tasks whose classes are an ordered scale (grades): they are also scored with the
    #: quadratic weighted kappa (:func:`~mtdl_kit.metrics.is_ordinal`)
    ordinal_tasks: ClassVar[tuple[str, ...]] = ()
    coupling: ClassVar[Coupling]
    nuisances: ClassVar[tuple[str, ...]]
    references: ClassVar[tuple[Reference, ...]]
    field_of_view_mm: ClassVar[float]
    generator_version: ClassVar[str] = "1"
    #: what each input channel is, where the channels are not grey or RGB (brain: MRI sequences).
    channel_names: ClassVar[tuple[str, ...]] = ()
    #: the channel :meth:`display_image` shows for such regions.
    display_channel: ClassVar[int] = 0
    #: the image side (px) of the region's shipped models, its bundled cases and its loaded files: the zoo's
    #: lab recipe trains each region at this size and the dashboard shows it there.
    default_size: ClassVar[int] = 128
    #: the smallest image side (px) at which the region's structures are resolved: the transfer lab's
    #: experiments run here (64 px where nothing needs more; every extra doubling costs about four times).
    resolving_size: ClassVar[int] = 64
    #: ``(segmentation task, its classes)`` of the finding the case-level labels describe, where each case has
    #: one (the abdomen's lesion): what :class:`~mtdl_kit.lab.focus.FocusCrop` crops around; ``None``: none.
    finding_mask: ClassVar[tuple[str, tuple[int, ...]] | None] = None
    #: regression task -> (the :meth:`measure` key of each output, absolute tolerance): outputs
    #: that are measurements of the generated mask, checked against it by the tests.
    measured_regression: ClassVar[dict[str, tuple[tuple[str, ...], float]]] = {}
    #: regression task -> {latent: weight}: targets that are a weighted sum of generator latents
    #: (skin: the ABCD-like score 1.3 A + 0.1 B + 0.5 C + 0.5 D'); checked by the tests, read by
    #: :func:`mtdl_kit.zoo.composite_reading` to see which terms a network's prediction follows.
    composite_regression: ClassVar[dict[str, dict[str, float]]] = {}

    @property
    def task_names(self) -> tuple[str, ...]:
        """Names of the region's tasks in declaration order."""
        return tuple(t.name for t in self.tasks)

    def task(self, name: str) -> TaskSpec:
        """Return the :class:`TaskSpec` called ``name``.

        Raises:
            ValueError: if the region has no such task (the message lists the allowed names).
        """
        for t in (*self.tasks, *self.lab_tasks):
            if t.name == name:
                return t
        lab = f" (transfer-lab tasks: {tuple(t.name for t in self.lab_tasks)})" if self.lab_tasks else ""
        raise ValueError(f"Region {self.name!r} has no task {name!r}; allowed tasks are {self.task_names}{lab}.")

    def select_tasks(self, names: str | tuple[str, ...] | list[str] | None) -> tuple[TaskSpec, ...]:
        """Resolve a task subset (``None`` or ``"all"`` = the region's tasks; a comma string is accepted).

        Lab tasks (:attr:`lab_tasks`) are selected only by name.
        """
        if names is None or names == "all":
            return self.tasks
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",") if n.strip()]
        if not names:
            raise ValueError(f"Empty task selection for region {self.name!r}; choose from {self.task_names}.")
        if len(set(names)) != len(names):
            raise ValueError(f"Duplicate task names in {list(names)}.")
        return tuple(self.task(n) for n in names)

    def display_image(self, image: np.ndarray) -> np.ndarray:
        """The (1 or 3, H, W) picture of a (C, H, W) input shown to people: the input itself for grey and RGB.

        Regions whose channels are separate acquisitions (:attr:`channel_names`, e.g. the brain's MRI
        sequences) show one of them, :attr:`display_channel`, as grey, not a false-colour composite.
        """
        if self.channel_names:
            return image[self.display_channel : self.display_channel + 1]
        return image

    def spacing_mm(self, size: int) -> float:
        """Pixel spacing in millimetres at image size ``size``."""
        return self.field_of_view_mm / size

    def sample(
        self,
        seed: int,
        *,
        size: int = 128,
        relatedness: float = 1.0,
        nuisance: str | None = None,
        label_noise: float = 0.0,
    ) -> Sample:
        """Generate one case deterministically.

        Args:
            seed: non-negative integer; the same arguments give bitwise the same sample.
            size: image height and width in pixels, 32..1024.
            relatedness: in [0, 1], how much the classification label follows the anatomy in the
                segmentation (see the module docstring).
            nuisance: ``None`` or one of :attr:`nuisances`: the classification label then follows
                that nuisance variable instead of the anatomy.
            label_noise: in [0, 1): probability of replacing the class label by another class, and
                regression noise of ``label_noise`` times the target's typical spread.

        Raises:
            ValueError: for any argument outside its allowed values.
        """
        self.check_arguments(seed, size=size, relatedness=relatedness, nuisance=nuisance, label_noise=label_noise)
        rng = np.random.default_rng([int(seed), _stable_id(self.name)])
        image, targets, latents = self._generate(rng, size, float(relatedness), nuisance)
        image = np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)
        if label_noise > 0:
            targets = self._apply_label_noise(targets, latents, label_noise, np.random.default_rng([int(seed), 7]))
        return Sample(
            image=image,
            targets=targets,
            latents={k: float(v) for k, v in latents.items()},
            region=self.name,
            seed=int(seed),
            spacing_mm=self.spacing_mm(size),
            meta={"relatedness": float(relatedness), "nuisance": nuisance, "label_noise": float(label_noise)},
        )

    def check_arguments(
        self, seed: int, *, size: int, relatedness: float, nuisance: str | None, label_noise: float
    ) -> None:
        """Validate :meth:`sample` arguments; raise ``ValueError`` naming the allowed values."""
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}.")
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not MIN_SIZE <= size <= MAX_SIZE:
            raise ValueError(f"size must be an integer in [{MIN_SIZE}, {MAX_SIZE}] pixels, got {size!r}.")
        if not isinstance(relatedness, (int, float, np.floating)) or not 0.0 <= float(relatedness) <= 1.0:
            raise ValueError(f"relatedness must be a number in [0, 1], got {relatedness!r}.")
        if nuisance is not None and nuisance not in self.nuisances:
            raise ValueError(
                f"Unknown nuisance {nuisance!r} for region {self.name!r}; allowed values are None or {self.nuisances}."
            )
        if not isinstance(label_noise, (int, float, np.floating)) or not 0.0 <= float(label_noise) < 1.0:
            raise ValueError(f"label_noise must be a number in [0, 1), got {label_noise!r}.")

    @abstractmethod
    def _generate(
        self, rng: np.random.Generator, size: int, relatedness: float, nuisance: str | None
    ) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, float]]:
        """Return (image (C, H, W) float, targets, latents) for one case. Must use only ``rng``."""

    def measure_labels(self, mask: np.ndarray, spacing_mm: float) -> dict[str, float]:
        """The regression labels that are mask measurements, under their ``labels.csv`` column names.

        :meth:`measure` names its quantities after what they are (``whole_tumour_area_mm2``); a dataset's
        ``labels.csv`` names them after the task's outputs (``tumour_area__0``, :attr:`TaskSpec.label_columns`).
        :attr:`measured_regression` is the one mapping between the two, so labels computed here from
        a user's masks agree with what the phantoms carry and with what :func:`mtdl_kit.data.open_dataset`
        reads. Brain: ``{"tumour_area__0": whole tumour, "tumour_area__1": tumour core, "tumour_area__2": enhancing
        tumour}`` areas in mm².

        Args:
            mask: (H, W) class indices of the region's segmentation task.
            spacing_mm: pixel spacing in millimetres.

        Returns:
            ``{column: value}`` for every output of every task in :attr:`measured_regression`.
        """
        measured = self.measure(mask, spacing_mm)
        out: dict[str, float] = {}
        for task, (keys, _tolerance) in self.measured_regression.items():
            columns = self.task(task).label_columns
            out.update({column: float(measured[key]) for column, key in zip(columns, keys, strict=True)})
        return out

    @abstractmethod
    def measure(self, mask: np.ndarray, spacing_mm: float) -> dict[str, float]:
        """Clinical quantities measured on a segmentation mask (H, W) of this region.

        Returns a dict whose keys include :attr:`Coupling.anatomy_latent` and, for every
        regression output that is a mask measurement, that output's name. Used by the generator
        itself (labels come from the generated mask), by the tests and by the exercises (apply it
        to a *predicted* mask).
        """

    @abstractmethod
    def anatomy_score(self, value: float) -> float:
        """Normalise the mask-measured quantity to ``u_anatomy`` in [0, 1] (threshold -> 0.5).

        At relatedness 1 (no nuisance, no label noise) the class label is
        ``score_to_class(anatomy_score(measure(mask)[coupling.anatomy_latent]), num_classes)``.
        """

    def regression_spread(self, task: TaskSpec) -> np.ndarray:
        """Typical spread (standard deviation) of each regression output (label noise, loss scale)."""
        return np.ones(task.num_outputs, dtype=np.float32)

    def regression_centre(self, task: TaskSpec) -> np.ndarray:
        """Typical value (about the mean over phantoms at relatedness 1) of each regression output."""
        return np.zeros(task.num_outputs, dtype=np.float32)

    def regression_stats(self, tasks: Sequence[TaskSpec] | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Regression task -> (centre, spread): what regression heads are standardised with.

        See :meth:`mtdl_kit.models.base.MultiTaskNet.set_regression_scaling`.
        """
        chosen = self.tasks if tasks is None else tasks
        return {
            t.name: (self.regression_centre(t), self.regression_spread(t)) for t in chosen if t.kind == "regression"
        }

    def _apply_label_noise(
        self, targets: dict[str, np.ndarray], latents: dict[str, float], p: float, rng: np.random.Generator
    ) -> dict[str, np.ndarray]:
        out = dict(targets)
        for t in self.tasks:
            if t.name not in out:
                continue
            if t.kind == "classification" and rng.random() < p:
                y = int(out[t.name])
                other = int(rng.integers(t.num_outputs - 1))
                out[t.name] = np.asarray(other if other < y else other + 1, dtype=np.int64)
                latents[f"{t.name}_flipped"] = 1.0
            elif t.kind == "regression":
                noise = rng.normal(0.0, p, t.num_outputs) * self.regression_spread(t)
                out[t.name] = (out[t.name] + noise).astype(np.float32)
        return out

    def describe(self) -> str:
        """Multi-line plain-text summary of the region and its tasks."""
        lines = [f"{self.title} ({self.modality}, {self.in_channels} channel(s))"]
        for t in self.tasks:
            extra = f" classes={list(t.class_names)}" if t.class_names else ""
            lines.append(f"  - {t.name} [{t.kind}, {t.num_outputs}]: {t.description}{extra}")
        lines.append(f"  coupling: {self.coupling.rule}; nuisances: {', '.join(self.nuisances) or 'none'}")
        return "\n".join(lines)


def coupled_score(relatedness: float, u_anatomy: float, u_other: float) -> float:
    """The label score ``z = r * u_anatomy + (1 - r) * u_other`` (see module docstring)."""
    return relatedness * u_anatomy + (1.0 - relatedness) * u_other


def normalise_at_threshold(value: float, low: float, threshold: float, high: float) -> float:
    """Piecewise-linear map sending ``low -> 0``, ``threshold -> 0.5``, ``high -> 1`` (clipped)."""
    if value <= threshold:
        u = 0.5 * (value - low) / (threshold - low)
    else:
        u = 0.5 + 0.5 * (value - threshold) / (high - threshold)
    return float(min(max(u, 0.0), 1.0))


def score_to_class(z: float, num_classes: int) -> int:
    """Bin a score in [0, 1] into ``num_classes`` equal-width classes; boundaries go to the lower class.

    Binary: class 1 <=> z > 0.5, so a quantity exactly at its clinical threshold (CDR = 0.6) stays
    in the lower class, matching rules written as "CDR > 0.6".
    """
    return int(min(max(int(np.ceil(z * num_classes)) - 1, 0), num_classes - 1))


def _stable_id(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "little")


_REGISTRY: dict[str, Callable[[], Region]] = {}
_INSTANCES: dict[str, Region] = {}


def register_region(cls: type[Region]) -> type[Region]:
    """Class decorator adding a region to the registry under ``cls.name``."""
    _REGISTRY[cls.name] = cls
    return cls


REGION_NAMES: tuple[str, ...] = ("brain", "eye", "chest", "cardiac", "abdomen", "musculoskeletal", "pathology", "other")


def get_region(name: str) -> Region:
    """Return the (shared, stateless) region object called ``name``.

    Raises:
        ValueError: for an unknown name; the message lists the eight regions.
    """
    if name not in REGION_NAMES:
        raise ValueError(f"Unknown region {name!r}; allowed regions are {REGION_NAMES}.")
    if name not in _INSTANCES:
        import importlib

        importlib.import_module(f"mtdl_kit.regions.{name}")
        _INSTANCES[name] = _REGISTRY[name]()
    return _INSTANCES[name]


def all_regions() -> Mapping[str, Region]:
    """All eight regions in the review's order."""
    return {n: get_region(n) for n in REGION_NAMES}


def regions_markdown_table() -> str:
    """Markdown table of the eight regions: modality, tasks, coupling rule, nuisances (README/docs)."""
    rows = ["| region | modality | tasks (kind) | rule at relatedness 1 | nuisances |", "|---|---|---|---|---|"]
    for r in all_regions().values():
        tasks = ", ".join(f"`{t.name}` ({t.kind})" for t in r.tasks)
        rows.append(f"| {r.name} | {r.modality} | {tasks} | {r.coupling.rule} | {', '.join(r.nuisances)} |")
    return "\n".join(rows)
