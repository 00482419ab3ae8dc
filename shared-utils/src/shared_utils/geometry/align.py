"""Closed-form alignment of corresponding point sets: rigid (Kabsch) and similarity
(Umeyama), both with optional per-point weights and the reflection fix."""

from __future__ import annotations

import numpy as np


def _check(
    src: np.ndarray, dst: np.ndarray, weights: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate shapes and return float64 (N, 3), (N, 3) and normalised weights (N,)."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    if src.ndim != 2 or src.shape[1] != 3 or src.shape != dst.shape:
        raise ValueError(
            f"alignment needs two (N, 3) arrays of equal shape, got {src.shape} and {dst.shape}"
        )
    if src.shape[0] < 3:
        raise ValueError(f"alignment needs at least 3 correspondences, got {src.shape[0]}")
    if weights is None:
        w = np.full(src.shape[0], 1.0 / src.shape[0])
    else:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (src.shape[0],) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError("weights must be (N,), non-negative, with a positive sum")
        w = w / w.sum()
    return src, dst, w


def _rotation_and_stats(
    src: np.ndarray, dst: np.ndarray, w: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Weighted centroids, the optimal proper rotation, singular values and the sign fix."""
    mu_s = w @ src
    mu_d = w @ dst
    cov = (dst - mu_d).T @ ((src - mu_s) * w[:, None])  # sum w (d - mu_d)(s - mu_s)^T
    U, S, Vt = np.linalg.svd(cov)
    # Flip the weakest direction when the best orthogonal matrix is a reflection.
    fix = np.ones(3)
    if np.linalg.det(U) * np.linalg.det(Vt) < 0:
        fix[2] = -1.0
    R = U @ np.diag(fix) @ Vt
    return R, mu_s, mu_d, S, fix, cov


def rigid_align(
    src: np.ndarray, dst: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares rotation and translation with ``dst ~ R @ src + t`` (Kabsch).

    Args:
        src: (N, 3) source points.
        dst: (N, 3) corresponding target points.
        weights: (N,) optional non-negative weights.

    Returns:
        R: (3, 3) proper rotation (det +1, never a reflection).
        t: (3,) translation.
    """
    src, dst, w = _check(src, dst, weights)
    R, mu_s, mu_d, _, _, _ = _rotation_and_stats(src, dst, w)
    return R, mu_d - R @ mu_s


def similarity_align(
    src: np.ndarray, dst: np.ndarray, weights: np.ndarray | None = None
) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares similarity with ``dst ~ s * R @ src + t`` (Umeyama 1991).

    Args:
        src: (N, 3) source points.
        dst: (N, 3) corresponding target points.
        weights: (N,) optional non-negative weights.

    Returns:
        s: positive scale.
        R: (3, 3) proper rotation.
        t: (3,) translation.
    """
    src, dst, w = _check(src, dst, weights)
    R, mu_s, mu_d, S, fix, _ = _rotation_and_stats(src, dst, w)
    var_s = float(w @ ((src - mu_s) ** 2).sum(1))
    if var_s <= 0:
        raise ValueError("similarity_align: source points are all identical")
    s = float(S @ fix) / var_s
    return s, R, mu_d - s * R @ mu_s
