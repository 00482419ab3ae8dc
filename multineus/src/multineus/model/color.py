"""The colour network: (point, normal, feature[, encoded view direction]) -> rgb in (0, 1).

``layers + 1`` linear maps with ReLU, a sigmoid on the output. In the head setting of
Multi-NeuS the view direction is left out, so the colour is an albedo-like function of
the surface; ``use_view_dir`` restores the NeuS "idr" mode. The first ``scene_layers``
maps are scene-specific.
"""

from __future__ import annotations

import torch
from torch import nn

from multineus.config import ColorConfig
from multineus.model.embedding import encoded_dim, positional_encoding
from multineus.model.layers import make_linear


class ColorNetwork(nn.Module):
    """c(x, n, feature[, d]) -> rgb."""

    def __init__(
        self,
        cfg: ColorConfig,
        *,
        feature_dim: int,
        num_scenes: int,
        rank: int,
        scene_layers: int,
        noise: float,
        seed: int = 1,
    ) -> None:
        super().__init__()
        self.cfg = cfg
        d_in = 6 + feature_dim + (encoded_dim(3, cfg.multires_view) if cfg.use_view_dir else 0)
        dims = [d_in] + [cfg.hidden] * cfg.layers + [3]
        if not 0 <= scene_layers <= len(dims) - 1:
            raise ValueError(f"scene_layers must be in [0, {len(dims) - 1}], got {scene_layers}")
        gen = torch.Generator().manual_seed(seed)
        maps = []
        for i in range(len(dims) - 1):
            # PyTorch's default Linear init, drawn from our generator for determinism.
            bound = 1.0 / dims[i] ** 0.5
            w = (torch.rand(dims[i + 1], dims[i], generator=gen) * 2 - 1) * bound
            b = (torch.rand(dims[i + 1], generator=gen) * 2 - 1) * bound
            maps.append(
                make_linear(
                    w,
                    b,
                    scene_specific=i < scene_layers,
                    num_scenes=num_scenes,
                    rank=rank,
                    weight_norm=cfg.weight_norm,
                    noise=noise,
                    generator=gen,
                )
            )
        self.maps = nn.ModuleList(maps)

    def forward(
        self,
        points: torch.Tensor,
        normals: torch.Tensor,
        features: torch.Tensor,
        scene: int,
        view_dirs: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Args: points, normals (N, 3), features (N, F), view_dirs (N, 3) when used.

        Returns: (N, 3) colours in (0, 1).
        """
        parts = [points, normals]
        if self.cfg.use_view_dir:
            if view_dirs is None:
                raise ValueError("ColorNetwork: use_view_dir=True needs view_dirs")
            parts.append(positional_encoding(view_dirs, self.cfg.multires_view))
        parts.append(features)
        h = torch.cat(parts, dim=-1)
        last = len(self.maps) - 1
        for i, lin in enumerate(self.maps):
            h = lin(h, scene)
            if i < last:
                h = torch.relu(h)
        return torch.sigmoid(h)
