"""Joint refinement of the curve network: graph building, refinement, splits, refit."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from def_features.config import CurveConfig
from def_features.curve_fit import SplineFit
from def_features.curve_network import (
    CurveGraph,
    clean_graph,
    curves_from_graph,
    graph_from_curves,
    refine_curves,
    refine_graph,
    split_sharp_turns,
)
from def_features.curves import CurveSet, FeatureCurve, evaluate_curves, extract_curves

CFG = CurveConfig(link_radius=0.06, step=0.04)


def _cube_edges() -> tuple[np.ndarray, np.ndarray]:
    v = np.array(list(itertools.product([-1.0, 1.0], repeat=3)))
    pairs = [(i, j) for i in range(8) for j in range(i + 1, 8) if np.abs(v[i] - v[j]).sum() == 2]
    return v[[i for i, _ in pairs]], v[[j for _, j in pairs]]


def _segment_field(pts: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Exact distance of points (P, 3) to the nearest of the segments (M, 3) x2."""
    ab = b - a
    t = np.clip(((pts[:, None] - a[None]) * ab[None]).sum(-1) / (ab * ab).sum(-1), 0, 1)
    q = a[None] + t[..., None] * ab[None]
    return np.linalg.norm(pts[:, None] - q, axis=-1).min(1)


def _cube_surface(spacing: float = 0.02) -> tuple[np.ndarray, np.ndarray]:
    """Points on the six faces of [-1, 1]^3 near an edge, and their true distances."""
    g = np.arange(-1.0, 1.0 + 1e-9, spacing)
    u, v = (x.ravel() for x in np.meshgrid(g, g))
    faces = []
    for axis, sign in itertools.product(range(3), (-1.0, 1.0)):
        p = np.zeros((len(u), 3))
        others = [k for k in range(3) if k != axis]
        p[:, axis], p[:, others[0]], p[:, others[1]] = sign, u, v
        faces.append(p)
    pts = np.unique(np.concatenate(faces).round(9), axis=0)
    d = _segment_field(pts, *_cube_edges())
    return pts[d < 0.1], d[d < 0.1]


def test_refinement_moves_biased_corners_and_edges_onto_the_cube() -> None:
    pts, d = _cube_surface()
    raw = extract_curves(pts, d, CFG)
    refined, report = refine_curves(raw, pts, d, CFG)
    a, b = _cube_edges()
    m_raw = evaluate_curves(raw, a, b, spacing=0.01, corner_tolerance=0.25)
    m_ref = evaluate_curves(refined, a, b, spacing=0.01, corner_tolerance=0.25)
    # The band centroids sit inside the faces: extraction is off by ~0.02.
    raw_err = np.abs(np.abs(raw.corners) - 1.0).max()
    assert raw_err > 0.01
    # Refined: corners on the cube's vertices, curves on its edges.
    assert np.abs(np.abs(refined.corners) - 1.0).max() < 2e-3
    assert m_ref["chamfer"] < 0.3 * m_raw["chamfer"] and m_ref["hausdorff"] < 0.02
    assert m_ref["corner_precision"] == 1.0 and m_ref["corner_recall"] == 1.0
    # The field is explained: residual |dist - d| falls by an order of magnitude.
    assert report.final_residual < 0.1 * report.initial_residual
    # Topology kept: 12 curves, each joining two distinct corners, degree 3 everywhere.
    assert len(refined.curves) == 12
    for c in refined.curves:
        assert len(c.corners) == 2 and c.corners[0] != c.corners[1]
        np.testing.assert_allclose(c.polyline[[0, -1]], refined.corners[list(c.corners)])
        np.testing.assert_allclose(c.spline.sample(2), refined.corners[list(c.corners)], atol=5e-3)
    assert np.bincount([i for c in refined.curves for i in c.corners]).tolist() == [3] * 8


