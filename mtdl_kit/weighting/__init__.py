"""Loss weighting and gradient aggregation for multi-task training, behind one registry.

>>> from mtdl_kit.weighting import build_weighting, available_weightings, WEIGHTING_INFO
>>> available_weightings()[:6]
('ew', 'fixed', 'uw', 'dwa', 'rlw', 'gradnorm')
>>> w = build_weighting("ew", ["seg", "cls"], model=None)
>>> w.needs
'losses'

In a training step (the trainer does this)::

    outputs, features = model.forward_with_features(x)
    losses = {t: loss_fn[t](outputs[t], y[t]) for t in tasks}
    optimizer.zero_grad()
    weights = weighting.backward(losses, features=features)   # fills .grad, returns {task: weight}
    optimizer.step()
    ...
    weighting.end_epoch(mean_losses)                           # DWA uses it; no-op otherwise

``weighting.parameters()`` holds learnable weighting parameters (uncertainty weighting's
log-variances) to add to the optimizer; GradNorm updates its weights itself.

Loss-based (one backward pass): ``ew``, ``fixed``, ``uw``, ``dwa``, ``rlw``, and ``gradnorm`` (which
also reads gradient norms on the last shared layer). Gradient aggregation through TorchJD
(:mod:`.gradient` holds what the methods share, :mod:`.aggregators` the methods), at the shared
parameters or the shared features: ``upgrad``, ``mgda``, ``pcgrad``, ``cagrad``, ``imtl_g``,
``aligned_mtl``, ``nash_mtl``. See :data:`WEIGHTING_INFO` for the table.
"""

from mtdl_kit.weighting.base import LEVELS, Weighting, WeightingInfo
from mtdl_kit.weighting.registry import (
    WEIGHTING_INFO,
    accepted_options,
    available_weightings,
    build_aggregator,
    build_weighting,
    register,
    weighting_class,
)

# Importing the method modules registers them (order = display order: loss-based first).
from mtdl_kit.weighting.loss_based import (  # isort: skip
    DynamicWeightAverage,
    EqualWeighting,
    FixedWeighting,
    RandomLossWeighting,
    UncertaintyWeighting,
    dwa_weights,
)
from mtdl_kit.weighting.gradnorm import GradNorm, gradnorm_loss, gradnorm_weight_gradient  # isort: skip
from mtdl_kit.weighting.gradient import GradientWeighting  # isort: skip
from mtdl_kit.weighting.aggregators import (  # isort: skip
    AlignedMTLAggregation,
    CAGradAggregation,
    IMTLGAggregation,
    MGDAAggregation,
    NashMTLAggregation,
    PCGradAggregation,
    UPGradAggregation,
)

__all__ = [
    "LEVELS",
    "WEIGHTING_INFO",
    "AlignedMTLAggregation",
    "CAGradAggregation",
    "DynamicWeightAverage",
    "EqualWeighting",
    "FixedWeighting",
    "GradNorm",
    "GradientWeighting",
    "IMTLGAggregation",
    "MGDAAggregation",
    "NashMTLAggregation",
    "PCGradAggregation",
    "RandomLossWeighting",
    "UPGradAggregation",
    "UncertaintyWeighting",
    "Weighting",
    "WeightingInfo",
    "accepted_options",
    "available_weightings",
    "build_aggregator",
    "build_weighting",
    "dwa_weights",
    "gradnorm_loss",
    "gradnorm_weight_gradient",
    "register",
    "weighting_class",
]
