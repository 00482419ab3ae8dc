"""RoI feature pooling from one or several pyramid levels (RoIAlign or RoIPool).

A box of side s = sqrt(area) goes to level floor(4 + log2(s / 224)) clamped to the
available levels (FPN paper eq. 1, as detectron2). With a single level (the mobile
models pool only from P2, stride 4) this is torchvision's ``roi_align`` with
``spatial_scale = 1/4``, ``aligned=True`` and ``sampling_ratio=0``.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn
from torchvision.ops import roi_align, roi_pool


def boxes_to_rois(boxes: list[torch.Tensor]) -> torch.Tensor:
    """Per-image boxes [(N_i, 4) x1y1x2y2] -> (sum N_i, 5) rows (image index, x1, y1, x2, y2)."""
    rows = [torch.cat([torch.full_like(b[:, :1], float(i)), b], dim=1) for i, b in enumerate(boxes)]
    if not rows:
        raise ValueError("boxes_to_rois needs at least one image")
    return torch.cat(rows, dim=0)


def assign_levels(
    rois: torch.Tensor, min_level: int, max_level: int, canonical_size: float = 224.0
) -> torch.Tensor:
    """(R, 5) rois -> (R,) int64 index into the levels [min_level, max_level]."""
    w = (rois[:, 3] - rois[:, 1]).clamp(min=0)
    h = (rois[:, 4] - rois[:, 2]).clamp(min=0)
    size = torch.sqrt(w * h)
    level = torch.floor(4 + torch.log2(size / canonical_size + 1e-8))
    return (level.clamp(min_level, max_level) - min_level).to(torch.int64)


class RoIPooler(nn.Module):
    """Pools a fixed-size feature map for every box.

    Args:
        output_size: side of the pooled map.
        strides: strides of the levels it reads (e.g. [4] for P2 only, [4, 8, 16, 32]).
        kind: 'roi_align' or 'roi_pool'.
        sampling_ratio: RoIAlign samples per bin side (0: adaptive, ceil(bin size)).
        aligned: RoIAlign half-pixel offset (detectron2's ROIAlignV2).
    """

    def __init__(
        self,
        output_size: int,
        strides: list[int],
        kind: Literal["roi_align", "roi_pool"] = "roi_align",
        sampling_ratio: int = 0,
        aligned: bool = True,
    ) -> None:
        super().__init__()
        self.output_size = output_size
        self.scales = [1.0 / s for s in strides]
        self.levels = [round(math.log2(s)) for s in strides]
        self.kind = kind
        self.sampling_ratio = sampling_ratio
        self.aligned = aligned

    def _pool(self, feature: torch.Tensor, rois: torch.Tensor, scale: float) -> torch.Tensor:
        if self.kind == "roi_pool":
            return roi_pool(feature, rois, self.output_size, scale)
        return roi_align(
            feature,
            rois,
            self.output_size,
            spatial_scale=scale,
            sampling_ratio=self.sampling_ratio,
            aligned=self.aligned,
        )

    def forward(self, features: list[torch.Tensor], rois: torch.Tensor) -> torch.Tensor:
        """features: one (B, C, H_l, W_l) map per stride; rois (R, 5) in image pixels -> (R, C, S, S)."""
        if len(features) != len(self.scales):
            raise ValueError(f"expected {len(self.scales)} feature maps, got {len(features)}")
        if len(features) == 1:
            return self._pool(features[0], rois, self.scales[0])
        level_of = assign_levels(rois, self.levels[0], self.levels[-1])
        out = features[0].new_zeros(
            (rois.shape[0], features[0].shape[1], self.output_size, self.output_size)
        )
        for lvl, (feature, scale) in enumerate(zip(features, self.scales)):
            # no data-dependent branch: an empty level pools zero RoIs (keeps tracing exact)
            idx = torch.nonzero(level_of == lvl).flatten()
            out[idx] = self._pool(feature, rois[idx], scale).to(out.dtype)
        return out
