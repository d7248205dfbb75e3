"""The shared backbone pieces every family is built from: a residual encoder and a U-Net decoder.

Both are thin wirings of MONAI blocks (:class:`monai.networks.blocks.ResidualUnit`,
:class:`monai.networks.blocks.UpSample`, :class:`monai.networks.blocks.Convolution`); nothing
here re-implements a convolution block.

* :class:`Encoder` — four stages of ``ResidualUnit(strides=2)`` with ``width * (1, 2, 4, 8)``
  channels. It returns the feature pyramid ``[f1, f2, f3, f4]`` at 1/2, 1/4, 1/8 and 1/16 of the
  input size, so inputs must be divisible by :data:`TOTAL_STRIDE` = 16.
* :class:`UNetDecoder` — three up-sampling stages (transposed conv ``UpSample`` + skip
  concatenation + ``Convolution``) from ``f4`` back to 1/2 resolution with ``width`` channels. The
  last step to full resolution is done by each task's dense head (as in MONAI's ``UNet``, whose
  top layer is a strided transposed convolution).

The layout follows the MONAI ``UNet`` of Kerfoot et al. (STACOM 2018), "Left-ventricle
quantification using residual U-Net", with the decoder made one block lighter per stage so that a
batch of 8 images of 128x128 trains in tens of milliseconds on two CPU threads
(``benchmarks/results_models.md``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from monai.networks.blocks import Convolution, ResidualUnit, UpSample
from torch import nn

#: Total down-sampling factor of :class:`Encoder` (four stride-2 stages).
TOTAL_STRIDE = 16
#: Channel multipliers of the four encoder stages.
STAGE_MULTIPLIERS = (1, 2, 4, 8)


def stage_channels(width: int) -> tuple[int, int, int, int]:
    """Channels of the four encoder stages for a given ``width`` (``width * (1, 2, 4, 8)``)."""
    return tuple(width * m for m in STAGE_MULTIPLIERS)  # type: ignore[return-value]


class Encoder(nn.Module):
    """Four residual stages with stride 2: the feature extractor of every family.

    Args:
        spatial_dims: 2 or 3.
        in_channels: image channels (1 grey, 3 RGB, plus any hand-over channels in a cascade).
        width: channels of the first stage; the stages have ``width * (1, 2, 4, 8)``.
        norm: MONAI normalisation name (``"instance"`` by default, as in MONAI's ``UNet``).
        act: MONAI activation name.

    The forward pass returns ``[f1, f2, f3, f4]``; :meth:`forward_stage` runs one stage so that
    interacted networks can exchange features between columns after each stage.
    """

    def __init__(
        self, spatial_dims: int, in_channels: int, width: int, *, norm: str = "instance", act: str = "prelu"
    ) -> None:
        super().__init__()
        chans = stage_channels(width)
        self.channels = chans
        prev = in_channels
        stages = []
        for c in chans:
            stages.append(ResidualUnit(spatial_dims, prev, c, strides=2, subunits=2, norm=norm, act=act))
            prev = c
        self.stages = nn.ModuleList(stages)

    def forward_stage(self, index: int, x: torch.Tensor) -> torch.Tensor:
        """Run stage ``index`` (0..3) on ``x``."""
        return self.stages[index](x)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        return feats


class UNetDecoder(nn.Module):
    """U-Net decoder from the encoder pyramid back to 1/2 resolution.

    Stage ``k`` (from deep to shallow): ``UpSample`` (2x transposed conv) of the deeper features,
    concatenation with the encoder's skip features of that level, then one ``Convolution``
    (conv-norm-act). Output: ``width`` channels at 1/2 of the input size.

    Args:
        spatial_dims: 2 or 3.
        width: the encoder's width (the decoder mirrors its channels).
        norm: MONAI normalisation name.
        act: MONAI activation name.
    """

    def __init__(self, spatial_dims: int, width: int, *, norm: str = "instance", act: str = "prelu") -> None:
        super().__init__()
        chans = stage_channels(width)
        self.out_channels = chans[0]
        ups, fuse = [], []
        for k in (3, 2, 1):
            ups.append(UpSample(spatial_dims, chans[k], chans[k - 1], scale_factor=2, mode="deconv"))
            fuse.append(Convolution(spatial_dims, 2 * chans[k - 1], chans[k - 1], norm=norm, act=act))
        self.ups = nn.ModuleList(ups)
        self.fuse = nn.ModuleList(fuse)

    def forward(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        x = feats[3]
        for up, fuse, skip in zip(self.ups, self.fuse, (feats[2], feats[1], feats[0]), strict=True):
            x = fuse(torch.cat([up(x), skip], dim=1))
        return x
