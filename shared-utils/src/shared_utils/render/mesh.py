"""The textured triangle mesh the renderer draws.

Texture coordinates are stored per face corner, ``uvs[f, k]`` for vertex ``faces[f, k]``,
so seams (a sphere's date line, a box's faces) need no duplicated vertices and the
mesh stays watertight. ``u`` runs left to right and ``v`` bottom to top: the texel
row of ``v`` is ``(1 - v) * Ht`` (OpenGL / OBJ convention). Shading normals are also
per corner, which lets one vertex carry a sharp edge (box corners, cylinder rims).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TexturedMesh:
    """A triangle mesh with optional UV texture, vertex colours and shading normals.

    Colour precedence when rendering: texture (needs ``uvs``), then vertex colours,
    then the renderer's flat albedo.
    """

    vertices: np.ndarray
    """(V, 3) float64 vertex positions."""
    faces: np.ndarray
    """(F, 3) int64 vertex indices per triangle (counter-clockwise seen from outside)."""
    uvs: np.ndarray | None = None
    """(F, 3, 2) float64 texture coordinates per face corner, in [0, 1] (v up)."""
    texture: np.ndarray | None = None
    """(Ht, Wt, 3) float32 RGB texture in [0, 1]; row 0 is the top (v = 1)."""
    vertex_colors: np.ndarray | None = None
    """(V, 3) float32 RGB colours in [0, 1], interpolated barycentrically."""
    corner_normals: np.ndarray | None = None
    """(F, 3, 3) float64 unit shading normals per face corner; None: flat face normals."""

    def __post_init__(self) -> None:
        vertices = _as_float_array(self.vertices, "vertices", np.float64)
        if vertices.ndim != 2 or vertices.shape[1] != 3:
            raise ValueError(f"TexturedMesh.vertices must be (V, 3), got {vertices.shape}")
        _check_finite(vertices, "vertices")
        faces_in = np.asarray(self.faces)
        if faces_in.size == 0:
            faces_in = faces_in.reshape(0, 3)
        if faces_in.ndim != 2 or faces_in.shape[1] != 3:
            raise ValueError(f"TexturedMesh.faces must be (F, 3), got {faces_in.shape}")
        if faces_in.size and not np.issubdtype(faces_in.dtype, np.integer):
            if not np.all(np.equal(np.mod(faces_in, 1), 0)):
                raise ValueError("TexturedMesh.faces must hold integer vertex indices")
        faces = faces_in.astype(np.int64)
        if faces.size and (faces.min() < 0 or faces.max() >= len(vertices)):
            bad = int(np.argmax((faces < 0).any(axis=1) | (faces >= len(vertices)).any(axis=1)))
            raise ValueError(
                f"TexturedMesh.faces: index out of range [0, {len(vertices)}) "
                f"(face {bad} = {faces[bad].tolist()})"
            )
        F = len(faces)
        uvs = None
        if self.uvs is not None:
            uvs = _as_float_array(self.uvs, "uvs", np.float64)
            if uvs.shape != (F, 3, 2):
                raise ValueError(
                    f"TexturedMesh.uvs must be (F, 3, 2) = ({F}, 3, 2), got {uvs.shape}"
                )
            _check_finite(uvs, "uvs")
        texture = None
        if self.texture is not None:
            texture = _as_float_array(self.texture, "texture", np.float32)
            if texture.ndim != 3 or texture.shape[2] != 3 or min(texture.shape[:2]) < 1:
                raise ValueError(f"TexturedMesh.texture must be (Ht, Wt, 3), got {texture.shape}")
            _check_finite(texture, "texture")
            if uvs is None:
                raise ValueError("TexturedMesh.texture is set but uvs is None: a texture needs uvs")
        colors = None
        if self.vertex_colors is not None:
            colors = _as_float_array(self.vertex_colors, "vertex_colors", np.float32)
            if colors.shape != (len(vertices), 3):
                raise ValueError(
                    f"TexturedMesh.vertex_colors must be (V, 3) = ({len(vertices)}, 3), "
                    f"got {colors.shape}"
                )
            _check_finite(colors, "vertex_colors")
        normals = None
        if self.corner_normals is not None:
            normals = _as_float_array(self.corner_normals, "corner_normals", np.float64)
            if normals.shape != (F, 3, 3):
                raise ValueError(
                    f"TexturedMesh.corner_normals must be (F, 3, 3) = ({F}, 3, 3), "
                    f"got {normals.shape}"
                )
            _check_finite(normals, "corner_normals")
            norm = np.linalg.norm(normals, axis=-1, keepdims=True)
            if np.any(norm < 1e-12):
                raise ValueError("TexturedMesh.corner_normals contains zero-length normals")
            normals = normals / norm
        object.__setattr__(self, "vertices", vertices)
        object.__setattr__(self, "faces", faces)
        object.__setattr__(self, "uvs", uvs)
        object.__setattr__(self, "texture", texture)
        object.__setattr__(self, "vertex_colors", colors)
        object.__setattr__(self, "corner_normals", normals)

    @property
    def num_vertices(self) -> int:
        return len(self.vertices)

    @property
    def num_faces(self) -> int:
        return len(self.faces)

    def face_normals(self) -> np.ndarray:
        """(F, 3) unit normals by the right-hand rule on the face order (zero if degenerate)."""
        tri = self.vertices[self.faces]
        n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        norm = np.linalg.norm(n, axis=1, keepdims=True)
        return np.divide(n, norm, out=np.zeros_like(n), where=norm > 0)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Axis-aligned bounding box (min (3,), max (3,))."""
        return self.vertices.min(axis=0), self.vertices.max(axis=0)

    def transformed(self, transform: np.ndarray) -> TexturedMesh:
        """Apply a (4, 4) affine transform (rotation, translation, scale).

        Shading normals go through the inverse transpose; a mirroring transform
        (negative determinant) also flips the winding so outward faces stay outward.
        """
        T = np.asarray(transform, dtype=np.float64)
        if T.shape != (4, 4):
            raise ValueError(f"TexturedMesh.transformed: transform must be (4, 4), got {T.shape}")
        _check_finite(T, "transform")
        A, b = T[:3, :3], T[:3, 3]
        det = float(np.linalg.det(A))
        if abs(det) < 1e-12:
            raise ValueError("TexturedMesh.transformed: the transform's linear part is singular")
        vertices = self.vertices @ A.T + b
        faces, uvs, normals = self.faces, self.uvs, self.corner_normals
        if normals is not None:
            normals = normals @ np.linalg.inv(A)  # n' = A^-T n, row-vector form
            normals = normals / np.linalg.norm(normals, axis=-1, keepdims=True)
        if det < 0:
            order = [0, 2, 1]
            faces = faces[:, order]
            uvs = None if uvs is None else uvs[:, order]
            normals = None if normals is None else normals[:, order]
        return TexturedMesh(vertices, faces, uvs, self.texture, self.vertex_colors, normals)


