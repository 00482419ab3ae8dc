"""Joint refinement of the extracted curve network against the distance field.

Extraction (:func:`def_features.curves.extract_curves`) fits every curve on its own,
to the centre line of its band of thresholded points. That centre is biased: the band
of a convex edge lies on the two faces beside it, so its centroid sits inside the
shape, and a corner is the average of a cluster of non-linear points, which pulls it
inwards too. The field itself says where the curves are: a feature point ``p`` with
predicted distance ``d_p`` should lie exactly ``d_p`` away from the network.

So, as in the official DEF vectorisation, the network is refined as one graph:

- **Graph**: nodes are the corners and the polyline vertices of every curve; edges are
  the polyline segments. Curves that end at one corner share that node, so they stay
  joined while it moves.
- **Assignment**: every feature point goes to its nearest segment (the truncated
  point-to-segment kernel, :mod:`def_features.kernels.point_segment_distance`). Points
  whose distance to the network disagrees with the field by more than
  ``refine_outlier`` belong to no kept curve and are left out.
- **Fit**: all node positions move together (Adam) to minimise the mean of
  ``|dist(p, segment(p)) - d_p|`` plus ``smooth_weight`` times the mean ``1 - cos`` of
  the turn between consecutive segments inside a curve (never at a corner, where
  curves turn on purpose).
- **Split**: at the start of every round, a segment whose worst interior residual exceeds
  ``split_threshold`` gets a new node at that point's projection, so a polyline that
  is too coarse for a bend gains vertices where the field asks for them.

The splines are then refitted through the refined polylines, ends pinned on the
refined corners.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import torch

from def_features.config import CurveConfig
from def_features.curve_fit import fit_residual, fit_spline
from def_features.curves import CurveSet, FeatureCurve, sample_polylines
from def_features.kernels.point_segment_distance import point_segment_distance


@dataclass
class CurveGraph:
    """A curve network as a graph of shared nodes."""

    nodes: np.ndarray
    """(V, 3) node positions; the first ``n_corners`` are the corners."""
    n_corners: int
    """Number of corner nodes."""
    paths: list[list[int]]
    """Per curve, its node indices in order (a closed curve does not repeat its first)."""
    closed: list[bool]
    """Per curve, whether its last node links back to its first."""

    def segments(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(E, 2) node pairs, (E,) curve index and (E,) position in that curve's path."""
        pairs, owner, pos = [], [], []
        for c, (ids, closed) in enumerate(zip(self.paths, self.closed, strict=True)):
            links = list(itertools.pairwise(ids))
            if closed:
                links.append((ids[-1], ids[0]))
            pairs += links
            owner += [c] * len(links)
            pos += list(range(len(links)))
        return (
            np.asarray(pairs, np.int64).reshape(-1, 2),
            np.asarray(owner, np.int64),
            np.asarray(pos, np.int64),
        )

    def triples(self) -> np.ndarray:
        """(T, 3) consecutive node indices inside curves whose middle is not a corner."""
        out = []
        for ids, closed in zip(self.paths, self.closed, strict=True):
            n = len(ids)
            ks = range(n) if closed else range(1, n - 1)
            out += [(ids[k - 1], ids[k], ids[(k + 1) % n]) for k in ks]
        arr = np.asarray(out, np.int64).reshape(-1, 3)
        return arr[arr[:, 1] >= self.n_corners]


def graph_from_curves(curves: CurveSet) -> CurveGraph:
    """The graph of an extracted curve set: corners first, then polyline vertices.

    A polyline end that coincides with one of its curve's corners becomes that corner
    node. A closed curve whose polyline has fewer than 4 vertices is seeded from 8
    points of its centre line (a loop needs a few nodes to bend).
    """
    corners = np.asarray(curves.corners, np.float64).reshape(-1, 3)
    nodes: list[np.ndarray] = list(corners)
    paths: list[list[int]] = []
    closed: list[bool] = []
    for c in curves.curves:
        poly = np.asarray(c.polyline, np.float64)
        if c.closed:
            if len(poly) > 1 and np.allclose(poly[0], poly[-1]):
                poly = poly[:-1]
            if len(poly) < 4:
                line = np.asarray(c.line, np.float64)
                poly = line[np.linspace(0, len(line), 8, endpoint=False).astype(int)]
        ids = []
        for k, v in enumerate(poly):
            node = None
            if not c.closed and k in (0, len(poly) - 1):
                node = next((i for i in c.corners if np.linalg.norm(corners[i] - v) < 1e-9), None)
            if node is None:
                nodes.append(v)
                node = len(nodes) - 1
            ids.append(node)
        if len(ids) >= 2:
            paths.append(ids)
            closed.append(c.closed)
    return CurveGraph(np.asarray(nodes).reshape(-1, 3), len(corners), paths, closed)


