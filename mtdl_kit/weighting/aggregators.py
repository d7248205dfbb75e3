"""The seven TorchJD aggregators behind :class:`~mtdl_kit.weighting.gradient.GradientWeighting`: UPGrad, MGDA,
PCGrad, CAGrad, IMTL-G, Aligned-MTL and Nash-MTL, each registered with its paper (the Jacobian, its two
levels and the scale handling they share are in :mod:`mtdl_kit.weighting.gradient`).

Reference for the implementation: P. Quinton, V. Rey, "Jacobian descent for multi-objective
optimization", arXiv:2406.16232, 2024 (TorchJD).
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from torch import Tensor, nn

from mtdl_kit.weighting.base import (
    WeightingInfo,
)
from mtdl_kit.weighting.gradient import GradientWeighting
from mtdl_kit.weighting.registry import register


def _require(method: str, modules: Sequence[str], solver: str, extra: str) -> None:
    """Raise ImportError unless ``modules`` import and cvxpy lists ``solver`` (never fall back silently)."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if not missing:
        import cvxpy

        if solver not in cvxpy.installed_solvers():
            missing = [f"the {solver} solver of cvxpy (installed: {cvxpy.installed_solvers()})"]
    if missing:
        raise ImportError(
            f'{method} needs {", ".join(missing)}; install with: pip install "torchjd[{extra}]". '
            "(There is no silent fallback to equal weights.)"
        )


@register(
    WeightingInfo.gradient_method(
        "upgrad",
        "UPGrad",
        "Quinton & Rey, 'Jacobian descent for multi-objective optimization', arXiv:2406.16232, 2024",
        "Projects each task gradient onto the dual cone of all of them and averages: never conflicts with a task.",
    )
)
class UPGradAggregation(GradientWeighting):
    """UPGrad (unconflicting projection of gradients): project each task gradient onto the *dual cone*
    of all task gradients (the directions with non-negative dot product with every one of them) and
    average the projections.

    The update therefore never increases any task's loss to first order (non-conflicting), and it
    reduces to the mean gradient when the gradients do not conflict.

    Reference: P. Quinton, V. Rey, "Jacobian descent for multi-objective optimization",
    arXiv:2406.16232, 2024. Implementation: ``torchjd.aggregation.UPGrad`` (quadprog QP solver).

    Needs: shared parameters (``level="parameters"``) or shared features (``level="features"``).

    Args:
        preference: optional ``{task: weight > 0}`` combining the projections (default uniform).
        **common: ``parallel_chunk_size``, ``batched`` (see :class:`GradientWeighting`).
    """

    scale_invariant = True  # weights homogeneous of degree 0 in the Gramian (normalised_gramian)

    def __init__(
        self,
        task_names: Sequence[str],
        *,
        model: nn.Module | None,
        level: str = "parameters",
        preference: Mapping[str, float] | None = None,
        **common: Any,
    ) -> None:
        super().__init__(task_names, model=model, level=level, **common)
        self.aggregator = self.make_aggregator(pref_vector=self._preference(preference))

    @classmethod
    def make_aggregator(cls, *, pref_vector: Tensor | None = None) -> nn.Module:
        """``torchjd.aggregation.UPGrad`` (``pref_vector``: one positive weight per task, or uniform)."""
        from torchjd.aggregation import UPGrad

        return UPGrad(pref_vector=pref_vector)


@register(
    WeightingInfo.gradient_method(
        "mgda",
        "MGDA",
        "Désidéri, C. R. Math. 350:313-318, 2012; Sener & Koltun, NeurIPS 2018",
        "Minimum-norm point of the convex hull of the task gradients (Frank-Wolfe): a common descent direction.",
    )
)
class MGDAAggregation(GradientWeighting):
    """MGDA (multiple-gradient descent): the minimum-norm vector in the convex hull of the task gradients.

    That vector has a non-negative dot product with every task gradient (a common descent direction)
    and is zero exactly at Pareto-stationary points. It tends to follow the task with the *smallest*
    gradient, which can stall the others.

    References: J.-A. Désidéri, "Multiple-gradient descent algorithm (MGDA) for multiobjective
    optimization", C. R. Math. 350:313-318, 2012; O. Sener, V. Koltun, "Multi-task learning as
    multi-objective optimization", NeurIPS 2018 (Frank-Wolfe solver, Algorithm 2). Implementation:
    ``torchjd.aggregation.MGDA``.

    Needs: shared parameters or shared features.

    Args:
        epsilon: Frank-Wolfe stopping tolerance.
        max_iters: Frank-Wolfe iterations.
        **common: ``parallel_chunk_size``, ``batched``.
    """

    scale_invariant = True  # weights homogeneous of degree 0 in the Gramian (normalised_gramian)

    def __init__(
        self,
        task_names: Sequence[str],
        *,
        model: nn.Module | None,
        level: str = "parameters",
        epsilon: float = 0.001,
        max_iters: int = 100,
        **common: Any,
    ) -> None:
        super().__init__(task_names, model=model, level=level, **common)
        self.aggregator = self.make_aggregator(epsilon=epsilon, max_iters=max_iters)

    @classmethod
    def make_aggregator(cls, *, epsilon: float = 0.001, max_iters: int = 100) -> nn.Module:
        """``torchjd.aggregation.MGDA`` (Frank-Wolfe tolerance and iterations)."""
        from torchjd.aggregation import MGDA

        return MGDA(epsilon=epsilon, max_iters=max_iters)


