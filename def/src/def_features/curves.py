"""Feature curves from a distance-to-feature field (a simplified extraction).

Points whose predicted distance is below ``threshold`` (0.06 officially) are taken as
lying near a feature. They are linked into a graph (pairs closer than ``link_radius``,
networkx); each connected component becomes a curve: the longest path of its minimum
spanning tree, resampled and smoothed by averaging the feature points around each
path vertex. Curves shorter than ``min_length`` are dropped. Corner detection and
spline fitting of the paper are not implemented: curves are polylines.

Quality against ground-truth curves (both given as dense samples): Chamfer distance
(mean of the two one-way mean nearest distances) and Hausdorff distance (max of the two
one-way max distances).
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import networkx as nx
import numpy as np
from scipy.spatial import cKDTree


def extract_curves(
    points: np.ndarray,
    distances: np.ndarray,
    threshold: float = 0.06,
    link_radius: float = 0.1,
    min_length: float = 0.3,
    step: float = 0.05,
) -> list[np.ndarray]:
    """Polylines (each (K, 3)) of the feature points of a field (P, 3), (P,)."""
    feat = np.asarray(points, np.float64)[np.asarray(distances) < threshold]
    if len(feat) < 2:
        return []
    tree = cKDTree(feat)
    pairs = tree.query_pairs(link_radius, output_type="ndarray")
    graph = nx.Graph()
    graph.add_nodes_from(range(len(feat)))
    lengths = np.linalg.norm(feat[pairs[:, 0]] - feat[pairs[:, 1]], axis=1)
    graph.add_weighted_edges_from((int(a), int(b), float(w)) for (a, b), w in zip(pairs, lengths))
    curves = []
    for comp in nx.connected_components(graph):
        if len(comp) < 3:
            continue
        mst = nx.minimum_spanning_tree(graph.subgraph(comp))
        # Longest path of a tree: farthest node from any node, then farthest from it.
        start = next(iter(comp))
        far = max(nx.single_source_dijkstra_path_length(mst, start).items(), key=lambda kv: kv[1])[
            0
        ]
        dist, paths = nx.single_source_dijkstra(mst, far)
        end = max(dist.items(), key=lambda kv: kv[1])[0]
        if dist[end] < min_length:
            continue
        path = feat[paths[end]]
        seg = np.linalg.norm(np.diff(path, axis=0), axis=1)
        s = np.concatenate([[0.0], np.cumsum(seg)])
        t = np.linspace(0, s[-1], max(int(s[-1] / step), 1) + 1)
        resampled = np.stack([np.interp(t, s, path[:, i]) for i in range(3)], -1)
        nbrs = tree.query_ball_point(resampled, link_radius)
        smooth = np.array([feat[n].mean(0) if n else p for p, n in zip(resampled, nbrs)])
        curves.append(smooth)
    return curves


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
    d_pg = cKDTree(gt).query(pred)[0]
    d_gp = cKDTree(pred).query(gt)[0]
    return {
        "chamfer": float(0.5 * (d_pg.mean() + d_gp.mean())),
        "hausdorff": float(max(d_pg.max(), d_gp.max())),
    }


def write_curves(out_dir: Path, curves: list[np.ndarray]) -> None:
    """``curves.json`` (list of point lists) and ``curves.obj`` (``v`` + ``l`` lines)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "curves.json").write_text(json.dumps([c.round(6).tolist() for c in curves]))
    lines, offset = [], 1
    for c in curves:
        lines += [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in c]
        lines.append("l " + " ".join(str(offset + i) for i in range(len(c))))
        offset += len(c)
    (out_dir / "curves.obj").write_text("\n".join(lines) + "\n")
