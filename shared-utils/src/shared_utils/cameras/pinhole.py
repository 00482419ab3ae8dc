"""The pinhole camera used across the workspace.

Conventions (every reader converts to these):

- Camera frame: OpenCV, x right, y down, z forward (the camera looks along +z).
- Extrinsics: ``cam_from_world`` (4, 4) maps world points to camera points,
  ``x_cam = R @ x_world + t``.
- Intrinsics: ``K`` (3, 3) maps camera points to continuous pixel coordinates whose
  origin is the top-left *corner* of the image; the centre of pixel (row i, column j)
  is at (j + 0.5, i + 0.5). This is the COLMAP / NeRF-Synthetic convention.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PinholeCamera:
    """A pinhole camera: intrinsics, world-to-camera extrinsics and the image size."""

    K: np.ndarray
    """(3, 3) float64 intrinsics matrix [[fx, s, cx], [0, fy, cy], [0, 0, 1]]."""
    cam_from_world: np.ndarray
    """(4, 4) float64 rigid transform from world to camera coordinates (OpenCV axes)."""
    width: int
    """Image width in pixels."""
    height: int
    """Image height in pixels."""

    def __post_init__(self) -> None:
        K = np.asarray(self.K, dtype=np.float64)
        T = np.asarray(self.cam_from_world, dtype=np.float64)
        if K.shape != (3, 3):
            raise ValueError(f"PinholeCamera.K must be (3, 3), got {K.shape}")
        if T.shape != (4, 4):
            raise ValueError(f"PinholeCamera.cam_from_world must be (4, 4), got {T.shape}")
        if int(self.width) <= 0 or int(self.height) <= 0:
            raise ValueError(f"PinholeCamera size must be positive, got {self.width}x{self.height}")
        object.__setattr__(self, "K", K)
        object.__setattr__(self, "cam_from_world", T)
        object.__setattr__(self, "width", int(self.width))
        object.__setattr__(self, "height", int(self.height))

    @property
    def fx(self) -> float:
        return float(self.K[0, 0])

    @property
    def fy(self) -> float:
        return float(self.K[1, 1])

    @property
    def cx(self) -> float:
        return float(self.K[0, 2])

    @property
    def cy(self) -> float:
        return float(self.K[1, 2])

    @property
    def R(self) -> np.ndarray:
        """(3, 3) world-to-camera rotation."""
        return self.cam_from_world[:3, :3]

    @property
    def t(self) -> np.ndarray:
        """(3,) world-to-camera translation."""
        return self.cam_from_world[:3, 3]

    @property
    def world_from_cam(self) -> np.ndarray:
        """(4, 4) camera-to-world transform (the inverse of ``cam_from_world``)."""
        out = np.eye(4)
        out[:3, :3] = self.R.T
        out[:3, 3] = -self.R.T @ self.t
        return out

    @property
    def center(self) -> np.ndarray:
        """(3,) camera centre in world coordinates."""
        return -self.R.T @ self.t

    def projection_matrix(self) -> np.ndarray:
        """(3, 4) matrix ``K [R | t]``."""
        return self.K @ self.cam_from_world[:3, :]

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Project world points.

        Args:
            points: (N, 3) world coordinates.

        Returns:
            uv: (N, 2) continuous pixel coordinates (x to the right, y down).
            depth: (N,) z in the camera frame (positive in front of the camera).
        """
        pts = np.asarray(points, dtype=np.float64)
        cam = pts @ self.R.T + self.t
        depth = cam[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            hom = cam @ self.K.T
            uv = hom[:, :2] / hom[:, 2:3]
        return uv, depth

    def scaled(self, factor: float) -> PinholeCamera:
        """The same camera for an image resized by ``factor`` (intrinsics scale, pose stays)."""
        S = np.diag([factor, factor, 1.0])
        return PinholeCamera(
            K=S @ self.K,
            cam_from_world=self.cam_from_world,
            width=round(self.width * factor),
            height=round(self.height * factor),
        )
