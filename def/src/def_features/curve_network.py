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

- **Topology clean-up** (``cfg.topology``; :func:`clean_graph`): after every round's
  fit, as the official vectorisation prunes its graph between optimisation and spline
  fitting: corners closer than ``merge_radius`` become one node and free curve ends
  that close to a corner are attached to it (a curve whose two ends merge and that is
  shorter than two merge radii is removed); of two curves lying on top of each other
  (mean distance below ``duplicate_distance``) the less supported one is dropped;
  curves explaining fewer than ``min_curve_points`` feature points are dropped; small
  isolated groups of open curves (official: total length < 0.4, at most 3 curves) are
  dropped. Corners are never dissolved: the official code keeps every detected corner
  as a curve end, even at degree 2.

The splines are then refitted through the refined polylines, ends pinned on the
refined corners.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import torch
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from def_features.config import CurveConfig
from def_features.curve_fit import fit_residual, fit_spline
from def_features.curves import CurveSet, FeatureCurve, sample_polylines
from def_features.geometry.curves import polyline_length
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
    topology: TopologyReport | None = None
    """What the topology clean-ups of all rounds did together (None when switched off)."""
    breaks: int = 0
    """Vertices made corners by the sharp-turn split (``cfg.sharp_breaks``)."""


@dataclass(frozen=True)
class TopologyReport:
    """What the topology clean-up did (summed over rounds when returned by refinement)."""

    curves_before: int
    """Curves before the first clean-up."""
    curves_after: int
    """Curves after the last clean-up."""
    merged_corners: int = 0
    """Corner nodes merged into another corner."""
    relinked_ends: int = 0
    """Free curve ends attached to a corner."""
    removed_degenerate: int = 0
    """Curves whose two ends merged into one node and that were too short to be a loop."""
    removed_duplicates: int = 0
    """Curves lying on top of a better supported curve."""
    removed_unsupported: int = 0
    """Curves explaining fewer than ``min_curve_points`` feature points."""
    removed_small: int = 0
    """Open curves in small isolated groups."""

    def __add__(self, other: TopologyReport) -> TopologyReport:
        """Counts of two clean-ups in a row (before of the first, after of the second)."""
        return TopologyReport(
            self.curves_before,
            other.curves_after,
            *(
                getattr(self, f) + getattr(other, f)
                for f in (
                    "merged_corners",
                    "relinked_ends",
                    "removed_degenerate",
                    "removed_duplicates",
                    "removed_unsupported",
                    "removed_small",
                )
            ),
        )


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
    topo: TopologyReport | None = None
    for _ in range(cfg.refine_rounds):
        if not g.paths:
            break
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
        if cfg.topology:
            # After the fit, not before: duplicated bands and the two halves of a split
            # corner cluster converge onto the same field feature while they move, so
            # they are only recognisable as one once they have been refined.
            g, step = _clean(g, pts, d, cfg)
            topo = step if topo is None else topo + step
    if not g.paths:
        return g, RefineReport(initial or 0.0, 0.0, splits, 0, topo)
    breaks = 0
    if cfg.sharp_breaks:
        g, breaks = split_sharp_turns(g, cfg.break_cos, cfg.straight_cos)
    pairs, _, _ = g.segments()
    nodes_t = torch.as_tensor(g.nodes)
    index, keep = _assign(nodes_t, pairs, pts, d, cfg.refine_outlier)
    seg = torch.from_numpy(pairs)[index[keep]]
    dist, _ = _segment_distance(pts[keep], nodes_t[seg[:, 0]], nodes_t[seg[:, 1]])
    final = float((dist - d[keep]).abs().mean()) if int(keep.sum()) else 0.0
    return g, RefineReport(initial or 0.0, final, splits, int(keep.sum()), topo, breaks)


