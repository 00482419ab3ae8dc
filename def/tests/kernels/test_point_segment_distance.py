"""Kernel 1: Triton vs reference, and closed-form distances."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.spatial import cKDTree

from def_features.geometry.curves import BSplineCurve, CircleCurve, polyline_segments
from def_features.kernels.point_segment_distance import point_segment_distance
from shared_utils.kernels import assert_close


@pytest.mark.parametrize(("n", "m"), [(1, 1), (37, 5), (130, 70), (64, 129)])
def test_triton_matches_reference_forward_backward(n: int, m: int) -> None:
    g = torch.Generator().manual_seed(n * 1000 + m)
    pts = torch.randn(n, 3, generator=g)
    a = torch.randn(m, 3, generator=g)
    b = a + 0.5 * torch.randn(m, 3, generator=g)
    results = {}
    for impl in ("torch", "triton"):
        p = pts.clone().requires_grad_(True)
        d, i, direction = point_segment_distance(p, a, b, 1.2, implementation=impl)
        (d * torch.linspace(0.5, 1.5, n)).sum().backward()
        assert p.grad is not None
        results[impl] = (d.detach(), i, direction, p.grad)
    rt, tt = results["torch"], results["triton"]
    assert_close(tt[0], rt[0], rtol=1e-5, atol=1e-5, name="distance")
    same = tt[1] == rt[1]
    # Index ties may differ only where two segments are equally close.
    assert bool(same.all()) or bool((tt[0][~same] - rt[0][~same]).abs().max() < 1e-5)
    assert_close(tt[2][same], rt[2][same], rtol=1e-4, atol=1e-4, name="direction")
    assert_close(tt[3][same], rt[3][same], rtol=1e-4, atol=1e-4, name="grad")


def test_backward_matches_finite_differences() -> None:
    g = torch.Generator().manual_seed(3)
    pts = torch.randn(20, 3, generator=g, dtype=torch.float64).requires_grad_(True)
    a = torch.randn(6, 3, generator=g, dtype=torch.float64)
    b = a + torch.randn(6, 3, generator=g, dtype=torch.float64)
    fn = lambda p: point_segment_distance(p, a, b, implementation="torch")[0]  # noqa: E731
    assert torch.autograd.gradcheck(fn, (pts,), eps=1e-6, atol=1e-5)


def test_known_segment_closed_form_and_truncation() -> None:
    a = torch.tensor([[0.0, 0.0, 0.0]])
    b = torch.tensor([[2.0, 0.0, 0.0]])
    pts = torch.tensor(
        [[1.0, 0.3, 0.0], [-0.3, 0.0, 0.4], [3.0, 0.0, 0.0], [1.0, 0.0, 5.0], [0.5, 0, 0]]
    )
    d, idx, direction = point_segment_distance(pts, a, b, 1.0, implementation="torch")
    assert_close(d, torch.tensor([0.3, 0.5, 1.0, 1.0, 0.0]), atol=1e-6, name="d")
    assert_close(direction[0], torch.tensor([0.0, -1.0, 0.0]), atol=1e-6)
    assert_close(direction[1], torch.tensor([0.6, 0.0, -0.8]), atol=1e-6)
    assert_close(direction[4], torch.zeros(3))
    assert idx.tolist() == [0] * 5


def test_circle_distance_within_sagitta() -> None:
    r = 2.0
    circle = CircleCurve(
        center=np.zeros(3),
        radius=r,
        x_axis=np.array([1.0, 0, 0]),
        y_axis=np.array([0, 1.0, 0]),
        t_range=(0.0, 2 * math.pi),
    )
    poly = circle.sample(0.01)
    a, b = polyline_segments(poly)
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(300, 3))
    d, _, _ = point_segment_distance(
        torch.from_numpy(pts), torch.from_numpy(a), torch.from_numpy(b)
    )
    rho = np.linalg.norm(pts[:, :2], axis=1)
    exact = np.sqrt((rho - r) ** 2 + pts[:, 2] ** 2)
    step = float(np.linalg.norm(poly[1] - poly[0]))
    sagitta = r - math.sqrt(r * r - (step / 2) ** 2)
    err = d.numpy() - exact
    # Chords deviate from the arc by at most the sagitta, so does the distance.
    assert np.abs(err).max() <= sagitta + 1e-9
    outside = rho > r
    assert err[outside].min() > -1e-9  # chords lie inside the circle
    assert np.abs(err).max() > 0.1 * sagitta  # the bound is not vacuous


def test_bspline_distance_matches_dense_sampling() -> None:
    poles = np.array([[0, 0, 0], [1, 2, 0], [3, 2, 1], [4, 0, 0], [5, 1, 2]], float)
    curve = BSplineCurve(degree=3, knots=np.array([0, 0, 0, 0, 0.5, 1, 1, 1, 1.0]), poles=poles)
    poly = curve.sample(0.005)
    a, b = polyline_segments(poly)
    dense = curve.evaluate(np.linspace(0, 1, 200_001))
    rng = np.random.default_rng(1)
    pts = rng.uniform(-1, 5, size=(200, 3))
    d, _, _ = point_segment_distance(
        torch.from_numpy(pts), torch.from_numpy(a), torch.from_numpy(b)
    )
    brute = cKDTree(dense).query(pts)[0]
    assert np.abs(d.numpy() - brute).max() < 2e-4
