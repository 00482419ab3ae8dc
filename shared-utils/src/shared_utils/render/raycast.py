"""Ray casting against several triangle meshes with open3d's RaycastingScene.

open3d (Embree) works in float32. It is used to find *which* triangle a ray hits;
the hit distance and barycentrics are then recomputed in float64 from that triangle,
so depth is exact to float64 round-off rather than float32's ~1e-7 relative error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from shared_utils.o3d import open3d
from shared_utils.render.mesh import TexturedMesh


@dataclass(frozen=True)
class RayHits:
    """The first hit of each ray; ``...`` is the batch shape of the rays."""

    t: np.ndarray
    """(...,) float64 distance along the ray in units of the direction's length; inf at misses."""
    triangle_ids: np.ndarray
    """(...,) int64 face index within the hit mesh; -1 at misses."""
    mesh_ids: np.ndarray
    """(...,) int64 index of the hit mesh in the scene's list; -1 at misses."""
    barycentrics: np.ndarray
    """(..., 3) float64 weights of the triangle's vertices 0, 1, 2 (sum 1); 0 at misses."""
    normals: np.ndarray
    """(..., 3) float64 unit geometric face normals turned to face the ray; 0 at misses."""
    points: np.ndarray
    """(..., 3) float64 world hit points ``origin + t * direction``; NaN at misses."""

    @property
    def mask(self) -> np.ndarray:
        """(...,) bool: the ray hit something."""
        return self.triangle_ids >= 0


class RaycastScene:
    """A static set of meshes to cast rays against (build once, cast many times)."""

    def __init__(self, meshes: TexturedMesh | Sequence[TexturedMesh]) -> None:
        """Args:
        meshes: one mesh or a list; ``mesh_ids`` in the hits index this list.
        """
        if isinstance(meshes, TexturedMesh):
            meshes = [meshes]
        self.meshes: list[TexturedMesh] = list(meshes)
        if not self.meshes:
            raise ValueError("RaycastScene: needs at least one mesh")
        for k, mesh in enumerate(self.meshes):
            if not isinstance(mesh, TexturedMesh):
                raise TypeError(
                    f"RaycastScene: meshes[{k}] must be a TexturedMesh, got {type(mesh).__name__}"
                )
        o3d = open3d()
        self._scene = o3d.t.geometry.RaycastingScene()
        invalid = int(o3d.t.geometry.RaycastingScene.INVALID_ID)
        # Embree geometry ids are not promised to be 0..n-1; keep an explicit map.
        lookup: dict[int, int] = {}
        for k, mesh in enumerate(self.meshes):
            if mesh.num_faces == 0:
                continue
            gid = self._scene.add_triangles(
                o3d.core.Tensor(mesh.vertices.astype(np.float32)),
                o3d.core.Tensor(mesh.faces.astype(np.uint32)),
            )
            lookup[int(gid)] = k
        size = max([*lookup.keys(), 0]) + 1
        self._geometry_to_mesh = np.full(size, -1, dtype=np.int64)
        for gid, k in lookup.items():
            self._geometry_to_mesh[gid] = k
        self._invalid = invalid

    def cast(self, origins: np.ndarray, directions: np.ndarray, *, nthreads: int = 0) -> RayHits:
        """Cast rays and return their first hits.

        Args:
            origins: (..., 3) ray origins (world).
            directions: (..., 3) ray directions, need not be unit; ``t`` is measured in
                multiples of their length.
            nthreads: open3d threads, 0 for automatic (results do not depend on it).

        Returns:
            RayHits with batch shape ``...``.
        """
        o = np.asarray(origins, dtype=np.float64)
        d = np.asarray(directions, dtype=np.float64)
        if o.shape != d.shape or o.shape[-1:] != (3,):
            raise ValueError(
                f"RaycastScene.cast: origins and directions must both be (..., 3), "
                f"got {o.shape} and {d.shape}"
            )
        if not (np.all(np.isfinite(o)) and np.all(np.isfinite(d))):
            raise ValueError("RaycastScene.cast: origins/directions contain NaN or inf")
        batch = o.shape[:-1]
        o = o.reshape(-1, 3)
        d = d.reshape(-1, 3)
        n = len(o)
        t = np.full(n, np.inf)
        tri_ids = np.full(n, -1, dtype=np.int64)
        mesh_ids = np.full(n, -1, dtype=np.int64)
        bary = np.zeros((n, 3))
        normals = np.zeros((n, 3))
        points = np.full((n, 3), np.nan)
        if n:
            o3d = open3d()
            rays = np.concatenate([o, d], axis=1).astype(np.float32)
            out = self._scene.cast_rays(o3d.core.Tensor(rays), nthreads=nthreads)
            geom = out["geometry_ids"].numpy().astype(np.int64)
            prim = out["primitive_ids"].numpy().astype(np.int64)
            uv32 = out["primitive_uvs"].numpy().astype(np.float64)
            t32 = out["t_hit"].numpy().astype(np.float64)
            hit = (geom != self._invalid) & np.isfinite(t32)
            idx = np.flatnonzero(hit)
            mesh_ids[idx] = self._geometry_to_mesh[geom[idx]]
            tri_ids[idx] = prim[idx]
            for k, mesh in enumerate(self.meshes):
                sel = idx[mesh_ids[idx] == k]
                if len(sel) == 0:
                    continue
                tri = mesh.vertices[mesh.faces[tri_ids[sel]]]  # (m, 3, 3)
                t_k, bary_k, n_k = _refine(tri, o[sel], d[sel], t32[sel], uv32[sel])
                t[sel], bary[sel], normals[sel] = t_k, bary_k, n_k
                points[sel] = o[sel] + t_k[:, None] * d[sel]
        return RayHits(
            t=t.reshape(batch),
            triangle_ids=tri_ids.reshape(batch),
            mesh_ids=mesh_ids.reshape(batch),
            barycentrics=bary.reshape(*batch, 3),
            normals=normals.reshape(*batch, 3),
            points=points.reshape(*batch, 3),
        )


def _refine(
    tri: np.ndarray, o: np.ndarray, d: np.ndarray, t32: np.ndarray, uv32: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Float64 ray-plane hit on the known triangle.

    Args:
        tri: (m, 3, 3) triangle corners; o, d: (m, 3) rays; t32: (m,) and uv32: (m, 2)
            open3d's float32 answer, kept where the triangle is degenerate.

    Returns:
        t (m,), barycentrics (m, 3), unit normals facing the ray (m, 3).
    """
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    n = np.cross(b - a, c - a)
    nn = np.einsum("ij,ij->i", n, n)
    denom = np.einsum("ij,ij->i", n, d)
    ok = (nn > 0) & (np.abs(denom) > 1e-12 * np.sqrt(nn) * np.linalg.norm(d, axis=1))
    safe_denom = np.where(ok, denom, 1.0)
    safe_nn = np.where(ok, nn, 1.0)
    t = np.where(ok, np.einsum("ij,ij->i", n, a - o) / safe_denom, t32)
    p = o + t[:, None] * d
    w1 = np.einsum("ij,ij->i", np.cross(p - a, c - a), n) / safe_nn
    w2 = np.einsum("ij,ij->i", np.cross(b - a, p - a), n) / safe_nn
    w1 = np.where(ok, w1, uv32[:, 0])
    w2 = np.where(ok, w2, uv32[:, 1])
    bary = np.stack([1.0 - w1 - w2, w1, w2], axis=1)
    unit = n / np.sqrt(np.where(nn > 0, nn, 1.0))[:, None]
    unit = np.where((denom > 0)[:, None], -unit, unit)
    return t, bary, unit