@register(
    WeightingInfo.gradient_method(
        "pcgrad",
        "PCGrad",
        "Yu et al., 'Gradient surgery for multi-task learning', NeurIPS 2020",
        "For each task, removes the components that conflict with other tasks (random order), then sums.",
    )
)
class PCGradAggregation(GradientWeighting):
    """PCGrad (projecting conflicting gradients, "gradient surgery"): for each task gradient, in a random
    order of the other tasks, remove its component along any gradient it conflicts with (negative dot
    product); the update is the sum of the surgered gradients.

    Uses the global torch random generator (``torch.randperm``) for the order.

    Reference: T. Yu, S. Kumar, A. Gupta, S. Levine, K. Hausman, C. Finn, "Gradient surgery for
    multi-task learning", NeurIPS 2020. Implementation: ``torchjd.aggregation.PCGrad``.

    Needs: shared parameters or shared features.

    Args:
        **common: ``parallel_chunk_size``, ``batched``.
    """

    scale_invariant = True  # weights homogeneous of degree 0 in the Gramian (normalised_gramian)
    torchjd_class = "PCGrad"


@register(
    WeightingInfo.gradient_method(
        "cagrad",
        "CAGrad",
        "Liu, Liu, Jin, Stone & Liu, 'Conflict-averse gradient descent', NeurIPS 2021",
        "Maximises the worst task's improvement within a ball of radius c around the mean gradient.",
    )
)
class CAGradAggregation(GradientWeighting):
    """CAGrad (conflict-averse gradient descent): within a ball of radius ``c * ||g_0||`` around the
    mean gradient ``g_0``, take the direction that maximises the *smallest* task improvement.

    ``c = 0`` gives the mean gradient (EW direction); large ``c`` approaches MGDA. Solved with cvxpy's
    CLARABEL solver (checked at construction).

    Reference: B. Liu, X. Liu, X. Jin, P. Stone, Q. Liu, "Conflict-averse gradient descent for
    multi-task learning", NeurIPS 2021. Implementation: ``torchjd.aggregation.CAGrad``.

    Needs: shared parameters or shared features; ``pip install "torchjd[cagrad]"``.

    Args:
        c: radius scale (0.4 in the paper's NYUv2/Cityscapes experiments).
        **common: ``parallel_chunk_size``, ``batched``.

    Raises:
        ImportError: cvxpy or its CLARABEL solver is missing.
    """

    scale_invariant = True  # weights homogeneous of degree 0 in the Gramian (normalised_gramian)

    def __init__(
        self,
        task_names: Sequence[str],
        *,
        model: nn.Module | None,
        level: str = "parameters",
        c: float = 0.4,
        **common: Any,
    ) -> None:
        super().__init__(task_names, model=model, level=level, **common)
        self.aggregator = self.make_aggregator(c=c)

    @classmethod
    def make_aggregator(cls, *, c: float = 0.4) -> nn.Module:
        """``torchjd.aggregation.CAGrad`` (radius scale ``c >= 0``; needs cvxpy with CLARABEL)."""
        if not float(c) >= 0:
            raise ValueError(f"cagrad: c must be >= 0, got {c!r}.")
        _require("CAGrad", ("cvxpy", "clarabel"), "CLARABEL", "cagrad")
        from torchjd.aggregation import CAGrad

        return CAGrad(c=float(c))


