"""Voronoi covariance measure (VCM) baseline, after Mérigot, Ovsjanikov & Guibas (2011).

For a point cloud P, the VCM of a point p_i with offset radius R is the covariance of
its Voronoi cell clipped to the ball B(p_i, R):

    V_R(p_i) = integral over Vor(p_i) ∩ B(p_i, R) of (x - p_i)(x - p_i)^T dx,

and the convolved measure sums it over the neighbours within r: V(p) = sum over
p_i in B(p, r) of V_R(p_i). On a smooth surface the cells are needles along the normal
(one dominant eigenvalue); on a sharp edge they fan out over the normal cone (two).
The score is ``l1 / (l0 + l1 + l2)`` with l0 >= l1 >= l2.

The cell integrals are estimated by Monte Carlo: ``samples`` uniform points in each
ball, kept when their nearest cloud point is the ball's centre.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree


def vcm_sharpness(
    points: np.ndarray,
    offset_radius: float,
    convolution_radius: float,
    samples: int = 48,
    seed: int = 0,
) -> np.ndarray:
    """VCM edge score of every point.

    Args:
        points: (N, 3) point cloud.
        offset_radius: R, the clipping ball of the Voronoi cells.
        convolution_radius: r, the neighbourhood summed over.
        samples: Monte Carlo samples per ball.
        seed: sampling seed.

    Returns:
        (N,) score in [0, 1/2].
    """
    pts = np.asarray(points, np.float64)
    n = len(pts)
    if n == 0:
        return np.zeros(0)
    rng = np.random.default_rng(seed)
    tree = cKDTree(pts)
    dirs = rng.normal(size=(n, samples, 3))
    dirs /= np.linalg.norm(dirs, axis=-1, keepdims=True)
    radii = offset_radius * rng.random((n, samples, 1)) ** (1.0 / 3.0)
    offsets = dirs * radii
    x = pts[:, None, :] + offsets
    _, nearest = tree.query(x.reshape(-1, 3))
    keep = (nearest.reshape(n, samples) == np.arange(n)[:, None]).astype(np.float64)
    cell = np.einsum("ns,nsi,nsj->nij", keep, offsets, offsets)
    # Convolution: sum the cell covariances over the r-neighbourhood (sparse matrix).
    pairs = tree.query_pairs(convolution_radius, output_type="ndarray")
    total = cell.copy()
    if len(pairs):
        np.add.at(total, pairs[:, 0], cell[pairs[:, 1]])
        np.add.at(total, pairs[:, 1], cell[pairs[:, 0]])
    lam = np.clip(np.linalg.eigvalsh(total)[:, ::-1], 0.0, None)
    return lam[:, 1] / np.maximum(lam.sum(-1), 1e-30)