def _turn_cos(poly: np.ndarray, closed: bool) -> np.ndarray:
    """(K,) cosine of the turn at every vertex of a polyline (K, 3); 1 at open ends."""
    nxt = np.roll(poly, -1, axis=0) - poly
    prv = poly - np.roll(poly, 1, axis=0)
    norm = np.linalg.norm(nxt, axis=1) * np.linalg.norm(prv, axis=1)
    cos = np.where(norm > 1e-12, (nxt * prv).sum(1) / np.maximum(norm, 1e-24), 1.0)
    if not closed:
        cos[[0, -1]] = 1.0
    return cos


def _sharp_vertices(
    cos: np.ndarray, closed: bool, break_cos: float, straight_cos: float
) -> list[int]:
    """Positions of sharp turns (``cos < break_cos``) with a straight neighbouring turn
    (``cos > straight_cos``; the open ends of a path are no turns and do not count)."""
    n = len(cos)
    straight = cos > straight_cos
    if not closed:
        straight[[0, -1]] = False
    ks = range(n) if closed else range(1, n - 1)
    return [
        k for k in ks if cos[k] < break_cos and (straight[(k - 1) % n] or straight[(k + 1) % n])
    ]


def split_sharp_turns(
    graph: CurveGraph, break_cos: float = 0.2, straight_cos: float = 0.977
) -> tuple[CurveGraph, int]:
    """Split curves at sharp turns next to straight stretches; those vertices become corners.

    As the official vectorisation does to its optimised paths before fitting splines: a
    vertex whose turn cosine (between the directions of its two segments) is below
    ``break_cos`` and that has a neighbouring vertex turning by less than
    ``straight_cos`` is a corner the extraction ran through. The path is cut there, so
    the two sides become two curves meeting at a new corner node. A closed curve with
    such vertices becomes open curves between them (one curve from and back to the
    vertex when there is only one). Vertices that are corners already are left alone.

    Returns the new graph (the input is kept) and the number of new corners.
    """
    new_corners: list[int] = []
    paths: list[list[int]] = []
    closed: list[bool] = []
    for ids, is_closed in zip(graph.paths, graph.closed, strict=True):
        cos = _turn_cos(graph.nodes[ids], is_closed)
        cuts = [
            k
            for k in _sharp_vertices(cos, is_closed, break_cos, straight_cos)
            if ids[k] >= graph.n_corners
        ]
        if not cuts:
            paths.append(list(ids))
            closed.append(is_closed)
            continue
        new_corners += [ids[k] for k in cuts]
        if is_closed:
            # Start the loop at its first cut and close it on the same node.
            ids = ids[cuts[0] :] + ids[: cuts[0] + 1]
            cuts = [k - cuts[0] for k in cuts]
        inner = cuts[1:] if is_closed else cuts
        bounds = [0, *inner, len(ids) - 1]
        for a, b in itertools.pairwise(bounds):
            paths.append(list(ids[a : b + 1]))
            closed.append(False)
    if not new_corners:
        return CurveGraph(graph.nodes.copy(), graph.n_corners, paths, closed), 0
    first = set(new_corners)
    order = [
        *range(graph.n_corners),
        *new_corners,
        *(i for i in range(graph.n_corners, len(graph.nodes)) if i not in first),
    ]
    n_corners = graph.n_corners + len(new_corners)
    return _reordered(graph.nodes, order, n_corners, paths, closed), len(new_corners)


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


def _curve_support(g: CurveGraph, pts: torch.Tensor, d: torch.Tensor, outlier: float) -> np.ndarray:
    """(curves,) number of feature points whose nearest segment is on each curve and
    that agree with it (the assignment the fit uses)."""
    pairs, owner, _ = g.segments()
    if len(pairs) == 0 or len(pts) == 0:
        return np.zeros(len(g.paths), np.int64)
    index, keep = _assign(torch.as_tensor(g.nodes), pairs, pts, d, outlier)
    return np.bincount(owner[index[keep].numpy()], minlength=len(g.paths))


def _polyline(g: CurveGraph, c: int) -> np.ndarray:
    ids = g.paths[c]
    return g.nodes[ids + ids[:1] if g.closed[c] else ids]


