"""Grouped inference: T same-shaped task columns run as one grouped convolution per layer.

Cascaded and interacted networks hold one narrow column per task (an
:class:`~mtdl_kit.models.backbone.Encoder`, and a :class:`~mtdl_kit.models.backbone.UNetDecoder` for
dense tasks). Run one module after the other, a column of width 4-5 costs almost as much on two CPU
threads as one of width 8, because per-operation overhead dominates at these sizes; T columns then
cost about T times one column (``benchmarks/RESULTS.md``, section "models").

Stacking the T columns' weights along the output channels and running them as one convolution
with ``groups=T`` does the same arithmetic in one operation: group t sees only the input channels of
column t and produces only its output channels. Grouped convolutions were introduced for exactly
this, two independent columns of one network (Krizhevsky A., Sutskever I., Hinton G.E., "ImageNet
classification with deep convolutional neural networks", NeurIPS 2012), and generalised by ResNeXt
(Xie S. et al., "Aggregated residual transformations for deep neural networks", CVPR 2017). Where
every column reads the same tensor (the image, or image + hand-over map in a cascade) the first
convolution is an ordinary one with the columns' filters stacked (``groups=1``). Instance
normalisation and PReLU act per channel (a column's single PReLU slope is repeated over its
channels), so they act on the grouped tensor exactly as on each column.

**Layout.** A grouped tensor of T columns with C channels each is ``(B, T * C, *spatial)``; column
t holds channels ``[t * C, (t + 1) * C)``. 2-D grouped tensors are kept channels-last, where
oneDNN's grouped convolution is fast (in the default layout it was slower than T separate
convolutions at these sizes); for one image, instance norm is computed as batch statistics so the
layout is kept. Grouped *transposed* convolutions run as one dense transposed convolution with a
block-diagonal weight (zeros between columns, the same result), 5-20x faster than oneDNN's grouped
one here. Where the time goes: ``benchmarks/RESULTS.md``, section "models".

**Parameters stay where they are.** The per-task modules own every parameter (state dicts, the
shipped zoo's files, :meth:`~mtdl_kit.models.base.MultiTaskNet.task_parameters` and the wiring
diagrams are unchanged). :class:`GroupedInference` builds stacked *copies* of the weights for
inference only (``eval()`` with autograd off, e.g. under ``torch.inference_mode()``), and reuses
them until a parameter changes (an optimiser step, ``load_state_dict``, ``.to(...)``). Training
runs the per-task modules, so gradients, TorchJD's graph discovery and the shared / task partition
are untouched. Blocks the grouped runner does not know (e.g. ``norm="group"``) make it fall back to
the per-task path (:attr:`GroupedInference.grouping_error` says why).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from monai.networks.blocks import ResidualUnit
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.conv import _ConvNd, _ConvTransposeNd
from torch.nn.modules.dropout import _DropoutNd
from torch.nn.modules.instancenorm import _InstanceNorm

from mtdl_kit.models.backbone import Encoder, UNetDecoder

#: Parameter-free activations applied element-wise (the same on a grouped tensor as on each column).
_ELEMENTWISE = (nn.ReLU, nn.LeakyReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish, nn.Tanh, nn.Sigmoid)
_CONV = {
    (1, False): F.conv1d,
    (2, False): F.conv2d,
    (3, False): F.conv3d,
    (1, True): F.conv_transpose1d,
    (2, True): F.conv_transpose2d,
    (3, True): F.conv_transpose3d,
}


class GroupingUnsupportedError(ValueError):
    """The columns contain a block the grouped runner cannot stack (the per-task path is used)."""


def split_columns(x: torch.Tensor, n: int) -> tuple[torch.Tensor, ...]:
    """The ``n`` columns of a grouped tensor ``(B, n * C, *s)`` as views ``(B, C, *s)``."""
    return x.chunk(n, dim=1)


def select_columns(x: torch.Tensor, n: int, index: Sequence[int]) -> torch.Tensor:
    """Columns ``index`` of a grouped tensor of ``n`` columns, as a grouped tensor (a view when it can be)."""
    index = list(index)
    if index == list(range(n)):
        return x
    if len(index) == 1:
        c = x.shape[1] // n
        return x[:, index[0] * c : (index[0] + 1) * c]
    return x.unflatten(1, (n, -1))[:, index].flatten(1, 2)


def interleave(a: torch.Tensor, b: torch.Tensor, n: int) -> torch.Tensor:
    """Per column ``[a_t, b_t]``: the grouped form of ``torch.cat([a_t, b_t], dim=1)`` for each column t."""
    if n == 1:
        return torch.cat([a, b], dim=1)
    return torch.cat([a.unflatten(1, (n, -1)), b.unflatten(1, (n, -1))], dim=2).flatten(1, 2)


#: run several grouped 2-D columns in channels-last memory format (oneDNN's fast path for grouped
#: convolutions); a single column stays in the default layout, where the native kernels are faster
CHANNELS_LAST = True


def to_grouped_layout(x: torch.Tensor, columns: int) -> torch.Tensor:
    """``x`` in the memory format the grouped runner works in for ``columns`` columns."""
    if CHANNELS_LAST and columns > 1 and x.ndim == 4:
        return x.contiguous(memory_format=torch.channels_last)
    return x


def _instance_norm(x: torch.Tensor, w: torch.Tensor | None, b: torch.Tensor | None, eps: float) -> torch.Tensor:
    """Instance norm that keeps a channels-last layout for one image.

    For a batch of one image, instance statistics are batch statistics, so ``F.batch_norm`` in
    training mode (no running statistics) computes the same and, unlike ``F.instance_norm``, does
    not copy a channels-last tensor to the default layout.
    """
    if x.shape[0] == 1:
        return F.batch_norm(x, None, None, w, b, training=True, eps=eps)
    return F.instance_norm(x, weight=w, bias=b, eps=eps)


def _same(modules: Sequence[nn.Module], what: str) -> None:
    kinds = {type(m) for m in modules}
    if len(kinds) != 1:
        raise GroupingUnsupportedError(f"{what}: the columns use different blocks {sorted(k.__name__ for k in kinds)}.")


class GroupedConv:
    """T convolutions (or transposed convolutions) with identical settings as one call.

    Convolutions run with ``groups=T`` (or ``groups=1`` when fanning out); transposed ones as one
    transposed convolution with a block-diagonal weight (see the module docstring).

    Args:
        convs: one ``nn.ConvNd`` / ``nn.ConvTransposeNd`` per column, same settings and shapes,
            each with ``groups=1``.
        fan_out: every column reads the same input (an ordinary convolution with the filters
            stacked); otherwise column t reads group t of a grouped input (``groups=T``).

    Raises:
        GroupingUnsupportedError: different settings or shapes, grouped or non-zero-padded convolutions.
    """

    def __init__(self, convs: Sequence[nn.Module], *, fan_out: bool) -> None:
        _same(convs, "convolution")
        first = convs[0]
        if not isinstance(first, _ConvNd):
            raise GroupingUnsupportedError(f"expected a convolution, got {type(first).__name__}.")
        settings = [
            (
                c.weight.shape,
                c.stride,
                c.padding,
                c.dilation,
                c.output_padding,
                c.groups,
                c.padding_mode,
                c.bias is None,
            )
            for c in convs  # type: ignore[union-attr]
        ]
        if any(s != settings[0] for s in settings) or first.groups != 1 or first.padding_mode != "zeros":
            raise GroupingUnsupportedError(
                "the columns' convolutions differ in shape or settings, or are already grouped."
            )
        self.transposed = isinstance(first, _ConvTransposeNd)
        if self.transposed and fan_out:
            raise GroupingUnsupportedError("a transposed convolution cannot fan out from a shared input.")
        with torch.no_grad():
            self.weight = torch.cat([c.weight.detach() for c in convs], dim=0)  # type: ignore[union-attr]
            self.bias = None if first.bias is None else torch.cat([c.bias.detach() for c in convs])  # type: ignore[union-attr]
        self.groups = 1 if fan_out else len(convs)
        if self.transposed and self.groups > 1:
            # oneDNN's grouped transposed convolution is 5-20x slower than one dense transposed
            # convolution with a block-diagonal weight (zero between columns) at these sizes
            self.weight = _block_diagonal(list(self.weight.chunk(self.groups)))
            self.groups = 1
        self.stride, self.padding, self.dilation = first.stride, first.padding, first.dilation
        self.output_padding = first.output_padding
        self.fn: Callable[..., torch.Tensor] = _CONV[(first.weight.ndim - 2, self.transposed)]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.transposed:
            x = x.contiguous()  # the native transposed convolution is faster in the default layout
            return self.fn(
                x, self.weight, self.bias, self.stride, self.padding, self.output_padding, self.groups, self.dilation
            )
        return self.fn(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


def _block_diagonal(weights: Sequence[torch.Tensor]) -> torch.Tensor:
    """Transposed-convolution weights ``(C_in, C_out, *k)`` of T columns as one block-diagonal weight."""
    c_in, c_out = weights[0].shape[:2]
    n = len(weights)
    out = weights[0].new_zeros(n * c_in, n * c_out, *weights[0].shape[2:])
    for t, w in enumerate(weights):
        out[t * c_in : (t + 1) * c_in, t * c_out : (t + 1) * c_out] = w
    return out


class GroupedPointwise:
    """The per-channel steps after a convolution (MONAI ``ADN``: norm, dropout, activation) for T columns.

    Supported: instance norm without running statistics (affine or not), batch norm (eval: running
    statistics), dropout (identity in eval), PReLU (one slope or one per channel) and the
    parameter-free element-wise activations.

    Raises:
        GroupingUnsupportedError: any other step (e.g. group or layer norm, whose groups span channels).
    """

    def __init__(self, adns: Sequence[nn.Module], channels: int) -> None:
        _same(adns, "norm/activation")
        names = [tuple(n for n, _ in a.named_children()) for a in adns]
        if any(n != names[0] for n in names):
            raise GroupingUnsupportedError("the columns' norm/activation steps differ.")
        self.steps: list[Callable[[torch.Tensor], torch.Tensor]] = []
        for name in names[0]:
            mods = [getattr(a, name) for a in adns]
            self.steps.extend(self._step(mods, channels))

    @staticmethod
    def _cat(tensors: Sequence[torch.Tensor | None], channels: int) -> torch.Tensor | None:
        if tensors[0] is None:
            return None
        return torch.cat([t.detach().expand(channels) if t.numel() == 1 else t.detach() for t in tensors])  # type: ignore[union-attr]

    def _step(self, mods: Sequence[nn.Module], channels: int) -> list[Callable[[torch.Tensor], torch.Tensor]]:
        _same(mods, "norm/activation")
        m = mods[0]
        with torch.no_grad():
            if isinstance(m, _InstanceNorm) and not m.track_running_stats:
                w = self._cat([x.weight for x in mods], channels)  # type: ignore[union-attr]
                b = self._cat([x.bias for x in mods], channels)  # type: ignore[union-attr]
                eps = m.eps
                return [lambda x: _instance_norm(x, w, b, eps)]
            if isinstance(m, _BatchNorm) and m.track_running_stats:
                mean = self._cat([x.running_mean for x in mods], channels)  # type: ignore[union-attr]
                var = self._cat([x.running_var for x in mods], channels)  # type: ignore[union-attr]
                w = self._cat([x.weight for x in mods], channels)  # type: ignore[union-attr]
                b = self._cat([x.bias for x in mods], channels)  # type: ignore[union-attr]
                eps = m.eps
                return [lambda x: F.batch_norm(x, mean, var, w, b, training=False, eps=eps)]
            if isinstance(m, _DropoutNd):
                return []  # identity in eval mode, the only mode the grouped runner serves
            if isinstance(m, nn.PReLU):
                slope = self._cat([x.weight for x in mods], channels)
                return [lambda x: F.prelu(x, slope)]
            if isinstance(m, _ELEMENTWISE) and all(repr(x) == repr(m) for x in mods):
                return [m]
        raise GroupingUnsupportedError(f"{type(m).__name__} cannot be applied to grouped columns.")

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        for step in self.steps:
            x = step(x)
        return x


class GroupedConvBlock:
    """T MONAI ``Convolution`` blocks (conv, then optional ``adn``) as one grouped block."""

    def __init__(self, blocks: Sequence[nn.Module], *, fan_out: bool) -> None:
        _same(blocks, "convolution block")
        names = {tuple(n for n, _ in b.named_children()) for b in blocks}
        if len(names) != 1 or next(iter(names)) not in (("conv",), ("conv", "adn")):
            raise GroupingUnsupportedError(f"unexpected convolution block layout {sorted(names)}.")
        convs = [b.conv for b in blocks]
        self.conv = GroupedConv(convs, fan_out=fan_out)
        channels = convs[0].weight.shape[1 if self.conv.transposed else 0]
        self.post = GroupedPointwise([b.adn for b in blocks], channels) if hasattr(blocks[0], "adn") else None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        return self.post(x) if self.post is not None else x


class GroupedResidualUnit:
    """T MONAI :class:`~monai.networks.blocks.ResidualUnit` s: ``conv(x) + residual(x)`` per column."""

    def __init__(self, units: Sequence[nn.Module], *, fan_out: bool) -> None:
        _same(units, "residual unit")
        if not isinstance(units[0], ResidualUnit):
            raise GroupingUnsupportedError(f"expected a ResidualUnit, got {type(units[0]).__name__}.")
        n_sub = {len(u.conv) for u in units}
        if len(n_sub) != 1:
            raise GroupingUnsupportedError("the columns' residual units have different numbers of sub-units.")
        self.subunits = [
            GroupedConvBlock([u.conv[j] for u in units], fan_out=fan_out and j == 0) for j in range(n_sub.pop())
        ]
        if isinstance(units[0].residual, nn.Identity):
            if fan_out:
                raise GroupingUnsupportedError("an identity residual cannot fan out from a shared input.")
            self.residual: Callable[[torch.Tensor], torch.Tensor] = units[0].residual
        else:
            self.residual = GroupedConv([u.residual for u in units], fan_out=fan_out)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        res = self.residual(x)
        for sub in self.subunits:
            x = sub(x)
        return x + res


class GroupedEncoder:
    """T :class:`~mtdl_kit.models.backbone.Encoder` columns as one grouped encoder.

    Args:
        encoders: one per column (same width and input channels).
        shared_input: every column reads the same input (stage 1 fans out); otherwise the input is
            a grouped tensor with one group per column.
    """

    def __init__(self, encoders: Sequence[Encoder], *, shared_input: bool) -> None:
        self.columns = len(encoders)
        self.stages = [
            GroupedResidualUnit([e.stages[k] for e in encoders], fan_out=shared_input and k == 0)
            for k in range(len(encoders[0].stages))
        ]

    def forward_stage(self, index: int, x: torch.Tensor) -> torch.Tensor:
        """Run stage ``index`` of every column on ``x`` (grouped in, grouped out)."""
        return self.stages[index](to_grouped_layout(x, self.columns))

    def __call__(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for stage in self.stages:
            x = stage(to_grouped_layout(x, self.columns))
            feats.append(x)
        return feats


class GroupedDecoder:
    """T :class:`~mtdl_kit.models.backbone.UNetDecoder` s as one grouped decoder (grouped pyramid in and out)."""

    def __init__(self, decoders: Sequence[UNetDecoder]) -> None:
        self.columns = len(decoders)
        for d in decoders:
            if any(tuple(n for n, _ in up.named_children()) != ("deconv",) for up in d.ups):
                raise GroupingUnsupportedError("only transposed-convolution up-sampling ('deconv') can be grouped.")
        self.ups = [
            GroupedConv([d.ups[i].deconv for d in decoders], fan_out=False) for i in range(len(decoders[0].ups))
        ]
        self.fuse = [
            GroupedConvBlock([d.fuse[i] for d in decoders], fan_out=False) for i in range(len(decoders[0].fuse))
        ]

    def __call__(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        x = feats[3]
        for up, fuse, skip in zip(self.ups, self.fuse, (feats[2], feats[1], feats[0]), strict=True):
            x = fuse(to_grouped_layout(interleave(up(x), skip, self.columns), self.columns))
        return x


class GroupedInference:
    """Mixin for :class:`~mtdl_kit.models.base.MultiTaskNet` families with per-task columns.

    A subclass implements ``_build_grouped()`` (the grouped runner of its current weights) and calls
    :meth:`_grouped_runner` in its forward pass; ``None`` means: use the per-task modules.

    Attributes:
        grouped_inference: set to ``False`` to always run the per-task modules (e.g. to compare).
        grouping_error: why the grouped runner is not available for this model, or ``None``.
    """

    grouped_inference: bool = True
    grouping_error: str | None = None

    def _build_grouped(self) -> Any:
        raise NotImplementedError

    def __getstate__(self) -> dict[str, Any]:
        """Pickle / deepcopy without the cached grouped weights (rebuilt on the next inference)."""
        state = dict(super().__getstate__())  # type: ignore[misc]
        state.pop("_grouped_cache", None)
        return state

    def uses_grouped(self) -> bool:
        """True if a forward pass now runs the grouped columns (eval mode, autograd off, supported blocks)."""
        return (
            self.grouped_inference
            and not self.training  # type: ignore[attr-defined]
            and not torch.is_grad_enabled()
            and self.grouping_error is None
        )

    def _grouped_runner(self) -> Any:
        """The grouped runner for the current weights (cached), or ``None`` to run the per-task modules.

        The cache is checked against every parameter's and buffer's storage and version counter (an in-place
        update such as an optimiser step or ``load_state_dict`` bumps the version; ``.to(...)``
        changes the storage) and dropped by ``load_state_dict`` (also with ``assign=True``).
        """
        if not self.uses_grouped():
            return None
        mode = torch.is_inference_mode_enabled()
        cached = self.__dict__.get("_grouped_cache")
        if cached is not None and cached[0] == mode and _stamp(cached[1]) == cached[2]:
            return cached[3]
        try:
            runner = self._build_grouped()
        except GroupingUnsupportedError as exc:
            self.grouping_error = str(exc)
            return None
        params = [*self.parameters(), *self.buffers()]  # type: ignore[attr-defined]
        stamp = _stamp(params)
        if stamp is not None:
            self.__dict__["_grouped_cache"] = (mode, params, stamp, runner)
        return runner


def _stamp(params: Sequence[torch.Tensor]) -> tuple[tuple[int, int], ...] | None:
    """Storage address and version counter of every parameter (``None`` for inference tensors: no version)."""
    try:
        return tuple((p.data_ptr(), p._version) for p in params)
    except RuntimeError:
        return None


def clear_grouped_cache(module: nn.Module, incompatible_keys: object = None) -> None:
    """Drop a model's cached grouped weights (a ``load_state_dict`` post-hook; also callable directly)."""
    module.__dict__.pop("_grouped_cache", None)
