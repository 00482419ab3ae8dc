"""Box/class heads: 2 fully connected layers (DensePose/Parsing R-CNN) or 2 convs (mobile).

Both end with detectron2's FastRCNN predictor: class logits over (background + classes)
and class-specific box deltas for the foreground classes only (4 per class). torchvision's
box post-processing expects deltas for every class, so a zero block is put in front for
the background class.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn


class BoxHead(nn.Module):
    """Pooled RoI features (R, C, S, S) -> (R, out_dim) vectors.

    Args:
        kind: 'linear' (flatten + FC + ReLU + FC + ReLU) or 'conv' (N x [3x3 conv + ReLU], flatten).
        in_channels: channels C of the pooled features.
        resolution: pooled side S.
        fc_dim: FC width for 'linear'.
        num_conv: number of convs for 'conv' (width = in_channels).
    """

    def __init__(
        self,
        kind: Literal["linear", "conv"],
        in_channels: int,
        resolution: int,
        fc_dim: int = 1024,
        num_conv: int = 2,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        if kind == "linear":
            layers += [nn.Flatten(1), nn.Linear(in_channels * resolution**2, fc_dim), nn.ReLU()]
            layers += [nn.Linear(fc_dim, fc_dim), nn.ReLU()]
            self.out_dim = fc_dim
        else:
            for _ in range(num_conv):
                conv = nn.Conv2d(in_channels, in_channels, 3, padding=1)
                nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
                if conv.bias is not None:
                    nn.init.zeros_(conv.bias)
                layers += [conv, nn.ReLU()]
            self.out_dim = in_channels * resolution**2
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(R, C, S, S) -> (R, out_dim).

        The conv stack's (R, C, S, S) output is flattened here with ``torch.flatten``
        (a no-op after the FC layers): int8 FX quantisation keeps it in int8, while an
        ``nn.Flatten`` module would run in float between a dequantise and a quantise.
        """
        return torch.flatten(self.layers(x), 1)


class BoxPredictor(nn.Module):
    """(R, D) -> class logits (R, K + 1) and box deltas (R, 4 (K + 1)) (zeros for background)."""

    def __init__(self, in_dim: int, num_classes: int) -> None:
        super().__init__()
        self.cls_score = nn.Linear(in_dim, num_classes + 1)
        self.bbox_pred = nn.Linear(in_dim, 4 * num_classes)
        nn.init.normal_(self.cls_score.weight, std=0.01)
        nn.init.normal_(self.bbox_pred.weight, std=0.001)
        if self.cls_score.bias is not None:
            nn.init.zeros_(self.cls_score.bias)
        if self.bbox_pred.bias is not None:
            nn.init.zeros_(self.bbox_pred.bias)

    def scores_and_deltas(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(R, D) -> (logits (R, K+1), foreground deltas (R, 4K)): the two linear layers."""
        return self.cls_score(x), self.bbox_pred(x)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(R, D) -> (logits (R, K+1), deltas (R, 4(K+1)))."""
        logits, deltas = self.scores_and_deltas(x)
        return logits, with_background_deltas(deltas)


def with_background_deltas(deltas: torch.Tensor) -> torch.Tensor:
    """Foreground deltas (R, 4K) -> (R, 4(K+1)) with a zero block in front for the background."""
    background = deltas.new_zeros((deltas.shape[0], 4))
    return torch.cat([background, deltas], dim=1)
