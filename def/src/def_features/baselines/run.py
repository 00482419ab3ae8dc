"""Run the baselines on stacked patch arrays (the HDF5 layout) and calibrate them."""

from __future__ import annotations

import numpy as np

from def_features.baselines.calibration import ScoreCalibration, fit_calibration
from def_features.baselines.pca import pca_sharpness
from def_features.baselines.vcm import vcm_sharpness
from def_features.data.scan import OrthoView, unproject

BASELINES: tuple[str, ...] = ("pca", "vcm")


def patch_points(
    image: np.ndarray, pose: np.ndarray, pixel_size: float
) -> tuple[np.ndarray, np.ndarray]:
    """World points (H, W, 3) and mask (H, W) of one stored patch."""
    mask = image > 0
    view = OrthoView(
        np.linalg.inv(np.asarray(pose, np.float64)), pixel_size, image.shape[1], image.shape[0]
    )
    return unproject(view, np.where(mask, image.astype(np.float64), np.inf)), mask


def baseline_scores(
    name: str, arrays: dict[str, np.ndarray], default_pixel_size: float
) -> np.ndarray:
    """(N, H, W) sharpness scores of a baseline on every patch (NaN off the surface)."""
    images = arrays["image"]
    poses = arrays["camera_pose"]
    res = arrays.get("resolution_3d", np.full(len(images), default_pixel_size))
    out = np.full(images.shape, np.nan)
    for k in range(len(images)):
        pts, mask = patch_points(images[k], poses[k], float(res[k]))
        if not mask.any():
            continue
        if name == "pca":
            out[k] = pca_sharpness(pts, mask, window=7)
        elif name == "vcm":
            ps = float(res[k])
            out[k][mask] = vcm_sharpness(pts[mask], 3.0 * ps, 3.0 * ps, samples=48, seed=k)
        else:
            raise ValueError(f"unknown baseline {name!r}; known: {BASELINES}")
    return out


def fit_baseline(
    name: str, train: dict[str, np.ndarray], default_pixel_size: float, threshold: float = 0.02
) -> ScoreCalibration:
    """Scores on training patches -> a monotone score-to-distance map whose detection
    part is fitted for ``threshold`` (see :mod:`def_features.baselines.calibration`).
    Only ``train`` is read: the evaluated patches never enter the fit."""
    scores = baseline_scores(name, train, default_pixel_size)
    mask = (train["image"] > 0) & np.isfinite(scores)
    return fit_calibration(scores[mask], train["distances"][mask], threshold=threshold)


def predict_baseline(
    name: str,
    calib: ScoreCalibration,
    arrays: dict[str, np.ndarray],
    default_pixel_size: float,
    truncation: float = 1.0,
) -> np.ndarray:
    """(N, H, W) distance estimates of a calibrated baseline (``truncation`` where unknown).

    Reads only the depth images and poses of ``arrays`` (never their ``distances``)."""
    scores = baseline_scores(name, arrays, default_pixel_size)
    pred = calib(np.nan_to_num(scores, nan=-1.0))
    return np.where(np.isfinite(scores), pred, truncation)
