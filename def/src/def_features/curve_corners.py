"""Corners of feature curves: detection in a point set, ground truth, precision/recall.

A corner is where several sharp curves meet or where one curve turns sharply. In a
set of feature points both show up the same way: the points within ``radius`` of a
corner do not lie along one line. We score every feature point by the covariance of
its neighbourhood, ``lambda_2 / lambda_1`` (second over largest eigenvalue): about 0
inside a straight or gently curved curve (``~ (radius / R)^2`` on a circle of radius
R, ``~ (width / radius)^2 / 4`` on a band of width ``width``), and large where arms in
two or three directions meet (1 / 2 for two perpendicular arms through the point,
about 1 where three orthogonal arms meet). Points above ``min_score`` are grouped
into clusters (linked within ``link_radius``); each cluster gives one corner, at its
highest-scoring point (the point where the arms are most balanced).

Ground-truth corners come from the sharp segments of a shape (procedural parts and
ABC curves, both as polylines): segment end points are merged, and a vertex is a
corner when its degree is not 2 (curve ends and junctions), when it lies inside
another segment (a T-junction), or when the two segments through it turn by more
than ``angle_deg`` (so the 5-degree facets of a tessellated
circle are not corners, and a split point of two tangent ABC curves is not either).

Precision/recall match predicted to true corners one-to-one (Hungarian assignment on
distances); a pair counts when it is closer than ``tolerance``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree


def corner_scores(points: np.ndarray, radius: float) -> np.ndarray:
    """(P,) ``lambda_2 / lambda_1`` of the neighbourhood covariance of each point (P, 3).

    Points with fewer than three neighbours within ``radius`` (itself included) score 0.
    """
    pts = np.asarray(points, np.float64)
    n = len(pts)
    pairs = cKDTree(pts).query_pairs(radius, output_type="ndarray")
    # Neighbourhood sums over both directions of every pair plus the point itself.
    rows = np.concatenate([pairs[:, 0], pairs[:, 1], np.arange(n)])
    cols = np.concatenate([pairs[:, 1], pairs[:, 0], np.arange(n)])
    count = np.bincount(rows, minlength=n).astype(np.float64)
    rel = pts[cols] - pts[rows]  # offsets from the centre point (better conditioned)
    first = np.stack([np.bincount(rows, rel[:, i], n) for i in range(3)], -1)
    outer = (rel[:, :, None] * rel[:, None, :]).reshape(-1, 9)
    second = np.stack([np.bincount(rows, outer[:, i], n) for i in range(9)], -1).reshape(n, 3, 3)
    mean = first / count[:, None]
    cov = second / count[:, None, None] - mean[:, :, None] * mean[:, None, :]
    ev = np.linalg.eigvalsh(cov)  # ascending per point
    scores = np.where(ev[:, 2] > 0, ev[:, 1] / np.maximum(ev[:, 2], 1e-300), 0.0)
    return np.where(count >= 3, scores, 0.0)


def components(points: np.ndarray, radius: float) -> np.ndarray:
    """(P,) component label of every point (P, 3) in the graph of pairs within ``radius``."""
    n = len(points)
    pairs = cKDTree(points).query_pairs(radius, output_type="ndarray")
    adj = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    return connected_components(adj, directed=False)[1]


def voxel_downsample(points: np.ndarray, cell: float) -> np.ndarray:
    """(P', 3) means of the points (P, 3) falling in each cubic cell of side ``cell``."""
    keys = np.floor(np.asarray(points, np.float64) / cell).astype(np.int64)
    _, inverse, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    sums = np.stack([np.bincount(inverse, points[:, i]) for i in range(3)], -1)
    return sums / counts[:, None]


def detect_corners(
    points: np.ndarray, radius: float, link_radius: float, min_score: float
) -> np.ndarray:
    """Corners (C, 3) of feature points (P, 3).

    The points are first averaged per voxel of side ``link_radius / 2`` (a dense band
    has far more points than the score needs); candidates score above ``min_score``;
    candidates closer than ``link_radius`` belong to the same corner, placed at its
    best-scoring candidate.
    """
    if len(points) == 0:
        return np.zeros((0, 3))
    pts = voxel_downsample(np.asarray(points, np.float64), 0.5 * link_radius)
    scores = corner_scores(pts, radius)
    cand = np.flatnonzero(scores > min_score)
    if len(cand) == 0:
        return np.zeros((0, 3))
    labels = components(pts[cand], link_radius)
    corners = []
    for k in range(int(labels.max()) + 1):
        members = cand[labels == k]
        corners.append(pts[members[np.argmax(scores[members])]])
    order = np.lexsort(np.array(corners).T[::-1])  # deterministic output order
    return np.array(corners)[order]


def segment_corners(
    seg_a: np.ndarray, seg_b: np.ndarray, angle_deg: float = 30.0, merge_tol: float = 1e-6
) -> np.ndarray:
    """True corners (C, 3) of a set of sharp segments (M, 3), (M, 3).

    End points closer than ``merge_tol`` are one vertex; corners are the vertices of
    degree != 2, those on another segment's interior (T-junctions) and those of degree
    2 whose segments turn by more than ``angle_deg``.
    """
    a = np.asarray(seg_a, np.float64)
    b = np.asarray(seg_b, np.float64)
    if len(a) == 0:
        return np.zeros((0, 3))
    ends = np.concatenate([a, b])
    # Merge coincident end points: connected components of the merge-tolerance graph.
    vid = components(ends, merge_tol)
    n_v = int(vid.max()) + 1
    pos = np.zeros((n_v, 3))
    pos[vid] = ends
    m = len(a)
    # For every vertex, the unit directions of its segments pointing away from it.
    dirs: list[list[np.ndarray]] = [[] for _ in range(n_v)]
    for i in range(m):
        va, vb = vid[i], vid[m + i]
        if va == vb:
            continue  # degenerate segment
        d = pos[vb] - pos[va]
        d /= np.linalg.norm(d)
        dirs[va].append(d)
        dirs[vb].append(-d)
    cos_max = np.cos(np.radians(angle_deg))
    on_interior = _on_segment_interior(pos, a, b, merge_tol)
    corners = []
    for v in range(n_v):
        ds = dirs[v]
        if not ds:
            continue
        if len(ds) != 2 or on_interior[v]:
            corners.append(pos[v])
        # Straight continuation: the outgoing directions are opposite (turn angle 0).
        elif -float(ds[0] @ ds[1]) < cos_max:
            corners.append(pos[v])
    return np.array(corners).reshape(-1, 3)


def _on_segment_interior(
    pts: np.ndarray, a: np.ndarray, b: np.ndarray, tol: float, chunk: int = 256
) -> np.ndarray:
    """(V,) whether each point (V, 3) lies on the interior of some segment (M, 3) x2
    (a T-junction: a curve ending on another curve's middle), farther than ``tol``
    from that segment's ends."""
    ab = b - a
    len2 = np.maximum((ab * ab).sum(1), 1e-300)
    out = np.zeros(len(pts), bool)
    for i in range(0, len(pts), chunk):
        p = pts[i : i + chunk, None]  # (c, 1, 3)
        u = ((p - a[None]) * ab[None]).sum(-1) / len2[None]  # (c, M)
        foot = a[None] + np.clip(u, 0.0, 1.0)[..., None] * ab[None]
        close = np.linalg.norm(p - foot, axis=-1) < tol
        inside = (u * np.sqrt(len2)[None] > tol) & ((1 - u) * np.sqrt(len2)[None] > tol)
        out[i : i + chunk] = (close & inside).any(1)
    return out


@dataclass(frozen=True)
class CornerMatch:
    """Corner precision/recall of a prediction."""

    precision: float
    """Matched predicted corners / predicted corners (1 when none are predicted)."""
    recall: float
    """Matched true corners / true corners (1 when there are none)."""
    matched: int
    """Number of one-to-one pairs closer than the tolerance."""
    n_pred: int
    """Number of predicted corners."""
    n_true: int
    """Number of true corners."""


def corner_precision_recall(pred: np.ndarray, true: np.ndarray, tolerance: float) -> CornerMatch:
    """One-to-one matching of corners (P, 3) to (T, 3) within ``tolerance``."""
    p = np.asarray(pred, np.float64).reshape(-1, 3)
    t = np.asarray(true, np.float64).reshape(-1, 3)
    matched = 0
    if len(p) and len(t):
        dist = np.linalg.norm(p[:, None] - t[None], axis=-1)
        # Pairs beyond the tolerance cost more than any valid pair, so the assignment
        # maximises the number of valid pairs first.
        cost = np.where(dist < tolerance, dist, 1e6)
        rows, cols = linear_sum_assignment(cost)
        matched = int((dist[rows, cols] < tolerance).sum())
    return CornerMatch(
        precision=matched / len(p) if len(p) else 1.0,
        recall=matched / len(t) if len(t) else 1.0,
        matched=matched,
        n_pred=len(p),
        n_true=len(t),
    )
