"""Render textured meshes from a pinhole or orthographic camera by ray casting.

One ray per pixel centre (pixel (row i, col j) centre at (j + 0.5, i + 0.5)) gives the
geometric buffers (depth, normals, ids, barycentrics, uv, points); the colour can be
supersampled (``supersample`` x ``supersample`` rays per pixel on a regular grid,
averaged) for simple anti-aliasing. Shading is Lambert with a directional light plus
ambient; ``shading=False`` returns the unshaded albedo (view-independent colour).
Everything is deterministic: the same inputs give byte-identical outputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from shared_utils.cameras.pinhole import PinholeCamera
from shared_utils.cameras.rays import camera_rays, orthographic_rays
from shared_utils.render.mesh import TexturedMesh
from shared_utils.render.raycast import RaycastScene, RayHits
from shared_utils.render.shading import (
    interpolate_corners,
    lambert,
    shading_normals,
    surface_albedo,
)


@dataclass(frozen=True)
class RenderOutput:
    """Per-pixel render buffers of an (H, W) image."""

    rgb: np.ndarray
    """(H, W, 3) float32 colour in [0, 1], background where nothing is hit."""
    alpha: np.ndarray
    """(H, W) float32 fraction of the pixel's colour samples that hit a surface."""
    depth: np.ndarray
    """(H, W) float64 camera-frame z of the hit (orthographic: distance from the image
    plane); inf at misses."""
    normals: np.ndarray
    """(H, W, 3) float64 unit world shading normals facing the camera; 0 at misses."""
    points: np.ndarray
    """(H, W, 3) float64 world hit points; NaN at misses."""
    uv: np.ndarray
    """(H, W, 2) float64 interpolated texture coordinates; NaN at misses and on meshes
    without uvs."""
    mask: np.ndarray
    """(H, W) bool, the pixel-centre ray hit a surface."""
    triangle_ids: np.ndarray
    """(H, W) int64 face index within the hit mesh; -1 at misses."""
    mesh_ids: np.ndarray
    """(H, W) int64 index of the hit mesh; -1 at misses."""
    barycentrics: np.ndarray
    """(H, W, 3) float64 weights of the hit face's corners (sum 1); 0 at misses."""


@dataclass(frozen=True)
class _Shading:
    light_dir: np.ndarray | None
    ambient: float
    background: np.ndarray
    albedo: np.ndarray
    shading: bool


def render(
    meshes_or_scene: TexturedMesh | Sequence[TexturedMesh] | RaycastScene,
    camera: PinholeCamera,
    *,
    light_dir: Sequence[float] | np.ndarray | None = None,
    ambient: float = 0.3,
    background: Sequence[float] | np.ndarray = (0.0, 0.0, 0.0),
    shading: bool = True,
    albedo: Sequence[float] | np.ndarray = (0.8, 0.8, 0.8),
    supersample: int = 1,
    nthreads: int = 0,
) -> RenderOutput:
    """Render meshes seen by a pinhole camera.

    Args:
        meshes_or_scene: a mesh, a list of meshes, or a prebuilt RaycastScene (build one
            once when rendering many views of the same meshes).
        camera: the camera; the image is ``camera.height`` x ``camera.width``.
        light_dir: (3,) world direction from the surface towards a directional light;
            None: a headlight (light along each ray towards the camera).
        ambient: ambient fraction in [0, 1]; colour = albedo * (ambient + (1 - ambient) * max(n.l, 0)).
        background: (3,) colour where nothing is hit.
        shading: False returns the unshaded albedo (texture / vertex colour / ``albedo``).
        albedo: (3,) colour of meshes without texture or vertex colours.
        supersample: colour samples per pixel along each axis (1: no anti-aliasing).
        nthreads: open3d ray-casting threads (0: automatic).

    Returns:
        RenderOutput with (H, W) buffers; depth is camera-frame z.
    """
    if not isinstance(camera, PinholeCamera):
        raise TypeError(f"render: camera must be a PinholeCamera, got {type(camera).__name__}")
    scene = _as_scene(meshes_or_scene)
    params = _check_params(light_dir, ambient, background, albedo, shading)
    s = _check_supersample(supersample)
    origins, dirs = _pinhole_rays(camera)
    # Directions have camera z = 1, so t is the camera-frame depth.
    hits = scene.cast(origins, dirs, nthreads=nthreads)
    rgb, normals, uv = _shade(scene, hits, dirs, params)
    alpha = hits.mask.astype(np.float32)
    if s > 1:
        fine = PinholeCamera(
            np.diag([s, s, 1.0]) @ camera.K,
            camera.cam_from_world,
            camera.width * s,
            camera.height * s,
        )
        rgb, alpha = _supersampled_colour(scene, *_pinhole_rays(fine), params, s, nthreads)
    return _output(hits, rgb, alpha, normals, uv)


