"""A torch pinhole camera for the networks (OpenCV axes, pixel origin at the image corner).

:class:`shared_utils.cameras.pinhole.PinholeCamera` is the numpy camera of the
workspace; the model works with this float32 torch twin so that projections run on the
device of the points.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass

import numpy as np
import torch

from shared_utils.cameras.pinhole import PinholeCamera


def float32_region(device: torch.device | str) -> AbstractContextManager[None]:
    """Switch autocast off for ``device``: geometry (projections, homographies), the
    aggregation sums and the ridge solve run in float32 under AMP; half-precision pixel
    coordinates would be off by whole pixels at 512 px."""
    return torch.autocast(device_type=torch.device(device).type, enabled=False)


@dataclass(frozen=True)
class Camera:
    """Intrinsics, world-to-camera extrinsics and image size, as torch tensors."""

    K: torch.Tensor
    """(3, 3) float32 intrinsics."""
    cam_from_world: torch.Tensor
    """(4, 4) float32 world -> camera (OpenCV axes)."""
    height: int
    """Image height in pixels."""
    width: int
    """Image width in pixels."""

    @classmethod
    def from_pinhole(cls, cam: PinholeCamera, device: torch.device | str = "cpu") -> Camera:
        return cls(
            torch.as_tensor(cam.K, dtype=torch.float32, device=device),
            torch.as_tensor(cam.cam_from_world, dtype=torch.float32, device=device),
            cam.height,
            cam.width,
        )

    def to_pinhole(self) -> PinholeCamera:
        return PinholeCamera(
            self.K.detach().cpu().double().numpy(),
            self.cam_from_world.detach().cpu().double().numpy(),
            self.width,
            self.height,
        )

    def to(self, device: torch.device | str) -> Camera:
        return Camera(self.K.to(device), self.cam_from_world.to(device), self.height, self.width)

    @property
    def R(self) -> torch.Tensor:
        """(3, 3) world -> camera rotation."""
        return self.cam_from_world[:3, :3]

    @property
    def center(self) -> torch.Tensor:
        """(3,) camera centre in world coordinates."""
        with float32_region(self.K.device):
            return -self.R.float().T @ self.cam_from_world[:3, 3].float()

    def project(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """World points (N, 3) -> pixel coordinates (N, 2) and camera depth (N,), in
        float32 also under autocast."""
        with float32_region(points.device):
            points = points.float()
            cam = points @ self.R.float().T + self.cam_from_world[:3, 3].float()
            z = cam[:, 2]
            pix = cam @ self.K.float().T
            uv = pix[:, :2] / z[:, None].clamp_min(1e-8)
        return uv, z

    def view_directions(self, points: torch.Tensor) -> torch.Tensor:
        """Unit directions (N, 3) from the camera centre to the points (world frame)."""
        with float32_region(points.device):
            return torch.nn.functional.normalize(points.float() - self.center, dim=-1)

    def crop(self, x0: int, y0: int, height: int, width: int) -> Camera:
        """The camera of the window [y0, y0 + height) x [x0, x0 + width)."""
        K = self.K.clone()
        K[0, 2] -= x0
        K[1, 2] -= y0
        return Camera(K, self.cam_from_world, height, width)

    def scaled(self, factor: float) -> Camera:
        """The camera of the image resized by ``factor`` (corner-origin pixels)."""
        K = self.K.clone()
        K[:2] *= factor
        return Camera(
            K, self.cam_from_world, round(self.height * factor), round(self.width * factor)
        )


def look_at_camera(
    eye: np.ndarray, target: np.ndarray, up: np.ndarray, K: np.ndarray, height: int, width: int
) -> Camera:
    """A camera at ``eye`` looking at ``target`` with ``up`` roughly up in the image."""
    from shared_utils.cameras.rigs import look_at

    return Camera(
        torch.as_tensor(K, dtype=torch.float32),
        torch.as_tensor(look_at(eye, target, up), dtype=torch.float32),
        height,
        width,
    )
