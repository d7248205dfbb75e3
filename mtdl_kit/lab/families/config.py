"""Experiment G's configuration and the networks it trains: the capacity rules, the arms, each arm's
:class:`Network` and how it is built (:mod:`mtdl_kit.lab.families`). Research and teaching use only — not for
clinical use.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from typing import Any

from mtdl_kit.lab.protocol import QUICK_PROTOCOL, TRAINING_CASES, LabProtocol

#: the capacity rules (see the module docstring)
CAPACITY_RULES: tuple[str, ...] = ("params", "width")
#: families whose networks differ between the two rules ("single": the baselines)
RULE_DEPENDENT: tuple[str, ...] = ("cascaded", "interacted", "single")
#: the cascade's hand-over: detached, as the zoo trains it, so its stages share no layer (an end-to-end
#: cascade back-propagates the downstream losses into the source network, which is then shared)
CASCADE_MODE = "two_stage"
#: the ``rule`` of the summary rows that compare an arm's two rules
ACROSS = "width vs params"
#: the metric name of Δm rows in the summary
DELTA_M = "delta_m"


def arm_name(family: str, rule: str) -> str:
    """``("cascaded", "width") -> "cascaded@width"``; ``("parallel", ...) -> "parallel"`` (rule-free)."""
    return f"{family}@{rule}" if family in RULE_DEPENDENT else family


@dataclass(frozen=True)
class FamiliesConfig(LabProtocol):
    """Everything that defines a run of experiment G (recorded with every result).

    Attributes:
        region: region name.
        tasks: the region's tasks in the comparison (``()``: all of them).
        families: multi-task families compared with the single-task networks.
        rules: capacity rules (:data:`CAPACITY_RULES`).
        weighting: loss weighting of the multi-task networks (EW, as in table 1).
        seeds: training seeds (each fixes a training subset and the initial weights).
        max_steps: a higher cap than experiments A–E (2,000 steps): every network trains every task.
        select_after_warmup: on (the protocol's field): warm-up evaluations cannot be selected.
        chance_guard: on (the protocol's field): a network stops only once every task has beaten its
            validation chance level. Adopted on 2026-12-05, after its replay on the committed curves changed
            none of the eye's, chest's, heart's or skin's 592 networks and 39 of the knee's 112 (RESULTS
            "families-lab-guard"); the results trained before it say so where they are summarised.
        dense_decoder: the parallel and hybrid networks' decoder for several dense tasks: ``"shared"`` (the
            library default, the headline) or ``"per_task"`` (one decoder per dense task; a diagnostic that tells
            a cost of sharing the decoder from one of sharing the encoder). Left out of the cache key while
            ``"shared"``, so the caches written before the field keep their keys.
        focus_crop: ``0`` (the headline: whole images) or the side, in pixels, of a window centred on the
            region's finding (:class:`~mtdl_kit.lab.focus.FocusCrop`, from the ground-truth mask of every split):
            a diagnostic that tells a single-task network that cannot find the finding from one that cannot read
            it. Classification and regression networks only (a cropped mask's pixel spacing is not the image's);
            left out of the cache key while ``0``.
        interaction: the interacted network's exchange between its task columns: ``"cross_stitch"`` (the library
            default, the headline; Misra et al., CVPR 2016) or ``"attention"`` (cross-task attention,
            :class:`~mtdl_kit.models.interacted.CrossTaskAttention`): a diagnostic that tells a cost of how the
            columns exchange features from one of keeping a column per task. Left out of the cache key while
            ``"cross_stitch"``.
    """

    region: str = "eye"
    tasks: tuple[str, ...] = ()
    families: tuple[str, ...] = ("parallel", "cascaded", "interacted", "hybrid")
    rules: tuple[str, ...] = CAPACITY_RULES
    weighting: str = "ew"
    seeds: tuple[int, ...] = tuple(range(8))
    max_steps: int = 2000
    select_after_warmup: bool = True
    chance_guard: bool = True
    dense_decoder: str = "shared"
    focus_crop: int = 0
    interaction: str = "cross_stitch"

    def task_names(self) -> tuple[str, ...]:
        """The tasks compared: :attr:`tasks`, or every task of the region."""
        from mtdl_kit.regions import get_region

        return self.tasks or get_region(self.region).task_names

    def arms(self) -> tuple[str, ...]:
        """Every arm: the single-task networks of each rule, then each family (once if rule-free)."""
        names = [arm_name("single", r) for r in self.rules]
        names += [arm_name(f, r) for f in self.families for r in self.rules]
        return tuple(dict.fromkeys(names))

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad field."""
        from mtdl_kit.models import MULTI_TASK_FAMILIES
        from mtdl_kit.regions import get_region
        from mtdl_kit.weighting import available_weightings

        region = get_region(self.region)
        names = self.task_names()
        unknown = [t for t in names if t not in region.task_names]
        if unknown:
            raise ValueError(f"tasks {unknown} are not tasks of {self.region}; its tasks are {region.task_names}.")
        if len(names) < 2 or len(set(names)) != len(names):
            raise ValueError(f"tasks must name at least two distinct tasks (a multi-task network), got {names}.")
        bad = [f for f in self.families if f not in MULTI_TASK_FAMILIES]
        if bad or not self.families or len(set(self.families)) != len(self.families):
            raise ValueError(f"families must be distinct names of {MULTI_TASK_FAMILIES}, got {self.families}.")
        if not self.rules or len(set(self.rules)) != len(self.rules) or set(self.rules) - set(CAPACITY_RULES):
            raise ValueError(f"rules must be distinct values of {CAPACITY_RULES}, got {self.rules}.")
        if self.weighting not in available_weightings():
            raise ValueError(f"unknown weighting {self.weighting!r}; available: {available_weightings()}.")
        from mtdl_kit.models import DENSE_DECODERS, INTERACTIONS

        if self.dense_decoder not in DENSE_DECODERS:
            raise ValueError(f"dense_decoder must be one of {DENSE_DECODERS}, got {self.dense_decoder!r}.")
        if self.interaction not in INTERACTIONS:
            raise ValueError(f"interaction must be one of {INTERACTIONS}, got {self.interaction!r}.")
        self.validate_protocol(self.seeds)
        region.check_arguments(0, size=self.size, relatedness=1.0, nuisance=None, label_noise=0.0)
        if self.focus_crop:
            if region.finding_mask is None:
                raise ValueError(f"focus_crop needs a region with a finding to crop around; {self.region} names none.")
            from mtdl_kit.models.base import MIN_INPUT_SIZE, TOTAL_STRIDE

            if self.focus_crop % TOTAL_STRIDE or not MIN_INPUT_SIZE <= self.focus_crop < self.size:
                raise ValueError(
                    f"focus_crop must be a multiple of {TOTAL_STRIDE} (the encoder's stride) from {MIN_INPUT_SIZE} to "
                    f"below the image's {self.size} px, got {self.focus_crop}."
                )
            if region.finding_mask[0] not in names:
                raise ValueError(f"focus_crop finds the finding in {region.finding_mask[0]!r}: keep it in tasks.")

    def splits(self, region: str, tasks: Any, seed: int) -> tuple[Any, Any, Any]:
        """The protocol's splits (:meth:`LabProtocol.splits`), each cropped around the finding when
        :attr:`focus_crop` is set."""
        splits = super().splits(region, tasks, seed)
        if not self.focus_crop:
            return splits
        from mtdl_kit.lab.focus import FocusCrop
        from mtdl_kit.regions import get_region

        spec = get_region(region)
        specs = spec.select_tasks(list(tasks))
        return tuple(FocusCrop(s, specs, spec.finding_mask, self.focus_crop) for s in splits)  # type: ignore[return-value]

    def key(self) -> str:
        """Digest of what changes a run's result (not seeds, families, rules, n_boot), with the generator version."""
        skip: tuple[str, ...] = ("seeds", "families", "rules", "n_boot", "tasks")
        if self.dense_decoder == "shared":  # the field came after the first caches: theirs keep their keys
            skip += ("dense_decoder",)
        if not self.focus_crop:
            skip += ("focus_crop",)
        if self.interaction == "cross_stitch":
            skip += ("interaction",)
        return self.digest("families", skip)


