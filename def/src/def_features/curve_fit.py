"""Fitting one feature curve: ordering its points, a polyline and a smoothing spline.

A curve arrives as an unordered cloud of feature points (a band a few pixels wide
around the true curve) plus, possibly, the corners at its ends. We order it along the
longest path of its minimum spanning tree (the tree's diameter), resample that path
at a fixed arc-length step and average the band around every sample (which pulls the
path onto the band's centre line). Two fits follow:

- a polyline: the Ramer-Douglas-Peucker simplification of the centre line with
  tolerance ``polyline_tol`` (a straight edge keeps only its two end points);
- a cubic smoothing spline (``scipy.interpolate.splprep``; periodic for closed
  curves) whose smoothing budget is ``len * spline_tol^2`` (mean squared deviation
  ``spline_tol^2``), end points pinned by heavy weights when they are corners.

The fit residual (RMS distance of the band points to the spline) is the curve's
quality measure used by the filter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import splev, splprep
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra, minimum_spanning_tree
from scipy.spatial import cKDTree

from def_features.curve_corners import components, voxel_downsample
from shared_utils.geometry.chamfer import nearest_distances


@dataclass(frozen=True)
class SplineFit:
    """A parametric cubic B-spline ``u in [0, 1] -> R^3`` (scipy's ``tck``)."""

    knots: np.ndarray
    """(n + k + 1,) knot vector."""
    coefficients: np.ndarray
    """(n, 3) control points."""
    degree: int
    """Polynomial degree k."""
    closed: bool
    """Periodic spline (closed curve)."""

    def evaluate(self, u: np.ndarray) -> np.ndarray:
        """(K,) parameters in [0, 1] -> (K, 3) points."""
        tck = (self.knots, list(self.coefficients.T), self.degree)
        return np.stack(splev(np.asarray(u, float), tck), -1)

    def sample(self, count: int) -> np.ndarray:
        """(count, 3) points at uniform parameters (the first repeated last if closed)."""
        return self.evaluate(np.linspace(0.0, 1.0, count))


def order_points(points: np.ndarray, link_radius: float) -> tuple[np.ndarray, bool]:
    """Order a band of points (P, 3) along its longest MST path; (K, 3) path, closed?

    The band is closed when the two ends of the path are cell neighbours (a ring
    that the tree cut open) and the path is longer than ``8 * link_radius`` (a loop,
    not a blob). The path runs through per-cell mean points, so it is coarse:
    :func:`centre_line` resamples it and pulls it onto the band.
    """
    pts = np.asarray(points, np.float64)
    labels = components(pts, link_radius)
    # The largest linked piece (a band is connected by construction; stray points
    # linked to nothing are ignored).
    pts = pts[labels == np.argmax(np.bincount(labels))]
    # The tree is built on one mean point per link_radius cell: a band several points
    # wide (the two faces beside an edge) has a snaking minimum spanning tree whose
    # longest path zigzags across it; on cells the band is a near-chain.
    pts = voxel_downsample(pts, link_radius)
    radius = 2.5 * link_radius  # reaches every face-adjacent cell's mean
    labels = components(pts, radius)
    pts = pts[labels == np.argmax(np.bincount(labels))]
    n = len(pts)
    if n < 2:
        return pts, False
    pairs = cKDTree(pts).query_pairs(radius, output_type="ndarray")
    # +1e-12: csgraph treats explicit zeros (duplicate points) as missing edges.
    w = np.linalg.norm(pts[pairs[:, 0]] - pts[pairs[:, 1]], axis=1) + 1e-12
    mst = minimum_spanning_tree(coo_matrix((w, (pairs[:, 0], pairs[:, 1])), shape=(n, n)))
    # Diameter of a tree: the farthest node from any node, then the farthest from it.
    far = int(np.argmax(dijkstra(mst, directed=False, indices=0)))
    dist, pred = dijkstra(mst, directed=False, indices=far, return_predecessors=True)
    end = int(np.argmax(dist))
    order = [end]
    while order[-1] != far:
        order.append(int(pred[order[-1]]))
    path = pts[order[::-1]]
    gap = float(nearest_distances(path[:3], path[-3:]).min())
    closed = bool(gap < radius and float(dist[end]) > 8 * link_radius)
    return path, closed


def centre_line(path: np.ndarray, band: np.ndarray, step: float, radius: float) -> np.ndarray:
    """Resample a path (K, 3) every ``step`` and average the band (P, 3) around samples."""
    seg = np.linalg.norm(np.diff(path, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    t = np.linspace(0.0, s[-1], max(round(float(s[-1]) / step), 1) + 1)
    resampled = np.stack([np.interp(t, s, path[:, i]) for i in range(3)], -1)
    nbrs = cKDTree(band).query_ball_point(resampled, radius)
    return np.array([band[n].mean(0) if n else p for p, n in zip(resampled, nbrs)])


def simplify_polyline(line: np.ndarray, tol: float) -> np.ndarray:
    """Ramer-Douglas-Peucker: the vertices (K', 3) of ``line`` (K, 3) within ``tol``."""
    line = np.asarray(line, np.float64)
    if len(line) <= 2:
        return line.copy()
    keep = np.zeros(len(line), bool)
    keep[[0, -1]] = True
    stack = [(0, len(line) - 1)]
    while stack:
        i, j = stack.pop()
        if j <= i + 1:
            continue
        a, b = line[i], line[j]
        ab = b - a
        denom = float(ab @ ab)
        mid = line[i + 1 : j]
        if denom == 0.0:
            d = np.linalg.norm(mid - a, axis=1)
        else:
            u = np.clip((mid - a) @ ab / denom, 0.0, 1.0)
            d = np.linalg.norm(mid - (a + u[:, None] * ab), axis=1)
        k = int(np.argmax(d))
        if d[k] > tol:
            keep[i + 1 + k] = True
            stack += [(i, i + 1 + k), (i + 1 + k, j)]
    return line[keep]


def fit_spline(line: np.ndarray, closed: bool, tol: float, pin_ends: bool) -> SplineFit:
    """Cubic smoothing spline through a centre line (K, 3).

    ``tol`` is the target RMS deviation from the line; ``pin_ends`` weights the two
    end points 100x so an open curve ends on its corners.
    """
    pts = np.asarray(line, np.float64)
    if closed and np.linalg.norm(pts[0] - pts[-1]) > 0:
        pts = np.concatenate([pts, pts[:1]])  # periodic splprep wants the loop closed
    # Drop repeated consecutive points (splprep needs distinct parameters).
    keep = np.concatenate([[True], np.linalg.norm(np.diff(pts, axis=0), axis=1) > 1e-12])
    pts = pts[keep]
    degree = int(min(3, len(pts) - 1))
    if degree < 1:
        raise ValueError(f"fit_spline: need >= 2 distinct points, got {len(pts)}")
    weights = np.ones(len(pts))
    if pin_ends and not closed:
        weights[[0, -1]] = 100.0
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    u = np.concatenate([[0.0], np.cumsum(seg)]) / seg.sum()
    tck, _ = splprep(
        list(pts.T),
        w=weights,
        u=u,
        k=degree,
        s=len(pts) * tol**2,
        per=1 if closed and len(pts) > degree + 1 else 0,
        quiet=1,
    )
    knots, coeffs, k = tck
    return SplineFit(np.asarray(knots), np.stack(coeffs, -1), int(k), closed)


def fit_residual(spline: SplineFit, band: np.ndarray, samples: int = 512) -> float:
    """RMS distance of band points (P, 3) to a dense sampling of the spline."""
    d2 = nearest_distances(np.asarray(band, np.float64), spline.sample(samples), squared=True)
    return float(np.sqrt(np.mean(d2)))
