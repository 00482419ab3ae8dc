"""Orthographic range scans of a triangle mesh (the DEF input modality).

A range-scan view is an orthographic camera: parallel rays along the camera's +z axis,
one per pixel, starting on the camera's z = 0 plane (``shared_utils`` pixel and axis
conventions). Its depth map is the camera-frame z of the first hit. Scanner noise is
simulated as Gaussian noise along the view direction. Views are placed by choosing a
surface point and a direction: the camera looks at the point from ``standoff`` away,
so the patch centre sees it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shared_utils.cameras.rays import orthographic_rays
from shared_utils.cameras.rigs import look_at
from shared_utils.render.mesh import TexturedMesh
from shared_utils.render.raycast import RaycastScene


@dataclass(frozen=True)
class OrthoView:
    """An orthographic range-scan camera."""

    cam_from_world: np.ndarray
    """(4, 4) world-to-camera rigid transform (OpenCV axes; rays along +z)."""
    pixel_size: float
    """Spacing of neighbouring rays (``resolution_3d``)."""
    width: int
    """Columns."""
    height: int
    """Rows."""

    @property
    def view_direction(self) -> np.ndarray:
        """(3,) world direction of the rays (camera +z)."""
        return self.cam_from_world[2, :3].copy()


@dataclass(frozen=True)
class RangeScan:
    """What a view sees."""

    depth: np.ndarray
    """(H, W) float64 camera z of the hits, ``inf`` at misses."""
    points: np.ndarray
    """(H, W, 3) float64 world points, NaN at misses."""
    normals: np.ndarray
    """(H, W, 3) float64 unit face normals facing the camera, 0 at misses."""
    face_ids: np.ndarray
    """(H, W) int64 hit triangle, -1 at misses."""

    @property
    def mask(self) -> np.ndarray:
        """(H, W) bool surface pixels."""
        return self.face_ids >= 0


def make_scene(vertices: np.ndarray, faces: np.ndarray) -> RaycastScene:
    """A ray-casting scene of one mesh (V,3), (F,3)."""
    return RaycastScene(TexturedMesh(np.asarray(vertices, np.float64), np.asarray(faces, np.int64)))


def scan(scene: RaycastScene, view: OrthoView) -> RangeScan:
    """Cast the view's rays; exact (float64-refined) depth, points and normals."""
    origins, directions = orthographic_rays(
        view.cam_from_world,
        view.width,
        view.height,
        view.pixel_size,
        dtype=__import__("torch").float64,
    )
    hits = scene.cast(origins.numpy(), directions.numpy(), nthreads=1)
    depth = np.where(hits.mask, hits.t, np.inf)
    return RangeScan(depth, hits.points, hits.normals, hits.triangle_ids)


def unproject(view: OrthoView, depth: np.ndarray) -> np.ndarray:
    """World points of a depth map: (H, W) -> (H, W, 3) (NaN where depth is not finite)."""
    h, w = depth.shape
    jj, ii = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    cam = np.stack([(jj - w / 2) * view.pixel_size, (ii - h / 2) * view.pixel_size, depth], axis=-1)
    R, t = view.cam_from_world[:3, :3], view.cam_from_world[:3, 3]
    world = (cam - t) @ R
    return np.where(np.isfinite(depth)[..., None], world, np.nan)


def add_view_noise(
    view: OrthoView, scan_: RangeScan, std: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Noisy depth (H, W) and points (H, W, 3): Gaussian offsets along the view direction."""
    noise = rng.normal(0.0, std, size=scan_.depth.shape) if std > 0 else np.zeros(scan_.depth.shape)
    noise = np.where(scan_.mask, noise, 0.0)
    depth = scan_.depth + noise
    points = scan_.points + noise[..., None] * view.view_direction
    return depth, points


def view_looking_at(
    target: np.ndarray,
    direction: np.ndarray,
    standoff: float,
    pixel_size: float,
    size: int,
    roll: float = 0.0,
) -> OrthoView:
    """An orthographic view whose central ray passes through ``target`` along ``direction``.

    Args:
        target: (3,) world point at the image centre.
        direction: (3,) viewing direction (need not be unit).
        standoff: distance from the image plane to ``target`` (beyond the object).
        pixel_size: ray spacing; size: image side in pixels; roll: rotation about the axis.
    """
    d = np.asarray(direction, np.float64)
    d = d / np.linalg.norm(d)
    helper = np.array([0.0, 0.0, 1.0]) if abs(d[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    up = np.cos(roll) * helper + np.sin(roll) * np.cross(d, helper)
    T = look_at(np.asarray(target) - standoff * d, target, up)
    return OrthoView(T, pixel_size, size, size)