#: a small, fast configuration for tests and a first look (eye: 10 networks × 2 seeds, ~2 min on one thread)
QUICK_FAMILIES = FamiliesConfig(seeds=(0, 1), **QUICK_PROTOCOL)


#: image size of the quick mode where its 32 px cannot grade a task: the knee's joint space at 32 px is too few
#: pixels wide for the JSN grade (the quick test split has grades 0, 3 and 4 only); at 48 px it has all five.
QUICK_SIZES: dict[str, int] = {"musculoskeletal": 48}


def default_families_config(region: str = "eye", *, quick: bool = False, **changes: Any) -> FamiliesConfig:
    """The experiment's configuration for ``region``, validated (``None`` values in ``changes`` are ignored).

    The full experiment runs at the region's :attr:`~mtdl_kit.regions.base.Region.resolving_size` where
    64 px does not resolve its structures (the brain's necrotic core and pathology's nuclei: 128 px; the
    abdomen's enhancing rim: 256 px; fixed before any run of these regions; about four times the cost per
    doubling), else at the protocol's 64 px; the quick mode runs at 32 px, or :data:`QUICK_SIZES` where 32 px
    cannot grade a task; ``size=`` overrides it. It trains on :data:`~mtdl_kit.lab.protocol.TRAINING_CASES` where
    the protocol's 256 cases leave a task at chance (the knee: 1,024); ``n_train=`` overrides it.

    Raises:
        ValueError: an unknown region or a bad field.
    """
    changes = {k: v for k, v in changes.items() if v is not None}
    from mtdl_kit.regions import REGION_NAMES, get_region

    base = QUICK_FAMILIES if quick else FamiliesConfig()
    if quick:
        changes.setdefault("size", QUICK_SIZES.get(region, base.size))
    elif region in REGION_NAMES:
        changes.setdefault("size", max(base.size, get_region(region).resolving_size))
        changes.setdefault("n_train", TRAINING_CASES.get(region, base.n_train))
    cfg = replace(base, region=region, **changes)
    cfg.validate()
    return cfg


