"""DEF-Scan annotated views, written here in the authors' HDF5 layout, -> our patches."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from def_features.cli import main
from def_features.data.def_scan import (
    ScanFormatError,
    depth_normals,
    read_scan_views,
    views_to_patches,
)
from def_features.data.hdf5_patches import read_patches

H, W = 96, 160


def _plane_view(tilt: float, seed: int) -> dict[str, np.ndarray]:
    """A tilted plane seen by a pinhole camera, depth in mm, the left part empty."""
    f_mm, pixel_mm = 12.0, 0.05
    F = np.diag([f_mm, f_mm, 1.0])
    S = np.array([[1 / pixel_mm, 0, W / 2], [0, 1 / pixel_mm, H / 2], [0, 0, 1.0]])
    K = S @ F
    # pixel (row, col) sees image point (col, row): the authors' pixelization rounds
    jj, _ = np.meshgrid(np.arange(W, dtype=np.float64), np.arange(H, dtype=np.float64))
    rx = (jj - K[0, 2]) / K[0, 0]
    # plane z = 300 + tilt * x  ->  depth along each ray
    depth = 300.0 / (1.0 - tilt * rx)
    depth[:, :40] = 0.0  # no return
    rng = np.random.default_rng(seed)
    dist = np.abs(jj - 100.0) * 0.3  # a sharp line at column 100
    dirs = rng.normal(size=(H, W, 3))
    return {
        "points": depth,
        "distances": dist,
        "directions": dirs / np.linalg.norm(dirs, axis=-1, keepdims=True),
        "extrinsics": np.eye(4),
        "intrinsics": np.stack([F, S]),
        "obj_scale": np.float64(2.5),
        "K": K,
        "tilt": tilt,
    }


def write_official(path: Path, views: list[dict], drop: str | None = None) -> None:
    """The authors' AnnotatedViewIO layout (h5py, lzf, vlen int faces, ascii ids)."""
    with h5py.File(path, "w") as f:
        n = len(views)
        for key in ("points", "distances", "directions", "extrinsics", "intrinsics", "obj_scale"):
            if key != drop:
                f.create_dataset(key, data=np.stack([v[key] for v in views]), compression="lzf")
        if drop != "item_id":
            f.create_dataset(
                "item_id",
                data=np.bytes_([f"abc_000{k}" for k in range(n)]),
                dtype=h5py.string_dtype(encoding="ascii"),
                compression="lzf",
            )
        faces = f.create_dataset("faces", shape=(n,), dtype=h5py.vlen_dtype(np.int32))
        for k in range(n):
            faces[k] = np.arange(9, dtype=np.int32)
        f.create_dataset("has_sharp", data=np.ones(n, bool))
        f.create_dataset("num_sharp_curves", data=np.ones(n, np.int8))


def test_read_views_and_cut_patches(tmp_path: Path) -> None:
    views = [_plane_view(0.2, 0), _plane_view(-0.1, 1)]
    path = tmp_path / "views.hdf5"
    write_official(path, views)
    read = read_scan_views(path)
    assert [v.item_id for v in read] == ["abc_0000", "abc_0001"]
    for v, src in zip(read, views, strict=True):
        np.testing.assert_allclose(v.K, src["K"])  # K = S @ F
        np.testing.assert_array_equal(v.depth, src["points"])
        assert v.obj_scale == 2.5
    patches = views_to_patches(read, tile=32, min_surface=0.5, sharp_threshold=1.0)
    # per view: 3 x 5 tiles, the first column (pixels 0..31) has no surface and is dropped
    assert len(patches) == 2 * 3 * 4
    first = patches[0]
    np.testing.assert_array_equal(first["image"], views[0]["points"][0:32, 32:64])
    np.testing.assert_array_equal(first["distances"], views[0]["distances"][0:32, 32:64])
    assert first["image"][:, :8].max() == 0.0  # columns 32..39 had no return
    sharp = [p["has_sharp"] for p in patches[:4]]  # columns 32-63, 64-95, 96-127, 128-159
    assert sharp == [False, False, True, False]


def test_depth_normals_of_a_tilted_plane() -> None:
    v = _plane_view(0.2, 0)
    n = depth_normals(v["points"], v["K"])
    inner = n[5:-5, 50:-5].reshape(-1, 3)
    expected = np.array([0.2, 0.0, -1.0]) / np.hypot(0.2, 1.0)  # z - 0.2 x = 300, facing -z
    np.testing.assert_allclose(inner, np.broadcast_to(expected, inner.shape), atol=1e-6)
    assert np.all(n[:, :41] == 0)  # no depth or an empty neighbour


def test_cli_writes_a_patch_file_train_and_eval_read(tmp_path: Path, capsys) -> None:
    path = tmp_path / "views.hdf5"
    write_official(path, [_plane_view(0.2, 0)])
    out = tmp_path / "patches.hdf5"
    main(["convert-scans", "--views", str(path), "--out", str(out), "--tile", "32"])
    assert "wrote 12 patches" in capsys.readouterr().out
    arrays = read_patches(out)
    assert arrays["image"].shape == (12, 32, 32)
    assert set(arrays["item_id"]) == {"abc_0000"}
    np.testing.assert_allclose(arrays["mesh_scale"], 2.5)


@pytest.mark.parametrize("drop", ["distances", "item_id"])
def test_missing_fields_name_the_file_and_field(tmp_path: Path, drop: str) -> None:
    path = tmp_path / "bad.hdf5"
    write_official(path, [_plane_view(0.0, 0)], drop=drop)
    with pytest.raises(ScanFormatError, match=rf"bad\.hdf5.*{drop}"):
        read_scan_views(path)


def test_wrong_shapes_and_values_are_refused(tmp_path: Path) -> None:
    v = _plane_view(0.0, 0)
    v["intrinsics"] = v["intrinsics"][0]  # a single 3x3 matrix instead of F and S
    path = tmp_path / "bad.hdf5"
    write_official(path, [v])
    with pytest.raises(ScanFormatError, match=r"bad\.hdf5.*'intrinsics'.*\(1, 2, 3, 3\)"):
        read_scan_views(path)
    v = _plane_view(0.0, 0)
    v["distances"][3, 3] = np.nan
    write_official(path, [v])
    with pytest.raises(ScanFormatError, match=r"'distances' has non-finite"):
        read_scan_views(path)
    with pytest.raises(ScanFormatError, match="no such file"):
        read_scan_views(tmp_path / "missing.hdf5")
