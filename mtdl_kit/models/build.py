"""One entry point for every family: :func:`build_model`, plus region and baseline helpers.

>>> from mtdl_kit.regions import get_region
>>> eye = get_region("eye")
>>> model = build_model("hybrid", eye.tasks, eye.in_channels)          # doctest: +SKIP
>>> model(torch.rand(2, 3, 128, 128))["glaucoma"].shape                # doctest: +SKIP
torch.Size([2, 2])

Families (the review's Fig. 1, Zhao et al., Comput. Biol. Med. 153:106496, 2023): ``parallel``,
``cascaded``, ``interacted``, ``hybrid``, and the ``single``-task baseline.

**Parameter fairness.** At the same ``width`` the families are built to a comparable parameter
count: parallel and hybrid share one backbone; cascaded (T networks) and interacted (T columns)
shrink their sub-networks to ``sub_width`` (and fine-tune the MLP hidden size) so that their total
matches the parallel network of the same tasks (``match_params=True``, default); a single-task
baseline is matched the same way when ``capacity_of`` names the task set (see
:func:`build_baselines`). The parameter count is an exact polynomial in (width, hidden), fitted on
five tiny probe networks built on the meta device, so matching costs a few milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from mtdl_kit.models.base import MultiTaskNet
from mtdl_kit.models.cascaded import CASCADE_MODES, CascadedNet
from mtdl_kit.models.families import FAMILIES
from mtdl_kit.models.heads import ADVERSARIAL_OBJECTIVES, DEFAULT_HIDDEN, GUIDE_SUMMARIES, check_task, is_dense
from mtdl_kit.models.hybrid import HybridNet
from mtdl_kit.models.interacted import INTERACTIONS, InteractedNet
from mtdl_kit.models.parallel import DENSE_DECODERS, ParallelNet, check_adversarial
from mtdl_kit.models.single import SingleTaskNet
from mtdl_kit.regions.base import Region, TaskSpec

#: Default backbone width: encoder channels (8, 16, 32, 64). Chosen so that the parallel family
#: trains a batch of 8 images of 128x128 in well under 60 ms on two CPU threads.
DEFAULT_WIDTH = 8
MIN_WIDTH = 2
#: Parameter matching aims at the target count within this relative error.
MATCH_TOLERANCE = 0.05

#: Which family accepts which family-specific option.
_OPTION_FAMILIES: dict[str, tuple[str, ...]] = {
    "cascade_mode": ("cascaded", "hybrid"),
    "source": ("cascaded", "hybrid"),
    "interaction": ("interacted",),
    "dense_decoder": ("parallel", "hybrid"),
    "match_params": ("cascaded", "interacted", "single"),
    "capacity_of": ("single",),
    "guide_summary": ("hybrid",),
    "adversarial": ("parallel",),
    "adversarial_objective": ("parallel",),
}
#: (family, tasks, ...) -> (sub_width, hidden, target count): parameter matching is deterministic.
_SIZE_CACHE: dict[tuple[Any, ...], tuple[int, int, int]] = {}
_WHY_TWO = {
    "cascaded": "a cascade passes one task's result to another task's network",
    "interacted": "interacted branches exchange features between tasks",
    "hybrid": "a hybrid network feeds one task's result into another task's branch",
}


def build_model(
    family: str,
    tasks: Sequence[TaskSpec],
    in_channels: int,
    *,
    width: int = DEFAULT_WIDTH,
    seed: int = 0,
    spatial_dims: int = 2,
    cascade_mode: str | None = None,
    source: str | None = None,
    interaction: str | None = None,
    dense_decoder: str | None = None,
    match_params: bool | None = None,
    capacity_of: Sequence[TaskSpec] | None = None,
    hidden: int = DEFAULT_HIDDEN,
    norm: str = "instance",
    act: str = "prelu",
    region: str | None = None,
    guide_summary: str | None = None,
    adversarial: Mapping[str, float] | None = None,
    adversarial_objective: str | None = None,
) -> MultiTaskNet:
    """Build a network of one family for the given tasks.

    Args:
        family: ``"parallel"``, ``"cascaded"``, ``"interacted"``, ``"hybrid"`` or ``"single"``.
        tasks: the tasks to build heads for (e.g. ``region.tasks`` or ``region.select_tasks(...)``);
            only these get parameters.
        in_channels: image channels (``region.in_channels``).
        width: backbone width; the encoder has ``width * (1, 2, 4, 8)`` channels.
        seed: initial weights are a function of the seed only (the global RNG is left untouched).
        spatial_dims: 2, or 3 for volumes (same blocks).
        cascade_mode: cascaded / hybrid: ``"end_to_end"`` (default, differentiable hand-over) or
            ``"two_stage"`` (detached hand-over).
        source: cascaded / hybrid: the task whose result is handed over (default: first dense task).
        interaction: interacted: ``"cross_stitch"`` (default) or ``"attention"``.
        guide_summary: hybrid: what its mask-guided heads read of the guide map, ``"area"`` (default) or
            ``"composition"`` (:class:`~mtdl_kit.models.heads.GlobalHead`).
        dense_decoder: parallel / hybrid: ``"shared"`` (default; one decoder trunk for all dense
            tasks) or ``"per_task"``.
        match_params: cascaded / interacted / single: shrink (or grow) the sub-networks so the total
            parameter count matches the parallel network of the same tasks (default ``True``; for
            single only with ``capacity_of``).
        capacity_of: single: the task set whose parallel network the baseline's size should match.
        hidden: hidden units of the classification / regression MLPs.
        norm: MONAI normalisation (default ``"instance"``, as MONAI's ``UNet``).
        act: MONAI activation (default ``"prelu"``).
        region: region name, for error messages (:func:`build_for_region` sets it).
        adversarial: parallel: ``{task: strength}``, global tasks whose heads read the trunk through a
            gradient reversal of that strength (:func:`~mtdl_kit.models.heads.reverse_gradient`;
            Ganin & Lempitsky, ICML 2015): their heads learn them, the trunk learns to hide them.
        adversarial_objective: parallel, with ``adversarial``: ``"reversal"`` (default, the gradient
            reversal) or ``"confusion"`` (the trunk makes the head's prediction uniform,
            :func:`~mtdl_kit.models.heads.confusion_loss`; Tzeng et al., ICCV 2015).

    Returns:
        a :class:`~mtdl_kit.models.base.MultiTaskNet`.

    Raises:
        ValueError: unknown family or task kind, a multi-task family with one task, a cascade or
            hybrid without a dense source task, an option given to a family that does not use
            it, or an invalid number; the message says what to do.
    """
    if family not in FAMILIES:
        raise ValueError(f"Unknown family {family!r}; allowed families are {FAMILIES}.")
    tasks = _check_tasks(tasks, "tasks")
    _check_int(in_channels, "in_channels", 1)
    _check_int(width, "width", MIN_WIDTH)
    _check_int(hidden, "hidden", 1)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}.")
    if spatial_dims not in (2, 3):
        raise ValueError(f"spatial_dims must be 2 (images) or 3 (volumes), got {spatial_dims!r}.")
    given = {
        "cascade_mode": cascade_mode,
        "source": source,
        "interaction": interaction,
        "dense_decoder": dense_decoder,
        "match_params": match_params,
        "capacity_of": capacity_of,
        "guide_summary": guide_summary,
        "adversarial": adversarial or None,
        "adversarial_objective": adversarial_objective,
    }
    for option, value in given.items():
        if value is not None and family not in _OPTION_FAMILIES[option]:
            raise ValueError(
                f"Option {option}={value!r} does not apply to the {family} family; it is used by "
                f"{_OPTION_FAMILIES[option]}. Remove it."
            )
    names = tuple(t.name for t in tasks)
    if family in _WHY_TWO and len(tasks) < 2:
        raise ValueError(
            f"The {family} family needs at least 2 tasks ({_WHY_TWO[family]}); got only {names}. "
            f"Use family='single' for a one-task network, or add tasks."
        )
    if family == "single" and len(tasks) != 1:
        raise ValueError(
            f"family='single' builds one task, got {len(tasks)}: {names}. Use build_baselines(tasks, ...) for one "
            "baseline per task, or a multi-task family (e.g. 'parallel')."
        )
    common: dict[str, Any] = {
        "spatial_dims": spatial_dims,
        "norm": norm,
        "act": act,
        "region": region,
    }

    if family in ("cascaded", "hybrid"):
        source = _resolve_source(family, tasks, source)
        cascade_mode = cascade_mode or "end_to_end"
        if cascade_mode not in CASCADE_MODES:
            raise ValueError(f"Unknown cascade_mode {cascade_mode!r}; allowed values are {CASCADE_MODES}.")
    if interaction is not None and interaction not in INTERACTIONS:
        raise ValueError(f"Unknown interaction {interaction!r}; allowed values are {INTERACTIONS}.")
    if dense_decoder is not None and dense_decoder not in DENSE_DECODERS:
        raise ValueError(f"Unknown dense_decoder {dense_decoder!r}; allowed values are {DENSE_DECODERS}.")
    if capacity_of is not None:
        capacity_of = _check_tasks(capacity_of, "capacity_of")
    if match_params is not None and not isinstance(match_params, bool):
        raise ValueError(f"match_params must be True or False, got {match_params!r}.")

    factory: Callable[[int, int], MultiTaskNet]
    options: dict[str, object] = {}
    matched = False
    if family == "parallel":
        dd = dense_decoder or "shared"
        options["dense_decoder"] = dd
        adv = check_adversarial(tasks, adversarial)
        objective = adversarial_objective or "reversal"
        if objective not in ADVERSARIAL_OBJECTIVES:
            raise ValueError(
                f"Unknown adversarial_objective {objective!r}; allowed values are {ADVERSARIAL_OBJECTIVES}."
            )
        if adversarial_objective is not None and not adv:
            raise ValueError("adversarial_objective needs adversarial={task: strength}: name the adversarial task.")
        if adv:  # recorded only when set, so checkpoints of plain networks keep their options
            options["adversarial"] = adv
        if objective != "reversal":
            options["adversarial_objective"] = objective

        def factory(w: int, h: int) -> MultiTaskNet:
            return ParallelNet(
                tasks,
                in_channels,
                width=w,
                hidden=h,
                dense_decoder=dd,
                adversarial=adv,
                adversarial_objective=objective,
                **common,
            )

    elif family == "hybrid":
        dd = dense_decoder or "shared"
        detach = cascade_mode == "two_stage"
        summary = guide_summary or "area"
        if summary not in GUIDE_SUMMARIES:
            raise ValueError(f"Unknown guide_summary {summary!r}; allowed values are {GUIDE_SUMMARIES}.")
        options.update(source=source, cascade_mode=cascade_mode, dense_decoder=dd)
        if summary != "area":  # recorded only when set, so checkpoints of the default keep their options
            options["guide_summary"] = summary

        def factory(w: int, h: int) -> MultiTaskNet:
            return HybridNet(
                tasks,
                in_channels,
                width=w,
                hidden=h,
                dense_decoder=dd,
                source=source,
                detach_handover=detach,
                guide_summary=summary,
                **common,
            )

    elif family == "cascaded":
        matched = match_params is not False
        options.update(source=source, cascade_mode=cascade_mode)

        def factory(w: int, h: int) -> MultiTaskNet:
            return CascadedNet(
                tasks,
                in_channels,
                width=width,
                sub_width=w,
                source=source,  # type: ignore[arg-type]
                cascade_mode=cascade_mode,  # type: ignore[arg-type]
                hidden=h,
                **common,
            )

    elif family == "interacted":
        matched = match_params is not False
        inter = interaction or "cross_stitch"
        options["interaction"] = inter

        def factory(w: int, h: int) -> MultiTaskNet:
            return InteractedNet(tasks, in_channels, width=width, sub_width=w, interaction=inter, hidden=h, **common)

    else:  # single
        if match_params is True and capacity_of is None:
            raise ValueError("match_params=True for a single-task baseline needs capacity_of=<the task set to match>.")
        matched = capacity_of is not None and match_params is not False

        def factory(w: int, h: int) -> MultiTaskNet:
            return SingleTaskNet(tasks, in_channels, width=w, hidden=h, **common)

    build_width, build_hidden = width, hidden
    if matched:
        reference = capacity_of if family == "single" else tasks
        key = (family, tasks, reference, in_channels, width, hidden, spatial_dims, norm, act, tuple(options.items()))
        try:
            cached = _SIZE_CACHE.get(key)
        except TypeError:  # task objects that are not hashable: no caching
            key, cached = None, None
        if cached is None:
            target = _count(
                lambda w, h: ParallelNet(reference, in_channels, width=w, hidden=h, **common), width, hidden
            )
            cached = (*_match(factory, target, width, hidden), target)
            if key is not None:
                _SIZE_CACHE[key] = cached
        build_width, build_hidden, target = cached
        options.update(
            sub_width=build_width,
            hidden=build_hidden,
            matched_to=f"parallel({', '.join(t.name for t in reference)}) at width {width}: {target:,} parameters",
        )

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        model = factory(build_width, build_hidden)
    model.width = width
    model.options = {**options, "seed": int(seed)}
    return model


def build_for_region(
    region: str | Region,
    family: str,
    tasks: str | Sequence[str] | None = None,
    **kwargs: Any,
) -> MultiTaskNet:
    """Build a model for a region's tasks (all by default) with the region's input channels.

    Regression heads are standardised with the region's typical centre and spread
    (:meth:`~mtdl_kit.regions.Region.regression_stats`).

    Args:
        region: region name (``"eye"``) or :class:`~mtdl_kit.regions.Region`.
        family: see :func:`build_model`.
        tasks: task names to enable (``None`` / ``"all"`` = every task; a comma string works).
        **kwargs: passed to :func:`build_model`.
    """
    if isinstance(region, str):
        from mtdl_kit.regions import get_region

        region = get_region(region)
    specs = region.select_tasks(tasks)  # type: ignore[arg-type]
    model = build_model(family, specs, region.in_channels, region=region.name, **kwargs)
    model.set_regression_scaling(region.regression_stats(specs))
    return model


def build_baselines(
    tasks: Sequence[TaskSpec],
    in_channels: int,
    *,
    matched: bool = True,
    width: int = DEFAULT_WIDTH,
    seed: int = 0,
    **kwargs: Any,
) -> dict[str, MultiTaskNet]:
    """One single-task network per task, the reference for multi-task gains (Δm).

    Args:
        tasks: the task set.
        in_channels: image channels.
        matched: size every baseline like the parallel network of the whole task set
            (``capacity_of=tasks``); ``False`` keeps the nominal width (same backbone per task).
        width: nominal width.
        seed: seed of every baseline.
        **kwargs: other :func:`build_model` arguments (``spatial_dims``, ``hidden``, ...).
    """
    tasks = _check_tasks(tasks, "tasks")
    extra = {"capacity_of": tasks} if matched else {}
    return {t.name: build_model("single", [t], in_channels, width=width, seed=seed, **extra, **kwargs) for t in tasks}


# --------------------------------------------------------------------------------------- helpers
def _check_int(value: object, name: str, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")


def _check_tasks(tasks: object, what: str) -> tuple[TaskSpec, ...]:
    if isinstance(tasks, Region):
        raise ValueError(f"{what}: pass the region's tasks (region.tasks or region.select_tasks(...)), not the region.")
    if hasattr(tasks, "kind") or isinstance(tasks, (str, bytes)) or not isinstance(tasks, Sequence):
        raise ValueError(
            f"{what} must be a sequence of TaskSpec (e.g. region.tasks or [task]), got {type(tasks).__name__}."
        )
    if len(tasks) == 0:
        raise ValueError(f"{what} is empty; pass at least one TaskSpec (e.g. region.tasks).")
    for t in tasks:
        check_task(t)
    names = [t.name for t in tasks]
    if len(set(names)) != len(names):
        raise ValueError(f"{what}: duplicate task names in {names}.")
    return tuple(tasks)


def _resolve_source(family: str, tasks: tuple[TaskSpec, ...], source: str | None) -> str:
    dense = [t for t in tasks if is_dense(t)]
    kinds = ", ".join(f"{t.name}: {t.kind}" for t in tasks)
    if source is None:
        if not dense:
            raise ValueError(
                f"The {family} family hands a dense result (a mask, heatmap or image) from a source task to the "
                f"others, but no task is dense ({kinds}). Add a segmentation / landmarks / reconstruction task, or "
                "use 'parallel' or 'interacted'."
            )
        return dense[0].name
    by_name = {t.name: t for t in tasks}
    if source not in by_name:
        raise ValueError(f"source={source!r} is not one of the tasks {tuple(by_name)}.")
    if not is_dense(by_name[source]):
        raise ValueError(
            f"source={source!r} is a {by_name[source].kind} task; the source must be dense "
            f"(segmentation, landmarks or reconstruction). Dense tasks here: {tuple(t.name for t in dense) or 'none'}."
        )
    return source


def _count(factory: Callable[[int, int], torch.nn.Module], width: int, hidden: int) -> int:
    with torch.device("meta"):
        return sum(p.numel() for p in factory(width, hidden).parameters())


def _match(factory: Callable[[int, int], torch.nn.Module], target: int, width: int, hidden: int) -> tuple[int, int]:
    """(width, hidden) whose parameter count is closest to ``target``.

    The count is exactly ``A w^2 + B w + C + h (D w + E)`` (conv weights scale with the product of
    two channel counts, MLP weights with hidden x width), so five probes determine it.
    """
    probes = [(2, 16), (3, 16), (4, 16), (2, 32), (3, 32)]
    rows = [[w * w, w, 1, h * w, h] for w, h in probes]
    counts = [_count(factory, w, h) for w, h in probes]
    coef = np.linalg.solve(np.array(rows, dtype=float), np.array(counts, dtype=float))
    a, b, c, d, e = coef
    h_lo, h_hi = max(8, hidden // 4), 4 * hidden
    candidates = []  # (relative error, |log2(h / hidden)|, -w, h)
    for w in range(MIN_WIDTH, 4 * width + 1):
        base = a * w * w + b * w + c
        slope = d * w + e
        h = hidden if slope < 0.5 else int(min(max(round((target - base) / slope), h_lo), h_hi))
        err = abs((base + slope * h) / target - 1.0)
        candidates.append((err, abs(float(np.log2(h / hidden))), -w, h))
    # Prefer the MLP closest to its default among sizes within MATCH_TOLERANCE, else the closest count.
    good = [cand for cand in candidates if cand[0] <= MATCH_TOLERANCE]
    best = min(good, key=lambda cand: (cand[1], cand[2])) if good else min(candidates)
    return -best[2], best[3]