def test_refinement_keeps_the_circle_closed_and_on_its_radius() -> None:
    g = np.stack(np.meshgrid(np.arange(-1, 1, 0.02), np.arange(-1, 1, 0.02)), -1).reshape(-1, 2)
    pts = np.concatenate([g, np.zeros((len(g), 1))], 1)
    d = np.abs(np.hypot(pts[:, 0], pts[:, 1]) - 0.5)
    # A fine split threshold: the polygon must bend with the circle to stay within
    # its sagitta.
    cfg = CurveConfig(threshold=0.05, link_radius=0.05, step=0.02, split_threshold=0.005)
    raw = extract_curves(pts, d, cfg)
    refined, report = refine_curves(raw, pts, d, cfg)
    assert report.splits > 0
    assert len(refined.curves) == 1 and refined.curves[0].closed
    assert refined.corners.shape == (0, 3) and refined.curves[0].corners == ()
    # Polygon nodes on the circle; the smoothing spline within about twice its RMS
    # budget (spline_tol 0.005) of it.
    np.testing.assert_allclose(np.hypot(*refined.curves[0].polyline[:, :2].T), 0.5, atol=0.006)
    r = np.hypot(*refined.curves[0].samples(0.01)[:, :2].T)
    np.testing.assert_allclose(r, 0.5, atol=0.012)
    r_raw = np.hypot(*raw.curves[0].samples(0.01)[:, :2].T)
    assert np.abs(r - 0.5).mean() <= np.abs(r_raw - 0.5).mean() + 1e-4


def test_coarse_segment_is_split_where_the_field_bends() -> None:
    # A quarter arc of radius 1 seen through its field on the plane z = 0, but the
    # network starts as the chord: only splitting can follow the bend.
    g = np.stack(np.meshgrid(np.arange(-0.2, 1.2, 0.01), np.arange(-0.2, 1.2, 0.01)), -1)
    pts = np.concatenate([g.reshape(-1, 2), np.zeros((g[..., 0].size, 1))], 1)
    ang = np.arctan2(pts[:, 1], pts[:, 0])
    on_arc = (ang >= 0) & (ang <= np.pi / 2)
    ends = np.array([[1.0, 0, 0], [0.0, 1, 0]])
    d = np.where(
        on_arc,
        np.abs(np.hypot(pts[:, 0], pts[:, 1]) - 1.0),
        np.linalg.norm(pts[:, None] - ends[None], axis=-1).min(1),
    )
    cfg = CurveConfig(threshold=0.05, refine_outlier=0.5, split_threshold=0.01, refine_rounds=5)
    chord = CurveGraph(ends.copy(), 2, [[0, 1]], [False])
    refined, report = refine_graph(chord, pts, d, cfg)
    assert report.splits >= 3 and len(refined.paths[0]) == 2 + report.splits
    # Nodes land on the arc (a polygon's best fit puts them a sagitta outside it);
    # the corner ends stay on the arc's end points.
    r = np.hypot(*refined.nodes[refined.paths[0], :2].T)
    np.testing.assert_allclose(r, 1.0, atol=0.02)
    np.testing.assert_allclose(refined.nodes[:2], ends, atol=0.01)
    assert report.final_residual < 0.1 * report.initial_residual
    # The input graph is left as it was.
    assert chord.paths == [[0, 1]] and np.array_equal(chord.nodes, ends)


def _curve(poly: np.ndarray, closed: bool, corners: tuple[int, ...]) -> FeatureCurve:
    spline = SplineFit(np.zeros(8), np.zeros((4, 3)), 3, closed)
    return FeatureCurve(poly, poly, spline, closed, corners, 1.0, 0.0, 10)


def test_graph_shares_corner_nodes_and_seeds_small_loops() -> None:
    corners = np.array([[0.0, 0, 0], [1.0, 0, 0]])
    mid = np.array([[0.5, 0.2, 0]])
    loop = np.array([[3.0, 0, 0], [3.5, 0.5, 0], [3.0, 0, 0]])
    curves = CurveSet(
        corners,
        [
            _curve(np.concatenate([corners[:1], mid, corners[1:]]), False, (0, 1)),
            _curve(np.array([[1.0, 0, 0], [1.0, 1, 0]]), False, (1,)),  # one free end
            _curve(np.concatenate([loop, loop[:1]]), True, ()),
        ],
    )
    graph = graph_from_curves(curves)
    assert graph.n_corners == 2
    assert graph.paths[0] == [0, 2, 1]  # both ends are the shared corner nodes
    assert graph.paths[1][0] == 1 and graph.paths[1][1] >= 2  # free end: its own node
    assert graph.closed == [False, False, True] and len(graph.paths[2]) == 8
    pairs, owner, pos = graph.segments()
    assert len(pairs) == 2 + 1 + 8 and owner.tolist() == [0, 0, 1] + [2] * 8
    assert pos[-1] == 7 and tuple(pairs[-1]) == (graph.paths[2][-1], graph.paths[2][0])
    # Smoothness triples: interior path nodes only, never a corner in the middle.
    tri = graph.triples()
    assert len(tri) == 1 + 8 and (tri[:, 1] >= graph.n_corners).all()


