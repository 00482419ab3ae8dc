"""The embedded data: textured objects rendered from many known cameras.

Every scene is a random textured primitive (shared_utils.render.procedural; optionally
re-textured with a crop of a real photo, :mod:`npbgpp.data.photos`) lit by a
fixed directional light (so appearance does not depend on the viewpoint), rendered by
the shared ray-casting renderer from cameras on the upper hemisphere, with a point cloud
sampled uniformly on its surface, each point coloured by the texture under it.
Held-out views come from a ring at an elevation the input cameras do not use.
"""

from __future__ import annotations

import numpy as np

from npbgpp.config import DataConfig
from npbgpp.data.photos import photo_texture
from npbgpp.data.scene import Scene
from shared_utils.cameras.pinhole import PinholeCamera
from shared_utils.cameras.rigs import intrinsics_from_fov, orbit_cameras, sphere_cameras
from shared_utils.geometry.sampling import sample_surface
from shared_utils.render.mesh import TexturedMesh
from shared_utils.render.procedural import blob_texture, random_textured_object, textured_box
from shared_utils.render.raycast import RaycastScene
from shared_utils.render.renderer import render
from shared_utils.render.shading import sample_texture

LIGHT_DIR = (0.4, -0.3, 1.0)
"""World direction towards the light (fixed: view-independent appearance)."""
CAMERA_RADIUS = 2.8
FOV_DEG = 45.0


def surface_points(mesh: TexturedMesh, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points on the surface (n, 3) and their texture colours (n, 3)."""
    points, face_ids, bary = sample_surface(mesh.vertices, mesh.faces, n, seed=seed)
    if mesh.uvs is not None and mesh.texture is not None:
        uv = np.einsum("nk,nkd->nd", bary, mesh.uvs[face_ids])
        colors = sample_texture(mesh.texture, uv)
    else:
        colors = np.full((n, 3), 0.8, dtype=np.float32)
    return points.astype(np.float32), colors.astype(np.float32)


def render_views(mesh: TexturedMesh | RaycastScene, cameras: list[PinholeCamera]) -> np.ndarray:
    """(V, H, W, 3) renders of the mesh under the fixed light."""
    return render_views_with_masks(mesh, cameras)[0]


def render_views_with_masks(
    mesh: TexturedMesh | RaycastScene, cameras: list[PinholeCamera]
) -> tuple[np.ndarray, np.ndarray]:
    """(V, H, W, 3) renders under the fixed light and their (V, H, W) coverage masks."""
    scene = mesh if isinstance(mesh, RaycastScene) else RaycastScene([mesh])
    outs = [render(scene, cam, light_dir=LIGHT_DIR, ambient=0.4) for cam in cameras]
    return np.stack([o.rgb for o in outs]), np.stack([o.alpha for o in outs])


def input_cameras(n: int, size: int) -> list[PinholeCamera]:
    """Input views: a Fibonacci spiral over the upper hemisphere."""
    K = intrinsics_from_fov(FOV_DEG, size, size)
    return sphere_cameras(n, CAMERA_RADIUS, K, size, size, upper_hemisphere=True)


def heldout_cameras(n: int, size: int, elevation_deg: float = 25.0) -> list[PinholeCamera]:
    """Held-out views: a ring at a fixed elevation, azimuths offset from the inputs."""
    K = intrinsics_from_fov(FOV_DEG, size, size)
    return orbit_cameras(n, CAMERA_RADIUS, elevation_deg, K, size, size, start_azimuth_deg=17.0)


TEXTURES = ("procedural", "photo")
"""Texture sources of :func:`make_scene`."""


def make_scene(
    seed: int,
    *,
    views: int = 16,
    size: int = 64,
    num_points: int = 6000,
    heldout: int = 0,
    texture: str = "procedural",
) -> tuple[Scene, Scene | None]:
    """One synthetic scene and (optionally) its held-out views.

    ``texture``: "procedural" (the primitive's own two-colour pattern) or "photo" (the
    same object re-textured with :func:`npbgpp.data.photos.photo_texture`).

    Returns:
        The input scene (``views`` views) and a scene of ``heldout`` novel views with the
        same points (None when ``heldout`` is 0).
    """
    if texture not in TEXTURES:
        raise ValueError(f"make_scene: texture must be one of {TEXTURES}, got {texture!r}")
    mesh = random_textured_object(seed, texture_size=64)
    if texture == "photo":
        mesh = TexturedMesh(
            mesh.vertices,
            mesh.faces,
            uvs=mesh.uvs,
            texture=photo_texture(seed),
            corner_normals=mesh.corner_normals,
        )
    raycast = RaycastScene([mesh])
    points, colors = surface_points(mesh, num_points, seed=seed)
    cams = input_cameras(views, size)
    rgb, alpha = render_views_with_masks(raycast, cams)
    name = f"synthetic-{seed}" if texture == "procedural" else f"synthetic-photo-{seed}"
    scene = Scene(name, rgb, cams, points, colors, masks=alpha)
    test = None
    if heldout:
        hcams = heldout_cameras(heldout, size)
        rgb, alpha = render_views_with_masks(raycast, hcams)
        test = Scene(f"{name}-heldout", rgb, hcams, points, colors, masks=alpha)
    return scene, test


def training_scenes(data: DataConfig) -> list[Scene]:
    """The embedded training scenes of a config: seeds ``data.seed + i``; every
    ``data.photo_texture_every``-th scene (i % k == k - 1) photo-textured."""
    k = data.photo_texture_every
    return [
        make_scene(
            data.seed + i,
            views=data.views_per_scene,
            size=data.image_size,
            num_points=data.num_points,
            texture="photo" if k > 0 and i % k == k - 1 else "procedural",
        )[0]
        for i in range(data.num_train_scenes)
    ]


def sfm_views(
    seed: int, *, views: int = 24, size: int = 256
) -> tuple[np.ndarray, list[PinholeCamera]]:
    """Photos of an embedded object on a textured ground, for structure from motion.

    The object is the one :func:`make_scene` builds for ``seed`` (same shape and pose),
    re-textured with :func:`blob_texture` and standing on a 6 x 6 ground slab, because
    SIFT needs distinctive texture and a background to match across views. Cameras sit
    on two interleaved rings (35 and 55 degrees elevation) so that neighbouring views
    differ by about 15 degrees at 24 views, as incremental SfM needs.

    Returns:
        (V, size, size, 3) float32 renders and the ``views`` true cameras.
    """
    base = random_textured_object(seed, texture_size=64)
    obj = TexturedMesh(
        base.vertices,
        base.faces,
        uvs=base.uvs,
        texture=blob_texture(seed + 1, 512, count=800),
        corner_normals=base.corner_normals,
    )
    slab = textured_box((6.0, 6.0, 0.1), texture=blob_texture(seed + 2, 1024))
    ground = TexturedMesh(
        slab.vertices - np.array([0.0, 0.0, 1.1]),
        slab.faces,
        uvs=slab.uvs,
        texture=slab.texture,
        corner_normals=slab.corner_normals,
    )
    K = intrinsics_from_fov(50.0, size, size)
    low = views // 2
    cams = orbit_cameras(low, 3.2, 35.0, K, size, size) + orbit_cameras(
        views - low, 3.2, 55.0, K, size, size, start_azimuth_deg=180.0 / max(low, 1)
    )
    return render_views(RaycastScene([obj, ground]), cams), cams
