"""Cascaded family: no shared layers; one task's result is the next task's input.

**Definition (the review's Fig. 1, in our words).** Each task has its own network and no layer is
shared. The network of a source task A runs first; its result (a mask, a probability map, a
region of interest, a synthesised image) becomes an input of task B's network — detect then
classify, synthesise then segment.

**Wiring here.** One network per task, each an :class:`~mtdl_kit.models.backbone.Encoder` (+ a
U-Net decoder for dense tasks) + the task's head. The source network (``source=``; default: the
first dense task) sees the image; its :func:`~mtdl_kit.models.heads.soft_map` (softmax
probabilities without background, sigmoid heatmaps, or the reconstructed image) is concatenated
to the image as extra input channels of every other task's network. (Cropping a region of interest
from the source mask is the other classic hand-over; it is not implemented here.)

**Inference.** The source network runs first, alone; the downstream networks all read the same
image + soft map, so in inference (``eval()``, autograd off) they run side by side as grouped
columns, one grouped convolution per layer (:mod:`mtdl_kit.models.grouped`). Each downstream
network still sees only its own features: the result equals running them one by one.

**Training modes and what they cost.**

* ``cascade_mode="end_to_end"`` (default): the soft map is differentiable, so the downstream
  losses also train the source network (through the hand-over). One optimiser, one backward of
  the (weighted) sum of losses. Cost: the source network is pulled towards whatever helps the
  downstream tasks, which may hurt its own task; early in training the downstream networks learn
  from poor maps.
* ``cascade_mode="two_stage"``: the soft map is ``.detach()``-ed, so no downstream gradient
  reaches the source network. Recipe: (1) train the source network alone on its loss
  (optimiser over ``model.stage_parameters(1)``); (2) freeze it (``requires_grad_(False)``,
  ``eval()``) and train the other networks on its predictions (``model.stage_parameters(2)``).
  Training all losses jointly is also valid in this mode (the gradients stay separate) but the
  downstream networks then chase a moving input. Cost: **error propagation** — stage 2 learns on
  stage-1 *predictions*, and a wrong mask at test time (missed lesion, leaked boundary) is passed
  on with no chance of correction; stage 2 cannot help stage 1.

**Parameters and gradient methods.** Nothing is shared: ``shared_parameters()`` is empty and
``forward_with_features`` returns no shared features, so Jacobian-based gradient methods (MGDA,
PCGrad, UPGrad, ...) have nothing to aggregate and must fall back to a weighted sum of the losses
(loss weighting still applies). In ``end_to_end`` mode the downstream losses do reach the source
network; see :meth:`~mtdl_kit.models.base.MultiTaskNet.dependent_parameters`.

**Parameter matching.** T networks at the nominal width would have about T times the parameters
of a parallel network, so by default every sub-network uses a reduced ``sub_width`` chosen so that
the total matches the parallel network of the same tasks at the same width (``match_params=True``
in :func:`~mtdl_kit.models.build_model`).

**Pros.** Simple and modular: stages can be developed, swapped and validated one at a time; an
explicit prior (where to look). **Cons.** Errors accumulate along the cascade; more parameters or
narrower networks; end-to-end training is delicate; task B cannot help task A. The review's
abstract notes that the ISLES 2018 top entry, a cascaded model, still reached only Dice 0.51.

**Representative networks.**

* Wang G. et al. "Automatic ischemic stroke lesion segmentation from computed tomography perfusion
  images by image synthesis and attention-based deep neural networks." Med. Image Anal., 2020;
  arXiv:2007.03294 — CTP features -> synthesised pseudo-DWI -> lesion
  segmentation (ISLES 2018).
* Ozdemir O., Russell R.L., Berlin A.A. "A 3D probabilistic deep learning system for detection and
  diagnosis of lung cancer using low-dose CT scans." IEEE Trans. Med. Imaging, 2020;
  arXiv:1902.03233 — nodule detection -> malignancy classification.

Reference: Zhao et al., Comput. Biol. Med. 153:106496, 2023, Fig. 1.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import ClassVar

import torch
from torch import nn

from mtdl_kit.models.backbone import Encoder, UNetDecoder
from mtdl_kit.models.base import Block, Link, MultiTaskNet, module_key
from mtdl_kit.models.grouped import (
    GroupedDecoder,
    GroupedEncoder,
    GroupedInference,
    clear_grouped_cache,
    select_columns,
    split_columns,
)
from mtdl_kit.models.heads import DEFAULT_HIDDEN, guide_channels, is_dense, make_head, soft_map
from mtdl_kit.regions.base import TaskSpec

CASCADE_MODES: tuple[str, ...] = ("end_to_end", "two_stage")


class _GroupedCascade:
    """The source network, then the downstream networks as grouped columns (:mod:`mtdl_kit.models.grouped`)."""

    def __init__(self, net: CascadedNet) -> None:
        src = module_key(net.source)
        # the source network: one column, run by the same functional runner (no module overhead)
        self.source_encoder = GroupedEncoder([net.encoders[src]], shared_input=True)
        self.source_decoder = GroupedDecoder([net.decoders[src]])
        self.tasks = [t for t in net.tasks if t.name != net.source]
        keys = [module_key(t.name) for t in self.tasks]
        # every downstream network reads the same image + hand-over map: stage 1 fans out
        self.encoder = GroupedEncoder([net.encoders[k] for k in keys], shared_input=True)
        self.dense = [i for i, t in enumerate(self.tasks) if is_dense(t)]
        dense_keys = [keys[i] for i in self.dense]
        self.decoder = GroupedDecoder([net.decoders[k] for k in dense_keys]) if dense_keys else None


class CascadedNet(GroupedInference, MultiTaskNet):
    """The cascaded family: one network per task; the source's soft map is an input of the others.

    Build it with :func:`mtdl_kit.models.build_model` (``family="cascaded"``).

    In inference (``eval()``, autograd off) the downstream networks, which all read the same image
    + hand-over map, run as grouped columns (one grouped convolution per layer,
    :mod:`mtdl_kit.models.grouped`) after the source network; the outputs equal those of the
    per-task modules to float rounding. The parameters stay in the per-task modules.

    Args:
        tasks: enabled tasks (>= 2, one of them the dense ``source``).
        in_channels: image channels.
        width: the nominal width (recorded; the networks use ``sub_width``).
        sub_width: width of every task network.
        source: the source task (dense).
        cascade_mode: ``"end_to_end"`` (differentiable hand-over) or ``"two_stage"`` (detached).
        spatial_dims: 2 or 3.
        hidden: hidden units of the global heads' MLP.
        norm: MONAI normalisation name.
        act: MONAI activation name.
        region: optional region name (error messages).
    """

    family: ClassVar[str] = "cascaded"
    summary: ClassVar[str] = "No shared layers: the source task's result is an input of the other tasks' networks."

    def __init__(
        self,
        tasks: Sequence[TaskSpec],
        in_channels: int,
        *,
        width: int,
        sub_width: int,
        source: str,
        cascade_mode: str = "end_to_end",
        spatial_dims: int = 2,
        hidden: int = DEFAULT_HIDDEN,
        norm: str = "instance",
        act: str = "prelu",
        region: str | None = None,
    ) -> None:
        super().__init__(tasks, in_channels, spatial_dims=spatial_dims, width=width, region=region)
        self.source = source
        self.cascade_mode = cascade_mode
        self.sub_width = sub_width
        self.hidden = hidden
        src = next(t for t in self.tasks if t.name == source)
        self._source_task = src
        g = guide_channels(src)
        self.encoders = nn.ModuleDict()
        self.decoders = nn.ModuleDict()
        self.heads = nn.ModuleDict()
        for t in self.tasks:
            key = module_key(t.name)
            cin = in_channels if t.name == source else in_channels + g
            self.encoders[key] = Encoder(spatial_dims, cin, sub_width, norm=norm, act=act)
            if is_dense(t):
                self.decoders[key] = UNetDecoder(spatial_dims, sub_width, norm=norm, act=act)
            self.heads[key] = make_head(t, spatial_dims, sub_width, hidden=hidden)
        self._blocks = self._make_blocks()
        self.register_load_state_dict_post_hook(clear_grouped_cache)

    def _make_blocks(self) -> list[Block]:
        blocks = []
        detached = self.cascade_mode == "two_stage"
        order = [self._source_task] + [t for t in self.tasks if t.name != self.source]
        for row, t in enumerate(order):
            key = module_key(t.name)
            y = -float(row)
            x0 = 0.0 if t.name == self.source else 6.0  # downstream networks run after the source
            first: tuple[Link, ...] = (Link("input"),)
            if t.name != self.source:
                first += (Link(f"heads.{module_key(self.source)}", "handover", detached, "soft map"),)
            prev = first
            for k in range(4):
                name = f"encoders.{key}.stages.{k}"
                label = f"{t.name} enc {k + 1}"
                blocks.append(Block(name, label, t.name, t.name, (x0 + k + 1.0, y), prev))
                prev = (Link(name),)
            if is_dense(t):
                skips = tuple(Link(f"encoders.{key}.stages.{k}", "skip") for k in (2, 1, 0))
                blocks.append(
                    Block(f"decoders.{key}", f"decoder {t.name}", t.name, t.name, (x0 + 5.0, y), prev + skips)
                )
                prev = (Link(f"decoders.{key}"),)
            x = x0 + (6.0 if is_dense(t) else 5.0)
            blocks.append(Block(f"heads.{key}", f"{t.kind} head {t.name}", t.name, t.name, (x, y), prev, emits=t.name))
        return blocks

    def _task_forward(self, task: TaskSpec, x: torch.Tensor) -> torch.Tensor:
        key = module_key(task.name)
        feats = self.encoders[key](x)
        if is_dense(task):
            return self.heads[key](self.decoders[key](feats))
        return self.heads[key](feats[3])

    def handover(self, source_output: torch.Tensor) -> torch.Tensor:
        """The map passed to the downstream networks (detached in ``two_stage`` mode)."""
        guide = soft_map(self._source_task, source_output)
        return guide.detach() if self.cascade_mode == "two_stage" else guide

    def _build_grouped(self) -> _GroupedCascade:
        return _GroupedCascade(self)

    def _run(self, x: torch.Tensor) -> tuple[dict[str, torch.Tensor], tuple[torch.Tensor, ...]]:
        grouped = self._grouped_runner()
        if grouped is not None:
            return self._run_grouped(grouped, x), ()
        src_out = self._task_forward(self._source_task, x)
        x2 = torch.cat([x, self.handover(src_out)], dim=1)
        outputs = {}
        for t in self.tasks:
            outputs[t.name] = src_out if t.name == self.source else self._task_forward(t, x2)
        return outputs, ()

    def _run_grouped(self, g: _GroupedCascade, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The source network, then the downstream networks as grouped columns on image + hand-over map."""
        src_out = self.heads[module_key(self.source)](g.source_decoder(g.source_encoder(x)))
        x2 = torch.cat([x, self.handover(src_out)], dim=1)
        n = len(g.tasks)
        feats = g.encoder(x2)
        deep = split_columns(feats[3], n)
        dense_maps: tuple[torch.Tensor, ...] = ()
        if g.decoder is not None:
            dense_maps = split_columns(g.decoder([select_columns(f, n, g.dense) for f in feats]), len(g.dense))
        found = {self.source: src_out}
        for i, t in enumerate(g.tasks):
            head = self.heads[module_key(t.name)]
            found[t.name] = head(dense_maps[g.dense.index(i)].contiguous()) if is_dense(t) else head(deep[i])
        return {t.name: found[t.name] for t in self.tasks}

    def stage_parameters(self, stage: int) -> Iterator[nn.Parameter]:
        """Stage 1: the source network; stage 2: every other network (for two-stage training).

        Raises:
            ValueError: if ``stage`` is not 1 or 2.
        """
        if stage == 1:
            yield from self.task_parameters(self.source)
        elif stage == 2:
            for t in self.tasks:
                if t.name != self.source:
                    yield from self.task_parameters(t.name)
        else:
            raise ValueError(f"stage must be 1 (source network) or 2 (downstream networks), got {stage!r}.")