def test_refinement_is_deterministic_and_order_free() -> None:
    pts, d = _cube_surface(0.04)
    raw = extract_curves(pts, d, CFG)
    one, _ = refine_curves(raw, pts, d, CFG)
    perm = np.random.default_rng(0).permutation(len(pts))
    two, _ = refine_curves(raw, pts[perm], d[perm], CFG)
    # Same graph, same steps: only the summation order differs, which Adam's L1
    # oscillation (about one step size, 2e-3) may amplify.
    again, _ = refine_curves(raw, pts, d, CFG)
    np.testing.assert_array_equal(one.corners, again.corners)
    np.testing.assert_allclose(one.corners, two.corners, atol=2e-3)
    assert len(one.curves) == len(two.curves) == 12


def test_empty_inputs_are_returned_unchanged() -> None:
    empty = CurveSet(np.zeros((0, 3)), [])
    out, report = refine_curves(empty, np.zeros((5, 3)), np.zeros(5))
    assert out.curves == [] and out.corners.shape == (0, 3) and report.splits == 0
    with pytest.raises(ValueError, match=r"distances \(P,\)"):
        refine_curves(empty, np.zeros((5, 3)), np.zeros(4))


# --- Topology clean-up between refinement rounds -------------------------------------

COARSE = CurveConfig(link_radius=0.08, step=0.04, topology=True)


@pytest.fixture(scope="module")
def cube() -> tuple[np.ndarray, np.ndarray, CurveSet]:
    """A coarse cube field (0.04 spacing) and its extracted, unrefined network."""
    pts, d = _cube_surface(0.04)
    raw = extract_curves(pts, d, COARSE)
    assert len(raw.curves) == 12 and len(raw.corners) == 8
    return pts, d, raw


def _degrees(cs: CurveSet) -> list[int]:
    return np.bincount(
        [i for c in cs.curves for i in c.corners], minlength=len(cs.corners)
    ).tolist()


def test_clean_cube_keeps_its_topology(cube: tuple[np.ndarray, np.ndarray, CurveSet]) -> None:
    pts, d, raw = cube
    refined, report = refine_curves(raw, pts, d, COARSE)
    assert report.topology is not None
    assert report.topology.curves_before == report.topology.curves_after == 12
    assert report.topology.merged_corners == report.topology.relinked_ends == 0
    assert len(refined.curves) == 12 and _degrees(refined) == [3] * 8
    # Switched off, the same network comes out (the clean-up changed nothing).
    off, off_report = refine_curves(raw, pts, d, dataclasses.replace(COARSE, topology=False))
    assert off_report.topology is None
    np.testing.assert_array_equal(off.corners, refined.corners)


def test_duplicated_edge_is_removed_and_metrics_do_not_worsen(
    cube: tuple[np.ndarray, np.ndarray, CurveSet],
) -> None:
    pts, d, raw = cube
    first = raw.curves[0]
    ends = raw.corners[list(first.corners)]
    # A second curve between the same corners, bowed 0.02 towards the cube's centre.
    t = np.linspace(0, 1, 5)[:, None]
    poly = ends[0] + t * (ends[1] - ends[0])
    poly[1:-1] -= 0.02 * np.sign(poly[1:-1]) * (np.abs(poly[1:-1]) > 0.5)
    dup = dataclasses.replace(first, polyline=poly, line=poly)
    defective = CurveSet(raw.corners, [*raw.curves, dup])
    a, b = _cube_edges()
    clean, _ = refine_curves(raw, pts, d, COARSE)
    fixed, fixed_report = refine_curves(defective, pts, d, COARSE)
    kept, _ = refine_curves(defective, pts, d, dataclasses.replace(COARSE, topology=False))
    assert fixed_report.topology is not None and fixed_report.topology.removed_duplicates == 1
    assert fixed_report.topology.curves_before == 13 and len(fixed.curves) == 12
    assert len(kept.curves) == 13  # without the clean-up the duplicate stays
    assert _degrees(fixed) == [3] * 8
    m_clean = evaluate_curves(clean, a, b, spacing=0.01, corner_tolerance=0.25)
    m_fixed = evaluate_curves(fixed, a, b, spacing=0.01, corner_tolerance=0.25)
    assert m_fixed["chamfer"] <= m_clean["chamfer"] * 1.1 + 1e-4
    assert m_fixed["hausdorff"] <= m_clean["hausdorff"] * 1.1 + 1e-4


