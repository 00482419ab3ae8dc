"""LPIPS: the learned perceptual image patch similarity of Zhang et al. (CVPR 2018).

    d(x, y) = sum_l mean_{h,w} || w_l * (f_l(x)/|f_l(x)| - f_l(y)/|f_l(y)|) ||^2

where f_l are the activations after five ReLUs of an ImageNet AlexNet or VGG16 trunk
(torchvision's architectures), normalised to unit length over channels at each pixel,
and w_l >= 0 are the learned per-channel weights of 1x1 "linear" heads (v0.1).

Nothing is downloaded. Two local files are needed:

- the backbone: a torchvision ``state_dict`` of ``alexnet`` (``alexnet-owt-7be5be79.pth``)
  or ``vgg16`` (``vgg16-397923af.pth``), from https://download.pytorch.org/models/;
- the heads: ``alex.pth`` / ``vgg.pth`` of the official ``lpips`` package
  (``lpips/weights/v0.1/`` in https://github.com/richzhang/PerceptualSimilarity or the
  ``lpips`` wheel on PyPI), with keys ``lin{0..4}.model.1.weight`` of shape (1, C, 1, 1).

Inputs follow the workspace convention: (B, 3, H, W) in [0, 1]; they are mapped to
[-1, 1] and then shifted/scaled per channel as the official implementation does.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import alexnet, vgg16

# Slices of torchvision's ``features`` ending at the five ReLUs the paper uses.
_SLICES = {
    "alex": ((0, 2), (2, 5), (5, 8), (8, 10), (10, 12)),
    "vgg": ((0, 4), (4, 9), (9, 16), (16, 23), (23, 30)),
}
_CHANNELS = {"alex": (64, 192, 384, 256, 256), "vgg": (64, 128, 256, 512, 512)}
_BACKBONE_FILE = {"alex": "alexnet-owt-7be5be79.pth", "vgg": "vgg16-397923af.pth"}
_HEAD_FILE = {"alex": "alex.pth", "vgg": "vgg.pth"}

# The official scaling layer: inputs in [-1, 1] are shifted/scaled to ImageNet statistics.
_SHIFT = (-0.030, -0.088, -0.188)
_SCALE = (0.458, 0.448, 0.450)


def _require_file(path: str | os.PathLike[str] | None, what: str, hint: str) -> Path:
    if path is None:
        raise FileNotFoundError(f"LPIPS needs the {what}; pass its local path. {hint}")
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"LPIPS {what} not found at {p}. {hint}")
    return p


def normalize_channels(x: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    """Divide each pixel's feature vector by its L2 norm over channels; (B,C,H,W) -> same."""
    return x / (torch.sqrt((x * x).sum(dim=1, keepdim=True)) + eps)


class LPIPS(nn.Module):
    """The LPIPS distance with frozen weights loaded from local files.

    Args:
        net: "alex" (the paper's default) or "vgg".
        backbone_weights: torchvision state_dict file of the trunk (see the module doc).
        head_weights: the official v0.1 linear-head file (``alex.pth`` / ``vgg.pth``).

    Forward: ``lpips(x, y)`` with x, y (B, 3, H, W) in [0, 1] -> (B,) distances.
    Gradients flow to the inputs (usable as a loss); the weights are frozen.
    """

    shift: torch.Tensor
    scale: torch.Tensor

    def __init__(
        self,
        net: Literal["alex", "vgg"] = "alex",
        *,
        backbone_weights: str | os.PathLike[str] | None,
        head_weights: str | os.PathLike[str] | None,
    ) -> None:
        super().__init__()
        if net not in _SLICES:
            raise ValueError(f"LPIPS net must be 'alex' or 'vgg', got {net!r}")
        self.net = net
        trunk_path = _require_file(
            backbone_weights,
            f"{net} backbone weights ({_BACKBONE_FILE[net]})",
            "Download torchvision's ImageNet weights from https://download.pytorch.org/models/"
            f"{_BACKBONE_FILE[net]} to a local folder (nothing is downloaded at run time).",
        )
        head_path = _require_file(
            head_weights,
            f"linear-head weights ({_HEAD_FILE[net]}, lpips v0.1)",
            f"Take lpips/weights/v0.1/{_HEAD_FILE[net]} from the 'lpips' package "
            "(PyPI) or https://github.com/richzhang/PerceptualSimilarity.",
        )
        # Build on the meta device: only the trunk is kept, so the large classifier is
        # never allocated; load_state_dict below fills every trunk tensor.
        with torch.device("meta"):
            model = alexnet(weights=None) if net == "alex" else vgg16(weights=None)
        trunk = model.features.to_empty(device="cpu")
        state = torch.load(trunk_path, map_location="cpu", weights_only=True)
        features = {k[len("features.") :]: v for k, v in state.items() if k.startswith("features.")}
        if not features:
            raise ValueError(
                f"{trunk_path}: no 'features.*' keys; expected a torchvision {net} state_dict"
            )
        try:
            trunk.load_state_dict(features, strict=True)
        except RuntimeError as exc:
            raise ValueError(f"{trunk_path}: not a torchvision {net} state_dict: {exc}") from exc
        for layer in trunk:
            if isinstance(layer, nn.ReLU):
                layer.inplace = False  # the sliced activations are kept, so no in-place ops
        self.slices = nn.ModuleList(
            nn.Sequential(*[trunk[i] for i in range(a, b)]) for a, b in _SLICES[net]
        )
        heads = torch.load(head_path, map_location="cpu", weights_only=True)
        self.heads = nn.ParameterList()
        for i, c in enumerate(_CHANNELS[net]):
            key = f"lin{i}.model.1.weight"
            if key not in heads:
                raise ValueError(f"{head_path}: field {key!r} is missing (lpips v0.1 format)")
            w = heads[key]
            if tuple(w.shape) != (1, c, 1, 1):
                raise ValueError(
                    f"{head_path}: field {key!r} has shape {tuple(w.shape)}, expected (1, {c}, 1, 1)"
                )
            self.heads.append(nn.Parameter(w.detach().clone().float(), requires_grad=False))
        self.register_buffer("shift", torch.tensor(_SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(_SCALE).view(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Unit-normalised activations of the five layers for x (B, 3, H, W) in [0, 1]."""
        h = ((2.0 * x - 1.0) - self.shift) / self.scale
        out = []
        for block in self.slices:
            h = block(h)
            out.append(normalize_channels(h))
        return out

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """LPIPS distance; x, y (B, 3, H, W) in [0, 1] -> (B,)."""
        if x.shape != y.shape or x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(
                f"LPIPS expects two (B, 3, H, W) tensors, got {tuple(x.shape)} and {tuple(y.shape)}"
            )
        total = x.new_zeros(x.shape[0])
        for fx, fy, w in zip(self.features(x), self.features(y), self.heads):
            diff = (fx - fy) ** 2
            total = total + F.conv2d(diff, w).mean(dim=(1, 2, 3))
        return total
