"""Nearest distances and Chamfer against brute-force loops."""

from __future__ import annotations

import numpy as np
import pytest

from shared_utils.geometry.chamfer import chamfer_distance, nearest_distances, one_way_chamfer


def _brute_nearest(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.empty(len(a))
    for i, p in enumerate(a):
        best = np.inf
        for q in b:
            best = min(best, float(np.sqrt(((p - q) ** 2).sum())))
        out[i] = best
    return out


def test_chamfer_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(60, 3))
    b = rng.normal(size=(45, 3)) + 0.3
    d_ab, d_ba = _brute_nearest(a, b), _brute_nearest(b, a)
    np.testing.assert_allclose(nearest_distances(a, b), d_ab, atol=1e-12)
    np.testing.assert_allclose(nearest_distances(a, b, squared=True), d_ab**2, atol=1e-12)
    assert one_way_chamfer(a, b) == pytest.approx(d_ab.mean(), abs=1e-12)
    assert one_way_chamfer(b, a, squared=True) == pytest.approx((d_ba**2).mean(), abs=1e-12)
    assert chamfer_distance(a, b) == pytest.approx((d_ab.mean() + d_ba.mean()) / 2, abs=1e-12)
    assert chamfer_distance(a, b, reduction="sum") == pytest.approx(
        d_ab.mean() + d_ba.mean(), abs=1e-12
    )
    assert chamfer_distance(a, b, squared=True) == pytest.approx(
        ((d_ab**2).mean() + (d_ba**2).mean()) / 2, abs=1e-12
    )


def test_chamfer_known_values() -> None:
    a = np.zeros((1, 3))
    b = np.array([[3.0, 4.0, 0.0], [0.0, 0.0, 1.0]])
    assert one_way_chamfer(a, b) == 1.0
    assert one_way_chamfer(b, a) == 3.0
    assert chamfer_distance(a, b) == 2.0
    assert chamfer_distance(b, b) == 0.0


def test_chamfer_bad_input() -> None:
    with pytest.raises(ValueError, match=r"empty"):
        nearest_distances(np.zeros((2, 3)), np.zeros((0, 3)))
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        one_way_chamfer(np.zeros((2, 2)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"reduction"):
        chamfer_distance(np.zeros((2, 3)), np.zeros((2, 3)), reduction="max")  # type: ignore[arg-type]