def render_orthographic(
    meshes_or_scene: TexturedMesh | Sequence[TexturedMesh] | RaycastScene,
    cam_from_world: np.ndarray,
    width: int,
    height: int,
    pixel_size: float,
    *,
    light_dir: Sequence[float] | np.ndarray | None = None,
    ambient: float = 0.3,
    background: Sequence[float] | np.ndarray = (0.0, 0.0, 0.0),
    shading: bool = True,
    albedo: Sequence[float] | np.ndarray = (0.8, 0.8, 0.8),
    supersample: int = 1,
    nthreads: int = 0,
) -> RenderOutput:
    """Render with parallel rays along the camera's +z (range scans).

    Ray (row i, col j) starts on the plane z_cam = 0 at
    x_cam = (j + 0.5 - width / 2) * pixel_size, y_cam = (i + 0.5 - height / 2) * pixel_size,
    so the image is centred on the optical axis; surfaces behind that plane are not seen.

    Args:
        cam_from_world: (4, 4) world-to-camera pose (OpenCV axes).
        width, height: image size in pixels.
        pixel_size: world units per pixel.
        other arguments: as ``render``.

    Returns:
        RenderOutput; depth is the distance from the image plane along +z.
    """
    T = np.asarray(cam_from_world, dtype=np.float64)
    if T.shape != (4, 4) or not np.all(np.isfinite(T)):
        raise ValueError(
            f"render_orthographic: cam_from_world must be a finite (4, 4), got {T.shape}"
        )
    if int(width) <= 0 or int(height) <= 0:
        raise ValueError(f"render_orthographic: size must be positive, got {width}x{height}")
    if not (np.isfinite(pixel_size) and pixel_size > 0):
        raise ValueError(f"render_orthographic: pixel_size must be positive, got {pixel_size}")
    scene = _as_scene(meshes_or_scene)
    params = _check_params(light_dir, ambient, background, albedo, shading)
    s = _check_supersample(supersample)
    origins, dirs = _orthographic_rays(T, int(width), int(height), float(pixel_size))
    hits = scene.cast(origins, dirs, nthreads=nthreads)
    rgb, normals, uv = _shade(scene, hits, dirs, params)
    alpha = hits.mask.astype(np.float32)
    if s > 1:
        fine = _orthographic_rays(T, int(width) * s, int(height) * s, float(pixel_size) / s)
        rgb, alpha = _supersampled_colour(scene, *fine, params, s, nthreads)
    return _output(hits, rgb, alpha, normals, uv)


def _pinhole_rays(camera: PinholeCamera) -> tuple[np.ndarray, np.ndarray]:
    """Origins (H, W, 3) at the camera centre and world directions (H, W, 3) with camera z = 1.

    Scaling the directions to unit camera z makes the ray parameter of a hit its depth.
    """
    origins, dirs = (x.numpy() for x in camera_rays(camera, dtype=torch.float64))
    return origins, dirs / (dirs @ camera.R[2])[..., None]


def _orthographic_rays(
    cam_from_world: np.ndarray, width: int, height: int, pixel_size: float
) -> tuple[np.ndarray, np.ndarray]:
    """Origins (H, W, 3) on the plane z_cam = 0 and unit world directions (H, W, 3) along +z."""
    rays = orthographic_rays(cam_from_world, width, height, pixel_size, dtype=torch.float64)
    origins, dirs = (x.numpy() for x in rays)
    return origins, dirs


def _as_scene(
    meshes_or_scene: TexturedMesh | Sequence[TexturedMesh] | RaycastScene,
) -> RaycastScene:
    if isinstance(meshes_or_scene, RaycastScene):
        return meshes_or_scene
    return RaycastScene(meshes_or_scene)


