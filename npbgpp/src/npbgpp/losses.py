"""Training losses: L1 on downsampled images, VGG-19 perceptual (local weights) or SSIM,
and the optional Dice loss on the predicted foreground mask.

The paper trains with a VGG-19 perceptual loss; its ImageNet weights cannot be
downloaded here, so :class:`VGGPerceptual` loads a torchvision ``vgg19`` state dict
from a local file and fails clearly without one. The tiny presets use 1 - SSIM
(shared_utils.metrics.image.ssim) in its place.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from shared_utils.metrics.image import ssim

VGG_LAYERS = (3, 8, 17, 26, 35)
"""Indices (after ReLU) of relu1_2, relu2_2, relu3_4, relu4_4, relu5_4 in vgg19.features."""


def downsampled_l1(pred: torch.Tensor, target: torch.Tensor, factor: int = 4) -> torch.Tensor:
    """Mean |avgpool(pred) - avgpool(target)| with a ``factor`` x ``factor`` window.

    Args:
        pred, target: (B, 3, H, W).
    """
    if factor > 1:
        pred = F.avg_pool2d(pred, factor, ceil_mode=True)
        target = F.avg_pool2d(target, factor, ceil_mode=True)
    return (pred - target).abs().mean()


def dice_loss(prob: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """1 - Dice = 1 - (2 sum(p t) + eps) / (sum(p) + sum(t) + eps), per image, batch-averaged.

    Args:
        prob: (B, 1, H, W) predicted foreground probability.
        target: (B, 1, H, W) foreground mask in [0, 1].
        eps: smoothing, so an empty prediction of an empty mask scores 0.
    """
    dims = tuple(range(1, prob.dim()))
    inter = (prob * target).sum(dims)
    dice = (2 * inter + eps) / (prob.sum(dims) + target.sum(dims) + eps)
    return (1 - dice).mean()


def ssim_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 - SSIM (Gaussian 11 / 1.5 window), averaged over the batch."""
    return 1.0 - ssim(pred, target).mean()


class VGGPerceptual(nn.Module):
    """Sum of L1 distances of VGG-19 activations (ImageNet-normalised inputs)."""

    def __init__(self, weights_path: str | Path):
        super().__init__()
        from torchvision.models import vgg19

        path = Path(weights_path)
        if not path.is_file():
            raise FileNotFoundError(
                f"LossConfig.vgg19_weights: VGG-19 weights file not found: {path} (save "
                "torchvision's vgg19 ImageNet state dict there, or set perceptual_weight=0)"
            )
        net = vgg19(weights=None)
        state = torch.load(path, map_location="cpu", weights_only=True)
        net.load_state_dict(state)
        self.features = net.features[: VGG_LAYERS[-1] + 1].eval()
        for p in self.features.parameters():
            p.requires_grad_(False)
        self.mean: torch.Tensor
        self.std: torch.Tensor
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        x = (pred - self.mean) / self.std
        y = (target - self.mean) / self.std
        loss = pred.new_zeros(())
        for i, layer in enumerate(self.features):
            x, y = layer(x), layer(y)
            if i in VGG_LAYERS:
                loss = loss + (x - y).abs().mean()
        return loss
