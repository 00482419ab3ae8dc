"""Canonical up alignment of views: rotate so the projected world up is vertical.

The feature extractor and the refiner are not rotation-equivariant, so NPBG++ rolls
every camera about its optical axis until the world up axis projects onto the image's
upward vertical (at the principal point), processes the view there, and rotates the
result back. Rolling a camera about its centre is a homography of the image,
``x_aligned ~ K' Rz K^-1 x``; the aligned canvas is grown to hold the whole rotated
image (rounded up to a multiple, for the U-Nets) so nothing is cut off.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from npbgpp.camera import Camera, float32_region


@dataclass(frozen=True)
class Alignment:
    """An original camera, its canonical twin and the homography between their images."""

    original: Camera
    """The input camera."""
    aligned: Camera
    """The camera rolled about its optical axis (canonical orientation, grown canvas)."""
    aligned_from_original: torch.Tensor
    """(3, 3) homography mapping original pixel coordinates to aligned ones."""
    angle: float
    """Roll angle in radians."""


def roll_angle(camera: Camera, up: torch.Tensor) -> float:
    """Roll (radians) that makes the projected ``up`` point straight up in the image.

    The image direction of ``up`` at the principal point is (fx u_x, fy u_y) for the
    camera-frame ``u = R up``; with the roll matrix Rz(a) applied in the camera frame the
    target is the direction (0, -1) (image y points down). Returns 0 when ``up`` is along
    the optical axis (the direction is undefined).
    """
    with float32_region(camera.R.device):
        u = camera.R.float() @ up.to(camera.R).float()
    dx = float(u[0])
    dy = float(u[1])
    if math.hypot(dx, dy) < 1e-8:
        return 0.0
    return -math.pi / 2 - math.atan2(dy, dx)


def _rz(angle: float, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    c, s = math.cos(angle), math.sin(angle)
    return torch.tensor([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]], dtype=dtype, device=device)


def align_camera(
    camera: Camera, up: torch.Tensor, multiple: int = 1, *, enabled: bool = True
) -> Alignment:
    """The canonical twin of ``camera`` for the world direction ``up``.

    Args:
        camera: the original camera.
        up: (3,) world up direction.
        multiple: the aligned canvas height and width are rounded up to a multiple of this.
        enabled: False keeps the orientation (roll 0) and only pads the canvas.
    """
    angle = roll_angle(camera, up) if enabled else 0.0
    dev, dt = camera.K.device, torch.float64
    K = camera.K.to(dt)
    rz = _rz(angle, dt, dev)
    rotate = K @ rz @ torch.linalg.inv(K)
    corners = torch.tensor(
        [[0, 0, 1], [camera.width, 0, 1], [0, camera.height, 1], [camera.width, camera.height, 1]],
        dtype=dt,
        device=dev,
    )
    mapped = corners @ rotate.T
    mapped = mapped[:, :2] / mapped[:, 2:]
    lo = torch.floor(mapped.min(0).values + 1e-6)
    hi = torch.ceil(mapped.max(0).values - 1e-6)
    width = int(hi[0] - lo[0])
    height = int(hi[1] - lo[1])
    width = -(-width // multiple) * multiple
    height = -(-height // multiple) * multiple
    # Centre the rotated image on the (rounded) canvas.
    cx = float(lo[0]) - (width - float(hi[0] - lo[0])) / 2
    cy = float(lo[1]) - (height - float(hi[1] - lo[1])) / 2
    cx, cy = math.floor(cx), math.floor(cy)
    shift = torch.tensor([[1.0, 0.0, -cx], [0.0, 1.0, -cy], [0.0, 0.0, 1.0]], dtype=dt, device=dev)
    homography = shift @ rotate
    K_aligned = shift @ K
    rz4 = torch.eye(4, dtype=dt, device=dev)
    rz4[:3, :3] = rz
    c2w = rz4 @ camera.cam_from_world.to(dt)
    aligned = Camera(K_aligned.float(), c2w.float(), height, width)
    return Alignment(camera, aligned, homography.float(), angle)


def warp_image(
    image: torch.Tensor,
    dst_from_src: torch.Tensor,
    height: int,
    width: int,
    mode: str = "bilinear",
) -> torch.Tensor:
    """Resample ``image`` on a (height, width) canvas through a homography.

    Args:
        image: (B, C, H_src, W_src).
        dst_from_src: (3, 3) maps source pixel coordinates to destination ones.
        height, width: destination size.
        mode: grid_sample interpolation.

    Returns:
        (B, C, height, width); zero outside the source image.
    """
    with float32_region(image.device):
        return _warp(image.float(), dst_from_src, height, width, mode)


def _warp(
    image: torch.Tensor, dst_from_src: torch.Tensor, height: int, width: int, mode: str
) -> torch.Tensor:
    dev = image.device
    src_from_dst = torch.linalg.inv(dst_from_src.double()).to(torch.float32).to(dev)
    ys = torch.arange(height, device=dev, dtype=torch.float32) + 0.5
    xs = torch.arange(width, device=dev, dtype=torch.float32) + 0.5
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    pts = torch.stack([gx, gy, torch.ones_like(gx)], -1) @ src_from_dst.T
    uv = pts[..., :2] / pts[..., 2:]
    h_src, w_src = image.shape[-2:]
    grid = torch.stack([uv[..., 0] / w_src * 2 - 1, uv[..., 1] / h_src * 2 - 1], -1)
    grid = grid[None].expand(image.shape[0], -1, -1, -1)
    return F.grid_sample(image, grid, mode=mode, padding_mode="zeros", align_corners=False)


def align_image(image: torch.Tensor, alignment: Alignment) -> tuple[torch.Tensor, torch.Tensor]:
    """Warp an original view (B, C, H, W) into the canonical canvas.

    Returns:
        The aligned image (B, C, H', W') and its validity mask (B, 1, H', W') (1 where the
        canvas pixel came from inside the original image).
    """
    a = alignment.aligned
    out = warp_image(image, alignment.aligned_from_original, a.height, a.width)
    ones = torch.ones_like(image[:, :1])
    valid = warp_image(ones, alignment.aligned_from_original, a.height, a.width)
    return out, valid


def unalign_image(image: torch.Tensor, alignment: Alignment) -> torch.Tensor:
    """Warp a canonical-canvas image (B, C, H', W') back to the original view (B, C, H, W)."""
    o = alignment.original
    back = torch.linalg.inv(alignment.aligned_from_original.double()).float()
    return warp_image(image, back, o.height, o.width)
