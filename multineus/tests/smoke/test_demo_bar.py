"""The issue's quality bar on the demo's real configuration (tiny preset, identity set 0).

Meta-trains the tiny preset (4 procedural heads x 12 views at 32 px, 1500 steps), fits the
held-out head from its one frontal view and checks that the fit is clearly better than
the mean (average-coefficient) head: face and head Chamfer both <= 0.9 x the mean head's.
The turntable video, report and real face scan are left to ``test_demo.py``.
"""

from __future__ import annotations

import os

import torch

from multineus.config import tiny_config
from multineus.demo import BAR_FACTOR, run_demo

THREADS = int(os.environ.get("MULTINEUS_BAR_THREADS", "2"))
"""Torch threads: CI has 2 cores. The float summation order, hence the trajectory, depends
on it; the bar was verified at 1 and 2 (``MULTINEUS_BAR_THREADS=1``)."""


def test_demo_fit_beats_the_mean_head_from_one_view(tmp_path) -> None:
    torch.set_num_threads(THREADS)
    try:
        r = run_demo(tiny_config(), tmp_path, face_scan=False)
    finally:
        torch.set_num_threads(1)
    print(f"threads={THREADS} {r}")
    # Measured (mm, face / head): 2 threads mean head 5.42 / 4.30, fitted 3.88 / 3.51;
    # 1 thread mean head 5.55 / 4.29, fitted 3.31 / 3.39 (README, demo section). The bounds
    # leave ~0.5 mm of room above the fitted values and below the mean head's.
    assert r.bar_met, (r.fitted, r.mean_head)
    assert r.fitted.face_mm <= BAR_FACTOR * r.mean_head.face_mm
    assert r.fitted.head_mm <= BAR_FACTOR * r.mean_head.head_mm
    assert r.fitted.face_mm < 4.4 and r.fitted.head_mm < 4.0
    assert r.mean_head.face_mm > 4.8 and r.mean_head.head_mm > 3.7
    # every mesh aligned with its ground truth (ICP found the head, not a local fit)
    for res in (r.mean_head, r.fitted, r.train_head):
        assert res.icp_fitness > 0.9
    # the single input view's silhouette is reproduced better after fitting (measured
    # 0.96 -> 0.99 at 2 threads, 0.96 -> 1.00 at 1)
    assert r.fitted_iou > r.mean_iou and r.fitted_iou > 0.95
    assert r.face_scan is None and "face_scan=False" in r.face_scan_note
