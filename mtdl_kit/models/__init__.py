"""The review's four architecture families on one interface, built from MONAI blocks.

Zhao et al., "Multi-task deep learning for medical image computing and analysis: A review",
Comput. Biol. Med. 153:106496 (2023), Fig. 1: **cascaded** (no shared layers, one task's result is
the next task's input), **parallel** (hard parameter sharing), **interacted** (task branches
exchanging features) and **hybrid** (shared trunk + a task's result fed into another branch), plus
the **single**-task baseline. Build any of them for any region's tasks with :func:`build_model`
or :func:`build_for_region`; every model is a :class:`MultiTaskNet` with ``forward(x) ->
{task: output}``, ``shared_parameters()``, ``task_parameters(name)``,
``forward_with_features(x)`` and ``describe()``.

Importing this package imports torch and MONAI (``import mtdl_kit`` alone does not).
"""

from mtdl_kit.models.backbone import TOTAL_STRIDE, Encoder, UNetDecoder
from mtdl_kit.models.base import Block, Link, MultiTaskNet
from mtdl_kit.models.build import (
    DEFAULT_WIDTH,
    FAMILIES,
    MULTI_TASK_FAMILIES,
    build_baselines,
    build_for_region,
    build_model,
)
from mtdl_kit.models.cascaded import CASCADE_MODES, CascadedNet
from mtdl_kit.models.describe import Edge, ModelDescription, Node
from mtdl_kit.models.heads import DenseHead, GlobalHead, guide_channels, soft_map
from mtdl_kit.models.hybrid import HybridNet
from mtdl_kit.models.interacted import INTERACTIONS, CrossStitch, CrossTaskAttention, InteractedNet
from mtdl_kit.models.parallel import DENSE_DECODERS, ParallelNet
from mtdl_kit.models.single import SingleTaskNet

__all__ = [
    "CASCADE_MODES",
    "DEFAULT_WIDTH",
    "DENSE_DECODERS",
    "FAMILIES",
    "INTERACTIONS",
    "MULTI_TASK_FAMILIES",
    "TOTAL_STRIDE",
    "Block",
    "CascadedNet",
    "CrossStitch",
    "CrossTaskAttention",
    "DenseHead",
    "Edge",
    "Encoder",
    "GlobalHead",
    "HybridNet",
    "InteractedNet",
    "Link",
    "ModelDescription",
    "MultiTaskNet",
    "Node",
    "ParallelNet",
    "SingleTaskNet",
    "UNetDecoder",
    "build_baselines",
    "build_for_region",
    "build_model",
    "guide_channels",
    "soft_map",
]
