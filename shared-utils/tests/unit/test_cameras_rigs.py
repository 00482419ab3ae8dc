"""Orbit and Fibonacci-sphere rigs."""

from __future__ import annotations

import numpy as np
import pytest

from shared_utils.cameras.rigs import intrinsics_from_fov, orbit_cameras, sphere_cameras


def test_orbit_cameras_geometry() -> None:
    K = intrinsics_from_fov(40.0, 32, 24)
    target = np.array([0.5, -0.2, 0.1])
    cams = orbit_cameras(8, 3.0, 30.0, K, 32, 24, target=target)
    assert len(cams) == 8
    centres = np.stack([c.center for c in cams])
    np.testing.assert_allclose(np.linalg.norm(centres - target, axis=1), 3.0, atol=1e-12)
    # Elevation 30 deg above the z = target_z plane.
    np.testing.assert_allclose(centres[:, 2] - target[2], 3.0 * np.sin(np.radians(30)), atol=1e-12)
    # Neighbours are 45 degrees apart in azimuth.
    rel = centres[:, :2] - target[:2]
    az = np.unwrap(np.arctan2(rel[:, 1], rel[:, 0]))
    np.testing.assert_allclose(np.diff(az), np.pi / 4, atol=1e-12)
    for c in cams:
        uv, _ = c.project(target[None])
        np.testing.assert_allclose(uv[0], [16.0, 12.0], atol=1e-9)
        # World up projects upwards in the image (y down).
        uv_up, _ = c.project((target + np.array([0.0, 0.0, 0.1]))[None])
        assert uv_up[0, 1] < 12.0


@pytest.mark.parametrize("upper", [False, True])
def test_sphere_cameras(upper: bool) -> None:
    K = intrinsics_from_fov(40.0, 32, 24)
    cams = sphere_cameras(200, 2.0, K, 32, 24, upper_hemisphere=upper)
    centres = np.stack([c.center for c in cams])
    np.testing.assert_allclose(np.linalg.norm(centres, axis=1), 2.0, atol=1e-12)
    if upper:
        assert centres[:, 2].min() > 0
        np.testing.assert_allclose(centres.mean(0)[:2], 0.0, atol=0.05)
        assert centres[:, 2].mean() == pytest.approx(1.0, abs=0.02)  # E[z] = r / 2
    else:
        np.testing.assert_allclose(centres.mean(0), 0.0, atol=0.03)
    for c in cams[::17]:
        uv, _ = c.project(np.zeros((1, 3)))
        np.testing.assert_allclose(uv[0], [16.0, 12.0], atol=1e-9)
