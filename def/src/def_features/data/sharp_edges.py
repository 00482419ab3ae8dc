"""Sharp feature curves of a plain triangle mesh, from dihedral angles.

For meshes without parametric annotations (any OBJ/PLY/STL/OFF, and the procedural
parts, whose exact construction has only flat faces and finely faceted round faces),
an edge is sharp when the angle between the normals of its two faces exceeds a
threshold. Sharp edges are chained into curves: chains break at vertices where the
number of incident sharp edges is not two, so every curve is a polyline between
corners (or a closed loop).
"""

from __future__ import annotations

import numpy as np


def sharp_edges(
    vertices: np.ndarray, faces: np.ndarray, angle_deg: float
) -> tuple[np.ndarray, np.ndarray]:
    """Sharp edges of a mesh after merging duplicate vertices.

    Returns:
        vertices: (V', 3) merged vertex positions.
        edges: (E, 2) index pairs into them whose dihedral angle exceeds ``angle_deg``;
            boundary edges (one face) of open meshes count as sharp too.
    """
    import trimesh

    mesh = trimesh.Trimesh(
        np.asarray(vertices, np.float64), np.asarray(faces, np.int64), process=True
    )
    angles = mesh.face_adjacency_angles
    edges = mesh.face_adjacency_edges[angles > np.deg2rad(angle_deg)]
    boundary = _boundary_edges(np.asarray(mesh.faces))
    if len(boundary):
        edges = np.concatenate([edges, boundary])
    return np.asarray(mesh.vertices, np.float64), np.asarray(edges, np.int64).reshape(-1, 2)


def _boundary_edges(faces: np.ndarray) -> np.ndarray:
    e = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    uniq, counts = np.unique(e, axis=0, return_counts=True)
    return uniq[counts == 1]


def chain_edges(edges: np.ndarray) -> list[np.ndarray]:
    """Split sharp edges (E, 2) into polylines of vertex indices, broken at corners.

    A corner is a vertex with a number of incident sharp edges other than two. Closed
    loops without corners come back with their first vertex repeated at the end.
    """
    from collections import defaultdict

    adj: dict[int, list[int]] = defaultdict(list)
    for a, b in edges.tolist():
        if a != b:
            adj[a].append(b)
            adj[b].append(a)
    used: set[tuple[int, int]] = set()
    chains: list[np.ndarray] = []

    def walk(start: int, nxt: int) -> list[int]:
        path = [start]
        prev, cur = start, nxt
        used.add((min(prev, cur), max(prev, cur)))
        while True:
            path.append(cur)
            if len(adj[cur]) != 2 or cur == start:
                return path
            a, b = adj[cur]
            following = b if a == prev else a
            key = (min(cur, following), max(cur, following))
            if key in used:
                return path
            used.add(key)
            prev, cur = cur, following

    for v in adj:
        if len(adj[v]) != 2:
            for n in adj[v]:
                if (min(v, n), max(v, n)) not in used:
                    chains.append(np.array(walk(v, n)))
    for v in adj:  # remaining closed loops
        for n in adj[v]:
            if (min(v, n), max(v, n)) not in used:
                chains.append(np.array(walk(v, n)))
    return chains


def sharp_polylines(vertices: np.ndarray, faces: np.ndarray, angle_deg: float) -> list[np.ndarray]:
    """Sharp curves of a mesh as a list of (K, 3) polylines."""
    merged, edges = sharp_edges(vertices, faces, angle_deg)
    return [merged[c] for c in chain_edges(edges)]
