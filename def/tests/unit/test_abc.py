"""ABC features loader: the real fixture item and malformed files."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from def_features.data.abc import ABCFeatures, ABCFormatError, read_abc_features, read_abc_meshes
from def_features.geometry.curves import CircleCurve, LineCurve, curves_to_segments
from shared_utils.testing import shared_fixtures_dir


def _fixture() -> Path:
    root = shared_fixtures_dir()
    if root is None or not (root / "abc-00000050").is_dir():
        pytest.skip("real ABC fixture ../shared/fixtures/abc-00000050 is absent (plain clone)")
    return root / "abc-00000050"


@pytest.fixture(scope="module")
def real_features() -> ABCFeatures:
    return read_abc_features(_fixture() / "00000050_features_000.yml")


def test_real_item_sharp_curves_lie_on_the_mesh(real_features: ABCFeatures) -> None:
    item = _fixture()
    feats = real_features
    # 106 curves: 52 Line, 47 Circle, 7 BSpline; 77 of them sharp (stats file).
    assert len(feats.curves) == 106 and not feats.skipped_types
    assert len(feats.sharp_curves) == 77
    # The STL parts are in metres, the curves in millimetres.
    verts, faces = read_abc_meshes(sorted(item.glob("00000050_part*.stl")), scale=1000.0)
    from shared_utils.o3d import open3d

    o3d = open3d()
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(
        o3d.core.Tensor(verts.astype(np.float32)), o3d.core.Tensor(faces.astype(np.uint32))
    )
    diag = float(np.linalg.norm(verts.max(0) - verts.min(0)))
    worst = 0.0
    for curve in feats.sharp_curves:
        pts = curve.sample(0.2)
        d = scene.compute_distance(o3d.core.Tensor(pts.astype(np.float32))).numpy()
        worst = max(worst, float(d.max()))
    # Curves come from the exact B-rep, the mesh is its tessellation: tolerance ~ chord error.
    assert worst < 2.5e-4 * diag, worst


def test_real_item_circle_ranges_are_radians(real_features: ABCFeatures) -> None:
    feats = real_features
    circles = [c for c in feats.curves if isinstance(c, CircleCurve)]
    assert circles
    for c in circles:
        t0, t1 = c.t_range
        assert 0 < t1 - t0 <= 2 * math.pi + 1e-6


def _write(tmp: Path, text: str) -> Path:
    p = tmp / "bad_features.yml"
    p.write_text(text)
    return p


def test_synthetic_yml_line_and_circle(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        """curves:
- {type: Line, sharp: true, location: [0, 0, 0], direction: [1, 0, 0],
   vert_indices: [0, 1], vert_parameters: [0.0, 2.0]}
- {type: Circle, sharp: false, location: [0, 0, 1], radius: 1.0, x_axis: [1, 0, 0],
   y_axis: [0, 1, 0], z_axis: [0, 0, 1], vert_indices: [2, 3, 2], vert_parameters: [0.0, 3140.0, 6.28]}
""",
    )
    feats = read_abc_features(p)
    line, circle = feats.curves
    assert isinstance(line, LineCurve) and line.sharp
    np.testing.assert_allclose(line.sample(0.1), [[0, 0, 0], [2, 0, 0]])
    assert isinstance(circle, CircleCurve) and not circle.sharp
    assert circle.t_range[1] - circle.t_range[0] == pytest.approx(2 * math.pi)
    a, b = curves_to_segments(feats.sharp_curves, 0.1)
    from def_features.kernels.point_segment_distance import point_segment_distance

    d, _, _ = point_segment_distance(
        torch.tensor([[1.0, 0.5, 0.0]]), torch.from_numpy(a), torch.from_numpy(b)
    )
    assert float(d[0]) == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("surfaces: []\n", "curves"),
        (
            "curves:\n- {type: Line, sharp: true, direction: [1,0,0], vert_indices: [0,1], vert_parameters: [0,1]}\n",
            "location",
        ),
        (
            "curves:\n- {type: Line, sharp: 3, location: [0,0,0], direction: [1,0,0], vert_indices: [0,1], vert_parameters: [0,1]}\n",
            "sharp",
        ),
        (
            "curves:\n- {type: Circle, sharp: true, location: [0,0,0], radius: -1, x_axis: [1,0,0], y_axis: [0,1,0], vert_indices: [0,1], vert_parameters: [0,1]}\n",
            "radius",
        ),
        (
            "curves:\n- {type: BSpline, sharp: true, degree: 3, knots: [0,0,1,1], poles: [[0,0,0],[1,0,0]], vert_indices: [0,1], vert_parameters: [0,1]}\n",
            "knots",
        ),
        (
            "curves:\n- {type: Line, sharp: true, location: [0,0], direction: [1,0,0], vert_indices: [0,1], vert_parameters: [0,1]}\n",
            "location",
        ),
        ("curves: [\n", "YAML"),
    ],
)
def test_malformed_yml_names_file_and_field(tmp_path: Path, text: str, field: str) -> None:
    p = _write(tmp_path, text)
    with pytest.raises(ABCFormatError) as err:
        read_abc_features(p)
    assert "bad_features.yml" in str(err.value) and field in str(err.value)


def test_curve_extraction_on_the_real_items_true_curves() -> None:
    """Dense samples of the 77 true sharp curves (distance 0) -> extracted splines."""
    from def_features.config import CurveConfig, preset
    from def_features.curves import extract_curves, sample_polylines
    from def_features.data.items import abc_item
    from shared_utils.geometry.chamfer import chamfer_distance, nearest_distances

    root = _fixture()
    item = abc_item(
        root / "00000050_features_000.yml",
        sorted(root.glob("00000050_part*.stl")),
        preset("tiny").data,
        mesh_scale=1000.0,
    )
    gt = sample_polylines([np.stack([a, b]) for a, b in zip(item.seg_a, item.seg_b)], 0.01)
    curves = extract_curves(gt, np.zeros(len(gt)), CurveConfig(link_radius=0.03, step=0.02))
    pred = curves.samples(0.01)
    # Every extracted spline lies on a true curve (within ~2 link radii) ...
    assert nearest_distances(pred, gt).max() < 0.06
    # ... and most of the true curves are found: the misses are the engraved
    # lettering and slots smaller than the corner radius (README, "Missing").
    assert (nearest_distances(gt, pred) < 0.05).mean() > 0.95
    assert chamfer_distance(pred, gt) < 0.02
