"""TexturedMesh validation, transforms and concatenation."""

from __future__ import annotations

import numpy as np
import pytest

from shared_utils.render.mesh import TexturedMesh, concatenate
from shared_utils.render.procedural import checker_texture, textured_box, textured_sphere
from shared_utils.render.shading import interpolate_corners, sample_texture


def _triangle(**kwargs: object) -> TexturedMesh:
    v = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    return TexturedMesh(v, np.array([[0, 1, 2]]), **kwargs)  # type: ignore[arg-type]


def test_valid_mesh_is_normalised_to_dtypes() -> None:
    mesh = _triangle(vertex_colors=np.ones((3, 3)))
    assert mesh.vertices.dtype == np.float64
    assert mesh.faces.dtype == np.int64
    assert mesh.vertex_colors is not None and mesh.vertex_colors.dtype == np.float32
    np.testing.assert_allclose(mesh.face_normals(), [[0.0, 0.0, 1.0]])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"faces": [[0, 1, 3]]}, r"TexturedMesh\.faces: index out of range \[0, 3\) \(face 0"),
        ({"faces": [[0, -1, 2]]}, r"TexturedMesh\.faces: index out of range"),
        ({"faces": [[0, 1]]}, r"TexturedMesh\.faces must be \(F, 3\)"),
        ({"faces": [[0.0, 1.5, 2.0]]}, r"TexturedMesh\.faces must hold integer"),
        (
            {"vertices": [[0, 0, np.nan], [1, 0, 0], [0, 1, 0]]},
            r"TexturedMesh\.vertices contains NaN",
        ),
        ({"vertices": [[0, 0], [1, 0], [0, 1]]}, r"TexturedMesh\.vertices must be \(V, 3\)"),
        ({"uvs": np.zeros((2, 3, 2))}, r"TexturedMesh\.uvs must be \(F, 3, 2\)"),
        ({"texture": np.zeros((4, 4, 3))}, r"TexturedMesh\.texture is set but uvs is None"),
        (
            {"uvs": np.zeros((1, 3, 2)), "texture": np.zeros((4, 4))},
            r"TexturedMesh\.texture must be",
        ),
        ({"vertex_colors": np.zeros((2, 3))}, r"TexturedMesh\.vertex_colors must be \(V, 3\)"),
        (
            {"corner_normals": np.zeros((1, 3, 3))},
            r"TexturedMesh\.corner_normals contains zero-length",
        ),
    ],
)
def test_bad_input_raises_clear_error(kwargs: dict, message: str) -> None:
    args = {
        "vertices": np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]),
        "faces": np.array([[0, 1, 2]]),
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        TexturedMesh(**args)


def test_transformed_moves_vertices_and_normals() -> None:
    sphere = textured_sphere(1.0, segments=16, rings=8)
    T = np.diag([2.0, 1.0, 0.5, 1.0])
    T[:3, 3] = [1.0, 2.0, 3.0]
    out = sphere.transformed(T)
    np.testing.assert_allclose(out.vertices, sphere.vertices * [2.0, 1.0, 0.5] + [1.0, 2.0, 3.0])
    # An ellipsoid's normal at p is proportional to (p - c) / axes^2.
    assert out.corner_normals is not None
    p = out.vertices[out.faces] - [1.0, 2.0, 3.0]
    expected = p / np.array([4.0, 1.0, 0.25])
    expected /= np.linalg.norm(expected, axis=-1, keepdims=True)
    np.testing.assert_allclose(out.corner_normals, expected, atol=1e-12)


def test_mirroring_transform_keeps_faces_outward() -> None:
    box = textured_box((1.0, 2.0, 3.0))
    mirrored = box.transformed(np.diag([-1.0, 1.0, 1.0, 1.0]))
    centroids = mirrored.vertices[mirrored.faces].mean(axis=1)
    assert np.all(np.einsum("ij,ij->i", mirrored.face_normals(), centroids) > 0)
    assert mirrored.corner_normals is not None
    np.testing.assert_allclose(mirrored.corner_normals[:, 0], mirrored.face_normals(), atol=1e-12)


def test_transformed_rejects_bad_matrix() -> None:
    with pytest.raises(ValueError, match="transform must be"):
        _triangle().transformed(np.eye(3))
    with pytest.raises(ValueError, match="singular"):
        _triangle().transformed(np.diag([1.0, 0.0, 1.0, 1.0]))


def test_concatenate_packs_textures_into_an_atlas() -> None:
    a = textured_box(texture=checker_texture(1, 16, squares=4))
    b = textured_sphere(0.5, texture=checker_texture(2, 32, squares=8), segments=12, rings=6)
    merged = concatenate([a, b])
    assert merged.num_vertices == a.num_vertices + b.num_vertices
    np.testing.assert_array_equal(merged.faces[a.num_faces :], b.faces + a.num_vertices)
    assert merged.texture is not None and merged.texture.shape == (32, 48, 3)
    rng = np.random.default_rng(0)
    for mesh, offset in ((a, 0), (b, a.num_faces)):
        assert mesh.uvs is not None and mesh.texture is not None
        tri = rng.integers(mesh.num_faces, size=50)
        bary = rng.dirichlet([1.0, 1.0, 1.0], size=50)
        uv = interpolate_corners(mesh.uvs, tri, bary)
        keep = np.all((uv > 0.1) & (uv < 0.9), axis=1)  # away from the atlas seams
        assert merged.uvs is not None
        uv_atlas = interpolate_corners(merged.uvs, tri + offset, bary)
        np.testing.assert_allclose(
            sample_texture(merged.texture, uv_atlas[keep]),
            sample_texture(mesh.texture, uv[keep]),
            atol=1e-5,
        )


def test_concatenate_refuses_mixed_attributes() -> None:
    with pytest.raises(ValueError, match="field 'texture' is set on meshes"):
        concatenate([textured_box(texture=checker_texture(0, 8)), textured_box()])