def config_of_runs(region: str, runs: Any) -> FamiliesConfig:
    """The configuration a committed runs table (:attr:`FamiliesResult.runs_frame`) was trained under: the
    region's default with the table's seeds and training cases (``budget``), the chance guard off when the
    table has no ``chance_guard`` column (it was trained before the guard was adopted) and the CPU when it has
    no ``device`` column (every table written before the field).

    Raises:
        ValueError: the table mixes training-set sizes, guard settings or devices.
    """
    budgets = sorted({int(b) for b in runs["budget"]})
    guards = sorted({bool(g) for g in runs["chance_guard"]}) if "chance_guard" in runs else [False]
    devices = sorted({str(d) for d in runs["device"]}) if "device" in runs else ["cpu"]
    if len(budgets) != 1 or len(guards) != 1 or len(devices) != 1:
        raise ValueError(
            f"a runs table holds one configuration; got budgets {budgets}, chance guards {guards} "
            f"and devices {devices}."
        )
    seeds = tuple(sorted(int(s) for s in runs["seed"].unique()))
    return default_families_config(region, seeds=seeds, n_train=budgets[0], chance_guard=guards[0], device=devices[0])


@dataclass(frozen=True)
class Network:
    """What one training run builds: a multi-task family on every task, or a single-task network of one task.

    Attributes:
        family: ``"single"`` or a multi-task family.
        tasks: the tasks it trains.
        options: further :func:`~mtdl_kit.models.build_model` arguments the capacity rule sets.
    """

    family: str
    tasks: tuple[str, ...]
    options: tuple[tuple[str, Any], ...] = ()


