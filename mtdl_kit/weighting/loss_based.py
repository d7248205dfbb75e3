"""Loss weighting: one backward pass of a weighted sum of the task losses.

Geometrically, every method here moves along ``sum_i w_i g_i`` (``g_i`` = gradient of task ``i``):
a point in the cone spanned by the task gradients, chosen *without looking at the gradients*.
They cost one backward pass, like single-task training.

=========  ==========================================================  ===========================
name       weights ``w_i``                                              reference
=========  ==========================================================  ===========================
``ew``     1 (the plain sum of losses)                                  —
``fixed``  user-given, e.g. from a grid search                          Vandenhende et al. 2021
``uw``     ``exp(-s_i)``, ``s_i = log sigma_i^2`` learned                Kendall et al. 2018
``dwa``    ``T * softmax_i(r_i / temperature)``, ``r_i`` = loss ratio   Liu et al. 2019
``rlw``    ``T * softmax(z)``, ``z ~ N(0, I)`` drawn every step         Lin et al. 2022
=========  ==========================================================  ===========================
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from mtdl_kit.weighting.base import Weighting, WeightingInfo
from mtdl_kit.weighting.registry import register


class LossWeighting(Weighting):
    """A method that backpropagates ``sum_i w_i * L_i`` once; subclasses choose ``w`` (:meth:`step_weights`).

    ``features`` passed to :meth:`backward` are ignored (the one backward pass reaches everything).
    After the backward pass the gradients it wrote are checked (:meth:`Weighting.check_gradients`): a
    finite loss with a NaN or infinite gradient raises :class:`FloatingPointError` instead of
    handing NaN to the optimizer.
    """

    kind = "loss"

    def step_weights(self, losses: Tensor) -> Tensor:
        """The weights ``w`` (shape ``(T,)``) for this step's stacked, detached-free losses."""
        raise NotImplementedError

    def total_loss(self, losses: Tensor) -> tuple[Tensor, Tensor]:
        """``(scalar objective, weights)`` for the stacked losses (shape ``(T,)``)."""
        w = self.step_weights(losses).to(device=losses.device, dtype=losses.dtype)
        return (w * losses).sum(), w

    def backward(self, losses: Mapping[str, Tensor], *, features: Sequence[Tensor] | None = None) -> dict[str, float]:
        ordered = self.ordered_losses(losses)
        touched = self.touched_parameters(ordered)  # before the backward frees the graph (no-model case)
        stacked = torch.stack([loss.float() for loss in ordered])
        total, w = self.total_loss(stacked)
        total.backward()
        self.check_gradients(touched)
        return self.report(w)


# ------------------------------------------------------------------------------------------- EW
@register(
    WeightingInfo.loss_method(
        "ew",
        "Equal weighting",
        "— (the uniform-scalarisation baseline)",
        "Sum of the losses: every task weight is exactly 1 (not 1/T).",
    )
)
class EqualWeighting(LossWeighting):
    """Equal weighting: backpropagate the plain sum ``L_1 + ... + L_T`` — every weight is exactly **1**.

    Geometrically the update is the sum of the task gradients (``T`` times their mean). The weight is
    1, not ``1/T``: the documented weights are what the code uses (LibMTL's ``EW`` docstring says
    ``1/T`` while its code uses 1). Scaling all weights by ``1/T`` would only rescale the learning
    rate under SGD and change nothing under Adam.

    Needs: losses only. The only method that also accepts a single task.

    Args:
        task_names: the tasks.
        model: unused (may be ``None``).
        level: only ``"parameters"``.
    """

    min_tasks = 1

    def step_weights(self, losses: Tensor) -> Tensor:
        return torch.ones_like(losses)


# ---------------------------------------------------------------------------------------- fixed
@register(
    WeightingInfo.loss_method(
        "fixed",
        "Fixed weights",
        "Vandenhende et al., IEEE TPAMI 44(7):3614-3633, 2022 (fixed weights as a strong baseline)",
        "Constant user-chosen weights, e.g. found by a grid search (option weights={task: w}).",
    )
)
class FixedWeighting(LossWeighting):
    """Fixed weights: backpropagate ``sum_i w_i L_i`` with constant, user-given ``w_i >= 0``.

    Geometrically a fixed point of the gradient cone. Hand-tuned fixed weights are a strong baseline
    (Vandenhende et al., "Multi-task learning for dense prediction tasks: a survey", IEEE TPAMI 2022),
    at the cost of a grid search over ``T - 1`` ratios.

    Needs: losses only.

    Args:
        task_names: the tasks.
        model: unused (may be ``None``).
        level: only ``"parameters"``.
        weights: ``{task: weight}`` for every task; non-negative, finite, not all zero.

    Raises:
        ValueError: a task's weight is missing, unknown, negative or non-finite, or all are zero.
    """

    def __init__(
        self,
        task_names: Sequence[str],
        *,
        model: nn.Module | None,
        level: str = "parameters",
        weights: Mapping[str, float] | None = None,
    ) -> None:
        super().__init__(task_names, model=model, level=level)
        if weights is None or not isinstance(weights, Mapping):
            raise ValueError(
                f"fixed needs weights={{task: weight}} for the tasks {list(self.task_names)}, got {weights!r}; "
                f"e.g. weights={ {t: 1.0 for t in self.task_names} }."
            )
        missing = [t for t in self.task_names if t not in weights]
        unknown = [t for t in weights if t not in self.task_names]
        if missing or unknown:
            raise ValueError(
                f"fixed: weights must give one value per task of {list(self.task_names)}; "
                f"missing {missing}, unknown {unknown}."
            )
        values = [float(weights[t]) for t in self.task_names]
        bad = {t: v for t, v in zip(self.task_names, values, strict=True) if not math.isfinite(v) or v < 0}
        if bad:
            raise ValueError(f"fixed: task weights must be finite and >= 0, got {bad}.")
        if not any(values):
            raise ValueError("fixed: all weights are zero, nothing would be trained.")
        self.register_buffer("weights", torch.tensor(values, dtype=torch.float32))

    def step_weights(self, losses: Tensor) -> Tensor:
        return self.weights


