"""Patch metrics in the layout of the paper's Table 2.

All metrics ignore background pixels (``mask`` false). With ``gt`` and ``pred`` the
true and predicted truncated distances of one item (patch):

- RMSE: ``sqrt(mean((pred - gt)^2))`` per item, averaged over items;
- RMSE-q95: the 95 % quantile of the per-pixel absolute error per item (the square
  root of the quantile of squared errors), averaged over items;
- Recall / FPR at threshold ``t`` (0.02): pixels with ``gt < t`` are the positives,
  ``pred < t`` the predicted positives; recall = TP / (TP + FN) averaged over items
  that have positives, FPR = FP / (FP + TN) averaged over items that have negatives.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PatchMetrics:
    """One row of Table 2."""

    rmse: float
    """Mean over items of the per-item RMSE."""
    rmse_q95: float
    """Mean over items of the per-item 95 % quantile of the absolute error."""
    recall: float
    """Mean recall at the threshold, in [0, 1]."""
    fpr: float
    """Mean false-positive rate at the threshold, in [0, 1]."""
    n_items: int
    """Items evaluated (items without surface pixels are skipped)."""

    def row(self, name: str) -> list[str | float]:
        """A Table 2 row: RMSE x1e-3, RMSE-q95 x1e-3, Recall %, FPR %."""
        return [
            name,
            round(self.rmse * 1e3, 2),
            round(self.rmse_q95 * 1e3, 2),
            round(self.recall * 100, 2),
            round(self.fpr * 100, 3),
        ]


TABLE2_HEADERS = ["Method", "RMSE x1e-3", "RMSE-q95 x1e-3", "Recall %", "FPR %"]


def patch_metrics(
    pred: np.ndarray, gt: np.ndarray, mask: np.ndarray, threshold: float = 0.02
) -> PatchMetrics:
    """Table 2 metrics of (N, H, W) predictions against targets on masked pixels."""
    pred, gt, mask = (
        np.asarray(pred, np.float64),
        np.asarray(gt, np.float64),
        np.asarray(mask, bool),
    )
    if pred.shape != gt.shape or gt.shape != mask.shape:
        raise ValueError(f"patch_metrics: shapes differ: {pred.shape}, {gt.shape}, {mask.shape}")
    rmse, q95, recall, fpr = [], [], [], []
    for p, g, m in zip(pred, gt, mask):
        if not m.any():
            continue
        err = p[m] - g[m]
        rmse.append(np.sqrt(np.mean(err**2)))
        q95.append(np.quantile(np.abs(err), 0.95))
        pos, hit = g[m] < threshold, p[m] < threshold
        if pos.any():
            recall.append(np.sum(hit & pos) / np.sum(pos))
        if (~pos).any():
            fpr.append(np.sum(hit & ~pos) / np.sum(~pos))

    def mean(v: list) -> float:
        return float(np.mean(v)) if v else float("nan")

    return PatchMetrics(mean(rmse), mean(q95), mean(recall), mean(fpr), len(rmse))
