"""Interacted family: task-specific branches that exchange features in both directions.

**Definition (the review's Fig. 1, in our words).** Like the parallel family the tasks have their
own branches, but the branches are not independent after the split: at intermediate layers they
exchange features in both directions (cross-stitch units, cross-task or co-attention), so each
task can borrow what another task has found, at several depths.

**Wiring here.** One encoder column per task (:class:`~mtdl_kit.models.backbone.Encoder` at
``sub_width``); after stages 1, 2 and 3 an exchange unit mixes the columns:

* ``interaction="cross_stitch"`` (default) — Misra et al.'s cross-stitch unit: each task's new
  features are a learned, per-channel linear combination of all tasks' features,
  ``x_i' = sum_j alpha_ij * x_j``, initialised near the identity (0.9 own, 0.1 shared among the
  others);
* ``interaction="attention"`` — cross-task attention in the spirit of MTAN and CIA-Net: each task
  gates the mean of the other tasks' features with a learned sigmoid attention map computed from
  both, ``x_i' = x_i + sigmoid(W_i [x_i, x_others]) * x_others``.

Stage 4 of each column and the task's head (a U-Net decoder on the column's pyramid for dense
tasks, pooling + MLP for global ones) are task-specific.

In inference (``eval()``, autograd off) the T columns run as grouped columns, one grouped
convolution per layer, and the exchange units mix the column groups of one tensor
(:mod:`mtdl_kit.models.grouped`); the result equals running the columns one by one.

**What is shared.** Because of the exchanges, every column stage up to the last exchange
influences every task's loss: for gradient methods those stages and the exchange units are the
*shared* parameters (``shared_parameters()``), and the tensors leaving the last exchange are the
shared features; only stage 4 and the heads are task parameters. The diagram still draws the
columns in their task's lane (outlined in the task's colour).

**Parameter matching.** T columns at the nominal width would have about T times the encoder
parameters of a parallel network, so by default the columns use a reduced ``sub_width`` chosen so
that the total matches the parallel network of the same tasks (``match_params=True``).

**Pros.** Explicit mutual guidance between tasks in both directions; each task keeps its own
features, so negative transfer can be learned away (cross-stitch weights can go to the identity).
**Cons.** More design work (where and how to exchange), memory and compute grow with the number of
tasks (T columns); hand-made exchange modules.

**Representative networks.**

* Zhou Y., Onder O.F., Dou Q., Tsougenis E., Chen H., Heng P.-A. "CIA-Net: Robust nuclei instance
  segmentation with contour-aware information aggregation." IPMI 2019, LNCS 11492, 2019 — nuclei
  and contour decoders with two-way information aggregation modules (MoNuSeg 2018, 1st of 36).
* Misra I., Shrivastava A., Gupta A., Hebert M. "Cross-stitch networks for multi-task learning."
  CVPR 2016 — the cross-stitch unit; and Liu S., Johns E., Davison A.J. "End-to-end multi-task
  learning with attention" (MTAN), CVPR 2019 — task-specific attention over shared features.

Reference: Zhao et al., Comput. Biol. Med. 153:106496, 2023, Fig. 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import torch
from monai.networks.blocks import Convolution
from torch import nn

from mtdl_kit.models.backbone import Encoder, UNetDecoder, stage_channels
from mtdl_kit.models.base import Block, Link, MultiTaskNet, expose, module_key
from mtdl_kit.models.grouped import (
    GroupedConv,
    GroupedDecoder,
    GroupedEncoder,
    GroupedInference,
    clear_grouped_cache,
    interleave,
    select_columns,
    split_columns,
)
from mtdl_kit.models.heads import DEFAULT_HIDDEN, is_dense, make_head
from mtdl_kit.regions.base import TaskSpec

INTERACTIONS: tuple[str, ...] = ("cross_stitch", "attention")
#: Encoder stages (0-based) after which the columns exchange features.
EXCHANGE_AFTER: tuple[int, ...] = (0, 1, 2)


class CrossStitch(nn.Module):
    """Cross-stitch unit (Misra et al., CVPR 2016) for T columns with C channels.

    ``out_i[c] = sum_j alpha[i, j, c] * x_j[c]``; ``alpha`` starts at 0.9 on the diagonal and
    ``0.1 / (T - 1)`` elsewhere.
    """

    def __init__(self, num_tasks: int, channels: int, self_weight: float = 0.9) -> None:
        super().__init__()
        off = (1.0 - self_weight) / max(num_tasks - 1, 1)
        alpha = torch.full((num_tasks, num_tasks, channels), off)
        alpha[torch.arange(num_tasks), torch.arange(num_tasks)] = self_weight
        self.alpha = nn.Parameter(alpha)

    def forward(self, xs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        stacked = torch.stack(list(xs), dim=0)  # (T, B, C, *s)
        mixed = torch.einsum("ijc,jbc...->ibc...", self.alpha, stacked)
        return list(mixed.unbind(0))

    def forward_grouped(self, x: torch.Tensor) -> torch.Tensor:
        """The same unit on a grouped tensor ``(B, T * C, *s)`` (:mod:`mtdl_kit.models.grouped`)."""
        cols = x.unflatten(1, (self.alpha.shape[0], -1))  # (B, T, C, *s)
        return torch.einsum("ijc,bjc...->bic...", self.alpha, cols).flatten(1, 2)


class CrossTaskAttention(nn.Module):
    """Cross-task attention: each task gates the mean of the other tasks' features.

    ``out_i = x_i + sigmoid(conv1x1_i([x_i, m_i])) * m_i`` with ``m_i`` the mean of the other
    columns; in the spirit of MTAN (Liu et al., CVPR 2019) and CIA-Net's information aggregation
    (Zhou et al., IPMI 2019). The 1x1 convolutions are MONAI ``Convolution`` blocks.
    """

    def __init__(self, num_tasks: int, channels: int, spatial_dims: int = 2) -> None:
        super().__init__()
        self.gates = nn.ModuleList(
            Convolution(spatial_dims, 2 * channels, channels, kernel_size=1, conv_only=True) for _ in range(num_tasks)
        )

    def forward(self, xs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        total = torch.stack(list(xs), dim=0).sum(0)
        n_other = max(len(xs) - 1, 1)
        out = []
        for x, gate in zip(xs, self.gates, strict=True):
            others = (total - x) / n_other
            out.append(x + torch.sigmoid(gate(torch.cat([x, others], dim=1))) * others)
        return out

    def grouped_gates(self) -> GroupedConv:
        """The T gate convolutions as one grouped 1x1 convolution (input: per column ``[x_i, m_i]``)."""
        return GroupedConv([g.conv for g in self.gates], fan_out=False)

    def forward_grouped(self, x: torch.Tensor, gates: GroupedConv) -> torch.Tensor:
        """The same unit on a grouped tensor ``(B, T * C, *s)``, with ``gates`` from :meth:`grouped_gates`."""
        n = len(self.gates)
        cols = x.unflatten(1, (n, -1))  # (B, T, C, *s)
        others = (cols.sum(1, keepdim=True) - cols) / max(n - 1, 1)
        gate = torch.sigmoid(gates(interleave(x, others.flatten(1, 2), n))).unflatten(1, (n, -1))
        return (cols + gate * others).flatten(1, 2)


class _GroupedColumns:
    """The columns of an interacted network as grouped columns (see :mod:`mtdl_kit.models.grouped`)."""

    def __init__(self, net: InteractedNet) -> None:
        keys = [module_key(t.name) for t in net.tasks]
        # every column reads the image: stage 1 fans out
        self.encoder = GroupedEncoder([net.encoders[k] for k in keys], shared_input=True)
        self.gates = [u.grouped_gates() if isinstance(u, CrossTaskAttention) else None for u in net.exchange]
        self.dense = [i for i, t in enumerate(net.tasks) if is_dense(t)]
        dense_keys = [keys[i] for i in self.dense]
        self.decoder = GroupedDecoder([net.decoders[k] for k in dense_keys]) if dense_keys else None


class InteractedNet(GroupedInference, MultiTaskNet):
    """The interacted family: task columns exchanging features after stages 1-3.

    Build it with :func:`mtdl_kit.models.build_model` (``family="interacted"``).

    In inference (``eval()``, autograd off) the T columns run as grouped columns: one grouped
    convolution per layer, the exchange units on the grouped tensor (:mod:`mtdl_kit.models.grouped`);
    the outputs equal those of the per-task modules to float rounding. The parameters stay in the
    per-task modules.

    Args:
        tasks: enabled tasks (>= 2).
        in_channels: image channels.
        width: the nominal width (recorded; the columns use ``sub_width``).
        sub_width: width of every task column.
        interaction: ``"cross_stitch"`` or ``"attention"``.
        spatial_dims: 2 or 3.
        hidden: hidden units of the global heads' MLP.
        norm: MONAI normalisation name.
        act: MONAI activation name.
        region: optional region name (error messages).
    """

    family: ClassVar[str] = "interacted"
    summary: ClassVar[str] = "Task-specific columns exchanging features in both directions at several depths."

    def __init__(
        self,
        tasks: Sequence[TaskSpec],
        in_channels: int,
        *,
        width: int,
        sub_width: int,
        interaction: str = "cross_stitch",
        spatial_dims: int = 2,
        hidden: int = DEFAULT_HIDDEN,
        norm: str = "instance",
        act: str = "prelu",
        region: str | None = None,
    ) -> None:
        super().__init__(tasks, in_channels, spatial_dims=spatial_dims, width=width, region=region)
        self.interaction = interaction
        self.sub_width = sub_width
        self.hidden = hidden
        n = len(self.tasks)
        chans = stage_channels(sub_width)
        self.encoders = nn.ModuleDict()
        self.decoders = nn.ModuleDict()
        self.heads = nn.ModuleDict()
        for t in self.tasks:
            key = module_key(t.name)
            self.encoders[key] = Encoder(spatial_dims, in_channels, sub_width, norm=norm, act=act)
            if is_dense(t):
                self.decoders[key] = UNetDecoder(spatial_dims, sub_width, norm=norm, act=act)
            self.heads[key] = make_head(t, spatial_dims, sub_width, hidden=hidden)
        if interaction == "cross_stitch":
            units: list[nn.Module] = [CrossStitch(n, chans[k]) for k in EXCHANGE_AFTER]
        else:
            units = [CrossTaskAttention(n, chans[k], spatial_dims) for k in EXCHANGE_AFTER]
        self.exchange = nn.ModuleList(units)
        self._blocks = self._make_blocks()
        self.register_load_state_dict_post_hook(clear_grouped_cache)

    def _make_blocks(self) -> list[Block]:
        blocks = []
        n = len(self.tasks)
        unit_label = "cross-stitch" if self.interaction == "cross_stitch" else "cross-task attention"
        last_exchange = EXCHANGE_AFTER[-1]
        for k in range(4):
            for row, t in enumerate(self.tasks):
                key = module_key(t.name)
                y = -2.0 * row
                if k == 0:
                    inputs: tuple[Link, ...] = (Link("input"),)
                elif k - 1 in EXCHANGE_AFTER:
                    inputs = (Link(f"exchange.{EXCHANGE_AFTER.index(k - 1)}"),)
                else:
                    inputs = (Link(f"encoders.{key}.stages.{k - 1}"),)
                owner = "shared" if k <= last_exchange else t.name
                blocks.append(
                    Block(
                        f"encoders.{key}.stages.{k}", f"{t.name} enc {k + 1}", owner, t.name, (2.0 * k + 1, y), inputs
                    )
                )
            if k in EXCHANGE_AFTER:
                i = EXCHANGE_AFTER.index(k)
                srcs = tuple(Link(f"encoders.{module_key(t.name)}.stages.{k}", "exchange") for t in self.tasks)
                blocks.append(Block(f"exchange.{i}", unit_label, "shared", None, (2.0 * k + 2, -(n - 1.0)), srcs))
        for row, t in enumerate(self.tasks):
            key = module_key(t.name)
            y = -2.0 * row
            last = (Link(f"encoders.{key}.stages.3"),)
            if is_dense(t):
                skips = tuple(Link(f"exchange.{EXCHANGE_AFTER.index(k)}", "skip") for k in (2, 1, 0))
                blocks.append(Block(f"decoders.{key}", f"decoder {t.name}", t.name, t.name, (9.0, y), last + skips))
                last = (Link(f"decoders.{key}"),)
            x = 10.0 if is_dense(t) else 9.0
            blocks.append(Block(f"heads.{key}", f"{t.kind} head {t.name}", t.name, t.name, (x, y), last, emits=t.name))
        return blocks

    def _build_grouped(self) -> _GroupedColumns:
        return _GroupedColumns(self)

    def _run_grouped(self, g: _GroupedColumns, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """All columns as grouped columns; the exchanges mix the column groups of the grouped tensor."""
        n = len(self.tasks)
        h = x
        pyramid = []
        for k in range(4):
            h = g.encoder.forward_stage(k, h)
            if k in EXCHANGE_AFTER:
                i = EXCHANGE_AFTER.index(k)
                unit = self.exchange[i]
                gates = g.gates[i]
                h = unit.forward_grouped(h) if gates is None else unit.forward_grouped(h, gates)
            pyramid.append(h)
        deep = split_columns(pyramid[3], n)
        dense_maps: tuple[torch.Tensor, ...] = ()
        if g.decoder is not None:
            dense_maps = split_columns(g.decoder([select_columns(f, n, g.dense) for f in pyramid]), len(g.dense))
        outputs = {}
        for i, t in enumerate(self.tasks):
            head = self.heads[module_key(t.name)]
            outputs[t.name] = head(dense_maps[g.dense.index(i)].contiguous()) if is_dense(t) else head(deep[i])
        return outputs

    def forward_with_features(self, x: torch.Tensor) -> tuple[dict[str, torch.Tensor], tuple[torch.Tensor, ...]]:
        """Outputs plus the shared features; always through the per-task columns, whose tensors are the features."""
        self.check_input(x)
        return self._run(x, grouped=False)

    def _run(self, x: torch.Tensor, grouped: bool = True) -> tuple[dict[str, torch.Tensor], tuple[torch.Tensor, ...]]:
        runner = self._grouped_runner() if grouped else None
        if runner is not None:  # inference: the outputs only (forward_with_features uses the columns)
            return self._run_grouped(runner, x), ()
        keys = [module_key(t.name) for t in self.tasks]
        h = [x] * len(keys)
        pyramids: list[list[torch.Tensor]] = [[] for _ in keys]
        exposed: list[torch.Tensor] = []
        for k in range(4):
            h = [self.encoders[key].forward_stage(k, hi) for key, hi in zip(keys, h, strict=True)]
            if k in EXCHANGE_AFTER:
                h = self.exchange[EXCHANGE_AFTER.index(k)](h)
            if k == EXCHANGE_AFTER[-1]:  # leaving the shared part: expose what the task parts read
                h = [expose(hi) for hi in h]
                exposed.extend(h)
            for i, hi in enumerate(h):
                pyramids[i].append(hi)
        outputs = {}
        for i, t in enumerate(self.tasks):
            key = keys[i]
            pyr = pyramids[i]
            if is_dense(t):
                skips = [expose(f) for f in pyr[: EXCHANGE_AFTER[-1]]]
                exposed.extend(skips)
                pyr = [*skips, *pyr[EXCHANGE_AFTER[-1] :]]
                outputs[t.name] = self.heads[key](self.decoders[key](pyr))
            else:
                outputs[t.name] = self.heads[key](pyr[3])
        return outputs, tuple(exposed)
