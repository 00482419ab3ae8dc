"""H3DS reader on a tiny scene written in the real layout: cameras, mm frame, landmarks, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from multineus.data.h3ds import read_h3ds_region, read_h3ds_scene
from shared_utils.cameras.pinhole import PinholeCamera
from shared_utils.cameras.rigs import look_at
from shared_utils.cameras.viewset import CameraFormatError
from shared_utils.io.images import write_image
from shared_utils.io.meshes import write_mesh

CENTRE_MM = np.array([10.0, -20.0, 30.0])
SCALE_MM = 150.0


def _write_scene(root: Path) -> tuple[Path, list[PinholeCamera], np.ndarray]:
    folder = root / "1b2a"
    (folder / "image").mkdir(parents=True)
    (folder / "mask").mkdir()
    (folder / "regions").mkdir()
    # a head-sized octahedron in mm
    verts = CENTRE_MM + 100.0 * np.array(
        [[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]], dtype=np.float64
    )
    faces = np.array(
        [[0, 2, 4], [2, 1, 4], [1, 3, 4], [3, 0, 4], [2, 0, 5], [1, 2, 5], [3, 1, 5], [0, 3, 5]]
    )
    write_mesh(folder / "full_head.obj", verts, faces)
    K = np.array([[60.0, 0.0, 16.0], [0.0, 60.0, 12.0], [0.0, 0.0, 1.0]])
    cams, mats = [], {}
    for i, eye in enumerate(([0.0, 0.0, -500.0], [400.0, 0.0, -300.0])):
        cam = PinholeCamera(K, look_at(CENTRE_MM + np.array(eye), CENTRE_MM, (0, -1, 0)), 32, 24)
        cams.append(cam)
        P = np.eye(4)
        P[:3, :4] = 3.0 * cam.projection_matrix()  # projections are defined up to scale
        mats[f"world_mat_{i}"] = P
        write_image(folder / "image" / f"img_{i:04d}.jpg", np.full((24, 32, 3), 0.5))
        mask = np.zeros((24, 32), dtype=np.float32)
        mask[6:18, 8:24] = 1.0
        write_image(folder / "mask" / f"mask_{i:04d}.png", mask)
    scale = np.diag([SCALE_MM, SCALE_MM, SCALE_MM, 1.0])
    scale[:3, 3] = CENTRE_MM
    np.savez(folder / "cameras.npz", scale_mat_0=scale, **mats)
    (folder / "landmarks.txt").write_text("nose_tip 5\nright_eye 0\nleft_eye 1\n")
    (folder / "regions" / "face_sphere.txt").write_text("0\n4\n5\n")
    return folder, cams, verts


def test_cameras_in_mm_and_unit_sphere(tmp_path: Path) -> None:
    _, cams, verts = _write_scene(tmp_path)
    mm = read_h3ds_scene(tmp_path, "1b2a", normalized=False)
    unit = read_h3ds_scene(tmp_path, "1b2a")
    assert mm.views.num_views == 2 and mm.view_ids == [0, 1]
    for i, cam in enumerate(cams):
        np.testing.assert_allclose(mm.views.K[i].numpy(), cam.K, atol=1e-4)
        # the same mm point projects to the same pixel from the mm and unit-sphere cameras
        x_unit = (verts - CENTRE_MM) / SCALE_MM
        truth, _ = cam.project(verts)
        K_u = unit.views.K[i].numpy().astype(np.float64)
        T_u = unit.views.cam_from_world[i].numpy().astype(np.float64)
        got, _ = PinholeCamera(K_u, T_u, 32, 24).project(x_unit)
        np.testing.assert_allclose(got, truth, atol=1e-3)
    # the unit-sphere camera centre is the mm centre mapped through scale_mat^-1
    T0 = unit.views.cam_from_world[0].numpy().astype(np.float64)
    centre_unit = -T0[:3, :3].T @ T0[:3, 3]
    np.testing.assert_allclose(centre_unit, [0.0, 0.0, -500.0 / SCALE_MM], atol=1e-4)
    assert bool(unit.views.masks[0, 12, 16]) and not bool(unit.views.masks[0, 0, 0])


def test_landmarks_regions_and_view_subsets(tmp_path: Path) -> None:
    _, _, verts = _write_scene(tmp_path)
    scene = read_h3ds_scene(tmp_path, "1b2a", views=[1])
    assert scene.view_ids == [1] and scene.views.num_views == 1
    np.testing.assert_allclose(scene.landmark_mm("nose_tip"), verts[5])
    assert scene.landmarks == {"nose_tip": 5, "right_eye": 0, "left_eye": 1}
    region = read_h3ds_region(tmp_path, "1b2a", "face_sphere", len(verts))
    assert region.tolist() == [0, 4, 5]
    with pytest.raises(KeyError, match="chin"):
        scene.landmark_mm("chin")


def test_malformed_scenes_name_file_and_field(tmp_path: Path) -> None:
    folder, _, _ = _write_scene(tmp_path)
    (folder / "landmarks.txt").write_text("nose_tip 5\nright_eye\n")
    with pytest.raises(CameraFormatError, match=r"landmarks\.txt.*line 2"):
        read_h3ds_scene(tmp_path, "1b2a")
    (folder / "landmarks.txt").write_text("nose_tip 99\n")
    with pytest.raises(CameraFormatError, match="outside"):
        read_h3ds_scene(tmp_path, "1b2a")
    with pytest.raises(CameraFormatError, match="world_mat_7"):
        read_h3ds_scene(tmp_path, "1b2a", views=[7])
    (folder / "mask" / "mask_0001.png").unlink()
    with pytest.raises(CameraFormatError, match=r"mask_0001\.png"):
        read_h3ds_scene(tmp_path, "1b2a", views=[1])
    with pytest.raises(CameraFormatError, match="scene folder"):
        read_h3ds_scene(tmp_path, "nope")


def test_eval_command_on_an_h3ds_scene(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A prediction in the unit sphere equal to the scan is at the sampling floor (~1 mm:
    point-to-sampled-point distances) once mapped by scale_mat_0; 10 % too large is not."""
    import json

    from multineus.cli import main

    folder, _, verts = _write_scene(tmp_path)
    faces = np.array(
        [[0, 2, 4], [2, 1, 4], [1, 3, 4], [3, 0, 4], [2, 0, 5], [1, 2, 5], [3, 1, 5], [0, 3, 5]]
    )
    results = []
    for k, scale in enumerate((1.0, 1.1)):
        pred = tmp_path / f"pred{k}.ply"
        write_mesh(pred, scale * (verts - CENTRE_MM) / SCALE_MM, faces)
        main(["eval", str(pred), "--h3ds", str(folder)])
        results.append(json.loads(capsys.readouterr().out.strip().splitlines()[-1]))
    assert results[0]["head_mm"] < 1.5 and results[0]["face_mm"] < 1.5, results
    assert results[1]["head_mm"] > 4.0, results
