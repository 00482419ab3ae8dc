"""DensePose heads: the baseline's 8-conv stack and the DeepLab head (ASPP [+ non-local] + convs).

The DeepLab head follows the official Mobile Parsing R-CNN code: ASPP keeps the input
width (1x1 branch, three 3x3 atrous branches with dilations 6/12/18, an image-pooling
branch, all with biases and ReLU, no normalisation), concatenation -> 1x1 projection +
ReLU, an optional embedded-Gaussian non-local block (Parsing R-CNN), then N 3x3 convs to
the head width, each followed by ReLU.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _conv_relu(cin: int, cout: int, kernel: int = 3, dilation: int = 1) -> nn.Sequential:
    pad = dilation * (kernel // 2)
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, padding=pad, dilation=dilation), nn.ReLU())


class ASPPPooling(nn.Module):
    """Image-level branch: global average -> 1x1 conv + ReLU -> broadcast back to (H, W)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(R, C, H, W) -> (R, cout, H, W)."""
        y = F.relu(self.conv(x.mean(dim=(2, 3), keepdim=True)))
        return y.expand(-1, -1, x.shape[2], x.shape[3])


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling (Chen et al. 2017), width-preserving."""

    def __init__(self, channels: int, dilations: tuple[int, int, int] = (6, 12, 18)) -> None:
        super().__init__()
        self.branches = nn.ModuleList(
            [_conv_relu(channels, channels, 1)]
            + [_conv_relu(channels, channels, 3, d) for d in dilations]
            + [ASPPPooling(channels, channels)]
        )
        self.project = _conv_relu(5 * channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(R, C, H, W) -> (R, C, H, W)."""
        return self.project(torch.cat([b(x) for b in self.branches], dim=1))


class NonLocalBlock(nn.Module):
    """Embedded-Gaussian non-local block (Wang et al. 2018) with 2x2 max-pooled keys/values.

    z = x + GN(W(softmax(theta(x)^T phi(x)) g(x))); W's GroupNorm starts at zero, so the
    block starts as the identity.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        inter = max(channels // 2, 1)
        self.inter = inter
        self.theta = nn.Conv2d(channels, inter, 1)
        self.phi = nn.Conv2d(channels, inter, 1)
        self.g = nn.Conv2d(channels, inter, 1)
        self.w = nn.Conv2d(inter, channels, 1)
        self.norm = nn.GroupNorm(32, channels)
        nn.init.zeros_(self.norm.weight)
        nn.init.zeros_(self.norm.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(R, C, H, W) -> (R, C, H, W)."""
        r, _, h, w = x.shape
        theta = self.theta(x).flatten(2).transpose(1, 2)  # (R, HW, C')
        phi = F.max_pool2d(self.phi(x), 2).flatten(2)  # (R, C', HW/4)
        g = F.max_pool2d(self.g(x), 2).flatten(2).transpose(1, 2)  # (R, HW/4, C')
        attn = torch.softmax(theta @ phi, dim=-1)
        y = (attn @ g).transpose(1, 2).reshape(r, self.inter, h, w)
        return x + self.norm(self.w(y))


class ConvStackHead(nn.Module):
    """DensePose R-CNN's head: N 3x3 convs + ReLU (8 x 512 in the paper)."""

    def __init__(self, in_channels: int, conv_dim: int, num_convs: int) -> None:
        super().__init__()
        layers = []
        for i in range(num_convs):
            layers.append(_conv_relu(in_channels if i == 0 else conv_dim, conv_dim))
        self.convs = nn.Sequential(*layers)
        self.out_channels = conv_dim
        _msra_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(R, C_in, S, S) -> (R, conv_dim, S, S)."""
        return self.convs(x)


class DeepLabHead(nn.Module):
    """ASPP (+ non-local) + N 3x3 convs: Parsing R-CNN's and Mobile Parsing R-CNN's head."""

    def __init__(
        self,
        in_channels: int,
        conv_dim: int,
        num_convs: int,
        nonlocal_block: bool = False,
        dilations: tuple[int, int, int] = (6, 12, 18),
    ) -> None:
        super().__init__()
        self.aspp = ASPP(in_channels, dilations)
        self.nonlocal_block = NonLocalBlock(in_channels) if nonlocal_block else None
        self.convs = ConvStackHead(in_channels, conv_dim, num_convs)
        self.out_channels = conv_dim
        _msra_init(self.aspp)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(R, C_in, S, S) -> (R, conv_dim, S, S)."""
        x = self.aspp(x)
        if self.nonlocal_block is not None:
            x = self.nonlocal_block(x)
        return self.convs(x)


def _msra_init(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
