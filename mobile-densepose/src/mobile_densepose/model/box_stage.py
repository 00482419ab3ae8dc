"""Second-stage box sampling, loss and post-processing (Fast R-CNN), on torchvision parts.

Training: ground-truth boxes are added to the proposals, every proposal is matched to
its best ground truth (IoU >= 0.5 foreground, below background), a fixed-size sample
with a set positive fraction is drawn and Fast R-CNN's cross-entropy + smooth-L1 losses
are computed (torchvision's ``fastrcnn_loss``). Inference: deltas are decoded, clipped,
thresholded and suppressed per class with NMS.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torchvision.models.detection import _utils as det_utils
from torchvision.models.detection.roi_heads import fastrcnn_loss
from torchvision.ops import boxes as box_ops


@dataclass
class BoxSample:
    """The RoIs drawn for one training step (per image lists)."""

    proposals: list[torch.Tensor]
    """Sampled RoIs per image (N_i, 4)."""
    matched_idxs: list[torch.Tensor]
    """Index of the matched ground truth per RoI (N_i,) (clamped to 0 for background)."""
    labels: list[torch.Tensor]
    """Class label per RoI (N_i,) (0 = background)."""
    ious: list[torch.Tensor]
    """IoU with the matched ground truth per RoI (N_i,)."""
    regression_targets: list[torch.Tensor]
    """Encoded box targets per RoI (N_i, 4)."""


class BoxStage:
    """Sampler + loss + post-processing of the box branch (holds no parameters)."""

    def __init__(
        self,
        batch_size_per_image: int,
        positive_fraction: float,
        score_thresh: float,
        nms_thresh: float,
        detections_per_img: int,
        fg_iou: float = 0.5,
    ) -> None:
        self.matcher = det_utils.Matcher(fg_iou, fg_iou, allow_low_quality_matches=False)
        self.sampler = det_utils.BalancedPositiveNegativeSampler(
            batch_size_per_image, positive_fraction
        )
        self.box_coder = det_utils.BoxCoder((10.0, 10.0, 5.0, 5.0))
        self.score_thresh = score_thresh
        self.nms_thresh = nms_thresh
        self.detections_per_img = detections_per_img

    def sample(
        self, proposals: list[torch.Tensor], targets: list[dict[str, torch.Tensor]]
    ) -> BoxSample:
        """Proposals [(P_i, 4)] + targets with 'boxes' (G_i, 4), 'labels' (G_i,) -> BoxSample."""
        out = BoxSample([], [], [], [], [])
        for props, target in zip(proposals, targets):
            gt_boxes = target["boxes"].to(props.dtype)
            gt_labels = target["labels"]
            props = torch.cat([props, gt_boxes], dim=0)
            if gt_boxes.numel() == 0:
                matched = torch.zeros(props.shape[0], dtype=torch.int64, device=props.device)
                labels = torch.zeros_like(matched)
                ious = torch.zeros(props.shape[0], device=props.device)
                gt_boxes = props.new_zeros((1, 4))
            else:
                iou = box_ops.box_iou(gt_boxes, props)
                ious, _ = iou.max(dim=0)
                matched = self.matcher(iou)
                labels = gt_labels[matched.clamp(min=0)].to(torch.int64)
                labels[matched < 0] = 0
                matched = matched.clamp(min=0)
            pos, neg = self.sampler([labels])
            keep = torch.nonzero(pos[0] | neg[0]).flatten()
            out.proposals.append(props[keep])
            out.matched_idxs.append(matched[keep])
            out.labels.append(labels[keep])
            out.ious.append(ious[keep])
            out.regression_targets.append(
                self.box_coder.encode_single(gt_boxes[matched[keep]], props[keep])
            )
        return out

    def loss(
        self, class_logits: torch.Tensor, box_regression: torch.Tensor, sample: BoxSample
    ) -> dict[str, torch.Tensor]:
        """Fast R-CNN losses {'loss_classifier', 'loss_box_reg'} on a BoxSample."""
        cls_loss, box_loss = fastrcnn_loss(
            class_logits, box_regression, sample.labels, sample.regression_targets
        )
        return {"loss_classifier": cls_loss, "loss_box_reg": box_loss}

    def postprocess(
        self,
        class_logits: torch.Tensor,
        box_regression: torch.Tensor,
        proposals: list[torch.Tensor],
        image_sizes: list[tuple[int, int]],
    ) -> list[dict[str, torch.Tensor]]:
        """Decode + clip + score threshold + per-class NMS -> per image {'boxes', 'scores', 'labels'}."""
        counts = [p.shape[0] for p in proposals]
        boxes_all = self.box_coder.decode(box_regression, proposals)
        scores_all = F.softmax(class_logits, -1)
        results = []
        for boxes, scores, size in zip(
            boxes_all.split(counts), scores_all.split(counts), image_sizes
        ):
            boxes = box_ops.clip_boxes_to_image(boxes, size)[:, 1:].reshape(-1, 4)
            num_fg = scores.shape[1] - 1
            labels = torch.arange(1, num_fg + 1, device=scores.device).repeat(scores.shape[0])
            scores = scores[:, 1:].reshape(-1)
            keep = torch.nonzero(scores > self.score_thresh).flatten()
            boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
            keep = box_ops.remove_small_boxes(boxes, min_size=1e-2)
            boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
            keep = box_ops.batched_nms(boxes, scores, labels, self.nms_thresh)
            keep = keep[: self.detections_per_img]
            results.append({"boxes": boxes[keep], "scores": scores[keep], "labels": labels[keep]})
        return results
