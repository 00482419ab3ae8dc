"""Smoke: the shortened demo end to end, with its quality bar."""

from __future__ import annotations

import json
from pathlib import Path

from def_features.data.hdf5_patches import read_patches
from def_features.demo import run_demo


def test_quick_demo_beats_pca_and_writes_report(tmp_path: Path) -> None:
    result = run_demo(tmp_path, quick=True)
    # The bar: the learned model beats PCA's RMSE on held-out patches.
    assert result["def_rmse"] < result["pca_rmse"], result
    report = json.loads((tmp_path / "report.json").read_text())
    kinds = [item["kind"] for item in report["items"]]
    assert {"text", "table", "metrics", "image"} <= set(kinds)
    assert (tmp_path / "fusion" / "fused.ply").stat().st_size > 1000
    test = read_patches(tmp_path / "test.hdf5")
    assert len(test["image"]) >= 8 and test["image"].shape[1:] == (64, 64)
    # Curve stage: JSON with corners and fitted curves, a picture, metrics vs ground truth.
    curves = json.loads((tmp_path / "fusion" / "curves.json").read_text())
    assert set(curves) == {"corners", "curves"}
    assert (tmp_path / "fusion" / "curves.png").stat().st_size > 1000
    fusion = next(i for i in report["items"] if i["kind"] == "metrics" and "curve_curves" in str(i))
    assert "curve_corner_recall" in str(fusion)
