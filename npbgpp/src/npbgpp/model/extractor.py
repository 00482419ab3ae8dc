"""The U-Net feature extractor of the modeling stage: image -> c channels per pixel.

The encoder gives five feature levels at strides 2, 4, 8, 16, 32 (the official model
uses timm's spnasnet_100, here built with ``pretrained=False``: no download); the
decoder upsamples bilinearly, concatenates the skip of the next finer level (the image
itself at the last block) and applies two 3x3 convolutions with LeakyReLU per block
(channels 256/128/64/32/16 in the paper preset), then a 1x1 convolution to c channels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class TinyEncoder(nn.Module):
    """A five-level strided CNN with the timm features_only interface (for tests/demo)."""

    def __init__(self, channels: Sequence[int] = (8, 16, 24, 32, 48)):
        super().__init__()
        self.channels = list(channels)
        stages: list[nn.Module] = []
        prev = 3
        for ch in channels:
            stages.append(
                nn.Sequential(
                    nn.Conv2d(prev, ch, 3, stride=2, padding=1),
                    nn.LeakyReLU(0.2),
                    nn.Conv2d(ch, ch, 3, padding=1),
                    nn.LeakyReLU(0.2),
                )
            )
            prev = ch
        self.stages = nn.ModuleList(stages)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        return feats


def build_encoder(name: str) -> tuple[nn.Module, list[int]]:
    """The encoder and its five feature widths; ``name`` is "tiny" or a timm model."""
    if name == "tiny":
        enc = TinyEncoder()
        return enc, enc.channels
    import timm

    model = timm.create_model(name, pretrained=False, features_only=True)
    info: Any = model.feature_info
    reductions = list(info.reduction())
    if reductions != [2, 4, 8, 16, 32]:
        raise ValueError(
            f"ModelConfig.encoder: {name!r} gives feature strides {reductions}, need [2, 4, 8, 16, 32]"
        )
    return model, list(info.channels())


class _DecoderBlock(nn.Module):
    def __init__(self, in_ch: int, skip_ch: int, out_ch: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_ch + skip_ch, out_ch, 3, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(out_ch, out_ch, 3, padding=1),
            nn.LeakyReLU(0.2),
        )

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.body(torch.cat([x, skip], 1))  # type: ignore[no-any-return]


class FeatureExtractor(nn.Module):
    """U-Net: (B, 3, H, W) images in [0, 1] -> (B, c, H, W) features."""

    def __init__(
        self,
        out_channels: int = 8,
        encoder: str = "spnasnet_100",
        decoder_channels: Sequence[int] = (256, 128, 64, 32, 16),
    ):
        super().__init__()
        if len(decoder_channels) != 5:
            raise ValueError(
                f"ModelConfig.decoder_channels: need 5 values, got {tuple(decoder_channels)}"
            )
        self.encoder, enc_ch = build_encoder(encoder)
        skips = [*enc_ch[:-1][::-1], 3]  # strides 16, 8, 4, 2, then the image
        blocks = []
        prev = enc_ch[-1]
        for skip_ch, out_ch in zip(skips, decoder_channels, strict=True):
            blocks.append(_DecoderBlock(prev, skip_ch, out_ch))
            prev = out_ch
        self.decoder = nn.ModuleList(blocks)
        self.head = nn.Conv2d(prev, out_channels, 1)
        self.mean: torch.Tensor
        self.std: torch.Tensor
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        h, w = image.shape[-2:]
        ph, pw = (-h) % 32, (-w) % 32  # the encoder needs multiples of its stride 32
        x = (image - self.mean) / self.std
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="replicate")
        feats = self.encoder(x)
        skips = [*feats[:-1][::-1], x]
        y = feats[-1]
        for block, skip in zip(self.decoder, skips, strict=True):
            y = block(y, skip)
        return self.head(y)[..., :h, :w]  # type: ignore[no-any-return]
