"""Hybrid family: a shared trunk with task branches, plus one task's result fed into the others.

**Definition (the review's Fig. 1, in our words).** Parallel and cascaded at once: the tasks share
a feature extractor and split into task branches (as in the parallel family), and in addition the
*result* of a source task — here the soft mask of a segmentation, the heatmaps of a landmark task or
a reconstruction — is passed into the branches of the other tasks (as in the cascaded family).

**Wiring here.** The trunk is the parallel family's (shared encoder + dense decoder trunk, see
:mod:`mtdl_kit.models.parallel`). The source task (``source=``; default: the first dense task)
is computed first; its :func:`~mtdl_kit.models.heads.soft_map` becomes the guide map:

* classification / regression branches are *mask-guided* heads: they pool the deepest features
  inside the soft foreground and see the area fraction of each guide channel (e.g. rim and cup
  areas for the cup-to-disc ratio), besides global average pooling — MB-DCNN's mask-guided classification and
  Chakravarty & Sivaswamy's segmentation-informed glaucoma classifier;
* other dense branches concatenate the guide to their decoder features (AMTA-Net-style priors).

``cascade_mode="end_to_end"`` (default) keeps the hand-over differentiable: the classification loss
also trains the source branch and, through it, the trunk. ``"two_stage"`` detaches it: train the
source task first, then the guided branches (MB-DCNN trains its sub-networks stage by stage).

**Pros.** Combines shared features with an explicit, interpretable prior (where to look, what to
measure); the guided heads are small. **Cons.** The most complex family; a poor source result
misleads the guided branches (error propagation, as in cascades); staged or alternating training
is often needed; the source must be a dense task.

**Representative networks.**

* Xie Y., Zhang J., Xia Y., Shen C. "A mutual bootstrapping model for automated skin lesion
  segmentation and classification" (MB-DCNN). IEEE Trans. Med. Imaging 39(7), 2020;
  arXiv:1903.03313 — coarse segmentation -> mask-guided classification -> enhanced segmentation.
* Chakravarty A., Sivaswamy J. "A deep learning based joint segmentation and classification
  framework for glaucoma assessment in retinal color fundus images." arXiv:1808.01355, 2018 —
  optic disc/cup segmentation feeding the glaucoma classifier on a shared network.

Reference: Zhao et al., Comput. Biol. Med. 153:106496, 2023, Fig. 1.
"""

from __future__ import annotations

from typing import ClassVar

from mtdl_kit.models.parallel import SharedTrunkNet


class HybridNet(SharedTrunkNet):
    """The hybrid family: parallel trunk + the source task's soft map guiding the other branches.

    Build it with :func:`mtdl_kit.models.build_model` (``family="hybrid"``); the constructor
    arguments are those of :class:`~mtdl_kit.models.parallel.SharedTrunkNet` with ``source`` set.
    """

    family: ClassVar[str] = "hybrid"
    summary: ClassVar[str] = (
        "Shared trunk with task branches, and the source task's soft map fed into the other branches."
    )
