"""The common interface of every architecture family: :class:`MultiTaskNet`.

A :class:`MultiTaskNet` is an ``nn.Module`` whose ``forward(x)`` returns ``{task name: raw
output}`` for the tasks it was built with, and nothing else: disabled tasks have no head and no
parameters. Every family describes its wiring as a list of :class:`Block` objects (one per
sub-module that holds parameters). That list is the single source of truth for

* the parameter partition :meth:`MultiTaskNet.shared_parameters` /
  :meth:`MultiTaskNet.task_parameters` (each parameter belongs to exactly one block, each block to
  "shared" or to one task),
* the diagram of :meth:`MultiTaskNet.describe` (one box per block, one arrow per tensor).

**Shared parameters and shared features, for gradient methods.** A parameter is *shared* when
the family routes its output into more than one task's features: the encoder (and the dense
decoder trunk) of parallel and hybrid networks, and in interacted networks every column stage
up to the last feature exchange together with the exchange units (after a cross-stitch, each
column's early layers influence every task's loss). :meth:`MultiTaskNet.forward_with_features`
returns the *shared features*: the tensors the task-specific parts consume from the shared part,
each exposed as its own graph node so that together they form a cut of the graph between shared
and task-specific parameters. That is what TorchJD's ``mtl_backward(losses, features=...)`` and
representation-level methods (e.g. GradNorm on the last shared layer) need.

**Hand-overs are not sharing.** In cascaded and hybrid networks a *result* of a source task (a
soft mask) is passed into another task's branch. The source branch is owned by the source task
(:meth:`MultiTaskNet.task_parameters`), but in ``cascade_mode="end_to_end"`` the downstream losses
also reach it; :meth:`MultiTaskNet.dependent_parameters` lists every non-shared parameter a task's
output depends on (pass these as TorchJD's ``tasks_params`` to let downstream losses train the
source branch, or ``task_parameters`` to keep it trained by its own loss only). With TorchJD's
default ``tasks_params`` (discovered from the graph) a differentiable hand-over path belongs to two
tasks' graphs, so call ``mtl_backward(..., retain_graph=True)`` for hybrid networks in end-to-end
mode (:attr:`MultiTaskNet.differentiable_handover` tells). A cascaded network
has **no shared parameters** (``shared_parameters()`` is empty, the shared features are an empty
tuple): Jacobian-based gradient methods have nothing to aggregate, so they must fall back to a
(weighted) sum of losses, or the caller may treat the source network as the shared part.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import torch
from torch import nn

from mtdl_kit.models.backbone import TOTAL_STRIDE
from mtdl_kit.regions.base import TaskSpec

if TYPE_CHECKING:
    from mtdl_kit.models.describe import ModelDescription

#: Smallest spatial size the encoder accepts (2 pixels at its deepest stage).
MIN_INPUT_SIZE = 2 * TOTAL_STRIDE


@dataclass(frozen=True)
class Link:
    """A tensor flowing into a block.

    Attributes:
        source: name of the producing block, or ``"input"`` for the image.
        kind: ``"feature"`` (main path), ``"skip"`` (U-Net skip), ``"exchange"`` (interacted
            feature exchange) or ``"handover"`` (a task's result fed to another task).
        detached: the tensor is ``.detach()``-ed (two-stage cascades): no gradient flows back.
        label: short text for the diagram.
    """

    source: str
    kind: str = "feature"
    detached: bool = False
    label: str = ""


@dataclass(frozen=True)
class Block:
    """One parameter-holding sub-module of a :class:`MultiTaskNet` (a box in the diagram).

    Attributes:
        name: qualified module name (``model.get_submodule(name)``).
        label: display text.
        owner: ``"shared"`` or the name of the task whose parameters these are.
        lane: the task column this block conceptually belongs to (``None`` for the shared trunk);
            differs from ``owner`` for interacted column stages, which are task columns whose
            parameters are shared in the gradient sense.
        pos: (x, y) position in the diagram (x = depth, y = lane).
        inputs: incoming tensors.
        emits: the task whose output this block produces, if any.
    """

    name: str
    label: str
    owner: str
    lane: str | None
    pos: tuple[float, float]
    inputs: tuple[Link, ...] = ()
    emits: str | None = None


_RESERVED = nn.ModuleDict()


def module_key(name: str) -> str:
    """Key of task ``name`` in an ``nn.ModuleDict`` (``"<name>_task"`` if it clashes with a Module attribute).

    Task names such as ``"type"`` or ``"keys"`` would shadow ``nn.Module`` methods.
    """
    return f"{name}_task" if hasattr(_RESERVED, name) else name


def expose(t: torch.Tensor) -> torch.Tensor:
    """A new graph node equal to ``t``: the hand-off point of a shared feature to a task branch.

    Gradients of a loss with respect to the returned tensor then cover only the paths through
    the consumers of this node, which makes a set of exposed tensors a proper cut for TorchJD.
    """
    return t.view_as(t)


class MultiTaskNet(nn.Module):
    """Base class of the four families and the single-task baseline.

    Subclasses set :attr:`family`, build their modules and ``self._blocks`` in ``__init__`` and
    implement :meth:`_run`.

    Args:
        tasks: the enabled tasks (only these get heads).
        in_channels: image channels.
        spatial_dims: 2 or 3.
        width: the backbone width it was asked for (``width * (1, 2, 4, 8)`` channels).
        region: optional region name, used in error messages.

    Attributes:
        tasks: the enabled tasks, in order.
        total_stride: input sizes must be divisible by this.
        options: the family-specific build options (for :meth:`describe` and reproducibility).
    """

    family: ClassVar[str] = ""
    #: one-line definition of the family (shown by :meth:`describe`).
    summary: ClassVar[str] = ""

    def __init__(
        self, tasks: Sequence[TaskSpec], in_channels: int, *, spatial_dims: int, width: int, region: str | None
    ) -> None:
        super().__init__()
        self.tasks: tuple[TaskSpec, ...] = tuple(tasks)
        self.in_channels = int(in_channels)
        self.spatial_dims = int(spatial_dims)
        self.width = int(width)
        self.region = region
        self.total_stride = TOTAL_STRIDE
        self.options: dict[str, object] = {}
        self._blocks: list[Block] = []
        self._regularisers: dict[str, torch.Tensor] = {}

    # ----------------------------------------------------------------------------------- forward
    @property
    def task_names(self) -> tuple[str, ...]:
        """Names of the enabled tasks, in order."""
        return tuple(t.name for t in self.tasks)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Raw outputs of every enabled task.

        Args:
            x: images (B, in_channels, *spatial), float, spatial sizes divisible by 16.

        Returns:
            ``{task: tensor}``: segmentation / landmarks (B, K, *spatial) logits, reconstruction
            (B, C, *spatial), classification (B, K) logits, regression (B, n).
        """
        self.check_input(x)
        outputs, _ = self._run(x)
        return outputs

    def forward_with_features(self, x: torch.Tensor) -> tuple[dict[str, torch.Tensor], tuple[torch.Tensor, ...]]:
        """Outputs plus the shared features (the tensors task branches consume from the shared part).

        Use these as ``features`` of ``torchjd.autojac.mtl_backward``. Empty for cascaded networks,
        which share nothing (see the module docstring).
        """
        self.check_input(x)
        return self._run(x)

    def _run(self, x: torch.Tensor) -> tuple[dict[str, torch.Tensor], tuple[torch.Tensor, ...]]:
        raise NotImplementedError

    def take_regularisers(self) -> dict[str, torch.Tensor]:
        """``{task: term}`` that the last training forward pass asked to add to a task's loss; cleared on reading.

        Empty for every network except an adversary under the confusion objective
        (:class:`~mtdl_kit.models.parallel.ParallelNet`), whose trunk term is not a function of the
        task's output alone. :func:`~mtdl_kit.train.fit` adds each term to its task's loss.
        """
        terms, self._regularisers = self._regularisers, {}
        return terms

    def check_input(self, x: torch.Tensor) -> None:
        """Validate an input batch; raise ``ValueError`` saying what to change.

        Raises:
            ValueError: wrong type, number of dimensions, channel count, dtype or spatial size.
        """
        if not isinstance(x, torch.Tensor):
            raise ValueError(f"Expected a torch.Tensor batch, got {type(x).__name__}; use torch.as_tensor(x).")
        expected_ndim = self.spatial_dims + 2
        axes = "(B, C, H, W)" if self.spatial_dims == 2 else "(B, C, D, H, W)"
        if x.ndim != expected_ndim:
            hint = " Add the batch dimension with x[None]." if x.ndim == expected_ndim - 1 else ""
            raise ValueError(
                f"Expected a {expected_ndim}-D batch {axes} for spatial_dims={self.spatial_dims}, "
                f"got shape {tuple(x.shape)}.{hint}"
            )
        if x.shape[1] != self.in_channels:
            region = f"; the {self.region!r} region has {self.in_channels}" if self.region else ""
            raise ValueError(
                f"This {self.family} model expects {self.in_channels} input channel(s){region}, got {x.shape[1]} "
                f"(input shape {tuple(x.shape)}). Build the model with in_channels=region.in_channels of the region "
                "the images come from (build_for_region does this), or convert the images "
                "(RGB -> grey: x.mean(1, keepdim=True); grey -> RGB: x.repeat(1, 3, 1, 1))."
            )
        if not x.is_floating_point():
            raise ValueError(
                f"Expected a floating-point image batch, got {x.dtype}; use x.float() (and / 255 for uint8)."
            )
        size = tuple(int(s) for s in x.shape[2:])
        bad = [s for s in size if s % self.total_stride or s < MIN_INPUT_SIZE]
        if bad:
            k = self.total_stride
            near = sorted(
                {max(MIN_INPUT_SIZE, (s // k) * k) for s in size} | {max(MIN_INPUT_SIZE, -(-s // k) * k) for s in size}
            )
            raise ValueError(
                f"Input spatial size {size} does not work: every side must be a multiple of {k} (the encoder's "
                f"total stride: four stride-2 stages) and at least {MIN_INPUT_SIZE}. Sizes that work: 32, 48, 64, "
                f"96, 128, 256, ... (nearest to yours: {near}). Resize, sample the region with such a size, or pad "
                f"with monai.transforms.DivisiblePad(k={k})."
            )

    @property
    def differentiable_handover(self) -> bool:
        """True if a task's result is fed to another task's branch with gradients flowing back.

        Cascaded and hybrid networks in ``cascade_mode="end_to_end"``; then the hand-over path is
        part of two tasks' graphs (TorchJD's ``mtl_backward`` needs ``retain_graph=True``).
        """
        return any(link.kind == "handover" and not link.detached for b in self._blocks for link in b.inputs)

    # -------------------------------------------------------------------------------- parameters
    @property
    def blocks(self) -> tuple[Block, ...]:
        """The blocks of the wiring (one per parameter-holding sub-module)."""
        return tuple(self._blocks)

    def _block_parameters(self, block: Block) -> Iterator[nn.Parameter]:
        return self.get_submodule(block.name).parameters()

    def _check_task_name(self, name: str) -> None:
        if name not in self.task_names:
            raise ValueError(
                f"Task {name!r} is not enabled in this {self.family} model; its tasks are {self.task_names}. "
                "Disabled tasks have no parameters: rebuild with that task to train it."
            )

    def shared_parameters(self) -> Iterator[nn.Parameter]:
        """Parameters whose outputs feed several tasks' features (empty for cascaded networks)."""
        for block in self._blocks:
            if block.owner == "shared":
                yield from self._block_parameters(block)

    def task_parameters(self, name: str) -> Iterator[nn.Parameter]:
        """Parameters owned by task ``name`` (its head, branch or network).

        Raises:
            ValueError: if ``name`` is not an enabled task.
        """
        self._check_task_name(name)
        for block in self._blocks:
            if block.owner == name:
                yield from self._block_parameters(block)

    def dependent_parameters(self, name: str) -> Iterator[nn.Parameter]:
        """Every non-shared parameter the output of task ``name`` depends on through autograd.

        Equal to :meth:`task_parameters` except where a hand-over is differentiable (cascaded and
        hybrid networks in ``cascade_mode="end_to_end"``): then the source task's branch is included.
        """
        self._check_task_name(name)
        by_name = {b.name: b for b in self._blocks}
        seen: set[str] = set()
        stack = [b.name for b in self._blocks if b.emits == name]
        while stack:
            current = by_name[stack.pop()]
            if current.name in seen or current.owner == "shared":
                continue
            seen.add(current.name)
            stack.extend(link.source for link in current.inputs if link.source in by_name and not link.detached)
        for block in self._blocks:
            if block.name in seen:
                yield from self._block_parameters(block)

    def parameter_count(self) -> dict[str, int]:
        """Number of parameters: ``total``, ``shared`` and one entry per task (owned parameters)."""
        counts = {"total": sum(p.numel() for p in self.parameters())}
        counts["shared"] = sum(p.numel() for p in self.shared_parameters())
        for name in self.task_names:
            counts[name] = sum(p.numel() for p in self.task_parameters(name))
        return counts

    def set_regression_scaling(self, stats: Mapping[str, tuple[Sequence[float], Sequence[float]]]) -> None:
        """Set the centre and spread each regression head predicts around (:class:`~mtdl_kit.models.heads.GlobalHead`).

        Args:
            stats: regression task -> (centre, spread), one value per output, e.g. from
                :meth:`mtdl_kit.regions.Region.regression_stats` or the training labels.

        Raises:
            ValueError: for a task that is not one of this model's regression tasks.
        """
        kinds = {t.name: t.kind for t in self.tasks}
        for name, (centre, spread) in stats.items():
            if kinds.get(name) != "regression":
                regression = [n for n, k in kinds.items() if k == "regression"]
                raise ValueError(
                    f"{name!r} is not a regression task of this model; its regression tasks are {regression}."
                )
            self.heads[module_key(name)].set_output_scaling(centre, spread)

    # ---------------------------------------------------------------------------------- describe
    def describe(self) -> ModelDescription:
        """Text summary and diagram data of the wiring (``.figure()`` draws it with plotly)."""
        from mtdl_kit.models.describe import model_description

        return model_description(self)
