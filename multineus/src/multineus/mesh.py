"""Meshes from SDFs: marching cubes on a grid, optional vertex colours, PLY/OBJ export.

The grid covers the cube ``[-bound, bound]^3`` with ``resolution`` samples per axis;
the SDF is evaluated in chunks (so 512^3 fits in memory) and
``skimage.measure.marching_cubes`` extracts the zero level set with outward-facing,
counter-clockwise triangles.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from skimage import measure

from shared_utils.io.meshes import write_mesh


@dataclass
class Mesh:
    """A triangle mesh with optional vertex colours."""

    vertices: np.ndarray
    """(V, 3) float64 positions."""
    faces: np.ndarray
    """(F, 3) int64 vertex indices, counter-clockwise seen from outside."""
    vertex_colors: np.ndarray | None = None
    """(V, 3) float32 colours in [0, 1]."""

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write as .ply or .obj (suffix decides)."""
        write_mesh(path, self.vertices, self.faces, self.vertex_colors)


def sdf_grid(
    sdf_fn: Callable[[np.ndarray], np.ndarray],
    resolution: int,
    bound: float,
    *,
    chunk: int = 1 << 18,
) -> np.ndarray:
    """(res, res, res) SDF samples on the grid ``linspace(-bound, bound, res)`` per axis (x, y, z)."""
    axis = np.linspace(-bound, bound, resolution)
    out = np.empty(resolution**3, dtype=np.float32)
    xx, yy = np.meshgrid(axis, axis, indexing="ij")
    plane = np.stack([xx.ravel(), yy.ravel()], axis=-1)
    per_slice = resolution * resolution
    slices_per_chunk = max(1, chunk // per_slice)
    for k0 in range(0, resolution, slices_per_chunk):
        zs = axis[k0 : k0 + slices_per_chunk]
        pts = np.concatenate(
            [np.concatenate([plane, np.full((per_slice, 1), z)], axis=1) for z in zs], axis=0
        )
        vals = np.asarray(sdf_fn(pts), dtype=np.float32).reshape(len(zs), per_slice)
        # Grid order is (x, y, z) with z fastest: scatter the z-slices into place.
        for j, k in enumerate(range(k0, k0 + len(zs))):
            out.reshape(per_slice, resolution)[:, k] = vals[j]
    return out.reshape(resolution, resolution, resolution)


def marching_cubes_mesh(
    sdf_fn: Callable[[np.ndarray], np.ndarray],
    *,
    resolution: int,
    bound: float = 1.0,
    color_fn: Callable[[np.ndarray], np.ndarray] | None = None,
    level: float = 0.0,
) -> Mesh:
    """Extract the ``level`` set of an SDF (negative inside).

    Args:
        sdf_fn: (N, 3) float64 points -> (N,) signed distances.
        resolution: grid samples per axis.
        bound: half side of the cube sampled.
        color_fn: (V, 3) vertices -> (V, 3) colours in [0, 1] (optional).
        level: iso value.

    Returns:
        the mesh in world coordinates.

    Raises:
        ValueError: when the level set does not cross the grid (nothing to extract).
    """
    grid = sdf_grid(sdf_fn, resolution, bound)
    if not (grid.min() < level < grid.max()):
        raise ValueError(
            f"marching_cubes_mesh: SDF range [{grid.min():.3g}, {grid.max():.3g}] does not "
            f"cross level {level} inside [-{bound}, {bound}]^3"
        )
    spacing = 2.0 * bound / (resolution - 1)
    verts, faces, _, _ = measure.marching_cubes(grid, level=level, spacing=(spacing,) * 3)
    verts = verts.astype(np.float64) - bound
    # With values increasing outwards, skimage's winding is already counter-clockwise
    # seen from outside (checked by the tests).
    faces = faces.astype(np.int64)
    colors = None
    if color_fn is not None:
        colors = np.clip(np.asarray(color_fn(verts), dtype=np.float32), 0.0, 1.0)
    return Mesh(verts, np.ascontiguousarray(faces), colors)
