"""Neighbour-limited interpolation of a source view at a target view's pixel centres."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from def_features.kernels.reproject import reproject_interpolate

H, W, PS = 6, 8, 0.1


def _pixel_centre(row: float, col: float, z: float) -> list[float]:
    """World point (identity pose) that projects onto the continuous pixel (row, col)."""
    return [(col - W / 2) * PS, (row - H / 2) * PS, z]


def _naive(points, values, depth, tol, radius):
    out = np.full((H, W), np.inf)
    for r in range(H):
        for c in range(W):
            num = den = 0.0
            for (x, y, z), v in zip(points, values):
                px, py = x / PS + W / 2, y / PS + H / 2
                d2 = (c + 0.5 - px) ** 2 + (r + 0.5 - py) ** 2
                if d2 <= radius**2 and abs(z - depth[r, c]) <= tol:
                    num += v / (d2 + 1e-6)
                    den += 1 / (d2 + 1e-6)
            if den > 0:
                out[r, c] = num / den
    return out


def test_known_answers_radius_and_z_test() -> None:
    depth = torch.ones(H, W)
    cam = torch.eye(4)
    # One point on the centre of pixel (2, 3): it alone fills the pixels within one pixel
    # (radius 1.01: the four side neighbours, not the diagonals at sqrt 2).
    pts = torch.tensor([_pixel_centre(2.5, 3.5, 1.0)])
    out = reproject_interpolate(pts, torch.tensor([0.3]), cam, depth, PS, 0.05, radius_px=1.01)
    got = {(r, c) for r, c in zip(*np.nonzero(np.isfinite(out.numpy())))}
    assert got == {(2, 3), (1, 3), (3, 3), (2, 2), (2, 4)}
    assert torch.allclose(out[torch.isfinite(out)], torch.tensor(0.3))
    # Two points at equal distance from pixel (2, 3): their mean.
    pts = torch.tensor([_pixel_centre(2.5, 3.0, 1.0), _pixel_centre(2.5, 4.0, 1.0)])
    out = reproject_interpolate(pts, torch.tensor([0.2, 0.6]), cam, depth, PS, 0.05)
    assert float(out[2, 3]) == pytest.approx(0.4)
    # A point behind the visible surface (z off by more than the tolerance) adds nothing.
    pts = torch.tensor([_pixel_centre(2.5, 3.5, 1.2)])
    out = reproject_interpolate(pts, torch.tensor([0.3]), cam, depth, PS, 0.05)
    assert torch.isinf(out).all()
    with pytest.raises(ValueError, match="radius_px"):
        reproject_interpolate(pts, torch.tensor([0.3]), cam, depth, PS, 0.05, radius_px=0.0)


@pytest.mark.parametrize("radius", [0.7, 1.0, 1.6])
def test_matches_a_naive_loop(radius: float) -> None:
    rng = np.random.default_rng(0)
    depth = np.where(rng.random((H, W)) < 0.2, np.inf, rng.uniform(0.9, 1.1, (H, W)))
    rows, cols = rng.uniform(-0.5, H + 0.5, 40), rng.uniform(-0.5, W + 0.5, 40)
    z = np.array(
        [
            depth[min(max(int(r), 0), H - 1), min(max(int(c), 0), W - 1)]
            + rng.choice([0.0, 0.01, 0.5])
            for r, c in zip(rows, cols)
        ]
    )
    z = np.where(np.isfinite(z), z, 1.0)
    pts = np.array([_pixel_centre(r, c, zz) for r, c, zz in zip(rows, cols, z)])
    vals = rng.random(40)

    def interpolate(p: np.ndarray, v: np.ndarray) -> np.ndarray:
        return reproject_interpolate(
            torch.from_numpy(p),
            torch.from_numpy(v),
            torch.eye(4, dtype=torch.float64),
            torch.from_numpy(depth),
            PS,
            0.05,
            radius_px=radius,
        ).numpy()

    out = interpolate(pts, vals)
    ref = _naive(pts, vals, depth, 0.05, radius)
    assert np.array_equal(np.isfinite(out), np.isfinite(ref))
    np.testing.assert_allclose(out[np.isfinite(out)], ref[np.isfinite(ref)], rtol=1e-5)
    # Order independence: permuting the source points changes nothing.
    perm = rng.permutation(40)
    again = interpolate(pts[perm], vals[perm])
    np.testing.assert_allclose(again, out, rtol=1e-6)
    assert math.isfinite(float(out[np.isfinite(out)].sum()))


def test_a_view_into_itself_is_the_identity() -> None:
    rng = np.random.default_rng(1)
    depth = rng.uniform(0.9, 1.1, (H, W))
    rr, cc = np.meshgrid(np.arange(H) + 0.5, np.arange(W) + 0.5, indexing="ij")
    pts = np.array(
        [_pixel_centre(r, c, depth[int(r), int(c)]) for r, c in zip(rr.ravel(), cc.ravel())]
    )
    vals = rng.random(H * W)
    out = reproject_interpolate(
        torch.from_numpy(pts),
        torch.from_numpy(vals),
        torch.eye(4),
        torch.from_numpy(depth),
        PS,
        0.5,
    )
    np.testing.assert_allclose(out.numpy().ravel(), vals, atol=1e-5)