def concatenate(meshes: Sequence[TexturedMesh]) -> TexturedMesh:
    """Merge meshes into one.

    Textures are packed side by side into one atlas (top-aligned, zero padded) and the
    uvs remapped into it; bilinear filtering may blend one texel across a boundary.
    Every mesh must carry the same kinds of attributes (all textured or none, all with
    vertex colours or none, all with corner normals or none).

    Args:
        meshes: one or more meshes.

    Returns:
        The merged mesh; faces of mesh k follow those of mesh k - 1.
    """
    meshes = list(meshes)
    if not meshes:
        raise ValueError("concatenate: needs at least one mesh")
    for name in ("texture", "vertex_colors", "corner_normals", "uvs"):
        present = [getattr(m, name) is not None for m in meshes]
        if any(present) and not all(present):
            raise ValueError(
                f"concatenate: field {name!r} is set on meshes {np.flatnonzero(present).tolist()} "
                "but not on the others; give every mesh the same attributes"
            )
    offsets = np.cumsum([0] + [m.num_vertices for m in meshes[:-1]])
    vertices = np.concatenate([m.vertices for m in meshes])
    faces = np.concatenate([m.faces + off for m, off in zip(meshes, offsets)])
    colors = _concat_optional([m.vertex_colors for m in meshes])
    normals = _concat_optional([m.corner_normals for m in meshes])
    uv_list = [m.uvs for m in meshes if m.uvs is not None]
    textures = [m.texture for m in meshes if m.texture is not None]
    texture: np.ndarray | None = None
    if textures:
        height = max(t.shape[0] for t in textures)
        width = sum(t.shape[1] for t in textures)
        texture = np.zeros((height, width, 3), dtype=np.float32)
        remapped = []
        col = 0
        for tex, uv in zip(textures, uv_list):
            h, w = tex.shape[:2]
            texture[:h, col : col + w] = tex
            new = np.empty_like(uv)
            new[..., 0] = (col + uv[..., 0] * w) / width
            # the texel row (1 - v) h keeps its value in the taller atlas
            new[..., 1] = 1.0 - (1.0 - uv[..., 1]) * h / height
            remapped.append(new)
            col += w
        uv_list = remapped
    uvs = np.concatenate(uv_list) if uv_list else None
    return TexturedMesh(vertices, faces, uvs, texture, colors, normals)


def _concat_optional(arrays: list[np.ndarray | None]) -> np.ndarray | None:
    present = [a for a in arrays if a is not None]
    return np.concatenate(present) if present else None


def _as_float_array(value: object, field: str, dtype: type) -> np.ndarray:
    arr = np.asarray(value)
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"TexturedMesh.{field} must be numeric, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=dtype)


def _check_finite(arr: np.ndarray, field: str) -> None:
    if not np.all(np.isfinite(arr)):
        idx = np.argwhere(~np.isfinite(arr))[0].tolist()
        raise ValueError(f"TexturedMesh.{field} contains NaN or inf (first at index {idx})")
