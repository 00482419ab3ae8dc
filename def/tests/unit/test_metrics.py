"""Table 2 metrics on hand-made arrays."""

from __future__ import annotations

import numpy as np
import pytest

from def_features.metrics import patch_metrics


def test_metrics_on_hand_made_patches() -> None:
    gt = np.array([[[0.0, 0.01, 0.5, 1.0]], [[0.3, 0.3, 0.01, 9.0]]])
    pred = np.array([[[0.01, 0.5, 0.01, 1.0]], [[0.3, 0.5, 0.0, 0.0]]])
    mask = np.array([[[True, True, True, True]], [[True, True, True, False]]])
    m = patch_metrics(pred, gt, mask, threshold=0.02)
    # item 0 errors: 0.01, 0.49, -0.49, 0; item 1 (3 pixels): 0, 0.2, -0.01.
    r0 = np.sqrt((0.01**2 + 0.49**2 * 2) / 4)
    r1 = np.sqrt((0.2**2 + 0.01**2) / 3)
    assert m.rmse == pytest.approx((r0 + r1) / 2)
    q0 = np.quantile([0.01, 0.49, 0.49, 0.0], 0.95)
    q1 = np.quantile([0.0, 0.2, 0.01], 0.95)
    assert m.rmse_q95 == pytest.approx((q0 + q1) / 2)
    # item 0: positives {0, 1}, predicted positives {0, 2}: recall 1/2, FPR 1/2.
    # item 1: positives {2}, predicted {2}: recall 1, FPR 0 (masked pixel ignored).
    assert m.recall == pytest.approx(0.75)
    assert m.fpr == pytest.approx(0.25)
    assert m.n_items == 2
    assert m.row("x") == ["x", round(m.rmse * 1e3, 2), round(m.rmse_q95 * 1e3, 2), 75.0, 25.0]


def test_perfect_prediction_and_empty_items() -> None:
    gt = np.random.default_rng(0).random((3, 8, 8))
    mask = np.ones_like(gt, bool)
    mask[2] = False
    m = patch_metrics(gt, gt, mask)
    assert m.rmse == 0 and m.rmse_q95 == 0 and m.fpr == 0 and m.n_items == 2
    with pytest.raises(ValueError, match="shapes"):
        patch_metrics(gt, gt[:2], mask)
