"""Kernel 2: re-projection with a z-test: min-combination and interpolation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from def_features.config import preset
from def_features.data.items import procedural_item
from def_features.data.procedural import make_part
from def_features.data.scan import make_scene, scan, view_looking_at
from def_features.fusion import fuse_views_modes, scan_views
from def_features.kernels.reproject import reproject_interpolate, reproject_min
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


def _interpolate_both(pts, values, view, sc, radius, tol=0.2):
    args = (
        pts,
        values,
        torch.from_numpy(view.cam_from_world).float(),
        torch.from_numpy(sc.depth).float(),
        view.pixel_size,
        tol,
    )
    ref = reproject_interpolate(*args, radius_px=radius, implementation="torch")
    tri = reproject_interpolate(*args, radius_px=radius, implementation="triton")
    return ref, tri


@pytest.mark.parametrize("radius", [0.5, 1.0, 1.5])
@pytest.mark.parametrize("n_points", [1, 100, None])
def test_interpolate_triton_matches_reference_across_views(
    n_points: int | None, radius: float
) -> None:
    s1, _, s2, v2 = _views()
    pts = torch.from_numpy(s1.points[s1.mask]).float()[:n_points]
    if n_points is None:  # every point of the source view
        assert pts.shape[0] > 400
    values = torch.rand(pts.shape[0], generator=torch.Generator().manual_seed(len(pts)))
    ref, tri = _interpolate_both(pts, values, v2, s2, radius)
    finite = torch.isfinite(ref)
    assert torch.equal(torch.isfinite(tri), finite), "pixels with an estimate differ"
    assert_close(tri[finite], ref[finite], rtol=1e-5, atol=0.0, name="interpolated values")
    if n_points is None:
        # The views overlap: a pixel disc of radius r around each carried point.
        assert int(finite.sum()) > 100 * radius
        # Interpolated values stay inside the range of the source values.
        assert float(ref[finite].min()) >= float(values.min()) - 1e-6
        assert float(ref[finite].max()) <= float(values.max()) + 1e-6


@pytest.mark.parametrize("impl", ["torch", "triton"])
def test_interpolating_a_view_into_itself_returns_its_values(impl: str) -> None:
    s1, v1, _, _ = _views()
    mask = torch.from_numpy(s1.mask)
    values = torch.rand(int(mask.sum()), generator=torch.Generator().manual_seed(3))
    out = reproject_interpolate(
        torch.from_numpy(s1.points[s1.mask]).float(),
        values,
        torch.from_numpy(v1.cam_from_world).float(),
        torch.from_numpy(s1.depth).float(),
        v1.pixel_size,
        1e-3,
        radius_px=1.0,
        implementation=impl,
    )
    # Each point sits on its own pixel centre (weight ~1e6) and its four side
    # neighbours are one pixel away (weight ~1): ~4e-6 of their differences leak in.
    expected = torch.full(mask.shape, float("inf"))
    expected[mask] = values
    assert torch.equal(torch.isfinite(out), mask)
    assert_close(out[mask], values, rtol=0.0, atol=1e-5, name=f"{impl} self interpolation")


def test_interpolate_far_points_and_bad_implementation() -> None:
    # Points projecting ~1e12 pixels away (and behind) must not wrap into the image
    # through an integer overflow in the kernel.
    cam = torch.eye(4)
    depth = torch.full((4, 4), 10.0)
    pts = torch.tensor([[1e11, 0.0, 10.0], [0.0, -3e11, 10.0], [0.25, 0.25, 10.0]])
    vals = torch.tensor([0.1, 0.2, 0.7])
    for impl in ("torch", "triton"):
        out = reproject_interpolate(pts, vals, cam, depth, 1.0, 0.1, 1.5, implementation=impl)
        finite = torch.isfinite(out)
        # Only the third point counts: pixel (2, 2) and the centres within 1.5 pixels
        # of (2.25, 2.25), all with its value.
        assert int(finite.sum()) == 8, impl
        assert_close(out[finite], torch.full((8,), 0.7), name=impl)
    with pytest.raises(ValueError, match="reproject_interpolate: implementation"):
        reproject_interpolate(pts, vals, cam, depth, 1.0, 0.1, implementation="cuda")


@pytest.mark.parametrize("interpolation", ["nearest", "idw"])
def test_fusion_with_triton_equals_fusion_with_torch(interpolation: str) -> None:
    item = procedural_item(3, preset("tiny").data)
    views = scan_views(item.vertices, item.faces, 3, 0.2, 32)
    rng = np.random.default_rng(0)
    preds = [rng.uniform(0, 1.2, sc.depth.shape) for _, sc in views]
    fields = {
        impl: fuse_views_modes(
            views, preds, 0.1, ("min",), implementation=impl, interpolation=interpolation
        )["min"]
        for impl in ("torch", "triton")
    }
    np.testing.assert_allclose(fields["triton"].fused, fields["torch"].fused, rtol=1e-5)
    assert (fields["torch"].fused < 1.0).mean() > 0.5  # something was fused


def test_min_far_points_do_not_wrap_into_the_image() -> None:
    cam = torch.eye(4)
    depth = torch.full((4, 4), 10.0)
    pts = torch.tensor([[1e11, 0.0, 10.0], [0.0, -3e11, 10.0], [0.25, 0.25, 10.0]])
    vals = torch.tensor([0.1, 0.2, 0.7])
    for impl in ("torch", "triton"):
        out = reproject_min(pts, vals, cam, depth, 1.0, 0.1, implementation=impl)
        expected = torch.full((4, 4), float("inf"))
        expected[2, 2] = 0.7  # only the third point lands: floor(0.25 + 2) = 2
        assert_close(out, expected, name=impl)
