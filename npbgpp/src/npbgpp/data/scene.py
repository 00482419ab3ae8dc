"""The in-memory scene: posed images and a point cloud, validated on construction."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from npbgpp.camera import Camera
from shared_utils.cameras.pinhole import PinholeCamera


class SceneError(ValueError):
    """A scene that cannot be used: the message names the source and the field."""


@dataclass
class Scene:
    """Views of one scene with their cameras and the scene's point cloud."""

    name: str
    """Scene name (or the folder it was read from)."""
    images: np.ndarray
    """(V, H, W, 3) float32 views in [0, 1]."""
    cameras: list[PinholeCamera]
    """One camera per view (OpenCV axes, corner-origin pixels)."""
    points: np.ndarray
    """(N, 3) float32 world points."""
    colors: np.ndarray | None = None
    """(N, 3) float32 point colours in [0, 1], when the source has them."""
    masks: np.ndarray | None = None
    """(V, H, W) float32 foreground masks in [0, 1], when the source has them (IDR
    ``mask/``, NeRF-Synthetic alpha, the embedded renders): targets of the Dice loss."""

    def __post_init__(self) -> None:
        src = self.name
        images = np.asarray(self.images, dtype=np.float32)
        if images.ndim != 4 or images.shape[-1] != 3:
            raise SceneError(f"{src}: images must be (V, H, W, 3), got {images.shape}")
        if len(self.cameras) == 0:
            raise SceneError(f"{src}: cameras: the scene has no cameras")
        if len(self.cameras) != len(images):
            raise SceneError(
                f"{src}: cameras/images: {len(self.cameras)} cameras but {len(images)} images"
            )
        for i, cam in enumerate(self.cameras):
            if (cam.height, cam.width) != images.shape[1:3]:
                raise SceneError(
                    f"{src}: cameras[{i}]: size {cam.width}x{cam.height} does not match the "
                    f"image size {images.shape[2]}x{images.shape[1]}"
                )
        points = np.asarray(self.points, dtype=np.float32)
        if points.ndim != 2 or points.shape[1] != 3:
            raise SceneError(f"{src}: points must be (N, 3), got {points.shape}")
        if len(points) == 0:
            raise SceneError(f"{src}: points: the point cloud is empty")
        if not np.isfinite(points).all():
            bad = int(np.argmax(~np.isfinite(points).all(axis=1)))
            raise SceneError(f"{src}: points: non-finite coordinates (first at point {bad})")
        if self.colors is not None:
            colors = np.asarray(self.colors, dtype=np.float32)
            if colors.shape != points.shape:
                raise SceneError(
                    f"{src}: colors must match points {points.shape}, got {colors.shape}"
                )
            self.colors = colors
        if self.masks is not None:
            masks = np.asarray(self.masks, dtype=np.float32)
            if masks.shape != images.shape[:3]:
                raise SceneError(
                    f"{src}: masks must be (V, H, W) = {images.shape[:3]}, got {masks.shape}"
                )
            if not np.isfinite(masks).all() or masks.min() < 0 or masks.max() > 1:
                raise SceneError(f"{src}: masks: values must be finite and in [0, 1]")
            self.masks = masks
        self.images = images
        self.points = points

    def __len__(self) -> int:
        return len(self.cameras)

    def image_tensor(self, i: int, device: torch.device | str = "cpu") -> torch.Tensor:
        """View ``i`` as a (3, H, W) float32 tensor."""
        return torch.from_numpy(self.images[i]).permute(2, 0, 1).contiguous().to(device)

    def mask_tensor(self, i: int, device: torch.device | str = "cpu") -> torch.Tensor:
        """Mask of view ``i`` as a (1, H, W) float32 tensor (the scene must have masks)."""
        if self.masks is None:
            raise SceneError(f"{self.name}: masks: the scene has no foreground masks")
        return torch.from_numpy(self.masks[i])[None].to(device)

    def camera(self, i: int, device: torch.device | str = "cpu") -> Camera:
        return Camera.from_pinhole(self.cameras[i], device)

    def point_tensor(self, device: torch.device | str = "cpu") -> torch.Tensor:
        return torch.from_numpy(self.points).to(device)

    def subset(self, indices: list[int], name: str | None = None) -> Scene:
        """The scene restricted to some views (same points)."""
        return Scene(
            name or self.name,
            self.images[indices],
            [self.cameras[i] for i in indices],
            self.points,
            self.colors,
            None if self.masks is None else self.masks[indices],
        )
