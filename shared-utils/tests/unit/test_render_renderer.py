"""render / render_orthographic: exact depth, normals, texture colours, shading, AA."""

from __future__ import annotations

import time

import numpy as np
import pytest

from shared_utils.cameras.pinhole import PinholeCamera
from shared_utils.render.mesh import TexturedMesh
from shared_utils.render.procedural import random_textured_object, textured_sphere
from shared_utils.render.raycast import RaycastScene
from shared_utils.render.renderer import render, render_orthographic


def _camera(
    width: int = 64, height: int = 48, f: float = 50.0, pose: np.ndarray | None = None
) -> PinholeCamera:
    K = np.array([[f, 0.0, width / 2], [0.0, f, height / 2], [0.0, 0.0, 1.0]])
    return PinholeCamera(K, np.eye(4) if pose is None else pose, width, height)


def _quad(
    z: float, half: float, uvs: bool = False, texture: np.ndarray | None = None
) -> TexturedMesh:
    """Square in the plane z, facing -z (the camera); uv (0, 1) at world (-half, -half) = image top-left."""
    v = np.array([[-half, -half, z], [half, -half, z], [half, half, z], [-half, half, z]])
    f = np.array([[0, 1, 2], [0, 2, 3]])
    uv = np.array([[0.0, 1.0], [1.0, 1.0], [1.0, 0.0], [0.0, 0.0]])
    return TexturedMesh(v, f, uv[f] if uvs or texture is not None else None, texture)


def _rotation(axis: np.ndarray, angle: float) -> np.ndarray:
    a = np.asarray(axis, dtype=np.float64) / np.linalg.norm(axis)
    K = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    return np.eye(3) + np.sin(angle) * K + (1 - np.cos(angle)) * K @ K


def _pixel_rays(camera: PinholeCamera) -> np.ndarray:
    j, i = np.meshgrid(np.arange(camera.width) + 0.5, np.arange(camera.height) + 0.5)
    cam = np.stack([j, i, np.ones_like(j)], -1) @ np.linalg.inv(camera.K).T
    return cam @ camera.R  # world directions with camera z = 1


def test_plane_depth_is_exact() -> None:
    for d in (0.5, 2.0, 7.25):
        out = render(_quad(d, half=100.0), _camera())
        assert out.mask.all()
        np.testing.assert_allclose(out.depth, d, atol=1e-5, rtol=0)
        np.testing.assert_array_equal(
            out.normals, np.broadcast_to([0.0, 0.0, -1.0], out.normals.shape)
        )


def test_plane_depth_from_a_rotated_camera() -> None:
    """A plane z_world = d seen by a tilted camera: depth = the analytic ray/plane z_cam."""
    pose = np.eye(4)
    pose[:3, :3] = _rotation(np.array([1.0, 0.5, 0.0]), 0.3)
    pose[:3, 3] = [0.2, -0.1, 0.5]
    camera = _camera(pose=pose)
    out = render(_quad(4.0, half=100.0), camera)
    dirs = _pixel_rays(camera)
    c = camera.center
    t = (4.0 - c[2]) / dirs[..., 2]
    np.testing.assert_allclose(out.depth, t, atol=1e-5, rtol=0)
    np.testing.assert_allclose(out.points, c + t[..., None] * dirs, atol=1e-9)


def test_sphere_depth_and_normals_match_the_analytic_sphere() -> None:
    centre, radius = np.array([0.08, -0.05, 2.5]), 0.5
    T = np.eye(4)
    T[:3, 3] = centre
    sphere = textured_sphere(radius, segments=512, rings=256).transformed(T)
    camera = _camera(96, 96, f=200.0)
    out = render(sphere, camera, supersample=1)
    d = _pixel_rays(camera)  # origins at 0; |o + t d - c|^2 = r^2
    a = np.einsum("...i,...i", d, d)
    b = -2.0 * d @ centre
    cc = centre @ centre - radius**2
    disc = b * b - 4 * a * cc
    inside, outside = disc > 0.05 * b * b / 4, disc < 0
    t = (-b - np.sqrt(np.maximum(disc, 0.0))) / (2 * a)
    assert out.mask[inside].all() and not out.mask[outside].any()
    p = t[..., None] * d
    n_true = (p - centre) / radius
    cos_inc = -np.einsum("...i,...i", n_true, d) / np.sqrt(a)
    # The flat facets lie at most ~2e-5 r inside the sphere; along a ray that error
    # grows as 1 / cos(incidence), so compare away from grazing incidence.
    good = inside & (cos_inc > 0.4)
    assert good.sum() > 3000
    np.testing.assert_allclose(out.depth[good], t[good], atol=1e-4, rtol=0)  # t is z: d_z = 1
    assert np.all(out.depth[good] >= t[good] - 1e-12)  # an inscribed mesh is hit later
    np.testing.assert_allclose(out.normals[good], n_true[good], atol=1e-3)
    hit = out.mask
    np.testing.assert_allclose(np.linalg.norm(out.points[hit] - centre, axis=1), radius, atol=1e-4)
    assert np.all(np.isinf(out.depth[~hit])) and np.all(out.triangle_ids[~hit] == -1)
    np.testing.assert_allclose(out.barycentrics[hit].sum(axis=1), 1.0, atol=1e-12)


