"""Nearest-neighbour distances and Chamfer distances between point sets (KD-tree)."""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy.spatial import cKDTree


def nearest_distances(src: np.ndarray, dst: np.ndarray, *, squared: bool = False) -> np.ndarray:
    """Distance from every source point to its nearest destination point.

    Args:
        src: (N, 3) query points.
        dst: (M, 3) reference points, M >= 1.
        squared: return squared distances.

    Returns:
        (N,) float64 Euclidean (or squared) distances.
    """
    src = _points(src, "src")
    dst = _points(dst, "dst")
    if dst.shape[0] == 0:
        raise ValueError("nearest_distances: dst is empty")
    d, _ = cKDTree(dst).query(src, k=1)
    d = np.asarray(d, dtype=np.float64)
    return d * d if squared else d


def one_way_chamfer(src: np.ndarray, dst: np.ndarray, *, squared: bool = False) -> float:
    """Mean nearest distance from ``src`` to ``dst`` (unidirectional / "accuracy").

    Args:
        src: (N, 3) points, N >= 1.
        dst: (M, 3) points.
        squared: average squared distances instead.

    Returns:
        ``mean_i min_j |src_i - dst_j|`` (squared inside the mean when ``squared``).
    """
    d = nearest_distances(src, dst, squared=squared)
    if d.size == 0:
        raise ValueError("one_way_chamfer: src is empty")
    return float(d.mean())


def chamfer_distance(
    a: np.ndarray,
    b: np.ndarray,
    *,
    squared: bool = False,
    reduction: Literal["mean", "sum"] = "mean",
) -> float:
    """Two-way Chamfer distance.

    Args:
        a: (N, 3) points.
        b: (M, 3) points.
        squared: use squared distances in both one-way means.
        reduction: "mean" -> ``(one_way(a, b) + one_way(b, a)) / 2`` (the DTU / NeuS
            convention); "sum" -> ``one_way(a, b) + one_way(b, a)`` (the PyTorch3D /
            point-cloud-learning convention).

    Returns:
        The Chamfer distance.
    """
    ab = one_way_chamfer(a, b, squared=squared)
    ba = one_way_chamfer(b, a, squared=squared)
    if reduction == "mean":
        return 0.5 * (ab + ba)
    if reduction == "sum":
        return ab + ba
    raise ValueError(f"chamfer_distance: reduction must be 'mean' or 'sum', got {reduction!r}")


def _points(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 3:
        raise ValueError(f"{name} must be (N, 3), got {x.shape}")
    return x