def networks_of(cfg: FamiliesConfig, arm: str) -> dict[str, Network]:
    """The networks an arm trains: ``{"all": Network}`` for a family, ``{task: Network}`` for the single-task arm.

    Raises:
        ValueError: an arm that is not one of :meth:`FamiliesConfig.arms`.
    """
    if arm not in cfg.arms():
        raise ValueError(f"arm {arm!r} is not one of this configuration's {cfg.arms()}.")
    family, _, rule = arm.partition("@")
    tasks = cfg.task_names()
    if family == "single":
        if rule == "params":
            return {t: Network("single", (t,), (("capacity_of", tasks),)) for t in tasks}
        return {t: Network("single", (t,)) for t in tasks}
    options: tuple[tuple[str, Any], ...] = ()
    if family in RULE_DEPENDENT:
        options = (("match_params", rule == "params"),)
    if family == "cascaded":
        options += (("cascade_mode", CASCADE_MODE),)
    if family in ("parallel", "hybrid") and cfg.dense_decoder != "shared":
        options += (("dense_decoder", cfg.dense_decoder),)
    if family == "interacted" and cfg.interaction != "cross_stitch":
        options += (("interaction", cfg.interaction),)
    return {"all": Network(family, tasks, options)}


def network_digest(cfg: FamiliesConfig, network: Network) -> str:
    """A short name of what ``network`` builds: its family, tasks and every parameter's name and shape.

    Two arms whose rules build the same network (a segmentation baseline has width 8 under both
    rules) get the same digest, so the cache trains it once per seed.
    """
    model = build_network(cfg, network, seed=0)
    shapes = [[name, list(p.shape)] for name, p in model.state_dict().items()]
    text = json.dumps([network.family, list(network.tasks), dict(network.options).get("cascade_mode"), shapes])
    return hashlib.sha1(text.encode()).hexdigest()[:8]


def build_network(cfg: FamiliesConfig, network: Network, seed: int) -> Any:
    """The network of one run, initialised by ``seed``, regression heads standardised (the library default)."""
    from mtdl_kit.models import build_model
    from mtdl_kit.regions import get_region

    region = get_region(cfg.region)
    tasks = region.select_tasks(list(network.tasks))
    options = dict(network.options)
    if "capacity_of" in options:
        options["capacity_of"] = region.select_tasks(list(options["capacity_of"]))
    model = build_model(
        network.family, tasks, region.in_channels, width=cfg.width, seed=seed, region=region.name, **options
    )
    model.set_regression_scaling(region.regression_stats(tasks))
    return model


def change_label(changes: dict[str, Any]) -> str:
    """The name of a diagnostic's configuration change in its files and RESULTS section
    (``bench_families.py --retrain-with``): ``{"weighting": "uw", "max_steps": 4000}`` ->
    ``"weightinguw_max_steps4000"``. :func:`change_words` reads it back."""
    return "_".join(f"{k}{v}" for k, v in changes.items())


def _label_parts(label: str) -> list[tuple[str, str]] | None:
    """A :func:`change_label` split into ``(field, value text)`` pairs; ``None`` for a label that does not start
    with a :class:`FamiliesConfig` field. Field names and values may hold underscores (``dense_decoderper_task``):
    a value runs until an underscore followed by another field's name."""
    from dataclasses import fields

    names = sorted((f.name for f in fields(FamiliesConfig)), key=len, reverse=True)

    def field_at(i: int) -> str | None:
        return next((n for n in names if label.startswith(n, i) and len(label) > i + len(n)), None)

    parts, i = [], 0
    while i < len(label):
        name = field_at(i)
        if name is None:
            return None
        start = j = i + len(name)
        while j < len(label) and not (label[j] == "_" and field_at(j + 1)):
            j += 1
        parts.append((name, label[start:j]))
        i = j + 1
    return parts


def change_words(label: str) -> str:
    """A :func:`change_label` in words: ``"weightinguw_max_steps4000"`` -> ``"weighting = uw, max_steps = 4000"``;
    a label that does not start with a :class:`FamiliesConfig` field (``"unstopped"``) is returned as it is."""
    parts = _label_parts(label)
    return label if parts is None else ", ".join(f"{name} = {value}" for name, value in parts)


