"""Kernel 2: re-projection with z-test and min-combination."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from def_features.data.procedural import make_part
from def_features.data.scan import make_scene, scan, view_looking_at
from def_features.kernels.reproject import reproject_min
from shared_utils.kernels import assert_close


def _views(size: int = 32):
    part = make_part(1, "l_bracket")
    scene = make_scene(part.vertices, part.faces)
    v1 = view_looking_at(np.zeros(3), np.array([0.3, 0.5, -1.0]), 30.0, 0.3, size)
    v2 = view_looking_at(np.zeros(3), np.array([-0.5, 0.2, -1.0]), 30.0, 0.25, size + 8)
    return scan(scene, v1), v1, scan(scene, v2), v2


@pytest.mark.parametrize("impl", ["torch", "triton"])
def test_reprojecting_a_view_into_itself_is_identity(impl: str) -> None:
    s1, v1, _, _ = _views()
    mask = s1.mask
    assert 0.2 < mask.mean() < 1.0
    values = torch.rand(int(mask.sum()), generator=torch.Generator().manual_seed(0))
    out = reproject_min(
        torch.from_numpy(s1.points[mask]).float(),
        values,
        torch.from_numpy(v1.cam_from_world).float(),
        torch.from_numpy(s1.depth).float(),
        v1.pixel_size,
        1e-3,
        implementation=impl,
    )
    expected = torch.full(mask.shape, float("inf"))
    expected[torch.from_numpy(mask)] = values
    assert_close(out, expected, name="self re-projection")


@pytest.mark.parametrize("n_points", [1, 100, 777])
def test_triton_matches_reference_across_views(n_points: int) -> None:
    s1, _, s2, v2 = _views()
    pts = torch.from_numpy(s1.points[s1.mask]).float()[:n_points]
    values = torch.rand(pts.shape[0], generator=torch.Generator().manual_seed(n_points))
    args = (
        pts,
        values,
        torch.from_numpy(v2.cam_from_world).float(),
        torch.from_numpy(s2.depth).float(),
    )
    ref = reproject_min(*args, v2.pixel_size, 0.2, implementation="torch")
    tri = reproject_min(*args, v2.pixel_size, 0.2, implementation="triton")
    assert_close(tri, ref, name="cross-view re-projection")
    if n_points > 100:
        assert torch.isfinite(ref).sum() > 10  # the views overlap: something was carried


def test_z_test_and_min_combination() -> None:
    # Target: a 4x4 view looking down -z; the surface it sees is at depth 10.
    cam = torch.eye(4)
    depth = torch.full((4, 4), 10.0)
    depth[0, 0] = float("inf")
    pts = torch.tensor(
        [
            [0.5, 0.5, 10.0],  # pixel (2, 2), on the surface
            [0.5, 0.5, 10.05],  # same pixel, within tolerance, smaller value
            [-0.5, -0.5, 12.0],  # pixel (1, 1), behind the surface: rejected
            [-1.5, -1.5, 10.0],  # pixel (0, 0): no surface there
            [5.0, 0.0, 10.0],  # outside the image
        ]
    )
    values = torch.tensor([0.7, 0.3, 0.1, 0.2, 0.0])
    for impl in ("torch", "triton"):
        out = reproject_min(pts, values, cam, depth, 1.0, 0.1, implementation=impl)
        expected = torch.full((4, 4), float("inf"))
        expected[2, 2] = 0.3
        assert_close(out, expected, name=impl)
        # A second source combines by min with what is there.
        out = reproject_min(
            pts[:1], torch.tensor([0.05]), cam, depth, 1.0, 0.1, out, implementation=impl
        )
        assert float(out[2, 2]) == pytest.approx(0.05)
