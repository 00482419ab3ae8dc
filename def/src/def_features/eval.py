"""Evaluate DEF and the baselines on held-out patches: the paper's Table 2 layout.

The learned model predicts distances on the test patches; the PCA and VCM baselines
compute their sharpness scores, mapped to distances by a monotone calibration fitted
on the training patches only (a bin-mean regression map plus a near-sharp detection
threshold chosen for the best training F1, so that a baseline can predict distances
below the threshold). All use the same metrics (background masked, threshold 0.02).
"""

from __future__ import annotations

import numpy as np

from def_features.baselines.run import BASELINES, fit_baseline, predict_baseline
from def_features.metrics import TABLE2_HEADERS, PatchMetrics, patch_metrics
from def_features.model.unet import DefUNet
from def_features.train import predict


def evaluate(
    model: DefUNet | None,
    depth_scale: float,
    train_arrays: dict[str, np.ndarray],
    test_arrays: dict[str, np.ndarray],
    pixel_size: float,
    baselines: tuple[str, ...] = BASELINES,
    threshold: float = 0.02,
) -> dict[str, PatchMetrics]:
    """Table 2 rows by method name ("DEF (ours)", "PCA", "VCM")."""
    mask = test_arrays["image"] > 0
    gt = test_arrays["distances"]
    rows: dict[str, PatchMetrics] = {}
    if model is not None:
        rows["DEF (ours)"] = patch_metrics(
            predict(model, test_arrays, depth_scale), gt, mask, threshold
        )
    for name in baselines:
        calib = fit_baseline(name, train_arrays, pixel_size, threshold)
        pred = predict_baseline(name, calib, test_arrays, pixel_size)
        rows[name.upper()] = patch_metrics(pred, gt, mask, threshold)
    return rows


def table_rows(rows: dict[str, PatchMetrics]) -> tuple[list[str], list[list[str | float]]]:
    """Headers and rows for printing or the report."""
    return TABLE2_HEADERS, [m.row(name) for name, m in rows.items()]


def format_table(rows: dict[str, PatchMetrics]) -> str:
    """A plain-text Table 2."""
    headers, body = table_rows(rows)
    lines = [" | ".join(headers)] + [" | ".join(str(c) for c in r) for r in body]
    return "\n".join(lines)
