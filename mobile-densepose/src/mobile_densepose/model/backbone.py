"""timm backbones as feature extractors of strides 4, 8, 16 and 32 (C2..C5).

The official code builds every backbone with ``timm.create_model(..., features_only=True,
out_indices=(1, 2, 3, 4), feature_location="expansion")`` and turns its BatchNorms into
detectron2's FrozenBatchNorm (affine buffers, not parameters). Weights are never
downloaded here (``pretrained=False``); a user loads ImageNet weights from a local file.
"""

from __future__ import annotations

from typing import Literal

import timm
import torch
from timm.layers import freeze_batch_norm_2d
from torch import nn


class TimmBackbone(nn.Module):
    """A timm network returning its C2..C5 feature maps.

    Args:
        name: timm model name.
        norm: 'frozen_bn' (BatchNorm -> frozen affine buffers) or 'bn' (trainable).
        feature_location: timm feature tap ('' for ResNets, 'expansion' for the
            EfficientNet family as in the official code).
    """

    def __init__(
        self,
        name: str,
        norm: Literal["frozen_bn", "bn"] = "frozen_bn",
        feature_location: str = "expansion",
    ) -> None:
        super().__init__()
        kwargs: dict[str, object] = {}
        if feature_location:
            kwargs["feature_location"] = feature_location
        body = timm.create_model(
            name, pretrained=False, features_only=True, out_indices=(1, 2, 3, 4), **kwargs
        )
        reductions = body.feature_info.reduction()
        if list(reductions) != [4, 8, 16, 32]:
            raise ValueError(f"backbone {name!r} gives strides {reductions}, expected 4, 8, 16, 32")
        if norm == "frozen_bn":
            body = freeze_batch_norm_2d(body)
        self.body = body
        self.channels: list[int] = list(body.feature_info.channels())
        """Channels of C2..C5."""

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        """(B, 3, H, W) normalised images -> [C2 (B, c2, H/4, W/4), ..., C5 (B, c5, H/32, W/32)]."""
        return list(self.body(images))
