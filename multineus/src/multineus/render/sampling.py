"""Where NeuS samples a ray: bounds from the bounding sphere and hierarchical up-sampling.

The up-sampler (NeuS, section 3.4) estimates each section's SDF slope from its two
end points (the smaller of its own and the previous section's slope, clamped to <= 0
so only entering crossings count), turns it into NeuS weights with a *fixed* sharpness
s = 64 * 2**i in round i, and draws ``n_importance / steps`` new depths from them by
inverse-CDF sampling. Samples therefore pile up around the first zero crossing.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from multineus.kernels.importance import sample_pdf
from multineus.kernels.neus_weights import neus_render_weights


def sphere_bounds(
    origins: torch.Tensor, directions: torch.Tensor, radius: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Entry/exit depths of rays through a sphere at the origin.

    Args:
        origins: (R, 3); directions: (R, 3) unit.
        radius: sphere radius.

    Returns:
        near (R,), far (R,) (clamped to >= 0) and hit (R,) bool.
    """
    b = (origins * directions).sum(-1)
    c = (origins * origins).sum(-1) - radius**2
    disc = b * b - c
    hit = disc > 0
    root = torch.sqrt(disc.clamp_min(0.0))
    near = (-b - root).clamp_min(0.0)
    far = (-b + root).clamp_min(0.0)
    return near, far, hit & (far > near)


def section_weights(
    z: torch.Tensor,
    sdf: torch.Tensor,
    points: torch.Tensor,
    inv_s: float,
    bound_radius: float,
    implementation: str = "auto",
) -> torch.Tensor:
    """NeuS weights of the sections between consecutive samples, from their SDF values.

    Args:
        z: (R, n) sorted depths; sdf: (R, n) SDF values there; points: (R, n, 3).
        inv_s: fixed sharpness.
        bound_radius: sections entirely outside this sphere get no slope.

    Returns:
        (R, n - 1) weights.
    """
    radius = points.norm(dim=-1)
    inside = ((radius[:, :-1] < bound_radius) | (radius[:, 1:] < bound_radius)).to(z.dtype)
    prev_sdf, next_sdf = sdf[:, :-1], sdf[:, 1:]
    dist = z[:, 1:] - z[:, :-1]
    mid_sdf = 0.5 * (prev_sdf + next_sdf)
    cos = (next_sdf - prev_sdf) / (dist + 1e-5)
    prev_cos = torch.cat([torch.zeros_like(cos[:, :1]), cos[:, :-1]], dim=1)
    cos = torch.minimum(prev_cos, cos).clamp(-1e3, 0.0) * inside
    prev_est = mid_sdf - cos * dist * 0.5
    next_est = mid_sdf + cos * dist * 0.5
    dummy = torch.zeros(*dist.shape, 1, dtype=z.dtype, device=z.device)
    weights, _, _, _ = neus_render_weights(
        prev_est * inv_s,
        next_est * inv_s,
        dummy,
        0.5 * (z[:, 1:] + z[:, :-1]),
        implementation=implementation,
    )
    return weights


def hierarchical_samples(
    sdf_fn: Callable[[torch.Tensor], torch.Tensor],
    origins: torch.Tensor,
    directions: torch.Tensor,
    z: torch.Tensor,
    *,
    n_importance: int,
    steps: int,
    bound_radius: float,
    implementation: str = "auto",
) -> torch.Tensor:
    """Add ``n_importance`` depths to the coarse ``z`` in ``steps`` rounds.

    Args:
        sdf_fn: (P, 3) points -> (P,) SDF values (called without autograd).
        origins, directions: (R, 3).
        z: (R, n) sorted coarse depths.

    Returns:
        (R, n + n_importance) sorted depths.
    """
    if steps < 1 or n_importance % steps != 0:
        raise ValueError(f"n_importance ({n_importance}) must split into {steps} equal rounds")
    per_step = n_importance // steps
    with torch.no_grad():
        pts = origins[:, None] + directions[:, None] * z[..., None]
        sdf = sdf_fn(pts.reshape(-1, 3)).reshape(z.shape)
        for i in range(steps):
            w = section_weights(z, sdf, pts, 64.0 * 2**i, bound_radius, implementation)
            new_z = sample_pdf(z, w, per_step, implementation=implementation)
            new_pts = origins[:, None] + directions[:, None] * new_z[..., None]
            z = torch.cat([z, new_z], dim=1)
            z, order = torch.sort(z, dim=1)
            if i + 1 < steps:
                new_sdf = sdf_fn(new_pts.reshape(-1, 3)).reshape(new_z.shape)
                sdf = torch.gather(torch.cat([sdf, new_sdf], dim=1), 1, order)
                pts = origins[:, None] + directions[:, None] * z[..., None]
    return z
