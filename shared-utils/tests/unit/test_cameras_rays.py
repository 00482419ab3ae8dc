"""Perspective and orthographic rays."""

from __future__ import annotations

import numpy as np
import torch

from shared_utils.cameras.pinhole import PinholeCamera
from shared_utils.cameras.rays import camera_rays, orthographic_rays, pixel_rays
from shared_utils.cameras.rigs import look_at


def _camera() -> PinholeCamera:
    K = np.array([[30.0, 0.0, 8.0], [0.0, 32.0, 6.0], [0.0, 0.0, 1.0]])
    return PinholeCamera(K, look_at((1.0, -3.0, 2.0), (0.2, 0.1, -0.3)), 16, 12)


def test_principal_point_ray_is_camera_z() -> None:
    cam = _camera()
    o, d = pixel_rays(cam, np.array([[cam.cx, cam.cy]]), dtype=torch.float64)
    np.testing.assert_allclose(o[0].numpy(), cam.center, atol=1e-12)
    np.testing.assert_allclose(d[0].numpy(), cam.R[2], atol=1e-12)  # camera +z in world
    np.testing.assert_allclose((cam.R @ d[0].numpy()), [0, 0, 1], atol=1e-12)


def test_camera_rays_reproject_to_pixel_centres() -> None:
    cam = _camera()
    o, d = camera_rays(cam, dtype=torch.float64)
    assert o.shape == d.shape == (12, 16, 3)
    assert d.dtype == torch.float64
    np.testing.assert_allclose(torch.linalg.norm(d, dim=-1).numpy(), 1.0, atol=1e-12)
    pts = (o + 2.5 * d).reshape(-1, 3).numpy()
    uv, depth = cam.project(pts)
    jj, ii = np.meshgrid(np.arange(16), np.arange(12))
    np.testing.assert_allclose(uv[:, 0], jj.ravel() + 0.5, atol=1e-9)
    np.testing.assert_allclose(uv[:, 1], ii.ravel() + 0.5, atol=1e-9)
    assert np.all(depth > 0)


def test_camera_rays_default_dtype_and_tensor_uv() -> None:
    cam = _camera()
    o, d = camera_rays(cam)
    assert o.dtype == d.dtype == torch.float32
    uv = torch.tensor([[0.5, 0.5], [15.5, 11.5]], dtype=torch.float64)
    _, d2 = pixel_rays(cam, uv)
    assert d2.dtype == torch.float64
    torch.testing.assert_close(d2[0].float(), d[0, 0])
    torch.testing.assert_close(d2[1].float(), d[11, 15])


def test_orthographic_rays_grid() -> None:
    T = look_at((0.0, 0.0, 5.0), (0.0, 0.0, 0.0), up=(0.0, 1.0, 0.0))
    o, d = orthographic_rays(T, 4, 2, 0.5, dtype=torch.float64)
    assert o.shape == d.shape == (2, 4, 3)
    np.testing.assert_allclose(d.numpy(), np.broadcast_to([0, 0, -1], (2, 4, 3)), atol=1e-12)
    # Origins lie on the plane z = 5 (camera z = 0), spaced by the pixel size, centred.
    np.testing.assert_allclose(o[..., 2].numpy(), 5.0, atol=1e-12)
    np.testing.assert_allclose(o.reshape(-1, 3).mean(0).numpy(), [0, 0, 5], atol=1e-12)
    np.testing.assert_allclose((o[0, 1] - o[0, 0]).norm().item(), 0.5, atol=1e-12)
    np.testing.assert_allclose((o[1, 0] - o[0, 0]).norm().item(), 0.5, atol=1e-12)
    # Pixel (0, 0) sits at the top-left of the grid in camera coordinates (x right, y down).
    cam_pts = (o.reshape(-1, 3).numpy() @ T[:3, :3].T) + T[:3, 3]
    np.testing.assert_allclose(cam_pts[0], [-0.75, -0.25, 0.0], atol=1e-12)
    np.testing.assert_allclose(cam_pts[-1], [0.75, 0.25, 0.0], atol=1e-12)
