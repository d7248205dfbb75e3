"""The review's four architecture families on one interface, built from MONAI blocks.

Zhao et al., "Multi-task deep learning for medical image computing and analysis: A review",
Comput. Biol. Med. 153:106496 (2023), Fig. 1: **cascaded** (no shared layers, one task's result is
the next task's input), **parallel** (hard parameter sharing), **interacted** (task branches
exchanging features) and **hybrid** (shared trunk + a task's result fed into another branch), plus
the **single**-task baseline. Build any of them for any region's tasks with :func:`build_model`
or :func:`build_for_region`; every model is a :class:`MultiTaskNet` with ``forward(x) ->
{task: output}``, ``shared_parameters()``, ``task_parameters(name)``,
``forward_with_features(x)`` and ``describe()``.

Importing a name from this package imports only the submodule that defines it (PEP 562 lazy
loading, as scientific-python SPEC 1): ``from mtdl_kit.models import FAMILIES`` stays free of torch,
``build_model`` brings torch and MONAI.
"""

from __future__ import annotations

from mtdl_kit.lazy import attach

#: public name -> submodule of :mod:`mtdl_kit.models` that defines it.
_SUBMODULE_OF: dict[str, str] = {
    "Block": "base",
    "CASCADE_MODES": "cascaded",
    "CascadedNet": "cascaded",
    "CrossStitch": "interacted",
    "CrossTaskAttention": "interacted",
    "DEFAULT_WIDTH": "build",
    "DENSE_DECODERS": "parallel",
    "DenseHead": "heads",
    "Edge": "describe",
    "Encoder": "backbone",
    "FAMILIES": "families",
    "GlobalHead": "heads",
    "HybridNet": "hybrid",
    "INTERACTIONS": "interacted",
    "InteractedNet": "interacted",
    "Link": "base",
    "MULTI_TASK_FAMILIES": "families",
    "ModelDescription": "describe",
    "MultiTaskNet": "base",
    "Node": "describe",
    "ParallelNet": "parallel",
    "SingleTaskNet": "single",
    "TOTAL_STRIDE": "backbone",
    "UNetDecoder": "backbone",
    "build_baselines": "build",
    "build_for_region": "build",
    "build_model": "build",
    "guide_channels": "heads",
    "soft_map": "heads",
}

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

__getattr__, __dir__ = attach(__name__, _SUBMODULE_OF, __all__)