# ------------------------------------------------------------------------------------------- UW
@register(
    WeightingInfo.loss_method(
        "uw",
        "Uncertainty weighting",
        "Kendall, Gal & Cipolla, CVPR 2018",
        "Learned homoscedastic log-variances s_i: minimise sum exp(-s_i) L_i + s_i.",
    )
)
class UncertaintyWeighting(LossWeighting):
    """Uncertainty weighting: learn one log-variance ``s_i = log sigma_i^2`` per task, jointly with the network.

    The objective is ``sum_i exp(-s_i) * L_i + s_i``. This is twice Kendall et al.'s Gaussian-likelihood
    form ``sum_i L_i / (2 sigma_i^2) + log sigma_i`` (same minimiser in ``s``; the factor 2 makes the
    initial weights ``exp(-0) = 1``, equal to EW). Minimising over ``s_i`` alone gives
    ``s_i = log L_i``: a task's weight tends to ``1 / L_i``, so every term is pushed to the same
    size — noisy (high-loss) tasks are down-weighted, and the ``+ s_i`` term stops all weights from
    collapsing to zero. Geometrically: the update direction is rescaled towards tasks with smaller loss.

    Reference: A. Kendall, Y. Gal, R. Cipolla, "Multi-task learning using uncertainty to weigh losses
    for scene geometry and semantics", CVPR 2018.

    Needs: losses only. The log-variances are ``nn.Parameter`` s returned by :meth:`parameters`: **add
    them to the optimizer** (without weight decay). Reported weights are ``exp(-s_i)``.

    Args:
        task_names: the tasks.
        model: used only to place the parameters on the model's device (may be ``None``: CPU).
        level: only ``"parameters"``.
        init_log_var: initial ``s_i`` (0 gives weights 1).
    """

    def __init__(
        self,
        task_names: Sequence[str],
        *,
        model: nn.Module | None,
        level: str = "parameters",
        init_log_var: float = 0.0,
    ) -> None:
        super().__init__(task_names, model=model, level=level)
        if not math.isfinite(float(init_log_var)):
            raise ValueError(f"uw: init_log_var must be finite, got {init_log_var!r}.")
        self.log_vars = nn.Parameter(
            torch.full((self.num_tasks,), float(init_log_var), dtype=torch.float32, device=self.parameter_device())
        )

    def total_loss(self, losses: Tensor) -> tuple[Tensor, Tensor]:
        s = self.log_vars.to(losses.device)
        precision = torch.exp(-s)
        return (precision * losses + s).sum(), precision


# ------------------------------------------------------------------------------------------ DWA
def dwa_weights(history: Sequence[Sequence[float]], temperature: float = 2.0) -> Tensor:
    """Dynamic Weight Average weights from the mean losses of the last two epochs.

    ``w_i = T * exp(r_i / temperature) / sum_j exp(r_j / temperature)`` with
    ``r_i = L_i(t-1) / L_i(t-2)`` (Liu, Johns & Davison, CVPR 2019, Eq. 7). With fewer than two
    epochs of history every weight is 1.

    Args:
        history: per-epoch mean losses, oldest first; each entry has one value per task.
        temperature: ``T`` in the paper; larger is softer (2 in the paper).

    Returns:
        Weights of shape ``(num_tasks,)``, summing to the number of tasks.
    """
    if len(history) < 2:
        n = len(history[0]) if history else 0
        return torch.ones(n)
    prev2 = torch.as_tensor(history[-2], dtype=torch.float64)
    prev1 = torch.as_tensor(history[-1], dtype=torch.float64)
    ratios = prev1 / prev2.clamp_min(1e-12)
    w = len(ratios) * torch.softmax(ratios / temperature, dim=0)
    return w.float()


