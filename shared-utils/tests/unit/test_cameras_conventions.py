"""OpenCV <-> OpenGL conversions, rigid inverses and look-at projections."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from shared_utils.cameras.conventions import (
    OPENGL_TO_OPENCV,
    invert_rigid,
    opencv_from_opengl_c2w,
    opengl_c2w_from_opencv,
)
from shared_utils.cameras.pinhole import PinholeCamera
from shared_utils.cameras.rigs import intrinsics_from_fov, look_at


def _random_rigid(rng: np.random.Generator, n: int) -> np.ndarray:
    T = np.tile(np.eye(4), (n, 1, 1))
    T[:, :3, :3] = Rotation.random(n, random_state=rng.integers(1 << 31)).as_matrix()
    T[:, :3, 3] = rng.normal(size=(n, 3))
    return T


def test_opencv_opengl_round_trip() -> None:
    T = _random_rigid(np.random.default_rng(0), 8)
    gl = opengl_c2w_from_opencv(T)
    np.testing.assert_allclose(opencv_from_opengl_c2w(gl), T, atol=1e-12)
    # OpenGL c2w is the camera-to-world with y and z axes negated.
    np.testing.assert_allclose(gl, invert_rigid(T) @ OPENGL_TO_OPENCV, atol=1e-12)


def test_opengl_camera_looking_down_minus_z() -> None:
    """A Blender camera at (0, 0, 4) with identity rotation looks along world -z."""
    c2w_gl = np.eye(4)
    c2w_gl[2, 3] = 4.0
    T = opencv_from_opengl_c2w(c2w_gl[:3])  # 3x4 accepted too
    cam = PinholeCamera(intrinsics_from_fov(60.0, 40, 30), T, 40, 30)
    np.testing.assert_allclose(cam.center, [0, 0, 4], atol=1e-12)
    uv, depth = cam.project(np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]))
    np.testing.assert_allclose(uv[0], [20.0, 15.0], atol=1e-12)
    np.testing.assert_allclose(depth, [4.0, 4.0, 4.0], atol=1e-12)
    assert uv[1, 0] > 20.0  # world +x is image right
    assert uv[2, 1] < 15.0  # world +y (OpenGL up) is image up


def test_invert_rigid_and_world_from_cam() -> None:
    T = _random_rigid(np.random.default_rng(1), 5)
    inv = invert_rigid(T)
    np.testing.assert_allclose(inv @ T, np.broadcast_to(np.eye(4), T.shape), atol=1e-12)
    np.testing.assert_allclose(inv, np.linalg.inv(T), atol=1e-12)
    cam = PinholeCamera(np.eye(3), T[0], 4, 4)
    np.testing.assert_allclose(cam.world_from_cam, inv[0], atol=1e-12)
    np.testing.assert_allclose(invert_rigid(cam.world_from_cam), T[0], atol=1e-12)


def test_look_at_projects_target_to_image_centre() -> None:
    rng = np.random.default_rng(2)
    K = intrinsics_from_fov(50.0, 64, 48)
    for _ in range(10):
        eye, target = rng.normal(size=3) * 3, rng.normal(size=3)
        T = look_at(eye, target, up=(0, 0, 1))
        cam = PinholeCamera(K, T, 64, 48)
        np.testing.assert_allclose(cam.R @ cam.R.T, np.eye(3), atol=1e-12)
        assert np.linalg.det(cam.R) == pytest.approx(1.0)
        np.testing.assert_allclose(cam.center, eye, atol=1e-12)
        uv, depth = cam.project(np.stack([target, target + np.array([0, 0, 0.1])]))
        np.testing.assert_allclose(uv[0], [32.0, 24.0], atol=1e-9)
        assert depth[0] == pytest.approx(np.linalg.norm(target - eye))
        assert uv[1, 1] < 24.0  # a point above the target appears higher in the image


def test_look_at_rejects_parallel_up() -> None:
    with pytest.raises(ValueError, match=r"parallel"):
        look_at((0, 0, 5), (0, 0, 0), up=(0, 0, 1))


def test_intrinsics_from_fov_values() -> None:
    K = intrinsics_from_fov(90.0, 100, 50)
    np.testing.assert_allclose(
        K, np.array([[25.0, 0, 50.0], [0, 25.0, 25.0], [0, 0, 1]]), atol=1e-12
    )
