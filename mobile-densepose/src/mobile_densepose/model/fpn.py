"""Feature Pyramid Network (Lin et al. 2017) as in detectron2: P2..P5 plus P6 by pooling.

Each level: a 1x1 lateral conv, the top-down sum with the nearest-upsampled coarser
level, then a 3x3 output conv (all with biases). P6 is a stride-2 max pooling of P5
(detectron2's LastLevelMaxPool, used by the RPN only).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class FPN(nn.Module):
    """Top-down feature pyramid.

    Args:
        in_channels: channels of C2..C5.
        out_channels: width of every output level.
    """

    def __init__(self, in_channels: list[int], out_channels: int) -> None:
        super().__init__()
        self.laterals = nn.ModuleList(nn.Conv2d(c, out_channels, 1) for c in in_channels)
        self.outputs = nn.ModuleList(
            nn.Conv2d(out_channels, out_channels, 3, padding=1) for _ in in_channels
        )
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_uniform_(module.weight, a=1)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def forward(self, feats: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        """[C2..C5] -> {'p2': (B, C, H/4, W/4), ..., 'p5', 'p6': (B, C, H/64, W/64)}."""
        n = len(self.laterals)  # not len(feats): keeps the module FX-traceable
        top = self.laterals[n - 1](feats[n - 1])
        outs = [self.outputs[n - 1](top)]
        for i in range(n - 2, -1, -1):
            lateral = self.laterals[i](feats[i])
            top = lateral + F.interpolate(top, size=lateral.shape[-2:], mode="nearest")
            outs.insert(0, self.outputs[i](top))
        result = {f"p{i + 2}": out for i, out in enumerate(outs)}
        result["p6"] = F.max_pool2d(outs[-1], kernel_size=1, stride=2)
        return result
