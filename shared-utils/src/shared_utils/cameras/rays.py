"""Camera rays in world coordinates, as torch tensors.

Perspective rays start at the camera centre and pass through pixel positions given in
the workspace pixel convention (centre of pixel (row i, col j) at (j + 0.5, i + 0.5)).
Orthographic rays are parallel to the camera's +z axis and start on the image plane
(the camera's z = 0 plane), which is what range-scan simulation needs.

Everything is computed in float64 and cast at the end, so float32 rays are as accurate
as float32 allows.
"""

from __future__ import annotations

import numpy as np
import torch

from shared_utils.cameras.pinhole import PinholeCamera


def pixel_rays(
    camera: PinholeCamera,
    uv: np.ndarray | torch.Tensor,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """World rays through arbitrary continuous pixel positions.

    Args:
        camera: the camera.
        uv: (..., 2) pixel positions (x to the right, y down; pixel centres at +0.5).
        device: output device; defaults to ``uv``'s device when it is a tensor, else CPU.
        dtype: output dtype; defaults to ``uv``'s floating dtype when it is a tensor,
            else float32.

    Returns:
        origins: (..., 3) the camera centre, repeated.
        directions: (..., 3) unit directions in world coordinates.
    """
    if isinstance(uv, torch.Tensor):
        device = uv.device if device is None else device
        if dtype is None:
            dtype = uv.dtype if uv.is_floating_point() else torch.float32
        uv64 = uv.detach().to("cpu", torch.float64)
    else:
        uv64 = torch.as_tensor(np.asarray(uv, dtype=np.float64))
    dtype = torch.float32 if dtype is None else dtype
    if uv64.shape[-1] != 2:
        raise ValueError(f"pixel_rays expects uv of shape (..., 2), got {tuple(uv64.shape)}")
    K_inv = torch.as_tensor(np.linalg.inv(camera.K))
    world_from_cam = torch.as_tensor(camera.world_from_cam)
    hom = torch.cat([uv64, torch.ones_like(uv64[..., :1])], dim=-1)
    d_cam = hom @ K_inv.T
    d_world = d_cam @ world_from_cam[:3, :3].T
    d_world = d_world / torch.linalg.norm(d_world, dim=-1, keepdim=True)
    origins = world_from_cam[:3, 3].expand_as(d_world)
    return origins.to(device, dtype), d_world.to(device, dtype)


def camera_rays(
    camera: PinholeCamera,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One world ray through the centre of every pixel.

    Args:
        camera: the camera; its width and height set the grid.
        device: output device (CPU by default).
        dtype: output floating dtype.

    Returns:
        origins: (H, W, 3) the camera centre.
        directions: (H, W, 3) unit directions; ``directions[i, j]`` passes through
            pixel position (j + 0.5, i + 0.5).
    """
    uv = _pixel_centres(camera.width, camera.height)
    return pixel_rays(camera, uv, device=device, dtype=dtype)


def orthographic_rays(
    cam_from_world: np.ndarray,
    width: int,
    height: int,
    pixel_size: float,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A grid of parallel rays along the camera's +z axis (an orthographic camera).

    The image plane is the camera's z = 0 plane, centred on the optical axis: the ray of
    pixel (row i, col j) starts at camera point
    ``((j + 0.5 - width / 2) * pixel_size, (i + 0.5 - height / 2) * pixel_size, 0)``
    (x right, y down, OpenCV axes), so the grid spans ``width * pixel_size`` by
    ``height * pixel_size`` world units.

    Args:
        cam_from_world: (4, 4) world-to-camera rigid transform (OpenCV axes).
        width: number of columns.
        height: number of rows.
        pixel_size: spacing between neighbouring rays, in world units.
        device: output device.
        dtype: output floating dtype.

    Returns:
        origins: (H, W, 3) world points on the image plane.
        directions: (H, W, 3) the unit viewing direction (camera +z in world), repeated.
    """
    T = np.asarray(cam_from_world, dtype=np.float64)
    if T.shape != (4, 4):
        raise ValueError(f"orthographic_rays expects a (4, 4) cam_from_world, got {T.shape}")
    if width <= 0 or height <= 0 or pixel_size <= 0:
        raise ValueError(f"orthographic_rays: bad grid {width}x{height}, pixel_size {pixel_size}")
    R = torch.as_tensor(T[:3, :3])
    t = torch.as_tensor(T[:3, 3])
    uv = _pixel_centres(width, height)
    xy = (uv - torch.tensor([width / 2.0, height / 2.0], dtype=torch.float64)) * pixel_size
    p_cam = torch.cat([xy, torch.zeros_like(xy[..., :1])], dim=-1)
    # x_world = R^T (x_cam - t)
    origins = (p_cam - t) @ R
    direction = R[2, :]  # R^T e_z
    directions = direction.expand_as(origins)
    return origins.to(device, dtype), directions.to(device, dtype)


def _pixel_centres(width: int, height: int) -> torch.Tensor:
    """(H, W, 2) float64 pixel-centre coordinates (x = j + 0.5, y = i + 0.5)."""
    xs = torch.arange(width, dtype=torch.float64) + 0.5
    ys = torch.arange(height, dtype=torch.float64) + 0.5
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([xx, yy], dim=-1)
