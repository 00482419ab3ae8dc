"""Monotone calibration of a sharpness score into a distance estimate.

The non-learned baselines output a sharpness score (larger = more edge-like), not a
distance. To put them in the same table as DEF, the score is mapped to a distance by
a non-increasing function fitted on training patches only, in two parts:

1. **Regression** (what RMSE sees): scores are split into quantile bins, each bin
   predicts the mean true distance of its training pixels, and a running minimum
   makes the map monotone (a pool-adjacent-violators shortcut). A bin mean averages
   near and far pixels, so on its own this map never predicts a distance below the
   detection threshold (0.02) and Recall / FPR would be 0 by construction.
2. **Detection** (what Recall / FPR see): a score threshold ``s*`` is chosen on the
   training pixels for the best F1 of the rule "score >= s*" against "true distance <
   threshold". Pixels at or above it are called near-sharp and predict at most
   ``detect_distance``: the mean true distance of the training pixels that the rule
   calls and that truly are below the threshold, so it lies below the threshold. If
   no score threshold reaches F1 > 0 (or no training pixel is near a curve), the
   detection part is off (``detect_score = inf``).

The combined map is still non-increasing in the score.
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
    detect_score: float = float("inf")
    """Scores at or above this are called near-sharp (inf: detection off)."""
    detect_distance: float = 0.0
    """Distance predicted (at most) for a near-sharp score; below the fit's threshold."""
    threshold: float = 0.02
    """Distance threshold the detection part was fitted for."""
    train_f1: float = 0.0
    """F1 of the detection rule on the training pixels it was fitted on."""

    def __call__(self, score: np.ndarray) -> np.ndarray:
        """Distances of (...) scores (linear between knots, constant outside)."""
        s = np.asarray(score, np.float64)
        d = np.interp(s, self.score_knots, self.distance_knots)
        return np.where(s >= self.detect_score, np.minimum(d, self.detect_distance), d)


def best_f1_threshold(score: np.ndarray, positive: np.ndarray) -> tuple[float, float, np.ndarray]:
    """The score threshold ``s*`` maximising F1 of ``score >= s*`` against ``positive``.

    Only thresholds at distinct score values are tried (ties are called together).

    Returns:
        ``(s*, F1, called)``: ``s* = inf`` and F1 0 when there is no positive or no
        threshold reaches F1 > 0; ``called`` is the (P,) bool mask ``score >= s*``.
    """
    score = np.asarray(score, np.float64).ravel()
    positive = np.asarray(positive, bool).ravel()
    n_pos = int(positive.sum())
    if n_pos == 0 or len(score) == 0:
        return float("inf"), 0.0, np.zeros(len(score), bool)
    order = np.argsort(-score, kind="stable")
    s_sorted = score[order]
    tp = np.cumsum(positive[order])
    k = np.arange(1, len(score) + 1)
    # Only cut after the last of a run of equal scores.
    last = np.r_[s_sorted[1:] != s_sorted[:-1], True]
    f1 = np.where(last, 2.0 * tp / (k + n_pos), -1.0)
    best = int(np.argmax(f1))
    if f1[best] <= 0:
        return float("inf"), 0.0, np.zeros(len(score), bool)
    s_star = float(s_sorted[best])
    return s_star, float(f1[best]), score >= s_star


def fit_calibration(
    score: np.ndarray, distance: np.ndarray, n_bins: int = 32, threshold: float = 0.02
) -> ScoreCalibration:
    """Fit on (P,) training scores and true distances of surface pixels.

    ``threshold`` is the near-sharp distance of the detection part (the metrics'
    Recall / FPR threshold).
    """
    score, distance = (
        np.asarray(score, np.float64).ravel(),
        np.asarray(distance, np.float64).ravel(),
    )
    ok = np.isfinite(score) & np.isfinite(distance)
    score, distance = score[ok], distance[ok]
    if len(score) < n_bins:
        raise ValueError(f"fit_calibration: need >= {n_bins} samples, got {len(score)}")
    if not threshold > 0:
        raise ValueError(f"fit_calibration: threshold must be positive, got {threshold}")
    edges = np.unique(np.quantile(score, np.linspace(0, 1, n_bins + 1)))
    which = np.clip(np.searchsorted(edges, score, side="right") - 1, 0, len(edges) - 2)
    centres, means = [], []
    for b in range(len(edges) - 1):
        sel = which == b
        if sel.any():
            centres.append(float(score[sel].mean()))
            means.append(float(distance[sel].mean()))
    positive = distance < threshold
    s_star, f1, called = best_f1_threshold(score, positive)
    hits = called & positive
    detect_distance = float(distance[hits].mean()) if hits.any() else 0.0
    return ScoreCalibration(
        np.array(centres),
        np.minimum.accumulate(np.array(means)),
        detect_score=s_star,
        detect_distance=detect_distance,
        threshold=float(threshold),
        train_f1=f1,
    )
