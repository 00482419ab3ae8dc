"""DensePose chart predictor: stride-2 transposed convs to coarse segmentation, I, U and V.

Four parallel ConvTranspose2d(kernel 4, stride 2, padding 1) double the RoI side, then an
optional bilinear upsampling (``up_scale``, 2 in the baseline) reaches the heatmap size.
Outputs: coarse segmentation (2 or 15 channels), fine segmentation I (25 = 24 charts +
background) and U, V (25 each, one regression per chart).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn


class DensePoseOutput(NamedTuple):
    """Per-RoI DensePose maps, each (R, channels, Hm, Hm)."""

    coarse: torch.Tensor
    """Coarse segmentation logits (R, 2|15, Hm, Hm)."""
    fine: torch.Tensor
    """Fine part (chart) logits I (R, 25, Hm, Hm)."""
    u: torch.Tensor
    """U per chart (R, 25, Hm, Hm)."""
    v: torch.Tensor
    """V per chart (R, 25, Hm, Hm)."""


class DensePosePredictor(nn.Module):
    """(R, D, S, S) head features -> :class:`DensePoseOutput` of side 2 S up_scale."""

    def __init__(
        self,
        in_channels: int,
        num_coarse: int = 15,
        num_patches: int = 24,
        kernel: int = 4,
        up_scale: int = 1,
    ) -> None:
        super().__init__()
        pad = kernel // 2 - 1

        def deconv(cout: int) -> nn.ConvTranspose2d:
            layer = nn.ConvTranspose2d(in_channels, cout, kernel, stride=2, padding=pad)
            nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
            return layer

        self.coarse = deconv(num_coarse)
        self.fine = deconv(num_patches + 1)
        self.u = deconv(num_patches + 1)
        self.v = deconv(num_patches + 1)
        self.up_scale = up_scale

    def _up(self, x: torch.Tensor) -> torch.Tensor:
        if self.up_scale == 1:
            return x
        return F.interpolate(x, scale_factor=self.up_scale, mode="bilinear", align_corners=False)

    def forward(self, x: torch.Tensor) -> DensePoseOutput:
        """(R, D, S, S) -> DensePoseOutput with maps (R, ., 2 S up, 2 S up)."""
        return DensePoseOutput(
            self._up(self.coarse(x)),
            self._up(self.fine(x)),
            self._up(self.u(x)),
            self._up(self.v(x)),
        )
