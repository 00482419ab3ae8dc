"""Smoke: a shortened demo end to end, with its quality bar.

Trains the tiny model on embedded scenes, models an unseen scene without fitting and
renders held-out views: NPBG++ must beat the same points drawn in their mean input
colour, and the report must hold the metrics, the comparison image and the orbit video.
"""

from __future__ import annotations

import json
from pathlib import Path

from npbgpp.demo import run_demo


def test_short_demo_beats_mean_colour_points(tmp_path: Path) -> None:
    summary = run_demo(tmp_path, steps=SMOKE_STEPS)
    report = json.loads((tmp_path / "report.json").read_text())
    kinds = [item["kind"] for item in report["items"]]
    assert {"text", "metrics", "table", "image", "video"} <= set(kinds)
    assert (tmp_path / "run" / "model.pt").is_file()
    assert summary["psnr"] > summary["baseline_psnr"] + SMOKE_MARGIN_DB, summary


SMOKE_STEPS = 400
"""Training steps of the shortened demo."""
SMOKE_MARGIN_DB = 0.5
"""Required PSNR lead over the mean-colour points."""
