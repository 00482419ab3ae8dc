"""DensePose chart losses (detectron2's DensePoseChartLoss without confidences).

* coarse segmentation: cross-entropy over every RoI pixel vs the part masks, weight
  ``index_weight`` (2.0);
* fine part I: cross-entropy of the bilinearly sampled logits at annotated points,
  weight ``part_weight`` (0.3);
* U, V: smooth-L1 (beta 1, summed) between the ground truth and the prediction of the
  ground-truth chart at annotated points, weight ``point_weight`` (0.1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mobile_densepose.config import LossConfig
from mobile_densepose.model.predictor import DensePoseOutput
from mobile_densepose.targets import PointTargets, sample_maps


def densepose_losses(
    out: DensePoseOutput, points: PointTargets, masks: torch.Tensor, weights: LossConfig
) -> dict[str, torch.Tensor]:
    """Weighted losses {'loss_densepose_S', '_I', '_U', '_V'}.

    Args:
        out: predictor outputs for R RoIs, maps (R, ., S, S).
        points: annotated points in RoI coordinates.
        masks: (R, S, S) coarse part labels (already reduced to 0/1 if 2 channels).
        weights: loss weights.
    """
    # zero losses still reach every predictor output, so that under DDP a rank without
    # DensePose RoIs (or points) gives every parameter a (zero) gradient
    zero = (out.coarse.sum() + out.fine.sum() + out.u.sum() + out.v.sum()) * 0.0
    if out.coarse.shape[0] == 0:
        return {f"loss_densepose_{k}": zero for k in "SIUV"}
    loss_s = F.cross_entropy(out.coarse, masks) * weights.index_weight + zero
    if points.parts.numel() == 0:
        return {"loss_densepose_S": loss_s} | {f"loss_densepose_{k}": zero for k in "IUV"}
    fine = sample_maps(out.fine, points.roi_index, points.coords)
    loss_i = F.cross_entropy(fine, points.parts) * weights.part_weight
    chart = points.parts[:, None]
    u = sample_maps(out.u, points.roi_index, points.coords).gather(1, chart)[:, 0]
    v = sample_maps(out.v, points.roi_index, points.coords).gather(1, chart)[:, 0]
    loss_u = F.smooth_l1_loss(u, points.uv[:, 0], reduction="sum") * weights.point_weight
    loss_v = F.smooth_l1_loss(v, points.uv[:, 1], reduction="sum") * weights.point_weight
    return {
        "loss_densepose_S": loss_s,
        "loss_densepose_I": loss_i,
        "loss_densepose_U": loss_u,
        "loss_densepose_V": loss_v,
    }
