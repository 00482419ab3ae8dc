"""Typed configs and the named presets of the paper's Tables 4, 5 and 6.

Every architecture of the paper is a :class:`ModelConfig` preset. The values follow the
official configs (DensePoseFnL on detectron2's DensePose project):

* ``baseline``: DensePose R-CNN R50-FPN (2-linear box head, 8-conv head of 512 channels,
  RoIs 14x14 pooled from P2-P5),
* ``parsing``: Parsing R-CNN (2-linear box head, ASPP + non-local + 4 conv of 512, RoIs
  32x32 from P2),
* ``mobile_a``: Single-Path NAS + FPN(256), 2-conv box head, ASPP + 4 conv (256),
* ``mobile_a_bifpn_{256,112,88}``: Table 6, BiFPN necks of those widths,
* ``mobile_b`` (= ``paper``): Single-Path NAS + BiFPN(64), everything 64 wide,
* ``tiny``: Mobile (B) shrunk for CPU tests and the demo,
* ``table5_<backbone>``: Mobile (A) with each backbone of Table 5.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, replace
from typing import Annotated, Literal

import tyro

from shared_utils.train.trainer import TrainerConfig


@dataclass
class ModelConfig:
    """The whole two-stage DensePose network: backbone, neck, RPN, box head, DensePose head."""

    backbone: str = "spnasnet_100"
    """timm model name (created with features_only=True, pretrained=False)."""
    backbone_weights: Annotated[str | None, tyro.conf.arg(aliases=("--backbone-weights",))] = None
    """Local file of pretrained backbone weights (e.g. ImageNet), copied into the backbone
    when a training run starts (a resumed run takes its checkpoint instead): a state dict of
    the timm model `backbone`, saved with torch.save(timm.create_model(name,
    pretrained=True).state_dict(), FILE) (read with weights_only=True) or as a .safetensors
    file. None: random initialisation. Nothing is ever downloaded."""
    backbone_norm: Literal["frozen_bn", "bn"] = "frozen_bn"
    """'frozen_bn': backbone BatchNorms become frozen affine buffers (detectron2's FrozenBN,
    what the paper counts); 'bn': trainable BatchNorm (for training from scratch)."""
    feature_location: Literal["", "expansion", "bottleneck", "stage_end"] = "expansion"
    """timm feature tap: '' for ResNets; 'expansion' (official BiFPN code: expanded
    activations); 'stage_end' (stage outputs, trailing stride-1 stages dropped: what the
    FPN rows of Tables 4 and 5 count)."""
    neck: Literal["fpn", "bifpn"] = "bifpn"
    """FPN (1x1 laterals + 3x3 outputs) or BiFPN (one top-down + bottom-up pass)."""
    neck_channels: int = 64
    """Channels of the neck (and of the box head / DensePose head input)."""
    anchor_sizes: tuple[int, ...] = (32, 64, 128, 256, 512)
    """One anchor size per level P2..P6."""
    aspect_ratios: tuple[float, ...] = (0.5, 1.0, 2.0)
    """Anchor aspect ratios (same on every level)."""
    rpn_pre_nms_top_n_train: int = 2000
    """Proposals kept per level before NMS (training)."""
    rpn_pre_nms_top_n_test: int = 1000
    """Proposals kept per level before NMS (inference)."""
    rpn_post_nms_top_n_train: int = 1000
    """Proposals kept after NMS (training)."""
    rpn_post_nms_top_n_test: int = 1000
    """Proposals kept after NMS (inference)."""
    rpn_batch_size_per_image: int = 512
    """Anchors sampled per image for the RPN loss (256 in detectron2, 512 in Parsing R-CNN)."""
    box_head: Literal["linear", "conv"] = "conv"
    """'linear': flatten + 2 fully connected layers; 'conv': 2 3x3 convs of the neck width."""
    box_fc_dim: int = 1024
    """Width of the fully connected layers of the linear box head."""
    box_num_conv: int = 2
    """Number of 3x3 convs of the conv box head."""
    box_pool_resolution: int = 7
    """RoI size of the box branch (pooled from P2-P5)."""
    box_pooler: Literal["roi_align", "roi_pool"] = "roi_align"
    """Pooling of the box branch."""
    box_sampling_ratio: int = 0
    """RoIAlign sampling ratio of the box branch (0 = adaptive)."""
    box_aligned: bool = True
    """RoIAlign half-pixel alignment (detectron2's ROIAlignV2)."""
    box_batch_size_per_image: int = 32
    """RoIs sampled per image for the box loss (32 in the Parsing R-CNN configs)."""
    box_positive_fraction: float = 0.25
    """Fraction of positive RoIs in the box sample."""
    num_classes: int = 1
    """Foreground classes (DensePose-COCO: person)."""
    score_thresh: float = 0.05
    """Minimum detection score at inference."""
    nms_thresh: float = 0.5
    """Box NMS IoU threshold at inference."""
    detections_per_img: int = 100
    """Maximum detections per image."""
    dp_head: Literal["v1convx", "deeplab"] = "deeplab"
    """'v1convx': plain stack of 3x3 convs; 'deeplab': ASPP (+ optional non-local) + convs."""
    dp_num_convs: int = 4
    """3x3 convs of the DensePose head (8 for the baseline, 4 otherwise)."""
    dp_conv_dim: int = 64
    """Width of the DensePose head convs."""
    dp_nonlocal: bool = False
    """Non-local block after ASPP (Parsing R-CNN)."""
    aspp_dilations: tuple[int, int, int] = (6, 12, 18)
    """Dilations of the three atrous ASPP branches."""
    dp_pooler: Literal["roi_align", "roi_pool"] = "roi_align"
    """Pooling of the DensePose branch."""
    dp_levels: Literal["p2", "p2-p5"] = "p2"
    """Feature levels the DensePose RoIs are pooled from."""
    dp_pool_resolution: int = 32
    """RoI size of the DensePose branch."""
    dp_sampling_ratio: int = 0
    """RoIAlign sampling ratio of the DensePose branch (0 = adaptive)."""
    dp_aligned: bool = True
    """RoIAlign half-pixel alignment of the DensePose branch."""
    dp_deconv_kernel: int = 4
    """Kernel of the stride-2 transposed convs of the predictor."""
    dp_up_scale: int = 1
    """Extra bilinear upsampling after the transposed convs (2 in the baseline)."""
    num_coarse_segm: Literal[2, 15] = 15
    """Coarse segmentation channels: 2 (fg/bg) or 15 (14 parts + background)."""
    num_patches: int = 24
    """Body charts; I, U and V have num_patches + 1 channels."""
    dp_fg_iou: float = 0.7
    """Minimum IoU of a proposal with its ground truth to train the DensePose head."""
    dp_max_rois_per_image: int = 32
    """At most this many DensePose RoIs per image during training."""
    min_size: int = 800
    """Shorter image side after resizing."""
    max_size: int = 1333
    """Longer image side limit after resizing."""
    pixel_mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    """Normalisation mean (RGB, images in [0, 1])."""
    pixel_std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    """Normalisation std (RGB)."""

    @property
    def heatmap_size(self) -> int:
        """Side of the DensePose outputs: pooled size x 2 (deconv) x up_scale."""
        return self.dp_pool_resolution * 2 * self.dp_up_scale


@dataclass
class LossConfig:
    """Weights of the DensePose losses (official values)."""

    index_weight: float = 2.0
    """Coarse segmentation cross-entropy weight (detectron2 INDEX_WEIGHTS)."""
    part_weight: float = 0.3
    """Fine part index I cross-entropy weight (PART_WEIGHTS)."""
    point_weight: float = 0.1
    """U and V smooth-L1 weight (POINT_REGRESSION_WEIGHTS)."""


@dataclass
class TrainConfig:
    """Training: model, data, optimiser and the shared trainer's settings."""

    model: ModelConfig = field(default_factory=ModelConfig)
    """The network."""
    loss: LossConfig = field(default_factory=LossConfig)
    """Loss weights."""
    data: str = "data/synthetic"
    """Folder with the annotation json and the image folder (DensePose-COCO layout)."""
    annotations: str = "annotations.json"
    """Annotation file (relative to `data` unless absolute)."""
    image_dir: str = "images"
    """Image folder inside `data`."""
    val_fraction: float = 0.2
    """Fraction of images (the last ones) held out for evaluation."""
    surface: str = ""
    """Body surface npz for DensePose AP ('' = data/body_surface.npz)."""
    hflip: bool = False
    """Add horizontally mirrored training images (parts and U/V relabelled by `uv_symmetry`)."""
    uv_symmetry: str = ""
    """DensePose's UV_symmetry_transforms.mat for `hflip` ('' = data/UV_symmetry_transforms.mat)."""
    run_dir: str = "runs/mobile_densepose"
    """Run folder (checkpoints, metrics, TensorBoard)."""
    lr: float = 0.002
    """Base learning rate."""
    optimizer: Literal["sgd", "adamw"] = "sgd"
    """SGD with momentum 0.9 (the paper) or AdamW (faster from scratch on CPU)."""
    weight_decay: float = 1e-4
    """Weight decay."""
    warmup_steps: int = 1000
    """Linear warm-up steps (from 0.1 x lr, as detectron2's WARMUP_FACTOR)."""
    lr_steps: tuple[int, ...] = (330000, 370000)
    """Steps at which the learning rate drops by 10x."""
    eval_every: int = 0
    """Evaluate on the held-out images every this many steps (0: only at the end)."""
    eval_max_images: int = 200
    """At most this many held-out images per evaluation."""
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    """Shared trainer settings (steps, batch size, AMP, checkpoints, ...)."""


def _baseline() -> ModelConfig:
    return ModelConfig(
        backbone="resnet50",
        feature_location="",
        neck="fpn",
        neck_channels=256,
        rpn_batch_size_per_image=256,
        box_head="linear",
        box_sampling_ratio=2,
        box_aligned=False,
        box_batch_size_per_image=512,
        dp_head="v1convx",
        dp_num_convs=8,
        dp_conv_dim=512,
        dp_pooler="roi_pool",
        dp_levels="p2-p5",
        dp_pool_resolution=14,
        dp_up_scale=2,
        min_size=800,
    )


def _parsing() -> ModelConfig:
    return ModelConfig(
        backbone="resnet50",
        feature_location="",
        neck="fpn",
        neck_channels=256,
        box_head="linear",
        box_sampling_ratio=2,
        box_aligned=False,
        dp_head="deeplab",
        dp_num_convs=4,
        dp_conv_dim=512,
        dp_nonlocal=True,
        dp_pooler="roi_pool",
        dp_levels="p2",
        dp_pool_resolution=32,
    )


def _mobile(
    neck: Literal["fpn", "bifpn"], width: int, backbone: str = "spnasnet_100"
) -> ModelConfig:
    location: Literal["", "expansion", "stage_end"] = (
        "expansion" if neck == "bifpn" else "stage_end"
    )
    return ModelConfig(
        backbone=backbone,
        feature_location="" if backbone.startswith("resnet") else location,
        neck=neck,
        neck_channels=width,
        box_head="conv",
        dp_head="deeplab",
        dp_num_convs=4,
        dp_conv_dim=width,
        dp_levels="p2",
        dp_pool_resolution=32,
    )


def _tiny() -> ModelConfig:
    return replace(
        _mobile("bifpn", 32),
        backbone_norm="bn",
        anchor_sizes=(16, 32, 64, 128, 256),
        rpn_pre_nms_top_n_train=200,
        rpn_pre_nms_top_n_test=100,
        rpn_post_nms_top_n_train=100,
        rpn_post_nms_top_n_test=50,
        rpn_batch_size_per_image=128,
        box_batch_size_per_image=32,
        detections_per_img=10,
        dp_pool_resolution=16,
        dp_fg_iou=0.6,
        dp_max_rois_per_image=8,
        num_coarse_segm=2,
        min_size=128,
        max_size=192,
    )


TABLE5_BACKBONES: dict[str, str] = {
    "resnet50": "ResNet-50",
    "efficientnet_b3": "EfficientNet-B3",
    "efficientnet_el": "EfficientNet-EdgeTPU-L",
    "mixnet_xl": "MixNet-XL",
    "efficientnet_b2": "EfficientNet-B2",
    "mixnet_l": "MixNet-L",
    "efficientnet_em": "EfficientNet-EdgeTPU-M",
    "efficientnet_b1": "EfficientNet-B1",
    "efficientnet_cc_b0_4e": "CondConv-EfficientNet-B0",
    "efficientnet_es": "EfficientNet-EdgeTPU-S",
    "mixnet_m": "MixNet-M",
    "efficientnet_b0": "EfficientNet-B0",
    "mixnet_s": "MixNet-S",
    "mobilenetv3_large_100": "MobileNetV3-Large-1.0",
    "semnasnet_100": "MnasNet-A1",
    "fbnetc_100": "FBNet-C",
    "mnasnet_100": "MnasNet-B1",
    "spnasnet_100": "Single-Path",
    "mobilenetv3_large_075": "MobileNetV3-Large-0.75",
    "tf_mobilenetv3_large_minimal_100": "MobileNetV3-Large-1.0 (minimal)",
    "mobilenetv3_small_100": "MobileNetV3-Small-1.0",
    "mobilenetv3_small_075": "MobileNetV3-Small-0.75",
    "tf_mobilenetv3_small_minimal_100": "MobileNetV3-Small-1.0 (minimal)",
}
"""timm name -> the backbone's name in Table 5 (sorted as in the paper)."""

TABLE5_PARAMS_M: dict[str, float] = {
    "resnet50": 33.61,
    "efficientnet_b3": 16.03,
    "efficientnet_el": 17.89,
    "mixnet_xl": 19.10,
    "efficientnet_b2": 13.68,
    "mixnet_l": 14.62,
    "efficientnet_em": 14.57,
    "efficientnet_b1": 13.03,
    "efficientnet_cc_b0_4e": 18.32,
    "efficientnet_es": 13.12,
    "mixnet_m": 12.39,
    "efficientnet_b0": 12.10,
    "mixnet_s": 11.52,
    "mobilenetv3_large_100": 12.04,
    "semnasnet_100": 10.94,
    "fbnetc_100": 11.49,
    "mnasnet_100": 11.31,
    "spnasnet_100": 11.35,
    "mobilenetv3_large_075": 10.92,
    "tf_mobilenetv3_large_minimal_100": 10.48,
    "mobilenetv3_small_100": 10.07,
    "mobilenetv3_small_075": 9.74,
    "tf_mobilenetv3_small_minimal_100": 9.58,
}
"""Parameter counts (millions) of Table 5."""

PAPER_PARAMS_M: dict[str, float] = {
    "baseline": 59.73,
    "parsing": 54.36,
    "mobile_a": 11.35,
    "mobile_a_bifpn_256": 10.53,
    "mobile_a_bifpn_112": 4.41,
    "mobile_a_bifpn_88": 3.82,
    "mobile_b": 3.35,
}
"""Parameter counts (millions) of Tables 4 and 6."""


def model_presets() -> dict[str, tuple[str, ModelConfig]]:
    """All named model presets: name -> (description, config)."""
    presets: dict[str, tuple[str, ModelConfig]] = {
        "baseline": ("DensePose R-CNN R50-FPN (Table 4)", _baseline()),
        "parsing": ("Parsing R-CNN R50-FPN (Table 4)", _parsing()),
        "mobile_a": ("Mobile Parsing R-CNN (A): SPNAS + FPN 256 (Table 4)", _mobile("fpn", 256)),
        "mobile_a_bifpn_256": ("Mobile (A) with BiFPN 256 (Table 6)", _mobile("bifpn", 256)),
        "mobile_a_bifpn_112": ("Mobile (A) with BiFPN 112 (Table 6)", _mobile("bifpn", 112)),
        "mobile_a_bifpn_88": ("Mobile (A) with BiFPN 88 (Table 6)", _mobile("bifpn", 88)),
        "mobile_b": ("Mobile Parsing R-CNN (B): SPNAS + BiFPN 64 (Table 4)", _mobile("bifpn", 64)),
        "paper": ("= mobile_b, the paper's proposed model", _mobile("bifpn", 64)),
        "tiny": ("Mobile (B) shrunk for CPU tests and the demo", _tiny()),
    }
    for name, label in TABLE5_BACKBONES.items():
        presets[f"table5_{name}"] = (
            f"Mobile (A) with {label} (Table 5)",
            _mobile("fpn", 256, name),
        )
    return presets


def model_preset(name: str) -> ModelConfig:
    """One model preset by name; a clear error lists the known names."""
    presets = model_presets()
    if name not in presets:
        raise KeyError(f"unknown model preset {name!r}; known: {', '.join(presets)}")
    return dataclasses.replace(presets[name][1])


def train_presets() -> dict[str, tuple[str, TrainConfig]]:
    """Training presets: 'tiny' (CPU demo on the synthetic set) and 'paper' (the s3x schedule)."""
    tiny = TrainConfig(
        model=_tiny(),
        hflip=True,
        lr=2e-3,
        optimizer="adamw",
        weight_decay=1e-4,
        warmup_steps=20,
        lr_steps=(100_000,),
        eval_max_images=32,
        trainer=TrainerConfig(
            steps=300,
            batch_size=4,
            grad_clip=10.0,
            log_every=25,
            checkpoint_every=100,
            progress=False,
            tensorboard=False,
        ),
    )
    paper = TrainConfig(
        model=_mobile("bifpn", 64),
        data="datasets/coco",
        annotations="annotations/densepose_coco_2014_train.json",
        image_dir="train2014",
        val_fraction=0.0,
        hflip=True,
        lr=0.002,
        optimizer="sgd",
        warmup_steps=1000,
        lr_steps=(330_000, 370_000),
        trainer=TrainerConfig(steps=390_000, batch_size=16, amp="fp16", checkpoint_every=5000),
    )
    return {
        "tiny": ("Mobile (B) tiny on the synthetic set, a few minutes on CPU", tiny),
        "paper": ("Mobile (B), the official s3x schedule (16 images/batch, 390k steps)", paper),
    }