def test_texture_quadrants_with_shading_off() -> None:
    colours = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
    tex = np.zeros((64, 64, 3), dtype=np.float32)
    tex[:32, :32], tex[:32, 32:], tex[32:, :32], tex[32:, 32:] = colours
    camera = _camera(64, 64, f=64.0)  # the quad at z = 2 with half-size 1 fills the image
    out = render(
        _quad(2.0, half=1.0, texture=tex), camera, shading=False, background=(0.5, 0.5, 0.5)
    )
    assert out.mask.all()
    inner = np.r_[0:30, 34:64]  # 2 px away from the quadrant boundaries (bilinear blend)
    for q, (rows, cols) in enumerate(
        [
            (slice(0, 32), slice(0, 32)),
            (slice(0, 32), slice(32, 64)),
            (slice(32, 64), slice(0, 32)),
            (slice(32, 64), slice(32, 64)),
        ]
    ):
        block = out.rgb[rows, cols]
        sub = (
            np.isin(np.arange(64)[rows], inner)[:, None] & np.isin(np.arange(64)[cols], inner)[None]
        )
        np.testing.assert_array_equal(block[sub], np.broadcast_to(colours[q], block[sub].shape))


def test_texture_gradient_is_reproduced_exactly() -> None:
    """Bilinear lookup reproduces a linear texture: colour = (u, v) at every pixel."""
    h, w = 40, 50
    r, c = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    tex = np.stack([(c + 0.5) / w, 1 - (r + 0.5) / h, np.full((h, w), 0.25)], -1).astype(np.float32)
    camera = _camera(80, 60, f=30.0)
    out = render(_quad(3.0, half=2.0, texture=tex), camera, shading=False)
    m = out.mask
    x = out.points[..., 0]
    y = out.points[..., 1]
    u, v = (x + 2.0) / 4.0, (2.0 - y) / 4.0
    interior = m & (u > 0.5 / w) & (u < 1 - 0.5 / w) & (v > 0.5 / h) & (v < 1 - 0.5 / h)
    assert interior.sum() > 1400
    np.testing.assert_allclose(out.uv[m][:, 0], u[m], atol=1e-12)
    np.testing.assert_allclose(out.rgb[interior][:, 0], u[interior], atol=2e-6)
    np.testing.assert_allclose(out.rgb[interior][:, 1], v[interior], atol=2e-6)
    np.testing.assert_allclose(out.rgb[interior][:, 2], 0.25, atol=1e-7)


def test_vertex_colours_interpolate_barycentrically() -> None:
    quad = _quad(2.0, half=1.0)
    colours = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 1.0, 1.0]])
    mesh = TexturedMesh(quad.vertices, quad.faces, vertex_colors=colours)
    out = render(mesh, _camera(32, 32, f=32.0), shading=False)
    expected = np.einsum("hwk,hwkc->hwc", out.barycentrics, colours[mesh.faces[out.triangle_ids]])
    np.testing.assert_allclose(out.rgb, expected, atol=1e-6)


def test_lambert_shading_values() -> None:
    mesh, camera = _quad(2.0, half=50.0), _camera(16, 16)
    for light, cos in (((0, 0, -1), 1.0), ((0, np.sqrt(3), -1), 0.5), ((0, 0, 1), -1.0)):
        out = render(mesh, camera, light_dir=light, ambient=0.3, albedo=(0.8, 0.4, 0.2))
        expected = np.array([0.8, 0.4, 0.2]) * (0.3 + 0.7 * max(cos, 0.0))
        np.testing.assert_allclose(out.rgb, np.broadcast_to(expected, out.rgb.shape), atol=1e-6)
    # Headlight: cos is the angle between the ray and the plane normal.
    out = render(mesh, camera, ambient=0.2, albedo=(1.0, 1.0, 1.0))
    d = _pixel_rays(camera)
    cos = d[..., 2] / np.linalg.norm(d, axis=-1)
    np.testing.assert_allclose(out.rgb[..., 0], 0.2 + 0.8 * cos, atol=1e-6)
    # shading=False: the albedo itself.
    flat = render(mesh, camera, shading=False, albedo=(0.8, 0.4, 0.2))
    np.testing.assert_allclose(
        flat.rgb, np.broadcast_to([0.8, 0.4, 0.2], flat.rgb.shape), atol=1e-7
    )