def _to_polyline(p: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """(N,) distance of points (N, 3) to a polyline (K, 3)."""
    dist, _, _ = point_segment_distance(
        torch.from_numpy(p), torch.from_numpy(poly[:-1]), torch.from_numpy(poly[1:])
    )
    return dist.numpy()


def _merge_corners(g: CurveGraph, radius: float) -> tuple[int, int, int]:
    """Merge close corners and attach close free ends to corners, in place.

    Returns (merged corners, re-linked ends, removed degenerate curves).
    """
    nc = g.n_corners
    merged = relinked = 0
    if nc > 1:
        pairs = cKDTree(g.nodes[:nc]).query_pairs(radius, output_type="ndarray")
        if len(pairs):
            adj = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(nc, nc))
            n_groups, label = connected_components(adj, directed=False)
            merged = nc - n_groups
            # Each group becomes its lowest-numbered member, at the group's mean.
            first = {int(lab): i for i, lab in reversed(list(enumerate(label)))}
            rep = np.array([first[int(lab)] for lab in label])
            for r in np.unique(rep):
                g.nodes[r] = g.nodes[:nc][rep == r].mean(0)
            g.paths = [[int(rep[i]) if i < nc else i for i in p] for p in g.paths]
    if nc:
        tree = cKDTree(g.nodes[:nc])
        for p, closed in zip(g.paths, g.closed, strict=True):
            if closed:
                continue
            for k in (0, -1):
                if p[k] < nc:
                    continue
                dist, idx = tree.query(g.nodes[p[k]])
                # Only corners still in use: a merged-away corner is an orphan now.
                if dist < radius and any(idx in (q[0], q[-1]) for q in g.paths):
                    p[k] = int(idx)
                    relinked += 1
    keep, degenerate = [], 0
    for c, p in enumerate(g.paths):
        if not g.closed[c] and p[0] == p[-1]:
            length = polyline_length(_polyline(g, c))
            # A loop through one corner (a teardrop) is kept; a curve whose two ends
            # collapsed into one node is not.
            if length < 2 * radius or len(p) < 3:
                degenerate += 1
                continue
        keep.append(c)
    _keep_curves(g, keep)
    return merged, relinked, degenerate


def _duplicates(g: CurveGraph, support: np.ndarray, distance: float, spacing: float) -> list[int]:
    """Curves that lie on top of another kept curve, least supported first."""
    polys = [_polyline(g, c) for c in range(len(g.paths))]
    samples = [sample_polylines([p], spacing) for p in polys]
    owner = np.concatenate([np.full(len(s), c) for c, s in enumerate(samples)])
    tree = cKDTree(np.concatenate(samples))
    lengths = [polyline_length(p) for p in polys]
    # Least support first (ties: shorter first), so of a mutual pair the weaker goes
    # and a piece lying along a longer curve goes whatever its support.
    order = sorted(range(len(polys)), key=lambda c: (support[c], lengths[c], c))
    dropped: set[int] = set()
    for c in order:
        near = {int(owner[j]) for js in tree.query_ball_point(samples[c], distance) for j in js}
        for o in sorted(near - dropped - {c}):
            if _to_polyline(samples[c], polys[o]).mean() < distance:
                dropped.add(c)
                break
    return sorted(dropped)


def _small_groups(g: CurveGraph, min_length: float, max_curves: int) -> list[int]:
    """Open curves in connected groups (via shared nodes) that are small and short."""
    n = len(g.paths)
    if n == 0:
        return []
    # Curves are linked when they share an end node.
    ends = [(c, p[k]) for c, p in enumerate(g.paths) if not g.closed[c] for k in (0, -1)]
    by_node: dict[int, list[int]] = {}
    for c, node in ends:
        by_node.setdefault(node, []).append(c)
    rows, cols = [], []
    for cs in by_node.values():
        rows += [cs[0]] * len(cs)
        cols += cs
    adj = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    _, label = connected_components(adj, directed=False)
    lengths = np.array([polyline_length(_polyline(g, c)) for c in range(n)])
    out = []
    for lab in np.unique(label):
        members = np.flatnonzero(label == lab)
        # Closed curves stand alone and are exempt, as in the official clip (it only
        # groups straight lines and open splines).
        if any(g.closed[c] for c in members):
            continue
        if len(members) <= max_curves and lengths[members].sum() < min_length:
            out += members.tolist()
    return out


