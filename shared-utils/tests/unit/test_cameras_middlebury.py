"""Middlebury 2014 stereo reader: calibration, back-projection and the pair's geometry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shared_utils.cameras.middlebury import (
    WORLD_FROM_CAMERA,
    read_calib,
    read_middlebury,
    write_middlebury,
)
from shared_utils.cameras.pinhole import PinholeCamera
from shared_utils.cameras.viewset import CameraFormatError
from shared_utils.io.pfm import write_pfm

F, CX0, CY, DOFFS, BASELINE = 120.0, 19.5, 14.25, 6.5, 150.0
H, W = 30, 40


def _pair(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    """A slanted plane seen by a rectified pair: depth in mm and disparity per left pixel."""
    rng = np.random.default_rng(0)
    cols = np.arange(W)[None, :].repeat(H, 0)
    depth = 2000.0 + 10.0 * cols  # mm, grows to the right
    disp = BASELINE * F / depth - DOFFS
    disp[3, 5] = np.inf  # unknown, as Middlebury writes it
    disp[7, 9] = np.nan
    left = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    right = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    root = write_middlebury(
        tmp_path / "scene",
        left,
        right,
        disp,
        focal=F,
        cx0=CX0,
        cy=CY,
        doffs=DOFFS,
        baseline=BASELINE,
    )
    return root, left, depth


def test_calib_in_the_published_format(tmp_path: Path) -> None:
    # the first lines of a Middlebury 2014 calib.txt (Motorcycle, full resolution)
    path = tmp_path / "calib.txt"
    path.write_text(
        "cam0=[3979.911 0 1244.772; 0 3979.911 1019.507; 0 0 1]\n"
        "cam1=[3979.911 0 1369.115; 0 3979.911 1019.507; 0 0 1]\n"
        "doffs=124.343\nbaseline=193.001\nwidth=2964\nheight=1988\nndisp=270\nisint=0\n"
        "vmin=23\nvmax=245\ndyavg=0\ndymax=0\n"
    )
    c = read_calib(path)
    assert (c.width, c.height) == (2964, 1988)
    assert c.K0[0, 0] == 3979.911 and c.K1[0, 2] == 1369.115
    assert c.doffs == pytest.approx(124.343) and c.baseline == pytest.approx(193.001)
    # disparity 100 px at f = 3979.911: Z = 193.001 * 3979.911 / 224.343 mm
    assert c.depth(np.array([100.0]))[0] == pytest.approx(193.001 * 3979.911 / 224.343)
    assert np.isnan(c.depth(np.array([np.inf, np.nan, -200.0]))).all()


def test_points_have_the_true_depth_and_left_colours(tmp_path: Path) -> None:
    root, left, depth = _pair(tmp_path)
    views = read_middlebury(root, unit_scale=1.0)
    assert views.names == ["im0", "im1"] and views.mask_paths is None
    assert views.points is not None and views.point_colors is not None
    assert len(views.points) == H * W - 2  # the inf and nan pixels are dropped
    cam0 = views.cameras[0]
    x_cam = views.points @ cam0.cam_from_world[:3, :3].T + cam0.cam_from_world[:3, 3]
    uv = x_cam @ cam0.K.T
    uv = uv[:, :2] / uv[:, 2:]
    # every point lands on the centre of its own left pixel, at that pixel's depth
    col, row = np.floor(uv[:, 0]).astype(int), np.floor(uv[:, 1]).astype(int)
    np.testing.assert_allclose(uv - np.floor(uv), 0.5, atol=1e-9)
    np.testing.assert_allclose(x_cam[:, 2], depth[row, col], rtol=1e-6)  # float32 PFM
    np.testing.assert_allclose(views.point_colors, left[row, col] / 255.0)


def test_right_camera_sees_each_point_shifted_by_its_disparity(tmp_path: Path) -> None:
    root, _, depth = _pair(tmp_path)
    views = read_middlebury(root, unit_scale=1e-3)
    assert views.points is not None
    cam0, cam1 = views.cameras
    # the right camera's centre is the baseline along world +x (metres)
    centre = -cam1.cam_from_world[:3, :3].T @ cam1.cam_from_world[:3, 3]
    np.testing.assert_allclose(centre, [BASELINE * 1e-3, 0.0, 0.0], atol=1e-12)

    def project(cam: PinholeCamera, pts: np.ndarray) -> np.ndarray:
        x = pts @ cam.cam_from_world[:3, :3].T + cam.cam_from_world[:3, 3]
        uv = x @ cam.K.T
        return uv[:, :2] / uv[:, 2:]

    uv0, uv1 = project(cam0, views.points), project(cam1, views.points)
    col = np.floor(uv0[:, 0]).astype(int)
    disp = BASELINE * F / depth[0, col] - DOFFS
    np.testing.assert_allclose(uv1[:, 0], uv0[:, 0] - disp, atol=1e-5)
    np.testing.assert_allclose(uv1[:, 1], uv0[:, 1], atol=1e-9)


def test_world_is_z_up_and_stride_thins_the_grid(tmp_path: Path) -> None:
    root, _, _ = _pair(tmp_path)
    assert np.allclose(WORLD_FROM_CAMERA @ np.array([0.0, -1.0, 0.0]), [0.0, 0.0, 1.0])
    assert np.isclose(np.linalg.det(WORLD_FROM_CAMERA), 1.0)
    views = read_middlebury(root)
    thin = read_middlebury(root, point_stride=4)
    assert views.points is not None and thin.points is not None
    assert len(thin.points) == len(range(0, H, 4)) * len(range(0, W, 4))
    # the thinned points are a subset of the full set
    full = {tuple(p) for p in np.round(views.points, 9)}
    assert all(tuple(p) in full for p in np.round(thin.points, 9))


def test_bad_scenes_name_file_and_field(tmp_path: Path) -> None:
    root, _, _ = _pair(tmp_path)
    calib = (root / "calib.txt").read_text()

    (root / "calib.txt").write_text(calib.replace("baseline=", "basline="))
    with pytest.raises(CameraFormatError, match=r"calib\.txt: field 'baseline': missing"):
        read_middlebury(root)
    (root / "calib.txt").write_text(calib.replace("doffs=6.5", "doffs=9"))
    with pytest.raises(CameraFormatError, match="field 'doffs'"):
        read_middlebury(root)
    (root / "calib.txt").write_text(calib.replace(f"width={W}", "width=41"))
    with pytest.raises(CameraFormatError, match=r"im0\.png: field 'im0\.png': size 40x30"):
        read_middlebury(root)
    (root / "calib.txt").write_text(calib)
    write_pfm(root / "disp0.pfm", np.full((H, W), np.inf, dtype=np.float32))
    with pytest.raises(CameraFormatError, match="no pixel has a known disparity"):
        read_middlebury(root)
    write_pfm(root / "disp0.pfm", np.zeros((H, W - 1), dtype=np.float32))
    with pytest.raises(CameraFormatError, match=r"disp0\.pfm: field 'disp0\.pfm': shape"):
        read_middlebury(root)
    (root / "disp0.pfm").write_bytes(b"garbage")
    with pytest.raises(CameraFormatError, match="field 'magic'"):
        read_middlebury(root)
    write_pfm(root / "disp0.pfm", np.ones((H, W), dtype=np.float32))
    (root / "im0.png").write_bytes(b"not a png")
    with pytest.raises(CameraFormatError, match=r"im0\.png: field 'im0\.png': cannot read image"):
        read_middlebury(root)
    (root / "im1.png").unlink()
    with pytest.raises(
        CameraFormatError, match=r"im1\.png: field 'im1\.png': image does not exist"
    ):
        read_middlebury(root)
