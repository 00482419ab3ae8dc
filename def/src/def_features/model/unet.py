"""The DEF patch network: a U-Net on a timm ResNet encoder.

The encoder is any timm ResNet built with ``features_only=True`` and one input channel
(ResNet-152 in the paper), giving features at strides 2, 4, 8, 16 and 32. Four decoder
blocks (512, 256, 128, 64 channels in the paper) each upsample by two, concatenate the
encoder skip of that stride and apply two 3x3 conv-BN-ReLU layers; a last block brings
the stride-2 map back to full resolution. The head is a 1x1 convolution to either the
histogram bins or a single distance channel.

Input normalisation: the depth image minus its minimum over the patch's surface pixels,
divided by the dataset constant ``depth_scale``; background pixels are set to zero.
"""

from __future__ import annotations

from typing import Any

import timm
import torch
import torch.nn.functional as F
from torch import nn

from def_features.config import ModelConfig
from def_features.model.histogram import HistogramBins, histogram_expectation


def _conv_bn_relu(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class DecoderBlock(nn.Module):
    """Upsample by 2, concatenate a skip (optional), two conv-BN-ReLU layers."""

    def __init__(self, c_in: int, c_skip: int, c_out: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(_conv_bn_relu(c_in + c_skip, c_out), _conv_bn_relu(c_out, c_out))

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None) -> torch.Tensor:
        """x: (B, c_in, h, w); skip: (B, c_skip, 2h, 2w) or None -> (B, c_out, 2h, 2w)."""
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        if skip is not None:
            x = torch.cat([x, skip], dim=1)
        return self.conv(x)


def normalise_depth(depth: torch.Tensor, mask: torch.Tensor, depth_scale: float) -> torch.Tensor:
    """Network input from depth patches.

    Args:
        depth: (B, H, W) depth along the view direction (any value where ``~mask``).
        mask: (B, H, W) bool surface pixels.
        depth_scale: dataset constant.

    Returns:
        (B, 1, H, W): (depth - min over surface pixels) / depth_scale, zero on background.
    """
    big = torch.finfo(depth.dtype).max
    d_min = torch.where(mask, depth, torch.full_like(depth, big)).flatten(1).amin(dim=1)
    d_min = torch.where(torch.isfinite(d_min) & (d_min < big), d_min, torch.zeros_like(d_min))
    x = (depth - d_min.view(-1, 1, 1)) / depth_scale
    x = torch.where(mask, x, torch.zeros_like(x))
    return x.unsqueeze(1)


class DefUNet(nn.Module):
    """U-Net with a ResNet encoder predicting a per-pixel distance-to-feature.

    ``forward`` maps normalised input (B, 1, H, W), H and W multiples of 32, to the raw
    head output: (B, n_bins + 2 * margin, H, W) logits or (B, 1, H, W) distances.
    """

    def __init__(self, cfg: ModelConfig, truncation: float = 1.0) -> None:
        super().__init__()
        if len(cfg.decoder_channels) != 4:
            raise ValueError(f"decoder_channels must have 4 entries, got {cfg.decoder_channels}")
        if cfg.head not in ("histogram", "regression"):
            raise ValueError(f"head must be 'histogram' or 'regression', got {cfg.head!r}")
        self.cfg = cfg
        self.bins = HistogramBins(cfg.n_bins, cfg.margin_bins, truncation)
        self.encoder = timm.create_model(
            cfg.encoder, features_only=True, in_chans=1, pretrained=False
        )
        info: Any = self.encoder.feature_info
        enc_ch = list(info.channels())
        reductions = list(info.reduction())
        if reductions != [2, 4, 8, 16, 32]:
            raise ValueError(f"encoder {cfg.encoder} has strides {reductions}, need 2..32")
        dec = cfg.decoder_channels
        self.blocks = nn.ModuleList(
            [
                DecoderBlock(enc_ch[4], enc_ch[3], dec[0]),
                DecoderBlock(dec[0], enc_ch[2], dec[1]),
                DecoderBlock(dec[1], enc_ch[1], dec[2]),
                DecoderBlock(dec[2], enc_ch[0], dec[3]),
                DecoderBlock(dec[3], 0, dec[3]),
            ]
        )
        out = self.bins.total if cfg.head == "histogram" else 1
        self.head = nn.Conv2d(dec[3], out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, 1, H, W) -> (B, C_out, H, W)."""
        if x.shape[-1] % 32 or x.shape[-2] % 32:
            raise ValueError(f"DefUNet input H, W must be multiples of 32, got {tuple(x.shape)}")
        feats = self.encoder(x)
        y = feats[4]
        skips: list[torch.Tensor | None] = [feats[3], feats[2], feats[1], feats[0], None]
        for block, skip in zip(self.blocks, skips):
            y = block(y, skip)
        return self.head(y)

    def predict_distance(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, 1, H, W) -> (B, H, W) distances in [0, truncation]."""
        out = self.forward(x)
        if self.cfg.head == "histogram":
            return histogram_expectation(out, self.bins)
        return out[:, 0].clamp(0.0, self.bins.truncation)
