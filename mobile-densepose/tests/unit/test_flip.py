"""Horizontal flip: the mirror tables of the synthetic body are exact, the flip is an
involution, the dataset's mirrored items match flipped pixels, bad tables are refused."""

from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.io import savemat

from mobile_densepose.data.body import Pose, capsules, raster_capsules, skeleton
from mobile_densepose.data.dataset import DensePoseDataset
from mobile_densepose.data.densepose_coco import load_densepose_coco
from mobile_densepose.data.flip import (
    CHART_SYMMETRY,
    COARSE_SYMMETRY,
    UVSymmetry,
    flip_record,
    synthetic_uv_symmetry,
)
from mobile_densepose.data.synthetic import SyntheticConfig, make_synthetic, random_pose

QUANTUM = 1.0 / 255 + 1e-6  # tables are read at int(255 * U), int(255 * V)


def _mirror(p: Pose) -> Pose:
    def swap(t: tuple[float, float]) -> tuple[float, float]:
        return (t[1], t[0])

    return Pose(-p.yaw, swap(p.shoulder), swap(p.elbow), swap(p.arm_swing), swap(p.hip),
                swap(p.leg_swing), swap(p.knee), -p.lean)  # fmt: skip


def test_symmetries_are_involutions() -> None:
    assert np.array_equal(CHART_SYMMETRY[CHART_SYMMETRY], np.arange(25))
    assert np.array_equal(COARSE_SYMMETRY[COARSE_SYMMETRY], np.arange(15))


def test_both_sides_bend_forward() -> None:
    # elbow and knee flexion are mirror images: forearm ahead of the upper arm
    # (forward = -z at yaw 0), shin behind the thigh, on the left and on the right
    j, _, _ = skeleton(Pose(elbow=(1.2, 1.2), knee=(0.8, 0.8), shoulder=(0.0, 0.0)))
    for side in "lr":
        assert j[f"wrist_{side}"][2] < j[f"elbow_{side}"][2] - 0.1
        assert j[f"ankle_{side}"][2] > j[f"knee_{side}"][2] + 0.1


def test_flipped_render_equals_render_of_mirrored_pose() -> None:
    sym = synthetic_uv_symmetry()
    rng = np.random.default_rng(0)
    h, w = 150, 120
    for _ in range(3):
        pose = random_pose(rng)
        a = raster_capsules([capsules(pose)], h, w, [95.0], [np.array([47.3, 75.0, 1.0])])
        b = raster_capsules([capsules(_mirror(pose))], h, w, [95.0], [np.array([w - 47.3, 75.0, 1.0])])  # fmt: skip
        parts = a.parts[:, ::-1]
        assert np.array_equal(parts > 0, b.parts > 0)
        assert np.array_equal(COARSE_SYMMETRY[a.coarse[:, ::-1]], b.coarse)
        fg = parts > 0
        uv = np.stack([a.u[:, ::-1][fg], a.v[:, ::-1][fg]], axis=1)
        new_parts, new_uv = sym.apply(parts[fg], uv)
        assert np.array_equal(new_parts, b.parts[fg])
        assert np.abs(new_uv[:, 0] - b.u[fg]).max() <= QUANTUM
        assert np.abs(new_uv[:, 1] - b.v[fg]).max() <= QUANTUM


def test_mat_round_trip_and_double_flip(tmp_path: Path) -> None:
    sym = synthetic_uv_symmetry()
    sym.save(tmp_path / "UV_symmetry_transforms.mat")
    loaded = UVSymmetry.load(tmp_path / "UV_symmetry_transforms.mat")
    np.testing.assert_array_equal(loaded.u, sym.u)
    np.testing.assert_array_equal(loaded.v, sym.v)
    rng = np.random.default_rng(1)
    parts = rng.integers(1, 25, 500)
    uv = rng.uniform(0, 1, (500, 2))
    p2, uv2 = loaded.apply(*loaded.apply(parts, uv))
    assert np.array_equal(p2, parts)
    assert np.abs(uv2 - uv).max() <= 2 * QUANTUM


def test_flip_record_geometry(tmp_path: Path) -> None:
    make_synthetic(tmp_path, SyntheticConfig(num_images=2, height=64, width=80, n_points=30))
    rec = load_densepose_coco(tmp_path / "annotations.json")[0]
    sym = UVSymmetry.load(tmp_path / "UV_symmetry_transforms.mat")
    flipped = flip_record(rec, sym)
    for p, q in zip(rec.people, flipped.people):
        assert p.dp_xy is not None and q.dp_xy is not None and q.dp_masks is not None
        # image x of each point mirrors about the image centre
        px = p.bbox[0] + p.dp_xy[:, 0] / 256 * p.bbox[2]
        qx = q.bbox[0] + q.dp_xy[:, 0] / 256 * q.bbox[2]
        np.testing.assert_allclose(qx, rec.width - px, atol=1e-9)
        np.testing.assert_allclose(q.dp_xy[:, 1], p.dp_xy[:, 1])
        assert np.array_equal(q.dp_masks[:, ::-1], COARSE_SYMMETRY[p.dp_masks])
    again = flip_record(flipped, sym)
    for p, r in zip(rec.people, again.people):
        np.testing.assert_allclose(r.bbox, p.bbox)
        assert np.array_equal(r.dp_I, p.dp_I) and np.array_equal(r.dp_masks, p.dp_masks)


def test_dataset_mirrored_items(tmp_path: Path) -> None:
    make_synthetic(tmp_path, SyntheticConfig(num_images=3, height=64, width=80, n_points=30))
    sym = UVSymmetry.load(tmp_path / "UV_symmetry_transforms.mat")
    plain = DensePoseDataset(tmp_path)
    both = DensePoseDataset(tmp_path, flip=sym)
    assert len(both) == 2 * len(plain) == 6
    img, target = both[0]
    img_f, target_f = both[3]
    assert torch.equal(img_f, img.flip(-1))
    w = img.shape[-1]
    np.testing.assert_allclose(target_f["boxes"][:, [2, 0]].numpy(), w - target["boxes"][:, [0, 2]].numpy(), atol=1e-4)  # fmt: skip
    assert torch.equal(target_f["dp_I"], torch.from_numpy(CHART_SYMMETRY)[target["dp_I"]])
    with pytest.raises(IndexError):
        both[6]


def test_bad_symmetry_files_name_file_and_field(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"UV_symmetry_transforms\.mat"):
        UVSymmetry.load(tmp_path / "absent.mat")
    (tmp_path / "junk.mat").write_text("not a mat file")
    with pytest.raises(ValueError, match=r"junk\.mat"):
        UVSymmetry.load(tmp_path / "junk.mat")
    cell = np.empty((1, 24), dtype=object)
    for i in range(24):
        cell[0, i] = np.zeros((256, 256))
    savemat(str(tmp_path / "no_v.mat"), {"U_transforms": cell})
    with pytest.raises(ValueError, match=r"no_v\.mat: missing field 'V_transforms'"):
        UVSymmetry.load(tmp_path / "no_v.mat")
    bad = cell.copy()
    bad[0, 6] = np.zeros((10, 10))
    savemat(str(tmp_path / "small.mat"), {"U_transforms": cell, "V_transforms": bad})
    with pytest.raises(ValueError, match="'V_transforms', chart 7"):
        UVSymmetry.load(tmp_path / "small.mat")
