"""Raw DEF-Scan views (the authors' ViewIO layout): reading, annotation, round trip.

A procedural part (exact sharp curves) is scanned through a known perspective camera
in an aligned frame; the scan is stored in the board frame of a known points_alignment,
the CAD model with a known obj_scale and obj_alignment, in the authors' ViewIO layout
written here with h5py (not with our writer). The annotated distances are checked
against distances computed directly in the CAD model's own (unaligned, unscaled) frame.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from scipy.spatial import cKDTree

from def_features.cli import main
from def_features.data.def_scan import read_scan_views, views_to_patches
from def_features.data.def_scan_raw import (
    CadItem,
    RawScanFormatError,
    annotate_views,
    project_to_pixels,
    read_raw_views,
    write_annotated_views,
)
from def_features.data.hdf5_patches import read_patches
from def_features.data.procedural import make_part
from def_features.data.scan import make_scene
from def_features.data.sharp_edges import sharp_polylines
from def_features.kernels.point_segment_distance import point_segment_distance
from shared_utils.cameras.rigs import look_at
from shared_utils.testing import shared_fixtures_dir

H, W = 72, 96
FOCAL_MM, PIXEL_MM = 12.0, 0.06
F = np.diag([FOCAL_MM, FOCAL_MM, 1.0])
S = np.array([[1 / PIXEL_MM, 0.0, W / 2], [0.0, 1 / PIXEL_MM, H / 2], [0.0, 0.0, 1.0]])


def _rigid(axis: list[float], angle: float, t: list[float]) -> np.ndarray:
    k = np.asarray(axis, float) / np.linalg.norm(axis)
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    T = np.eye(4)
    T[:3, :3] = np.eye(3) + np.sin(angle) * K + (1 - np.cos(angle)) * K @ K
    T[:3, 3] = t
    return T


def _apply(T: np.ndarray, p: np.ndarray) -> np.ndarray:
    return p @ T[:3, :3].T + T[:3, 3]


OBJ_SCALE = 3.0
OBJ_ALIGN = _rigid([0.2, 1.0, 0.3], 0.7, [5.0, -3.0, 40.0])  # scaled CAD -> aligned
POINTS_ALIGN = _rigid([1.0, 0.1, 0.0], -0.4, [-20.0, 10.0, 5.0])  # board -> aligned


def _part():
    part = make_part(1, "l_bracket")
    return part, sharp_polylines(part.vertices, part.faces, 30.0)


def _scan(
    vertices: np.ndarray,
    faces: np.ndarray,
    eye_dir: list[float],
    obj_scale: float = OBJ_SCALE,
    outliers: int = 0,
    seed: int = 0,
    standoff: float = 70.0,
) -> dict:
    """One raw scan of a CAD mesh (its own frame) placed by obj_scale and OBJ_ALIGN, with
    rays through the integer pixel centres (the authors' convention)."""
    verts = _apply(OBJ_ALIGN, obj_scale * vertices)
    centre = verts.mean(0)
    eye = centre + standoff * np.asarray(eye_dir) / np.linalg.norm(eye_dir)
    cam_to_aligned = np.linalg.inv(look_at(eye, centre, (0.0, 0.0, 1.0)))
    jj, ii = np.meshgrid(np.arange(W, dtype=float), np.arange(H, dtype=float))
    uv1 = np.stack([jj, ii, np.ones_like(jj)], -1) @ np.linalg.inv(S).T
    dirs_cam = uv1 @ np.linalg.inv(F).T  # camera z = 1: the ray parameter is the depth
    dirs = dirs_cam @ cam_to_aligned[:3, :3].T
    hits = make_scene(verts, faces).cast(np.broadcast_to(eye, dirs.shape), dirs)
    mask = hits.mask
    pts = hits.points[mask]
    rng = np.random.default_rng(seed)
    extra = np.zeros((0, 3))
    if outliers:
        # Spurious returns 6 mm in front of surfaces that face the camera: nearer than the
        # true point in the z-buffer, so they would win if they were not dropped.
        cos = (hits.normals[mask] * dirs[mask]).sum(-1) / np.linalg.norm(dirs[mask], axis=-1)
        facing = np.flatnonzero(np.abs(cos) > 0.6)
        pick = rng.choice(facing, outliers, replace=False)
        unit = dirs[mask][pick] / np.linalg.norm(dirs[mask][pick], axis=-1, keepdims=True)
        extra = pts[pick] - 6.0 * unit
    raw = _apply(np.linalg.inv(POINTS_ALIGN), np.concatenate([pts, extra]))
    # Range-surface triangles over neighbouring valid pixels.
    index = np.full((H, W), -1)
    index[mask] = np.arange(mask.sum())
    a, b, c, d = index[:-1, :-1], index[:-1, 1:], index[1:, :-1], index[1:, 1:]
    quads = (a >= 0) & (b >= 0) & (c >= 0) & (d >= 0)
    faces = np.concatenate([np.stack([a, c, b], -1)[quads], np.stack([b, c, d], -1)[quads]])
    return {
        "points": raw.ravel(),
        "faces": faces.astype(np.int32).ravel(),
        "points_alignment": POINTS_ALIGN,
        "extrinsics": np.linalg.inv(POINTS_ALIGN) @ cam_to_aligned,
        "intrinsics": np.stack([F, S]),
        "obj_alignment": OBJ_ALIGN,
        "obj_scale": obj_scale,
        # test-only truth
        "_mask": mask,
        "_depth": hits.t,
        "_aligned": hits.points,
        "_true_points": len(pts),
    }


def write_official_raw(path: Path, scans: list[dict], drop: str | None = None, item="abc_0042"):
    """The authors' ViewIO layout: lzf everywhere, vlen f64 points / i32 faces, ascii ids."""
    with h5py.File(path, "w") as f:
        for key in ("extrinsics", "intrinsics", "points_alignment", "obj_alignment", "obj_scale"):
            if key != drop:
                f.create_dataset(key, data=np.stack([s[key] for s in scans]), compression="lzf")
        if drop != "item_id":
            f.create_dataset(
                "item_id",
                data=np.bytes_([item] * len(scans)),
                dtype=h5py.string_dtype(encoding="ascii"),
                compression="lzf",
            )
        for key, dtype in (("points", np.float64), ("faces", np.int32)):
            if key == drop:
                continue
            dset = f.create_dataset(
                key, shape=(len(scans),), dtype=h5py.vlen_dtype(dtype), compression="lzf"
            )
            for i, s in enumerate(scans):
                dset[i] = s[key]


def _naive_distance(p: np.ndarray, polylines: list[np.ndarray]) -> np.ndarray:
    """Brute-force distance of points (P, 3) to polylines, in numpy float64."""
    a = np.concatenate([pl[:-1] for pl in polylines])
    b = np.concatenate([pl[1:] for pl in polylines])
    best = np.full(len(p), np.inf)
    for s in range(0, len(a), 64):
        sa, sb = a[s : s + 64], b[s : s + 64]
        ab = sb - sa
        t = np.einsum("pmk,mk->pm", p[:, None] - sa[None], ab) / np.einsum("mk,mk->m", ab, ab)
        q = sa[None] + np.clip(t, 0, 1)[..., None] * ab[None]
        best = np.minimum(best, np.linalg.norm(q - p[:, None], axis=-1).min(1))
    return best


@pytest.fixture(scope="module")
def annotated(tmp_path_factory):
    part, polylines = _part()
    scans = [
        _scan(part.vertices, part.faces, [0.3, -1.0, 0.8], outliers=25),
        _scan(part.vertices, part.faces, [-0.9, 0.4, 0.5], seed=1),
    ]
    path = tmp_path_factory.mktemp("raw") / "item_views.hdf5"
    write_official_raw(path, scans)
    views = read_raw_views(path)
    item = CadItem(part.vertices, part.faces, polylines, num_surfaces=11)
    return part, polylines, scans, views, item, annotate_views(views, item)


def test_reader_gives_the_authors_fields(annotated) -> None:
    _, _, scans, views, _, _ = annotated
    assert len(views) == 2 and {v.item_id for v in views} == {"abc_0042"}
    for v, s in zip(views, scans, strict=True):
        np.testing.assert_array_equal(v.points, s["points"].reshape(-1, 3))
        np.testing.assert_array_equal(v.faces, s["faces"].reshape(-1, 3))
        np.testing.assert_array_equal(v.intrinsics, np.stack([F, S]))
        assert v.image_size == (H, W) and v.obj_scale == OBJ_SCALE


def test_distances_equal_those_of_the_true_geometry(annotated) -> None:
    _, polylines, scans, _, _, views = annotated
    for scan, view in zip(scans, views, strict=True):
        mask = scan["_mask"].copy()
        mask[0, :] = mask[:, 0] = False  # the authors' pixelizer never fills row/column 0
        assert mask.sum() > 1000
        got = view.depth > 0
        np.testing.assert_array_equal(got, mask)
        np.testing.assert_allclose(view.depth[mask], scan["_depth"][mask], rtol=1e-12)
        # Truth in the CAD model's own frame: undo the alignment and the scale.
        own = _apply(np.linalg.inv(OBJ_ALIGN), scan["_aligned"][mask]) / OBJ_SCALE
        truth = np.minimum(OBJ_SCALE * _naive_distance(own, polylines), 1.0)
        assert 0.05 < (truth < 1.0).mean() < 0.95  # both near-curve and far pixels
        np.testing.assert_allclose(view.distances[mask], truth, atol=1e-6)
        assert np.all(view.distances[~got] == 0) and np.all(view.directions[~got] == 0)


def test_directions_are_unit_and_point_at_the_curves(annotated) -> None:
    _, polylines, scans, _, _, views = annotated
    curves = [_apply(OBJ_ALIGN, OBJ_SCALE * pl) for pl in polylines]  # aligned frame
    for scan, view in zip(scans, views, strict=True):
        near = (view.depth > 0) & (view.distances < 1.0)
        far = (view.depth > 0) & (view.distances == 1.0)
        np.testing.assert_allclose(np.linalg.norm(view.directions[near], axis=-1), 1.0, atol=1e-6)
        assert np.all(view.directions[far] == 0)
        foot = scan["_aligned"][near] + view.distances[near][:, None] * view.directions[near]
        assert _naive_distance(foot, curves).max() < 1e-5


def test_misaligned_points_are_dropped_and_flags(annotated) -> None:
    _, polylines, scans, raws, _, views = annotated
    # The 25 spurious returns are 6 mm off the surface: dropped, not z-buffered in front
    # of the true points (the distance test above would fail at their pixels).
    assert len(raws[0].points) == scans[0]["_true_points"] + 25
    assert views[0].aligned_points == scans[0]["_true_points"]
    assert views[1].aligned_points == len(raws[1].points)
    for v in views:
        assert v.has_sharp and v.num_sharp_curves == len(polylines) and v.num_surfaces == 11


def test_output_is_the_authors_layout_and_reads_back(annotated, tmp_path: Path) -> None:
    part, _, scans, raws, item, views = annotated
    out = tmp_path / "annotated.hdf5"
    write_annotated_views(out, views, len(item.vertices), len(item.faces))
    with h5py.File(out) as f:
        assert f["points"].shape == (2, H, W) and f["points"].dtype == np.float64
        assert f["directions"].shape == (2, H, W, 3) and f["points"].compression == "lzf"
        assert h5py.check_vlen_dtype(f["faces"].dtype) == np.int32
        assert h5py.check_string_dtype(f["item_id"].dtype).encoding == "ascii"
        assert f["num_sharp_curves"].dtype == np.int8 and f["has_sharp"].dtype == bool
        assert len(f["orig_vert_indices"][0]) == len(part.vertices)
        np.testing.assert_array_equal(f["points_alignment"][1], POINTS_ALIGN)
        np.testing.assert_array_equal(f["faces"][0], scans[0]["faces"])
    back = read_scan_views(out)
    for b, v, raw in zip(back, views, raws, strict=True):
        np.testing.assert_array_equal(b.depth, v.depth)
        np.testing.assert_array_equal(b.distances, v.distances)
        np.testing.assert_allclose(b.K, S @ F)
        np.testing.assert_array_equal(b.camera_to_world, raw.extrinsics)
        assert b.item_id == "abc_0042" and b.obj_scale == OBJ_SCALE
    patches = views_to_patches(back, tile=24, min_surface=0.3, sharp_threshold=1.0)
    assert len(patches) >= 4
    p = patches[0]
    assert p["image"].shape == (24, 24) and p["mesh_scale"] == OBJ_SCALE


def test_projection_rule_keeps_row_and_column_zero_empty() -> None:
    # Camera at the origin looking down +z (extrinsics identity), depth 100.
    pix = np.array([[0.0, 5.0], [3.0, 0.0], [3.0, 4.0], [2.6, 1.4], [W - 0.4, 2.0]])
    uv = (pix - [W / 2, H / 2]) * PIXEL_MM
    pts = np.concatenate([uv / FOCAL_MM * 100.0, np.full((len(pix), 1), 100.0)], 1)
    pts = np.concatenate([pts, [[0.0, 0.0, -50.0]]])  # behind the camera
    rows, cols, depth, keep = project_to_pixels(pts, np.eye(4), np.stack([F, S]))
    np.testing.assert_array_equal(keep, [False, False, True, True, False, False])
    assert (rows[2], cols[2]) == (4, 3) and (rows[3], cols[3]) == (1, 3)
    np.testing.assert_allclose(depth[:5], 100.0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("drop extrinsics", r"item_views\.hdf5.*'extrinsics' is missing"),
        ("drop faces", r"item_views\.hdf5.*'faces' is missing"),
        ("count", r"item_views\.hdf5.*'obj_scale' has 3 views but 'item_id' has 2"),
        ("nan alignment", r"item_views\.hdf5.*'points_alignment' has non-finite"),
        ("projective", r"'obj_alignment' must be affine"),
        ("points", r"'points' of view 1 has 7 values"),
        ("faces range", r"'faces' of view 0 indexes outside"),
        ("scale", r"'obj_scale' must be finite and positive"),
    ],
)
def test_bad_raw_files_name_the_file_and_field(tmp_path: Path, change: str, message: str) -> None:
    base = {
        "points": np.arange(12, dtype=float),
        "faces": np.array([0, 1, 2, 1, 2, 3], np.int32),
        "points_alignment": np.eye(4),
        "extrinsics": np.eye(4),
        "intrinsics": np.stack([F, S]),
        "obj_alignment": np.eye(4),
        "obj_scale": 1.0,
    }
    scans = [dict(base), dict(base)]
    drop = change.split()[1] if change.startswith("drop") else None
    if change == "nan alignment":
        scans[1]["points_alignment"] = np.full((4, 4), np.nan)
    if change == "projective":
        scans[0]["obj_alignment"] = np.ones((4, 4))
    if change == "points":
        scans[1]["points"] = np.arange(7, dtype=float)
    if change == "faces range":
        scans[0]["faces"] = np.array([0, 1, 4], np.int32)
    if change == "scale":
        scans[0]["obj_scale"] = -2.0
    path = tmp_path / "item_views.hdf5"
    write_official_raw(path, scans, drop=drop)
    if change == "count":
        with h5py.File(path, "a") as f:
            del f["obj_scale"]
            f.create_dataset("obj_scale", data=np.ones(3))
    with pytest.raises(RawScanFormatError, match=message):
        read_raw_views(path)


