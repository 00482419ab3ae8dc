"""IDR / NeuS cameras_sphere.npz reader and projection-matrix decomposition."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from shared_utils.cameras.idr import camera_from_projection, idr_world_mat, read_idr
from shared_utils.cameras.pinhole import PinholeCamera
from shared_utils.cameras.rigs import look_at, orbit_cameras
from shared_utils.cameras.viewset import CameraFormatError

K = np.array([[120.0, 0.5, 31.0], [0.0, 118.0, 25.0], [0.0, 0.0, 1.0]])


def test_camera_from_projection_recovers_camera() -> None:
    cam = PinholeCamera(K, look_at((2.0, -1.0, 1.5), (0.1, 0.2, 0.0)), 64, 48)
    for scale in (1.0, 3.7, -0.2):  # a projection matrix is defined up to scale and sign
        rec = camera_from_projection(scale * idr_world_mat(cam), 64, 48)
        np.testing.assert_allclose(rec.K, K, atol=1e-9)
        np.testing.assert_allclose(rec.cam_from_world, cam.cam_from_world, atol=1e-9)


def _write_scene(
    root: Path, n: int = 3, masks: bool = True
) -> tuple[list[PinholeCamera], np.ndarray]:
    """World cameras around an object of radius 2 centred at (1, 2, 3)."""
    scale_mat = np.diag([2.0, 2.0, 2.0, 1.0])
    scale_mat[:3, 3] = [1.0, 2.0, 3.0]
    cams = orbit_cameras(n, 6.0, 20.0, K, 64, 48, target=(1.0, 2.0, 3.0))
    data: dict[str, Any] = {}
    (root / "image").mkdir(parents=True)
    if masks:
        (root / "mask").mkdir()
    for i, cam in enumerate(cams):
        data[f"world_mat_{i}"] = idr_world_mat(cam)
        data[f"scale_mat_{i}"] = scale_mat
        Image.new("RGB", (64, 48)).save(root / "image" / f"{i:03d}.png")
        if masks:
            Image.new("L", (64, 48)).save(root / "mask" / f"{i:03d}.png")
    np.savez(root / "cameras_sphere.npz", **data)
    return cams, scale_mat


def test_read_idr_world_and_normalised(tmp_path: Path) -> None:
    cams, scale_mat = _write_scene(tmp_path)
    world = read_idr(tmp_path, normalized=False)
    assert world.names == ["000", "001", "002"]
    assert world.mask_paths == [tmp_path / "mask" / f"{i:03d}.png" for i in range(3)]
    assert world.scale_mat is not None
    np.testing.assert_allclose(world.scale_mat, scale_mat)
    for rec, cam in zip(world.cameras, cams):
        np.testing.assert_allclose(rec.K, K, atol=1e-9)
        np.testing.assert_allclose(rec.cam_from_world, cam.cam_from_world, atol=1e-9)
        assert (rec.width, rec.height) == (64, 48)

    norm = read_idr(tmp_path)
    # scale_mat maps the unit sphere to the world: the world target (1, 2, 3) is the
    # normalised origin, and normalised cameras sit at distance 6 / 2 = 3.
    for rec, cam in zip(norm.cameras, cams):
        np.testing.assert_allclose(rec.K, K, atol=1e-9)
        np.testing.assert_allclose(np.linalg.norm(rec.center), 3.0, atol=1e-9)
        np.testing.assert_allclose(
            (scale_mat @ np.append(rec.center, 1.0))[:3], cam.center, atol=1e-9
        )
        x_norm = np.array([[0.3, -0.4, 0.5]])
        x_world = (scale_mat[:3, :3] @ x_norm[0] + scale_mat[:3, 3])[None]
        np.testing.assert_allclose(rec.project(x_norm)[0], cam.project(x_world)[0], atol=1e-9)


def test_read_idr_without_masks(tmp_path: Path) -> None:
    _write_scene(tmp_path, masks=False)
    assert read_idr(tmp_path).mask_paths is None


def test_read_idr_malformed(tmp_path: Path) -> None:
    with pytest.raises(CameraFormatError, match=r"cameras_sphere.npz.*does not exist"):
        read_idr(tmp_path)
    _write_scene(tmp_path)
    npz = tmp_path / "cameras_sphere.npz"
    good = dict(np.load(npz))

    def rewrite(**changes: np.ndarray | None) -> None:
        data = dict(good)
        for k, v in changes.items():
            if v is None:
                data.pop(k)
            else:
                data[k] = v
        np.savez(npz, **data)

    rewrite(world_mat_2=None)
    with pytest.raises(CameraFormatError, match=r"world_mat_2': missing key"):
        read_idr(tmp_path)
    rewrite(scale_mat_1=None)
    with pytest.raises(CameraFormatError, match=r"scale_mat_1': missing key"):
        read_idr(tmp_path)
    rewrite(world_mat_0=np.eye(3))
    with pytest.raises(CameraFormatError, match=r"world_mat_0'.*\(3, 3\)"):
        read_idr(tmp_path)
    rewrite(world_mat_1=np.zeros((4, 4)))
    with pytest.raises(CameraFormatError, match=r"world_mat_1'.*singular"):
        read_idr(tmp_path)
    rewrite()
    npz.write_bytes(b"not a zip")
    with pytest.raises(CameraFormatError, match=r"not a readable npz"):
        read_idr(tmp_path)
    rewrite()
    (tmp_path / "mask" / "001.png").unlink()
    with pytest.raises(CameraFormatError, match=r"2 masks for 3 images"):
        read_idr(tmp_path)
