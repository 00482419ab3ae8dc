"""Smoke: a shortened demo end to end.

The full demo (`npbgpp demo`, 2500 steps, ~4-6 min on CPU) must beat the points drawn in
their mean input colour; that is too long for CI, so this runs 120 steps and checks the
whole pipeline: the report holds metrics, table, comparison image and orbit video, the
model file is written, timings are positive, and the short run already renders the
unseen scene far better than an empty (black) image.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from npbgpp.data.synthetic import make_scene
from npbgpp.demo import TEST_SEED, demo_config, run_demo
from shared_utils.metrics.image import psnr

SMOKE_STEPS = 120
"""Training steps of the shortened demo."""


def test_short_demo_end_to_end(tmp_path: Path) -> None:
    summary = run_demo(tmp_path, steps=SMOKE_STEPS, train_scenes=3)
    report = json.loads((tmp_path / "report.json").read_text())
    kinds = [item["kind"] for item in report["items"]]
    assert {"text", "metrics", "table", "image", "video"} <= set(kinds)
    assert (tmp_path / "run" / "model.pt").is_file()
    assert summary["modeling_s"] > 0 and summary["render_s"] > 0
    d = demo_config().data
    _, held = make_scene(TEST_SEED, views=2, size=d.image_size, num_points=100, heldout=4)
    assert held is not None
    gt = torch.stack([held.image_tensor(i) for i in range(len(held))])
    black = float(psnr(torch.zeros_like(gt), gt).mean())
    assert summary["psnr"] > black + 3.0, (summary, black)
    assert summary["baseline_psnr"] > black + 3.0
