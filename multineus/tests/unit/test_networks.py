"""Geometric init, low-rank scene layers, scene averaging and camera refinement."""

from __future__ import annotations

import pytest
import torch

from multineus.config import SDFConfig, paper_config, tiny_config
from multineus.model.cameras import CameraRefinement
from multineus.model.embedding import encoded_dim, positional_encoding
from multineus.model.layers import LowRankSceneLinear
from multineus.model.multineus import MultiNeuS
from multineus.model.sdf import SDFNetwork
from shared_utils.cameras.pinhole import PinholeCamera
from shared_utils.cameras.rays import pixel_rays
from shared_utils.cameras.rigs import intrinsics_from_fov, look_at
from shared_utils.kernels import assert_close


def test_positional_encoding_width_and_values() -> None:
    x = torch.tensor([[0.5, -1.0, 2.0]])
    e = positional_encoding(x, 6)
    assert e.shape == (1, encoded_dim(3, 6)) == (1, 39)
    assert_close(e[:, 3:6], torch.sin(x))
    assert_close(e[:, -3:], torch.cos(32 * x))


def test_geometric_init_is_a_sphere() -> None:
    cfg = paper_config().sdf
    radius = cfg.init_radius
    net = SDFNetwork(cfg, num_scenes=1, rank=1, scene_layers=0, noise=0.0)
    g = torch.Generator().manual_seed(0)
    d = torch.randn(500, 3, generator=g)
    d = d / d.norm(dim=1, keepdim=True)
    with torch.no_grad():
        on = net.sdf(d * radius, 0)
        inside = net.sdf(d * 0.5 * radius, 0)
        outside = net.sdf(d * 1.5 * radius, 0)
    # The zero level set is the sphere of the configured radius (to a few per cent), the
    # SDF is negative inside and positive outside (SAL-style init is sphere-like, with a
    # slope near but below 1).
    assert abs(float(on.mean())) < 0.03 and float(on.abs().max()) < 0.12
    assert bool((inside < 0).all()) and bool((outside > 0).all())
    slope = (outside - inside) / radius
    assert 0.6 < float(slope.mean()) < 1.2
    # The paper's architecture: 8 x 256, skip at layer 4, 39-d input, 257-d output.
    shapes = [tuple(m.weight(0).shape) for m in net.maps]
    assert shapes[0] == (256, 39) and shapes[3] == (256 - 39, 256) and shapes[4] == (256, 256)
    assert shapes[-1] == (257, 256) and len(shapes) == 9


def test_low_rank_layer_is_a_combination_of_bases() -> None:
    w, b = torch.randn(5, 4), torch.randn(5)
    layer = LowRankSceneLinear(w, b, num_scenes=3, rank=2, weight_norm=False, noise=0.1)
    with torch.no_grad():
        layer.coefficients.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.3, 0.7]]))
    assert_close(layer.weight(2), 0.3 * layer.basis_v[0] + 0.7 * layer.basis_v[1], atol=1e-6)
    x = torch.randn(7, 4)
    assert_close(layer(x, 0), x @ layer.basis_v[0].T + layer.basis_b[0], atol=1e-5)
    with pytest.raises(IndexError, match="scene 3"):
        layer(x, 3)


def test_scenes_start_at_the_init_and_new_scene_is_the_average() -> None:
    cfg = tiny_config()
    model = MultiNeuS(cfg)
    assert model.num_scenes == cfg.multi.num_scenes
    x = torch.rand(50, 3) - 0.5
    with torch.no_grad():
        sdfs = torch.stack([model.sdf(x, s) for s in range(model.num_scenes)])
        assert float((sdfs - sdfs[0]).abs().max()) < 1e-5  # same coefficients 1/K
        for layer in model.scene_layers():
            layer.coefficients.normal_()
        new = model.add_scene(torch.tensor([1.0, 3.0]), from_scenes=[0, 2])
    assert new == cfg.multi.num_scenes and model.num_scenes == new + 1
    for layer in model.scene_layers():
        c = layer.coefficients
        assert_close(c[new], 0.25 * c[0] + 0.75 * c[2], atol=1e-6)
    n_scene = sum(p.numel() for p in model.scene_parameters())
    n_shared = sum(p.numel() for p in model.shared_parameters())
    assert (
        n_scene == (new + 1) * cfg.multi.rank * len(model.scene_layers())
        and n_shared > 10 * n_scene
    )


def test_bad_scene_layers_is_rejected() -> None:
    with pytest.raises(ValueError, match="scene_layers"):
        SDFNetwork(SDFConfig(), num_scenes=1, rank=1, scene_layers=20, noise=0.0)


def test_camera_correction_at_zero_is_the_identity() -> None:
    K = intrinsics_from_fov(30.0, 40, 30)
    T = look_at((0.3, -2.5, 0.8), (0.0, 0.0, 0.0))
    cam = PinholeCamera(K, T, 40, 30)
    ref = CameraRefinement(torch.tensor(K)[None].float(), torch.tensor(T)[None].float())
    assert_close(ref.cam_from_world(torch.tensor([0])), torch.tensor(T)[None].float(), atol=1e-6)
    uv = torch.tensor([[0.5, 0.5], [20.0, 15.0], [39.5, 29.5]])
    o, d = ref.rays(torch.zeros(3, dtype=torch.long), uv)
    o_ref, d_ref = pixel_rays(cam, uv)
    assert_close(o, o_ref, atol=1e-5, name="origins")
    assert_close(d, d_ref, atol=1e-5, name="directions")
    # A non-zero correction moves the camera, and gradients reach xi and the focal scales.
    (o.sum() + d.sum()).backward()
    assert ref.xi.grad is not None and ref.focal_scale.grad is not None
    with torch.no_grad():
        ref.xi[0, :3] = torch.tensor([0.1, 0.0, 0.0])
    o2, _ = ref.rays(torch.zeros(1, dtype=torch.long), uv[:1])
    assert float((o2 - o[:1]).detach().norm()) == pytest.approx(0.1, abs=1e-5)
    with torch.no_grad():
        ref.focal_scale[0] = torch.tensor([2.0, 0.5])
    K2 = ref.intrinsics(torch.tensor([0]))[0]
    assert_close(K2, torch.tensor(K).float() * torch.tensor([[2.0, 1, 1], [1, 0.5, 1], [1, 1, 1]]))


def test_mismatched_cameras_are_rejected() -> None:
    with pytest.raises(ValueError, match="cam_from_world"):
        CameraRefinement(torch.eye(3)[None].repeat(2, 1, 1), torch.eye(4)[None])
    with pytest.raises(ValueError, match=r"K must be \(V, 3, 3\), got \(3, 3\)"):
        CameraRefinement(torch.eye(3), torch.eye(4)[None])
    # matching shapes are accepted, start at zero correction and keep frozen cameras frozen
    ok = CameraRefinement(torch.eye(3)[None].repeat(2, 1, 1), torch.eye(4)[None].repeat(2, 1, 1))
    assert ok.xi.shape == (2, 6) and float(ok.xi.abs().sum()) == 0.0
    assert_close(ok.cam_from_world(torch.tensor([1])), torch.eye(4)[None])
    frozen = CameraRefinement(torch.eye(3)[None], torch.eye(4)[None], learn=False)
    assert not frozen.xi.requires_grad and not frozen.focal_scale.requires_grad