def test_bad_annotation_arguments_are_refused(annotated) -> None:
    import dataclasses

    _, _, _, views, item, _ = annotated
    s_small = np.array([[1 / PIXEL_MM, 0.0, 20.0], [0.0, 1 / PIXEL_MM, 15.0], [0.0, 0.0, 1.0]])
    small = dataclasses.replace(views[1], intrinsics=np.stack([F, s_small]))
    assert small.image_size == (30, 40)
    with pytest.raises(ValueError, match="different image sizes"):
        annotate_views([views[0], small], item)
    with pytest.raises(ValueError, match="truncation must be > 0"):
        annotate_views(views, item, truncation=0.0)


def _abc_fixture() -> Path:
    root = shared_fixtures_dir()
    if root is None or not (root / "abc-00000050").is_dir():
        pytest.skip("real ABC fixture ../shared/fixtures/abc-00000050 is absent (plain clone)")
    return root / "abc-00000050"


def test_cli_annotates_a_scan_of_the_real_abc_item(tmp_path: Path, capsys) -> None:
    """annotate-scans on a scan of ABC item 00000050 (STL parts in metres, curves in mm;
    the CAD frame is the features' frame), then convert-scans on its output."""
    from def_features.data.abc import read_abc_features, read_abc_meshes

    item = _abc_fixture()
    stls = sorted(item.glob("00000050_part*.stl"))
    feat = item / "00000050_features_000.yml"
    verts, faces = read_abc_meshes(stls, scale=1000.0)
    obj_scale = 0.5  # the 91 mm item at half size, so that it fits the image
    scan = _scan(verts, faces, [0.4, -0.7, 0.9], obj_scale=obj_scale, standoff=110.0)
    raw = tmp_path / "raw.hdf5"
    write_official_raw(raw, [scan], item="00000050")
    out = tmp_path / "annotated.hdf5"
    args = ["annotate-scans", "--raw", str(raw), "--obj", *map(str, stls)]
    main([*args, "--mesh-scale", "1000", "--feat", str(feat), "--out", str(out)])
    printed = capsys.readouterr().out
    assert "wrote 1 annotated views" in printed and "view 0:" in printed
    (view,) = read_scan_views(out)
    mask = view.depth > 0
    assert mask.sum() > 1000
    # Direct distances in the features' frame (curves sampled 2.5x finer than the CLI's
    # default), scaled to scan units. Only segments within the truncation (2 mm here)
    # of a scanned point can be nearest to one below it.
    feats = read_abc_features(feat)
    own = _apply(np.linalg.inv(OBJ_ALIGN), scan["_aligned"][mask]) / obj_scale
    samples = [c.sample(0.04) for c in feats.sharp_curves]
    a, b = np.concatenate([x[:-1] for x in samples]), np.concatenate([x[1:] for x in samples])
    near = cKDTree(own).query((a + b) / 2, distance_upper_bound=2.1)[0] < np.inf
    assert near.sum() > 100
    d, _, _ = point_segment_distance(
        torch.from_numpy(own),
        torch.from_numpy(a[near]),
        torch.from_numpy(b[near]),
        chunk_points=128,  # small (P, M) temporaries: M is ~30k segments here
    )
    truth = np.minimum(obj_scale * d.numpy(), 1.0)
    assert 0.02 < (truth < 1.0).mean() < 0.98
    assert np.abs(view.distances[mask] - truth).max() < 2e-3
    patches = tmp_path / "patches.hdf5"
    main(["convert-scans", "--views", str(out), "--out", str(patches), "--tile", "24"])
    arrays = read_patches(patches)
    assert len(arrays["image"]) > 0 and set(arrays["item_id"]) == {"00000050"}


