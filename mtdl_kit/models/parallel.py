"""Parallel family: hard parameter sharing — one shared trunk, one branch per task.

**Definition (the review's Fig. 1, in our words).** All tasks read the same image through one
shared feature extractor; the network then splits into side-by-side task-specific branches, one
per task, and no branch sees another branch's output. Here: a shared residual encoder
(:class:`~mtdl_kit.models.backbone.Encoder`); classification and regression branches are global
pooling + MLP heads on the deepest features; dense tasks (segmentation, landmark heatmaps,
reconstruction) are read from a U-Net decoder with skip connections.

**Several dense tasks: shared decoder trunk (default) or per-task decoders.** With
``dense_decoder="shared"`` the dense tasks share one U-Net decoder and own only their output
layer; with ``"per_task"`` every dense task gets its own decoder (the HoVer-Net / DCAN layout).
The default is ``"shared"`` because (1) it is the purest form of hard parameter sharing, so the
parallel family shows negative transfer between dense tasks most clearly, leaving the task-specific
alternatives to the interacted and hybrid families; (2) a region's dense tasks are aligned maps of
the same anatomy (disc and cup, nuclei and their contours), whose common computation is the
decoder; (3) the CPU cost stays flat in the number of dense tasks: each extra decoder costs about
17 ms per training step of 8 images of 128x128 on two threads, so already two per-task decoders
(brain, musculoskeletal) break the 60 ms budget (measured in ``benchmarks/results_models.md``).
With a single dense task the decoder serves only that task, so it is owned by it (not shared) —
gradient methods then aggregate only over parameters several tasks really use.

**Pros.** Cheapest family in parameters and compute; tasks regularise each other through the
shared representation; trivial to extend with a task (add a head).
**Cons.** Negative transfer when tasks want different features; the loss balance matters (see
``mtdl_kit.weighting``); task-specific nuance can be lost in the shared trunk.

**Representative networks.**

* Myronenko A. "3D MRI brain tumor segmentation using autoencoder regularization." BrainLes
  2018 (MICCAI workshop), LNCS 11384, 2019; arXiv:1810.11654 — shared encoder, segmentation
  decoder + VAE reconstruction branch (MONAI ``SegResNetVAE``).
* Graham S. et al. "HoVer-Net: Simultaneous segmentation and classification of nuclei in
  multi-tissue histology images." Med. Image Anal. 58:101563, 2019; arXiv:1812.06499 — shared
  encoder, three dense decoders.

Reference: Zhao et al., "Multi-task deep learning for medical image computing and analysis: A
review", Comput. Biol. Med. 153:106496, 2023, Fig. 1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

import torch
from torch import nn

from mtdl_kit.models.backbone import Encoder, UNetDecoder
from mtdl_kit.models.base import Block, Link, MultiTaskNet, expose, module_key
from mtdl_kit.models.heads import (
    ADVERSARIAL_OBJECTIVES,
    DEFAULT_HIDDEN,
    confusion_loss,
    guide_channels,
    is_dense,
    make_head,
    reverse_gradient,
    soft_map,
)
from mtdl_kit.regions.base import TaskSpec

DENSE_DECODERS: tuple[str, ...] = ("shared", "per_task")


def check_adversarial(tasks: Sequence[TaskSpec], adversarial: Mapping[str, float] | None) -> dict[str, float]:
    """``{task: strength}`` of the tasks whose heads read the trunk through a gradient reversal, checked.

    Raises:
        ValueError: a name that is not one of ``tasks``, a dense task (only global heads read the
            pooled trunk features), a strength that is not a positive finite number, or every task
            adversarial (nothing would learn the image).
    """
    if not adversarial:
        return {}
    by_name = {t.name: t for t in tasks}
    out = {}
    for name, strength in dict(adversarial).items():
        if name not in by_name:
            raise ValueError(f"adversarial task {name!r} is not one of the network's tasks {tuple(by_name)}.")
        if is_dense(by_name[name]):
            raise ValueError(
                f"adversarial task {name!r} is a {by_name[name].kind} task; only classification and regression "
                "heads can read the trunk through a gradient reversal."
            )
        if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not 0 < strength < float("inf"):
            raise ValueError(f"adversarial strength of {name!r} must be a positive finite number, got {strength!r}.")
        out[name] = float(strength)
    if len(out) == len(by_name):
        raise ValueError("Every task is adversarial: at least one task must learn from the image as usual.")
    return out


class SharedTrunkNet(MultiTaskNet):
    """Shared encoder (+ dense decoder trunk) with task heads; optionally a hand-over (hybrid).

    The common implementation of the parallel, hybrid and single-task networks.

    Args:
        tasks: enabled tasks.
        in_channels: image channels.
        width: encoder width (``width * (1, 2, 4, 8)`` channels).
        spatial_dims: 2 or 3.
        hidden: hidden units of the global heads' MLP.
        dense_decoder: ``"shared"`` (one decoder trunk for all dense tasks) or ``"per_task"``.
        source: name of the hand-over source task (hybrid) or ``None`` (parallel, single).
        detach_handover: cut the gradient of the hand-over (``cascade_mode="two_stage"``).
        norm: MONAI normalisation name.
        act: MONAI activation name.
        region: optional region name (error messages).
        guide_summary: hybrid: what the mask-guided heads read of the guide map.
        adversarial: ``{task: strength}``: these global tasks' heads learn their task while the trunk
            is pushed to hide it (domain-adversarial training, Ganin & Lempitsky 2015).
        adversarial_objective: how the trunk is pushed (:data:`~mtdl_kit.models.heads.ADVERSARIAL_OBJECTIVES`):
            ``"reversal"`` — the head reads the trunk through a gradient reversal
            (:func:`~mtdl_kit.models.heads.reverse_gradient`); ``"confusion"`` — the head learns its task
            on detached features, and the trunk minimises ``strength`` × the cross-entropy of the
            head's prediction against the uniform distribution
            (:func:`~mtdl_kit.models.heads.confusion_loss`), a bounded objective that vanishes once the
            head is at chance. The confusion term is added to the task's training loss by
            :func:`~mtdl_kit.train.fit` (:meth:`take_regularisers`).
    """

    family: ClassVar[str] = "parallel"
    summary: ClassVar[str] = "Hard parameter sharing: one shared encoder, one branch per task."

    def __init__(
        self,
        tasks: Sequence[TaskSpec],
        in_channels: int,
        *,
        width: int,
        spatial_dims: int = 2,
        hidden: int = DEFAULT_HIDDEN,
        dense_decoder: str = "shared",
        source: str | None = None,
        detach_handover: bool = False,
        norm: str = "instance",
        act: str = "prelu",
        region: str | None = None,
        guide_summary: str = "area",
        adversarial: Mapping[str, float] | None = None,
        adversarial_objective: str = "reversal",
    ) -> None:
        super().__init__(tasks, in_channels, spatial_dims=spatial_dims, width=width, region=region)
        self.adversarial = check_adversarial(self.tasks, adversarial)
        if adversarial_objective not in ADVERSARIAL_OBJECTIVES:
            raise ValueError(
                f"Unknown adversarial_objective {adversarial_objective!r}; allowed values are {ADVERSARIAL_OBJECTIVES}."
            )
        self.adversarial_objective = adversarial_objective
        self.dense_decoder = dense_decoder
        self.source = source
        self.detach_handover = detach_handover
        self.hidden = hidden
        src_task = next((t for t in self.tasks if t.name == source), None)
        g = guide_channels(src_task) if src_task is not None else 0
        self.encoder = Encoder(spatial_dims, in_channels, width, norm=norm, act=act)
        dense = [t for t in self.tasks if is_dense(t)]
        self.decoder: nn.Module | None = None
        self.decoders = nn.ModuleDict()
        # A "shared" decoder serving a single dense task would be that task's own decoder: own it as
        # such, so gradient methods and conflict analysis see only parameters several tasks use.
        if dense and dense_decoder == "shared" and len(dense) > 1:
            self.decoder = UNetDecoder(spatial_dims, width, norm=norm, act=act)
        elif dense:
            for t in dense:
                self.decoders[module_key(t.name)] = UNetDecoder(spatial_dims, width, norm=norm, act=act)
        self.heads = nn.ModuleDict()
        for t in self.tasks:
            guided = g if (source is not None and t.name != source) else 0
            self.heads[module_key(t.name)] = make_head(
                t, spatial_dims, width, hidden=hidden, guide_channels=guided, guide_summary=guide_summary
            )
        self._blocks = self._make_blocks()

    # ------------------------------------------------------------------------------------ wiring
    def _owner(self, default: str) -> str:
        """Owner of trunk blocks: ``"shared"`` (the single-task net overrides this)."""
        return default

    def _make_blocks(self) -> list[Block]:
        trunk = self._owner("shared")
        blocks = []
        prev = "input"
        for k in range(4):
            name = f"encoder.stages.{k}"
            blocks.append(Block(name, f"enc {k + 1} (1/{2 ** (k + 1)})", trunk, None, (k + 1.0, 0.0), (Link(prev),)))
            prev = name
        skips = tuple(Link(f"encoder.stages.{k}", "skip") for k in (2, 1, 0))
        if self.decoder is not None:
            blocks.append(
                Block("decoder", "U-Net decoder", trunk, None, (5.0, 0.0), (Link("encoder.stages.3"), *skips))
            )
        handover: tuple[Link, ...] = ()
        if self.source is not None:
            handover = (Link(f"heads.{module_key(self.source)}", "handover", self.detach_handover, "soft map"),)
        for row, t in enumerate(self.tasks, start=1):
            key = module_key(t.name)
            y = -float(row)
            extra = handover if t.name != self.source else ()
            if is_dense(t):
                if self.decoder is not None:
                    head_in: tuple[Link, ...] = (Link("decoder"),)
                else:
                    blocks.append(
                        Block(
                            f"decoders.{key}",
                            f"decoder {t.name}",
                            t.name,
                            t.name,
                            (5.0, y),
                            (Link("encoder.stages.3"), *skips),
                        )
                    )
                    head_in = (Link(f"decoders.{key}"),)
                label = f"{'guided ' if extra else ''}{t.kind} head {t.name}"
                x = 7.6 if extra else 6.0
                blocks.append(Block(f"heads.{key}", label, t.name, t.name, (x, y), head_in + extra, emits=t.name))
            else:
                label = f"{'guided ' if extra else ''}{t.kind} head {t.name}"
                deep = Link("encoder.stages.3")
                if t.name in self.adversarial:
                    label = f"adversarial {label}"
                    strength = self.adversarial[t.name]
                    reversal = self.adversarial_objective == "reversal"
                    pull = f"gradient × −{strength:g}" if reversal else f"confusion × {strength:g}"
                    deep = Link("encoder.stages.3", "feature", False, pull)
                x = 7.6 if extra else 5.0
                blocks.append(Block(f"heads.{key}", label, t.name, t.name, (x, y), (deep, *extra), emits=t.name))
        return blocks

    # ----------------------------------------------------------------------------------- forward
    def _run(self, x: torch.Tensor) -> tuple[dict[str, torch.Tensor], tuple[torch.Tensor, ...]]:
        feats = self.encoder(x)
        exposed: list[torch.Tensor] = []
        has_global = any(not is_dense(t) for t in self.tasks)
        if self.decoders:  # per-task decoders read the whole pyramid
            pyramid = [expose(f) for f in feats]
            exposed.extend(pyramid)
            deep = pyramid[3]
            dense_in = {t.name: self.decoders[module_key(t.name)](pyramid) for t in self.tasks if is_dense(t)}
        else:
            deep = expose(feats[3]) if has_global else feats[3]
            if has_global:
                exposed.append(deep)
            dense_in = {}
            if self.decoder is not None:
                shared_map = expose(self.decoder(feats))
                exposed.append(shared_map)
                dense_in = {t.name: shared_map for t in self.tasks if is_dense(t)}

        outputs: dict[str, torch.Tensor] = {}
        guide = None
        if self.source is not None:
            src = next(t for t in self.tasks if t.name == self.source)
            outputs[src.name] = self.heads[module_key(src.name)](dense_in[src.name])
            guide = soft_map(src, outputs[src.name])
            if self.detach_handover:
                guide = guide.detach()
        for t in self.tasks:
            if t.name in outputs:
                continue
            head = self.heads[module_key(t.name)]
            inp = dense_in[t.name] if is_dense(t) else deep
            if t.name in self.adversarial and self.adversarial_objective == "confusion":
                outputs[t.name] = self._confused_head(t.name, head, inp)
                continue
            if t.name in self.adversarial:
                inp = reverse_gradient(inp, self.adversarial[t.name])
            outputs[t.name] = head(inp, guide) if guide is not None else head(inp)
        outputs = {t.name: outputs[t.name] for t in self.tasks}
        return outputs, self._features(tuple(exposed))

    def _features(self, exposed: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        return exposed

    def _confused_head(self, name: str, head: nn.Module, features: torch.Tensor) -> torch.Tensor:
        """The adversary under the confusion objective: its logits, and (training) the trunk's confusion term.

        The head's parameters learn from its task's loss on *detached* features only; the trunk's
        gradient comes from the head's prediction, with the head's parameters held fixed, pushed
        towards the uniform distribution (Tzeng E. et al., "Simultaneous deep transfer across domains
        and tasks", ICCV 2015; Alvi M. et al., "Turning a blind eye: explicit removal of biases and
        variation from deep neural network embeddings", ECCV Workshops 2018).
        """
        logits = head(features.detach())
        strength = self.adversarial[name]
        if self.training and torch.is_grad_enabled() and strength > 0:
            fixed = {k: v.detach() for k, v in head.named_parameters()}
            fixed.update(dict(head.named_buffers()))
            seen = torch.func.functional_call(head, fixed, (features,))
            self._regularisers[name] = strength * confusion_loss(seen)
        return logits


class ParallelNet(SharedTrunkNet):
    """The parallel family (hard parameter sharing); see the module docstring.

    Build it with :func:`mtdl_kit.models.build_model` (``family="parallel"``).
    """

    family: ClassVar[str] = "parallel"
