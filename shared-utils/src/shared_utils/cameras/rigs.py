"""Synthetic camera rigs: intrinsics from a field of view, look-at poses, orbits and
Fibonacci spheres of cameras all looking at one target (OpenCV axes throughout)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from shared_utils.cameras.pinhole import PinholeCamera

Vec3 = Sequence[float] | np.ndarray


def intrinsics_from_fov(fov_y_deg: float, width: int, height: int) -> np.ndarray:
    """Square-pixel intrinsics with a vertical field of view and a centred principal point.

    Args:
        fov_y_deg: full vertical field of view in degrees, in (0, 180).
        width: image width in pixels.
        height: image height in pixels.

    Returns:
        (3, 3) K with ``fx = fy = (height / 2) / tan(fov_y / 2)``, ``cx = width / 2``,
        ``cy = height / 2``.
    """
    if not 0.0 < fov_y_deg < 180.0:
        raise ValueError(f"fov_y_deg must be in (0, 180), got {fov_y_deg}")
    f = 0.5 * height / math.tan(math.radians(fov_y_deg) / 2.0)
    return np.array([[f, 0.0, width / 2.0], [0.0, f, height / 2.0], [0.0, 0.0, 1.0]])


def look_at(eye: Vec3, target: Vec3, up: Vec3 = (0.0, 0.0, 1.0)) -> np.ndarray:
    """The ``cam_from_world`` of a camera at ``eye`` looking at ``target``.

    OpenCV axes: camera z points from the eye to the target, camera y points "down"
    (opposite to ``up`` projected on the image plane), x = y cross z points right.

    Args:
        eye: (3,) camera centre in world coordinates.
        target: (3,) the point the optical axis passes through.
        up: (3,) world up direction; must not be parallel to the viewing direction.

    Returns:
        (4, 4) world-to-camera rigid transform.
    """
    eye_a = np.asarray(eye, dtype=np.float64)
    z = np.asarray(target, dtype=np.float64) - eye_a
    nz = np.linalg.norm(z)
    if nz < 1e-12:
        raise ValueError("look_at: eye and target coincide")
    z = z / nz
    x = np.cross(z, np.asarray(up, dtype=np.float64))
    nx = np.linalg.norm(x)
    if nx < 1e-9:
        raise ValueError(f"look_at: up {tuple(up)} is parallel to the viewing direction")
    x = x / nx
    y = np.cross(z, x)
    R = np.stack([x, y, z])  # rows: camera axes in world coordinates
    T = np.eye(4)
    T[:3, :3] = R
    T[:3, 3] = -R @ eye_a
    return T


def orbit_cameras(
    n: int,
    radius: float,
    elevation_deg: float,
    K: np.ndarray,
    width: int,
    height: int,
    target: Vec3 = (0.0, 0.0, 0.0),
    up: Vec3 = (0.0, 0.0, 1.0),
    start_azimuth_deg: float = 0.0,
) -> list[PinholeCamera]:
    """``n`` cameras evenly spaced in azimuth on a circle around ``up`` through ``target``.

    Args:
        n: number of cameras.
        radius: distance from each camera centre to ``target``.
        elevation_deg: angle above the plane through ``target`` perpendicular to ``up``;
            must be inside (-90, 90).
        K: (3, 3) intrinsics shared by all cameras.
        width: image width.
        height: image height.
        target: (3,) the point every camera looks at.
        up: (3,) world up (the orbit axis).
        start_azimuth_deg: azimuth of the first camera.

    Returns:
        ``n`` cameras; camera k sits at azimuth ``start + 360 k / n`` degrees.
    """
    if not -90.0 < elevation_deg < 90.0:
        raise ValueError(f"orbit_cameras: elevation_deg must be in (-90, 90), got {elevation_deg}")
    u, a, b = _frame_around(up)
    el = math.radians(elevation_deg)
    az = np.radians(start_azimuth_deg) + 2.0 * np.pi * np.arange(n) / n
    dirs = math.cos(el) * (np.cos(az)[:, None] * a + np.sin(az)[:, None] * b) + math.sin(el) * u
    return _cameras_on_directions(dirs, radius, K, width, height, target, up)


def sphere_cameras(
    n: int,
    radius: float,
    K: np.ndarray,
    width: int,
    height: int,
    target: Vec3 = (0.0, 0.0, 0.0),
    up: Vec3 = (0.0, 0.0, 1.0),
    upper_hemisphere: bool = False,
) -> list[PinholeCamera]:
    """``n`` cameras on a Fibonacci (golden-angle) spiral over a sphere around ``target``.

    Heights along ``up`` are ``1 - (2k + 1) / n`` (full sphere) or ``1 - (k + 0.5) / n``
    (upper hemisphere), so no camera sits exactly on the up axis, where look-at is
    undefined.

    Args:
        n: number of cameras.
        radius: distance from each camera centre to ``target``.
        K: (3, 3) intrinsics shared by all cameras.
        width: image width.
        height: image height.
        target: (3,) the point every camera looks at.
        up: (3,) world up; the hemisphere is the side ``up`` points to.
        upper_hemisphere: only place cameras with a positive height along ``up``.

    Returns:
        ``n`` cameras, roughly uniformly spread.
    """
    u, a, b = _frame_around(up)
    k = np.arange(n)
    h = 1.0 - (k + 0.5) / n if upper_hemisphere else 1.0 - (2.0 * k + 1.0) / n
    ring = np.sqrt(np.clip(1.0 - h**2, 0.0, None))
    phi = k * math.pi * (3.0 - math.sqrt(5.0))  # the golden angle
    dirs = ring[:, None] * (np.cos(phi)[:, None] * a + np.sin(phi)[:, None] * b) + h[:, None] * u
    return _cameras_on_directions(dirs, radius, K, width, height, target, up)


def _frame_around(up: Vec3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit ``up`` and two unit vectors completing a right-handed frame (a, b, up)."""
    u = np.asarray(up, dtype=np.float64)
    u = u / np.linalg.norm(u)
    helper = np.array([1.0, 0.0, 0.0]) if abs(u[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    a = helper - u * (helper @ u)
    a = a / np.linalg.norm(a)
    b = np.cross(u, a)
    return u, a, b


def _cameras_on_directions(
    dirs: np.ndarray,
    radius: float,
    K: np.ndarray,
    width: int,
    height: int,
    target: Vec3,
    up: Vec3,
) -> list[PinholeCamera]:
    """Cameras at ``target + radius * dirs[k]`` looking at ``target``."""
    tgt = np.asarray(target, dtype=np.float64)
    return [
        PinholeCamera(
            K=K, cam_from_world=look_at(tgt + radius * d, tgt, up), width=width, height=height
        )
        for d in dirs
    ]
