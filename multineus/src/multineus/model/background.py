"""The optional background model for what lies outside the bounding sphere (NeRF++).

NeuS without masks renders the scene inside the unit sphere with the SDF and everything
beyond it with a NeRF in NeRF++'s inverted-sphere parametrisation: a point p at distance
r > 1 is given as (p / r, 1 / r), a bounded 4-d input where infinity is 1 / r = 0. The
NeRF maps it (positionally encoded) to a density and, with the view direction, a colour.

Each scene's background differs, so the network is conditioned on a learned per-scene
code (our choice for the multi-scene setting; the paper does not describe one). A new
scene starts from the average code, like its SDF coefficients.
"""

from __future__ import annotations

import torch
from torch import nn

from multineus.config import BackgroundConfig
from multineus.model.embedding import encoded_dim, positional_encoding


def inverted_sphere(points: torch.Tensor) -> torch.Tensor:
    """(P, 3) points outside the unit sphere -> (P, 4) (p / r, 1 / r), r = |p|."""
    r = points.norm(dim=-1, keepdim=True).clamp_min(1.0)
    return torch.cat([points / r, 1.0 / r], dim=-1)


def outside_depths(
    start: torch.Tensor, n: int, *, perturb: bool, generator: torch.Generator | None = None
) -> torch.Tensor:
    """(R,) start depths -> (R, n) depths from ``start`` towards infinity, even in 1 / depth.

    Sample k sits at ``start / s_k`` with s_k spread over (0, 1], so the samples are even in
    inverse depth (NeRF++); jitter moves each within its interval.
    """
    edges = torch.linspace(1.0, 1.0 / (n + 1), n + 1, device=start.device, dtype=start.dtype)
    if perturb:
        u = torch.rand(start.shape[0], n, generator=generator).to(start)
    else:
        u = torch.full((start.shape[0], n), 0.5, device=start.device, dtype=start.dtype)
    s = edges[:-1] + (edges[1:] - edges[:-1]) * u
    return start[:, None] / s


def composite_outside(
    sigma: torch.Tensor, rgb: torch.Tensor, z: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """NeRF accumulation of the outside samples.

    Args:
        sigma: (R, N) densities; rgb: (R, N, 3) colours; z: (R, N) increasing depths (the
            last interval reaches infinity).

    Returns:
        colour (R, 3) and opacity (R,) of the background along each ray.
    """
    delta = torch.cat([z[:, 1:] - z[:, :-1], torch.full_like(z[:, :1], 1e10)], dim=1)
    alpha = 1.0 - torch.exp(-sigma * delta)
    trans = torch.cumprod(torch.cat([torch.ones_like(alpha[:, :1]), 1.0 - alpha + 1e-10], 1), 1)
    w = alpha * trans[:, :-1]
    return (w[..., None] * rgb).sum(1), w.sum(1)


class BackgroundNeRF(nn.Module):
    """Density and colour outside the sphere, conditioned on a per-scene code."""

    def __init__(self, cfg: BackgroundConfig, num_scenes: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.codes = nn.Parameter(torch.zeros(num_scenes, cfg.code_dim))
        in_dim = encoded_dim(4, cfg.multires) + cfg.code_dim
        self.layers = nn.ModuleList()
        width = in_dim
        for i in range(cfg.layers):
            if i in cfg.skip_in:
                width += in_dim
            self.layers.append(nn.Linear(width, cfg.hidden))
            width = cfg.hidden
        self.sigma = nn.Linear(cfg.hidden, 1)
        self.feature = nn.Linear(cfg.hidden, cfg.hidden)
        self.rgb_hidden = nn.Linear(cfg.hidden + encoded_dim(3, cfg.multires_view), cfg.hidden // 2)
        self.rgb = nn.Linear(cfg.hidden // 2, 3)

    @property
    def num_scenes(self) -> int:
        """Number of scene codes."""
        return int(self.codes.shape[0])

    def forward(
        self, points: torch.Tensor, dirs: torch.Tensor, scene: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(P, 3) points outside the sphere, (P, 3) unit directions -> sigma (P,), rgb (P, 3)."""
        code = self.codes[scene].expand(points.shape[0], -1)
        x = torch.cat([positional_encoding(inverted_sphere(points), self.cfg.multires), code], -1)
        h = x
        for i, layer in enumerate(self.layers):
            if i in self.cfg.skip_in:
                h = torch.cat([h, x], dim=-1)
            h = torch.relu(layer(h))
        sigma = torch.relu(self.sigma(h))[:, 0]
        view = positional_encoding(dirs, self.cfg.multires_view)
        g = torch.relu(self.rgb_hidden(torch.cat([self.feature(h), view], dim=-1)))
        return sigma, torch.sigmoid(self.rgb(g))

    def append_scene(self, code: torch.Tensor) -> int:
        """Add a scene with the given (code_dim,) code; returns its index."""
        self.codes = nn.Parameter(torch.cat([self.codes.data, code.reshape(1, -1).to(self.codes)]))
        return self.num_scenes - 1