def test_two_corners_on_one_vertex_merge_into_one_of_degree_3(
    cube: tuple[np.ndarray, np.ndarray, CurveSet],
) -> None:
    pts, d, raw = cube
    # Split corner 0: one of its three curves ends at a ninth corner 0.01 away.
    twin = raw.corners[0] + 0.01 * np.array([1.0, 0, 0])
    curves = list(raw.curves)
    k = next(i for i, c in enumerate(curves) if 0 in c.corners)
    c = curves[k]
    poly = c.polyline.copy()
    poly[0 if c.corners[0] == 0 else -1] = twin
    curves[k] = dataclasses.replace(
        c, polyline=poly, corners=tuple(8 if i == 0 else i for i in c.corners)
    )
    split = CurveSet(np.concatenate([raw.corners, twin[None]]), curves)
    assert _degrees(split) == [2] + [3] * 7 + [1]
    refined, report = refine_curves(split, pts, d, COARSE)
    assert report.topology is not None and report.topology.merged_corners == 1
    assert len(refined.corners) == 8 and _degrees(refined) == [3] * 8
    assert np.abs(np.abs(refined.corners) - 1.0).max() < 0.01
    for cv in refined.curves:
        np.testing.assert_allclose(cv.polyline[[0, -1]], refined.corners[list(cv.corners)])


def test_spurious_curve_without_support_is_removed(
    cube: tuple[np.ndarray, np.ndarray, CurveSet],
) -> None:
    pts, d, raw = cube
    # A 1-unit curve with free ends far from every feature point (too long for the
    # small-group rule, so only the support rule can drop it).
    ghost = _curve(np.array([[3.0, 0, 0], [3.5, 0.1, 0], [4.0, 0, 0]]), False, ())
    refined, report = refine_curves(CurveSet(raw.corners, [*raw.curves, ghost]), pts, d, COARSE)
    assert report.topology is not None
    assert report.topology.removed_unsupported == 1 and report.topology.removed_small == 0
    assert len(refined.curves) == 12 and _degrees(refined) == [3] * 8
    assert max(np.abs(c.polyline).max() for c in refined.curves) < 1.1


def test_clean_graph_drops_small_isolated_groups_and_collapsed_curves() -> None:
    # An exact field of one long edge and one isolated 0.2-long edge far away.
    a = np.array([[0.0, 0, 0], [5.0, 0, 0]])
    b = np.array([[2.0, 0, 0], [5.2, 0, 0]])
    x = np.arange(-0.2, 5.4, 0.01)
    pts = np.stack([x, np.zeros_like(x), np.zeros_like(x)], 1)
    d = _segment_field(pts, a, b)
    nodes = np.array([[0.0, 0, 0], [2.0, 0, 0], [5.0, 0, 0], [5.2, 0, 0], [1.0, 0, 0]])
    # The third curve runs from corner 0 to a free end 0.03 away: with merge radius
    # 0.05 the end is attached to corner 0, and a curve from a node to itself shorter
    # than two radii is removed.
    nodes = np.concatenate([nodes, [[0.03, 0, 0]]])
    graph = CurveGraph(nodes, 4, [[0, 4, 1], [2, 3], [0, 5]], [False, False, False])
    cfg = CurveConfig(threshold=0.05, merge_radius=0.05)
    out, report = clean_graph(graph, pts, d, cfg)
    # The 0.2 edge is supported but alone and short (official clip: < 0.4, <= 3 curves);
    # node 5 is a free end 0.03 from corner 0, so the third curve collapses onto it.
    assert report.removed_small == 1 and report.relinked_ends == 1
    assert report.removed_degenerate == 1 and report.curves_after == 1
    assert out.paths == [[0, 2, 1]] and out.n_corners == 2
    np.testing.assert_array_equal(out.nodes, nodes[[0, 1, 4]])
    # The input graph is untouched.
    assert graph.paths == [[0, 4, 1], [2, 3], [0, 5]] and len(graph.nodes) == 6


# --- Splitting at sharp turns (official breakpoints) -----------------------------------


