"""Curve extraction from a field, Chamfer/Hausdorff, JSON/OBJ output."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from def_features.curves import curve_metrics, extract_curves, sample_polylines, write_curves


def test_two_edges_of_a_grid_are_recovered(tmp_path: Path) -> None:
    # Points on the plane z = 0; features: the segment y = 0, x in [0, 2] and a circle.
    g = np.stack(np.meshgrid(np.arange(-1, 3, 0.02), np.arange(-1, 3, 0.02)), -1).reshape(-1, 2)
    pts = np.concatenate([g, np.zeros((len(g), 1))], 1)
    line_d = np.hypot(np.clip(pts[:, 0], 0, 2) - pts[:, 0], pts[:, 1])
    circle_d = np.abs(np.hypot(pts[:, 0] - 1.5, pts[:, 1] - 2.0) - 0.5)
    d = np.minimum(line_d, circle_d)
    curves = extract_curves(pts, d, threshold=0.03, link_radius=0.05, min_length=0.3, step=0.02)
    assert len(curves) == 2
    t = np.linspace(0, 2 * np.pi, 400)
    gt = np.concatenate(
        [
            sample_polylines([np.array([[0.0, 0, 0], [2.0, 0, 0]])], 0.005),
            np.stack([1.5 + 0.5 * np.cos(t), 2 + 0.5 * np.sin(t), 0 * t], -1),
        ]
    )
    m = curve_metrics(sample_polylines(curves, 0.005), gt)
    assert m["chamfer"] < 0.03 and m["hausdorff"] < 0.2
    write_curves(tmp_path, curves)
    back = json.loads((tmp_path / "curves.json").read_text())
    assert len(back) == 2
    obj = (tmp_path / "curves.obj").read_text().splitlines()
    assert sum(line.startswith("l ") for line in obj) == 2
    assert sum(line.startswith("v ") for line in obj) == sum(len(c) for c in curves)


def test_metrics_known_values() -> None:
    a = np.array([[0.0, 0, 0], [1, 0, 0]])
    b = np.array([[0.0, 0.1, 0], [1, 0.3, 0]])
    m = curve_metrics(a, b)
    assert m["chamfer"] == pytest.approx(0.2)
    assert m["hausdorff"] == pytest.approx(0.3)
    assert extract_curves(a, np.ones(2)) == []
