"""Parametric feature curves from a distance-to-feature field.

The steps (section 3.2 of the dissertation summary: corners, curve graph, spline
fitting, filtering):

1. **Feature points**: the points whose distance is below ``threshold`` (0.06 in the
   official code).
2. **Corners** (:mod:`def_features.curve_corners`): points whose neighbourhood is not
   a line (several curves meet, or one turns sharply), one corner per cluster.
3. **Curve graph**: cutting a ball of ``corner_radius`` around every corner out of
   the feature points splits them into bands, one per curve; a band's ends attach to
   the corners they touch. Nodes are corners, edges are curves (a closed curve, such
   as a circle, has no corner; an open one may end freely).
4. **Fitting** (:mod:`def_features.curve_fit`): each band is ordered into a centre
   line, extended to its corners, and fitted by an RDP polyline and a cubic smoothing
   spline (periodic when closed).
5. **Filtering**: curves shorter than ``min_length``, supported by fewer than
   ``min_points`` points, or whose band lies farther than ``max_residual`` (RMS)
   from the spline are dropped; then corners at which no kept curve ends.

Quality against ground truth (both sides as dense samples): Chamfer distance (mean of
the two one-way means, :func:`shared_utils.geometry.chamfer.chamfer_distance`),
Hausdorff distance (max of the two one-way maxima), and corner precision/recall.
Output: ``curves.json`` (corners; per curve its polyline, spline knots/coefficients
and samples) and ``curves.obj`` (corners as ``p`` points, spline samples as ``l``
lines).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from def_features.config import CurveConfig
from def_features.curve_corners import (
    components,
    corner_precision_recall,
    detect_corners,
    segment_corners,
)
from def_features.curve_fit import (
    SplineFit,
    centre_line,
    fit_residual,
    fit_spline,
    order_points,
    simplify_polyline,
)
from shared_utils.geometry.chamfer import chamfer_distance, nearest_distances


@dataclass(frozen=True)
class FeatureCurve:
    """One extracted curve."""

    line: np.ndarray
    """(K, 3) ordered centre line (corner end points included)."""
    polyline: np.ndarray
    """(K', 3) RDP-simplified polyline fit."""
    spline: SplineFit
    """Cubic smoothing spline fit."""
    closed: bool
    """The curve is a loop without corners."""
    corners: tuple[int, ...]
    """Indices of the corners at its ends (0, 1 or 2 entries)."""
    length: float
    """Length of the centre line."""
    residual: float
    """RMS distance of its supporting feature points to the spline."""
    support: int
    """Number of feature points in its band."""

    def samples(self, spacing: float) -> np.ndarray:
        """(S, 3) spline points about ``spacing`` apart."""
        return self.spline.sample(max(int(np.ceil(self.length / spacing)), 1) + 1)


@dataclass(frozen=True)
class CurveSet:
    """Corners and curves of one shape."""

    corners: np.ndarray
    """(C, 3) corner positions."""
    curves: list[FeatureCurve]
    """The curves (edges of the curve graph)."""

    def samples(self, spacing: float) -> np.ndarray:
        """(S, 3) samples of all splines."""
        parts = [c.samples(spacing) for c in self.curves]
        return np.concatenate(parts) if parts else np.zeros((0, 3))


def extract_curves(
    points: np.ndarray, distances: np.ndarray, cfg: CurveConfig | None = None
) -> CurveSet:
    """Corners and fitted curves of the feature points of a field (P, 3), (P,)."""
    cfg = cfg or CurveConfig()
    pts = np.asarray(points, np.float64)
    d = np.asarray(distances, np.float64)
    if pts.ndim != 2 or pts.shape[1] != 3 or d.shape != (len(pts),):
        raise ValueError(
            f"extract_curves: points (P, 3) and distances (P,), got {pts.shape}, {d.shape}"
        )
    feat = pts[d < cfg.threshold]
    if len(feat) < 2:
        return CurveSet(np.zeros((0, 3)), [])
    corners = detect_corners(feat, cfg.corner_radius, cfg.link_radius, cfg.corner_score)
    corner_tree = cKDTree(corners) if len(corners) else None
    free = np.ones(len(feat), bool)
    if corner_tree is not None:
        free = corner_tree.query(feat)[0] > cfg.corner_radius
    rest = feat[free]
    attach = cfg.corner_radius + 2 * cfg.link_radius
    curves = []
    labels = components(rest, cfg.link_radius) if len(rest) else np.zeros(0, np.int64)
    for k in range(int(labels.max()) + 1 if len(labels) else 0):
        band = rest[labels == k]
        if len(band) < max(cfg.min_points, 2):
            continue
        path, closed = order_points(band, cfg.link_radius)
        line = centre_line(path, band, cfg.step, cfg.link_radius)
        ends: list[int] = []
        if corner_tree is not None:
            dist, idx = corner_tree.query(line[[0, -1]])
            head = [corners[idx[0]]] if dist[0] < attach else []
            tail = [corners[idx[1]]] if dist[1] < attach else []
            ends = [int(i) for i, dd in zip(idx, dist) if dd < attach]
            if ends:
                closed = False
                line = np.concatenate([np.reshape(head, (-1, 3)), line, np.reshape(tail, (-1, 3))])
        length = float(np.linalg.norm(np.diff(line, axis=0), axis=1).sum())
        if closed:
            length += float(np.linalg.norm(line[-1] - line[0]))
        if length < cfg.min_length or len(line) < 2:
            continue
        spline = fit_spline(line, closed, cfg.spline_tol, pin_ends=bool(ends))
        residual = fit_residual(spline, band)
        if residual > cfg.max_residual:
            continue
        polyline = simplify_polyline(
            np.concatenate([line, line[:1]]) if closed else line, cfg.polyline_tol
        )
        curves.append(
            FeatureCurve(line, polyline, spline, closed, tuple(ends), length, residual, len(band))
        )
    # Curve-graph cleanup: a corner that no kept curve ends at is noise (an isolated
    # blob of non-linear points), so it is dropped and the indices renumbered.
    used = sorted({i for c in curves for i in c.corners})
    renumber = {old: new for new, old in enumerate(used)}
    curves = [dataclasses.replace(c, corners=tuple(renumber[i] for i in c.corners)) for c in curves]
    return CurveSet(corners[used].reshape(-1, 3), curves)


def sample_polylines(polylines: list[np.ndarray], spacing: float) -> np.ndarray:
    """(S, 3) points every ``spacing`` along polylines."""
    out = []
    for p in polylines:
        for a, b in itertools.pairwise(p):
            n = max(int(np.linalg.norm(b - a) / spacing), 1)
            out.append(a + np.linspace(0, 1, n, endpoint=False)[:, None] * (b - a))
        out.append(p[-1:])
    return np.concatenate(out) if out else np.zeros((0, 3))


def curve_metrics(pred: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    """Chamfer and Hausdorff distances between point samples (S1, 3) and (S2, 3)."""
    if len(pred) == 0 or len(gt) == 0:
        return {"chamfer": float("inf"), "hausdorff": float("inf")}
    hausdorff = max(nearest_distances(pred, gt).max(), nearest_distances(gt, pred).max())
    return {"chamfer": chamfer_distance(pred, gt), "hausdorff": float(hausdorff)}


def evaluate_curves(
    curves: CurveSet,
    seg_a: np.ndarray,
    seg_b: np.ndarray,
    spacing: float,
    corner_tolerance: float,
    corner_angle_deg: float = 30.0,
) -> dict[str, float]:
    """Chamfer/Hausdorff of the splines and corner P/R against true segments (M, 3) x2."""
    gt = sample_polylines([np.stack([a, b]) for a, b in zip(seg_a, seg_b)], spacing)
    out = curve_metrics(curves.samples(spacing), gt)
    match = corner_precision_recall(
        curves.corners, segment_corners(seg_a, seg_b, corner_angle_deg), corner_tolerance
    )
    return {
        **out,
        "curves": float(len(curves.curves)),
        "corners": float(match.n_pred),
        "true_corners": float(match.n_true),
        "corner_precision": match.precision,
        "corner_recall": match.recall,
    }


def write_curves(out_dir: Path, curves: CurveSet, spacing: float = 0.02) -> None:
    """``curves.json`` and ``curves.obj`` (corners as ``p``, spline samples as ``l``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    samples = [c.samples(spacing) for c in curves.curves]
    doc = {
        "corners": curves.corners.round(6).tolist(),
        "curves": [
            {
                "closed": c.closed,
                "corners": list(c.corners),
                "length": round(c.length, 6),
                "residual": round(c.residual, 6),
                "support": c.support,
                "polyline": c.polyline.round(6).tolist(),
                "spline": {
                    "degree": c.spline.degree,
                    "knots": c.spline.knots.round(8).tolist(),
                    "coefficients": c.spline.coefficients.round(6).tolist(),
                    "periodic": c.spline.closed,
                },
                "samples": smp.round(6).tolist(),
            }
            for c, smp in zip(curves.curves, samples, strict=True)
        ],
    }
    (out_dir / "curves.json").write_text(json.dumps(doc))
    lines = [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in curves.corners]
    if len(curves.corners):
        lines.append("p " + " ".join(str(1 + i) for i in range(len(curves.corners))))
    offset = len(curves.corners) + 1
    for smp in samples:
        lines += [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in smp]
        lines.append("l " + " ".join(str(offset + i) for i in range(len(smp))))
        offset += len(smp)
    (out_dir / "curves.obj").write_text("\n".join(lines) + "\n")
