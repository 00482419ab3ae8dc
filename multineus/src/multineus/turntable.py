"""Turntable videos of meshes with the shared renderer (vertex colours, fixed light)."""

from __future__ import annotations

import numpy as np

from multineus.mesh import Mesh
from shared_utils.cameras.rigs import intrinsics_from_fov, orbit_cameras
from shared_utils.render.mesh import TexturedMesh
from shared_utils.render.raycast import RaycastScene
from shared_utils.render.renderer import render


def turntable_frames(
    mesh: Mesh,
    *,
    frames: int = 36,
    size: int = 128,
    distance: float = 3.0,
    elevation_deg: float = 10.0,
    fov_deg: float = 30.0,
    start_azimuth_deg: float = -90.0,
) -> np.ndarray:
    """(T, size, size, 3) float32 renders of the mesh orbiting around +z.

    Azimuth -90 degrees looks at the face (which points to -y) first.
    """
    K = intrinsics_from_fov(fov_deg, size, size)
    cams = orbit_cameras(
        frames, distance, elevation_deg, K, size, size, start_azimuth_deg=start_azimuth_deg
    )
    scene = RaycastScene(
        [TexturedMesh(mesh.vertices, mesh.faces, vertex_colors=mesh.vertex_colors)]
    )
    out = [render(scene, c, ambient=0.35, background=(1.0, 1.0, 1.0), nthreads=1).rgb for c in cams]
    return np.stack(out).astype(np.float32)