def _segment_distance(
    p: torch.Tensor, a: torch.Tensor, b: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Differentiable distance (N,) of points (N, 3) to segments [a, b] (N, 3), and t (N,)."""
    ab = b - a
    t = (((p - a) * ab).sum(-1) / (ab * ab).sum(-1).clamp_min(1e-12)).clamp(0.0, 1.0)
    diff = p - (a + t[:, None] * ab)
    return ((diff * diff).sum(-1) + 1e-12).sqrt(), t


@dataclass(frozen=True)
class RefineReport:
    """What one refinement did."""

    initial_residual: float
    """Mean |dist - d| of the assigned feature points before refinement."""
    final_residual: float
    """The same after refinement (with the final assignment)."""
    splits: int
    """Nodes added by splitting."""
    used_points: int
    """Feature points assigned in the final round."""


def _assign(
    nodes: torch.Tensor, pairs: np.ndarray, pts: torch.Tensor, d: torch.Tensor, outlier: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Nearest segment (N,) of every point and the mask (N,) of points that agree with it."""
    seg = torch.from_numpy(pairs)
    with torch.no_grad():
        dist, index, _ = point_segment_distance(pts, nodes[seg[:, 0]], nodes[seg[:, 1]])
    return index, (dist - d).abs() <= outlier


def _check_field(points: np.ndarray, distances: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pts = np.asarray(points, np.float64)
    d = np.asarray(distances, np.float64)
    if pts.ndim != 2 or pts.shape[1] != 3 or d.shape != (len(pts),):
        raise ValueError(
            f"curve refinement: points (P, 3) and distances (P,), got {pts.shape}, {d.shape}"
        )
    return pts, d


def refine_graph(
    graph: CurveGraph, points: np.ndarray, distances: np.ndarray, cfg: CurveConfig
) -> tuple[CurveGraph, RefineReport]:
    """Move all nodes jointly so the network explains the field's feature points.

    Args:
        graph: the network to refine (not modified).
        points: (P, 3) field points; those with ``distances < cfg.threshold`` are used.
        distances: (P,) the field.
        cfg: ``refine_*``, ``smooth_weight``, ``split_threshold`` and ``threshold``.

    Returns:
        the refined graph (new node array, paths with split nodes) and a report.
    """
    points, distances = _check_field(points, distances)
    feat = distances < cfg.threshold
    pts = torch.as_tensor(points[feat])
    d = torch.as_tensor(distances[feat])
    paths = [list(p) for p in graph.paths]
    g = CurveGraph(graph.nodes.astype(np.float64).copy(), graph.n_corners, paths, graph.closed)
    if len(g.paths) == 0 or len(pts) == 0:
        return g, RefineReport(0.0, 0.0, 0, 0)
    splits = 0
    initial = None
    for _ in range(cfg.refine_rounds):
        # Split first: a segment far from its points would otherwise drag its end
        # nodes (corners included) towards them before it can bend.
        pairs, owner, pos = g.segments()
        splits += _split(g, pairs, owner, pos, pts, d, cfg)
        pairs, owner, pos = g.segments()
        nodes = torch.as_tensor(g.nodes).clone().requires_grad_(True)
        index, keep = _assign(nodes.detach(), pairs, pts, d, cfg.refine_outlier)
        seg = torch.from_numpy(pairs)[index[keep]]
        p, dk = pts[keep], d[keep]
        tri = torch.from_numpy(g.triples())
        opt = torch.optim.Adam([nodes], lr=cfg.refine_lr)

        def loss_fn(
            nodes: torch.Tensor = nodes, seg: torch.Tensor = seg, p=p, dk=dk, tri=tri
        ) -> torch.Tensor:
            dist, _ = _segment_distance(p, nodes[seg[:, 0]], nodes[seg[:, 1]])
            loss = (dist - dk).abs().mean() if len(p) else nodes.sum() * 0
            if len(tri):
                u = nodes[tri[:, 1]] - nodes[tri[:, 0]]
                v = nodes[tri[:, 2]] - nodes[tri[:, 1]]
                cos = (u * v).sum(-1) / (u.norm(dim=-1) * v.norm(dim=-1)).clamp_min(1e-12)
                loss = loss + cfg.smooth_weight * (1.0 - cos).mean()
            return loss

        if initial is None:
            with torch.no_grad():
                dist0, _ = _segment_distance(p, nodes[seg[:, 0]], nodes[seg[:, 1]])
                initial = float((dist0 - dk).abs().mean()) if len(p) else 0.0
        for _ in range(cfg.refine_steps):
            opt.zero_grad()
            loss_fn().backward()
            opt.step()
        g.nodes = nodes.detach().numpy().copy()
    pairs, _, _ = g.segments()
    nodes_t = torch.as_tensor(g.nodes)
    index, keep = _assign(nodes_t, pairs, pts, d, cfg.refine_outlier)
    seg = torch.from_numpy(pairs)[index[keep]]
    dist, _ = _segment_distance(pts[keep], nodes_t[seg[:, 0]], nodes_t[seg[:, 1]])
    final = float((dist - d[keep]).abs().mean()) if int(keep.sum()) else 0.0
    return g, RefineReport(initial or 0.0, final, splits, int(keep.sum()))


def _split(
    g: CurveGraph,
    pairs: np.ndarray,
    owner: np.ndarray,
    pos: np.ndarray,
    pts: torch.Tensor,
    d: torch.Tensor,
    cfg: CurveConfig,
) -> int:
    """Insert a node on every segment whose worst interior residual is too large."""
    nodes = torch.as_tensor(g.nodes)
    index, keep = _assign(nodes, pairs, pts, d, cfg.refine_outlier)
    seg = torch.from_numpy(pairs)[index]
    dist, t = _segment_distance(pts, nodes[seg[:, 0]], nodes[seg[:, 1]])
    residual = torch.where(keep & (t > 0.05) & (t < 0.95), (dist - d).abs(), -1.0)
    inserts: dict[int, list[tuple[int, int]]] = {}
    new_nodes = list(g.nodes)
    for s in range(len(pairs)):
        on = index == s
        if int(on.sum()) < cfg.min_points:
            continue
        r = residual[on]
        k = int(torch.argmax(r))
        if float(r[k]) <= cfg.split_threshold:
            continue
        a, b = g.nodes[pairs[s, 0]], g.nodes[pairs[s, 1]]
        new_nodes.append(a + float(t[on][k]) * (b - a))
        inserts.setdefault(int(owner[s]), []).append((int(pos[s]), len(new_nodes) - 1))
    for c, items in inserts.items():
        # From the back, so earlier positions stay valid; segment k runs from path[k].
        for k, node in sorted(items, reverse=True):
            g.paths[c].insert(k + 1, node)
    g.nodes = np.asarray(new_nodes).reshape(-1, 3)
    return sum(len(v) for v in inserts.values())


def curves_from_graph(
    graph: CurveGraph, points: np.ndarray, distances: np.ndarray, cfg: CurveConfig
) -> CurveSet:
    """Refit every curve's spline through its refined polyline (ends on its corners).

    Each curve's support is the set of feature points assigned to its segments.
    """
    pairs, owner, _ = graph.segments()
    points, distances = _check_field(points, distances)
    feat = distances < cfg.threshold
    pts, d = points[feat], distances[feat]
    curve_of_point = np.full(len(pts), -1)
    if len(pts) and len(pairs):
        index, keep = _assign(
            torch.as_tensor(graph.nodes),
            pairs,
            torch.as_tensor(pts),
            torch.as_tensor(d),
            cfg.refine_outlier,
        )
        curve_of_point = np.where(keep.numpy(), owner[index.numpy()], -1)
    curves = []
    for c, (ids, closed) in enumerate(zip(graph.paths, graph.closed, strict=True)):
        poly = graph.nodes[ids + ids[:1] if closed else ids]
        line = sample_polylines([poly], cfg.step / 2)
        ends = () if closed else tuple(i for i in (ids[0], ids[-1]) if i < graph.n_corners)
        spline = fit_spline(line, closed, cfg.spline_tol, pin_ends=bool(ends))
        band = pts[curve_of_point == c]
        length = float(np.linalg.norm(np.diff(poly, axis=0), axis=1).sum())
        residual = fit_residual(spline, band) if len(band) else 0.0
        curves.append(FeatureCurve(line, poly, spline, closed, ends, length, residual, len(band)))
    return CurveSet(graph.nodes[: graph.n_corners].copy(), curves)


def refine_curves(
    curves: CurveSet, points: np.ndarray, distances: np.ndarray, cfg: CurveConfig | None = None
) -> tuple[CurveSet, RefineReport]:
    """Extracted curves -> jointly refined curves (graph, refinement, spline refit)."""
    cfg = cfg or CurveConfig()
    graph, report = refine_graph(graph_from_curves(curves), points, distances, cfg)
    return curves_from_graph(graph, points, distances, cfg), report
