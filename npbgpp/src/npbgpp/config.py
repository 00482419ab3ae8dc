"""Typed configs of NPBG++ and the named presets ("tiny" for CPU tests/demo, "paper").

The "paper" preset follows the official implementation (rakhimovv/npbgpp): c = 8
descriptor channels, m = 6 basis functions (an MLP of two hidden layers of width 16) on a
3-frequency harmonic embedding, ridge alpha = 1, spnasnet_100 U-Net extractor (decoder 256/128/64/32/16), gated refiner with
filters 16/32/48/64/80 over 5 raster scales, visibility at full resolution, 256 px crops,
3 source views per step, Adam 1e-4 (constant), VGG-19 perceptual + L1 on 4x downsampled
images + the self-supervised descriptor term, AMP on GPU.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from shared_utils.train.trainer import TrainerConfig


@dataclass
class ModelConfig:
    """Architecture of the modeling and rendering stages."""

    descriptor_dim: int = 8
    """c: channels of the feature map and of every point descriptor."""
    num_basis: int = 6
    """m: learnable basis functions H(v) of the view-dependent descriptor (eq. 3)."""
    harmonic_frequencies: int = 3
    """Frequencies of the harmonic embedding of the view direction fed to the basis MLP."""
    basis_hidden: int = 64
    """Width of the hidden layers of the basis MLP."""
    basis_layers: int = 2
    """Hidden layers of the basis MLP."""
    ridge_alpha: float = 1.0
    """alpha: ridge regulariser of the coefficient solve (eq. 5)."""
    encoder: str = "spnasnet_100"
    """Feature-extractor encoder: a timm model name (features_only, 5 levels) or "tiny"."""
    decoder_channels: tuple[int, ...] = (256, 128, 64, 32, 16)
    """Channels of the five U-Net decoder blocks of the feature extractor."""
    refiner_channels: tuple[int, ...] = (16, 32, 48, 64, 80)
    """Filters of the gated refiner U-Net per level; its length is the number of scales."""
    visibility_scale: float = 1.0
    """Resolution factor of the visibility z-buffer (0.5 for ScanNet, 1.0 elsewhere)."""
    up_axis: tuple[float, float, float] = (0.0, 0.0, 1.0)
    """World up direction used for the canonical image alignment."""
    align_views: bool = True
    """Rotate input and output views so the projected world up is vertical."""
    predict_mask: bool = False
    """Give the refiner a 4th output channel, a foreground-mask logit (for the Dice loss)."""

    @property
    def num_scales(self) -> int:
        """Raster scales 1, 1/2, ..., one per refiner level."""
        return len(self.refiner_channels)


@dataclass
class DataConfig:
    """The embedded synthetic scenes (textured objects seen from known cameras)."""

    num_train_scenes: int = 4
    """Scenes used for training."""
    num_test_scenes: int = 1
    """Unseen scenes for evaluation (never trained on)."""
    views_per_scene: int = 16
    """Rendered views per scene (an orbit pair of rings around the object)."""
    image_size: int = 64
    """Height and width of the rendered views (a multiple of 2**(num_scales-1))."""
    num_points: int = 6000
    """Points sampled on the object surfaces per scene."""
    seed: int = 0
    """Seed of the scene generator."""
    photo_texture_every: int = 0
    """Every k-th embedded training scene (i % k == k - 1) is textured with a crop of a
    real photo instead of a procedural pattern; 0: none. Photo textures give the networks
    real colour statistics (see the demo's real stereo pair)."""


@dataclass
class LossConfig:
    """Training losses."""

    l1_weight: float = 1.0
    """Weight of the L1 loss between 4x-downsampled output and target."""
    l1_downsample: int = 4
    """Downsampling factor of the L1 term."""
    perceptual_weight: float = 1.0
    """Weight of the VGG-19 perceptual loss; > 0 needs ``vgg19_weights`` (training stops
    with an error without it), 0 trains with L1 + SSIM instead."""
    vgg19_weights: str | None = None
    """Path to a local state dict of torchvision's ``vgg19`` (ImageNet weights; nothing is
    downloaded). Required when ``perceptual_weight > 0``; unused when it is 0."""
    ssim_weight: float = 1.0
    """Weight of (1 - SSIM), used in place of the perceptual term when
    ``perceptual_weight`` is 0."""
    self_supervised_weight: float = 1.0
    """Weight of the self-supervised term (render from descriptors taken from the target)."""
    dice_weight: float = 0.0
    """Weight of the Dice loss between the predicted mask (needs ``model.predict_mask``) and
    the target view's foreground mask; scenes without masks skip the term."""


@dataclass
class Config:
    """Everything a training run needs."""

    model: ModelConfig = field(default_factory=ModelConfig)
    """Architecture."""
    data: DataConfig = field(default_factory=DataConfig)
    """Embedded data."""
    loss: LossConfig = field(default_factory=LossConfig)
    """Losses."""
    trainer: TrainerConfig = field(default_factory=lambda: TrainerConfig(batch_size=1))
    """Shared trainer settings (batch_size counts target views)."""
    lr: float = 1e-4
    """Adam learning rate."""
    lr_schedule: str = "constant"
    """"constant" (the paper's Adam 1e-4) or "cosine": ``lr`` decays along a half cosine
    to ``lr / 10`` at the last step, for short runs at a high rate (the tiny preset)."""
    crop_size: int = 256
    """Side of the random square crop of the target view (clipped to the image)."""
    source_views: int = 4
    """Source views aggregated into descriptors per training step."""
    color_augment: bool = True
    """Per step, permute the colour channels and scale them (0.7-1.3) in every view of the
    scene, so colour must travel through the descriptors instead of being memorised."""
    run_dir: str = "runs/npbgpp"
    """Run folder (config, checkpoints, metrics, model.pt)."""
    scenes: tuple[str, ...] = ()
    """Scene folders to train on; empty: the embedded synthetic scenes (``data``)."""
    scene_format: str = "colmap"
    """Format of ``scenes``: nerf_synthetic, idr, scannet or colmap."""
    scene_downscale: int = 1
    """Integer image downscale factor applied when loading ``scenes``."""


def tiny_config() -> Config:
    """A model that trains in a few minutes (2500 steps, 48 px views) on 2 CPU cores."""
    return Config(
        model=ModelConfig(
            descriptor_dim=8,
            num_basis=6,
            basis_hidden=32,
            encoder="tiny",
            decoder_channels=(16, 16, 16, 8, 8),
            refiner_channels=(16, 24, 32, 40),
        ),
        data=DataConfig(image_size=48, num_points=4000, views_per_scene=12, num_train_scenes=6),
        loss=LossConfig(perceptual_weight=0.0, ssim_weight=0.05),
        trainer=TrainerConfig(
            steps=2500,
            batch_size=1,
            log_every=100,
            checkpoint_every=0,
            progress=False,
            tensorboard=False,
            deterministic=False,
            device="cpu",
            grad_clip=1.0,
        ),
        lr=2e-3,
        # At a constant 2e-3 one demo run (photo-textured scenes) blew up at step ~2050
        # (gradient norm 1.3 -> 11.8, L1 0.034 -> 0.17) and ended 5 dB worse; decaying the
        # rate makes the late steps small.
        lr_schedule="cosine",
        crop_size=32,
        source_views=3,
    )


def paper_config() -> Config:
    """The official NPBG++ settings (needs a GPU and a local VGG-19 file)."""
    return Config(
        # the official aggregator's basis MLP: width 16, two hidden layers
        model=ModelConfig(basis_hidden=16, basis_layers=2),
        data=DataConfig(image_size=512, num_points=200_000, views_per_scene=64),
        # AMP on GPU (the shared trainer keeps float32 on CPU); the geometry, the
        # aggregation sums and the ridge solve cast themselves to float32 inside
        trainer=TrainerConfig(steps=200_000, batch_size=1, checkpoint_every=5000, amp="bf16"),
        loss=LossConfig(perceptual_weight=1.0, ssim_weight=0.0),
        source_views=3,  # the official selection_count
    )


PRESETS: dict[str, tuple[str, Config]] = {
    "tiny": ("tiny encoder and refiner, 48 px views, a few minutes on CPU", tiny_config()),
    "paper": ("official architecture and losses (spnasnet_100, VGG-19 perceptual)", paper_config()),
}
"""Named presets: name -> (description, config)."""


def preset(name: str) -> Config:
    """A fresh copy of the named preset."""
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    return copy.deepcopy(PRESETS[name][1])
