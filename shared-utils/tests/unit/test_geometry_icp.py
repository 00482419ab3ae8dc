"""ICP through open3d on an asymmetric bumpy surface."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from shared_utils.geometry.icp import icp
from shared_utils.geometry.sampling import sample_surface


def _bumpy_surface(n: int, seed: int) -> np.ndarray:
    """Points on a height field z = f(x, y) with bumps at irregular places (no symmetry)."""
    g = np.linspace(-1.0, 1.0, 40)
    xx, yy = np.meshgrid(g, g)
    zz = (
        0.3 * np.exp(-((xx - 0.3) ** 2 + (yy + 0.2) ** 2) / 0.05)
        + 0.2 * np.exp(-((xx + 0.5) ** 2 + (yy - 0.4) ** 2) / 0.02)
        + 0.1 * np.sin(2.0 * xx + 0.5) * np.cos(3.0 * yy)
        + 0.15 * xx * yy
    )
    V = np.stack([xx, yy, zz], -1).reshape(-1, 3)
    idx = np.arange(40 * 40).reshape(40, 40)
    a, b, c, d = (
        idx[:-1, :-1].ravel(),
        idx[:-1, 1:].ravel(),
        idx[1:, :-1].ravel(),
        idx[1:, 1:].ravel(),
    )
    F = np.concatenate([np.stack([a, b, c], 1), np.stack([b, d, c], 1)])
    return sample_surface(V, F, n, seed=seed)[0]


@pytest.mark.parametrize("point_to_plane", [False, True])
def test_icp_recovers_small_rigid_transform(point_to_plane: bool) -> None:
    target = _bumpy_surface(6000, seed=0)
    # Point-to-plane copes with independent samples of the same surface; point-to-point
    # slides between samples (a bias of a few 1e-3), so it gets a subset of the target.
    source_pts = _bumpy_surface(3000, seed=1) if point_to_plane else target[::2]
    T_true = np.eye(4)
    T_true[:3, :3] = Rotation.from_rotvec([0.04, -0.03, 0.05]).as_matrix()
    T_true[:3, 3] = [0.03, -0.02, 0.04]
    # Move the source away by the inverse, so T_true maps it back onto the target.
    inv = np.linalg.inv(T_true)
    source = source_pts @ inv[:3, :3].T + inv[:3, 3]
    res = icp(
        source,
        target,
        max_correspondence_distance=0.2,
        point_to_plane=point_to_plane,
        max_iterations=200,
    )
    np.testing.assert_allclose(res.transform, T_true, atol=1e-3)
    assert res.fitness > 0.99
    assert res.inlier_rmse < 0.02


def test_icp_identity_on_identical_clouds_and_init() -> None:
    pts = _bumpy_surface(2000, seed=3)
    res = icp(pts, pts, max_correspondence_distance=0.05)
    np.testing.assert_allclose(res.transform, np.eye(4), atol=1e-9)
    assert res.fitness == 1.0 and res.inlier_rmse < 1e-9
    # A good init is kept when it is already exact.
    T = np.eye(4)
    T[:3, 3] = [0.5, 0.0, 0.0]
    res = icp(pts - T[:3, 3], pts, init=T, max_correspondence_distance=0.05)
    np.testing.assert_allclose(res.transform, T, atol=1e-9)


def test_icp_bad_input() -> None:
    with pytest.raises(ValueError, match=r"source"):
        icp(np.zeros((0, 3)), np.zeros((5, 3)), max_correspondence_distance=1.0)
    with pytest.raises(ValueError, match=r"init"):
        icp(np.zeros((5, 3)), np.zeros((5, 3)), init=np.eye(3), max_correspondence_distance=1.0)
