"""The rendering network: a U-Net of gated convolutions over multi-scale point rasters.

Input: one raster per scale s (1, 1/2, 1/4, ...), each (B, c + 1, H / 2^s, W / 2^s) with
the rasterised descriptors and a coverage mask channel. The encoder level s sees the
average-pooled previous level concatenated with raster s; decoder levels upsample
bilinearly and concatenate the encoder skip. Convolutions are gated
(``ELU(conv_f(x)) * sigmoid(conv_g(x))``) with reflect padding, which lets the network
learn to ignore holes and points that bleed through surfaces. Filters 16/32/48/64/80 in
the paper preset.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class GatedConv(nn.Module):
    """3x3 gated convolution with reflect padding: ELU(f(x)) * sigmoid(g(x))."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.feature = nn.Conv2d(in_ch, out_ch, 3, padding=1, padding_mode="reflect")
        self.gate = nn.Conv2d(in_ch, out_ch, 3, padding=1, padding_mode="reflect")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.elu(self.feature(x)) * torch.sigmoid(self.gate(x))


class GatedBlock(nn.Sequential):
    """Two gated convolutions."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__(GatedConv(in_ch, out_ch), GatedConv(out_ch, out_ch))


class Refiner(nn.Module):
    """Multi-scale rasters -> (B, out_channels, H, W): the image (a linear head: no
    saturating output that could stall training on dark backgrounds; clamp to [0, 1] for
    display) and, with ``out_channels=4``, a foreground-mask logit as the 4th channel."""

    def __init__(
        self,
        in_channels: int,
        filters: Sequence[int] = (16, 32, 48, 64, 80),
        out_channels: int = 3,
    ):
        super().__init__()
        self.filters = list(filters)
        self.down = nn.ModuleList()
        prev = 0
        for f in filters:
            self.down.append(GatedBlock(prev + in_channels, f))
            prev = f
        self.up = nn.ModuleList()
        for s in range(len(filters) - 2, -1, -1):
            self.up.append(GatedBlock(prev + filters[s], filters[s]))
            prev = filters[s]
        self.head = nn.Conv2d(prev, out_channels, 1)

    def forward(self, rasters: Sequence[torch.Tensor]) -> torch.Tensor:
        if len(rasters) != len(self.filters):
            raise ValueError(f"Refiner: expected {len(self.filters)} rasters, got {len(rasters)}")
        skips: list[torch.Tensor] = []
        x: torch.Tensor | None = None
        for block, raster in zip(self.down, rasters, strict=True):
            if x is None:
                x = block(raster)
            else:
                x = F.avg_pool2d(x, 2)
                x = block(torch.cat([x, raster], 1))
            skips.append(x)
        assert x is not None
        for block, skip in zip(self.up, skips[-2::-1], strict=True):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = block(torch.cat([x, skip], 1))
        return self.head(x)  # type: ignore[no-any-return]