@register(
    WeightingInfo.gradient_method(
        "imtl_g",
        "IMTL-G",
        "Liu et al., 'Towards impartial multi-task learning', ICLR 2021",
        "The update whose projections onto every task's unit gradient are equal (impartial).",
    )
)
class IMTLGAggregation(GradientWeighting):
    """IMTL-G (impartial multi-task learning, gradient part): the combination ``J^T w`` (weights summing
    to 1) whose projections onto every task's *unit* gradient are equal, so that no task is favoured
    by the update's direction.

    Reference: L. Liu, Y. Li, Z. Kuang, J.-H. Xue, Y. Chen, W. Yang, Q. Liao, W. Zhang, "Towards
    impartial multi-task learning", ICLR 2021. Implementation: ``torchjd.aggregation.IMTLG`` (the
    generalisation to linearly dependent gradients of Quinton & Rey 2024).

    Needs: shared parameters or shared features.

    Args:
        **common: ``parallel_chunk_size``, ``batched``.
    """

    scale_invariant = True  # weights homogeneous of degree 0 in the Gramian (normalised_gramian)
    torchjd_class = "IMTLG"


@register(
    WeightingInfo.gradient_method(
        "aligned_mtl",
        "Aligned-MTL",
        "Senushkin, Patakin, Kuznetsov & Konushin, CVPR 2023",
        "Aligns the principal components of the task gradients (condition number 1) before combining them.",
    )
)
class AlignedMTLAggregation(GradientWeighting):
    """Aligned-MTL: rescale the task gradients along the eigenvectors of their Gramian so that the
    linear system is well conditioned (condition number 1, "aligned" independent components), then
    combine them with the preference weights.

    This removes both conflicts and dominance by one large gradient. Eigen-decomposition with
    ``torch.linalg.eigh`` (the original's ``torch.symeig`` no longer exists in torch 2).

    Reference: D. Senushkin, N. Patakin, A. Kuznetsov, A. Konushin, "Independent component alignment
    for multi-task learning", CVPR 2023. Implementation: ``torchjd.aggregation.AlignedMTL``.

    Needs: shared parameters or shared features.

    Args:
        preference: optional ``{task: weight > 0}`` (default uniform).
        scale_mode: eigenvalue used for the scale: ``"min"`` (default), ``"median"``, ``"rmse"``
            (the original implementation).
        **common: ``parallel_chunk_size``, ``batched``.
    """

    scale_invariant = True  # weights homogeneous of degree 0 in the Gramian (normalised_gramian)

    def __init__(
        self,
        task_names: Sequence[str],
        *,
        model: nn.Module | None,
        level: str = "parameters",
        preference: Mapping[str, float] | None = None,
        scale_mode: str = "min",
        **common: Any,
    ) -> None:
        super().__init__(task_names, model=model, level=level, **common)
        self.aggregator = self.make_aggregator(pref_vector=self._preference(preference), scale_mode=scale_mode)

    @classmethod
    def make_aggregator(cls, *, pref_vector: Tensor | None = None, scale_mode: str = "min") -> nn.Module:
        """``torchjd.aggregation.AlignedMTL`` (``scale_mode``: ``"min"``, ``"median"`` or ``"rmse"``)."""
        if scale_mode not in ("min", "median", "rmse"):
            raise ValueError(f"aligned_mtl: scale_mode must be 'min', 'median' or 'rmse', got {scale_mode!r}.")
        from torchjd.aggregation import AlignedMTL

        return AlignedMTL(pref_vector=pref_vector, scale_mode=scale_mode)  # type: ignore[arg-type]


