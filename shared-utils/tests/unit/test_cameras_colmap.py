"""COLMAP reader on a reconstruction built with pycolmap's own API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pycolmap
import pytest
from PIL import Image

from shared_utils.cameras.colmap import read_colmap
from shared_utils.cameras.viewset import CameraFormatError


def _write_model(
    root: Path, cameras: list[pycolmap.Camera], *, binary: bool = True
) -> tuple[Path, Path, dict[str, Any]]:
    """Two images per camera with known poses plus three coloured points."""
    rec = pycolmap.Reconstruction()
    for cam in cameras:
        rec.add_camera_with_trivial_rig(cam)
    poses: dict[str, tuple[np.ndarray, int]] = {}
    rng = np.random.default_rng(0)
    images = root / "images"
    images.mkdir(parents=True)
    image_id = 1
    for cam in cameras:
        for _ in range(2):
            name = f"img_{image_id:03d}.png"
            rot = pycolmap.Rotation3d(rng.normal(size=3) * 0.3)  # axis-angle
            t = rng.normal(size=3)
            pose = pycolmap.Rigid3d(rot, t)
            rec.add_image_with_trivial_frame(
                pycolmap.Image(name=name, camera_id=cam.camera_id, image_id=image_id), pose
            )
            T = np.eye(4)
            T[:3, :] = pose.matrix()
            poses[name] = (T, cam.camera_id)
            Image.new("RGB", (cam.width, cam.height)).save(images / name)
            image_id += 1
    xyz = np.array([[0.0, 0.0, 5.0], [1.0, 2.0, 3.0], [-1.0, 0.5, 4.0]])
    rgb = np.array([[255, 0, 0], [0, 128, 0], [10, 20, 30]], dtype=np.uint8)
    for p, c in zip(xyz, rgb):
        rec.add_point3D(p, pycolmap.Track(), c)
    model = root / "sparse" / "0"
    model.mkdir(parents=True)
    if binary:
        rec.write_binary(str(model))
    else:
        rec.write_text(str(model))
    return model, images, {"poses": poses, "xyz": xyz, "rgb": rgb}


@pytest.mark.parametrize("binary", [True, False])
def test_read_colmap_round_trip(tmp_path: Path, binary: bool) -> None:
    cams = [
        pycolmap.Camera(
            camera_id=1, model="PINHOLE", width=40, height=30, params=[50.0, 52.0, 19.0, 16.0]
        ),
        pycolmap.Camera(
            camera_id=2, model="SIMPLE_PINHOLE", width=20, height=10, params=[30.0, 10.0, 5.0]
        ),
        pycolmap.Camera(
            camera_id=3, model="SIMPLE_RADIAL", width=20, height=10, params=[30.0, 10.0, 5.0, 1e-4]
        ),
    ]
    model, images, truth = _write_model(tmp_path, cams, binary=binary)
    vs = read_colmap(model, images)
    assert len(vs) == 6
    assert vs.names == sorted(truth["poses"])
    expected_K = {
        1: [[50.0, 0, 19.0], [0, 52.0, 16.0], [0, 0, 1]],
        2: [[30.0, 0, 10.0], [0, 30.0, 5.0], [0, 0, 1]],
        3: [[30.0, 0, 10.0], [0, 30.0, 5.0], [0, 0, 1]],
    }
    sizes = {1: (40, 30), 2: (20, 10), 3: (20, 10)}
    for cam, name, path in zip(vs.cameras, vs.names, vs.image_paths):
        T, cam_id = truth["poses"][name]
        np.testing.assert_allclose(cam.cam_from_world, T, atol=1e-9)
        np.testing.assert_allclose(cam.K, np.array(expected_K[cam_id]), atol=1e-12)
        assert (cam.width, cam.height) == sizes[cam_id]
        assert path == images / name
    assert vs.mask_paths is None and vs.scale_mat is None
    assert vs.points is not None and vs.point_colors is not None
    order = np.argsort(vs.points[:, 0])  # point ids are not promised in order
    np.testing.assert_allclose(vs.points[order], truth["xyz"][np.argsort(truth["xyz"][:, 0])])
    np.testing.assert_allclose(
        vs.point_colors[order], truth["rgb"][np.argsort(truth["xyz"][:, 0])] / 255.0
    )


def test_read_colmap_projects_like_pycolmap(tmp_path: Path) -> None:
    cams = [
        pycolmap.Camera(
            camera_id=1, model="PINHOLE", width=40, height=30, params=[50.0, 52.0, 19.0, 16.0]
        )
    ]
    model, images, _ = _write_model(tmp_path, cams)
    vs = read_colmap(model, images)
    rec = pycolmap.Reconstruction(str(model))
    pts = np.array([[0.1, 0.2, 4.0], [-0.5, 0.3, 6.0]])
    for cam, name in zip(vs.cameras, vs.names):
        im = rec.find_image_with_name(name)
        expected = np.stack([np.asarray(im.project_point(p)) for p in pts])
        uv, _ = cam.project(pts)
        np.testing.assert_allclose(uv, expected, atol=1e-9)


def test_read_colmap_rejects_strong_distortion(tmp_path: Path) -> None:
    cams = [
        pycolmap.Camera(
            camera_id=1,
            model="OPENCV",
            width=40,
            height=30,
            params=[30.0, 30.0, 20.0, 15.0, 0.3, 0.0, 0.0, 0.0],
        )
    ]
    model, images, _ = _write_model(tmp_path, cams)
    with pytest.raises(CameraFormatError, match=r"camera 1 params.*distortion"):
        read_colmap(model, images)
    vs = read_colmap(model, images, max_distortion_px=1e6)  # knowingly ignored
    np.testing.assert_allclose(vs.cameras[0].K, [[30, 0, 20], [0, 30, 15], [0, 0, 1]])


def test_read_colmap_rejects_unsupported_model(tmp_path: Path) -> None:
    cams = [
        pycolmap.Camera(
            camera_id=1,
            model="OPENCV_FISHEYE",
            width=40,
            height=30,
            params=[30.0, 30.0, 20.0, 15.0, 0.0, 0.0, 0.0, 0.0],
        )
    ]
    model, images, _ = _write_model(tmp_path, cams)
    with pytest.raises(CameraFormatError, match=r"OPENCV_FISHEYE is not supported"):
        read_colmap(model, images)


def test_read_colmap_malformed(tmp_path: Path) -> None:
    cams = [
        pycolmap.Camera(
            camera_id=1, model="PINHOLE", width=40, height=30, params=[50.0, 52.0, 19.0, 16.0]
        )
    ]
    model, images, _ = _write_model(tmp_path, cams)
    # A missing image file is named.
    (images / "img_002.png").unlink()
    with pytest.raises(CameraFormatError, match=r"img_002.png"):
        read_colmap(model, images)
    assert len(read_colmap(model, images, check_images=False)) == 2
    # A missing folder and a folder without a model.
    with pytest.raises(CameraFormatError, match=r"does not exist"):
        read_colmap(tmp_path / "nope", images)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CameraFormatError, match=r"cameras"):
        read_colmap(empty, images)
    # A truncated binary file.
    data = (model / "images.bin").read_bytes()
    (model / "images.bin").write_bytes(data[: len(data) // 2])
    with pytest.raises(CameraFormatError, match=r"pycolmap could not read"):
        read_colmap(model, images)
