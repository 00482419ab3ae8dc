"""The two-stage DensePose detector: backbone -> neck -> RPN -> box head -> DensePose head.

Built from torchvision's detection parts (image transform, anchor generator, RPN,
matcher/sampler/box coder, NMS, RoIAlign/RoIPool) and timm backbones. Inputs are lists of
(3, H, W) images in [0, 1]; training targets per image are dicts with

* ``boxes`` (G, 4) x1y1x2y2 pixels, ``labels`` (G,) int64 (1 = person),
* ``dp_masks`` (G, 256, 256) int64 coarse part labels in the box frame, ``has_dp`` (G,) bool,
* ``dp_instance`` (P,) int64, ``dp_xy`` (P, 2) in the 256x256 box frame, ``dp_I`` (P,) int64,
  ``dp_uv`` (P, 2).

Inference returns per image ``boxes``, ``scores``, ``labels`` (in input pixels) and the
DensePose maps of each detection (``coarse``, ``fine``, ``u``, ``v``, each (N, ., S, S) in
that detection's box frame).
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.rpn import RegionProposalNetwork, RPNHead
from torchvision.models.detection.transform import GeneralizedRCNNTransform

from mobile_densepose.config import LossConfig, ModelConfig
from mobile_densepose.losses import densepose_losses
from mobile_densepose.model.backbone import TimmBackbone
from mobile_densepose.model.bifpn import BiFPN
from mobile_densepose.model.box_head import BoxHead, BoxPredictor
from mobile_densepose.model.box_stage import BoxStage
from mobile_densepose.model.densepose_head import ConvStackHead, DeepLabHead
from mobile_densepose.model.fpn import FPN
from mobile_densepose.model.poolers import RoIPooler, boxes_to_rois
from mobile_densepose.model.predictor import DensePoseOutput, DensePosePredictor
from mobile_densepose.targets import PointTargets, mask_targets, point_targets

LEVELS = ("p2", "p3", "p4", "p5", "p6")


class DensePoseRCNN(nn.Module):
    """DensePose R-CNN / Parsing R-CNN / Mobile Parsing R-CNN, chosen by a ModelConfig."""

    def __init__(self, cfg: ModelConfig, loss: LossConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.loss_cfg = loss or LossConfig()
        self.transform = GeneralizedRCNNTransform(
            cfg.min_size, cfg.max_size, list(cfg.pixel_mean), list(cfg.pixel_std), size_divisible=32
        )
        self.backbone = TimmBackbone(cfg.backbone, cfg.backbone_norm, cfg.feature_location)
        c = cfg.neck_channels
        self.neck: nn.Module = (
            BiFPN(self.backbone.channels, c)
            if cfg.neck == "bifpn"
            else FPN(self.backbone.channels, c)
        )
        anchors = AnchorGenerator(
            tuple((s,) for s in cfg.anchor_sizes),
            (tuple(cfg.aspect_ratios),) * len(cfg.anchor_sizes),
        )
        self.rpn = RegionProposalNetwork(
            anchors,
            RPNHead(c, len(cfg.aspect_ratios)),
            fg_iou_thresh=0.7,
            bg_iou_thresh=0.3,
            batch_size_per_image=cfg.rpn_batch_size_per_image,
            positive_fraction=0.5,
            pre_nms_top_n={
                "training": cfg.rpn_pre_nms_top_n_train,
                "testing": cfg.rpn_pre_nms_top_n_test,
            },
            post_nms_top_n={
                "training": cfg.rpn_post_nms_top_n_train,
                "testing": cfg.rpn_post_nms_top_n_test,
            },
            nms_thresh=0.7,
        )
        self.box_pooler = RoIPooler(
            cfg.box_pool_resolution,
            [4, 8, 16, 32],
            cfg.box_pooler,
            cfg.box_sampling_ratio,
            cfg.box_aligned,
        )
        self.box_head = BoxHead(
            cfg.box_head, c, cfg.box_pool_resolution, cfg.box_fc_dim, cfg.box_num_conv
        )
        self.box_predictor = BoxPredictor(self.box_head.out_dim, cfg.num_classes)
        self.box_stage = BoxStage(
            cfg.box_batch_size_per_image,
            cfg.box_positive_fraction,
            cfg.score_thresh,
            cfg.nms_thresh,
            cfg.detections_per_img,
        )
        dp_strides = [4] if cfg.dp_levels == "p2" else [4, 8, 16, 32]
        self.dp_pooler = RoIPooler(
            cfg.dp_pool_resolution, dp_strides, cfg.dp_pooler, cfg.dp_sampling_ratio, cfg.dp_aligned
        )
        self.dp_head: nn.Module = (
            DeepLabHead(c, cfg.dp_conv_dim, cfg.dp_num_convs, cfg.dp_nonlocal, cfg.aspp_dilations)
            if cfg.dp_head == "deeplab"
            else ConvStackHead(c, cfg.dp_conv_dim, cfg.dp_num_convs)
        )
        self.dp_predictor = DensePosePredictor(
            cfg.dp_conv_dim,
            cfg.num_coarse_segm,
            cfg.num_patches,
            cfg.dp_deconv_kernel,
            cfg.dp_up_scale,
        )

    # ------------------------------------------------------------------ pieces
    def features(self, images: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        """(B, 3, H, W) normalised, padded batch -> OrderedDict p2..p6."""
        pyramid = self.neck(self.backbone(images))
        return OrderedDict((k, pyramid[k]) for k in LEVELS)

    def densepose(self, feats: dict[str, torch.Tensor], rois: torch.Tensor) -> DensePoseOutput:
        """Features + (R, 5) rois (batch index, x1y1x2y2 in network pixels) -> DensePose maps."""
        names = ["p2"] if self.cfg.dp_levels == "p2" else ["p2", "p3", "p4", "p5"]
        pooled = self.dp_pooler([feats[n] for n in names], rois)
        return self.dp_predictor(self.dp_head(pooled))

    def boxes(
        self, feats: dict[str, torch.Tensor], rois: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Features + (R, 5) rois -> (class logits (R, K+1), deltas (R, 4(K+1)))."""
        pooled = self.box_pooler([feats[n] for n in ("p2", "p3", "p4", "p5")], rois)
        return self.box_predictor(self.box_head(pooled))

    # ------------------------------------------------------------------ forward
    def forward(
        self, images: list[torch.Tensor], targets: list[dict[str, torch.Tensor]] | None = None
    ) -> dict[str, torch.Tensor] | list[dict[str, torch.Tensor]]:
        """Training (targets given): dict of losses. Inference: per image detections + DensePose."""
        if self.training and targets is None:
            raise ValueError("targets are required in training mode")
        original_sizes = [(int(im.shape[-2]), int(im.shape[-1])) for im in images]
        image_list, targets_t = self.transform(images, targets)
        feats = self.features(image_list.tensors)
        proposals, rpn_losses = self.rpn(image_list, feats, targets_t)
        if self.training:
            assert targets_t is not None
            return rpn_losses | self._train_heads(feats, proposals, targets_t)
        with torch.no_grad():
            logits, deltas = self.boxes(feats, boxes_to_rois(proposals))
            dets = self.box_stage.postprocess(logits, deltas, proposals, image_list.image_sizes)
            counts = [d["boxes"].shape[0] for d in dets]
            if sum(counts):
                out = self.densepose(feats, boxes_to_rois([d["boxes"] for d in dets]))
                for d, coarse, fine, u, v in zip(
                    dets, *(t.split(counts) for t in out), strict=False
                ):
                    d.update(coarse=coarse, fine=fine, u=u, v=v)
            else:
                s = self.cfg.heatmap_size
                for d in dets:
                    empty = d["boxes"].new_zeros((0, 1, s, s))
                    d.update(coarse=empty, fine=empty, u=empty, v=empty)
            for d, size_net, size_in in zip(dets, image_list.image_sizes, original_sizes):
                scale = torch.tensor(
                    [size_in[1] / size_net[1], size_in[0] / size_net[0]] * 2,
                    device=d["boxes"].device,
                )
                d["boxes"] = d["boxes"] * scale
        return dets

    def _train_heads(
        self,
        feats: dict[str, torch.Tensor],
        proposals: list[torch.Tensor],
        targets: list[dict[str, torch.Tensor]],
    ) -> dict[str, torch.Tensor]:
        sample = self.box_stage.sample([p.detach() for p in proposals], targets)
        logits, deltas = self.boxes(feats, boxes_to_rois(sample.proposals))
        losses = self.box_stage.loss(logits, deltas, sample)
        rois, pts, masks = self._densepose_targets(sample, targets)
        out = self.densepose(feats, rois)
        return losses | densepose_losses(out, pts, masks, self.loss_cfg)

    def _densepose_targets(
        self, sample: object, targets: list[dict[str, torch.Tensor]]
    ) -> tuple[torch.Tensor, PointTargets, torch.Tensor]:
        """Foreground RoIs with IoU >= dp_fg_iou and an annotated person -> rois, points, masks."""
        from mobile_densepose.model.box_stage import BoxSample

        assert isinstance(sample, BoxSample)
        size = self.cfg.heatmap_size
        all_rois, all_masks = [], []
        parts: dict[str, list[torch.Tensor]] = {"roi": [], "t": [], "i": [], "uv": []}
        offset = 0
        for img, (props, matched, labels, ious, tgt) in enumerate(
            zip(sample.proposals, sample.matched_idxs, sample.labels, sample.ious, targets)
        ):
            if tgt["boxes"].numel() == 0:
                continue
            has_dp = tgt["has_dp"][matched]
            keep = torch.nonzero((labels > 0) & (ious >= self.cfg.dp_fg_iou) & has_dp).flatten()
            keep = keep[: self.cfg.dp_max_rois_per_image]
            if keep.numel() == 0:
                continue
            rois, gt_idx = props[keep], matched[keep]
            pt = point_targets(
                rois,
                tgt["boxes"],
                tgt["dp_instance"],
                tgt["dp_xy"],
                tgt["dp_I"],
                tgt["dp_uv"],
                gt_idx,
            )
            parts["roi"].append(pt.roi_index + offset)
            parts["t"].append(pt.coords)
            parts["i"].append(pt.parts)
            parts["uv"].append(pt.uv)
            m = mask_targets(rois, tgt["boxes"], tgt["dp_masks"], gt_idx, size)
            all_masks.append(m if self.cfg.num_coarse_segm == 15 else (m > 0).long())
            all_rois.append(torch.cat([torch.full_like(rois[:, :1], float(img)), rois], dim=1))
            offset += rois.shape[0]
        device = targets[0]["boxes"].device
        if not all_rois:
            empty = torch.zeros((0,), dtype=torch.int64, device=device)
            return (
                torch.zeros((0, 5), device=device),
                PointTargets(
                    empty,
                    torch.zeros((0, 2), device=device),
                    empty,
                    torch.zeros((0, 2), device=device),
                ),
                torch.zeros((0, size, size), dtype=torch.int64, device=device),
            )
        points = PointTargets(
            torch.cat(parts["roi"]),
            torch.cat(parts["t"]),
            torch.cat(parts["i"]),
            torch.cat(parts["uv"]),
        )
        return torch.cat(all_rois), points, torch.cat(all_masks)
