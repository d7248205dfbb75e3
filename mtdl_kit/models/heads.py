"""Task heads, one per task kind, and the hand-over map that cascaded and hybrid networks pass on.

Output conventions (raw values, no activation; losses and metrics apply softmax/sigmoid):

============== ====================== =========================================================
kind           output shape           head
============== ====================== =========================================================
segmentation   (B, K, *spatial)       :class:`DenseHead` on U-Net decoder features; K logits
landmarks      (B, K, *spatial)       :class:`DenseHead`; one heatmap logit map per landmark
reconstruction (B, C, *spatial)       :class:`DenseHead`; C image channels (dense regression)
classification (B, K)                 :class:`GlobalHead`: global average pooling + MLP
regression     (B, n)                 :class:`GlobalHead`
============== ====================== =========================================================

Heads are built from MONAI pieces: the dense output layer is a strided transposed
:class:`monai.networks.blocks.Convolution` (the top layer of MONAI's ``UNet``), the MLP is
:class:`monai.networks.nets.FullyConnectedNet`.

A :class:`GlobalHead` built with ``guide_channels > 0`` is *mask-guided*: besides global average
pooling it pools the features inside the soft foreground of a guide map (a segmentation's soft
mask, landmark heatmaps, ...) and also sees the area fraction of each guide channel. This is how hybrid networks feed
a segmentation result into a classifier or a regressor, after MB-DCNN (Xie Y. et al., "A mutual
bootstrapping model for automated skin lesion segmentation and classification", IEEE TMI
39(7), 2020) and Chakravarty & Sivaswamy ("A deep learning based joint segmentation and
classification framework for glaucoma assessment in retinal color fundus images",
arXiv:1808.01355, 2018).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from monai.networks.blocks import Convolution
from monai.networks.nets import FullyConnectedNet
from torch import nn

from mtdl_kit.regions.base import TaskSpec

#: Task kinds whose output is a map the size of the image.
DENSE_KINDS: tuple[str, ...] = ("segmentation", "landmarks", "reconstruction")
#: Task kinds whose output is one vector per image.
GLOBAL_KINDS: tuple[str, ...] = ("classification", "regression")
#: Every task kind the heads support.
SUPPORTED_KINDS: tuple[str, ...] = DENSE_KINDS + GLOBAL_KINDS
#: Hidden units of the global heads' MLP at default settings.
DEFAULT_HIDDEN = 64


def is_dense(task: TaskSpec) -> bool:
    """True for segmentation, landmarks and reconstruction tasks."""
    return task.kind in DENSE_KINDS


#: what a mask-guided :class:`GlobalHead` appends about its guide map
GUIDE_SUMMARIES: tuple[str, ...] = ("area", "composition", "mask_only")


def guide_channels(task: TaskSpec) -> int:
    """Channels of the hand-over map :func:`soft_map` produces for a dense ``task``.

    segmentation: ``K - 1`` foreground probabilities; landmarks: ``K`` heatmaps; reconstruction:
    ``C`` image channels.
    """
    if task.kind == "segmentation":
        return task.num_outputs - 1
    if task.kind in ("landmarks", "reconstruction"):
        return task.num_outputs
    raise ValueError(
        f"Task {task.name!r} of kind {task.kind!r} cannot be a hand-over source: only dense tasks "
        f"({', '.join(DENSE_KINDS)}) produce a map to pass on."
    )


def soft_map(task: TaskSpec, output: torch.Tensor) -> torch.Tensor:
    """The differentiable hand-over map of a dense task's raw output.

    segmentation: softmax probabilities without the background channel; landmarks: sigmoid of the
    heatmap logits; reconstruction: the reconstructed image itself.

    Args:
        task: the source task (dense).
        output: its raw output (B, K, *spatial).

    Returns:
        (B, :func:`guide_channels` (task), *spatial).
    """
    if task.kind == "segmentation":
        return torch.softmax(output, dim=1)[:, 1:]
    if task.kind == "landmarks":
        return torch.sigmoid(output)
    if task.kind == "reconstruction":
        return output
    raise ValueError(f"Task {task.name!r} of kind {task.kind!r} has no hand-over map; use a dense task as source.")


def pool_to(x: torch.Tensor, size: torch.Size | tuple[int, ...]) -> torch.Tensor:
    """Average-pool ``x`` (B, C, *spatial) to the spatial ``size`` (no-op when equal)."""
    if tuple(x.shape[2:]) == tuple(size):
        return x
    return F.interpolate(x, size=tuple(size), mode="area")


class DenseHead(nn.Module):
    """Dense output layer: decoder features at 1/2 resolution -> full-resolution map.

    A strided transposed ``Convolution`` (kernel 3, stride 2, no norm/activation), as the top
    layer of MONAI's ``UNet``. With ``guide_channels > 0`` a hand-over map (pooled to 1/2
    resolution) is concatenated to the features first.

    Args:
        spatial_dims: 2 or 3.
        in_channels: decoder feature channels.
        out_channels: output maps (classes, landmarks or image channels).
        guide_channels: channels of an optional guide map.
    """

    def __init__(self, spatial_dims: int, in_channels: int, out_channels: int, guide_channels: int = 0) -> None:
        super().__init__()
        self.guide_channels = guide_channels
        self.out = Convolution(
            spatial_dims,
            in_channels + guide_channels,
            out_channels,
            strides=2,
            kernel_size=3,
            is_transposed=True,
            conv_only=True,
        )

    def forward(self, features: torch.Tensor, guide: torch.Tensor | None = None) -> torch.Tensor:
        if self.guide_channels:
            if guide is None:
                raise ValueError("This DenseHead was built with guide_channels > 0 and needs a guide map.")
            features = torch.cat([features, pool_to(guide, features.shape[2:])], dim=1)
        return self.out(features)


class GlobalHead(nn.Module):
    """Image-level head: global average pooling + MLP (classification logits or regression values).

    With ``standardised=True`` (regression heads) the MLP predicts standardised values that the
    head maps back to the task's units, ``y = mlp(x) * out_scale + out_shift``. The two buffers
    (persistent, so checkpoints carry them) are set by :meth:`set_output_scaling` from the typical
    centre and spread of the targets. Without it a regression head starts at 0 while a cardiac LV
    area is ~2000 mm²: the first loss of such a task is about (centre / spread)², up to ~20 times
    a segmentation loss, and dominates the shared encoder early in training. This is what stalled
    the segmentation of the eye's multi-task networks before this was added (Kendall et al., CVPR 2018, discuss the
    same scale imbalance as the motivation for loss weighting).

    With ``guide_channels = G > 0`` the head is mask-guided: it also pools the features inside the
    guided region (average weighted by the sum of the guide channels, i.e. the soft foreground,
    pooled to the feature resolution) and appends a summary of the guide map:

    - ``guide_summary="area"`` (default): the area fraction of every guide channel (``G`` values);
      an optic disc covers about 2 % of a fundus image, so these inputs are small next to the
      pooled features;
    - ``guide_summary="composition"``: each channel's share of the soft foreground and the log10 of
      the foreground's area fraction (``G + 1`` values of order 1). For the eye the cup's share is
      cup / (rim + cup), the area analogue of the cup-to-disc ratio: the mask's geometry becomes
      readable by a head trained on few labels (the transfer lab measured why it matters,
      ``benchmarks/RESULTS.md``, "transfer");
    - ``guide_summary="mask_only"``: the composition values *alone*, no pooled image features — a
      classifier on the predicted mask, as in a cascade whose second stage reads only the first
      stage's result (the review's cascaded family; experiment D of the transfer lab).

    Args:
        in_channels: channels ``C`` of the feature map it pools.
        out_features: classes (classification) or values (regression).
        hidden: hidden units of the MLP.
        guide_channels: channels of an optional guide map (0 = plain pooling).
        guide_summary: ``"area"`` or ``"composition"`` (see above).
    """

    def __init__(
        self,
        in_channels: int,
        out_features: int,
        hidden: int = DEFAULT_HIDDEN,
        guide_channels: int = 0,
        standardised: bool = False,
        guide_summary: str = "area",
    ):
        super().__init__()
        if guide_summary not in GUIDE_SUMMARIES:
            raise ValueError(f"Unknown guide_summary {guide_summary!r}; allowed values are {GUIDE_SUMMARIES}.")
        self.guide_channels = guide_channels
        self.standardised = standardised
        self.guide_summary = guide_summary
        if guide_summary == "area" or not guide_channels:
            n_in = in_channels * (2 if guide_channels else 1) + guide_channels
        elif guide_summary == "composition":
            n_in = 2 * in_channels + guide_channels + 1
        else:
            n_in = guide_channels + 1
        self.mlp = FullyConnectedNet(n_in, out_features, [hidden])
        if standardised:
            self.register_buffer("out_shift", torch.zeros(out_features))
            self.register_buffer("out_scale", torch.ones(out_features))

    def set_output_scaling(self, shift: Sequence[float], scale: Sequence[float]) -> None:
        """Set the centre and spread the standardised outputs are mapped to (one value per output).

        Raises:
            ValueError: on a head built without ``standardised=True``, a length mismatch, a
                non-finite value or a non-positive scale.
        """
        if not self.standardised:
            raise ValueError(
                "This GlobalHead was built with standardised=False; output scaling is for regression heads."
            )
        shift_t = torch.as_tensor(np.asarray(shift, dtype=np.float32))
        scale_t = torch.as_tensor(np.asarray(scale, dtype=np.float32))
        n = self.out_shift.numel()
        if shift_t.shape != (n,) or scale_t.shape != (n,):
            raise ValueError(
                f"Output scaling needs {n} shift and {n} scale values, "
                f"got {tuple(shift_t.shape)} and {tuple(scale_t.shape)}."
            )
        if not (torch.isfinite(shift_t).all() and torch.isfinite(scale_t).all()) or bool((scale_t <= 0).any()):
            raise ValueError(
                "Output scaling must be finite with positive scales, "
                f"got shift={shift_t.tolist()} scale={scale_t.tolist()}."
            )
        self.out_shift.copy_(shift_t)
        self.out_scale.copy_(scale_t)

    def forward(self, features: torch.Tensor, guide: torch.Tensor | None = None) -> torch.Tensor:
        spatial = tuple(range(2, features.ndim))
        pooled = [features.mean(dim=spatial)]
        if self.guide_channels and self.guide_summary == "mask_only":
            if guide is None:
                raise ValueError("This GlobalHead was built with guide_channels > 0 and needs a guide map.")
            areas = guide.flatten(2).mean(-1)
            total = areas.sum(1, keepdim=True) + 1e-6
            pooled = [areas / total, torch.log10(total)]
        elif self.guide_channels:
            if guide is None:
                raise ValueError("This GlobalHead was built with guide_channels > 0 and needs a guide map.")
            weights = pool_to(guide, features.shape[2:]).clamp_min(0.0).sum(1, keepdim=True)  # (B, 1, *s)
            num = (features * weights).flatten(2).sum(-1)  # (B, C)
            den = weights.flatten(2).sum(-1) + 1e-6  # (B, 1)
            pooled.append(num / den)
            areas = guide.flatten(2).mean(-1)  # area fractions (B, G)
            if self.guide_summary == "composition":
                total = areas.sum(1, keepdim=True) + 1e-6
                pooled.append(areas / total)  # each channel's share of the soft foreground
                pooled.append(torch.log10(total))
            else:
                pooled.append(areas)
        out = self.mlp(torch.cat(pooled, dim=1))
        if self.standardised:
            out = out * self.out_scale.to(out.dtype) + self.out_shift.to(out.dtype)
        return out


class _ReverseGradient(torch.autograd.Function):
    """Identity forward; the gradient multiplied by ``-strength`` backward."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, strength: float) -> torch.Tensor:
        ctx.strength = strength
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return -ctx.strength * grad, None