def test_curve_distances_grouping_truncation_and_smell() -> None:
    from def_features.data.def_scan_raw import curve_distances, smells_discontinuous

    rng = np.random.default_rng(3)
    pts = rng.uniform(-5, 5, (400, 3))
    a = rng.uniform(-5, 5, (30, 3))
    b = a + rng.normal(size=(30, 3))
    # 0.7 rounds down in float32: truncated points must still be recognised.
    fine = curve_distances(pts, a, b, 0.7, cell=0.5)  # hundreds of groups
    whole = curve_distances(pts, a, b, 0.7, cell=100.0)  # one group
    np.testing.assert_array_equal(fine[0], whole[0])
    np.testing.assert_array_equal(fine[1], whole[1])
    truth = np.minimum(_naive_distance(pts, [np.stack([x, y]) for x, y in zip(a, b)]), 0.7)
    np.testing.assert_allclose(fine[0], truth, atol=1e-6)
    far = truth >= 0.7
    assert 0 < far.sum() < len(pts)
    assert np.all(fine[0][far] == 0.7) and np.all(fine[1][far] == 0)
    np.testing.assert_allclose(np.linalg.norm(fine[1][~far], axis=1), 1.0, atol=1e-6)
    # The authors' smell: nearest neighbours may differ in distance by up to 1.1 times
    # their spacing (points 1 and 2 are 0.05 apart, each other's nearest neighbour).
    x = np.array([0.0, 0.1, 0.15, 0.4, 0.5])
    line = np.stack([x, np.zeros(5), np.zeros(5)], 1)
    assert not smells_discontinuous(line, x)  # slope 1
    assert smells_discontinuous(line, np.array([0.0, 0.1, 0.2, 0.4, 0.5]))  # slope 2 there
    assert not smells_discontinuous(line[:1], np.zeros(1))