def label_changes(label: str) -> dict[str, Any]:
    """The configuration changes a :func:`change_label` names, typed as :class:`FamiliesConfig`'s defaults:
    ``"n_train1024_weightinguw"`` -> ``{"n_train": 1024, "weighting": "uw"}``; ``{}`` for a label that is not a
    change (``"unstopped"``, ``"runs"``).

    Raises:
        ValueError: a value that is not of its field's type (``"n_trainmany"``).
    """
    default = FamiliesConfig()
    changes: dict[str, Any] = {}
    for name, text in _label_parts(label) or []:
        current = getattr(default, name)
        if isinstance(current, bool):
            if text not in ("True", "False"):
                raise ValueError(f"{name} is True or False; the label {label!r} gives {text!r}.")
            changes[name] = text == "True"
        elif isinstance(current, int | float):
            try:
                changes[name] = type(current)(text)
            except ValueError as err:
                raise ValueError(f"{name} is a number; the label {label!r} gives {text!r}.") from err
        else:
            changes[name] = text
    return changes


def seed_splits(cfg: FamiliesConfig, seed: int) -> tuple[Any, Any, Any]:
    """The (train, validation, test) datasets of ``seed`` under ``cfg`` (the test split is every seed's)."""
    return cfg.splits(cfg.region, cfg.task_names(), seed)


def rule_of(arm: str) -> str:
    """``"cascaded@width" -> "width"``; ``""`` for a rule-free arm (``"parallel"``)."""
    return arm.partition("@")[2]


#: what a table of experiment G's networks can be narrowed to (:func:`rows_of_networks`)
NETWORK_KINDS = ("all", "single-task", "multi-task")


def rows_of_networks(table: Any, networks: str) -> Any:
    """The rows of ``table`` (a frame with an ``arm`` column) of ``networks``: ``"all"``, ``"single-task"`` (arms
    ``single@...``) or ``"multi-task"`` (the families).

    Raises:
        ValueError: ``networks`` not one of :data:`NETWORK_KINDS`.
    """
    if networks not in NETWORK_KINDS:
        raise ValueError(f"networks={networks!r} is not one of {NETWORK_KINDS}.")
    if networks == "all":
        return table
    single = table["arm"].str.startswith("single")
    return table[single if networks == "single-task" else ~single]


def distinct_networks(table: Any) -> Any:
    """``table`` (one row per arm, seed and task) with each network once: a single-task network that serves both
    capacity rules (the segmentation baseline: ``single@params`` and ``single@width`` are then the same network,
    trained once by ``benchmarks/bench_families.py``) is listed under both arms with identical values;
    its second row is dropped, so a mean over networks counts it once.

    Rows are the same network when every column but ``arm`` is equal (measured floats: two different networks do
    not share them all).
    """
    return table.drop_duplicates(subset=[column for column in table.columns if column != "arm"])


def check_test_classes(cfg: FamiliesConfig, test: Any) -> None:
    """Raise ``ValueError`` when the test split ``test`` has no case of some class of a classification task: its macro
    AUC, and Δm with it, would be undefined — found before any network trains, not after (the knee's grade at
    32 px has only grades 0, 3 and 4: its joint space is too few pixels wide to grade).
    """
    from mtdl_kit.regions import get_region

    region = get_region(cfg.region)
    tasks = [t for t in region.select_tasks(list(cfg.task_names())) if t.kind == "classification"]
    for task in tasks:
        seen = {int(test[i][task.name]) for i in range(len(test))}
        missing = sorted(set(range(task.num_outputs)) - seen)
        if missing:
            raise ValueError(
                f"the test split ({cfg.n_test} cases at {cfg.size} px) has no case of {task.name} class(es) "
                f"{missing}, so its AUC and Δm are undefined; use a larger size or n_test (the full experiment "
                f"runs {cfg.region} at {default_families_config(cfg.region).size} px)."
            )
