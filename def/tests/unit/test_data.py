"""Procedural parts, sharp edges, normalisation, scans, patches and the HDF5 layout."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import trimesh

from def_features.config import DataConfig
from def_features.data.hdf5_patches import (
    PatchFormatError,
    read_patches,
    stack_patches,
    write_patches,
)
from def_features.data.normalize import apply, normalisation
from def_features.data.patches import ShapeItem, make_patches
from def_features.data.procedural import PART_KINDS, make_part
from def_features.data.scan import OrthoView, make_scene, scan, unproject, view_looking_at
from def_features.data.sharp_edges import sharp_polylines
from def_features.geometry.curves import curves_to_segments, polyline_length


def _box() -> tuple[np.ndarray, np.ndarray]:
    m = trimesh.creation.box(extents=(2.0, 3.0, 4.0))
    return np.asarray(m.vertices), np.asarray(m.faces)


def test_box_sharp_edges_are_its_twelve_edges() -> None:
    v, f = _box()
    lines = sharp_polylines(v, f, 30.0)
    lengths = sorted(round(polyline_length(p), 6) for p in lines)
    assert lengths == [2.0] * 4 + [3.0] * 4 + [4.0] * 4


@pytest.mark.parametrize("kind", PART_KINDS)
def test_procedural_parts_are_watertight_and_threshold_independent(kind: str) -> None:
    part = make_part(3, kind)
    mesh = trimesh.Trimesh(part.vertices, part.faces)
    assert mesh.is_watertight and mesh.volume > 0
    # Facets are 5 degrees apart, designed features >= 45: any threshold between agrees.
    a = sharp_polylines(part.vertices, part.faces, 10.0)
    b = sharp_polylines(part.vertices, part.faces, 40.0)
    assert len(a) == len(b) > 0
    assert sum(map(polyline_length, a)) == pytest.approx(sum(map(polyline_length, b)))


def test_normalisation_extent_then_curve_quantile() -> None:
    v, f = _box()
    lines = sharp_polylines(v, f, 30.0)
    t, s = normalisation(v, lines, 10.0, 0.25, 1.0)
    lengths = [polyline_length(apply(p, t, s)) for p in lines]
    assert np.quantile(lengths, 0.25) == pytest.approx(1.0)
    np.testing.assert_allclose(apply(v, t, s).mean(0), 0.0, atol=1e-12)


def test_scan_depth_of_a_known_box_face() -> None:
    v, f = _box()  # top face z = 2
    view = view_looking_at(np.array([0.0, 0.0, 2.0]), np.array([0.0, 0.0, -1.0]), 7.0, 0.05, 32)
    sc = scan(make_scene(v, f), view)
    assert sc.mask.all()  # 1.6 x 1.6 window inside the 2 x 3 face
    np.testing.assert_allclose(sc.depth, 7.0, atol=1e-9)
    np.testing.assert_allclose(sc.points[..., 2], 2.0, atol=1e-9)
    np.testing.assert_allclose(np.abs(sc.normals[..., 2]), 1.0, atol=1e-9)
    # Pixel centres are spaced by the pixel size and centred on the target.
    xy = sc.points[..., :2].reshape(-1, 2)
    np.testing.assert_allclose(xy.mean(0), 0.0, atol=1e-9)
    assert np.ptp(xy[:, 0]) == pytest.approx(31 * 0.05)
    np.testing.assert_allclose(unproject(view, sc.depth), sc.points, atol=1e-9)
    # An oblique view of the edge z=2, x=1: depth grows linearly across the face.
    edge = view_looking_at(np.array([1.0, 0.0, 2.0]), np.array([-1.0, 0.0, -1.0]), 5.0, 0.02, 32)
    se = scan(make_scene(v, f), edge)
    # Both faces make 45 degrees with the rays: depth = standoff + |offset across the edge|.
    offset = np.abs((np.arange(32) + 0.5 - 16) * 0.02)
    assert se.mask.all()
    across_rows = np.allclose(se.depth, 5.0 + offset[:, None] + 0 * offset[None], atol=1e-9)
    across_cols = np.allclose(se.depth, 5.0 + offset[None, :] + 0 * offset[:, None], atol=1e-9)
    assert across_rows or across_cols


def _item() -> ShapeItem:
    part = make_part(0, "slotted_block")
    lines = sharp_polylines(part.vertices, part.faces, 30.0)
    t, s = normalisation(part.vertices, lines)
    a, b = curves_to_segments([apply(p, t, s) for p in lines], 0.05)
    return ShapeItem(part.name, apply(part.vertices, t, s), part.faces, a, b, s)


def test_patches_have_correct_targets() -> None:
    cfg = DataConfig(pixel_size=0.05, views_per_shape=12, noise_std=0.01)
    item = _item()
    patches = make_patches(item, cfg, 4, np.random.default_rng(0))
    assert len(patches) >= 2
    from scipy.spatial import cKDTree

    dense = np.concatenate(
        [a + np.linspace(0, 1, 400)[:, None] * (b - a) for a, b in zip(item.seg_a, item.seg_b)]
    )
    tree = cKDTree(dense)
    for p in patches:
        image = p["image"]
        mask = image > 0
        assert isinstance(image, np.ndarray) and mask.mean() >= cfg.min_surface_fraction
        pose = np.asarray(p["camera_pose"], np.float64)
        view = OrthoView(np.linalg.inv(pose), cfg.pixel_size, 64, 64)
        # Clean points from the noisy depth are within a few noise std of the surface.
        pts = unproject(view, np.where(mask, image, np.inf))[mask]
        d = np.asarray(p["distances"])[mask]
        brute = np.minimum(tree.query(pts)[0], 1.0)
        assert np.abs(d - brute).mean() < 0.02
        assert (np.asarray(p["distances"])[~mask] == 1.0).all()
        dirs = np.asarray(p["directions"])[mask]
        norms = np.linalg.norm(dirs, axis=1)
        assert np.allclose(norms[d > 1e-6], 1.0, atol=1e-4)


def test_hdf5_round_trip_and_malformed(tmp_path: Path) -> None:
    cfg = DataConfig(pixel_size=0.05, views_per_shape=6)
    patches = make_patches(_item(), cfg, 2, np.random.default_rng(1))
    arrays = stack_patches(patches)
    path = tmp_path / "patches.hdf5"
    write_patches(path, arrays)
    back = read_patches(path)
    for key, value in arrays.items():
        if key == "item_id":
            assert list(back[key]) == list(value)
        else:
            np.testing.assert_array_equal(back[key], value)
    with h5py.File(path, "r") as f:
        assert f["image"].compression == "lzf"
    # Missing field.
    bad = tmp_path / "bad.hdf5"
    write_patches(bad, {k: v for k, v in arrays.items() if k != "distances"})
    with pytest.raises(PatchFormatError, match=r"bad\.hdf5.*'distances'"):
        read_patches(bad)
    # Wrong shape.
    wrong = dict(arrays)
    wrong["directions"] = arrays["directions"][..., :2]
    write_patches(bad, wrong)
    with pytest.raises(PatchFormatError, match=r"bad\.hdf5.*'directions'"):
        read_patches(bad)
    (tmp_path / "junk.hdf5").write_bytes(b"not hdf5")
    with pytest.raises(PatchFormatError, match=r"junk\.hdf5"):
        read_patches(tmp_path / "junk.hdf5")
