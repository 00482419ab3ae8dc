"""Synthetic bodies: exact I/U/V annotations, chart round trips, surface geodesics."""

from pathlib import Path

import numpy as np

from mobile_densepose.data.body import (
    BodySurface,
    capsules,
    chart_to_theta,
    chart_uv,
    rest_pose,
    synthetic_body_surface,
)
from mobile_densepose.data.densepose_coco import load_densepose_coco
from mobile_densepose.data.synthetic import SyntheticConfig, make_synthetic, render_image

FINE_TO_COARSE = {1: 1, 2: 1, 3: 2, 4: 3, 5: 4, 6: 5, 7: 6, 9: 6, 8: 7, 10: 7, 11: 8, 13: 8, 12: 9, 14: 9, 15: 10, 17: 10, 16: 11, 18: 11, 19: 12, 21: 12, 20: 13, 22: 13, 23: 14, 24: 14}  # fmt: skip


def test_segments_follow_densepose_part_numbering() -> None:
    for cap in capsules(rest_pose()):
        for chart in cap.charts:
            assert FINE_TO_COARSE[chart] == cap.coarse
    charts = sorted(c for cap in capsules(rest_pose()) for c in cap.charts)
    assert charts == list(range(1, 25))


def test_chart_round_trip() -> None:
    theta = np.linspace(-np.pi + 1e-3, np.pi, 101)
    for charts in [(2, 1), (3,)]:
        parts, u = chart_uv(theta, theta * 0, charts)
        back = chart_to_theta(parts, u, charts)
        np.testing.assert_allclose(np.angle(np.exp(1j * (back - theta))), 0, atol=1e-9)


def test_rendered_annotations_are_exact() -> None:
    cfg = SyntheticConfig(height=96, width=120, n_points=50)
    img, record, maps = render_image(cfg, np.random.default_rng(5), 1, 1)
    assert img.shape == (96, 120, 3) and 0 <= img.min() and img.max() <= 1
    for k, person in enumerate(record.people):
        assert person.dp_xy is not None and person.dp_I is not None and person.dp_uv is not None
        x0, y0, bw, bh = person.bbox
        px = np.floor(x0 + person.dp_xy[:, 0] / 256 * bw).astype(int)
        py = np.floor(y0 + person.dp_xy[:, 1] / 256 * bh).astype(int)
        assert np.all(maps[3, py, px] == k)
        np.testing.assert_array_equal(maps[0, py, px], person.dp_I)
        np.testing.assert_allclose(maps[1, py, px], person.dp_uv[:, 0], atol=1e-6)
        np.testing.assert_allclose(maps[2, py, px], person.dp_uv[:, 1], atol=1e-6)
        # every annotated point's fine part agrees with the coarse mask under it
        assert person.dp_masks is not None
        mx = np.clip(person.dp_xy[:, 0].astype(int), 0, 255)
        my = np.clip(person.dp_xy[:, 1].astype(int), 0, 255)
        coarse = person.dp_masks[my, mx]
        agree = np.mean([FINE_TO_COARSE[int(i)] == c for i, c in zip(person.dp_I, coarse)])
        assert agree > 0.9  # mask is a 256-grid nearest resampling of the pixels


def test_surface_geodesics() -> None:
    surf = synthetic_body_surface(grid=4)
    g = surf.geodesic
    assert g.shape == (24 * 16, 24 * 16)
    np.testing.assert_allclose(g, g.T, atol=1e-5)
    assert np.all(np.diag(g) == 0) and np.all(g[~np.eye(len(g), dtype=bool)] > 0)
    rng = np.random.default_rng(0)
    i, j, k = rng.integers(0, len(g), (3, 200))
    assert np.all(g[i, k] <= g[i, j] + g[j, k] + 1e-4)
    # two vertices of one chart one V step apart along the axis: straight line on the cylinder
    torso_front = np.nonzero(surf.parts == 2)[0]
    a, b = torso_front[0], torso_front[1]  # same U, V differs by 1/4 of the 0.5 m torso
    np.testing.assert_allclose(g[a, b], 0.5 / 4, rtol=1e-5)


def test_make_synthetic_writes_loadable_set(tmp_path: Path) -> None:
    records = make_synthetic(
        tmp_path, SyntheticConfig(num_images=2, height=64, width=80, n_points=20)
    )
    loaded = load_densepose_coco(tmp_path / "annotations.json")
    assert [r.id for r in loaded] == [r.id for r in records]
    assert (tmp_path / "images" / loaded[0].file_name).exists()
    surf = BodySurface.load(str(tmp_path / "body_surface.npz"))
    assert surf.parts.shape[0] == surf.geodesic.shape[0]
