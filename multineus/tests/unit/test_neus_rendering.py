"""NeuS weights, up-sampling and the render core on an analytic sphere and the init SDF."""

from __future__ import annotations

import torch

from multineus.config import RendererConfig, paper_config, tiny_config
from multineus.kernels.neus_weights import neus_render_weights
from multineus.model.multineus import MultiNeuS
from multineus.render.neus import render_rays
from multineus.render.sampling import hierarchical_samples, sphere_bounds
from shared_utils.kernels import assert_close

RADIUS = 0.5


def _sphere_sdf(p: torch.Tensor) -> torch.Tensor:
    return p.norm(dim=-1) - RADIUS


def _analytic_weights(origin: list[float], s: float, n: int = 512):
    o = torch.tensor([origin])
    d = torch.tensor([[0.0, 0.0, 1.0]])
    z = torch.linspace(1.0, 5.0, n + 1)[None]
    pts = o[:, None] + d[:, None] * z[..., None]
    sdf = _sphere_sdf(pts)
    colors = torch.rand(1, n, 3)
    mid = 0.5 * (z[:, 1:] + z[:, :-1])
    return neus_render_weights(
        sdf[:, :-1] * s, sdf[:, 1:] * s, colors, mid, implementation="torch"
    ), mid


def test_weights_peak_at_the_surface_and_sum_to_opacity() -> None:
    (w, _color, depth, opacity), mid = _analytic_weights([0.0, 0.0, -3.0], s=400.0)
    peak = mid[0, int(torch.argmax(w[0]))]
    assert abs(float(peak) - (3.0 - RADIUS)) < 4.0 / 512 + 1e-6
    assert_close(opacity, w.sum(dim=1), atol=1e-6, name="opacity")
    assert float(opacity) > 0.99
    assert abs(float(depth) - 2.5) < 0.01
    # Occlusion-aware: nothing behind the first surface (the exit at z = 3.5).
    assert float(w[0, mid[0] > 3.0].sum()) < 1e-3


def test_ray_missing_the_sphere_is_transparent() -> None:
    (_w, _, _, opacity), _ = _analytic_weights([0.0, 0.9, -3.0], s=400.0)
    # Only NeuS's 1e-5 alpha floor per section remains (512 sections).
    assert float(opacity) < 512 * 2e-5


def test_up_sampler_concentrates_samples_near_the_surface() -> None:
    o = torch.tensor([[0.0, 0.0, -3.0], [0.1, -0.2, -3.0]])
    d = torch.tensor([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    near, far, hit = sphere_bounds(o, d, 1.0)
    assert bool(hit.all())
    z0 = near[:, None] + (far - near)[:, None] * (torch.arange(32) + 0.5)[None] / 32
    z = hierarchical_samples(
        _sphere_sdf, o, d, z0, n_importance=32, steps=4, bound_radius=1.0, implementation="torch"
    )
    assert z.shape == (2, 64)
    assert torch.all(z[:, 1:] >= z[:, :-1])
    surface = near + 1.0 - torch.sqrt(RADIUS**2 - (o[:, :2] ** 2).sum(-1))  # first crossing
    close = (z - surface[:, None]).abs() < 0.05
    coarse_close = (z0 - surface[:, None]).abs() < 0.05
    # 32 new samples per ray: most of them land within 5 cm of the surface.
    assert int(close.sum(1).min()) >= int(coarse_close.sum(1).max()) + 24


def test_render_core_finds_the_network_surface() -> None:
    cfg = tiny_config()
    cfg.sdf = paper_config().sdf
    model = MultiNeuS(cfg).eval()
    with torch.no_grad():
        model.variance.v.fill_(0.6)  # s = e^6: a sharp surface
    o = torch.tensor([[0.0, 0.0, -3.0], [0.0, 3.0, 0.0], [0.0, 0.0, -3.0]])
    d = torch.tensor([[0.0, 0.0, 1.0], [0.0, -1.0, 0.0], [0.0, 1.0, 0.0]])
    rcfg = RendererConfig(n_samples=32, n_importance=32, up_sample_steps=4, implementation="torch")
    with torch.no_grad():
        out = render_rays(model, 0, o, d, rcfg)
        # The network's own first zero crossing along each hit ray, by dense search.
        t = torch.linspace(2.0, 3.0, 2001)
        first = []
        for i in range(2):
            sdf = model.sdf(o[i] + d[i] * t[:, None], 0)
            first.append(float(t[int(torch.nonzero(sdf < 0)[0, 0])]))
    assert out.hit.tolist() == [True, True, False]
    assert abs(first[0] - 2.5) < 0.1 and abs(first[1] - 2.5) < 0.1  # near the init sphere
    assert torch.all((out.depth[:2] - torch.tensor(first)).abs() < 0.02), (out.depth, first)
    assert torch.all(out.opacity[:2] > 0.95) and float(out.opacity[2]) == 0.0
    assert torch.all((out.color >= 0) & (out.color <= 1))