@register(
    WeightingInfo.loss_method(
        "dwa",
        "Dynamic weight average",
        "Liu, Johns & Davison, CVPR 2019 (MTAN)",
        "Weights from each task's loss descent rate over the last two epochs (temperature 2).",
    )
)
class DynamicWeightAverage(LossWeighting):
    """Dynamic Weight Average: up-weight the tasks whose loss went down slowest over the last two epochs.

    ``w_i(t) = T * softmax_i(r_i(t-1) / temperature)``, ``r_i(t-1) = L_i(t-1) / L_i(t-2)``, where
    ``L_i(t)`` is the mean loss of task ``i`` over epoch ``t`` (passed to :meth:`end_epoch`). The
    weights sum to ``T`` and are all 1 during the first two epochs (no history yet). Works for any
    number of tasks (the reference implementation of MTAN hard-wires three).

    Reference: S. Liu, E. Johns, A. J. Davison, "End-to-end multi-task learning with attention",
    CVPR 2019.

    Needs: losses, and the trainer must call :meth:`end_epoch` with the epoch's mean losses.

    Args:
        task_names: the tasks.
        model: unused (may be ``None``).
        level: only ``"parameters"``.
        temperature: softmax temperature (2 in the paper); must be > 0.
    """

    def __init__(
        self, task_names: Sequence[str], *, model: nn.Module | None, level: str = "parameters", temperature: float = 2.0
    ) -> None:
        super().__init__(task_names, model=model, level=level)
        if not float(temperature) > 0:
            raise ValueError(f"dwa: temperature must be > 0, got {temperature!r}.")
        self.temperature = float(temperature)
        self.history: list[list[float]] = []
        self.register_buffer("weights", torch.ones(self.num_tasks))

    def step_weights(self, losses: Tensor) -> Tensor:
        return self.weights

    def end_epoch(self, mean_losses: Mapping[str, float]) -> None:
        """Record the epoch's mean loss per task and compute the next epoch's weights.

        Raises:
            KeyError: a task is missing.
            ValueError: a mean loss is not finite or not positive.
        """
        missing = [t for t in self.task_names if t not in mean_losses]
        if missing:
            raise KeyError(f"dwa.end_epoch: no mean loss for task(s) {missing}.")
        values = [float(mean_losses[t]) for t in self.task_names]
        bad = {t: v for t, v in zip(self.task_names, values, strict=True) if not math.isfinite(v) or v <= 0}
        if bad:
            raise ValueError(f"dwa.end_epoch: mean losses must be finite and > 0 (they enter a ratio), got {bad}.")
        self.history = [*self.history, values][-2:]
        self.weights = dwa_weights(self.history, self.temperature).to(self.weights.device)

    def get_extra_state(self) -> Any:
        return {"history": [list(h) for h in self.history]}

    def set_extra_state(self, state: Any) -> None:
        self.history = [list(map(float, h)) for h in state.get("history", [])][-2:]


# ------------------------------------------------------------------------------------------ RLW
@register(
    WeightingInfo.loss_method(
        "rlw",
        "Random loss weighting",
        "Lin et al., TMLR 2022 (reasonable effectiveness of random weighting)",
        "Fresh random weights every step: T * softmax(z), z ~ N(0, I).",
    )
)
class RandomLossWeighting(LossWeighting):
    """Random loss weighting: draw new weights every step, ``w = T * softmax(z)`` with ``z ~ N(0, I)``.

    Geometrically a random point of the gradient cone each step; in expectation every task gets the
    same weight, and the randomness helps escape bad local minima. Lin et al. use ``softmax(z)``
    (weights summing to 1); we **scale by T** so that the weights sum to ``T`` and average 1 — the
    same loss scale as EW, so a learning rate tuned for EW carries over.

    Reference: B. Lin, F. Ye, Y. Zhang, I. W. Tsang, "Reasonable effectiveness of random weighting: a
    litmus test for multi-task learning", TMLR 2022.

    Needs: losses only. Uses its own ``torch.Generator`` (CPU), so it does not shift the global
    random stream that data loading and dropout use.

    Args:
        task_names: the tasks.
        model: unused (may be ``None``).
        level: only ``"parameters"``.
        seed: seed of the generator; ``None`` draws one from the global generator at construction (so
            ``torch.manual_seed`` before building makes runs repeatable).
    """

    def __init__(
        self, task_names: Sequence[str], *, model: nn.Module | None, level: str = "parameters", seed: int | None = None
    ) -> None:
        super().__init__(task_names, model=model, level=level)
        if seed is None:
            seed = int(torch.randint(0, 2**62, (1,)).item())
        self.generator = torch.Generator().manual_seed(int(seed))

    def step_weights(self, losses: Tensor) -> Tensor:
        z = torch.randn(self.num_tasks, generator=self.generator)
        return self.num_tasks * torch.softmax(z, dim=0)

    def get_extra_state(self) -> Any:
        return {"generator": self.generator.get_state()}

    def set_extra_state(self, state: Any) -> None:
        if "generator" in state:
            self.generator.set_state(state["generator"])