def _check_params(
    light_dir: Sequence[float] | np.ndarray | None,
    ambient: float,
    background: Sequence[float] | np.ndarray,
    albedo: Sequence[float] | np.ndarray,
    shading: bool,
) -> _Shading:
    light = None
    if light_dir is not None:
        light = np.asarray(light_dir, dtype=np.float64)
        norm = np.linalg.norm(light) if light.shape == (3,) else 0.0
        if light.shape != (3,) or not np.isfinite(norm) or norm < 1e-12:
            raise ValueError(f"render: light_dir must be a non-zero finite (3,), got {light_dir!r}")
        light = light / norm
    if not 0.0 <= float(ambient) <= 1.0:
        raise ValueError(f"render: ambient must be in [0, 1], got {ambient}")
    bg = np.asarray(background, dtype=np.float32)
    if bg.shape != (3,) or not np.all(np.isfinite(bg)):
        raise ValueError(f"render: background must be a finite (3,) colour, got {background!r}")
    alb = np.asarray(albedo, dtype=np.float32)
    if alb.shape != (3,) or not np.all(np.isfinite(alb)):
        raise ValueError(f"render: albedo must be a finite (3,) colour, got {albedo!r}")
    return _Shading(light, float(ambient), bg, alb, bool(shading))


def _check_supersample(supersample: int) -> int:
    if int(supersample) != supersample or supersample < 1:
        raise ValueError(f"render: supersample must be a positive integer, got {supersample}")
    return int(supersample)


def _shade(
    scene: RaycastScene, hits: RayHits, dirs: np.ndarray, params: _Shading
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Colour (..., 3) float32, shading normals (..., 3) and uv (..., 2) of every ray."""
    batch = hits.t.shape
    mesh_ids = hits.mesh_ids.reshape(-1)
    tri_ids = hits.triangle_ids.reshape(-1)
    bary = hits.barycentrics.reshape(-1, 3)
    geo = hits.normals.reshape(-1, 3)
    d = dirs.reshape(-1, 3)
    rgb = np.broadcast_to(params.background, (len(tri_ids), 3)).copy()
    normals = np.zeros((len(tri_ids), 3))
    uv = np.full((len(tri_ids), 2), np.nan)
    for k, mesh in enumerate(scene.meshes):
        sel = np.flatnonzero(mesh_ids == k)
        if len(sel) == 0:
            continue
        colour = surface_albedo(mesh, tri_ids[sel], bary[sel], params.albedo)
        n = shading_normals(mesh, tri_ids[sel], bary[sel], geo[sel])
        normals[sel] = n
        if mesh.uvs is not None:
            uv[sel] = interpolate_corners(mesh.uvs, tri_ids[sel], bary[sel])
        if params.shading:
            if params.light_dir is None:
                light = -d[sel] / np.linalg.norm(d[sel], axis=1, keepdims=True)
            else:
                light = params.light_dir
            colour = lambert(colour, n, light, params.ambient)
        rgb[sel] = colour
    return rgb.reshape(*batch, 3), normals.reshape(*batch, 3), uv.reshape(*batch, 2)


def _supersampled_colour(
    scene: RaycastScene,
    origins: np.ndarray,
    dirs: np.ndarray,
    params: _Shading,
    s: int,
    nthreads: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Average the colour and coverage of (H s, W s) rays over s x s blocks."""
    hits = scene.cast(origins, dirs, nthreads=nthreads)
    rgb, _, _ = _shade(scene, hits, dirs, params)
    h, w = rgb.shape[0] // s, rgb.shape[1] // s
    rgb_mean = rgb.astype(np.float64).reshape(h, s, w, s, 3).mean(axis=(1, 3))
    alpha = hits.mask.astype(np.float64).reshape(h, s, w, s).mean(axis=(1, 3))
    return rgb_mean.astype(np.float32), alpha.astype(np.float32)


def _output(
    hits: RayHits, rgb: np.ndarray, alpha: np.ndarray, normals: np.ndarray, uv: np.ndarray
) -> RenderOutput:
    return RenderOutput(
        rgb=np.ascontiguousarray(rgb, dtype=np.float32),
        alpha=np.ascontiguousarray(alpha, dtype=np.float32),
        depth=hits.t,
        normals=normals,
        points=hits.points,
        uv=uv,
        mask=hits.mask,
        triangle_ids=hits.triangle_ids,
        mesh_ids=hits.mesh_ids,
        barycentrics=hits.barycentrics,
    )