def _plane_field(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points of the plane z = 0 near the segments (M, 3) x2 and their true distances."""
    g = np.stack(np.meshgrid(np.arange(-0.2, 1.2, 0.02), np.arange(-0.2, 1.2, 0.02)), -1)
    pts = np.concatenate([g.reshape(-1, 2), np.zeros((g[..., 0].size, 1))], 1)
    d = _segment_field(pts, a, b)
    return pts[d < 0.1], d[d < 0.1]


def _open_path(poly: np.ndarray) -> CurveGraph:
    """One open path through the vertices (K, 3), its two ends corners 0 and 1."""
    nodes = np.concatenate([poly[[0, -1]], poly[1:-1]])
    return CurveGraph(nodes, 2, [[0, *range(2, len(poly)), 1]], [False])


def test_l_shaped_path_is_split_into_two_curves_at_its_turn() -> None:
    arm = np.linspace(0.0, 1.0, 6)[:, None]
    poly = np.concatenate([arm * [1.0, 0, 0], [1.0, 0, 0] + arm[1:] * [0, 1.0, 0]])
    graph = _open_path(poly)
    turn = np.array([1.0, 0, 0])
    pts, d = _plane_field(poly[[0, 5]], poly[[5, 10]])
    cfg = dataclasses.replace(CFG, sharp_breaks=True, refine_outlier=0.5)
    refined, report = refine_graph(graph, pts, d, cfg)
    assert report.breaks == 1 and refined.n_corners == 3
    np.testing.assert_allclose(refined.nodes[2], turn, atol=0.01)
    curves = curves_from_graph(refined, pts, d, cfg)
    assert len(curves.curves) == 2 and len(curves.corners) == 3
    for c in curves.curves:
        assert 2 in c.corners and len(c.corners) == 2
        np.testing.assert_allclose(
            c.spline.sample(2)[[0, -1]], curves.corners[list(c.corners)], atol=5e-3
        )
    m = evaluate_curves(curves, poly[[0, 5]], poly[[5, 10]], spacing=0.01, corner_tolerance=0.1)
    assert m["corner_recall"] == 1.0 and m["corner_precision"] == 1.0
    # Off (the default): one curve runs through the turn, which no corner marks.
    off, report = refine_graph(graph, pts, d, dataclasses.replace(cfg, sharp_breaks=False))
    assert report.breaks == 0 and off.n_corners == 2 and len(off.paths) == 1


def test_smooth_arc_and_noisy_line_are_not_split() -> None:
    t = np.linspace(0.0, np.pi, 21)
    arc = np.stack([np.cos(t), np.sin(t), np.zeros_like(t)], 1)  # 9 deg turns
    circle = np.stack([np.cos(t[:-1] * 2), np.sin(t[:-1] * 2), np.zeros(20)], 1)
    x = np.linspace(0.0, 2.0, 21)
    noise = np.random.default_rng(0).uniform(-0.01, 0.01, 21)
    noisy = np.stack([x, noise, np.zeros_like(x)], 1)
    # A spike: sharp, but both its neighbours turn too (no straight stretch beside it).
    spike = noisy.copy()
    spike[10, 1] = 0.2
    for poly in (arc, noisy, spike):
        graph = _open_path(poly)
        out, breaks = split_sharp_turns(graph)
        assert breaks == 0 and out.paths == graph.paths and out.n_corners == 2
    loop = CurveGraph(circle, 0, [list(range(20))], [True])
    out, breaks = split_sharp_turns(loop)
    assert breaks == 0 and out.closed == [True] and out.paths == loop.paths


def test_closed_square_becomes_four_curves_between_new_corners() -> None:
    side = np.linspace(0.0, 1.0, 4)[:-1, None]
    square = np.concatenate(
        [
            side * [1.0, 0, 0],
            [1.0, 0, 0] + side * [0, 1.0, 0],
            [1.0, 1.0, 0] - side * [1.0, 0, 0],
            [0, 1.0, 0] - side * [0, 1.0, 0],
        ]
    )
    loop = CurveGraph(square, 0, [list(range(12))], [True])
    out, breaks = split_sharp_turns(loop)
    assert breaks == 4 and out.n_corners == 4 and out.closed == [False] * 4
    np.testing.assert_allclose(
        np.sort(out.nodes[:4], axis=0), np.sort(square[[0, 3, 6, 9]], axis=0)
    )
    assert all(len(p) == 4 and p[0] < 4 and p[-1] < 4 for p in out.paths)
    assert sorted(i for p in out.paths for i in (p[0], p[-1])) == [0, 0, 1, 1, 2, 2, 3, 3]
    # Arms of one segment are no straight stretch; the input is left as it was.
    corner_path = _open_path(np.array([[0.0, 0, 0], [1.0, 0, 0], [1.0, 1, 0]]))
    assert split_sharp_turns(corner_path)[1] == 0
    assert loop.paths == [list(range(12))] and loop.n_corners == 0
