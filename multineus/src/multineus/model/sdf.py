"""The SDF network: encoded point -> (signed distance, feature), with geometric init.

An MLP of ``layers + 1`` linear maps with softplus(beta=100) activations; at every map
listed in ``skip_in`` the encoded input is concatenated again (and the sum divided by
sqrt 2). The geometric initialisation (Atzmon & Lipman, SAL) makes the network start
close to the SDF of a sphere of radius ``init_radius``: hidden maps ~ N(0, 2 / out),
encoding columns beyond xyz zeroed, last map ~ N(sqrt(pi / in), 1e-4) with bias -r.
The first ``scene_layers`` maps are scene-specific (:mod:`multineus.model.layers`).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from multineus.config import SDFConfig
from multineus.model.embedding import encoded_dim, positional_encoding
from multineus.model.layers import LowRankSceneLinear, SharedLinear, make_linear


def geometric_init(
    cfg: SDFConfig, generator: torch.Generator
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Initial (weight (O, I), bias (O,)) of every linear map of the SDF MLP."""
    d_in = encoded_dim(3, cfg.multires)
    dims = [d_in] + [cfg.hidden] * cfg.layers + [1 + cfg.feature_dim]
    params = []
    n_maps = len(dims) - 1
    for layer in range(n_maps):
        out_dim = dims[layer + 1] - d_in if layer + 1 in cfg.skip_in else dims[layer + 1]
        in_dim = dims[layer]
        w = torch.empty(out_dim, in_dim)
        b = torch.zeros(out_dim)
        if layer == n_maps - 1:
            w.normal_(math.sqrt(math.pi) / math.sqrt(in_dim), 1e-4, generator=generator)
            b.fill_(-cfg.init_radius)
        else:
            w.normal_(0.0, math.sqrt(2.0) / math.sqrt(out_dim), generator=generator)
            if layer == 0 and cfg.multires > 0:
                w[:, 3:] = 0.0
            elif layer in cfg.skip_in and cfg.multires > 0:
                w[:, -(d_in - 3) :] = 0.0
        params.append((w, b))
    return params


class SDFNetwork(nn.Module):
    """f(x) -> (sdf, feature); scene-specific leading maps."""

    def __init__(
        self,
        cfg: SDFConfig,
        *,
        num_scenes: int,
        rank: int,
        scene_layers: int,
        noise: float,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.cfg = cfg
        gen = torch.Generator().manual_seed(seed)
        init = geometric_init(cfg, gen)
        if not 0 <= scene_layers <= len(init):
            raise ValueError(f"scene_layers must be in [0, {len(init)}], got {scene_layers}")
        self.maps = nn.ModuleList(
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
            for i, (w, b) in enumerate(init)
        )
        self.act = nn.Softplus(beta=cfg.softplus_beta)

    def forward(self, x: torch.Tensor, scene: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Args: x (N, 3) points, scene index. Returns sdf (N,), feature (N, F)."""
        inputs = positional_encoding(x, self.cfg.multires)
        h = inputs
        last = len(self.maps) - 1
        for i, lin in enumerate(self.maps):
            if i in self.cfg.skip_in:
                h = torch.cat([h, inputs], dim=-1) / math.sqrt(2.0)
            h = lin(h, scene)
            if i < last:
                h = self.act(h)
        return h[..., 0], h[..., 1:]

    def sdf(self, x: torch.Tensor, scene: int) -> torch.Tensor:
        """(N, 3) -> (N,) signed distances."""
        return self.forward(x, scene)[0]

    def with_gradient(
        self, x: torch.Tensor, scene: int, *, create_graph: bool | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """sdf (N,), feature (N, F) and the spatial gradient (N, 3).

        ``create_graph`` (default: whether autograd is on at the call) keeps the gradient
        differentiable, as the eikonal loss and the colour network's normal input need.
        """
        if create_graph is None:
            create_graph = torch.is_grad_enabled()
        with torch.enable_grad():
            if not x.requires_grad:
                x = x.detach().requires_grad_(True)
            sdf, feature = self.forward(x, scene)
            (grad,) = torch.autograd.grad(
                sdf, x, torch.ones_like(sdf), create_graph=create_graph, retain_graph=create_graph
            )
        if not create_graph:
            sdf, feature = sdf.detach(), feature.detach()
        return sdf, feature, grad

    def scene_maps(self) -> list[LowRankSceneLinear]:
        """The scene-specific maps."""
        return [m for m in self.maps if isinstance(m, LowRankSceneLinear)]

    def shared_maps(self) -> list[SharedLinear]:
        """The shared maps."""
        return [m for m in self.maps if isinstance(m, SharedLinear)]
