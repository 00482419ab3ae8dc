"""BiFPN (Tan et al. 2020) as used by Mobile Parsing R-CNN: one top-down + bottom-up pass.

Official layout: 1x1 laterals L2..L5 bring C2..C5 to the neck width; the top-down path
builds P4' = conv(fuse(L4, up(L5))) and P3' = conv(fuse(L3, up(P4'))); the bottom-up
path gives P2 = conv(fuse(L2, up(P3'))), P3 = conv(fuse(L3, P3', down(P2))),
P4 = conv(fuse(L4, P4', down(P3))), P5 = conv(fuse(L5, down(P4))). Every "conv" and
"down" is a depthwise-separable 3x3 conv (stride 1 or 2) + BatchNorm + ReLU, and every
"fuse" is the fast normalised fusion sum_i relu(w_i) x_i / (sum_i relu(w_i) + 1e-4).
P6 is a stride-2 max pooling of P5.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SeparableConvBNReLU(nn.Sequential):
    """Depthwise 3x3 (stride 1 or 2) -> pointwise 1x1 (no biases) -> BatchNorm -> ReLU."""

    def __init__(self, channels: int, stride: int = 1) -> None:
        super().__init__(
            nn.Conv2d(channels, channels, 3, stride=stride, padding=1, groups=channels, bias=False),
            nn.Conv2d(channels, channels, 1, bias=False),
            nn.BatchNorm2d(channels, momentum=0.03),
            nn.ReLU(inplace=True),
        )


class FastNormalizedFusion(nn.Module):
    """Weighted average with learnt non-negative weights: sum relu(w_i) x_i / (sum relu(w_i) + eps)."""

    def __init__(self, num_inputs: int, eps: float = 1e-4) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(num_inputs))
        self.eps = eps

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        """num_inputs tensors of one shape (B, C, H, W) -> (B, C, H, W)."""
        if len(inputs) != self.weight.numel():
            raise ValueError(f"expected {self.weight.numel()} inputs, got {len(inputs)}")
        w = F.relu(self.weight)
        total = inputs[0] * w[0]
        for i in range(1, len(inputs)):
            total = total + inputs[i] * w[i]
        return total / (w.sum() + self.eps)


def _up(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, size=like.shape[-2:], mode="nearest")


class BiFPN(nn.Module):
    """One bidirectional pass over P2..P5.

    Args:
        in_channels: channels of C2..C5.
        out_channels: the neck width.
    """

    def __init__(self, in_channels: list[int], out_channels: int) -> None:
        super().__init__()
        if len(in_channels) != 4:
            raise ValueError(f"BiFPN needs 4 input levels, got {len(in_channels)}")
        c = out_channels
        self.laterals = nn.ModuleList(nn.Conv2d(ch, c, 1) for ch in in_channels)
        self.p4_td = SeparableConvBNReLU(c)
        self.p3_td = SeparableConvBNReLU(c)
        self.fuse_p4_td = FastNormalizedFusion(2)
        self.fuse_p3_td = FastNormalizedFusion(2)
        self.down_p2 = SeparableConvBNReLU(c, stride=2)
        self.down_p3 = SeparableConvBNReLU(c, stride=2)
        self.down_p4 = SeparableConvBNReLU(c, stride=2)
        self.fuse_p2 = FastNormalizedFusion(2)
        self.fuse_p3 = FastNormalizedFusion(3)
        self.fuse_p4 = FastNormalizedFusion(3)
        self.fuse_p5 = FastNormalizedFusion(2)
        self.p2_out = SeparableConvBNReLU(c)
        self.p3_out = SeparableConvBNReLU(c)
        self.p4_out = SeparableConvBNReLU(c)
        self.p5_out = SeparableConvBNReLU(c)

    def forward(self, feats: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        """[C2..C5] -> {'p2': (B, C, H/4, W/4), ..., 'p5', 'p6': (B, C, H/64, W/64)}."""
        # explicit indexing (not iteration) keeps the module FX-traceable for quantisation
        l2, l3 = self.laterals[0](feats[0]), self.laterals[1](feats[1])
        l4, l5 = self.laterals[2](feats[2]), self.laterals[3](feats[3])
        p4_td = self.p4_td(self.fuse_p4_td([l4, _up(l5, l4)]))
        p3_td = self.p3_td(self.fuse_p3_td([l3, _up(p4_td, l3)]))
        p2 = self.p2_out(self.fuse_p2([l2, _up(p3_td, l2)]))
        p3 = self.p3_out(self.fuse_p3([l3, p3_td, self.down_p2(p2)]))
        p4 = self.p4_out(self.fuse_p4([l4, p4_td, self.down_p3(p3)]))
        p5 = self.p5_out(self.fuse_p5([l5, self.down_p4(p4)]))
        p6 = F.max_pool2d(p5, kernel_size=1, stride=2)
        return {"p2": p2, "p3": p3, "p4": p4, "p5": p5, "p6": p6}