@register(
    WeightingInfo.gradient_method(
        "nash_mtl",
        "Nash-MTL",
        "Navon et al., 'Multi-task learning as a bargaining game', ICML 2022",
        "Nash bargaining solution: weights w with (J J^T) w = 1/w (a convex program solved with ECOS).",
    )
)
class NashMTLAggregation(GradientWeighting):
    """Nash-MTL: treat the tasks as players bargaining over the update ``d = J^T w``; the Nash bargaining
    solution satisfies ``(J J^T) w = 1 / w``: each task's improvement ``g_i . d`` is inversely
    proportional to its weight, which is scale-invariant and Pareto-stationary.

    Solved by a sequence of convex programs with cvxpy's **ECOS** solver. At construction we check
    that cvxpy and ECOS are installed and raise :class:`ImportError` otherwise (cvxpy >= 1.6 no longer
    ships ECOS; the original code and LibMTL then *silently* fall back to equal weights inside a bare
    ``except``). Note that ``torchjd.aggregation.NashMTL`` itself still catches
    ``cvxpy.SolverError`` / ``ValueError`` during a solve and keeps the previous weights (all ones at
    the first step) — e.g. on a rank-deficient Gramian — and does the same, without an exception, when
    the linearised problem is unbounded or infeasible (strongly conflicting gradients: a row of
    ``J J^T`` with a negative sum at the warm start). We turn the latter into a ``RuntimeWarning`` and
    count it in :attr:`solver_failures` (a caught ``SolverError`` leaves no trace we can read). It
    also clips ``||J^T w||`` to ``max_norm``. Measured on the eye parallel model
    (``benchmarks/RESULTS.md``): at the parameter level the solve takes about 2 ECOS calls per step;
    at the feature level (where the segmentation row is orthogonal to the others and the
    classification and regression rows conflict) it ran all ``optim_niter`` iterations and failed in
    4 of 5 steps — prefer the parameter level, or amortise with ``update_weights_every``.
    The aggregator is stateful (warm start): call :meth:`reset` between experiments.

    Reference: A. Navon, A. Shamsian, I. Achituve, H. Maron, K. Kawaguchi, G. Chechik, E. Fetaya,
    "Multi-task learning as a bargaining game", ICML 2022. Implementation: ``torchjd.aggregation.NashMTL``.

    Needs: shared parameters or shared features; ``pip install "torchjd[nash-mtl]"``.

    Args:
        max_norm: clip the norm of the update to this value (0 disables).
        update_weights_every: solve every that many steps and reuse the weights in between (amortises
            the solver's cost).
        optim_niter: iterations of the sequential convex solver.
        **common: ``parallel_chunk_size``, ``batched``.

    Raises:
        ImportError: cvxpy or its ECOS solver is missing.
    """

    resumable = False  # torchjd's NashMTL keeps its step count and previous weights outside any state_dict
    _quiet_warnings = (
        "You are solving a parameterized problem that is not DPP",  # every solve: torchjd's formulation
        "Solution may be inaccurate",  # counted in inaccurate_solves instead of printed at every step
    )

    def __init__(
        self,
        task_names: Sequence[str],
        *,
        model: nn.Module | None,
        level: str = "parameters",
        max_norm: float = 1.0,
        update_weights_every: int = 1,
        optim_niter: int = 20,
        **common: Any,
    ) -> None:
        super().__init__(task_names, model=model, level=level, **common)
        self.aggregator = self.make_aggregator(
            n_tasks=self.num_tasks,
            max_norm=max_norm,
            update_weights_every=update_weights_every,
            optim_niter=optim_niter,
        )
        self.solver_failures = 0
        self.inaccurate_solves = 0

    @classmethod
    def make_aggregator(
        cls, *, n_tasks: int, max_norm: float = 1.0, update_weights_every: int = 1, optim_niter: int = 20
    ) -> nn.Module:
        """``torchjd.aggregation.NashMTL`` for ``n_tasks`` tasks (needs cvxpy with ECOS)."""
        _require("Nash-MTL", ("cvxpy", "ecos"), "ECOS", "nash-mtl")
        from torchjd.aggregation import NashMTL

        return NashMTL(
            n_tasks=int(n_tasks),
            max_norm=float(max_norm),
            update_weights_every=int(update_weights_every),
            optim_niter=int(optim_niter),
        )

    def _after_aggregation(self, stacklevel: int) -> None:
        """Count and report solves that did not end optimal (torchjd then reuses the previous weights)."""
        weighting = getattr(self.aggregator, "weighting", None)
        every = getattr(weighting, "update_weights_every", 1)
        if weighting is None or (int(weighting.step) - 1) % every != 0:
            return  # no solve this step
        status = getattr(getattr(weighting, "prob", None), "status", None)
        if status == "optimal_inaccurate":
            self.inaccurate_solves += 1
        if status in (None, "optimal", "optimal_inaccurate"):
            return
        self.solver_failures += 1
        if self.solver_failures > 1:
            return  # warn once per weighting; the count keeps going
        warnings.warn(
            f"Nash-MTL: the ECOS solve ended with status {status!r}; torchjd's NashMTL then keeps the previous "
            "weights (all ones at the first step) for this step. This happens when the tasks' gradients conflict "
            "so strongly that the linearised bargaining problem is unbounded from the current weights. "
            "Warned once; weighting.solver_failures counts the failed steps.",
            RuntimeWarning,
            stacklevel=stacklevel,
        )