def _keep_curves(g: CurveGraph, keep: list[int]) -> None:
    g.paths = [g.paths[c] for c in keep]
    g.closed = [g.closed[c] for c in keep]


def _drop_curves(g: CurveGraph, drop: list[int]) -> None:
    dropped = set(drop)
    _keep_curves(g, [c for c in range(len(g.paths)) if c not in dropped])


def _reordered(
    nodes: np.ndarray, order: list[int], n_corners: int, paths: list[list[int]], closed: list[bool]
) -> CurveGraph:
    """The graph of ``nodes[order]`` (corners first: the first ``n_corners``), with the
    paths' node indices renumbered accordingly."""
    remap = {old: new for new, old in enumerate(order)}
    return CurveGraph(
        nodes[order].reshape(-1, 3), n_corners, [[remap[i] for i in p] for p in paths], closed
    )


def _compact(g: CurveGraph) -> CurveGraph:
    """Drop nodes no curve uses (orphaned corners included), corners first, order kept."""
    used = sorted({i for p in g.paths for i in p})
    order = [i for i in used if i < g.n_corners] + [i for i in used if i >= g.n_corners]
    n_corners = sum(i < g.n_corners for i in used)
    return _reordered(g.nodes, order, n_corners, g.paths, list(g.closed))


def _clean(
    graph: CurveGraph, pts: torch.Tensor, d: torch.Tensor, cfg: CurveConfig
) -> tuple[CurveGraph, TopologyReport]:
    g = CurveGraph(
        graph.nodes.copy(), graph.n_corners, [list(p) for p in graph.paths], list(graph.closed)
    )
    before = len(g.paths)
    merged, relinked, degenerate = _merge_corners(g, cfg.merge_radius)
    duplicates: list[int] = []
    if len(g.paths) > 1:
        support = _curve_support(g, pts, d, cfg.refine_outlier)
        duplicates = _duplicates(g, support, cfg.duplicate_distance, cfg.step / 2)
        _drop_curves(g, duplicates)
    # Support again: the points of a dropped duplicate now belong to its twin.
    support = _curve_support(g, pts, d, cfg.refine_outlier)
    weak = [c for c in range(len(g.paths)) if support[c] < cfg.min_curve_points]
    _drop_curves(g, weak)
    small = _small_groups(g, cfg.min_component_length, cfg.min_component_curves)
    _drop_curves(g, small)
    report = TopologyReport(
        before, len(g.paths), merged, relinked, degenerate, len(duplicates), len(weak), len(small)
    )
    if merged == relinked == 0 and len(g.paths) == before:
        return graph, report  # nothing changed: the very same graph
    return _compact(g), report


def clean_graph(
    graph: CurveGraph, points: np.ndarray, distances: np.ndarray, cfg: CurveConfig
) -> tuple[CurveGraph, TopologyReport]:
    """One topology clean-up of a curve network against a field (the input is kept).

    In this order: merge corners closer than ``cfg.merge_radius`` (and attach free ends
    that close to a corner; remove curves whose ends collapsed and that are shorter
    than two merge radii); drop curves lying on top of a better supported one
    (``duplicate_distance``); drop curves explaining fewer than ``min_curve_points``
    feature points; drop small isolated groups of open curves
    (``min_component_length``, ``min_component_curves``); drop unused nodes.
    """
    points, distances = _check_field(points, distances)
    feat = distances < cfg.threshold
    return _clean(graph, torch.as_tensor(points[feat]), torch.as_tensor(distances[feat]), cfg)


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
        poly = _polyline(graph, c)
        line = sample_polylines([poly], cfg.step / 2)
        ends = () if closed else tuple(i for i in (ids[0], ids[-1]) if i < graph.n_corners)
        spline = fit_spline(line, closed, cfg.spline_tol, pin_ends=bool(ends))
        band = pts[curve_of_point == c]
        length = polyline_length(poly)
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
