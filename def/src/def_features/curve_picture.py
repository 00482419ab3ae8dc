"""A picture of extracted curves over the shape's points (numpy splatting, no GL).

The points are drawn light grey, seen along a fixed oblique direction (so all three
axes show), with a z-buffer so that hidden points do not cover visible ones; curve
samples are drawn on top in colours cycling per curve, corners as black squares.
"""

from __future__ import annotations

import numpy as np

from def_features.curves import CurveSet

_PALETTE = np.array(
    [
        [0.85, 0.10, 0.10],
        [0.10, 0.45, 0.85],
        [0.10, 0.65, 0.20],
        [0.90, 0.55, 0.05],
        [0.55, 0.20, 0.75],
        [0.05, 0.65, 0.65],
    ]
)


def _view_rotation() -> np.ndarray:
    """Rows: image x, image y (down), depth (towards the viewer is smaller)."""
    d = np.array([1.0, 0.8, -0.6])  # viewing direction
    d /= np.linalg.norm(d)
    up = np.array([0.0, 0.0, 1.0])
    x = np.cross(d, up)
    x /= np.linalg.norm(x)
    y = np.cross(d, x)
    return np.stack([x, y, d])


def curves_picture(
    points: np.ndarray, curves: CurveSet, size: int = 384, spacing: float = 0.02
) -> np.ndarray:
    """(size, size, 3) float image of points (P, 3) and curves."""
    rot = _view_rotation()
    curve_pts = [c.samples(spacing / 2) for c in curves.curves]
    every = np.concatenate([points, *curve_pts, curves.corners])
    proj = every @ rot.T
    lo, hi = proj[:, :2].min(0), proj[:, :2].max(0)
    scale = (size - 9) / max(float((hi - lo).max()), 1e-9)
    lo = lo - 0.5 * ((size - 9) / scale - (hi - lo))  # centre the shorter side

    def pix(p: np.ndarray) -> np.ndarray:
        q = (p @ rot.T)[:, :2]
        return np.clip(((q - lo) * scale).astype(np.int64) + 4, 0, size - 1)

    img = np.ones((size, size, 3))
    # Grey points shaded by depth, nearest one per pixel (sort far to near, last wins).
    depth = points @ rot[2]
    order = np.argsort(-depth)
    ij = pix(points[order])
    shade = 0.55 + 0.35 * (depth[order] - depth.min()) / max(float(np.ptp(depth)), 1e-9)
    img[ij[:, 1], ij[:, 0]] = shade[:, None]
    for k, pts in enumerate(curve_pts):
        _stamp(img, pix(pts), range(0, 2), _PALETTE[k % len(_PALETTE)])
    if len(curves.corners):
        _stamp(img, pix(curves.corners), range(-3, 4), 0.0)
    return img


def _stamp(img: np.ndarray, ij: np.ndarray, offsets: range, colour: np.ndarray | float) -> None:
    """Paint a square of ``offsets`` x ``offsets`` pixels at every (x, y) pixel of ``ij``."""
    size = img.shape[0]
    for dx in offsets:
        for dy in offsets:
            img[np.clip(ij[:, 1] + dy, 0, size - 1), np.clip(ij[:, 0] + dx, 0, size - 1)] = colour
