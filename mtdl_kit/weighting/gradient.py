"""Gradient aggregation through TorchJD: UPGrad, MGDA, PCGrad, CAGrad, IMTL-G, Aligned-MTL, Nash-MTL.

This module holds what the methods share (:class:`GradientWeighting`: the Jacobian at two levels, the
scale handling, the checks); :mod:`mtdl_kit.weighting.aggregators` holds the seven methods.

Each step builds the Jacobian ``J`` of the task losses (one row per task, ``T x D``) and an
*aggregator* maps it to one update vector ``J^T w``; the methods differ in how they choose ``w``
from the Gramian ``J J^T`` (or from ``J``). The reported task weights are that ``w``.

Two levels (``level=`` of :func:`~mtdl_kit.weighting.build_weighting`):

* ``"parameters"`` — ``J`` is the Jacobian on the shared parameters. With ``features`` it is
  computed by ``torchjd.autojac.mtl_backward`` (task branches once, then a vectorised pass over the
  shared trunk for all ``T`` rows; or, with ``jacobian="per_task"``, ``T`` backward passes that each
  traverse only the part of the trunk its task reaches), then
  ``torchjd.autojac.jac_to_grad(shared, aggregator)``; without features by
  ``torchjd.autojac.backward`` over the whole graph. Cost: about ``T`` backward passes through the
  shared trunk. Task-specific parameters receive the plain gradient of their own loss (the sum over
  tasks for parameters several tasks use but that are not shared, e.g. a segmentation branch
  handing its mask to a classifier).
* ``"features"`` ("rep-grad") — ``J`` is the Jacobian on the shared *features* (gradients of each
  loss on the tensors the branches consume from the trunk). Its Gramian ``J J^T`` is accumulated
  block by block (a task that does not reach a feature tensor costs nothing there), the aggregator
  turns it into weights ``w``, and ``sum_i w_i dL_i/dF`` is backpropagated through the trunk
  **once**: about the cost of one ordinary backward. It weights a different quantity (activation
  gradients of the batch, not parameter gradients), so the weights differ from the
  parameter-level ones; the update is non-conflicting *for the features* (UPGrad, MGDA), not
  necessarily for every trunk parameter. Unlike LibMTL's ``rep_grad``, the trunk *is* trained.

Aggregation runs in float32 with autocast disabled; a non-finite loss or Jacobian row raises
:class:`FloatingPointError` naming the task before anything is aggregated.

**Scale.** The weights of UPGrad, CAGrad, MGDA, PCGrad, IMTL-G and Aligned-MTL do not depend on the
scale of the Jacobian (see :func:`normalised_gramian`), but TorchJD's UPGrad and CAGrad stop working
on *small* Jacobians: both first normalise the Gramian with ``torchjd._linalg.normalize(G, norm_eps)``
(``norm_eps = 1e-4``), which returns the **zero matrix** when ``trace(J J^T) < norm_eps``. UPGrad's
dual-cone QP then solves ``min v^T (reg_eps I) v`` s.t. ``v >= u`` and returns the preference weights
(the plain mean of the gradients, with no projection), and CAGrad's ``||g_w|| < norm_eps`` branch
returns zero weights (no trunk update). Feature-level Jacobians are often that small (activation
gradients of a mean loss: 17 of 200 steps of an eye run for UPGrad, 11 for CAGrad). So the Gramian
of these methods is divided by ``trace(G) / T`` first — the Gramian of ``J / s`` with
``s = sqrt(trace(G) / T)``, the root-mean-square task-gradient norm — and the weights found for it
are applied to ``J`` itself: the update is ``s`` times the update of ``J / s``, exactly what TorchJD
computes at every scale above ``norm_eps``. Nash-MTL is left as it is (its weights scale as ``1/s``
and its update is clipped to ``max_norm``: rescaling would change the update).

Reference for the implementation: P. Quinton, V. Rey, "Jacobian descent for multi-objective
optimization", arXiv:2406.16232, 2024 (TorchJD).
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from mtdl_kit.weighting._autograd import (
    accumulate,
    check_cut,
    combine,
    combine_blocks,
    flatten_rows,
    gramian_blocks,
    task_gradients,
)
from mtdl_kit.weighting.base import (
    Weighting,
    branches_overlap,
    model_label,
    raise_if_non_finite,
    reached_leaves,
    shared_parameters_of,
)


def normalised_gramian(gramian: Tensor) -> Tensor:
    """``G / (trace(G) / T)``: the Gramian of ``J / s`` with ``s = sqrt(trace(J J^T) / T)`` (a zero ``G`` as is).

    The weights of the scale-invariant methods do not change (each is homogeneous of degree 0 in
    ``G``): UPGrad (the dual-cone QP ``min v^T G v, v >= u`` has the same minimiser for ``c G``;
    Quinton & Rey 2024, Prop. 1; TorchJD itself divides by the trace before adding ``reg_eps I``),
    CAGrad (ball radius ``c ||g_0||`` and worst-task improvement both scale with ``s``; Liu et al.
    2021, Eq. 3; TorchJD's solve is on ``G / trace(G)`` too), MGDA (Frank-Wolfe's step
    ``(b - a) / (b + c - 2a)`` and its comparisons are ratios of entries of ``G``), PCGrad (signs of
    ``g_i . g_j`` and ratios ``g_i . g_j / ||g_j||^2``), IMTL-G (``pinv(G) sqrt(diag G)`` normalised to
    sum 1) and Aligned-MTL (``sqrt(lambda_min) V Sigma^-1/2 V^T``). Only the *thresholds* TorchJD
    applies to ``G`` itself see a difference: ``norm_eps`` (UPGrad, CAGrad), now met whenever
    ``G != 0``, and IMTL-G's ``|sum(v)| < 1e-12``, now relative.
    """
    scale = gramian.diagonal().sum() / gramian.shape[0]
    # torch.where rather than an if: no device synchronisation (as TorchJD's own normalize)
    return torch.where(scale > 0, gramian / torch.where(scale > 0, scale, torch.ones_like(scale)), gramian)


_NORMALISING_CLASS: type | None = None


def trace_normalised(weighting: nn.Module) -> nn.Module:
    """A TorchJD Gramian ``Weighting`` that applies ``weighting`` to :func:`normalised_gramian` of its input."""
    global _NORMALISING_CLASS
    if _NORMALISING_CLASS is None:  # defined on first use: torchjd is imported lazily
        from torchjd.aggregation import Weighting as JDWeighting

        class TraceNormalisedWeighting(JDWeighting):
            """``inner(G / (trace(G) / T))`` (see :func:`normalised_gramian`)."""

            def __init__(self, inner: nn.Module) -> None:
                super().__init__()
                self.inner = inner

            def forward(self, gramian: Tensor, /) -> Tensor:
                return self.inner(normalised_gramian(gramian))

        _NORMALISING_CLASS = TraceNormalisedWeighting
    return _NORMALISING_CLASS(weighting)


class GradientWeighting(Weighting):
    """Base of the TorchJD-backed gradient methods (subclasses set :attr:`aggregator`).

    Args:
        task_names: the tasks.
        model: the network; must have shared parameters (``model.shared_parameters()``) and, for
            ``level="features"``, a ``forward_with_features`` method.
        level: ``"parameters"`` or ``"features"``.
        parallel_chunk_size: passed to TorchJD at the parameter level: ``1`` (default) differentiates
            the rows one by one, ``None`` all at once with ``torch.vmap``. On CPU both take the same
            time but ``1`` needs about a third less memory (``benchmarks/RESULTS.md``); ``None`` may be
            faster on a GPU.
        batched: feature level: compute the ``T`` feature gradients in one vectorised backward
            (``is_grads_batched=True``) instead of ``T`` sequential ones (sequential is the default
            because each loss then traverses only its own branch).
        jacobian: parameter level with features: ``"torchjd"`` (default: ``torchjd.autojac.mtl_backward``)
            or ``"per_task"`` (``T`` sequential backward passes from the features, each through the part
            of the trunk *that task reaches* — a shared decoder used by the dense tasks only is skipped
            for the others, where TorchJD backpropagates zeros through it; then the same ``jac_to_grad``).

    Raises:
        ValueError: no model, a model without shared parameters (cascaded: use a loss-based method),
            or ``level="features"`` on a model that exposes no features.
    """

    kind = "gradient"
    #: the ``torchjd.aggregation`` class of a method without options (``None``: it builds its own)
    torchjd_class: ClassVar[str | None] = None
    #: messages of warnings the aggregator emits at every step and that say nothing useful here
    _quiet_warnings: ClassVar[tuple[str, ...]] = ()
    #: whether the method's weights are scale-invariant, so that the Gramian is trace-normalised
    #: before TorchJD sees it (:func:`normalised_gramian`; avoids TorchJD's ``norm_eps`` cut-off)
    scale_invariant: ClassVar[bool] = False

    def __init__(
        self,
        task_names: Sequence[str],
        *,
        model: nn.Module | None,
        level: str = "parameters",
        parallel_chunk_size: int | None = 1,
        batched: bool = False,
        jacobian: str = "torchjd",
    ) -> None:
        super().__init__(task_names, model=model, level=level)
        key = type(self).name
        if model is None or not hasattr(model, "shared_parameters"):
            raise ValueError(
                f"{key} aggregates per-task gradients on the shared part of the network, but "
                f"{model_label(model)} has no shared_parameters() method. Pass a MultiTaskNet "
                "(mtdl_kit.models.build_model) or a module implementing shared_parameters() / task_parameters(name)."
            )
        if not shared_parameters_of(model) and shared_parameters_of(model, trainable_only=False):
            raise ValueError(
                f"{key} is a gradient method, but every shared parameter of {model_label(model)} is frozen "
                "(requires_grad=False), so there is no shared Jacobian to aggregate. Unfreeze at least part of the "
                "shared trunk, or train the heads alone with a loss-based method ('ew', 'fixed', 'uw', 'dwa', 'rlw')."
            )
        if not shared_parameters_of(model):
            raise ValueError(
                f"{key} is a gradient method, but {model_label(model)} has no trainable shared parameters (a "
                "cascaded network shares no layer between tasks), so there is no shared Jacobian to aggregate. Use "
                "a loss-based method ('ew', 'fixed', 'uw', 'dwa', 'rlw') or a parallel / interacted / hybrid model."
            )
        if level == "features" and not hasattr(model, "forward_with_features"):
            raise ValueError(
                f"{key} with level='features' needs the shared features, but {model_label(model)} exposes none "
                "(no forward_with_features method). Use level='parameters', or a MultiTaskNet."
            )
        if parallel_chunk_size is not None and int(parallel_chunk_size) < 1:
            raise ValueError(f"{key}: parallel_chunk_size must be None or >= 1, got {parallel_chunk_size!r}.")
        self.parallel_chunk_size = None if parallel_chunk_size is None else int(parallel_chunk_size)
        self.batched = bool(batched)
        if jacobian not in ("torchjd", "per_task"):
            raise ValueError(f"{key}: jacobian must be 'torchjd' or 'per_task', got {jacobian!r}.")
        self.jacobian = jacobian
        # methods without options build their aggregator here; the others in their own __init__
        self.aggregator: nn.Module | None = self.make_aggregator() if type(self).torchjd_class else None
        # (aggregator, the same on trace-normalised Gramians): cached, rebuilt if the aggregator is replaced
        self._normalising: tuple[nn.Module, nn.Module] | None = None
        self._cut_checked = False
        self._overlap: bool | None = None  # do task branches share autograd nodes above the features?

    @classmethod
    def make_aggregator(cls, **options: Any) -> nn.Module:
        """The TorchJD aggregator of this method, built from its options alone (no model needed).

        Methods without options name their ``torchjd.aggregation`` class in :attr:`torchjd_class`;
        the others override this method.
        """
        if cls.torchjd_class is None or options:
            raise NotImplementedError(f"{cls.__name__} must define make_aggregator() for its options.")
        from torchjd import aggregation

        return getattr(aggregation, cls.torchjd_class)()

    @property
    def needs(self) -> str:
        return "shared_features" if self.level == "features" else "shared_parameters"

    def reset(self) -> None:
        """Reset a stateful aggregator (Nash-MTL) between experiments; no-op otherwise."""
        reset = getattr(self.aggregator, "reset", None)
        if callable(reset):
            reset()

    def _preference(self, preference: Mapping[str, float] | None) -> Tensor | None:
        """A ``{task: weight}`` preference as a tensor in task order (``None`` = uniform)."""
        if preference is None:
            return None
        missing = [t for t in self.task_names if t not in preference]
        unknown = [t for t in preference if t not in self.task_names]
        values = [float(preference.get(t, math.nan)) for t in self.task_names]
        if missing or unknown or any(not math.isfinite(v) or v <= 0 for v in values):
            raise ValueError(
                f"{self.name}: preference must give a positive weight to each task of {list(self.task_names)}; got "
                f"{dict(preference)} (missing {missing}, unknown {unknown})."
            )
        return torch.tensor(values, dtype=torch.float32)

    @contextlib.contextmanager
    def _aggregation_context(self, device: torch.device) -> Iterator[None]:
        """float32, autocast off, known-noise warnings silenced."""
        with warnings.catch_warnings(), torch.autocast(device_type=device.type, enabled=False):
            for message in self._quiet_warnings:
                warnings.filterwarnings("ignore", message=message)
            yield

    def _after_aggregation(self, stacklevel: int) -> None:
        """Hook run after each aggregation (Nash-MTL checks its solver's status)."""

    # ------------------------------------------------------------------------------------- step
    def backward(self, losses: Mapping[str, Tensor], *, features: Sequence[Tensor] | None = None) -> dict[str, float]:
        ordered = self.ordered_losses(losses)
        self.require_graph(ordered)
        self.trainable_shared()  # re-read every step: a trunk frozen since the build gives a clear ValueError
        feats = [f for f in (features or ()) if isinstance(f, Tensor) and f.requires_grad]
        if self.level == "features":
            if not feats:
                raise ValueError(
                    f"{self.name} with level='features' needs features=...: call "
                    "outputs, features = model.forward_with_features(x) and pass backward(losses, features=features)."
                )
            weights = self._backward_features(ordered, feats)
        elif feats and self.jacobian == "per_task":
            weights = self._backward_per_task(ordered, feats)
        elif feats:
            weights = self._backward_mtl(ordered, feats)
        else:
            weights = self._backward_parameters(ordered)
        # rows were checked before aggregation; the heads' sums and the trunk's backward can still overflow
        self.check_gradients(self.touched_parameters())
        return weights

    def gramian_aggregator(self) -> nn.Module:
        """The aggregator TorchJD is called with: :attr:`aggregator`, on trace-normalised Gramians if scale-invariant.

        See :func:`normalised_gramian`: same weights as TorchJD's at every scale where TorchJD's
        ``norm_eps`` cut-off does not fire, and those weights below it too.
        """
        from torchjd.aggregation import GramianWeightedAggregator

        assert self.aggregator is not None
        if not self.scale_invariant or not isinstance(self.aggregator, GramianWeightedAggregator):
            return self.aggregator
        if self._normalising is None or self._normalising[0] is not self.aggregator:
            wrapped = GramianWeightedAggregator(trace_normalised(self.aggregator.gramian_weighting))
            self._normalising = (self.aggregator, wrapped)  # a tuple: no sub-module, no duplicate state_dict keys
        return self._normalising[1]

    def _branches_overlap(self, losses: Sequence[Tensor], feats: Sequence[Tensor]) -> bool:
        """Whether task branches share graph nodes above the features (computed once, at the first step)."""
        if self._overlap is None:
            self._overlap = branches_overlap(losses, feats)
        return self._overlap

    def _aggregate_jacs(self, shared: Sequence[nn.Parameter]) -> dict[str, float]:
        """Check the ``.jac`` rows, then ``jac_to_grad`` in float32; returns the reported weights."""
        from torchjd.aggregation import GramianWeightedAggregator
        from torchjd.autojac import jac_to_grad

        assert self.aggregator is not None
        with_jac = [p for p in shared if hasattr(p, "jac")]
        # a row sum is finite iff the row is (barring an overflow of the sum itself): one cheap reduction
        flags = torch.stack([p.jac.reshape(self.num_tasks, -1).sum(1).isfinite() for p in with_jac]).all(0)
        try:
            raise_if_non_finite(self.task_names, flags, what="gradient on the shared parameters")
        except FloatingPointError:
            for p in with_jac:
                del p.jac
            raise
        all_float32 = all(p.jac.dtype == torch.float32 for p in with_jac)
        if not all_float32:
            for p in with_jac:
                p.jac = p.jac.float()
        # sum of per-tensor Gramians instead of one concatenated Jacobian (less memory, same result);
        # only when the .grad fields take float32, because that path combines the rows in their dtype
        gramian_path = (
            all_float32
            and isinstance(self.aggregator, GramianWeightedAggregator)
            and all(p.dtype == torch.float32 for p in with_jac)
        )
        with self._aggregation_context(with_jac[0].device):
            weights = jac_to_grad(with_jac, self.gramian_aggregator(), optimize_gramian_computation=gramian_path)  # type: ignore[arg-type,call-overload]
        self._after_aggregation(stacklevel=5)  # warnings point at the caller of backward()
        return self.report(weights)

    def _backward_mtl(self, losses: list[Tensor], feats: list[Tensor]) -> dict[str, float]:
        from torchjd.autojac import mtl_backward

        shared, _ = self.parameter_partition()
        try:
            # branches sharing nodes above the features (a hand-over) need the graph for the next task
            mtl_backward(
                losses,
                features=feats,
                shared_params=shared,
                parallel_chunk_size=self.parallel_chunk_size,
                retain_graph=self._branches_overlap(losses, feats),
            )
        except ValueError as err:
            if "no tensor in common" not in str(err):
                raise
            raise ValueError(
                f"{self.name}: the features passed to backward() do not separate the shared parameters from the "
                "task branches (a loss reaches a shared parameter without passing through them). Pass every "
                "tensor the branches consume from the shared part (model.forward_with_features(x)[1]), or none."
            ) from err
        return self._aggregate_jacs(shared)

    def _task_rows(
        self, losses: list[Tensor], feats: list[Tensor]
    ) -> tuple[list[list[Tensor | None]], list[nn.Parameter]]:
        """Per-task gradients on ``[*feats, *others]`` (``others`` = the non-shared trainable parameters)."""
        shared, others = self.parameter_partition()
        if not self._cut_checked:
            check_cut(losses, feats, shared, method=self.name)
            self._cut_checked = True
        overlap = self._branches_overlap(losses, feats)
        return task_gradients(losses, [*feats, *others], batched=self.batched, overlap=overlap), others

    def _backward_per_task(self, losses: list[Tensor], feats: list[Tensor]) -> dict[str, float]:
        """Jacobian on the shared parameters by one backward per task from the features, pruned to what it reaches."""
        shared, _ = self.parameter_partition()
        rows, others = self._task_rows(losses, feats)
        feature_rows = [row[: len(feats)] for row in rows]
        accumulate(others, combine([row[len(feats) :] for row in rows]))
        jacobian_rows: list[list[Tensor]] = []
        for i, row in enumerate(feature_rows):
            used = [(f, g) for f, g in zip(feats, row, strict=True) if g is not None]
            grads: Sequence[Tensor | None] = [None] * len(shared)
            if used:
                grads = torch.autograd.grad(
                    [f for f, _ in used],
                    shared,
                    grad_outputs=[g for _, g in used],
                    retain_graph=i < len(rows) - 1,
                    allow_unused=True,
                )
            jacobian_rows.append([torch.zeros_like(p) if g is None else g for g, p in zip(grads, shared, strict=True)])
        for k, p in enumerate(shared):
            p.jac = torch.stack([r[k] for r in jacobian_rows])
        return self._aggregate_jacs(shared)

    def _backward_parameters(self, losses: list[Tensor]) -> dict[str, float]:
        from torchjd.autojac import backward as jd_backward

        shared, others = self.parameter_partition()
        reached = reached_leaves(losses)
        others = [p for p in others if p in reached]
        jd_backward(losses, inputs=[*shared, *others], parallel_chunk_size=self.parallel_chunk_size)
        for p in others:  # task-specific parameters: the plain (summed) gradient of the losses that use them
            accumulate([p], [p.jac.sum(0)])
            del p.jac
        return self._aggregate_jacs(shared)

    def _backward_features(self, losses: list[Tensor], feats: list[Tensor]) -> dict[str, float]:
        from torchjd.aggregation import GramianWeightedAggregator

        assert self.aggregator is not None
        shared, _ = self.parameter_partition()
        rows, others = self._task_rows(losses, feats)
        feature_rows = [row[: len(feats)] for row in rows]
        # the Gramian of the feature Jacobian, block by block (a task's zero blocks cost nothing)
        gram, blocks = gramian_blocks(feature_rows, self.num_tasks)
        # NaN / inf in a row reach its diagonal entry (a sum of squares)
        raise_if_non_finite(self.task_names, gram.diagonal().isfinite(), what="gradient on the shared features")
        with self._aggregation_context(gram.device), torch.no_grad():
            if isinstance(self.aggregator, GramianWeightedAggregator):
                weights = self.gramian_aggregator().gramian_weighting(gram)  # type: ignore[union-attr,operator]
            else:  # a weighting of the Jacobian itself (Nash-MTL): build it
                jacobian = torch.stack(flatten_rows(feature_rows, feats))
                weights = self.aggregator.weighting(jacobian)  # type: ignore[union-attr]
        self._after_aggregation(stacklevel=4)
        direction = combine_blocks(blocks, weights, feats)
        accumulate(others, combine([row[len(feats) :] for row in rows]))
        pairs = [(f, d) for f, d in zip(feats, direction, strict=True) if d is not None]
        if pairs:
            torch.autograd.backward([f for f, _ in pairs], grad_tensors=[d for _, d in pairs], inputs=shared)
        return self.report(weights)
