"""The weighting registry: ``register`` (a class decorator), ``build_weighting`` and ``WEIGHTING_INFO``.

Methods register themselves with :func:`register` (a decorator registry, as in SamsungLabs/MTL's
``balancers.register``); :func:`build_weighting` looks the name up, validates the task list, the
level and the options, and lets the method check the model. Every refusal is a ``ValueError`` that
names the method, the model and the fix, raised when the method is built.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from torch import nn

from mtdl_kit.weighting.base import LEVELS, Weighting, WeightingInfo, model_label

#: ``{name: WeightingInfo}`` of every registered method, in registration order (loss-based first).
WEIGHTING_INFO: dict[str, WeightingInfo] = {}
_CLASSES: dict[str, type[Weighting]] = {}

_W = TypeVar("_W", bound=type[Weighting])


def register(info: WeightingInfo) -> Callable[[_W], _W]:
    """Class decorator: add a :class:`~mtdl_kit.weighting.base.Weighting` subclass under ``info.name``.

    Raises:
        ValueError: the name is already taken.
    """

    def _register(cls: _W) -> _W:
        if info.name in _CLASSES:
            raise ValueError(f"A weighting named {info.name!r} is already registered ({_CLASSES[info.name].__name__}).")
        cls.name = info.name
        cls.kind = info.kind
        cls.levels = info.levels
        _CLASSES[info.name] = cls
        WEIGHTING_INFO[info.name] = info
        return cls

    return _register


def available_weightings() -> tuple[str, ...]:
    """Registry names of every method, loss-based first (``("ew", "fixed", "uw", ...)``)."""
    return tuple(_CLASSES)


def weighting_class(name: str) -> type[Weighting]:
    """The class registered under ``name``.

    Raises:
        ValueError: unknown name (the message lists :func:`available_weightings`).
    """
    key = name.strip().lower().replace("-", "_") if isinstance(name, str) else name
    if key not in _CLASSES:
        raise ValueError(f"Unknown weighting {name!r}. Available: {', '.join(available_weightings())}.")
    return _CLASSES[key]


def accepted_options(name: str) -> tuple[str, ...]:
    """The keyword options method ``name`` accepts (keyword-only constructor arguments, with those of
    base classes its constructor forwards ``**kwargs`` to)."""
    cls = weighting_class(name)
    names: list[str] = []
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters.values()
        names += [
            p.name
            for p in params
            if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in ("model", "level") and p.name not in names
        ]
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
            break
    return tuple(names)


def build_weighting(
    name: str, task_names: Sequence[str], *, model: nn.Module | None, level: str = "parameters", **options: Any
) -> Weighting:
    """Build the weighting method ``name`` for ``task_names`` and ``model``.

    Args:
        name: one of :func:`available_weightings` (case-insensitive; ``-`` may replace ``_``).
        task_names: the tasks, in the order the weights are reported.
        model: the network (see :mod:`mtdl_kit.weighting.base` for the protocol). Loss-only methods
            accept ``None``.
        level: gradient methods: ``"parameters"`` (Jacobian on the shared parameters) or
            ``"features"`` (Jacobian on the shared features, one backward through the shared trunk).
            Loss-based methods accept only ``"parameters"``.
        **options: method options, e.g. ``weights={...}`` for ``"fixed"``, ``alpha=`` for ``"gradnorm"``,
            ``c=`` for ``"cagrad"`` (see :data:`WEIGHTING_INFO` and each class's docstring).

    Returns:
        A ready :class:`~mtdl_kit.weighting.base.Weighting`.

    Raises:
        ValueError: unknown name, level or option; fewer than two tasks (any method but ``"ew"``);
            duplicate task names; a method the model cannot serve (e.g. a gradient method on a
            cascaded network without shared parameters).
        ImportError: an optional solver is missing (CAGrad, Nash-MTL).
    """
    cls = weighting_class(name)
    key = cls.name
    if isinstance(task_names, str):
        raise ValueError(f"{key}: task_names must be a sequence of task names, got the string {task_names!r}.")
    tasks = tuple(task_names)
    if len(set(tasks)) != len(tasks):
        raise ValueError(f"{key}: duplicate task names in {list(tasks)}.")
    if len(tasks) < cls.min_tasks:
        raise ValueError(
            f"{key} balances several tasks and needs at least {cls.min_tasks}, got {len(tasks)} ({list(tasks)}). "
            "For a single task use 'ew' (plain loss.backward())."
        )
    if level not in LEVELS:
        raise ValueError(f"{key}: unknown level {level!r}; use one of {LEVELS}.")
    if level not in cls.levels:
        if cls.kind == "loss":
            hint = (
                f"{key} weights losses and does one ordinary backward pass, so it has no gradient level: leave "
                f"level={cls.levels[0]!r}. For representation-level gradient aggregation use e.g. "
                "build_weighting('upgrad', ..., level='features')."
            )
        else:
            hint = f"use level in {cls.levels}."
        raise ValueError(f"{key} does not support level={level!r} with {model_label(model)}: {hint}")
    allowed = accepted_options(key)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(
            f"{key}: unknown option(s) {unknown}. Accepted options: {list(allowed) if allowed else 'none'}."
        )
    return cls(tasks, model=model, level=level, **options)


def build_aggregator(name: str, **options: Any) -> nn.Module:
    """The TorchJD aggregator behind a gradient method, without a model: e.g. to aggregate a toy Jacobian.

    Args:
        name: a gradient method's registry name (``"upgrad"``, ``"mgda"``, ``"pcgrad"``, ...).
        **options: the aggregator's options (see the method's ``make_aggregator``).

    Raises:
        ValueError: unknown name, or a loss-based method (it has no aggregator: it weights the losses).
    """
    cls = weighting_class(name)
    if cls.kind != "gradient":
        gradient = [n for n, info in WEIGHTING_INFO.items() if info.kind == "gradient"]
        raise ValueError(f"{name!r} is a loss weighting, not a gradient aggregator; choose from {gradient}.")
    return cls.make_aggregator(**options)  # type: ignore[attr-defined]