#: how an adversarial head pushes the shared trunk: a gradient reversal, or a confusion objective.
ADVERSARIAL_OBJECTIVES: tuple[str, ...] = ("reversal", "confusion")


def confusion_loss(logits: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of a classifier's prediction against the uniform distribution, averaged over the batch.

    ``-(1/K) Σ_k log softmax(logits)_k``: at least ``log K``, reached when the prediction is uniform
    (the classifier is at chance). Minimised by the features rather than the classifier, it removes
    what the classifier reads — the *domain confusion* objective (Tzeng E. et al., ICCV 2015; Alvi M.
    et al., "Turning a blind eye", ECCV Workshops 2018). Unlike a gradient reversal it is bounded and
    its gradient vanishes at chance, so features that hide the target are not pushed further.
    """
    if logits.ndim != 2 or logits.shape[1] < 2:
        raise ValueError(f"confusion_loss expects (batch, classes >= 2) logits, got shape {tuple(logits.shape)}.")
    return -torch.log_softmax(logits.float(), dim=1).mean()


def reverse_gradient(x: torch.Tensor, strength: float = 1.0) -> torch.Tensor:
    """The gradient reversal layer: ``x`` unchanged forward, its gradient times ``-strength`` backward.

    A head that reads its features through it learns its task as usual, while the layers before it
    are pushed to make the task *impossible*: features from which the head cannot predict its
    target (domain-adversarial training; Ganin Y., Lempitsky V., "Unsupervised domain adaptation by
    backpropagation", ICML 2015; Ganin Y. et al., "Domain-adversarial training of neural networks",
    JMLR 17(59), 2016). In medical imaging it is used to make features invariant to the scanner or
    site; when the site also predicts the disease, the invariance removes disease information too
    (Zhao H. et al., "On learning invariant representations for domain adaptation", ICML 2019): the
    transfer lab's experiment B (:mod:`mtdl_kit.lab.adversarial`).

    Raises:
        ValueError: ``strength`` is negative or not finite.
    """
    number = isinstance(strength, (int, float)) and not isinstance(strength, bool)
    if not number or not 0.0 <= strength < float("inf"):
        raise ValueError(f"The gradient reversal strength must be a finite number >= 0, got {strength!r}.")
    return _ReverseGradient.apply(x, float(strength))


def make_head(
    task: TaskSpec,
    spatial_dims: int,
    width: int,
    *,
    hidden: int = DEFAULT_HIDDEN,
    guide_channels: int = 0,
    guide_summary: str = "area",
) -> nn.Module:
    """Build the head of ``task`` for a backbone of ``width``.

    Dense heads read decoder features (``width`` channels at 1/2 resolution); global heads read the
    encoder's deepest features (``8 * width`` channels at 1/16 resolution).

    Raises:
        ValueError: for a task kind the heads do not support (the message lists the kinds).
    """
    check_task(task)
    if is_dense(task):
        return DenseHead(spatial_dims, width, task.num_outputs, guide_channels)
    return GlobalHead(
        8 * width,
        task.num_outputs,
        hidden,
        guide_channels,
        standardised=task.kind == "regression",
        guide_summary=guide_summary,
    )


def check_task(task: object) -> None:
    """Validate a task object (a :class:`TaskSpec` or anything with the same fields).

    Raises:
        ValueError: if the kind is unknown or the fields are missing or invalid.
    """
    for attr in ("name", "kind", "num_outputs"):
        if not hasattr(task, attr):
            raise ValueError(
                f"Expected a TaskSpec (with name, kind, num_outputs), got {type(task).__name__}: {task!r}. "
                "Use region.tasks or mtdl_kit.regions.TaskSpec(...)."
            )
    kind = task.kind  # type: ignore[attr-defined]
    name = task.name  # type: ignore[attr-defined]
    if kind not in SUPPORTED_KINDS:
        raise ValueError(
            f"Task {name!r} has unknown kind {kind!r}; the models support {SUPPORTED_KINDS}. "
            "Express detection as landmarks (heatmaps) or segmentation."
        )
    n = task.num_outputs  # type: ignore[attr-defined]
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"Task {name!r}: num_outputs must be a positive integer, got {n!r}.")
    if kind in ("segmentation", "classification") and n < 2:
        raise ValueError(f"Task {name!r}: a {kind} task needs num_outputs >= 2 classes, got {n}.")
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"Task name {name!r} must be a Python identifier.")
