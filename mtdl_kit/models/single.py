"""Single-task baseline: one task on the same backbone as the multi-task families.

The reference every multi-task result is compared with (the review's "performance gaps" and the
relative gain Δm are measured against it). Same encoder, same decoder (for dense tasks) and same
head as the parallel family, with only one task: ``parallel`` with one task and ``single`` build
the same layers. Nothing is shared, so :meth:`shared_parameters` is empty and every parameter
belongs to the task.

**Capacity.** At the same ``width`` a single-task network of a classification task has no decoder
and is smaller than a multi-task network that also segments. ``build_model("single", [task], ...,
capacity_of=region.tasks)`` (or :func:`mtdl_kit.models.build_baselines`) re-sizes its width and MLP
so that its parameter count matches the parallel network of the whole task set: the comparison
then isolates sharing, not capacity. Without ``capacity_of`` the baseline keeps the nominal width
(the usual "same backbone per task" baseline, T networks for T tasks).

Reference: Zhao et al., Comput. Biol. Med. 153:106496, 2023.
"""

from __future__ import annotations

from typing import ClassVar

import torch

from mtdl_kit.models.parallel import SharedTrunkNet


class SingleTaskNet(SharedTrunkNet):
    """One task on the shared-trunk backbone (encoder [+ decoder] + head), nothing shared.

    Build it with :func:`mtdl_kit.models.build_model` (``family="single"``).
    """

    family: ClassVar[str] = "single"
    summary: ClassVar[str] = "Single-task baseline: one task on the same encoder/decoder/head backbone."

    def _owner(self, default: str) -> str:
        return self.tasks[0].name

    def _features(self, exposed: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        return ()
