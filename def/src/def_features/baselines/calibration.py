"""Monotone calibration of a sharpness score into a distance estimate.

The non-learned baselines output a sharpness score (larger = more edge-like), not a
distance. To put them in the same table as DEF, the score is mapped to a distance by
a non-increasing step function fitted on training patches: scores are split into
quantile bins, each bin predicts the mean true distance of its training pixels, and a
running minimum makes the map monotone (a pool-adjacent-violators shortcut).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ScoreCalibration:
    """A fitted score -> distance map."""

    score_knots: np.ndarray
    """(K,) increasing bin-centre scores."""
    distance_knots: np.ndarray
    """(K,) non-increasing distances at those scores."""

    def __call__(self, score: np.ndarray) -> np.ndarray:
        """Distances of (...) scores (linear between knots, constant outside)."""
        return np.interp(score, self.score_knots, self.distance_knots)


def fit_calibration(score: np.ndarray, distance: np.ndarray, n_bins: int = 32) -> ScoreCalibration:
    """Fit on (P,) training scores and true distances of surface pixels."""
    score, distance = (
        np.asarray(score, np.float64).ravel(),
        np.asarray(distance, np.float64).ravel(),
    )
    ok = np.isfinite(score) & np.isfinite(distance)
    score, distance = score[ok], distance[ok]
    if len(score) < n_bins:
        raise ValueError(f"fit_calibration: need >= {n_bins} samples, got {len(score)}")
    edges = np.unique(np.quantile(score, np.linspace(0, 1, n_bins + 1)))
    which = np.clip(np.searchsorted(edges, score, side="right") - 1, 0, len(edges) - 2)
    centres, means = [], []
    for b in range(len(edges) - 1):
        sel = which == b
        if sel.any():
            centres.append(float(score[sel].mean()))
            means.append(float(distance[sel].mean()))
    return ScoreCalibration(np.array(centres), np.minimum.accumulate(np.array(means)))
