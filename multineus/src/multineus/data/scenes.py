"""Multi-view scenes as tensors, and the dataset of ray batches the trainer draws from.

A :class:`SceneViews` holds one scene's images, masks and cameras. A
:class:`RayBatches` item ``i`` is one training step's batch: ``rays`` random pixels of
one scene (scenes taken in turn), chosen by a generator seeded with ``(seed, i)`` so
the data order is reproducible and resumable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from shared_utils.cameras.pinhole import PinholeCamera


@dataclass
class SceneViews:
    """One scene: V images with masks and pinhole cameras."""

    images: torch.Tensor
    """(V, H, W, 3) float32 in [0, 1]."""
    masks: torch.Tensor
    """(V, H, W) float32 foreground in {0, 1}."""
    K: torch.Tensor
    """(V, 3, 3) intrinsics."""
    cam_from_world: torch.Tensor
    """(V, 4, 4) extrinsics (OpenCV)."""

    def __post_init__(self) -> None:
        V = self.images.shape[0]
        if self.images.dim() != 4 or self.images.shape[-1] != 3:
            raise ValueError(
                f"SceneViews.images must be (V, H, W, 3), got {tuple(self.images.shape)}"
            )
        if self.masks.shape != self.images.shape[:3]:
            raise ValueError(
                f"SceneViews.masks must be {tuple(self.images.shape[:3])} to match the images, "
                f"got {tuple(self.masks.shape)}"
            )
        if self.K.shape != (V, 3, 3) or self.cam_from_world.shape != (V, 4, 4):
            raise ValueError(
                f"SceneViews: {V} images need K (V, 3, 3) and cam_from_world (V, 4, 4), got "
                f"{tuple(self.K.shape)} and {tuple(self.cam_from_world.shape)}"
            )

    @staticmethod
    def from_arrays(
        images: np.ndarray, masks: np.ndarray, cameras: list[PinholeCamera]
    ) -> SceneViews:
        """From numpy images (V, H, W, 3), masks (V, H, W) and V cameras."""
        if len(cameras) != len(images):
            raise ValueError(f"SceneViews: {len(images)} images but {len(cameras)} cameras")
        for i, cam in enumerate(cameras):
            if (cam.height, cam.width) != tuple(images.shape[1:3]):
                raise ValueError(
                    f"SceneViews: camera {i} is {cam.width}x{cam.height} but the images are "
                    f"{images.shape[2]}x{images.shape[1]}"
                )
        return SceneViews(
            torch.as_tensor(np.asarray(images, dtype=np.float32)),
            torch.as_tensor(np.asarray(masks, dtype=np.float32)),
            torch.as_tensor(np.stack([c.K for c in cameras]), dtype=torch.float32),
            torch.as_tensor(np.stack([c.cam_from_world for c in cameras]), dtype=torch.float32),
        )

    @property
    def num_views(self) -> int:
        """V."""
        return int(self.images.shape[0])

    def select(self, views: list[int]) -> SceneViews:
        """A scene with only the given views."""
        return SceneViews(
            self.images[views], self.masks[views], self.K[views], self.cam_from_world[views]
        )


class RayBatches(Dataset[dict[str, torch.Tensor]]):
    """``length`` batches of ``rays`` pixels; batch i comes from scene ``i % S``."""

    def __init__(
        self,
        scenes: list[SceneViews],
        *,
        rays: int,
        length: int,
        seed: int = 0,
        scene_ids: list[int] | None = None,
    ) -> None:
        """Args: scenes; rays per batch; number of batches; seed; the model's scene
        index of each scene (default 0..S-1)."""
        if not scenes:
            raise ValueError("RayBatches: no scenes")
        self.scenes = scenes
        self.rays = rays
        self.length = length
        self.seed = seed
        self.scene_ids = list(range(len(scenes))) if scene_ids is None else scene_ids

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        k = i % len(self.scenes)
        s = self.scenes[k]
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + i)
        V, H, W = s.masks.shape
        view = torch.randint(V, (self.rays,), generator=g)
        row = torch.randint(H, (self.rays,), generator=g)
        col = torch.randint(W, (self.rays,), generator=g)
        uv = torch.stack([col.float() + 0.5, row.float() + 0.5], dim=-1)
        return {
            "scene": torch.tensor(self.scene_ids[k]),
            "slot": torch.tensor(k),
            "view": view,
            "uv": uv,
            "rgb": s.images[view, row, col],
            "mask": s.masks[view, row, col],
        }


def ray_batch_list(items: list[dict[str, torch.Tensor]]) -> list[dict[str, torch.Tensor]]:
    """Collate for any batch size: each dataset item is already a whole batch of rays of one
    scene, so a rank's share of the global batch is kept as a list (the loss averages it)."""
    if not items:
        raise ValueError("ray_batch_list: empty batch")
    return list(items)


def first_item(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Collate for batch_size 1: each dataset item is already a whole batch of rays."""
    if len(items) != 1:
        raise ValueError(f"RayBatches items are whole batches: use batch_size=1, got {len(items)}")
    return items[0]
