"""Uniform random sampling of points on a triangle mesh's surface."""

from __future__ import annotations

import numpy as np


def triangle_areas(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(F,) areas of the triangles ``vertices[faces]``."""
    tri = np.asarray(vertices, dtype=np.float64)[np.asarray(faces)]
    return 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)


def sample_surface(
    vertices: np.ndarray, faces: np.ndarray, n: int, *, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sample ``n`` points uniformly over the surface area (deterministic by seed).

    A face is drawn with probability proportional to its area, then a point uniformly
    inside it: two uniforms (u, v), folded back into the triangle when u + v > 1.

    Args:
        vertices: (V, 3) vertex positions.
        faces: (F, 3) integer vertex indices.
        n: number of samples.
        seed: seed of the numpy generator.

    Returns:
        points: (n, 3) float64 surface points.
        face_ids: (n,) int64 face of each point.
        barycentrics: (n, 3) float64 weights of the face's three vertices (sum to 1),
            ``points = sum_k barycentrics[:, k] * vertices[faces[face_ids, k]]``.
    """
    V = np.asarray(vertices, dtype=np.float64)
    F = np.asarray(faces)
    if V.ndim != 2 or V.shape[1] != 3:
        raise ValueError(f"sample_surface: vertices must be (V, 3), got {V.shape}")
    if F.ndim != 2 or F.shape[1] != 3 or not np.issubdtype(F.dtype, np.integer):
        raise ValueError(f"sample_surface: faces must be (F, 3) integers, got {F.shape} {F.dtype}")
    if F.size and (F.min() < 0 or F.max() >= V.shape[0]):
        raise ValueError("sample_surface: face index out of range")
    areas = triangle_areas(V, F)
    total = areas.sum()
    if not total > 0:
        raise ValueError("sample_surface: the mesh has zero surface area")
    rng = np.random.default_rng(seed)
    face_ids = rng.choice(F.shape[0], size=n, p=areas / total).astype(np.int64)
    uv = rng.random((n, 2))
    flip = uv.sum(1) > 1
    uv[flip] = 1 - uv[flip]
    bary = np.stack([1 - uv[:, 0] - uv[:, 1], uv[:, 0], uv[:, 1]], axis=1)
    tri = V[F[face_ids]]
    points = np.einsum("nk,nkd->nd", bary, tri)
    return points, face_ids, bary
