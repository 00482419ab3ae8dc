"""Mesh and point-cloud IO: round trips through every format, clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shared_utils.io.meshes import (
    MeshFormatError,
    read_mesh,
    read_point_cloud,
    write_mesh,
    write_point_cloud,
)

# A tetrahedron: 4 vertices, 4 outward-facing triangles.
VERTS = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]) * 0.75 + 0.1
FACES = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])
COLORS = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.2, 0.4, 0.6]])


def _triangles(vertices: np.ndarray, faces: np.ndarray) -> set[tuple[float, ...]]:
    """Order-free description of a mesh: the set of its triangles' rounded corners."""
    return {tuple(np.round(vertices[f], 5).reshape(-1)) for f in faces}


@pytest.mark.parametrize(
    ("suffix", "ascii", "colors"),
    [
        (".ply", False, True),
        (".ply", True, True),
        (".obj", False, True),
        (".off", False, False),
        (".stl", False, False),
        (".stl", True, False),
    ],
)
def test_mesh_round_trip(tmp_path: Path, suffix: str, ascii: bool, colors: bool) -> None:
    path = tmp_path / f"tet{suffix}"
    write_mesh(path, VERTS, FACES, COLORS if colors else None, ascii=ascii)
    mesh = read_mesh(path)
    assert mesh.vertices.dtype == np.float64 and mesh.faces.dtype == np.int64
    if suffix == ".stl":  # no shared vertices on disk: compare the triangle sets
        assert len(mesh.vertices) == 4
        assert _triangles(mesh.vertices, mesh.faces) == _triangles(VERTS, FACES)
    else:
        np.testing.assert_allclose(mesh.vertices, VERTS, atol=1e-6)
        np.testing.assert_array_equal(mesh.faces, FACES)
    if colors:
        assert mesh.vertex_colors is not None
        np.testing.assert_allclose(mesh.vertex_colors, COLORS, atol=0.5 / 255 + 1e-9)
    else:
        assert mesh.vertex_colors is None


@pytest.mark.parametrize("ascii", [False, True])
def test_point_cloud_round_trip(tmp_path: Path, ascii: bool) -> None:
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(40, 3))
    normals = rng.normal(size=(40, 3))
    colors = rng.random((40, 3))
    write_point_cloud(tmp_path / "p.ply", pts, colors, normals, ascii=ascii)
    pc = read_point_cloud(tmp_path / "p.ply")
    np.testing.assert_array_equal(pc.points, pts)  # stored as double
    assert pc.normals is not None and pc.colors is not None
    np.testing.assert_array_equal(pc.normals, normals)
    np.testing.assert_allclose(pc.colors, np.round(colors * 255) / 255, atol=1e-12)
    write_point_cloud(tmp_path / "q.ply", pts)
    bare = read_point_cloud(tmp_path / "q.ply")
    assert bare.colors is None and bare.normals is None


def test_point_cloud_readable_by_open3d(tmp_path: Path) -> None:
    from shared_utils.o3d import open3d

    pts = np.random.default_rng(1).random((10, 3))
    write_point_cloud(tmp_path / "p.ply", pts, colors=np.ones((10, 3)))
    pcd = open3d().io.read_point_cloud(str(tmp_path / "p.ply"))
    np.testing.assert_array_equal(np.asarray(pcd.points), pts)


def test_malformed_files(tmp_path: Path) -> None:
    truncated = tmp_path / "trunc.ply"
    truncated.write_text(
        "ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\n"
        "property float z\nend_header\n1 2 3\n2 3 4\n"
    )
    with pytest.raises(MeshFormatError, match=r"trunc\.ply"):
        read_point_cloud(truncated)
    with pytest.raises(MeshFormatError, match=r"trunc\.ply"):
        read_mesh(truncated)
    no_y = tmp_path / "noy.ply"
    no_y.write_text(
        "ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float z\n"
        "end_header\n1 2\n"
    )
    with pytest.raises(MeshFormatError, match=r"noy\.ply.*'y'"):
        read_point_cloud(no_y)
    bad_obj = tmp_path / "bad.obj"
    bad_obj.write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 9\n")
    with pytest.raises(MeshFormatError, match=r"bad\.obj"):
        read_mesh(bad_obj)
    empty = tmp_path / "empty.obj"
    empty.write_text("# nothing here\n")
    with pytest.raises(MeshFormatError, match=r"empty\.obj.*no vertices"):
        read_mesh(empty)
    not_ply = tmp_path / "x.ply"
    not_ply.write_text("hello\n")
    with pytest.raises(MeshFormatError, match=r"x\.ply"):
        read_point_cloud(not_ply)
    with pytest.raises(FileNotFoundError, match=r"gone\.stl"):
        read_mesh(tmp_path / "gone.stl")
    with pytest.raises(MeshFormatError, match="unsupported"):
        write_mesh(tmp_path / "a.glb", VERTS, FACES)
    with pytest.raises(MeshFormatError, match="vertex_colors"):
        write_mesh(tmp_path / "a.ply", VERTS, FACES, COLORS[:2])
    with pytest.raises(MeshFormatError, match="faces"):
        write_mesh(tmp_path / "a.ply", VERTS, FACES + 4)
