"""Marching cubes, procedural heads and Chamfer-after-ICP."""

from __future__ import annotations

import numpy as np
import pytest

from multineus.data.heads import HeadParams, head_mesh, head_sdf
from multineus.evaluate import chamfer_after_icp
from multineus.mesh import marching_cubes_mesh
from shared_utils.geometry.lie import se3_exp
from shared_utils.io.meshes import read_mesh


def test_sphere_mesh_has_the_right_radius(tmp_path) -> None:
    centre = np.array([0.1, -0.05, 0.0])
    mesh = marching_cubes_mesh(
        lambda p: np.linalg.norm(p - centre, axis=1) - 0.5,
        resolution=40,
        bound=0.8,
        color_fn=lambda v: np.tile([0.2, 0.4, 0.6], (len(v), 1)),
    )
    r = np.linalg.norm(mesh.vertices - centre, axis=1)
    assert abs(r.mean() - 0.5) < 2e-3 and r.std() < 2e-3
    v, f = mesh.vertices, mesh.faces
    normals = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    assert np.all((normals * (v[f].mean(1) - centre)).sum(1) > 0)  # outward winding
    mesh.save(tmp_path / "s.ply")
    back = read_mesh(tmp_path / "s.ply")
    assert back.faces.shape == f.shape and np.allclose(back.vertices, v, atol=1e-5)
    assert back.vertex_colors is not None and np.allclose(
        back.vertex_colors[0], [0.2, 0.4, 0.6], atol=1 / 255
    )


def test_no_crossing_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="does not cross"):
        marching_cubes_mesh(lambda p: np.ones(len(p)), resolution=8)


def test_heads_are_deterministic_distinct_and_inside_the_unit_sphere() -> None:
    a, b = HeadParams.sample(3), HeadParams.sample(3)
    c = HeadParams.sample(4)
    assert a == b and a != c
    mesh = head_mesh(a, resolution=48)
    assert np.linalg.norm(mesh.vertices, axis=1).max() < 0.95
    # The SDF is negative at the centre, positive far away, ~0 on the mesh.
    assert head_sdf(a, np.zeros((1, 3)))[0] < 0 and head_sdf(a, np.array([[0.0, 0.0, 0.95]]))[0] > 0
    assert np.abs(head_sdf(a, mesh.vertices)).max() < 0.02


def test_chamfer_after_known_rigid_motion_is_zero_after_icp() -> None:
    gt = head_mesh(HeadParams(), resolution=48)
    xi = np.array([0.02, -0.01, 0.015, 0.03, -0.02, 0.04])
    import torch

    T = se3_exp(torch.tensor(xi)).numpy()
    moved = gt.vertices @ T[:3, :3].T + T[:3, 3]
    from multineus.mesh import Mesh

    pred = Mesh(moved, gt.faces)
    anchor = np.array([0.0, -0.45, 0.0])
    before = chamfer_after_icp(
        pred, gt, mm_per_unit=220.0, face_anchor=anchor, align=False, n_points=5000
    )
    after = chamfer_after_icp(pred, gt, mm_per_unit=220.0, face_anchor=anchor, n_points=5000)
    # The floor: the same mesh, unmoved (two independent 5000-point samplings).
    floor = chamfer_after_icp(
        gt, gt, mm_per_unit=220.0, face_anchor=anchor, align=False, n_points=5000
    )
    assert before.head_mm > floor.head_mm + 1.5
    assert after.head_mm < floor.head_mm + 0.1 and after.face_mm < floor.face_mm + 0.1
    assert np.allclose(after.transform @ T, np.eye(4), atol=5e-3)
