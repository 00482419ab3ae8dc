"""Surface colour: texture lookup, attribute interpolation and Lambert shading.

Texel (row r, column c) of an (Ht, Wt) texture has its centre at
``u = (c + 0.5) / Wt``, ``v = 1 - (r + 0.5) / Ht``; lookups between centres are
bilinear and clamp to the edge texels.
"""

from __future__ import annotations

import numpy as np

from shared_utils.render.mesh import TexturedMesh


def sample_texture(texture: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Bilinear texture lookup with clamp-to-edge.

    Args:
        texture: (Ht, Wt, C) texture, row 0 at the top (v = 1).
        uv: (N, 2) texture coordinates, u right, v up.

    Returns:
        (N, C) float32 colours.
    """
    tex = np.asarray(texture, dtype=np.float32)
    uv = np.asarray(uv, dtype=np.float64)
    h, w = tex.shape[:2]
    x = uv[:, 0] * w - 0.5
    y = (1.0 - uv[:, 1]) * h - 0.5
    x0 = np.floor(x)
    y0 = np.floor(y)
    fx = (x - x0)[:, None]
    fy = (y - y0)[:, None]
    x0i = x0.astype(np.int64)
    y0i = y0.astype(np.int64)
    c0 = np.clip(x0i, 0, w - 1)
    c1 = np.clip(x0i + 1, 0, w - 1)
    r0 = np.clip(y0i, 0, h - 1)
    r1 = np.clip(y0i + 1, 0, h - 1)
    top = tex[r0, c0] * (1.0 - fx) + tex[r0, c1] * fx
    bottom = tex[r1, c0] * (1.0 - fx) + tex[r1, c1] * fx
    return (top * (1.0 - fy) + bottom * fy).astype(np.float32)


def interpolate_corners(
    corner_values: np.ndarray, triangle_ids: np.ndarray, barycentrics: np.ndarray
) -> np.ndarray:
    """Interpolate a per-face-corner attribute at hit points.

    Args:
        corner_values: (F, 3, C) attribute per face corner (e.g. uvs, corner normals).
        triangle_ids: (N,) hit faces (all valid).
        barycentrics: (N, 3) weights of the face's corners.

    Returns:
        (N, C) float64 interpolated values.
    """
    vals = np.asarray(corner_values, dtype=np.float64)[triangle_ids]
    return np.einsum("nk,nkc->nc", barycentrics, vals)


def interpolate_vertices(
    mesh: TexturedMesh,
    vertex_values: np.ndarray,
    triangle_ids: np.ndarray,
    barycentrics: np.ndarray,
) -> np.ndarray:
    """Interpolate a per-vertex attribute (V, C) at hit points -> (N, C) float64."""
    vals = np.asarray(vertex_values, dtype=np.float64)[mesh.faces[triangle_ids]]
    return np.einsum("nk,nkc->nc", barycentrics, vals)


def surface_albedo(
    mesh: TexturedMesh,
    triangle_ids: np.ndarray,
    barycentrics: np.ndarray,
    flat_albedo: np.ndarray,
) -> np.ndarray:
    """Unshaded colour of hit points on one mesh.

    Texture if the mesh has one, else vertex colours, else ``flat_albedo``.

    Args:
        triangle_ids: (N,) faces of ``mesh``; barycentrics: (N, 3).
        flat_albedo: (3,) fallback colour.

    Returns:
        (N, 3) float32 colours.
    """
    if mesh.texture is not None and mesh.uvs is not None:
        uv = interpolate_corners(mesh.uvs, triangle_ids, barycentrics)
        return sample_texture(mesh.texture, uv)
    if mesh.vertex_colors is not None:
        return interpolate_vertices(mesh, mesh.vertex_colors, triangle_ids, barycentrics).astype(
            np.float32
        )
    return np.broadcast_to(np.asarray(flat_albedo, dtype=np.float32), (len(triangle_ids), 3)).copy()


def shading_normals(
    mesh: TexturedMesh,
    triangle_ids: np.ndarray,
    barycentrics: np.ndarray,
    geometric_normals: np.ndarray,
) -> np.ndarray:
    """World shading normals at hit points, turned to the side the ray arrived from.

    Interpolated corner normals if the mesh has them, else the geometric normals.

    Args:
        triangle_ids: (N,); barycentrics: (N, 3); geometric_normals: (N, 3) unit,
            already facing the ray (from ``RayHits.normals``).

    Returns:
        (N, 3) float64 unit normals.
    """
    if mesh.corner_normals is None:
        return geometric_normals
    n = interpolate_corners(mesh.corner_normals, triangle_ids, barycentrics)
    norm = np.linalg.norm(n, axis=1, keepdims=True)
    n = np.where(norm > 1e-12, n / np.maximum(norm, 1e-12), geometric_normals)
    # Corner normals follow the mesh orientation; seen from the back, flip them too.
    flip = np.einsum("ij,ij->i", mesh.face_normals()[triangle_ids], geometric_normals) < 0
    return np.where(flip[:, None], -n, n)


def lambert(
    albedo: np.ndarray, normals: np.ndarray, light_dirs: np.ndarray, ambient: float
) -> np.ndarray:
    """Lambertian shading ``albedo * (ambient + (1 - ambient) * max(n . l, 0))``.

    Args:
        albedo: (N, 3) surface colours.
        normals: (N, 3) unit normals.
        light_dirs: (N, 3) or (3,) unit directions from the surface towards the light.
        ambient: fraction of light that reaches every surface, in [0, 1].

    Returns:
        (N, 3) float32 shaded colours.
    """
    cos = np.einsum("ij,ij->i", normals, np.broadcast_to(light_dirs, normals.shape))
    factor = ambient + (1.0 - ambient) * np.clip(cos, 0.0, None)
    return (np.asarray(albedo, dtype=np.float64) * factor[:, None]).astype(np.float32)
