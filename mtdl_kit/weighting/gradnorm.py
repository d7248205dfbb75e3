"""GradNorm: learn loss weights that equalise the tasks' gradient norms on the last shared layer.

Chen, Badrinarayanan, Lee & Rabinovich, "GradNorm: gradient normalization for adaptive loss
balancing in deep multitask networks", ICML 2018.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from mtdl_kit.weighting._autograd import accumulate, check_cut, combine, task_gradients
from mtdl_kit.weighting.base import (
    Weighting,
    WeightingInfo,
    branches_overlap,
    model_label,
    raise_if_non_finite,
    reached_leaves,
    shared_parameters_of,
)
from mtdl_kit.weighting.registry import register

_MIN_WEIGHT = 1e-3


def gradnorm_loss(weights: Tensor, grad_norms: Tensor, loss_ratios: Tensor, alpha: float) -> Tensor:
    """The GradNorm objective ``L_grad = sum_i | w_i n_i - mean_j(w_j n_j) * r_i^alpha |`` (Chen et al., Eq. 2).

    Args:
        weights: task weights ``w`` (T,).
        grad_norms: ``n_i = ||grad_W L_i||``, the norm of the *unweighted* loss gradient on the
            last shared layer ``W`` (so ``G_W^(i) = w_i n_i``).
        loss_ratios: ``L_i(t) / L_i(0)``.
        alpha: asymmetry; 0 asks for equal gradient norms, larger values push harder on slow tasks.

    The target ``mean_j(w_j n_j) * r_i^alpha`` (``r_i`` = loss ratio over its mean) is a constant,
    as in the paper: the gradient flows only through ``w_i n_i``.
    """
    g = weights * grad_norms
    r = loss_ratios / loss_ratios.mean()
    target = (g.mean() * r.pow(alpha)).detach()
    return (g - target).abs().sum()


def gradnorm_weight_gradient(weights: Tensor, grad_norms: Tensor, loss_ratios: Tensor, alpha: float) -> Tensor:
    """Analytic gradient of :func:`gradnorm_loss` with respect to the weights: ``sign(w_i n_i - target_i) * n_i``.

    Costs nothing beyond the gradient norms (no second-order autograd through the network).
    A task whose gradient norm is below its target (it trains slower than average, or its gradients
    are small) gets a negative gradient, so its weight *increases* under gradient descent.
    """
    g = weights * grad_norms
    r = loss_ratios / loss_ratios.mean()
    target = g.mean() * r.pow(alpha)
    return torch.sign(g - target) * grad_norms


@register(
    WeightingInfo.loss_method(
        "gradnorm",
        "GradNorm",
        "Chen, Badrinarayanan, Lee & Rabinovich, ICML 2018",
        "Learned weights: tasks' gradient norms on the last shared layer track their training rates.",
        needs="shared_parameters",
    )
)
class GradNorm(Weighting):
    """GradNorm: tune the loss weights so that every task's gradient norm on the last shared layer ``W``
    is proportional to its relative inverse training rate.

    Each step: backpropagate ``sum_i w_i L_i`` with the current weights; measure
    ``n_i = ||grad_W L_i||``; move ``w`` one optimizer step down
    ``L_grad = sum_i |w_i n_i - mean_j(w_j n_j) * r_i^alpha|`` (``r_i`` = ``L_i(t)/L_i(0)`` over its
    mean; the target is held constant), using the analytic gradient
    :func:`gradnorm_weight_gradient` (no double backward); finally renormalise so that the weights
    sum to ``T``. Geometrically the update is still a point in the cone of the task gradients, whose
    position is steered so that no task's gradient dominates the shared layer. Tasks whose loss falls
    slower than average (``r_i > 1``) and tasks with small gradients are up-weighted.

    Reference: Z. Chen, V. Badrinarayanan, C.-Y. Lee, A. Rabinovich, "GradNorm: gradient normalization
    for adaptive loss balancing in deep multitask networks", ICML 2018.

    **The last shared layer** ``W`` is chosen, at the first :meth:`backward`, as the *last* tensor in
    ``model.shared_parameters()`` order that is a weight (at least 2 dimensions: conv or linear, not
    a bias or norm scale) and that *every* task's loss reaches in the autograd graph (a shared decoder
    trunk that only dense tasks use is skipped). Override it with ``layer=<name>`` (a name from
    ``model.named_parameters()``). ``L_i(0)`` are the losses of the first call.

    **Cost.** With ``features`` (from ``model.forward_with_features``) the per-task gradients are taken
    at the shared features (the task branches are traversed once), the norms on ``W`` by short
    vector-Jacobian products, and the trunk is traversed once with ``sum_i w_i dL_i/dF``. Without
    features: ``T`` partial backward passes from the losses to ``W``, then one ordinary backward.

    **The weights are not in** :meth:`parameters`: GradNorm keeps them in a buffer (saved by
    ``state_dict``) updated by its own small ``torch.optim.Adam(lr=lr)`` inside :meth:`backward`. Do
    not add them to the model's optimizer.

    Needs: the shared parameters of the model (not available for cascaded networks).

    Args:
        task_names: the tasks.
        model: the network; must have shared parameters.
        level: only ``"parameters"``.
        alpha: asymmetry ``alpha`` (the paper uses 0.12-3.0; 1.5 is a common default).
        lr: learning rate of the weights' Adam optimizer.
        layer: name of the parameter to use as ``W`` (default: picked as described above).

    Raises:
        ValueError: no model, no shared parameters, or ``layer`` not a shared parameter.
    """

    kind = "loss"

    def __init__(
        self,
        task_names: Sequence[str],
        *,
        model: nn.Module | None,
        level: str = "parameters",
        alpha: float = 1.5,
        lr: float = 0.025,
        layer: str | None = None,
    ) -> None:
        super().__init__(task_names, model=model, level=level)
        if model is None or not hasattr(model, "shared_parameters"):
            raise ValueError(
                f"gradnorm needs the gradients on the last shared layer, but {model_label(model)} has no "
                "shared_parameters() method. Pass a MultiTaskNet (mtdl_kit.models.build_model), or use a "
                "loss-only method ('ew', 'uw', 'dwa', 'rlw')."
            )
        shared = shared_parameters_of(model)
        if not shared and shared_parameters_of(model, trainable_only=False):
            raise ValueError(
                f"gradnorm needs a trainable layer shared by the tasks, but every shared parameter of "
                f"{model_label(model)} is frozen (requires_grad=False). Unfreeze the last shared block, or use a "
                "loss-based method instead: 'ew', 'uw', 'dwa' or 'rlw'."
            )
        if not shared:
            raise ValueError(
                f"gradnorm needs a layer shared by the tasks, but {model_label(model)} has no trainable shared "
                "parameters (a cascaded network shares nothing). Use a loss-based method instead: 'ew', 'uw', "
                "'dwa' or 'rlw'."
            )
        if not float(alpha) >= 0:
            raise ValueError(f"gradnorm: alpha must be >= 0, got {alpha!r}.")
        if not float(lr) > 0:
            raise ValueError(f"gradnorm: lr must be > 0, got {lr!r}.")
        self.alpha = float(alpha)
        self.lr = float(lr)
        # W, kept as a plain reference (assigning a Parameter attribute would register it in parameters())
        self._layer: nn.Parameter | None = None
        self.layer_name: str | None = None
        if layer is not None:
            named = dict(model.named_parameters())
            shared_ids = {id(p) for p in shared}
            if layer not in named or id(named[layer]) not in shared_ids:
                options = [n for n, p in model.named_parameters() if id(p) in shared_ids and p.ndim >= 2]
                raise ValueError(
                    f"gradnorm: layer={layer!r} is not a trainable shared parameter of {model_label(model)}; "
                    f"shared weights are e.g. {options[-5:]}."
                )
            object.__setattr__(self, "_layer", named[layer])
            self.layer_name = layer
        device = self.parameter_device()
        self.register_buffer("weights", torch.ones(self.num_tasks, device=device))
        self.register_buffer("initial_losses", torch.full((self.num_tasks,), float("nan"), device=device))
        self._optimizer: torch.optim.Optimizer | None = None
        self._cut_checked = False
        self._overlap: bool | None = None

    @property
    def needs(self) -> str:
        return "shared_parameters"

    # -------------------------------------------------------------------------------- last layer
    def _pick_layer(self, losses: Sequence[Tensor]) -> nn.Parameter:
        assert self.model is not None
        reached = [reached_leaves([loss]) for loss in losses]
        shared, _ = self.parameter_partition()
        candidates = [p for p in shared if p.ndim >= 2 and all(p in r for r in reached)]
        if not candidates:
            raise ValueError(
                f"gradnorm: no shared weight of {model_label(self.model)} is reached by every task's loss, so "
                "the tasks' gradient norms cannot be compared on one layer. Pass layer=<parameter name>, or use "
                "'uw' / 'dwa'."
            )
        layer = candidates[-1]
        self.layer_name = next((n for n, p in self.model.named_parameters() if p is layer), None)
        return layer

    def _weight_optimizer(self) -> torch.optim.Optimizer:
        if self._optimizer is None or self._optimizer.param_groups[0]["params"][0] is not self.weights:
            self._optimizer = torch.optim.Adam([self.weights], lr=self.lr)
        return self._optimizer

    def get_extra_state(self) -> Any:
        """The weights' own Adam state (the weights and initial losses are buffers)."""
        return {"optimizer": None if self._optimizer is None else self._optimizer.state_dict()}

    def set_extra_state(self, state: Any) -> None:
        if state.get("optimizer") is not None:
            self._weight_optimizer().load_state_dict(state["optimizer"])

    # ------------------------------------------------------------------------------------- step
    def backward(self, losses: Mapping[str, Tensor], *, features: Sequence[Tensor] | None = None) -> dict[str, float]:
        ordered = self.ordered_losses(losses)
        self.require_graph(ordered)
        assert self.model is not None
        self.trainable_shared()  # raises a clear ValueError if the shared part was frozen since
        if self._layer is None:
            object.__setattr__(self, "_layer", self._pick_layer(ordered))
        layer = self._layer
        assert layer is not None
        if not layer.requires_grad:
            raise ValueError(
                f"gradnorm compares the tasks' gradient norms on the shared layer {self.layer_name}, which is frozen "
                "now (requires_grad=False). Unfreeze it, or build the method with layer=<a trainable shared weight>."
            )
        touched = self.touched_parameters()
        stacked = torch.stack([loss.detach().float() for loss in ordered])
        if bool(torch.isnan(self.initial_losses).any()):
            self.initial_losses = stacked.clamp_min(1e-12).to(self.initial_losses.device)
        w = self.weights.detach().clone()
        w_dev = w.to(stacked.device)

        feats = [f for f in (features or ()) if f.requires_grad]
        if feats:
            grad_norms = self._backward_through_features(ordered, feats, layer, w_dev)
        else:
            per_task = [torch.autograd.grad(loss, layer, retain_graph=True)[0] for loss in ordered]
            grad_norms = torch.stack([g.float().norm() for g in per_task])
            self._check_norms(grad_norms)
            (w_dev * torch.stack([loss.float() for loss in ordered])).sum().backward()

        self.check_gradients(touched)  # a finite loss with a NaN gradient elsewhere than W: never silent
        self._update_weights(grad_norms, stacked)
        return self.report(w)

    def _backward_through_features(
        self, losses: Sequence[Tensor], feats: Sequence[Tensor], layer: nn.Parameter, w: Tensor
    ) -> Tensor:
        assert self.model is not None
        shared, others = self.parameter_partition()
        if not self._cut_checked:
            check_cut(losses, feats, shared, method="gradnorm")
            self._cut_checked = True
            self._overlap = branches_overlap(losses, feats)
        rows = task_gradients(losses, [*feats, *others], overlap=bool(self._overlap))
        feature_rows = [row[: len(feats)] for row in rows]
        # n_i = ||grad_W L_i||: a vector-Jacobian product from the features down to W, per task
        norms = []
        for row in feature_rows:
            used = [(f, g) for f, g in zip(feats, row, strict=True) if g is not None]
            if not used:
                norms.append(torch.zeros((), device=w.device))
                continue
            (g_w,) = torch.autograd.grad(
                [f for f, _ in used], layer, grad_outputs=[g for _, g in used], retain_graph=True, allow_unused=True
            )
            norms.append(torch.zeros((), device=w.device) if g_w is None else g_w.float().norm())
        self._check_norms(torch.stack(norms))
        accumulate(others, combine([row[len(feats) :] for row in rows], w))  # heads: w_i * grad L_i
        trunk = combine(feature_rows, w)
        pairs = [(f, g) for f, g in zip(feats, trunk, strict=True) if g is not None]
        if pairs:
            torch.autograd.backward(
                [f for f, _ in pairs], grad_tensors=[g.to(f.dtype) for f, g in pairs], inputs=shared
            )
        return torch.stack(norms)

    def _check_norms(self, grad_norms: Tensor) -> None:
        """Never update the weights (or the network) from a NaN / inf gradient norm."""
        raise_if_non_finite(
            self.task_names, grad_norms.isfinite(), what=f"gradient on the last shared layer {self.layer_name}"
        )

    @torch.no_grad()
    def _update_weights(self, grad_norms: Tensor, losses: Tensor) -> None:
        ratios = losses.to(self.initial_losses.device) / self.initial_losses
        grad = gradnorm_weight_gradient(self.weights, grad_norms.to(self.weights.device), ratios, self.alpha)
        optimizer = self._weight_optimizer()
        self.weights.grad = grad.to(self.weights.dtype)
        optimizer.step()
        self.weights.grad = None
        self.weights.clamp_(min=_MIN_WEIGHT)
        self.weights.mul_(self.num_tasks / self.weights.sum())
