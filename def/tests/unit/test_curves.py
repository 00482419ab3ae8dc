"""Curve extraction: corners, curve graph, polyline/spline fits, filtering, metrics, I/O."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from def_features.config import CurveConfig
from def_features.curve_corners import (
    corner_precision_recall,
    corner_scores,
    detect_corners,
    segment_corners,
)
from def_features.curve_fit import fit_spline, simplify_polyline
from def_features.curves import (
    curve_metrics,
    evaluate_curves,
    extract_curves,
    sample_polylines,
    write_curves,
)

CFG = CurveConfig(link_radius=0.05)


def _cube_edges() -> tuple[np.ndarray, np.ndarray]:
    """The 12 edges of [-1, 1]^3 as segment starts and ends (12, 3)."""
    v = np.array(list(itertools.product([-1.0, 1.0], repeat=3)))
    pairs = [(i, j) for i in range(8) for j in range(i + 1, 8) if np.abs(v[i] - v[j]).sum() == 2]
    return v[[i for i, _ in pairs]], v[[j for _, j in pairs]]


def _cube_points(spacing: float = 0.02) -> np.ndarray:
    a, b = _cube_edges()
    t = np.linspace(0.0, 1.0, round(2 / spacing) + 1)[:, None]
    return np.concatenate([p + t * (q - p) for p, q in zip(a, b)])


def test_cube_sharp_edges_give_8_corners_and_12_curves(tmp_path: Path) -> None:
    pts = _cube_points()
    curves = extract_curves(pts, np.zeros(len(pts)), CFG)
    assert len(curves.corners) == 8 and len(curves.curves) == 12
    # Corners at the cube's vertices (voxel averaging moves them by < 0.01).
    np.testing.assert_allclose(np.abs(curves.corners), 1.0, atol=0.01)
    for c in curves.curves:
        # Every edge joins two different corners, is straight and 2 long.
        assert len(c.corners) == 2 and c.corners[0] != c.corners[1] and not c.closed
        assert len(c.polyline) == 2 and c.length == pytest.approx(2.0, abs=0.02)
    # Curve graph: every corner has degree 3.
    degree = np.bincount([i for c in curves.curves for i in c.corners], minlength=8)
    assert degree.tolist() == [3] * 8
    a, b = _cube_edges()
    m = evaluate_curves(curves, a, b, spacing=0.01, corner_tolerance=0.1)
    assert m["corner_precision"] == 1.0 and m["corner_recall"] == 1.0
    assert m["true_corners"] == 8 and m["hausdorff"] < 0.02 and m["chamfer"] < 0.01
    write_curves(tmp_path, curves)
    doc = json.loads((tmp_path / "curves.json").read_text())
    assert len(doc["corners"]) == 8 and len(doc["curves"]) == 12
    assert all(len(c["spline"]["coefficients"]) >= 2 for c in doc["curves"])
    obj = (tmp_path / "curves.obj").read_text().splitlines()
    assert sum(line.startswith("l ") for line in obj) == 12
    assert obj[8] == "p 1 2 3 4 5 6 7 8"
    n_v = sum(line.startswith("v ") for line in obj)
    assert n_v == 8 + sum(len(c.samples(0.02)) for c in curves.curves)


def test_circle_is_one_closed_curve_with_a_close_spline() -> None:
    th = np.linspace(0, 2 * np.pi, 400, endpoint=False)
    circle = np.stack([np.cos(th), np.sin(th), 0 * th], -1)
    curves = extract_curves(circle, np.zeros(len(th)), CFG)
    assert len(curves.corners) == 0
    (c,) = curves.curves
    assert c.closed and c.spline.closed and c.length == pytest.approx(2 * np.pi, rel=0.01)
    radial = np.linalg.norm(c.spline.sample(2000)[:, :2], axis=1) - 1.0
    # Smoothing budget: RMS deviation spline_tol from the centre line.
    assert np.sqrt(np.mean(radial**2)) < 1.5 * CFG.spline_tol
    assert np.abs(radial).max() < 3 * CFG.spline_tol
    assert c.residual < 1.5 * CFG.spline_tol
    # Periodic: the spline closes on itself.
    np.testing.assert_allclose(
        c.spline.evaluate(np.array([0.0])), c.spline.evaluate(np.array([1.0])), atol=1e-9
    )


def test_sharp_turn_is_a_corner_and_splits_the_curve() -> None:
    t = np.linspace(0, 1.5, 151)[:, None]
    # An L: x axis to (1.5, 0, 0), then up along y.
    pts = np.concatenate([t * [1.0, 0, 0], [1.5, 0, 0] + t[1:] * [0, 1.0, 0]])
    curves = extract_curves(pts, np.zeros(len(pts)), CFG)
    # Located to within one link radius (the score plateaus near a two-arm corner).
    np.testing.assert_allclose(curves.corners, [[1.5, 0, 0]], atol=CFG.link_radius)
    assert len(curves.curves) == 2 and all(c.corners == (0,) for c in curves.curves)


def test_filtering_drops_short_and_far_points() -> None:
    x = np.arange(0, 2, 0.01)
    line = np.stack([x, 0 * x, 0 * x], -1)
    stub = np.stack([5 + x[:10], 0 * x[:10], 0 * x[:10]], -1)  # 0.09 long
    pts = np.concatenate([line, stub, [[9.0, 9, 9]]])
    d = np.concatenate([np.zeros(len(line) + len(stub)), [0.5]])
    curves = extract_curves(pts, d, CFG)
    (c,) = curves.curves
    assert c.support == len(line)
    # A noisy band is dropped when its residual exceeds max_residual.
    rng = np.random.default_rng(0)
    noisy = line + rng.normal(0, 0.05, line.shape) * [0, 1, 1]
    strict = CurveConfig(link_radius=0.3, corner_score=1.1, max_residual=0.01)
    assert extract_curves(noisy, np.zeros(len(noisy)), strict).curves == []
    loose = CurveConfig(link_radius=0.3, corner_score=1.1, max_residual=0.2)
    assert len(extract_curves(noisy, np.zeros(len(noisy)), loose).curves) == 1


def test_corner_scores_line_vs_junction() -> None:
    pts = _cube_points()
    s = corner_scores(pts, 0.25)
    at_vertex = np.all(np.isclose(np.abs(pts), 1.0), axis=1)
    mid_edge = np.sum(np.isclose(np.abs(pts), 1.0), axis=1) == 2
    mid_edge &= np.min(np.abs(np.abs(pts) - 1.0) + np.isclose(np.abs(pts), 1.0) * 9, axis=1) > 0.5
    assert s[at_vertex].min() > 0.8  # three orthogonal arms: nearly isotropic
    assert s[mid_edge].max() < 1e-9  # a straight line
    assert len(detect_corners(np.zeros((0, 3)), 0.25, 0.05, 0.2)) == 0


def test_segment_corners_of_a_square_and_a_polygonal_circle() -> None:
    sq = np.array([[0.0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]])
    corners = segment_corners(sq, np.roll(sq, -1, axis=0))
    assert len(corners) == 4
    th = np.linspace(0, 2 * np.pi, 73)[:-1]  # 5-degree facets
    ring = np.stack([np.cos(th), np.sin(th), 0 * th], -1)
    assert len(segment_corners(ring, np.roll(ring, -1, axis=0))) == 0
    # An open polyline: its two ends are corners (degree 1); a T junction adds one.
    t_a = np.array([[0.0, 0, 0], [1, 0, 0], [1, 0, 0]])
    t_b = np.array([[1.0, 0, 0], [2, 0, 0], [1, 1, 0]])
    got = segment_corners(t_a, t_b)
    assert sorted(map(tuple, got.round(6))) == [(0, 0, 0), (1, 0, 0), (1, 1, 0), (2, 0, 0)]
    # A curve ending in the middle of a straight segment (no shared vertex there).
    t_a = np.array([[0.0, 0, 0], [1, 0, 0]])
    t_b = np.array([[2.0, 0, 0], [1, 1, 0]])
    got = segment_corners(t_a, t_b)
    assert sorted(map(tuple, got.round(6))) == [(0, 0, 0), (1, 0, 0), (1, 1, 0), (2, 0, 0)]


def test_corner_precision_recall_hand_made() -> None:
    true = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [5, 5, 5]])
    pred = np.array([[0.05, 0, 0], [0.0, 0.02, 0], [1, 0.05, 0], [3, 3, 3]])
    m = corner_precision_recall(pred, true, tolerance=0.1)
    # One-to-one: (0,0,0) takes one of the two close predictions only.
    assert m.matched == 2 and m.precision == 0.5 and m.recall == 0.5
    m = corner_precision_recall(pred[:0], true, tolerance=0.1)
    assert m.precision == 1.0 and m.recall == 0.0
    assert corner_precision_recall(true, true, 1e-3).recall == 1.0


def test_polyline_and_spline_fits() -> None:
    x = np.linspace(0, 2, 21)
    bent = np.stack([x, np.where(x < 1, 0, x - 1), 0 * x], -1)
    np.testing.assert_allclose(simplify_polyline(bent, 1e-6), [[0, 0, 0], [1, 0, 0], [2, 1, 0]])
    spline = fit_spline(bent[:11], closed=False, tol=1e-4, pin_ends=True)
    np.testing.assert_allclose(spline.sample(5)[:, 0], [0, 0.25, 0.5, 0.75, 1.0], atol=1e-3)
    with pytest.raises(ValueError, match="distinct"):
        fit_spline(np.zeros((4, 3)), closed=False, tol=0.1, pin_ends=False)


def test_line_and_circle_on_a_grid_field() -> None:
    # Points on the plane z = 0; features: the segment y = 0, x in [0, 2] and a circle.
    g = np.stack(np.meshgrid(np.arange(-1, 3, 0.02), np.arange(-1, 3, 0.02)), -1).reshape(-1, 2)
    pts = np.concatenate([g, np.zeros((len(g), 1))], 1)
    line_d = np.hypot(np.clip(pts[:, 0], 0, 2) - pts[:, 0], pts[:, 1])
    circle_d = np.abs(np.hypot(pts[:, 0] - 1.5, pts[:, 1] - 2.0) - 0.5)
    d = np.minimum(line_d, circle_d)
    cfg = CurveConfig(threshold=0.03, link_radius=0.05, step=0.02)
    curves = extract_curves(pts, d, cfg)
    assert len(curves.curves) == 2 and len(curves.corners) == 0
    assert sorted(c.closed for c in curves.curves) == [False, True]
    t = np.linspace(0, 2 * np.pi, 400)
    gt = np.concatenate(
        [
            sample_polylines([np.array([[0.0, 0, 0], [2.0, 0, 0]])], 0.005),
            np.stack([1.5 + 0.5 * np.cos(t), 2 + 0.5 * np.sin(t), 0 * t], -1),
        ]
    )
    m = curve_metrics(curves.samples(0.005), gt)
    assert m["chamfer"] < 0.02 and m["hausdorff"] < 0.1


def test_metrics_known_values() -> None:
    a = np.array([[0.0, 0, 0], [1, 0, 0]])
    b = np.array([[0.0, 0.1, 0], [1, 0.3, 0]])
    m = curve_metrics(a, b)
    assert m["chamfer"] == pytest.approx(0.2)
    assert m["hausdorff"] == pytest.approx(0.3)
    empty = extract_curves(a, np.ones(2))
    assert empty.curves == [] and empty.corners.shape == (0, 3)
    with pytest.raises(ValueError, match="distances"):
        extract_curves(a, np.ones(3))


def test_curves_picture_draws_corners_and_curves() -> None:
    from def_features.curve_picture import curves_picture

    pts = _cube_points()
    curves = extract_curves(pts, np.zeros(len(pts)), CFG)
    img = curves_picture(pts, curves, size=128)
    assert img.shape == (128, 128, 3) and img.min() >= 0.0 and img.max() <= 1.0
    black = np.all(img == 0.0, axis=-1)
    # 8 corners as 7x7 squares (some may overlap in the oblique view).
    assert 49 * 4 <= black.sum() <= 49 * 8
    coloured = np.ptp(img, axis=-1) > 0.3
    assert coloured.sum() > 200


def test_corners_without_curves_are_dropped() -> None:
    # A cube's edges plus a small isolated star (three short arms: a corner, no curve).
    pts = _cube_points()
    t = np.linspace(0, 0.2, 11)[:, None]
    star = np.concatenate([[5.0, 5, 5] + t * axis for axis in np.eye(3)])
    curves = extract_curves(np.concatenate([pts, star]), np.zeros(len(pts) + len(star)), CFG)
    assert len(curves.corners) == 8 and len(curves.curves) == 12
    assert max(i for c in curves.curves for i in c.corners) == 7