def test_background_and_supersampled_coverage() -> None:
    """A quad whose edge cuts pixel column 20 through its centre covers half of that column."""
    camera = _camera(40, 40, f=40.0)
    z = 2.0
    x_edge = (20.5 - 20.0) / 40.0 * z  # the world x of pixel column 20's centre line
    v = np.array([[-5.0, -5.0, z], [x_edge, -5.0, z], [x_edge, 5.0, z], [-5.0, 5.0, z]])
    mesh = TexturedMesh(v, np.array([[0, 1, 2], [0, 2, 3]]))
    for s in (2, 4):
        out = render(
            mesh,
            camera,
            shading=False,
            albedo=(1.0, 1.0, 1.0),
            background=(0.0, 0.0, 1.0),
            supersample=s,
        )
        np.testing.assert_array_equal(out.alpha[:, :20], 1.0)
        np.testing.assert_array_equal(out.alpha[:, 21:], 0.0)
        np.testing.assert_allclose(out.alpha[:, 20], 0.5)
        np.testing.assert_allclose(
            out.rgb[:, 20], np.broadcast_to([0.5, 0.5, 1.0], (40, 3)), atol=1e-6
        )
        np.testing.assert_array_equal(out.rgb[:, 25], np.broadcast_to([0.0, 0.0, 1.0], (40, 3)))
        np.testing.assert_array_equal(out.mask[:, :20], True)


def test_orthographic_depth_of_a_tilted_plane_is_linear() -> None:
    # Plane z = 2 + 0.3 x + 0.1 y as a big quad.
    g = np.array([[-10.0, -10.0], [10.0, -10.0], [10.0, 10.0], [-10.0, 10.0]])
    v = np.c_[g, 2.0 + 0.3 * g[:, 0] + 0.1 * g[:, 1]]
    mesh = TexturedMesh(v, np.array([[0, 1, 2], [0, 2, 3]]))
    ps, w, h = 0.05, 32, 24
    out = render_orthographic(mesh, np.eye(4), w, h, ps)
    j, i = np.meshgrid(np.arange(w), np.arange(h))
    x, y = (j + 0.5 - w / 2) * ps, (i + 0.5 - h / 2) * ps
    np.testing.assert_allclose(out.depth, 2.0 + 0.3 * x + 0.1 * y, atol=1e-12)
    # A rotated, shifted scanner: depth stays an affine function of (i, j).
    pose = np.eye(4)
    pose[:3, :3] = _rotation(np.array([0.3, 1.0, 0.2]), 0.4)
    pose[:3, 3] = [0.1, 0.3, 1.0]
    out = render_orthographic(mesh, pose, w, h, ps)
    assert out.mask.all()
    A = np.c_[np.ones(w * h), i.ravel(), j.ravel()]
    coef, *_ = np.linalg.lstsq(A, out.depth.ravel(), rcond=None)
    np.testing.assert_allclose(A @ coef, out.depth.ravel(), atol=1e-10)
    # The hit points are the ray origins moved along the camera's +z by the depth.
    origin = (np.stack([x, y, np.zeros_like(x)], -1) - pose[:3, 3]) @ pose[:3, :3]
    np.testing.assert_allclose(out.points, origin + out.depth[..., None] * pose[2, :3], atol=1e-10)


def test_render_is_deterministic_and_fast() -> None:
    obj = random_textured_object(5)
    camera = _camera(
        256,
        256,
        f=300.0,
        pose=np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 3.0], [0, 0, 0, 1.0]]),
    )
    a = render(obj, camera, light_dir=(1, -1, -1))
    b = render([obj], camera, light_dir=(1, -1, -1))
    for field in (
        "rgb",
        "alpha",
        "depth",
        "normals",
        "points",
        "uv",
        "mask",
        "triangle_ids",
        "mesh_ids",
        "barycentrics",
    ):
        assert getattr(a, field).tobytes() == getattr(b, field).tobytes(), field
    assert 0.05 < a.mask.mean() < 0.9
    scene = RaycastScene(obj)
    best = np.inf
    for _ in range(3):
        start = time.perf_counter()
        render(scene, camera)
        best = min(best, time.perf_counter() - start)
    assert best < 1.0, f"256x256 render took {best:.3f} s"


def test_render_rejects_bad_inputs() -> None:
    mesh, camera = _quad(2.0, 1.0), _camera()
    with pytest.raises(TypeError, match="camera must be a PinholeCamera"):
        render(mesh, np.eye(4))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="light_dir must be a non-zero"):
        render(mesh, camera, light_dir=(0, 0, 0))
    with pytest.raises(ValueError, match="ambient must be in"):
        render(mesh, camera, ambient=1.5)
    with pytest.raises(ValueError, match="background must be"):
        render(mesh, camera, background=(1, 1))
    with pytest.raises(ValueError, match="supersample must be a positive integer"):
        render(mesh, camera, supersample=0)
    with pytest.raises(ValueError, match="pixel_size must be positive"):
        render_orthographic(mesh, np.eye(4), 8, 8, 0.0)
    with pytest.raises(ValueError, match="cam_from_world must be a finite"):
        render_orthographic(mesh, np.eye(3), 8, 8, 0.1)
    with pytest.raises(ValueError, match=r"TexturedMesh\.faces: index out of range"):
        render(TexturedMesh(mesh.vertices, np.array([[0, 1, 4]])), camera)
