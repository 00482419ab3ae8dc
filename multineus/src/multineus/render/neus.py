"""The NeuS render core: colour, depth and opacity of rays for one scene.

For each ray inside the bounding sphere: ``n_samples`` stratified depths, hierarchical
up-sampling to ``n_samples + n_importance``, then at every section midpoint the SDF,
its gradient and the colour; the section's end-point SDFs are extrapolated along the
ray with ``cos = -relu(-d . grad f)`` (NeuS at the end of its cosine annealing) and fed
to :func:`multineus.kernels.neus_weights.neus_render_weights`. Rays that miss the
sphere get opacity 0 and the background colour. With the optional background model
(:mod:`multineus.model.background`), what the sphere transmits is rendered by a NeRF over
the outside of the sphere instead of a constant colour.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from multineus.config import RendererConfig
from multineus.kernels.neus_weights import neus_render_weights
from multineus.model.background import composite_outside, outside_depths
from multineus.model.multineus import MultiNeuS
from multineus.render.sampling import hierarchical_samples, sphere_bounds

BACKGROUNDS = {"black": 0.0, "white": 1.0}


@dataclass
class RenderResult:
    """Per-ray outputs of :func:`render_rays` (R rays, N samples per hit ray)."""

    color: torch.Tensor
    """(R, 3) rendered colour (background included)."""
    depth: torch.Tensor
    """(R,) expected depth along the ray (0 at misses)."""
    opacity: torch.Tensor
    """(R,) sum of the weights."""
    eikonal: torch.Tensor
    """() mean (|grad f| - 1)^2 over samples inside the sphere (0 when none)."""
    weights: torch.Tensor
    """(R_hit, N) weights of the rays that hit the bounding sphere."""
    z: torch.Tensor
    """(R_hit, N) section midpoint depths of those rays."""
    hit: torch.Tensor
    """(R,) bool: the ray crosses the bounding sphere."""


def render_rays(
    model: MultiNeuS,
    scene: int,
    origins: torch.Tensor,
    directions: torch.Tensor,
    cfg: RendererConfig,
    *,
    perturb: bool | None = None,
    generator: torch.Generator | None = None,
) -> RenderResult:
    """Render rays of scene ``scene``.

    Args:
        model: the Multi-NeuS networks.
        scene: scene index.
        origins: (R, 3) ray origins; directions: (R, 3) unit directions (may carry
            gradients, e.g. from camera refinement).
        cfg: sampling and background settings.
        perturb: jitter the coarse samples (default: ``cfg.perturb and model.training``).
        generator: RNG of the jitter.

    Returns:
        :class:`RenderResult`.
    """
    R = origins.shape[0]
    device, dtype = origins.device, origins.dtype
    near, far, hit = sphere_bounds(origins.detach(), directions.detach(), cfg.bound_radius)
    bg = BACKGROUNDS.get(cfg.background, 0.0)
    color = torch.full((R, 3), bg, device=device, dtype=dtype)
    depth = torch.zeros(R, device=device, dtype=dtype)
    opacity = torch.zeros(R, device=device, dtype=dtype)
    idx = torch.nonzero(hit)[:, 0]
    perturb_on = perturb if perturb is not None else (cfg.perturb and model.training)
    if idx.numel() == 0:
        empty = torch.zeros(0, cfg.n_samples + cfg.n_importance, device=device, dtype=dtype)
        if model.background is not None:
            start = closest_approach(origins, directions)
            color = render_outside(model, scene, origins, directions, start, perturb_on, generator)
        return RenderResult(
            color, depth, opacity, torch.zeros((), device=device), empty, empty, hit
        )
    o, d, n0, f0 = origins[idx], directions[idx], near[idx], far[idx]
    t = (torch.arange(cfg.n_samples, device=device, dtype=dtype) + 0.5) / cfg.n_samples
    z = n0[:, None] + (f0 - n0)[:, None] * t[None]
    step = (f0 - n0) / cfg.n_samples
    if perturb_on:
        jitter = torch.rand(z.shape, generator=generator).to(device, dtype) - 0.5
        z = z + jitter * step[:, None]
    if cfg.n_importance > 0:
        z = hierarchical_samples(
            lambda p: model.sdf(p, scene),
            o.detach(),
            d.detach(),
            z,
            n_importance=cfg.n_importance,
            steps=cfg.up_sample_steps,
            bound_radius=cfg.bound_radius,
            implementation=cfg.implementation,
        )
    z = z.detach()
    dists = torch.cat([z[:, 1:] - z[:, :-1], step[:, None]], dim=1)
    mid = z + 0.5 * dists
    pts = o[:, None] + d[:, None] * mid[..., None]
    flat = pts.reshape(-1, 3)
    sdf, feature, grad = model.sdf_net.with_gradient(flat, scene)
    dirs = d[:, None].expand_as(pts).reshape(-1, 3)
    rgb = model.color_net(flat, grad, feature, scene, view_dirs=dirs)
    inv_s = model.variance.inv_s()
    cos = -torch.relu(-(dirs * grad).sum(-1))
    half = 0.5 * cos * dists.reshape(-1)
    shape = z.shape
    w, c, dep, op = neus_render_weights(
        ((sdf - half) * inv_s).reshape(shape),
        ((sdf + half) * inv_s).reshape(shape),
        rgb.reshape(*shape, 3),
        mid,
        implementation=cfg.implementation,
    )
    inside = (pts.reshape(-1, 3).detach().norm(dim=-1) < cfg.bound_radius).to(dtype)
    eik = ((grad.norm(dim=-1) - 1.0) ** 2 * inside).sum() / inside.sum().clamp_min(1.0)
    depth = depth.index_put((idx,), dep)
    opacity = opacity.index_put((idx,), op)
    if model.background is not None:
        # NeRF++: C = C_inside + (1 - opacity_inside) * C_outside; misses are all outside
        start = closest_approach(origins, directions).index_put((idx,), f0)
        c_out = render_outside(model, scene, origins, directions, start, perturb_on, generator)
        color = (1.0 - opacity[:, None]) * c_out
        color = color.index_put((idx,), c + color[idx])
    else:
        if cfg.background != "none":
            c = c + bg * (1.0 - op[:, None])
        color = color.index_put((idx,), c)
    return RenderResult(color, depth, opacity, eik, w, mid, hit)


def closest_approach(origins: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """(R,) depth of each ray's closest approach to the centre (at least 0.01): where the
    background starts for rays that miss the sphere."""
    return torch.clamp(-(origins.detach() * directions.detach()).sum(-1), min=1e-2)


def render_outside(
    model: MultiNeuS,
    scene: int,
    origins: torch.Tensor,
    directions: torch.Tensor,
    start: torch.Tensor,
    perturb: bool,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """(R, 3) colour of the background model along rays from depth ``start`` (R,) on."""
    assert model.background is not None
    z = outside_depths(start, model.background.cfg.n_samples, perturb=perturb, generator=generator)
    pts = origins[:, None] + directions[:, None] * z[..., None]
    dirs = directions[:, None].expand_as(pts).reshape(-1, 3)
    sigma, rgb = model.background(pts.reshape(-1, 3), dirs, scene)
    color, _ = composite_outside(sigma.reshape(z.shape), rgb.reshape(*z.shape, 3), z)
    return color
