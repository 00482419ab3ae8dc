"""Area-weighted surface sampling."""

from __future__ import annotations

import numpy as np
import pytest

from shared_utils.geometry.sampling import sample_surface, triangle_areas


def _mesh() -> tuple[np.ndarray, np.ndarray]:
    """Three triangles with areas 0.5, 2 and 4.5 (ratio 1 : 4 : 9)."""
    V = np.array(
        [
            [0, 0, 0],
            [1, 0, 0],
            [0, 1, 0],
            [0, 0, 1],
            [2, 0, 1],
            [0, 2, 1],
            [0, 0, 2],
            [0, 3, 2],
            [0, 0, 5],
        ],
        dtype=np.float64,
    )
    F = np.array([[0, 1, 2], [3, 4, 5], [6, 7, 8]])
    return V, F


def test_points_lie_on_their_triangles() -> None:
    V, F = _mesh()
    pts, fid, bary = sample_surface(V, F, 2000, seed=0)
    assert pts.shape == (2000, 3) and fid.shape == (2000,) and bary.shape == (2000, 3)
    assert np.all(bary >= 0) and np.all(bary <= 1)
    np.testing.assert_allclose(bary.sum(1), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.einsum("nk,nkd->nd", bary, V[F[fid]]), pts, atol=1e-12)
    # Each triangle lies in a known plane: z = 0, z = 1 and x = 0.
    np.testing.assert_allclose(pts[fid == 0, 2], 0.0)
    np.testing.assert_allclose(pts[fid == 1, 2], 1.0)
    np.testing.assert_allclose(pts[fid == 2, 0], 0.0)


def test_counts_proportional_to_area() -> None:
    V, F = _mesh()
    np.testing.assert_allclose(triangle_areas(V, F), [0.5, 2.0, 4.5])
    n = 20000
    _, fid, _ = sample_surface(V, F, n, seed=1)
    counts = np.bincount(fid, minlength=3)
    p = np.array([1.0, 4.0, 9.0]) / 14.0
    sigma = np.sqrt(n * p * (1 - p))
    assert np.all(np.abs(counts - n * p) < 5 * sigma), (counts, n * p)


def test_uniform_within_a_triangle() -> None:
    V = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], dtype=np.float64)
    pts, _, _ = sample_surface(V, np.array([[0, 1, 2]]), 40000, seed=2)
    # The centroid of a uniform triangle is the vertex mean; the area below x = 0.5 is 3/4.
    np.testing.assert_allclose(pts.mean(0), [1 / 3, 1 / 3, 0], atol=0.01)
    assert np.mean(pts[:, 0] < 0.5) == pytest.approx(0.75, abs=0.01)


def test_deterministic_by_seed_and_errors() -> None:
    V, F = _mesh()
    a = sample_surface(V, F, 100, seed=5)
    b = sample_surface(V, F, 100, seed=5)
    c = sample_surface(V, F, 100, seed=6)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], c[0])
    with pytest.raises(ValueError, match=r"zero surface area"):
        sample_surface(np.zeros((3, 3)), np.array([[0, 1, 2]]), 10, seed=0)
    with pytest.raises(ValueError, match=r"out of range"):
        sample_surface(V, np.array([[0, 1, 9]]), 10, seed=0)
