"""Procedural textures and primitives: exact patterns, geometry invariants, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from shared_utils.render import procedural as P
from shared_utils.render.mesh import TexturedMesh


def _edges_shared_twice(mesh: TexturedMesh) -> bool:
    e = np.concatenate([mesh.faces[:, [0, 1]], mesh.faces[:, [1, 2]], mesh.faces[:, [2, 0]]])
    directed = {tuple(x) for x in e.tolist()}
    # Closed and consistently oriented: each directed edge appears once, its reverse too.
    return len(directed) == len(e) and all((b, a) in directed for a, b in directed)


def _volume(mesh: TexturedMesh) -> float:
    tri = mesh.vertices[mesh.faces]
    return float(np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() / 6.0)


@pytest.mark.parametrize(
    ("mesh", "volume", "rtol"),
    [
        (P.textured_sphere(1.0, segments=128, rings=64), 4.0 / 3.0 * np.pi, 2e-3),
        (P.textured_box((1.0, 2.0, 3.0)), 6.0, 1e-12),
        (P.textured_cylinder(0.5, 2.0, segments=128), np.pi * 0.25 * 2.0, 1e-3),
        (
            P.textured_torus(1.0, 0.3, major_segments=128, minor_segments=64),
            2 * np.pi**2 * 0.09,
            5e-3,
        ),
    ],
)
def test_primitives_are_closed_outward_and_have_the_right_volume(
    mesh: TexturedMesh, volume: float, rtol: float
) -> None:
    assert _edges_shared_twice(mesh)
    assert _volume(mesh) == pytest.approx(volume, rel=rtol)  # positive: faces point outward
    assert mesh.uvs is not None and mesh.corner_normals is not None
    assert mesh.uvs.min() >= 0.0 and mesh.uvs.max() <= 1.0
    # Not mirrored: faces are counter-clockwise from outside, so in uv space too.
    uv = mesh.uvs
    e1, e2 = uv[:, 1] - uv[:, 0], uv[:, 2] - uv[:, 0]
    area = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    assert area.min() > 0
    # Shading normals agree with the faces they belong to.
    cos = np.einsum("fkc,fc->fk", mesh.corner_normals, mesh.face_normals())
    assert cos.min() > 0.7


def test_sphere_and_torus_vertices_lie_on_the_surface() -> None:
    sphere = P.textured_sphere(2.0, segments=20, rings=10)
    np.testing.assert_allclose(np.linalg.norm(sphere.vertices, axis=1), 2.0, atol=1e-12)
    assert sphere.corner_normals is not None
    np.testing.assert_allclose(
        sphere.corner_normals, sphere.vertices[sphere.faces] / 2.0, atol=1e-12
    )
    torus = P.textured_torus(1.5, 0.4, major_segments=16, minor_segments=8)
    rho = np.linalg.norm(torus.vertices[:, :2], axis=1)
    np.testing.assert_allclose(np.hypot(rho - 1.5, torus.vertices[:, 2]), 0.4, atol=1e-12)


def test_sphere_uv_is_longitude_latitude() -> None:
    sphere = P.textured_sphere(1.0, segments=16, rings=8)
    assert sphere.uvs is not None
    p = sphere.vertices[sphere.faces]  # (F, 3, 3)
    not_pole = np.abs(p[..., 2]) < 1 - 1e-9
    lat_v = 1.0 - np.arccos(np.clip(p[..., 2], -1, 1)) / np.pi
    np.testing.assert_allclose(sphere.uvs[..., 1], lat_v, atol=1e-12)
    lon = np.mod(np.arctan2(p[..., 1], p[..., 0]), 2 * np.pi) / (2 * np.pi)
    # The seam column has u = 1 on the faces that close the ring, 0 elsewhere.
    du = np.abs(sphere.uvs[..., 0] - lon)
    assert np.all(np.minimum(du, np.abs(du - 1.0))[not_pole] < 1e-12)


def test_checker_and_stripes_patterns() -> None:
    a, b = (1.0, 0.0, 0.0), (0.0, 0.0, 1.0)
    tex = P.checker_texture(0, 8, squares=4, colors=[a, b])
    assert tex.shape == (8, 8, 3) and tex.dtype == np.float32
    rows, cols = np.meshgrid(np.arange(8), np.arange(8), indexing="ij")
    # Texel row r has v = 1 - (r + 0.5) / 8, so cell index floor(v * 4) = 3 - r // 2.
    parity = (cols // 2 + (3 - rows // 2)) % 2
    np.testing.assert_array_equal(tex, np.where(parity[..., None] == 0, a, b).astype(np.float32))
    stripes = P.stripes_texture(0, 16, stripes=2, angle_deg=0.0, colors=[a, b])
    np.testing.assert_array_equal(stripes, stripes[:1].repeat(16, axis=0))  # depends on u only
    np.testing.assert_array_equal(stripes[0, :, 0], np.tile(np.repeat([1.0, 0.0], 4), 2))


def test_gradient_and_noise_ranges() -> None:
    g = P.gradient_texture(0, 32, angle_deg=0.0, colors=[(0.0, 0.0, 0.0), (1.0, 1.0, 1.0)])
    np.testing.assert_allclose(g[5, :, 0], (np.arange(32) + 0.5) / 32, atol=1e-6)
    n = P.value_noise(3, 64, cells=4, octaves=3)
    assert n.min() == 0.0 and n.max() == 1.0
    # Smooth: neighbouring texels differ far less than the full range.
    assert np.abs(np.diff(n, axis=1)).max() < 0.25
    for seed in range(8):
        tex = P.random_texture(seed, 32)
        assert tex.shape == (32, 32, 3) and tex.min() >= 0.0 and tex.max() <= 1.0
        assert tex.std() > 0.02  # a visible pattern


def test_random_objects_are_deterministic_by_seed_and_differ_across_seeds() -> None:
    fields = ("vertices", "faces", "uvs", "texture", "corner_normals")
    first = [P.random_textured_object(seed, texture_size=32) for seed in range(8)]
    again = [P.random_textured_object(seed, texture_size=32) for seed in range(8)]
    for a, b in zip(first, again):
        for f in fields:
            assert getattr(a, f).tobytes() == getattr(b, f).tobytes(), f
    digests = {tuple(getattr(m, f).tobytes() for f in ("vertices", "texture")) for m in first}
    assert len(digests) == 8
    shapes = set()
    for m in first:
        radius = np.linalg.norm(m.vertices, axis=1).max()
        assert 0.6 - 1e-9 <= radius <= 1.0 + 1e-9
        assert _edges_shared_twice(m) and _volume(m) > 0
        shapes.add(m.num_faces)
    assert len(shapes) >= 3  # several primitive kinds among 8 seeds


def test_random_rotation_is_a_rotation() -> None:
    R = P.random_rotation(4)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(R) == pytest.approx(1.0)


def test_bad_parameters_raise() -> None:
    with pytest.raises(ValueError, match="textured_sphere"):
        P.textured_sphere(1.0, segments=2)
    with pytest.raises(ValueError, match="textured_torus"):
        P.textured_torus(1.0, 1.5)
    with pytest.raises(ValueError, match="textured_box"):
        P.textured_box((1.0, -1.0, 1.0))
    with pytest.raises(ValueError, match="shapes must be a non-empty subset"):
        P.random_textured_object(0, shapes=("cone",))
    with pytest.raises(ValueError, match="colors must be"):
        P.checker_texture(0, 8, colors=[(1.0, 0.0)])


def test_blob_texture_paints_exact_disks_in_order() -> None:
    # One disk: texels whose centres fall inside it take its colour, the rest stay grey.
    tex = P.blob_texture(3, 64, count=1, radius_range=(0.1, 0.1), background=0.25)
    rng = np.random.default_rng(3)
    (cx, cy), r = rng.uniform(0.0, 64, size=(1, 2))[0], 0.1 * 64
    rng.uniform(0.1, 0.1, size=1)
    colour = rng.uniform(0.0, 1.0, size=(1, 3))[0].astype(np.float32)
    yy, xx = np.mgrid[:64, :64]
    inside = (xx + 0.5 - cx) ** 2 + (yy + 0.5 - cy) ** 2 < r * r
    assert inside.sum() > 100
    np.testing.assert_array_equal(tex[inside], np.broadcast_to(colour, (int(inside.sum()), 3)))
    np.testing.assert_array_equal(
        tex[~inside], np.full((int((~inside).sum()), 3), 0.25, np.float32)
    )
    # Deterministic by seed, different across seeds, and busy (many distinct colours).
    a, b = P.blob_texture(1, 256), P.blob_texture(1, 256)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, P.blob_texture(2, 256))
    assert len(np.unique(a.reshape(-1, 3), axis=0)) > 1000
    with pytest.raises(ValueError, match="radius_range"):
        P.blob_texture(0, 16, radius_range=(0.2, 0.1))
