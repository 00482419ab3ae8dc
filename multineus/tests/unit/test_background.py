"""The NeRF++ background model: parametrisation, sampling, compositing, and that it learns
what lies outside the sphere when the photometric loss covers every pixel."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from multineus.config import BackgroundConfig, tiny_config
from multineus.data.heads import HeadParams, frontal_cameras, render_head
from multineus.data.scenes import SceneViews
from multineus.model.background import composite_outside, inverted_sphere, outside_depths
from multineus.model.multineus import MultiNeuS
from multineus.render.neus import render_outside, render_rays
from multineus.system import MultiNeuSSystem
from multineus.train import meta_train

SMALL = BackgroundConfig(
    enabled=True, n_samples=16, hidden=32, layers=2, skip_in=(), multires=4, code_dim=4
)


def test_inverted_sphere_parametrisation() -> None:
    d = torch.nn.functional.normalize(torch.tensor([[1.0, 2.0, -2.0]]), dim=-1)
    for r in (1.0, 4.0, 1e6):
        torch.testing.assert_close(
            inverted_sphere(d * r), torch.cat([d, torch.tensor([[1 / r]])], 1)
        )


def test_outside_depths_are_even_in_inverse_depth() -> None:
    start = torch.tensor([1.5, 3.0])
    z = outside_depths(start, 8, perturb=False)
    assert bool((z[:, 0] > start).all()) and bool((z[:, 1:] > z[:, :-1]).all())
    inv = start[:, None] / z
    torch.testing.assert_close(inv[:, 1:] - inv[:, :-1], torch.full((2, 7), -1 / 9 * (8 / 8)))
    g = torch.Generator().manual_seed(0)
    zp = outside_depths(start, 8, perturb=True, generator=g)
    edges = torch.linspace(1.0, 1.0 / 9, 9)
    s = start[:, None] / zp
    assert bool(((s <= edges[:-1]) & (s >= edges[1:])).all())  # each in its own interval


def test_composite_outside_known_answers() -> None:
    z = torch.tensor([[2.0, 3.0, 5.0]])
    rgb = torch.tensor([[[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]]])
    c, op = composite_outside(torch.tensor([[1e6, 0.0, 0.0]]), rgb, z)
    torch.testing.assert_close(c, rgb[:, 0])
    assert float(op) == pytest.approx(1.0)
    c, op = composite_outside(torch.tensor([[0.0, 0.0, 1e-3]]), rgb, z)  # last interval: infinite
    torch.testing.assert_close(c, rgb[:, 2])
    c, op = composite_outside(torch.tensor([[math.log(2.0), 0.0, 0.0]]), rgb, z)  # alpha 1/2
    torch.testing.assert_close(c, torch.tensor([[0.5, 0.0, 0.0]]))
    assert float(op) == pytest.approx(0.5)


def _config():
    cfg = tiny_config()
    cfg.renderer.n_samples, cfg.renderer.n_importance = 12, 0
    cfg.rays_per_batch, cfg.multi.num_scenes = 128, 1
    cfg.background = dataclasses.replace(SMALL)
    cfg.loss.color_on = "all"
    return cfg


def test_render_composites_inside_then_outside() -> None:
    cfg = _config()
    torch.manual_seed(0)
    model = MultiNeuS(cfg)
    o = torch.tensor([[0.0, -3.0, 0.0]]).repeat(3, 1)
    d = torch.nn.functional.normalize(torch.tensor([[0.0, 1.0, 0.0], [0.2, 1, 0.1], [1.0, 0, 0]]))
    with torch.no_grad():
        out = render_rays(model, 0, o, d, cfg.renderer, perturb=False)
        assert not bool(out.hit[2])  # the third ray misses the sphere
        background = model.background
        model.background = None
        none = dataclasses.replace(cfg.renderer, background="none")
        plain = render_rays(model, 0, o, d, none, perturb=False)
        model.background = background
        # exit depth of the hit rays: origin at distance 3 from the centre
        b = (o * d).sum(-1)
        exit_depth = -b + torch.sqrt(b**2 - (o.norm(dim=-1) ** 2 - 1.0))
        start = torch.where(out.hit, exit_depth, torch.full_like(b, 1e-2).clamp(min=-b))
        c_out = render_outside(model, 0, o, d, start, False, None)
    torch.testing.assert_close(out.color, plain.color + (1 - out.opacity[:, None]) * c_out)
    torch.testing.assert_close(out.opacity, plain.opacity)


def test_system_refuses_background_without_all_pixel_colour() -> None:
    cfg = _config()
    cfg.loss.color_on = "foreground"
    with pytest.raises(ValueError, match="color_on"):
        MultiNeuSSystem(cfg, MultiNeuS(cfg), [], refine_cameras=False)


def test_new_scene_gets_the_average_background_code() -> None:
    cfg = _config()
    cfg.multi.num_scenes = 3
    model = MultiNeuS(cfg)
    assert model.background is not None
    with torch.no_grad():
        model.background.codes.copy_(torch.arange(12.0).reshape(3, 4))
    new = model.add_scene()
    torch.testing.assert_close(model.background.codes[new], torch.tensor([4.0, 5, 6, 7]))
    assert any(p is model.background.codes for p in model.scene_parameters())


def _scene_with_environment() -> tuple[SceneViews, np.ndarray]:
    """A head in front of an environment at infinity whose colour varies with direction."""
    size = 16
    cams = frontal_cameras(4, image_size=size, fov_deg=30.0, distance=3.0, seed=0, yaw_range=40)
    head = render_head(HeadParams(), cams, mesh_resolution=48)
    images = head.images.copy()
    for k, cam in enumerate(cams):
        jj, ii = np.meshgrid(np.arange(size) + 0.5, np.arange(size) + 0.5)
        pix = np.stack([jj, ii, np.ones_like(jj)], -1) @ np.linalg.inv(cam.K).T
        dirs = pix @ cam.cam_from_world[:3, :3]  # world directions (rotation transposed)
        dirs /= np.linalg.norm(dirs, axis=-1, keepdims=True)
        env = np.stack(
            [0.5 + 0.45 * np.sin(8 * dirs[..., 0]), 0.5 + 0.45 * np.cos(8 * dirs[..., 2]),
             0.5 - 0.45 * np.sin(8 * dirs[..., 0])], -1,
        )  # fmt: skip
        images[k] = np.where(head.masks[k][..., None], images[k], env)
    return SceneViews.from_arrays(images, head.masks, cams), ~head.masks


def _background_error(cfg, model, scene: SceneViews, outside: np.ndarray) -> float:
    system = MultiNeuSSystem(cfg, model, [scene], refine_cameras=False).eval()
    v, row, col = (torch.from_numpy(a) for a in np.nonzero(outside))
    uv = torch.stack([col.float() + 0.5, row.float() + 0.5], -1)
    with torch.no_grad():
        out = system.render(0, 0, v, uv)
    return float((out.color - scene.images[v, row, col]).abs().mean())


def test_background_model_learns_the_environment(tmp_path) -> None:
    scene, outside = _scene_with_environment()
    errors = {}
    for enabled in (True, False):
        cfg = _config()
        cfg.background.enabled = enabled
        cfg.trainer.steps, cfg.trainer.log_every = 120, 0
        before = _background_error(cfg, MultiNeuS(cfg), scene, outside)
        model = meta_train(cfg, [scene], tmp_path / str(enabled))
        errors[enabled] = (before, _background_error(cfg, model, scene, outside))
    (before, after), (_, black) = errors[True], errors[False]
    assert after < 0.6 * before, errors
    assert after < 0.6 * black, errors
