"""RaycastScene: hit distances, ids, barycentrics and normals against known answers."""

from __future__ import annotations

import numpy as np
import pytest

from shared_utils.render.mesh import TexturedMesh
from shared_utils.render.procedural import textured_torus
from shared_utils.render.raycast import RaycastScene


def _quad(z: float, half: float = 1.0) -> TexturedMesh:
    v = np.array([[-half, -half, z], [half, -half, z], [half, half, z], [-half, half, z]])
    return TexturedMesh(v, np.array([[0, 1, 2], [0, 2, 3]]))


def test_hits_recombine_to_points_and_barycentrics_sum_to_one() -> None:
    mesh = textured_torus(1.0, 0.4, major_segments=24, minor_segments=12)
    scene = RaycastScene(mesh)
    rng = np.random.default_rng(0)
    origins = rng.normal(size=(500, 3)) * 0.2 + [0.0, 0.0, 4.0]
    targets = rng.uniform(-1.4, 1.4, size=(500, 3)) * [1.0, 1.0, 0.3]
    dirs = targets - origins
    hits = scene.cast(origins, dirs)
    m = hits.mask
    assert m.sum() > 200 and (~m).sum() > 20
    np.testing.assert_allclose(hits.barycentrics[m].sum(axis=1), 1.0, atol=1e-12)
    assert np.all(hits.barycentrics[m] > -1e-9)
    corners = mesh.vertices[mesh.faces[hits.triangle_ids[m]]]
    recombined = np.einsum("nk,nkc->nc", hits.barycentrics[m], corners)
    np.testing.assert_allclose(recombined, hits.points[m], atol=1e-10)
    np.testing.assert_allclose(hits.points[m], origins[m] + hits.t[m, None] * dirs[m], atol=1e-12)
    # Normals: unit, perpendicular to the hit face, facing the incoming ray.
    np.testing.assert_allclose(np.linalg.norm(hits.normals[m], axis=1), 1.0, atol=1e-12)
    face_n = mesh.face_normals()[hits.triangle_ids[m]]
    np.testing.assert_allclose(
        np.abs(np.einsum("ij,ij->i", face_n, hits.normals[m])), 1.0, atol=1e-12
    )
    assert np.all(np.einsum("ij,ij->i", hits.normals[m], dirs[m]) < 0)
    assert np.all(hits.mesh_ids[m] == 0)
    # Misses carry the documented fill values.
    assert np.all(np.isinf(hits.t[~m])) and np.all(hits.triangle_ids[~m] == -1)
    assert np.all(hits.mesh_ids[~m] == -1) and np.all(hits.barycentrics[~m] == 0)
    assert np.all(np.isnan(hits.points[~m]))


def test_brute_force_first_hit_matches() -> None:
    """Compare with a brute-force loop over every triangle (Moller-Trumbore)."""
    mesh = textured_torus(1.0, 0.4, major_segments=12, minor_segments=6)
    rng = np.random.default_rng(1)
    origins = np.tile([0.3, -0.2, 3.0], (60, 1))
    dirs = rng.uniform(-1.3, 1.3, size=(60, 3)) * [1.0, 1.0, 0.2] - origins
    hits = RaycastScene(mesh).cast(origins, dirs)
    tri = mesh.vertices[mesh.faces]
    for n in range(len(origins)):
        best_t, best_f = np.inf, -1
        for f, (a, b, c) in enumerate(tri):
            e1, e2 = b - a, c - a
            p = np.cross(dirs[n], e2)
            det = e1 @ p
            if abs(det) < 1e-14:
                continue
            s = origins[n] - a
            u = (s @ p) / det
            q = np.cross(s, e1)
            v = (dirs[n] @ q) / det
            t = (e2 @ q) / det
            if u >= 0 and v >= 0 and u + v <= 1 and 0 < t < best_t:
                best_t, best_f = t, f
        assert hits.triangle_ids[n] == best_f
        if best_f >= 0:
            assert hits.t[n] == pytest.approx(best_t, abs=1e-12)


def test_two_triangle_quad_is_split_along_its_diagonal() -> None:
    scene = RaycastScene(_quad(2.0))
    xs = np.linspace(-0.95, 0.95, 20)
    x, y = np.meshgrid(xs, xs)
    origins = np.stack([x, y, np.zeros_like(x)], -1)
    hits = scene.cast(origins, np.broadcast_to([0.0, 0.0, 1.0], origins.shape))
    # Face 0 = (v0, v1, v2) holds the corner (1, -1): the side x > y of the diagonal.
    np.testing.assert_array_equal(hits.triangle_ids[x > y], 0)
    np.testing.assert_array_equal(hits.triangle_ids[x < y], 1)
    np.testing.assert_allclose(hits.t, 2.0, atol=1e-15)
    # Barycentrics of face 0 at (x, y): v1 weight (x - y) / 2, v2 weight (1 + y) / 2.
    sel = x > y
    np.testing.assert_allclose(hits.barycentrics[sel][:, 1], (x[sel] - y[sel]) / 2, atol=1e-12)
    np.testing.assert_allclose(hits.barycentrics[sel][:, 2], (1 + y[sel]) / 2, atol=1e-12)


def test_mesh_ids_pick_the_nearest_of_several_meshes() -> None:
    scene = RaycastScene([_quad(5.0, half=2.0), _quad(3.0, half=0.5)])
    origins = np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 0.0], [3.0, 0.0, 0.0]])
    hits = scene.cast(origins, np.tile([0.0, 0.0, 2.0], (3, 1)))
    np.testing.assert_array_equal(hits.mesh_ids, [1, 0, -1])
    np.testing.assert_allclose(hits.t[:2], [1.5, 2.5])  # in units of |direction| = 2
    # Seen from behind, the normal flips to face the ray.
    back = scene.cast(np.array([[0.0, 0.0, 10.0]]), np.array([[0.0, 0.0, -1.0]]))
    np.testing.assert_allclose(back.normals, [[0.0, 0.0, 1.0]])
    assert back.mesh_ids[0] == 0


def test_cast_rejects_bad_rays() -> None:
    scene = RaycastScene(_quad(1.0))
    with pytest.raises(ValueError, match="origins and directions must both be"):
        scene.cast(np.zeros((4, 3)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="contain NaN"):
        scene.cast(np.full((1, 3), np.nan), np.ones((1, 3)))
    with pytest.raises(ValueError, match="at least one mesh"):
        RaycastScene([])
    with pytest.raises(TypeError, match=r"meshes\[0\] must be a TexturedMesh"):
        RaycastScene([np.zeros((3, 3))])  # type: ignore[list-item]
