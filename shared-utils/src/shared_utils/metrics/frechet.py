"""The Frechet distance between two Gaussians (the core of FID and FVD).

    d^2 = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^{1/2})

The matrix square root comes from ``scipy.linalg.sqrtm``. Sample covariances of
fewer samples than dimensions are singular and ``sqrtm`` can then return non-finite
values; in that case ``eps`` is added to both diagonals (as the reference FID code
does). Round-off makes the root slightly complex; imaginary parts below a tolerance are
dropped, larger ones are an error.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy import linalg


def gaussian_statistics(features: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (unbiased, N - 1) covariance of a feature set.

    Args:
        features: (N, D) with N >= 2.

    Returns:
        mu (D,) and sigma (D, D), float64.
    """
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"gaussian_statistics needs (N, D) features with N >= 2, got {f.shape}")
    return f.mean(axis=0), np.atleast_2d(np.cov(f, rowvar=False))


def frechet_distance(
    mu1: ArrayLike,
    sigma1: ArrayLike,
    mu2: ArrayLike,
    sigma2: ArrayLike,
    *,
    eps: float = 1e-6,
    imag_tol: float = 1e-3,
) -> float:
    """Squared Frechet (2-Wasserstein) distance between N(mu1, sigma1) and N(mu2, sigma2).

    Args:
        mu1, mu2: (D,) means.
        sigma1, sigma2: (D, D) covariances (symmetric positive semi-definite).
        eps: diagonal offset used when the product is too singular for ``sqrtm``.
        imag_tol: largest tolerated imaginary part on the diagonal of the root.

    Returns:
        The distance as a float (>= 0 up to round-off; FID/FVD report this value).
    """
    m1 = np.atleast_1d(np.asarray(mu1, dtype=np.float64))
    m2 = np.atleast_1d(np.asarray(mu2, dtype=np.float64))
    s1 = np.atleast_2d(np.asarray(sigma1, dtype=np.float64))
    s2 = np.atleast_2d(np.asarray(sigma2, dtype=np.float64))
    d = m1.shape[0]
    if m2.shape != (d,) or s1.shape != (d, d) or s2.shape != (d, d):
        raise ValueError(
            f"frechet_distance: shapes mu1 {m1.shape}, sigma1 {s1.shape}, mu2 {m2.shape}, "
            f"sigma2 {s2.shape} do not agree"
        )
    diff = m1 - m2
    root = linalg.sqrtm(s1 @ s2)
    if not np.all(np.isfinite(root)):
        offset = np.eye(d) * eps
        root = linalg.sqrtm((s1 + offset) @ (s2 + offset))
    if np.iscomplexobj(root):
        worst = float(np.max(np.abs(np.diagonal(root).imag)))
        if worst > imag_tol:
            raise ValueError(f"frechet_distance: matrix square root has imaginary part {worst:.3g}")
        root = root.real
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(root))
