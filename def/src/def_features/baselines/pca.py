"""PCA-sharpness baseline: local covariance eigenvalues of the scanned points.

For every surface pixel, the points of a square window of ``window`` pixels around it
(surface pixels only) give a 3x3 covariance; its eigenvalues l0 <= l1 <= l2 give the
surface variation ``l0 / (l0 + l1 + l2)``, close to 0 on flat regions and large where
the neighbourhood bends over an edge. Window sums are computed with box filters, so
the whole patch costs a few image filters plus one batched 3x3 eigen-solve.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter


def pca_sharpness(points: np.ndarray, mask: np.ndarray, window: int = 7) -> np.ndarray:
    """Surface variation per pixel.

    Args:
        points: (H, W, 3) world points of a patch (anything where ``~mask``).
        mask: (H, W) bool surface pixels.
        window: side of the square neighbourhood in pixels.

    Returns:
        (H, W) score in [0, 1/3]; NaN off the surface or with < 4 neighbours.
    """
    m = mask.astype(np.float64)
    centre = points[mask].mean(0) if mask.any() else np.zeros(3)
    x = np.where(mask[..., None], points - centre, 0.0)

    def box(a: np.ndarray) -> np.ndarray:
        return uniform_filter(a, size=window, mode="constant") * window * window

    n = box(m)
    s1 = np.stack([box(x[..., i]) for i in range(3)], -1)
    s2 = np.empty((*mask.shape, 3, 3))
    for i in range(3):
        for j in range(i, 3):
            s2[..., i, j] = s2[..., j, i] = box(x[..., i] * x[..., j])
    nn = np.maximum(n, 1.0)[..., None, None]
    mu = s1 / nn[..., 0]
    cov = s2 / nn - mu[..., :, None] * mu[..., None, :]
    lam = np.clip(np.linalg.eigvalsh(cov), 0.0, None)
    score = lam[..., 0] / np.maximum(lam.sum(-1), 1e-20)
    return np.where(mask & (n >= 4 - 1e-6), score, np.nan)
