"""The common interface of every weighting method: :class:`Weighting` and :class:`WeightingInfo`.

A multi-task step produces one loss per task. A *weighting* turns those losses into parameter
gradients. Two families exist (Zhao et al., Comput. Biol. Med. 153:106496, 2023, Sec. 5; Vandenhende
et al., "Multi-task learning for dense prediction tasks: a survey", IEEE TPAMI 2021):

* **loss weighting** — one backward pass of ``sum_i w_i * L_i``; the methods differ in how they
  choose the weights ``w_i`` (fixed, learned, from loss history, at random, or from gradient norms);
* **gradient aggregation** — the per-task gradients of the shared part form a Jacobian ``J`` (one
  row per task); an *aggregator* maps it to one update vector (e.g. one that conflicts with no task).

Every method declares what it *needs* — ``"losses"``, ``"shared_parameters"`` (gradients on the
parameters used by several tasks) or ``"shared_features"`` (gradients on the shared representation,
"rep-grad") — and :func:`~mtdl_kit.weighting.build_weighting` refuses incompatible choices when the
method is built, not in the middle of training.

The model protocol relied on (implemented by :class:`mtdl_kit.models.base.MultiTaskNet`):
``model.shared_parameters()`` (the parameters several tasks depend on; empty for a cascaded network),
``model.task_parameters(name)`` and, for representation-level methods, shared features returned by
``model.forward_with_features(x)``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

import torch
from torch import Tensor, nn

#: What a method needs from a training step.
Needs = Literal["losses", "shared_parameters", "shared_features"]
#: Where gradient methods take their per-task gradients.
Level = Literal["parameters", "features"]
LEVELS: tuple[str, ...] = ("parameters", "features")


@dataclass(frozen=True)
class WeightingInfo:
    """One row of :data:`~mtdl_kit.weighting.WEIGHTING_INFO` (what notebooks and the dashboard show).

    Attributes:
        name: registry name (``"ew"``, ``"upgrad"``, ...).
        title: display name (``"Equal weighting"``).
        kind: ``"loss"`` (a weighted sum of losses, one backward) or ``"gradient"`` (aggregation of
            per-task gradients).
        needs: what the method needs at its default level.
        levels: accepted values of ``level`` (the first is the default).
        citation: the paper the method comes from.
        description: one line on what it does.
    """

    name: str
    title: str
    kind: Literal["loss", "gradient"]
    needs: str
    levels: tuple[str, ...]
    citation: str
    description: str

    @classmethod
    def loss_method(
        cls, name: str, title: str, citation: str, description: str, *, needs: str = "losses"
    ) -> WeightingInfo:
        """The row of a loss weighting: one weighted-sum backward at the parameter level."""
        return cls(name, title, "loss", needs, ("parameters",), citation, description)

    @classmethod
    def gradient_method(cls, name: str, title: str, citation: str, description: str) -> WeightingInfo:
        """The row of a gradient aggregation on the shared parameters (default) or shared features."""
        return cls(name, title, "gradient", "shared_parameters", ("parameters", "features"), citation, description)


def model_label(model: nn.Module | None) -> str:
    """Short name of a model for error messages (``"parallel MultiTaskNet"``, ``"MyNet"``)."""
    if model is None:
        return "no model (model=None)"
    family = getattr(model, "family", "")
    return f"the {family} model ({type(model).__name__})" if family else f"the model {type(model).__name__}"


def shared_parameters_of(model: nn.Module, *, trainable_only: bool = True) -> list[nn.Parameter]:
    """Shared parameters of ``model`` (``model.shared_parameters()``, deduplicated, in order; trainable ones only)."""
    seen: set[int] = set()
    out: list[nn.Parameter] = []
    for p in model.shared_parameters():  # type: ignore[operator]
        if (p.requires_grad or not trainable_only) and id(p) not in seen:
            seen.add(id(p))
            out.append(p)
    return out


def _walk(roots: Sequence[Tensor], stop_at: Sequence[Tensor]) -> Iterator[object]:
    """Autograd nodes reachable from ``roots``, not going below the ``grad_fn`` of ``stop_at``."""
    stops = {t.grad_fn for t in stop_at if t.grad_fn is not None}
    todo = [t.grad_fn for t in roots if t.grad_fn is not None and t.grad_fn not in stops]
    seen: set[object] = set(todo)
    while todo:
        node = todo.pop()
        yield node
        for child, _ in node.next_functions:
            if child is not None and child not in seen and child not in stops:
                seen.add(child)
                todo.append(child)


def reached_leaves(roots: Sequence[Tensor], stop_at: Sequence[Tensor] = ()) -> set[Tensor]:
    """Leaf tensors (parameters) reachable in the autograd graph from ``roots``.

    The traversal does not go below the ``grad_fn`` of the tensors in ``stop_at`` (e.g. the shared
    features): what it returns then is what the roots depend on *without* passing through them.
    """
    leaves: set[Tensor] = set()
    for node in _walk(roots, stop_at):
        variable = getattr(node, "variable", None)
        if variable is not None:
            leaves.add(variable)
    return leaves


def branches_overlap(losses: Sequence[Tensor], stop_at: Sequence[Tensor] = ()) -> bool:
    """Whether two losses share an autograd node above ``stop_at`` (e.g. a hand-over between branches).

    Disjoint branches can each be differentiated with ``retain_graph=False`` (their saved tensors are
    freed at once); overlapping ones must retain the graph until the last task.
    """
    seen: set[object] = set()
    for loss in losses:
        nodes = set(_walk([loss], stop_at))
        if nodes & seen:
            return True
        seen |= nodes
    return False


class Weighting(nn.Module, ABC):
    """Base class of every method: turns the per-task losses of one step into ``.grad`` fields.

    A :class:`Weighting` is an ``nn.Module`` so that learnable weights (uncertainty weighting)
    appear in :meth:`parameters` and that state (GradNorm weights, DWA history) is saved with
    :meth:`state_dict`. The model it serves is kept as a plain reference, *not* as a sub-module:
    ``weighting.parameters()`` never returns the model's parameters.

    Args:
        task_names: the tasks, in the order weights are reported.
        model: the multi-task network (may be ``None`` for methods that only need losses).
        level: ``"parameters"`` or ``"features"`` (see :data:`Level`).

    Attributes:
        name: registry name, set by :func:`~mtdl_kit.weighting.registry.register`.
        kind: ``"loss"`` or ``"gradient"``.
        levels: accepted levels; the first is the natural one.
        last_weights: the weights returned by the latest :meth:`backward` (``{}`` before the first).
    """

    name: ClassVar[str] = ""
    kind: ClassVar[str] = "loss"
    levels: ClassVar[tuple[str, ...]] = ("parameters",)
    min_tasks: ClassVar[int] = 2
    #: whether :meth:`state_dict` holds all the method's state, so that a training snapshot can continue it
    #: (:func:`mtdl_kit.train.fit` with ``snapshot=``); a method whose state lives elsewhere sets it to False.
    resumable: ClassVar[bool] = True

    def __init__(self, task_names: Sequence[str], *, model: nn.Module | None, level: str = "parameters") -> None:
        super().__init__()
        self.task_names: tuple[str, ...] = tuple(task_names)
        self.level = level
        object.__setattr__(self, "_model", model)  # plain reference: not a registered sub-module
        self.last_weights: dict[str, float] = {}
        self._partition: tuple[list[nn.Parameter], list[nn.Parameter]] | None = None
        self._all_parameters: list[nn.Parameter] | None = None

    # ------------------------------------------------------------------------------- properties
    @property
    def model(self) -> nn.Module | None:
        """The network this weighting trains (not a sub-module of the weighting)."""
        return self._model  # type: ignore[no-any-return]

    @property
    def num_tasks(self) -> int:
        """Number of tasks ``T``."""
        return len(self.task_names)

    @property
    def needs(self) -> str:
        """``"losses"``, ``"shared_parameters"`` or ``"shared_features"``."""
        return "losses"

    # ----------------------------------------------------------------------------------- the step
    @abstractmethod
    def backward(self, losses: Mapping[str, Tensor], *, features: Sequence[Tensor] | None = None) -> dict[str, float]:
        """Do the whole backward pass of one step and return the effective task weights.

        Fills the ``.grad`` field of every trainable parameter that should receive one (accumulating,
        like ``loss.backward()``: zero the gradients before). The autograd graph is freed.

        Args:
            losses: ``{task: scalar loss}`` for every task of :attr:`task_names`.
            features: the shared-representation tensors the task branches consumed in the same
                forward pass (``model.forward_with_features(x)[1]``), or ``None``.

        Returns:
            ``{task: weight}`` for logging (NaN where a gradient method's weights are not obtainable).

        Raises:
            FloatingPointError: a loss (or a task's gradient) is NaN or infinite; names the task. A
                finite loss whose gradient is not (``sqrt`` at 0) raises too, after the backward pass
                (:meth:`check_gradients`: the ``.grad`` fields are cleared, the tasks named where the
                model's ``task_parameters`` tell).
            ValueError: a method that needs the shared parameters finds them all frozen
                (:meth:`trainable_shared`).
        """

    def end_epoch(self, mean_losses: Mapping[str, float]) -> None:
        """Called by the trainer after each epoch with the epoch's mean loss per task (no-op by default)."""

    def extra_repr(self) -> str:
        return f"tasks={list(self.task_names)}, level={self.level!r}"

    # ------------------------------------------------------------------------------------ helpers
    def ordered_losses(self, losses: Mapping[str, Tensor]) -> list[Tensor]:
        """The losses in :attr:`task_names` order, checked (every task present, scalar, finite).

        Raises:
            KeyError: a task's loss is missing.
            ValueError: a loss is not a scalar tensor, or an unknown task was passed.
            FloatingPointError: a loss is NaN or infinite (one device sync for all tasks).
        """
        missing = [t for t in self.task_names if t not in losses]
        if missing:
            raise KeyError(
                f"{self.name}: no loss for task(s) {missing}; expected one per task of {list(self.task_names)}."
            )
        extra = [t for t in losses if t not in self.task_names]
        if extra:
            raise ValueError(
                f"{self.name}: losses for unknown task(s) {extra}; this weighting is for {list(self.task_names)}."
            )
        ordered = [losses[t] for t in self.task_names]
        for name, loss in zip(self.task_names, ordered, strict=True):
            if not isinstance(loss, Tensor) or loss.numel() != 1:
                shape = tuple(loss.shape) if isinstance(loss, Tensor) else type(loss).__name__
                raise ValueError(f"{self.name}: the loss of task {name!r} must be a scalar tensor, got {shape}.")
        check_finite(self.task_names, ordered, what="loss")
        return [loss.reshape(()) for loss in ordered]

    def require_graph(self, ordered: Sequence[Tensor]) -> None:
        """Raise ``ValueError`` if a loss is not connected to the autograd graph (per-task gradients need it)."""
        detached = [t for t, loss in zip(self.task_names, ordered, strict=True) if not loss.requires_grad]
        if detached:
            raise ValueError(
                f"{self.name} needs the gradient of every task's loss, but the loss of {detached} does not require "
                "grad (a constant?). For a batch without labels for a task return output.sum() * 0.0, which stays "
                "connected (mtdl_kit.losses.TaskLoss does), or leave gradient methods for loss-based ones."
            )

    def report(self, weights: Tensor | Sequence[float] | None) -> dict[str, float]:
        """``{task: float weight}`` (NaN for every task when ``weights`` is ``None``); kept in :attr:`last_weights`."""
        if weights is None:
            values = [math.nan] * self.num_tasks
        elif isinstance(weights, Tensor):
            values = [float(v) for v in weights.detach().float().cpu().tolist()]
        else:
            values = [float(v) for v in weights]
        self.last_weights = dict(zip(self.task_names, values, strict=True))
        return dict(self.last_weights)

    def parameter_partition(self) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
        """``(shared, others)``: the model's trainable shared parameters and all its other trainable parameters.

        The split is computed once (``model.shared_parameters()`` walks the module tree, which costs
        milliseconds per step on a U-Net); ``requires_grad`` is re-read at every call, so freezing a
        layer during training is honoured. Call :meth:`refresh_partition` after adding parameters.
        """
        if self._partition is None:
            assert self.model is not None
            shared = shared_parameters_of(self.model, trainable_only=False)
            ids = {id(p) for p in shared}
            others = [p for p in iter_trainable(self.model, trainable_only=False) if id(p) not in ids]
            self._partition = (shared, others)
        shared, others = self._partition
        return [p for p in shared if p.requires_grad], [p for p in others if p.requires_grad]

    def refresh_partition(self) -> None:
        """Forget the cached parameter split (after the model gained or lost parameters)."""
        self._partition = None
        self._all_parameters = None

    def trainable_shared(self) -> list[nn.Parameter]:
        """The shared parameters that are trainable *now*, re-read at every step.

        Raises:
            ValueError: none is left (the shared part was frozen after the method was built): a method
                that aggregates or compares per-task gradients on the shared part has nothing to work on,
                and silently training the heads alone would not be the method that was asked for.
        """
        shared, _ = self.parameter_partition()
        if not shared:
            raise ValueError(
                f"{self.name} works on the gradients of the shared parameters, but every shared parameter of "
                f"{model_label(self.model)} is frozen now (requires_grad=False; it was trainable when the method "
                "was built). Unfreeze at least part of the shared trunk (e.g. its last block), or, to train only "
                "the task heads, use a loss-based method ('ew', 'fixed', 'uw', 'dwa', 'rlw')."
            )
        return shared

    def touched_parameters(self, losses: Sequence[Tensor] = ()) -> list[Tensor]:
        """The parameters a backward pass of this method may write ``.grad`` into (for :meth:`check_gradients`).

        The model's parameters (listed once, ``requires_grad`` re-read through ``.grad``) and the
        method's own (UW's log-variances); without a model, the leaves ``losses`` reach.
        """
        own = list(self.parameters())
        if self.model is None:
            return [*reached_leaves(losses), *own]
        if self._all_parameters is None:
            self._all_parameters = list(iter_trainable(self.model, trainable_only=False))
        return [*self._all_parameters, *own]

    def check_gradients(self, params: Sequence[Tensor]) -> None:
        """Raise :class:`FloatingPointError` if a ``.grad`` of ``params`` holds NaN or inf (the losses were finite).

        A finite loss can still have a non-finite gradient (``sqrt`` or ``log`` at 0, a division by a
        zero norm). The test is exact and fused: ``0 * g`` is 0 where ``g`` is finite and NaN where it is
        NaN or ±inf, so the norm of ``0 * g`` is finite exactly when ``g`` is; the multi-tensor
        ``_foreach`` kernels (as in ``torch.nn.utils.clip_grad_norm_``) take a handful of launches for
        all tensors instead of two per tensor, and one device synchronisation reads the result. On
        failure the ``.grad`` fields of ``params`` are cleared (set to ``None``), so that an optimizer
        step taken anyway changes nothing; the message names the tasks whose parameters hold the
        non-finite values where the model says (``task_parameters``), else the parameters.
        """
        with_grad = [p for p in params if p.grad is not None]
        if not with_grad:
            return
        grads = [p.grad for p in with_grad]
        flags = torch.stack(torch._foreach_norm(torch._foreach_mul(grads, 0.0))).isfinite()  # type: ignore[arg-type]
        if bool(flags.all()):
            return
        bad = [p for p, ok in zip(with_grad, flags.tolist(), strict=True) if not ok]
        for p in params:
            p.grad = None
        raise FloatingPointError(
            f"{self.name}: non-finite gradient (NaN or inf) although every loss is finite, in {self._where(bad)}. "
            "The .grad fields of this step were cleared. Look for operations with an infinite derivative in the "
            "losses or the model (sqrt or log at 0, a division by a zero norm); lower the learning rate or clip "
            "gradients; under fp16 autocast with a GradScaler treat it as an overflow step (skip it)."
        )

    def _where(self, bad: Sequence[Tensor]) -> str:
        """Which tasks (or shared parts, or parameters) the non-finite gradients ``bad`` belong to."""
        ids = {id(p) for p in bad}
        places: list[str] = []
        model = self.model
        if model is not None and hasattr(model, "task_parameters"):
            tasks = [t for t in self.task_names if any(id(q) in ids for q in model.task_parameters(t))]
            if tasks:
                places.append(f"the parameters of task(s) {tasks}")
        shared = model.shared_parameters() if model is not None and hasattr(model, "shared_parameters") else ()
        if any(id(q) in ids for q in shared):
            places.append("the shared parameters (their gradient mixes the tasks' losses)")
        if any(id(q) in ids for q in self.parameters()):
            places.append(f"the parameters of the weighting method {self.name}")
        names = {id(q): n for n, q in (model.named_parameters() if model is not None else ())}
        shown = [names.get(id(p), f"a tensor of shape {tuple(p.shape)}") for p in bad[:3]]
        more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
        return f"{' and '.join(places) or 'the parameters'} ({', '.join(shown)}{more})"

    def parameter_device(self) -> torch.device:
        """Device of the model's first parameter (CPU without a model or parameters)."""
        if self.model is not None:
            for p in self.model.parameters():
                return p.device
        return torch.device("cpu")


def check_finite(task_names: Sequence[str], values: Sequence[Tensor], *, what: str) -> None:
    """Raise :class:`FloatingPointError` naming the task(s) whose ``values`` are not all finite.

    One device synchronisation for all tasks (a stacked ``isfinite``); a value may be a scalar loss
    or a tensor (one row of a Jacobian).
    """
    flags = torch.stack([torch.isfinite(v.detach()).all() for v in values])
    raise_if_non_finite(task_names, flags, what=what, values=values)


def raise_if_non_finite(
    task_names: Sequence[str], flags: Tensor, *, what: str, values: Sequence[Tensor] | None = None
) -> None:
    """Raise :class:`FloatingPointError` naming the tasks whose flag (``(T,)`` bool, True = finite) is False."""
    if bool(flags.all()):
        return
    ok = flags.tolist()
    bad = [name for name, good in zip(task_names, ok, strict=True) if not good]
    detail = ""
    if values is not None:
        shown = {
            name: float(v.detach().float().reshape(-1)[0])
            for name, v, good in zip(task_names, values, ok, strict=True)
            if not good and v.numel() == 1
        }
        detail = f" ({shown})" if shown else ""
    raise FloatingPointError(
        f"Non-finite {what} for task(s) {bad}{detail}. Nothing was aggregated. Lower the learning rate, check the "
        "targets of these tasks, or clip gradients; under fp16 autocast with a GradScaler treat it as an overflow "
        "step (skip it)."
    )


def iter_trainable(model: nn.Module, *, trainable_only: bool = True) -> Iterator[nn.Parameter]:
    """The model's parameters (with ``requires_grad`` unless ``trainable_only=False``), deduplicated."""
    seen: set[int] = set()
    for p in model.parameters():
        if (p.requires_grad or not trainable_only) and id(p) not in seen:
            seen.add(id(p))
            yield p
